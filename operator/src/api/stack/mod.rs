//! `ObservabilityStack`: one complete stack, every section defaulting to the seed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;
use super::defaults as seed;
use super::status::ObservabilityStackStatus;

mod alerting;
mod dashboards;
mod logging;
mod metrics;
mod overlay;
mod probes;
mod routing;
mod slos;
mod tracing;

pub use alerting::*;
pub use dashboards::*;
pub use logging::*;
pub use metrics::*;
pub use probes::*;
pub use routing::*;
pub use slos::*;
pub use tracing::*;

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
// Deserialized as the user's document laid over the defaults (see `overlay`); `remote = "Self"`
// keeps the derived (de)serializers as inherent functions for that module to call.
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.metrics) && self.metrics.enabled == false) || (has(self.alerting) && self.alerting.enabled == false)", "message": "alerting needs metrics: set alerting.enabled: false when metrics.enabled is false", "fieldPath": ".alerting.enabled"},
    {"rule": "!(has(self.metrics) && self.metrics.enabled == false) || (has(self.slos) && self.slos.enabled == false)", "message": "SLOs need metrics: set slos.enabled: false when metrics.enabled is false", "fieldPath": ".slos.enabled"},
    {"rule": "!(has(self.highAvailability) ? self.highAvailability : (!has(self.environment) || self.environment == 'production')) || !has(self.metrics) || !has(self.metrics.prometheus) || !has(self.metrics.prometheus.replicas) || self.metrics.prometheus.replicas >= 2", "message": "high availability (spec.highAvailability, on in production) needs at least 2 Prometheus replicas, which Thanos Query deduplicates", "fieldPath": ".metrics.prometheus.replicas"},
    {"rule": "!(has(self.highAvailability) ? self.highAvailability : (!has(self.environment) || self.environment == 'production')) || !has(self.alerting) || !has(self.alerting.alertmanager) || !has(self.alerting.alertmanager.replicas) || self.alerting.alertmanager.replicas >= 2", "message": "high availability (spec.highAvailability, on in production) needs at least 2 clustered Alertmanager replicas", "fieldPath": ".alerting.alertmanager.replicas"},
    {"rule": "!(has(self.highAvailability) ? self.highAvailability : (!has(self.environment) || self.environment == 'production')) || !has(self.metrics) || !has(self.metrics.downsampling) || !has(self.metrics.downsampling.query) || !has(self.metrics.downsampling.query.replicas) || self.metrics.downsampling.query.replicas >= 2", "message": "high availability (spec.highAvailability, on in production) needs at least 2 Thanos Query replicas", "fieldPath": ".metrics.downsampling.query.replicas"}
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
    /// Run the stack highly available: Prometheus with 2 replicas (Thanos Query deduplicates
    /// them), Alertmanager with 3 clustered replicas, Thanos Query with 2, each with a
    /// PodDisruptionBudget and spread across nodes. Default: on in production, off in staging and
    /// development. While on, a replica count below 2 is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_availability: Option<bool>,
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

pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
