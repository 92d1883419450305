//! Jaeger v2: an OpenTelemetry Collector distribution that takes OTLP in, keeps traces in its
//! storage extension and serves the query API and UI Grafana's Jaeger datasource reads.
//!
//! One pod runs the whole pipeline (receivers → processors → storage exporter, plus span
//! metrics for Prometheus when metrics are on). Badger storage gets a PersistentVolumeClaim and
//! a `Recreate` Deployment, because Badger holds an exclusive lock on its directory.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaimVolumeSource, ResourceRequirements, Service, Volume};
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{
    config_map, content_hash, into_object, metadata, object_name, object_name_with, pod_selector, service, service_url,
    strings, to_yaml,
};
use super::pod::{
    ProbeTiming, config_map_volume, container_ports, empty_dir_volume, http_probe, pod_template, resource_requirements,
    restricted_container_security, restricted_pod_spec, volume_claim, volume_mount,
};
use super::{Component, RenderError, ports};
use crate::api::{Duration, TraceBackend};
use crate::resolve::ResolvedStack;

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "config.yaml";
/// Name of the trace storage backend inside the config.
const TRACE_STORE: &str = "traces";
/// Name of the span-metrics backend (Prometheus) inside the config.
const METRICS_STORE: &str = "spanmetrics";
/// Where Badger keeps its files.
const BADGER_DIRECTORY: &str = "/badger";
/// Path of the healthcheckv2 status endpoint used by the probes.
pub(crate) const HEALTH_PATH: &str = "/status";
/// The user of the upstream image.
const JAEGER_USER: i64 = 10001;
/// Span attributes the span metrics carry beyond service, span name, kind and status: the
/// performance budgets of the database and Milvus select spans by `db_system`.
pub(crate) const SPAN_METRICS_DIMENSIONS: [&str; 1] = ["db.system"];

/// The Jaeger v2 (OpenTelemetry Collector) configuration.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct JaegerConfig {
    pub service: ServiceSection,
    pub extensions: Extensions,
    pub receivers: Receivers,
    pub processors: Processors,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Connectors>,
    pub exporters: Exporters,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Connectors {
    pub spanmetrics: SpanMetricsConnector,
}

/// The spanmetrics connector: R.E.D. metrics of every span, with extra span attributes as labels.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct SpanMetricsConnector {
    pub dimensions: Vec<Dimension>,
}

