//! The document's alert tables (Infrastructure, Application and Business Alerts) as data: one row
//! per alert, saying what it measures, how its rule reads and which channels the document's
//! Channel column sends it to; and a fourth table of the same shape, the alerts on the stack's own
//! health (not in the document). [`super::alerts`] turns the rows into rules; the per-service
//! overrides are logic and stay there.
//!
//! A row's threshold, `for`, severity and incident level are the spec's
//! (`spec.alerting.rules.<table>.<key>`), whose defaults are the seed's values, defined once in
//! `api`; the row reaches them through [`AlertRow::threshold`] and repeats none of them.
//!
//! Expressions and annotations are written as Prometheus reads them, with `${name}` placeholders
//! (`$` plus braces never occurs in PromQL or in Prometheus' `{{ $labels.x }}` templates):
//! - `${value}`: the threshold (the stack's, or a monitor's own), as the spec writes it;
//! - `${window}`: the threshold's window, else the row's [`AlertRow::window`];
//! - `${at_most}`: `== 0` for a threshold of 0, else `<= ${value}`;
//! - `${requests}`, `${failures}`, `${duration_bucket}`: the RED series of `spec.metrics.red`,
//!   narrowed to the rule's services;
//! - `${database_down}`: the database targets' signals at 0: `up` of the targets of monitors
//!   marked as databases, their exporters' `upMetric`, and `up` of `databaseSelector`;
//! - `${signups}`, `${payments}`, `${payment_failures}`, `${active_subscriptions}`,
//!   `${cancelled_subscriptions}`: the business metrics of `spec.metrics.business`.

use super::{APPLICATION_FILE, BUSINESS_FILE, DEFAULT_WINDOW, INFRASTRUCTURE_FILE, SELF_MONITORING_FILE};
use crate::api::{AlertOverrides, AlertRules, AlertThreshold, Channel, ObservabilityStackSpec, ScrapeDuration};

/// The document's alert tables and the stack's own, each one rule file with one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Infrastructure,
    Application,
    Business,
    SelfMonitoring,
}

impl Table {
    /// Every table, in file order.
    pub const ALL: [Self; 4] = [Self::Infrastructure, Self::Application, Self::Business, Self::SelfMonitoring];

    /// The table's field of `spec.alerting.rules`, also the name of its rule group.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Infrastructure => "infrastructure",
            Self::Application => "application",
            Self::Business => "business",
            Self::SelfMonitoring => "selfMonitoring",
        }
    }

    /// The rule file the table's alerts go into.
    pub(crate) fn file(self) -> &'static str {
        match self {
            Self::Infrastructure => INFRASTRUCTURE_FILE,
            Self::Application => APPLICATION_FILE,
            Self::Business => BUSINESS_FILE,
            Self::SelfMonitoring => SELF_MONITORING_FILE,
        }
    }
}

/// What must be rendered for an alert to be: the stack's alerting alone, or the component whose
/// failure it watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Requires {
    Alerting,
    /// Loki (`spec.logging`).
    Logging,
    /// The Thanos compactor (`spec.metrics.downsampling`).
    Downsampling,
}

impl Requires {
    pub(crate) fn holds(self, spec: &ObservabilityStackSpec) -> bool {
        match self {
            Self::Alerting => true,
            Self::Logging => spec.logging.enabled,
            Self::Downsampling => spec.metrics.downsampling.enabled,
        }
    }
}

/// Which series one rule of an alert covers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    /// One rule over everything the expression selects.
    Everything,
    /// Per `service` label of the RED metrics: a ServiceMonitor may disable the alert for its
    /// service (`spec.alerts.disabled`) and, where the row names an override, set its own
    /// threshold, which gets a rule of its own.
    PerService { own_threshold: Option<OwnThreshold> },
}

/// A monitor's own threshold of a per-service alert, a field of its `spec.alerts`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OwnThreshold {
    /// A percentage, like the stack's threshold.
    Percent { key: &'static str, value: fn(&AlertOverrides) -> Option<f64> },
    /// A duration, compared in seconds.
    Duration { key: &'static str, value: fn(&AlertOverrides) -> Option<&ScrapeDuration> },
}

/// One alert of the document's tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AlertRow {
    /// The alert's name (what a monitor's `spec.alerts.disabled` lists).
    pub name: &'static str,
    pub table: Table,
    /// The threshold's field of `spec.alerting.rules.<table>`, for error messages.
    pub key: &'static str,
    /// The spec's threshold, `for`, severity and incident level of the alert.
    pub threshold: fn(&AlertRules) -> &AlertThreshold,
    /// The `signal` label: what Alertmanager's inhibition pairs warning and critical alerts by.
    pub signal: &'static str,
    /// Window of the rate or count when the threshold names none; `None` without a window.
    pub window: Option<&'static str>,
    pub scope: Scope,
    /// Labels besides severity, incident level, signal and channels.
    pub labels: &'static [(&'static str, &'static str)],
    /// The document's Channel column: where the alert goes unless it names its own channels (with
    /// the channel policy `PerAlert`); `None` for alerts the document does not list, which follow
    /// the severity policy.
    pub channels: Option<&'static [Channel]>,
    pub requires: Requires,
    pub expr: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
}

