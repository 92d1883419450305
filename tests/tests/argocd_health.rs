//! The Argo CD health checks of `argocd/health/stackscope.dev/<Kind>/health.lua`, run by Argo CD's
//! own Lua interpreter (`tools/checkers/argocd-health`, gopher-lua as Argo CD embeds it) over the
//! operator's real status, and judged by the rules of the README's table, stated here apart from
//! the scripts (`expected_health`): an expected result is never a script's own output.
//!
//! Without a cluster:
//! - `committed_fixtures_have_their_expected_health`: Argo CD's `health_test.yaml` of both kinds
//!   over the committed `testdata/`, with the libraries closed (argocd-cm) and open (built-in);
//!   its expected results are the rules'; the argocd-cm snippet carries exactly these scripts and
//!   gives the same results.
//! - `the_checker_is_as_strict_as_argo_cd`: no string library without useOpenLibs, an unknown
//!   status becomes Unknown, a failing script shows its error.
//! - `the_example_applications_deploy_the_chart_and_the_stack_as_documented`.
//!
//! Against the local control plane, `the_operators_states_have_the_expected_health_and_match_the_fixtures`
//! drives the in-process operator into every state (no status yet; applied with the pods not yet
//! running; Ready once a stand-in kubelet runs them; a pod that cannot pull its image; a new
//! generation not yet reconciled; rejected monitors; an invalid spec keeping the last good
//! configuration; drift under `Report`; drift put back under `Correct`), runs the checker on the
//! live objects (with the script file, the snippet, and the snippet merged into a live argocd-cm by
//! the README's `kubectl patch`), asserts the health the rules give, and compares what it captured
//! with the committed fixtures and `health_test.yaml`.
//!
//! After an intended change of the status or of a script, refresh the fixtures, the expected
//! results and the snippet from a live run, read the diff and commit it:
//!
//! ```sh
//! STACKSCOPE_REFRESH_ARGOCD_FIXTURES=1 cargo test -p stackscope-tests --test argocd_health
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stackscope::api::{DriftPolicy, ObservabilityStack, ServiceMonitor, WorkloadStatus};
use stackscope_tests::cluster::{
    ControlPlane, Operator, client, control_plane, fresh_namespace, install_crds, wait_for,
};
use stackscope_tests::kubelet::{Failure, Kubelet};

const TIMEOUT: Duration = Duration::from_secs(90);
const TEST_MANAGER: &str = "stackscope-tests";
const REFRESH_VARIABLE: &str = "STACKSCOPE_REFRESH_ARGOCD_FIXTURES";
const REFRESH_COMMAND: &str =
    "STACKSCOPE_REFRESH_ARGOCD_FIXTURES=1 cargo test -p stackscope-tests --test argocd_health";
/// Every time and the render hash are replaced by these in the fixtures: they differ on each run.
const FIXED_TIME: &str = "2026-01-01T00:00:00Z";
const FIXED_HASH: &str = "0123456789abcdef0123456789abcdef";
/// The example's own namespaces, which the fixtures show instead of the tests' namespaces.
const STACK_NAMESPACE: &str = "observability";
const APPS_NAMESPACE: &str = "machineavatars";

/// The two kinds with a health check, and the states each fixture captures, in the order of
/// `health_test.yaml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ObservabilityStack,
    ServiceMonitor,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObservabilityStack => "ObservabilityStack",
            Kind::ServiceMonitor => "ServiceMonitor",
        }
    }

    fn states(self) -> &'static [&'static str] {
        match self {
            Kind::ObservabilityStack => &[
                "progressing-no-status",
                "progressing-new-generation",
                "progressing-rolling-out",
                "healthy",
                "healthy-drift-corrected",
                "degraded-component-failing",
                "degraded-monitor-rejected",
                "degraded-invalid-spec",
                "degraded-drifted",
            ],
            Kind::ServiceMonitor => {
                &["progressing-not-selected", "progressing-new-generation", "healthy-accepted", "degraded-rejected"]
            }
        }
    }

    fn directory(self) -> PathBuf {
        repo_root().join("argocd/health/stackscope.dev").join(self.name())
    }

    fn script(self) -> PathBuf {
        self.directory().join("health.lua")
    }
}

const KINDS: [Kind; 2] = [Kind::ObservabilityStack, Kind::ServiceMonitor];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn snippet_path() -> PathBuf {
    repo_root().join("argocd/argocd-cm-snippet.yaml")
}

fn refreshing() -> bool {
    std::env::var_os(REFRESH_VARIABLE).is_some_and(|value| value == "1")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{}: {error}", parent.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

fn yaml(path: &Path) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

/// The argocd-health checker, built by `tools/build-tools.sh` (one of its `checkers`).
fn checker() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PATH.get_or_init(|| {
        let output = Command::new(repo_root().join("tools/build-tools.sh"))
            .args(["--print-path", "checkers"])
            .output()
            .map_err(|error| format!("cannot run tools/build-tools.sh: {error}"))?;
        if !output.status.success() {
            return Err(format!("tools/build-tools.sh failed:\n{}", String::from_utf8_lossy(&output.stderr)));
        }
        let directories = String::from_utf8_lossy(&output.stdout).into_owned();
        directories
            .lines()
            .map(|line| PathBuf::from(line.trim()))
            .find(|directory| {
                directory.file_name().is_some_and(|name| name.to_string_lossy().starts_with("argocd-health-"))
            })
            .map(|directory| directory.join("argocd-health"))
            .filter(|binary| binary.is_file())
            .ok_or_else(|| format!("tools/build-tools.sh built no argocd-health checker:\n{directories}"))
    });
    found.clone().unwrap_or_else(|error| panic!("{error}"))
}

/// What a health check returned (gitops-engine's HealthStatus).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
struct Health {
    status: String,
    #[serde(default)]
    message: String,
}

