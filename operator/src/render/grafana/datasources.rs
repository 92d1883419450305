//! Provisioning files: the datasources of the stack's enabled components, cross-linked by
//! `trace_id`, and the file provider of the dashboards.

use serde::Serialize;

use super::{DASHBOARD_UPDATE_INTERVAL_SECONDS, DASHBOARDS_DIRECTORY, metrics};
use crate::render::common::service_url;
use crate::render::{Component, datasource_uids, ports};
use crate::resolve::ResolvedStack;

// ---------------------------------------------------------------------------------------------
// Datasources (Grafana provisioning, `apiVersion: 1`)
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DatasourcesFile {
    pub api_version: u32,
    /// Datasources dropped from this file are deleted (a component turned off disappears).
    pub prune: bool,
    pub datasources: Vec<Datasource>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Datasource {
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
pub(crate) struct DatasourceJsonData {
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
pub(crate) struct ExemplarTraceIdDestination {
    pub name: String,
    pub datasource_uid: String,
}

/// A link from a log line (by regex) or from a label or structured metadata (by name).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DerivedField {
    pub name: String,
    pub matcher_type: String,
    pub matcher_regex: String,
    pub datasource_uid: String,
    pub url: String,
    pub url_display_label: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TracesToLogs {
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
pub(crate) struct TracesToMetrics {
    pub datasource_uid: String,
    pub span_start_time_shift: String,
    pub span_end_time_shift: String,
    pub tags: Vec<TagMapping>,
    pub queries: Vec<NamedQuery>,
}

/// A span attribute and the label it is called in the linked datasource.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TagMapping {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct NamedQuery {
    pub name: String,
    pub query: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct NodeGraph {
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

/// In-cluster URL of Thanos Query's HTTP API.
pub(crate) fn thanos_query_url(stack: &ResolvedStack) -> String {
    let query = crate::render::prometheus::thanos::Thanos::Query;
    format!("http://{}.{}.svc:{}", query.object_name(stack), stack.namespace, query.http_port())
}

/// The datasources of the stack's enabled components.
pub(crate) fn datasources(stack: &ResolvedStack) -> DatasourcesFile {
    let prometheus = Component::Prometheus.enabled(stack);
    let loki = Component::Loki.enabled(stack);
    let jaeger = Component::Jaeger.enabled(stack);
    let alertmanager = Component::Alertmanager.enabled(stack);
    let trace_link = literal_dollars("${__value.raw}");
    let mut list = Vec::new();
    if prometheus {
        // With downsampling, Thanos Query: the replicas deduplicated, and the 5m and 1h tiers
        // readable beyond Prometheus' own retention.
        let (url, prometheus_type) = if stack.spec.metrics.downsampling.enabled {
            (thanos_query_url(stack), "Thanos")
        } else {
            (service_url(stack, Component::Prometheus, ports::PROMETHEUS_HTTP), "Prometheus")
        };
        list.push(datasource(
            "Prometheus",
            "prometheus",
            datasource_uids::PROMETHEUS,
            url,
            DatasourceJsonData {
                http_method: Some("POST".to_owned()),
                time_interval: Some(stack.spec.metrics.prometheus.scrape_interval.as_str().to_owned()),
                prometheus_type: Some(prometheus_type.to_owned()),
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
pub(crate) struct ProvidersFile {
    pub api_version: u32,
    pub providers: Vec<DashboardProvider>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DashboardProvider {
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
pub(crate) struct ProviderOptions {
    pub path: String,
    pub folders_from_files_structure: bool,
}

/// The file provider reading the dashboards ConfigMap; the files are the source of truth.
pub(crate) fn provider(stack: &ResolvedStack) -> ProvidersFile {
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
