//! The controller: a kube-runtime `Controller` over ObservabilityStacks that owns what it
//! renders and watches the ServiceMonitors and Secrets stacks read.
//!
//! A reconcile runs typed stages: dereference (select and check monitors) → render (pure) →
//! apply (server-side apply, drift, prune) → status. A failure in any stage leaves the objects
//! of the last good render in place and says so in status.

pub mod apply;
pub mod dereference;
pub mod foreign;
pub mod kinds;
pub mod leader;
pub mod metrics;
pub mod permissions;
pub mod probes;
pub mod report;
pub mod server;
pub mod status;

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::watcher;
use kube::runtime::{PredicateConfig, WatchStreamExt, predicates};
use kube::{Client, Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::api::{
    Condition, ObservabilityStack, ObservabilityStackStatus, RejectedMonitor, ServiceMonitor, ServiceMonitorStatus,
};
use crate::render::common::{MANAGER, STACK_LABEL, cluster_scoped_prefix};
use crate::render::render_stack;
use crate::resolve::{ResolvedStack, monitor_selects_service, service_namespaces, stack_selects};
use crate::schema::SchemaValidator;
use apply::{ApplyError, ApplyReport, Declared, Live, OwnWrites, OwnedCache};
use dereference::DereferenceError;
use metrics::Metrics;
use status::Outcome;

/// Finalizer that removes the stack's cluster-scoped objects, which owner references cannot.
pub const FINALIZER: &str = "stackscope.dev/cleanup";
/// How often a stack is re-checked for drift even when no watch event arrives.
pub const RESYNC: Duration = Duration::from_secs(300);

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub metrics: Metrics,
    /// Every ServiceMonitor in the cluster, kept by a reflector.
    pub monitors: Store<ServiceMonitor>,
    /// Every Service in the cluster, kept by a reflector: the monitors' ports are checked and
    /// their workloads found through them without a request per reconcile.
    pub services: Store<Service>,
    pub validator: SchemaValidator,
    pub recorder: Recorder,
    /// prometheus-operator's ServiceMonitors, watched once a stack selects them.
    pub foreign: foreign::ForeignMonitors,
    /// The objects the stacks own, as their watches last saw them.
    pub owned: OwnedCache,
    /// Monitors already validated, by uid and generation.
    pub checked: dereference::StaticProblems,
    /// One render cache per stack (`namespace/name`), so a reconcile after one monitor changed
    /// renders that monitor only.
    pub render_caches: RenderCaches,
    /// The status this replica last wrote for each stack (`namespace/name`, with the stack's
    /// uid). The leader is the only writer of status, so this is never older than the cached
    /// stack's, which can lag behind: a reconcile triggered by an owned object's watch event may
    /// run before the stack's own status update reaches the cache, and must not undo it.
    pub written_statuses: WrittenStatuses,
}

/// Statuses written by this replica, by stack.
pub type WrittenStatuses = std::sync::Mutex<BTreeMap<String, (String, ObservabilityStackStatus)>>;

/// Render caches by stack; a stack's cache is dropped with the stack.
pub type RenderCaches = std::sync::Mutex<BTreeMap<String, crate::render::cache::RenderCache>>;

/// Why a reconcile failed. Each variant names the stage.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the ObservabilityStack has no namespace")]
    NoNamespace,
    #[error("dereference: {0}")]
    Dereference(#[from] DereferenceError),
    #[error("apply: {0}")]
    Apply(#[from] ApplyError),
    #[error("status of {object}: {source}")]
    Status { object: String, source: kube::Error },
    #[error("finalizer: {0}")]
    Finalizer(String),
    #[error("invalid stack: {0}")]
    InvalidStack(String),
    #[error("render: {0}")]
    Render(String),
    #[error("probes: {0}")]
    Probes(#[from] probes::ProbeError),
}

impl ReconcileError {
    /// A bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoNamespace => "no_namespace",
            Self::Dereference(_) => "dereference",
            Self::Apply(error) => error.reason(),
            Self::Status { .. } => "status",
            Self::Finalizer(_) => "finalizer",
            Self::InvalidStack(_) => "invalid_stack",
            Self::Render(_) => "render",
            Self::Probes(_) => "probes",
        }
    }
}

fn now() -> String {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH).to_string()
}

/// Reconciles one stack through the finalizer helper, in a span carrying a fresh trace id.
pub async fn reconcile(stack: Arc<ObservabilityStack>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    use tracing::Instrument;
    let key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    let span = tracing::info_span!("reconcile", trace_id = %crate::telemetry::new_trace_id(), stack = %key);
    reconcile_stack(stack, context).instrument(span).await
}

