//! Every row of the design's "settings the rendered stack must carry" table, checked value by
//! value in the output of `stackscope render` for the example stack (and, where a row is about
//! environments, for a stack per environment). All rows are checked and every failure reported.

use stackscope::api::{Collector, Environment, ObservabilityStack, ObservabilityStackSpec};
use stackscope::render::Component;
use stackscope::resolve::ResolvedStack;
use stackscope_tests::{Rendered, at, ensure, expect_eq};

type Check = fn(&Rendered) -> Result<(), String>;

/// `(area, setting as the design states it, check)`, one entry per row of the table.
const SETTINGS: &[(&str, &str, Check)] = &[
    ("Loki", "ingestion_rate_mb 50, retention_period 90d, chunk_target_size 1536000, compactor retention", loki),
    ("log retention", "prod 90d Azure cool via Secret, staging 30d, dev 7d local, compliance 1y", log_retention),
    ("Promtail", "positions, job containers, job=containerlogs, __path__, JSON pipeline", promtail),
    ("log levels", "DEBUG, INFO, WARN, ERROR, FATAL", log_levels),
    ("Prometheus", "15s/15s, one job per ServiceMonitor endpoint", prometheus),
    ("metric retention", "1m 30d, 5m 90d, 1h 2y", metric_retention),
    ("RED metrics", "http_requests_total, http_requests_failed_total, http_request_duration_seconds", red_metrics),
    ("infra alerts", "CPU 80/5m warn, 95/2m crit; memory 90/5m warn, 98 crit; disk 85 warn; restarts>3/10m", infra),
    ("app alerts", "error rate 5% warn, 20% crit; p95 3s warn, 10s crit; 0 requests 5m; database down", app),
    ("business alerts", "0 signups 1h warn; payment failures >10% crit; churn >5% monthly warn", business),
    ("routing", "email all; Slack #alerts warning+critical; PagerDuty critical; 15m/30m; P0-P3", routing),
    ("dashboards", "Infrastructure, Application, Business with the seed's panels", dashboards),
    ("tracing", "OTLP in, Jaeger v2 storage/query, Grafana datasource, trace_id links", tracing),
    ("probes", "liveness /health 8011 30/10/5/3; readiness /ready 5/5/3/2; response shapes", probes),
    ("SLOs", "the five services' availability, latency and error-rate targets as rules", slos),
    ("budgets", "gateway 50ms, database 100ms, Milvus 50ms, LLM 2000ms, TTS 500ms, total 3000ms", budgets),
];

#[test]
fn every_seed_setting_appears_in_the_rendered_stack() {
    let rendered = match Rendered::example() {
        Ok(rendered) => rendered,
        Err(error) => panic!("the example does not render: {error}"),
    };
    let failures: Vec<String> = SETTINGS
        .iter()
        .filter_map(|(area, setting, check)| check(&rendered).err().map(|error| format!("{area} ({setting}): {error}")))
        .collect();
    assert!(failures.is_empty(), "{} of {} rows fail:\n{}", failures.len(), SETTINGS.len(), failures.join("\n"));
}

#[test]
fn a_broken_output_fails_the_table() {
    // The table must be able to fail: drop the Loki config and the Loki row reports it.
    let mut rendered = Rendered::example().unwrap_or_else(|error| panic!("{error}"));
    rendered.objects.retain(|object| object.component != Component::Loki);
    assert!(loki(&rendered).is_err());
}

fn stack_in(environment: Environment) -> Rendered {
    let mut stack = ObservabilityStack::new("env", ObservabilityStackSpec::default());
    stack.metadata.namespace = Some("monitoring".to_owned());
    stack.spec.environment = environment;
    Rendered::of(ResolvedStack::without_monitors(&stack)).unwrap_or_else(|error| panic!("{error}"))
}

/// Every rule of a Prometheus rule file.
fn rules(rendered: &Rendered, file: &str) -> Result<Vec<serde_json::Value>, String> {
    let parsed = rendered.yaml(Component::Rules, file)?;
    let groups = at(&parsed, "groups")?.as_array().ok_or("groups is not a list")?;
    Ok(groups
        .iter()
        .filter_map(|group| group.get("rules").and_then(serde_json::Value::as_array))
        .flatten()
        .cloned()
        .collect())
}