/// Runs the checker with `arguments` on one object given on standard input.
fn run_checker(arguments: &[&str], object: &Value) -> Health {
    let mut child = Command::new(checker())
        .args(arguments)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("argocd-health: {error}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(object.to_string().as_bytes()).unwrap_or_else(|error| panic!("argocd-health stdin: {error}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|error| panic!("argocd-health: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "argocd-health {arguments:?} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("argocd-health printed {stdout:?}: {error}"))
}

/// The health of an object by every way users run the script: the file itself, the snippet as
/// argocd-cm, and (when given) a live argocd-cm the snippet was merged into. All must agree.
fn health_of(kind: Kind, object: &Value, live_config_map: Option<&Path>) -> Health {
    let script = kind.script();
    let by_script = run_checker(&["--script", &script.to_string_lossy()], object);
    let snippet = snippet_path();
    let by_snippet = run_checker(&["--configmap", &snippet.to_string_lossy()], object);
    assert_eq!(by_script, by_snippet, "health.lua and the argocd-cm snippet disagree on {object}");
    if let Some(live) = live_config_map {
        let by_live = run_checker(&["--configmap", &live.to_string_lossy()], object);
        assert_eq!(by_script, by_live, "health.lua and the live argocd-cm disagree on {object}");
    }
    by_script
}

// ---------------------------------------------------------------------------------------------
// The rules, stated apart from the scripts
// ---------------------------------------------------------------------------------------------

/// What Argo CD must show for an object: the README's table of health rules, written out here
/// apart from the Lua, so that the expected results never are the scripts' own output.
fn expected_health(kind: Kind, object: &Value) -> Health {
    match kind {
        Kind::ObservabilityStack => expected_stack_health(object),
        Kind::ServiceMonitor => expected_monitor_health(object),
    }
}

fn health(status: &str, message: impl Into<String>) -> Health {
    Health { status: status.to_owned(), message: message.into() }
}

fn string<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_default()
}

/// A text field, or the fallback when absent or empty.
fn text_or<'a>(value: &'a Value, field: &str, fallback: &'a str) -> &'a str {
    Some(string(value, field)).filter(|text| !text.is_empty()).unwrap_or(fallback)
}

fn condition_of<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == kind)
}

/// Progressing while the status describes an older generation than the object's.
fn generation_behind(object: &Value, action: &str) -> Option<Health> {
    let generation = object["metadata"]["generation"].as_i64()?;
    let observed = object["status"]["observedGeneration"].as_i64()?;
    (generation != observed).then(|| {
        health(
            "Progressing",
            format!(
                "Waiting for the stackscope operator to {action} generation {generation} (status describes generation {observed})"
            ),
        )
    })
}

/// The ObservabilityStack's rules, in order: not yet reconciled (Progressing); not applied,
/// failing or rejected monitors, drift (Degraded); rolling out (Progressing); Ready (Healthy);
/// anything else Progressing.
fn expected_stack_health(stack: &Value) -> Health {
    let status = &stack["status"];
    if status["observedGeneration"].is_null() || status["conditions"].is_null() {
        return health("Progressing", "Waiting for the stackscope operator to reconcile the stack");
    }
    if let Some(behind) = generation_behind(stack, "reconcile") {
        return behind;
    }
    let ready = condition_of(stack, "Ready");
    let not_applied = condition_of(stack, "Applied").or(ready);
    if let Some(condition) = not_applied.filter(|condition| condition["status"] == "False") {
        return health("Degraded", text_or(condition, "message", text_or(condition, "reason", "Not applied")));
    }
    if let Some(degraded) = condition_of(stack, "Degraded").filter(|condition| condition["status"] == "True") {
        let rejected = status["rejectedMonitors"].as_array().cloned().unwrap_or_default();
        if degraded["reason"] == "MonitorsRejected"
            && let Some(first) = rejected.first()
        {
            let mut message = format!(
                "ServiceMonitor {}/{} rejected: {}: {}",
                string(first, "namespace"),
                string(first, "name"),
                string(first, "field"),
                string(first, "reason")
            );
            if rejected.len() > 1 {
                let others: Vec<String> =
                    rejected[1..].iter().map(|r| format!("{}/{}", string(r, "namespace"), string(r, "name"))).collect();
                message.push_str(&format!("; {} more rejected: {}", rejected.len() - 1, others.join(", ")));
            }
            return health("Degraded", message);
        }
        return health("Degraded", text_or(degraded, "message", text_or(degraded, "reason", "Degraded")));
    }
    let drifted = condition_of(stack, "Drifted");
    if let Some(drifted) = drifted.filter(|condition| condition["status"] == "True") {
        let mut message =
            format!("Drifted: {}", text_or(drifted, "message", "live objects differ from the declaration"));
        let entries = status["drift"].as_array().cloned().unwrap_or_default();
        if let Some(first) = entries.iter().find(|entry| entry["corrected"] != true) {
            message.push_str(&format!("; first: {} {}", string(first, "object"), string(first, "path")));
        }
        if text_or(&stack["spec"], "driftPolicy", "Report") == "Report" {
            message.push_str(" (driftPolicy Report leaves it: revert the change or set driftPolicy: Correct)");
        }
        return health("Degraded", message);
    }
    if let Some(progressing) = condition_of(stack, "Progressing").filter(|condition| condition["status"] == "True") {
        return health("Progressing", text_or(progressing, "message", "Rolling out"));
    }
    if let Some(ready) = ready.filter(|condition| condition["status"] == "True") {
        let mut message = text_or(ready, "message", "Ready").to_owned();
        if let Some(accepted) = status["summary"]["acceptedMonitors"].as_u64() {
            message.push_str(&format!(", {accepted} ServiceMonitor(s) accepted"));
        }
        if let Some(drifted) = drifted.filter(|condition| condition["reason"] == "DriftCorrected") {
            message.push_str(&format!("; drift put back: {}", text_or(drifted, "message", "corrected")));
        }
        return health("Healthy", message);
    }
    let waiting = "Waiting for the Ready condition";
    health("Progressing", ready.map(|ready| text_or(ready, "message", waiting)).unwrap_or(waiting))
}

