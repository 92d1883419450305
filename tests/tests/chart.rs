//! The Helm chart (`charts/stackscope/`), rendered by the pinned `helm` (tools/build-tools.sh):
//! its version is the crate's, its CRDs are the generated ones, its RBAC grants exactly what
//! the operator calls (`controller::permissions`) in both scopes, its pod meets the restricted
//! Pod Security Standard, its ServiceMonitor passes the operator's own checks, and
//! `values.schema.json` refuses bad values naming the field. The chart installed, upgraded and
//! uninstalled against a control plane is `e2e/`'s.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use stackscope::controller::permissions::{self, Reach};
use stackscope_tests::tools;

const RELEASE_NAMESPACE: &str = "stackscope-system";

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/stackscope")
}

/// `helm ARGS`: success, stdout, stderr.
fn helm(args: &[&str]) -> (bool, String, String) {
    let helm = tools::binary("helm", "helm").unwrap_or_else(|error| panic!("{error}"));
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(helm)
        .args(args)
        // Never the user's Helm configuration, repositories or cache.
        .env("HELM_CONFIG_HOME", scratch.path().join("config"))
        .env("HELM_CACHE_HOME", scratch.path().join("cache"))
        .env("HELM_DATA_HOME", scratch.path().join("data"))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn set_args<'a>(sets: &[&'a str]) -> Vec<&'a str> {
    sets.iter().flat_map(|set| ["--set", set]).collect()
}

