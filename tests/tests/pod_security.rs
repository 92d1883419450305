//! Every workload stackscope renders runs under the restricted Pod Security Standard, as the API
//! server's own PodSecurity admission decides: a Pod built from each pod template is created
//! with a server-side dry run in a namespace that enforces `restricted`, for the example and
//! every variant (Promtail and Alloy, with and without tracing, Thanos, Alertmanager...).
//!
//! The two exceptions read the node: the log collector (Promtail or Alloy) reads the kubelet's
//! container logs from the node (hostPath), as root because those files are 0640 root;
//! node-exporter runs in the node's network and process namespaces and reads its `/proc`, `/sys`
//! and root filesystem (as `nobody`). PodSecurity refuses that under `restricted` and `baseline`;
//! the test pins the exact violations, so that anything else that creeps in shows, and shows that
//! a namespace enforcing `privileged` admits them (see SECURITY.md for how to lay out the
//! namespaces).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use stackscope::render::Component;
use stackscope_tests::cluster::{client, control_plane, fresh_namespace};
use stackscope_tests::variants;

const RESTRICTED: &str = "pss-restricted";
const PRIVILEGED: &str = "pss-privileged";

async fn enforce(client: &kube::Client, namespace: &str, level: &str) {
    fresh_namespace(client, namespace).await.unwrap();
    let labels = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    Api::<Namespace>::all(client.clone())
        .patch(namespace, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
}

/// A Pod as its controller would create it from a workload's template.
fn pod_of(workload: &Value, namespace: &str) -> Pod {
    let name = workload["metadata"]["name"].as_str().unwrap_or_default();
    let mut spec = workload["spec"]["template"]["spec"].clone();
    // The ServiceAccount is the stack's, not in this namespace; PodSecurity does not look at it.
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("serviceAccountName");
    }
    // A StatefulSet's controller adds a volume per claim template.
    for claim in workload["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let claim_name = claim["metadata"]["name"].as_str().unwrap_or_default();
        let volume =
            json!({"name": claim_name, "persistentVolumeClaim": {"claimName": format!("{claim_name}-{name}-0")}});
        match spec["volumes"].as_array_mut() {
            Some(volumes) => volumes.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("{name}-pss"), "namespace": namespace,
                     "labels": workload["spec"]["template"]["metadata"]["labels"]},
        "spec": spec,
    }))
    .unwrap()
}

/// Creates the Pod with a dry run: `Ok` when admitted, the API server's message when refused.
async fn admit(pods: &Api<Pod>, pod: &Pod) -> Result<(), String> {
    let params = PostParams { dry_run: true, ..PostParams::default() };
    match pods.create(&params, pod).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(response)) => Err(response.message),
        Err(other) => panic!("dry-run create: {other}"),
    }
}

fn is_collector(component: Component) -> bool {
    matches!(component, Component::Promtail | Component::Alloy)
}

/// What PodSecurity says `restricted` lacks for a workload that needs the node, and what must not
/// be among it: the log collector reads the node's log files as root; node-exporter runs in the
/// node's network and process namespaces (so its port is a host port) and reads its `/proc`,
/// `/sys` and root filesystem, as a non-root user without capabilities.
fn node_access(component: Component) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match component {
        Component::Promtail | Component::Alloy => Some((
            &["restricted volume type \"hostPath\"", "runAsNonRoot != true", "runAsUser=0"],
            &[
                "privileged",
                "allowPrivilegeEscalation",
                "unrestricted capabilities",
                "seccompProfile",
                "host namespaces",
                "hostPort",
            ],
        )),
        Component::NodeExporter => Some((
            &["host namespaces (hostNetwork=true, hostPID=true)", "hostPort", "restricted volume types"],
            &[
                "privileged",
                "allowPrivilegeEscalation",
                "unrestricted capabilities",
                "seccompProfile",
                "runAsNonRoot",
                "runAsUser",
            ],
        )),
        _ => None,
    }
}

