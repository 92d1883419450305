//! The `kubectl apply` path as the README shows it, and what Argo CD makes of the result.
//!
//! Black-box: `kubectl apply -f crds/`, the example's namespaces, stand-in workloads and
//! manifests; the operator run from the host as `stackscope run` (no chart on this path, so the
//! admin kubeconfig); then what users see through kubectl — printer columns, `kubectl explain`,
//! refusals naming the field — and the shipped Argo CD health checks
//! (`argocd/argocd-cm-snippet.yaml`, run by the argocd-health checker in Argo CD's Lua
//! interpreter) over the live objects: Progressing while the pods do not run, Healthy once they
//! are Ready (this control plane has no kubelet: the test writes the pods' status as one would,
//! with `kubectl patch --subresource=status`), Degraded when a monitor is rejected and when an
//! owned object drifted under `driftPolicy: Report`.

use std::time::Duration;

use serde_json::{Value, json};
use stackscope_e2e::{Cluster, HostOperator, artifacts_dir, condition, repo_root, run, tool_dir, wait_for};

const STACK_NAMESPACE: &str = "observability";
const APPS_NAMESPACE: &str = "machineavatars";
const STACK: &str = "machineavatars";
const STACK_SELECTOR: &str = "stackscope.dev/stack=machineavatars";

/// A monitor whose relabeling regex Prometheus would refuse: the API server's schema cannot
/// parse regexes, the operator rejects it.
const BAD_REGEX_MONITOR: &str = r#"
apiVersion: stackscope.dev/v1alpha1
kind: ServiceMonitor
metadata:
  name: bad-regex
  namespace: machineavatars
  labels:
    platform: machineavatars
spec:
  selector:
    matchLabels:
      app: gateway
  endpoints:
    - port: http
      relabelings:
        - sourceLabels: [__meta_kubernetes_pod_name]
          regex: "(unclosed"
          targetLabel: pod
"#;

fn step(what: &str) {
    eprintln!("e2e(kubectl path): {what}");
}

fn path(relative: &str) -> String {
    repo_root().join(relative).to_string_lossy().into_owned()
}

fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

fn stack(cluster: &Cluster) -> Result<Value, String> {
    cluster
        .get(&["observabilitystack", STACK, "-n", STACK_NAMESPACE])?
        .ok_or_else(|| format!("observabilitystack {STACK_NAMESPACE}/{STACK} is missing"))
}

/// Argo CD's verdict on a live object: the script argocd-cm would pick for its kind, from the
/// snippet users merge into argocd-cm.
fn argocd_health(object: &Value) -> Result<(String, String), String> {
    let checker = tool_dir("argocd-health")?.join("argocd-health");
    let snippet = path("argocd/argocd-cm-snippet.yaml");
    let output = run(&checker, &["--configmap", &snippet, "-"], &[], Some(&object.to_string()))?;
    let health: Value = serde_json::from_str(output.trim()).map_err(|error| format!("argocd-health: {error}"))?;
    let text = |field: &str| health[field].as_str().unwrap_or_default().to_owned();
    Ok((text("status"), text("message")))
}

fn reset(cluster: &Cluster) -> Result<(), String> {
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        cluster.remove_namespace(namespace)?;
    }
    cluster.kubectl(&["delete", "clusterroles,clusterrolebindings", "-l", STACK_SELECTOR, "--ignore-not-found"])?;
    Ok(())
}

fn install(cluster: &Cluster) -> Result<(), String> {
    step("kubectl apply -f crds/, then the example");
    cluster.kubectl(&["apply", "-f", &path("crds")])?;
    cluster.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/observabilitystacks.stackscope.dev",
        "crd/servicemonitors.stackscope.dev",
    ])?;
    cluster.kubectl(&["create", "namespace", STACK_NAMESPACE])?;
    // The stand-ins create the machineavatars namespace and the Services the monitors select.
    cluster.kubectl(&["apply", "-f", &path("examples/workloads/machineavatars.yaml")])?;
    let applied = cluster.kubectl(&["apply", "-f", &path("examples/machineavatars")])?;
    expect(applied.contains("observabilitystack.stackscope.dev/machineavatars created"), || {
        format!("kubectl apply printed: {applied}")
    })
}