/// The objects `helm template` renders for release `stackscope` in `stackscope-system`.
fn template(sets: &[&str]) -> Vec<Value> {
    let chart = chart_dir();
    let mut args = vec!["template", "stackscope", chart.to_str().unwrap(), "--namespace", RELEASE_NAMESPACE];
    args.extend(set_args(sets));
    let (ok, stdout, stderr) = helm(&args);
    assert!(ok, "helm template {sets:?} failed:\n{stderr}");
    stackscope::manifest::documents("helm template", &stdout)
        .unwrap_or_else(|error| panic!("{error}"))
        .into_iter()
        .filter(|document| !document.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().filter_map(|object| object["kind"].as_str().map(str::to_owned)).collect()
}

#[test]
fn chart_version_and_app_version_are_the_crate_version() {
    let text = std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap();
    let chart: Value = serde_saphyr::from_str(&text).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(chart["version"], version, "Chart.yaml version: set it to Cargo.toml's workspace version");
    assert_eq!(chart["appVersion"], version, "Chart.yaml appVersion: set it to Cargo.toml's workspace version");
    let objects = template(&[]);
    let deployment = find(&objects, "Deployment", "stackscope").unwrap();
    let image = &deployment["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &Value::from(format!("ghcr.io/stackscope/stackscope:{version}")));
}

#[test]
fn chart_crds_are_the_ones_generated_from_the_rust_types() {
    let generated = stackscope::crdgen::crd_documents().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for directory in [root.join("crds"), chart_dir().join("crds")] {
        let mut files: Vec<String> = std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut expected: Vec<String> = generated.iter().map(|(name, _)| format!("{name}.yaml")).collect();
        expected.sort();
        assert_eq!(files, expected, "{}: run `make crds`", directory.display());
        for (name, text) in &generated {
            let on_disk = std::fs::read_to_string(directory.join(format!("{name}.yaml"))).unwrap();
            assert!(on_disk == *text, "{}/{name}.yaml is stale: run `make crds`", directory.display());
        }
    }
}

/// One verb on one resource in one place: `*` is every namespace (a ClusterRoleBinding).
type Granted = (String, String, String, String);

/// What the chart's Roles and ClusterRoles grant the operator's ServiceAccount, through their
/// bindings.
fn granted(objects: &[Value]) -> BTreeSet<Granted> {
    let mut granted = BTreeSet::new();
    for binding in objects.iter().filter(|o| o["kind"] == "RoleBinding" || o["kind"] == "ClusterRoleBinding") {
        let subjects = binding["subjects"].as_array().unwrap();
        assert!(
            subjects.iter().all(|s| s["kind"] == "ServiceAccount"
                && s["name"] == "stackscope"
                && s["namespace"] == RELEASE_NAMESPACE),
            "{binding}"
        );
        let scope = match binding["kind"].as_str() {
            Some("RoleBinding") => binding["metadata"]["namespace"].as_str().unwrap().to_owned(),
            _ => "*".to_owned(),
        };
        let role_ref = &binding["roleRef"];
        let role = objects
            .iter()
            .find(|o| {
                o["kind"] == role_ref["kind"]
                    && o["metadata"]["name"] == role_ref["name"]
                    && (o["kind"] == "ClusterRole" || o["metadata"]["namespace"] == binding["metadata"]["namespace"])
            })
            .unwrap_or_else(|| panic!("{binding} refers to no role of the chart"));
        for rule in role["rules"].as_array().unwrap() {
            let strings = |field: &str| -> Vec<String> {
                rule[field].as_array().into_iter().flatten().map(|v| v.as_str().unwrap().to_owned()).collect()
            };
            let mut targets: Vec<(String, String)> =
                strings("nonResourceURLs").into_iter().map(|url| (String::new(), url)).collect();
            for group in strings("apiGroups") {
                targets.extend(strings("resources").into_iter().map(|resource| (group.clone(), resource)));
            }
            for verb in strings("verbs") {
                for (group, resource) in &targets {
                    granted.insert((scope.clone(), group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    granted
}

/// What the operator needs, placed as the chart's scope places it.
fn needed(watched: &str, leader_election: bool, prometheus_operator_monitors: bool) -> BTreeSet<Granted> {
    let mut required = permissions::required().unwrap();
    if prometheus_operator_monitors {
        required.extend(permissions::prometheus_operator_monitors());
    }
    required
        .into_iter()
        .filter_map(|grant| {
            let scope = match grant.reach {
                Reach::Watched => watched.to_owned(),
                Reach::Cluster => "*".to_owned(),
                Reach::Lease if leader_election => RELEASE_NAMESPACE.to_owned(),
                Reach::Lease => return None,
            };
            Some((scope, grant.api_group, grant.resource, grant.verb))
        })
        .collect()
}

#[test]
fn rbac_grants_exactly_what_the_operator_calls_in_both_scopes() {
    for (sets, watched, leader_election) in [
        (vec![], "*", false),
        (vec!["replicas=2"], "*", true),
        (vec!["rbac.prometheusOperatorMonitors=true"], "*", false),
        (vec!["rbac.scope=namespace", "watchNamespace=team-a"], "team-a", false),
        (vec!["rbac.scope=namespace"], RELEASE_NAMESPACE, false),
        (vec!["rbac.scope=namespace", "watchNamespace=team-a", "leaderElection.enabled=true"], "team-a", true),
        (
            vec!["rbac.scope=namespace", "watchNamespace=team-a", "rbac.prometheusOperatorMonitors=true"],
            "team-a",
            false,
        ),
    ] {
        let objects = template(&sets);
        let granted = granted(&objects);
        let prometheus_operator_monitors = sets.contains(&"rbac.prometheusOperatorMonitors=true");
        let needed = needed(watched, leader_election, prometheus_operator_monitors);
        let missing: Vec<_> = needed.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{sets:?}: the chart's RBAC differs from controller::permissions\nmissing: {missing:#?}\nextra: {extra:#?}"
        );
        if watched != "*" {
            // Namespace scope: the one ClusterRole carries only the cluster-scoped part.
            assert!(granted.iter().filter(|g| g.0 == "*").all(|g| g.2 != "secrets" && g.2 != "configmaps"), "{sets:?}");
        }
    }
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

#[test]
fn the_pod_meets_the_restricted_standard_and_probes_the_operators_health() {
    let objects = template(&[]);
    let deployment = find(&objects, "Deployment", "stackscope").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert!(pod["securityContext"]["runAsUser"].as_u64().is_some_and(|user| user > 0));
    let operator = container(deployment);
    let security = &operator["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(operator["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(operator["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(operator["livenessProbe"]["httpGet"]["port"], operator["ports"][0]["containerPort"]);
    assert!(
        operator["resources"]["requests"]["memory"].is_string()
            && operator["resources"]["limits"]["memory"].is_string()
    );
    let args = strings(&operator["args"]);
    assert_eq!(args[0], "run");
    assert!(!args.contains(&"--leader-election"));
    // One replica without a lease: the old pod stops before the new one starts.
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let one = kinds(&objects);
    assert!(
        !one.contains("PodDisruptionBudget") && !one.contains("Lease") && !one.contains("ServiceMonitor"),
        "{one:?}"
    );

    let objects = template(&["replicas=2"]);
    let deployment = find(&objects, "Deployment", "stackscope").unwrap();
    let operator = container(deployment);
    assert!(strings(&operator["args"]).contains(&"--leader-election"));
    for (variable, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
        let env = operator["env"].as_array().unwrap().iter().find(|env| env["name"] == variable).unwrap();
        assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], field, "{variable}");
    }
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    let budget = find(&objects, "PodDisruptionBudget", "stackscope").unwrap();
    assert_eq!(budget["spec"]["selector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"]);
    assert!(find(&objects, "Lease", "stackscope-leader").is_some());
}

#[test]
fn the_operators_own_service_monitor_passes_its_checks_and_declares_the_deployments_probes() {
    let objects = template(&["serviceMonitor.enabled=true", "serviceMonitor.labels.platform=machineavatars"]);
    let monitor = find(&objects, "ServiceMonitor", "stackscope").unwrap();
    let validator = stackscope::schema::SchemaValidator::new();
    assert_eq!(validator.validate("ServiceMonitor", monitor), Vec::new());
    let typed: stackscope::api::ServiceMonitor = serde_json::from_value(monitor.clone()).unwrap();
    assert_eq!(stackscope::validate::monitor(&typed.spec), Vec::new());
    let service: k8s_openapi::api::core::v1::Service =
        serde_json::from_value(find(&objects, "Service", "stackscope-metrics").unwrap().clone()).unwrap();
    assert!(stackscope::resolve::monitor_selects_service(&typed, &service), "the monitor selects the metrics Service");
    // The probes a stack will expect are the ones the operator has: no finding for itself.
    let deployment = find(&objects, "Deployment", "stackscope").unwrap();
    let operator: k8s_openapi::api::core::v1::Container =
        serde_json::from_value(container(deployment).clone()).unwrap();
    let probes = typed.spec.probes.unwrap();
    assert_eq!(probes.container.as_deref(), Some(operator.name.as_str()));
    let compare = stackscope::render::probes::compare;
    assert_eq!(compare(&probes.liveness.unwrap(), operator.liveness_probe.as_ref()), None);
    assert_eq!(compare(&probes.readiness.unwrap(), operator.readiness_probe.as_ref()), None);
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    let chart = chart_dir();
    for (set, field) in [
        ("replicas=-1", "/replicas"),
        ("rbac.scope=everywhere", "/rbac/scope"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("securityContext.runAsUser=0", "/securityContext/runAsUser"),
        ("serviceMonitor.interval=soon", "/serviceMonitor/interval"),
        ("concurrency=0", "/concurrency"),
        ("metrics.port=http", "/metrics/port"),
        ("leaderElection.enabled=sometimes", "/leaderElection/enabled"),
        ("watchNamespace=Team_A", "/watchNamespace"),
        ("replica=2", "'replica' not allowed"),
    ] {
        let (ok, _, stderr) = helm(&["template", "stackscope", chart.to_str().unwrap(), "--set", set]);
        assert!(!ok, "--set {set} was accepted");
        assert!(stderr.contains("values don't meet the specifications of the schema"), "--set {set}: {stderr}");
        assert!(stderr.contains(field), "--set {set}: the message does not name {field}: {stderr}");
    }
}

#[test]
fn helm_lint_strict_is_clean() {
    let chart = chart_dir();
    for sets in [
        vec![],
        vec!["rbac.scope=namespace", "watchNamespace=team-a"],
        vec![
            "replicas=3",
            "serviceMonitor.enabled=true",
            "image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ],
    ] {
        let mut args = vec!["lint", "--strict", chart.to_str().unwrap()];
        args.extend(set_args(&sets));
        let (ok, stdout, stderr) = helm(&args);
        assert!(ok && !stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"), "{sets:?}:\n{stdout}{stderr}");
    }
}
