//! The seed's values, named once. Spec `Default` impls and renderers read them from here.

/// Pinned component images rendered by default.
pub mod images {
    pub const LOKI: &str = "grafana/loki:3.5.7";
    pub const PROMTAIL: &str = "grafana/promtail:3.5.7";
    pub const ALLOY: &str = "grafana/alloy:v1.11.3";
    pub const PROMETHEUS: &str = "prom/prometheus:v3.7.3";
    pub const THANOS: &str = "quay.io/thanos/thanos:v0.40.1";
    pub const ALERTMANAGER: &str = "prom/alertmanager:v0.29.0";
    pub const GRAFANA: &str = "grafana/grafana:12.2.1";
    pub const JAEGER: &str = "jaegertracing/jaeger:2.11.0";
    /// Sidecar that reloads Prometheus and Alertmanager in place when their configuration changes.
    /// v0.86.1 rather than v0.86.0: the local node builds its image from the same release, and
    /// the module proxy serves v0.86.1 only.
    pub const CONFIG_RELOADER: &str = "quay.io/prometheus-operator/prometheus-config-reloader:v0.86.1";
    /// The sources of the infrastructure alerts' Kubernetes object and node series.
    pub const KUBE_STATE_METRICS: &str = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.18.0";
    pub const NODE_EXPORTER: &str = "prom/node-exporter:v1.10.2";
}

/// Requests and limits of every container the stack renders, sized for the document's load (a
/// handful of services scraped every 15s, 50 MB/s of logs at most, one trace per request), each
/// overridable per component in the spec (`resources`, merged per resource name).
/// `(cpu request, memory request, cpu limit, memory limit)`.
pub mod resources {
    /// Requests and limits of one container.
    pub type Sizes = (&'static str, &'static str, &'static str, &'static str);
    pub const PROMETHEUS: Sizes = ("500m", "2Gi", "2", "4Gi");
    pub const CONFIG_RELOADER: Sizes = ("10m", "50Mi", "100m", "50Mi");
    pub const THANOS_SIDECAR: Sizes = ("100m", "256Mi", "500m", "512Mi");
    pub const THANOS_COMPACTOR: Sizes = ("200m", "512Mi", "1", "2Gi");
    pub const THANOS_QUERY: Sizes = ("200m", "512Mi", "1", "1Gi");
    pub const THANOS_STORE: Sizes = ("200m", "1Gi", "1", "2Gi");
    pub const ALERTMANAGER: Sizes = ("50m", "128Mi", "200m", "256Mi");
    pub const GRAFANA: Sizes = ("100m", "256Mi", "500m", "512Mi");
    pub const LOKI: Sizes = ("500m", "1Gi", "2", "2Gi");
    pub const PROMTAIL: Sizes = ("100m", "128Mi", "500m", "256Mi");
    pub const ALLOY: Sizes = ("100m", "256Mi", "500m", "512Mi");
    pub const JAEGER: Sizes = ("250m", "512Mi", "1", "1Gi");
    pub const KUBE_STATE_METRICS: Sizes = ("50m", "128Mi", "200m", "256Mi");
    pub const NODE_EXPORTER: Sizes = ("50m", "64Mi", "200m", "128Mi");
}

/// Replicas of the highly available components (`spec.highAvailability`, on in production):
/// two Prometheus replicas that Thanos Query deduplicates, three clustered Alertmanagers, two
/// Thanos Query replicas. Fewer than 2 is refused while it is on (the CRD's CEL rules).
pub const HA_PROMETHEUS_REPLICAS: u32 = 2;
pub const HA_ALERTMANAGER_REPLICAS: u32 = 3;
pub const HA_THANOS_QUERY_REPLICAS: u32 = 2;

/// Loki limits from the seed's Loki configuration block.
pub const LOKI_INGESTION_RATE_MB: u32 = 50;
pub const LOKI_RETENTION_PERIOD: &str = "90d";
pub const LOKI_CHUNK_TARGET_SIZE: u64 = 1_536_000;
/// Log retention per environment (seed: Log Retention table).
pub const RETENTION_PRODUCTION: &str = "90d";
pub const RETENTION_STAGING: &str = "30d";
pub const RETENTION_DEVELOPMENT: &str = "7d";
/// Compliance logs (GDPR, audit): one year.
pub const COMPLIANCE_RETENTION: &str = "365d";

/// Promtail, exactly as the seed configures it.
pub const PROMTAIL_POSITIONS_FILE: &str = "/tmp/positions.yaml";
pub const PROMTAIL_JOB_NAME: &str = "containers";
pub const PROMTAIL_JOB_LABEL: &str = "containerlogs";
pub const PROMTAIL_PATH_GLOB: &str = "/var/log/containers/*log";

/// Fields of the seed's structured (JSON) log line, in the seed's order.
pub const LOG_FIELDS: [&str; 10] =
    ["timestamp", "level", "service", "user_id", "project_id", "trace_id", "message", "duration_ms", "model", "tokens"];
/// Log fields promoted to Loki labels: bounded values only (ids stay in the line).
pub const LOG_LABEL_FIELDS: [&str; 2] = ["level", "service"];
/// The JSON field services mark compliance and audit lines with (`"log_type": "audit"`). The
/// collector extracts it and makes it a label too (its values are few), so the compliance
/// `retention_stream` selectors (`{log_type="audit"}`) match.
pub const LOG_TYPE_FIELD: &str = "log_type";
/// Fields kept in the line and sent as Loki structured metadata: queryable without being labels
/// (their values are unbounded).
pub const LOG_STRUCTURED_METADATA_FIELDS: [&str; 3] = ["trace_id", "user_id", "project_id"];

/// Prometheus global settings.
pub const SCRAPE_INTERVAL: &str = "15s";
pub const EVALUATION_INTERVAL: &str = "15s";
pub const SCRAPE_TIMEOUT: &str = "10s";

/// Metric retention tiers (seed: 1m resolution 30d, 5m 90d, 1h 2y).
pub const RETENTION_RAW: &str = "30d";
pub const RETENTION_5M: &str = "90d";
pub const RETENTION_1H: &str = "2y";

/// RED metric names of the seed.
pub const METRIC_REQUESTS: &str = "http_requests_total";
pub const METRIC_FAILURES: &str = "http_requests_failed_total";
pub const METRIC_DURATION: &str = "http_request_duration_seconds";

/// Slack channel and escalation delays of the seed's routing.
pub const SLACK_CHANNEL: &str = "#alerts";
pub const ESCALATION_SECONDARY_AFTER: &str = "15m";
pub const ESCALATION_TERTIARY_AFTER: &str = "30m";

/// Business hours of incident levels held to them (the document's P3: "next business day"; it
/// names no hours, so this is stackscope's reading: Monday to Friday, 09:00 to 17:00 UTC).
pub const BUSINESS_HOURS_START: &str = "09:00";
pub const BUSINESS_HOURS_END: &str = "17:00";
pub const BUSINESS_HOURS_TIME_ZONE: &str = "UTC";

/// Default names of the Secrets credentials are read from.
pub const ALERTING_SECRET: &str = "stackscope-alerting";
pub const LOKI_AZURE_SECRET: &str = "loki-azure-storage";
pub const THANOS_OBJSTORE_SECRET: &str = "thanos-objstore";
pub const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";

/// Container health probes (seed: Health Checks).
pub const LIVENESS_PATH: &str = "/health";
pub const READINESS_PATH: &str = "/ready";
pub const PROBE_PORT: u16 = 8011;

/// OTLP receiver ports.
pub const OTLP_GRPC_PORT: u16 = 4317;
pub const OTLP_HTTP_PORT: u16 = 4318;