fn text(value: &serde_json::Value, key: &str) -> String {
    match value.get(key) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn compact(expr: &str) -> String {
    expr.chars().filter(|c| !c.is_whitespace()).collect()
}

/// An alert whose expression contains `comparison` (whitespace ignored), with this severity
/// and `for` duration (`None`: any).
fn expect_alert(
    rules: &[serde_json::Value],
    what: &str,
    comparison: &str,
    severity: &str,
    for_: Option<&str>,
) -> Result<(), String> {
    let wanted = compact(comparison);
    let found = rules.iter().any(|rule| {
        rule.get("alert").is_some()
            && compact(&text(rule, "expr")).contains(&wanted)
            && rule.get("labels").map(|labels| text(labels, "severity")) == Some(severity.to_owned())
            && for_.is_none_or(|duration| text(rule, "for") == duration)
    });
    ensure(found, format!("{what}: no {severity} alert with `{comparison}` for {}", for_.unwrap_or("any")))
}

fn loki(rendered: &Rendered) -> Result<(), String> {
    let config = rendered.yaml(Component::Loki, "loki.yaml")?;
    expect_eq(&config, "limits_config/ingestion_rate_mb", "50")?;
    expect_eq(&config, "limits_config/retention_period", "90d")?;
    expect_eq(&config, "ingester/chunk_target_size", "1536000")?;
    expect_eq(&config, "compactor/retention_enabled", "true")?;
    ensure(at(&config, "compactor/delete_request_store").is_ok(), "compactor/delete_request_store unset")
}

fn log_retention(rendered: &Rendered) -> Result<(), String> {
    let production = rendered.yaml(Component::Loki, "loki.yaml")?;
    expect_eq(&production, "limits_config/retention_period", "90d")?;
    let azure = at(&production, "common/storage/azure")?;
    for key in ["account_name", "account_key"] {
        let value = text(azure, key);
        ensure(value.starts_with("${") && value.ends_with('}'), format!("azure {key} must be ${{ENV}}, is {value}"))?;
    }
    let statefulset = rendered.objects(Component::Loki, "StatefulSet");
    let env = statefulset
        .first()
        .map(|s| at(s, "spec/template/spec/containers/0/env").cloned())
        .ok_or("no Loki StatefulSet")??;
    ensure(env.to_string().contains("secretKeyRef"), "Azure credentials must come from a secretKeyRef")?;
    let stack = &rendered.stack.spec.logging.loki.storage.azure;
    ensure(format!("{:?}", stack.access_tier).eq_ignore_ascii_case("cool"), "Azure access tier is cool")?;
    for (environment, days) in [(Environment::Staging, "30d"), (Environment::Development, "7d")] {
        let config = stack_in(environment).yaml(Component::Loki, "loki.yaml")?;
        expect_eq(&config, "limits_config/retention_period", days)?;
        ensure(at(&config, "common/storage/azure").is_err(), format!("{environment:?} keeps logs locally"))?;
        ensure(at(&config, "common/storage/filesystem").is_ok(), format!("{environment:?} uses filesystem"))?;
    }
    let streams = at(&production, "limits_config/retention_stream")?.as_array().ok_or("retention_stream")?;
    for selector in [r#"{log_type="audit"}"#, r#"{log_type="compliance"}"#] {
        ensure(
            streams.iter().any(|s| text(s, "selector") == selector && text(s, "period") == "365d"),
            format!("retention_stream {selector} 365d"),
        )?;
    }
    Ok(())
}

fn promtail(rendered: &Rendered) -> Result<(), String> {
    let config = rendered.yaml(Component::Promtail, "promtail.yaml")?;
    expect_eq(&config, "positions/filename", "/tmp/positions.yaml")?;
    expect_eq(&config, "scrape_configs/0/job_name", "containers")?;
    expect_eq(&config, "scrape_configs/0/static_configs/0/labels/job", "containerlogs")?;
    expect_eq(&config, "scrape_configs/0/static_configs/0/labels/__path__", "/var/log/containers/*log")?;
    let stages = at(&config, "scrape_configs/0/pipeline_stages")?.as_array().ok_or("pipeline_stages")?;
    let json = stages.iter().find_map(|stage| stage.get("json")).ok_or("no json stage")?;
    for field in [
        "timestamp",
        "level",
        "service",
        "user_id",
        "project_id",
        "trace_id",
        "message",
        "duration_ms",
        "model",
        "tokens",
    ] {
        ensure(at(json, &format!("expressions/{field}")).is_ok(), format!("json stage extracts {field}"))?;
    }
    // Labels may come from several stages (the file name gives namespace/pod/container, and
    // `log_type` must be a label for the compliance retention_stream selectors to match); the
    // seed's row is about the JSON fields: level and service are labels, ids and unbounded fields
    // never are.
    let mut keys = Vec::new();
    for labels in stages.iter().filter_map(|stage| stage.get("labels")) {
        keys.extend(labels.as_object().ok_or("labels stage is not a map")?.keys().cloned());
    }
    for label in ["level", "service"] {
        ensure(keys.iter().any(|key| key == label), format!("{label} is a label, found {keys:?}"))?;
    }
    for field in ["user_id", "project_id", "trace_id", "message", "duration_ms"] {
        ensure(!keys.iter().any(|key| key == field), format!("{field} must not be a label, found {keys:?}"))?;
    }
    // With Alloy as the collector the same pipeline is rendered in Alloy's syntax.
    let mut alloy = rendered.stack.clone();
    alloy.spec.logging.collector = Collector::Alloy;
    let alloy = Rendered::of(alloy)?;
    let config = alloy.file(Component::Alloy, "config.alloy")?;
    for needle in ["/var/log/containers/*log", "containerlogs", "stage.json", "stage.labels", "loki.write"] {
        ensure(config.contains(needle), format!("config.alloy carries {needle}"))?;
    }
    Ok(())
}

fn log_levels(rendered: &Rendered) -> Result<(), String> {
    let crds: String = stackscope::crdgen::crd_documents()?.into_iter().map(|(_, text)| text).collect();
    for level in ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"] {
        ensure(crds.contains(&format!("- {level}")), format!("the CRD enumerates level {level}"))?;
    }
    // DEBUG is dropped outside development.
    let production = rendered.file(Component::Promtail, "promtail.yaml")?;
    ensure(production.contains("DEBUG"), "production drops DEBUG lines")?;
    let development = stack_in(Environment::Development);
    ensure(!development.file(Component::Promtail, "promtail.yaml")?.contains("drop"), "development keeps DEBUG")
}

