//! Deterministic fixtures of large monitor sets: the benchmarks and the scale harness render and
//! apply the same monitors.
//!
//! Each monitor looks like one of a real fleet's: three endpoints (the service's metrics port,
//! an admin port scraped less often, and a mesh sidecar scraped by target port), the
//! relabelings and metricRelabelings people write for those, target and pod labels, a job label,
//! a sample limit, and on some monitors an SLO or alert overrides. The values vary with the
//! monitor's index only, so the same `count` always gives the same monitors, byte for byte.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;
use stackscope::api::{ObservabilityStack, ObservabilityStackSpec, ServiceMonitor, ServiceMonitorSpec};

/// Namespaces the monitors are spread over, round robin: `bench-00` … `bench-19`.
pub const NAMESPACE_COUNT: usize = 20;
/// Label every generated monitor carries and the generated stack selects them by.
pub const SELECT_LABEL: (&str, &str) = ("stackscope.dev/bench", "scale");
/// Service port names the endpoints scrape (the scale harness gives its Services these ports).
pub const METRICS_PORT: &str = "http-metrics";
pub const ADMIN_PORT: &str = "admin";
/// Pod port number of the mesh sidecar's metrics, scraped by `targetPort`.
pub const SIDECAR_PORT: i32 = 15090;
/// Label of the Services the monitors select by (`app.kubernetes.io/name: <monitor name>`).
pub const SERVICE_SELECTOR_LABEL: &str = "app.kubernetes.io/name";
/// Every `SLO_EVERY`-th monitor has an SLO, every `OVERRIDES_EVERY`-th alert overrides.
pub const SLO_EVERY: usize = 10;
pub const OVERRIDES_EVERY: usize = 25;

/// Name of the namespace of monitor `index`.
pub fn namespace_of(index: usize) -> String {
    format!("bench-{:02}", index % NAMESPACE_COUNT)
}

/// Every namespace [`service_monitors`] uses (fewer when `count` is below [`NAMESPACE_COUNT`]).
pub fn namespaces(count: usize) -> Vec<String> {
    (0..count.min(NAMESPACE_COUNT)).map(namespace_of).collect()
}

/// Name of monitor `index` (and of the Service it selects): `svc-00042`.
pub fn monitor_name(index: usize) -> String {
    format!("svc-{index:05}")
}

/// The team owning monitor `index`, one of eight.
fn team_of(index: usize) -> String {
    format!("team-{}", index % 8)
}

/// The spec of monitor `index`.
pub fn monitor_spec(index: usize) -> ServiceMonitorSpec {
    let name = monitor_name(index);
    let interval = ["15s", "30s", "15s", "60s"][index % 4];
    let tiers = ["backend", "frontend", "worker"];
    let mut spec = json!({
        "jobLabel": SERVICE_SELECTOR_LABEL,
        "targetLabels": ["team", "tier"],
        "podTargetLabels": ["version"],
        "sampleLimit": 50_000,
        "selector": {
            "matchLabels": {SERVICE_SELECTOR_LABEL: name},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": tiers}],
        },
        "endpoints": [
            {
                "port": METRICS_PORT,
                "path": "/metrics",
                "interval": interval,
                "scrapeTimeout": "10s",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
                    {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_version"], "targetLabel": "app_version"},
                    {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(team|component)"},
                    {"sourceLabels": ["__meta_kubernetes_pod_annotation_stackscope_dev_shard"], "regex": "(.+)", "targetLabel": "shard", "replacement": "${1}"},
                ],
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": "go_gc_duration_seconds.*|go_memstats_.*_total", "action": "drop"},
                    {"action": "labeldrop", "regex": "pod_template_hash|controller_revision_hash"},
                    {"sourceLabels": ["__name__", "le"], "separator": ";", "regex": "http_request_duration_seconds_bucket;(0.001|0.0025)", "action": "drop"},
                ],
            },
            {
                "port": ADMIN_PORT,
                "path": "/admin/metrics",
                "interval": "60s",
                "scrapeTimeout": "30s",
                "params": {"format": ["prometheus"]},
                "honorLabels": true,
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
                    {"targetLabel": "endpoint_kind", "replacement": "admin"},
                ],
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": "(jvm|process)_.*", "action": "keep"},
                ],
            },
            {
                "targetPort": SIDECAR_PORT,
                "path": "/stats/prometheus",
                "interval": "30s",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_container_name"], "regex": "istio-proxy|envoy", "action": "keep"},
                    {"sourceLabels": ["__address__"], "modulus": 4, "targetLabel": "__tmp_hash", "action": "hashmod"},
                ],
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": "envoy_cluster_(upstream_cx|upstream_rq)_.*", "action": "keep"},
                    {"sourceLabels": ["cluster_name"], "regex": "outbound\\|.*", "targetLabel": "direction", "replacement": "outbound"},
                    {"action": "labeldrop", "regex": "envoy_.*_id"},
                ],
            },
        ],
    });
    if index.is_multiple_of(SLO_EVERY) {
        let (availability, latency) = [(99.9, "100ms"), (99.95, "250ms"), (99.5, "1s")][index / SLO_EVERY % 3];
        spec["slo"] = json!({"availability": availability, "latencyP95": latency, "errorRate": 1});
    }
    if index.is_multiple_of(OVERRIDES_EVERY) {
        spec["alerts"] = json!({"disabled": ["NoRequests"], "errorRateWarning": 2, "latencyWarning": "500ms"});
    }
    // The JSON above is a valid spec by construction; the unit test below checks it parses.
    serde_json::from_value(spec).unwrap_or_else(|error| unreachable!("fixture spec is valid: {error}"))
}

