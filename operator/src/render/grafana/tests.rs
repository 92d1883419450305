//! Tests of the Grafana renderer.

use serde::Serialize;

use super::dashboards::{application, business, infrastructure};
use super::model::*;
use super::panels::step;
use super::*;
use crate::api::Environment;
use crate::render::common::CONFIG_HASH_ANNOTATION;
use crate::render::datasource_uids;
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
    assert_golden_snapshot!(render(&machineavatars()));
}

#[test]
fn without_downsampling_the_metrics_datasource_is_prometheus_itself() {
    let mut stack = machineavatars();
    stack.spec.metrics.downsampling.enabled = false;
    let file = parsed_datasources(&stack);
    let prometheus = datasource_by_uid(&file, datasource_uids::PROMETHEUS).unwrap();
    assert_eq!(prometheus["url"], "http://machineavatars-prometheus.observability.svc:9090");
    assert_eq!(prometheus["jsonData"]["prometheusType"], "Prometheus");
}

#[test]
fn datasources_have_stable_uids_and_the_contract_urls() {
    let file = parsed_datasources(&machineavatars());
    assert_eq!(file["apiVersion"], 1);
    assert_eq!(
        uids(&file),
        [datasource_uids::PROMETHEUS, datasource_uids::LOKI, datasource_uids::JAEGER, datasource_uids::ALERTMANAGER]
    );
    let prometheus = datasource_by_uid(&file, datasource_uids::PROMETHEUS).unwrap();
    assert_eq!(prometheus["type"], "prometheus");
    assert_eq!(prometheus["isDefault"], true);
    // Downsampling on: Thanos Query, which deduplicates the replicas and reads every resolution.
    assert_eq!(prometheus["url"], "http://machineavatars-prometheus-query.observability.svc:10902");
    assert_eq!(prometheus["jsonData"]["prometheusType"], "Thanos");
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
    assert!(datasource_by_uid(&file, datasource_uids::JAEGER).unwrap()["jsonData"].get("tracesToMetrics").is_none());
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
        container["volumeMounts"].as_array().unwrap().iter().any(|mount| mount["mountPath"] == DASHBOARDS_DIRECTORY)
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
            ("Disk I/O (IOPS)", "timeseries"),
            ("Disk Throughput", "timeseries"),
            ("Container Health", "timeseries"),
            ("Daily Cost by Service", "timeseries"),
            ("Cosmos DB Throttled Requests", "timeseries"),
            ("Cosmos DB Storage", "timeseries"),
            ("Milvus Insert Rate", "timeseries"),
            ("Milvus Memory", "timeseries"),
            ("Milvus Collections", "stat"),
            ("Database Latency (p50, p95, p99)", "timeseries"),
        ]
    );
    assert_eq!(
        exprs(panel(&dashboard, "Milvus Insert Rate")),
        ["sum(rate(milvus_proxy_insert_vectors_count[$__rate_interval]))"]
    );
    assert_eq!(
        exprs(panel(&dashboard, "Milvus Memory")),
        ["sum by (instance) (process_resident_memory_bytes{job=\"milvus\"})"]
    );
    assert_eq!(
        exprs(panel(&dashboard, "Daily Cost by Service")),
        ["sum by (service) (increase(cloud_cost_dollars_total[1d]))"]
    );
    assert_eq!(panel(&dashboard, "Daily Cost by Service").interval.as_deref(), Some("1d"));
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
            ("RAG Hit Rate %", "timeseries"),
            ("Cost per Conversation", "timeseries"),
            ("SLO Attainment", "timeseries"),
            ("Error Budget Remaining", "gauge"),
        ]
    );
    assert_eq!(
        exprs(panel(&dashboard, "RAG Hit Rate %")),
        ["100 * sum(rate(rag_hits_total[$__rate_interval])) / sum(rate(rag_lookups_total[$__rate_interval]))"]
    );
    assert_eq!(
        exprs(panel(&dashboard, "Cost per Conversation")),
        ["sum(increase(llm_cost_dollars_total[1d])) / sum(increase(conversations_total[1d]))"]
    );
    assert_eq!(exprs(panel(&dashboard, "SLO Attainment")), ["1 - max by (service, slo) (slo:sli_error:ratio_rate30d)"]);
    assert_eq!(
        exprs(panel(&dashboard, "Error Budget Remaining")),
        ["max by (service, slo) (slo:error_budget_remaining:ratio)"]
    );
    let mut without_slos = machineavatars();
    without_slos.spec.slos.enabled = false;
    let without = application(&without_slos);
    let titles: Vec<_> = panel_titles(&without).into_iter().map(|(title, _)| title).collect();
    assert!(!titles.contains(&"Error Budget Remaining"), "no SLO panels without SLO rules");
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
    let first_row: Vec<_> = dashboard.panels[..4].iter().map(|panel| (panel.grid_pos.x, panel.grid_pos.y)).collect();
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
            assert_eq!(panel["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"], serde_json::Value::Null);
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty());
            for target in targets {
                assert_eq!(target["datasource"], panel["datasource"]);
                assert!(!target["expr"].as_str().unwrap().is_empty());
            }
            let ref_ids: std::collections::BTreeSet<_> = targets.iter().map(|t| t["refId"].as_str().unwrap()).collect();
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
