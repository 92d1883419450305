//! Status: the conditions, summary and findings of one reconcile, built purely so that an
//! unchanged outcome yields an identical status and no write.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::apply::{ApplyReport, ObjectDrift};
use super::workloads::WorkloadReport;
use crate::api::{
    ComponentStatus, Condition, DriftEntry, MonitorRef, ObservabilityStackStatus, ProbeFinding, RejectedMonitor,
    StackSummary, UnfireableRule, WorkloadStatus,
};
use crate::render::{Component, RenderedObject};

/// Most drift entries kept in status; the summary still counts all.
pub(crate) const MAX_DRIFT_ENTRIES: usize = 50;
/// Most unfireable rules listed in status; the condition's message still counts all.
pub(crate) const MAX_UNFIREABLE_RULES: usize = 50;
/// How long a corrected drift stays listed, so that users see what was put back.
pub(crate) const CORRECTED_DRIFT_RETENTION_SECONDS: i64 = 3600;
/// Most workloads a condition's message lists; the count says how many more.
const MAX_LISTED_WORKLOADS: usize = 3;

/// Everything a reconcile learned, the input of the status.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome {
    pub generation: Option<i64>,
    pub accepted: Vec<MonitorRef>,
    pub rejected: Vec<RejectedMonitor>,
    pub rendered: Vec<(Component, String)>,
    pub report: ApplyReport,
    pub probe_findings: Vec<ProbeFinding>,
    /// Enabled alert rules no scrape job of the stack feeds (the rule-source check).
    pub unfireable: Vec<UnfireableRule>,
    /// The rendered workloads' readiness, read after apply.
    pub workloads: Vec<WorkloadReport>,
    /// A failure that stopped the reconcile (render or apply), if any.
    pub failure: Option<String>,
    /// Why prometheus-operator's ServiceMonitors could not be read, when the stack selects them.
    pub foreign_unavailable: Option<String>,
    pub render_hash: Option<String>,
}

impl Outcome {
    /// Whether the configuration is applied and every workload runs: only then does the stack
    /// wait for a change (or the resync) rather than for its workloads.
    pub(crate) fn running(&self) -> bool {
        self.failure.is_none() && self.workloads.iter().all(WorkloadReport::is_ready)
    }

