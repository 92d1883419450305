//! The Helm path, cluster scope: `helm install` the chart (CRDs installed by Helm), the operator
//! running from the host as the chart's ServiceAccount applies the MachineAvatars example (no pod
//! runs on this control plane, so the stack stays Progressing), `helm upgrade` changes values the
//! Deployment and the running operator act on, and `helm uninstall` leaves only what users
//! expect.
//!
//! Expected end state after deleting the stack and uninstalling the release:
//! - the stack's objects are gone: namespaced ones garbage-collected through their owner
//!   reference, the cluster-scoped ClusterRole/ClusterRoleBinding removed by its finalizer;
//! - nothing labelled with the release remains (Deployment and its ReplicaSets/Pods,
//!   ServiceAccount, RBAC, Service, Lease, PodDisruptionBudget, the operator's ServiceMonitor);
//! - Helm keeps the CRDs, and with them the users' own ServiceMonitors;
//! - the namespace the user created for the release stays, empty but for what Kubernetes puts
//!   in every namespace.

use std::time::Duration;

use serde_json::Value;
use stackscope_e2e::{Cluster, HostOperator, artifacts_dir, condition, first_container, repo_root, wait_for};

const RELEASE: &str = "stackscope";
const NAMESPACE: &str = "stackscope-system";
const STACK_NAMESPACE: &str = "observability";
const APPS_NAMESPACE: &str = "machineavatars";
const STACK: &str = "machineavatars";
const SERVICE_ACCOUNT: &str = "system:serviceaccount:stackscope-system:stackscope";
const RELEASE_SELECTOR: &str = "app.kubernetes.io/instance=stackscope";
const STACK_SELECTOR: &str = "stackscope.dev/stack=machineavatars";
const PROMETHEUS_CLUSTER_OBJECT: &str = "stackscope-observability-machineavatars-prometheus";

fn step(what: &str) {
    eprintln!("e2e(cluster scope): {what}");
}

fn chart() -> String {
    repo_root().join("charts/stackscope").to_string_lossy().into_owned()
}

fn path(relative: &str) -> String {
    repo_root().join(relative).to_string_lossy().into_owned()
}

/// Leftovers of an earlier, interrupted run.
fn reset(cluster: &Cluster) -> Result<(), String> {
    if cluster.helm(&["status", RELEASE, "-n", NAMESPACE]).is_ok() {
        cluster.helm(&["uninstall", RELEASE, "-n", NAMESPACE, "--wait"])?;
    }
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE, NAMESPACE] {
        cluster.remove_namespace(namespace)?;
    }
    cluster.kubectl(&["delete", "clusterroles,clusterrolebindings", "-l", STACK_SELECTOR, "--ignore-not-found"])?;
    Ok(())
}

fn stack(cluster: &Cluster) -> Result<Value, String> {
    cluster
        .get(&["observabilitystack", STACK, "-n", STACK_NAMESPACE])?
        .ok_or_else(|| format!("observabilitystack {STACK_NAMESPACE}/{STACK} is missing"))
}

/// Waits until the stack's current generation is applied (this control plane runs no pods, so
/// Ready, which means running, never comes).
fn wait_applied(cluster: &Cluster, operator: &HostOperator, what: &str) -> Result<Value, String> {
    let generation = stack(cluster)?["metadata"]["generation"].as_i64();
    wait_for(what, Duration::from_secs(180), || {
        let stack = stack(cluster)?;
        let observed = stack["status"]["observedGeneration"].as_i64();
        Ok((condition(&stack, "Applied") == Some("True") && observed == generation).then_some(stack))
    })
    .map_err(|error| format!("{error}\n{}", operator.diagnosis()))
}

fn deployment(cluster: &Cluster) -> Result<Value, String> {
    cluster.get(&["deployment", RELEASE, "-n", NAMESPACE])?.ok_or("the chart's Deployment is missing".to_owned())
}