/// A span attribute the span metrics are split by (`db.system` becomes the label `db_system`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Dimension {
    pub name: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ServiceSection {
    pub extensions: Vec<String>,
    pub pipelines: BTreeMap<String, Pipeline>,
    pub telemetry: Telemetry,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub receivers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Telemetry {
    pub resource: BTreeMap<String, String>,
    pub metrics: TelemetryMetrics,
    pub logs: TelemetryLogs,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TelemetryMetrics {
    pub level: String,
    pub readers: Vec<MetricReader>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct MetricReader {
    pub pull: PullReader,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PullReader {
    pub exporter: PullExporter,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PullExporter {
    pub prometheus: HostPort,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct HostPort {
    pub host: String,
    pub port: u16,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TelemetryLogs {
    pub level: String,
    pub encoding: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Extensions {
    pub healthcheckv2: HealthCheck,
    pub jaeger_query: JaegerQuery,
    pub jaeger_storage: JaegerStorage,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct HealthCheck {
    pub use_v2: bool,
    pub http: HealthHttp,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct HealthHttp {
    pub endpoint: String,
    pub status: PathToggle,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PathToggle {
    pub enabled: bool,
    pub path: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct JaegerQuery {
    pub storage: QueryStorage,
    pub http: Endpoint,
    pub grpc: Endpoint,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct QueryStorage {
    pub traces: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Endpoint {
    pub endpoint: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct JaegerStorage {
    pub backends: BTreeMap<String, TraceBackendConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metric_backends: BTreeMap<String, MetricBackendConfig>,
}

/// One trace storage backend: exactly one of the fields is set.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TraceBackendConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStorage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub badger: Option<BadgerStorage>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct MemoryStorage {
    pub max_traces: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct BadgerStorage {
    pub directories: BadgerDirectories,
    pub ephemeral: bool,
    pub ttl: BadgerTtl,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct BadgerDirectories {
    pub keys: String,
    pub values: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct BadgerTtl {
    pub spans: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct MetricBackendConfig {
    pub prometheus: PrometheusMetricBackend,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PrometheusMetricBackend {
    pub endpoint: String,
    pub normalize_calls: bool,
    pub normalize_duration: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Receivers {
    pub otlp: Otlp,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Otlp {
    pub protocols: OtlpProtocols,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct OtlpProtocols {
    pub grpc: Endpoint,
    pub http: Endpoint,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Processors {
    pub memory_limiter: MemoryLimiter,
    pub batch: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_sampling: Option<TailSampling>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct MemoryLimiter {
    pub check_interval: String,
    pub limit_mib: u64,
    pub spike_limit_mib: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TailSampling {
    pub decision_wait: String,
    pub policies: Vec<SamplingPolicy>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct SamplingPolicy {
    pub name: String,
    #[serde(rename = "type")]
    pub policy_type: String,
    pub probabilistic: Probabilistic,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Probabilistic {
    pub sampling_percentage: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Exporters {
    pub jaeger_storage_exporter: StorageExporter,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<Endpoint>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct StorageExporter {
    pub trace_storage: String,
}

fn listen(port: u16) -> Endpoint {
    Endpoint { endpoint: format!("0.0.0.0:{port}") }
}

/// A duration as Go's `time.ParseDuration` reads it, which is how Jaeger reads its durations: the
/// spec's Prometheus durations may use `d`, `w` and `y`, which Go does not know (`7d` → `168h`;
/// a year is 365 days, as in Prometheus). Text that is no duration is passed as written, for
/// Jaeger to refuse.
fn go_duration(duration: &Duration) -> String {
    let Some(mut millis) = duration.to_millis() else {
        return duration.as_str().to_owned();
    };
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut text = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            text.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    text
}

/// Whether span metrics are produced: only when a Prometheus of the stack scrapes them.
fn span_metrics_enabled(stack: &ResolvedStack) -> bool {
    Component::Prometheus.enabled(stack)
}

/// Builds the Jaeger configuration for the stack.
pub(crate) fn config(stack: &ResolvedStack) -> Result<JaegerConfig, RenderError> {
    let tracing = &stack.spec.tracing;
    let span_metrics = span_metrics_enabled(stack);
    let backend = match tracing.storage.backend {
        TraceBackend::Memory => {
            TraceBackendConfig { memory: Some(MemoryStorage { max_traces: tracing.storage.max_traces }), badger: None }
        }
        TraceBackend::Badger => TraceBackendConfig {
            memory: None,
            badger: Some(BadgerStorage {
                directories: BadgerDirectories {
                    keys: format!("{BADGER_DIRECTORY}/keys"),
                    values: format!("{BADGER_DIRECTORY}/values"),
                },
                ephemeral: false,
                ttl: BadgerTtl { spans: go_duration(&tracing.storage.retention) },
            }),
        },
    };
    let mut metric_backends = BTreeMap::new();
    if span_metrics {
        metric_backends.insert(
            METRICS_STORE.to_owned(),
            MetricBackendConfig {
                prometheus: PrometheusMetricBackend {
                    endpoint: service_url(stack, Component::Prometheus, ports::PROMETHEUS_HTTP),
                    normalize_calls: true,
                    normalize_duration: true,
                },
            },
        );
    }
    // Sampling below 100% needs whole traces, so it is a tail-sampling decision.
    let sampled = tracing.sampling_ratio < 1.0;
    let tail_sampling = sampled.then(|| TailSampling {
        decision_wait: "10s".to_owned(),
        policies: vec![SamplingPolicy {
            name: "sampling-ratio".to_owned(),
            policy_type: "probabilistic".to_owned(),
            probabilistic: Probabilistic { sampling_percentage: tracing.sampling_ratio * 100.0 },
        }],
    });
    let mut processors = strings(&["memory_limiter"]);
    if sampled {
        processors.push("tail_sampling".to_owned());
    }
    processors.push("batch".to_owned());
    let mut trace_exporters = strings(&["jaeger_storage_exporter"]);
    let mut pipelines = BTreeMap::new();
    let mut connectors = None;
    if span_metrics {
        trace_exporters.push("spanmetrics".to_owned());
        connectors = Some(Connectors {
            spanmetrics: SpanMetricsConnector {
                dimensions: SPAN_METRICS_DIMENSIONS.iter().map(|name| Dimension { name: (*name).to_owned() }).collect(),
            },
        });
        pipelines.insert(
            "metrics/spanmetrics".to_owned(),
            Pipeline {
                receivers: strings(&["spanmetrics"]),
                processors: Vec::new(),
                exporters: strings(&["prometheus"]),
            },
        );
    }
    pipelines.insert(
        "traces".to_owned(),
        Pipeline { receivers: strings(&["otlp"]), processors, exporters: trace_exporters },
    );
    Ok(JaegerConfig {
        service: ServiceSection {
            extensions: strings(&["healthcheckv2", "jaeger_storage", "jaeger_query"]),
            pipelines,
            telemetry: Telemetry {
                resource: BTreeMap::from([("service.name".to_owned(), "jaeger".to_owned())]),
                metrics: TelemetryMetrics {
                    level: "detailed".to_owned(),
                    readers: vec![MetricReader {
                        pull: PullReader {
                            exporter: PullExporter {
                                prometheus: HostPort { host: "0.0.0.0".to_owned(), port: ports::JAEGER_METRICS },
                            },
                        },
                    }],
                },
                logs: TelemetryLogs { level: "info".to_owned(), encoding: "json".to_owned() },
            },
        },
        extensions: Extensions {
            healthcheckv2: HealthCheck {
                use_v2: true,
                http: HealthHttp {
                    endpoint: format!("0.0.0.0:{}", ports::JAEGER_HEALTH),
                    status: PathToggle { enabled: true, path: HEALTH_PATH.to_owned() },
                },
            },
            jaeger_query: JaegerQuery {
                storage: QueryStorage {
                    traces: TRACE_STORE.to_owned(),
                    metrics: span_metrics.then(|| METRICS_STORE.to_owned()),
                },
                http: listen(ports::JAEGER_QUERY_HTTP),
                grpc: listen(ports::JAEGER_QUERY_GRPC),
            },
            jaeger_storage: JaegerStorage {
                backends: BTreeMap::from([(TRACE_STORE.to_owned(), backend)]),
                metric_backends,
            },
        },
        receivers: Receivers {
            otlp: Otlp {
                protocols: OtlpProtocols { grpc: listen(tracing.otlp_grpc_port), http: listen(tracing.otlp_http_port) },
            },
        },
        processors: Processors { memory_limiter: memory_limiter(stack)?, batch: BTreeMap::new(), tail_sampling },
        connectors,
        exporters: Exporters {
            jaeger_storage_exporter: StorageExporter { trace_storage: TRACE_STORE.to_owned() },
            prometheus: span_metrics.then(|| listen(ports::JAEGER_SPANMETRICS)),
        },
    })
}

/// The named ports of the Jaeger pod and Service.
/// The container's requests and limits: the spec's over the defaults.
fn container_resources(stack: &ResolvedStack) -> ResourceRequirements {
    resource_requirements(&stack.spec.tracing.resources, crate::api::defaults::resources::JAEGER)
}

/// The memory limiter, sized from the container's own memory limit: refusing data at 80% of it
/// and garbage-collecting harder within 25% of that, so the collector sheds load before the
/// kernel kills it. (Percentages would be of the node's memory where no cgroup limit is read.)
fn memory_limiter(stack: &ResolvedStack) -> Result<MemoryLimiter, RenderError> {
    let limit = container_resources(stack).limits.and_then(|limits| limits.get("memory").map(|q| q.0.clone()));
    let limit_mib = limit
        .as_deref()
        .and_then(crate::api::mebibytes)
        .filter(|size| *size >= crate::api::JAEGER_MIN_MEMORY_MIB)
        .ok_or_else(|| {
            RenderError::invalid(
                Component::Jaeger,
                "spec.tracing.resources.limits.memory",
                format!("{} is not a memory quantity of at least 16Mi (e.g. 1Gi, 512Mi)", limit.unwrap_or_default()),
            )
        })?;
    Ok(MemoryLimiter { check_interval: "1s".to_owned(), limit_mib: limit_mib * 4 / 5, spike_limit_mib: limit_mib / 4 })
}

fn named_ports(stack: &ResolvedStack) -> Vec<(&'static str, u16)> {
    let tracing = &stack.spec.tracing;
    let mut named = vec![
        ("otlp-grpc", tracing.otlp_grpc_port),
        ("otlp-http", tracing.otlp_http_port),
        ("query-http", ports::JAEGER_QUERY_HTTP),
        ("query-grpc", ports::JAEGER_QUERY_GRPC),
        ("health", ports::JAEGER_HEALTH),
        ("metrics", ports::JAEGER_METRICS),
    ];
    if span_metrics_enabled(stack) {
        named.push(("spanmetrics", ports::JAEGER_SPANMETRICS));
    }
    named
}

/// Renders the ConfigMap, the optional Badger volume claim, the Deployment and the Service.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let tracing = &stack.spec.tracing;
    let name = object_name(stack, Component::Jaeger);
    let files = BTreeMap::from([(CONFIG_FILE.to_owned(), to_yaml(Component::Jaeger, CONFIG_FILE, &config(stack)?)?)]);
    let hash = content_hash(&files);
    let mut objects = vec![into_object(Component::Jaeger, config_map(stack, Component::Jaeger, name.clone(), files))?];

    let data_volume = match tracing.storage.backend {
        TraceBackend::Badger => {
            let claim_name = object_name_with(stack, Component::Jaeger, "data");
            let claim = volume_claim(
                metadata(stack, Component::Jaeger, claim_name.clone()),
                &tracing.storage.size,
                tracing.storage.storage_class_name.as_deref(),
            );
            objects.push(into_object(Component::Jaeger, claim)?);
            Volume {
                name: "data".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name, read_only: None }),
                ..Volume::default()
            }
        }
        TraceBackend::Memory => empty_dir_volume("data"),
    };

    let named = named_ports(stack);
    let container = Container {
        name: "jaeger".to_owned(),
        image: Some(tracing.image.as_str().to_owned()),
        args: Some(vec![format!("--config=/etc/jaeger/{CONFIG_FILE}")]),
        ports: Some(container_ports(&named)),
        liveness_probe: Some(http_probe(HEALTH_PATH, "health", ProbeTiming::after(10))),
        readiness_probe: Some(http_probe(HEALTH_PATH, "health", ProbeTiming::after(5).failures(2))),
        resources: Some(container_resources(stack)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![
            volume_mount("config", "/etc/jaeger", true),
            volume_mount("data", BADGER_DIRECTORY, false),
        ]),
        ..Container::default()
    };
    let deployment = Deployment {
        metadata: metadata(stack, Component::Jaeger, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: pod_selector(stack, Component::Jaeger),
            // Badger locks its directory and memory storage is per pod: never two pods at once.
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".to_owned()), rolling_update: None }),
            template: pod_template(
                stack,
                Component::Jaeger,
                Some(hash),
                restricted_pod_spec(
                    JAEGER_USER,
                    vec![container],
                    vec![config_map_volume("config", &name), data_volume],
                ),
            ),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    objects.push(into_object(Component::Jaeger, deployment)?);
    let svc: Service = service(stack, Component::Jaeger, name, &named);
    objects.push(into_object(Component::Jaeger, svc)?);
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Environment;
    use crate::render::common::CONFIG_HASH_ANNOTATION;
    use crate::render::fixtures::{machineavatars, minimal};

    fn parsed(stack: &ResolvedStack) -> serde_json::Value {
        let text = to_yaml(Component::Jaeger, "config", &config(stack).unwrap()).unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn otlp_receivers_listen_on_all_interfaces_on_the_seed_ports() {
        let config = parsed(&machineavatars());
        assert_eq!(config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4317");
        assert_eq!(config["receivers"]["otlp"]["protocols"]["http"]["endpoint"], "0.0.0.0:4318");
        assert_eq!(config["service"]["pipelines"]["traces"]["receivers"], serde_json::json!(["otlp"]));
    }

    #[test]
    fn storage_and_query_extensions_point_at_the_same_backend() {
        let config = parsed(&machineavatars());
        let store = config["extensions"]["jaeger_query"]["storage"]["traces"].as_str().unwrap();
        assert_eq!(config["exporters"]["jaeger_storage_exporter"]["trace_storage"], store);
        let badger = &config["extensions"]["jaeger_storage"]["backends"][store]["badger"];
        assert_eq!(badger["ttl"]["spans"], "72h");
        assert_eq!(badger["ephemeral"], false);
        assert_eq!(
            config["service"]["extensions"],
            serde_json::json!(["healthcheckv2", "jaeger_storage", "jaeger_query"])
        );
    }

    #[test]
    fn span_metrics_feed_prometheus_and_the_query_monitor_tab() {
        let config = parsed(&machineavatars());
        assert_eq!(config["exporters"]["prometheus"]["endpoint"], "0.0.0.0:8889");
        assert_eq!(
            config["service"]["pipelines"]["traces"]["exporters"],
            serde_json::json!(["jaeger_storage_exporter", "spanmetrics"])
        );
        assert_eq!(config["connectors"]["spanmetrics"]["dimensions"], serde_json::json!([{"name": "db.system"}]));
        assert_eq!(
            config["extensions"]["jaeger_storage"]["metric_backends"]["spanmetrics"]["prometheus"]["endpoint"],
            "http://machineavatars-prometheus.observability.svc:9090"
        );

        let mut no_metrics = minimal(Environment::Staging);
        no_metrics.spec.metrics.enabled = false;
        no_metrics.spec.alerting.enabled = false;
        let config = parsed(&no_metrics);
        assert!(config["exporters"].get("prometheus").is_none());
        assert!(config.get("connectors").is_none());
        assert!(config["extensions"]["jaeger_query"]["storage"].get("metrics").is_none());
    }

    #[test]
    fn memory_storage_has_no_volume_claim_and_sampling_below_one_tail_samples() {
        let mut stack = minimal(Environment::Development);
        stack.spec.tracing.storage.backend = TraceBackend::Memory;
        stack.spec.tracing.sampling_ratio = 0.25;
        let config = parsed(&stack);
        assert_eq!(config["extensions"]["jaeger_storage"]["backends"]["traces"]["memory"]["max_traces"], 100_000);
        assert_eq!(config["processors"]["tail_sampling"]["policies"][0]["probabilistic"]["sampling_percentage"], 25.0);
        assert_eq!(
            config["service"]["pipelines"]["traces"]["processors"],
            serde_json::json!(["memory_limiter", "tail_sampling", "batch"])
        );
        let objects = render(&stack).unwrap();
        assert!(objects.iter().all(|o| o.types.as_ref().unwrap().kind != "PersistentVolumeClaim"));

        let full = parsed(&minimal(Environment::Development));
        assert!(full["processors"].get("tail_sampling").is_none());
    }

    #[test]
    fn span_retention_is_written_in_go_duration_syntax() {
        // Jaeger parses `ttl.spans` with Go's time.ParseDuration: no days, weeks or years.
        for (retention, ttl) in [("72h", "72h"), ("7d", "168h"), ("2w", "336h"), ("1y", "8760h"), ("90m", "1h30m")] {
            let mut stack = minimal(Environment::Production);
            stack.spec.tracing.storage.retention = Duration::from(retention);
            let config = parsed(&stack);
            assert_eq!(config["extensions"]["jaeger_storage"]["backends"]["traces"]["badger"]["ttl"]["spans"], ttl);
        }
        assert_eq!(go_duration(&Duration::from("1h30m15s250ms")), "1h30m15s250ms");
        assert_eq!(go_duration(&Duration::from("0")), "0s");
        assert_eq!(go_duration(&Duration::from("72x")), "72x", "not a duration: left for Jaeger to refuse");
    }

    #[test]
    fn probes_use_the_health_extension_and_config_changes_roll_the_pod() {
        let stack = machineavatars();
        let objects = render(&stack).unwrap();
        let deployment = objects.iter().find(|o| o.types.as_ref().unwrap().kind == "Deployment").unwrap();
        let container = &deployment.data["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], HEALTH_PATH);
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "health");
        let hash = deployment.data["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].clone();

        let mut changed = stack.clone();
        changed.spec.tracing.storage.retention = crate::api::Duration::from("24h");
        let objects = render(&changed).unwrap();
        let deployment = objects.iter().find(|o| o.types.as_ref().unwrap().kind == "Deployment").unwrap();
        assert_ne!(deployment.data["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION], hash);
    }
}
