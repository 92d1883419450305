//! The reconcile of one stack, a pipeline of typed stages:
//!
//! ```text
//! dereference (select and check monitors) → validate (the stack) → render (pure, cached)
//!   → apply (server-side apply, drift, prune) → workloads (readiness) → probes → status, events
//! ```
//!
//! A stack whose workloads do not all run yet comes back after a short delay
//! ([`workloads::NOT_READY_RECHECK`], doubling while its status stays the same) rather than the
//! resync: pods are not watched, and a pod that fails without its workload's status changing is
//! seen that way.
//!
//! A failure in any stage after dereference leaves the objects of the last good render in place
//! and is said in status; the error then decides when the stack is tried again ([`Retry`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Api, Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::apply::{self, Declared, Live};
use super::context::{Context, RenderCaches, StackKey};
use super::dereference::{self, ForeignMonitor, Selection, ServiceIndex};
use super::error::{ReconcileError, Retry};
use super::foreign::Snapshot;
use super::status::{self, Outcome};
use super::workloads::{self, Workload};
use super::{events, probes, status_writes, validate};
use crate::api::{ObservabilityStack, ObservabilityStackStatus};
use crate::render::{RenderedObject, render_stack};
use crate::resolve::ResolvedStack;
use crate::schema::SchemaValidator;

/// Finalizer that removes the stack's cluster-scoped objects, which owner references cannot.
pub(crate) const FINALIZER: &str = "stackscope.dev/cleanup";
/// How often a stack is re-checked for drift even when no watch event arrives.
pub(crate) const RESYNC: Duration = Duration::from_secs(300);

/// Reconciles one stack through the finalizer helper, in a span carrying a fresh trace id.
pub(crate) async fn reconcile(stack: Arc<ObservabilityStack>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    use tracing::Instrument;
    let key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
    let span = tracing::info_span!("reconcile", trace_id = %crate::telemetry::new_trace_id(), stack = %key);
    reconcile_stack(stack, context).instrument(span).await
}

async fn reconcile_stack(stack: Arc<ObservabilityStack>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let key = StackKey::of(&stack)?;
    let namespace = stack.namespace().unwrap_or_default();
    let api: Api<ObservabilityStack> = Api::namespaced(context.client.clone(), &namespace);
    let started = Instant::now();
    let result = finalizer(&api, FINALIZER, stack, |event| async {
        match event {
            FinalizerEvent::Apply(stack) => apply_stack(&stack, &key, &context).await,
            FinalizerEvent::Cleanup(stack) => cleanup(&stack, &key, &context).await,
        }
    })
    .await
    .map_err(ReconcileError::from);
    let elapsed = started.elapsed();
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(_) => {
            context.backoffs.reset(key.as_str());
            tracing::debug!(duration_ms, "reconciled");
        }
        Err(error) => tracing::warn!(duration_ms, error = %error, reason = error.reason(), "reconcile failed"),
    }
    let outcome = if result.is_ok() { "success" } else { "error" };
    context.metrics.reconciles.with_label_values(&[outcome]).inc();
    context.metrics.reconcile_duration.with_label_values(&[outcome]).observe(elapsed.as_secs_f64());
    result
}

/// When a failed reconcile runs again: input that cannot render waits for a change, a failing
/// API backs off per stack. The error is already in status and in the logs, with its trace id.
pub(crate) fn error_policy(stack: Arc<ObservabilityStack>, error: &ReconcileError, context: Arc<Context>) -> Action {
    context.metrics.errors.with_label_values(&[error.reason()]).inc();
    match error.retry() {
        Retry::AfterChange => Action::await_change(),
        Retry::Backoff => {
            let key = format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any());
            Action::requeue(context.backoffs.next_delay(&key))
        }
    }
}

/// One pass of the pipeline over a stack.
async fn apply_stack(stack: &ObservabilityStack, key: &StackKey, context: &Context) -> Result<Action, ReconcileError> {
    let previous = context.written_statuses.previous(key, stack);
    let mut outcome = Outcome { generation: stack.metadata.generation, ..Outcome::default() };
    context.caches_ready().await;
    let monitors = context.monitors.state();
    let services = context.services.state();
    // One index of the Services for the whole reconcile: ports and probes both look them up.
    let services = ServiceIndex::new(&services);
    let foreign = foreign_monitors(stack, context, &mut outcome).await;
    let selection = dereference::select(
        &context.client,
        &context.validator,
        &context.checked,
        stack,
        &monitors,
        &foreign,
        &services,
    )
    .await?;
    outcome.accepted = selection.accepted_refs();
    outcome.rejected = selection.rejected.clone();

    let result = render_and_apply(stack, key, &selection, &services, previous.as_ref(), context, &mut outcome).await;
    if let Err(error) = &result {
        outcome.failure = Some(error.to_string());
        // The last good render stays applied; status must not claim the new one.
        outcome.rendered = Vec::new();
        outcome.workloads = Vec::new();
    }
    context.metrics.rejected_monitors.set(i64::try_from(outcome.rejected.len()).unwrap_or(i64::MAX));

    let status = status::build(&outcome, previous.as_ref(), &status_writes::now());
    let status_changed = previous.as_ref() != Some(&status);
    events::publish(&context.recorder, events::new_events(&stack.object_ref(&()), key, previous.as_ref(), &status))
        .await;
    status_writes::stack(&context.client, &context.metrics, stack, previous.as_ref(), &status).await?;
    context.written_statuses.remember(key, stack, status);
    status_writes::monitors(&context.client, &context.metrics, stack, key, &monitors, &outcome.rejected).await?;
    result.map(|()| Action::requeue(next_look(&outcome, status_changed, key, context)))
}