fn patch_stack(cluster: &Cluster, patch: &str) -> Result<(), String> {
    cluster
        .kubectl(&["patch", "observabilitystack", STACK, "-n", STACK_NAMESPACE, "--type", "merge", "-p", patch])
        .map(drop)
}

fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

fn install(cluster: &Cluster) -> Result<(), String> {
    step("namespace with the restricted Pod Security Standard enforced, helm install");
    cluster.create_namespace(NAMESPACE, &[("pod-security.kubernetes.io/enforce", "restricted")])?;
    let notes = cluster.helm(&["install", RELEASE, &chart(), "-n", NAMESPACE])?;
    expect(notes.contains("stackscope 0.1.0 is installed") || notes.contains("is installed as release"), || {
        format!("helm install printed no NOTES:\n{notes}")
    })?;
    for crd in ["observabilitystacks.stackscope.dev", "servicemonitors.stackscope.dev"] {
        cluster.kubectl(&["wait", "--for=condition=Established", "--timeout=60s", &format!("crd/{crd}")])?;
    }
    for (kind, namespace, name) in [
        ("serviceaccount", Some(NAMESPACE), RELEASE),
        ("clusterrole", None, "stackscope-system-stackscope"),
        ("clusterrolebinding", None, "stackscope-system-stackscope"),
        ("deployment", Some(NAMESPACE), RELEASE),
        ("service", Some(NAMESPACE), "stackscope-metrics"),
    ] {
        let mut args = vec![kind, name];
        if let Some(namespace) = namespace {
            args.extend(["-n", namespace]);
        }
        expect(cluster.get(&args)?.is_some(), || format!("helm install created no {kind} {name}"))?;
    }
    // No kubelet runs here, but the ReplicaSet controller creates the pod, and the PodSecurity
    // admission plugin admits it into a namespace enforcing `restricted` only if the chart's
    // security context complies.
    wait_for("the operator's pod to be admitted under the restricted standard", Duration::from_secs(60), || {
        Ok((!cluster.list(&["pods", "-n", NAMESPACE, "-l", RELEASE_SELECTOR])?.is_empty()).then_some(()))
    })
    .map_err(|error| {
        let events = cluster.kubectl(&["get", "events", "-n", NAMESPACE]).unwrap_or_default();
        format!("{error}\n{events}")
    })?;
    Ok(())
}

/// What the chart's ServiceAccount may and may not do, as the API server decides.
fn check_permissions(cluster: &Cluster) -> Result<(), String> {
    step("kubectl auth can-i as the chart's ServiceAccount");
    for (allowed, args) in [
        (true, vec!["list", "observabilitystacks.stackscope.dev", "-A"]),
        (true, vec!["patch", "observabilitystacks.stackscope.dev", "--subresource=status", "-n", "anywhere"]),
        (true, vec!["patch", "deployments.apps", "-n", "anywhere"]),
        (true, vec!["list", "secrets", "-A"]),
        (true, vec!["create", "clusterroles"]),
        (false, vec!["escalate", "clusterroles"]),
        (false, vec!["bind", "clusterroles"]),
        (false, vec!["create", "secrets", "-n", "anywhere"]),
        (false, vec!["patch", "secrets", "-n", "anywhere"]),
        (false, vec!["create", "pods", "-n", "anywhere"]),
        (false, vec!["delete", "namespaces"]),
        (false, vec!["impersonate", "serviceaccounts"]),
        (false, vec!["patch", "customresourcedefinitions.apiextensions.k8s.io"]),
    ] {
        let answer = cluster.can_i(SERVICE_ACCOUNT, &args)?;
        expect(answer == allowed, || format!("can-i {}: expected {allowed}, got {answer}", args.join(" ")))?;
    }
    Ok(())
}

fn apply_example(cluster: &Cluster) -> Result<(), String> {
    step("the example: stand-in workloads, the ServiceMonitors, the stack");
    cluster.kubectl(&["apply", "--server-side", "-f", &path("examples/workloads/machineavatars.yaml")])?;
    cluster.create_namespace(STACK_NAMESPACE, &[])?;
    cluster.kubectl(&["apply", "--server-side", "-f", &path("examples/machineavatars")])?;
    Ok(())
}