/// What `kubectl get` and `kubectl explain` show, and what the API server refuses.
fn kubectl_views(cluster: &Cluster) -> Result<(), String> {
    step("kubectl get: printer columns");
    let stacks = cluster.kubectl(&["get", "obs", "-n", STACK_NAMESPACE])?;
    let header: Vec<&str> = stacks.lines().next().unwrap_or_default().split_whitespace().collect();
    expect(header == ["NAME", "ENVIRONMENT", "READY", "DRIFTED", "MONITORS", "REJECTED", "AGE"], || {
        format!("kubectl get obs columns: {stacks}")
    })?;
    let row: Vec<&str> = stacks.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    expect(row.get(..6) == Some(&["machineavatars", "production", "True", "False", "5", "0"][..]), || {
        format!("kubectl get obs row: {stacks}")
    })?;
    let monitors = cluster.kubectl(&["get", "ssmon", "-n", APPS_NAMESPACE])?;
    let header: Vec<&str> = monitors.lines().next().unwrap_or_default().split_whitespace().collect();
    expect(header == ["NAME", "ACCEPTED", "REASON", "ENDPOINTS", "AGE"], || format!("kubectl get ssmon: {monitors}"))?;
    let accepted = monitors.lines().skip(1).filter(|line| line.split_whitespace().nth(1) == Some("True")).count();
    expect(accepted == 5, || format!("5 monitors should show ACCEPTED True: {monitors}"))?;
    let both = cluster.kubectl(&["get", "stackscope", "-A"])?;
    expect(
        both.contains("observabilitystack.stackscope.dev/machineavatars") && both.contains("servicemonitor"),
        || format!("the `stackscope` category should list both kinds: {both}"),
    )?;

    step("kubectl explain: the fields' descriptions");
    let explained = cluster.kubectl(&["explain", "observabilitystack.spec.logging.loki"])?;
    expect(explained.contains("DESCRIPTION:") && explained.contains("FIELDS:"), || format!("explain: {explained}"))?;
    let undocumented: Vec<&str> = explained
        .split("FIELDS:")
        .nth(1)
        .unwrap_or_default()
        .split("\n\n")
        .filter(|field| !field.trim().is_empty() && field.trim().lines().count() < 2)
        .collect();
    expect(undocumented.is_empty(), || format!("fields without a description: {undocumented:?}\n{explained}"))?;
    let endpoints =
        cluster.kubectl(&["explain", "servicemonitor.spec.endpoints", "--api-version=stackscope.dev/v1alpha1"])?;
    expect(endpoints.contains("scrapeTimeout"), || format!("explain endpoints: {endpoints}"))?;

    step("invalid manifests are refused by the API server, naming the field");
    let too_slow = r#"{"apiVersion":"stackscope.dev/v1alpha1","kind":"ServiceMonitor",
        "metadata":{"name":"api","namespace":"machineavatars"},
        "spec":{"selector":{"matchLabels":{"app":"api"}},
                "endpoints":[{"port":"http","interval":"10s","scrapeTimeout":"30s"}]}}"#;
    let refused = cluster.kubectl_stdin(&["apply", "-f", "-"], too_slow).err().unwrap_or_default();
    expect(
        refused.contains("spec.endpoints[0].scrapeTimeout") && refused.contains("must not exceed interval"),
        || format!("scrapeTimeout > interval should be refused naming the field: {refused:?}"),
    )?;
    let misspelt = too_slow.replace("\"interval\":\"10s\",\"scrapeTimeout\":\"30s\"", "\"intervall\":\"10s\"");
    let refused = cluster.kubectl_stdin(&["apply", "-f", "-"], &misspelt).err().unwrap_or_default();
    expect(refused.contains("unknown field \"spec.endpoints[0].intervall\""), || {
        format!("an unknown field should be refused: {refused:?}")
    })?;
    expect(cluster.get(&["servicemonitors.stackscope.dev", "api", "-n", APPS_NAMESPACE])?.is_none(), || {
        "a refused manifest was stored".to_owned()
    })
}

/// Applied, the pods not running: Argo CD shows the stack Progressing, and READY says False.
fn before_the_pods_run(cluster: &Cluster) -> Result<(), String> {
    step("applied, the pods not running: Progressing");
    let stack = stack(cluster)?;
    expect(condition(&stack, "Ready") == Some("False") && condition(&stack, "Progressing") == Some("True"), || {
        format!("the applied stack without running pods: {}", stack["status"]["conditions"])
    })?;
    let (status, message) = argocd_health(&stack)?;
    expect(status == "Progressing" && message.contains("workload(s) not ready"), || {
        format!("the stack without running pods: {status}: {message}")
    })
}

/// Runs the stack's pods as a kubelet would until the stack is Ready.
fn run_the_pods(cluster: &Cluster, operator: &HostOperator) -> Result<(), String> {
    step("the pods run (their status written as a kubelet would): Ready");
    wait_for("the stack Ready once its pods run", Duration::from_secs(120), || {
        cluster.run_pods_as_a_kubelet(STACK_NAMESPACE)?;
        Ok((condition(&stack(cluster)?, "Ready") == Some("True")).then_some(()))
    })
    .map_err(|error| format!("{error}\n{}", operator.diagnosis()))?;
    cluster.kubectl(&[
        "wait",
        "--for=condition=Ready",
        &format!("observabilitystack/{STACK}"),
        "-n",
        STACK_NAMESPACE,
        "--timeout=10s",
    ])?;
    Ok(())
}

