//! Events for what is new since the last status: drift found, monitors rejected, workloads that
//! start failing. Which events
//! to send is decided purely ([`new_events`]); publishing them is the only I/O here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

use super::context::StackKey;
use super::kinds;
use crate::api::{DriftEntry, ObservabilityStackStatus, RejectedMonitor, ServiceMonitor};

/// Longest event note, in characters (the API server refuses notes over 1 kB).
const MAX_NOTE_CHARS: usize = 1000;

fn truncate(text: &str) -> String {
    text.chars().take(MAX_NOTE_CHARS).collect()
}

/// The events a new status calls for, each with the object it is about.
pub(crate) fn new_events(
    stack: &ObjectReference,
    stack_key: &StackKey,
    previous: Option<&ObservabilityStackStatus>,
    current: &ObservabilityStackStatus,
) -> Vec<(Event, ObjectReference)> {
    let mut events = drift_events(stack, previous, current);
    events.extend(rejection_events(stack, stack_key, previous, current));
    events.extend(failing_workload_events(stack, previous, current));
    events
}

/// One event per workload that fails now and did not before (a pod that cannot start, a
/// controller that gave up), related to the workload.
fn failing_workload_events(
    stack: &ObjectReference,
    previous: Option<&ObservabilityStackStatus>,
    current: &ObservabilityStackStatus,
) -> Vec<(Event, ObjectReference)> {
    let failing = |status: &ObservabilityStackStatus, component: &str, workload: &str| {
        status
            .components
            .iter()
            .filter(|c| c.name == component)
            .flat_map(|c| c.workloads.iter())
            .any(|w| w.name == workload && w.failing)
    };
    let namespace = stack.namespace.clone().unwrap_or_default();
    current
        .components
        .iter()
        .flat_map(|component| component.workloads.iter().map(move |workload| (component, workload)))
        .filter(|(component, workload)| {
            workload.failing && !previous.is_some_and(|previous| failing(previous, &component.name, &workload.name))
        })
        .map(|(component, workload)| {
            let (kind, name) = workload.name.split_once('/').unwrap_or((workload.name.as_str(), ""));
            let event = Event {
                type_: EventType::Warning,
                reason: "WorkloadFailing".to_owned(),
                note: Some(truncate(&format!(
                    "{}: {}: {}: {}",
                    component.name, workload.name, workload.reason, workload.message
                ))),
                action: "CheckReadiness".to_owned(),
                secondary: kinds::reference_of(&format!("{kind}/{namespace}/{name}")),
            };
            (event, stack.clone())
        })
        .collect()
}

/// One event per object with new drift. The event recorder folds events that share their reason
/// and related object into one series, so the drifted object is the related one.
fn drift_events(
    stack: &ObjectReference,
    previous: Option<&ObservabilityStackStatus>,
    current: &ObservabilityStackStatus,
) -> Vec<(Event, ObjectReference)> {
    let known: Vec<(&str, &str)> =
        previous.map(|s| s.drift.iter().map(|d| (d.object.as_str(), d.path.as_str())).collect()).unwrap_or_default();
    let mut new_drift: BTreeMap<&str, Vec<&DriftEntry>> = BTreeMap::new();
    for entry in current.drift.iter().filter(|e| !known.contains(&(e.object.as_str(), e.path.as_str()))) {
        new_drift.entry(entry.object.as_str()).or_default().push(entry);
    }
    new_drift
        .into_iter()
        .map(|(object, entries)| {
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
            let event = Event {
                type_: EventType::Warning,
                reason: "Drifted".to_owned(),
                note: Some(truncate(&format!("{object}: {}", fields.join("; ")))),
                action: "DetectDrift".to_owned(),
                secondary: kinds::reference_of(object),
            };
            (event, stack.clone())
        })
        .collect()
}

