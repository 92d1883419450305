//! `ObservabilityStack`: one complete stack, every section defaulting to the seed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;
use super::defaults as seed;
use super::status::ObservabilityStackStatus;

/// A complete observability stack: Loki and its collector, Prometheus with its rules,
/// Alertmanager, Grafana, Jaeger v2 and the probes of the monitored workloads.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "stackscope.dev",
    version = "v1alpha1",
    kind = "ObservabilityStack",
    namespaced,
    status = "ObservabilityStackStatus",
    shortname = "obs",
    shortname = "obstack",
    category = "stackscope",
    printcolumn = r#"{"name":"Environment","type":"string","jsonPath":".spec.environment"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Drifted","type":"string","jsonPath":".status.conditions[?(@.type==\"Drifted\")].status"}"#,
    printcolumn = r#"{"name":"Monitors","type":"integer","jsonPath":".status.summary.acceptedMonitors"}"#,
    printcolumn = r#"{"name":"Rejected","type":"integer","jsonPath":".status.summary.rejectedMonitors"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.metrics) && self.metrics.enabled == false) || (has(self.alerting) && self.alerting.enabled == false)", "message": "alerting needs metrics: set alerting.enabled: false when metrics.enabled is false", "fieldPath": ".alerting.enabled"},
    {"rule": "!(has(self.metrics) && self.metrics.enabled == false) || (has(self.slos) && self.slos.enabled == false)", "message": "SLOs need metrics: set slos.enabled: false when metrics.enabled is false", "fieldPath": ".slos.enabled"}
]))]
pub struct ObservabilityStackSpec {
    /// Environment; sets the log retention (production 90d, staging 30d, development 7d) and storage.
    #[serde(default)]
    pub environment: Environment,
    /// ServiceMonitors to include, by label (default: all in the selected namespaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_selector: Option<LabelSelector>,
    /// Namespaces to take ServiceMonitors from (default: the stack's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_namespace_selector: Option<NamespaceSelector>,
    /// Also select prometheus-operator's `monitoring.coreos.com/v1` ServiceMonitors (off by
    /// default), for a migration without rewriting them first.
    #[serde(default, skip_serializing_if = "is_default")]
    pub prometheus_operator_monitors: PrometheusOperatorMonitors,
    /// What to do when a running object no longer matches what was declared.
    #[serde(default)]
    pub drift_policy: DriftPolicy,
    /// Loki and the log collector.
    #[serde(default)]
    pub logging: LoggingSpec,
    /// Prometheus, its scrape jobs and downsampled retention.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// Alert rules and Alertmanager routing.
    #[serde(default)]
    pub alerting: AlertingSpec,
    /// Jaeger v2 with OTLP ingest.
    #[serde(default)]
    pub tracing: TracingSpec,
    /// Grafana, its datasources and dashboards.
    #[serde(default)]
    pub dashboards: DashboardsSpec,
    /// Expected liveness/readiness probes of monitored workloads.
    #[serde(default)]
    pub probes: ProbesSpec,
    /// SLO evaluation and performance budgets.
    #[serde(default)]
    pub slos: SlosSpec,
}

/// Selection of prometheus-operator's ServiceMonitors by a stack.
///
/// When enabled, the stack's `monitorSelector` and `monitorNamespaceSelector` pick
/// `monitoring.coreos.com/v1` ServiceMonitors as they pick stackscope's own, each converted exactly
/// as `stackscope import` converts it and then checked like any other monitor. They are listed in
/// `status.acceptedMonitors` and `status.rejectedMonitors` with `apiVersion:
/// monitoring.coreos.com/v1`; their own status belongs to prometheus-operator and is never
/// written. A stackscope ServiceMonitor of the same namespace and name replaces one (it renders
/// the same scrape job), so monitors can be migrated one by one with `stackscope import`. Without
/// prometheus-operator's CRD in the cluster the stack says so in its `Degraded` condition and
/// renders its own monitors.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct PrometheusOperatorMonitors {
    /// Select prometheus-operator's ServiceMonitors too (default false).
    pub enabled: bool,
    /// A monitor using fields stackscope does not have (e.g. `authorization`, `oauth2`,
    /// `proxyUrl`): `Reject` it, naming the field (default), or `Ignore` the fields and render
    /// the rest.
    pub unsupported_fields: UnsupportedFields,
}

/// What to do with fields of a prometheus-operator ServiceMonitor stackscope does not have.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum UnsupportedFields {
    /// Leave the monitor out and report the field in `status.rejectedMonitors`.
    #[default]
    Reject,
    /// Render the monitor without those fields.
    Ignore,
}

