//! The `kubectl` path as users take it, with the pinned kubectl against the local control plane:
//! `kubectl apply -f crds/`, then the example; `kubectl explain` describes the fields; `kubectl
//! get` shows the printer columns with the values an operator reconciled; and invalid manifests
//! are refused by the API server itself with messages that name the field — the same field the
//! offline `stackscope validate` names.

use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::Duration;

use stackscope_tests::cluster::{ControlPlane, Operator, client, control_plane, fresh_namespace};

const TIMEOUT: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The pinned kubectl, talking to the tests' control plane.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(plane: &ControlPlane) -> Self {
        let bin_dir = stackscope_tests::tools::bin_dir("control-plane").unwrap_or_else(|error| panic!("{error}"));
        Self { binary: bin_dir.join("kubectl"), kubeconfig: plane.kubeconfig.clone() }
    }

    /// Runs kubectl (asynchronously: an in-process operator shares the runtime) with `stdin`.
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| panic!("kubectl {args:?}: {error}"));
        if let Some(mut input) = child.stdin.take() {
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).await.unwrap_or_else(|error| panic!("kubectl stdin: {error}"));
            }
            drop(input);
        }
        child.wait_with_output().await.unwrap_or_else(|error| panic!("kubectl {args:?}: {error}"))
    }

    /// Runs kubectl and returns its standard output, failing the test when it fails.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args, None).await;
        assert!(
            output.status.success(),
            "kubectl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Kubectl {
    /// `kubectl explain`, once its output contains `marker` (polled until the deadline).
    async fn explain(&self, args: &[&str], marker: &str) -> String {
        let arguments: Vec<&str> = std::iter::once("explain").chain(args.iter().copied()).collect();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let output = self.ok(&arguments).await;
            if output.contains(marker) {
                return output;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "kubectl {} never showed {marker:?}; last output:\n{output}",
                arguments.join(" ")
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The rows of a `kubectl get` table, split into columns.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|line| line.split_whitespace().map(str::to_owned).collect()).collect()
}

/// Copies `examples/machineavatars` into `directory` with its two namespaces renamed, so the test
/// works in namespaces of its own. Nothing else changes.
fn example_copy(directory: &Path, stack_namespace: &str, apps_namespace: &str) {
    let replacements = [
        ("namespace: observability", format!("namespace: {stack_namespace}")),
        ("namespace: machineavatars", format!("namespace: {apps_namespace}")),
        ("matchNames: [observability, machineavatars]", format!("matchNames: [{stack_namespace}, {apps_namespace}]")),
    ];
    for file in ["stack.yaml", "monitors.yaml"] {
        let mut text = std::fs::read_to_string(stackscope_tests::example_dir().join(file))
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        for (from, to) in &replacements {
            text = text.replace(from, to);
        }
        for (from, _) in &replacements {
            assert!(!text.contains(from), "{file} still says {from:?}");
        }
        std::fs::write(directory.join(file), text).unwrap_or_else(|error| panic!("{file}: {error}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_and_the_example_apply_explain_describes_fields_and_get_shows_reconciled_columns() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let kube = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    let kubectl = Kubectl::new(&plane);
    let (stack_namespace, apps_namespace) = ("kubectl-observability", "kubectl-machineavatars");

    let crds = repo_root().join("crds");
    let applied = kubectl.ok(&["apply", "-f", &crds.display().to_string()]).await;
    assert!(applied.contains("observabilitystacks.stackscope.dev"), "{applied}");
    assert!(applied.contains("servicemonitors.stackscope.dev"), "{applied}");
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/observabilitystacks.stackscope.dev",
            "crd/servicemonitors.stackscope.dev",
        ])
        .await;

    // The namespaces first, then the example, exactly as the README says.
    for namespace in [stack_namespace, apps_namespace] {
        fresh_namespace(&kube, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    }
    let examples = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    example_copy(examples.path(), stack_namespace, apps_namespace);
    let applied = kubectl.ok(&["apply", "-f", &examples.path().display().to_string()]).await;
    assert!(applied.contains("observabilitystack.stackscope.dev/machineavatars created"), "{applied}");
    assert_eq!(applied.matches("servicemonitor.stackscope.dev/").count(), 5, "{applied}");

    // `kubectl explain` shows the doc comments of the Rust types (once the API server republished
    // its OpenAPI after the CRD update, which it does asynchronously).
    let loki = kubectl.explain(&["observabilitystack.spec.logging.loki"], "Loki, the log store").await;
    for text in [
        "Loki, the log store",
        "ingestionRateMb",
        "Ingestion rate limit per tenant, MB/s (seed: 50)",
        "retentionPeriod",
        "Retention of ordinary logs (default: by environment, 90d/30d/7d)",
    ] {
        assert!(loki.contains(text), "explain observabilitystack.spec.logging.loki lacks {text:?}:\n{loki}");
    }
    // `servicemonitor` alone may also name prometheus-operator's kind in a cluster that has both.
    let endpoints = kubectl
        .explain(
            &["servicemonitor.spec.endpoints", "--api-version=stackscope.dev/v1alpha1"],
            "Name of the Service port to scrape",
        )
        .await;
    for text in [
        "Endpoints of the selected Services to scrape",
        "Name of the Service port to scrape",
        "Scrape interval (default: the stack's `metrics.prometheus.scrapeInterval`",
        "Scrape timeout, at most the interval",
        "enum: http, https\n",
        "Relabelings applied to targets before scraping",
    ] {
        assert!(endpoints.contains(text), "explain servicemonitor.spec.endpoints lacks {text:?}:\n{endpoints}");
    }
    assert!(!endpoints.contains("<no value>"), "an enum shows a null choice:\n{endpoints}");

    // Before an operator ran, the columns exist but are empty.
    let before = table(&kubectl.ok(&["get", "observabilitystacks", "-n", stack_namespace]).await);
    assert_eq!(before[0], ["NAME", "ENVIRONMENT", "READY", "DRIFTED", "MONITORS", "REJECTED", "AGE"]);
    assert_eq!(before[1][..2], ["machineavatars", "production"]);

    let operator = Operator::start(&plane, stack_namespace, None).await.unwrap_or_else(|error| panic!("{error}"));
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Applied",
            "--timeout=90s",
            "-n",
            stack_namespace,
            "observabilitystack/machineavatars",
        ])
        .await;
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Accepted",
            "--timeout=90s",
            "-n",
            apps_namespace,
            "servicemonitors.stackscope.dev",
            "--all",
        ])
        .await;

    for resource in ["observabilitystacks", "observabilitystack", "obs", "observabilitystacks.stackscope.dev"] {
        let rows = table(&kubectl.ok(&["get", resource, "-n", stack_namespace]).await);
        assert_eq!(rows[0], ["NAME", "ENVIRONMENT", "READY", "DRIFTED", "MONITORS", "REJECTED", "AGE"], "{resource}");
        // Applied, but no kubelet runs the pods here: READY is honestly False.
        assert_eq!(rows[1][..6], ["machineavatars", "production", "False", "False", "5", "0"], "{resource}: {rows:?}");
        assert_eq!(rows[1].len(), 7, "{resource}: an age: {rows:?}");
    }
    for resource in ["servicemonitors.stackscope.dev", "ssmon"] {
        let rows = table(&kubectl.ok(&["get", resource, "-n", apps_namespace]).await);
        assert_eq!(rows[0], ["NAME", "ACCEPTED", "REASON", "ENDPOINTS", "AGE"], "{resource}");
        let mut names: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["auth-service", "gateway", "llm-service", "response-3d", "response-text"], "{resource}");
        for row in &rows[1..] {
            assert_eq!(row[1..4], ["True", "Accepted", "1"], "{resource}: {row:?}");
        }
    }
    // The category lists both kinds at once.
    let everything = kubectl.ok(&["get", "stackscope", "-n", apps_namespace]).await;
    assert!(everything.contains("servicemonitor.stackscope.dev/gateway"), "{everything}");
    operator.stop().await;
}

