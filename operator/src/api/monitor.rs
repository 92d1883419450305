//! `ServiceMonitor`: prometheus-operator's fields and meaning, plus `slo`, `probes` and `alerts`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;
use super::scrape::*;
use super::stack::HttpProbe;
use super::status::ServiceMonitorStatus;

/// Declares how the Services it selects are scraped, probed and held to their SLO.
///
/// Field names and meaning follow `monitoring.coreos.com/v1` ServiceMonitor, so an existing
/// manifest ports by changing its `apiVersion`.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "stackscope.dev",
    version = "v1alpha1",
    kind = "ServiceMonitor",
    namespaced,
    status = "ServiceMonitorStatus",
    shortname = "ssmon",
    category = "stackscope",
    printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].reason"}"#,
    printcolumn = r#"{"name":"Endpoints","type":"integer","jsonPath":".status.endpointCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Label of the Service whose value becomes the `job` label (default: the Service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 316))]
    pub job_label: Option<String>,
    /// Service labels copied onto every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub target_labels: Vec<String>,
    /// Pod labels copied onto every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub pod_target_labels: Vec<String>,
    /// Endpoints of the selected Services to scrape. A monitor without endpoints is valid and
    /// scrapes nothing (its status says so), as in prometheus-operator.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub endpoints: Vec<Endpoint>,
    /// Services to monitor, by label.
    pub selector: LabelSelector,
    /// Namespaces the Services are in (default: the ServiceMonitor's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Per-scrape limit on accepted samples (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100_000_000))]
    pub sample_limit: Option<u64>,
    /// Limit on the number of targets (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1_000_000))]
    pub target_limit: Option<u64>,
    /// Per-scrape limit on the number of labels of a sample (Prometheus `label_limit`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    /// Per-scrape limit on the length of a label name (`label_name_length_limit`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    /// Per-scrape limit on the length of a label value (`label_value_length_limit`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    /// Largest uncompressed response body accepted, e.g. `10MiB` (`body_size_limit`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), pattern(r"(^0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$"))]
    pub body_size_limit: Option<String>,
    /// Targets dropped by relabeling that Prometheus keeps in memory for its targets page
    /// (`keep_dropped_targets`; 0: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
    /// Formats asked for, in order of preference (`scrape_protocols`; default Prometheus').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), extend("x-kubernetes-list-type" = "set"))]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Format a response is parsed as when its Content-Type is missing or unknown
    /// (`fallback_scrape_protocol`); without it such a scrape fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Also ingest the classic buckets of histograms exposed in both forms
    /// (`always_scrape_classic_histograms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_classic_histograms: Option<bool>,
    /// Most buckets a native histogram keeps; more are merged (`native_histogram_bucket_limit`;
    /// 0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    /// Smallest growth factor between native histogram buckets, e.g. `"1.1"`
    /// (`native_histogram_min_bucket_factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_schema")]
    pub native_histogram_min_bucket_factor: Option<IntOrString>,
    /// Store classic histograms as native histograms with custom buckets
    /// (`convert_classic_histograms_to_nhcb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "convertClassicHistogramsToNHCB")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Metadata added to the discovered labels (`attach_metadata`): `node: true` adds the labels
    /// of the target's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<AttachMetadata>,
    /// prometheus-operator's way of selecting the Services. Accepted for compatibility;
    /// `RoleSelector` selects the same targets and is reported as having no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_mechanism: Option<SelectorMechanism>,
    /// prometheus-operator's discovery role. Accepted for compatibility; stackscope always
    /// discovers through EndpointSlices (the same targets), so `Endpoints` is reported as having
    /// no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_discovery_role: Option<ServiceDiscoveryRole>,
    /// A scrape class of prometheus-operator's Prometheus resource. stackscope has no scrape
    /// classes: accepted so manifests port unchanged, reported in the status as having no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub scrape_class: Option<String>,
    /// Service level objective of the monitored service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<ServiceSlo>,
    /// Liveness and readiness probes the monitored workloads are expected to have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeExpectations>,
    /// Per-service overrides of the application alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertOverrides>,
    /// Marks the monitored targets as a database (or a database's exporter): the DatabaseDown
    /// alert fires when they cannot be scraped or report their database unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseTarget>,
    /// Metric names the monitored service exports besides the RED metrics (e.g. the business
    /// metrics `user_signups_total`, `payments_total`), which the stack's rule-source check counts
    /// as produced by this monitor's scrape jobs. Every monitor counts as exporting the RED
    /// metrics of `spec.metrics.red` (`up` and the scrape series come with every job).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 256), pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")))]
    pub metrics: Vec<String>,
    /// The request-duration histogram the service exports: its classic bucket boundaries and
    /// whether it is a native histogram too. A latency SLO is checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<DurationHistogram>,
}

