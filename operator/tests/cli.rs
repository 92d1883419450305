//! The offline CLI as users run it: good input renders, bad input is refused with exit code 1
//! and a message naming the file, document, object and field — and nothing is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const STACKSCOPE: &str = env!("CARGO_BIN_EXE_stackscope");

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/machineavatars")
}

fn run(args: &[&str]) -> Output {
    Command::new(STACKSCOPE).args(args).output().expect("stackscope runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const MONITOR_HEAD: &str =
    "apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nmetadata:\n  name: api\n  namespace: apps\n";
const STACK_HEAD: &str =
    "apiVersion: stackscope.dev/v1alpha1\nkind: ObservabilityStack\nmetadata:\n  name: shop\n  namespace: apps\n";

/// Bad manifests, each with the words its refusal must contain.
fn bad_inputs() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let monitor = |spec: &str| format!("{MONITOR_HEAD}spec:\n{spec}");
    let stack = |spec: &str| format!("{STACK_HEAD}spec:\n{spec}");
    let endpoint = |extra: &str| {
        monitor(&format!("  selector: {{matchLabels: {{app: api}}}}\n  endpoints:\n    - port: http\n{extra}"))
    };
    vec![
        (
            "unclosed bracket",
            "apiVersion: [stackscope.dev/v1alpha1\nkind: ServiceMonitor\n".to_owned(),
            vec!["invalid YAML", "line"],
        ),
        (
            "unknown kind",
            "apiVersion: stackscope.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: x}\n".to_owned(),
            vec!["document 1", "\"Dashboard\" is not a stackscope kind"],
        ),
        (
            "prometheus-operator apiVersion",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\n".to_owned(),
            vec!["\"monitoring.coreos.com/v1\" is not served"],
        ),
        (
            "missing kind",
            "apiVersion: stackscope.dev/v1alpha1\nmetadata: {name: x}\n".to_owned(),
            vec!["kind is missing"],
        ),
        (
            "bad duration",
            endpoint("      interval: 5 minutes\n"),
            vec!["ServiceMonitor apps/api", "spec.endpoints[0].interval", "invalid value \"5 minutes\""],
        ),
        (
            "timeout over interval",
            endpoint("      interval: 10s\n      scrapeTimeout: 30s\n"),
            vec!["spec.endpoints[0]", "scrapeTimeout must not exceed interval"],
        ),
        (
            "misspelt field",
            endpoint("      intervall: 30s\n"),
            vec!["spec.endpoints[0].intervall", "did you mean \"interval\""],
        ),
        (
            "bad relabel regex",
            endpoint(
                "      relabelings:\n        - sourceLabels: [__meta_kubernetes_pod_name]\n          regex: \"(api\"\n          targetLabel: pod\n",
            ),
            vec!["spec.endpoints[0].relabelings[0].regex", "invalid regular expression"],
        ),
        (
            "bad relabel action",
            endpoint("      relabelings:\n        - action: explode\n"),
            vec!["spec.endpoints[0].relabelings[0].action", "must be one of"],
        ),
        (
            "hashmod without modulus",
            endpoint("      relabelings:\n        - action: hashmod\n          targetLabel: shard\n"),
            vec!["spec.endpoints[0].relabelings[0]", "modulus"],
        ),
        (
            "bad target label",
            endpoint("      relabelings:\n        - sourceLabels: [a]\n          targetLabel: not-a-label\n"),
            vec!["spec.endpoints[0].relabelings[0].targetLabel", "not a valid Prometheus label name"],
        ),
        ("bad scheme", endpoint("      scheme: ftp\n"), vec!["spec.endpoints[0].scheme", "must be one of"]),
        ("no proxy without a proxy", endpoint("      noProxy: .svc\n"), vec!["spec.endpoints[0].noProxy", "needs proxyUrl"]),
        (
            "two authorizations",
            endpoint("      bearerTokenFile: /t\n      authorization: {credentials: {name: t, key: t}}\n"),
            vec!["spec.endpoints[0]", "mutually exclusive"],
        ),
        (
            "missing selector",
            monitor("  endpoints: [{port: http}]\n"),
            vec!["spec.selector", "required field is missing"],
        ),
        ("port and targetPort", endpoint("      targetPort: 8080\n"), vec!["at most one of port"]),
        (
            "availability over 100",
            monitor(
                "  selector: {}\n  endpoints: [{port: http}]\n  slo: {availability: 120, latencyP95: 1s, errorRate: 1}\n",
            ),
            vec!["spec.slo.availability", "maximum"],
        ),
        (
            "unknown alert override",
            monitor("  selector: {}\n  endpoints: [{port: http}]\n  alerts: {disabled: [Everything]}\n"),
            vec!["spec.alerts.disabled[0]", "unknown alert \"Everything\""],
        ),
        (
            "bad object name",
            "apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nmetadata: {name: Bad_Name}\nspec: {selector: {}, endpoints: [{port: http}]}\n".to_owned(),
            vec!["metadata.name", "DNS-1123"],
        ),
        (
            "bad environment",
            stack("  environment: prod\n"),
            vec!["ObservabilityStack apps/shop", "spec.environment", "\"production\""],
        ),
        (
            "string for a number",
            stack("  logging:\n    loki:\n      ingestionRateMb: fifty\n"),
            vec!["spec.logging.loki.ingestionRateMb", "must be an integer"],
        ),
        (
            "zero ingestion rate",
            stack("  logging:\n    loki:\n      ingestionRateMb: 0\n"),
            vec!["spec.logging.loki.ingestionRateMb", "minimum"],
        ),
        (
            "bad retention",
            stack("  logging:\n    loki:\n      retentionPeriod: 90 days\n"),
            vec!["spec.logging.loki.retentionPeriod", "must match"],
        ),
        (
            "email without smarthost",
            stack("  alerting:\n    routing:\n      email:\n        to: [oncall@example.com]\n"),
            vec!["email recipients need smarthost and from"],
        ),
        (
            "slack secret without key",
            stack("  alerting:\n    routing:\n      slack:\n        apiUrl: {name: alerting}\n"),
            vec!["spec.alerting.routing.slack.apiUrl.key", "required field is missing"],
        ),
        ("metrics off, alerting on", stack("  metrics:\n    enabled: false\n"), vec!["alerting needs metrics"]),
        (
            "bad budget matchers",
            stack(
                "  slos:\n    budgets:\n      - {name: api, thresholdMs: 50, spanMatchers: \"service_name gateway\"}\n",
            ),
            vec!["spec.slos.budgets[0].spanMatchers"],
        ),
        (
            "burn windows reversed",
            stack("  slos:\n    burnRateWindows:\n      - {long: 5m, short: 1h, factor: 14.4, severity: critical}\n"),
            vec!["spec.slos.burnRateWindows[0].short", "shorter than the long window"],
        ),
        (
            "tiers shrinking",
            stack("  metrics:\n    downsampling:\n      oneHourRetention: 30d\n"),
            vec!["spec.metrics.downsampling", "must not shrink"],
        ),
        (
            "bad probe timing",
            stack(
                "  probes:\n    liveness: {path: /health, port: 8011, initialDelaySeconds: 30, periodSeconds: 5, timeoutSeconds: 10, failureThreshold: 3}\n",
            ),
            vec!["spec.probes.liveness", "timeoutSeconds must not exceed periodSeconds"],
        ),
        ("bad image", stack("  tracing:\n    image: \"Not An Image\"\n"), vec!["spec.tracing.image", "must match"]),
    ]
}

#[test]
fn every_kind_of_bad_input_is_refused_precisely_and_nothing_is_written() {
    let directory = tempfile::tempdir().expect("temp dir");
    for (case, manifest, expected) in bad_inputs() {
        let file = directory.path().join("input.yaml");
        std::fs::write(&file, &manifest).expect("write manifest");
        let output_dir = directory.path().join("out");
        for args in [
            vec!["validate", "-f", file.to_str().unwrap_or_default()],
            vec!["render", "-f", file.to_str().unwrap_or_default(), "-o", output_dir.to_str().unwrap_or_default()],
        ] {
            let output = run(&args);
            let message = stderr(&output);
            assert_eq!(output.status.code(), Some(1), "{case}: {} must exit 1; stderr: {message}", args[0]);
            assert!(message.contains("input.yaml"), "{case}: the file is named: {message}");
            for words in &expected {
                assert!(message.contains(words), "{case}: expected {words:?} in: {message}");
            }
            assert!(!message.contains("panicked"), "{case}: {message}");
            assert!(!output_dir.exists(), "{case}: nothing may be written when input is refused");
        }
    }
}

#[test]
fn one_bad_document_among_good_ones_refuses_the_render_and_names_its_document() {
    let directory = tempfile::tempdir().expect("temp dir");
    let good = std::fs::read_to_string(examples().join("monitors.yaml")).expect("example");
    let bad = good.replacen("interval: 15s", "interval: soon", 1);
    std::fs::write(directory.path().join("monitors.yaml"), bad).expect("write");
    std::fs::copy(examples().join("stack.yaml"), directory.path().join("stack.yaml")).expect("copy");
    let output = run(&["render", "-f", directory.path().to_str().unwrap_or_default()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message
            .contains("monitors.yaml (document 1): ServiceMonitor machineavatars/gateway: spec.endpoints[0].interval"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "no partial output on stdout");
}

#[test]
fn the_example_renders_deterministically() {
    let target = tempfile::tempdir().expect("temp dir");
    let output = run(&[
        "render",
        "-f",
        examples().to_str().unwrap_or_default(),
        "-o",
        target.path().to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("of 1 stack(s)"));
    // The whole stack: every component of a production stack with the Promtail collector.
    for component in ["loki", "promtail", "prometheus", "rules", "alertmanager", "grafana", "jaeger", "probes"] {
        let folder = target.path().join("machineavatars").join(component);
        let files = std::fs::read_dir(&folder).map(|entries| entries.count()).unwrap_or(0);
        assert!(files > 0, "{component}: no objects written to {}", folder.display());
    }
    assert!(!target.path().join("machineavatars/alloy").exists(), "Alloy renders only when chosen as collector");
    let stdout_first = run(&["render", "-f", examples().to_str().unwrap_or_default()]);
    let stdout_second = run(&["render", "-f", examples().to_str().unwrap_or_default()]);
    assert!(stdout_first.status.success(), "{}", stderr(&stdout_first));
    assert_eq!(stdout_first.stdout, stdout_second.stdout, "same input, same bytes");
}

#[test]
fn validate_accepts_the_example_and_crds_print() {
    let output = run(&["validate", "-f", examples().to_str().unwrap_or_default()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 stack(s) and 5 monitor(s) are valid"));
    let crds = run(&["crds"]);
    assert!(crds.status.success());
    let text = String::from_utf8_lossy(&crds.stdout);
    assert!(text.contains("observabilitystacks.stackscope.dev") && text.contains("servicemonitors.stackscope.dev"));
}