    /// The rendered objects as `(component, key)` pairs.
    pub(crate) fn rendered_from(objects: &[RenderedObject]) -> Vec<(Component, String)> {
        objects
            .iter()
            .map(|object| {
                let kind = object.object.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
                (object.component, format!("{kind}/{}", object.object.metadata.name.clone().unwrap_or_default()))
            })
            .collect()
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: String, generation: Option<i64>) -> Condition {
    Condition {
        condition_type: kind.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        last_transition_time: None,
        observed_generation: generation,
    }
}

/// Drift entries for status: drift already reported keeps its first-seen time, and corrected
/// drift stays listed for an hour after it was seen.
fn drift_entries(drift: &[ObjectDrift], previous: &[DriftEntry], now: &str) -> Vec<DriftEntry> {
    let since: BTreeMap<(&str, &str), &str> =
        previous.iter().map(|entry| ((entry.object.as_str(), entry.path.as_str()), entry.since.as_str())).collect();
    let current: Vec<(&str, &str)> = drift
        .iter()
        .flat_map(|object| object.fields.iter().map(|field| (object.object.as_str(), field.path.as_str())))
        .collect();
    let now_time = now.parse::<Timestamp>().ok();
    let recent = |entry: &DriftEntry| match (entry.since.parse::<Timestamp>().ok(), now_time) {
        (Some(seen), Some(now)) => (now - seen).get_seconds() < CORRECTED_DRIFT_RETENTION_SECONDS,
        _ => false,
    };
    let history = previous
        .iter()
        .filter(|entry| entry.corrected && recent(entry))
        .filter(|entry| !current.contains(&(entry.object.as_str(), entry.path.as_str())))
        .cloned();
    let mut entries: Vec<DriftEntry> = drift
        .iter()
        .flat_map(|object| {
            object.fields.iter().map(|field| DriftEntry {
                object: object.object.clone(),
                path: field.path.clone(),
                expected: field.expected.clone(),
                actual: field.actual.clone(),
                since: since.get(&(object.object.as_str(), field.path.as_str())).copied().unwrap_or(now).to_owned(),
                corrected: object.corrected,
            })
        })
        .collect();
    entries.extend(history);
    entries.sort_by(|a, b| (&a.object, &a.path).cmp(&(&b.object, &b.path)));
    entries
}

/// `RulesUnfireable`: whether some enabled alert cannot fire for want of a source. It neither
/// degrades the stack nor stops it being ready: what is rendered runs as declared, and the list
/// says what the cluster lacks.
fn unfireable_condition(unfireable: &[UnfireableRule], generation: Option<i64>) -> Condition {
    match unfireable {
        [] => condition(
            "RulesUnfireable",
            false,
            "EveryRuleHasASource",
            "every enabled alert rule reads series some scrape job of the stack produces".to_owned(),
            generation,
        ),
        [first, rest @ ..] => condition(
            "RulesUnfireable",
            true,
            "AlertsWithoutSource",
            match rest.len() {
                0 => first.message.clone(),
                more => format!("{}; {more} more in status.unfireableRules", first.message),
            },
            generation,
        ),
    }
}

/// The first few workloads of a list, each with its component, and how many more there are.
fn listing(workloads: &[&WorkloadReport]) -> String {
    let mut text = workloads
        .iter()
        .take(MAX_LISTED_WORKLOADS)
        .map(|workload| format!("{}: {}", workload.component.as_str(), workload.describe()))
        .collect::<Vec<_>>()
        .join("; ");
    if workloads.len() > MAX_LISTED_WORKLOADS {
        text.push_str(&format!("; and {} more", workloads.len() - MAX_LISTED_WORKLOADS));
    }
    text
}

/// The stack's conditions: what was applied, whether it runs, and what fails. `Reconciling` and
/// `Stalled` are kstatus' names (abnormal when True) for rolling out and for failing, which kstatus
/// reads on custom resources instead of `Progressing` and `Degraded`.
fn conditions(outcome: &Outcome, drift: &[DriftEntry]) -> Vec<Condition> {
    let generation = outcome.generation;
    let failed = outcome.failure.is_some();
    let total = outcome.workloads.len();
    let failing: Vec<&WorkloadReport> = outcome.workloads.iter().filter(|w| w.is_failing()).collect();
    let not_ready: Vec<&WorkloadReport> = outcome.workloads.iter().filter(|w| !w.is_ready()).collect();
    let rolling_out = !failed && failing.is_empty() && !not_ready.is_empty();

    let applied_message = match &outcome.failure {
        Some(failure) => format!("last good configuration stays in force: {failure}"),
        None => format!("{} objects applied", outcome.rendered.len()),
    };
    let failing_message = format!("{} of {total} workload(s) failing: {}", failing.len(), listing(&failing));
    let (running, ready_reason, ready_message) = if failed {
        (false, "ApplyFailed", applied_message.clone())
    } else if !failing.is_empty() {
        (false, "ComponentsFailing", failing_message.clone())
    } else if rolling_out {
        (
            false,
            "WorkloadsNotReady",
            format!("{} of {total} workload(s) not ready: {}", not_ready.len(), listing(&not_ready)),
        )
    } else {
        (true, "WorkloadsReady", format!("{} objects applied, {total} workload(s) ready", outcome.rendered.len()))
    };
    let (progress_reason, progress_message) = if failed {
        ("ApplyFailed", "the configuration could not be applied".to_owned())
    } else if !failing.is_empty() {
        ("ComponentsFailing", "the rollout cannot finish: workloads fail".to_owned())
    } else if rolling_out {
        ("RollingOut", ready_message.clone())
    } else {
        ("WorkloadsReady", "every workload runs as declared".to_owned())
    };

    let mut problems: Vec<(&str, String)> = Vec::new();
    if let Some(failure) = &outcome.failure {
        problems.push(("ReconcileFailed", failure.clone()));
    }
    if !failing.is_empty() {
        problems.push(("ComponentsFailing", failing_message));
    }
    if !outcome.rejected.is_empty() {
        let names: Vec<String> = outcome.rejected.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect();
        problems
            .push(("MonitorsRejected", format!("{} ServiceMonitor(s) rejected: {}", names.len(), names.join(", "))));
    }
    if let Some(reason) = &outcome.foreign_unavailable {
        problems.push((
            "PrometheusOperatorMonitorsUnavailable",
            format!("spec.prometheusOperatorMonitors is enabled but {reason}"),
        ));
    }
    let degraded_reason = problems.first().map(|(reason, _)| *reason).unwrap_or("AsExpected");
    let degraded_message = if problems.is_empty() {
        "all monitors accepted, no workload failing".to_owned()
    } else {
        problems.iter().map(|(_, message)| message.as_str()).collect::<Vec<_>>().join("; ")
    };
    let stalled = failed || !failing.is_empty();
    let stalled_message = match problems.first() {
        Some((_, message)) if stalled => message.clone(),
        _ => "nothing blocks the rollout".to_owned(),
    };

    let uncorrected = drift.iter().filter(|entry| !entry.corrected).count();
    let drifted = uncorrected > 0;
    let drift_message = if drift.is_empty() {
        "live objects match the declaration".to_owned()
    } else {
        format!("{} field(s) drifted, {uncorrected} not corrected", drift.len())
    };
    let drift_reason = match (drifted, drift.is_empty()) {
        (true, _) => "DriftDetected",
        (false, false) => "DriftCorrected",
        (false, true) => "NoDrift",
    };
    let applied_reason = if failed { "ApplyFailed" } else { "Applied" };
    vec![
        condition("Ready", running, ready_reason, ready_message, generation),
        condition("Applied", !failed, applied_reason, applied_message, generation),
        condition("Progressing", rolling_out, progress_reason, progress_message.clone(), generation),
        condition("Degraded", !problems.is_empty(), degraded_reason, degraded_message, generation),
        condition("Drifted", drifted, drift_reason, drift_message, generation),
        condition("Reconciling", rolling_out, progress_reason, progress_message, generation),
        condition(
            "Stalled",
            stalled,
            if stalled { degraded_reason } else { "AsExpected" },
            stalled_message,
            generation,
        ),
    ]
}

/// Each rendered component with its object count and its workloads' state.
fn components(outcome: &Outcome) -> Vec<ComponentStatus> {
    let mut per_component: BTreeMap<Component, u32> = BTreeMap::new();
    for (component, _) in &outcome.rendered {
        *per_component.entry(*component).or_default() += 1;
    }
    let describe = |workloads: &[&WorkloadReport]| {
        workloads.iter().map(|workload| workload.describe()).collect::<Vec<_>>().join("; ")
    };
    per_component
        .into_iter()
        .map(|(component, objects)| {
            let workloads: Vec<&WorkloadReport> =
                outcome.workloads.iter().filter(|workload| workload.component == component).collect();
            let failing: Vec<&WorkloadReport> = workloads.iter().copied().filter(|w| w.is_failing()).collect();
            let not_ready: Vec<&WorkloadReport> = workloads.iter().copied().filter(|w| !w.is_ready()).collect();
            let (ready, reason, message) = if workloads.is_empty() {
                (true, "Applied", String::new())
            } else if !failing.is_empty() {
                (false, "Failing", describe(&failing))
            } else if !not_ready.is_empty() {
                (false, "RollingOut", describe(&not_ready))
            } else {
                (true, "Ready", describe(&workloads))
            };
            ComponentStatus {
                name: component.as_str().to_owned(),
                ready,
                objects,
                reason: reason.to_owned(),
                message,
                workloads: workloads
                    .iter()
                    .map(|workload| WorkloadStatus {
                        name: workload.object.clone(),
                        ready: workload.is_ready(),
                        reason: workload.reason().to_owned(),
                        failing: workload.is_failing(),
                        message: workload.message(),
                        pod: workload.pod.as_ref().map(|pod| pod.pod.clone()),
                        container: workload.pod.as_ref().and_then(|pod| pod.container.clone()),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The new status. `previous` supplies transition times that did not change.
pub(crate) fn build(
    outcome: &Outcome,
    previous: Option<&ObservabilityStackStatus>,
    now: &str,
) -> ObservabilityStackStatus {
    let empty = ObservabilityStackStatus::default();
    let previous = previous.unwrap_or(&empty);
    let generation = outcome.generation;
    let failed = outcome.failure.is_some();
    let all_drift = drift_entries(&outcome.report.drift, &previous.drift, now);
    let mut conditions = conditions(outcome, &all_drift);
    conditions.push(unfireable_condition(&outcome.unfireable, generation));
    for condition in &mut conditions {
        let unchanged = previous
            .conditions
            .iter()
            .find(|old| old.condition_type == condition.condition_type && old.status == condition.status);
        condition.last_transition_time =
            Some(unchanged.and_then(|old| old.last_transition_time.clone()).unwrap_or_else(|| now.to_owned()));
    }
    let components = components(outcome);

    let mut drift = all_drift;
    let drifted_fields = u32::try_from(drift.len()).unwrap_or(u32::MAX);
    drift.truncate(MAX_DRIFT_ENTRIES);
    ObservabilityStackStatus {
        observed_generation: generation,
        conditions,
        summary: Some(StackSummary {
            accepted_monitors: u32::try_from(outcome.accepted.len()).unwrap_or(u32::MAX),
            rejected_monitors: u32::try_from(outcome.rejected.len()).unwrap_or(u32::MAX),
            objects: u32::try_from(outcome.rendered.len()).unwrap_or(u32::MAX),
            drifted_fields,
        }),
        components,
        accepted_monitors: outcome.accepted.clone(),
        rejected_monitors: outcome.rejected.clone(),
        drift,
        probe_findings: outcome.probe_findings.clone(),
        unfireable_rules: outcome.unfireable.iter().take(MAX_UNFIREABLE_RULES).cloned().collect(),
        last_applied_hash: if failed { previous.last_applied_hash.clone() } else { outcome.render_hash.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::pods::PodReason;
    use crate::controller::readiness::Rollout;
    use crate::drift::FieldDrift;

    fn outcome() -> Outcome {
        Outcome {
            generation: Some(3),
            accepted: vec![MonitorRef { namespace: "apps".to_owned(), name: "gateway".to_owned(), api_version: None }],
            rendered: vec![(Component::Loki, "ConfigMap/x-loki".to_owned())],
            render_hash: Some("abc".to_owned()),
            ..Outcome::default()
        }
    }

    fn status_of<'a>(status: &'a ObservabilityStackStatus, kind: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.condition_type == kind).unwrap()
    }

    #[test]
    fn a_clean_reconcile_is_ready_and_not_drifted_and_stable() {
        let first = build(&outcome(), None, "2026-01-01T00:00:00Z");
        assert_eq!(status_of(&first, "Ready").status, "True");
        assert_eq!(status_of(&first, "Drifted").status, "False");
        assert_eq!(status_of(&first, "Degraded").status, "False");
        assert_eq!(first.observed_generation, Some(3));
        let second = build(&outcome(), Some(&first), "2026-01-01T00:05:00Z");
        assert_eq!(first, second, "an unchanged outcome gives the same status, so no write");
    }

    #[test]
    fn drift_keeps_its_first_seen_time_and_failures_keep_the_last_hash() {
        let mut drifted = outcome();
        drifted.report.drift = vec![ObjectDrift {
            object: "ConfigMap/obs/x-loki".to_owned(),
            fields: vec![FieldDrift {
                path: "data[\"loki.yaml\"]".to_owned(),
                expected: "a".to_owned(),
                actual: "b".to_owned(),
            }],
            corrected: false,
        }];
        let (t1, t2) = ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z");
        let first = build(&drifted, None, t1);
        assert_eq!(status_of(&first, "Drifted").status, "True");
        assert_eq!(first.drift[0].since, t1);
        let second = build(&drifted, Some(&first), t2);
        assert_eq!(second.drift[0].since, t1);
        assert_eq!(status_of(&second, "Drifted").last_transition_time.as_deref(), Some(t1));

        let mut failed = outcome();
        failed.failure = Some("apply ConfigMap/obs/x: forbidden".to_owned());
        failed.render_hash = Some("new".to_owned());
        let status = build(&failed, Some(&first), "2026-01-01T00:02:00Z");
        assert_eq!(status_of(&status, "Ready").status, "False");
        assert_eq!(status_of(&status, "Degraded").status, "True");
        assert_eq!(status.last_applied_hash.as_deref(), Some("abc"));
    }

    #[test]
    fn corrected_drift_stays_listed_for_an_hour_without_setting_drifted() {
        let mut corrected = outcome();
        corrected.report.drift = vec![ObjectDrift {
            object: "ConfigMap/obs/x-loki".to_owned(),
            fields: vec![FieldDrift { path: "data".to_owned(), expected: "a".to_owned(), actual: "b".to_owned() }],
            corrected: true,
        }];
        let seen = build(&corrected, None, "2026-01-01T00:00:00Z");
        assert_eq!(status_of(&seen, "Drifted").status, "False");
        assert_eq!(status_of(&seen, "Drifted").reason, "DriftCorrected");
        let later = build(&outcome(), Some(&seen), "2026-01-01T00:30:00Z");
        assert_eq!(later.drift.len(), 1, "still listed after the fix");
        assert!(later.drift[0].corrected);
        let much_later = build(&outcome(), Some(&later), "2026-01-01T01:00:01Z");
        assert!(much_later.drift.is_empty());
        assert_eq!(status_of(&much_later, "Drifted").reason, "NoDrift");
    }

    #[test]
    fn unreadable_prometheus_operator_monitors_degrade_with_the_reason_and_keep_ready() {
        let mut unavailable = outcome();
        unavailable.foreign_unavailable =
            Some("the CRD servicemonitors.monitoring.coreos.com is not installed".to_owned());
        let status = build(&unavailable, None, "2026-01-01T00:00:00Z");
        assert_eq!(status_of(&status, "Ready").status, "True");
        let degraded = status_of(&status, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "PrometheusOperatorMonitorsUnavailable")
        );
        assert!(
            degraded.message.starts_with("spec.prometheusOperatorMonitors is enabled but the CRD"),
            "{}",
            degraded.message
        );
        unavailable.rejected = vec![RejectedMonitor {
            namespace: "apps".to_owned(),
            name: "api".to_owned(),
            field: "spec.endpoints".to_owned(),
            reason: "x".to_owned(),
            api_version: None,
        }];
        let both = build(&unavailable, None, "2026-01-01T00:00:00Z");
        let degraded = status_of(&both, "Degraded");
        assert_eq!(degraded.reason, "MonitorsRejected");
        assert!(
            degraded.message.contains("apps/api") && degraded.message.contains("is not installed"),
            "{}",
            degraded.message
        );
    }

    fn report(component: Component, object: &str, rollout: Rollout, pod: Option<PodReason>) -> WorkloadReport {
        WorkloadReport { component, object: object.to_owned(), rollout, pod, pods_unreadable: None }
    }

    fn ready(component: Component, object: &str) -> WorkloadReport {
        report(component, object, Rollout::Ready { message: "1/1 ready".to_owned() }, None)
    }

    fn waiting_for_pod(reason: &str, message: &str, failing: bool) -> WorkloadReport {
        report(
            Component::Prometheus,
            "StatefulSet/x-prometheus",
            Rollout::InProgress { reason: "LessReady", message: "Ready: 0/1".to_owned() },
            Some(PodReason {
                pod: "x-prometheus-0".to_owned(),
                container: Some("prometheus".to_owned()),
                reason: reason.to_owned(),
                message: message.to_owned(),
                failing,
            }),
        )
    }

    /// An outcome with Prometheus, Jaeger and the rules rendered and the given workloads read.
    fn with_workloads(workloads: Vec<WorkloadReport>) -> Outcome {
        Outcome {
            rendered: vec![
                (Component::Prometheus, "StatefulSet/x-prometheus".to_owned()),
                (Component::Prometheus, "ConfigMap/x-prometheus".to_owned()),
                (Component::Rules, "ConfigMap/x-rules".to_owned()),
                (Component::Jaeger, "Deployment/x-jaeger".to_owned()),
            ],
            workloads,
            ..outcome()
        }
    }

    fn condition_states(status: &ObservabilityStackStatus) -> Vec<(String, String, String)> {
        status.conditions.iter().map(|c| (c.condition_type.clone(), c.status.clone(), c.reason.clone())).collect()
    }

    fn states(expected: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        expected
            .iter()
            .map(|(kind, status, reason)| ((*kind).to_owned(), (*status).to_owned(), (*reason).to_owned()))
            .collect()
    }

    #[test]
    fn ready_means_every_workload_runs_and_applied_stays_its_own_condition() {
        let running = with_workloads(vec![
            ready(Component::Prometheus, "StatefulSet/x-prometheus"),
            ready(Component::Jaeger, "Deployment/x-jaeger"),
        ]);
        assert!(running.running());
        let status = build(&running, None, "2026-01-01T00:00:00Z");
        assert_eq!(
            condition_states(&status),
            states(&[
                ("Ready", "True", "WorkloadsReady"),
                ("Applied", "True", "Applied"),
                ("Progressing", "False", "WorkloadsReady"),
                ("Degraded", "False", "AsExpected"),
                ("Drifted", "False", "NoDrift"),
                ("Reconciling", "False", "WorkloadsReady"),
                ("Stalled", "False", "AsExpected"),
                ("RulesUnfireable", "False", "EveryRuleHasASource"),
            ])
        );
        assert_eq!(status_of(&status, "Ready").message, "4 objects applied, 2 workload(s) ready");
        let summary: Vec<(&str, bool, &str, usize)> = status
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.ready, c.reason.as_str(), c.workloads.len()))
            .collect();
        assert_eq!(
            summary,
            [("prometheus", true, "Ready", 1), ("rules", true, "Applied", 0), ("jaeger", true, "Ready", 1)]
        );
        assert_eq!(status.components[0].message, "StatefulSet/x-prometheus (1/1 ready)");
        assert_eq!(build(&running, Some(&status), "2026-01-01T00:05:00Z"), status, "stable: no write");
    }

    #[test]
    fn workloads_still_starting_are_progressing_not_degraded() {
        let starting = with_workloads(vec![
            waiting_for_pod("ContainerCreating", "", false),
            ready(Component::Jaeger, "Deployment/x-jaeger"),
        ]);
        assert!(!starting.running());
        let status = build(&starting, None, "2026-01-01T00:00:00Z");
        assert_eq!(
            condition_states(&status),
            states(&[
                ("Ready", "False", "WorkloadsNotReady"),
                ("Applied", "True", "Applied"),
                ("Progressing", "True", "RollingOut"),
                ("Degraded", "False", "AsExpected"),
                ("Drifted", "False", "NoDrift"),
                ("Reconciling", "True", "RollingOut"),
                ("Stalled", "False", "AsExpected"),
                ("RulesUnfireable", "False", "EveryRuleHasASource"),
            ])
        );
        assert_eq!(
            status_of(&status, "Progressing").message,
            "1 of 2 workload(s) not ready: prometheus: StatefulSet/x-prometheus (Ready: 0/1): \
             pod x-prometheus-0, container prometheus: ContainerCreating"
        );
        let prometheus = &status.components[0];
        assert_eq!((prometheus.ready, prometheus.reason.as_str()), (false, "RollingOut"));
        let workload = &prometheus.workloads[0];
        assert_eq!(
            (workload.name.as_str(), workload.ready, workload.reason.as_str(), workload.failing),
            ("StatefulSet/x-prometheus", false, "ContainerCreating", false)
        );
        assert_eq!(workload.pod.as_deref(), Some("x-prometheus-0"));
    }

    #[test]
    fn a_pod_that_cannot_start_degrades_the_stack_naming_component_workload_pod_and_reason() {
        let failing = with_workloads(vec![
            waiting_for_pod("ImagePullBackOff", "image prom/prometheus:v0.0.0-missing: Back-off pulling image", true),
            report(
                Component::Jaeger,
                "Deployment/x-jaeger",
                Rollout::InProgress { reason: "LessAvailable", message: "Available: 0/1".to_owned() },
                None,
            ),
        ]);
        let status = build(&failing, None, "2026-01-01T00:00:00Z");
        assert_eq!(
            condition_states(&status),
            states(&[
                ("Ready", "False", "ComponentsFailing"),
                ("Applied", "True", "Applied"),
                ("Progressing", "False", "ComponentsFailing"),
                ("Degraded", "True", "ComponentsFailing"),
                ("Drifted", "False", "NoDrift"),
                ("Reconciling", "False", "ComponentsFailing"),
                ("Stalled", "True", "ComponentsFailing"),
                ("RulesUnfireable", "False", "EveryRuleHasASource"),
            ])
        );
        assert_eq!(
            status_of(&status, "Degraded").message,
            "1 of 2 workload(s) failing: prometheus: StatefulSet/x-prometheus (Ready: 0/1): pod x-prometheus-0, \
             container prometheus: ImagePullBackOff: image prom/prometheus:v0.0.0-missing: Back-off pulling image"
        );
        let prometheus = &status.components[0];
        assert_eq!((prometheus.ready, prometheus.reason.as_str()), (false, "Failing"));
        let workload = &prometheus.workloads[0];
        assert_eq!((workload.reason.as_str(), workload.failing), ("ImagePullBackOff", true));
        assert_eq!(workload.container.as_deref(), Some("prometheus"));
        let jaeger = &status.components[2];
        assert_eq!((jaeger.name.as_str(), jaeger.reason.as_str()), ("jaeger", "RollingOut"));
        assert_eq!(jaeger.workloads[0].reason, "LessAvailable");

        // A controller that gave up fails without a pod to blame; with rejected monitors too, the
        // failure comes first.
        let mut deadline = with_workloads(vec![report(
            Component::Jaeger,
            "Deployment/x-jaeger",
            Rollout::Failed { reason: "ProgressDeadlineExceeded", message: "progress deadline exceeded".to_owned() },
            None,
        )]);
        deadline.rejected = vec![RejectedMonitor {
            namespace: "apps".to_owned(),
            name: "api".to_owned(),
            field: "spec.endpoints".to_owned(),
            reason: "x".to_owned(),
            api_version: None,
        }];
        let status = build(&deadline, None, "2026-01-01T00:00:00Z");
        let degraded = status_of(&status, "Degraded");
        assert_eq!(degraded.reason, "ComponentsFailing");
        assert_eq!(
            degraded.message,
            "1 of 1 workload(s) failing: jaeger: Deployment/x-jaeger (progress deadline exceeded); \
             1 ServiceMonitor(s) rejected: apps/api"
        );
        assert_eq!(status.components[2].workloads[0].reason, "ProgressDeadlineExceeded");
    }

    #[test]
    fn a_failed_apply_is_not_applied_and_says_nothing_of_workloads() {
        let mut failed = with_workloads(Vec::new());
        failed.failure = Some("apply StatefulSet/obs/x-prometheus: forbidden".to_owned());
        failed.rendered = Vec::new();
        assert!(!failed.running());
        let status = build(&failed, None, "2026-01-01T00:00:00Z");
        let applied = status_of(&status, "Applied");
        assert_eq!((applied.status.as_str(), applied.reason.as_str()), ("False", "ApplyFailed"));
        assert_eq!(
            applied.message,
            "last good configuration stays in force: apply StatefulSet/obs/x-prometheus: forbidden"
        );
        assert_eq!(status_of(&status, "Ready").message, applied.message);
        assert_eq!(status_of(&status, "Stalled").status, "True");
        assert_eq!(status_of(&status, "Progressing").status, "False");
        assert!(status.components.is_empty());
    }
}