/// A database behind a monitor's targets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseTarget {
    /// The `database` label of the targets and of the alert (e.g. `mongodb`, `milvus`).
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-zA-Z0-9_.-]+$"))]
    pub system: String,
    /// A gauge the exporter sets to 1 while it reaches the database and to 0 when not (e.g.
    /// `mongodb_up`, `pg_up`). Without it, the scrape of the targets (`up`) is the signal, which
    /// is right for a database that serves its own metrics (Milvus) and misses a database behind
    /// an exporter that still answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), pattern(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"))]
    pub up_metric: Option<String>,
}

/// The request-duration histogram (`spec.metrics.red.duration` of the stack) of a service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DurationHistogram {
    /// Upper bounds (`le`) of its classic buckets, in seconds (e.g. `[0.05, 0.1, 0.25, 0.5, 1,
    /// 2.5, 5, 10]`). A latency SLO reads the bucket at its `latencyBucket`, which must be one of
    /// them; the stack's status says when it is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(range(min = 0.0, max = 1e6)))]
    pub buckets: Vec<f64>,
    /// The service exports it as a native histogram as well. With the stack's
    /// `metrics.prometheus.nativeHistograms`, the latency SLO is computed with
    /// `histogram_fraction`, which needs no bucket at the threshold.
    #[serde(default)]
    pub native: bool,
}

/// One scraped port of the selected Services.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!(has(self.port) && has(self.targetPort))", "message": "set at most one of port (a Service port name) or targetPort"}, {"rule": "!has(self.interval) || !has(self.scrapeTimeout) || duration(self.scrapeTimeout) <= duration(self.interval)", "message": "scrapeTimeout must not exceed interval", "fieldPath": ".scrapeTimeout"}, {"rule": "[has(self.bearerTokenSecret), has(self.bearerTokenFile), has(self.basicAuth), has(self.authorization), has(self.oauth2)].filter(x, x).size() <= 1", "message": "bearerTokenSecret, bearerTokenFile, basicAuth, authorization and oauth2 are mutually exclusive"}, {"rule": "!has(self.proxyUrl) || !has(self.proxyFromEnvironment) || !self.proxyFromEnvironment", "message": "proxyUrl and proxyFromEnvironment are mutually exclusive"}]))]
pub struct Endpoint {
    /// Name of the Service port to scrape (`spec.ports[].name` of the selected Services). Set at
    /// most one of `port` or `targetPort`; with neither, every port of the selected Services'
    /// endpoints is scraped, as prometheus-operator does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub port: Option<String>,
    /// Pod port (number or name) to scrape, when the Service port has no name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_string")]
    pub target_port: Option<IntOrString>,
    /// HTTP path of the metrics (default `/metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), pattern(r"^/"))]
    pub path: Option<String>,
    /// `http` or `https` (default `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// URL query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Scrape interval (default: the stack's `metrics.prometheus.scrapeInterval`, 15s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<ScrapeDuration>,
    /// Scrape timeout, at most the interval (default: the stack's, 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<ScrapeDuration>,
    /// TLS settings for `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Bearer token read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_secret: Option<SecretKeyRef>,
    /// Basic auth credentials read from Secret keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Bearer token read from a file inside the Prometheus container (Prometheus
    /// `authorization.credentials_file`). Deprecated by prometheus-operator in favour of
    /// `authorization`, still widely used (e.g. the service-account token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096), pattern(r"^/"))]
    pub bearer_token_file: Option<String>,
    /// The `Authorization` header: a scheme and credentials from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<SafeAuthorization>,
    /// OAuth 2.0 client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// The proxy scrapes go through.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
    /// Whether HTTP/2 may be used (Prometheus `enable_http2`, default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// Drop targets of pods that have finished (phase Failed or Succeeded); default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_running: Option<bool>,
    /// Mark samples stale when a target with exposed timestamps disappears (Prometheus
    /// `track_timestamps_staleness`; only with `honorTimestamps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_timestamps_staleness: Option<bool>,
    /// Keep the scraped labels when they clash with target labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    /// Keep the timestamps the target exposes (Prometheus default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    /// Follow HTTP redirects (Prometheus default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Relabelings applied to targets before scraping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub relabelings: Vec<RelabelConfig>,
    /// Relabelings applied to samples before ingestion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub metric_relabelings: Vec<RelabelConfig>,
}

