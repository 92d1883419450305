//! Tests of the rule files.

use std::cmp::Ordering;

use super::table::{CONTAINER_AS_SERVICE, per_service_alerts};
use super::*;
use crate::api::{BurnRateWindow, Duration, Environment, ServiceMonitorSpec, Severity};
use crate::render::fixtures::{machineavatars, minimal};
use crate::resolve::ResolvedMonitor;

fn alerts(stack: &ResolvedStack, file: &str) -> Vec<AlertingRule> {
    let files = rule_files(stack).unwrap();
    let groups = &files.get(file).unwrap_or_else(|| panic!("no {file}")).groups;
    groups
        .iter()
        .flat_map(|group| &group.rules)
        .filter_map(|rule| match rule {
            Rule::Alert(alert) => Some(alert.clone()),
            Rule::Record(_) => None,
        })
        .collect()
}

fn records(stack: &ResolvedStack, file: &str) -> Vec<RecordingRule> {
    let files = rule_files(stack).unwrap();
    let groups = &files.get(file).unwrap_or_else(|| panic!("no {file}")).groups;
    groups
        .iter()
        .flat_map(|group| &group.rules)
        .filter_map(|rule| match rule {
            Rule::Record(record) => Some(record.clone()),
            Rule::Alert(_) => None,
        })
        .collect()
}

/// The alerts of a name that apply to every service (no fixed `service` label).
fn general(stack: &ResolvedStack, file: &str, name: &str) -> AlertingRule {
    let matching: Vec<_> = alerts(stack, file)
        .into_iter()
        .filter(|alert| alert.alert == name && alert.labels.get("service").is_none_or(|s| s.starts_with("{{")))
        .collect();
    assert_eq!(matching.len(), 1, "exactly one general {name} in {file}");
    matching[0].clone()
}

fn names(stack: &ResolvedStack, file: &str) -> Vec<String> {
    alerts(stack, file).into_iter().map(|alert| alert.alert).collect()
}

fn monitor(name: &str, spec: serde_json::Value) -> ResolvedMonitor {
    let mut full = serde_json::json!({"selector": {}, "endpoints": [{"port": "http"}]});
    for (key, value) in spec.as_object().unwrap() {
        full[key] = value.clone();
    }
    let spec: ServiceMonitorSpec = serde_json::from_value(full).unwrap();
    ResolvedMonitor { namespace: "apps".to_owned(), name: name.to_owned(), spec: spec.into(), revision: None }
}

fn with_monitors(monitors: Vec<ResolvedMonitor>) -> ResolvedStack {
    let mut stack = minimal(Environment::Production);
    stack.monitors = monitors;
    stack
}

#[test]
fn golden_example() {
    assert_golden_snapshot!(render(&machineavatars()));
}

#[test]
fn one_config_map_carries_every_rule_file_as_parseable_yaml() {
    let objects = render(&machineavatars()).unwrap();
    assert_eq!(objects.len(), 1);
    let config_map = &objects[0];
    assert_eq!(config_map.types.as_ref().unwrap().kind, "ConfigMap");
    assert_eq!(config_map.metadata.name.as_deref(), Some("machineavatars-rules"));
    assert_eq!(config_map.metadata.namespace.as_deref(), Some("observability"));
    let data = config_map.data["data"].as_object().unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [APPLICATION_FILE, BUDGETS_FILE, BUSINESS_FILE, INFRASTRUCTURE_FILE, RED_FILE, SELF_MONITORING_FILE, SLO_FILE],
        "the contract's seven files"
    );
    for (file, text) in data {
        let parsed: serde_json::Value = serde_saphyr::from_str(text.as_str().unwrap()).unwrap();
        let groups = parsed["groups"].as_array().unwrap_or_else(|| panic!("{file} has groups"));
        assert!(!groups.is_empty(), "{file}");
        for group in groups {
            assert!(group["name"].as_str().is_some_and(|name| !name.is_empty()));
            assert!(!group["rules"].as_array().unwrap().is_empty(), "{file}: empty groups are left out");
        }
    }
}

#[test]
fn infrastructure_alerts_carry_the_seed_thresholds() {
    let stack = machineavatars();
    // (alert, comparison, for, severity, incident level, signal)
    let table = [
        ("HighCPU", "> 80", Some("5m"), "warning", "P2", "cpu"),
        ("CriticalCPU", "> 95", Some("2m"), "critical", "P1", "cpu"),
        ("HighMemory", "> 90", Some("5m"), "warning", "P2", "memory"),
        ("OutOfMemory", "> 98", None, "critical", "P1", "memory"),
        ("DiskFull", "> 85", None, "warning", "P2", "disk"),
        ("ContainerCrash", "[10m]))) > 3", None, "critical", "P1", "restarts"),
    ];
    assert_eq!(names(&stack, INFRASTRUCTURE_FILE), table.map(|row| row.0.to_owned()));
    for (name, comparison, for_duration, severity, level, signal) in table {
        let alert = general(&stack, INFRASTRUCTURE_FILE, name);
        assert!(alert.expr.ends_with(comparison), "{name}: {}", alert.expr);
        assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
        assert_eq!(alert.labels["severity"], severity, "{name}");
        assert_eq!(alert.labels["incident_level"], level, "{name}");
        assert_eq!(alert.labels["signal"], signal, "{name}");
    }
    let cpu = general(&stack, INFRASTRUCTURE_FILE, "HighCPU");
    for series in ["container_cpu_usage_seconds_total", "container_spec_cpu_quota", "container_spec_cpu_period"] {
        assert!(cpu.expr.contains(series), "{series}");
    }
    assert!(cpu.expr.starts_with("100 * "), "CPU in percent of the limit");
    assert_eq!(cpu.labels["service"], CONTAINER_AS_SERVICE, "warning and critical pair per container");
    let memory = general(&stack, INFRASTRUCTURE_FILE, "OutOfMemory").expr;
    assert!(
        memory.contains("container_memory_working_set_bytes") && memory.contains("container_spec_memory_limit_bytes")
    );
    let disk = general(&stack, INFRASTRUCTURE_FILE, "DiskFull").expr;
    assert!(disk.contains("kubelet_volume_stats_used_bytes") && disk.contains("kubelet_volume_stats_capacity_bytes"));
    let crash = general(&stack, INFRASTRUCTURE_FILE, "ContainerCrash").expr;
    assert!(crash.contains("increase(kube_pod_container_status_restarts_total[10m])"));
    assert!(crash.starts_with("floor("), "whole restarts, not extrapolated ones: {crash}");
}