/// The ServiceMonitor's rules: not selected or not yet checked (Progressing), Accepted (Healthy),
/// rejected (Degraded, naming the stacks).
fn expected_monitor_health(monitor: &Value) -> Health {
    let status = &monitor["status"];
    if status.is_null() || status["conditions"].is_null() {
        return health("Progressing", "Waiting for an ObservabilityStack to select this ServiceMonitor");
    }
    if let Some(behind) = generation_behind(monitor, "check") {
        return behind;
    }
    let accepted = condition_of(monitor, "Accepted");
    if let Some(accepted) = accepted.filter(|condition| condition["status"] == "True") {
        return health(
            "Healthy",
            text_or(accepted, "message", text_or(accepted, "reason", "Accepted condition without a message")),
        );
    }
    if let Some(rejected) = accepted.filter(|condition| condition["status"] == "False") {
        let mut message = match (string(rejected, "message"), string(rejected, "reason")) {
            ("", _) => text_or(rejected, "reason", "Accepted condition without a message").to_owned(),
            (message, "") => message.to_owned(),
            (message, reason) => format!("{reason}: {message}"),
        };
        let stacks: Vec<&str> = status["stacks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if !stacks.is_empty() {
            message.push_str(&format!(" (ObservabilityStack {})", stacks.join(", ")));
        }
        return health("Degraded", message);
    }
    health("Progressing", "Waiting for the Accepted condition")
}

// ---------------------------------------------------------------------------------------------
// The committed files
// ---------------------------------------------------------------------------------------------

/// One case of Argo CD's `health_test.yaml`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: Health,
    input_path: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

fn fixture_path(kind: Kind, state: &str) -> PathBuf {
    kind.directory().join("testdata").join(format!("{state}.yaml"))
}

fn health_tests_text(tests: &[HealthTest]) -> String {
    let mut text = String::from(
        "# Argo CD's health check tests (resource_customizations/<group>/<Kind>/health_test.yaml format).\n\
         # Generated with testdata/ from the operator's real status by tests/tests/argocd_health.rs; the\n\
         # expected results are the rules of the README's table (expected_health there), not the script's\n\
         # output:\n",
    );
    text.push_str(&format!("#   {REFRESH_COMMAND}\ntests:\n"));
    for test in tests {
        // JSON strings are valid YAML double-quoted scalars.
        text.push_str(&format!(
            "  - healthStatus:\n      status: {}\n      message: {}\n    inputPath: {}\n",
            test.health_status.status,
            Value::String(test.health_status.message.clone()),
            test.input_path
        ));
    }
    text
}

fn fixture_text(kind: Kind, state: &str, object: &Value) -> String {
    let body = serde_saphyr::to_string(object).unwrap_or_else(|error| panic!("{kind:?} {state}: {error}"));
    let reread: Value = serde_saphyr::from_str(&body).unwrap_or_else(|error| panic!("{kind:?} {state}: {error}"));
    assert_eq!(&reread, object, "{kind:?} {state}: the YAML does not read back as written");
    format!(
        "# {} in state {state}: read from the API server after tests/tests/argocd_health.rs drove\n\
         # the stackscope operator (in process) there. The status is the operator's, verbatim but for\n\
         # the tests' namespaces, the times and the render hash; uid and resourceVersion are fixed;\n\
         # the spec keeps only what the health check reads. Refresh with\n\
         #   {REFRESH_COMMAND}\n{body}",
        kind.name()
    )
}

/// The argocd-cm snippet: both scripts verbatim under their `resource.customizations.health` keys.
fn snippet_text() -> String {
    let mut text = String::from(
        "# Argo CD health checks for stackscope's ObservabilityStack and ServiceMonitor (stackscope.dev).\n\
         # Merge into the argocd-cm ConfigMap in Argo CD's namespace (every other key stays):\n\
         #\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd/argocd-cm-snippet.yaml\n\
         #\n\
         # The scripts are argocd/health/stackscope.dev/<Kind>/health.lua verbatim and need no\n\
         # useOpenLibs. Generated: edit health.lua, then run\n",
    );
    text.push_str(&format!("#   {REFRESH_COMMAND}\n"));
    text.push_str(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  labels:\n    \
         app.kubernetes.io/name: argocd-cm\n    app.kubernetes.io/part-of: argocd\ndata:\n",
    );
    for kind in KINDS {
        text.push_str(&format!("  resource.customizations.health.stackscope.dev_{}: |\n", kind.name()));
        for line in read(&kind.script()).lines() {
            if line.is_empty() {
                text.push('\n');
            } else {
                text.push_str(&format!("    {line}\n"));
            }
        }
    }
    text
}

/// When refreshing, writes the snippet once per test process, before any test reads it.
fn refresh_snippet() {
    static WRITTEN: OnceLock<()> = OnceLock::new();
    WRITTEN.get_or_init(|| {
        if refreshing() {
            write(&snippet_path(), &snippet_text());
        }
    });
}

#[test]
fn committed_fixtures_have_their_expected_health() {
    refresh_snippet();
    if refreshing() {
        // The live test is rewriting the fixtures; it runs these checks once it has written them.
        return;
    }
    check_committed_fixtures();
}

/// Argo CD's health tests over the committed fixtures, and the snippet.
fn check_committed_fixtures() {
    // The snippet is the scripts verbatim, and reads back as them.
    let stale = read(&snippet_path()) != snippet_text();
    assert!(!stale, "argocd/argocd-cm-snippet.yaml differs from the health.lua files: run {REFRESH_COMMAND}");
    let snippet = yaml(&snippet_path());
    for kind in KINDS {
        let key = format!("resource.customizations.health.stackscope.dev_{}", kind.name());
        assert_eq!(snippet["data"][&key].as_str(), Some(read(&kind.script()).as_str()), "{key}");
    }
    assert_eq!(snippet["data"].as_object().map(|data| data.len()), Some(2), "only the two health keys");

    for kind in KINDS {
        // Argo CD's own test runner, over every case, with the libraries closed and open.
        let output = Command::new(checker())
            .arg("--test")
            .arg(kind.directory())
            .output()
            .unwrap_or_else(|error| panic!("argocd-health: {error}"));
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} health_test.yaml failed:\n{report}{}",
            kind.name(),
            String::from_utf8_lossy(&output.stderr)
        );
        let tests: HealthTests =
            serde_saphyr::from_str(&read(&kind.directory().join("health_test.yaml"))).unwrap_or_else(|e| panic!("{e}"));
        let cases: Vec<&str> = tests.tests.iter().map(|test| test.input_path.as_str()).collect();
        let states: Vec<String> = kind.states().iter().map(|state| format!("testdata/{state}.yaml")).collect();
        assert_eq!(cases, states, "{} health_test.yaml covers every captured state", kind.name());
        assert_eq!(report.lines().filter(|line| line.starts_with("ok ")).count(), 2 * states.len(), "{report}");

        // The snippet, read as argocd-cm, gives every fixture the same health.
        for test in &tests.tests {
            let object = yaml(&kind.directory().join(&test.input_path));
            assert_eq!(object["apiVersion"], "stackscope.dev/v1alpha1", "{}", test.input_path);
            assert_eq!(object["kind"], kind.name(), "{}", test.input_path);
            let by_snippet = run_checker(&["--configmap", &snippet_path().to_string_lossy()], &object);
            assert_eq!(by_snippet, test.health_status, "{} {}", kind.name(), test.input_path);
            // The expected results are the rules' (the README's table), not the script's output.
            assert_eq!(expected_health(kind, &object), test.health_status, "{} {}", kind.name(), test.input_path);
        }
    }

    // Every outcome a user can meet is covered.
    let statuses: Vec<String> = KINDS
        .iter()
        .flat_map(|kind| kind.states().iter().map(|state| state.split('-').next().unwrap_or_default().to_owned()))
        .collect();
    for status in ["progressing", "healthy", "degraded"] {
        assert!(statuses.iter().any(|found| found == status), "no {status} fixture");
    }
}