/// For each newly rejected monitor: one event on the stack, related to the monitor, and one on
/// the monitor itself.
fn rejection_events(
    stack: &ObjectReference,
    stack_key: &StackKey,
    previous: Option<&ObservabilityStackStatus>,
    current: &ObservabilityStackStatus,
) -> Vec<(Event, ObjectReference)> {
    let known: Vec<&RejectedMonitor> = previous.map(|s| s.rejected_monitors.iter().collect()).unwrap_or_default();
    let mut events = Vec::new();
    for rejected in current.rejected_monitors.iter().filter(|rejected| !known.contains(rejected)) {
        let monitor = ObjectReference {
            api_version: Some(
                rejected.api_version.clone().unwrap_or_else(|| ServiceMonitor::api_version(&()).into_owned()),
            ),
            kind: Some(ServiceMonitor::kind(&()).into_owned()),
            namespace: Some(rejected.namespace.clone()),
            name: Some(rejected.name.clone()),
            ..ObjectReference::default()
        };
        let on_stack = Event {
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
        let on_monitor = Event {
            type_: EventType::Warning,
            reason: "Rejected".to_owned(),
            note: Some(truncate(&format!("{}: {} (ObservabilityStack {stack_key})", rejected.field, rejected.reason))),
            action: "Validate".to_owned(),
            secondary: Some(stack.clone()),
        };
        events.push((on_stack, stack.clone()));
        events.push((on_monitor, monitor));
    }
    events
}

/// Publishes events; one that cannot be published is logged, never fails the reconcile.
pub(crate) async fn publish(recorder: &Recorder, events: Vec<(Event, ObjectReference)>) {
    for (event, regarding) in events {
        if let Err(error) = recorder.publish(&event, &regarding).await {
            tracing::warn!(error = %error, "cannot publish event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ComponentStatus, ObservabilityStack, ObservabilityStackSpec, WorkloadStatus};

    fn stack() -> (ObjectReference, StackKey) {
        let mut stack = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("apps".to_owned());
        (stack.object_ref(&()), StackKey::of(&stack).unwrap())
    }

    fn drift(object: &str, path: &str) -> DriftEntry {
        DriftEntry {
            object: object.to_owned(),
            path: path.to_owned(),
            expected: "1".to_owned(),
            actual: "2".to_owned(),
            since: "2026-12-05T00:00:00Z".to_owned(),
            corrected: true,
        }
    }

    fn rejected(name: &str) -> RejectedMonitor {
        RejectedMonitor {
            namespace: "apps".to_owned(),
            name: name.to_owned(),
            field: "spec.endpoints[0].port".to_owned(),
            reason: "no such port".to_owned(),
            api_version: None,
        }
    }

    #[test]
    fn only_new_drift_is_announced_once_per_object() {
        let (reference, key) = stack();
        let previous =
            ObservabilityStackStatus { drift: vec![drift("ConfigMap/apps/shop-loki", "data")], ..Default::default() };
        let current = ObservabilityStackStatus {
            drift: vec![
                drift("ConfigMap/apps/shop-loki", "data"),
                drift("Deployment/apps/shop-grafana", "spec.replicas"),
                drift("Deployment/apps/shop-grafana", "spec.template.spec.containers[0].image"),
            ],
            ..Default::default()
        };
        let events = new_events(&reference, &key, Some(&previous), &current);
        assert_eq!(events.len(), 1, "one event for the one object with new drift");
        let (event, regarding) = &events[0];
        assert_eq!(event.reason, "Drifted");
        assert_eq!(
            event.note.as_deref(),
            Some(
                "Deployment/apps/shop-grafana: spec.replicas: expected 1, found 2 (corrected); \
                 spec.template.spec.containers[0].image: expected 1, found 2 (corrected)"
            )
        );
        assert_eq!(event.secondary.as_ref().and_then(|s| s.name.as_deref()), Some("shop-grafana"));
        assert_eq!(regarding, &reference);
        assert!(new_events(&reference, &key, Some(&current), &current).is_empty(), "nothing new, nothing sent");
    }

    #[test]
    fn a_new_rejection_is_told_on_the_stack_and_on_the_monitor() {
        let (reference, key) = stack();
        let current = ObservabilityStackStatus { rejected_monitors: vec![rejected("api")], ..Default::default() };
        let events = new_events(&reference, &key, None, &current);
        let summary: Vec<(&str, Option<&str>, Option<&str>)> = events
            .iter()
            .map(|(event, regarding)| (event.reason.as_str(), regarding.kind.as_deref(), event.note.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "MonitorRejected",
                    Some("ObservabilityStack"),
                    Some("ServiceMonitor apps/api: spec.endpoints[0].port: no such port")
                ),
                (
                    "Rejected",
                    Some("ServiceMonitor"),
                    Some("spec.endpoints[0].port: no such port (ObservabilityStack apps/shop)")
                ),
            ]
        );
    }

    fn component(workload: &str, failing: bool) -> ComponentStatus {
        ComponentStatus {
            name: "prometheus".to_owned(),
            ready: false,
            objects: 3,
            reason: if failing { "Failing" } else { "RollingOut" }.to_owned(),
            message: String::new(),
            workloads: vec![WorkloadStatus {
                name: workload.to_owned(),
                ready: false,
                reason: if failing { "ImagePullBackOff" } else { "ContainerCreating" }.to_owned(),
                failing,
                message: "Ready: 0/1; pod shop-prometheus-0, container prometheus: ImagePullBackOff".to_owned(),
                pod: Some("shop-prometheus-0".to_owned()),
                container: Some("prometheus".to_owned()),
            }],
        }
    }

    #[test]
    fn a_workload_that_starts_failing_is_told_once_related_to_it() {
        let (reference, key) = stack();
        let starting = ObservabilityStackStatus {
            components: vec![component("StatefulSet/shop-prometheus", false)],
            ..Default::default()
        };
        let failing = ObservabilityStackStatus {
            components: vec![component("StatefulSet/shop-prometheus", true)],
            ..Default::default()
        };
        assert!(new_events(&reference, &key, None, &starting).is_empty(), "starting is not failing");
        let events = new_events(&reference, &key, Some(&starting), &failing);
        assert_eq!(events.len(), 1);
        let (event, regarding) = &events[0];
        assert_eq!((event.reason.as_str(), event.type_), ("WorkloadFailing", EventType::Warning));
        assert_eq!(
            event.note.as_deref(),
            Some(
                "prometheus: StatefulSet/shop-prometheus: ImagePullBackOff: Ready: 0/1; pod shop-prometheus-0, \
                 container prometheus: ImagePullBackOff"
            )
        );
        let related = event.secondary.as_ref().map(|r| (r.kind.as_deref(), r.namespace.as_deref(), r.name.as_deref()));
        assert_eq!(related, Some((Some("StatefulSet"), Some("apps"), Some("shop-prometheus"))));
        assert_eq!(regarding, &reference);
        assert!(new_events(&reference, &key, Some(&failing), &failing).is_empty(), "told once");
    }

    #[test]
    fn notes_are_cut_to_what_the_api_server_accepts() {
        let (reference, key) = stack();
        let mut long = rejected("api");
        long.reason = "x".repeat(5000);
        let current = ObservabilityStackStatus { rejected_monitors: vec![long], ..Default::default() };
        for (event, _) in new_events(&reference, &key, None, &current) {
            assert_eq!(event.note.map(|note| note.chars().count()), Some(MAX_NOTE_CHARS));
        }
    }
}
