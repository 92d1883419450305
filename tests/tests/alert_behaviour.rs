//! Alert behaviour, judged by the pinned promtool: `promtool test rules` suites generated from the
//! spec (`stackscope_tests::rule_tests`) run against the rendered rule files. Every alert of the
//! seed's three tables, the monitors' overrides, the SLO burn-rate alerts and the performance
//! budgets must fire just above their thresholds once their `for` has elapsed, with exactly the
//! labels the spec gives them, and stay silent just below. The suites must also fail when the
//! rules disagree with the spec they were generated from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackscope::api::{BurnRateWindow, Duration, IncidentLevel, Severity};
use stackscope::render::Component;
use stackscope::resolve::ResolvedStack;
use stackscope_tests::rule_tests::{self, Labels, Suite};
use stackscope_tests::{Rendered, tools};

fn promtool() -> PathBuf {
    tools::binary("prometheus", "promtool").unwrap_or_else(|error| panic!("promtool: {error}"))
}

fn example() -> Rendered {
    Rendered::example().unwrap_or_else(|error| panic!("the example does not render: {error}"))
}

/// The rule files of a render, annotations left out, in a fresh directory.
fn rules_dir(variant: &str, rendered: &Rendered) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{variant}: temporary directory: {error}"));
    for file in rendered.file_names(Component::Rules) {
        let text = rendered.file(Component::Rules, &file).unwrap_or_else(|error| panic!("{variant}: {error}"));
        let stripped =
            rule_tests::without_annotations(text).unwrap_or_else(|error| panic!("{variant}: {file}: {error}"));
        std::fs::write(dir.path().join(&file), stripped).unwrap_or_else(|error| panic!("{variant}: {file}: {error}"));
    }
    dir
}

/// Runs the suites side by side, one promtool each; failures name the variant, the test file and
/// what promtool said.
fn run_suites(variant: &str, dir: &Path, suites: &[Suite]) -> Vec<String> {
    let promtool = promtool();
    std::thread::scope(|scope| {
        let runs: Vec<_> = suites
            .iter()
            .map(|suite| {
                let promtool = &promtool;
                scope.spawn(move || (suite.file_name(), rule_tests::run(promtool, dir, suite)))
            })
            .collect();
        runs.into_iter()
            .filter_map(|run| match run.join() {
                Ok((_, Ok(()))) => None,
                Ok((file, Err(said))) => Some(format!("{variant}: {file}: promtool test rules failed:\n{said}")),
                Err(_) => Some(format!("{variant}: a promtool run panicked")),
            })
            .collect()
    })
}

/// Generates the suites of `stack`, runs them on `rendered`'s rules and panics with every
/// failure; keeps the files for inspection when something fails.
fn assert_behaves(variant: &str, stack: &ResolvedStack, rendered: &Rendered) -> Vec<Suite> {
    let suites = rule_tests::suites(stack);
    let dir = rules_dir(variant, rendered);
    let failures = run_suites(variant, dir.path(), &suites);
    if !failures.is_empty() {
        let kept = dir.keep();
        panic!("{}\n(test and rule files kept in {})", failures.join("\n\n"), kept.display());
    }
    suites
}

#[test]
fn every_alert_of_the_example_fires_at_its_threshold_and_not_below() {
    let rendered = example();
    let suites = assert_behaves("example", &rendered.stack, &rendered);
    let names: Vec<String> = suites.iter().map(|suite| suite.name.clone()).collect();
    for expected in ["infrastructure", "application", "business", "business-churn", "self-monitoring", "budgets"] {
        assert!(names.contains(&expected.to_owned()), "no {expected} suite in {names:?}");
    }
    for pair in ["slo-1h-5m", "slo-6h-30m", "slo-1d-2h", "slo-3d-6h"] {
        assert!(names.contains(&pair.to_owned()), "no suite for the burn-rate pair {pair} in {names:?}");
    }
}

/// Every alerting rule the renderer wrote is modelled by the generator (so none goes unjudged),
/// and every modelled rule is expected to fire somewhere and to be silent somewhere.
fn assert_judges_every_alert(variant: &str, suites: &[Suite], rendered: &Rendered) {
    let mut modelled: BTreeMap<String, Vec<(String, Labels)>> = BTreeMap::new();
    for suite in suites {
        for file in &suite.rule_files {
            let entry = modelled.entry(file.clone()).or_default();
            for rule in &suite.modelled {
                if !entry.contains(rule) {
                    entry.push(rule.clone());
                }
            }
        }
    }
    for file in rendered.file_names(Component::Rules) {
        let parsed = rendered.yaml(Component::Rules, &file).unwrap_or_else(|error| panic!("{variant}: {error}"));
        let mut rules: Vec<(String, Labels)> = Vec::new();
        for group in parsed["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let Some(alert) = rule.get("alert").and_then(serde_json::Value::as_str) else { continue };
                let labels = rule["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(name, value)| value.as_str().map(|value| (name.clone(), value.to_owned())))
                    .filter(|(_, value)| !value.contains("{{"))
                    .collect();
                rules.push((alert.to_owned(), labels));
            }
        }
        let mut expected = modelled.get(&file).cloned().unwrap_or_default();
        rules.sort();
        expected.sort();
        assert_eq!(
            rules, expected,
            "{variant}: {file}: rendered alerting rules (left) and modelled ones (right) differ"
        );
    }
    let checks: Vec<_> = suites.iter().flat_map(|suite| suite.groups.iter().flat_map(|group| &group.checks)).collect();
    for suite in suites {
        let (firing, silent) = suite.counts();
        assert!(
            firing > 0 && silent > 0,
            "{variant}: {}: {firing} checks expect alerts, {silent} none",
            suite.file_name()
        );
        for (alert, labels) in &suite.modelled {
            let fires = checks.iter().any(|check| {
                &check.alertname == alert
                    && check
                        .firing
                        .iter()
                        .any(|firing| labels.iter().all(|(name, value)| firing.get(name) == Some(value)))
            });
            assert!(fires, "{variant}: {}: {alert} {labels:?} is never expected to fire", suite.file_name());
        }
    }
}

