//! The stack's status on the real node (`tools/node.sh`): `Ready` means its pods run, as the
//! kubelet reports them, and a component whose pods cannot start is named with the pod's reason.
//!
//! - A small stack whose every image the node has (Prometheus with its config reloader,
//!   Alertmanager, Jaeger; no logging, dashboards or downsampling, whose images the node lacks or
//!   which it does not need) is `Progressing` until the kubelet runs its pods and their probes
//!   pass, then `Ready`.
//! - A stack whose Prometheus image does not exist is `Degraded`, not Ready: the Prometheus
//!   workload carries the pod's `ErrImagePull` or `ImagePullBackOff` with the image. The
//!   StatefulSet's status does not change when its pod fails to pull; the operator sees it because
//!   a stack that is not ready is reconciled again after a short delay.
//!
//! The operator runs in process against the node's control plane.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use stackscope::api::{ObservabilityStack, WorkloadStatus};
use stackscope_tests::cluster::{Operator, client, fresh_namespace, install_crds, pod_ready, wait_for};
use stackscope_tests::node::node;

/// Pods start in seconds, but images are large and the machine has two loaded cores.
const TIMEOUT: Duration = Duration::from_secs(300);
const MANAGER: &str = "stackscope-tests";
const STACK: &str = "small";
const MISSING_IMAGE: &str = "prom/prometheus:v0.0.0-missing";

/// The small stack in a namespace: metrics (Prometheus and its config reloader), alerting
/// (Alertmanager) and tracing (Jaeger), nothing else (no exporters, no downsampling).
fn small_stack(namespace: &str, prometheus_image: Option<&str>) -> serde_json::Value {
    // No exporters either: node-exporter takes a host port, which the other stacks on the one
    // node hold, and the small stack needs no infrastructure series.
    let mut metrics = json!({
        "downsampling": {"enabled": false},
        "kubeStateMetrics": {"enabled": false},
        "nodeExporter": {"enabled": false},
    });
    if let Some(image) = prometheus_image {
        metrics["prometheus"] = json!({"image": image});
    }
    json!({
        "apiVersion": "stackscope.dev/v1alpha1", "kind": "ObservabilityStack",
        "metadata": {"name": STACK, "namespace": namespace},
        "spec": {
            "environment": "development",
            "logging": {"enabled": false},
            "dashboards": {"enabled": false},
            "metrics": metrics,
        },
    })
}

/// A namespace with the stack, the Secret its Alertmanager reads the receivers' credentials from
/// (values that point nowhere: no alert is sent here), and an operator reconciling it.
async fn stack_with_operator(client: &Client, namespace: &str, prometheus_image: Option<&str>) -> Operator {
    fresh_namespace(client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "stackscope-alerting", "namespace": namespace},
        "stringData": {"slack-api-url": "http://127.0.0.1:1/slack", "pagerduty-routing-key": "live-status",
                       "smtp-password": "live-status"},
    });
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch("stackscope-alerting", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&secret))
        .await
        .unwrap_or_else(|error| panic!("create the alerting Secret: {error}"));
    Api::<ObservabilityStack>::namespaced(client.clone(), namespace)
        .patch(STACK, &PatchParams::apply(MANAGER).force(), &Patch::Apply(small_stack(namespace, prometheus_image)))
        .await
        .unwrap_or_else(|error| panic!("apply the stack: {error}"));
    let node = node().unwrap_or_else(|error| panic!("{error}"));
    Operator::start(&node.plane, namespace, None).await.unwrap_or_else(|error| panic!("{error}"))
}

fn condition<'a>(stack: &'a ObservabilityStack, kind: &str) -> Option<&'a stackscope::api::Condition> {
    stack.status.as_ref()?.conditions.iter().find(|condition| condition.condition_type == kind)
}

fn has(stack: &ObservabilityStack, kind: &str, status: &str) -> bool {
    condition(stack, kind).is_some_and(|condition| condition.status == status)
}

fn workloads(stack: &ObservabilityStack) -> Vec<&WorkloadStatus> {
    stack.status.iter().flat_map(|status| status.components.iter()).flat_map(|c| c.workloads.iter()).collect()
}

