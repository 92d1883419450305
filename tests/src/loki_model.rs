//! Strict typed models of the configuration files of Loki 3.5 (`loki.yaml`) and Promtail 3.5
//! (`promtail.yaml`): every key of them a struct that rejects unknown keys, so a misspelled or
//! misplaced key is an error here as it is when Loki loads its file (`yaml.UnmarshalStrict`).
//!
//! Loki's own Go module cannot judge the files here (its licence keeps it out of this project),
//! so the model is written from Loki v3.5.7's configuration reference instead:
//!
//! - `loki_model/generated.rs` holds every block of `docs/sources/shared/configuration.md`,
//!   generated from its key listing by `loki_model/generate.py` (names, nesting, value types);
//! - this file holds the value types, the blocks the reference only names (Prometheus' remote
//!   write and relabel configs, stream retention, ...) and Promtail's file, written from
//!   `docs/sources/send-data/promtail/configuration.md`, the stage pages under
//!   `docs/sources/send-data/promtail/stages/` and the keys of `clients/pkg/promtail`.
//!
//! Values are checked as Loki's YAML decoder (yaml.v2) reads them: any scalar is a string, an
//! integral float is an int, a byte size may carry a unit (`1G`, `256KB`), a duration is Go's or
//! Prometheus' syntax (`10m`, `1h30m`, `90d`; the reference does not say which keys take which,
//! so both are accepted everywhere), a schema day is `YYYY-MM-DD`.
//!
//! Promtail decodes pipeline stages leniently (mapstructure ignores unknown keys); the model does
//! not, so a misspelled stage key, which Promtail would silently drop, is an error here.
//!
//! Both programs expand `${VAR}` references from the environment before parsing when started
//! with `-config.expand-env=true` (stackscope's Loki is, its Promtail is not: the level template
//! holds `$level`): [`expand_env`] does what their expansion (drone/envsubst) does, and
//! [`parse_loki`]/[`parse_promtail`] run it first when given an environment.

mod generated;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

pub use generated::*;

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

/// A string. yaml.v2 reads any scalar into a string field (`instance_addr: 1` is `"1"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A number of Loki's kind `int`. yaml.v2 also takes an integral float (`1.572864e+06`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v).map(Int).map_err(|_| E::custom(format!("{v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 9.2e18 {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Int(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// A byte size (dskit's `flagext.ByteSize`): an integer, or a number with a unit (`4GB`, `1G`).
#[derive(Debug, Clone, PartialEq)]
pub struct ByteSize(pub String);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(deserializer)?;
        if BYTE_SIZE.is_match(text.trim()) {
            Ok(ByteSize(text))
        } else {
            Err(de::Error::custom(format!("{text:?} is not a byte size such as 1048576, 256KB or 1G")))
        }
    }
}

/// A number of Loki's kind `float`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Float(pub f64);

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FloatVisitor;
        impl Visitor<'_> for FloatVisitor {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Float, E> {
                Ok(Float(v))
            }
        }
        deserializer.deserialize_any(FloatVisitor)
    }
}

/// A duration in Go's syntax (`1h30m`, `500ms`, `1.5h`) or Prometheus' (`90d`, `2w`, `1y`), or a
/// bare integer (yaml.v2 reads it as nanoseconds into a Go duration).
#[derive(Debug, Clone, PartialEq)]
pub struct Duration(pub String);

/// Whether `text` is a duration Loki reads (Go's `time.ParseDuration` or Prometheus'
/// `model.ParseDuration`).
pub fn is_duration(text: &str) -> bool {
    text == "0" || (!text.is_empty() && (GO_DURATION.is_match(text) || PROMETHEUS_DURATION.is_match(text)))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(deserializer)?;
        if is_duration(&text) || text.parse::<i64>().is_ok() {
            Ok(Duration(text))
        } else {
            Err(de::Error::custom(format!("{text:?} is not a duration such as 30s, 10m, 1h30m or 90d")))
        }
    }
}

/// The first day of a schema period, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTime(pub String);