/// The checker runs scripts as Argo CD does, not more leniently: without useOpenLibs there is no
/// string library, an unknown status becomes Unknown, a failing script shows its error.
#[test]
fn the_checker_is_as_strict_as_argo_cd() {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let object = json!({"apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor", "metadata": {"name": "x"}});
    let run = |script: &str, arguments: &[&str]| {
        let path = directory.path().join("health.lua");
        write(&path, script);
        let mut child = Command::new(checker())
            .args(["--script", &path.to_string_lossy()])
            .args(arguments)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(object.to_string().as_bytes()).unwrap_or_else(|error| panic!("{error}"));
        }
        let output = child.wait_with_output().unwrap_or_else(|error| panic!("{error}"));
        let health: Health = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}"));
        (output.status.success(), health)
    };
    let formatted = r#"return {status = string.format("%s", "Healthy"), message = obj.metadata.name}"#;
    let (succeeded, health) = run(formatted, &[]);
    assert!(!succeeded && health.status == "Unknown", "string.* without useOpenLibs: {health:?}");
    assert!(health.message.contains("string"), "{health:?}");
    assert_eq!(run(formatted, &["--open-libs"]), (true, Health { status: "Healthy".into(), message: "x".into() }));
    let (_, health) = run(r#"return {status = "Fine"}"#, &[]);
    assert_eq!(health, Health { status: "Unknown".into(), message: "Lua returned an invalid health status".into() });
    let (succeeded, health) = run("return {status = os.time()}", &["--open-libs"]);
    assert!(!succeeded && health.status == "Unknown", "no os: {health:?}");
}

