//! The watches that feed the controller: cached ones that fill the stores reconciles read and
//! trigger reconciles only for changes a render depends on (fingerprints), metadata-only ones for
//! kinds whose names or generations alone matter, and the filter that keeps watch errors in each
//! watch's own backoff.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates, watcher};
use kube::{Client, Resource};

use super::metrics::Metrics;
use crate::api::{ObservabilityStack, ServiceMonitor};
use crate::render::common::{MANAGER, STACK_LABEL};

/// The changes of one watch that trigger reconciles.
pub(crate) type Changes<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// A namespaced kind with a static type, as the watches need it.
pub(crate) trait NamespacedKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> NamespacedKind for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// An Api of one namespace, or of every namespace.
pub(crate) fn namespaced_or_all<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// The watch of the objects a stack owns: those stackscope manages for some stack.
pub(crate) fn owned_watch() -> watcher::Config {
    watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER},{STACK_LABEL}"))
}

/// A cached watch of a kind the reconciles read (of one namespace, if given): its store, and the
/// changes that matter to a render (`fingerprint`), which trigger reconciles once the store holds
/// them.
pub(crate) fn cached_watch<K>(
    client: &Client,
    namespace: Option<&str>,
    fingerprint: fn(&K) -> u64,
    kind: &str,
    metrics: &Metrics,
) -> (Store<K>, Changes<K>)
where
    K: NamespacedKind,
{
    let (store, writer) = reflector::store();
    let events = reflector(
        writer,
        watcher(namespaced_or_all::<K>(client, namespace), watcher::Config::default()).default_backoff(),
    );
    (store, without_watch_errors(kind, metrics, relevant_changes(events, fingerprint)))
}

/// The objects whose fingerprint (what the stacks depend on) changed, or that were deleted. The
/// first full list passes nothing: it fills the caches before the first reconciles, which every
/// stack gets anyway. So at start 10k Services are not mapped to stacks one by one, and a status
/// write (stackscope's own, one per monitor) does not cause another reconcile.
pub(crate) fn relevant_changes<K>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    fingerprint: fn(&K) -> u64,
) -> Changes<K>
where
    K: Resource<DynamicType = ()> + Send + 'static,
{
    let mut seen: HashMap<ObjectRef<K>, u64> = HashMap::new();
    let mut listed = false;
    events
        .flat_map(move |event| {
            let changed = match event {
                Err(error) => Some(Err(error)),
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let fingerprint = fingerprint(&object);
                    let changed = seen.insert(ObjectRef::from_obj(&object), fingerprint) != Some(fingerprint);
                    (changed && listed).then_some(Ok(object))
                }
                Ok(watcher::Event::Delete(object)) => {
                    seen.remove(&ObjectRef::from_obj(&object));
                    Some(Ok(object))
                }
                Ok(watcher::Event::InitDone) => {
                    listed = true;
                    None
                }
                Ok(watcher::Event::Init) => None,
            };
            futures::stream::iter(changed)
        })
        .boxed()
}

/// What a render reads of a monitor: its spec (the generation) and labels, not its status.
pub(crate) fn monitor_fingerprint(monitor: &ServiceMonitor) -> u64 {
    let mut hasher = DefaultHasher::new();
    monitor.metadata.generation.hash(&mut hasher);
    monitor.metadata.labels.hash(&mut hasher);
    hasher.finish()
}

/// What of a stack calls for a reconcile: everything but its status, which the operator writes
/// itself (a trigger on it doubled the reconciles of every change). Annotations count, so that a
/// touch of the stack still reconciles it; deletion and finalizers for the cleanup.
pub(crate) fn stack_fingerprint(stack: &ObservabilityStack) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    stack.metadata.generation.hash(&mut hasher);
    stack.metadata.labels.hash(&mut hasher);
    stack.metadata.annotations.hash(&mut hasher);
    stack.metadata.deletion_timestamp.as_ref().map(|time| time.0.to_string()).hash(&mut hasher);
    stack.metadata.finalizers.hash(&mut hasher);
    Some(hasher.finish())
}

