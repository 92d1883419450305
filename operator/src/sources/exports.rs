//! Which source exports which metric names: the table the rule-source check reads.
//!
//! "Produced by a scrape job" is decided statically, from what each job scrapes:
//! - every job: `up` and the scrape series Prometheus adds itself (`scrape_*`);
//! - the stack's own components and the kubelet, cAdvisor, kube-state-metrics and node-exporter
//!   jobs: the metric name prefixes of [`JOB_EXPORTS`] (kube-state-metrics only for the objects
//!   the stack's own reports on; a cluster's own selected with `existing` for every `kube_*`);
//! - a ServiceMonitor's jobs: the RED metrics of `spec.metrics.red` (the duration histogram's
//!   `_bucket`, `_count`, `_sum`, and the histogram itself when the monitor says it is native),
//!   the names its `spec.metrics` declares, and its database's `upMetric`.

use crate::render::exporters::KUBE_STATE_METRICS_RESOURCES;

/// Series every scrape job produces, whatever it scrapes.
pub(crate) const EVERY_JOB: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// What Go programs' client libraries export besides their own series.
const GO_RUNTIME: [&str; 2] = ["go_*", "process_*"];

/// The metric names (a trailing `*` is a prefix) each job of the stack's own components, the
/// kubelet and the exporters exports, by job name. kube-state-metrics' are derived from the
/// objects it reports on ([`kube_state_metrics_exports`]).
pub(crate) const JOB_EXPORTS: [(&str, &[&str]); 15] = [
    ("prometheus", &["prometheus_*", "promhttp_*", "net_conntrack_*"]),
    ("thanos-sidecar", &["thanos_*", "prometheus_*"]),
    ("thanos-compactor", &["thanos_*", "prometheus_*"]),
    ("thanos-store", &["thanos_*", "prometheus_*"]),
    ("thanos-query", &["thanos_*", "prometheus_*"]),
    ("alertmanager", &["alertmanager_*", "cluster_*", "nflog_*"]),
    ("loki", &["loki_*", "cortex_*"]),
    ("promtail", &["promtail_*", "request_duration_seconds_*"]),
    ("alloy", &["alloy_*", "loki_*", "prometheus_*"]),
    ("grafana", &["grafana_*"]),
    ("jaeger", &["otelcol_*", "jaeger_*"]),
    ("jaeger-spanmetrics", &["traces_span_metrics_*"]),
    ("kubelet", &["kubelet_*", "volume_manager_*", "storage_operation_*", "rest_client_*"]),
    ("cadvisor", &["container_*", "machine_*"]),
    ("node-exporter", &["node_*"]),
];

/// Job name of kube-state-metrics, the stack's or the cluster's.
pub(crate) const KUBE_STATE_METRICS_JOB: &str = "kube-state-metrics";

/// kube-state-metrics' metric name prefixes: `kube_<object>_*` for each object the stack's own
/// reports on, or every `kube_*` for a cluster's own, whose `--resources` the stack cannot know.
pub(crate) fn kube_state_metrics_exports(own: bool) -> Vec<String> {
    if !own {
        return vec!["kube_*".to_owned()];
    }
    KUBE_STATE_METRICS_RESOURCES
        .iter()
        .map(|(_, plural)| format!("kube_{}_*", plural.strip_suffix('s').unwrap_or(plural)))
        .collect()
}

/// The exports of a stack component's, the kubelet's or an exporter's job; `None` for a job the
/// table does not know (a test holds every rendered job to having an entry).
pub(crate) fn job_exports(job: &str, own_kube_state_metrics: bool) -> Option<Vec<String>> {
    let mut names: Vec<String> = if job == KUBE_STATE_METRICS_JOB {
        kube_state_metrics_exports(own_kube_state_metrics)
    } else {
        let (_, names) = JOB_EXPORTS.iter().find(|(name, _)| *name == job)?;
        names.iter().map(|name| (*name).to_owned()).collect()
    };
    names.extend(GO_RUNTIME.iter().map(|name| (*name).to_owned()));
    Some(names)
}