/// An invalid manifest: the kind, the YAML of its spec, and the words the refusal must contain
/// (the field path first).
struct Invalid {
    what: &'static str,
    kind: &'static str,
    spec: &'static str,
    expected: &'static [&'static str],
}

const ENDPOINT_SELECTOR: &str = "  selector: {matchLabels: {app: api}}\n";

fn invalid_manifests() -> Vec<Invalid> {
    vec![
        Invalid {
            what: "a duration that is not one",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, interval: 5 minutes}\n",
            expected: &["spec.endpoints[0].interval", "\"5 minutes\"", "should match"],
        },
        Invalid {
            what: "scrapeTimeout above interval (CEL)",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, interval: 10s, scrapeTimeout: 30s}\n",
            expected: &["spec.endpoints[0].scrapeTimeout", "scrapeTimeout must not exceed interval"],
        },
        Invalid {
            what: "an unknown scheme",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, scheme: ftp}\n",
            expected: &[
                "spec.endpoints[0].scheme",
                "Unsupported value: \"ftp\"",
                "supported values: \"http\", \"https\"",
            ],
        },
        Invalid {
            what: "an unknown environment",
            kind: "ObservabilityStack",
            spec: "  environment: prod\n",
            expected: &[
                "spec.environment",
                "Unsupported value: \"prod\"",
                "\"production\", \"staging\", \"development\"",
            ],
        },
        Invalid {
            what: "Slack enabled without its Secret (CEL)",
            kind: "ObservabilityStack",
            spec: "  alerting: {routing: {slack: {enabled: true, channel: \"#alerts\", apiUrl: null}}}\n",
            expected: &["spec.alerting.routing.slack.apiUrl", "an enabled Slack receiver needs a Secret reference"],
        },
        Invalid {
            what: "negative replicas",
            kind: "ObservabilityStack",
            spec: "  metrics: {prometheus: {replicas: -1}}\n",
            expected: &["spec.metrics.prometheus.replicas", "greater than or equal to 1"],
        },
        Invalid {
            what: "a misspelt field under strict field validation",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, intervall: 30s}\n",
            expected: &["spec.endpoints[0].intervall", "field not declared in schema"],
        },
        Invalid {
            what: "metrics off while alerting and SLOs stay on (CEL)",
            kind: "ObservabilityStack",
            spec: "  metrics: {enabled: false}\n",
            expected: &["spec.alerting.enabled", "alerting needs metrics", "spec.slos.enabled", "SLOs need metrics"],
        },
        Invalid {
            what: "both port and targetPort (CEL)",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, targetPort: 8080}\n",
            expected: &["spec.endpoints[0]", "set at most one of port (a Service port name) or targetPort"],
        },
        Invalid {
            what: "email recipients without a server (CEL)",
            kind: "ObservabilityStack",
            spec: "  alerting: {routing: {email: {to: [oncall@example.com]}}}\n",
            expected: &["spec.alerting.routing.email", "email recipients need smarthost and from"],
        },
        Invalid {
            what: "an unknown relabeling action",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - port: http\n    relabelings: [{action: explode}]\n",
            expected: &["spec.endpoints[0].relabelings[0].action", "Unsupported value: \"explode\""],
        },
        Invalid {
            what: "replace without targetLabel (CEL)",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - port: http\n    relabelings: [{action: replace, sourceLabels: [pod]}]\n",
            expected: &["spec.endpoints[0].relabelings[0]", "targetLabel is required for this action"],
        },
        Invalid {
            what: "a probe timeout above its period (CEL)",
            kind: "ObservabilityStack",
            spec: "  probes:\n    liveness: {path: /health, port: 8011, initialDelaySeconds: 1, periodSeconds: 5, timeoutSeconds: 10, failureThreshold: 3}\n",
            expected: &["spec.probes.liveness.timeoutSeconds", "timeoutSeconds must not exceed periodSeconds"],
        },
        Invalid {
            what: "two authorizations (CEL)",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, bearerTokenFile: /t, authorization: {type: Bearer}}\n",
            expected: &[
                "spec.endpoints[0]",
                "bearerTokenSecret, bearerTokenFile, basicAuth, authorization and oauth2 are mutually exclusive",
            ],
        },
        Invalid {
            what: "a Secret name that is no object name",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http, bearerTokenSecret: {name: My_Token, key: token}}\n",
            expected: &["spec.endpoints[0].bearerTokenSecret.name", "\"My_Token\"", "should match"],
        },
        Invalid {
            what: "an SLO above 99.9999%",
            kind: "ServiceMonitor",
            spec: "  endpoints:\n  - {port: http}\n  slo: {availability: 100.5, latencyP95: 100ms, errorRate: 0.5}\n",
            expected: &["spec.slo.availability", "less than or equal to 99.9999"],
        },
    ]
}

