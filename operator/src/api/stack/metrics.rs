//! Metrics: Prometheus, downsampling and the metric names alerts and dashboards query.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

/// Metrics: Prometheus, downsampling and the metric names alerts and dashboards query.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
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
    /// Database metric names (seed: System Metrics, Databases).
    pub databases: DatabaseMetrics,
    /// kube-state-metrics, the source of the Kubernetes object series (container restarts,
    /// available replicas) the ContainerCrash alert and the Active Replicas panel read.
    pub kube_state_metrics: KubeStateMetricsSpec,
    /// node-exporter, the source of the node series (`node_*`: CPU, memory, disks, network).
    pub node_exporter: NodeExporterSpec,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            prometheus: PrometheusSpec::default(),
            downsampling: DownsamplingSpec::default(),
            red: RedMetrics::default(),
            business: BusinessMetrics::default(),
            databases: DatabaseMetrics::default(),
            kube_state_metrics: KubeStateMetricsSpec::default(),
            node_exporter: NodeExporterSpec::default(),
        }
    }
}

/// kube-state-metrics: rendered by the stack (a Deployment with read-only access to the objects
/// it reports on), or, when the cluster already runs one, that one scraped instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || !has(self.existing)", "message": "existing selects the cluster's own kube-state-metrics instead of the stack's: set enabled: false with it", "fieldPath": ".existing"}]))]
pub struct KubeStateMetricsSpec {
    /// Render the stack's own kube-state-metrics (default true). Turn it off when the cluster
    /// already runs one, and select that one with `existing`; off without `existing`, the rules
    /// reading its series are reported in `status.unfireableRules`.
    pub enabled: bool,
    /// kube-state-metrics' container image (default: the release stackscope is tested with).
    pub image: Image,
    /// CPU and memory requests and limits (default requests 50m/128Mi, limits 200m/256Mi; the
    /// resource names you set replace the defaults' of the same name).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// The cluster's own kube-state-metrics, scraped instead of the stack's (with `enabled: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<ExistingExporter>,
}

impl Default for KubeStateMetricsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::KUBE_STATE_METRICS),
            resources: Resources::default(),
            existing: None,
        }
    }
}

/// node-exporter: rendered by the stack (a DaemonSet on every node, in the node's network and
/// process namespaces, reading the node's `/proc`, `/sys` and root filesystem), or, when the
/// cluster already runs one, that one scraped instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || !has(self.existing)", "message": "existing selects the cluster's own node-exporter instead of the stack's: set enabled: false with it", "fieldPath": ".existing"}]))]
pub struct NodeExporterSpec {
    /// Render the stack's own node-exporter DaemonSet (default true). Its pods need the host's
    /// network and process namespaces and host paths, so its namespace must admit the
    /// `privileged` Pod Security level (see SECURITY.md); off without `existing`, the rules
    /// reading `node_*` series are reported in `status.unfireableRules`.
    pub enabled: bool,
    /// node-exporter's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// CPU and memory requests and limits (default requests 50m/64Mi, limits 200m/128Mi).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
    /// The cluster's own node-exporter, scraped instead of the stack's (with `enabled: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<ExistingExporter>,
}

impl Default for NodeExporterSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::NODE_EXPORTER),
            resources: Resources::default(),
            existing: None,
        }
    }
}

/// An exporter the cluster already runs, scraped through its pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExistingExporter {
    /// Namespaces its pods run in (default: every namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")))]
    pub namespaces: Vec<String>,
    /// Its pods, by label (e.g. `matchLabels: {app.kubernetes.io/name: kube-state-metrics}`).
    pub selector: LabelSelector,
    /// Name of the container port serving its metrics (e.g. `http` for the prometheus-community
    /// charts' kube-state-metrics, `metrics` for their node-exporter).
    #[schemars(length(min = 1, max = 15), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub port: String,
}