/// helm upgrade: two replicas (leader election, a PodDisruptionBudget, a rolling update) and
/// the operator's own ServiceMonitor, which the running operator must pick up.
fn upgrade(cluster: &Cluster, operator: &HostOperator) -> Result<(), String> {
    step("helm upgrade: replicas=2 and the operator's ServiceMonitor, selected by the example stack");
    cluster.helm(&[
        "upgrade",
        RELEASE,
        &chart(),
        "-n",
        NAMESPACE,
        "--set",
        "replicas=2",
        "--set",
        "serviceMonitor.enabled=true",
        "--set",
        "serviceMonitor.namespace=observability",
        "--set",
        "serviceMonitor.labels.platform=machineavatars",
    ])?;
    let deployment = deployment(cluster)?;
    let container = first_container(&deployment);
    let args: Vec<&str> = container["args"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    expect(deployment["spec"]["replicas"] == 2, || "the Deployment was not scaled to 2".to_owned())?;
    expect(args.contains(&"--leader-election"), || format!("no --leader-election in {args:?}"))?;
    expect(deployment["spec"]["strategy"]["type"] == "RollingUpdate", || "strategy is not RollingUpdate".to_owned())?;
    let pod_name = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|variable| variable["name"] == "POD_NAME")
        .map(|variable| variable["valueFrom"]["fieldRef"]["fieldPath"].clone());
    expect(pod_name == Some(Value::from("metadata.name")), || "POD_NAME is not the downward API's".to_owned())?;
    for (kind, name) in [
        ("poddisruptionbudget", RELEASE),
        ("role", "stackscope-leader-election"),
        ("rolebinding", "stackscope-leader-election"),
        ("lease", "stackscope-leader"),
    ] {
        expect(cluster.get(&[kind, name, "-n", NAMESPACE])?.is_some(), || format!("helm upgrade created no {kind}"))?;
    }

    step("the running operator accepts the new ServiceMonitor and scrapes the operator");
    let monitor = wait_for("the operator's ServiceMonitor to be Accepted", Duration::from_secs(90), || {
        let monitor = cluster.get(&["servicemonitors.stackscope.dev", RELEASE, "-n", STACK_NAMESPACE])?;
        Ok(monitor.filter(|monitor| condition(monitor, "Accepted") == Some("True")))
    })?;
    expect(monitor["status"]["stacks"] == serde_json::json!(["observability/machineavatars"]), || {
        format!("the monitor is not rendered by the stack: {}", monitor["status"])
    })?;
    wait_for("the scrape job of the operator in prometheus.yml", Duration::from_secs(60), || {
        let config = cluster.get(&["configmap", "machineavatars-prometheus", "-n", STACK_NAMESPACE])?;
        let text = config.as_ref().and_then(|config| config["data"]["prometheus.yml"].as_str()).unwrap_or_default();
        Ok(text.contains("job_name: serviceMonitor/observability/stackscope/0").then_some(()))
    })?;
    let stack = wait_applied(cluster, operator, "the stack applied with the operator's monitor")?;
    let own = "Deployment/stackscope-system/stackscope";
    let findings = stack["status"]["probeFindings"].as_array().cloned().unwrap_or_default();
    expect(findings.iter().all(|finding| finding["workload"] != own), || {
        format!("the operator's probes differ from what its ServiceMonitor declares: {findings:?}")
    })?;
    Ok(())
}