impl<'de> Deserialize<'de> for DayTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(deserializer)?;
        if DAY.is_match(&text) {
            Ok(DayTime(text))
        } else {
            Err(de::Error::custom(format!("{text:?} is not a day such as 2024-04-01")))
        }
    }
}

/// A list of strings; Loki's comma-separated flags also take one string (`a,b`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<Text>),
            One(Text),
        }
        Ok(match Form::deserialize(deserializer)? {
            Form::List(items) => StringList(items.into_iter().map(|Text(item)| item).collect()),
            Form::One(Text(text)) => StringList(text.split(',').map(|item| item.trim().to_owned()).collect()),
        })
    }
}

/// A pattern of this file, compiled once.
macro_rules! pattern {
    ($name:ident, $regex:literal) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            // A literal of this file: a bad one is a bug the first test finds.
            Regex::new($regex).unwrap_or_else(|error| panic!("pattern {}: {error}", $regex))
        });
    };
}

pattern!(BYTE_SIZE, r"^[0-9]+(\.[0-9]+)?\s*([kKmMgGtTpPeE]i?[bB]?|[bB])?$");
pattern!(GO_DURATION, r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$");
pattern!(
    PROMETHEUS_DURATION,
    r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$"
);
pattern!(DAY, r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$");

/// A field present with an empty value (`cri:`, `cri: {}`) is a stage with its defaults.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(deserializer)?.unwrap_or_default()))
}

// ---------------------------------------------------------------------------------------------
// Blocks the Loki reference names without listing (Prometheus' types and small Loki ones)
// ---------------------------------------------------------------------------------------------

/// `retention_stream` entry of `limits_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRetention {
    pub period: Option<Duration>,
    pub priority: Option<Int>,
    pub selector: Option<Text>,
}

/// `blocked_queries` entry of `limits_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedQuery {
    pub pattern: Option<Text>,
    pub regex: Option<bool>,
    pub hash: Option<Int>,
    pub types: Option<Text>,
}

/// `policy_stream_mapping` entry of `limits_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityStream {
    pub priority: Option<Int>,
    pub selector: Option<Text>,
}

/// Prometheus' `config.Header` of `http_headers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    pub values: Option<Vec<Text>>,
    pub secrets: Option<Vec<Text>>,
    pub files: Option<Vec<Text>>,
}

/// Prometheus' relabel config (`relabel_configs`, `write_relabel_configs`, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    pub source_labels: Option<Vec<Text>>,
    pub separator: Option<Text>,
    pub regex: Option<Text>,
    pub modulus: Option<Int>,
    pub target_label: Option<Text>,
    pub replacement: Option<Text>,
    pub action: Option<Text>,
}

/// Prometheus' `basic_auth`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: Option<Text>,
    pub username_file: Option<Text>,
    pub password: Option<Text>,
    pub password_file: Option<Text>,
}

/// Prometheus' `authorization`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    pub r#type: Option<Text>,
    pub credentials: Option<Text>,
    pub credentials_file: Option<Text>,
}

/// Prometheus' `tls_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromTlsConfig {
    pub ca: Option<Text>,
    pub ca_file: Option<Text>,
    pub ca_ref: Option<Text>,
    pub cert: Option<Text>,
    pub cert_file: Option<Text>,
    pub cert_ref: Option<Text>,
    pub key: Option<Text>,
    pub key_file: Option<Text>,
    pub key_ref: Option<Text>,
    pub server_name: Option<Text>,
    pub insecure_skip_verify: Option<bool>,
    pub min_version: Option<Text>,
    pub max_version: Option<Text>,
}

/// Prometheus' `oauth2`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub client_id: Option<Text>,
    pub client_secret: Option<Text>,
    pub client_secret_file: Option<Text>,
    pub scopes: Option<Vec<Text>>,
    pub token_url: Option<Text>,
    pub endpoint_params: Option<BTreeMap<String, Text>>,
    pub tls_config: Option<PromTlsConfig>,
    pub proxy_url: Option<Text>,
    pub no_proxy: Option<Text>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<Text>>>,
}

