//! The Prometheus configuration file as typed, serializable values.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::RelabelConfig;

/// A configuration string, borrowed from the spec where possible: a render of thousands of
/// monitors copies as little as it can.
pub(crate) type Text<'a> = Cow<'a, str>;
/// Source labels: mostly a static list, so most relabelings allocate nothing.
pub(crate) type Labels<'a> = Cow<'a, [Text<'a>]>;

/// A static list of label names, as [`Labels`].
macro_rules! labels {
    ($($name:expr),+ $(,)?) => {
        Cow::Borrowed(const { &[$(Cow::Borrowed($name)),+] } as &[Text<'static>])
    };
}

pub(crate) use labels;

/// A list of one label name built at render time.
pub(crate) fn owned_label<'a>(name: String) -> Labels<'a> {
    Cow::Owned(vec![Cow::Owned(name)])
}

/// The Prometheus configuration file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PrometheusConfig<'a> {
    pub global: Global<'a>,
    pub rule_files: Vec<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerting: Option<Alerting<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// Globs of the shard files holding the monitors' jobs, when the configuration is sharded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<Text<'a>>,
    pub scrape_configs: Vec<ScrapeConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Global<'a> {
    pub scrape_interval: Text<'a>,
    pub scrape_timeout: Text<'a>,
    pub evaluation_interval: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<Text<'a>, Text<'a>>,
}

/// `storage`: the exemplar ring buffer's size.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Storage {
    pub exemplars: Exemplars,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Exemplars {
    pub max_exemplars: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Alerting<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<Relabel<'a>>,
    pub alertmanagers: Vec<AlertmanagerConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct AlertmanagerConfig<'a> {
    pub kubernetes_sd_configs: Vec<KubernetesSd<'a>>,
    pub relabel_configs: Vec<Relabel<'a>>,
}

/// One scrape job. Optional knobs are written only when set, like prometheus-operator does,
/// so Prometheus' own defaults apply otherwise.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ScrapeConfig<'a> {
    pub job_name: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<&'a BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsFiles<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthFiles>,
    pub kubernetes_sd_configs: Vec<KubernetesSd<'a>>,
    pub relabel_configs: Vec<Relabel<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<Relabel<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
    /// The knobs only ServiceMonitors set.
    #[serde(flatten)]
    pub options: ScrapeOptions<'a>,
}

/// Scrape settings a ServiceMonitor may set beyond the basic ones, each under Prometheus' key;
/// unset ones are not written, so Prometheus' defaults apply.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct ScrapeOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_from_environment: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_timestamps_staleness: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_protocols: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_histogram_bucket_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_histogram_min_bucket_factor: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name_length_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_value_length_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_dropped_targets: Option<u64>,
}

impl<'a> ScrapeConfig<'a> {
    /// A job with discovery and relabelings only; everything else from `global`.
    pub fn new(job_name: impl Into<Text<'a>>, discovery: KubernetesSd<'a>, relabel_configs: Vec<Relabel<'a>>) -> Self {
        Self {
            job_name: job_name.into(),
            honor_labels: None,
            honor_timestamps: None,
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: None,
            scheme: None,
            params: None,
            follow_redirects: None,
            tls_config: None,
            authorization: None,
            basic_auth: None,
            kubernetes_sd_configs: vec![discovery],
            relabel_configs,
            metric_relabel_configs: Vec::new(),
            sample_limit: None,
            target_limit: None,
            options: ScrapeOptions::default(),
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct KubernetesSd<'a> {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_metadata: Option<AttachNode>,
}

/// `attach_metadata`: the node's labels on every target.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub(crate) struct AttachNode {
    pub node: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Namespaces<'a> {
    pub names: Vec<Text<'a>>,
}

/// TLS client settings; every secret part is a file mounted from a Secret.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct TlsFiles<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<crate::api::TlsVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<crate::api::TlsVersion>,
}

/// `Authorization: <type> <credentials>`, the credentials read from a file on every scrape.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Authorization<'a> {
    #[serde(rename = "type")]
    pub kind: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<Text<'a>>,
}

impl<'a> Authorization<'a> {
    /// A bearer token read from a file.
    pub(crate) fn bearer(file: impl Into<Text<'a>>) -> Self {
        Self { kind: Cow::Borrowed("Bearer"), credentials_file: Some(file.into()) }
    }
}

/// Basic auth with both parts read from files.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct BasicAuthFiles {
    pub username_file: String,
    pub password_file: String,
}

/// One relabeling step, keys in the order prometheus-operator writes them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Relabel<'a> {
    #[serde(skip_serializing_if = "no_labels")]
    pub source_labels: Labels<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Text<'a>>,
    /// Omitted when `replace`, Prometheus' default, as prometheus-operator writes it.
    #[serde(skip_serializing_if = "is_replace")]
    pub action: &'static str,
}

fn no_labels(labels: &Labels<'_>) -> bool {
    labels.is_empty()
}

fn is_replace(action: &&'static str) -> bool {
    *action == "replace"
}

impl<'a> Relabel<'a> {
    pub(crate) fn filter(action: &'static str, source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels,
            separator: None,
            target_label: None,
            regex: Some(regex.into()),
            modulus: None,
            replacement: None,
            action,
        }
    }

    /// Keeps targets whose joined source labels match `regex`.
    pub(crate) fn keep(source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self::filter("keep", source_labels, regex)
    }

    /// Drops targets whose joined source labels match `regex`.
    pub(crate) fn drop(source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self::filter("drop", source_labels, regex)
    }

    /// Copies a label (an empty source removes the target label, as in Prometheus).
    pub(crate) fn copy(source_labels: Labels<'a>, target: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels,
            separator: None,
            target_label: Some(target.into()),
            regex: None,
            modulus: None,
            replacement: None,
            action: "replace",
        }
    }

    /// Copies a label only when the source is not empty.
    pub(crate) fn copy_non_empty(source_labels: Labels<'a>, target: impl Into<Text<'a>>) -> Self {
        Self {
            regex: Some(Cow::Borrowed("(.+)")),
            replacement: Some(Cow::Borrowed("${1}")),
            ..Self::copy(source_labels, target)
        }
    }

    /// Sets a label to a fixed value.
    pub(crate) fn set(target: &'static str, value: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels: Cow::Borrowed(&[]),
            separator: None,
            target_label: Some(Cow::Borrowed(target)),
            regex: None,
            modulus: None,
            replacement: Some(value.into()),
            action: "replace",
        }
    }

    /// A user's relabeling, with Prometheus' action name.
    pub(crate) fn from_spec(config: &'a RelabelConfig) -> Self {
        Self {
            source_labels: config
                .source_labels
                .iter()
                .map(|label| Cow::Borrowed(label.as_str()))
                .collect::<Vec<_>>()
                .into(),
            separator: config.separator.as_deref().map(Cow::Borrowed),
            target_label: config.target_label.as_deref().map(Cow::Borrowed),
            regex: config.regex.as_deref().map(Cow::Borrowed),
            modulus: config.modulus,
            replacement: config.replacement.as_deref().map(Cow::Borrowed),
            action: config.action.prometheus_name(),
        }
    }
}