/// Monitor `index`, with namespace, labels and identity (uid, resourceVersion, generation) set
/// as an API server would, so the render cache can key on them.
pub fn service_monitor(index: usize) -> ServiceMonitor {
    let mut monitor = ServiceMonitor::new(&monitor_name(index), monitor_spec(index));
    let labels: BTreeMap<String, String> =
        [(SELECT_LABEL.0.to_owned(), SELECT_LABEL.1.to_owned()), ("team".to_owned(), team_of(index))].into();
    monitor.metadata = ObjectMeta {
        name: Some(monitor_name(index)),
        namespace: Some(namespace_of(index)),
        labels: Some(labels),
        uid: Some(format!("00000000-0000-4000-8000-{index:012}")),
        resource_version: Some("1".to_owned()),
        generation: Some(1),
        ..ObjectMeta::default()
    };
    monitor
}

/// `count` monitors, `svc-00000` onwards, spread over [`NAMESPACE_COUNT`] namespaces.
pub fn service_monitors(count: usize) -> Vec<ServiceMonitor> {
    (0..count).map(service_monitor).collect()
}

/// The stack that selects every generated monitor: production defaults (Loki, Prometheus,
/// alerting, SLOs, Grafana, Jaeger), monitors of any namespace with [`SELECT_LABEL`].
pub fn stack(namespace: &str) -> ObservabilityStack {
    let spec: ObservabilityStackSpec = serde_json::from_value(json!({
        "environment": "production",
        "monitorSelector": {"matchLabels": {SELECT_LABEL.0: SELECT_LABEL.1}},
        "monitorNamespaceSelector": {"any": true},
        "metrics": {"prometheus": {"externalLabels": {"cluster": "bench"}}},
    }))
    .unwrap_or_else(|error| unreachable!("fixture stack is valid: {error}"));
    let mut stack = ObservabilityStack::new("bench", spec);
    stack.metadata.namespace = Some(namespace.to_owned());
    stack.metadata.uid = Some("00000000-0000-4000-8000-stackbench00".to_owned());
    stack.metadata.generation = Some(1);
    stack
}

#[cfg(test)]
mod tests {
    use stackscope::resolve::{ResolvedStack, stack_selects};

    use super::*;

    #[test]
    fn the_same_count_gives_the_same_monitors() {
        let first = serde_json::to_string(&service_monitors(50)).unwrap();
        let second = serde_json::to_string(&service_monitors(50)).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn the_stack_selects_every_monitor_and_both_validate() {
        let stack = stack("monitoring");
        let monitors = service_monitors(120);
        assert!(monitors.iter().all(|monitor| stack_selects(&stack, monitor)));
        assert!(stackscope::validate::stack(&stack.spec).is_empty());
        let schemas = stackscope::schema::SchemaValidator::new();
        let stack_errors = schemas.validate("ObservabilityStack", &serde_json::to_value(&stack).unwrap());
        assert!(stack_errors.is_empty(), "{stack_errors:?}");
        for monitor in &monitors {
            let errors = schemas.validate("ServiceMonitor", &serde_json::to_value(monitor).unwrap());
            assert!(errors.is_empty(), "{errors:?}");
            assert!(stackscope::validate::monitor(&monitor.spec).is_empty(), "{:?}", monitor.metadata.name);
            assert_eq!(monitor.spec.endpoints.len(), 3);
        }
        assert_eq!(namespaces(120).len(), NAMESPACE_COUNT);
        assert_eq!(monitors.iter().filter(|monitor| monitor.spec.slo.is_some()).count(), 12);
        let resolved = ResolvedStack::new(&stack, &monitors);
        assert!(stackscope::render::render_stack(&resolved).is_ok());
    }
}