#[test]
fn the_example_applications_deploy_the_chart_and_the_stack_as_documented() {
    let chart = yaml(&repo_root().join("examples/argocd/stackscope.yaml"));
    assert_eq!(chart["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(chart["kind"], "Application");
    let source = &chart["spec"]["source"];
    assert_eq!(source["path"], "charts/stackscope");
    assert_eq!(source["repoURL"], "https://github.com/stackscope/stackscope.git");
    assert_eq!(source["helm"]["skipCrds"], false, "Argo CD applies (and updates) the chart's CRDs");
    let policy = &chart["spec"]["syncPolicy"];
    assert!(policy["automated"].is_object(), "automated sync");
    let options: Vec<&str> = policy["syncOptions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(options.contains(&"ServerSideApply=true"), "{options:?}");
    assert!(options.contains(&"CreateNamespace=true"), "{options:?}");
    // Deleting the Application cascades to what it deployed, but must not delete the CRDs and
    // with them every stack: they are marked to be kept.
    assert_eq!(chart["metadata"]["finalizers"][0], "resources-finalizer.argocd.argoproj.io");
    assert!(repo_root().join("charts/stackscope/Chart.yaml").is_file(), "the Application's chart");
    for crd in ["observabilitystacks.stackscope.dev", "servicemonitors.stackscope.dev"] {
        let crd = yaml(&repo_root().join(format!("charts/stackscope/crds/{crd}.yaml")));
        assert_eq!(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep", "{}", crd["metadata"]["name"]);
    }

    let stacks = yaml(&repo_root().join("examples/argocd/machineavatars.yaml"));
    assert_eq!(stacks["kind"], "Application");
    let path = stacks["spec"]["source"]["path"].as_str().unwrap_or_default();
    assert!(repo_root().join(path).join("stack.yaml").is_file(), "{path} holds the example stack");
    let options: Vec<&str> = stacks["spec"]["syncPolicy"]["syncOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(options.contains(&"SkipDryRunOnMissingResource=true"), "the CRDs may come with the other Application");
    assert!(options.contains(&"ServerSideApply=true"), "{options:?}");
}

// ---------------------------------------------------------------------------------------------
// The live states
// ---------------------------------------------------------------------------------------------

/// One object the operator brought into a state, as the fixture shows it, with its live health.
struct Captured {
    kind: Kind,
    state: &'static str,
    fixture: Value,
    health: Health,
}

/// A stack and its monitors in namespaces of their own, with an in-process operator.
struct Scenario {
    plane: ControlPlane,
    client: Client,
    stack_namespace: String,
    apps_namespace: String,
    stack: ObservabilityStack,
    monitors: Vec<ServiceMonitor>,
    live_config_map: PathBuf,
}

impl Scenario {
    async fn new(name: &str, live_config_map: &Path) -> Self {
        let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
        let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
        let stack_namespace = format!("obs-argocd-{name}");
        let apps_namespace = format!("apps-argocd-{name}");
        fresh_namespace(&client, &stack_namespace).await.unwrap_or_else(|error| panic!("{error}"));
        fresh_namespace(&client, &apps_namespace).await.unwrap_or_else(|error| panic!("{error}"));
        let (stack, monitors) =
            stackscope_tests::example_in(&stack_namespace, &apps_namespace).unwrap_or_else(|error| panic!("{error}"));
        Self {
            plane,
            client,
            stack_namespace,
            apps_namespace,
            stack,
            monitors,
            live_config_map: live_config_map.into(),
        }
    }

    fn stacks(&self) -> Api<ObservabilityStack> {
        Api::namespaced(self.client.clone(), &self.stack_namespace)
    }

    fn monitor_api(&self) -> Api<ServiceMonitor> {
        Api::namespaced(self.client.clone(), &self.apps_namespace)
    }

    async fn apply_stack(&self) {
        let mut stack = self.stack.clone();
        stack.status = None;
        self.stacks()
            .patch(&stack.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&stack))
            .await
            .unwrap_or_else(|error| panic!("apply stack: {error}"));
    }

    async fn apply_monitor(&self, monitor: &ServiceMonitor) {
        let mut monitor = monitor.clone();
        monitor.status = None;
        self.monitor_api()
            .patch(&monitor.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&monitor))
            .await
            .unwrap_or_else(|error| panic!("apply monitor {}: {error}", monitor.name_any()));
    }

    async fn apply_all(&self) {
        for monitor in &self.monitors {
            self.apply_monitor(monitor).await;
        }
        self.apply_stack().await;
    }

    async fn operator(&self) -> Operator {
        Operator::start(&self.plane, &self.stack_namespace, None).await.unwrap_or_else(|error| panic!("{error}"))
    }

    /// Waits until the stack's status describes its current generation and satisfies `check`.
    async fn wait_stack<F>(&self, what: &str, check: F) -> ObservabilityStack
    where
        F: Fn(&ObservabilityStack) -> bool,
    {
        let api = &self.stacks();
        let name = &self.stack.name_any();
        let check = &check;
        wait_for(what, TIMEOUT, || async move {
            let stack = api.get(name).await.ok()?;
            let observed = stack.status.as_ref()?.observed_generation == stack.metadata.generation;
            (observed && check(&stack)).then_some(stack)
        })
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", self.stack_namespace))
    }

    async fn wait_condition(&self, kind: &str, status: &str) -> ObservabilityStack {
        self.wait_stack(&format!("{kind}={status}"), |stack| {
            condition(stack, kind).is_some_and(|condition| condition.status == status)
        })
        .await
    }

    async fn wait_monitor<F>(&self, name: &str, what: &str, check: F) -> ServiceMonitor
    where
        F: Fn(&ServiceMonitor) -> bool,
    {
        let api = &self.monitor_api();
        let check = &check;
        wait_for(what, TIMEOUT, || async move {
            let monitor = api.get(name).await.ok()?;
            check(&monitor).then_some(monitor)
        })
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", self.apps_namespace))
    }

    async fn live_stack(&self) -> ObservabilityStack {
        self.stacks().get(&self.stack.name_any()).await.unwrap_or_else(|error| panic!("get stack: {error}"))
    }

    async fn live_monitor(&self, name: &str) -> ServiceMonitor {
        self.monitor_api().get(name).await.unwrap_or_else(|error| panic!("get monitor {name}: {error}"))
    }

    /// Runs the health check on a live object and turns it into its fixture: the live health,
    /// and the fixture's own health, must be the same but for the names.
    fn capture<K: Serialize>(&self, kind: Kind, state: &'static str, object: &K) -> Captured {
        let live = serde_json::to_value(object).unwrap_or_else(|error| panic!("{error}"));
        let health = health_of(kind, &live, Some(&self.live_config_map));
        assert_eq!(health, expected_health(kind, &live), "{kind:?} {state}: the script breaks the rules on {live}");
        let fixture = self.normalise(live);
        let fixture_health = health_of(kind, &fixture, None);
        assert_eq!(fixture_health, expected_health(kind, &fixture), "{kind:?} {state}: the script breaks the rules");
        assert_eq!(
            fixture_health,
            Health { status: health.status.clone(), message: self.rename(&health.message) },
            "{kind:?} {state}: the normalised fixture has another health than the live object"
        );
        Captured { kind, state, fixture, health }
    }

    /// The example's namespaces for the tests', and a fixed suffix for the random one of a
    /// Deployment's pod (`<deployment>-<template hash>-<5 random characters>`).
    fn rename(&self, text: &str) -> String {
        static POD_SUFFIX: OnceLock<regex::Regex> = OnceLock::new();
        let suffix = POD_SUFFIX.get_or_init(|| {
            regex::Regex::new(r"\b([a-z0-9-]+-[a-z0-9]{6,10})-[bcdfghjklmnpqrstvwxz2456789]{5}\b")
                .unwrap_or_else(|error| panic!("{error}"))
        });
        let renamed =
            text.replace(&self.stack_namespace, STACK_NAMESPACE).replace(&self.apps_namespace, APPS_NAMESPACE);
        suffix.replace_all(&renamed, "${1}-00000").into_owned()
    }

    /// The live object as a fixture: what `kubectl get -o yaml` shows (no managedFields), with the
    /// example's namespaces, a fixed uid, resourceVersion, times and render hash, and of the spec
    /// only what the health checks read.
    fn normalise(&self, mut object: Value) -> Value {
        // The spec is the user's input with the CRD's defaults, which change with every default
        // (an image tag, ...) and mean nothing to the health checks: only what they read stays.
        if let Some(object) = object.as_object_mut() {
            let drift_policy = object.get("spec").and_then(|spec| spec.get("driftPolicy")).cloned();
            object.remove("spec");
            if let Some(drift_policy) = drift_policy {
                object.insert("spec".to_owned(), json!({"driftPolicy": drift_policy}));
            }
        }
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("managedFields");
            metadata.insert("uid".to_owned(), json!("00000000-0000-4000-8000-000000000000"));
            metadata.insert("resourceVersion".to_owned(), json!("1"));
            metadata.insert("creationTimestamp".to_owned(), json!(FIXED_TIME));
        }
        if let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) {
            if status.contains_key("lastAppliedHash") {
                status.insert("lastAppliedHash".to_owned(), json!(FIXED_HASH));
            }
            for list in ["conditions", "drift"] {
                for entry in status.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                    for time in ["lastTransitionTime", "since"] {
                        if let Some(value) = entry.get_mut(time) {
                            *value = json!(FIXED_TIME);
                        }
                    }
                }
            }
        }
        self.rename_strings(object)
    }

    fn rename_strings(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.rename(&text)),
            Value::Array(items) => Value::Array(items.into_iter().map(|item| self.rename_strings(item)).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(key, item)| (key, self.rename_strings(item))).collect())
            }
            other => other,
        }
    }
}

