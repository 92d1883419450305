//! Strict typed model of Grafana's provisioning files (`apiVersion: 1`): the datasources file
//! with the `jsonData` of each datasource type stackscope provisions, and the dashboard provider
//! file, as Grafana's provisioning documentation and the datasource pages (Prometheus, Loki,
//! Jaeger, Alertmanager) describe them.
//!
//! Grafana itself reads these files leniently: an unknown or misspelled key is silently ignored
//! (a `traceToLogs` instead of `tracesToLogsV2` just loses the link). The model rejects unknown
//! keys instead, so such a mistake fails a test. Dashboards are judged by the Grafana foundation
//! SDK (`tools/checkers/grafana-schema`), not here.
//!
//! Grafana expands `$NAME`/`${NAME}` in string values from the environment and reads `$$` as a
//! literal `$`; [`parse_datasources`] does the same before decoding.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `datasources.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatasourcesFile {
    pub api_version: u32,
    #[serde(default)]
    pub delete_datasources: Vec<DeletedDatasource>,
    pub prune: Option<bool>,
    #[serde(default)]
    pub datasources: Vec<Datasource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeletedDatasource {
    pub name: Option<String>,
    pub uid: Option<String>,
    pub org_id: Option<i64>,
}

/// One provisioned datasource. `jsonData` is kept as a value here and decoded by type in
/// [`Datasource::json_data`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Datasource {
    pub name: String,
    #[serde(rename = "type")]
    pub datasource_type: String,
    pub uid: Option<String>,
    pub access: Option<String>,
    pub org_id: Option<i64>,
    pub url: Option<String>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub basic_auth: Option<bool>,
    pub basic_auth_user: Option<String>,
    pub with_credentials: Option<bool>,
    pub is_default: Option<bool>,
    pub version: Option<i64>,
    pub editable: Option<bool>,
    pub correlations: Option<Vec<serde_json::Value>>,
    pub json_data: Option<serde_json::Value>,
    pub secure_json_data: Option<BTreeMap<String, String>>,
}

/// The typed `jsonData` of a datasource.
#[derive(Debug, Clone)]
pub enum JsonData {
    Prometheus(PrometheusJsonData),
    Loki(LokiJsonData),
    Jaeger(JaegerJsonData),
    Alertmanager(AlertmanagerJsonData),
}

impl Datasource {
    /// Decodes `jsonData` by the datasource type, strictly; a type the model does not know is an
    /// error (stackscope provisions no other).
    pub fn json_data(&self) -> Result<JsonData, String> {
        let value = self.json_data.clone().unwrap_or_else(|| serde_json::json!({}));
        fn typed<T: DeserializeOwned>(name: &str, value: serde_json::Value) -> Result<T, String> {
            serde_json::from_value(value).map_err(|error| format!("datasource {name}: jsonData: {error}"))
        }
        match self.datasource_type.as_str() {
            "prometheus" => typed(&self.name, value).map(JsonData::Prometheus),
            "loki" => typed(&self.name, value).map(JsonData::Loki),
            "jaeger" => typed(&self.name, value).map(JsonData::Jaeger),
            "alertmanager" => typed(&self.name, value).map(JsonData::Alertmanager),
            other => Err(format!("datasource {}: no model of jsonData for type {other:?}", self.name)),
        }
    }
}

