//! The Helm path, namespace scope (`rbac.scope=namespace`): the operator's ServiceAccount gets a
//! Role in the one watched namespace, and the API server refuses it everything else it does not
//! need; the operator, run from the host with that ServiceAccount's token and the Deployment's
//! arguments, reconciles a stack there without a single refused call, and leaves another
//! namespace's stack alone.

use std::time::Duration;

use serde_json::Value;
use stackscope_e2e::{Cluster, HostOperator, artifacts_dir, condition, repo_root, wait_for};

const RELEASE: &str = "stackscope-team-a";
const NAMESPACE: &str = "team-a-system";
const WATCHED: &str = "team-a";
const OTHER: &str = "team-b";
const SERVICE_ACCOUNT: &str = "system:serviceaccount:team-a-system:stackscope-team-a";
const RELEASE_SELECTOR: &str = "app.kubernetes.io/instance=stackscope-team-a";

fn step(what: &str) {
    eprintln!("e2e(namespace scope): {what}");
}

fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

/// A small stack with a Service, its workload and two ServiceMonitors (one naming a port the
/// Service does not have, so that the operator publishes events), all in one namespace.
fn team_manifests(namespace: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: {namespace}, labels: {{app: shop}}}}
spec:
  selector: {{app: shop}}
  ports: [{{name: http, port: 8000, targetPort: 8000}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers: [{{name: shop, image: shop:1.0, ports: [{{name: http, containerPort: 8000}}]}}]
---
apiVersion: stackscope.dev/v1alpha1
kind: ServiceMonitor
metadata: {{name: shop, namespace: {namespace}, labels: {{team: {namespace}}}}}
spec:
  selector: {{matchLabels: {{app: shop}}}}
  endpoints: [{{port: http, interval: 15s}}]
---
apiVersion: stackscope.dev/v1alpha1
kind: ServiceMonitor
metadata: {{name: shop-typo, namespace: {namespace}, labels: {{team: {namespace}}}}}
spec:
  selector: {{matchLabels: {{app: shop}}}}
  endpoints: [{{port: metrics, interval: 15s}}]
---
apiVersion: stackscope.dev/v1alpha1
kind: ObservabilityStack
metadata: {{name: main, namespace: {namespace}}}
spec:
  environment: development
  monitorSelector: {{matchLabels: {{team: {namespace}}}}}
"#
    )
}

fn stack(cluster: &Cluster, namespace: &str) -> Result<Value, String> {
    cluster.get(&["observabilitystack", "main", "-n", namespace])?.ok_or(format!("no stack {namespace}/main"))
}

fn reset(cluster: &Cluster) -> Result<(), String> {
    if cluster.helm(&["status", RELEASE, "-n", NAMESPACE]).is_ok() {
        cluster.helm(&["uninstall", RELEASE, "-n", NAMESPACE, "--wait"])?;
    }
    for namespace in [WATCHED, OTHER, NAMESPACE] {
        cluster.remove_namespace(namespace)?;
    }
    cluster.kubectl(&[
        "delete",
        "clusterroles,clusterrolebindings",
        "-l",
        "stackscope.dev/stack=main",
        "--ignore-not-found",
    ])?;
    Ok(())
}

/// What the API server allows the ServiceAccount: its namespace's objects, the cluster-scoped
/// part of a stack's Prometheus RBAC, and nothing else.
fn check_permissions(cluster: &Cluster) -> Result<(), String> {
    step("kubectl auth can-i as the chart's ServiceAccount");
    for (allowed, args) in [
        (true, vec!["list", "observabilitystacks.stackscope.dev", "-n", WATCHED]),
        (true, vec!["patch", "observabilitystacks.stackscope.dev", "--subresource=status", "-n", WATCHED]),
        (true, vec!["get", "secrets", "-n", WATCHED]),
        (true, vec!["create", "configmaps", "-n", WATCHED]),
        (true, vec!["patch", "deployments.apps", "-n", WATCHED]),
        (true, vec!["create", "events.events.k8s.io", "-n", WATCHED]),
        (true, vec!["create", "clusterroles"]),
        (true, vec!["update", "leases.coordination.k8s.io/stackscope-leader", "-n", NAMESPACE]),
        (false, vec!["list", "secrets", "-A"]),
        (false, vec!["get", "secrets", "-n", OTHER]),
        (false, vec!["patch", "secrets", "-n", WATCHED]),
        (false, vec!["list", "observabilitystacks.stackscope.dev", "-A"]),
        (false, vec!["list", "observabilitystacks.stackscope.dev", "-n", OTHER]),
        (false, vec!["list", "servicemonitors.stackscope.dev", "-A"]),
        (false, vec!["create", "configmaps", "-n", OTHER]),
        (false, vec!["patch", "deployments.apps", "-n", "kube-system"]),
        (false, vec!["create", "events.events.k8s.io", "-n", OTHER]),
        (false, vec!["update", "leases.coordination.k8s.io/other-lease", "-n", NAMESPACE]),
        (false, vec!["escalate", "clusterroles"]),
        (false, vec!["bind", "clusterroles"]),
    ] {
        let answer = cluster.can_i(SERVICE_ACCOUNT, &args)?;
        expect(answer == allowed, || format!("can-i {}: expected {allowed}, got {answer}", args.join(" ")))?;
    }
    Ok(())
}