async fn reconcile_stack(stack: Arc<ObservabilityStack>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = stack.namespace().ok_or(ReconcileError::NoNamespace)?;
    let api: Api<ObservabilityStack> = Api::namespaced(context.client.clone(), &namespace);
    let started = Instant::now();
    let result = finalizer(&api, FINALIZER, stack, |event| async {
        match event {
            FinalizerEvent::Apply(stack) => apply_stack(&stack, &context).await,
            FinalizerEvent::Cleanup(stack) => cleanup(&stack, &context).await,
        }
    })
    .await
    .map_err(|error| match error {
        kube::runtime::finalizer::Error::ApplyFailed(inner) | kube::runtime::finalizer::Error::CleanupFailed(inner) => {
            inner
        }
        other => ReconcileError::Finalizer(other.to_string()),
    });
    let elapsed = started.elapsed();
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(_) => tracing::debug!(duration_ms, "reconciled"),
        Err(error) => tracing::warn!(duration_ms, error = %error, reason = error.reason(), "reconcile failed"),
    }
    let outcome = if result.is_ok() { "success" } else { "error" };
    context.metrics.reconciles.with_label_values(&[outcome]).inc();
    context.metrics.reconcile_duration.with_label_values(&[outcome]).observe(elapsed.as_secs_f64());
    result
}

/// Backs off a failed reconcile; the error is already in status and the logs.
pub fn error_policy(_stack: Arc<ObservabilityStack>, error: &ReconcileError, context: Arc<Context>) -> Action {
    // The failure was logged inside the reconcile's span, with its trace id.
    context.metrics.errors.with_label_values(&[error.reason()]).inc();
    Action::requeue(Duration::from_secs(30))
}