/// Prometheus server settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "duration(self.scrapeTimeout) <= duration(self.scrapeInterval)", "message": "scrapeTimeout must not exceed scrapeInterval", "fieldPath": ".scrapeTimeout"}]))]
pub struct PrometheusSpec {
    /// Prometheus' container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Replicas, each scraping every target (default 2 with `spec.highAvailability`, which
    /// production turns on, and 1 otherwise; at least 2 with high availability). Thanos Query
    /// deduplicates their series on the `prometheus_replica` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: Option<u32>,
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
    /// Storage class of the TSDB volumes (default: the cluster's default class).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub storage_class_name: Option<String>,
    /// Exemplars (trace ids attached to samples) kept in memory, so Grafana can link a latency
    /// spike to its trace.
    pub exemplars: ExemplarStorage,
    /// Ingest native histograms (`--enable-feature=native-histograms`); the classic `_bucket`
    /// series are scraped alongside (`always_scrape_classic_histograms`), since the RED
    /// recordings and the latency alerts read them. Latency SLOs of monitors whose
    /// `histogram.native` is true then use `histogram_fraction`, which works at any threshold.
    pub native_histograms: bool,
    /// Labels added to every series and alert leaving this Prometheus.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub external_labels: std::collections::BTreeMap<String, String>,
    /// CPU and memory requests and limits of the Prometheus container (default requests
    /// 500m/2Gi, limits 2/4Gi; the resource names you set replace the defaults' of the same name).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for PrometheusSpec {
    fn default() -> Self {
        Self {
            image: Image::from(seed::images::PROMETHEUS),
            replicas: None,
            scrape_interval: ScrapeDuration::from(seed::SCRAPE_INTERVAL),
            evaluation_interval: ScrapeDuration::from(seed::EVALUATION_INTERVAL),
            scrape_timeout: ScrapeDuration::from(seed::SCRAPE_TIMEOUT),
            retention: Duration::from(seed::RETENTION_RAW),
            storage_size: StorageSize::from("50Gi"),
            storage_class_name: None,
            exemplars: ExemplarStorage::default(),
            native_histograms: false,
            external_labels: Default::default(),
            resources: Resources::default(),
        }
    }
}

/// Prometheus' exemplar storage (`--enable-feature=exemplar-storage`), a ring buffer in memory.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ExemplarStorage {
    /// Store exemplars (default true); the Thanos sidecar and Query serve them to Grafana.
    pub enabled: bool,
    /// Most exemplars kept, across all series (`storage.exemplars.max_exemplars`; about 100 bytes
    /// each).
    #[schemars(range(min = 1, max = 10_000_000))]
    pub max_exemplars: u32,
}

impl Default for ExemplarStorage {
    fn default() -> Self {
        Self { enabled: true, max_exemplars: 100_000 }
    }
}

/// Retention per resolution, enforced by the Thanos compactor over object storage, and read
/// back through Thanos Query and the Store Gateway.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DownsamplingSpec {
    /// Render the Thanos sidecar, compactor, Store Gateway and Query; Grafana's metrics
    /// datasource then queries Thanos Query, which reads every resolution.
    pub enabled: bool,
    /// Thanos image of every Thanos component (default: the release stackscope is tested with).
    pub image: Image,
    /// Retention of full-resolution samples (the seed's 1-minute tier: 30d).
    pub raw_retention: Duration,
    /// Retention of 5-minute downsampled data (seed: 90d).
    pub five_minute_retention: Duration,
    /// Retention of 1-hour downsampled data (seed: 2y).
    pub one_hour_retention: Duration,
    /// Secret key holding the Thanos object storage configuration (`objstore.yml`).
    pub object_storage: SecretKeyRef,
    /// CPU and memory of the Thanos sidecar beside each Prometheus (default requests
    /// 100m/256Mi, limits 500m/512Mi).
    #[serde(skip_serializing_if = "is_default")]
    pub sidecar_resources: Resources,
    /// The compactor: downsampling and retention, a singleton.
    pub compactor: ThanosCompactorSpec,
    /// The Store Gateway: serves the blocks in object storage to Thanos Query.
    pub store: ThanosStoreSpec,
    /// Thanos Query: one PromQL endpoint over the Prometheus replicas (deduplicated on the
    /// replica label) and the Store Gateway, choosing the resolution by the query's range.
    pub query: ThanosQuerySpec,
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
            sidecar_resources: Resources::default(),
            compactor: ThanosCompactorSpec::default(),
            store: ThanosStoreSpec::default(),
            query: ThanosQuerySpec::default(),
        }
    }
}

/// The Thanos compactor's scratch volume and resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ThanosCompactorSpec {
    /// Scratch volume for the blocks being compacted and downsampled.
    pub storage_size: StorageSize,
    /// Storage class of the scratch volume (default: the cluster's default class).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub storage_class_name: Option<String>,
    /// CPU and memory (default requests 200m/512Mi, limits 1/2Gi).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for ThanosCompactorSpec {
    fn default() -> Self {
        Self { storage_size: StorageSize::from("50Gi"), storage_class_name: None, resources: Resources::default() }
    }
}