fn namespace_scope() -> Result<(), String> {
    let cluster = Cluster::start("namespace-scope")?;
    let artifacts = artifacts_dir()?;
    reset(&cluster)?;

    step("namespaces, helm install --set rbac.scope=namespace --set watchNamespace=team-a");
    cluster.create_namespace(NAMESPACE, &[("pod-security.kubernetes.io/enforce", "restricted")])?;
    cluster.create_namespace(WATCHED, &[])?;
    cluster.create_namespace(OTHER, &[])?;
    let chart = repo_root().join("charts/stackscope").to_string_lossy().into_owned();
    // One replica with a lease, so that the Lease permissions are exercised too.
    cluster.helm(&[
        "install",
        RELEASE,
        &chart,
        "-n",
        NAMESPACE,
        "--set",
        "rbac.scope=namespace",
        "--set",
        "watchNamespace=team-a",
        "--set",
        "leaderElection.enabled=true",
    ])?;
    for (kind, namespace, name) in [
        ("role", WATCHED, RELEASE),
        ("rolebinding", WATCHED, RELEASE),
        ("role", NAMESPACE, "stackscope-team-a-leader-election"),
    ] {
        expect(cluster.get(&[kind, name, "-n", namespace])?.is_some(), || format!("no {kind} {namespace}/{name}"))?;
    }
    expect(cluster.get(&["clusterrole", "team-a-system-stackscope-team-a"])?.is_none(), || {
        "namespace scope must not create the cluster-wide role".to_owned()
    })?;
    check_permissions(&cluster)?;

    step("a stack in team-a and one in team-b");
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &team_manifests(WATCHED))?;
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], &team_manifests(OTHER))?;

    step("the operator from the host, with the Deployment's args, as the chart's ServiceAccount");
    let deployment = cluster.get(&["deployment", RELEASE, "-n", NAMESPACE])?.ok_or("no Deployment")?;
    let kubeconfig =
        cluster.service_account_kubeconfig(NAMESPACE, RELEASE, &artifacts.join("namespace-scope-sa.kubeconfig"))?;
    let operator = HostOperator::start(
        &deployment,
        &kubeconfig,
        "stackscope-team-a-host",
        &artifacts.join("namespace-scope-operator.log"),
    )?;
    // Applied: this control plane runs no pods, so Ready (running) never comes; the operator
    // lists the pods of the workloads that are not ready, with the Role's permissions.
    let applied = wait_for("the team-a stack to be applied", Duration::from_secs(180), || {
        let stack = stack(&cluster, WATCHED)?;
        Ok((condition(&stack, "Applied") == Some("True")).then_some(stack))
    })
    .map_err(|error| format!("{error}\n{}", operator.diagnosis()))?;
    expect(
        applied["status"]["acceptedMonitors"] == serde_json::json!([{"namespace": WATCHED, "name": "shop"}]),
        || format!("accepted: {}", applied["status"]["acceptedMonitors"]),
    )?;
    expect(applied["status"]["rejectedMonitors"][0]["field"] == "spec.endpoints[0].port", || {
        format!("rejected: {}", applied["status"]["rejectedMonitors"])
    })?;
    wait_for("the MonitorRejected and Rejected events in team-a", Duration::from_secs(60), || {
        let events = cluster.list(&["events.events.k8s.io", "-n", WATCHED])?;
        let reasons: Vec<&str> = events.iter().filter_map(|event| event["reason"].as_str()).collect();
        Ok((reasons.contains(&"MonitorRejected") && reasons.contains(&"Rejected")).then_some(()))
    })?;
    for kind in ["clusterrole", "clusterrolebinding"] {
        expect(cluster.get(&[kind, "stackscope-team-a-main-prometheus"])?.is_some(), || {
            format!("the operator created no {kind} for team-a's Prometheus")
        })?;
    }
    let lease = cluster.get(&["lease", "stackscope-leader", "-n", NAMESPACE])?.ok_or("no Lease")?;
    expect(lease["spec"]["holderIdentity"] == operator.pod_name.as_str(), || format!("lease: {}", lease["spec"]))?;
    // team-b is not watched: its stack never got the operator's finalizer or a status.
    let other = stack(&cluster, OTHER)?;
    expect(other["metadata"]["finalizers"].is_null() && other["status"].is_null(), || {
        format!("the team-b stack was touched: {other}")
    })?;
    operator.assert_nothing_refused()?;
    let errors = operator.reconcile_errors()?;
    expect(errors == 0.0, || format!("{errors} reconcile errors (see {})", operator.log.display()))?;

    step("the stack deleted, the operator stopped, helm uninstall");
    cluster.kubectl(&["delete", "observabilitystack", "main", "-n", WATCHED, "--wait=false"])?;
    wait_for("team-a's stack and its cluster-scoped RBAC to be gone", Duration::from_secs(120), || {
        let left = cluster.get(&["observabilitystack", "main", "-n", WATCHED])?.is_some()
            || cluster.get(&["clusterrole", "stackscope-team-a-main-prometheus"])?.is_some();
        Ok((!left).then_some(()))
    })?;
    operator.assert_nothing_refused()?;
    operator.stop()?;
    cluster.helm(&["uninstall", RELEASE, "-n", NAMESPACE, "--wait"])?;
    wait_for("every object of the release to be gone", Duration::from_secs(120), || {
        let namespaced = cluster.list(&[
            "deployments,replicasets,pods,serviceaccounts,services,roles,rolebindings,leases",
            "-A",
            "-l",
            RELEASE_SELECTOR,
        ])?;
        let cluster_scoped = cluster.list(&["clusterroles,clusterrolebindings", "-l", RELEASE_SELECTOR])?;
        Ok((namespaced.is_empty() && cluster_scoped.is_empty()).then_some(()))
    })?;
    for namespace in [WATCHED, OTHER, NAMESPACE] {
        cluster.remove_namespace(namespace)?;
    }
    Ok(())
}

#[test]
fn helm_install_in_namespace_scope_grants_only_the_watched_namespace() {
    if let Err(error) = namespace_scope() {
        panic!("{error}");
    }
}