/// Deployment environment of a stack.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Production,
    Staging,
    Development,
}

impl Environment {
    /// The environment's name as written in manifests and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Staging => "staging",
            Self::Development => "development",
        }
    }

    /// Log retention of the seed's Log Retention table.
    pub fn log_retention(self) -> Duration {
        Duration::from(match self {
            Self::Production => seed::RETENTION_PRODUCTION,
            Self::Staging => seed::RETENTION_STAGING,
            Self::Development => seed::RETENTION_DEVELOPMENT,
        })
    }

    /// Log storage of the seed's Log Retention table: Azure Blob in production, local otherwise.
    pub fn log_storage(self) -> LogStorageType {
        match self {
            Self::Production => LogStorageType::Azure,
            Self::Staging | Self::Development => LogStorageType::Filesystem,
        }
    }
}

/// `Report` lists drift in status; `Correct` also restores the declared state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum DriftPolicy {
    #[default]
    Report,
    Correct,
}

/// Which agent ships container logs to Loki.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Collector {
    /// Promtail, as the seed describes (end of life upstream; kept for compatibility).
    #[default]
    Promtail,
    /// Grafana Alloy, Promtail's successor, with the same pipeline.
    Alloy,
}

/// Standard log levels of the seed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    /// Every level, least to most severe.
    pub const ALL: [LogLevel; 5] = [Self::Debug, Self::Info, Self::Warn, Self::Error, Self::Fatal];

    /// The level as it appears in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}

/// Logging: Loki, the collector and the log pipeline.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LoggingSpec {
    /// Render the logging components.
    pub enabled: bool,
    /// The log collector.
    pub collector: Collector,
    /// Loki, the log store (single binary, Loki 3.x): image, ingestion limits, chunk size, retention
    /// (by environment unless set) and storage (Azure Blob in production, a volume otherwise).
    pub loki: LokiSpec,
    /// Promtail's image, when `collector: promtail`.
    pub promtail: CollectorSpec,
    /// Alloy's image, when `collector: alloy`.
    pub alloy: CollectorSpec,
    /// Levels accepted in the `level` label; lines with another level get `level="unknown"`.
    #[schemars(length(min = 1, max = 5))]
    pub levels: Vec<LogLevel>,
    /// Drop DEBUG lines at the collector (default: everywhere but development, where the seed
    /// says DEBUG belongs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_debug: Option<bool>,
}

impl Default for LoggingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            collector: Collector::default(),
            loki: LokiSpec::default(),
            promtail: CollectorSpec { image: Image::from(seed::images::PROMTAIL), resources: Resources::default() },
            alloy: CollectorSpec { image: Image::from(seed::images::ALLOY), resources: Resources::default() },
            levels: LogLevel::ALL.to_vec(),
            drop_debug: None,
        }
    }
}

/// A log collector's image and resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectorSpec {
    /// Container image of the collector (default: the pinned release stackscope is tested with).
    pub image: Image,
    /// CPU and memory requests and limits of the collector's container.
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
}

/// Loki (single binary, Loki 3.x).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LokiSpec {
    /// Loki's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Ingestion rate limit per tenant, MB/s (seed: 50).
    #[schemars(range(min = 1, max = 10_000))]
    pub ingestion_rate_mb: u32,
    /// Ingestion burst per tenant, MB (default: Loki's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub ingestion_burst_size_mb: Option<u32>,
    /// Target compressed chunk size in bytes (seed: 1536000).
    #[schemars(range(min = 65_536, max = 67_108_864))]
    pub chunk_target_size: u64,
    /// Retention of ordinary logs (default: by environment, 90d/30d/7d).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<Duration>,
    /// Where chunks and the index are kept.
    pub storage: LokiStorage,
    /// Longer retention for compliance and audit streams (GDPR: one year).
    pub compliance: ComplianceRetention,
    /// CPU and memory requests and limits of Loki's container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for LokiSpec {
    fn default() -> Self {
        Self {
            image: Image::from(seed::images::LOKI),
            ingestion_rate_mb: seed::LOKI_INGESTION_RATE_MB,
            ingestion_burst_size_mb: None,
            chunk_target_size: seed::LOKI_CHUNK_TARGET_SIZE,
            retention_period: None,
            storage: LokiStorage::default(),
            compliance: ComplianceRetention::default(),
            resources: Resources::default(),
        }
    }
}

/// Kinds of log storage.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStorageType {
    /// Azure Blob Storage (production).
    Azure,
    /// A local persistent volume (staging, development).
    Filesystem,
}