/// The Thanos Store Gateway's cache volume and resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ThanosStoreSpec {
    /// Volume for the index headers and caches of the blocks it serves.
    pub storage_size: StorageSize,
    /// Storage class of that volume (default: the cluster's default class).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub storage_class_name: Option<String>,
    /// CPU and memory (default requests 200m/1Gi, limits 1/2Gi).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for ThanosStoreSpec {
    fn default() -> Self {
        Self { storage_size: StorageSize::from("10Gi"), storage_class_name: None, resources: Resources::default() }
    }
}

/// Thanos Query's replicas and resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ThanosQuerySpec {
    /// Replicas (default 2 with `spec.highAvailability`, else 1; at least 2 with high
    /// availability). Stateless: any replica answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub replicas: Option<u32>,
    /// CPU and memory (default requests 200m/512Mi, limits 1/1Gi).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
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
    /// Counter of chatbots created (seed: chatbots created per day).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub chatbots_created: String,
    /// Counter of user ratings of answers, labelled `rating="up"` or `rating="down"` (seed: user
    /// satisfaction, thumbs up/down).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub satisfaction_ratings: String,
    /// Counter of subscriptions upgraded from Free to Pro (seed: new subscriptions, Free → Pro).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub pro_upgrades: String,
    /// Counter of LLM spend in US dollars, labelled by `model` (seed: cost per conversation).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub llm_cost: String,
    /// Counter of retrieval-augmented lookups (seed: RAG hit rate).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub rag_lookups: String,
    /// Counter of lookups that found relevant context.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub rag_hits: String,
    /// Counter of cloud spend in US dollars, labelled by `service` (seed: cost, daily spend by
    /// service), e.g. from a cost exporter.
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub cloud_cost: String,
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
            chatbots_created: "chatbots_created_total".to_owned(),
            satisfaction_ratings: "user_satisfaction_ratings_total".to_owned(),
            pro_upgrades: "subscriptions_upgraded_total".to_owned(),
            llm_cost: "llm_cost_dollars_total".to_owned(),
            rag_lookups: "rag_lookups_total".to_owned(),
            rag_hits: "rag_hits_total".to_owned(),
            cloud_cost: "cloud_cost_dollars_total".to_owned(),
        }
    }
}

/// Names of the database metrics the Infrastructure dashboard queries (seed: Databases): Cosmos DB
/// as Azure Monitor's metrics are exported to Prometheus, Milvus as it exports its own.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DatabaseMetrics {
    /// Counter of Cosmos DB request units, labelled by `database_name` (seed: RU/s consumption).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub cosmos_request_units: String,
    /// Counter of Cosmos DB requests refused with 429, labelled by `database_name` (seed:
    /// throttled requests).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub cosmos_throttled_requests: String,
    /// Gauge of Cosmos DB data size in bytes, labelled by `database_name` (seed: storage size).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub cosmos_storage_bytes: String,
    /// Counter of vectors Milvus inserted (seed: insert throughput).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub milvus_inserted_vectors: String,
    /// Gauge of Milvus collections (seed: collection count).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub milvus_collections: String,
    /// Gauge of resident memory of the Milvus processes, in bytes (seed: memory usage).
    #[schemars(pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub milvus_memory_bytes: String,
    /// The `job` label of Milvus' scrape (its ServiceMonitor's job: the Service's name), which
    /// narrows the memory gauge, a metric every Go process exports, to Milvus.
    #[schemars(length(min = 1, max = 128), pattern(r"^[a-zA-Z0-9_.:/-]+$"))]
    pub milvus_job: String,
}

impl Default for DatabaseMetrics {
    fn default() -> Self {
        Self {
            cosmos_request_units: "cosmosdb_request_units_total".to_owned(),
            cosmos_throttled_requests: "cosmosdb_throttled_requests_total".to_owned(),
            cosmos_storage_bytes: "cosmosdb_data_usage_bytes".to_owned(),
            milvus_inserted_vectors: "milvus_proxy_insert_vectors_count".to_owned(),
            milvus_collections: "milvus_rootcoord_collection_num".to_owned(),
            milvus_memory_bytes: "process_resident_memory_bytes".to_owned(),
            milvus_job: "milvus".to_owned(),
        }
    }
}
