//! Apply: server-side apply of the rendered objects under one field manager, drift detection
//! against what is running, and label-selected deletion of objects a render no longer produces.
//!
//! Each applied object carries the hash of its declaration. A live object whose hash matches
//! but whose fields differ was changed by someone else: that is drift. A differing hash means
//! the declaration changed: that is an update. Nothing is written when neither happened.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::kinds::{self, OwnedKind};
use crate::api::{DriftPolicy, ObservabilityStack};
use crate::drift::{FieldDrift, compare_fields};
use crate::render::RenderedObject;
use crate::render::common::{MANAGER, STACK_LABEL, cluster_scoped_prefix};

/// Annotation holding the hash of the declaration an object was last applied from.
pub(crate) const APPLIED_HASH_ANNOTATION: &str = "stackscope.dev/applied-hash";

/// Why the apply stage failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{object}: stackscope does not manage objects of this kind")]
    UnknownKind { object: String },
    #[error("{object}: cannot serialize: {source}")]
    Serialize { object: String, source: serde_json::Error },
    #[error("{action} {object}: {source}")]
    Api { action: &'static str, object: String, source: kube::Error },
}

impl ApplyError {
    /// A bounded label for metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::UnknownKind { .. } => "unknown_kind",
            Self::Serialize { .. } => "serialize",
            Self::Api { .. } => "api",
        }
    }

    /// Whether sending the same request again may succeed: not when the API server refused the
    /// object as invalid (400, 422) or stackscope could not produce it, which only a change of
    /// the input can mend.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::UnknownKind { .. } | Self::Serialize { .. } => false,
            Self::Api { source: kube::Error::Api(status), .. } => !matches!(status.code, 400 | 422),
            Self::Api { .. } => true,
        }
    }
}

/// The drift found on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectDrift {
    /// `Kind/namespace/name` (or `Kind/name` when cluster-scoped).
    pub object: String,
    /// The differing fields; a deleted object has one entry with the path `<object>`.
    pub fields: Vec<FieldDrift>,
    /// Whether the declared state was restored.
    pub corrected: bool,
}

/// What one apply pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Objects created.
    pub created: Vec<String>,
    /// Objects updated because their declaration changed.
    pub updated: Vec<String>,
    /// Objects that drifted (corrected or not).
    pub drift: Vec<ObjectDrift>,
    /// Objects deleted because the render no longer produces them.
    pub pruned: Vec<String>,
    /// Write requests sent.
    pub writes: u32,
}

/// One object as stackscope declares it, ready to apply.
#[derive(Clone, Debug)]
pub struct Declared {
    pub kind: OwnedKind,
    pub name: String,
    pub namespace: Option<String>,
    /// The full object with owner reference and hash annotation, as sent.
    pub body: Value,
    /// Hash of the declaration.
    pub hash: String,
}

impl Declared {
    /// `Kind/namespace/name`.
    pub(crate) fn key(&self) -> String {
        object_key(&self.kind.resource.kind, self.namespace.as_deref(), &self.name)
    }
}