/// Loki storage: Azure Blob or a local volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LokiStorage {
    /// Storage kind (default: by environment, Azure in production, filesystem otherwise).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<LogStorageType>,
    /// Azure Blob settings; credentials only ever come from the Secret.
    pub azure: AzureBlobStorage,
    /// Local volume settings.
    pub filesystem: FilesystemStorage,
}

/// Azure Blob storage for Loki chunks; account and key are read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureBlobStorage {
    /// Secret key holding the storage account name.
    pub account_name: SecretKeyRef,
    /// Secret key holding the storage account key.
    pub account_key: SecretKeyRef,
    /// Blob container for chunks.
    #[schemars(length(min = 3, max = 63), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub container_name: String,
    /// Access tier the container is expected to use (seed: Cool).
    pub access_tier: AzureAccessTier,
    /// Size of the local volume for the WAL, index cache and compactor.
    pub cache_size: StorageSize,
}

impl Default for AzureBlobStorage {
    fn default() -> Self {
        Self {
            account_name: SecretKeyRef::new(seed::LOKI_AZURE_SECRET, "account-name"),
            account_key: SecretKeyRef::new(seed::LOKI_AZURE_SECRET, "account-key"),
            container_name: "loki-chunks".to_owned(),
            access_tier: AzureAccessTier::Cool,
            cache_size: StorageSize::from("20Gi"),
        }
    }
}

/// Azure Blob access tiers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AzureAccessTier {
    Hot,
    Cool,
    Cold,
}

/// A local persistent volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct FilesystemStorage {
    /// Size of the persistent volume claim, e.g. 50Gi.
    pub size: StorageSize,
    /// StorageClass (default: the cluster's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

impl Default for FilesystemStorage {
    fn default() -> Self {
        Self { size: StorageSize::from("50Gi"), storage_class_name: None }
    }
}

/// Retention of compliance and audit streams, enforced by Loki's `retention_stream`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ComplianceRetention {
    /// How long compliance streams are kept (seed: 1 year).
    pub period: Duration,
    /// LogQL stream selectors of compliance streams. The collector promotes the `log_type`
    /// field of JSON lines to a label so services mark audit logs with `"log_type": "audit"`.
    #[schemars(length(max = 32), inner(length(min = 3, max = 1024), pattern(r"^\{.*\}$")))]
    pub selectors: Vec<String>,
}

impl Default for ComplianceRetention {
    fn default() -> Self {
        Self {
            period: Duration::from(seed::COMPLIANCE_RETENTION),
            selectors: vec![r#"{log_type="audit"}"#.to_owned(), r#"{log_type="compliance"}"#.to_owned()],
        }
    }
}

/// Metrics: Prometheus, downsampling and the metric names alerts and dashboards query.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricsSpec {
    /// Render Prometheus (alerting and SLOs need it).
    pub enabled: bool,
    /// The Prometheus server: image, replicas, scrape and evaluation intervals, retention, storage.
    pub prometheus: PrometheusSpec,
    /// Downsampled long-term retention (Thanos compactor).
    pub downsampling: DownsamplingSpec,
    /// RED metric names (seed: Application Metrics).
    pub red: RedMetrics,
    /// Business metric names (seed: Business Metrics).
    pub business: BusinessMetrics,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            prometheus: PrometheusSpec::default(),
            downsampling: DownsamplingSpec::default(),
            red: RedMetrics::default(),
            business: BusinessMetrics::default(),
        }
    }
}

/// Prometheus server settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "duration(self.scrapeTimeout) <= duration(self.scrapeInterval)", "message": "scrapeTimeout must not exceed scrapeInterval", "fieldPath": ".scrapeTimeout"}]))]
pub struct PrometheusSpec {
    /// Prometheus' container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Replicas (each scrapes every target).
    #[schemars(range(min = 1, max = 10))]
    pub replicas: u32,
    /// Default scrape interval (seed: 15s).
    pub scrape_interval: ScrapeDuration,
    /// Rule evaluation interval (seed: 15s).
    pub evaluation_interval: ScrapeDuration,
    /// Default scrape timeout.
    pub scrape_timeout: ScrapeDuration,
    /// Local TSDB retention; longer history comes from the downsampled tiers.
    pub retention: Duration,
    /// TSDB volume size.
    pub storage_size: StorageSize,
    /// Labels added to every series and alert leaving this Prometheus.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub external_labels: std::collections::BTreeMap<String, String>,
    /// CPU and memory requests and limits of the Prometheus container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for PrometheusSpec {
    fn default() -> Self {
        Self {
            image: Image::from(seed::images::PROMETHEUS),
            replicas: 1,
            scrape_interval: ScrapeDuration::from(seed::SCRAPE_INTERVAL),
            evaluation_interval: ScrapeDuration::from(seed::EVALUATION_INTERVAL),
            scrape_timeout: ScrapeDuration::from(seed::SCRAPE_TIMEOUT),
            retention: Duration::from(seed::RETENTION_RAW),
            storage_size: StorageSize::from("50Gi"),
            external_labels: Default::default(),
            resources: Resources::default(),
        }
    }
}

