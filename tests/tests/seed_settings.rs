//! Every row of the design's "settings the rendered stack must carry" table, and the routing of
//! every alert of the document, checked value by value at their paths in the parsed output of
//! `stackscope render` for the example stack (and, where a row is about environments, for a stack
//! per environment). What each row expects comes from `tests/data/seed.yaml`, the document
//! transcribed, never from stackscope's defaults. All rows are checked and every failure reported;
//! a render that moves one document value fails the row it belongs to.

use std::collections::BTreeSet;

use serde_json::Value;
use stackscope::api::{Channel, Environment, ObservabilityStack, ObservabilityStackSpec, parse_duration_millis};
use stackscope::render::Component;
use stackscope::resolve::ResolvedStack;
use stackscope_tests::seed::{Seed, seconds, seed};
use stackscope_tests::{Rendered, at, ensure, expect_eq, promql};

type Check = fn(&Rendered, &Seed) -> Result<(), String>;

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
    ("channels", "each alert to the channels of its row's Channel column", channels),
    ("routing", "email all; Slack #alerts warning+critical; PagerDuty critical; 15m/30m; P0-P3", routing),
    ("incident levels", "P0 everyone at once, P1 on-call + backend lead, P2 on-call, P3 next business day", levels),
    ("dashboards", "Infrastructure, Application, Business with the seed's panels", dashboards),
    ("tracing", "OTLP in, Jaeger v2 storage/query, Grafana datasource, trace_id links", tracing),
    ("probes", "liveness /health 8011 30/10/5/3; readiness /ready 5/5/3/2; response shapes", probes),
    ("SLOs", "the five services' availability, latency and error-rate targets as rules", slos),
    ("budgets", "gateway 50ms, database 100ms, Milvus 50ms, LLM 2000ms, TTS 500ms, total 3000ms", budgets),
];

/// The rows that fail for a render, as `area: error`.
fn failures(rendered: &Rendered) -> Vec<String> {
    SETTINGS
        .iter()
        .filter_map(|(area, setting, check)| {
            check(rendered, seed()).err().map(|error| format!("{area} ({setting}): {error}"))
        })
        .collect()
}

fn example() -> Rendered {
    Rendered::example().unwrap_or_else(|error| panic!("the example does not render: {error}"))
}

#[test]
fn every_seed_setting_appears_in_the_rendered_stack() {
    let failures = failures(&example());
    assert!(failures.is_empty(), "{} of {} rows fail:\n{}", failures.len(), SETTINGS.len(), failures.join("\n"));
}