fn object_key(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{kind}/{namespace}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The owner reference every namespaced object of the stack carries.
pub(crate) fn owner_reference(stack: &ObservabilityStack) -> Option<OwnerReference> {
    stack.controller_owner_ref(&())
}

/// Turns rendered objects into declarations: owner reference, hash annotation, apply order.
///
/// The objects are moved, not copied: at 10k monitors a render is about 100 MB of text, and the
/// copies this step used to make (to a JSON value, to a string to hash, to a value again) were
/// most of a reconcile's time. The hash streams the JSON text into the digest.
pub fn declare(stack: &ObservabilityStack, rendered: Vec<RenderedObject>) -> Result<Vec<Declared>, ApplyError> {
    let owner =
        owner_reference(stack).map(|owner| serde_json::to_value(vec![owner])).transpose().map_err(|source| {
            ApplyError::Serialize { object: format!("the owner reference of {}", stack.name_any()), source }
        })?;
    let mut declared = Vec::with_capacity(rendered.len());
    for item in rendered {
        let DynamicObject { types, mut metadata, data } = item.object;
        let types = types.unwrap_or_default();
        let name = metadata.name.clone().unwrap_or_default();
        let key = object_key(&types.kind, metadata.namespace.as_deref(), &name);
        let kind =
            kinds::find(&types.api_version, &types.kind).ok_or(ApplyError::UnknownKind { object: key.clone() })?;
        if !kind.namespaced {
            metadata.namespace = None;
        }
        let namespace = metadata.namespace.clone();
        // The same JSON `serde_json::to_value` gives for the whole object.
        let mut body = match data {
            Value::Object(fields) => fields,
            _ => serde_json::Map::new(),
        };
        body.insert("apiVersion".to_owned(), Value::String(types.api_version));
        body.insert("kind".to_owned(), Value::String(types.kind));
        let metadata =
            serde_json::to_value(&metadata).map_err(|source| ApplyError::Serialize { object: key.clone(), source })?;
        body.insert("metadata".to_owned(), metadata);
        let mut body = Value::Object(body);
        let hash = hash_value(&body).map_err(|source| ApplyError::Serialize { object: key.clone(), source })?;
        if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(APPLIED_HASH_ANNOTATION.to_owned(), Value::String(hash.clone()));
            }
            if let (true, Some(owner)) = (kind.namespaced, &owner) {
                metadata.insert("ownerReferences".to_owned(), owner.clone());
            }
        }
        declared.push(Declared { namespace, kind, name, body, hash });
    }
    declared.sort_by_key(|d| kinds::apply_rank(&d.kind.resource.api_version, &d.kind.resource.kind));
    Ok(declared)
}

/// The first 16 bytes of the SHA-256 of the value's compact JSON, in hex.
fn hash_value(value: &Value) -> Result<String, serde_json::Error> {
    let mut digest = DigestWriter(Sha256::new());
    serde_json::to_writer(&mut digest, value)?;
    Ok(digest.0.finalize().iter().take(16).map(|byte| format!("{byte:02x}")).collect())
}

/// Feeds written bytes into a digest.
struct DigestWriter(Sha256);

impl std::io::Write for DigestWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn api_for(client: &Client, kind: &OwnedKind, namespace: Option<&str>) -> Api<DynamicObject> {
    match (kind.namespaced, namespace) {
        (true, Some(namespace)) => Api::namespaced_with(client.clone(), namespace, &kind.resource),
        _ => Api::all_with(client.clone(), &kind.resource),
    }
}

/// The owned objects as the controller's watches last saw them, one reflector store per owned
/// kind, so that a reconcile with nothing to change reads nothing from the API server.
#[derive(Clone, Default)]
pub struct OwnedCache {
    stores: Vec<(OwnedKind, Store<DynamicObject>)>,
    own_writes: OwnWrites,
}

/// The resource version each object had after this replica's last write of it. The watch event
/// of that write (its echo) need not trigger another reconcile: the reconcile that wrote it
/// already knows the result. At 10k monitors a reconcile costs hundreds of milliseconds, and
/// echoes doubled the work of every change. Other changes of the object (someone's edit, a
/// Deployment's status) carry other resource versions and trigger as before; an echo that
/// arrives before the write is recorded triggers too, which costs only time.
#[derive(Clone, Default)]
pub struct OwnWrites(Arc<Mutex<HashMap<String, String>>>);

impl OwnWrites {
    fn record(&self, key: String, resource_version: Option<String>) {
        if let (Ok(mut writes), Some(version)) = (self.0.lock(), resource_version) {
            writes.insert(key, version);
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut writes) = self.0.lock() {
            writes.remove(key);
        }
    }

    /// Whether this event of the object is the echo of a write of this replica (and forgets
    /// that write: a later identical version, e.g. from a relist, triggers again).
    pub(crate) fn is_echo(&self, kind: &OwnedKind, object: &DynamicObject) -> bool {
        let Some(version) = object.metadata.resource_version.as_deref() else { return false };
        let namespace = if kind.namespaced { object.metadata.namespace.as_deref() } else { None };
        let key = object_key(&kind.resource.kind, namespace, &object.name_any());
        let Ok(mut writes) = self.0.lock() else { return false };
        if writes.get(&key).map(String::as_str) == Some(version) {
            writes.remove(&key);
            true
        } else {
            false
        }
    }
}

impl OwnedCache {
    /// The stores of the owned kinds, and the writes of this replica that their watches' echo
    /// filter shares.
    pub fn new(stores: Vec<(OwnedKind, Store<DynamicObject>)>, own_writes: OwnWrites) -> Self {
        Self { stores, own_writes }
    }