/// Retention per resolution, enforced by the Thanos compactor over object storage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DownsamplingSpec {
    /// Render the Thanos sidecar and compactor.
    pub enabled: bool,
    /// Thanos image of the sidecar and compactor (default: the release stackscope is tested with).
    pub image: Image,
    /// Retention of full-resolution samples (the seed's 1-minute tier: 30d).
    pub raw_retention: Duration,
    /// Retention of 5-minute downsampled data (seed: 90d).
    pub five_minute_retention: Duration,
    /// Retention of 1-hour downsampled data (seed: 2y).
    pub one_hour_retention: Duration,
    /// Secret key holding the Thanos object storage configuration (`objstore.yml`).
    pub object_storage: SecretKeyRef,
}

impl Default for DownsamplingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::THANOS),
            raw_retention: Duration::from(seed::RETENTION_RAW),
            five_minute_retention: Duration::from(seed::RETENTION_5M),
            one_hour_retention: Duration::from(seed::RETENTION_1H),
            object_storage: SecretKeyRef::new(seed::THANOS_OBJSTORE_SECRET, "objstore.yml"),
        }
    }
}

/// Names of the RED metrics every service exposes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct RedMetrics {
    /// Request counter (Rate).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub requests: String,
    /// Failed request counter (Errors).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub failures: String,
    /// Request duration histogram (Duration), in seconds.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub duration: String,
}

impl Default for RedMetrics {
    fn default() -> Self {
        Self {
            requests: seed::METRIC_REQUESTS.to_owned(),
            failures: seed::METRIC_FAILURES.to_owned(),
            duration: seed::METRIC_DURATION.to_owned(),
        }
    }
}

/// Names of the business metrics the business alerts and dashboard query.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BusinessMetrics {
    /// Counter of new signups.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub signups: String,
    /// Counter of payment attempts.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub payments: String,
    /// Counter of failed payments.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub payment_failures: String,
    /// Gauge of active subscriptions.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub active_subscriptions: String,
    /// Counter of cancelled subscriptions.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub cancelled_subscriptions: String,
    /// Gauge of daily active users.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub daily_active_users: String,
    /// Gauge of monthly active users.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub monthly_active_users: String,
    /// Counter of conversations, labelled by `chatbot`.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub conversations: String,
    /// Gauge of monthly recurring revenue.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub monthly_recurring_revenue: String,
    /// Counter of LLM tokens, labelled by `model`.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub llm_tokens: String,
    /// Counter of LLM API calls, labelled by `model`.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub llm_calls: String,
}

impl Default for BusinessMetrics {
    fn default() -> Self {
        Self {
            signups: "user_signups_total".to_owned(),
            payments: "payments_total".to_owned(),
            payment_failures: "payments_failed_total".to_owned(),
            active_subscriptions: "subscriptions_active".to_owned(),
            cancelled_subscriptions: "subscriptions_cancelled_total".to_owned(),
            daily_active_users: "users_active_daily".to_owned(),
            monthly_active_users: "users_active_monthly".to_owned(),
            conversations: "conversations_total".to_owned(),
            monthly_recurring_revenue: "revenue_monthly_recurring".to_owned(),
            llm_tokens: "llm_tokens_total".to_owned(),
            llm_calls: "llm_api_calls_total".to_owned(),
        }
    }
}

/// Alerting: the rules of the seed's three alert tables and Alertmanager's routing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertingSpec {
    /// Render alert rules and Alertmanager.
    pub enabled: bool,
    /// The Alertmanager server: image, replicas, resources.
    pub alertmanager: AlertmanagerSpec,
    /// Thresholds of every alert.
    pub rules: AlertRules,
    /// Where alerts go.
    pub routing: RoutingSpec,
}

impl Default for AlertingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            alertmanager: AlertmanagerSpec::default(),
            rules: AlertRules::default(),
            routing: RoutingSpec::default(),
        }
    }
}

/// Alertmanager server settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertmanagerSpec {
    /// Alertmanager's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Replicas (clustered through gossip when more than one).
    #[schemars(range(min = 1, max = 5))]
    pub replicas: u32,
    /// CPU and memory requests and limits of the Alertmanager container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for AlertmanagerSpec {
    fn default() -> Self {
        Self { image: Image::from(seed::images::ALERTMANAGER), replicas: 1, resources: Resources::default() }
    }
}

