//! The connection settings of a ServiceMonitor endpoint (TLS) and those prometheus-operator added
//! after its first API:
//! authorization, OAuth 2.0, proxies, discovery metadata, scrape protocols, native histograms and
//! the per-scrape limits. Names and meaning are prometheus-operator's (`monitoring.coreos.com/v1`);
//! each is rendered under Prometheus' own key, named on the field.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{SecretKeyRef, SecretOrConfigMap};

/// TLS client settings of a scrape.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!(has(self.ca) && has(self.caFile))", "message": "ca and caFile are mutually exclusive"}, {"rule": "has(self.cert) == has(self.keySecret)", "message": "cert and keySecret must be set together"}, {"rule": "has(self.certFile) == has(self.keyFile)", "message": "certFile and keyFile must be set together"}, {"rule": "!(has(self.cert) && has(self.certFile))", "message": "cert and certFile are mutually exclusive"}]))]
pub struct TlsConfig {
    /// CA certificate to verify the target with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretOrConfigMap>,
    /// Client certificate presented to the target (with `keySecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretOrConfigMap>,
    /// Secret key holding the client certificate's private key (with `cert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<SecretKeyRef>,
    /// Path of a CA file already present in the Prometheus container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096), pattern(r"^/"))]
    pub ca_file: Option<String>,
    /// Server name to verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// Skip certificate verification (not recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// Path of a client certificate already present in the Prometheus container (with `keyFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096), pattern(r"^/"))]
    pub cert_file: Option<String>,
    /// Path of the client certificate's private key in the Prometheus container (with `certFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096), pattern(r"^/"))]
    pub key_file: Option<String>,
    /// Oldest TLS version accepted (Prometheus' default TLS12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Newest TLS version accepted (default: the newest Go supports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version, as prometheus-operator and Prometheus spell it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

/// The `Authorization` header of every scrape (Prometheus `authorization`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SafeAuthorization {
    /// Authentication scheme (default `Bearer`); `Basic` is refused, as by Prometheus: use
    /// `basicAuth`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"))]
    pub kind: Option<String>,
    /// Secret key holding the credentials (`credentials_file`, read on every scrape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretKeyRef>,
}

/// OAuth 2.0 client credentials (Prometheus `oauth2`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// Secret or ConfigMap key holding the client id.
    pub client_id: SecretOrConfigMap,
    /// Secret key holding the client secret.
    pub client_secret: SecretKeyRef,
    /// URL the token is fetched from.
    #[schemars(length(min = 1, max = 2048))]
    pub token_url: String,
    /// Scopes of the token request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub scopes: Vec<String>,
    /// Parameters added to the token URL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings of the connection to the token URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy of the connection to the token URL.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
}

/// The HTTP proxy of a connection (Prometheus `proxy_url`, `no_proxy`, `proxy_from_environment`,
/// `proxy_connect_header`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfig {
    /// URL of the proxy (`http`, `https` or `socks5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), pattern(r"^(http|https|socks5)://.+$"))]
    pub proxy_url: Option<String>,
    /// Comma-separated IPs, CIDRs and domain names (ports allowed) reached without the proxy;
    /// needs `proxyUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub no_proxy: Option<String>,
    /// Use the proxy the Prometheus container's `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` name;
    /// excludes `proxyUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    /// Headers sent to the proxy in CONNECT requests, each value from a Secret key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<SecretKeyRef>>,
}

impl ProxyConfig {
    /// Whether any proxy field is set.
    pub fn is_set(&self) -> bool {
        self != &Self::default()
    }
}

/// Metadata of the target's node added to the discovered labels (`__meta_kubernetes_node_*`);
/// Prometheus `kubernetes_sd_configs[].attach_metadata`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachMetadata {
    /// Attach the node's labels; Prometheus then needs to read Nodes (the stack's role allows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<bool>,
}

/// How prometheus-operator selects the Services of a monitor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SelectorMechanism {
    /// Relabelings on the discovered labels (stackscope's way).
    RelabelConfig,
    /// Label selectors in the discovery request. The targets are the same; stackscope selects
    /// by relabeling, so this value is reported as having no effect.
    RoleSelector,
}

/// The Kubernetes objects prometheus-operator discovers targets through.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ServiceDiscoveryRole {
    /// The v1 Endpoints API (deprecated since Kubernetes 1.33). stackscope discovers the same
    /// targets through EndpointSlices, so this value is reported as having no effect.
    Endpoints,
    /// EndpointSlices (stackscope's way).
    EndpointSlice,
}

/// A format Prometheus asks targets for (Prometheus `scrape_protocols`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ScrapeProtocol {
    PrometheusProto,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText001,
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText100,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText004,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText100,
}

impl ScrapeProtocol {
    /// The protocol as Prometheus writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrometheusProto => "PrometheusProto",
            Self::OpenMetricsText001 => "OpenMetricsText0.0.1",
            Self::OpenMetricsText100 => "OpenMetricsText1.0.0",
            Self::PrometheusText004 => "PrometheusText0.0.4",
            Self::PrometheusText100 => "PrometheusText1.0.0",
        }
    }
}

/// Parses a Kubernetes decimal quantity without suffix (`1.1`, `2`) as prometheus-operator
/// reads `nativeHistogramMinBucketFactor`.
pub fn quantity_as_f64(quantity: &IntOrString) -> Option<f64> {
    match quantity {
        IntOrString::Int(number) => Some(f64::from(*number)),
        IntOrString::String(text) => text.parse::<f64>().ok().filter(|value| value.is_finite()),
    }
}

/// Schema of `nativeHistogramMinBucketFactor`: a quantity, written as prometheus-operator's CRD
/// declares it.
pub(crate) fn quantity_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": true,
        "description": "Smallest growth factor between native histogram buckets (Prometheus native_histogram_min_bucket_factor, e.g. \"1.1\"); Prometheus merges buckets until it holds.",
    })
}

/// A field a monitor sets that stackscope accepts but that changes nothing, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithoutEffect {
    /// Path from the object's root, e.g. `spec.scrapeClass`.
    pub field: String,
    pub reason: &'static str,
}

impl std::fmt::Display for WithoutEffect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.field, self.reason)
    }
}