fn condition<'a>(stack: &'a ObservabilityStack, kind: &str) -> Option<&'a stackscope::api::Condition> {
    stack.status.as_ref()?.conditions.iter().find(|condition| condition.condition_type == kind)
}

/// Applied, with no kubelet to run the pods, and settled: each workload that is not ready waits
/// for its pod to be scheduled, its controller having counted the pod (a StatefulSet's `Ready: 0/N`,
/// a Deployment's `Available: 0/N`), so that the status no longer changes.
fn waiting_for_pods(stack: &ObservabilityStack) -> bool {
    let Some(status) = stack.status.as_ref() else { return false };
    let workloads: Vec<&WorkloadStatus> = status.components.iter().flat_map(|c| c.workloads.iter()).collect();
    condition(stack, "Progressing").is_some_and(|c| c.status == "True")
        && workloads.iter().any(|w| !w.ready)
        && workloads.iter().filter(|w| !w.ready).all(|w| {
            w.reason == "PodPending" && (w.message.starts_with("Ready: 0/") || w.message.starts_with("Available: 0/"))
        })
}

/// The image of a pod's container.
async fn container_image(client: &Client, namespace: &str, pod: &str, container: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods.get(pod).await.unwrap_or_else(|error| panic!("get pod {pod}: {error}"));
    pod.spec
        .iter()
        .flat_map(|spec| spec.containers.iter())
        .find(|candidate| candidate.name == container)
        .and_then(|candidate| candidate.image.clone())
        .unwrap_or_else(|| panic!("no container {container}"))
}

fn expect(captured: &Captured, status: &str, parts: &[&str]) {
    let health = &captured.health;
    assert_eq!(health.status, status, "{:?} {}: {health:?}", captured.kind, captured.state);
    for part in parts {
        assert!(
            health.message.contains(part),
            "{:?} {}: {:?} lacks {part:?}",
            captured.kind,
            captured.state,
            health.message
        );
    }
}

/// No status yet, Ready, then a new generation of the stack and of a monitor while no operator
/// runs, and a monitor no stack selects.
async fn lifecycle(live_config_map: &Path) -> Vec<Captured> {
    let mut scenario = Scenario::new("lifecycle", live_config_map).await;
    let mut unselected = scenario.monitors[0].clone();
    unselected.metadata.name = Some("unselected".to_owned());
    unselected.metadata.labels = Some(BTreeMap::from([("platform".to_owned(), "another-platform".to_owned())]));
    scenario.apply_monitor(&unselected).await;
    scenario.apply_all().await;
    let mut captured = Vec::new();

    let fresh = scenario.live_stack().await;
    assert!(fresh.status.is_none(), "no operator ran yet: {:?}", fresh.status);
    captured.push(scenario.capture(Kind::ObservabilityStack, "progressing-no-status", &fresh));
    expect(&captured[0], "Progressing", &["Waiting for the stackscope operator to reconcile the stack"]);

    // Applied, but no kubelet runs the pods: rolling out, each workload waiting for its pod.
    let operator = scenario.operator().await;
    let rolling_out = scenario.wait_stack("applied, every pod waiting to be scheduled", waiting_for_pods).await;
    let progressing = scenario.capture(Kind::ObservabilityStack, "progressing-rolling-out", &rolling_out);
    expect(&progressing, "Progressing", &["workload(s) not ready: ", ": PodPending: not yet scheduled"]);
    captured.push(progressing);

    // A stand-in kubelet runs the pods: Ready, Healthy.
    let kubelet = Kubelet::start(&scenario.client, &scenario.stack_namespace);
    let ready = scenario.wait_condition("Ready", "True").await;
    let gateway = scenario
        .wait_monitor("gateway", "gateway Accepted", |monitor| {
            monitor.status.as_ref().is_some_and(|s| !s.conditions.is_empty())
        })
        .await;
    let healthy = scenario.capture(Kind::ObservabilityStack, "healthy", &ready);
    expect(&healthy, "Healthy", &["objects applied, ", " workload(s) ready, 5 ServiceMonitor(s) accepted"]);
    captured.push(healthy);

    // Prometheus' pod cannot pull its image: Degraded, naming component, workload, pod, reason.
    let pod = format!("{}-prometheus-0", scenario.stack.name_any());
    let image = container_image(&scenario.client, &scenario.stack_namespace, &pod, "prometheus").await;
    kubelet.fail(
        &pod,
        Failure {
            container: "prometheus".to_owned(),
            reason: "ImagePullBackOff".to_owned(),
            message: format!("Back-off pulling image \"{image}\""),
        },
    );
    let failing = scenario
        .wait_stack("Degraded by Prometheus' image", |stack| {
            condition(stack, "Degraded").is_some_and(|c| c.status == "True" && c.reason == "ComponentsFailing")
        })
        .await;
    let degraded = scenario.capture(Kind::ObservabilityStack, "degraded-component-failing", &failing);
    expect(
        &degraded,
        "Degraded",
        &["failing: prometheus: StatefulSet/", "-prometheus (Ready: ", "ImagePullBackOff: image "],
    );
    captured.push(degraded);
    kubelet.heal(&pod);
    scenario.wait_condition("Ready", "True").await;
    let accepted = scenario.capture(Kind::ServiceMonitor, "healthy-accepted", &gateway);
    expect(&accepted, "Healthy", &["rendered by ", "/machineavatars"]);
    captured.push(accepted);
    // The operator reconciled the stack and left the monitor it does not select alone.
    let ignored = scenario.live_monitor("unselected").await;
    assert!(ignored.status.is_none(), "{:?}", ignored.status);
    let not_selected = scenario.capture(Kind::ServiceMonitor, "progressing-not-selected", &ignored);
    expect(&not_selected, "Progressing", &["Waiting for an ObservabilityStack to select this ServiceMonitor"]);
    captured.push(not_selected);
    operator.stop().await;

    // A new generation with no operator to reconcile it: the status describes the previous one.
    scenario.stack.spec.tracing.storage.retention = stackscope::api::Duration::from("24h");
    scenario.apply_stack().await;
    let pending = scenario.live_stack().await;
    assert_eq!(pending.metadata.generation, Some(2));
    let new_generation = scenario.capture(Kind::ObservabilityStack, "progressing-new-generation", &pending);
    expect(&new_generation, "Progressing", &["reconcile generation 2 (status describes generation 1)"]);
    captured.push(new_generation);
    let mut changed = scenario.monitors[0].clone();
    changed.spec.endpoints[0].path = Some("/internal/metrics".to_owned());
    scenario.apply_monitor(&changed).await;
    let pending = scenario.live_monitor("gateway").await;
    assert_eq!(pending.metadata.generation, Some(2));
    let monitor_generation = scenario.capture(Kind::ServiceMonitor, "progressing-new-generation", &pending);
    expect(&monitor_generation, "Progressing", &["check generation 2 (status describes generation 1)"]);
    captured.push(monitor_generation);

    // The operator back: both are reconciled and healthy again.
    let operator = scenario.operator().await;
    let ready = scenario.wait_condition("Ready", "True").await;
    let value = serde_json::to_value(&ready).unwrap_or_default();
    assert_eq!(health_of(Kind::ObservabilityStack, &value, Some(live_config_map)).status, "Healthy");
    let gateway = scenario
        .wait_monitor("gateway", "gateway generation 2 observed", |monitor| {
            monitor.status.as_ref().and_then(|status| status.observed_generation) == Some(2)
        })
        .await;
    let value = serde_json::to_value(&gateway).unwrap_or_default();
    assert_eq!(health_of(Kind::ServiceMonitor, &value, Some(live_config_map)).status, "Healthy");
    operator.stop().await;
    drop(kubelet);
    captured
}