/// Prometheus' remote write `sigv4`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sigv4 {
    pub region: Option<Text>,
    pub access_key: Option<Text>,
    pub secret_key: Option<Text>,
    pub profile: Option<Text>,
    pub role_arn: Option<Text>,
    pub use_fips_sts_endpoint: Option<bool>,
}

/// Prometheus' remote write `queue_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub capacity: Option<Int>,
    pub max_shards: Option<Int>,
    pub min_shards: Option<Int>,
    pub max_samples_per_send: Option<Int>,
    pub batch_send_deadline: Option<Duration>,
    pub min_backoff: Option<Duration>,
    pub max_backoff: Option<Duration>,
    pub retry_on_http_429: Option<bool>,
    pub sample_age_limit: Option<Duration>,
}

/// Prometheus' remote write `metadata_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    pub send: Option<bool>,
    pub send_interval: Option<Duration>,
    pub max_samples_per_send: Option<Int>,
}

/// Prometheus' `remote_write` entry, as Loki's ruler takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    pub url: Option<Text>,
    pub remote_timeout: Option<Duration>,
    pub headers: Option<BTreeMap<String, Text>>,
    pub write_relabel_configs: Option<Vec<RelabelConfig>>,
    pub name: Option<Text>,
    pub send_exemplars: Option<bool>,
    pub send_native_histograms: Option<bool>,
    pub round_robin_dns: Option<bool>,
    pub protobuf_message: Option<Text>,
    pub queue_config: Option<QueueConfig>,
    pub metadata_config: Option<MetadataConfig>,
    pub sigv4: Option<Sigv4>,
    pub azuread: Option<serde_json::Value>,
    pub google_iam: Option<serde_json::Value>,
    // Prometheus' HTTP client settings, inlined.
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    pub bearer_token: Option<Text>,
    pub bearer_token_file: Option<Text>,
    pub tls_config: Option<PromTlsConfig>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub proxy_url: Option<Text>,
    pub no_proxy: Option<Text>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<Text>>>,
    pub http_headers: Option<BTreeMap<String, HttpHeader>>,
}

// ---------------------------------------------------------------------------------------------
// Promtail
// ---------------------------------------------------------------------------------------------