#[test]
fn the_suites_judge_every_rendered_alert() {
    let rendered = example();
    assert_judges_every_alert("example", &rule_tests::suites(&rendered.stack), &rendered);
}

/// A stack whose thresholds, durations, windows, severities, metric names, burn-rate pairs and
/// budgets differ from the seed's: the generated expectations move with the spec, and the rules still
/// agree with them.
#[test]
fn a_retuned_stack_moves_the_expectations_with_it() {
    let mut rendered = example();
    let stack = &mut rendered.stack;
    let rules = &mut stack.spec.alerting.rules;
    let infra = &mut rules.infrastructure;
    infra.high_cpu.threshold = 70.0;
    infra.high_cpu.for_duration = Some(Duration::from("3m"));
    infra.high_cpu.window = Some(Duration::from("2m"));
    infra.critical_cpu.threshold = 90.0;
    infra.critical_cpu.severity = Severity::Warning;
    infra.critical_cpu.incident_level = IncidentLevel::P2;
    infra.high_memory.enabled = false;
    infra.out_of_memory.for_duration = Some(Duration::from("1m"));
    infra.disk_full.threshold = 75.5;
    infra.container_crash.threshold = 5.0;
    infra.container_crash.window = Some(Duration::from("15m"));
    let application = &mut rules.application;
    application.high_error_rate.threshold = 2.5;
    application.critical_error_rate.for_duration = None;
    application.high_latency.threshold = 1.5;
    application.high_latency.window = Some(Duration::from("10m"));
    application.no_requests.for_duration = Some(Duration::from("10m"));
    application.database_down.severity = Severity::Warning;
    application.database_selector = Some(r#"{job=~"mongodb|postgresql"}"#.to_owned());
    let business = &mut rules.business;
    business.no_signups.window = Some(Duration::from("2h"));
    business.payment_failures.threshold = 3.0;
    business.payment_failures.window = Some(Duration::from("10m"));
    business.high_churn.threshold = 2.0;
    business.high_churn.window = Some(Duration::from("7d"));
    stack.spec.metrics.red.requests = "api_requests_total".to_owned();
    stack.spec.metrics.red.duration = "api_request_duration_seconds".to_owned();
    stack.spec.metrics.business.signups = "accounts_created_total".to_owned();
    stack.spec.slos.burn_rate_windows = vec![
        BurnRateWindow {
            long: Duration::from("2h"),
            short: Duration::from("10m"),
            factor: 10.0,
            severity: Severity::Critical,
        },
        BurnRateWindow {
            long: Duration::from("12h"),
            short: Duration::from("1h"),
            factor: 2.0,
            severity: Severity::Info,
        },
    ];
    stack.spec.slos.budgets.truncate(3);
    stack.spec.slos.budgets[0].threshold_ms = 80;
    // The llm-service monitor disables NoRequests and retunes the critical latency.
    for monitor in &mut stack.monitors {
        if let Some(alerts) = &mut monitor.spec.alerts {
            alerts.disabled = vec!["NoRequests".to_owned()];
            alerts.latency_critical = Some("6s".into());
        }
    }
    let stack = rendered.stack.clone();
    let rendered =
        Rendered::of(stack.clone()).unwrap_or_else(|error| panic!("the retuned stack does not render: {error}"));
    let suites = assert_behaves("retuned", &stack, &rendered);
    assert_judges_every_alert("retuned", &suites, &rendered);
}

/// A rendered rule file that disagrees with the spec the suites come from — a threshold, a `for`,
/// a severity, an override, a burn factor or a budget changed behind the generator's back, or the
/// extrapolated restart count the renderer once used — makes promtool fail, naming the alert.
#[test]
fn rules_that_disagree_with_the_spec_fail_the_suites() {
    let rendered = example();
    let stack = &rendered.stack;
    type Mutation = (&'static str, &'static str, fn(&mut ResolvedStack));
    let mutations: [Mutation; 8] = [
        ("HighCPU threshold 80 → 78", "HighCPU", |stack| {
            stack.spec.alerting.rules.infrastructure.high_cpu.threshold = 78.0
        }),
        ("CriticalCPU for 2m → 3m", "CriticalCPU", |stack| {
            stack.spec.alerting.rules.infrastructure.critical_cpu.for_duration = Some(Duration::from("3m"));
        }),
        ("DatabaseDown severity critical → warning", "DatabaseDown", |stack| {
            stack.spec.alerting.rules.application.database_down.severity = Severity::Warning;
        }),
        ("llm-service overrides dropped", "HighErrorRate", |stack| {
            for monitor in &mut stack.monitors {
                monitor.spec.alerts = None;
            }
        }),
        ("fast burn factor 14.4 → 15", "AvailabilityErrorBudgetBurn", |stack| {
            stack.spec.slos.burn_rate_windows[0].factor = 15.0;
        }),
        ("gateway-routing budget 50ms → 60ms", "PerformanceBudgetExceeded", |stack| {
            stack.spec.slos.budgets[0].threshold_ms = 60;
        }),
        ("HighMemory to Slack besides the document's email", "HighMemory", |stack| {
            stack.spec.alerting.rules.infrastructure.high_memory.channels =
                Some(vec![stackscope::api::Channel::Email, stackscope::api::Channel::Slack]);
        }),
        ("notifications failing 1% → 3%", "AlertmanagerNotificationsFailing", |stack| {
            stack.spec.alerting.rules.self_monitoring.notifications_failing.threshold = 3.0;
        }),
    ];
    let suites = rule_tests::suites(stack);
    let mut cases: Vec<(String, &str, tempfile::TempDir)> = Vec::new();
    for (what, alert, mutate) in mutations {
        let mut broken = stack.clone();
        mutate(&mut broken);
        let broken = Rendered::of(broken).unwrap_or_else(|error| panic!("{what}: does not render: {error}"));
        cases.push((what.to_owned(), alert, rules_dir(what, &broken)));
    }
    // The restart count as `increase` alone extrapolates 3 restarts in 10 minutes to 3.33.
    let extrapolated = rules_dir("extrapolated restarts", &rendered);
    let file = extrapolated.path().join("infrastructure.yml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    let floor = "floor(sum by (namespace, pod, container) (increase(";
    assert!(text.contains(floor), "infrastructure.yml: ContainerCrash no longer counts whole restarts");
    let unfloored = text.replace(floor, "(sum by (namespace, pod, container) (increase(");
    std::fs::write(&file, unfloored).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    cases.push(("ContainerCrash on extrapolated restarts".to_owned(), "ContainerCrash", extrapolated));
    // Each self-monitoring alert is judged on the name its component exports: a rule on another
    // name (Loki 2's `loki_discarded_lines_total`, say) never fires.
    for (alert, real, other) in [
        ("LokiIngestionRefused", "loki_discarded_samples_total", "loki_discarded_lines_total"),
        ("ThanosCompactionHalted", "thanos_compact_halted", "thanos_compactor_halted"),
        (
            "AlertmanagerNotificationsFailing",
            "alertmanager_notifications_failed_total",
            "alertmanager_alerts_invalid_total",
        ),
        (
            "PrometheusRuleEvaluationFailures",
            "prometheus_rule_evaluation_failures_total",
            "prometheus_rule_group_failures_total",
        ),
        ("PrometheusConfigReloadFailed", "prometheus_config_last_reload_successful", "prometheus_config_reload_ok"),
        ("AlertmanagerConfigReloadFailed", "alertmanager_config_last_reload_successful", "alertmanager_config_ok"),
    ] {
        let renamed = rules_dir(alert, &rendered);
        let file = renamed.path().join("self-monitoring.yml");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        assert!(text.contains(real), "self-monitoring.yml: {alert} no longer reads {real}");
        std::fs::write(&file, text.replace(real, other)).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        cases.push((format!("{alert} on {other} instead of {real}"), alert, renamed));
    }

    let promtool = promtool();
    // Each case runs the suites that judge its alert; it is caught when one of them fails and
    // promtool's report names the alert.
    let problems: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(what, alert, dir)| {
                let (promtool, suites) = (&promtool, &suites);
                scope.spawn(move || {
                    let judging: Vec<&Suite> =
                        suites.iter().filter(|suite| suite.modelled.iter().any(|(name, _)| name == alert)).collect();
                    let said: Vec<String> =
                        judging.iter().filter_map(|suite| rule_tests::run(promtool, dir.path(), suite).err()).collect();
                    let files: Vec<String> = judging.iter().map(|suite| suite.file_name()).collect();
                    if said.is_empty() {
                        Some(format!("{what}: {files:?} all passed"))
                    } else if !said.iter().any(|said| said.contains(&format!("alertname: {alert},"))) {
                        Some(format!("{what}: {files:?} failed without naming {alert}:\n{}", said[0]))
                    } else {
                        None
                    }
                })
            })
            .collect();
        runs.into_iter()
            .filter_map(|run| run.join().unwrap_or_else(|_| Some("a promtool run panicked".to_owned())))
            .collect()
    });
    assert!(problems.is_empty(), "broken rules not caught:\n{}", problems.join("\n"));
}