fn prometheus(rendered: &Rendered) -> Result<(), String> {
    let config = rendered.yaml(Component::Prometheus, "prometheus.yml")?;
    expect_eq(&config, "global/scrape_interval", "15s")?;
    expect_eq(&config, "global/evaluation_interval", "15s")?;
    let jobs = at(&config, "scrape_configs")?.as_array().ok_or("scrape_configs")?;
    for monitor in &rendered.stack.monitors {
        for (index, _) in monitor.endpoints() {
            let name = monitor.job_name(index);
            ensure(jobs.iter().any(|job| text(job, "job_name") == name), format!("scrape job {name}"))?;
        }
    }
    // The seed's static targets response-3d:8011 and auth-service:8001 are monitors of the example.
    for (service, port) in [("response-3d", 8011), ("auth-service", 8001)] {
        let monitor = rendered.stack.monitors.iter().find(|m| m.name == service).ok_or(service)?;
        ensure(jobs.iter().any(|job| text(job, "job_name") == monitor.job_name(0)), format!("job for {service}"))?;
        let examples = std::fs::read_to_string(stackscope_tests::example_dir().join("monitors.yaml"))
            .map_err(|error| error.to_string())?;
        ensure(examples.contains(&format!("{port}")), format!("{service} serves on {port}"))?;
    }
    Ok(())
}

fn metric_retention(rendered: &Rendered) -> Result<(), String> {
    let compactor = rendered
        .objects(Component::Prometheus, "StatefulSet")
        .into_iter()
        .map(|object| object.to_string())
        .find(|text| text.contains("compact"))
        .ok_or("no Thanos compactor")?;
    for flag in ["--retention.resolution-raw=30d", "--retention.resolution-5m=90d", "--retention.resolution-1h=2y"] {
        ensure(compactor.contains(flag), format!("compactor flag {flag}"))?;
    }
    Ok(())
}