/// A monitor the stack rejects, then a spec the operator refuses (the last good configuration
/// stays in force).
async fn degraded(live_config_map: &Path) -> Vec<Captured> {
    let mut scenario = Scenario::new("degraded", live_config_map).await;
    let mut bad_regex = scenario.monitors[3].clone();
    bad_regex.metadata.name = Some("bad-regex".to_owned());
    bad_regex.spec.endpoints[0].relabelings[0].regex = Some("(unclosed".to_owned());
    scenario.monitors.push(bad_regex);
    // A Secret outside the stack's namespace, which its Prometheus could never mount.
    let mut foreign_secret = scenario.monitors[1].clone();
    foreign_secret.metadata.name = Some("foreign-secret".to_owned());
    foreign_secret.spec.endpoints[0].bearer_token_secret =
        Some(stackscope::api::SecretKeyRef::new("apps-token", "token"));
    scenario.monitors.push(foreign_secret);
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    let kubelet = Kubelet::start(&scenario.client, &scenario.stack_namespace);
    let mut captured = Vec::new();

    // The accepted monitors render and the stack runs; the rejections degrade it.
    let rejected = scenario
        .wait_stack("Degraded by the rejections, running the rest", |stack| {
            condition(stack, "Degraded").is_some_and(|c| c.status == "True" && c.reason == "MonitorsRejected")
                && condition(stack, "Ready").is_some_and(|c| c.status == "True")
        })
        .await;
    let stack = scenario.capture(Kind::ObservabilityStack, "degraded-monitor-rejected", &rejected);
    expect(
        &stack,
        "Degraded",
        &[
            "ServiceMonitor ",
            "/bad-regex rejected: spec.endpoints[0].relabelings[0].regex: ",
            "; 1 more rejected: ",
            "/foreign-secret",
        ],
    );
    captured.push(stack);
    let monitor = scenario
        .wait_monitor("bad-regex", "bad-regex Accepted=False", |monitor| {
            monitor.status.as_ref().is_some_and(|status| {
                status.conditions.iter().any(|c| c.condition_type == "Accepted" && c.status == "False")
            })
        })
        .await;
    let monitor = scenario.capture(Kind::ServiceMonitor, "degraded-rejected", &monitor);
    expect(
        &monitor,
        "Degraded",
        &["Invalid: spec.endpoints[0].relabelings[0]", "(ObservabilityStack ", "/machineavatars)"],
    );
    captured.push(monitor);

    // Span matchers that are not PromQL: the schema takes the string, the semantic check refuses it.
    scenario.stack.spec.slos.budgets[0].span_matchers = "service_name=".to_owned();
    scenario.apply_stack().await;
    let refused = scenario.wait_condition("Applied", "False").await;
    let invalid = scenario.capture(Kind::ObservabilityStack, "degraded-invalid-spec", &refused);
    expect(&invalid, "Degraded", &["last good configuration stays in force", "spec.slos.budgets[0].spanMatchers"]);
    captured.push(invalid);
    operator.stop().await;
    drop(kubelet);
    captured
}

