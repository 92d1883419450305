//! The Grafana, Loki, Promtail and Alloy files of rendered stacks judged by their schemas:
//!
//! - dashboards by the Grafana foundation SDK's types (`grafana-schema`, strict decoding of the
//!   dashboard, every panel's options and field config by its panel type, every query), the
//!   seed's panels and PromQL asserted; provisioning files by a strict model of Grafana's
//!   provisioning format, with the datasources' cross-links followed;
//! - `loki.yaml` and `promtail.yaml` by the strict model of Loki's and Promtail's configuration
//!   (`stackscope_tests::loki_model`), after the same `${VAR}` expansion Loki does;
//! - `config.alloy` by Alloy's own syntax module (`alloy-syntax`: parser, `alloy fmt` printer,
//!   argument decoding of every component block).
//!
//! Each is run over the example stack and variants of it, and each is shown to reject a broken
//! file. The checkers are built once by `tools/build-tools.sh` (`make tools`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use stackscope::api::{Collector, Environment, ObservabilityStack, ObservabilityStackSpec};
use stackscope::render::{Component, datasource_uids};
use stackscope::resolve::ResolvedStack;
use stackscope_tests::grafana_model::{self, JsonData};
use stackscope_tests::loki_model;
use stackscope_tests::{Rendered, tools};

/// The schemaVersion of the dashboards of the pinned Grafana (12.2).
const GRAFANA_SCHEMA_VERSION: &str = "41";

// ---------------------------------------------------------------------------------------------
// Variants
// ---------------------------------------------------------------------------------------------

fn example() -> ResolvedStack {
    Rendered::example().unwrap_or_else(|error| panic!("the example does not render: {error}")).stack
}

fn empty_stack(environment: Environment) -> ResolvedStack {
    let mut stack = ObservabilityStack::new("empty", ObservabilityStackSpec::default());
    stack.metadata.namespace = Some("monitoring".to_owned());
    stack.spec.environment = environment;
    ResolvedStack::without_monitors(&stack)
}

