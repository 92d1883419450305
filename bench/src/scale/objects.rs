//! The monitor set of one run, in the cluster: the fixture monitors as stackscope ServiceMonitors
//! and, with the same names and specs, as prometheus-operator's; the Service each selects and
//! an EndpointSlice for it; the stack and a Prometheus resource selecting the same monitors.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use stackscope::api::{ObservabilityStack, ServiceMonitor};
use stackscope_bench::fixtures;

use super::plane::HARNESS_MANAGER;

/// Namespace of the stack (stackscope's output goes there).
pub const STACK_NAMESPACE: &str = "observability";
/// Namespace of the Prometheus resource (prometheus-operator's output goes there).
pub const PROMETHEUS_NAMESPACE: &str = "prometheus-operator";
/// Name of the stack and of the Prometheus resource.
pub const NAME: &str = "bench";
/// Requests the harness keeps in flight while creating objects.
const CREATE_CONCURRENCY: usize = 16;

/// prometheus-operator's ServiceMonitor kind.
pub fn prometheus_operator_monitor_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"))
}

fn prometheus_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("monitoring.coreos.com", "v1", "Prometheus"))
}

/// Monitor `index` as the harness creates it: no server-owned metadata.
pub fn stackscope_monitor(index: usize) -> ServiceMonitor {
    let mut monitor = fixtures::service_monitor(index);
    monitor.metadata.uid = None;
    monitor.metadata.resource_version = None;
    monitor.metadata.generation = None;
    monitor
}

/// The same monitor as a `monitoring.coreos.com/v1` ServiceMonitor: the spec without the fields
/// only stackscope has (SLOs, alert overrides, probes), which prometheus-operator has no use for.
pub fn prometheus_operator_monitor(index: usize) -> Result<Value, String> {
    let monitor = stackscope_monitor(index);
    let mut spec = serde_json::to_value(&monitor.spec).map_err(|error| error.to_string())?;
    if let Some(spec) = spec.as_object_mut() {
        for field in ["slo", "alerts", "probes"] {
            spec.remove(field);
        }
    }
    Ok(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": monitor.name_any(), "namespace": monitor.namespace(), "labels": monitor.labels()},
        "spec": spec,
    }))
}

/// The Service monitor `index` selects: its selector's labels, the target labels, and the two
/// named ports the endpoints scrape (the third scrapes the pods' sidecar port). No pod selector:
/// its endpoints are the harness's EndpointSlice (pods never run on this control plane).
fn service(index: usize) -> Service {
    let name = fixtures::monitor_name(index);
    let tier = ["backend", "frontend", "worker"][index % 3];
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": fixtures::namespace_of(index),
            "labels": {fixtures::SERVICE_SELECTOR_LABEL: name, "tier": tier, "team": format!("team-{}", index % 8)},
        },
        "spec": {
            "ports": [
                {"name": fixtures::METRICS_PORT, "port": 8080, "targetPort": 8080},
                {"name": fixtures::ADMIN_PORT, "port": 9090, "targetPort": 9090},
            ],
        },
    }))
    .unwrap_or_else(|error| unreachable!("the Service literal is valid: {error}"))
}

/// Two endpoints (two pods) of the Service of monitor `index`.
fn endpoint_slice(index: usize) -> EndpointSlice {
    let name = fixtures::monitor_name(index);
    let address = |pod: usize| format!("10.{}.{}.{}", 1 + pod % 2, (index / 250) % 250, index % 250 + 1);
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("{name}-scale"),
            "namespace": fixtures::namespace_of(index),
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "scale-harness.stackscope.dev",
            },
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [address(0)], "conditions": {"ready": true}},
            {"addresses": [address(1)], "conditions": {"ready": true}},
        ],
        "ports": [
            {"name": fixtures::METRICS_PORT, "port": 8080, "protocol": "TCP"},
            {"name": fixtures::ADMIN_PORT, "port": 9090, "protocol": "TCP"},
        ],
    }))
    .unwrap_or_else(|error| unreachable!("the EndpointSlice literal is valid: {error}"))
}

/// The stack, as created (no server-owned metadata).
pub fn stack() -> ObservabilityStack {
    let mut stack = fixtures::stack(STACK_NAMESPACE);
    stack.metadata.uid = None;
    stack.metadata.generation = None;
    stack
}

/// A Prometheus resource selecting the monitors the stack selects, in every namespace.
fn prometheus() -> Result<Value, String> {
    let stack = stack();
    let selector = serde_json::to_value(&stack.spec.monitor_selector).map_err(|error| error.to_string())?;
    Ok(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": NAME, "namespace": PROMETHEUS_NAMESPACE},
        "spec": {
            "replicas": 1,
            "serviceMonitorSelector": selector,
            "serviceMonitorNamespaceSelector": {},
            "externalLabels": {"cluster": "bench"},
        },
    }))
}

/// What was created, with how long it took.
#[derive(Clone, Debug)]
pub struct Created {
    pub monitors: usize,
    pub endpoints: usize,
    pub namespaces: usize,
    pub setup_ms: u64,
}

async fn create_namespaces(client: &Client, names: &[String]) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))
            .map_err(|error| format!("namespace {name}: {error}"))?;
        api.patch(name, &PatchParams::apply(HARNESS_MANAGER).force(), &Patch::Apply(&namespace))
            .await
            .map_err(|error| format!("namespace {name}: {error}"))?;
    }
    Ok(())
}

