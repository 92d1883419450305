//! Metrics: Prometheus, downsampling and the metric names alerts and dashboards query.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

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
