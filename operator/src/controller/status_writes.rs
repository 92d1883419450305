//! Status writes: the stack's status and each selected monitor's `Accepted` condition, each
//! written with server-side apply and only when it changed.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};

use super::context::StackKey;
use super::error::ReconcileError;
use super::metrics::Metrics;
use crate::api::{
    Condition, ObservabilityStack, ObservabilityStackStatus, RejectedMonitor, ServiceMonitor, ServiceMonitorSpec,
    ServiceMonitorStatus,
};
use crate::render::common::MANAGER;
use crate::resolve::stack_selects;

/// Now, to the second, as status times are written.
pub(crate) fn now() -> String {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH).to_string()
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

/// Writes the stack's status unless it equals the previous one.
pub async fn stack(
    client: &Client,
    metrics: &Metrics,
    stack: &ObservabilityStack,
    previous: Option<&ObservabilityStackStatus>,
    status: &ObservabilityStackStatus,
) -> Result<(), ReconcileError> {
    if previous == Some(status) {
        return Ok(());
    }
    let namespace = stack.namespace().unwrap_or_default();
    let api: Api<ObservabilityStack> = Api::namespaced(client.clone(), &namespace);
    let patch = status_apply::<ObservabilityStack, _>(status);
    api.patch_status(&stack.name_any(), &status_params(), &Patch::Apply(&patch)).await.map_err(|source| {
        ReconcileError::Status { object: format!("ObservabilityStack {namespace}/{}", stack.name_any()), source }
    })?;
    metrics.writes.inc();
    Ok(())
}