/// `promtail.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailConfig {
    pub global: Option<PromtailGlobal>,
    pub server: Option<PromtailServer>,
    /// Deprecated single client; `clients` is the list.
    pub client: Option<PromtailClient>,
    pub clients: Option<Vec<PromtailClient>>,
    pub positions: Option<PromtailPositions>,
    pub scrape_configs: Option<Vec<ScrapeConfig>>,
    pub target_config: Option<PromtailTargetConfig>,
    pub limits_config: Option<PromtailLimits>,
    pub options: Option<PromtailOptions>,
    pub tracing: Option<PromtailTracing>,
    pub wal: Option<PromtailWal>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailGlobal {
    pub file_watch_config: Option<FileWatchConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWatchConfig {
    pub min_poll_frequency: Option<Duration>,
    pub max_poll_frequency: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailClient {
    pub url: Option<Text>,
    pub name: Option<Text>,
    pub headers: Option<BTreeMap<String, Text>>,
    pub tenant_id: Option<Text>,
    pub batchwait: Option<Duration>,
    pub batchsize: Option<Int>,
    pub backoff_config: Option<PromtailBackoff>,
    pub drop_rate_limited_batches: Option<bool>,
    pub external_labels: Option<BTreeMap<String, Text>>,
    pub timeout: Option<Duration>,
    // Prometheus' HTTP client settings, inlined.
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    pub bearer_token: Option<Text>,
    pub bearer_token_file: Option<Text>,
    pub tls_config: Option<PromTlsConfig>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub proxy_url: Option<Text>,
    pub no_proxy: Option<Text>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<Text>>>,
    pub http_headers: Option<BTreeMap<String, HttpHeader>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailBackoff {
    pub min_period: Option<Duration>,
    pub max_period: Option<Duration>,
    pub max_retries: Option<Int>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailPositions {
    pub filename: Option<Text>,
    pub sync_period: Option<Duration>,
    pub ignore_invalid_yaml: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailTargetConfig {
    pub sync_period: Option<Duration>,
    pub stdin: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailLimits {
    pub readline_rate: Option<Float>,
    pub readline_burst: Option<Int>,
    pub readline_rate_enabled: Option<bool>,
    pub readline_rate_drop: Option<bool>,
    pub max_streams: Option<Int>,
    pub max_line_size: Option<ByteSize>,
    pub max_line_size_truncate: Option<bool>,
}

/// Promtail 3.5 has no options left; the block must be empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailOptions {}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailTracing {
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailWal {
    pub enabled: Option<bool>,
    pub dir: Option<Text>,
    #[serde(rename = "cleanSegmentsOlderThan")]
    pub clean_segments_older_than: Option<Duration>,
    #[serde(rename = "watchConfig")]
    pub watch_config: Option<PromtailWalWatch>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromtailWalWatch {
    #[serde(rename = "minReadFrequency")]
    pub min_read_frequency: Option<Duration>,
    #[serde(rename = "maxReadFrequency")]
    pub max_read_frequency: Option<Duration>,
}

/// A Prometheus service-discovery block Promtail takes from Prometheus unchanged
/// (`dns_sd_configs`, `ec2_sd_configs`, ...). Prometheus' own engine judges those keys; this model
/// only requires an object per entry.
pub type DiscoveryConfig = BTreeMap<String, serde_json::Value>;

/// One `scrape_configs` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: Option<Text>,
    pub pipeline_stages: Option<Vec<Stage>>,
    pub journal: Option<JournalTarget>,
    pub syslog: Option<SyslogTarget>,
    pub gcplog: Option<GcplogTarget>,
    pub loki_push_api: Option<PushTarget>,
    pub windows_events: Option<WindowsEventsTarget>,
    pub kafka: Option<KafkaTarget>,
    pub azure_event_hubs: Option<AzureEventHubsTarget>,
    pub gelf: Option<GelfTarget>,
    pub cloudflare: Option<CloudflareTarget>,
    pub heroku_drain: Option<HerokuDrainTarget>,
    pub relabel_configs: Option<Vec<RelabelConfig>>,
    pub encoding: Option<Text>,
    pub decompression: Option<Decompression>,
    pub static_configs: Option<Vec<StaticConfig>>,
    pub docker_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub file_sd_configs: Option<Vec<FileSdConfig>>,
    pub kubernetes_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub dns_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub consul_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub consulagent_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub digitalocean_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub dockerswarm_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub serverset_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub nerve_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub marathon_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub gce_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub ec2_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub openstack_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub azure_sd_configs: Option<Vec<DiscoveryConfig>>,
    pub triton_sd_configs: Option<Vec<DiscoveryConfig>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    pub targets: Option<Vec<Text>>,
    pub labels: Option<BTreeMap<String, Text>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Option<Vec<Text>>,
    pub refresh_interval: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decompression {
    pub enabled: Option<bool>,
    pub initial_delay: Option<Duration>,
    pub format: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalTarget {
    pub max_age: Option<Duration>,
    pub json: Option<bool>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub path: Option<Text>,
    pub matches: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTarget {
    pub listen_address: Option<Text>,
    pub listen_protocol: Option<Text>,
    pub idle_timeout: Option<Duration>,
    pub label_structured_data: Option<bool>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
    pub use_rfc5424_message: Option<bool>,
    pub syslog_format: Option<Text>,
    pub max_message_length: Option<Int>,
    pub tls_config: Option<PromTlsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcplogTarget {
    pub project_id: Option<Text>,
    pub subscription: Option<Text>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
    pub use_full_line: Option<bool>,
    pub subscription_type: Option<Text>,
    pub push_timeout: Option<Duration>,
    pub server: Option<PromtailServer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushTarget {
    pub server: Option<PromtailServer>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsEventsTarget {
    pub locale: Option<Int>,
    pub eventlog_name: Option<Text>,
    pub xpath_query: Option<Text>,
    pub use_incoming_timestamp: Option<bool>,
    pub bookmark_path: Option<Text>,
    pub poll_interval: Option<Duration>,
    pub exclude_event_data: Option<bool>,
    pub exclude_event_message: Option<bool>,
    pub exclude_user_data: Option<bool>,
    pub labels: Option<BTreeMap<String, Text>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureEventHubsTarget {
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
    pub event_hubs: Option<Vec<Text>>,
    pub connection_string: Option<Text>,
    pub fully_qualified_namespace: Option<Text>,
    pub group_id: Option<Text>,
    pub disallow_custom_messages: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTarget {
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
    pub brokers: Option<Vec<Text>>,
    pub group_id: Option<Text>,
    pub topics: Option<Vec<Text>>,
    pub version: Option<Text>,
    pub assignor: Option<Text>,
    pub authentication: Option<KafkaAuthentication>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaAuthentication {
    pub r#type: Option<Text>,
    pub tls_config: Option<PromTlsConfig>,
    pub sasl_config: Option<KafkaSasl>,
}

/// Kafka's SASL settings, with Prometheus' TLS settings inlined.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    pub mechanism: Option<Text>,
    pub user: Option<Text>,
    pub password: Option<Text>,
    pub use_tls: Option<bool>,
    pub ca: Option<Text>,
    pub ca_file: Option<Text>,
    pub cert: Option<Text>,
    pub cert_file: Option<Text>,
    pub key: Option<Text>,
    pub key_file: Option<Text>,
    pub server_name: Option<Text>,
    pub insecure_skip_verify: Option<bool>,
    pub min_version: Option<Text>,
    pub max_version: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GelfTarget {
    pub listen_address: Option<Text>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflareTarget {
    pub api_token: Option<Text>,
    pub zone_id: Option<Text>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub workers: Option<Int>,
    pub pull_range: Option<Duration>,
    pub fields_type: Option<Text>,
    pub additional_fields: Option<Vec<Text>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HerokuDrainTarget {
    pub server: Option<PromtailServer>,
    pub labels: Option<BTreeMap<String, Text>>,
    pub use_incoming_timestamp: Option<bool>,
}

/// One pipeline stage: a map with exactly one key, the stage type ([`check_stages`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(default, deserialize_with = "present")]
    pub cri: Option<CriStage>,
    #[serde(default, deserialize_with = "present")]
    pub docker: Option<EmptyStage>,
    #[serde(default, deserialize_with = "present")]
    pub decolorize: Option<EmptyStage>,
    pub drop: Option<DropStage>,
    pub eventlogmessage: Option<EventLogMessageStage>,
    pub geoip: Option<GeoIpStage>,
    pub json: Option<JsonStage>,
    /// Label names to keep.
    pub labelallow: Option<Vec<Text>>,
    /// Label names to drop.
    pub labeldrop: Option<Vec<Text>>,
    /// Label name → extracted field (empty: the field of the same name).
    pub labels: Option<BTreeMap<String, Option<Text>>>,
    pub limit: Option<LimitStage>,
    pub logfmt: Option<LogfmtStage>,
    #[serde(rename = "match")]
    pub match_: Option<MatchStage>,
    /// Metric name → metric.
    pub metrics: Option<BTreeMap<String, MetricStage>>,
    pub multiline: Option<MultilineStage>,
    /// Structured metadata name → extracted field; `non_indexed_labels` is its old name.
    pub structured_metadata: Option<BTreeMap<String, Option<Text>>>,
    pub non_indexed_labels: Option<BTreeMap<String, Option<Text>>>,
    pub output: Option<OutputStage>,
    pub pack: Option<PackStage>,
    pub regex: Option<RegexStage>,
    pub replace: Option<ReplaceStage>,
    pub sampling: Option<SamplingStage>,
    /// Label name → value.
    pub static_labels: Option<BTreeMap<String, Option<Text>>>,
    pub template: Option<TemplateStage>,
    pub tenant: Option<TenantStage>,
    pub timestamp: Option<TimestampStage>,
}

impl Stage {
    /// The stage types set in this entry.
    pub fn kinds(&self) -> Vec<&'static str> {
        let present = [
            ("cri", self.cri.is_some()),
            ("docker", self.docker.is_some()),
            ("decolorize", self.decolorize.is_some()),
            ("drop", self.drop.is_some()),
            ("eventlogmessage", self.eventlogmessage.is_some()),
            ("geoip", self.geoip.is_some()),
            ("json", self.json.is_some()),
            ("labelallow", self.labelallow.is_some()),
            ("labeldrop", self.labeldrop.is_some()),
            ("labels", self.labels.is_some()),
            ("limit", self.limit.is_some()),
            ("logfmt", self.logfmt.is_some()),
            ("match", self.match_.is_some()),
            ("metrics", self.metrics.is_some()),
            ("multiline", self.multiline.is_some()),
            ("structured_metadata", self.structured_metadata.is_some()),
            ("non_indexed_labels", self.non_indexed_labels.is_some()),
            ("output", self.output.is_some()),
            ("pack", self.pack.is_some()),
            ("regex", self.regex.is_some()),
            ("replace", self.replace.is_some()),
            ("sampling", self.sampling.is_some()),
            ("static_labels", self.static_labels.is_some()),
            ("template", self.template.is_some()),
            ("tenant", self.tenant.is_some()),
            ("timestamp", self.timestamp.is_some()),
        ];
        present.into_iter().filter(|(_, set)| *set).map(|(kind, _)| kind).collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyStage {}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriStage {
    pub max_partial_lines: Option<Int>,
    pub max_partial_line_size: Option<ByteSize>,
    pub max_partial_line_size_truncate: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropStage {
    pub source: Option<StringList>,
    pub value: Option<Text>,
    pub separator: Option<Text>,
    pub expression: Option<Text>,
    pub older_than: Option<Duration>,
    pub longer_than: Option<ByteSize>,
    pub drop_counter_reason: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLogMessageStage {
    pub source: Option<Text>,
    pub drop_invalid_labels: Option<bool>,
    pub overwrite_existing: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpStage {
    pub db: Option<Text>,
    pub source: Option<Text>,
    pub db_type: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonStage {
    /// Extracted name → JMESPath expression (empty: the key of the same name).
    pub expressions: Option<BTreeMap<String, Option<Text>>>,
    pub source: Option<Text>,
    pub drop_malformed: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitStage {
    pub rate: Option<Float>,
    pub burst: Option<Int>,
    pub drop: Option<bool>,
    pub by_label_name: Option<Text>,
    pub max_distinct_labels: Option<Int>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogfmtStage {
    pub mapping: Option<BTreeMap<String, Option<Text>>>,
    pub source: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchStage {
    pub selector: Option<Text>,
    pub pipeline_name: Option<Text>,
    pub action: Option<Text>,
    pub drop_counter_reason: Option<Text>,
    pub stages: Option<Vec<Stage>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricStage {
    pub r#type: Option<Text>,
    pub description: Option<Text>,
    pub source: Option<Text>,
    pub prefix: Option<Text>,
    pub max_idle_duration: Option<Duration>,
    pub config: Option<MetricSettings>,
}

/// The `config` of a counter, gauge or histogram metric.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSettings {
    pub value: Option<Text>,
    pub action: Option<Text>,
    pub match_all: Option<bool>,
    pub count_entry_bytes: Option<bool>,
    pub buckets: Option<Vec<Float>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineStage {
    pub firstline: Option<Text>,
    pub max_lines: Option<Int>,
    pub max_wait_time: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputStage {
    pub source: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackStage {
    pub labels: Option<Vec<Text>>,
    pub ingest_timestamp: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexStage {
    pub expression: Option<Text>,
    pub source: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceStage {
    pub expression: Option<Text>,
    pub source: Option<Text>,
    pub replace: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingStage {
    pub rate: Option<Float>,
    pub drop_counter_reason: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateStage {
    pub source: Option<Text>,
    pub template: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantStage {
    pub label: Option<Text>,
    pub source: Option<Text>,
    pub value: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampStage {
    pub source: Option<Text>,
    pub format: Option<Text>,
    pub fallback_formats: Option<Vec<Text>>,
    pub location: Option<Text>,
    pub action_on_failure: Option<Text>,
}

/// Every stage entry names exactly one stage type (Promtail refuses `- {json: ..., labels: ...}`
/// and an empty entry), recursively through `match`.
pub fn check_stages(stages: &[Stage], path: &str) -> Result<(), String> {
    for (index, stage) in stages.iter().enumerate() {
        let kinds = stage.kinds();
        if kinds.len() != 1 {
            return Err(format!("{path}[{index}]: a stage names exactly one stage type, this one {kinds:?}"));
        }
        if let Some(nested) = stage.match_.as_ref().and_then(|stage| stage.stages.as_ref()) {
            check_stages(nested, &format!("{path}[{index}].match.stages"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Expands `${NAME}`, `${NAME:-default}` and `$NAME` from `lookup` (unset: empty, or the default),
/// reads `$$` as `$`, `\\` as `\` and `\/` as `/`: what Loki's and Promtail's
/// `-config.expand-env=true` do (drone/envsubst) to the whole file before parsing it.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match (character, characters.peek().copied()) {
            ('$', Some('$')) | ('\\', Some('\\')) | ('\\', Some('/')) => {
                if let Some(escaped) = characters.next() {
                    out.push(escaped);
                }
            }
            ('$', Some('{')) => {
                characters.next();
                let mut inner = String::new();
                loop {
                    match characters.next() {
                        Some('}') => break,
                        Some(c) => inner.push(c),
                        None => return Err(format!("unterminated ${{{inner}")),
                    }
                }
                let (name, default) = match inner.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (inner.as_str(), None),
                };
                match (lookup(name), default) {
                    (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => {}
                }
            }
            ('$', Some(next)) if next == '_' || next.is_ascii_alphabetic() => {
                let mut name = String::new();
                while let Some(&c) = characters.peek() {
                    if c == '_' || c.is_ascii_alphanumeric() {
                        name.push(c);
                        characters.next();
                    } else {
                        break;
                    }
                }
                out.push_str(&lookup(&name).unwrap_or_default());
            }
            _ => out.push(character),
        }
    }
    Ok(out)
}

/// The environment of `-config.expand-env=true`, or `None` when the program runs without it and
/// reads the file as it is.
pub type Expansion<'a> = Option<&'a dyn Fn(&str) -> Option<String>>;

fn expanded(text: &str, expansion: Expansion<'_>) -> Result<String, String> {
    match expansion {
        Some(env) => expand_env(text, env),
        None => Ok(text.to_owned()),
    }
}

/// Parses `loki.yaml` as Loki does (with `-config.expand-env=true` when `expansion` is given).
pub fn parse_loki(text: &str, expansion: Expansion<'_>) -> Result<LokiConfig, String> {
    serde_saphyr::from_str(&expanded(text, expansion)?).map_err(|error| error.to_string())
}

/// Parses `promtail.yaml` as Promtail does (with `-config.expand-env=true` when `expansion` is
/// given), and checks that every pipeline stage names one stage type.
pub fn parse_promtail(text: &str, expansion: Expansion<'_>) -> Result<PromtailConfig, String> {
    let config: PromtailConfig =
        serde_saphyr::from_str(&expanded(text, expansion)?).map_err(|error| error.to_string())?;
    for (index, scrape) in config.scrape_configs.iter().flatten().enumerate() {
        if let Some(stages) = &scrape.pipeline_stages {
            check_stages(stages, &format!("scrape_configs[{index}].pipeline_stages"))?;
        }
    }
    Ok(config)
}
