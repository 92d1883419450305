//! The document's alert tables (Infrastructure, Application and Business Alerts) as data: one row
//! per alert, saying what it measures and how its rule reads. [`super::alerts`] turns the rows
//! into rules; the per-service overrides are logic and stay there.
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

use super::{APPLICATION_FILE, BUSINESS_FILE, DEFAULT_WINDOW, INFRASTRUCTURE_FILE};
use crate::api::{AlertOverrides, AlertRules, AlertThreshold, ScrapeDuration};

/// The document's alert tables, each one rule file with one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Infrastructure,
    Application,
    Business,
}

impl Table {
    /// Every table, in file order.
    pub const ALL: [Self; 3] = [Self::Infrastructure, Self::Application, Self::Business];

    /// The table's field of `spec.alerting.rules`, also the name of its rule group.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Infrastructure => "infrastructure",
            Self::Application => "application",
            Self::Business => "business",
        }
    }

    /// The rule file the table's alerts go into.
    pub(crate) fn file(self) -> &'static str {
        match self {
            Self::Infrastructure => INFRASTRUCTURE_FILE,
            Self::Application => APPLICATION_FILE,
            Self::Business => BUSINESS_FILE,
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
    /// Labels besides severity, incident level and signal.
    pub labels: &'static [(&'static str, &'static str)],
    pub expr: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
}

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
pub(crate) static ALERTS: [AlertRow; 15] = [
    // Infrastructure: cAdvisor, kubelet and kube-state-metrics series, in percent.
    AlertRow {
        name: "HighCPU",
        table: Table::Infrastructure,
        key: "highCpu",
        threshold: |rules| &rules.infrastructure.high_cpu,
        signal: "cpu",
        window: Some(DEFAULT_WINDOW),
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
        scope: Scope::Everything,
        labels: &[],
        // Churn: subscriptions cancelled over the period as a share of those active now.
        expr: "100 * sum(increase(${cancelled_subscriptions}[${window}])) / sum(${active_subscriptions}) > ${value}",
        summary: "Churn above ${value}% over ${window}",
        description: "{{ printf \"%.1f\" $value }}% of subscriptions were cancelled over the last ${window} \
            (threshold ${value}%).",
    },
];

/// Names of the alerts a ServiceMonitor may disable or retune for its service, in table order
/// (the tests hold them equal to the names validation accepts).
#[cfg(test)]
pub(crate) fn per_service_alerts() -> impl Iterator<Item = &'static str> {
    ALERTS.iter().filter(|row| matches!(row.scope, Scope::PerService { .. })).map(|row| row.name)
}