/// One alert's threshold, duration and severity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertThreshold {
    /// Evaluate this alert.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Threshold the alert fires above (percent, count or seconds, as the alert says).
    #[schemars(range(min = 0.0, max = 1e9))]
    pub threshold: f64,
    /// How long the condition must hold before the alert fires (absent: at once).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<Duration>,
    /// Window the underlying rate or count is taken over, where the alert has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Severity label.
    pub severity: Severity,
    /// Incident level label (seed: P0–P3).
    pub incident_level: IncidentLevel,
}

fn enabled() -> bool {
    true
}

impl AlertThreshold {
    fn seed(
        threshold: f64,
        for_duration: Option<&str>,
        window: Option<&str>,
        severity: Severity,
        incident_level: IncidentLevel,
    ) -> Self {
        Self {
            enabled: true,
            threshold,
            for_duration: for_duration.map(Duration::from),
            window: window.map(Duration::from),
            severity,
            incident_level,
        }
    }
}

/// Every alert of the seed's Infrastructure, Application and Business tables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertRules {
    /// Infrastructure alerts.
    pub infrastructure: InfrastructureAlerts,
    /// Application alerts.
    pub application: ApplicationAlerts,
    /// Business alerts.
    pub business: BusinessAlerts,
}

/// Seed: Infrastructure Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct InfrastructureAlerts {
    /// High CPU: >80% for 5 minutes, warning.
    pub high_cpu: AlertThreshold,
    /// Critical CPU: >95% for 2 minutes, critical.
    pub critical_cpu: AlertThreshold,
    /// High memory: >90% for 5 minutes, warning.
    pub high_memory: AlertThreshold,
    /// Out of memory: >98%, critical.
    pub out_of_memory: AlertThreshold,
    /// Disk full: >85%, warning.
    pub disk_full: AlertThreshold,
    /// Container crash: more than 3 restarts in 10 minutes, critical.
    pub container_crash: AlertThreshold,
}

impl Default for InfrastructureAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            high_cpu: AlertThreshold::seed(80.0, Some("5m"), None, Warning, P2),
            critical_cpu: AlertThreshold::seed(95.0, Some("2m"), None, Critical, P1),
            high_memory: AlertThreshold::seed(90.0, Some("5m"), None, Warning, P2),
            out_of_memory: AlertThreshold::seed(98.0, None, None, Critical, P1),
            disk_full: AlertThreshold::seed(85.0, None, None, Warning, P2),
            container_crash: AlertThreshold::seed(3.0, None, Some("10m"), Critical, P1),
        }
    }
}

/// Seed: Application Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationAlerts {
    /// High error rate: >5% of requests failing, warning.
    pub high_error_rate: AlertThreshold,
    /// Critical errors: >20% of requests failing, critical.
    pub critical_error_rate: AlertThreshold,
    /// High latency: p95 >3s, warning.
    pub high_latency: AlertThreshold,
    /// Critical latency: p95 >10s, critical.
    pub critical_latency: AlertThreshold,
    /// No requests: 0 requests for 5 minutes, warning.
    pub no_requests: AlertThreshold,
    /// Database down: connection failed, critical.
    pub database_down: AlertThreshold,
    /// PromQL selector of the database targets whose `up` must be 1.
    #[schemars(length(min = 1, max = 1024))]
    pub database_selector: String,
}

impl Default for ApplicationAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            high_error_rate: AlertThreshold::seed(5.0, Some("5m"), Some("5m"), Warning, P2),
            critical_error_rate: AlertThreshold::seed(20.0, Some("2m"), Some("5m"), Critical, P1),
            high_latency: AlertThreshold::seed(3.0, Some("5m"), Some("5m"), Warning, P2),
            critical_latency: AlertThreshold::seed(10.0, Some("2m"), Some("5m"), Critical, P1),
            no_requests: AlertThreshold::seed(0.0, Some("5m"), Some("5m"), Warning, P2),
            database_down: AlertThreshold::seed(0.0, Some("1m"), None, Critical, P0),
            database_selector: r#"{job=~".*(mongodb|cosmos|milvus).*"}"#.to_owned(),
        }
    }
}

/// Seed: Business Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BusinessAlerts {
    /// No signups: 0 signups for 1 hour, warning.
    pub no_signups: AlertThreshold,
    /// Payment failures: >10% of payments failing, critical.
    pub payment_failures: AlertThreshold,
    /// High churn: >5% monthly churn, warning (reported monthly).
    pub high_churn: AlertThreshold,
}