/// Hash of a whole render: equal hashes mean every object was declared the same.
pub fn render_hash(declared: &[Declared]) -> String {
    let mut hasher = Sha256::new();
    for item in declared {
        hasher.update(item.key().as_bytes());
        hasher.update(item.hash.as_bytes());
    }
    hasher.finalize().iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

async fn apply_stack(stack: &ObservabilityStack, context: &Context) -> Result<Action, ReconcileError> {
    let namespace = stack.namespace().ok_or(ReconcileError::NoNamespace)?;
    let stack_key = format!("{namespace}/{}", stack.name_any());
    let uid = stack.uid().unwrap_or_default();
    let written = context.written_statuses.lock().ok().and_then(|written| {
        written.get(&stack_key).filter(|(written_uid, _)| *written_uid == uid).map(|(_, status)| status.clone())
    });
    let previous = written.or_else(|| stack.status.clone());
    let mut outcome = Outcome { generation: stack.metadata.generation, ..Outcome::default() };
    // The caches fill through the controller's own watches: the first reconciles wait for them
    // (an error means their watch ended at shutdown; the reconcile then reads what there is).
    let _ = context.monitors.wait_until_ready().await;
    let _ = context.services.wait_until_ready().await;
    context.owned.wait_until_ready().await;

    let monitors = context.monitors.state();
    let services = context.services.state();
    // One index of the Services for the whole reconcile: ports and probes both look them up.
    let services = dereference::ServiceIndex::new(&services);
    let foreign = if stack.spec.prometheus_operator_monitors.enabled {
        match context.foreign.snapshot().await {
            foreign::Snapshot::Available(monitors) => monitors,
            foreign::Snapshot::Unavailable(reason) => {
                outcome.foreign_unavailable = Some(reason);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let cache = Some((format!("{namespace}/{}", stack.name_any()), &context.render_caches));
    let resolution = resolve_and_render(
        &context.client,
        &context.validator,
        &context.checked,
        stack,
        &monitors,
        &foreign,
        &services,
        cache,
    )
    .await?;
    outcome.accepted = resolution.selection.accepted_refs();
    outcome.rejected = resolution.selection.rejected.clone();
    let result = match resolution.rendered {
        Ok((resolved, rendered)) => {
            outcome.rendered = Outcome::rendered_from(&rendered);
            match apply_rendered(stack, &namespace, rendered, previous.as_ref(), context, &mut outcome).await {
                Ok(()) => check_probes(&resolved, &services, context, &mut outcome).await,
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        outcome.failure = Some(error.to_string());
        // The last good render stays applied; status must not claim the new one.
        outcome.rendered = Vec::new();
    }
    context.metrics.rejected_monitors.set(i64::try_from(outcome.rejected.len()).unwrap_or(i64::MAX));

    let new_status = status::build(&outcome, previous.as_ref(), &now());
    publish_events(stack, previous.as_ref(), &new_status, context).await;
    write_status(stack, &namespace, previous.as_ref(), &new_status, context).await?;
    if let Ok(mut written) = context.written_statuses.lock() {
        written.insert(stack_key, (uid, new_status));
    }
    write_monitor_statuses(stack, &monitors, &outcome.rejected, context).await?;
    result.map(|()| Action::requeue(RESYNC))
}

/// The monitors a stack selects, sorted into accepted and rejected, and the render of the
/// accepted ones, or why the stack cannot render. The reconcile and `stackscope drift` share it.
pub struct Resolution {
    pub selection: dereference::Selection,
    pub rendered: Result<(ResolvedStack, Vec<crate::render::RenderedObject>), ReconcileError>,
}

/// Resolve, validate and render one stack (reads Secrets only to check that they exist).
#[allow(clippy::too_many_arguments)] // the stack, what it reads, and the caches the controller keeps
pub async fn resolve_and_render(
    client: &Client,
    validator: &SchemaValidator,
    checked: &dereference::StaticProblems,
    stack: &ObservabilityStack,
    monitors: &[Arc<ServiceMonitor>],
    foreign: &[dereference::ForeignMonitor],
    services: &dereference::ServiceIndex<'_>,
    cache: Option<(String, &RenderCaches)>,
) -> Result<Resolution, DereferenceError> {
    let selection = dereference::select(client, validator, checked, stack, monitors, foreign, services).await?;
    let problems = stack_problems(validator, stack);
    let rendered = if problems.is_empty() {
        let resolved = ResolvedStack::new(stack, &selection.accepted);
        let render = |resolved: &ResolvedStack| match cache {
            // A poisoned lock only means another reconcile panicked mid-render: start afresh.
            Some((key, caches)) => {
                let mut caches = caches.lock().unwrap_or_else(|poisoned| {
                    caches.clear_poison();
                    let mut guard = poisoned.into_inner();
                    guard.clear();
                    guard
                });
                caches.entry(key).or_default().render(resolved)
            }
            None => render_stack(resolved),
        };
        render(&resolved)
            .map(|rendered| (resolved, rendered))
            .map_err(|error| ReconcileError::Render(error.to_string()))
    } else {
        Err(ReconcileError::InvalidStack(problems))
    };
    Ok(Resolution { selection, rendered })
}

/// Compares (and under `Enforce` sets) the probes of the monitored workloads.
async fn check_probes(
    resolved: &ResolvedStack,
    services: &dereference::ServiceIndex<'_>,
    context: &Context,
    outcome: &mut Outcome,
) -> Result<(), ReconcileError> {
    let expectations = crate::render::probes::expected_probes(resolved);
    let checked = probes::check(&context.client, services, &expectations, resolved.spec.probes.policy).await?;
    context.metrics.writes.inc_by(u64::from(checked.writes));
    outcome.probe_findings = checked.findings;
    Ok(())
}

fn stack_problems(validator: &SchemaValidator, stack: &ObservabilityStack) -> String {
    let Ok(value) = serde_json::to_value(stack) else { return "cannot serialize the stack".to_owned() };
    let mut errors = validator.validate("ObservabilityStack", &value);
    if errors.is_empty() {
        errors = crate::validate::stack(&stack.spec);
    }
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

async fn apply_rendered(
    stack: &ObservabilityStack,
    namespace: &str,
    rendered: Vec<crate::render::RenderedObject>,
    previous: Option<&ObservabilityStackStatus>,
    context: &Context,
    outcome: &mut Outcome,
) -> Result<(), ReconcileError> {
    let declared = apply::declare(stack, rendered)?;
    let hash = render_hash(&declared);
    let previously_applied = previous.and_then(|status| status.last_applied_hash.as_deref()) == Some(hash.as_str());
    let live = Live::Cache(&context.owned);
    let mut report: ApplyReport =
        apply::apply(&context.client, live, &declared, stack.spec.drift_policy, previously_applied).await?;
    apply::prune(&context.client, live, &stack.name_any(), namespace, &declared, &mut report).await?;
    let fields: usize = report.drift.iter().map(|drift| drift.fields.len()).sum();
    context.metrics.drift_detected.inc_by(u64::try_from(fields).unwrap_or(u64::MAX));
    context.metrics.drift_corrected.inc_by(report.drift.iter().filter(|d| d.corrected).count() as u64);
    context.metrics.writes.inc_by(u64::from(report.writes));
    if report.writes > 0 {
        tracing::info!(
            created = report.created.len(),
            updated = report.updated.len(),
            pruned = report.pruned.len(),
            drifted = report.drift.len(),
            "applied"
        );
    }
    outcome.report = report;
    outcome.render_hash = Some(hash);
    Ok(())
}

/// Events for what is new since the last status: drift found and monitors rejected.
async fn publish_events(
    stack: &ObservabilityStack,
    previous: Option<&ObservabilityStackStatus>,
    current: &ObservabilityStackStatus,
    context: &Context,
) {
    let reference = stack.object_ref(&());
    let known_drift: Vec<(&str, &str)> =
        previous.map(|s| s.drift.iter().map(|d| (d.object.as_str(), d.path.as_str())).collect()).unwrap_or_default();
    // One event per object with new drift. The event recorder folds events that share their
    // reason and related object into one series, so the drifted object is the related one.
    let mut new_drift: BTreeMap<&str, Vec<&crate::api::DriftEntry>> = BTreeMap::new();
    for entry in current.drift.iter().filter(|e| !known_drift.contains(&(e.object.as_str(), e.path.as_str()))) {
        new_drift.entry(entry.object.as_str()).or_default().push(entry);
    }
    let mut events: Vec<(KubeEvent, ObjectReference)> = Vec::new();
    for (object, entries) in new_drift {
        let fields: Vec<String> = entries
            .iter()
            .map(|entry| {
                format!(
                    "{}: expected {}, found {}{}",
                    entry.path,
                    entry.expected,
                    entry.actual,
                    if entry.corrected { " (corrected)" } else { "" }
                )
            })
            .collect();
        let event = KubeEvent {
            type_: EventType::Warning,
            reason: "Drifted".to_owned(),
            note: Some(truncate(&format!("{object}: {}", fields.join("; ")))),
            action: "DetectDrift".to_owned(),
            secondary: kinds::reference_of(object),
        };
        events.push((event, reference.clone()));
    }
    let known_rejected: Vec<&RejectedMonitor> =
        previous.map(|s| s.rejected_monitors.iter().collect()).unwrap_or_default();
    let stack_key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    for rejected in current.rejected_monitors.iter().filter(|rejected| !known_rejected.contains(rejected)) {
        let monitor = ObjectReference {
            api_version: Some(
                rejected.api_version.clone().unwrap_or_else(|| ServiceMonitor::api_version(&()).into_owned()),
            ),
            kind: Some(ServiceMonitor::kind(&()).into_owned()),
            namespace: Some(rejected.namespace.clone()),
            name: Some(rejected.name.clone()),
            ..ObjectReference::default()
        };
        // On the stack, related to the monitor, and on the monitor itself.
        let on_stack = KubeEvent {
            type_: EventType::Warning,
            reason: "MonitorRejected".to_owned(),
            note: Some(truncate(&format!(
                "ServiceMonitor {}/{}{}: {}: {}",
                rejected.namespace,
                rejected.name,
                rejected.api_version.as_ref().map(|api| format!(" ({api})")).unwrap_or_default(),
                rejected.field,
                rejected.reason
            ))),
            action: "Validate".to_owned(),
            secondary: Some(monitor.clone()),
        };
        let on_monitor = KubeEvent {
            type_: EventType::Warning,
            reason: "Rejected".to_owned(),
            note: Some(truncate(&format!("{}: {} (ObservabilityStack {stack_key})", rejected.field, rejected.reason))),
            action: "Validate".to_owned(),
            secondary: Some(reference.clone()),
        };
        events.push((on_stack, reference.clone()));
        events.push((on_monitor, monitor));
    }
    for (event, regarding) in events {
        if let Err(error) = context.recorder.publish(&event, &regarding).await {
            tracing::warn!(error = %error, "cannot publish event");
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(1000).collect()
}

/// Status is written with server-side apply: the whole status is stackscope's, so a list or
/// field the new status leaves out (findings that cleared) is removed, which a merge patch that
/// simply omits it would not do.
fn status_apply<K: Resource<DynamicType = ()>, S: serde::Serialize>(status: &S) -> serde_json::Value {
    serde_json::json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status})
}

fn status_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

async fn write_status(
    stack: &ObservabilityStack,
    namespace: &str,
    previous: Option<&ObservabilityStackStatus>,
    status: &ObservabilityStackStatus,
    context: &Context,
) -> Result<(), ReconcileError> {
    if previous == Some(status) {
        return Ok(());
    }
    let api: Api<ObservabilityStack> = Api::namespaced(context.client.clone(), namespace);
    let patch = status_apply::<ObservabilityStack, _>(status);
    api.patch_status(&stack.name_any(), &status_params(), &Patch::Apply(&patch)).await.map_err(|source| {
        ReconcileError::Status { object: format!("ObservabilityStack {namespace}/{}", stack.name_any()), source }
    })?;
    context.metrics.writes.inc();
    Ok(())
}

/// Sets each selected monitor's `Accepted` condition, writing only what changed.
async fn write_monitor_statuses(
    stack: &ObservabilityStack,
    monitors: &[Arc<ServiceMonitor>],
    rejected: &[RejectedMonitor],
    context: &Context,
) -> Result<(), ReconcileError> {
    let stack_key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    for monitor in monitors.iter().filter(|monitor| stack_selects(stack, monitor)) {
        let namespace = monitor.namespace().unwrap_or_default();
        // prometheus-operator's monitors have a status of their own that stackscope never writes.
        let problem = rejected
            .iter()
            .find(|r| r.api_version.is_none() && r.namespace == namespace && r.name == monitor.name_any());
        let previous = monitor.status.clone().unwrap_or_default();
        let (status_value, reason, message) = match problem {
            Some(problem) => ("False", "Invalid", format!("{}: {}", problem.field, problem.reason)),
            None => ("True", "Accepted", format!("rendered by {stack_key}")),
        };
        let transition = previous
            .conditions
            .iter()
            .find(|c| c.condition_type == "Accepted" && c.status == status_value)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(now);
        let mut stacks = previous.stacks.clone();
        if !stacks.contains(&stack_key) {
            stacks.push(stack_key.clone());
            stacks.sort();
        }
        let status = ServiceMonitorStatus {
            observed_generation: monitor.metadata.generation,
            conditions: vec![Condition {
                condition_type: "Accepted".to_owned(),
                status: status_value.to_owned(),
                reason: reason.to_owned(),
                message,
                last_transition_time: Some(transition),
                observed_generation: monitor.metadata.generation,
            }],
            endpoint_count: Some(u32::try_from(monitor.spec.endpoints.len()).unwrap_or(u32::MAX)),
            stacks,
        };
        if status == previous {
            continue;
        }
        let api: Api<ServiceMonitor> = Api::namespaced(context.client.clone(), &namespace);
        let patch = status_apply::<ServiceMonitor, _>(&status);
        api.patch_status(&monitor.name_any(), &status_params(), &Patch::Apply(&patch)).await.map_err(|source| {
            ReconcileError::Status { object: format!("ServiceMonitor {namespace}/{}", monitor.name_any()), source }
        })?;
        context.metrics.writes.inc();
    }
    Ok(())
}

async fn cleanup(stack: &ObservabilityStack, context: &Context) -> Result<Action, ReconcileError> {
    let namespace = stack.namespace().ok_or(ReconcileError::NoNamespace)?;
    let writes = apply::delete_cluster_scoped(&context.client, &stack.name_any(), &namespace).await?;
    context.metrics.writes.inc_by(u64::from(writes));
    tracing::info!(writes, "cleaned up cluster-scoped objects");
    let stack_key = format!("{namespace}/{}", stack.name_any());
    if let Ok(mut caches) = context.render_caches.lock() {
        caches.remove(&stack_key);
    }
    if let Ok(mut written) = context.written_statuses.lock() {
        written.remove(&stack_key);
    }
    Ok(Action::await_change())
}

/// Settings of `stackscope run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Address of the metrics/health server; `None` serves nothing (tests).
    pub listen: Option<std::net::SocketAddr>,
    /// Leader election; `None` runs without (a single replica).
    pub lease: Option<leader::LeaseConfig>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Only reconcile stacks of this namespace (`None`: every namespace).
    pub namespace: Option<String>,
    /// Where the objects the stacks read (ServiceMonitors, Services, Secrets, workloads) are
    /// watched.
    pub scope: WatchScope,
}

/// Where the operator watches what its stacks read: in every namespace, or only in the stacks'
/// one namespace, so that namespace-scoped RBAC (a Role, no cluster-wide reads) suffices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WatchScope {
    /// ServiceMonitors, Services, Secrets and workloads of every namespace: a stack may select
    /// monitors anywhere.
    #[default]
    Cluster,
    /// Only those of `RunConfig::namespace`: its stacks see only monitors of that namespace.
    Namespace,
}

/// Errors that stop `stackscope run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(#[from] kube::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("http server: {0}")]
    Server(#[from] std::io::Error),
    #[error("the namespace scope needs a namespace to watch")]
    NoNamespace,
}

fn owned_watch() -> watcher::Config {
    watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER},{STACK_LABEL}"))
}

/// Drops watch errors from a trigger stream after logging and counting them. Each watch backs off
/// on its own errors (`default_backoff`) below this; an error that reached the controller would
/// also pause every other trigger, since kube's controller backs off its merged trigger stream as
/// one. After an API server restart every watch failed once, the pauses grew with each error, and
/// the operator saw no change for minutes (found by the fault test).
fn without_watch_errors<K, S>(
    kind: &str,
    metrics: &Metrics,
    changes: S,
) -> futures::stream::BoxStream<'static, Result<K, watcher::Error>>
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

/// A future that ends the operator when it completes.
pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + Sync>>;

/// Runs the operator with the default client until SIGINT/SIGTERM or the loss of leadership.
pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    run_with(client, Metrics::new()?, config, None).await
}

fn namespaced_or_all<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Runs the operator with a given client and metrics; `shutdown` (else a signal) stops it.
pub async fn run_with(
    client: Client,
    metrics: Metrics,
    config: RunConfig,
    shutdown: Option<Shutdown>,
) -> Result<(), RunError> {
    use std::sync::atomic::{AtomicBool, Ordering};

    // What the stacks read: everywhere, or only in the stacks' namespace.
    let read_namespace = match (config.scope, config.namespace.as_deref()) {
        (WatchScope::Cluster, _) => None,
        (WatchScope::Namespace, Some(namespace)) => Some(namespace.to_owned()),
        (WatchScope::Namespace, None) => return Err(RunError::NoNamespace),
    };
    let read_namespace = read_namespace.as_deref();
    let kubernetes_ready = Arc::new(AtomicBool::new(false));
    let leading = Arc::new(AtomicBool::new(config.lease.is_none()));
    let server = config.listen.map(|listen| {
        let state = server::ServerState {
            metrics: metrics.clone(),
            kubernetes_ready: kubernetes_ready.clone(),
            leading: leading.clone(),
        };
        tokio::spawn(server::serve(listen, state))
    });

    // The API server must answer before the replica reports ready.
    client.apiserver_version().await?;
    kubernetes_ready.store(true, Ordering::Relaxed);

    let elector = config.lease.clone().map(|lease| leader::LeaderElector::new(client.clone(), lease));
    if let Some(elector) = &elector {
        tracing::info!(identity = elector.identity(), "waiting for the leader lease");
        elector.wait_for_leadership().await;
        leading.store(true, Ordering::Relaxed);
        metrics.leader.set(1);
        tracing::info!(identity = elector.identity(), "leading");
    }

    // Monitors, Services and the owned objects: one watch each, which fills the cache the
    // reconciles read and triggers them, so a trigger never arrives before the cache has the
    // change. Reconciles wait until the caches hold their first full list.
    let (monitor_store, monitor_changes) =
        cached_watch::<ServiceMonitor>(&client, read_namespace, monitor_fingerprint, "ServiceMonitor", &metrics);
    let (service_store, service_changes) =
        cached_watch::<Service>(&client, read_namespace, service_fingerprint, "Service", &metrics);
    let namespace = config.namespace.as_deref();
    let own_writes = OwnWrites::default();
    let mut owned_stores = Vec::new();
    let mut owned_changes = Vec::new();
    for kind in kinds::owned_kinds() {
        let api: Api<DynamicObject> = match (kind.namespaced, namespace) {
            (true, Some(namespace)) => Api::namespaced_with(client.clone(), namespace, &kind.resource),
            _ => Api::all_with(client.clone(), &kind.resource),
        };
        let writer = reflector::store::Writer::new(kind.resource.clone());
        owned_stores.push((kind.clone(), writer.as_reader()));
        // The store sees every event; only those that are not echoes of the operator's own
        // writes trigger a reconcile.
        let (own_writes, echo_kind) = (own_writes.clone(), kind.clone());
        let changes =
            reflector(writer, watcher(api, owned_watch()).default_backoff()).touched_objects().filter(move |change| {
                let echo = change.as_ref().is_ok_and(|object| own_writes.is_echo(&echo_kind, object));
                futures::future::ready(!echo)
            });
        owned_changes.push((kind.clone(), without_watch_errors(&kind.resource.kind, &metrics, changes)));
    }
    let owned = OwnedCache::new(owned_stores, own_writes);

    let stacks: Api<ObservabilityStack> = namespaced_or_all(&client, namespace);
    let (stack_store, stack_writer) = reflector::store();
    let stack_changes = without_watch_errors(
        "ObservabilityStack",
        &metrics,
        reflector(stack_writer, watcher(stacks, watcher::Config::default()).default_backoff())
            .applied_objects()
            .predicate_filter(stack_fingerprint, PredicateConfig::default()),
    );
    let controller = Controller::for_stream(stack_changes, stack_store.clone());
    let (foreign_trigger, foreign_changes) = futures::channel::mpsc::unbounded();
    let foreign = foreign::ForeignMonitors::new(
        client.clone(),
        read_namespace.map(str::to_owned),
        stack_store.clone(),
        foreign_trigger,
    );

    let reporter = Reporter {
        controller: MANAGER.to_owned(),
        instance: config.lease.as_ref().map(|lease| lease.identity.clone()),
    };
    let context = Arc::new(Context {
        client: client.clone(),
        metrics: metrics.clone(),
        monitors: monitor_store.clone(),
        services: service_store,
        validator: SchemaValidator::new(),
        recorder: Recorder::new(client.clone(), reporter),
        foreign: foreign.clone(),
        owned,
        checked: dereference::StaticProblems::default(),
        render_caches: RenderCaches::default(),
        written_statuses: WrittenStatuses::default(),
    });
    let mappers = Mappers {
        stacks: stack_store.clone(),
        monitors: monitor_store.clone(),
        foreign: foreign.clone(),
        validator: Arc::new(SchemaValidator::new()),
    };
    let (for_monitors, for_services, for_secrets) = (mappers.clone(), mappers.clone(), mappers.clone());
    let (for_deployments, for_statefulsets, for_daemonsets) = (mappers.clone(), mappers.clone(), mappers.clone());
    let mut controller = controller;
    for (kind, changes) in owned_changes {
        controller = if kind.namespaced {
            controller.owns_stream_with(changes, kind.resource.clone())
        } else {
            // Cluster-scoped objects carry no owner reference: found by their name prefix.
            let for_cluster_objects = mappers.clone();
            controller.watches_stream_with(
                changes,
                move |object: DynamicObject| for_cluster_objects.stacks_owning_cluster_object(&object.name_any()),
                kind.resource.clone(),
            )
        };
    }
    let controller = controller
        .watches_stream(monitor_changes, move |monitor| for_monitors.stacks_selecting(&monitor))
        .watches_stream(service_changes, move |service| for_services.stacks_monitoring_service(&service))
        // Only names matter here: metadata-only watches keep Secret values out of memory.
        .watches_stream(
            without_watch_errors("Secret", &metrics, metadata_changes::<Secret>(&client, read_namespace, false)),
            move |secret| for_secrets.stacks_reading_secret(&secret),
        )
        // Probe drift of the monitored workloads: a spec change bumps the generation; status
        // updates (every rollout step) do not, and are filtered out.
        .watches_stream(
            without_watch_errors("Deployment", &metrics, metadata_changes::<Deployment>(&client, read_namespace, true)),
            move |workload| for_deployments.stacks_probing_namespace(workload.namespace().as_deref()),
        )
        .watches_stream(
            without_watch_errors(
                "StatefulSet",
                &metrics,
                metadata_changes::<StatefulSet>(&client, read_namespace, true),
            ),
            move |workload| for_statefulsets.stacks_probing_namespace(workload.namespace().as_deref()),
        )
        .watches_stream(
            without_watch_errors("DaemonSet", &metrics, metadata_changes::<DaemonSet>(&client, read_namespace, true)),
            move |workload| for_daemonsets.stacks_probing_namespace(workload.namespace().as_deref()),
        )
        // Changes of prometheus-operator's monitors, mapped to the stacks that select them.
        .reconcile_on(foreign_changes)
        .with_config(kube::runtime::controller::Config::default().concurrency(config.concurrency));
    let controller = match shutdown {
        Some(shutdown) => controller.graceful_shutdown_on(shutdown),
        None => controller.shutdown_on_signal(),
    };
    let controller = controller.run(reconcile, error_policy, context).for_each(|result| {
        if let Err(error) = result {
            tracing::debug!(error = %error, "controller event");
        }
        futures::future::ready(())
    });

    match &elector {
        Some(elector) => {
            tokio::select! {
                () = controller => {}
                () = elector.hold() => {
                    tracing::error!("leader lease lost: stopping so that another replica can lead");
                }
            }
            leading.store(false, Ordering::Relaxed);
            metrics.leader.set(0);
            if let Err(error) = elector.release().await {
                tracing::warn!(error = %error, "cannot release the leader lease");
            }
        }
        None => controller.await,
    }
    foreign.stop();
    if let Some(server) = server {
        server.abort();
    }
    Ok(())
}

/// The objects whose fingerprint (what the stacks depend on) changed, or that were deleted. The
/// first full list passes nothing: it fills the caches before the first reconciles, which every
/// stack gets anyway. So at start 10k Services are not mapped to stacks one by one, and a status
/// write (stackscope's own, one per monitor) does not cause another reconcile.
/// A cached watch of a kind the reconciles read (of one namespace, if given): its store, and the
/// changes that matter to a render (`fingerprint`), which trigger reconciles once the store holds
/// them.
fn cached_watch<K>(
    client: &Client,
    namespace: Option<&str>,
    fingerprint: fn(&K) -> u64,
    kind: &str,
    metrics: &Metrics,
) -> (Store<K>, futures::stream::BoxStream<'static, Result<K, watcher::Error>>)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let events = reflector(
        writer,
        watcher(namespaced_or_all::<K>(client, namespace), watcher::Config::default()).default_backoff(),
    );
    (store, without_watch_errors(kind, metrics, relevant_changes(events, fingerprint)))
}

fn relevant_changes<K>(
    events: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    fingerprint: fn(&K) -> u64,
) -> futures::stream::BoxStream<'static, Result<K, watcher::Error>>
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
fn monitor_fingerprint(monitor: &ServiceMonitor) -> u64 {
    let mut hasher = DefaultHasher::new();
    monitor.metadata.generation.hash(&mut hasher);
    monitor.metadata.labels.hash(&mut hasher);
    hasher.finish()
}

/// What of a stack calls for a reconcile: everything but its status, which the operator writes
/// itself (a trigger on it doubled the reconciles of every change). Annotations count, so that a
/// touch of the stack still reconciles it; deletion and finalizers for the cleanup.
fn stack_fingerprint(stack: &ObservabilityStack) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    stack.metadata.generation.hash(&mut hasher);
    stack.metadata.labels.hash(&mut hasher);
    stack.metadata.annotations.hash(&mut hasher);
    stack.metadata.deletion_timestamp.as_ref().map(|time| time.0.to_string()).hash(&mut hasher);
    stack.metadata.finalizers.hash(&mut hasher);
    Some(hasher.finish())
}

/// What a render reads of a Service: labels and spec (ports, selector), not its status.
fn service_fingerprint(service: &Service) -> u64 {
    let mut hasher = DefaultHasher::new();
    service.metadata.labels.hash(&mut hasher);
    serde_json::to_string(&service.spec).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

/// Metadata-only changes of every object of a kind (of one namespace, if given), with backoff;
/// with `spec_only`, only changes that bump the generation (spec edits) pass.
fn metadata_changes<K>(
    client: &Client,
    namespace: Option<&str>,
    spec_only: bool,
) -> futures::stream::BoxStream<'static, Result<PartialObjectMeta<K>, watcher::Error>>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
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

/// Maps changes of other objects to the stacks they concern, from the caches of stacks and
/// monitors.
#[derive(Clone)]
struct Mappers {
    stacks: Store<ObservabilityStack>,
    monitors: Store<ServiceMonitor>,
    foreign: foreign::ForeignMonitors,
    validator: Arc<SchemaValidator>,
}

impl Mappers {
    fn refs(stacks: impl Iterator<Item = Arc<ObservabilityStack>>) -> Vec<ObjectRef<ObservabilityStack>> {
        stacks.map(|stack| ObjectRef::from_obj(&*stack)).collect()
    }

    /// Every cached monitor: stackscope's, and prometheus-operator's converted ones (empty until
    /// a stack selects them). Used only to find the stacks a Service or Secret change concerns,
    /// so a monitor stackscope would refuse simply concerns none.
    fn all_monitors(&self) -> Vec<Arc<ServiceMonitor>> {
        let mut monitors = self.monitors.state();
        monitors.extend(
            self.foreign
                .converted()
                .iter()
                .filter_map(|monitor| crate::import::check(&self.validator, &monitor.conversion).ok())
                .map(Arc::new),
        );
        monitors
    }

    /// Stacks that select a monitor.
    fn stacks_selecting(&self, monitor: &ServiceMonitor) -> Vec<ObjectRef<ObservabilityStack>> {
        Self::refs(self.stacks.state().into_iter().filter(|stack| stack_selects(stack, monitor)))
    }

    /// Stacks with a monitor that selects the Service.
    fn stacks_monitoring_service(&self, service: &Service) -> Vec<ObjectRef<ObservabilityStack>> {
        let monitors = self.all_monitors();
        let watching: Vec<&Arc<ServiceMonitor>> =
            monitors.iter().filter(|monitor| monitor_selects_service(monitor, service)).collect();
        Self::refs(
            self.stacks
                .state()
                .into_iter()
                .filter(|stack| watching.iter().any(|monitor| stack_selects(stack, monitor))),
        )
    }

    /// Stacks with a monitor whose Services may be in the namespace (probes of its workloads).
    fn stacks_probing_namespace(&self, namespace: Option<&str>) -> Vec<ObjectRef<ObservabilityStack>> {
        let Some(namespace) = namespace else { return Vec::new() };
        let monitors = self.all_monitors();
        let probing: Vec<&Arc<ServiceMonitor>> = monitors
            .iter()
            .filter(|monitor| {
                service_namespaces(&monitor.spec, monitor.namespace().as_deref().unwrap_or_default())
                    .is_none_or(|names| names.iter().any(|name| name == namespace))
            })
            .collect();
        Self::refs(
            self.stacks.state().into_iter().filter(|stack| probing.iter().any(|monitor| stack_selects(stack, monitor))),
        )
    }

    /// Stacks whose cluster-scoped objects carry this name prefix.
    fn stacks_owning_cluster_object(&self, name: &str) -> Vec<ObjectRef<ObservabilityStack>> {
        Self::refs(self.stacks.state().into_iter().filter(|stack| {
            name.starts_with(&cluster_scoped_prefix(&stack.namespace().unwrap_or_default(), &stack.name_any()))
        }))
    }

    /// Stacks that read a Secret through a monitor they select.
    fn stacks_reading_secret(&self, secret: &PartialObjectMeta<Secret>) -> Vec<ObjectRef<ObservabilityStack>> {
        let namespace = secret.namespace().unwrap_or_default();
        let name = secret.name_any();
        let monitors = self.all_monitors();
        let reading: Vec<&Arc<ServiceMonitor>> = monitors
            .iter()
            .filter(|monitor| {
                monitor.namespace().as_deref() == Some(namespace.as_str())
                    && dereference::secret_references(monitor).iter().any(|(_, reference)| reference.name == name)
            })
            .collect();
        Self::refs(
            self.stacks.state().into_iter().filter(|stack| reading.iter().any(|monitor| stack_selects(stack, monitor))),
        )
    }
}
