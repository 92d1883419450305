//! Status: the conditions, summary and findings of one reconcile, built purely so that an
//! unchanged outcome yields an identical status and no write.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::apply::{ApplyReport, ObjectDrift};
use crate::api::{
    ComponentStatus, Condition, DriftEntry, MonitorRef, ObservabilityStackStatus, ProbeFinding, RejectedMonitor,
    StackSummary, UnfireableRule,
};
use crate::render::{Component, RenderedObject};

/// Most drift entries kept in status; the summary still counts all.
pub(crate) const MAX_DRIFT_ENTRIES: usize = 50;
/// Most unfireable rules listed in status; the condition's message still counts all.
pub(crate) const MAX_UNFIREABLE_RULES: usize = 50;
/// How long a corrected drift stays listed, so that users see what was put back.
pub(crate) const CORRECTED_DRIFT_RETENTION_SECONDS: i64 = 3600;

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
    /// A failure that stopped the reconcile (render or apply), if any.
    pub failure: Option<String>,
    /// Why prometheus-operator's ServiceMonitors could not be read, when the stack selects them.
    pub foreign_unavailable: Option<String>,
    pub render_hash: Option<String>,
}

impl Outcome {
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

/// The new status. `previous` supplies transition times that did not change.
pub(crate) fn build(
    outcome: &Outcome,
    previous: Option<&ObservabilityStackStatus>,
    now: &str,
) -> ObservabilityStackStatus {
    let empty = ObservabilityStackStatus::default();
    let previous = previous.unwrap_or(&empty);
    let generation = outcome.generation;
    let all_drift = drift_entries(&outcome.report.drift, &previous.drift, now);
    let uncorrected = all_drift.iter().filter(|entry| !entry.corrected).count();
    let drifted = uncorrected > 0;
    let failed = outcome.failure.is_some();
    let degraded = failed || !outcome.rejected.is_empty() || outcome.foreign_unavailable.is_some();

    let ready_message = match &outcome.failure {
        Some(failure) => format!("last good configuration stays in force: {failure}"),
        None => format!("{} objects applied", outcome.rendered.len()),
    };
    let mut degraded_message = match (&outcome.failure, outcome.rejected.len()) {
        (Some(failure), _) => failure.clone(),
        (None, 0) => "all monitors accepted".to_owned(),
        (None, count) => format!(
            "{count} ServiceMonitor(s) rejected: {}",
            outcome.rejected.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect::<Vec<_>>().join(", ")
        ),
    };
    if let Some(reason) = &outcome.foreign_unavailable {
        let unavailable = format!("spec.prometheusOperatorMonitors is enabled but {reason}");
        degraded_message = if failed || !outcome.rejected.is_empty() {
            format!("{degraded_message}; {unavailable}")
        } else {
            unavailable
        };
    }
    let drift_message = if all_drift.is_empty() {
        "live objects match the declaration".to_owned()
    } else {
        format!("{} field(s) drifted, {uncorrected} not corrected", all_drift.len())
    };
    let drift_reason = match (drifted, all_drift.is_empty()) {
        (true, _) => "DriftDetected",
        (false, false) => "DriftCorrected",
        (false, true) => "NoDrift",
    };
    let mut conditions = vec![
        condition("Ready", !failed, if failed { "ApplyFailed" } else { "Applied" }, ready_message, generation),
        condition("Progressing", false, "Reconciled", "reconcile finished".to_owned(), generation),
        condition(
            "Degraded",
            degraded,
            if failed {
                "ReconcileFailed"
            } else if !outcome.rejected.is_empty() {
                "MonitorsRejected"
            } else if degraded {
                "PrometheusOperatorMonitorsUnavailable"
            } else {
                "AsExpected"
            },
            degraded_message,
            generation,
        ),
        condition("Drifted", drifted, drift_reason, drift_message, generation),
        unfireable_condition(&outcome.unfireable, generation),
    ];
    for condition in &mut conditions {
        let unchanged = previous
            .conditions
            .iter()
            .find(|old| old.condition_type == condition.condition_type && old.status == condition.status);
        condition.last_transition_time =
            Some(unchanged.and_then(|old| old.last_transition_time.clone()).unwrap_or_else(|| now.to_owned()));
    }

    let mut per_component: BTreeMap<Component, u32> = BTreeMap::new();
    for (component, _) in &outcome.rendered {
        *per_component.entry(*component).or_default() += 1;
    }
    let components = per_component
        .into_iter()
        .map(|(component, objects)| ComponentStatus {
            name: component.as_str().to_owned(),
            ready: !failed,
            objects,
            message: String::new(),
        })
        .collect();

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
}
