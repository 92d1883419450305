//! Faults of the control plane in the middle of reconciles: after a ServiceMonitor changed, the
//! API server or etcd is killed (SIGKILL, no shutdown) exactly when the operator is about to
//! write the new Prometheus configuration — the gate of the operator's own client kills it before
//! the request leaves (`stackscope_tests::faults`), so the crash lands mid-reconcile by
//! construction — and started again as it was. The operator must reconnect, resume its watches
//! and converge on the change, with no owned object duplicated, lost or recreated (same names,
//! same UIDs). Then a hand edit made while no operator runs, with etcd crashing meanwhile, is
//! found and put back by the next operator.
//!
//! This file holds one test on purpose: it takes the shared test control plane down briefly,
//! and test binaries run one after another.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use stackscope::api::{ObservabilityStack, ServiceMonitor};
use stackscope::controller::kinds::owned_kinds;
use stackscope_tests::cluster::{
    Operator, client, control_plane, control_plane_script, fresh_namespace, install_crds, wait_for,
};
use stackscope_tests::faults::Fault;

const STACK_NAMESPACE: &str = "faults-obs";
const APPS_NAMESPACE: &str = "faults-apps";
const MANAGER: &str = "faults-test";
/// Long enough for a restarted API server to come back and the watches to resume with backoff.
const CONVERGE: Duration = Duration::from_secs(120);

/// `tools/control-plane.sh crash COMPONENT` on the tests' control plane; returns once it is back.
async fn crash(component: &'static str) {
    tokio::task::spawn_blocking(move || control_plane_script(&["crash", component]))
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|error| panic!("{error}"));
}

/// Every object the stack owns: `Kind/name` → UID.
async fn owned(client: &Client, stack: &str) -> BTreeMap<String, String> {
    let mut objects = BTreeMap::new();
    let params = ListParams::default().labels(&format!("stackscope.dev/stack={stack}"));
    for kind in owned_kinds() {
        let api: Api<DynamicObject> = if kind.namespaced {
            Api::namespaced_with(client.clone(), STACK_NAMESPACE, &kind.resource)
        } else {
            Api::all_with(client.clone(), &kind.resource)
        };
        let list = api.list(&params).await.unwrap_or_else(|error| panic!("list {}: {error}", kind.resource.kind));
        for object in list.items {
            objects.insert(format!("{}/{}", kind.resource.kind, object.name_any()), object.uid().unwrap_or_default());
        }
    }
    objects
}

async fn apply<K>(api: &Api<K>, object: &K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(&object.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(object))
        .await
        .unwrap_or_else(|error| panic!("apply {}: {error}", object.name_any()));
}

/// The stack is applied for its current generation and prometheus.yml carries `needle`.
async fn converged(client: &Client, stack: &str, needle: &str) -> Option<()> {
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let current = stacks.get(stack).await.ok()?;
    let status = current.status.as_ref()?;
    let applied = status.conditions.iter().any(|c| c.condition_type == "Applied" && c.status == "True");
    if !(applied && status.observed_generation == current.metadata.generation) {
        return None;
    }
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let config = maps.get(&format!("{stack}-prometheus")).await.ok()?;
    let text = config.data.as_ref()?.get("prometheus.yml")?;
    text.contains(needle).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_converges_through_api_server_and_etcd_crashes_without_losing_or_duplicating_objects() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        fresh_namespace(&client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    }
    let (stack, monitors) =
        stackscope_tests::example_in(STACK_NAMESPACE, APPS_NAMESPACE).unwrap_or_else(|error| panic!("{error}"));
    let stack_name = stack.name_any();
    let monitors_api: Api<ServiceMonitor> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    for monitor in &monitors {
        apply(&monitors_api, monitor).await;
    }
    apply(&Api::<ObservabilityStack>::namespaced(client.clone(), STACK_NAMESPACE), &stack).await;

    let operator = Operator::start(&plane, STACK_NAMESPACE, None).await.unwrap_or_else(|error| panic!("{error}"));
    wait_for("the example applied", CONVERGE, || converged(&client, &stack_name, "job_name:"))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let before = owned(&client, &stack_name).await;
    assert!(before.len() >= 25, "the stack's objects: {before:?}");

    let mut gateway = monitors
        .iter()
        .find(|monitor| monitor.name_any() == "gateway")
        .cloned()
        .unwrap_or_else(|| panic!("the example has no gateway monitor"));
    let prometheus_config = format!("/configmaps/{stack_name}-prometheus");
    for (round, component) in ["kube-apiserver", "etcd", "kube-apiserver", "etcd"].into_iter().enumerate() {
        // The component dies when the reconcile of this change is about to write the new config.
        operator.requests.gate.arm(Fault {
            method: http::Method::PATCH,
            path_contains: prometheus_config.clone(),
            component,
        });
        let interval = format!("{}s", 11 + round);
        gateway.spec.endpoints[0].interval = Some(stackscope::api::ScrapeDuration::from(interval.as_str()));
        apply(&monitors_api, &gateway).await;
        let fired = round as u64 + 1;
        wait_for(&format!("{component} killed mid-reconcile"), CONVERGE, || async {
            (operator.requests.gate.fired() == fired).then_some(())
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let needle = format!("scrape_interval: {interval}");
        wait_for(&format!("the change to {interval} applied after {component} crashed"), CONVERGE, || {
            converged(&client, &stack_name, &needle)
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"));
        let after = owned(&client, &stack_name).await;
        assert_eq!(after, before, "round {round} ({component}): objects lost, duplicated or recreated");
    }

    // A hand edit made while no operator runs (etcd crashing meanwhile) is found and put back by
    // the next operator.
    operator.stop().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let loki = format!("{stack_name}-loki");
    let edit = serde_json::json!({"data": {"loki.yaml": "# edited by hand\n"}});
    maps.patch(&loki, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap_or_else(|error| panic!("edit: {error}"));
    crash("etcd").await;
    let operator = Operator::start(&plane, STACK_NAMESPACE, None).await.unwrap_or_else(|error| panic!("{error}"));
    wait_for("the hand edit put back", CONVERGE, || async {
        let map = maps.get(&loki).await.ok()?;
        map.data?.get("loki.yaml")?.contains("retention_period").then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(owned(&client, &stack_name).await, before, "after the drift correction");
    operator.stop().await;
}