/// An owned ConfigMap edited by hand under driftPolicy Report, then put back under Correct.
async fn drift(live_config_map: &Path) -> Vec<Captured> {
    let mut scenario = Scenario::new("drift", live_config_map).await;
    scenario.stack.spec.drift_policy = DriftPolicy::Report;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    let kubelet = Kubelet::start(&scenario.client, &scenario.stack_namespace);
    scenario.wait_condition("Ready", "True").await;
    let mut captured = Vec::new();

    let jaeger = format!("{}-jaeger", scenario.stack.name_any());
    let config_maps: Api<ConfigMap> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let edit = json!({"data": {"config.yaml": "edited: by hand\n"}});
    config_maps
        .patch(&jaeger, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap_or_else(|error| panic!("edit {jaeger}: {error}"));
    let drifted = scenario
        .wait_stack("Drifted, running", |stack| {
            condition(stack, "Drifted").is_some_and(|c| c.status == "True")
                && condition(stack, "Ready").is_some_and(|c| c.status == "True")
        })
        .await;
    let stack = scenario.capture(Kind::ObservabilityStack, "degraded-drifted", &drifted);
    expect(
        &stack,
        "Degraded",
        &[
            "Drifted: 1 field(s) drifted, 1 not corrected; first: ConfigMap/",
            "/machineavatars-jaeger data[\"config.yaml\"]",
            "driftPolicy Report leaves it",
        ],
    );
    captured.push(stack);

    scenario.stack.spec.drift_policy = DriftPolicy::Correct;
    scenario.apply_stack().await;
    let corrected = scenario
        .wait_stack("drift put back", |stack| {
            condition(stack, "Drifted").is_some_and(|c| c.status == "False" && c.reason == "DriftCorrected")
                && condition(stack, "Ready").is_some_and(|c| c.status == "True")
        })
        .await;
    let stack = scenario.capture(Kind::ObservabilityStack, "healthy-drift-corrected", &corrected);
    expect(&stack, "Healthy", &["drift put back: 1 field(s) drifted, 0 not corrected"]);
    captured.push(stack);
    operator.stop().await;
    drop(kubelet);
    captured
}

/// Creates an argocd-cm with keys of its own in a namespace of the test's, merges the snippet
/// into it exactly as the README says, and returns the merged ConfigMap as a file.
async fn merged_argocd_cm(plane: &ControlPlane, client: &Client, directory: &Path) -> PathBuf {
    let namespace = "argocd-health-cm";
    fresh_namespace(client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    let existing: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "labels": {"app.kubernetes.io/part-of": "argocd"}},
        "data": {
            "url": "https://argocd.example.com",
            "resource.customizations.health.cert-manager.io_Certificate": "return {status = \"Healthy\"}\n"
        }
    }))
    .unwrap_or_else(|error| panic!("{error}"));
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .patch("argocd-cm", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&existing))
        .await
        .unwrap_or_else(|error| panic!("create argocd-cm: {error}"));
    let kubectl = |arguments: &[&str]| {
        let output = Command::new(plane.bin_dir.join("kubectl"))
            .env("KUBECONFIG", &plane.kubeconfig)
            .current_dir(repo_root())
            .args(arguments)
            .output()
            .unwrap_or_else(|error| panic!("kubectl: {error}"));
        assert!(output.status.success(), "kubectl {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    kubectl(&[
        "-n",
        namespace,
        "patch",
        "configmap",
        "argocd-cm",
        "--type",
        "merge",
        "--patch-file",
        "argocd/argocd-cm-snippet.yaml",
    ]);
    let merged = kubectl(&["-n", namespace, "get", "configmap", "argocd-cm", "-o", "json"]);
    let value: Value = serde_json::from_str(&merged).unwrap_or_else(|error| panic!("{error}"));
    let data = &value["data"];
    assert_eq!(data["url"], "https://argocd.example.com", "the merge keeps the other keys");
    assert!(data["resource.customizations.health.cert-manager.io_Certificate"].is_string());
    for kind in KINDS {
        let key = format!("resource.customizations.health.stackscope.dev_{}", kind.name());
        assert_eq!(data[&key].as_str(), Some(read(&kind.script()).as_str()), "{key} in the live argocd-cm");
    }
    let path = directory.join("argocd-cm.json");
    write(&path, &merged);
    path
}

/// The first difference between two values, as a path and both sides.
fn first_difference(path: &str, committed: &Value, live: &Value) -> Option<String> {
    match (committed, live) {
        (Value::Object(left), Value::Object(right)) => left.keys().chain(right.keys()).find_map(|key| {
            first_difference(
                &format!("{path}.{key}"),
                left.get(key).unwrap_or(&Value::Null),
                right.get(key).unwrap_or(&Value::Null),
            )
        }),
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => left
            .iter()
            .zip(right)
            .enumerate()
            .find_map(|(index, (left, right))| first_difference(&format!("{path}[{index}]"), left, right)),
        _ if committed == live => None,
        _ => Some(format!("{path}: committed {committed}, live {live}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_states_have_the_expected_health_and_match_the_fixtures() {
    refresh_snippet();
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let admin = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&admin).await.unwrap_or_else(|error| panic!("{error}"));
    let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let live_config_map = merged_argocd_cm(&plane, &admin, scratch.path()).await;

    let (mut captured, degraded, drift) =
        tokio::join!(lifecycle(&live_config_map), degraded(&live_config_map), drift(&live_config_map));
    captured.extend(degraded);
    captured.extend(drift);

    let mut stale = Vec::new();
    for kind in KINDS {
        let mut tests = Vec::new();
        for state in kind.states() {
            let capture = captured
                .iter()
                .find(|capture| capture.kind == kind && capture.state == *state)
                .unwrap_or_else(|| panic!("{kind:?} {state} was not captured"));
            let path = fixture_path(kind, state);
            if refreshing() {
                write(&path, &fixture_text(kind, state, &capture.fixture));
            }
            let committed = if path.is_file() { yaml(&path) } else { Value::Null };
            if let Some(difference) = first_difference("", &committed, &capture.fixture) {
                stale.push(format!("{}: {difference}", path.display()));
            }
            // What the rules say Argo CD must show for the fixture (`capture` checked that the
            // script shows it, live and on the fixture).
            let health_status = expected_health(kind, &capture.fixture);
            tests.push(HealthTest { health_status, input_path: format!("testdata/{state}.yaml") });
        }
        let path = kind.directory().join("health_test.yaml");
        if refreshing() {
            write(&path, &health_tests_text(&tests));
            let captured_files: Vec<PathBuf> = kind.states().iter().map(|state| fixture_path(kind, state)).collect();
            for entry in std::fs::read_dir(kind.directory().join("testdata")).into_iter().flatten().flatten() {
                if !captured_files.contains(&entry.path()) {
                    std::fs::remove_file(entry.path()).unwrap_or_else(|error| panic!("{error}"));
                }
            }
        }
        let committed: Option<HealthTests> = path
            .is_file()
            .then(|| serde_saphyr::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        if committed.as_ref().map(|committed| &committed.tests) != Some(&tests) {
            stale.push(format!(
                "{}: expected results differ from the live run:\n{}",
                path.display(),
                health_tests_text(&tests)
            ));
        }
    }
    assert!(stale.is_empty(), "the committed Argo CD fixtures are stale; run {REFRESH_COMMAND}:\n{}", stale.join("\n"));
    if refreshing() {
        check_committed_fixtures();
    }
}
