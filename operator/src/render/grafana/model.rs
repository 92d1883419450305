//! The dashboard JSON model: Grafana's `kinds/dashboard`, as the foundation SDK's schema states it.

use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Dashboard JSON model (Grafana's `kinds/dashboard`, as the foundation SDK's schema states it)
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dashboard {
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
pub(crate) struct TimeRange {
    pub from: String,
    pub to: String,
}

/// No template variables: every query is complete on its own.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct Templating {
    pub list: Vec<serde_json::Value>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Annotations {
    pub list: Vec<AnnotationQuery>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnnotationQuery {
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
pub(crate) struct DataSourceRef {
    #[serde(rename = "type")]
    pub datasource_type: String,
    pub uid: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct GridPos {
    pub h: u32,
    pub w: u32,
    pub x: u32,
    pub y: u32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Panel {
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
pub(crate) struct Target {
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
pub(crate) struct FieldConfigSource {
    pub defaults: FieldConfig,
    pub overrides: Vec<FieldOverride>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FieldOverride {
    pub matcher: Matcher,
    pub properties: Vec<serde_json::Value>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    pub id: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FieldConfig {
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
pub(crate) struct Thresholds {
    pub mode: String,
    pub steps: Vec<Threshold>,
}

/// A threshold step; the first has no value (it means -Infinity and is written as `null`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Threshold {
    pub value: Option<f64>,
    pub color: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FieldColor {
    pub mode: String,
}

/// The panel plugin's own field options (`fieldConfig.defaults.custom`).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub(crate) enum CustomFieldConfig {
    Graph(GraphFieldConfig),
    BarChart(BarChartFieldConfig),
}

/// `timeseries` field options.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphFieldConfig {
    pub draw_style: String,
    pub line_width: u32,
    pub fill_opacity: u32,
    pub show_points: String,
    pub span_nulls: bool,
    pub stacking: Stacking,
    pub thresholds_style: ThresholdsStyle,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Stacking {
    pub mode: String,
    pub group: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ThresholdsStyle {
    pub mode: String,
}

/// `barchart` field options.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BarChartFieldConfig {
    pub line_width: u32,
    pub fill_opacity: u32,
    pub gradient_mode: String,
    pub axis_placement: String,
}

/// The panel plugin's options; the variant decides the panel `type`.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub(crate) enum PanelOptions {
    TimeSeries(TimeSeriesOptions),
    Gauge(GaugeOptions),
    Stat(StatOptions),
    BarChart(BarChartOptions),
}

impl PanelOptions {
    /// The panel plugin id.
    pub(crate) fn panel_type(&self) -> &'static str {
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
pub(crate) struct Legend {
    pub display_mode: String,
    pub placement: String,
    pub show_legend: bool,
    pub calcs: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Tooltip {
    pub mode: String,
    pub sort: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TimeSeriesOptions {
    pub legend: Legend,
    pub tooltip: Tooltip,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ReduceOptions {
    pub values: bool,
    pub calcs: Vec<String>,
    pub fields: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GaugeOptions {
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
pub(crate) struct StatOptions {
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
pub(crate) struct BarChartOptions {
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