/// The always-firing alert of the dead man's switch, which Alertmanager routes by this name.
pub(crate) const WATCHDOG: &str = "Watchdog";

// The document's Channel column, as its tables write it.
const EMAIL: &[Channel] = &[Channel::Email];
const SLACK: &[Channel] = &[Channel::Slack];
const EMAIL_SLACK: &[Channel] = &[Channel::Email, Channel::Slack];
const SLACK_PAGERDUTY: &[Channel] = &[Channel::Slack, Channel::Pagerduty];
const EVERY_CHANNEL: &[Channel] = &[Channel::Email, Channel::Slack, Channel::Pagerduty];

/// Window of the container-restart count when the threshold names none (seed: 10 minutes).
const RESTART_WINDOW: &str = "10m";
/// Window of the signup count when the threshold names none (seed: 1 hour).
const SIGNUP_WINDOW: &str = "1h";
/// Window of the monthly churn when the threshold names none.
const CHURN_WINDOW: &str = "30d";

/// Alert label `service` of per-container infrastructure alerts: the container name, so
/// Alertmanager's inhibition (`equal: [signal, namespace, service]`) pairs the warning and the
/// critical alert of the same workload and not of any two pods of a namespace.
pub(crate) const CONTAINER_AS_SERVICE: &str = "{{ $labels.container }}";
const PER_CONTAINER: &[(&str, &str)] = &[("service", CONTAINER_AS_SERVICE)];

const CPU_EXPR: &str = "100 * sum by (namespace, pod, container) \
    (rate(container_cpu_usage_seconds_total{container!=\"\"}[${window}])) \
    / sum by (namespace, pod, container) \
    (container_spec_cpu_quota{container!=\"\"} / container_spec_cpu_period{container!=\"\"}) > ${value}";
const CPU_SUMMARY: &str = "CPU above ${value}% of the limit in {{ $labels.namespace }}/{{ $labels.pod }}";
const CPU_DESCRIPTION: &str = "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses \
    {{ printf \"%.1f\" $value }}% of its CPU limit (threshold ${value}%).";

// A limit of 0 means none: leave those containers out rather than divide by zero.
const MEMORY_EXPR: &str = "100 * sum by (namespace, pod, container) \
    (container_memory_working_set_bytes{container!=\"\"}) \
    / sum by (namespace, pod, container) (container_spec_memory_limit_bytes{container!=\"\"} > 0) > ${value}";
const MEMORY_SUMMARY: &str = "Memory above ${value}% of the limit in {{ $labels.namespace }}/{{ $labels.pod }}";
const MEMORY_DESCRIPTION: &str = "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} \
    uses {{ printf \"%.1f\" $value }}% of its memory limit (threshold ${value}%).";

const ERROR_RATE_EXPR: &str = "100 * sum by (service) (rate(${failures}[${window}])) \
    / sum by (service) (rate(${requests}[${window}])) > ${value}";
const ERROR_RATE_SUMMARY: &str = "{{ $labels.service }}: more than ${value}% of requests failing";
const ERROR_RATE_DESCRIPTION: &str = "{{ printf \"%.2f\" $value }}% of the requests of {{ $labels.service }} failed \
    over the last ${window} (threshold ${value}%).";

const LATENCY_EXPR: &str =
    "histogram_quantile(0.95, sum by (service, le) (rate(${duration_bucket}[${window}]))) > ${value}";
const LATENCY_SUMMARY: &str = "{{ $labels.service }}: p95 latency above ${value}s";
const LATENCY_DESCRIPTION: &str = "The p95 latency of {{ $labels.service }} over the last ${window} is \
    {{ $value | humanizeDuration }} (threshold ${value}s).";