fn red_metrics(rendered: &Rendered) -> Result<(), String> {
    let red = rendered.file(Component::Rules, "red.yml")?;
    for metric in ["http_requests_total", "http_requests_failed_total", "http_request_duration_seconds_bucket"] {
        ensure(red.contains(metric), format!("red.yml uses {metric}"))?;
    }
    Ok(())
}

fn infra(rendered: &Rendered) -> Result<(), String> {
    let rules = rules(rendered, "infrastructure.yml")?;
    expect_alert(&rules, "CPU", "> 80", "warning", Some("5m"))?;
    expect_alert(&rules, "CPU", "> 95", "critical", Some("2m"))?;
    expect_alert(&rules, "memory", "> 90", "warning", Some("5m"))?;
    expect_alert(&rules, "memory", "> 98", "critical", None)?;
    expect_alert(&rules, "disk", "> 85", "warning", None)?;
    expect_alert(&rules, "restarts", "[10m]))) > 3", "critical", None)
}

fn app(rendered: &Rendered) -> Result<(), String> {
    let rules = rules(rendered, "application.yml")?;
    expect_alert(&rules, "error rate", "> 5", "warning", None)?;
    expect_alert(&rules, "error rate", "> 20", "critical", None)?;
    expect_alert(&rules, "p95", "> 3", "warning", None)?;
    expect_alert(&rules, "p95", "> 10", "critical", None)?;
    expect_alert(&rules, "no requests", "== 0", "warning", Some("5m"))?;
    ensure(
        rules.iter().any(|rule| {
            text(rule, "alert").to_lowercase().contains("database")
                && rule.get("labels").map(|labels| text(labels, "severity")) == Some("critical".to_owned())
        }),
        "a critical database-down alert",
    )
}

fn business(rendered: &Rendered) -> Result<(), String> {
    let rules = rules(rendered, "business.yml")?;
    expect_alert(&rules, "signups", "== 0", "warning", None)?;
    ensure(rules.iter().any(|rule| compact(&text(rule, "expr")).contains("[1h]")), "signups are counted over 1h")?;
    expect_alert(&rules, "payment failures", "> 10", "critical", None)?;
    expect_alert(&rules, "churn", "> 5", "warning", None)
}