    fn store(&self, kind: &OwnedKind) -> Option<&Store<DynamicObject>> {
        self.stores.iter().find(|(owned, _)| owned.resource == kind.resource).map(|(_, store)| store)
    }

    /// Waits until every store holds its first full list.
    pub(crate) async fn wait_until_ready(&self) {
        for (_, store) in &self.stores {
            // An error means the writer is gone (shutdown): reads then fall back to the API.
            let _ = store.wait_until_ready().await;
        }
    }

    /// The cached object of a declaration; `None` when not cached (absent, or not yet seen).
    fn get(&self, item: &Declared) -> Option<Arc<DynamicObject>> {
        self.cached(&item.kind, item.namespace.as_deref(), &item.name)
    }

    /// The cached object of a kind by name; `None` when not cached (absent, or not yet seen).
    pub(crate) fn cached(&self, kind: &OwnedKind, namespace: Option<&str>, name: &str) -> Option<Arc<DynamicObject>> {
        let store = self.store(kind)?;
        let mut reference = ObjectRef::new_with(name, kind.resource.clone());
        if kind.namespaced {
            reference = reference.within(namespace.unwrap_or_default());
        }
        store.get(&reference)
    }

    /// The cached objects of a kind labelled as the stack's, in its namespace when namespaced;
    /// `None` when the kind is not cached.
    fn labelled(&self, kind: &OwnedKind, stack_name: &str, namespace: &str) -> Option<Vec<Arc<DynamicObject>>> {
        let store = self.store(kind)?;
        Some(
            store
                .state()
                .into_iter()
                .filter(|object| object.labels().get(STACK_LABEL).map(String::as_str) == Some(stack_name))
                .filter(|object| !kind.namespaced || object.metadata.namespace.as_deref() == Some(namespace))
                .collect(),
        )
    }
}

/// Where apply and prune read the live objects: the API server, or the controller's cache
/// (every finding other than "in sync" is confirmed with the API server before it counts, since a
/// cache can lag behind a write the previous reconcile made).
#[derive(Clone, Copy)]
pub enum Live<'a> {
    Api,
    Cache(&'a OwnedCache),
}

/// Applies the declarations. `previously_applied` says whether this exact render was applied
/// before: only then is a missing object a deletion by someone else (drift) rather than new.
pub async fn apply(
    client: &Client,
    live: Live<'_>,
    declared: &[Declared],
    policy: DriftPolicy,
    previously_applied: bool,
) -> Result<ApplyReport, ApplyError> {
    let mut report = ApplyReport::default();
    let params = PatchParams::apply(MANAGER).force();
    for item in declared {
        let key = item.key();
        let state = match live {
            Live::Cache(cache) => match cache.get(item).map(|cached| compare_live(item, &cached)).transpose()? {
                Some(LiveState::InSync) => LiveState::InSync,
                _ => inspect(client, item).await?,
            },
            Live::Api => inspect(client, item).await?,
        };
        let write = match state {
            LiveState::Absent if previously_applied => {
                let corrected = policy == DriftPolicy::Correct;
                report.drift.push(ObjectDrift { object: key.clone(), fields: vec![deleted_field()], corrected });
                corrected
            }
            LiveState::Absent => {
                report.created.push(key.clone());
                true
            }
            LiveState::Outdated => {
                report.updated.push(key.clone());
                true
            }
            LiveState::Drifted(fields) => {
                let corrected = policy == DriftPolicy::Correct;
                report.drift.push(ObjectDrift { object: key.clone(), fields, corrected });
                corrected
            }
            LiveState::InSync => false,
        };
        if write {
            let api = api_for(client, &item.kind, item.namespace.as_deref());
            let written = api
                .patch(&item.name, &params, &Patch::Apply(&item.body))
                .await
                .map_err(|source| ApplyError::Api { action: "apply", object: key.clone(), source })?;
            if let Live::Cache(cache) = live {
                cache.own_writes.record(key, written.metadata.resource_version);
            }
            report.writes += 1;
        }
    }
    Ok(report)
}

