//! Panel builders: queries, thresholds, the panel kinds the dashboards use, and the grid.

use super::SCHEMA_VERSION;
use super::model::*;
use crate::render::datasource_uids;

// ---------------------------------------------------------------------------------------------
// Panel builders
// ---------------------------------------------------------------------------------------------

pub(crate) fn prometheus_ref() -> DataSourceRef {
    DataSourceRef { datasource_type: "prometheus".to_owned(), uid: datasource_uids::PROMETHEUS.to_owned() }
}

/// A range query drawn over time.
pub(crate) fn range_query(ref_id: &str, expr: String, legend: &str) -> Target {
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
pub(crate) fn table_query(ref_id: &str, expr: String, legend: &str) -> Target {
    Target { range: false, instant: true, format: "table".to_owned(), ..range_query(ref_id, expr, legend) }
}

pub(crate) fn step(value: Option<f64>, color: &str) -> Threshold {
    Threshold { value, color: color.to_owned() }
}

/// Green below `red_from`, red from it on.
pub(crate) fn red_from(value: f64) -> Vec<Threshold> {
    vec![step(None, "green"), step(Some(value), "red")]
}

pub(crate) fn legend() -> Legend {
    Legend { display_mode: "list".to_owned(), placement: "bottom".to_owned(), show_legend: true, calcs: Vec::new() }
}

pub(crate) fn tooltip() -> Tooltip {
    Tooltip { mode: "multi".to_owned(), sort: "desc".to_owned() }
}

pub(crate) fn reduce_last() -> ReduceOptions {
    ReduceOptions { values: false, calcs: vec!["lastNotNull".to_owned()], fields: String::new() }
}

/// A panel before it is placed on the grid: width and height in grid units.
pub(crate) struct PanelSpec {
    pub title: &'static str,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub targets: Vec<Target>,
    pub field_config: FieldConfig,
    pub options: PanelOptions,
    pub time_from: Option<String>,
    pub interval: Option<String>,
}

impl PanelSpec {
    pub fn new(title: &'static str, description: &str, width: u32, height: u32, options: PanelOptions) -> Self {
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

    pub(crate) fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    pub(crate) fn unit(mut self, unit: &str) -> Self {
        self.field_config.unit = unit.to_owned();
        self
    }

    pub(crate) fn min(mut self, min: f64) -> Self {
        self.field_config.min = Some(min);
        self
    }

    pub(crate) fn thresholds(mut self, steps: Vec<Threshold>) -> Self {
        self.field_config.thresholds.steps = steps;
        self
    }

    /// Colour by threshold (stat and gauge values).
    pub(crate) fn threshold_colors(mut self) -> Self {
        self.field_config.color.mode = "thresholds".to_owned();
        self
    }
}

pub(crate) fn graph(stacked: bool, threshold_line: bool) -> CustomFieldConfig {
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

pub(crate) fn timeseries(title: &'static str, description: &str, width: u32) -> PanelSpec {
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
pub(crate) fn timeseries_with_threshold_line(
    title: &'static str,
    description: &str,
    width: u32,
    steps: Vec<Threshold>,
) -> PanelSpec {
    let mut panel = timeseries(title, description, width).thresholds(steps);
    panel.field_config.custom = Some(graph(false, true));
    panel
}

pub(crate) fn stacked_timeseries(title: &'static str, description: &str, width: u32) -> PanelSpec {
    let mut panel = timeseries(title, description, width);
    panel.field_config.custom = Some(graph(true, false));
    panel
}

pub(crate) fn gauge(title: &'static str, description: &str, width: u32) -> PanelSpec {
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
pub(crate) fn stat(title: &'static str, description: &str, width: u32) -> PanelSpec {
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

pub(crate) fn barchart(
    title: &'static str,
    description: &str,
    width: u32,
    x_field: &str,
    orientation: &str,
) -> PanelSpec {
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
pub(crate) fn layout(specs: Vec<PanelSpec>) -> Vec<Panel> {
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

pub(crate) fn dashboard(uid: &str, title: &str, description: &str, from: &str, specs: Vec<PanelSpec>) -> Dashboard {
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