/// Every alert of the document's tables, in rule order.
pub(crate) static ALERTS: [AlertRow; 22] = [
    // Infrastructure: cAdvisor, kubelet and kube-state-metrics series, in percent.
    AlertRow {
        name: "HighCPU",
        table: Table::Infrastructure,
        key: "highCpu",
        threshold: |rules| &rules.infrastructure.high_cpu,
        signal: "cpu",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: PER_CONTAINER,
        expr: CPU_EXPR,
        summary: CPU_SUMMARY,
        description: CPU_DESCRIPTION,
    },
    AlertRow {
        name: "CriticalCPU",
        table: Table::Infrastructure,
        key: "criticalCpu",
        threshold: |rules| &rules.infrastructure.critical_cpu,
        signal: "cpu",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL_SLACK),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: PER_CONTAINER,
        expr: CPU_EXPR,
        summary: CPU_SUMMARY,
        description: CPU_DESCRIPTION,
    },
    AlertRow {
        name: "HighMemory",
        table: Table::Infrastructure,
        key: "highMemory",
        threshold: |rules| &rules.infrastructure.high_memory,
        signal: "memory",
        window: None,
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: PER_CONTAINER,
        expr: MEMORY_EXPR,
        summary: MEMORY_SUMMARY,
        description: MEMORY_DESCRIPTION,
    },
    AlertRow {
        name: "OutOfMemory",
        table: Table::Infrastructure,
        key: "outOfMemory",
        threshold: |rules| &rules.infrastructure.out_of_memory,
        signal: "memory",
        window: None,
        channels: Some(EVERY_CHANNEL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: PER_CONTAINER,
        expr: MEMORY_EXPR,
        summary: MEMORY_SUMMARY,
        description: MEMORY_DESCRIPTION,
    },
    AlertRow {
        name: "DiskFull",
        table: Table::Infrastructure,
        key: "diskFull",
        threshold: |rules| &rules.infrastructure.disk_full,
        signal: "disk",
        window: None,
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        // `max`: a volume mounted on several nodes is reported by each kubelet.
        expr: "100 * max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes) \
            / max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes) > ${value}",
        summary: "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} above ${value}% full",
        description: "Volume {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} is \
            {{ printf \"%.1f\" $value }}% full (threshold ${value}%).",
    },
    AlertRow {
        name: "ContainerCrash",
        table: Table::Infrastructure,
        key: "containerCrash",
        threshold: |rules| &rules.infrastructure.container_crash,
        signal: "restarts",
        window: Some(RESTART_WINDOW),
        channels: Some(SLACK_PAGERDUTY),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: PER_CONTAINER,
        // `increase` extrapolates to the window's edges, so 3 restarts inside a 10m window scraped
        // every minute read as 3.33 and would pass `> 3`. Restarts are whole: `floor` drops the
        // extrapolated fraction, and since extrapolation only ever adds, 4 restarts never read below 4.
        expr: "floor(sum by (namespace, pod, container) \
            (increase(kube_pod_container_status_restarts_total[${window}]))) > ${value}",
        summary: "{{ $labels.namespace }}/{{ $labels.pod }}: container {{ $labels.container }} restarted more than \
            ${value} times in ${window}",
        description: "Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} restarted \
            {{ $value }} times in the last ${window} (threshold ${value}).",
    },
    // Application: per `service` label of the RED metrics.
    AlertRow {
        name: "HighErrorRate",
        table: Table::Application,
        key: "highErrorRate",
        threshold: |rules| &rules.application.high_error_rate,
        signal: "error_rate",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL_SLACK),
        requires: Requires::Alerting,
        scope: Scope::PerService {
            own_threshold: Some(OwnThreshold::Percent {
                key: "errorRateWarning",
                value: |overrides| overrides.error_rate_warning,
            }),
        },
        labels: &[],
        expr: ERROR_RATE_EXPR,
        summary: ERROR_RATE_SUMMARY,
        description: ERROR_RATE_DESCRIPTION,
    },
    AlertRow {
        name: "CriticalErrorRate",
        table: Table::Application,
        key: "criticalErrorRate",
        threshold: |rules| &rules.application.critical_error_rate,
        signal: "error_rate",
        window: Some(DEFAULT_WINDOW),
        channels: Some(SLACK_PAGERDUTY),
        requires: Requires::Alerting,
        scope: Scope::PerService {
            own_threshold: Some(OwnThreshold::Percent {
                key: "errorRateCritical",
                value: |overrides| overrides.error_rate_critical,
            }),
        },
        labels: &[],
        expr: ERROR_RATE_EXPR,
        summary: ERROR_RATE_SUMMARY,
        description: ERROR_RATE_DESCRIPTION,
    },
    AlertRow {
        name: "HighLatency",
        table: Table::Application,
        key: "highLatency",
        threshold: |rules| &rules.application.high_latency,
        signal: "latency",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::PerService {
            own_threshold: Some(OwnThreshold::Duration {
                key: "latencyWarning",
                value: |overrides| overrides.latency_warning.as_ref(),
            }),
        },
        labels: &[],
        expr: LATENCY_EXPR,
        summary: LATENCY_SUMMARY,
        description: LATENCY_DESCRIPTION,
    },
    AlertRow {
        name: "CriticalLatency",
        table: Table::Application,
        key: "criticalLatency",
        threshold: |rules| &rules.application.critical_latency,
        signal: "latency",
        window: Some(DEFAULT_WINDOW),
        channels: Some(SLACK),
        requires: Requires::Alerting,
        scope: Scope::PerService {
            own_threshold: Some(OwnThreshold::Duration {
                key: "latencyCritical",
                value: |overrides| overrides.latency_critical.as_ref(),
            }),
        },
        labels: &[],
        expr: LATENCY_EXPR,
        summary: LATENCY_SUMMARY,
        description: LATENCY_DESCRIPTION,
    },
    AlertRow {
        name: "NoRequests",
        table: Table::Application,
        key: "noRequests",
        threshold: |rules| &rules.application.no_requests,
        signal: "traffic",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::PerService { own_threshold: None },
        labels: &[],
        expr: "sum by (service) (increase(${requests}[${window}])) ${at_most}",
        summary: "{{ $labels.service }}: no requests",
        description: "{{ $labels.service }} received {{ $value }} requests in the last ${window} (alert at \
            ${value} or fewer).",
    },
    AlertRow {
        name: "DatabaseDown",
        table: Table::Application,
        key: "databaseDown",
        threshold: |rules| &rules.application.database_down,
        signal: "database",
        window: None,
        channels: Some(SLACK_PAGERDUTY),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "${database_down}",
        summary: "Database target {{ $labels.job }} is down",
        description: "Prometheus cannot reach {{ $labels.instance }} of {{ $labels.job }}: the database connection \
            failed.",
    },
    // Business: over the whole platform, on the metric names of `spec.metrics.business`.
    AlertRow {
        name: "NoSignups",
        table: Table::Business,
        key: "noSignups",
        threshold: |rules| &rules.business.no_signups,
        signal: "signups",
        window: Some(SIGNUP_WINDOW),
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "sum(increase(${signups}[${window}])) ${at_most}",
        summary: "No new signups in ${window}",
        description: "{{ $value }} users signed up in the last ${window} (alert at ${value} or fewer).",
    },
    AlertRow {
        name: "PaymentFailures",
        table: Table::Business,
        key: "paymentFailures",
        threshold: |rules| &rules.business.payment_failures,
        signal: "payments",
        window: Some(DEFAULT_WINDOW),
        channels: Some(EMAIL_SLACK),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "100 * sum(rate(${payment_failures}[${window}])) / sum(rate(${payments}[${window}])) > ${value}",
        summary: "More than ${value}% of payments failing",
        description: "{{ printf \"%.1f\" $value }}% of payments failed over the last ${window} (threshold ${value}%).",
    },
    AlertRow {
        name: "HighChurn",
        table: Table::Business,
        key: "highChurn",
        threshold: |rules| &rules.business.high_churn,
        signal: "churn",
        window: Some(CHURN_WINDOW),
        channels: Some(EMAIL),
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        // Churn: subscriptions cancelled over the period as a share of those active now.
        expr: "100 * sum(increase(${cancelled_subscriptions}[${window}])) / sum(${active_subscriptions}) > ${value}",
        summary: "Churn above ${value}% over ${window}",
        description: "{{ printf \"%.1f\" $value }}% of subscriptions were cancelled over the last ${window} \
            (threshold ${value}%).",
    },
    // The stack's own health, on the metrics Prometheus v3, Alertmanager v0.29, Thanos v0.40 and
    // Loki 3.5 export about themselves. Not in the document: they follow the severity policy.
    AlertRow {
        name: WATCHDOG,
        table: Table::SelfMonitoring,
        key: "watchdog",
        threshold: |rules| &rules.self_monitoring.watchdog,
        signal: "watchdog",
        window: None,
        channels: None,
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "vector(1)",
        summary: "The alerting pipeline is alive",
        description: "Always firing. A dead man's switch outside the cluster raises the alarm when this alert \
            stops arriving: then Prometheus, its rules or Alertmanager are down.",
    },
    AlertRow {
        name: "PrometheusConfigReloadFailed",
        table: Table::SelfMonitoring,
        key: "prometheusConfigReload",
        threshold: |rules| &rules.self_monitoring.prometheus_config_reload,
        signal: "prometheus_config",
        window: None,
        channels: None,
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "max by (namespace, pod) (prometheus_config_last_reload_successful) == 0",
        summary: "Prometheus {{ $labels.namespace }}/{{ $labels.pod }} cannot load its configuration",
        description: "The last configuration reload of {{ $labels.pod }} failed: it keeps running the previous \
            configuration, and changes to scrape jobs and rules do not apply.",
    },
    AlertRow {
        name: "PrometheusRuleEvaluationFailures",
        table: Table::SelfMonitoring,
        key: "ruleEvaluationFailures",
        threshold: |rules| &rules.self_monitoring.rule_evaluation_failures,
        signal: "rule_evaluation",
        window: Some(DEFAULT_WINDOW),
        channels: None,
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "sum by (namespace, pod, rule_group) (increase(prometheus_rule_evaluation_failures_total[${window}])) \
            > ${value}",
        summary: "Rules of {{ $labels.rule_group }} fail to evaluate",
        description: "{{ $value }} evaluations of {{ $labels.rule_group }} failed in {{ $labels.pod }} over the last \
            ${window} (threshold ${value}): their alerts cannot fire.",
    },
    AlertRow {
        name: "AlertmanagerConfigReloadFailed",
        table: Table::SelfMonitoring,
        key: "alertmanagerConfigReload",
        threshold: |rules| &rules.self_monitoring.alertmanager_config_reload,
        signal: "alertmanager_config",
        window: None,
        channels: None,
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "max by (namespace, pod) (alertmanager_config_last_reload_successful) == 0",
        summary: "Alertmanager {{ $labels.namespace }}/{{ $labels.pod }} cannot load its configuration",
        description: "The last configuration reload of {{ $labels.pod }} failed: it keeps routing with the previous \
            configuration.",
    },
    AlertRow {
        name: "AlertmanagerNotificationsFailing",
        table: Table::SelfMonitoring,
        key: "notificationsFailing",
        threshold: |rules| &rules.self_monitoring.notifications_failing,
        signal: "notifications",
        window: Some(DEFAULT_WINDOW),
        channels: None,
        requires: Requires::Alerting,
        scope: Scope::Everything,
        labels: &[],
        expr: "100 * sum by (namespace, integration) (rate(alertmanager_notifications_failed_total[${window}])) \
            / sum by (namespace, integration) (rate(alertmanager_notifications_total[${window}])) > ${value}",
        summary: "Alertmanager fails to deliver to {{ $labels.integration }}",
        description: "{{ printf \"%.1f\" $value }}% of the {{ $labels.integration }} notifications failed over the \
            last ${window} (threshold ${value}%).",
    },
    AlertRow {
        name: "ThanosCompactionHalted",
        table: Table::SelfMonitoring,
        key: "compactionHalted",
        threshold: |rules| &rules.self_monitoring.compaction_halted,
        signal: "compaction",
        window: None,
        channels: None,
        requires: Requires::Downsampling,
        scope: Scope::Everything,
        labels: &[],
        expr: "max by (namespace, pod) (thanos_compact_halted) == 1",
        summary: "The Thanos compactor {{ $labels.namespace }}/{{ $labels.pod }} halted",
        description: "{{ $labels.pod }} stopped on an error: blocks are no longer compacted or downsampled and \
            the retention tiers are not enforced until it is fixed and restarted.",
    },
    AlertRow {
        name: "LokiIngestionRefused",
        table: Table::SelfMonitoring,
        key: "logIngestionRefused",
        threshold: |rules| &rules.self_monitoring.log_ingestion_refused,
        signal: "log_ingestion",
        window: Some(DEFAULT_WINDOW),
        channels: None,
        requires: Requires::Logging,
        scope: Scope::Everything,
        labels: &[],
        expr: "sum by (namespace, reason) (increase(loki_discarded_samples_total[${window}])) > ${value}",
        summary: "Loki refuses log lines ({{ $labels.reason }})",
        description: "Loki discarded {{ $value }} log lines over the last ${window} for {{ $labels.reason }} \
            (threshold ${value}): they are lost.",
    },
];

/// Names of the alerts a ServiceMonitor may disable or retune for its service, in table order
/// (the tests hold them equal to the names validation accepts).
#[cfg(test)]
pub(crate) fn per_service_alerts() -> impl Iterator<Item = &'static str> {
    ALERTS.iter().filter(|row| matches!(row.scope, Scope::PerService { .. })).map(|row| row.name)
}
