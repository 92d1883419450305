//! Grafana with everything provisioned: the datasources of the stack's enabled components under
//! stable UIDs, cross-linked so a `trace_id` leads from a log line to its trace and from a span
//! back to its logs and metrics, and the seed's Infrastructure, Application and Business
//! dashboards.
//!
//! Nothing is kept in Grafana's own database: `/var/lib/grafana` is an `emptyDir`, datasources
//! and dashboards come back from the ConfigMaps on every start. Datasource changes roll the pod
//! (config hash); dashboard changes are picked up by the file provider without a restart.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Container;
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{
    ProbeTiming, config_map, config_map_items_volume, config_map_volume, container_ports, content_hash,
    empty_dir_volume, env, env_from_secret, http_probe, into_object, metadata, object_name, object_name_with,
    pod_selector, pod_template, resource_requirements, restricted_container_security, restricted_pod_spec, service,
    service_url, to_json, to_yaml, volume_mount,
};
use super::{Component, RenderError, datasource_uids, ports};
use crate::api::SecretKeyRef;
use crate::resolve::ResolvedStack;

/// Datasource provisioning file.
pub const DATASOURCES_FILE: &str = "datasources.yaml";
/// Dashboard provider provisioning file.
pub const PROVIDER_FILE: &str = "dashboards.yaml";
/// Dashboard files.
pub const INFRASTRUCTURE_FILE: &str = "infrastructure.json";
pub const APPLICATION_FILE: &str = "application.json";
pub const BUSINESS_FILE: &str = "business.json";
/// Grafana's provisioning root.
pub const PROVISIONING_DIRECTORY: &str = "/etc/grafana/provisioning";
/// Where the dashboard files are mounted and the provider reads them.
pub const DASHBOARDS_DIRECTORY: &str = "/etc/grafana/dashboards";
/// Grafana's data directory (SQLite, plugins, sessions): disposable, everything is provisioned.
const DATA_DIRECTORY: &str = "/var/lib/grafana";
/// The user of the upstream image.
const GRAFANA_USER: i64 = 472;
/// Grafana's health endpoint, which its probes ask.
const HEALTH_PATH: &str = "/api/health";
/// Keys of the admin Secret.
pub const ADMIN_USER_KEY: &str = "admin-user";
pub const ADMIN_PASSWORD_KEY: &str = "admin-password";
/// Seconds between the provider's re-reads of the dashboard files.
const DASHBOARD_UPDATE_INTERVAL_SECONDS: u32 = 30;
/// Dashboard JSON schema version of the pinned Grafana.
pub const SCHEMA_VERSION: u32 = 41;

/// Stable dashboard UIDs, so links and bookmarks survive re-provisioning.
pub mod dashboard_uids {
    pub const INFRASTRUCTURE: &str = "stackscope-infrastructure";
    pub const APPLICATION: &str = "stackscope-application";
    pub const BUSINESS: &str = "stackscope-business";
}

/// Metrics no spec field names: the standard Kubernetes ones (cAdvisor through the kubelet,
/// kube-state-metrics), Jaeger's span metrics (see the jaeger renderer) and Cosmos DB's request
/// units as exported from Azure Monitor.
mod metrics {
    pub const CPU_SECONDS: &str = "container_cpu_usage_seconds_total";
    pub const CPU_LIMITS: &str = "kube_pod_container_resource_limits";
    pub const MEMORY_WORKING_SET: &str = "container_memory_working_set_bytes";
    pub const REPLICAS_AVAILABLE: &str = "kube_deployment_status_replicas_available";
    pub const RESTARTS: &str = "kube_pod_container_status_restarts_total";
    pub const NETWORK_RECEIVE: &str = "container_network_receive_bytes_total";
    pub const NETWORK_TRANSMIT: &str = "container_network_transmit_bytes_total";
    pub const NETWORK_RECEIVE_ERRORS: &str = "container_network_receive_errors_total";
    pub const NETWORK_TRANSMIT_ERRORS: &str = "container_network_transmit_errors_total";
    pub const VOLUME_USED: &str = "kubelet_volume_stats_used_bytes";
    pub const VOLUME_CAPACITY: &str = "kubelet_volume_stats_capacity_bytes";
    pub const COSMOS_REQUEST_UNITS: &str = "cosmosdb_request_units_total";
    pub const SPAN_CALLS: &str = "traces_span_metrics_calls_total";
    pub const SPAN_DURATION_BUCKET: &str = "traces_span_metrics_duration_milliseconds_bucket";
}

// ---------------------------------------------------------------------------------------------
// Datasources (Grafana provisioning, `apiVersion: 1`)
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatasourcesFile {
    pub api_version: u32,
    /// Datasources dropped from this file are deleted (a component turned off disappears).
    pub prune: bool,
    pub datasources: Vec<Datasource>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    pub name: String,
    #[serde(rename = "type")]
    pub datasource_type: String,
    pub uid: String,
    pub access: String,
    pub url: String,
    pub is_default: bool,
    pub editable: bool,
    pub json_data: DatasourceJsonData,
}

/// `jsonData` of one datasource: exactly the group of fields of its type is set.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceJsonData {
    // Prometheus
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exemplar_trace_id_destinations: Vec<ExemplarTraceIdDestination>,
    // Loki
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived_fields: Vec<DerivedField>,
    // Jaeger
    #[serde(rename = "tracesToLogsV2", skip_serializing_if = "Option::is_none")]
    pub traces_to_logs_v2: Option<TracesToLogs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_to_metrics: Option<TracesToMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_graph: Option<NodeGraph>,
    // Alertmanager
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_grafana_managed_alerts: Option<bool>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExemplarTraceIdDestination {
    pub name: String,
    pub datasource_uid: String,
}