/// Waits until the stack's status of its current generation satisfies `check`; on timeout the
/// panic shows the last status and the namespace's pods.
async fn wait_stack(
    client: &Client,
    namespace: &str,
    what: &str,
    check: impl Fn(&ObservabilityStack) -> bool,
) -> ObservabilityStack {
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), namespace);
    let check = &check;
    let stacks_ref = &stacks;
    let found = wait_for(what, TIMEOUT, || async move {
        let stack = stacks_ref.get(STACK).await.ok()?;
        let current = stack.status.as_ref()?.observed_generation == stack.metadata.generation;
        (current && check(&stack)).then_some(stack)
    })
    .await;
    match found {
        Ok(stack) => stack,
        Err(error) => {
            let status = stacks.get(STACK).await.ok().and_then(|stack| stack.status);
            let pods = Api::<Pod>::namespaced(client.clone(), namespace).list(&ListParams::default()).await;
            let pods: Vec<(String, Option<String>)> = pods
                .map(|list| {
                    list.items
                        .iter()
                        .map(|pod| (pod.name_any(), pod.status.as_ref().and_then(|s| s.phase.clone())))
                        .collect()
                })
                .unwrap_or_default();
            panic!("{error}\nstatus: {status:#?}\npods: {pods:?}")
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_whose_prometheus_image_does_not_exist_is_degraded_with_the_pods_reason() {
    let node = node().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&node.plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    let namespace = "live-status-missing";
    let operator = stack_with_operator(&client, namespace, Some(MISSING_IMAGE)).await;
    let prometheus = format!("StatefulSet/{STACK}-prometheus");
    let degraded = wait_stack(&client, namespace, "Degraded by the missing Prometheus image", |stack| {
        has(stack, "Degraded", "True") && workloads(stack).iter().any(|w| w.name == prometheus && w.failing)
    })
    .await;

    let status = degraded.status.clone().unwrap_or_default();
    let reasons: Vec<(&str, &str, &str)> = status
        .conditions
        .iter()
        .filter(|c| ["Ready", "Applied", "Degraded", "Stalled"].contains(&c.condition_type.as_str()))
        .map(|c| (c.condition_type.as_str(), c.status.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("Ready", "False", "ComponentsFailing"),
            ("Applied", "True", "Applied"),
            ("Degraded", "True", "ComponentsFailing"),
            ("Stalled", "True", "ComponentsFailing"),
        ]
    );
    let workload = workloads(&degraded).into_iter().find(|w| w.name == prometheus).cloned();
    let workload = workload.unwrap_or_else(|| panic!("no {prometheus} in {:?}", status.components));
    let pod = format!("{STACK}-prometheus-0");
    assert!(
        ["ErrImagePull", "ImagePullBackOff"].contains(&workload.reason.as_str()),
        "the kubelet's reason: {workload:?}"
    );
    assert_eq!(
        (workload.ready, workload.pod.as_deref(), workload.container.as_deref()),
        (false, Some(pod.as_str()), Some("prometheus"))
    );
    let said = format!("Ready: 0/1; pod {pod}, container prometheus: {}: image {MISSING_IMAGE}", workload.reason);
    assert_eq!(workload.message.get(..said.len()), Some(said.as_str()), "the image named: {}", workload.message);
    let component = status.components.iter().find(|c| c.name == "prometheus");
    assert_eq!(component.map(|c| (c.ready, c.reason.as_str())), Some((false, "Failing")));
    // The message of Degraded names component, workload, pod and reason.
    let degraded_condition = condition(&degraded, "Degraded").map(|c| c.message.clone()).unwrap_or_default();
    let named = format!("prometheus: {prometheus} (Ready: 0/1): pod {pod}, container prometheus: {}", workload.reason);
    let after_count = degraded_condition.split_once("failing: ").map(|(_, rest)| rest).unwrap_or_default();
    assert_eq!(after_count.get(..named.len()), Some(named.as_str()), "{degraded_condition}");
    // What the kubelet says agrees.
    let kubelet_reason = Api::<Pod>::namespaced(client.clone(), namespace)
        .get(&pod)
        .await
        .ok()
        .and_then(|pod| pod.status?.container_statuses?.into_iter().find(|c| c.name == "prometheus"))
        .and_then(|container| container.state?.waiting?.reason);
    assert!(
        kubelet_reason.as_deref().is_some_and(|reason| ["ErrImagePull", "ImagePullBackOff"].contains(&reason)),
        "{kubelet_reason:?}"
    );
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_stack_becomes_ready_once_its_pods_run() {
    let node = node().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&node.plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    let namespace = "live-status-running";
    let operator = stack_with_operator(&client, namespace, None).await;

    // Applied first, the pods still starting: Progressing, not Ready.
    let starting = wait_stack(&client, namespace, "applied and rolling out", |stack| {
        has(stack, "Applied", "True") && has(stack, "Progressing", "True")
    })
    .await;
    assert_eq!(
        condition(&starting, "Ready").map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", "WorkloadsNotReady"))
    );

    let ready = wait_stack(&client, namespace, "Ready once the pods run", |stack| has(stack, "Ready", "True")).await;
    let status = ready.status.clone().unwrap_or_default();
    let names: Vec<(&str, bool, &str)> =
        workloads(&ready).iter().map(|w| (w.name.as_str(), w.ready, w.reason.as_str())).collect();
    let expected_names = [
        format!("StatefulSet/{STACK}-prometheus"),
        format!("StatefulSet/{STACK}-alertmanager"),
        format!("Deployment/{STACK}-jaeger"),
    ];
    assert_eq!(
        names,
        expected_names.iter().map(|name| (name.as_str(), true, "Ready")).collect::<Vec<_>>(),
        "{:?}",
        status.components
    );
    for (kind, reason) in [("Progressing", "WorkloadsReady"), ("Degraded", "AsExpected"), ("Stalled", "AsExpected")] {
        assert_eq!(
            condition(&ready, kind).map(|c| (c.status.as_str(), c.reason.as_str())),
            Some(("False", reason)),
            "{kind}"
        );
    }
    // The kubelet agrees: every pod of the namespace is Ready.
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|error| panic!("list pods: {error}"));
    let not_ready: Vec<String> = pods.items.iter().filter(|pod| !pod_ready(pod)).map(|pod| pod.name_any()).collect();
    assert!(pods.items.len() >= 3 && not_ready.is_empty(), "pods not Ready: {not_ready:?} of {}", pods.items.len());
    operator.stop().await;
}