/// When a reconciled stack is looked at again: at the resync once it runs; while its workloads do
/// not, after [`workloads::NOT_READY_RECHECK`], doubling up to the resync while its status stays
/// the same.
fn next_look(outcome: &Outcome, status_changed: bool, key: &StackKey, context: &Context) -> Duration {
    if outcome.running() || status_changed {
        context.rechecks.reset(key.as_str());
    }
    if outcome.running() { RESYNC } else { context.rechecks.next_delay(key.as_str()) }
}

/// Validate → render → apply → workloads → probes, each stage's outcome recorded for the status.
#[allow(clippy::too_many_arguments)] // the stack, what was selected for it, and what it is compared with
async fn render_and_apply(
    stack: &ObservabilityStack,
    key: &StackKey,
    selection: &Selection,
    services: &ServiceIndex<'_>,
    previous: Option<&ObservabilityStackStatus>,
    context: &Context,
    outcome: &mut Outcome,
) -> Result<(), ReconcileError> {
    let (resolved, rendered) =
        validate_and_render(&context.validator, stack, selection, Some((&context.render_caches, key)))?;
    outcome.rendered = Outcome::rendered_from(&rendered);
    outcome.unfireable = crate::sources::unfireable_rules(&resolved).unwrap_or_else(|error| {
        // The check reads what the render already produced; failing, it must not stop the apply.
        tracing::warn!(error = %error, "rule-source check failed");
        Vec::new()
    });
    let workloads = apply_rendered(stack, rendered, previous, context, outcome).await?;
    outcome.workloads = workloads::check(&context.client, &context.owned, &workloads, Timestamp::now()).await;
    let expectations = crate::render::probes::expected_probes(&resolved);
    let checked = probes::check(&context.client, services, &expectations, resolved.spec.probes.policy).await?;
    context.metrics.writes.inc_by(u64::from(checked.writes));
    outcome.probe_findings = checked.findings;
    Ok(())
}

/// prometheus-operator's monitors, when the stack selects them; why there are none otherwise.
async fn foreign_monitors(stack: &ObservabilityStack, context: &Context, outcome: &mut Outcome) -> Vec<ForeignMonitor> {
    if !stack.spec.prometheus_operator_monitors.enabled {
        return Vec::new();
    }
    match context.foreign.snapshot().await {
        Snapshot::Available(monitors) => monitors,
        Snapshot::Unavailable(reason) => {
            outcome.foreign_unavailable = Some(reason);
            Vec::new()
        }
    }
}

/// The validate and render stages: the stack checked, then rendered with the accepted monitors
/// (through the stack's render cache when one is given). The reconcile and `stackscope drift`
/// share them.
pub(crate) fn validate_and_render(
    validator: &SchemaValidator,
    stack: &ObservabilityStack,
    selection: &Selection,
    cache: Option<(&RenderCaches, &StackKey)>,
) -> Result<(ResolvedStack, Vec<RenderedObject>), ReconcileError> {
    validate::stack(validator, stack)?;
    let resolved = ResolvedStack::new(stack, &selection.accepted);
    let rendered = match cache {
        Some((caches, key)) => caches.render(key, &resolved)?,
        None => render_stack(&resolved)?,
    };
    Ok((resolved, rendered))
}

/// Hash of a whole render: equal hashes mean every object was declared the same.
pub(crate) fn render_hash(declared: &[Declared]) -> String {
    let mut hasher = Sha256::new();
    for item in declared {
        hasher.update(item.key().as_bytes());
        hasher.update(item.hash.as_bytes());
    }
    hasher.finalize().iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// The apply stage: declare, apply (drift under the stack's policy), prune. Returns the
/// workloads applied, whose readiness the next stage reads.
async fn apply_rendered(
    stack: &ObservabilityStack,
    rendered: Vec<RenderedObject>,
    previous: Option<&ObservabilityStackStatus>,
    context: &Context,
    outcome: &mut Outcome,
) -> Result<Vec<Workload>, ReconcileError> {
    let declared = apply::declare(stack, rendered)?;
    let workloads = Workload::among(&declared, |key| {
        outcome.rendered.iter().find(|(_, rendered)| rendered == key).map(|(component, _)| *component)
    });
    let hash = render_hash(&declared);
    let previously_applied = previous.and_then(|status| status.last_applied_hash.as_deref()) == Some(hash.as_str());
    let live = Live::Cache(&context.owned);
    let namespace = stack.namespace().unwrap_or_default();
    let mut report =
        apply::apply(&context.client, live, &declared, stack.spec.drift_policy, previously_applied).await?;
    apply::prune(&context.client, live, &stack.name_any(), &namespace, &declared, &mut report).await?;
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
    Ok(workloads)
}

/// A deleted stack: its cluster-scoped objects removed (owner references remove the rest), and
/// everything kept for it forgotten.
async fn cleanup(stack: &ObservabilityStack, key: &StackKey, context: &Context) -> Result<Action, ReconcileError> {
    let namespace = stack.namespace().ok_or(ReconcileError::NoNamespace)?;
    let writes = apply::delete_cluster_scoped(&context.client, &stack.name_any(), &namespace).await?;
    context.metrics.writes.inc_by(u64::from(writes));
    tracing::info!(writes, "cleaned up cluster-scoped objects");
    context.forget(key);
    Ok(Action::await_change())
}