fn end_state(cluster: &Cluster) -> Result<(), String> {
    step("helm uninstall, and what remains");
    let output = cluster.helm(&["uninstall", RELEASE, "-n", NAMESPACE, "--wait"])?;
    expect(output.contains("uninstalled"), || format!("helm uninstall said: {output}"))?;
    let releases = cluster.helm(&["list", "-n", NAMESPACE, "-q"])?;
    expect(!releases.lines().any(|release| release == RELEASE), || format!("{RELEASE} is still listed"))?;
    wait_for("every object of the release to be gone", Duration::from_secs(120), || {
        let kinds = "deployments,replicasets,pods,serviceaccounts,services,roles,rolebindings,leases,\
                     poddisruptionbudgets,secrets,configmaps";
        let namespaced = cluster.list(&[kinds, "-A", "-l", RELEASE_SELECTOR])?;
        let cluster_scoped = cluster.list(&["clusterroles,clusterrolebindings", "-l", RELEASE_SELECTOR])?;
        let monitors = cluster.list(&["servicemonitors.stackscope.dev", "-A", "-l", RELEASE_SELECTOR])?;
        let helm_state = cluster.list(&["secrets", "-n", NAMESPACE, "-l", "owner=helm"])?;
        Ok((namespaced.is_empty() && cluster_scoped.is_empty() && monitors.is_empty() && helm_state.is_empty())
            .then_some(()))
    })?;
    // What users expect to stay: the CRDs (Helm never deletes them) and their own resources.
    for crd in ["observabilitystacks.stackscope.dev", "servicemonitors.stackscope.dev"] {
        expect(cluster.get(&["crd", crd])?.is_some(), || format!("helm uninstall deleted the CRD {crd}"))?;
    }
    let monitors = cluster.list(&["servicemonitors.stackscope.dev", "-n", APPS_NAMESPACE])?;
    expect(monitors.len() == 5, || format!("the users' 5 ServiceMonitors should stay, found {}", monitors.len()))?;
    // The namespace the user created stays, holding only what Kubernetes puts in every one.
    let mut left: Vec<String> = cluster
        .list(&["serviceaccounts,configmaps,services,deployments,roles,rolebindings,leases", "-n", NAMESPACE])?
        .iter()
        .map(|object| {
            format!("{}/{}", object["kind"].as_str().unwrap_or("?"), object["metadata"]["name"].as_str().unwrap_or("?"))
        })
        .collect();
    left.sort();
    expect(left == ["ConfigMap/kube-root-ca.crt", "ServiceAccount/default"], || {
        format!("{NAMESPACE} should hold nothing of the release: {left:?}")
    })?;
    Ok(())
}