fn routing(rendered: &Rendered) -> Result<(), String> {
    let config = rendered.file(Component::Alertmanager, "alertmanager.yml")?;
    let parsed = rendered.yaml(Component::Alertmanager, "alertmanager.yml")?;
    let routes = at(&parsed, "route/routes")?.to_string();
    ensure(routes.contains(r#"severity=~\"warning|critical\""#), "Slack gets warning and critical")?;
    ensure(routes.contains(r#"severity=\"critical\""#), "PagerDuty gets critical")?;
    ensure(config.contains("#alerts"), "Slack channel #alerts")?;
    ensure(config.contains("15m") && config.contains("30m"), "escalation after 15m and 30m")?;
    ensure(config.contains("_file"), "credentials are read from files")?;
    let rules = rendered.file(Component::Rules, "infrastructure.yml")?;
    ensure(rules.contains("incident_level"), "alerts carry incident levels")?;
    let all = rendered.stack.spec.alerting.rules.clone();
    ensure(format!("{all:?}").contains("P1"), "incident levels P0-P3 configured")
}

fn dashboards(rendered: &Rendered) -> Result<(), String> {
    let names = rendered.file_names(Component::Grafana);
    for (title, panels) in [
        (
            "Infrastructure",
            &["CPU Utilization (All Services)", "Memory Usage (All Services)", "Active Replicas", "Cosmos DB RU/s"][..],
        ),
        ("Application", &["Request Rate (per service)", "Error Rate %", "p95 Latency", "LLM Token Usage"][..]),
        ("Business", &["DAU", "MAU", "New Signups", "MRR", "Conversations per Day"][..]),
    ] {
        let file = names
            .iter()
            .find(|name| name.to_lowercase().starts_with(&title.to_lowercase()) && name.ends_with(".json"))
            .ok_or(format!("no {title} dashboard"))?;
        let dashboard = rendered.yaml(Component::Grafana, file)?;
        ensure(text(&dashboard, "title").contains(title), format!("{file} is titled {title}"))?;
        let titles = at(&dashboard, "panels")?.to_string();
        for panel in panels {
            ensure(titles.contains(panel), format!("{title} dashboard has a {panel} panel"))?;
        }
    }
    Ok(())
}

fn tracing(rendered: &Rendered) -> Result<(), String> {
    let config = rendered.yaml(Component::Jaeger, "config.yaml")?;
    expect_eq(&config, "receivers/otlp/protocols/grpc/endpoint", "0.0.0.0:4317")?;
    expect_eq(&config, "receivers/otlp/protocols/http/endpoint", "0.0.0.0:4318")?;
    ensure(at(&config, "extensions/jaeger_storage/backends").is_ok(), "jaeger_storage extension")?;
    ensure(at(&config, "extensions/jaeger_query/storage/traces").is_ok(), "jaeger_query extension")?;
    let datasources = rendered.file(Component::Grafana, "datasources.yaml")?;
    for needle in ["type: jaeger", "derivedFields", "trace_id", "tracesToLogsV2"] {
        ensure(datasources.contains(needle), format!("datasources carry {needle}"))?;
    }
    Ok(())
}

fn probes(rendered: &Rendered) -> Result<(), String> {
    let expectations = rendered.yaml(Component::Probes, "expectations.json")?;
    let list = expectations.as_array().ok_or("expectations.json is a list")?;
    let response_3d = list
        .iter()
        .find(|entry| text(entry, "monitor").ends_with("/response-3d"))
        .ok_or("response-3d has expected probes")?;
    for (path, expected) in [
        ("liveness/path", "/health"),
        ("liveness/port", "8011"),
        ("liveness/initialDelaySeconds", "30"),
        ("liveness/periodSeconds", "10"),
        ("liveness/timeoutSeconds", "5"),
        ("liveness/failureThreshold", "3"),
        ("readiness/path", "/ready"),
        ("readiness/initialDelaySeconds", "5"),
        ("readiness/periodSeconds", "5"),
        ("readiness/timeoutSeconds", "3"),
        ("readiness/failureThreshold", "2"),
    ] {
        expect_eq(response_3d, path, expected)?;
    }
    let health = rendered.yaml(Component::Probes, "health-response.schema.json")?;
    ensure(at(&health, "properties/status").is_ok() && at(&health, "properties/service").is_ok(), "health shape")?;
    let ready = rendered.yaml(Component::Probes, "ready-response.schema.json")?;
    ensure(at(&ready, "properties/dependencies").is_ok(), "ready shape")
}

fn slos(rendered: &Rendered) -> Result<(), String> {
    let slo = rendered.file(Component::Rules, "slo.yml")?;
    let parsed = rules(rendered, "slo.yml")?;
    for (service, availability, latency_seconds, error_rate) in [
        ("gateway", "99.95", "0.1", "0.005"),
        ("auth-service", "99.9", "0.2", "0.01"),
        ("response-3d", "99.5", "3", "0.02"),
        ("response-text", "99.7", "1", "0.015"),
        ("llm-service", "99", "2", "0.05"),
    ] {
        ensure(slo.contains(service), format!("slo.yml covers {service}"))?;
        let mine: Vec<_> = parsed.iter().filter(|rule| rule.to_string().contains(service)).collect();
        let all = serde_json::Value::Array(mine.iter().map(|rule| (*rule).clone()).collect()).to_string();
        ensure(all.contains(availability), format!("{service} availability {availability}"))?;
        ensure(all.contains(latency_seconds), format!("{service} latency {latency_seconds}s"))?;
        ensure(all.contains(error_rate), format!("{service} error rate {error_rate}"))?;
        ensure(
            mine.iter().any(|rule| rule.get("alert").is_some() && text(rule, "expr").contains("14.4")),
            format!("{service} has a fast-burn alert"),
        )?;
    }
    Ok(())
}

fn budgets(rendered: &Rendered) -> Result<(), String> {
    let parsed = rules(rendered, "budgets.yml")?;
    for (budget, seconds) in
        [("gateway", "0.05"), ("database", "0.1"), ("milvus", "0.05"), ("llm", "2"), ("tts", "0.5"), ("total", "3")]
    {
        ensure(
            parsed.iter().any(|rule| {
                rule.to_string().to_lowercase().contains(budget)
                    && compact(&text(rule, "expr")).contains(&format!(">{seconds}"))
            }),
            format!("budget {budget} at {seconds}s"),
        )?;
    }
    Ok(())
}