/// HTTP scheme of a scrape.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The scheme as Prometheus writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Basic auth credentials from Secret keys.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// Secret key holding the user name.
    pub username: SecretKeyRef,
    /// Secret key holding the password.
    pub password: SecretKeyRef,
}

/// The service level objective of one service (seed: Service Level Objectives).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSlo {
    /// Value of the `service` label the SLO is measured on (default: the job name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), pattern(r"^[a-zA-Z0-9_.:-]+$"))]
    pub service: Option<String>,
    /// Availability target in percent, e.g. 99.95.
    #[schemars(range(min = 50.0, max = 99.9999))]
    pub availability: f64,
    /// p95 latency target, e.g. 100ms, 3s.
    pub latency_p95: ScrapeDuration,
    /// The histogram bucket (`le`, in seconds) the latency SLI counts requests below (default:
    /// `latencyP95` itself). A classic histogram only counts requests at its bucket boundaries,
    /// so a target between two boundaries needs one of them named here (the nearer one above is
    /// the lenient choice, below the strict one); a native histogram needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.000001, max = 1e6))]
    pub latency_bucket: Option<f64>,
    /// Highest acceptable error rate in percent, e.g. 0.5.
    #[schemars(range(min = 0.0001, max = 50.0))]
    pub error_rate: f64,
}

/// Probes the workloads behind a monitor must carry; unset fields take the stack's defaults.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeExpectations {
    /// Container the probes belong to (default: the first container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub container: Option<String>,
    /// Expected liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<HttpProbe>,
    /// Expected readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<HttpProbe>,
}

/// Per-service overrides of the application alerts (those the document evaluates per service:
/// HighErrorRate, CriticalErrorRate, HighLatency, CriticalLatency, NoRequests).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertOverrides {
    /// Alerts not to evaluate for this service, by alert name (e.g. `NoRequests`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(pattern(r"^[A-Za-z][A-Za-z0-9]*$")))]
    pub disabled: Vec<String>,
    /// Error-rate warning threshold in percent (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub error_rate_warning: Option<f64>,
    /// Error-rate critical threshold in percent (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub error_rate_critical: Option<f64>,
    /// p95 latency warning threshold (default 3s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_warning: Option<ScrapeDuration>,
    /// p95 latency critical threshold (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_critical: Option<ScrapeDuration>,
    /// Channels of this service's alerts, by alert name (e.g. `CriticalLatency: [slack,
    /// pagerduty]`); alerts not listed keep the stack's channels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, Vec<Channel>>,
}

/// Schema of an optional `IntOrString`: what `kubectl explain` shows as `<IntOrString>` and
/// prometheus-operator's CRD declares for the same field.
fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": true,
        "description": "Pod port (number or name) to scrape, when the Service port has no name.",
    })
}

impl ServiceMonitorSpec {
    /// The fields set that have no effect in stackscope (accepted so prometheus-operator's
    /// manifests port unchanged), listed in the monitor's status.
    pub fn without_effect(&self) -> Vec<WithoutEffect> {
        let mut found = Vec::new();
        let mut push = |field: String, reason| found.push(WithoutEffect { field, reason });
        if self.scrape_class.is_some() {
            push(
                "spec.scrapeClass".to_owned(),
                "scrape classes belong to prometheus-operator's Prometheus resource; stackscope has none",
            );
        }
        if self.selector_mechanism == Some(SelectorMechanism::RoleSelector) {
            push(
                "spec.selectorMechanism".to_owned(),
                "stackscope selects the Services by relabeling, which keeps the same targets",
            );
        }
        if self.service_discovery_role == Some(ServiceDiscoveryRole::Endpoints) {
            push(
                "spec.serviceDiscoveryRole".to_owned(),
                "stackscope discovers the same targets through EndpointSlices",
            );
        }
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            if endpoint.track_timestamps_staleness.is_some() && endpoint.honor_timestamps == Some(false) {
                push(
                    format!("spec.endpoints[{index}].trackTimestampsStaleness"),
                    "Prometheus tracks the staleness of exposed timestamps only with honorTimestamps",
                );
            }
        }
        found
    }
}