/// A link from a log line (by regex) or from a label or structured metadata (by name).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DerivedField {
    pub name: String,
    pub matcher_type: String,
    pub matcher_regex: String,
    pub datasource_uid: String,
    pub url: String,
    pub url_display_label: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TracesToLogs {
    pub datasource_uid: String,
    pub span_start_time_shift: String,
    pub span_end_time_shift: String,
    pub tags: Vec<TagMapping>,
    #[serde(rename = "filterByTraceID")]
    pub filter_by_trace_id: bool,
    #[serde(rename = "filterBySpanID")]
    pub filter_by_span_id: bool,
    pub custom_query: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TracesToMetrics {
    pub datasource_uid: String,
    pub span_start_time_shift: String,
    pub span_end_time_shift: String,
    pub tags: Vec<TagMapping>,
    pub queries: Vec<NamedQuery>,
}

/// A span attribute and the label it is called in the linked datasource.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TagMapping {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct NamedQuery {
    pub name: String,
    pub query: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct NodeGraph {
    pub enabled: bool,
}

fn datasource(name: &str, datasource_type: &str, uid: &str, url: String, json_data: DatasourceJsonData) -> Datasource {
    Datasource {
        name: name.to_owned(),
        datasource_type: datasource_type.to_owned(),
        uid: uid.to_owned(),
        access: "proxy".to_owned(),
        url,
        is_default: uid == datasource_uids::PROMETHEUS,
        editable: false,
        json_data,
    }
}

/// Grafana expands `$NAME` in provisioning files from the environment; `$$` is a literal `$`.
fn literal_dollars(text: &str) -> String {
    text.replace('$', "$$")
}

/// The datasources of the stack's enabled components.
pub fn datasources(stack: &ResolvedStack) -> DatasourcesFile {
    let prometheus = Component::Prometheus.enabled(stack);
    let loki = Component::Loki.enabled(stack);
    let jaeger = Component::Jaeger.enabled(stack);
    let alertmanager = Component::Alertmanager.enabled(stack);
    let trace_link = literal_dollars("${__value.raw}");
    let mut list = Vec::new();
    if prometheus {
        list.push(datasource(
            "Prometheus",
            "prometheus",
            datasource_uids::PROMETHEUS,
            service_url(stack, Component::Prometheus, ports::PROMETHEUS_HTTP),
            DatasourceJsonData {
                http_method: Some("POST".to_owned()),
                time_interval: Some(stack.spec.metrics.prometheus.scrape_interval.as_str().to_owned()),
                prometheus_type: Some("Prometheus".to_owned()),
                exemplar_trace_id_destinations: if jaeger {
                    vec![ExemplarTraceIdDestination {
                        name: "trace_id".to_owned(),
                        datasource_uid: datasource_uids::JAEGER.to_owned(),
                    }]
                } else {
                    Vec::new()
                },
                ..DatasourceJsonData::default()
            },
        ));
    }
    if loki {
        // The collector keeps trace_id in the JSON line and as structured metadata: link both.
        let derived_fields = if jaeger {
            vec![
                DerivedField {
                    name: "TraceID".to_owned(),
                    matcher_type: "regex".to_owned(),
                    matcher_regex: r#""trace_id"\s*:\s*"([^"]+)""#.to_owned(),
                    datasource_uid: datasource_uids::JAEGER.to_owned(),
                    url: trace_link.clone(),
                    url_display_label: "View trace".to_owned(),
                },
                DerivedField {
                    name: "TraceID (metadata)".to_owned(),
                    matcher_type: "label".to_owned(),
                    matcher_regex: "trace_id".to_owned(),
                    datasource_uid: datasource_uids::JAEGER.to_owned(),
                    url: trace_link,
                    url_display_label: "View trace".to_owned(),
                },
            ]
        } else {
            Vec::new()
        };
        list.push(datasource(
            "Loki",
            "loki",
            datasource_uids::LOKI,
            service_url(stack, Component::Loki, ports::LOKI_HTTP),
            DatasourceJsonData { max_lines: Some("1000".to_owned()), derived_fields, ..DatasourceJsonData::default() },
        ));
    }
    if jaeger {
        let service_tag = |label: &str| vec![TagMapping { key: "service.name".to_owned(), value: label.to_owned() }];
        let traces_to_logs = loki.then(|| TracesToLogs {
            datasource_uid: datasource_uids::LOKI.to_owned(),
            span_start_time_shift: "-5m".to_owned(),
            span_end_time_shift: "5m".to_owned(),
            // Loki's stream label is `service`; the trace id is matched in the line.
            tags: service_tag("service"),
            filter_by_trace_id: true,
            filter_by_span_id: false,
            custom_query: false,
        });
        // Jaeger's span metrics carry the service as `service_name`.
        let traces_to_metrics = prometheus.then(|| {
            let query =
                |name: &str, query: String| NamedQuery { name: name.to_owned(), query: literal_dollars(&query) };
            TracesToMetrics {
                datasource_uid: datasource_uids::PROMETHEUS.to_owned(),
                span_start_time_shift: "-5m".to_owned(),
                span_end_time_shift: "5m".to_owned(),
                tags: service_tag("service_name"),
                queries: vec![
                    query("Request rate", format!("sum(rate({}{{$__tags}}[5m]))", metrics::SPAN_CALLS)),
                    query(
                        "Error rate",
                        format!("sum(rate({}{{$__tags, status_code=\"STATUS_CODE_ERROR\"}}[5m]))", metrics::SPAN_CALLS),
                    ),
                    query(
                        "p95 duration (ms)",
                        format!(
                            "histogram_quantile(0.95, sum by (le) (rate({}{{$__tags}}[5m])))",
                            metrics::SPAN_DURATION_BUCKET
                        ),
                    ),
                ],
            }
        });
        list.push(datasource(
            "Jaeger",
            "jaeger",
            datasource_uids::JAEGER,
            service_url(stack, Component::Jaeger, ports::JAEGER_QUERY_HTTP),
            DatasourceJsonData {
                traces_to_logs_v2: traces_to_logs,
                traces_to_metrics,
                node_graph: Some(NodeGraph { enabled: true }),
                ..DatasourceJsonData::default()
            },
        ));
    }
    if alertmanager {
        list.push(datasource(
            "Alertmanager",
            "alertmanager",
            datasource_uids::ALERTMANAGER,
            service_url(stack, Component::Alertmanager, ports::ALERTMANAGER_HTTP),
            DatasourceJsonData {
                implementation: Some("prometheus".to_owned()),
                handle_grafana_managed_alerts: Some(false),
                ..DatasourceJsonData::default()
            },
        ));
    }
    DatasourcesFile { api_version: 1, prune: true, datasources: list }
}

// ---------------------------------------------------------------------------------------------
// Dashboard provider
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProvidersFile {
    pub api_version: u32,
    pub providers: Vec<DashboardProvider>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DashboardProvider {
    pub name: String,
    pub org_id: u32,
    pub folder: String,
    #[serde(rename = "type")]
    pub provider_type: String,
    pub disable_deletion: bool,
    pub allow_ui_updates: bool,
    pub update_interval_seconds: u32,
    pub options: ProviderOptions,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderOptions {
    pub path: String,
    pub folders_from_files_structure: bool,
}

/// The file provider reading the dashboards ConfigMap; the files are the source of truth.
pub fn provider(stack: &ResolvedStack) -> ProvidersFile {
    ProvidersFile {
        api_version: 1,
        providers: vec![DashboardProvider {
            name: "stackscope".to_owned(),
            org_id: 1,
            folder: stack.spec.dashboards.folder.clone(),
            provider_type: "file".to_owned(),
            disable_deletion: true,
            allow_ui_updates: false,
            update_interval_seconds: DASHBOARD_UPDATE_INTERVAL_SECONDS,
            options: ProviderOptions { path: DASHBOARDS_DIRECTORY.to_owned(), folders_from_files_structure: false },
        }],
    }
}

// ---------------------------------------------------------------------------------------------
// Dashboard JSON model (Grafana's `kinds/dashboard`, as the foundation SDK's schema states it)
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub uid: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub timezone: String,
    pub editable: bool,
    /// 1: shared crosshair.
    pub graph_tooltip: u8,
    pub time: TimeRange,
    pub refresh: String,
    pub schema_version: u32,
    pub panels: Vec<Panel>,
    pub templating: Templating,
    pub annotations: Annotations,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TimeRange {
    pub from: String,
    pub to: String,
}

/// No template variables: every query is complete on its own.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct Templating {
    pub list: Vec<serde_json::Value>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Annotations {
    pub list: Vec<AnnotationQuery>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnnotationQuery {
    pub name: String,
    pub datasource: DataSourceRef,
    pub enable: bool,
    pub hide: bool,
    pub icon_color: String,
    #[serde(rename = "type")]
    pub annotation_type: String,
    pub built_in: u8,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DataSourceRef {
    #[serde(rename = "type")]
    pub datasource_type: String,
    pub uid: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct GridPos {
    pub h: u32,
    pub w: u32,
    pub x: u32,
    pub y: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    pub id: u32,
    #[serde(rename = "type")]
    pub panel_type: String,
    pub title: String,
    pub description: String,
    pub grid_pos: GridPos,
    pub datasource: DataSourceRef,
    pub targets: Vec<Target>,
    pub field_config: FieldConfigSource,
    pub options: PanelOptions,
    /// A relative range of the panel's own, e.g. `30d` for a 30-day trend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_from: Option<String>,
    /// Lower bound of the query step, e.g. `1d` for one point per day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

/// A Prometheus query (the foundation SDK's `prometheus.Dataquery`).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub ref_id: String,
    pub datasource: DataSourceRef,
    pub editor_mode: String,
    pub expr: String,
    pub legend_format: String,
    pub range: bool,
    pub instant: bool,
    pub format: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FieldConfigSource {
    pub defaults: FieldConfig,
    pub overrides: Vec<FieldOverride>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FieldOverride {
    pub matcher: Matcher,
    pub properties: Vec<serde_json::Value>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Matcher {
    pub id: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FieldConfig {
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    pub thresholds: Thresholds,
    pub color: FieldColor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomFieldConfig>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub mode: String,
    pub steps: Vec<Threshold>,
}

/// A threshold step; the first has no value (it means -Infinity and is written as `null`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Threshold {
    pub value: Option<f64>,
    pub color: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FieldColor {
    pub mode: String,
}

/// The panel plugin's own field options (`fieldConfig.defaults.custom`).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum CustomFieldConfig {
    Graph(GraphFieldConfig),
    BarChart(BarChartFieldConfig),
}

/// `timeseries` field options.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphFieldConfig {
    pub draw_style: String,
    pub line_width: u32,
    pub fill_opacity: u32,
    pub show_points: String,
    pub span_nulls: bool,
    pub stacking: Stacking,
    pub thresholds_style: ThresholdsStyle,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Stacking {
    pub mode: String,
    pub group: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ThresholdsStyle {
    pub mode: String,
}

/// `barchart` field options.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BarChartFieldConfig {
    pub line_width: u32,
    pub fill_opacity: u32,
    pub gradient_mode: String,
    pub axis_placement: String,
}

/// The panel plugin's options; the variant decides the panel `type`.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum PanelOptions {
    TimeSeries(TimeSeriesOptions),
    Gauge(GaugeOptions),
    Stat(StatOptions),
    BarChart(BarChartOptions),
}

impl PanelOptions {
    /// The panel plugin id.
    pub fn panel_type(&self) -> &'static str {
        match self {
            Self::TimeSeries(_) => "timeseries",
            Self::Gauge(_) => "gauge",
            Self::Stat(_) => "stat",
            Self::BarChart(_) => "barchart",
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Legend {
    pub display_mode: String,
    pub placement: String,
    pub show_legend: bool,
    pub calcs: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Tooltip {
    pub mode: String,
    pub sort: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TimeSeriesOptions {
    pub legend: Legend,
    pub tooltip: Tooltip,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReduceOptions {
    pub values: bool,
    pub calcs: Vec<String>,
    pub fields: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GaugeOptions {
    pub reduce_options: ReduceOptions,
    pub orientation: String,
    pub show_threshold_labels: bool,
    pub show_threshold_markers: bool,
    pub sizing: String,
    pub min_viz_width: u32,
    pub min_viz_height: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatOptions {
    pub reduce_options: ReduceOptions,
    pub orientation: String,
    pub graph_mode: String,
    pub color_mode: String,
    pub justify_mode: String,
    pub text_mode: String,
    pub wide_layout: bool,
    pub show_percent_change: bool,
    pub percent_change_color_mode: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BarChartOptions {
    pub x_field: String,
    pub orientation: String,
    pub x_tick_label_rotation: i32,
    pub x_tick_label_max_length: u32,
    pub stacking: String,
    pub show_value: String,
    pub bar_width: f64,
    pub group_width: f64,
    pub full_highlight: bool,
    pub legend: Legend,
    pub tooltip: Tooltip,
}

// ---------------------------------------------------------------------------------------------
// Panel builders
// ---------------------------------------------------------------------------------------------

fn prometheus_ref() -> DataSourceRef {
    DataSourceRef { datasource_type: "prometheus".to_owned(), uid: datasource_uids::PROMETHEUS.to_owned() }
}

/// A range query drawn over time.
fn range_query(ref_id: &str, expr: String, legend: &str) -> Target {
    Target {
        ref_id: ref_id.to_owned(),
        datasource: prometheus_ref(),
        editor_mode: "code".to_owned(),
        expr,
        legend_format: legend.to_owned(),
        range: true,
        instant: false,
        format: "time_series".to_owned(),
    }
}

/// An instant query as a table, for charts whose x axis is a label (model, chatbot).
fn table_query(ref_id: &str, expr: String, legend: &str) -> Target {
    Target { range: false, instant: true, format: "table".to_owned(), ..range_query(ref_id, expr, legend) }
}

fn step(value: Option<f64>, color: &str) -> Threshold {
    Threshold { value, color: color.to_owned() }
}

/// Green below `red_from`, red from it on.
fn red_from(value: f64) -> Vec<Threshold> {
    vec![step(None, "green"), step(Some(value), "red")]
}

fn legend() -> Legend {
    Legend { display_mode: "list".to_owned(), placement: "bottom".to_owned(), show_legend: true, calcs: Vec::new() }
}

fn tooltip() -> Tooltip {
    Tooltip { mode: "multi".to_owned(), sort: "desc".to_owned() }
}

fn reduce_last() -> ReduceOptions {
    ReduceOptions { values: false, calcs: vec!["lastNotNull".to_owned()], fields: String::new() }
}

/// A panel before it is placed on the grid: width and height in grid units.
struct PanelSpec {
    title: &'static str,
    description: String,
    width: u32,
    height: u32,
    targets: Vec<Target>,
    field_config: FieldConfig,
    options: PanelOptions,
    time_from: Option<String>,
    interval: Option<String>,
}

impl PanelSpec {
    fn new(title: &'static str, description: &str, width: u32, height: u32, options: PanelOptions) -> Self {
        Self {
            title,
            description: description.to_owned(),
            width,
            height,
            targets: Vec::new(),
            field_config: FieldConfig {
                unit: "short".to_owned(),
                decimals: None,
                min: None,
                max: None,
                thresholds: Thresholds { mode: "absolute".to_owned(), steps: vec![step(None, "green")] },
                color: FieldColor { mode: "palette-classic".to_owned() },
                custom: None,
            },
            options,
            time_from: None,
            interval: None,
        }
    }

    fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    fn unit(mut self, unit: &str) -> Self {
        self.field_config.unit = unit.to_owned();
        self
    }

    fn min(mut self, min: f64) -> Self {
        self.field_config.min = Some(min);
        self
    }

    fn thresholds(mut self, steps: Vec<Threshold>) -> Self {
        self.field_config.thresholds.steps = steps;
        self
    }

    /// Colour by threshold (stat and gauge values).
    fn threshold_colors(mut self) -> Self {
        self.field_config.color.mode = "thresholds".to_owned();
        self
    }
}

fn graph(stacked: bool, threshold_line: bool) -> CustomFieldConfig {
    CustomFieldConfig::Graph(GraphFieldConfig {
        draw_style: "line".to_owned(),
        line_width: 1,
        fill_opacity: if stacked { 30 } else { 10 },
        show_points: "never".to_owned(),
        span_nulls: false,
        stacking: Stacking { mode: if stacked { "normal" } else { "none" }.to_owned(), group: "A".to_owned() },
        thresholds_style: ThresholdsStyle { mode: if threshold_line { "line" } else { "off" }.to_owned() },
    })
}

fn timeseries(title: &'static str, description: &str, width: u32) -> PanelSpec {
    let mut panel = PanelSpec::new(
        title,
        description,
        width,
        8,
        PanelOptions::TimeSeries(TimeSeriesOptions { legend: legend(), tooltip: tooltip() }),
    );
    panel.field_config.custom = Some(graph(false, false));
    panel
}

/// A time series whose thresholds are drawn as lines (the red line of an alert threshold).
fn timeseries_with_threshold_line(
    title: &'static str,
    description: &str,
    width: u32,
    steps: Vec<Threshold>,
) -> PanelSpec {
    let mut panel = timeseries(title, description, width).thresholds(steps);
    panel.field_config.custom = Some(graph(false, true));
    panel
}

fn stacked_timeseries(title: &'static str, description: &str, width: u32) -> PanelSpec {
    let mut panel = timeseries(title, description, width);
    panel.field_config.custom = Some(graph(true, false));
    panel
}

fn gauge(title: &'static str, description: &str, width: u32) -> PanelSpec {
    PanelSpec::new(
        title,
        description,
        width,
        8,
        PanelOptions::Gauge(GaugeOptions {
            reduce_options: reduce_last(),
            orientation: "auto".to_owned(),
            show_threshold_labels: false,
            show_threshold_markers: true,
            sizing: "auto".to_owned(),
            min_viz_width: 75,
            min_viz_height: 75,
        }),
    )
    .threshold_colors()
}

/// A big number with its sparkline and its change over the dashboard's range.
fn stat(title: &'static str, description: &str, width: u32) -> PanelSpec {
    PanelSpec::new(
        title,
        description,
        width,
        5,
        PanelOptions::Stat(StatOptions {
            reduce_options: reduce_last(),
            orientation: "auto".to_owned(),
            graph_mode: "area".to_owned(),
            color_mode: "value".to_owned(),
            justify_mode: "auto".to_owned(),
            text_mode: "auto".to_owned(),
            wide_layout: true,
            show_percent_change: true,
            percent_change_color_mode: "standard".to_owned(),
        }),
    )
    .threshold_colors()
}

fn barchart(title: &'static str, description: &str, width: u32, x_field: &str, orientation: &str) -> PanelSpec {
    let mut panel = PanelSpec::new(
        title,
        description,
        width,
        8,
        PanelOptions::BarChart(BarChartOptions {
            x_field: x_field.to_owned(),
            orientation: orientation.to_owned(),
            x_tick_label_rotation: 0,
            x_tick_label_max_length: 0,
            stacking: "none".to_owned(),
            show_value: "auto".to_owned(),
            bar_width: 0.97,
            group_width: 0.7,
            full_highlight: false,
            legend: legend(),
            tooltip: tooltip(),
        }),
    );
    panel.field_config.custom = Some(CustomFieldConfig::BarChart(BarChartFieldConfig {
        line_width: 1,
        fill_opacity: 80,
        gradient_mode: "none".to_owned(),
        axis_placement: "auto".to_owned(),
    }));
    panel
}

/// Places panels left to right, starting a new row when the 24-column grid is full.
fn layout(specs: Vec<PanelSpec>) -> Vec<Panel> {
    let (mut x, mut y, mut row_height) = (0, 0, 0);
    let mut panels = Vec::new();
    for (index, spec) in specs.into_iter().enumerate() {
        if x + spec.width > 24 {
            x = 0;
            y += row_height;
            row_height = 0;
        }
        let id = u32::try_from(index + 1).unwrap_or(u32::MAX);
        panels.push(Panel {
            id,
            panel_type: spec.options.panel_type().to_owned(),
            title: spec.title.to_owned(),
            description: spec.description,
            grid_pos: GridPos { h: spec.height, w: spec.width, x, y },
            datasource: prometheus_ref(),
            targets: spec.targets,
            field_config: FieldConfigSource { defaults: spec.field_config, overrides: Vec::new() },
            options: spec.options,
            time_from: spec.time_from,
            interval: spec.interval,
        });
        x += spec.width;
        row_height = row_height.max(spec.height);
    }
    panels
}

fn dashboard(uid: &str, title: &str, description: &str, from: &str, specs: Vec<PanelSpec>) -> Dashboard {
    Dashboard {
        uid: uid.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        tags: vec!["stackscope".to_owned(), title.to_lowercase()],
        timezone: "browser".to_owned(),
        // Provisioned from files that are the source of truth.
        editable: false,
        graph_tooltip: 1,
        time: TimeRange { from: from.to_owned(), to: "now".to_owned() },
        refresh: "1m".to_owned(),
        schema_version: SCHEMA_VERSION,
        panels: layout(specs),
        templating: Templating::default(),
        annotations: Annotations {
            list: vec![AnnotationQuery {
                name: "Annotations & Alerts".to_owned(),
                datasource: DataSourceRef { datasource_type: "grafana".to_owned(), uid: "-- Grafana --".to_owned() },
                enable: true,
                hide: true,
                icon_color: "rgba(0, 211, 255, 1)".to_owned(),
                annotation_type: "dashboard".to_owned(),
                built_in: 1,
            }],
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The seed's dashboards
// ---------------------------------------------------------------------------------------------

/// Infrastructure: containers' CPU, memory and replicas, Cosmos DB, network, disks, restarts.
pub fn infrastructure(stack: &ResolvedStack) -> Dashboard {
    use metrics::*;
    let alerts = &stack.spec.alerting.rules.infrastructure;
    let mut panels = vec![
        timeseries_with_threshold_line(
            "CPU Utilization (All Services)",
            "CPU used by each service's containers, in percent of their CPU limit.",
            24,
            vec![step(None, "green"), step(Some(alerts.high_cpu.threshold), "orange"), step(Some(alerts.critical_cpu.threshold), "red")],
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum by (namespace, container) (rate({CPU_SECONDS}{{container!=\"\", container!=\"POD\"}}[$__rate_interval]))\n  / sum by (namespace, container) ({CPU_LIMITS}{{resource=\"cpu\"}})"
            ),
            "{{namespace}}/{{container}}",
        )),
        stacked_timeseries(
            "Memory Usage (All Services)",
            "Working-set memory of each service's containers, stacked.",
            24,
        )
        .unit("bytes")
        .min(0.0)
        .target(range_query(
            "A",
            format!("sum by (namespace, container) ({MEMORY_WORKING_SET}{{container!=\"\", container!=\"POD\"}})"),
            "{{namespace}}/{{container}}",
        )),
        gauge("Active Replicas", "Available replicas of each Deployment; red at zero.", 8)
            .min(0.0)
            .thresholds(vec![step(None, "red"), step(Some(1.0), "green")])
            .target(range_query(
                "A",
                format!("sum by (namespace, deployment) ({REPLICAS_AVAILABLE})"),
                "{{deployment}}",
            )),
        timeseries(
            "Cosmos DB RU/s Consumption",
            "Request units consumed per second, by database (Azure Monitor's TotalRequestUnits).",
            16,
        )
        .unit("short")
        .min(0.0)
        .target(range_query(
            "A",
            format!("sum by (database_name) (rate({COSMOS_REQUEST_UNITS}[$__rate_interval]))"),
            "{{database_name}}",
        )),
        timeseries("Network Bandwidth", "Bytes received and sent per second, by namespace.", 12)
            .unit("Bps")
            .target(range_query(
                "A",
                format!("sum by (namespace) (rate({NETWORK_RECEIVE}[$__rate_interval]))"),
                "{{namespace}} received",
            ))
            .target(range_query(
                "B",
                format!("sum by (namespace) (rate({NETWORK_TRANSMIT}[$__rate_interval]))"),
                "{{namespace}} sent",
            )),
        timeseries("Network Errors", "Receive and transmit errors per second, by namespace.", 12)
            .unit("short")
            .min(0.0)
            .target(range_query(
                "A",
                format!(
                    "sum by (namespace) (rate({NETWORK_RECEIVE_ERRORS}[$__rate_interval]) + rate({NETWORK_TRANSMIT_ERRORS}[$__rate_interval]))"
                ),
                "{{namespace}}",
            )),
        timeseries_with_threshold_line(
            "Disk Usage %",
            "Used share of each persistent volume.",
            12,
            red_from(alerts.disk_full.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!("100 * max by (namespace, persistentvolumeclaim) ({VOLUME_USED} / {VOLUME_CAPACITY})"),
            "{{namespace}}/{{persistentvolumeclaim}}",
        )),
        timeseries_with_threshold_line(
            "Container Restarts",
            "Restarts of each container over the crash alert's window.",
            12,
            red_from(alerts.container_crash.threshold),
        )
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "sum by (namespace, container) (increase({RESTARTS}[{}]))",
                alerts.container_crash.window.as_ref().map_or("10m", |window| window.as_str())
            ),
            "{{namespace}}/{{container}}",
        )),
    ];
    // Database latency comes from Jaeger's span metrics (the spans' `db.system`).
    if Component::Jaeger.enabled(stack) {
        let quantile = |ref_id: &str, q: &str| {
            range_query(
                ref_id,
                format!(
                    "histogram_quantile({q}, sum by (le, db_system) (rate({SPAN_DURATION_BUCKET}{{db_system!=\"\"}}[$__rate_interval])))"
                ),
                &format!("{{{{db_system}}}} p{}", &q[2..]),
            )
        };
        panels.push(
            timeseries(
                "Database Latency (p50, p95, p99)",
                "Latency of database calls (MongoDB, Cosmos DB, Milvus) from the spans' db.system.",
                24,
            )
            .unit("ms")
            .min(0.0)
            .target(quantile("A", "0.50"))
            .target(quantile("B", "0.95"))
            .target(quantile("C", "0.99")),
        );
    }
    dashboard(
        dashboard_uids::INFRASTRUCTURE,
        "Infrastructure",
        "Containers, databases and network of the platform.",
        "now-6h",
        panels,
    )
}

/// Application: the RED metrics per service and the LLM usage.
pub fn application(stack: &ResolvedStack) -> Dashboard {
    let red = &stack.spec.metrics.red;
    let business = &stack.spec.metrics.business;
    let alerts = &stack.spec.alerting.rules.application;
    let requests = &red.requests;
    let failures = &red.failures;
    let duration = &red.duration;
    let latency = |ref_id: &str, q: &str, by: &str, legend: &str| {
        range_query(
            ref_id,
            format!("histogram_quantile({q}, sum by (le{by}) (rate({duration}_bucket[$__rate_interval])))"),
            legend,
        )
    };
    let panels = vec![
        timeseries("Request Rate (per service)", "Requests per second, one series per service.", 24)
            .unit("reqps")
            .min(0.0)
            .target(range_query("A", format!("sum by (service) (rate({requests}[$__rate_interval]))"), "{{service}}")),
        timeseries_with_threshold_line(
            "Error Rate %",
            "Failed requests in percent of all requests; the red line is the high-error-rate alert.",
            24,
            red_from(alerts.high_error_rate.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum by (service) (rate({failures}[$__rate_interval]))\n  / sum by (service) (rate({requests}[$__rate_interval]))"
            ),
            "{{service}}",
        )),
        timeseries_with_threshold_line(
            "p95 Latency",
            "95th percentile of request duration per service; the red line is the high-latency alert.",
            12,
            red_from(alerts.high_latency.threshold),
        )
        .unit("s")
        .min(0.0)
        .target(latency("A", "0.95", ", service", "{{service}}")),
        barchart("LLM Token Usage", "Tokens consumed over the dashboard's range, by model.", 12, "model", "auto")
            .min(0.0)
            .target(table_query(
                "A",
                format!("sum by (model) (increase({}[$__range]))", business.llm_tokens),
                "{{model}}",
            )),
        timeseries("Response Latency (p50, p95, p99)", "Request duration percentiles over every service.", 12)
            .unit("s")
            .min(0.0)
            .target(latency("A", "0.50", "", "p50"))
            .target(latency("B", "0.95", "", "p95"))
            .target(latency("C", "0.99", "", "p99")),
        timeseries("LLM API Calls (per model)", "LLM API calls per second, by model.", 12)
            .unit("reqps")
            .min(0.0)
            .target(range_query(
                "A",
                format!("sum by (model) (rate({}[$__rate_interval]))", business.llm_calls),
                "{{model}}",
            )),
    ];
    dashboard(
        dashboard_uids::APPLICATION,
        "Application",
        "Rate, errors and duration of every service, and LLM usage.",
        "now-6h",
        panels,
    )
}

/// Business: the executive view (DAU, MAU, signups, MRR), conversations and revenue health.
pub fn business(stack: &ResolvedStack) -> Dashboard {
    let metric = &stack.spec.metrics.business;
    let alerts = &stack.spec.alerting.rules.business;
    let mut conversations = timeseries("Conversations per Day", "Conversations per day over the last 30 days.", 24)
        .min(0.0)
        .target(range_query("A", format!("sum(increase({}[1d]))", metric.conversations), "conversations"));
    conversations.time_from = Some("30d".to_owned());
    conversations.interval = Some("1d".to_owned());
    let panels = vec![
        stat("DAU", "Daily active users.", 6).target(range_query(
            "A",
            format!("max({})", metric.daily_active_users),
            "DAU",
        )),
        stat("MAU", "Monthly active users.", 6).target(range_query(
            "A",
            format!("max({})", metric.monthly_active_users),
            "MAU",
        )),
        stat("New Signups", "Signups over the last day.", 6).target(range_query(
            "A",
            format!("sum(increase({}[1d]))", metric.signups),
            "signups",
        )),
        stat("MRR", "Monthly recurring revenue.", 6).unit("currencyUSD").target(range_query(
            "A",
            format!("sum({})", metric.monthly_recurring_revenue),
            "MRR",
        )),
        conversations,
        barchart(
            "Top Chatbots by Usage",
            "The ten chatbots with the most conversations in the range.",
            12,
            "chatbot",
            "horizontal",
        )
        .min(0.0)
        .target(table_query(
            "A",
            format!("topk(10, sum by (chatbot) (increase({}[$__range])))", metric.conversations),
            "{{chatbot}}",
        )),
        timeseries_with_threshold_line(
            "Payment Failure Rate %",
            "Failed payments in percent of all payments; the red line is the payment-failure alert.",
            12,
            red_from(alerts.payment_failures.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum(rate({}[$__rate_interval])) / sum(rate({}[$__rate_interval]))",
                metric.payment_failures, metric.payments
            ),
            "failed payments",
        )),
        stat("Active Subscriptions", "Subscriptions currently active.", 12).target(range_query(
            "A",
            format!("sum({})", metric.active_subscriptions),
            "subscriptions",
        )),
        stat("Monthly Churn %", "Subscriptions cancelled over 30 days, in percent of the active ones.", 12)
            .unit("percent")
            .thresholds(red_from(alerts.high_churn.threshold))
            .target(range_query(
                "A",
                format!(
                    "100 * sum(increase({}[30d])) / sum({})",
                    metric.cancelled_subscriptions, metric.active_subscriptions
                ),
                "churn",
            )),
    ];
    dashboard(
        dashboard_uids::BUSINESS,
        "Business",
        "Users, conversations and revenue of the platform.",
        "now-7d",
        panels,
    )
}

/// The enabled dashboards as `(file name, dashboard)`.
pub fn dashboards(stack: &ResolvedStack) -> Vec<(&'static str, Dashboard)> {
    let spec = &stack.spec.dashboards;
    let mut list = Vec::new();
    if spec.infrastructure {
        list.push((INFRASTRUCTURE_FILE, infrastructure(stack)));
    }
    if spec.application {
        list.push((APPLICATION_FILE, application(stack)));
    }
    if spec.business {
        list.push((BUSINESS_FILE, business(stack)));
    }
    list
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// Renders the provisioning and dashboard ConfigMaps, the Deployment and the Service.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let spec = &stack.spec.dashboards;
    let name = object_name(stack, Component::Grafana);
    let dashboards_name = object_name_with(stack, Component::Grafana, "dashboards");

    let provisioning = BTreeMap::from([
        (DATASOURCES_FILE.to_owned(), to_yaml(Component::Grafana, DATASOURCES_FILE, &datasources(stack))?),
        (PROVIDER_FILE.to_owned(), to_yaml(Component::Grafana, PROVIDER_FILE, &provider(stack))?),
    ]);
    // Only provisioning changes need a restart; the provider re-reads dashboards on its own.
    let hash = content_hash(&provisioning);
    let mut dashboard_files = BTreeMap::new();
    for (file, dashboard) in dashboards(stack) {
        dashboard_files.insert(file.to_owned(), to_json(Component::Grafana, file, &dashboard)?);
    }
    let mut objects = vec![
        into_object(Component::Grafana, config_map(stack, Component::Grafana, name.clone(), provisioning))?,
        into_object(
            Component::Grafana,
            config_map(stack, Component::Grafana, dashboards_name.clone(), dashboard_files),
        )?,
    ];

    let admin = |key: &str| SecretKeyRef { name: spec.admin_secret.clone(), key: key.to_owned() };
    let container = Container {
        name: "grafana".to_owned(),
        image: Some(spec.image.as_str().to_owned()),
        env: Some(vec![
            env_from_secret("GF_SECURITY_ADMIN_USER", &admin(ADMIN_USER_KEY)),
            env_from_secret("GF_SECURITY_ADMIN_PASSWORD", &admin(ADMIN_PASSWORD_KEY)),
            env("GF_PATHS_PROVISIONING", PROVISIONING_DIRECTORY),
            env("GF_PATHS_DATA", DATA_DIRECTORY),
            // The root filesystem is read-only: log to stdout only.
            env("GF_LOG_MODE", "console"),
            env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
        ]),
        ports: Some(container_ports(&[("http", ports::GRAFANA_HTTP)])),
        liveness_probe: Some(http_probe(HEALTH_PATH, "http", ProbeTiming::after(30))),
        readiness_probe: Some(http_probe(HEALTH_PATH, "http", ProbeTiming::after(5))),
        resources: resource_requirements(&spec.resources),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![
            volume_mount("datasources", &format!("{PROVISIONING_DIRECTORY}/datasources"), true),
            volume_mount("providers", &format!("{PROVISIONING_DIRECTORY}/dashboards"), true),
            volume_mount("dashboards", DASHBOARDS_DIRECTORY, true),
            volume_mount("data", DATA_DIRECTORY, false),
            volume_mount("tmp", "/tmp", false),
        ]),
        ..Container::default()
    };
    let volumes = vec![
        // Only the provisioning subdirectories are replaced; the image's others stay.
        config_map_items_volume("datasources", &name, &[(DATASOURCES_FILE, DATASOURCES_FILE)]),
        config_map_items_volume("providers", &name, &[(PROVIDER_FILE, PROVIDER_FILE)]),
        config_map_volume("dashboards", &dashboards_name),
        empty_dir_volume("data"),
        empty_dir_volume("tmp"),
    ];
    let deployment = Deployment {
        metadata: metadata(stack, Component::Grafana, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: pod_selector(stack, Component::Grafana),
            template: pod_template(
                stack,
                Component::Grafana,
                Some(hash),
                restricted_pod_spec(GRAFANA_USER, vec![container], volumes),
            ),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    objects.push(into_object(Component::Grafana, deployment)?);
    objects.push(into_object(
        Component::Grafana,
        service(stack, Component::Grafana, name, &[("http", ports::GRAFANA_HTTP)]),
    )?);
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Environment;
    use crate::render::common::CONFIG_HASH_ANNOTATION;
    use crate::render::fixtures::{machineavatars, minimal, object};

    fn parsed_datasources(stack: &ResolvedStack) -> serde_json::Value {
        let text = to_yaml(Component::Grafana, DATASOURCES_FILE, &datasources(stack)).unwrap();
        serde_saphyr::from_str(&text).unwrap()
    }

    fn datasource_by_uid<'a>(file: &'a serde_json::Value, uid: &str) -> Option<&'a serde_json::Value> {
        file["datasources"].as_array().unwrap().iter().find(|datasource| datasource["uid"] == uid)
    }

    fn uids(file: &serde_json::Value) -> Vec<&str> {
        file["datasources"].as_array().unwrap().iter().map(|datasource| datasource["uid"].as_str().unwrap()).collect()
    }

    fn as_json<T: Serialize>(value: &T) -> serde_json::Value {
        serde_json::from_str(&to_json(Component::Grafana, "test", value).unwrap()).unwrap()
    }

    fn panel_titles(dashboard: &Dashboard) -> Vec<(&str, &str)> {
        dashboard.panels.iter().map(|panel| (panel.title.as_str(), panel.panel_type.as_str())).collect()
    }

    fn panel<'a>(dashboard: &'a Dashboard, title: &str) -> &'a Panel {
        dashboard.panels.iter().find(|panel| panel.title == title).unwrap_or_else(|| panic!("no panel {title}"))
    }

    fn exprs(panel: &Panel) -> Vec<&str> {
        panel.targets.iter().map(|target| target.expr.as_str()).collect()
    }

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn datasources_have_stable_uids_and_the_contract_urls() {
        let file = parsed_datasources(&machineavatars());
        assert_eq!(file["apiVersion"], 1);
        assert_eq!(
            uids(&file),
            [
                datasource_uids::PROMETHEUS,
                datasource_uids::LOKI,
                datasource_uids::JAEGER,
                datasource_uids::ALERTMANAGER
            ]
        );
        let prometheus = datasource_by_uid(&file, datasource_uids::PROMETHEUS).unwrap();
        assert_eq!(prometheus["type"], "prometheus");
        assert_eq!(prometheus["isDefault"], true);
        assert_eq!(prometheus["url"], "http://machineavatars-prometheus.observability.svc:9090");
        assert_eq!(prometheus["jsonData"]["timeInterval"], "15s");
        let loki = datasource_by_uid(&file, datasource_uids::LOKI).unwrap();
        assert_eq!(loki["url"], "http://machineavatars-loki.observability.svc:3100");
        assert_eq!(loki["isDefault"], false);
        let jaeger = datasource_by_uid(&file, datasource_uids::JAEGER).unwrap();
        assert_eq!(jaeger["type"], "jaeger");
        assert_eq!(jaeger["url"], "http://machineavatars-jaeger.observability.svc:16686");
        let alertmanager = datasource_by_uid(&file, datasource_uids::ALERTMANAGER).unwrap();
        assert_eq!(alertmanager["type"], "alertmanager");
        assert_eq!(alertmanager["url"], "http://machineavatars-alertmanager.observability.svc:9093");
        assert_eq!(alertmanager["jsonData"]["implementation"], "prometheus");
        for datasource in file["datasources"].as_array().unwrap() {
            assert_eq!(datasource["editable"], false);
            assert_eq!(datasource["access"], "proxy");
        }
    }

    #[test]
    fn trace_ids_in_log_lines_and_metadata_link_to_jaeger() {
        let file = parsed_datasources(&machineavatars());
        let fields = datasource_by_uid(&file, datasource_uids::LOKI).unwrap()["jsonData"]["derivedFields"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(fields.len(), 2);
        for field in &fields {
            assert_eq!(field["datasourceUid"], datasource_uids::JAEGER);
            // `$$` is Grafana's escape for a literal `$` in provisioning files.
            assert_eq!(field["url"], "$${__value.raw}");
        }
        let line = fields.iter().find(|field| field["matcherType"] == "regex").unwrap();
        let regex = regex::Regex::new(line["matcherRegex"].as_str().unwrap()).unwrap();
        let log = r#"{"level":"INFO","service":"response-3d","trace_id":"abc123xyz","message":"ok"}"#;
        assert_eq!(&regex.captures(log).unwrap()[1], "abc123xyz");
        let metadata = fields.iter().find(|field| field["matcherType"] == "label").unwrap();
        assert_eq!(metadata["matcherRegex"], "trace_id");
        let prometheus = datasource_by_uid(&file, datasource_uids::PROMETHEUS).unwrap();
        assert_eq!(
            prometheus["jsonData"]["exemplarTraceIdDestinations"],
            serde_json::json!([{"name": "trace_id", "datasourceUid": datasource_uids::JAEGER}])
        );
    }

    #[test]
    fn spans_link_back_to_their_logs_and_metrics() {
        let file = parsed_datasources(&machineavatars());
        let jaeger = &datasource_by_uid(&file, datasource_uids::JAEGER).unwrap()["jsonData"];
        let logs = &jaeger["tracesToLogsV2"];
        assert_eq!(logs["datasourceUid"], datasource_uids::LOKI);
        assert_eq!(logs["filterByTraceID"], true);
        assert_eq!(logs["tags"], serde_json::json!([{"key": "service.name", "value": "service"}]));
        let metrics = &jaeger["tracesToMetrics"];
        assert_eq!(metrics["datasourceUid"], datasource_uids::PROMETHEUS);
        assert_eq!(metrics["tags"], serde_json::json!([{"key": "service.name", "value": "service_name"}]));
        let queries = metrics["queries"].to_string();
        assert!(queries.contains("traces_span_metrics_calls_total{$$__tags}"), "{queries}");
        assert_eq!(jaeger["nodeGraph"]["enabled"], true);
    }

    #[test]
    fn datasources_exist_only_for_enabled_components() {
        let mut stack = machineavatars();
        stack.spec.tracing.enabled = false;
        let file = parsed_datasources(&stack);
        assert_eq!(uids(&file), [datasource_uids::PROMETHEUS, datasource_uids::LOKI, datasource_uids::ALERTMANAGER]);
        assert!(datasource_by_uid(&file, datasource_uids::LOKI).unwrap()["jsonData"].get("derivedFields").is_none());
        let prometheus = datasource_by_uid(&file, datasource_uids::PROMETHEUS).unwrap();
        assert!(prometheus["jsonData"].get("exemplarTraceIdDestinations").is_none());

        let mut stack = machineavatars();
        stack.spec.logging.enabled = false;
        let file = parsed_datasources(&stack);
        assert_eq!(uids(&file), [datasource_uids::PROMETHEUS, datasource_uids::JAEGER, datasource_uids::ALERTMANAGER]);
        let jaeger = &datasource_by_uid(&file, datasource_uids::JAEGER).unwrap()["jsonData"];
        assert!(jaeger.get("tracesToLogsV2").is_none());
        assert!(jaeger.get("tracesToMetrics").is_some());

        let mut stack = machineavatars();
        stack.spec.metrics.enabled = false;
        stack.spec.alerting.enabled = false;
        stack.spec.slos.enabled = false;
        let file = parsed_datasources(&stack);
        assert_eq!(uids(&file), [datasource_uids::LOKI, datasource_uids::JAEGER]);
        assert!(
            datasource_by_uid(&file, datasource_uids::JAEGER).unwrap()["jsonData"].get("tracesToMetrics").is_none()
        );
        assert_eq!(file["prune"], true, "datasources of components turned off are deleted");
    }

    #[test]
    fn the_provider_reads_the_mounted_dashboards_into_the_folder_read_only() {
        let mut stack = machineavatars();
        stack.spec.dashboards.folder = "Platform".to_owned();
        let provider = as_json(&provider(&stack));
        let entry = &provider["providers"][0];
        assert_eq!(provider["apiVersion"], 1);
        assert_eq!(entry["folder"], "Platform");
        assert_eq!(entry["type"], "file");
        assert_eq!(entry["allowUiUpdates"], false);
        assert_eq!(entry["disableDeletion"], true);
        assert_eq!(entry["options"]["path"], DASHBOARDS_DIRECTORY);
        let objects = render(&stack).unwrap();
        let container =
            &object(&objects, "Deployment", "machineavatars-grafana")["spec"]["template"]["spec"]["containers"][0];
        assert!(
            container["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|mount| mount["mountPath"] == DASHBOARDS_DIRECTORY)
        );
    }

    #[test]
    fn infrastructure_has_the_seed_panels() {
        let dashboard = infrastructure(&machineavatars());
        assert_eq!(dashboard.title, "Infrastructure");
        assert_eq!(dashboard.uid, dashboard_uids::INFRASTRUCTURE);
        assert_eq!(
            panel_titles(&dashboard),
            [
                ("CPU Utilization (All Services)", "timeseries"),
                ("Memory Usage (All Services)", "timeseries"),
                ("Active Replicas", "gauge"),
                ("Cosmos DB RU/s Consumption", "timeseries"),
                ("Network Bandwidth", "timeseries"),
                ("Network Errors", "timeseries"),
                ("Disk Usage %", "timeseries"),
                ("Container Restarts", "timeseries"),
                ("Database Latency (p50, p95, p99)", "timeseries"),
            ]
        );
        let memory = panel(&dashboard, "Memory Usage (All Services)");
        assert!(
            matches!(&memory.field_config.defaults.custom, Some(CustomFieldConfig::Graph(g)) if g.stacking.mode == "normal")
        );
        assert!(exprs(memory)[0].contains("container_memory_working_set_bytes"));
        assert!(
            exprs(panel(&dashboard, "CPU Utilization (All Services)"))[0].contains("container_cpu_usage_seconds_total")
        );
        assert!(exprs(panel(&dashboard, "Container Restarts"))[0].contains("[10m]"));
        let disk = panel(&dashboard, "Disk Usage %");
        assert_eq!(disk.field_config.defaults.thresholds.steps[1].value, Some(85.0));

        let mut stack = machineavatars();
        stack.spec.tracing.enabled = false;
        let titles =
            panel_titles(&infrastructure(&stack)).into_iter().map(|(title, _)| title.to_owned()).collect::<Vec<_>>();
        assert!(!titles.iter().any(|title| title.starts_with("Database Latency")), "no span metrics without Jaeger");
    }

    #[test]
    fn application_has_the_seed_panels_on_the_red_metrics() {
        let dashboard = application(&machineavatars());
        assert_eq!(dashboard.title, "Application");
        assert_eq!(dashboard.uid, dashboard_uids::APPLICATION);
        assert_eq!(
            panel_titles(&dashboard),
            [
                ("Request Rate (per service)", "timeseries"),
                ("Error Rate %", "timeseries"),
                ("p95 Latency", "timeseries"),
                ("LLM Token Usage", "barchart"),
                ("Response Latency (p50, p95, p99)", "timeseries"),
                ("LLM API Calls (per model)", "timeseries"),
            ]
        );
        assert_eq!(
            exprs(panel(&dashboard, "Request Rate (per service)")),
            ["sum by (service) (rate(http_requests_total[$__rate_interval]))"]
        );
        assert_eq!(panel(&dashboard, "Request Rate (per service)").targets[0].legend_format, "{{service}}");
        let errors = panel(&dashboard, "Error Rate %");
        assert!(
            exprs(errors)[0].contains("http_requests_failed_total") && exprs(errors)[0].contains("http_requests_total")
        );
        assert_eq!(errors.field_config.defaults.unit, "percent");
        assert_eq!(errors.field_config.defaults.thresholds.steps, [step(None, "green"), step(Some(5.0), "red")]);
        assert!(
            matches!(&errors.field_config.defaults.custom, Some(CustomFieldConfig::Graph(g)) if g.thresholds_style.mode == "line")
        );
        assert_eq!(
            exprs(panel(&dashboard, "p95 Latency")),
            [
                "histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[$__rate_interval])))"
            ]
        );
        let tokens = panel(&dashboard, "LLM Token Usage");
        assert_eq!(exprs(tokens), ["sum by (model) (increase(llm_tokens_total[$__range]))"]);
        assert!(matches!(&tokens.options, PanelOptions::BarChart(options) if options.x_field == "model"));
        assert!(tokens.targets[0].instant && tokens.targets[0].format == "table");
    }

    #[test]
    fn business_has_the_executive_view_and_a_30_day_conversation_trend() {
        let dashboard = business(&machineavatars());
        assert_eq!(dashboard.title, "Business");
        assert_eq!(dashboard.uid, dashboard_uids::BUSINESS);
        assert_eq!(
            panel_titles(&dashboard)[..5],
            [
                ("DAU", "stat"),
                ("MAU", "stat"),
                ("New Signups", "stat"),
                ("MRR", "stat"),
                ("Conversations per Day", "timeseries"),
            ]
        );
        // The four stats share the first row.
        let first_row: Vec<_> =
            dashboard.panels[..4].iter().map(|panel| (panel.grid_pos.x, panel.grid_pos.y)).collect();
        assert_eq!(first_row, [(0, 0), (6, 0), (12, 0), (18, 0)]);
        assert_eq!(exprs(panel(&dashboard, "DAU")), ["max(users_active_daily)"]);
        assert_eq!(exprs(panel(&dashboard, "MAU")), ["max(users_active_monthly)"]);
        assert_eq!(exprs(panel(&dashboard, "New Signups")), ["sum(increase(user_signups_total[1d]))"]);
        assert_eq!(exprs(panel(&dashboard, "MRR")), ["sum(revenue_monthly_recurring)"]);
        assert_eq!(panel(&dashboard, "MRR").field_config.defaults.unit, "currencyUSD");
        let conversations = panel(&dashboard, "Conversations per Day");
        assert_eq!(conversations.time_from.as_deref(), Some("30d"));
        assert_eq!(exprs(conversations), ["sum(increase(conversations_total[1d]))"]);
        assert!(exprs(panel(&dashboard, "Top Chatbots by Usage"))[0].contains("sum by (chatbot)"));
    }

    #[test]
    fn queries_follow_the_metric_names_of_the_spec() {
        let mut stack = machineavatars();
        let red = &mut stack.spec.metrics.red;
        red.requests = "api_calls_total".to_owned();
        red.failures = "api_failures_total".to_owned();
        red.duration = "api_latency_seconds".to_owned();
        let names = &mut stack.spec.metrics.business;
        names.daily_active_users = "dau_gauge".to_owned();
        names.llm_tokens = "openai_tokens_total".to_owned();
        names.conversations = "chats_total".to_owned();
        names.monthly_recurring_revenue = "mrr_usd".to_owned();
        stack.spec.alerting.rules.application.high_error_rate.threshold = 7.5;
        let text = serde_json::to_string(&[application(&stack), business(&stack)]).unwrap();
        for renamed in [
            "http_requests_total",
            "http_requests_failed_total",
            "http_request_duration_seconds",
            "users_active_daily",
            "llm_tokens_total",
            "conversations_total",
            "revenue_monthly_recurring",
        ] {
            assert!(!text.contains(renamed), "{renamed} is hard-coded");
        }
        for name in [
            "api_calls_total",
            "api_failures_total",
            "api_latency_seconds_bucket",
            "dau_gauge",
            "openai_tokens_total",
            "chats_total",
            "mrr_usd",
        ] {
            assert!(text.contains(name), "{name} is not queried");
        }
        let errors = panel(&application(&stack), "Error Rate %").field_config.defaults.thresholds.steps.clone();
        assert_eq!(errors[1].value, Some(7.5));
    }

    #[test]
    fn dashboards_are_well_formed_grafana_models() {
        for (file, dashboard) in dashboards(&machineavatars()) {
            let json = as_json(&dashboard);
            assert_eq!(json["schemaVersion"], SCHEMA_VERSION, "{file}");
            assert_eq!(json["templating"], serde_json::json!({"list": []}));
            let mut ids = std::collections::BTreeSet::new();
            let mut cells = std::collections::BTreeSet::new();
            for panel in json["panels"].as_array().unwrap() {
                assert!(ids.insert(panel["id"].as_u64().unwrap()), "{file}: duplicate id");
                let grid = &panel["gridPos"];
                let (x, y, w, h) = (
                    grid["x"].as_u64().unwrap(),
                    grid["y"].as_u64().unwrap(),
                    grid["w"].as_u64().unwrap(),
                    grid["h"].as_u64().unwrap(),
                );
                assert!(x + w <= 24 && w > 0 && h > 0, "{file}: {} off the grid", panel["title"]);
                for column in x..x + w {
                    for row in y..y + h {
                        assert!(cells.insert((column, row)), "{file}: {} overlaps", panel["title"]);
                    }
                }
                assert_eq!(
                    panel["datasource"],
                    serde_json::json!({"type": "prometheus", "uid": datasource_uids::PROMETHEUS})
                );
                assert_eq!(panel["fieldConfig"]["overrides"], serde_json::json!([]));
                assert_eq!(
                    panel["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"],
                    serde_json::Value::Null
                );
                let targets = panel["targets"].as_array().unwrap();
                assert!(!targets.is_empty());
                for target in targets {
                    assert_eq!(target["datasource"], panel["datasource"]);
                    assert!(!target["expr"].as_str().unwrap().is_empty());
                }
                let ref_ids: std::collections::BTreeSet<_> =
                    targets.iter().map(|t| t["refId"].as_str().unwrap()).collect();
                assert_eq!(ref_ids.len(), targets.len(), "{file}: refIds are unique per panel");
            }
        }
    }

    #[test]
    fn dashboards_turned_off_are_not_rendered() {
        let mut stack = machineavatars();
        stack.spec.dashboards.business = false;
        stack.spec.dashboards.infrastructure = false;
        let objects = render(&stack).unwrap();
        let data = object(&objects, "ConfigMap", "machineavatars-grafana-dashboards")["data"].as_object().unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), [APPLICATION_FILE]);
    }

    #[test]
    fn grafana_runs_restricted_with_its_admin_from_a_secret() {
        let objects = render(&machineavatars()).unwrap();
        let deployment = object(&objects, "Deployment", "machineavatars-grafana");
        assert_eq!(deployment["spec"]["replicas"], 1);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsUser"], 472);
        let container = &pod["containers"][0];
        let env = container["env"].as_array().unwrap();
        let variable = |name: &str| env.iter().find(|variable| variable["name"] == name).unwrap().clone();
        assert_eq!(
            variable("GF_SECURITY_ADMIN_USER")["valueFrom"]["secretKeyRef"],
            serde_json::json!({"name": "grafana-admin", "key": "admin-user", "optional": false})
        );
        assert_eq!(variable("GF_SECURITY_ADMIN_PASSWORD")["valueFrom"]["secretKeyRef"]["key"], "admin-password");
        assert_eq!(variable("GF_PATHS_PROVISIONING")["value"], PROVISIONING_DIRECTORY);
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/api/health");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/api/health");
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        let writable: Vec<_> = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|mount| mount.get("readOnly").is_none())
            .map(|mount| mount["mountPath"].as_str().unwrap())
            .collect();
        assert_eq!(writable, ["/var/lib/grafana", "/tmp"]);
        for volume in ["data", "tmp"] {
            let found = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == volume).unwrap();
            assert!(found.get("emptyDir").is_some(), "{volume} is an emptyDir");
        }
        let service = object(&objects, "Service", "machineavatars-grafana");
        assert_eq!(service["spec"]["ports"][0]["name"], "http");
        assert_eq!(service["spec"]["ports"][0]["port"], 3000);
        let provisioning = object(&objects, "ConfigMap", "machineavatars-grafana")["data"].to_string();
        assert!(
            !provisioning.contains("secureJsonData") && !provisioning.contains("password"),
            "no credential in a ConfigMap"
        );
    }

    #[test]
    fn datasource_changes_roll_the_pod_and_dashboard_changes_do_not() {
        let hash = |stack: &ResolvedStack| {
            let objects = render(stack).unwrap();
            object(&objects, "Deployment", &format!("{}-grafana", stack.name))["spec"]["template"]["metadata"]["annotations"]
                [CONFIG_HASH_ANNOTATION]
                .clone()
        };
        let stack = machineavatars();
        let original = hash(&stack);
        let mut dashboards_changed = stack.clone();
        dashboards_changed.spec.dashboards.business = false;
        dashboards_changed.spec.metrics.red.requests = "other_total".to_owned();
        assert_eq!(hash(&dashboards_changed), original);
        let mut datasources_changed = stack.clone();
        datasources_changed.spec.tracing.enabled = false;
        assert_ne!(hash(&datasources_changed), original);
        let mut folder_changed = stack;
        folder_changed.spec.dashboards.folder = "Elsewhere".to_owned();
        assert_ne!(hash(&folder_changed), original);
    }

    #[test]
    fn a_minimal_stack_renders_all_three_dashboards() {
        let objects = render(&minimal(Environment::Development)).unwrap();
        let data = object(&objects, "ConfigMap", "minimal-grafana-dashboards")["data"].as_object().unwrap();
        assert_eq!(data.len(), 3);
        for text in data.values() {
            let dashboard: serde_json::Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
            assert!(!dashboard["panels"].as_array().unwrap().is_empty());
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        let stack = machineavatars();
        let first = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
        let second = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
        assert_eq!(first, second);
    }
}