/// `jsonData` keys every HTTP datasource takes (TLS, timeouts, cookies, OAuth forwarding).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpJsonData {
    pub tls_auth: Option<bool>,
    pub tls_auth_with_ca_cert: Option<bool>,
    pub tls_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub timeout: Option<serde_json::Value>,
    pub keep_cookies: Option<Vec<String>>,
    pub oauth_pass_thru: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusJsonData {
    pub http_method: Option<String>,
    pub time_interval: Option<String>,
    pub query_timeout: Option<String>,
    pub prometheus_type: Option<String>,
    pub prometheus_version: Option<String>,
    pub cache_level: Option<String>,
    pub incremental_querying: Option<bool>,
    pub incremental_query_overlap_window: Option<String>,
    pub disable_recording_rules: Option<bool>,
    pub disable_metrics_lookup: Option<bool>,
    pub default_editor: Option<String>,
    pub custom_query_parameters: Option<String>,
    pub series_endpoint: Option<bool>,
    pub manage_alerts: Option<bool>,
    #[serde(default)]
    pub exemplar_trace_id_destinations: Vec<ExemplarTraceIdDestination>,
    pub tls_auth: Option<bool>,
    pub tls_auth_with_ca_cert: Option<bool>,
    pub tls_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub timeout: Option<serde_json::Value>,
    pub keep_cookies: Option<Vec<String>>,
    pub oauth_pass_thru: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExemplarTraceIdDestination {
    pub name: String,
    pub datasource_uid: Option<String>,
    pub url: Option<String>,
    pub url_display_label: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LokiJsonData {
    pub max_lines: Option<serde_json::Value>,
    #[serde(default)]
    pub derived_fields: Vec<DerivedField>,
    pub manage_alerts: Option<bool>,
    pub alertmanager_uid: Option<String>,
    pub predefined_operations: Option<String>,
    pub tls_auth: Option<bool>,
    pub tls_auth_with_ca_cert: Option<bool>,
    pub tls_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub timeout: Option<serde_json::Value>,
    pub keep_cookies: Option<Vec<String>>,
    pub oauth_pass_thru: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DerivedField {
    pub name: String,
    /// `regex` (over the line) or `label` (a label or structured metadata by name).
    pub matcher_type: Option<String>,
    pub matcher_regex: String,
    pub datasource_uid: Option<String>,
    pub url: String,
    pub url_display_label: Option<String>,
    pub target_blank: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JaegerJsonData {
    #[serde(rename = "tracesToLogsV2")]
    pub traces_to_logs_v2: Option<TracesToLogs>,
    pub traces_to_metrics: Option<TracesToMetrics>,
    pub traces_to_profiles: Option<serde_json::Value>,
    pub node_graph: Option<NodeGraph>,
    pub trace_query: Option<TraceQuery>,
    pub span_bar: Option<SpanBar>,
    pub tls_auth: Option<bool>,
    pub tls_auth_with_ca_cert: Option<bool>,
    pub tls_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub timeout: Option<serde_json::Value>,
    pub keep_cookies: Option<Vec<String>>,
    pub oauth_pass_thru: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TracesToLogs {
    pub datasource_uid: String,
    pub span_start_time_shift: Option<String>,
    pub span_end_time_shift: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagMapping>,
    #[serde(rename = "filterByTraceID")]
    pub filter_by_trace_id: Option<bool>,
    #[serde(rename = "filterBySpanID")]
    pub filter_by_span_id: Option<bool>,
    pub custom_query: Option<bool>,
    pub query: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TracesToMetrics {
    pub datasource_uid: String,
    pub span_start_time_shift: Option<String>,
    pub span_end_time_shift: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagMapping>,
    #[serde(default)]
    pub queries: Vec<NamedQuery>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagMapping {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedQuery {
    pub name: String,
    pub query: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGraph {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TraceQuery {
    pub time_shift_enabled: Option<bool>,
    pub span_start_time_shift: Option<String>,
    pub span_end_time_shift: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanBar {
    #[serde(rename = "type")]
    pub bar_type: String,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertmanagerJsonData {
    /// `prometheus`, `mimir` or `cortex`.
    pub implementation: String,
    pub handle_grafana_managed_alerts: Option<bool>,
    pub tls_auth: Option<bool>,
    pub tls_auth_with_ca_cert: Option<bool>,
    pub tls_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub timeout: Option<serde_json::Value>,
    pub keep_cookies: Option<Vec<String>>,
    pub oauth_pass_thru: Option<bool>,
}

/// `dashboards.yaml`, the dashboard providers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvidersFile {
    pub api_version: u32,
    pub providers: Vec<DashboardProvider>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DashboardProvider {
    pub name: String,
    pub org_id: Option<i64>,
    pub folder: Option<String>,
    pub folder_uid: Option<String>,
    #[serde(rename = "type")]
    pub provider_type: String,
    pub disable_deletion: Option<bool>,
    pub allow_ui_updates: Option<bool>,
    pub update_interval_seconds: Option<u32>,
    pub options: ProviderOptions,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderOptions {
    pub path: String,
    pub folders_from_files_structure: Option<bool>,
}

/// Grafana's interpolation of one string value: `$NAME` and `${NAME}` from `lookup` (unset:
/// empty), `$$` a literal `$`.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    text.split("$$").map(|part| expand_part(part, lookup)).collect::<Vec<_>>().join("$")
}

fn expand_part(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '$' {
            out.push(character);
            continue;
        }
        match characters.peek().copied() {
            Some('{') => {
                characters.next();
                let name: String = characters.by_ref().take_while(|c| *c != '}').collect();
                out.push_str(&lookup(&name).unwrap_or_default());
            }
            Some(next) if next == '_' || next.is_ascii_alphanumeric() => {
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
            _ => out.push('$'),
        }
    }
    out
}

fn interpolate_values(value: &mut serde_json::Value, lookup: &dyn Fn(&str) -> Option<String>) {
    match value {
        serde_json::Value::String(text) => *text = interpolate(text, lookup),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| interpolate_values(item, lookup)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|field| interpolate_values(field, lookup)),
        _ => {}
    }
}

/// Parses a provisioning file as Grafana reads it: YAML, string values interpolated from the
/// environment, then decoded strictly into `T`.
pub fn parse_provisioning<T: DeserializeOwned>(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<T, String> {
    let mut value: serde_json::Value = serde_saphyr::from_str(text).map_err(|error| error.to_string())?;
    interpolate_values(&mut value, lookup);
    serde_json::from_value(value).map_err(|error| error.to_string())
}

/// Parses `datasources.yaml` and decodes every datasource's `jsonData` by its type.
pub fn parse_datasources(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(DatasourcesFile, Vec<JsonData>), String> {
    let file: DatasourcesFile = parse_provisioning(text, lookup)?;
    let json_data = file.datasources.iter().map(Datasource::json_data).collect::<Result<Vec<_>, _>>()?;
    Ok((file, json_data))
}