/// A monitor's status after this reconcile of the stack; `None` when it would not change.
/// prometheus-operator's monitors (rejections with an API version) have a status of their own
/// that stackscope never writes.
pub(crate) fn monitor_status(
    monitor: &ServiceMonitor,
    rejected: &[RejectedMonitor],
    stack_key: &StackKey,
    now: &str,
) -> Option<ServiceMonitorStatus> {
    let namespace = monitor.namespace().unwrap_or_default();
    let problem =
        rejected.iter().find(|r| r.api_version.is_none() && r.namespace == namespace && r.name == monitor.name_any());
    let previous = monitor.status.clone().unwrap_or_default();
    let (status_value, reason, message) = match problem {
        Some(problem) => ("False", "Invalid", format!("{}: {}", problem.field, problem.reason)),
        None => ("True", "Accepted", accepted_message(&monitor.spec, stack_key)),
    };
    let transition = previous
        .conditions
        .iter()
        .find(|c| c.condition_type == "Accepted" && c.status == status_value)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    let mut stacks = previous.stacks.clone();
    if !stacks.iter().any(|stack| stack == stack_key.as_str()) {
        stacks.push(stack_key.to_string());
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
    (status != previous).then_some(status)
}

/// The message of an accepted monitor: the stack rendering it, that it has no endpoints (and so
/// no scrape job), and the fields it sets that have no effect in stackscope.
fn accepted_message(spec: &ServiceMonitorSpec, stack_key: &StackKey) -> String {
    let mut message = format!("rendered by {stack_key}");
    if spec.endpoints.is_empty() {
        message.push_str("; no endpoints, so no scrape job");
    }
    let without_effect = spec.without_effect();
    if !without_effect.is_empty() {
        let fields: Vec<String> = without_effect.iter().map(ToString::to_string).collect();
        message.push_str(&format!("; accepted without effect: {}", fields.join(", ")));
    }
    message
}

/// Sets each selected monitor's `Accepted` condition, writing only what changed.
pub(crate) async fn monitors(
    client: &Client,
    metrics: &Metrics,
    stack: &ObservabilityStack,
    stack_key: &StackKey,
    monitors: &[Arc<ServiceMonitor>],
    rejected: &[RejectedMonitor],
) -> Result<(), ReconcileError> {
    let now = now();
    for monitor in monitors.iter().filter(|monitor| stack_selects(stack, monitor)) {
        let Some(status) = monitor_status(monitor, rejected, stack_key, &now) else { continue };
        let namespace = monitor.namespace().unwrap_or_default();
        let api: Api<ServiceMonitor> = Api::namespaced(client.clone(), &namespace);
        let patch = status_apply::<ServiceMonitor, _>(&status);
        api.patch_status(&monitor.name_any(), &status_params(), &Patch::Apply(&patch)).await.map_err(|source| {
            ReconcileError::Status { object: format!("ServiceMonitor {namespace}/{}", monitor.name_any()), source }
        })?;
        metrics.writes.inc();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObservabilityStackSpec;

    fn key() -> StackKey {
        let mut stack = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("apps".to_owned());
        StackKey::of(&stack).unwrap()
    }

    fn monitor() -> ServiceMonitor {
        let mut monitor = ServiceMonitor::new(
            "api",
            serde_json::from_value(serde_json::json!({"selector": {}, "endpoints": [{"port": "http"}]}))
                .expect("a valid spec"),
        );
        monitor.metadata.namespace = Some("apps".to_owned());
        monitor.metadata.generation = Some(2);
        monitor
    }

    #[test]
    fn an_accepted_monitor_is_written_once_then_left_alone() {
        let mut monitor = monitor();
        let status = monitor_status(&monitor, &[], &key(), "t1").expect("the first status is written");
        assert_eq!(status.conditions[0].status, "True");
        assert_eq!(status.conditions[0].message, "rendered by apps/shop");
        assert_eq!(status.stacks, ["apps/shop"]);
        assert_eq!(status.observed_generation, Some(2));
        monitor.status = Some(status);
        assert_eq!(monitor_status(&monitor, &[], &key(), "t2"), None, "unchanged: no write");
    }

    #[test]
    fn a_rejection_flips_the_condition_with_a_new_transition_time() {
        let mut monitor = monitor();
        monitor.status = monitor_status(&monitor, &[], &key(), "t1");
        let rejected = RejectedMonitor {
            namespace: "apps".to_owned(),
            name: "api".to_owned(),
            field: "spec.endpoints[0].port".to_owned(),
            reason: "no such port".to_owned(),
            api_version: None,
        };
        let status = monitor_status(&monitor, std::slice::from_ref(&rejected), &key(), "t2").expect("changed");
        let condition = &status.conditions[0];
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_str(), condition.message.as_str()),
            ("False", "Invalid", "spec.endpoints[0].port: no such port")
        );
        assert_eq!(condition.last_transition_time.as_deref(), Some("t2"));
        // A rejection of prometheus-operator's monitor of the same name is not this monitor's.
        let foreign = RejectedMonitor { api_version: Some("monitoring.coreos.com/v1".to_owned()), ..rejected };
        assert_eq!(monitor_status(&monitor, &[foreign], &key(), "t3"), None);
    }

    #[test]
    fn fields_without_effect_and_a_missing_endpoint_list_are_in_the_message() {
        let mut monitor = monitor();
        monitor.spec = serde_json::from_value(serde_json::json!({
            "selector": {}, "endpoints": [],
            "scrapeClass": "istio-mtls", "selectorMechanism": "RoleSelector", "serviceDiscoveryRole": "Endpoints"
        }))
        .expect("a valid spec");
        let status = monitor_status(&monitor, &[], &key(), "t1").expect("written");
        assert_eq!(status.conditions[0].reason, "Accepted");
        assert_eq!(status.endpoint_count, Some(0));
        assert_eq!(
            status.conditions[0].message,
            "rendered by apps/shop; no endpoints, so no scrape job; accepted without effect: spec.scrapeClass \
             (scrape classes belong to prometheus-operator's Prometheus resource; stackscope has none), \
             spec.selectorMechanism (stackscope selects the Services by relabeling, which keeps the same targets), \
             spec.serviceDiscoveryRole (stackscope discovers the same targets through EndpointSlices)"
        );
        monitor.spec = serde_json::from_value(serde_json::json!({
            "selector": {}, "selectorMechanism": "RelabelConfig", "serviceDiscoveryRole": "EndpointSlice",
            "endpoints": [{"port": "http", "honorTimestamps": false, "trackTimestampsStaleness": true}]
        }))
        .expect("a valid spec");
        let status = monitor_status(&monitor, &[], &key(), "t1").expect("written");
        assert_eq!(
            status.conditions[0].message,
            "rendered by apps/shop; accepted without effect: spec.endpoints[0].trackTimestampsStaleness (Prometheus \
             tracks the staleness of exposed timestamps only with honorTimestamps)"
        );
    }
}