/// What a render reads of a Service: labels and spec (ports, selector), not its status.
pub(crate) fn service_fingerprint(service: &Service) -> u64 {
    let mut hasher = DefaultHasher::new();
    service.metadata.labels.hash(&mut hasher);
    serde_json::to_string(&service.spec).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

/// Metadata-only changes of every object of a kind (of one namespace, if given), with backoff;
/// with `spec_only`, only changes that bump the generation (spec edits) pass.
pub(crate) fn metadata_changes<K>(
    client: &Client,
    namespace: Option<&str>,
    spec_only: bool,
) -> Changes<PartialObjectMeta<K>>
where
    K: NamespacedKind,
{
    let api: Api<PartialObjectMeta<K>> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let changes = watcher(api, watcher::Config::default()).default_backoff().touched_objects();
    if spec_only {
        changes.predicate_filter(predicates::generation, PredicateConfig::default()).boxed()
    } else {
        changes.boxed()
    }
}

/// Drops watch errors from a trigger stream after logging and counting them. Each watch backs off
/// on its own errors (`default_backoff`) below this; an error that reached the controller would
/// also pause every other trigger, since kube's controller backs off its merged trigger stream as
/// one. After an API server restart every watch failed once, the pauses grew with each error, and
/// the operator saw no change for minutes (found by the fault test).
pub(crate) fn without_watch_errors<K, S>(kind: &str, metrics: &Metrics, changes: S) -> Changes<K>
where
    K: Send + 'static,
    S: futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
{
    let failures = metrics.watch_errors.with_label_values(&[kind]);
    let kind = kind.to_owned();
    changes
        .filter(move |change| {
            if let Err(error) = change {
                failures.inc();
                tracing::warn!(kind = %kind, error = %error, "watch failed; retrying with backoff");
            }
            futures::future::ready(change.is_ok())
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObservabilityStackSpec;
    use futures::executor::block_on;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec, ServiceStatus};
    use std::collections::BTreeMap;

    fn monitor(name: &str, generation: i64, labels: &[(&str, &str)]) -> ServiceMonitor {
        let mut monitor = ServiceMonitor::new(
            name,
            serde_json::from_value(serde_json::json!({"selector": {}, "endpoints": []})).expect("a valid spec"),
        );
        monitor.metadata.namespace = Some("apps".to_owned());
        monitor.metadata.generation = Some(generation);
        monitor.metadata.labels =
            Some(labels.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect());
        monitor
    }

    fn names(events: Vec<watcher::Event<ServiceMonitor>>) -> Vec<String> {
        let stream = relevant_changes(futures::stream::iter(events.into_iter().map(Ok)), monitor_fingerprint);
        block_on(stream.map(|change| change.map(|m| m.metadata.name.unwrap_or_default())).collect::<Vec<_>>())
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("no watch error")
    }

    #[test]
    fn the_first_list_fills_the_cache_and_triggers_nothing() {
        let events = vec![
            watcher::Event::Init,
            watcher::Event::InitApply(monitor("a", 1, &[])),
            watcher::Event::InitApply(monitor("b", 1, &[])),
            watcher::Event::InitDone,
        ];
        assert_eq!(names(events), Vec::<String>::new());
    }

    #[test]
    fn only_changes_of_the_fingerprint_and_deletions_trigger() {
        let mut status_only = monitor("a", 1, &[]);
        status_only.status = Some(Default::default());
        let events = vec![
            watcher::Event::Init,
            watcher::Event::InitApply(monitor("a", 1, &[])),
            watcher::Event::InitDone,
            watcher::Event::Apply(status_only), // status write: same fingerprint
            watcher::Event::Apply(monitor("a", 2, &[])), // spec change
            watcher::Event::Apply(monitor("a", 2, &[("team", "x")])), // label change
            watcher::Event::Apply(monitor("a", 2, &[("team", "x")])), // nothing new
            watcher::Event::Delete(monitor("a", 2, &[("team", "x")])),
            watcher::Event::Apply(monitor("a", 2, &[("team", "x")])), // created again: new to the cache
        ];
        assert_eq!(names(events), ["a", "a", "a", "a"]);
    }

    #[test]
    fn a_relist_after_a_restart_triggers_only_what_changed_meanwhile() {
        let events = vec![
            watcher::Event::Init,
            watcher::Event::InitApply(monitor("a", 1, &[])),
            watcher::Event::InitApply(monitor("b", 1, &[])),
            watcher::Event::InitDone,
            // The watch restarts and lists again.
            watcher::Event::Init,
            watcher::Event::InitApply(monitor("a", 1, &[])),
            watcher::Event::InitApply(monitor("b", 3, &[])),
            watcher::Event::InitDone,
        ];
        assert_eq!(names(events), ["b"]);
    }

    #[test]
    fn watch_errors_pass_to_the_error_filter() {
        let events: Vec<Result<watcher::Event<ServiceMonitor>, watcher::Error>> =
            vec![Ok(watcher::Event::InitDone), Err(watcher::Error::NoResourceVersion)];
        let changes =
            block_on(relevant_changes(futures::stream::iter(events), monitor_fingerprint).collect::<Vec<_>>());
        assert!(matches!(changes.as_slice(), [Err(watcher::Error::NoResourceVersion)]));
        let metrics = Metrics::new().expect("metrics register");
        let filtered = block_on(
            without_watch_errors("ServiceMonitor", &metrics, futures::stream::iter(changes)).collect::<Vec<_>>(),
        );
        assert!(filtered.is_empty());
        assert_eq!(metrics.watch_errors.with_label_values(&["ServiceMonitor"]).get(), 1);
    }

    #[test]
    fn a_services_fingerprint_ignores_its_status() {
        let mut service = Service::default();
        service.metadata.labels = Some(BTreeMap::from([("app".to_owned(), "api".to_owned())]));
        service.spec = Some(ServiceSpec {
            ports: Some(vec![ServicePort { name: Some("http".to_owned()), port: 80, ..Default::default() }]),
            ..Default::default()
        });
        let before = service_fingerprint(&service);
        service.status = Some(ServiceStatus::default());
        service.metadata.resource_version = Some("42".to_owned());
        assert_eq!(service_fingerprint(&service), before);
        if let Some(ports) = service.spec.as_mut().and_then(|spec| spec.ports.as_mut()) {
            ports[0].name = Some("metrics".to_owned());
        }
        assert_ne!(service_fingerprint(&service), before, "a renamed port matters to the monitors");
    }

    #[test]
    fn a_stacks_fingerprint_ignores_its_status_but_not_a_touch_or_its_deletion() {
        let mut stack = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        stack.metadata.generation = Some(1);
        let before = stack_fingerprint(&stack);
        stack.status = Some(Default::default());
        assert_eq!(stack_fingerprint(&stack), before, "status writes are the operator's own");
        let mut touched = stack.clone();
        touched.metadata.annotations = Some(BTreeMap::from([("touch".to_owned(), "1".to_owned())]));
        assert_ne!(stack_fingerprint(&touched), before);
        let mut deleted = stack.clone();
        deleted.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_ne!(stack_fingerprint(&deleted), before);
        let mut respecified = stack;
        respecified.metadata.generation = Some(2);
        assert_ne!(stack_fingerprint(&respecified), before);
    }
}