fn manifest(case: &Invalid, namespace: &str, index: usize) -> String {
    let selector = if case.kind == "ServiceMonitor" { ENDPOINT_SELECTOR } else { "" };
    format!(
        "apiVersion: stackscope.dev/v1alpha1\nkind: {}\nmetadata:\n  name: invalid-{index}\n  namespace: {namespace}\nspec:\n{selector}{}",
        case.kind, case.spec
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_refuses_invalid_manifests_naming_the_field_as_the_cli_does() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let kube = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    stackscope_tests::cluster::install_crds(&kube).await.unwrap_or_else(|error| panic!("{error}"));
    let namespace = "kubectl-invalid";
    fresh_namespace(&kube, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    let kubectl = Kubectl::new(&plane);

    let cases = invalid_manifests();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let text = manifest(case, namespace, index);
        // Server-side apply sends what the file says (client-side apply would drop `apiUrl: null`
        // and let the default fill it in), with the API server's strict field validation.
        let output = kubectl
            .run(&["apply", "--server-side", "--field-manager=kubectl", "--validate=strict", "-f", "-"], Some(&text))
            .await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            failures.push(format!("{}: accepted:\n{text}", case.what));
            continue;
        }
        if let Some(missing) = case.expected.iter().find(|expected| !stderr.contains(*expected)) {
            failures.push(format!("{}: refusal lacks {missing:?}:\n{stderr}", case.what));
        }
        // The offline CLI refuses the same manifest at the same field.
        let field = case.expected[0];
        match stackscope::cli::offline::load(&[(format!("case-{index}.yaml"), text.clone())]) {
            Ok(_) => failures.push(format!("{}: stackscope validate accepts it", case.what)),
            Err(problems) => {
                if !problems.iter().any(|problem| problem.contains(field)) {
                    failures.push(format!("{}: stackscope validate does not name {field}: {problems:?}", case.what));
                }
            }
        }
    }
    // Client-side apply and strict validation through kubectl's own flag refuse unknown fields too.
    let misspelt = manifest(&cases[6], namespace, 99);
    let output = kubectl.run(&["apply", "--validate=strict", "-f", "-"], Some(&misspelt)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || !stderr.contains("unknown field \"spec.endpoints[0].intervall\"") {
        failures.push(format!("client-side apply of a misspelt field: {stderr}"));
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
    let left = kubectl.ok(&["get", "stackscope", "-n", namespace, "-o", "name"]).await;
    assert!(left.trim().is_empty(), "refused manifests must leave nothing behind: {left}");
}