/// Creates `count` monitors (of both kinds with `prometheus_operator`) with their Services and
/// EndpointSlices (not the stack nor the Prometheus resource: each operator's cold start begins
/// with its own).
pub async fn create_monitor_set(client: &Client, count: usize, prometheus_operator: bool) -> Result<Created, String> {
    let started = Instant::now();
    let mut namespaces = fixtures::namespaces(count);
    namespaces.push(STACK_NAMESPACE.to_owned());
    namespaces.push(PROMETHEUS_NAMESPACE.to_owned());
    create_namespaces(client, &namespaces).await?;
    let foreign = prometheus_operator_monitor_resource();
    let post = PostParams::default();
    futures::stream::iter(0..count)
        .map(|index| {
            let client = client.clone();
            let (foreign, post) = (foreign.clone(), post.clone());
            async move {
                let namespace = fixtures::namespace_of(index);
                let context = |what: &'static str| {
                    let object = format!("{namespace}/{}", fixtures::monitor_name(index));
                    move |error: kube::Error| format!("create {what} {object}: {error}")
                };
                let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
                services.create(&post, &service(index)).await.map_err(context("Service"))?;
                let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &namespace);
                slices.create(&post, &endpoint_slice(index)).await.map_err(context("EndpointSlice"))?;
                let monitors: Api<ServiceMonitor> = Api::namespaced(client.clone(), &namespace);
                monitors.create(&post, &stackscope_monitor(index)).await.map_err(context("ServiceMonitor"))?;
                if !prometheus_operator {
                    return Ok(());
                }
                let theirs: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &foreign);
                let object: DynamicObject = serde_json::from_value(prometheus_operator_monitor(index)?)
                    .map_err(|error| format!("monitor {index}: {error}"))?;
                theirs.create(&post, &object).await.map_err(context("monitoring.coreos.com ServiceMonitor"))?;
                Ok::<(), String>(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let endpoints = (0..count).map(|index| fixtures::monitor_spec(index).endpoints.len()).sum();
    Ok(Created {
        monitors: count,
        endpoints,
        namespaces: fixtures::namespaces(count).len(),
        setup_ms: millis(started.elapsed()),
    })
}

/// Creates the stack (stackscope's cold start begins with it waiting to be reconciled).
pub async fn create_stack(client: &Client) -> Result<(), String> {
    let api: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    api.create(&PostParams::default(), &stack()).await.map_err(|error| format!("create the stack: {error}"))?;
    Ok(())
}

/// Creates the Prometheus resource.
pub async fn create_prometheus(client: &Client) -> Result<(), String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), PROMETHEUS_NAMESPACE, &prometheus_resource());
    let object: DynamicObject = serde_json::from_value(prometheus()?).map_err(|error| error.to_string())?;
    api.create(&PostParams::default(), &object).await.map_err(|error| format!("create the Prometheus: {error}"))?;
    Ok(())
}

/// The marker of change `sequence`: a relabeling whose replacement both tools copy into the
/// configuration verbatim.
pub fn marker(sequence: usize) -> String {
    format!("scale-change-{sequence:04}")
}

/// Monitor `index`'s endpoints with a marker relabeling on the first one.
fn endpoints_with_marker(index: usize, sequence: usize, prometheus_operator: bool) -> Result<Value, String> {
    let monitor = if prometheus_operator {
        prometheus_operator_monitor(index)?
    } else {
        serde_json::to_value(stackscope_monitor(index)).map_err(|error| error.to_string())?
    };
    let mut endpoints = monitor["spec"]["endpoints"].clone();
    let relabelings = endpoints
        .get_mut(0)
        .and_then(|endpoint| endpoint.as_object_mut())
        .map(|endpoint| endpoint.entry("relabelings").or_insert_with(|| json!([])))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("monitor {index} has no first endpoint"))?;
    relabelings.push(json!({
        "action": "replace",
        "sourceLabels": ["__address__"],
        "targetLabel": "scale_change",
        "replacement": marker(sequence),
    }));
    Ok(endpoints)
}

/// Changes monitor `index` (stackscope's, or prometheus-operator's namesake): a merge patch of its
/// endpoints that adds the marker of change `sequence`.
pub async fn change_monitor(
    client: &Client,
    index: usize,
    sequence: usize,
    prometheus_operator: bool,
) -> Result<(), String> {
    let namespace = fixtures::namespace_of(index);
    let name = fixtures::monitor_name(index);
    let patch = json!({"spec": {"endpoints": endpoints_with_marker(index, sequence, prometheus_operator)?}});
    let resource = if prometheus_operator {
        prometheus_operator_monitor_resource()
    } else {
        ApiResource::erase::<ServiceMonitor>(&())
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|error| format!("change monitor {namespace}/{name}: {error}"))?;
    Ok(())
}

/// Touches an annotation of the stack or the Prometheus resource: a reconcile with nothing to do.
pub async fn poke(client: &Client, prometheus_operator: bool, sequence: usize) -> Result<(), String> {
    let annotations: BTreeMap<String, String> = [("scale.stackscope.dev/poke".to_owned(), sequence.to_string())].into();
    let patch = json!({"metadata": {"annotations": annotations}});
    let (resource, namespace) = if prometheus_operator {
        (prometheus_resource(), PROMETHEUS_NAMESPACE)
    } else {
        (ApiResource::erase::<ObservabilityStack>(&()), STACK_NAMESPACE)
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|error| format!("poke: {error}"))?;
    Ok(())
}

/// Whether the stack's `Applied` condition is `True`: its configuration is applied. (`Ready`
/// means its workloads run, which they never do on the scale run's control plane: it has no node.)
pub async fn stack_applied(client: &Client) -> Result<bool, String> {
    let api: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let stack = api.get(NAME).await.map_err(|error| format!("get the stack: {error}"))?;
    Ok(stack
        .status
        .is_some_and(|status| status.conditions.iter().any(|c| c.condition_type == "Applied" && c.status == "True")))
}

pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