#[tokio::test]
async fn every_rendered_workload_but_the_log_collector_is_admitted_under_restricted() {
    let plane = control_plane().unwrap();
    let client = client(&plane, None).await.unwrap();
    enforce(&client, RESTRICTED, "restricted").await;
    enforce(&client, PRIVILEGED, "privileged").await;
    let restricted: Api<Pod> = Api::namespaced(client.clone(), RESTRICTED);
    let privileged: Api<Pod> = Api::namespaced(client.clone(), PRIVILEGED);

    let mut checked = 0;
    let mut kinds_seen = BTreeSet::new();
    let mut collectors_seen = BTreeSet::new();
    for variant in variants::all().unwrap() {
        for rendered in &variant.rendered.objects {
            let kind = rendered.object.types.as_ref().map(|types| types.kind.as_str()).unwrap_or_default();
            if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet") {
                continue;
            }
            let workload = &rendered.object.data;
            let workload = json!({"metadata": rendered.object.metadata, "spec": workload["spec"]});
            let name = workload["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let what = format!("{}: {kind} {name}", variant.name);
            let verdict = admit(&restricted, &pod_of(&workload, RESTRICTED)).await;
            if let Some((needed, forbidden)) = node_access(rendered.component) {
                let message = verdict.expect_err(&format!("{what}: a workload reading the node is admitted"));
                // Exactly what reading the node needs, nothing else.
                assert!(message.contains("violates PodSecurity \"restricted:latest\""), "{what}: {message}");
                for needed in needed {
                    assert!(message.contains(needed), "{what}: expected {needed:?} in {message}");
                }
                for forbidden in forbidden {
                    assert!(!message.contains(forbidden), "{what}: {forbidden:?} in {message}");
                }
                admit(&privileged, &pod_of(&workload, PRIVILEGED))
                    .await
                    .unwrap_or_else(|message| panic!("{what}: refused under privileged: {message}"));
                if is_collector(rendered.component) {
                    collectors_seen.insert(rendered.component.to_string());
                }
            } else {
                verdict.unwrap_or_else(|message| panic!("{what}: refused under restricted: {message}"));
            }
            kinds_seen.insert(format!("{}/{kind}", rendered.component));
            checked += 1;
        }
    }
    assert_eq!(collectors_seen.len(), 2, "both collectors were checked: {collectors_seen:?}");
    let every_workload_kind: BTreeSet<String> = [
        "alertmanager/StatefulSet",
        "alloy/DaemonSet",
        "grafana/Deployment",
        "jaeger/Deployment",
        "kube-state-metrics/Deployment",
        "loki/StatefulSet",
        "node-exporter/DaemonSet",
        "prometheus/Deployment",
        "prometheus/StatefulSet",
        "promtail/DaemonSet",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(kinds_seen, every_workload_kind, "every component's workloads were checked");
    eprintln!("{checked} pod templates checked by PodSecurity admission: {kinds_seen:?}");
}

/// Every container of every workload of every variant has CPU and memory requests and limits, and
/// no request exceeds its limit (the defaults, merged with a variant's own `resources`).
#[test]
fn every_rendered_container_has_requests_and_limits() {
    let quantity = |value: &Value| value.as_str().map(str::to_owned).or_else(|| value.as_i64().map(|n| n.to_string()));
    let mut containers = 0;
    for variant in variants::all().unwrap() {
        for rendered in &variant.rendered.objects {
            let Some(pod) = rendered.object.data.pointer("/spec/template/spec") else { continue };
            let name = rendered.object.metadata.name.clone().unwrap_or_default();
            for container in pod["containers"].as_array().into_iter().flatten() {
                let what = format!("{}: {name} container {}", variant.name, container["name"]);
                for side in ["requests", "limits"] {
                    for resource in ["cpu", "memory"] {
                        assert!(
                            quantity(&container["resources"][side][resource]).is_some(),
                            "{what}: no {side}.{resource} in {}",
                            container["resources"]
                        );
                    }
                }
                containers += 1;
            }
        }
    }
    assert!(containers > 200, "{containers} containers checked");
}