/// Named stacks whose output differs in what these tests judge.
fn variants() -> Vec<(&'static str, ResolvedStack)> {
    let base = example();
    let with = |change: &dyn Fn(&mut ResolvedStack)| {
        let mut stack = base.clone();
        change(&mut stack);
        stack
    };
    vec![
        ("example (production)", base.clone()),
        ("example, staging", with(&|s| s.spec.environment = Environment::Staging)),
        ("example, development", with(&|s| s.spec.environment = Environment::Development)),
        ("example, alloy collector", with(&|s| s.spec.logging.collector = Collector::Alloy)),
        (
            "example, alloy collector, development",
            with(&|s| {
                s.spec.logging.collector = Collector::Alloy;
                s.spec.environment = Environment::Development;
            }),
        ),
        (
            "example, only the application dashboard",
            with(&|s| {
                s.spec.dashboards.infrastructure = false;
                s.spec.dashboards.business = false;
            }),
        ),
        ("example, jaeger off", with(&|s| s.spec.tracing.enabled = false)),
        ("example, loki off", with(&|s| s.spec.logging.enabled = false)),
        (
            "example, metrics and alerting off",
            with(&|s| {
                s.spec.metrics.enabled = false;
                s.spec.alerting.enabled = false;
                s.spec.slos.enabled = false;
            }),
        ),
        (
            "example, renamed metrics and burst limit",
            with(&|s| {
                s.spec.metrics.red.requests = "api_calls_total".to_owned();
                s.spec.metrics.red.failures = "api_failures_total".to_owned();
                s.spec.metrics.red.duration = "api_latency_seconds".to_owned();
                s.spec.metrics.business.daily_active_users = "dau_gauge".to_owned();
                s.spec.logging.loki.ingestion_burst_size_mb = Some(100);
            }),
        ),
        (
            "example, selectors with $ and backslashes",
            with(&|s| {
                s.spec.logging.loki.compliance.selectors =
                    vec![r#"{log_type="audit", path=~"C:\\\\logs\\/.*$"}"#.to_owned(), r#"{cost="$${x}"}"#.to_owned()];
            }),
        ),
        ("empty spec, production", empty_stack(Environment::Production)),
        ("empty spec, development", empty_stack(Environment::Development)),
    ]
}

fn render(variant: &str, stack: ResolvedStack) -> Rendered {
    Rendered::of(stack).unwrap_or_else(|error| panic!("{variant}: does not render: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Running a checker
// ---------------------------------------------------------------------------------------------

/// Writes `files` into a fresh directory and runs `checker` with `args` and their paths.
/// `Ok(output)` when it accepts them, `Err(output)` when it rejects them.
fn run_checker(checker: &Path, args: &[&str], files: &[(String, String)]) -> Result<String, String> {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let mut paths: Vec<PathBuf> = Vec::new();
    for (name, text) in files {
        let path = directory.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        paths.push(path);
    }
    let output = Command::new(checker)
        .args(args)
        .args(&paths)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", checker.display()));
    // Name files as the ConfigMap does, not by the temporary path.
    let prefix = format!("{}/", directory.path().display());
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
        .replace(&prefix, "");
    if output.status.success() { Ok(text) } else { Err(text) }
}

fn checker(name: &str) -> PathBuf {
    tools::binary(name, name).unwrap_or_else(|error| panic!("{name} is not available: {error}"))
}

fn dashboard_files(rendered: &Rendered) -> Vec<(String, String)> {
    rendered
        .file_names(Component::Grafana)
        .into_iter()
        .filter(|name| name.ends_with(".json"))
        .map(|name| {
            let text = rendered.file(Component::Grafana, &name).unwrap_or_else(|error| panic!("{error}")).to_owned();
            (name, text)
        })
        .collect()
}

fn grafana_schema(files: &[(String, String)]) -> Result<String, String> {
    run_checker(&checker("grafana-schema"), &["--schema-version", GRAFANA_SCHEMA_VERSION], files)
}

// ---------------------------------------------------------------------------------------------
// Grafana dashboards
// ---------------------------------------------------------------------------------------------

#[test]
fn every_dashboard_passes_the_grafana_foundation_sdk() {
    let mut failures = Vec::new();
    let mut judged = 0;
    for (variant, stack) in variants() {
        let rendered = render(variant, stack);
        if !Component::Grafana.enabled(&rendered.stack) {
            continue;
        }
        let files = dashboard_files(&rendered);
        assert!(!files.is_empty(), "{variant}: no dashboards rendered");
        judged += files.len();
        if let Err(output) = grafana_schema(&files) {
            failures.push(format!("{variant}: grafana-schema rejected the dashboards:\n{output}"));
        }
    }
    assert!(judged >= 30, "only {judged} dashboards judged");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_turned_off_dashboards_are_not_rendered_and_the_others_still_pass() {
    let mut stack = example();
    stack.spec.dashboards.infrastructure = false;
    stack.spec.dashboards.business = false;
    let rendered = render("only the application dashboard", stack);
    let names: Vec<String> = dashboard_files(&rendered).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["application.json"]);
}

/// A dashboard with one thing broken at `pointer`, and the path the checker must name.
fn broken_dashboard(file: &str, text: &str, pointer: &str, value: serde_json::Value) -> (String, String) {
    let mut dashboard: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|error| panic!("{file} is not JSON: {error}"));
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
    let target = dashboard.pointer_mut(parent).unwrap_or_else(|| panic!("{file}: no {parent}"));
    match target {
        serde_json::Value::Object(fields) => {
            fields.insert(key.to_owned(), value);
        }
        other => panic!("{file}: {parent} is not an object: {other}"),
    }
    (file.to_owned(), serde_json::to_string_pretty(&dashboard).unwrap_or_default())
}

#[test]
fn a_broken_dashboard_is_rejected_naming_the_path() {
    let rendered = render("example", example());
    let text = rendered.file(Component::Grafana, "application.json").unwrap_or_else(|error| panic!("{error}"));
    for (what, pointer, value, expected) in [
        ("an unknown dashboard key", "/refrsh", serde_json::json!("1m"), "unexpected field 'refrsh'"),
        (
            "a misspelled legend option of a timeseries panel",
            "/panels/0/options/legend/placment",
            serde_json::json!("bottom"),
            "panels[0].options.legend",
        ),
        (
            "an unknown custom field option",
            "/panels/1/fieldConfig/defaults/custom/drawStyl",
            serde_json::json!("line"),
            "panels[1].fieldConfig.defaults.custom",
        ),
        (
            "an unknown field config key",
            "/panels/1/fieldConfig/defaults/unti",
            serde_json::json!("percent"),
            "panels[1].fieldConfig.defaults",
        ),
        ("a mistyped grid position", "/panels/2/gridPos/w", serde_json::json!("12"), "panels[2].gridPos.w"),
        ("a misspelled PromQL target key", "/panels/0/targets/0/exp", serde_json::json!("up"), "panels[0].targets[0]"),
        ("a panel type without a schema", "/panels/3/type", serde_json::json!("barchartx"), "panels[3].type"),
        (
            "a draw style the schema does not have",
            "/panels/1/fieldConfig/defaults/custom/drawStyle",
            serde_json::json!("lines"),
            "panels[1].fieldConfig.defaults.custom.drawStyle",
        ),
        (
            "a threshold style the schema does not have",
            "/panels/1/fieldConfig/defaults/custom/thresholdsStyle/mode",
            serde_json::json!("lines"),
            "thresholdsStyle.mode",
        ),
        (
            "a tooltip mode",
            "/panels/0/options/tooltip/mode",
            serde_json::json!("multiple"),
            "panels[0].options.tooltip.mode",
        ),
        (
            "a query datasource type without a schema",
            "/panels/0/targets/0/datasource/type",
            serde_json::json!("influxdbx"),
            "panels[0].targets[0]",
        ),
        ("another schema version", "/schemaVersion", serde_json::json!(39), "schemaVersion"),
    ] {
        let broken = broken_dashboard("application.json", text, pointer, value);
        match grafana_schema(&[broken]) {
            Ok(output) => panic!("{what} was accepted: {output}"),
            Err(output) => assert!(
                output.contains("application.json") && output.contains(expected),
                "{what}: the checker did not name {expected}:\n{output}"
            ),
        }
    }
}

fn dashboard(rendered: &Rendered, file: &str) -> serde_json::Value {
    rendered.yaml(Component::Grafana, file).unwrap_or_else(|error| panic!("{error}"))
}

fn panel<'a>(dashboard: &'a serde_json::Value, title: &str) -> &'a serde_json::Value {
    dashboard["panels"]
        .as_array()
        .and_then(|panels| panels.iter().find(|panel| panel["title"] == title))
        .unwrap_or_else(|| panic!("{}: no panel {title}", dashboard["title"]))
}

fn queries(panel: &serde_json::Value) -> Vec<String> {
    panel["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str().map(str::to_owned)).collect()
}

#[test]
fn the_seed_dashboards_have_their_panels_and_queries() {
    let stack = example();
    let red = stack.spec.metrics.red.clone();
    let business = stack.spec.metrics.business.clone();
    let error_threshold = stack.spec.alerting.rules.application.high_error_rate.threshold;
    let rendered = render("example", stack);

    let infrastructure = dashboard(&rendered, "infrastructure.json");
    assert_eq!(infrastructure["title"], "Infrastructure");
    let titles: Vec<&str> =
        infrastructure["panels"].as_array().into_iter().flatten().filter_map(|p| p["title"].as_str()).collect();
    assert_eq!(
        titles[..4],
        [
            "CPU Utilization (All Services)",
            "Memory Usage (All Services)",
            "Active Replicas",
            "Cosmos DB RU/s Consumption"
        ]
    );
    assert_eq!(
        queries(panel(&infrastructure, "CPU Utilization (All Services)")),
        [
            "100 * sum by (namespace, container) (rate(container_cpu_usage_seconds_total{container!=\"\", container!=\"POD\"}[$__rate_interval]))\n  / sum by (namespace, container) (kube_pod_container_resource_limits{resource=\"cpu\"})"
        ]
    );
    assert_eq!(
        queries(panel(&infrastructure, "Memory Usage (All Services)")),
        ["sum by (namespace, container) (container_memory_working_set_bytes{container!=\"\", container!=\"POD\"})"]
    );
    assert_eq!(
        queries(panel(&infrastructure, "Active Replicas")),
        ["sum by (namespace, deployment) (kube_deployment_status_replicas_available)"]
    );
    assert_eq!(
        queries(panel(&infrastructure, "Cosmos DB RU/s Consumption")),
        ["sum by (database_name) (rate(cosmosdb_request_units_total[$__rate_interval]))"]
    );

    let application = dashboard(&rendered, "application.json");
    assert_eq!(application["title"], "Application");
    let titles: Vec<&str> =
        application["panels"].as_array().into_iter().flatten().filter_map(|p| p["title"].as_str()).collect();
    assert_eq!(titles[..4], ["Request Rate (per service)", "Error Rate %", "p95 Latency", "LLM Token Usage"]);
    assert_eq!(
        queries(panel(&application, "Request Rate (per service)")),
        [format!("sum by (service) (rate({}[$__rate_interval]))", red.requests)]
    );
    let errors = panel(&application, "Error Rate %");
    assert_eq!(
        queries(errors),
        [format!(
            "100 * sum by (service) (rate({}[$__rate_interval]))\n  / sum by (service) (rate({}[$__rate_interval]))",
            red.failures, red.requests
        )]
    );
    // The red line of the error rate is the high-error-rate alert's threshold: 5 (%) in the seed.
    assert!((error_threshold - 5.0).abs() < f64::EPSILON, "the seed's error-rate threshold is 5, is {error_threshold}");
    let steps = &errors["fieldConfig"]["defaults"]["thresholds"]["steps"];
    assert_eq!(steps[1], serde_json::json!({"color": "red", "value": 5.0}), "Error Rate % thresholds: {steps}");
    assert_eq!(errors["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line");
    assert_eq!(errors["fieldConfig"]["defaults"]["unit"], "percent");
    assert_eq!(
        queries(panel(&application, "p95 Latency")),
        [format!("histogram_quantile(0.95, sum by (le, service) (rate({}_bucket[$__rate_interval])))", red.duration)]
    );
    let tokens = panel(&application, "LLM Token Usage");
    assert_eq!(tokens["type"], "barchart");
    assert_eq!(queries(tokens), [format!("sum by (model) (increase({}[$__range]))", business.llm_tokens)]);

    let business_board = dashboard(&rendered, "business.json");
    assert_eq!(business_board["title"], "Business");
    for (title, query) in [
        ("DAU", format!("max({})", business.daily_active_users)),
        ("MAU", format!("max({})", business.monthly_active_users)),
        ("New Signups", format!("sum(increase({}[1d]))", business.signups)),
        ("MRR", format!("sum({})", business.monthly_recurring_revenue)),
        ("Conversations per Day", format!("sum(increase({}[1d]))", business.conversations)),
    ] {
        assert_eq!(queries(panel(&business_board, title)), [query], "Business: {title}");
    }
    assert_eq!(panel(&business_board, "MRR")["fieldConfig"]["defaults"]["unit"], "currencyUSD");
    assert_eq!(panel(&business_board, "Conversations per Day")["timeFrom"], "30d");

    // The panels the document lists beyond its drawings, each on a metric the spec names.
    let databases = example().spec.metrics.databases;
    for (board, title, query) in [
        (
            &infrastructure,
            "Cosmos DB Throttled Requests",
            format!("sum by (database_name) (rate({}[$__rate_interval]))", databases.cosmos_throttled_requests),
        ),
        (&infrastructure, "Cosmos DB Storage", format!("sum by (database_name) ({})", databases.cosmos_storage_bytes)),
        (
            &infrastructure,
            "Milvus Insert Rate",
            format!("sum(rate({}[$__rate_interval]))", databases.milvus_inserted_vectors),
        ),
        (&infrastructure, "Milvus Collections", format!("max({})", databases.milvus_collections)),
        (&infrastructure, "Daily Cost by Service", format!("sum by (service) (increase({}[1d]))", business.cloud_cost)),
        (
            &application,
            "RAG Hit Rate %",
            format!(
                "100 * sum(rate({}[$__rate_interval])) / sum(rate({}[$__rate_interval]))",
                business.rag_hits, business.rag_lookups
            ),
        ),
        (
            &application,
            "Cost per Conversation",
            format!("sum(increase({}[1d])) / sum(increase({}[1d]))", business.llm_cost, business.conversations),
        ),
        (&business_board, "Chatbots Created per Day", format!("sum(increase({}[1d]))", business.chatbots_created)),
        (
            &business_board,
            "Free → Pro Conversion",
            format!("100 * sum(increase({}[30d])) / sum(increase({}[30d]))", business.pro_upgrades, business.signups),
        ),
    ] {
        assert_eq!(queries(panel(board, title)), [query], "{title}");
    }
    assert_eq!(panel(&application, "Error Budget Remaining")["type"], "gauge");
    assert_eq!(panel(&infrastructure, "Disk I/O (IOPS)")["fieldConfig"]["defaults"]["unit"], "iops");
}

#[test]
fn dashboard_queries_use_the_metric_names_of_the_spec() {
    let mut stack = example();
    stack.spec.metrics.red.requests = "api_calls_total".to_owned();
    stack.spec.metrics.red.failures = "api_failures_total".to_owned();
    stack.spec.metrics.red.duration = "api_latency_seconds".to_owned();
    stack.spec.metrics.business.daily_active_users = "dau_gauge".to_owned();
    stack.spec.metrics.business.monthly_recurring_revenue = "mrr_usd".to_owned();
    stack.spec.metrics.business.satisfaction_ratings = "thumbs_total".to_owned();
    stack.spec.metrics.databases.milvus_memory_bytes = "milvus_rss_bytes".to_owned();
    stack.spec.metrics.databases.milvus_job = "vectors".to_owned();
    stack.spec.alerting.rules.application.high_error_rate.threshold = 7.5;
    let rendered = render("renamed metrics", stack);
    let application = dashboard(&rendered, "application.json");
    let business = dashboard(&rendered, "business.json");
    let text = format!("{application}{business}");
    for old in
        ["http_requests_total", "http_requests_failed_total", "http_request_duration_seconds", "users_active_daily"]
    {
        assert!(!text.contains(old), "{old} is still queried");
    }
    assert_eq!(
        queries(panel(&application, "Request Rate (per service)")),
        ["sum by (service) (rate(api_calls_total[$__rate_interval]))"]
    );
    assert!(queries(panel(&application, "Error Rate %"))[0].contains("api_failures_total"));
    assert!(queries(panel(&application, "p95 Latency"))[0].contains("api_latency_seconds_bucket"));
    assert_eq!(queries(panel(&business, "DAU")), ["max(dau_gauge)"]);
    assert_eq!(queries(panel(&business, "MRR")), ["sum(mrr_usd)"]);
    assert_eq!(
        queries(panel(&business, "User Satisfaction")),
        ["100 * sum(increase(thumbs_total{rating=\"up\"}[1d])) / sum(increase(thumbs_total[1d]))"]
    );
    let infrastructure = dashboard(&rendered, "infrastructure.json");
    assert_eq!(
        queries(panel(&infrastructure, "Milvus Memory")),
        ["sum by (instance) (milvus_rss_bytes{job=\"vectors\"})"]
    );
    assert_eq!(panel(&application, "Error Rate %")["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"], 7.5);
    grafana_schema(&dashboard_files(&rendered)).unwrap_or_else(|output| panic!("renamed metrics: {output}"));
}

// ---------------------------------------------------------------------------------------------
// Grafana provisioning
// ---------------------------------------------------------------------------------------------

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn datasources_match_grafana_provisioning_and_link_each_other() {
    let mut failures = Vec::new();
    for (variant, stack) in variants() {
        let rendered = render(variant, stack);
        if !Component::Grafana.enabled(&rendered.stack) {
            continue;
        }
        if let Err(error) = check_datasources(&rendered) {
            failures.push(format!("{variant}: datasources.yaml: {error}"));
        }
        let providers = rendered.file(Component::Grafana, "dashboards.yaml").unwrap_or_else(|error| panic!("{error}"));
        if let Err(error) = grafana_model::parse_provisioning::<grafana_model::ProvidersFile>(providers, &no_env) {
            failures.push(format!("{variant}: dashboards.yaml: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_datasources(rendered: &Rendered) -> Result<(), String> {
    let text = rendered.file(Component::Grafana, "datasources.yaml")?;
    let (file, json_data) = grafana_model::parse_datasources(text, &no_env)?;
    if file.api_version != 1 {
        return Err(format!("apiVersion {}", file.api_version));
    }
    let uids: BTreeMap<&str, &str> = file
        .datasources
        .iter()
        .filter_map(|ds| ds.uid.as_deref().map(|uid| (uid, ds.datasource_type.as_str())))
        .collect();
    let stack = &rendered.stack;
    let expected: Vec<&str> = [
        (Component::Prometheus.enabled(stack), datasource_uids::PROMETHEUS),
        (Component::Loki.enabled(stack), datasource_uids::LOKI),
        (Component::Jaeger.enabled(stack), datasource_uids::JAEGER),
        (Component::Alertmanager.enabled(stack), datasource_uids::ALERTMANAGER),
    ]
    .into_iter()
    .filter_map(|(enabled, uid)| enabled.then_some(uid))
    .collect();
    let found: Vec<&str> = file.datasources.iter().filter_map(|ds| ds.uid.as_deref()).collect();
    if found != expected {
        return Err(format!("datasources {found:?}, expected {expected:?}"));
    }
    if file.datasources.iter().filter(|ds| ds.is_default == Some(true)).count() > 1 {
        return Err("more than one default datasource".to_owned());
    }
    // Every link points at a provisioned datasource of the right type.
    let link = |from: &str, uid: &str, wanted: &str| -> Result<(), String> {
        match uids.get(uid) {
            Some(kind) if *kind == wanted => Ok(()),
            Some(kind) => Err(format!("{from} links to {uid}, a {kind} datasource, not {wanted}")),
            None => Err(format!("{from} links to {uid}, which is not provisioned")),
        }
    };
    let jaeger = uids.contains_key(datasource_uids::JAEGER);
    let loki = uids.contains_key(datasource_uids::LOKI);
    let prometheus = uids.contains_key(datasource_uids::PROMETHEUS);
    for data in &json_data {
        match data {
            JsonData::Loki(loki_data) => {
                if jaeger == loki_data.derived_fields.is_empty() {
                    return Err(format!(
                        "Loki has {} derived fields with Jaeger {jaeger}",
                        loki_data.derived_fields.len()
                    ));
                }
                for field in &loki_data.derived_fields {
                    link("Loki derived field", field.datasource_uid.as_deref().unwrap_or_default(), "jaeger")?;
                    // Grafana reads `$$` as `$`: the link must reach Grafana as `${__value.raw}`.
                    if field.url != "${__value.raw}" {
                        return Err(format!("derived field {} url is {:?} after interpolation", field.name, field.url));
                    }
                    if field.matcher_type.as_deref() == Some("regex") {
                        let regex = regex::Regex::new(&field.matcher_regex).map_err(|error| error.to_string())?;
                        let line =
                            r#"{"level":"INFO","service":"gateway","trace_id":"4bf92f3577b34da6","message":"ok"}"#;
                        let captured = regex.captures(line).and_then(|c| c.get(1)).map(|m| m.as_str());
                        if captured != Some("4bf92f3577b34da6") {
                            return Err(format!("derived field {} captures {captured:?}", field.name));
                        }
                    }
                }
            }
            JsonData::Jaeger(jaeger_data) => {
                match (&jaeger_data.traces_to_logs_v2, loki) {
                    (Some(logs), true) => link("Jaeger tracesToLogsV2", &logs.datasource_uid, "loki")?,
                    (None, false) => {}
                    (logs, _) => return Err(format!("tracesToLogsV2 {logs:?} with Loki {loki}")),
                }
                match (&jaeger_data.traces_to_metrics, prometheus) {
                    (Some(metrics), true) => {
                        link("Jaeger tracesToMetrics", &metrics.datasource_uid, "prometheus")?;
                        for query in &metrics.queries {
                            if !query.query.contains("{$__tags") {
                                return Err(format!("traces-to-metrics query {} lost $__tags", query.name));
                            }
                        }
                    }
                    (None, false) => {}
                    (metrics, _) => return Err(format!("tracesToMetrics {metrics:?} with Prometheus {prometheus}")),
                }
            }
            JsonData::Prometheus(prometheus_data) => {
                for destination in &prometheus_data.exemplar_trace_id_destinations {
                    link("Prometheus exemplars", destination.datasource_uid.as_deref().unwrap_or_default(), "jaeger")?;
                }
                if jaeger == prometheus_data.exemplar_trace_id_destinations.is_empty() {
                    return Err(format!("exemplar links with Jaeger {jaeger}"));
                }
            }
            JsonData::Alertmanager(alertmanager) => {
                if alertmanager.implementation != "prometheus" {
                    return Err(format!("Alertmanager implementation {}", alertmanager.implementation));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn a_misspelled_datasource_key_is_rejected() {
    let rendered = render("example", example());
    let text = rendered.file(Component::Grafana, "datasources.yaml").unwrap_or_else(|error| panic!("{error}"));
    assert!(grafana_model::parse_datasources(text, &no_env).is_ok());
    for (what, from, to) in [
        ("a misspelled jsonData key", "tracesToLogsV2:", "traceToLogsV2:"),
        ("a misspelled datasource key", "isDefault:", "isDefualt:"),
        ("a misspelled derived field key", "matcherRegex:", "matcherRegx:"),
    ] {
        assert!(text.contains(from), "the datasources file has no {from}");
        let broken = text.replacen(from, to, 1);
        match grafana_model::parse_datasources(&broken, &no_env) {
            Ok(_) => panic!("{what} ({to}) was accepted"),
            Err(error) => assert!(error.contains(to.trim_end_matches(':')), "{what}: {error}"),
        }
    }
    // An unescaped `$` is interpolated by Grafana: the trace link would lose its variable.
    let unescaped = text.replace("$${__value.raw}", "${__value.raw}");
    let rendered_error = {
        let mut broken = rendered.objects.clone();
        for object in &mut broken {
            if let Some(data) = object.object.data.get_mut("data")
                && let Some(file) = data.get_mut("datasources.yaml")
            {
                *file = serde_json::Value::String(unescaped.clone());
            }
        }
        let broken = Rendered { stack: rendered.stack.clone(), objects: broken };
        check_datasources(&broken)
    };
    assert!(rendered_error.is_err_and(|error| error.contains("url is \"\"")), "an unescaped trace link passed");
}

// ---------------------------------------------------------------------------------------------
// Loki and Promtail
// ---------------------------------------------------------------------------------------------

/// The Azure credentials as the pod's environment carries them: a base64 key with `+`, `/` and
/// `=`, which must reach Loki unchanged.
fn loki_env(name: &str) -> Option<String> {
    match name {
        "AZURE_STORAGE_ACCOUNT_NAME" => Some("machineavatarslogs".to_owned()),
        "AZURE_STORAGE_ACCOUNT_KEY" => Some("q1+w2/e3==: #x".to_owned()),
        _ => None,
    }
}

#[test]
fn every_loki_config_parses_with_the_strict_model() {
    let mut failures = Vec::new();
    for (variant, stack) in variants() {
        let rendered = render(variant, stack);
        if !Component::Loki.enabled(&rendered.stack) {
            continue;
        }
        if let Err(error) = check_loki(&rendered) {
            failures.push(format!("{variant}: loki.yaml: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether the component's container runs with `-config.expand-env=true`.
fn expands_env(rendered: &Rendered, component: Component, kind: &str) -> Result<bool, String> {
    let workload = rendered.objects(component, kind).into_iter().next().ok_or(format!("no {component} {kind}"))?;
    let args = stackscope_tests::at(workload, "spec/template/spec/containers/0/args")?;
    Ok(args.as_array().into_iter().flatten().any(|arg| arg == "-config.expand-env=true"))
}

fn check_loki(rendered: &Rendered) -> Result<(), String> {
    let text = rendered.file(Component::Loki, "loki.yaml")?;
    let expansion: loki_model::Expansion = if expands_env(rendered, Component::Loki, "StatefulSet")? {
        Some(&loki_env)
    } else if text.contains("${") {
        return Err("the file holds ${...} but Loki runs without -config.expand-env=true".to_owned());
    } else {
        None
    };
    let config = loki_model::parse_loki(text, expansion)?;
    let common = config.common.as_ref().ok_or("no common block")?;
    let storage = common.storage.as_ref().ok_or("no common.storage")?;
    let period = config
        .schema_config
        .as_ref()
        .and_then(|schema| schema.configs.as_ref())
        .and_then(|configs| configs.first())
        .ok_or("no schema period")?;
    let object_store = period.object_store.as_ref().map(|text| text.as_str()).unwrap_or_default();
    let configured = match (&storage.azure, &storage.filesystem) {
        (Some(_), None) => "azure",
        (None, Some(_)) => "filesystem",
        other => return Err(format!("common.storage sets azure and filesystem as {other:?}")),
    };
    if object_store != configured {
        return Err(format!("schema object_store {object_store} but common.storage is {configured}"));
    }
    let compactor = config.compactor.as_ref().ok_or("no compactor")?;
    if compactor.delete_request_store.as_ref().map(|text| text.as_str()) != Some(configured) {
        return Err(format!("compactor.delete_request_store is not {configured}"));
    }
    if compactor.retention_enabled != Some(true) {
        return Err("retention is not enforced by the compactor".to_owned());
    }
    if let Some(azure) = &storage.azure {
        // After Loki's expansion the credentials are exactly the environment's values.
        for (key, value, variable) in [
            ("account_name", &azure.account_name, "AZURE_STORAGE_ACCOUNT_NAME"),
            ("account_key", &azure.account_key, "AZURE_STORAGE_ACCOUNT_KEY"),
        ] {
            let expected = loki_env(variable);
            if value.as_ref().map(|text| text.0.clone()) != expected {
                return Err(format!("azure.{key} expands to {value:?}, not {expected:?}"));
            }
        }
    }
    // Selectors survive the expansion byte for byte.
    let expected: Vec<String> = rendered.stack.spec.logging.loki.compliance.selectors.clone();
    let found: Vec<String> = config
        .limits_config
        .as_ref()
        .and_then(|limits| limits.retention_stream.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|stream| stream.selector.as_ref().map(|text| text.0.clone()))
        .collect();
    if found != expected {
        return Err(format!("retention_stream selectors {found:?} after expansion, expected {expected:?}"));
    }
    Ok(())
}

#[test]
fn every_promtail_config_parses_with_the_strict_model() {
    let mut failures = Vec::new();
    let mut judged = 0;
    for (variant, stack) in variants() {
        let rendered = render(variant, stack);
        if !Component::Promtail.enabled(&rendered.stack) {
            continue;
        }
        judged += 1;
        let result = rendered
            .file(Component::Promtail, "promtail.yaml")
            .and_then(|text| {
                let expansion: loki_model::Expansion =
                    if expands_env(&rendered, Component::Promtail, "DaemonSet")? { Some(&no_env) } else { None };
                loki_model::parse_promtail(text, expansion)
            })
            .and_then(|config| {
                let stages = config
                    .scrape_configs
                    .as_ref()
                    .and_then(|scrapes| scrapes.first())
                    .and_then(|scrape| scrape.pipeline_stages.as_ref())
                    .ok_or("no pipeline stages")?;
                // The level template reaches Promtail as written (a `$level` expanded away
                // would break it).
                let level_template = stages
                    .iter()
                    .find_map(|stage| stage.template.as_ref())
                    .and_then(|template| template.template.as_ref())
                    .ok_or("no template stage")?;
                if !level_template.as_str().contains("$level :=") {
                    return Err(format!("the level template reaches Promtail as {:?}", level_template.as_str()));
                }
                let kinds: Vec<&str> = stages.iter().flat_map(|stage| stage.kinds()).collect();
                let drops = kinds.contains(&"match");
                if drops != rendered.stack.drop_debug() {
                    return Err(format!("stages {kinds:?} with drop_debug {}", rendered.stack.drop_debug()));
                }
                Ok(())
            });
        if let Err(error) = result {
            failures.push(format!("{variant}: promtail.yaml: {error}"));
        }
    }
    assert!(judged >= 5, "only {judged} Promtail configs judged");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_misspelled_or_mistyped_loki_key_is_rejected() {
    let rendered = render("example", example());
    let text = rendered.file(Component::Loki, "loki.yaml").unwrap_or_else(|error| panic!("{error}"));
    assert!(loki_model::parse_loki(text, Some(&loki_env)).is_ok());
    for (what, from, to, expected) in [
        ("a misspelled key", "retention_period:", "retention_perod:", "retention_perod"),
        ("a key in the wrong block", "  chunk_target_size:", "  chunk_target_sizes:", "chunk_target_sizes"),
        ("a wrong duration", "retention_period: 90d", "retention_period: 90 days", "90 days"),
        ("a wrong schema day", "from: \"2024-04-01\"", "from: \"2024-13-01\"", "2024-13-01"),
        ("a non-number", "ingestion_rate_mb: 50", "ingestion_rate_mb: fifty", "fifty"),
    ] {
        assert!(text.contains(from), "loki.yaml has no {from}");
        let broken = text.replacen(from, to, 1);
        match loki_model::parse_loki(&broken, Some(&loki_env)) {
            Ok(_) => panic!("{what} ({to}) was accepted"),
            Err(error) => assert!(error.contains(expected), "{what}: the error does not name {expected}: {error}"),
        }
    }
}

#[test]
fn a_misspelled_promtail_stage_is_rejected() {
    let rendered = render("example", example());
    let text = rendered.file(Component::Promtail, "promtail.yaml").unwrap_or_else(|error| panic!("{error}"));
    assert!(loki_model::parse_promtail(text, None).is_ok());
    for (what, from, to, expected) in [
        ("a misspelled stage key", "drop_counter_reason:", "drop_counter_reasn:", "drop_counter_reasn"),
        ("a misspelled stage type", "- structured_metadata:", "- structured_metadta:", "structured_metadta"),
        ("a misspelled top-level key", "positions:", "position:", "position"),
        ("a wrong sync period", "filename: /tmp/positions.yaml", "sync_period: soon", "soon"),
    ] {
        assert!(text.contains(from), "promtail.yaml has no {from}");
        let broken = text.replacen(from, to, 1);
        match loki_model::parse_promtail(&broken, None) {
            Ok(_) => panic!("{what} ({to}) was accepted"),
            Err(error) => assert!(error.contains(expected), "{what}: the error does not name {expected}: {error}"),
        }
    }
    // Two stage types in one entry.
    let two = text.replacen("  - cri: {}", "  - cri: {}\n    docker: {}", 1);
    assert_ne!(two, text, "promtail.yaml has no `- cri: {{}}` stage");
    let error = loki_model::parse_promtail(&two, None).err().unwrap_or_default();
    assert!(error.contains("exactly one stage type"), "two stage types in one entry: {error:?}");
}

#[test]
fn env_expansion_is_lokis() {
    let env = |name: &str| match name {
        "A" => Some("x".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    for (input, expected) in [
        ("${A}", "x"),
        ("$A-$A", "x-x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("$${A}", "${A}"),
        (r"a\\b\/c", r"a\b/c"),
        ("100$", "100$"),
    ] {
        assert_eq!(loki_model::expand_env(input, &env).as_deref(), Ok(expected), "{input}");
    }
    assert!(loki_model::expand_env("${A", &env).is_err());
    for duration in ["10m", "1h30m", "90d", "2w", "500ms", "1.5h", "0"] {
        assert!(loki_model::is_duration(duration), "{duration}");
    }
    for bad in ["90 days", "1d2", "h", "", "10x"] {
        assert!(!loki_model::is_duration(bad), "{bad}");
    }
}

/// The Loki v3.5.7 source tree, if one is given (`STACKSCOPE_LOKI_SOURCE`).
fn loki_source() -> Option<PathBuf> {
    std::env::var_os("STACKSCOPE_LOKI_SOURCE").map(PathBuf::from)
}

/// Upstream example configurations that are templates of other tools, rendered as those tools
/// would (Nomad's `{{ env "..." }}`), so that Loki's own keys can be judged.
fn render_nomad_template(text: &str) -> String {
    let pattern = regex::Regex::new(r#"\{\{ *env "([^"]+)" *\}\}"#).unwrap_or_else(|error| panic!("{error}"));
    pattern
        .replace_all(text, |captures: &regex::Captures| match &captures[1] {
            name if name.starts_with("NOMAD_PORT_") => "3100".to_owned(),
            name if name.starts_with("NOMAD_IP_") || name.contains("ip-address") => "10.0.0.7".to_owned(),
            name if name.ends_with("_DIR") => "/alloc".to_owned(),
            _ => "node-1".to_owned(),
        })
        .into_owned()
}

/// The ```yaml blocks of a Markdown page.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// What the model must make of an upstream file.
enum Upstream {
    /// Loki or Promtail v3.5.7 reads it.
    Accepted,
    /// Loki v3.5.7 itself refuses it (strict decoding): the model must refuse it naming `key`.
    Refused { key: &'static str, why: &'static str },
}

/// The model against Loki's and Promtail's own example configurations and the pipeline examples
/// of the stage reference. This project takes no Loki source in (its licence), so the test needs
/// a Loki v3.5.7 source tree from elsewhere:
///
/// `STACKSCOPE_LOKI_SOURCE=<loki v3.5.7 tree> cargo test -p stackscope-tests --test schemas -- --ignored`
#[test]
#[ignore = "needs STACKSCOPE_LOKI_SOURCE, a Loki v3.5.7 source tree (this project takes none in)"]
fn the_model_reads_lokis_own_example_configs() {
    use Upstream::{Accepted, Refused};
    let root = loki_source().unwrap_or_else(|| panic!("set STACKSCOPE_LOKI_SOURCE to a Loki v3.5.7 source tree"));
    let env = |name: &str| Some(format!("value-of-{name}"));
    // Every Loki and Promtail configuration example of the release.
    let loki: &[(&str, Upstream)] = &[
        ("cmd/loki/loki-docker-config.yaml", Accepted),
        (
            "cmd/loki/loki-local-config.yaml",
            Refused {
                key: "enable_multi_variant_queries",
                why: "querier.engine has no such key in v3.5.7 (EngineOpts: max_look_back_period, \
                      max_count_min_sketch_heap_size); the file is ahead of its release",
            },
        ),
        ("cmd/loki/loki-local-with-memcached.yaml", Accepted),
        ("production/docker/config/loki.yaml", Accepted),
        ("production/nomad/loki/config.yml", Accepted),
        ("production/nomad/loki-simple/config.yml", Accepted),
        (
            "production/nomad/loki-distributed/config.yml",
            Refused {
                key: "instance_availability_zone",
                why: "v3.5.7 has it under common.ring, not directly under common (pkg/loki/common)",
            },
        ),
        ("examples/getting-started/loki-config.yaml", Accepted),
    ];
    let promtail: &[(&str, Upstream)] = &[
        ("clients/cmd/promtail/promtail-local-config.yaml", Accepted),
        ("clients/cmd/promtail/promtail-docker-config.yaml", Accepted),
        ("clients/cmd/promtail/promtail-local-limit-config.yaml", Accepted),
        ("clients/cmd/promtail/promtail-local-pubsub-config.yaml", Accepted),
        ("clients/cmd/promtail/promtail-journal.yaml", Accepted),
        ("clients/cmd/promtail/promtail-gelf.yaml", Accepted),
        ("clients/cmd/promtail/promtail-kafka.yaml", Accepted),
        ("clients/cmd/promtail/promtail-kafka-sasl-plain.yaml", Accepted),
        ("clients/cmd/promtail/promtail-kafka-sasl-scram.yaml", Accepted),
        ("clients/cmd/promtail/promtail-kafka-sasl-ssl.yaml", Accepted),
        ("clients/cmd/promtail/promtail-kafka-ssl.yaml", Accepted),
        ("clients/cmd/promtail/promtail-cloudflare.yaml", Accepted),
        ("clients/cmd/promtail/promtail-windows.yaml", Accepted),
        ("production/docker/config/promtail.yaml", Accepted),
        ("docs/sources/send-data/promtail/cloud/ec2/promtail-ec2.yaml", Accepted),
        ("docs/sources/send-data/promtail/cloud/ec2/promtail-ec2-final.yaml", Accepted),
        (
            "examples/promtail-heroku/config.yml",
            Refused {
                key: "relabel_configs",
                why: "the file nests its target under a top-level relabel_configs, which Promtail refuses",
            },
        ),
    ];
    let mut failures = Vec::new();
    let mut read = 0;
    let mut judge = |path: &str, expected: &Upstream, promtail: bool| {
        let text = match std::fs::read_to_string(root.join(path)) {
            // Nomad renders its templates before Loki reads the file: do the same.
            Ok(text) => render_nomad_template(&text),
            Err(error) => return failures.push(format!("{path}: {error}")),
        };
        read += 1;
        let result = if promtail {
            loki_model::parse_promtail(&text, Some(&env)).map(drop)
        } else {
            loki_model::parse_loki(&text, Some(&env)).map(drop)
        };
        match (result, expected) {
            (Ok(()), Accepted) => {}
            (Err(error), Accepted) => failures.push(format!("{path}: {error}")),
            (Ok(()), Refused { key, why }) => failures.push(format!("{path}: accepted, but {key}: {why}")),
            (Err(error), Refused { key, why }) => {
                if error.contains(key) {
                    eprintln!("{path}: refused, as the program itself refuses it ({key}: {why})");
                } else {
                    failures.push(format!("{path}: refused for another reason than {key}: {error}"));
                }
            }
        }
    };
    for (path, expected) in loki {
        judge(path, expected, false);
    }
    for (path, expected) in promtail {
        judge(path, expected, true);
    }
    // The configuration reference's own examples, complete and partial.
    let examples = root.join("docs/sources/configure/examples/yaml");
    let mut names: Vec<String> = std::fs::read_dir(&examples)
        .unwrap_or_else(|error| panic!("{}: {error}", examples.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "only {} reference examples", names.len());
    for name in names {
        judge(&format!("docs/sources/configure/examples/yaml/{name}"), &Accepted, false);
    }
    // The pipeline examples of the stage reference pages (`- <stage>:` lists; the pages' key
    // listings with `<type>` placeholders are not examples).
    let stages_dir = root.join("docs/sources/send-data/promtail/stages");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&stages_dir)
        .unwrap_or_else(|error| panic!("{}: {error}", stages_dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    pages.sort();
    let (mut pipelines, mut not_yaml) = (0, 0);
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap_or_else(|error| panic!("{}: {error}", page.display()));
        for block in yaml_blocks(&text) {
            let first = block.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with('#'));
            if !first.is_some_and(|line| line.starts_with("- ")) || block.contains(": <") || block.contains("[<") {
                continue;
            }
            // Some examples of the pages are not YAML at all (`"\d"` is no escape of a
            // double-quoted scalar; a misindented list): no YAML reader takes them, Promtail's
            // neither, so they say nothing of the model. They are counted and named.
            if let Err(error) = serde_saphyr::from_str::<serde_json::Value>(&block) {
                let first_line = error.to_string().lines().next().unwrap_or_default().to_owned();
                eprintln!("skipped a pipeline example of {} that is not YAML: {first_line}", page.display());
                not_yaml += 1;
                continue;
            }
            pipelines += 1;
            let parsed = serde_saphyr::from_str::<Vec<loki_model::Stage>>(&block)
                .map_err(|error| error.to_string())
                .and_then(|stages| loki_model::check_stages(&stages, "stages"));
            if let Err(error) = parsed {
                failures.push(format!("{}: pipeline example:\n{block}\n{error}", page.display()));
            }
        }
    }
    eprintln!("judged {read} upstream configurations and {pipelines} stage examples");
    assert!(read >= 40, "only {read} upstream configurations read");
    assert!(pipelines >= 20, "only {pipelines} stage examples read");
    assert!(not_yaml <= 6, "{not_yaml} stage examples are not YAML: more than the 6 known broken ones");
    assert!(failures.is_empty(), "{} upstream configurations fail:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Alloy
// ---------------------------------------------------------------------------------------------

fn alloy_syntax(files: &[(String, String)]) -> Result<String, String> {
    run_checker(&checker("alloy-syntax"), &["--fmt"], files)
}

#[test]
fn every_config_alloy_passes_alloys_parser_and_argument_decoder() {
    let mut failures = Vec::new();
    let mut judged = 0;
    let mut stacks = variants();
    for (variant, stack) in &mut stacks {
        if !variant.contains("alloy") {
            stack.spec.logging.collector = Collector::Alloy;
        }
    }
    for (variant, stack) in stacks {
        let rendered = render(variant, stack);
        if !Component::Alloy.enabled(&rendered.stack) {
            continue;
        }
        judged += 1;
        let text = rendered.file(Component::Alloy, "config.alloy").unwrap_or_else(|error| panic!("{error}"));
        if let Err(output) = alloy_syntax(&[("config.alloy".to_owned(), text.to_owned())]) {
            failures.push(format!("{variant} with collector alloy: alloy-syntax rejected config.alloy:\n{output}"));
        }
    }
    assert!(judged >= 10, "only {judged} Alloy configs judged");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_broken_config_alloy_is_rejected() {
    let mut stack = example();
    stack.spec.logging.collector = Collector::Alloy;
    let rendered = render("example, alloy collector", stack);
    let text = rendered.file(Component::Alloy, "config.alloy").unwrap_or_else(|error| panic!("{error}"));
    alloy_syntax(&[("config.alloy".to_owned(), text.to_owned())])
        .unwrap_or_else(|output| panic!("the unbroken file is rejected: {output}"));
    for (what, from, to, expected) in [
        ("an unbalanced brace", "\tstage.cri { }\n", "\tstage.cri {\n", "expected }"),
        ("an unknown stage attribute", "\t\tsource     = \"filename\"", "\t\tsourc      = \"filename\"", "sourc"),
        ("an unknown stage type", "stage.json {", "stage.jsn {", "stage.jsn"),
        ("a stage attribute of the wrong type", "\t\tvalues = [", "\t\tvalues = {", "expected"),
        ("a reference to no component", "loki.write.loki.receiver", "loki.write.lok.receiver", "lok"),
        ("a missing required attribute", "\t\tformat = \"RFC3339Nano\"\n", "", "format"),
        ("an unknown match action", "\"drop\"", "\"dorp\"", "dorp"),
        ("a file `alloy fmt` would change", "\tforward_to = [loki.write", "\tforward_to  = [loki.write", "alloy fmt"),
    ] {
        assert!(text.contains(from), "config.alloy has no {from:?}");
        let broken = text.replacen(from, to, 1);
        match alloy_syntax(&[("config.alloy".to_owned(), broken)]) {
            Ok(output) => panic!("{what} was accepted: {output}"),
            Err(output) => assert!(
                output.contains("config.alloy") && output.contains(expected),
                "{what}: alloy-syntax did not name {expected}:\n{output}"
            ),
        }
    }
}