#[test]
fn application_alerts_carry_the_seed_thresholds() {
    let stack = minimal(Environment::Production);
    let table = [
        ("HighErrorRate", "> 5", Some("5m"), "warning", "P2", "error_rate"),
        ("CriticalErrorRate", "> 20", Some("2m"), "critical", "P1", "error_rate"),
        ("HighLatency", "> 3", Some("5m"), "warning", "P2", "latency"),
        ("CriticalLatency", "> 10", Some("2m"), "critical", "P1", "latency"),
        ("NoRequests", "== 0", Some("5m"), "warning", "P2", "traffic"),
        ("DatabaseDown", "== 0", Some("1m"), "critical", "P0", "database"),
    ];
    assert_eq!(names(&stack, APPLICATION_FILE), table.map(|row| row.0.to_owned()));
    for (name, comparison, for_duration, severity, level, signal) in table {
        let alert = general(&stack, APPLICATION_FILE, name);
        assert!(alert.expr.ends_with(comparison), "{name}: {}", alert.expr);
        assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
        assert_eq!(alert.labels["severity"], severity, "{name}");
        assert_eq!(alert.labels["incident_level"], level, "{name}");
        assert_eq!(alert.labels["signal"], signal, "{name}");
    }
    assert_eq!(
        general(&stack, APPLICATION_FILE, "HighErrorRate").expr,
        "100 * sum by (service) (rate(http_requests_failed_total[5m])) / sum by (service) \
         (rate(http_requests_total[5m])) > 5"
    );
    assert_eq!(
        general(&stack, APPLICATION_FILE, "CriticalLatency").expr,
        "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m]))) > 10"
    );
    assert_eq!(
        general(&stack, APPLICATION_FILE, "NoRequests").expr,
        "sum by (service) (increase(http_requests_total[5m])) == 0"
    );
    // The targets of monitors marked as databases, and none until one is.
    assert_eq!(general(&stack, APPLICATION_FILE, "DatabaseDown").expr, r#"up{database!=""} == 0"#);
}

#[test]
fn overridable_alerts_are_the_ones_validation_accepts() {
    assert_eq!(per_service_alerts().collect::<Vec<_>>(), crate::validate::OVERRIDABLE_ALERTS);
}

#[test]
fn business_alerts_carry_the_seed_thresholds() {
    let stack = machineavatars();
    let table = [
        ("NoSignups", "sum(increase(user_signups_total[1h])) == 0", "warning", "P3", "signups", None),
        (
            "PaymentFailures",
            "100 * sum(rate(payments_failed_total[15m])) / sum(rate(payments_total[15m])) > 10",
            "critical",
            "P1",
            "payments",
            Some("5m"),
        ),
        (
            "HighChurn",
            "100 * sum(increase(subscriptions_cancelled_total[30d])) / sum(subscriptions_active) > 5",
            "warning",
            "P3",
            "churn",
            None,
        ),
    ];
    assert_eq!(names(&stack, BUSINESS_FILE), table.map(|row| row.0.to_owned()));
    for (name, expr, severity, level, signal, for_duration) in table {
        let alert = general(&stack, BUSINESS_FILE, name);
        assert_eq!(alert.expr, expr, "{name}");
        assert_eq!(alert.labels["severity"], severity, "{name}");
        assert_eq!(alert.labels["incident_level"], level, "{name}");
        assert_eq!(alert.labels["signal"], signal, "{name}");
        assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
    }
}

#[test]
fn thresholds_windows_and_durations_follow_the_spec() {
    let mut stack = minimal(Environment::Staging);
    let infra = &mut stack.spec.alerting.rules.infrastructure;
    infra.high_cpu.threshold = 85.5;
    infra.high_cpu.for_duration = Some(Duration::from("10m"));
    infra.high_cpu.window = Some(Duration::from("2m"));
    infra.out_of_memory.for_duration = Some(Duration::from("1m"));
    infra.container_crash.window = Some(Duration::from("15m"));
    infra.container_crash.threshold = 5.0;
    stack.spec.alerting.rules.application.critical_latency.threshold = 7.25;
    stack.spec.alerting.rules.business.no_signups.threshold = 2.0;
    stack.spec.metrics.business.signups = "signups_total".to_owned();
    stack.spec.alerting.rules.application.database_selector = Some(r#"{job="postgres"}"#.to_owned());

    let cpu = general(&stack, INFRASTRUCTURE_FILE, "HighCPU");
    assert!(cpu.expr.contains("[2m]") && cpu.expr.ends_with("> 85.5"), "{}", cpu.expr);
    assert_eq!(cpu.for_duration.as_deref(), Some("10m"));
    assert_eq!(general(&stack, INFRASTRUCTURE_FILE, "OutOfMemory").for_duration.as_deref(), Some("1m"));
    assert!(general(&stack, INFRASTRUCTURE_FILE, "ContainerCrash").expr.ends_with("[15m]))) > 5"));
    assert!(general(&stack, APPLICATION_FILE, "CriticalLatency").expr.ends_with("> 7.25"));
    assert_eq!(general(&stack, BUSINESS_FILE, "NoSignups").expr, "sum(increase(signups_total[1h])) <= 2");
    assert_eq!(
        general(&stack, APPLICATION_FILE, "DatabaseDown").expr,
        r#"up{database!=""} == 0 or up{job="postgres"} == 0"#
    );
}

#[test]
fn monitor_overrides_get_their_own_rule_and_leave_the_general_one() {
    let stack = machineavatars();
    let rules = alerts(&stack, APPLICATION_FILE);
    let high_error: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighErrorRate").collect();
    assert_eq!(high_error.len(), 2);
    assert!(high_error[0].expr.contains(r#"http_requests_failed_total{service!~"llm-service"}"#));
    assert!(high_error[0].expr.ends_with("> 5"));
    assert_eq!(high_error[1].labels["service"], "llm-service");
    assert!(high_error[1].expr.contains(r#"http_requests_failed_total{service="llm-service"}"#));
    assert!(high_error[1].expr.ends_with("> 7.5"), "errorRateWarning: 7.5");
    assert_eq!(high_error[1].labels["severity"], "warning");
    assert_eq!(high_error[1].for_duration.as_deref(), Some("5m"), "the override keeps the stack's for");

    let high_latency: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighLatency").collect();
    assert_eq!(high_latency.len(), 2);
    assert!(high_latency[0].expr.contains(r#"{service!~"llm-service"}"#) && high_latency[0].expr.ends_with("> 3"));
    assert!(high_latency[1].expr.contains(r#"{service="llm-service"}"#) && high_latency[1].expr.ends_with("> 4"));

    // Not overridden: one rule for every service.
    for name in ["CriticalErrorRate", "CriticalLatency", "NoRequests"] {
        let all: Vec<_> = rules.iter().filter(|alert| alert.alert == name).collect();
        assert_eq!(all.len(), 1, "{name}");
        assert!(!all[0].expr.contains("service=") && !all[0].expr.contains("service!~"), "{name}: {}", all[0].expr);
    }
}

#[test]
fn disabled_alerts_leave_the_service_out_without_a_rule_of_its_own() {
    let stack = with_monitors(vec![
        monitor(
            "api",
            serde_json::json!({"slo": {"service": "api.v2", "availability": 99.9, "latencyP95": "300ms", "errorRate": 1},
                "alerts": {"disabled": ["NoRequests", "HighLatency"], "latencyCritical": "15s"}}),
        ),
        monitor("batch", serde_json::json!({"alerts": {"disabled": ["NoRequests"], "errorRateCritical": 30}})),
        monitor("web", serde_json::json!({})),
    ]);
    let rules = alerts(&stack, APPLICATION_FILE);
    let of = |name: &str| rules.iter().filter(|alert| alert.alert == name).cloned().collect::<Vec<_>>();

    let no_requests = of("NoRequests");
    assert_eq!(no_requests.len(), 1);
    // `.` is escaped for RE2 and its backslash for the PromQL string.
    assert!(
        no_requests[0].expr.contains(r#"http_requests_total{service!~"api\\.v2|batch"}"#),
        "{}",
        no_requests[0].expr
    );

    let high_latency = of("HighLatency");
    assert_eq!(high_latency.len(), 1, "disabled, so no rule of its own");
    assert!(high_latency[0].expr.contains(r#"{service!~"api\\.v2"}"#));

    let critical_latency = of("CriticalLatency");
    assert_eq!(critical_latency.len(), 2);
    assert!(critical_latency[1].expr.contains(r#"{service="api.v2"}"#) && critical_latency[1].expr.ends_with("> 15"));

    let critical_errors = of("CriticalErrorRate");
    assert_eq!(critical_errors.len(), 2);
    assert!(critical_errors[0].expr.contains(r#"{service!~"batch"}"#));
    assert!(critical_errors[1].expr.contains(r#"{service="batch"}"#) && critical_errors[1].expr.ends_with("> 30"));
    assert_eq!(of("HighErrorRate").len(), 1);
}

#[test]
fn no_service_is_evaluated_twice_by_the_same_alert() {
    let stack = with_monitors(vec![
        monitor("a", serde_json::json!({"alerts": {"errorRateWarning": 10, "latencyWarning": "5s"}})),
        monitor("b", serde_json::json!({"alerts": {"errorRateWarning": 8, "disabled": ["HighLatency"]}})),
        // Same service label as `a` through its SLO: the first monitor wins, one rule only.
        monitor(
            "c",
            serde_json::json!({"slo": {"service": "a", "availability": 99, "latencyP95": "1s", "errorRate": 1},
            "alerts": {"errorRateWarning": 12}}),
        ),
    ]);
    let rules = alerts(&stack, APPLICATION_FILE);
    for name in per_service_alerts() {
        let of_name: Vec<_> = rules.iter().filter(|alert| alert.alert == name).collect();
        let general: Vec<_> = of_name.iter().filter(|alert| !alert.labels.contains_key("service")).collect();
        assert_eq!(general.len(), 1, "{name}");
        let mut own: Vec<&str> =
            of_name.iter().filter_map(|alert| alert.labels.get("service")).map(String::as_str).collect();
        let count = own.len();
        own.dedup();
        assert_eq!(own.len(), count, "{name}: one rule per service");
        for service in own {
            assert!(
                general[0].expr.contains("service!~\"") && general[0].expr.contains(service),
                "{name}: the general rule leaves {service} out: {}",
                general[0].expr
            );
        }
    }
    let high_error: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighErrorRate").collect();
    assert_eq!(high_error.len(), 3);
    assert!(high_error[1].expr.ends_with("> 10"), "monitor a, not c, sets service a");
}

#[test]
fn disabled_thresholds_render_no_rule_and_empty_files_are_left_out() {
    let mut stack = minimal(Environment::Production);
    let rules = &mut stack.spec.alerting.rules;
    rules.infrastructure.high_cpu.enabled = false;
    rules.application.database_down.enabled = false;
    rules.application.high_error_rate.enabled = false;
    rules.business.no_signups.enabled = false;
    rules.business.payment_failures.enabled = false;
    rules.business.high_churn.enabled = false;
    assert_eq!(
        names(&stack, INFRASTRUCTURE_FILE),
        ["CriticalCPU", "HighMemory", "OutOfMemory", "DiskFull", "ContainerCrash"]
    );
    assert_eq!(names(&stack, APPLICATION_FILE), ["CriticalErrorRate", "HighLatency", "CriticalLatency", "NoRequests"]);
    assert!(!rule_files(&stack).unwrap().contains_key(BUSINESS_FILE));
}

#[test]
fn without_alerting_only_records_remain() {
    let mut stack = machineavatars();
    stack.spec.alerting.enabled = false;
    let files = rule_files(&stack).unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), [RED_FILE, SLO_FILE]);
    for file in files.values() {
        for rule in file.groups.iter().flat_map(|group| &group.rules) {
            assert!(matches!(rule, Rule::Record(_)), "alerts need alerting.enabled");
        }
    }
    assert_eq!(records(&stack, SLO_FILE).len(), records(&machineavatars(), SLO_FILE).len());
}

#[test]
fn slo_and_budget_files_follow_their_toggles() {
    let mut stack = machineavatars();
    stack.spec.slos.enabled = false;
    let files = rule_files(&stack).unwrap();
    assert!(!files.contains_key(SLO_FILE) && !files.contains_key(BUDGETS_FILE));
    assert!(files.contains_key(RED_FILE) && files.contains_key(APPLICATION_FILE));

    let mut stack = machineavatars();
    stack.spec.tracing.enabled = false;
    let files = rule_files(&stack).unwrap();
    assert!(files.contains_key(SLO_FILE) && !files.contains_key(BUDGETS_FILE), "no span metrics without Jaeger");

    let mut stack = machineavatars();
    stack.spec.slos.budgets.clear();
    assert!(!rule_files(&stack).unwrap().contains_key(BUDGETS_FILE));

    // No monitor with an SLO: nothing to record.
    assert!(!rule_files(&minimal(Environment::Production)).unwrap().contains_key(SLO_FILE));
}

#[test]
fn red_records_use_the_configured_metric_names() {
    let stack = machineavatars();
    let red = records(&stack, RED_FILE);
    let table = [
        ("service:http_requests:rate5m", "sum by (service) (rate(http_requests_total[5m]))"),
        ("service:http_requests_failed:rate5m", "sum by (service) (rate(http_requests_failed_total[5m]))"),
        (
            "service:http_requests_failed_per_http_requests:ratio_rate5m",
            "sum by (service) (rate(http_requests_failed_total[5m])) / sum by (service) (rate(http_requests_total[5m]))",
        ),
        (
            "service:http_request_duration_seconds:p50_rate5m",
            "histogram_quantile(0.5, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        (
            "service:http_request_duration_seconds:p95_rate5m",
            "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        (
            "service:http_request_duration_seconds:p99_rate5m",
            "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
    ];
    assert_eq!(red.iter().map(|r| (r.record.as_str(), r.expr.as_str())).collect::<Vec<_>>(), table);

    let mut renamed = minimal(Environment::Development);
    renamed.spec.metrics.red.requests = "api_calls_total".to_owned();
    renamed.spec.metrics.red.failures = "api_errors".to_owned();
    renamed.spec.metrics.red.duration = "api_latency_seconds".to_owned();
    let red = records(&renamed, RED_FILE);
    assert_eq!(red[0].record, "service:api_calls:rate5m");
    assert_eq!(red[2].record, "service:api_errors_per_api_calls:ratio_rate5m");
    assert!(red[4].expr.contains("api_latency_seconds_bucket"));
}

#[test]
fn slo_math_for_each_seed_service() {
    let stack = machineavatars();
    // (service, availability, latency s, error rate ratio, availability budget, latency `le`)
    let table = [
        ("gateway", "99.95", "0.1", "0.005", "0.0005", "0.1"),
        ("auth-service", "99.9", "0.2", "0.01", "0.001", "0.2"),
        ("response-3d", "99.5", "3", "0.02", "0.005", "3.0"),
        ("response-text", "99.7", "1", "0.015", "0.003", "1.0"),
        ("llm-service", "99", "2", "0.05", "0.01", "2.0"),
    ];
    let records = records(&stack, SLO_FILE);
    let alerts = alerts(&stack, SLO_FILE);
    for (service, availability, latency, error_rate, budget, le) in table {
        let mine: Vec<_> = records.iter().filter(|record| record.labels["service"] == service).collect();
        assert_eq!(mine.len(), 2 * 9, "{service}: 8 windows + budget left, for availability and latency");
        for record in &mine {
            assert_eq!(record.labels["availability_target"], availability, "{service}");
            assert_eq!(record.labels["latency_target_seconds"], latency, "{service}");
            assert_eq!(record.labels["error_rate_target"], error_rate, "{service}");
        }
        let availability_1h = mine
            .iter()
            .find(|r| r.record == "slo:sli_error:ratio_rate1h" && r.labels["slo"] == "availability")
            .unwrap();
        assert_eq!(availability_1h.labels["error_budget"], budget);
        assert_eq!(
            availability_1h.expr,
            format!(
                "sum(rate(http_requests_failed_total{{service=\"{service}\"}}[1h])) / \
                 sum(rate(http_requests_total{{service=\"{service}\"}}[1h]))"
            )
        );
        let latency_1h =
            mine.iter().find(|r| r.record == "slo:sli_error:ratio_rate1h" && r.labels["slo"] == "latency").unwrap();
        assert_eq!(latency_1h.labels["error_budget"], "0.05");
        assert_eq!(
            latency_1h.expr,
            format!(
                "1 - sum(rate(http_request_duration_seconds_bucket{{service=\"{service}\", le=\"{le}\"}}[1h])) / \
                 sum(rate(http_request_duration_seconds_count{{service=\"{service}\"}}[1h]))"
            )
        );
        let remaining = mine
            .iter()
            .find(|r| r.record == "slo:error_budget_remaining:ratio" && r.labels["slo"] == "availability")
            .unwrap();
        assert_eq!(
            remaining.expr,
            format!("1 - slo:sli_error:ratio_rate30d{{service=\"{service}\", slo=\"availability\"}} / {budget}")
        );

        let page = alerts
            .iter()
            .find(|a| {
                a.alert == "AvailabilityErrorBudgetBurn"
                    && a.labels["service"] == service
                    && a.labels["severity"] == "critical"
            })
            .unwrap();
        let selector = format!("{{service=\"{service}\", slo=\"availability\"}}");
        assert_eq!(
            page.expr,
            format!(
                "(slo:sli_error:ratio_rate1h{selector} > (14.4 * {budget}) and slo:sli_error:ratio_rate5m{selector} > (14.4 * {budget})) \
                 or (slo:sli_error:ratio_rate6h{selector} > (6 * {budget}) and slo:sli_error:ratio_rate30m{selector} > (6 * {budget}))"
            )
        );
        assert_eq!(page.labels["incident_level"], "P1");
        assert_eq!(page.labels["signal"], "slo_burn");
        assert_eq!(page.for_duration, None, "the short window does the confirming");
        let ticket = alerts
            .iter()
            .find(|a| {
                a.alert == "AvailabilityErrorBudgetBurn"
                    && a.labels["service"] == service
                    && a.labels["severity"] == "warning"
            })
            .unwrap();
        assert!(ticket.expr.contains(&format!("ratio_rate1d{selector} > (3 * {budget})")));
        assert!(ticket.expr.contains(&format!("ratio_rate6h{selector} > (1 * {budget})")));
        assert_eq!(ticket.labels["incident_level"], "P2");
        let latency_page = alerts
            .iter()
            .find(|a| {
                a.alert == "LatencyErrorBudgetBurn"
                    && a.labels["service"] == service
                    && a.labels["severity"] == "critical"
            })
            .unwrap();
        assert!(latency_page.expr.contains("> (14.4 * 0.05)"));
        assert_eq!(latency_page.labels["signal"], "slo_latency_burn");
    }
    assert_eq!(alerts.len(), 5 * 2 * 2, "per service: availability and latency, critical and warning");
}

#[test]
fn a_stricter_error_rate_objective_sets_the_availability_budget() {
    let stack = with_monitors(vec![monitor(
        "api",
        serde_json::json!({"slo": {"availability": 99, "latencyP95": "1500ms", "errorRate": 0.25}}),
    )]);
    let records = records(&stack, SLO_FILE);
    let availability = records.iter().find(|r| r.labels["slo"] == "availability").unwrap();
    assert_eq!(availability.labels["service"], "api", "the monitor name when the SLO names no service");
    assert_eq!(availability.labels["error_budget"], "0.0025", "0.25% beats 1% unavailability");
    assert_eq!(availability.labels["latency_target_seconds"], "1.5");
    let latency = records.iter().find(|r| r.labels["slo"] == "latency").unwrap();
    assert!(latency.expr.contains(r#"le="1.5""#));
}

#[test]
fn burn_rate_windows_follow_the_spec() {
    let mut stack = with_monitors(vec![monitor(
        "api",
        serde_json::json!({"slo": {"availability": 99.9, "latencyP95": "1s", "errorRate": 1}}),
    )]);
    stack.spec.slos.period = Duration::from("28d");
    stack.spec.slos.burn_rate_windows = vec![BurnRateWindow {
        long: Duration::from("90m"),
        short: Duration::from("10m"),
        factor: 2.5,
        severity: Severity::Info,
    }];
    let windows: Vec<String> =
        records(&stack, SLO_FILE).into_iter().filter(|r| r.labels["slo"] == "availability").map(|r| r.record).collect();
    assert_eq!(
        windows,
        [
            "slo:sli_error:ratio_rate10m",
            "slo:sli_error:ratio_rate90m",
            "slo:sli_error:ratio_rate28d",
            "slo:error_budget_remaining:ratio"
        ]
    );
    let alerts = alerts(&stack, SLO_FILE);
    assert_eq!(alerts.len(), 2);
    assert_eq!(
        alerts[0].expr,
        r#"(slo:sli_error:ratio_rate90m{service="api", slo="availability"} > (2.5 * 0.001) and slo:sli_error:ratio_rate10m{service="api", slo="availability"} > (2.5 * 0.001))"#
    );
    assert_eq!(alerts[0].labels["severity"], "info");
    assert_eq!(alerts[0].labels["incident_level"], "P3");
}

#[test]
fn budgets_compare_the_span_p95_in_seconds() {
    let stack = machineavatars();
    let budgets = alerts(&stack, BUDGETS_FILE);
    let table = [
        ("gateway-routing", "0.05", r#"service_name="gateway", span_kind="SPAN_KIND_SERVER""#),
        ("database-query", "0.1", r#"db_system=~"mongodb|cosmosdb""#),
        ("milvus-search", "0.05", r#"db_system="milvus""#),
        ("llm-api-call", "2", r#"span_name=~"(?i).*llm.*""#),
        ("tts-generation", "0.5", r#"span_name=~"(?i).*tts.*""#),
        ("total", "3", r#"span_kind="SPAN_KIND_SERVER", service_name=~"gateway|response-3d|response-text""#),
    ];
    assert_eq!(budgets.len(), table.len());
    for (alert, (name, seconds, matchers)) in budgets.iter().zip(table) {
        assert_eq!(alert.alert, "PerformanceBudgetExceeded");
        assert_eq!(
            alert.expr,
            format!(
                "histogram_quantile(0.95, sum by (service_name, le) \
                 (rate(traces_span_metrics_duration_milliseconds_bucket{{{matchers}}}[5m]))) / 1000 > {seconds}"
            )
        );
        assert_eq!(alert.labels["budget"], name);
        assert_eq!(alert.labels["signal"], "budget");
        assert_eq!(alert.labels["severity"], "warning");
        assert_eq!(alert.labels["incident_level"], "P3");
        assert_eq!(alert.labels["service"], "{{ $labels.service_name }}");
        assert_eq!(alert.for_duration, None);
    }
}

#[test]
fn every_alert_carries_the_contract_labels_and_annotations() {
    let stack = machineavatars();
    let mut count = 0;
    let channels = regex::Regex::new(r"^(none|(email|slack|pagerduty)(,(slack|pagerduty))*)$").unwrap();
    for file in [INFRASTRUCTURE_FILE, APPLICATION_FILE, BUSINESS_FILE, SELF_MONITORING_FILE, SLO_FILE, BUDGETS_FILE] {
        for alert in alerts(&stack, file) {
            count += 1;
            let what = format!("{file}: {}", alert.alert);
            assert!(["info", "warning", "critical"].contains(&alert.labels["severity"].as_str()), "{what}");
            assert!(["P0", "P1", "P2", "P3"].contains(&alert.labels["incident_level"].as_str()), "{what}");
            let signal = &alert.labels["signal"];
            assert!(!signal.is_empty() && signal.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{what}");
            assert!(channels.is_match(&alert.labels[CHANNELS_LABEL]), "{what}: {}", alert.labels[CHANNELS_LABEL]);
            if alert.alert == table::WATCHDOG {
                continue;
            }
            // Business alerts are over the whole platform: no labels to name.
            let summary = &alert.annotations["summary"];
            assert!(file == BUSINESS_FILE || summary.contains("{{ $labels."), "{what}: summary names what");
            let description = &alert.annotations["description"];
            assert!(description.contains("$value") || description.contains("$labels"), "{what}: templated");
            assert!(!description.contains("{{{") && !description.contains("}}}"), "{what}: {description}");
        }
    }
    assert_eq!(count, 6 + 8 + 3 + 7 + 20 + 6);
}

#[test]
fn every_row_of_the_alert_tables_renders_with_its_placeholders_filled() {
    let mut stack = machineavatars();
    let rules = &mut stack.spec.alerting.rules;
    rules.business.payment_failures.window = None;
    let mut rendered = Vec::new();
    for file in [INFRASTRUCTURE_FILE, APPLICATION_FILE, BUSINESS_FILE, SELF_MONITORING_FILE] {
        rendered.extend(alerts(&stack, file));
    }
    for row in &table::ALERTS {
        let alert = rendered.iter().find(|alert| alert.alert == row.name).unwrap_or_else(|| panic!("{}", row.name));
        let texts = [&alert.expr, &alert.annotations["summary"], &alert.annotations["description"]];
        assert!(texts.iter().all(|text| !text.contains("${")), "{}: {texts:?}", row.name);
    }
    let payments = general(&stack, BUSINESS_FILE, "PaymentFailures");
    assert!(payments.expr.contains("[5m]"), "the row's window without the threshold's: {}", payments.expr);
}

#[test]
fn an_unknown_placeholder_is_named() {
    let value_of = |name: &str| (name == "value").then_some(std::borrow::Cow::Borrowed("5"));
    assert_eq!(alerts::fill("> ${value} in {{ $labels.job }}", value_of).as_deref(), Ok("> 5 in {{ $labels.job }}"));
    assert_eq!(alerts::fill("> ${value} over ${window}", value_of), Err("window"));
    assert_eq!(alerts::fill("> ${value", value_of), Err("value"));
}

#[test]
fn expressions_are_balanced_and_numbers_have_no_float_noise() {
    let stack = machineavatars();
    for file in rule_files(&stack).unwrap().values() {
        for rule in file.groups.iter().flat_map(|group| &group.rules) {
            let expr = match rule {
                Rule::Record(record) => &record.expr,
                Rule::Alert(alert) => &alert.expr,
            };
            for (open, close) in [('(', ')'), ('{', '}'), ('[', ']')] {
                let mut depth = 0i32;
                for character in expr.chars() {
                    depth += i32::from(character == open) - i32::from(character == close);
                    assert!(depth >= 0, "{expr}");
                }
                assert_eq!(depth, 0, "{expr}");
            }
            assert_eq!(expr.matches('"').count() % 2, 0, "{expr}");
            assert!(!expr.contains(".0 ") && !expr.ends_with(".0") && !expr.contains("0000000"), "{expr}");
        }
    }
}

#[test]
fn rendering_is_deterministic_and_independent_of_monitor_order() {
    let stack = machineavatars();
    let first = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
    let second = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
    assert_eq!(first, second);
    let mut reversed = stack.clone();
    reversed.monitors.reverse();
    assert_eq!(crate::render::objects_to_yaml(&render(&reversed).unwrap()).unwrap(), first);
}

#[test]
fn invalid_numbers_are_errors_naming_the_field() {
    let mut stack = minimal(Environment::Production);
    stack.spec.alerting.rules.infrastructure.disk_full.threshold = f64::NAN;
    let error = rule_files(&stack).unwrap_err().to_string();
    assert!(error.contains("spec.alerting.rules.infrastructure.diskFull.threshold"), "{error}");

    let stack = with_monitors(vec![monitor(
        "api",
        serde_json::json!({"slo": {"availability": 100, "latencyP95": "1s", "errorRate": 1}}),
    )]);
    let error = rule_files(&stack).unwrap_err().to_string();
    assert!(error.contains("ServiceMonitor apps/api: spec.slo.availability"), "{error}");
}

#[test]
fn decimals_print_exactly() {
    let decimal = |value: f64| Decimal::from_f64(value).unwrap();
    assert_eq!(decimal(80.0).to_string(), "80");
    assert_eq!(decimal(0.0).to_string(), "0");
    assert_eq!(decimal(7.5).to_string(), "7.5");
    assert_eq!(decimal(99.0).to_string(), "99");
    assert_eq!(decimal(1e9).to_string(), "1000000000");
    assert_eq!(decimal(0.0001).to_string(), "0.0001");
    // Percent → ratio without float noise (0.5 / 100 in f64 is 0.005, 1.5 / 100 is 0.015000000000000001).
    assert_eq!(decimal(0.5).shift(2).to_string(), "0.005");
    assert_eq!(decimal(1.5).shift(2).to_string(), "0.015");
    assert_eq!(decimal(5.0).shift(2).to_string(), "0.05");
    // Availability → error budget (1 - 0.9995 in f64 is 0.0004999999999999449).
    for (availability, budget) in
        [(99.95, "0.0005"), (99.9, "0.001"), (99.5, "0.005"), (99.7, "0.003"), (99.0, "0.01"), (99.9999, "0.000001")]
    {
        let rest = Decimal::new(100, 0).checked_sub(decimal(availability)).unwrap().shift(2);
        assert_eq!(rest.to_string(), budget, "{availability}");
    }
    assert_eq!(Decimal::from_millis(50).to_string(), "0.05");
    assert_eq!(Decimal::from_millis(2000).to_string(), "2");
    assert_eq!(Decimal::from_millis(1500).to_string(), "1.5");
    assert_eq!(Decimal::from_millis(0).to_string(), "0");
    assert_eq!(decimal(0.5).checked_cmp(decimal(0.25)), Some(Ordering::Greater));
    assert_eq!(decimal(2.0).checked_sub(decimal(2.5)), None);
    assert_eq!(Decimal::parse("007.500"), Some(decimal(7.5)));
    for bad in ["", ".5", "1e5", "-1", "1.2.3", "x"] {
        assert_eq!(Decimal::parse(bad), None, "{bad:?}");
    }
    assert_eq!(Decimal::from_f64(f64::INFINITY), None);
    assert_eq!(Decimal::from_f64(-1.0), None);
}

#[test]
fn le_values_are_written_as_prometheus_3_stores_them() {
    // Go's strconv.FormatFloat(f, 'g', -1, 64), plus ".0" for whole numbers.
    for (millis, le) in [
        (100, "0.1"),
        (3000, "3.0"),
        (1000, "1.0"),
        (250, "0.25"),
        (1, "0.001"),
        (100_000_000, "100000.0"),
        (1_000_000_000, "1e+06"),
        (1_500_000_000, "1.5e+06"),
        (0, "0.0"),
    ] {
        assert_eq!(Decimal::from_millis(millis).openmetrics(), le, "{millis}ms");
    }
    assert_eq!(Decimal::parse("0.00001").unwrap().openmetrics(), "1e-05");
    assert_eq!(Decimal::parse("0.0001").unwrap().openmetrics(), "0.0001");
}

/// The `channels` label of the general rule of an alert.
fn channels_of(stack: &ResolvedStack, file: &str, name: &str) -> String {
    general(stack, file, name).labels[CHANNELS_LABEL].clone()
}

#[test]
fn alerts_carry_the_channels_of_the_documents_column_or_their_own() {
    use crate::api::{Channel, ChannelPolicy};
    let stack = machineavatars();
    assert_eq!(channels_of(&stack, INFRASTRUCTURE_FILE, "HighCPU"), "email");
    assert_eq!(channels_of(&stack, INFRASTRUCTURE_FILE, "OutOfMemory"), "email,slack,pagerduty");
    assert_eq!(channels_of(&stack, INFRASTRUCTURE_FILE, "ContainerCrash"), "slack,pagerduty");
    assert_eq!(channels_of(&stack, APPLICATION_FILE, "CriticalLatency"), "slack");
    // Alerts the document's tables do not list follow the severity policy.
    assert_eq!(channels_of(&stack, SELF_MONITORING_FILE, "ThanosCompactionHalted"), "email,slack");
    assert_eq!(channels_of(&stack, SELF_MONITORING_FILE, "PrometheusRuleEvaluationFailures"), "email,slack,pagerduty");
    assert_eq!(channels_of(&stack, SELF_MONITORING_FILE, table::WATCHDOG), NO_CHANNEL);
    assert!(alerts(&stack, BUDGETS_FILE).iter().all(|alert| alert.labels[CHANNELS_LABEL] == "email,slack"));

    // An alert's own channels win, in the document's order and once each.
    let mut own = stack.clone();
    own.spec.alerting.rules.infrastructure.high_cpu.channels =
        Some(vec![Channel::Pagerduty, Channel::Email, Channel::Pagerduty]);
    own.spec.alerting.rules.business.payment_failures.channels = Some(Vec::new());
    assert_eq!(channels_of(&own, INFRASTRUCTURE_FILE, "HighCPU"), "email,pagerduty");
    assert_eq!(channels_of(&own, BUSINESS_FILE, "PaymentFailures"), NO_CHANNEL);

    // The general policy: by severity, except where an alert names its own.
    let mut by_severity = own;
    by_severity.spec.alerting.routing.channel_policy = ChannelPolicy::BySeverity;
    assert_eq!(channels_of(&by_severity, INFRASTRUCTURE_FILE, "HighMemory"), "email,slack");
    assert_eq!(channels_of(&by_severity, INFRASTRUCTURE_FILE, "CriticalCPU"), "email,slack,pagerduty");
    assert_eq!(channels_of(&by_severity, INFRASTRUCTURE_FILE, "HighCPU"), "email,pagerduty");
    assert_eq!(channels_of(&by_severity, SELF_MONITORING_FILE, table::WATCHDOG), NO_CHANNEL);
}

#[test]
fn a_monitor_with_its_own_channels_gets_its_own_rule() {
    let stack = with_monitors(vec![
        monitor("llm", serde_json::json!({"alerts": {"channels": {"CriticalLatency": ["slack", "pagerduty"]}}})),
        monitor(
            "auth",
            serde_json::json!({"alerts": {"latencyCritical": "6s", "channels": {"CriticalLatency": ["email"]}}}),
        ),
        monitor("gateway", serde_json::json!({"alerts": {"latencyCritical": "8s"}})),
    ]);
    let latency: Vec<_> =
        alerts(&stack, APPLICATION_FILE).into_iter().filter(|alert| alert.alert == "CriticalLatency").collect();
    let by_service: Vec<(Option<&str>, &str, bool)> = latency
        .iter()
        .map(|alert| {
            (
                alert.labels.get("service").map(String::as_str),
                alert.labels[CHANNELS_LABEL].as_str(),
                alert.expr.ends_with("> 10"),
            )
        })
        .collect();
    assert_eq!(
        by_service,
        [
            (None, "slack", true),
            (Some("auth"), "email", false),
            (Some("gateway"), "slack", false),
            (Some("llm"), "slack,pagerduty", true),
        ]
    );
    assert!(latency[0].expr.contains(r#"service!~"auth|gateway|llm""#), "{}", latency[0].expr);
}

#[test]
fn self_monitoring_alerts_render_with_what_they_watch() {
    let mut stack = machineavatars();
    assert_eq!(
        names(&stack, SELF_MONITORING_FILE),
        [
            "Watchdog",
            "PrometheusConfigReloadFailed",
            "PrometheusRuleEvaluationFailures",
            "AlertmanagerConfigReloadFailed",
            "AlertmanagerNotificationsFailing",
            "ThanosCompactionHalted",
            "LokiIngestionRefused",
        ]
    );
    let watchdog = general(&stack, SELF_MONITORING_FILE, table::WATCHDOG);
    assert_eq!((watchdog.expr.as_str(), watchdog.for_duration.as_deref()), ("vector(1)", None));
    let notifications = general(&stack, SELF_MONITORING_FILE, "AlertmanagerNotificationsFailing");
    assert!(notifications.expr.contains("alertmanager_notifications_failed_total[5m]"), "{}", notifications.expr);
    assert!(notifications.expr.ends_with("> 1"), "{}", notifications.expr);

    stack.spec.logging.enabled = false;
    stack.spec.metrics.downsampling.enabled = false;
    stack.spec.alerting.rules.self_monitoring.watchdog.enabled = false;
    let names = names(&stack, SELF_MONITORING_FILE);
    assert_eq!(
        names,
        [
            "PrometheusConfigReloadFailed",
            "PrometheusRuleEvaluationFailures",
            "AlertmanagerConfigReloadFailed",
            "AlertmanagerNotificationsFailing",
        ],
        "no Loki, no compactor: no alerts on them"
    );
}

#[test]
fn database_down_reads_the_database_monitors_targets_and_their_exporters_gauges() {
    let mut stack = crate::render::fixtures::machineavatars();
    stack.monitors[0].spec.database =
        Some(crate::api::DatabaseTarget { system: "mongodb".to_owned(), up_metric: Some("mongodb_up".to_owned()) });
    stack.monitors[1].spec.database =
        Some(crate::api::DatabaseTarget { system: "cosmos.db".to_owned(), up_metric: Some("mongodb_up".to_owned()) });
    stack.monitors[2].spec.database = Some(crate::api::DatabaseTarget { system: "milvus".to_owned(), up_metric: None });
    assert_eq!(
        general(&stack, APPLICATION_FILE, "DatabaseDown").expr,
        r#"up{database!=""} == 0 or mongodb_up{database=~"cosmos\\.db|mongodb"} == 0"#
    );
}

#[test]
fn the_latency_sli_reads_the_slos_bucket_or_the_native_histogram_at_the_target() {
    let latency_5m = |stack: &ResolvedStack, service: &str| {
        records(stack, SLO_FILE)
            .into_iter()
            .find(|record| {
                record.record == "slo:sli_error:ratio_rate5m"
                    && record.labels.get("service").map(String::as_str) == Some(service)
                    && record.labels.get("slo").map(String::as_str) == Some("latency")
            })
            .unwrap_or_else(|| panic!("no latency SLI of {service}"))
            .expr
    };
    let mut stack = machineavatars();
    assert_eq!(
        latency_5m(&stack, "auth-service"),
        "1 - sum(rate(http_request_duration_seconds_bucket{service=\"auth-service\", le=\"0.2\"}[5m])) \
         / sum(rate(http_request_duration_seconds_count{service=\"auth-service\"}[5m]))"
    );
    let auth = stack.monitors.iter_mut().find(|monitor| monitor.name == "auth-service").unwrap();
    if let Some(slo) = auth.spec.slo.as_mut() {
        slo.latency_bucket = Some(0.25);
    }
    assert!(latency_5m(&stack, "auth-service").contains("le=\"0.25\""));
    // The example's histograms are native too: with the stack ingesting them, any threshold works.
    stack.spec.metrics.prometheus.native_histograms = true;
    assert_eq!(
        latency_5m(&stack, "auth-service"),
        "1 - histogram_fraction(0, 0.2, sum(rate(http_request_duration_seconds{service=\"auth-service\"}[5m])))"
    );
}