/// How a live object compares with its declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveState {
    /// Not there: new, or deleted by someone else when this render was applied before.
    Absent,
    /// Applied from another declaration: an update is due, not drift.
    Outdated,
    /// Applied from this declaration, then changed by someone else.
    Drifted(Vec<FieldDrift>),
    /// As declared.
    InSync,
}

/// The drift entry of an object that was deleted.
pub(crate) fn deleted_field() -> FieldDrift {
    FieldDrift { path: "<object>".to_owned(), expected: "present".to_owned(), actual: "<absent>".to_owned() }
}

/// Reads the live object and compares it with its declaration. Read-only.
pub async fn inspect(client: &Client, item: &Declared) -> Result<LiveState, ApplyError> {
    let api = api_for(client, &item.kind, item.namespace.as_deref());
    let live = api.get_opt(&item.name).await.map_err(|source| ApplyError::Api {
        action: "get",
        object: item.key(),
        source,
    })?;
    let Some(live) = live else { return Ok(LiveState::Absent) };
    compare_live(item, &live)
}

/// Compares a live object with its declaration.
fn compare_live(item: &Declared, live: &DynamicObject) -> Result<LiveState, ApplyError> {
    if live.annotations().get(APPLIED_HASH_ANNOTATION) != Some(&item.hash) {
        return Ok(LiveState::Outdated);
    }
    // Only the metadata is converted; the rest is compared where it lies (no copy of the data).
    let live_metadata =
        serde_json::to_value(&live.metadata).map_err(|source| ApplyError::Serialize { object: item.key(), source })?;
    let fields = compare_fields(&item.body, |field| match field {
        "metadata" => Some(&live_metadata),
        other => live.data.get(other),
    });
    Ok(if fields.is_empty() { LiveState::InSync } else { LiveState::Drifted(fields) })
}

/// Deletes objects labelled as the stack's that the render no longer produces.
pub(crate) async fn prune(
    client: &Client,
    live: Live<'_>,
    stack_name: &str,
    namespace: &str,
    declared: &[Declared],
    report: &mut ApplyReport,
) -> Result<(), ApplyError> {
    let keep: BTreeSet<String> = declared.iter().map(Declared::key).collect();
    let selector = ListParams::default().labels(&format!("{STACK_LABEL}={stack_name}"));
    let cluster_prefix = cluster_scoped_prefix(namespace, stack_name);
    for kind in kinds::owned_kinds() {
        let api = api_for(client, &kind, Some(namespace));
        let cached = match live {
            Live::Cache(cache) => cache.labelled(&kind, stack_name, namespace),
            Live::Api => None,
        };
        let labelled: Vec<(String, bool)> = match cached {
            Some(objects) => {
                objects.iter().map(|object| (object.name_any(), object.metadata.deletion_timestamp.is_some())).collect()
            }
            None => api
                .list_metadata(&selector)
                .await
                .map_err(|source| ApplyError::Api {
                    action: "list",
                    object: format!("{} labelled {STACK_LABEL}={stack_name}", kind.resource.kind),
                    source,
                })?
                .items
                .iter()
                .map(|object| (object.name_any(), object.metadata.deletion_timestamp.is_some()))
                .collect(),
        };
        for (name, deleting) in labelled {
            // Cluster-scoped objects of a same-named stack in another namespace are not ours.
            if !kind.namespaced && !name.starts_with(&cluster_prefix) {
                continue;
            }
            let object_namespace = kind.namespaced.then_some(namespace);
            let key = object_key(&kind.resource.kind, object_namespace, &name);
            if keep.contains(&key) || deleting {
                continue;
            }
            let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
            report.writes += 1;
            if let Live::Cache(cache) = live {
                cache.own_writes.forget(&key);
            }
            match api.delete(&name, &params).await {
                Ok(_) => report.pruned.push(key),
                // Gone already (a cache that had not seen the deletion yet).
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(ApplyError::Api { action: "delete", object: key, source }),
            }
        }
    }
    Ok(())
}