impl Default for BusinessAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            no_signups: AlertThreshold::seed(0.0, None, Some("1h"), Warning, P3),
            payment_failures: AlertThreshold::seed(10.0, Some("5m"), Some("15m"), Critical, P1),
            high_churn: AlertThreshold::seed(5.0, None, Some("30d"), Warning, P3),
        }
    }
}

/// Alert routing: email gets all, Slack warning and critical, PagerDuty critical, with escalation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.escalation.all(s, self.escalation.exists_one(t, t.name == s.name))", "message": "escalation step names must be unique"}]))]
pub struct RoutingSpec {
    /// Labels alerts are grouped by.
    #[schemars(length(min = 1, max = 16))]
    pub group_by: Vec<String>,
    /// Wait before the first notification of a group.
    pub group_wait: Duration,
    /// Wait before notifying about new alerts of a group.
    pub group_interval: Duration,
    /// Wait before repeating a notification.
    pub repeat_interval: Duration,
    /// Email receiver: every alert.
    pub email: EmailReceiver,
    /// Slack receiver: warning and critical.
    pub slack: SlackReceiver,
    /// PagerDuty receiver: critical only (24/7 on-call).
    pub pagerduty: PagerDutyReceiver,
    /// On-call escalation of critical alerts: primary at once, secondary after 15 minutes,
    /// escalation after 30.
    #[schemars(length(max = 8))]
    pub escalation: Vec<EscalationStep>,
}

impl Default for RoutingSpec {
    fn default() -> Self {
        Self {
            group_by: vec!["alertname".to_owned(), "service".to_owned(), "severity".to_owned()],
            group_wait: Duration::from("30s"),
            group_interval: Duration::from("5m"),
            repeat_interval: Duration::from("4h"),
            email: EmailReceiver::default(),
            slack: SlackReceiver::default(),
            pagerduty: PagerDutyReceiver::default(),
            escalation: vec![
                EscalationStep::seed("primary", "DevOps Engineer", "0s"),
                EscalationStep::seed("secondary", "Backend Lead", seed::ESCALATION_SECONDARY_AFTER),
                EscalationStep::seed("escalation", "CTO", seed::ESCALATION_TERTIARY_AFTER),
            ],
        }
    }
}

/// The email receiver. With no recipients it exists but sends nothing (status says so).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || size(self.to) == 0 || (has(self.smarthost) && has(self.from))", "message": "email recipients need smarthost and from"}]))]
pub struct EmailReceiver {
    /// Send alerts by email (needs `to`, `from` and `smarthost`).
    pub enabled: bool,
    /// Recipient addresses of every alert of the listed severities.
    #[schemars(length(max = 64), inner(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$")))]
    pub to: Vec<String>,
    /// Sender address (`From:` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$"))]
    pub from: Option<String>,
    /// SMTP server, `host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 260), pattern(r"^[^:\s]+:[0-9]{1,5}$"))]
    pub smarthost: Option<String>,
    /// SMTP user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 254))]
    pub auth_username: Option<String>,
    /// Secret key holding the SMTP password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<SecretKeyRef>,
    /// Severities delivered by email (seed: all).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for EmailReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            to: Vec::new(),
            from: None,
            smarthost: None,
            auth_username: None,
            auth_password: None,
            severities: vec![Severity::Info, Severity::Warning, Severity::Critical],
        }
    }
}

/// The Slack receiver; its webhook URL is read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || (has(self.apiUrl) && self.apiUrl.name != '' && self.apiUrl.key != '')", "message": "an enabled Slack receiver needs a Secret reference in apiUrl", "fieldPath": ".apiUrl"}]))]
pub struct SlackReceiver {
    /// Send to Slack.
    pub enabled: bool,
    /// Channel (seed: #alerts).
    #[schemars(length(min = 2, max = 80), pattern(r"^[#@][^\s]+$"))]
    pub channel: String,
    /// Secret key holding the incoming-webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<SecretKeyRef>,
    /// Severities delivered to Slack (seed: warning, critical).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for SlackReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            channel: seed::SLACK_CHANNEL.to_owned(),
            api_url: Some(SecretKeyRef::new(seed::ALERTING_SECRET, "slack-api-url")),
            severities: vec![Severity::Warning, Severity::Critical],
        }
    }
}

