//! The alerts on the stack's own health, on the metric names the components export about
//! themselves: Prometheus v3 (`prometheus_config_last_reload_successful`,
//! `prometheus_rule_evaluation_failures_total{rule_group}`), Alertmanager v0.29
//! (`alertmanager_config_last_reload_successful`, `alertmanager_notifications_total{integration}`
//! and `alertmanager_notifications_failed_total{integration, reason}`), Thanos v0.40
//! (`thanos_compact_halted`) and Loki 3.5 (`loki_discarded_samples_total{reason, tenant}`).
//! `tests/tests/self_monitoring.rs` checks the first five against the running binaries.

use stackscope::render::rules::SELF_MONITORING_FILE;
use stackscope::resolve::ResolvedStack;

use super::*;

/// Failures counted into a window from this step on (none before), so that every window that
/// holds one is covered by samples and `increase` extrapolates exactly as [`rate`] models it.
fn counting_from(grid: Grid, window: u64) -> usize {
    (window / grid.step) as usize
}

/// A counter that stays put until `from`, then grows so that a whole window counts `count`.
fn counting(grid: Grid, window: u64, from: usize, count: f64) -> Vec<Option<f64>> {
    let per_step = count * grid.step as f64 / window as f64;
    counter_by(grid, COUNTER_START, |index| if index > from { per_step } else { 0.0 })
}

/// `count > threshold` for what `increase` counts: whole counts compare as they are (a count of 0
/// against a threshold of 0 is the point of the quiet subject), others must not sit on it.
fn count_above(count: f64, threshold: f64, what: &str) -> bool {
    if is_whole(count) && is_whole(threshold) { count > threshold } else { above(count, threshold, what) }
}

/// What `increase(x[window])` gives at `index`, as Prometheus extrapolates over a covered window.
fn increase(values: &[Option<f64>], grid: Grid, index: usize, window: u64) -> Option<f64> {
    rate(values, grid, index, window).map(|per_second| (per_second * window as f64 * 1e6).round() / 1e6)
}