fn cluster_scope() -> Result<(), String> {
    let cluster = Cluster::start("cluster-scope")?;
    let artifacts = artifacts_dir()?;
    reset(&cluster)?;
    install(&cluster)?;
    check_permissions(&cluster)?;
    apply_example(&cluster)?;

    step("the operator from the host, with the Deployment's args, as the chart's ServiceAccount");
    let kubeconfig =
        cluster.service_account_kubeconfig(NAMESPACE, RELEASE, &artifacts.join("cluster-scope-sa.kubeconfig"))?;
    let operator = HostOperator::start(
        &deployment(&cluster)?,
        &kubeconfig,
        "stackscope-host-1",
        &artifacts.join("cluster-scope-operator-1.log"),
    )?;
    let applied = wait_applied(&cluster, &operator, "the example stack to be applied")?;
    expect(applied["status"]["acceptedMonitors"].as_array().map(Vec::len) == Some(5), || {
        format!("5 monitors should be accepted: {}", applied["status"]["acceptedMonitors"])
    })?;
    for kind in ["clusterrole", "clusterrolebinding"] {
        expect(cluster.get(&[kind, PROMETHEUS_CLUSTER_OBJECT])?.is_some(), || {
            format!("the operator created no {kind} for Prometheus")
        })?;
    }
    operator.assert_nothing_refused()?;

    upgrade(&cluster, &operator)?;
    operator.assert_nothing_refused()?;

    step("the upgraded Deployment's args on the host: leader election through the chart's Lease");
    operator.stop()?;
    let operator = HostOperator::start(
        &deployment(&cluster)?,
        &kubeconfig,
        "stackscope-host-2",
        &artifacts.join("cluster-scope-operator-2.log"),
    )?;
    wait_for("the host operator to hold the chart's Lease", Duration::from_secs(60), || {
        let lease = cluster.get(&["lease", "stackscope-leader", "-n", NAMESPACE])?;
        let holder = lease.as_ref().and_then(|lease| lease["spec"]["holderIdentity"].as_str().map(str::to_owned));
        Ok((holder.as_deref() == Some(operator.pod_name.as_str())).then_some(()))
    })?;
    let (_, ready) = operator.http_get("/ready")?;
    expect(ready.contains("\"leading\""), || format!("/ready does not say leading: {ready}"))?;

    step("drift on an owned ConfigMap is corrected (patch) and reported (event)");
    cluster.edit_config_map_by_hand(STACK_NAMESPACE, "machineavatars-loki", "loki.yaml")?;
    wait_for("the ConfigMap restored and a Drifted event", Duration::from_secs(90), || {
        let config = cluster.get(&["configmap", "machineavatars-loki", "-n", STACK_NAMESPACE])?;
        let restored = config.is_some_and(|config| {
            config["data"]["loki.yaml"].as_str().is_some_and(|text| text.contains("retention_period"))
        });
        let events =
            cluster.list(&["events.events.k8s.io", "-n", STACK_NAMESPACE, "--field-selector", "reason=Drifted"])?;
        Ok((restored && !events.is_empty()).then_some(()))
    })?;

    step("probes.policy Enforce: the operator patches the monitored workloads' probes");
    patch_stack(&cluster, r#"{"spec":{"probes":{"policy":"Enforce"}}}"#)?;
    wait_for("auth-service (no probes in the example) to get its probes", Duration::from_secs(90), || {
        let workload = cluster.get(&["deployment", "auth-service", "-n", APPS_NAMESPACE])?;
        let container = workload.as_ref().map(first_container);
        Ok(container
            .filter(|c| {
                c["livenessProbe"]["httpGet"]["path"] == "/health" && c["readinessProbe"]["httpGet"]["path"] == "/ready"
            })
            .map(drop))
    })?;

    step("a component disabled: the operator prunes its objects");
    patch_stack(&cluster, r#"{"spec":{"tracing":{"enabled":false}}}"#)?;
    wait_applied(&cluster, &operator, "the stack applied without tracing")?;
    wait_for("Jaeger's objects to be pruned", Duration::from_secs(60), || {
        let jaeger = cluster.list(&[
            "all,configmaps",
            "-n",
            STACK_NAMESPACE,
            "-l",
            &format!("{STACK_SELECTOR},app.kubernetes.io/component=jaeger"),
        ])?;
        Ok(jaeger.is_empty().then_some(()))
    })?;
    let errors = operator.reconcile_errors()?;
    expect(errors == 0.0, || format!("{errors} reconcile errors (see {})", operator.log.display()))?;
    operator.assert_nothing_refused()?;

    step("the stack deleted: finalizer removes the ClusterRole, garbage collection the rest");
    cluster.kubectl(&["delete", "observabilitystack", STACK, "-n", STACK_NAMESPACE, "--wait=false"])?;
    wait_for("the stack and everything it created to be gone", Duration::from_secs(120), || {
        let stack_left = cluster.get(&["observabilitystack", STACK, "-n", STACK_NAMESPACE])?.is_some();
        let namespaced = cluster.list(&[
            "all,configmaps,serviceaccounts,persistentvolumeclaims",
            "-n",
            STACK_NAMESPACE,
            "-l",
            STACK_SELECTOR,
        ])?;
        let cluster_scoped = cluster.list(&["clusterroles,clusterrolebindings", "-l", STACK_SELECTOR])?;
        Ok((!stack_left && namespaced.is_empty() && cluster_scoped.is_empty()).then_some(()))
    })?;
    operator.assert_nothing_refused()?;
    operator.stop()?;

    end_state(&cluster)?;
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE, NAMESPACE] {
        cluster.remove_namespace(namespace)?;
    }
    Ok(())
}

#[test]
fn helm_install_upgrade_uninstall_in_cluster_scope() {
    if let Err(error) = cluster_scope() {
        panic!("{error}");
    }
}