/// A render that moves one document value fails exactly the row it belongs to, naming the value.
#[test]
fn each_broken_document_value_fails_its_row() {
    type Break = fn(&mut ResolvedStack);
    let breaks: [(&str, &str, Break); 12] = [
        ("Loki", "ingestion_rate_mb", |s| s.spec.logging.loki.ingestion_rate_mb = 49),
        ("Prometheus", "scrape_interval", |s| s.spec.metrics.prometheus.scrape_interval = "30s".into()),
        ("metric retention", "resolution-5m", |s| s.spec.metrics.downsampling.five_minute_retention = "60d".into()),
        ("infra alerts", "HighCPU", |s| s.spec.alerting.rules.infrastructure.high_cpu.threshold = 81.0),
        ("infra alerts", "ContainerCrash", |s| {
            s.spec.alerting.rules.infrastructure.container_crash.window = Some("15m".into())
        }),
        ("app alerts", "CriticalLatency", |s| s.spec.alerting.rules.application.critical_latency.threshold = 12.0),
        ("business alerts", "NoSignups", |s| s.spec.alerting.rules.business.no_signups.window = Some("2h".into())),
        ("channels", "CriticalCPU", |s| {
            s.spec.alerting.rules.infrastructure.critical_cpu.channels =
                Some(vec![Channel::Email, Channel::Slack, Channel::Pagerduty])
        }),
        ("routing", "slack", |s| s.spec.alerting.routing.slack.channel = "#ops".to_owned()),
        ("incident levels", "P1", |s| {
            s.spec.alerting.routing.incident_levels.p1.timing = stackscope::api::EscalationTiming::Immediate
        }),
        ("SLOs", "gateway", |s| {
            for monitor in s.monitors.iter_mut().filter(|monitor| monitor.name == "gateway") {
                if let Some(slo) = monitor.spec.slo.as_mut() {
                    slo.availability = 99.9;
                }
            }
        }),
        ("budgets", "gateway-routing", |s| s.spec.slos.budgets[0].threshold_ms = 60),
    ];
    let mut problems = Vec::new();
    for (row, value, change) in breaks {
        let mut stack = example().stack;
        change(&mut stack);
        let rendered = Rendered::of(stack).unwrap_or_else(|error| panic!("{row}/{value}: {error}"));
        let failed = failures(&rendered);
        let expected_row =
            failed.iter().any(|failure| failure.starts_with(&format!("{row} (")) && failure.contains(value));
        if failed.len() != 1 || !expected_row {
            problems
                .push(format!("breaking {value} should fail the row {row:?} alone, naming it; failed: {failed:#?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn stack_in(environment: Environment) -> Rendered {
    let mut stack = ObservabilityStack::new("env", ObservabilityStackSpec::default());
    stack.metadata.namespace = Some("monitoring".to_owned());
    stack.spec.environment = environment;
    Rendered::of(ResolvedStack::without_monitors(&stack)).unwrap_or_else(|error| panic!("{error}"))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn list<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, String> {
    at(value, path)?.as_array().ok_or_else(|| format!("{path} is not a list"))
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>, String> {
    Ok(list(value, path)?.iter().map(text).collect())
}

/// Two durations are the same length (`1y` and `365d`).
fn same_duration(found: &str, expected: &str) -> bool {
    parse_duration_millis(found).is_some() && parse_duration_millis(found) == parse_duration_millis(expected)
}

fn expect_duration(value: &Value, path: &str, expected: &str) -> Result<(), String> {
    let found = text(at(value, path)?);
    ensure(same_duration(&found, expected), format!("{path}: expected {expected}, found {found}"))
}

/// Every rule of a Prometheus rule file.
fn rules(rendered: &Rendered, file: &str) -> Result<Vec<Value>, String> {
    let parsed = rendered.yaml(Component::Rules, file)?;
    Ok(list(&parsed, "groups")?
        .iter()
        .filter_map(|group| group.get("rules").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect())
}

/// The alert of this name that applies to every service (no fixed `service` label).
fn general_alert<'a>(rules: &'a [Value], name: &str) -> Result<&'a Value, String> {
    let matching: Vec<&Value> = rules
        .iter()
        .filter(|rule| rule.get("alert").and_then(Value::as_str) == Some(name))
        .filter(|rule| rule.pointer("/labels/service").and_then(Value::as_str).is_none_or(|s| s.contains("{{")))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        other => Err(format!("{name}: {} general rules", other.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// Logs

fn loki(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let config = rendered.yaml(Component::Loki, "loki.yaml")?;
    expect_eq(&config, "limits_config/ingestion_rate_mb", &seed.loki.ingestion_rate_mb.to_string())
        .map_err(|error| format!("ingestion_rate_mb: {error}"))?;
    expect_duration(&config, "limits_config/retention_period", &seed.loki.retention_period)?;
    expect_eq(&config, "ingester/chunk_target_size", &seed.loki.chunk_target_size.to_string())?;
    expect_eq(&config, "compactor/retention_enabled", "true")?;
    ensure(!text(at(&config, "compactor/delete_request_store")?).is_empty(), "compactor/delete_request_store unset")
}

fn log_retention(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let retention = &seed.log_retention;
    let production = rendered.yaml(Component::Loki, "loki.yaml")?;
    expect_duration(&production, "limits_config/retention_period", &retention.production.retention)?;
    // Azure Blob: the storage account's credentials from a Secret, expanded by Loki from the env.
    let azure = at(&production, "common/storage/azure")?;
    let statefulset = rendered.objects(Component::Loki, "StatefulSet");
    let env = list(statefulset.first().ok_or("no Loki StatefulSet")?, "spec/template/spec/containers/0/env")?;
    for key in ["account_name", "account_key"] {
        let value = text(at(azure, key)?);
        let variable = value
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or(format!("azure {key} must be ${{ENV}}, is {value}"))?;
        let entry = env.iter().find(|entry| text(&entry["name"]) == variable).ok_or(format!("no env {variable}"))?;
        ensure(at(entry, "valueFrom/secretKeyRef/name").is_ok(), format!("{variable} comes from a Secret"))?;
    }
    let tier = retention.production.tier.as_deref().ok_or("the seed names the production tier")?;
    // Loki cannot set the tier: the StatefulSet carries it for whoever provisions the container.
    let annotation = rendered
        .objects
        .iter()
        .filter(|object| object.component == Component::Loki)
        .filter(|object| object.object.types.as_ref().is_some_and(|types| types.kind == "StatefulSet"))
        .find_map(|object| object.object.metadata.annotations.as_ref()?.get("stackscope.dev/azure-access-tier"));
    ensure(annotation.map(String::as_str) == Some(tier), format!("access tier {tier}, found {annotation:?}"))?;
    for (environment, expected) in
        [(Environment::Staging, &retention.staging), (Environment::Development, &retention.development)]
    {
        let config = stack_in(environment).yaml(Component::Loki, "loki.yaml")?;
        expect_duration(&config, "limits_config/retention_period", &expected.retention)?;
        ensure(expected.storage == "Local storage", "the seed keeps these logs locally")?;
        ensure(at(&config, "common/storage/azure").is_err(), format!("{environment:?} keeps logs locally"))?;
        ensure(at(&config, "common/storage/filesystem").is_ok(), format!("{environment:?} uses the filesystem"))?;
    }
    let streams = list(&production, "limits_config/retention_stream")?;
    for selector in [r#"{log_type="audit"}"#, r#"{log_type="compliance"}"#] {
        let stream = streams.iter().find(|stream| text(&stream["selector"]) == selector).ok_or(selector)?;
        expect_duration(stream, "period", &retention.compliance)?;
    }
    Ok(())
}

fn promtail(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let expected = &seed.promtail;
    let config = rendered.yaml(Component::Promtail, "promtail.yaml")?;
    expect_eq(&config, "positions/filename", &expected.positions_file)?;
    let job = list(&config, "scrape_configs")?
        .iter()
        .find(|job| text(&job["job_name"]) == expected.job_name)
        .ok_or(format!("no scrape job {}", expected.job_name))?;
    ensure(strings(job, "static_configs/0/targets")? == expected.targets, "static targets")?;
    for (label, value) in &expected.labels {
        expect_eq(job, &format!("static_configs/0/labels/{label}"), value)?;
    }
    let stages = list(job, "pipeline_stages")?;
    let json = stages.iter().find_map(|stage| stage.get("json")).ok_or("no json stage")?;
    for field in &seed.log_fields {
        expect_eq(json, &format!("expressions/{field}"), field)?;
    }
    // Labels may come from several stages (the file name gives namespace/pod/container, and
    // `log_type` must be a label for the compliance retention_stream selectors to match); the
    // seed's fields level and service are labels, ids and unbounded fields never are.
    let mut labels = BTreeSet::new();
    for stage in stages.iter().filter_map(|stage| stage.get("labels").and_then(Value::as_object)) {
        labels.extend(stage.keys().cloned());
    }
    for label in ["level", "service"] {
        ensure(labels.contains(label), format!("{label} is a label, found {labels:?}"))?;
    }
    for field in ["user_id", "project_id", "trace_id", "message", "duration_ms"] {
        ensure(!labels.contains(field), format!("{field} must not be a label, found {labels:?}"))?;
    }
    Ok(())
}

fn log_levels(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let crds = stackscope::crdgen::crd_documents()?;
    let (_, text_of_crd) =
        crds.iter().find(|(name, _)| name.contains("observabilitystacks")).ok_or("no ObservabilityStack CRD")?;
    let crd: Value = serde_saphyr::from_str(text_of_crd).map_err(|error| error.to_string())?;
    let levels = "spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/logging/properties/levels";
    ensure(strings(&crd, &format!("{levels}/items/enum"))? == seed.log_levels, "the CRD's level enum")?;
    ensure(strings(&crd, &format!("{levels}/default"))? == seed.log_levels, "the default levels")?;
    // DEBUG is dropped outside development (a match stage on the level label), kept there.
    let drops = |rendered: &Rendered| -> Result<Vec<String>, String> {
        let config = rendered.yaml(Component::Promtail, "promtail.yaml")?;
        Ok(list(&config, "scrape_configs/0/pipeline_stages")?
            .iter()
            .filter_map(|stage| stage.get("match"))
            .filter(|stage| text(&stage["action"]) == "drop")
            .map(|stage| text(&stage["selector"]))
            .collect())
    };
    ensure(drops(rendered)? == [r#"{level="DEBUG"}"#], "production drops DEBUG lines")?;
    ensure(drops(&stack_in(Environment::Development))?.is_empty(), "development keeps DEBUG")
}

// ---------------------------------------------------------------------------------------------
// Metrics

fn prometheus(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let config = rendered.yaml(Component::Prometheus, "prometheus.yml")?;
    expect_duration(&config, "global/scrape_interval", &seed.prometheus.scrape_interval)
        .map_err(|error| format!("scrape_interval: {error}"))?;
    expect_duration(&config, "global/evaluation_interval", &seed.prometheus.evaluation_interval)?;
    let jobs: BTreeSet<String> = list(&config, "scrape_configs")?.iter().map(|job| text(&job["job_name"])).collect();
    for monitor in &rendered.stack.monitors {
        for (index, _) in monitor.endpoints() {
            let name = monitor.job_name(index);
            ensure(jobs.contains(&name), format!("scrape job {name}"))?;
        }
    }
    // The document's static targets are the example's monitors of those Services, on those ports.
    let workloads =
        std::fs::read_to_string(stackscope_tests::repo_root().join("examples/workloads/machineavatars.yaml"))
            .map_err(|error| error.to_string())?;
    let documents = stackscope::manifest::documents("machineavatars.yaml", &workloads).map_err(|e| e.to_string())?;
    for target in &seed.prometheus.targets {
        let (service, port) = target.split_once(':').ok_or(target.as_str())?;
        let monitor = rendered.stack.monitors.iter().find(|m| m.name == service).ok_or(service)?;
        ensure(jobs.contains(&monitor.job_name(0)), format!("a scrape job for {service}"))?;
        let port_name = monitor.spec.endpoints[0].port.clone().ok_or(format!("{service} names no port"))?;
        let object = documents
            .iter()
            .find(|document| text(&document["kind"]) == "Service" && text(&document["metadata"]["name"]) == service)
            .ok_or(format!("no Service {service}"))?;
        let ports = list(object, "spec/ports")?;
        let named = ports.iter().find(|p| text(&p["name"]) == port_name).ok_or(format!("{service}: {port_name}"))?;
        expect_eq(named, "port", port)?;
    }
    Ok(())
}

fn metric_retention(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let args: Vec<String> = rendered
        .objects(Component::Prometheus, "StatefulSet")
        .into_iter()
        .flat_map(|object| object.pointer("/spec/template/spec/containers").and_then(Value::as_array).cloned())
        .flatten()
        .map(|container| strings(&container, "args").unwrap_or_default())
        .find(|args| args.first().map(String::as_str) == Some("compact"))
        .ok_or("no Thanos compactor")?;
    for (resolution, flag) in [("1m", "raw"), ("5m", "5m"), ("1h", "1h")] {
        let expected = seed.metric_retention.get(resolution).ok_or(resolution)?;
        let prefix = format!("--retention.resolution-{flag}=");
        let value = args.iter().find_map(|arg| arg.strip_prefix(&prefix)).ok_or(format!("no {prefix}"))?;
        ensure(same_duration(value, expected), format!("resolution-{flag}: expected {expected}, found {value}"))?;
    }
    Ok(())
}

fn red_metrics(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let red = &seed.red_metrics;
    let selected: BTreeSet<String> =
        rules(rendered, "red.yml")?.iter().flat_map(|rule| promql::selected_metrics(&text(&rule["expr"]))).collect();
    let expected: BTreeSet<String> =
        [red.rate.clone(), red.errors.clone(), format!("{}_bucket", red.duration)].into_iter().collect();
    ensure(selected == expected, format!("red.yml selects {selected:?}, the seed names {expected:?}"))
}

// ---------------------------------------------------------------------------------------------
// Alerts and their routing

/// Every alert of one of the document's tables: severity, `for`, window and threshold.
fn table_alerts(rendered: &Rendered, seed: &Seed, table: &str) -> Result<(), String> {
    let rules = rules(rendered, &format!("{table}.yml"))?;
    for alert in seed.alerts.iter().filter(|alert| alert.table == table) {
        let rule = general_alert(&rules, &alert.name)?;
        let name = &alert.name;
        expect_eq(rule, "labels/severity", &alert.severity).map_err(|error| format!("{name}: {error}"))?;
        if let Some(for_duration) = &alert.for_duration {
            expect_duration(rule, "for", for_duration).map_err(|error| format!("{name}: {error}"))?;
        }
        let expr = text(&rule["expr"]);
        if let Some(window) = &alert.window {
            let windows = promql::windows(&expr);
            ensure(
                windows.iter().all(|found| same_duration(found, window)) && !windows.is_empty(),
                format!("{name}: counted over {window}, the rule over {windows:?}"),
            )?;
        }
        let (operator, value) = promql::comparison(&expr).ok_or(format!("{name}: no comparison in {expr}"))?;
        match alert.threshold_value() {
            Some(0.0) => {
                ensure(operator == "==" && value == 0.0, format!("{name}: at 0, the rule says {operator} {value}"))?
            }
            Some(threshold) => ensure(
                operator == ">" && (value - threshold).abs() < 1e-9,
                format!("{name}: above {threshold}, the rule says {operator} {value}"),
            )?,
            // "Connection failed": the target's `up` is 0.
            None => ensure(operator == "==" && value == 0.0, format!("{name}: down is == 0, not {operator} {value}"))?,
        }
    }
    Ok(())
}

fn infra(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    table_alerts(rendered, seed, "infrastructure")
}

fn app(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    table_alerts(rendered, seed, "application")
}

fn business(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    table_alerts(rendered, seed, "business")
}

fn channels(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    for alert in &seed.alerts {
        let rules = rules(rendered, &format!("{}.yml", alert.table))?;
        let rule = general_alert(&rules, &alert.name)?;
        let label = text(at(rule, "labels/channels")?);
        let found: BTreeSet<&str> = label.split(',').collect();
        let expected: BTreeSet<&str> = alert.channels.iter().map(String::as_str).collect();
        ensure(found == expected, format!("{}: channels {label}, the document's column {expected:?}", alert.name))?;
    }
    Ok(())
}

/// The child routes of the root.
fn routes(config: &Value) -> Result<&Vec<Value>, String> {
    list(config, "route/routes")
}

/// The values a matcher list gives a label (`severity=~"a|b"` gives a and b).
fn matched_values(route: &Value, label: &str) -> Vec<String> {
    strings(route, "matchers")
        .unwrap_or_default()
        .iter()
        .filter_map(|matcher| matcher.strip_prefix(label))
        .filter_map(|rest| rest.strip_prefix("=~").or_else(|| rest.strip_prefix('=')))
        .flat_map(|values| values.trim_matches('"').split('|').map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn routing(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let config = rendered.yaml(Component::Alertmanager, "alertmanager.yml")?;
    // The general policy: alerts that name no channels, by severity.
    for (channel, severities) in &seed.routing.general_policy {
        let route = routes(&config)?
            .iter()
            .find(|route| text(&route["receiver"]) == *channel && matched_values(route, "channels") == [""])
            .ok_or(format!("no {channel} route for alerts without channels"))?;
        let found = matched_values(route, "severity");
        ensure(found == *severities, format!("{channel}: severities {found:?}, the seed {severities:?}"))?;
    }
    let slack = list(&config, "receivers")?.iter().find(|r| text(&r["name"]) == "slack").ok_or("no slack receiver")?;
    expect_eq(slack, "slack_configs/0/channel", &seed.routing.slack_channel).map_err(|e| format!("slack: {e}"))?;
    // The escalation path: its steps, roles and delays as the spec's defaults.
    let defaults = serde_json::to_value(stackscope::api::RoutingSpec::default()).map_err(|e| e.to_string())?;
    let steps = list(&defaults, "escalation")?;
    ensure(steps.len() == seed.routing.escalation.len(), "the escalation path has the seed's steps")?;
    for (step, expected) in steps.iter().zip(&seed.routing.escalation) {
        expect_eq(step, "name", &expected.step)?;
        expect_eq(step, "role", &expected.role)?;
        expect_duration(step, "after", &expected.after)?;
    }
    Ok(())
}

/// The routes of an escalation step for an incident level: `(group wait, time intervals)`.
fn step_routes(config: &Value, step: &str, level: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    Ok(routes(config)?
        .iter()
        .filter(|route| text(&route["receiver"]) == step)
        .filter(|route| matched_values(route, "incident_level").iter().any(|found| found == level))
        .map(|route| (text(&route["group_wait"]), strings(route, "active_time_intervals").unwrap_or_default()))
        .collect())
}

fn levels(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let config = rendered.yaml(Component::Alertmanager, "alertmanager.yml")?;
    for alert in &seed.alerts {
        let rules = rules(rendered, &format!("{}.yml", alert.table))?;
        let level = seed.readings.incident_levels.get(&alert.name).ok_or(alert.name.as_str())?;
        expect_eq(general_alert(&rules, &alert.name)?, "labels/incident_level", level)?;
    }
    let readings = &seed.readings;
    for (level, expected) in &seed.incident_levels {
        let reached = seed.steps_of_level(level);
        for step in &seed.routing.escalation {
            let found = step_routes(&config, &step.step, level)?;
            if !reached.contains(&step.step) {
                ensure(found.is_empty(), format!("{level} must not reach {}", step.role))?;
                continue;
            }
            // P0 reaches every step at once; P1 its second step after that step's delay; every
            // step of P3 waits for business hours.
            let wait = match level.as_str() {
                _ if expected.response == "Immediate" => "0s".to_owned(),
                "P1" if step.step != seed.routing.escalation[0].step => readings.p1_backend_lead_after.clone(),
                _ => step.after.clone(),
            };
            let intervals = if expected.next_business_day { vec!["business-hours".to_owned()] } else { Vec::new() };
            ensure(
                found.len() == 1 && same_duration(&found[0].0, &wait) && found[0].1 == intervals,
                format!("{level}: {} at {wait} {intervals:?}, found {found:?}", step.role),
            )?;
        }
    }
    // Under each channel, P0 goes out without the group wait and P3 within business hours.
    let channels = Channel::ALL.map(Channel::as_str);
    for route in routes(&config)?.iter().filter(|route| channels.contains(&text(&route["receiver"]).as_str())) {
        let receiver = text(&route["receiver"]);
        let children = list(route, "routes").map_err(|error| format!("{receiver}: {error}"))?;
        let child = |level: &str| {
            children
                .iter()
                .find(|child| matched_values(child, "incident_level").iter().any(|found| found == level))
                .ok_or(format!("{receiver}: no route for {level}"))
        };
        expect_eq(child("P0")?, "group_wait", "0s").map_err(|error| format!("{receiver} P0: {error}"))?;
        let held = strings(child("P3")?, "active_time_intervals")?;
        ensure(held == ["business-hours"], format!("{receiver}: P3 held to business hours, found {held:?}"))?;
    }
    let hours = &readings.business_hours;
    let interval = list(&config, "time_intervals")?
        .iter()
        .find(|interval| text(&interval["name"]) == "business-hours")
        .ok_or("no business-hours time interval")?;
    ensure(strings(interval, "time_intervals/0/weekdays")? == hours.weekdays, "business days")?;
    expect_eq(interval, "time_intervals/0/times/0/start_time", &hours.start)?;
    expect_eq(interval, "time_intervals/0/times/0/end_time", &hours.end)?;
    expect_eq(interval, "time_intervals/0/location", &hours.time_zone)
}

// ---------------------------------------------------------------------------------------------
// Dashboards, tracing, probes, SLOs

fn dashboards(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    for (title, panels) in &seed.dashboards {
        let file = format!("{}.json", title.to_lowercase());
        let dashboard = rendered.yaml(Component::Grafana, &file)?;
        expect_eq(&dashboard, "title", title)?;
        let rendered_panels = list(&dashboard, "panels")?;
        for panel in panels {
            let found = rendered_panels
                .iter()
                .find(|rendered| text(&rendered["title"]) == *panel)
                .ok_or(format!("{title} dashboard has no {panel} panel"))?;
            let queries = list(found, "targets")?.iter().filter(|target| !text(&target["expr"]).is_empty()).count();
            ensure(queries > 0, format!("{title}: {panel} queries nothing"))?;
        }
    }
    Ok(())
}

fn tracing(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let tracing = &seed.tracing;
    let config = rendered.yaml(Component::Jaeger, "config.yaml")?;
    ensure(tracing.ingest == "OTLP", "the seed ingests OpenTelemetry")?;
    for protocol in ["grpc", "http"] {
        ensure(at(&config, &format!("receivers/otlp/protocols/{protocol}/endpoint")).is_ok(), protocol)?;
    }
    ensure(strings(&config, "service/pipelines/traces/receivers")?.contains(&"otlp".to_owned()), "traces from OTLP")?;
    ensure(at(&config, "extensions/jaeger_storage/backends").is_ok(), "jaeger_storage extension")?;
    ensure(at(&config, "extensions/jaeger_query/storage/traces").is_ok(), "jaeger_query extension")?;
    let datasources = rendered.yaml(Component::Grafana, "datasources.yaml")?;
    let all = list(&datasources, "datasources")?;
    let jaeger = all.iter().find(|d| text(&d["type"]) == tracing.backend).ok_or("no Jaeger datasource")?;
    let loki = all.iter().find(|d| text(&d["type"]) == "loki").ok_or("no Loki datasource")?;
    expect_eq(jaeger, "jsonData/tracesToLogsV2/datasourceUid", &text(&loki["uid"]))?;
    let fields = list(loki, "jsonData/derivedFields")?;
    ensure(
        fields.iter().any(|field| {
            text(&field["matcherRegex"]) == tracing.log_field && text(&field["datasourceUid"]) == text(&jaeger["uid"])
        }),
        format!("a Loki derived field on {} leads to Jaeger", tracing.log_field),
    )
}

fn probes(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let expectations = rendered.yaml(Component::Probes, "expectations.json")?;
    let response_3d = expectations
        .as_array()
        .and_then(|list| list.iter().find(|entry| text(&entry["monitor"]).ends_with("/response-3d")))
        .ok_or("response-3d has expected probes")?;
    for (probe, expected) in [("liveness", &seed.probes.liveness), ("readiness", &seed.probes.readiness)] {
        for (field, value) in expected {
            expect_eq(response_3d, &format!("{probe}/{field}"), &text(value))?;
        }
    }
    for (file, fields) in [
        ("health-response.schema.json", &seed.probes.health_response),
        ("ready-response.schema.json", &seed.probes.ready_response),
    ] {
        let schema = rendered.yaml(Component::Probes, file)?;
        for field in fields {
            ensure(at(&schema, &format!("properties/{field}")).is_ok(), format!("{file}: {field}"))?;
        }
    }
    Ok(())
}

fn number(value: &Value) -> Option<f64> {
    text(value).parse().ok()
}

fn slos(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let rules = rules(rendered, "slo.yml")?;
    for slo in &seed.slos {
        let service = &slo.service;
        let records: Vec<&Value> = rules
            .iter()
            .filter(|rule| rule.get("record").is_some() && text(&rule["labels"]["service"]) == *service)
            .collect();
        ensure(!records.is_empty(), format!("{service}: no SLO records"))?;
        let latency = seconds(&slo.latency_p95).ok_or(slo.latency_p95.as_str())?;
        for record in &records {
            for (label, expected) in [
                ("availability_target", slo.availability),
                ("latency_target_seconds", latency),
                ("error_rate_target", slo.error_rate / 100.0),
            ] {
                let found = number(&record["labels"][label]);
                ensure(
                    found.is_some_and(|found| (found - expected).abs() < 1e-9),
                    format!("{service} ({}): {label} {expected}, found {found:?}", slo.name),
                )?;
            }
        }
        for kind in ["availability", "latency"] {
            ensure(
                rules.iter().any(|rule| {
                    rule.get("alert").is_some()
                        && text(&rule["labels"]["service"]) == *service
                        && text(&rule["labels"]["slo"]) == kind
                }),
                format!("{service}: a {kind} burn-rate alert"),
            )?;
        }
    }
    Ok(())
}

fn budgets(rendered: &Rendered, seed: &Seed) -> Result<(), String> {
    let rules = rules(rendered, "budgets.yml")?;
    for budget in &seed.budgets {
        let rule = rules
            .iter()
            .find(|rule| text(&rule["labels"]["budget"]) == budget.budget)
            .ok_or(format!("no budget {} ({})", budget.budget, budget.name))?;
        let expr = text(&rule["expr"]);
        let (operator, value) = promql::comparison(&expr).ok_or(format!("{}: no comparison", budget.budget))?;
        let seconds = budget.ms as f64 / 1000.0;
        ensure(
            operator == ">" && (value - seconds).abs() < 1e-9,
            format!("{}: {}ms, the rule says {operator} {value}s", budget.budget, budget.ms),
        )?;
    }
    Ok(())
}