fn argocd(cluster: &Cluster, operator: &HostOperator) -> Result<(), String> {
    step("Argo CD health of the Ready stack and its monitors");
    let (status, message) = argocd_health(&stack(cluster)?)?;
    expect(status == "Healthy" && message.contains("5 ServiceMonitor(s) accepted"), || {
        format!("the Ready stack: {status}: {message}")
    })?;
    for monitor in cluster.list(&["servicemonitors.stackscope.dev", "-n", APPS_NAMESPACE])? {
        let (status, message) = argocd_health(&monitor)?;
        expect(status == "Healthy", || format!("monitor {}: {status}: {message}", monitor["metadata"]["name"]))?;
    }

    step("a rejected monitor: Degraded, naming the field");
    cluster.kubectl_stdin(&["apply", "-f", "-"], BAD_REGEX_MONITOR)?;
    let monitor = wait_for("the bad monitor rejected", Duration::from_secs(60), || {
        let monitor = cluster.get(&["servicemonitors.stackscope.dev", "bad-regex", "-n", APPS_NAMESPACE])?;
        Ok(monitor.filter(|monitor| condition(monitor, "Accepted") == Some("False")))
    })
    .map_err(|error| format!("{error}\n{}", operator.diagnosis()))?;
    let (status, message) = argocd_health(&monitor)?;
    expect(status == "Degraded" && message.contains("spec.endpoints[0].relabelings[0].regex"), || {
        format!("the rejected monitor: {status}: {message}")
    })?;
    let degraded = wait_for("the stack Degraded by the rejection", Duration::from_secs(60), || {
        let stack = stack(cluster)?;
        Ok((condition(&stack, "Degraded") == Some("True")).then_some(stack))
    })?;
    let (status, message) = argocd_health(&degraded)?;
    expect(status == "Degraded" && message.contains("machineavatars/bad-regex"), || {
        format!("the stack with a rejected monitor: {status}: {message}")
    })?;
    cluster.kubectl(&["delete", "servicemonitors.stackscope.dev", "bad-regex", "-n", APPS_NAMESPACE])?;

    step("drift under driftPolicy Report: Degraded, naming the object");
    cluster.kubectl(&[
        "patch",
        "observabilitystack",
        STACK,
        "-n",
        STACK_NAMESPACE,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"driftPolicy":"Report"}}"#,
    ])?;
    let generation = stack(cluster)?["metadata"]["generation"].as_i64();
    wait_for("the stack Ready under Report", Duration::from_secs(60), || {
        let stack = stack(cluster)?;
        let current = stack["status"]["observedGeneration"].as_i64() == generation;
        Ok((current && condition(&stack, "Ready") == Some("True") && condition(&stack, "Degraded") != Some("True"))
            .then_some(()))
    })?;
    cluster.edit_config_map_by_hand(STACK_NAMESPACE, "machineavatars-loki", "loki.yaml")?;
    let drifted = wait_for("the stack Drifted", Duration::from_secs(90), || {
        let stack = stack(cluster)?;
        Ok((condition(&stack, "Drifted") == Some("True")).then_some(stack))
    })
    .map_err(|error| format!("{error}\n{}", operator.diagnosis()))?;
    let (status, message) = argocd_health(&drifted)?;
    expect(status == "Degraded" && message.contains("machineavatars-loki"), || {
        format!("the drifted stack: {status}: {message}")
    })?;
    let columns = cluster.kubectl(&["get", "obs", STACK, "-n", STACK_NAMESPACE, "--no-headers"])?;
    expect(columns.split_whitespace().nth(3) == Some("True"), || format!("DRIFTED should show True: {columns}"))?;
    Ok(())
}

fn kubectl_path() -> Result<(), String> {
    let cluster = Cluster::start("kubectl-path")?;
    let artifacts = artifacts_dir()?;
    reset(&cluster)?;
    install(&cluster)?;

    step("the operator from the host: stackscope run");
    let deployment = json!({
        "metadata": {"namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"args": ["run", "--listen=0.0.0.0:8080"]}]}}},
    });
    let operator =
        HostOperator::start(&deployment, &cluster.kubeconfig, "kubectl-path", &artifacts.join("kubectl-path.log"))?;
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=Applied",
            &format!("observabilitystack/{STACK}"),
            "-n",
            STACK_NAMESPACE,
            "--timeout=120s",
        ])
        .map_err(|error| format!("{error}\n{}", operator.diagnosis()))?;

    before_the_pods_run(&cluster)?;
    run_the_pods(&cluster, &operator)?;
    kubectl_views(&cluster)?;
    argocd(&cluster, &operator)?;

    step("kubectl delete -f the example: the stack's objects are collected");
    cluster.kubectl(&["delete", "-f", &path("examples/machineavatars"), "--wait=false"])?;
    wait_for("the stack and its objects gone", Duration::from_secs(120), || {
        let left = cluster.list(&["all,configmaps", "-n", STACK_NAMESPACE, "-l", STACK_SELECTOR])?;
        let cluster_scoped = cluster.list(&["clusterroles,clusterrolebindings", "-l", STACK_SELECTOR])?;
        let stack = cluster.get(&["observabilitystack", STACK, "-n", STACK_NAMESPACE])?;
        Ok((left.is_empty() && cluster_scoped.is_empty() && stack.is_none()).then_some(()))
    })?;
    let errors = operator.reconcile_errors()?;
    expect(errors == 0.0, || format!("{errors} reconcile errors (see {})", operator.log.display()))?;
    operator.stop()?;
    reset(&cluster)
}

#[test]
fn kubectl_apply_path_and_argocd_health_over_real_status() {
    if let Err(error) = kubectl_path() {
        panic!("{error}");
    }
}