/// The PagerDuty receiver; its routing key is read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || has(self.routingKey)", "message": "an enabled PagerDuty receiver needs a Secret reference in routingKey", "fieldPath": ".routingKey"}]))]
pub struct PagerDutyReceiver {
    /// Page through PagerDuty.
    pub enabled: bool,
    /// Secret key holding the Events API v2 routing key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<SecretKeyRef>,
    /// Severities that page (seed: critical).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for PagerDutyReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            routing_key: Some(SecretKeyRef::new(seed::ALERTING_SECRET, "pagerduty-routing-key")),
            severities: vec![Severity::Critical],
        }
    }
}

/// One step of the on-call escalation path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscalationStep {
    /// Step name, used as the receiver name.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Who is paged at this step.
    #[schemars(length(min = 1, max = 128))]
    pub role: String,
    /// Delay after the alert fires before this step is notified.
    pub after: Duration,
    /// Email addresses of this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$")))]
    pub email: Vec<String>,
    /// Secret key holding a PagerDuty routing key of this step (default: the receiver's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty_routing_key: Option<SecretKeyRef>,
}

impl EscalationStep {
    fn seed(name: &str, role: &str, after: &str) -> Self {
        Self {
            name: name.to_owned(),
            role: role.to_owned(),
            after: Duration::from(after),
            email: Vec::new(),
            pagerduty_routing_key: None,
        }
    }
}

/// Tracing: Jaeger v2 (an OpenTelemetry Collector distribution) with OTLP ingest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TracingSpec {
    /// Render Jaeger v2 and the OTLP endpoints services send traces to.
    pub enabled: bool,
    /// Jaeger's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// OTLP gRPC port.
    #[schemars(range(min = 1024, max = 65535))]
    pub otlp_grpc_port: u16,
    /// OTLP HTTP port.
    #[schemars(range(min = 1024, max = 65535))]
    pub otlp_http_port: u16,
    /// Share of traces kept, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sampling_ratio: f64,
    /// Where and how long traces are kept.
    pub storage: TraceStorage,
    /// CPU and memory requests and limits of the Jaeger container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for TracingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::JAEGER),
            otlp_grpc_port: seed::OTLP_GRPC_PORT,
            otlp_http_port: seed::OTLP_HTTP_PORT,
            sampling_ratio: 1.0,
            storage: TraceStorage::default(),
            resources: Resources::default(),
        }
    }
}

/// Trace storage backends Jaeger v2 runs without external services.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceBackend {
    /// In memory, bounded by `maxTraces` (lost on restart).
    Memory,
    /// Badger on a persistent volume, expired after `retention`.
    Badger,
}

/// Where traces are kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceStorage {
    /// `memory` (lost on restart) or `badger` (on a volume).
    pub backend: TraceBackend,
    /// Most traces kept in memory.
    #[schemars(range(min = 1000, max = 10_000_000))]
    pub max_traces: u32,
    /// How long spans are kept on disk.
    pub retention: Duration,
    /// Volume size for Badger.
    pub size: StorageSize,
}

impl Default for TraceStorage {
    fn default() -> Self {
        Self {
            backend: TraceBackend::Badger,
            max_traces: 100_000,
            retention: Duration::from("72h"),
            size: StorageSize::from("10Gi"),
        }
    }
}

/// Grafana and the seed's three dashboards.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DashboardsSpec {
    /// Render Grafana with its datasources and dashboards.
    pub enabled: bool,
    /// Grafana's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Secret with the admin user (`admin-user`) and password (`admin-password`).
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub admin_secret: String,
    /// Folder the dashboards are provisioned into.
    #[schemars(length(min = 1, max = 128))]
    pub folder: String,
    /// The Infrastructure dashboard.
    pub infrastructure: bool,
    /// The Application dashboard.
    pub application: bool,
    /// The Business dashboard.
    pub business: bool,
    /// CPU and memory requests and limits of the Grafana container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for DashboardsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::GRAFANA),
            admin_secret: seed::GRAFANA_ADMIN_SECRET.to_owned(),
            folder: "Observability".to_owned(),
            infrastructure: true,
            application: true,
            business: true,
            resources: Resources::default(),
        }
    }
}

/// Report or enforce the expected probes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum ProbePolicy {
    /// List missing or different probes in status.
    #[default]
    Report,
    /// Also set them on the workloads (server-side apply, nothing else touched).
    Enforce,
}

/// Expected probes of the monitored workloads (seed: Container Health Probes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbesSpec {
    /// Report or enforce.
    pub policy: ProbePolicy,
    /// Liveness probe: `/health` on 8011, 30/10/5/3.
    pub liveness: HttpProbe,
    /// Readiness probe: `/ready` on 8011, 5/5/3/2.
    pub readiness: HttpProbe,
}