/// Deletes the stack's cluster-scoped objects; namespaced ones go with their owner.
pub async fn delete_cluster_scoped(client: &Client, stack_name: &str, namespace: &str) -> Result<u32, ApplyError> {
    let mut report = ApplyReport::default();
    prune(client, Live::Api, stack_name, namespace, &[], &mut report).await?;
    Ok(report.writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObservabilityStackSpec;
    use crate::render::{fixtures::machineavatars, render_stack};

    fn stack() -> ObservabilityStack {
        let mut stack = ObservabilityStack::new("machineavatars", ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("observability".to_owned());
        stack.metadata.uid = Some("0b0e5b1c-1111-2222-3333-444455556666".to_owned());
        stack
    }

    #[test]
    fn declarations_carry_owner_hash_and_apply_order() {
        let rendered = render_stack(&machineavatars()).unwrap();
        let declared = declare(&stack(), rendered.clone()).unwrap();
        assert_eq!(declared.len(), rendered.len());
        let ranks: Vec<usize> =
            declared.iter().map(|d| kinds::apply_rank(&d.kind.resource.api_version, &d.kind.resource.kind)).collect();
        assert!(ranks.windows(2).all(|pair| pair[0] <= pair[1]), "dependencies first");
        for item in &declared {
            assert_eq!(item.body["metadata"]["annotations"][APPLIED_HASH_ANNOTATION], item.hash.as_str());
            if item.kind.namespaced {
                assert_eq!(item.body["metadata"]["ownerReferences"][0]["kind"], "ObservabilityStack");
                assert_eq!(item.body["metadata"]["ownerReferences"][0]["controller"], true);
            } else {
                assert!(item.body["metadata"].get("ownerReferences").is_none());
                assert!(
                    item.name.starts_with(&cluster_scoped_prefix("observability", "machineavatars")),
                    "{}",
                    item.name
                );
            }
        }
    }

    #[test]
    fn only_the_echo_of_the_own_last_write_is_filtered_once() {
        let kind = kinds::find("v1", "ConfigMap").unwrap();
        let object = |version: &str| {
            let mut object = DynamicObject::new("stack-loki", &kind.resource).within("observability");
            object.metadata.resource_version = Some(version.to_owned());
            object
        };
        let writes = OwnWrites::default();
        assert!(!writes.is_echo(&kind, &object("7")), "nothing written yet");
        writes.record("ConfigMap/observability/stack-loki".to_owned(), Some("7".to_owned()));
        assert!(!writes.is_echo(&kind, &object("6")), "an older version is someone else's");
        assert!(!writes.is_echo(&kind, &object("8")), "a newer version is someone else's");
        assert!(writes.is_echo(&kind, &object("7")));
        assert!(!writes.is_echo(&kind, &object("7")), "a relist of the same version triggers again");
        writes.record("ConfigMap/observability/stack-loki".to_owned(), Some("9".to_owned()));
        writes.forget("ConfigMap/observability/stack-loki");
        assert!(!writes.is_echo(&kind, &object("9")), "a pruned object's write is forgotten");
    }

    #[test]
    fn the_hash_is_the_one_earlier_versions_wrote() {
        // Objects applied by earlier versions carry this hash; a different one would rewrite
        // every object once after an upgrade.
        let rendered = render_stack(&machineavatars()).unwrap();
        let declared = declare(&stack(), rendered.clone()).unwrap();
        for item in rendered {
            let mut object = item.object;
            let types = object.types.clone().unwrap();
            let kind = kinds::find(&types.api_version, &types.kind).unwrap();
            if !kind.namespaced {
                object.metadata.namespace = None;
            }
            let text = serde_json::to_value(&object).unwrap().to_string();
            let expected: String =
                Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
            let name = object.metadata.name.unwrap();
            let found = declared.iter().find(|d| d.name == name && d.kind.resource.kind == types.kind).unwrap();
            assert_eq!(found.hash, expected, "{}", found.key());
        }
    }

    #[test]
    fn the_hash_follows_the_declaration_only() {
        let rendered = render_stack(&machineavatars()).unwrap();
        let first = declare(&stack(), rendered.clone()).unwrap();
        let again = declare(&stack(), rendered).unwrap();
        assert_eq!(
            first.iter().map(|d| &d.hash).collect::<Vec<_>>(),
            again.iter().map(|d| &d.hash).collect::<Vec<_>>()
        );
        let mut changed = machineavatars();
        changed.spec.tracing.storage.retention = crate::api::Duration::from("24h");
        let changed = declare(&stack(), render_stack(&changed).unwrap()).unwrap();
        let differing = first.iter().zip(&changed).filter(|(a, b)| a.hash != b.hash).count();
        assert!(differing >= 1);
    }
}