/// The subjects of the self-monitoring alerts: for each, one pod (or integration, or reason) in
/// trouble and one healthy.
pub(super) fn suite(stack: &ResolvedStack) -> Suite {
    let alerts = &stack.spec.alerting.rules.self_monitoring;
    let spec = &stack.spec;
    let watchdog = threshold(stack, "Watchdog", &alerts.watchdog, "watchdog", 0);
    let prometheus_reload =
        threshold(stack, "PrometheusConfigReloadFailed", &alerts.prometheus_config_reload, "prometheus_config", 0);
    let evaluation =
        threshold(stack, "PrometheusRuleEvaluationFailures", &alerts.rule_evaluation_failures, "rule_evaluation", 300);
    let alertmanager_reload = threshold(
        stack,
        "AlertmanagerConfigReloadFailed",
        &alerts.alertmanager_config_reload,
        "alertmanager_config",
        0,
    );
    let notifications =
        threshold(stack, "AlertmanagerNotificationsFailing", &alerts.notifications_failing, "notifications", 300);
    let compaction = threshold(stack, "ThanosCompactionHalted", &alerts.compaction_halted, "compaction", 0)
        .filter(|_| spec.metrics.downsampling.enabled);
    let ingestion = threshold(stack, "LokiIngestionRefused", &alerts.log_ingestion_refused, "log_ingestion", 300)
        .filter(|_| spec.logging.enabled);

    let counted: Vec<&Threshold> = evaluation.iter().chain(&notifications).chain(&ingestion).collect();
    let all: Vec<&Threshold> = watchdog
        .iter()
        .chain(&prometheus_reload)
        .chain(&alertmanager_reload)
        .chain(&compaction)
        .chain(counted.iter().copied())
        .collect();
    let windows: Vec<u64> = counted.iter().map(|threshold| threshold.window).collect();
    let fors: Vec<u64> = all.iter().map(|threshold| threshold.for_seconds).collect();
    let step = step_for(&windows, &fors, 4);
    let longest_window = windows.iter().max().copied().unwrap_or(step);
    let longest_for = fors.iter().max().copied().unwrap_or(0);
    let grid = Grid { step, len: ((2 * longest_window + longest_for) / step) as usize + 3 };

    let pod = |name: &str| labels([("namespace", "observability"), ("pod", name)]);
    let gauge_subject = |key: &str, metric: &str, labels: Labels, value: f64| Subject {
        key: key.to_owned(),
        series: vec![Series::new(metric, &labels, gauge(grid, value))],
        p95: None,
    };
    let mut plan = GroupPlan::new("a component in trouble beside a healthy one", grid);
    let subjects = &mut plan.subjects;
    for (threshold, metric, component) in [
        (&prometheus_reload, "prometheus_config_last_reload_successful", "prometheus"),
        (&alertmanager_reload, "alertmanager_config_last_reload_successful", "alertmanager"),
    ] {
        if threshold.is_some() {
            subjects.push(gauge_subject(&format!("{component} failing"), metric, pod(&format!("{component}-0")), 0.0));
            subjects.push(gauge_subject(&format!("{component} loaded"), metric, pod(&format!("{component}-1")), 1.0));
        }
    }
    if compaction.is_some() {
        subjects.push(gauge_subject("halted", "thanos_compact_halted", pod("compactor-0"), 1.0));
        subjects.push(gauge_subject("running", "thanos_compact_halted", pod("compactor-1"), 0.0));
    }
    let quiet = |value: f64| if value >= 1.0 { value.floor() } else { 0.0 };
    if let Some(evaluation) = &evaluation {
        let from = counting_from(grid, evaluation.window);
        for (group, count) in [("failing", evaluation.value.floor() + 1.0), ("healthy", quiet(evaluation.value))] {
            let mut series = pod("prometheus-0");
            series.insert("rule_group".to_owned(), format!("/etc/prometheus/rules/{group}.yml;{group}"));
            subjects.push(Subject {
                key: format!("rule group {group}"),
                series: vec![Series::new(
                    "prometheus_rule_evaluation_failures_total",
                    &series,
                    counting(grid, evaluation.window, from, count),
                )],
                p95: None,
            });
        }
    }
    if let Some(notifications) = &notifications {
        for (integration, side) in [("slack", 1.0), ("email", -1.0)] {
            let percent = percent_beside(notifications.value, side);
            let mut total = pod("alertmanager-0");
            total.insert("integration".to_owned(), integration.to_owned());
            let mut failed = total.clone();
            failed.insert("reason".to_owned(), "other".to_owned());
            subjects.push(Subject {
                key: format!("notifications {integration}"),
                series: vec![
                    Series::new(
                        "alertmanager_notifications_total",
                        &total,
                        counter(grid, COUNTER_START, REQUESTS_PER_STEP),
                    ),
                    Series::new(
                        "alertmanager_notifications_failed_total",
                        &failed,
                        counter(grid, COUNTER_START, REQUESTS_PER_STEP * percent / 100.0),
                    ),
                ],
                p95: None,
            });
        }
    }
    if let Some(ingestion) = &ingestion {
        let from = counting_from(grid, ingestion.window);
        for (reason, count) in
            [("rate_limited", ingestion.value.floor() + 1.0), ("line_too_long", quiet(ingestion.value))]
        {
            let mut series = pod("loki-0");
            series.insert("reason".to_owned(), reason.to_owned());
            series.insert("tenant".to_owned(), "fake".to_owned());
            subjects.push(Subject {
                key: format!("discarded {reason}"),
                series: vec![Series::new(
                    "loki_discarded_samples_total",
                    &series,
                    counting(grid, ingestion.window, from, count),
                )],
                p95: None,
            });
        }
    }

    finish("self-monitoring", &[SELF_MONITORING_FILE], step, vec![plan], |plan| {
        let grid = plan.grid;
        let kept = |subject: &Subject, names: &[&str]| {
            let mut kept = subject.labels().clone();
            kept.retain(|name, _| names.contains(&name.as_str()));
            kept
        };
        let mut models = Vec::new();
        if let Some(threshold) = &watchdog {
            let mut model = RuleModel::of(threshold);
            model.result(Labels::new(), vec![true; grid.len]);
            models.push(model);
        }
        for (threshold, metric, trouble) in [
            (&prometheus_reload, "prometheus_config_last_reload_successful", 0.0),
            (&alertmanager_reload, "alertmanager_config_last_reload_successful", 0.0),
            (&compaction, "thanos_compact_halted", 1.0),
        ] {
            let Some(threshold) = threshold else { continue };
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let Some(values) = subject.values(metric) else { continue };
                let active = (0..grid.len).map(|index| instant(values, grid, index) == Some(trouble)).collect();
                model.result(kept(subject, &["namespace", "pod"]), active);
            }
            models.push(model);
        }
        for (threshold, metric, by) in [
            (&evaluation, "prometheus_rule_evaluation_failures_total", &["namespace", "pod", "rule_group"][..]),
            (&ingestion, "loki_discarded_samples_total", &["namespace", "reason"][..]),
        ] {
            let Some(threshold) = threshold else { continue };
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let Some(values) = subject.values(metric) else { continue };
                let active = (0..grid.len)
                    .map(|index| {
                        increase(values, grid, index, threshold.window)
                            .is_some_and(|count| count_above(count, threshold.value, &subject.key))
                    })
                    .collect();
                model.result(kept(subject, by), active);
            }
            models.push(model);
        }
        if let Some(threshold) = &notifications {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let (Some(total), Some(failed)) = (
                    subject.values("alertmanager_notifications_total"),
                    subject.values("alertmanager_notifications_failed_total"),
                ) else {
                    continue;
                };
                let active = (0..grid.len)
                    .map(|index| {
                        let percent = 100.0 * rate(failed, grid, index, threshold.window)?
                            / rate(total, grid, index, threshold.window)?;
                        Some(above(percent, threshold.value, &subject.key))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                model.result(kept(subject, &["namespace", "integration"]), active);
            }
            models.push(model);
        }
        models
    })
}