impl Default for ProbesSpec {
    fn default() -> Self {
        Self {
            policy: ProbePolicy::Report,
            liveness: HttpProbe {
                path: seed::LIVENESS_PATH.to_owned(),
                port: seed::PROBE_PORT,
                initial_delay_seconds: 30,
                period_seconds: 10,
                timeout_seconds: 5,
                failure_threshold: 3,
            },
            readiness: HttpProbe {
                path: seed::READINESS_PATH.to_owned(),
                port: seed::PROBE_PORT,
                initial_delay_seconds: 5,
                period_seconds: 5,
                timeout_seconds: 3,
                failure_threshold: 2,
            },
        }
    }
}

/// An HTTP GET probe.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.timeoutSeconds <= self.periodSeconds", "message": "timeoutSeconds must not exceed periodSeconds", "fieldPath": ".timeoutSeconds"}]))]
pub struct HttpProbe {
    /// Path to GET.
    #[schemars(length(min = 1, max = 1024), pattern(r"^/"))]
    pub path: String,
    /// Container port the probe connects to.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Seconds before the first probe.
    #[schemars(range(max = 3600))]
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: u32,
    /// Seconds before a probe times out.
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: u32,
    /// Failures in a row before the probe fails.
    #[schemars(range(min = 1, max = 100))]
    pub failure_threshold: u32,
}

/// SLO evaluation: multi-window burn-rate alerts and the seed's performance budgets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct SlosSpec {
    /// Render SLO recording and burn-rate rules for monitors that declare an `slo`.
    pub enabled: bool,
    /// SLO period the error budget is measured over.
    pub period: Duration,
    /// Burn-rate alert windows (Google SRE workbook multi-window, multi-burn-rate).
    #[schemars(length(min = 1, max = 8))]
    pub burn_rate_windows: Vec<BurnRateWindow>,
    /// Response-time budgets per operation, checked on Jaeger's span metrics.
    #[schemars(length(max = 64))]
    pub budgets: Vec<PerformanceBudget>,
}

impl Default for SlosSpec {
    fn default() -> Self {
        use Severity::*;
        Self {
            enabled: true,
            period: Duration::from("30d"),
            burn_rate_windows: vec![
                BurnRateWindow::new("1h", "5m", 14.4, Critical),
                BurnRateWindow::new("6h", "30m", 6.0, Critical),
                BurnRateWindow::new("1d", "2h", 3.0, Warning),
                BurnRateWindow::new("3d", "6h", 1.0, Warning),
            ],
            budgets: vec![
                PerformanceBudget::new(
                    "gateway-routing",
                    50,
                    r#"service_name="gateway", span_kind="SPAN_KIND_SERVER""#,
                ),
                PerformanceBudget::new("database-query", 100, r#"db_system=~"mongodb|cosmosdb""#),
                PerformanceBudget::new("milvus-search", 50, r#"db_system="milvus""#),
                PerformanceBudget::new("llm-api-call", 2000, r#"span_name=~"(?i).*llm.*""#),
                PerformanceBudget::new("tts-generation", 500, r#"span_name=~"(?i).*tts.*""#),
                PerformanceBudget::new(
                    "total",
                    3000,
                    r#"span_kind="SPAN_KIND_SERVER", service_name=~"gateway|response-3d|response-text""#,
                ),
            ],
        }
    }
}

/// One pair of burn-rate windows: both must burn faster than `factor` for the alert to fire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BurnRateWindow {
    /// Long window, e.g. 1h (the burn rate over it must exceed the factor).
    pub long: Duration,
    /// Short window (confirms the burn is still happening).
    pub short: Duration,
    /// Burn-rate factor (14.4 spends 2% of a 30-day budget in an hour).
    #[schemars(range(min = 0.1, max = 1000.0))]
    pub factor: f64,
    /// Severity of the alert.
    pub severity: Severity,
}

impl BurnRateWindow {
    fn new(long: &str, short: &str, factor: f64, severity: Severity) -> Self {
        Self { long: Duration::from(long), short: Duration::from(short), factor, severity }
    }
}

/// A response-time budget of one operation (seed: Performance Budgets).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBudget {
    /// Budget name, used as the `budget` label.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// p95 budget in milliseconds.
    #[schemars(range(min = 1, max = 3_600_000))]
    pub threshold_ms: u32,
    /// PromQL label matchers selecting the operation's spans in the span metrics.
    #[schemars(length(min = 1, max = 1024))]
    pub span_matchers: String,
}

impl PerformanceBudget {
    fn new(name: &str, threshold_ms: u32, span_matchers: &str) -> Self {
        Self { name: name.to_owned(), threshold_ms, span_matchers: span_matchers.to_owned() }
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
