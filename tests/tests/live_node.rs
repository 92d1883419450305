//! Pods run on the local node (`tools/node.sh`), from images built without a container engine
//! (`tools/images.sh`).
//!
//! Alertmanager runs as a StatefulSet under the restricted Pod Security Standard (enforced on its
//! namespace), its data on a claim from the node's provisioner; it becomes Ready only through the
//! kubelet's probes. The machine reaches it through its Service's cluster IP (kube-proxy in the
//! node's network namespace), and the API server fetches its log from the kubelet. Prometheus, in
//! a second pod, scrapes it by its Service's DNS name: CoreDNS answers inside the cluster, and the
//! scrape goes pod to Service to pod. An image that was never imported fails at once at the
//! loopback endpoint every registry resolves to: nothing is pulled from outside the machine.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, PersistentVolumeClaim, Pod, Service};
use kube::Client;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;
use stackscope_tests::cluster::{client, fresh_namespace, install_crds, wait_for};
use stackscope_tests::http::asynchronous::{get, query};
use stackscope_tests::node::node;

/// Deadline of each wait: pods start in seconds, but the machine has two loaded cores.
const TIMEOUT: Duration = Duration::from_secs(180);
const MANAGER: &str = "stackscope-tests";
const NAMESPACE: &str = "live-node";
const MISSING_NAMESPACE: &str = "live-node-missing";
const ALERTMANAGER_IMAGE: &str = "prom/alertmanager:v0.29.0";
const PROMETHEUS_IMAGE: &str = "prom/prometheus:v3.7.3";
/// The refusing endpoint tools/node.sh gives every registry.
const REFUSING_REGISTRY: &str = "127.0.0.1:1";

async fn apply<K>(api: &Api<K>, name: &str, object: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&object))
        .await
        .unwrap_or_else(|error| panic!("apply {name}: {error}"))
}

/// A ClusterIP Service selecting `app: NAME`, port `web`.
async fn apply_service(services: &Api<Service>, name: &str, port: u16) {
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": port, "targetPort": port}]},
    });
    apply(services, name, service).await;
}

/// A namespace (new) that enforces the restricted Pod Security Standard.
async fn restricted_namespace(client: &Client, name: &str) {
    // fresh_namespace clears stacks a previous run left, so their CRD must exist.
    install_crds(client).await.unwrap_or_else(|error| panic!("{error}"));
    fresh_namespace(client, name).await.unwrap_or_else(|error| panic!("{error}"));
    let labels = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    Api::<Namespace>::all(client.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap_or_else(|error| panic!("label namespace {name}: {error}"));
}

/// The restricted security context of every pod here.
fn pod_security(user: u32) -> serde_json::Value {
    json!({"runAsNonRoot": true, "runAsUser": user, "runAsGroup": user, "fsGroup": user,
           "seccompProfile": {"type": "RuntimeDefault"}})
}

fn container_security() -> serde_json::Value {
    json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}})
}

fn http_probe(path: &str, port: u16) -> serde_json::Value {
    json!({"httpGet": {"path": path, "port": port}, "periodSeconds": 2, "failureThreshold": 30})
}

/// Waits until the pod's Ready condition is True, naming the container states on timeout.
async fn wait_ready(pods: &Api<Pod>, name: &str) -> Pod {
    let ready = wait_for(&format!("pod {NAMESPACE}/{name} Ready"), TIMEOUT, || async {
        let pod = pods.get(name).await.ok()?;
        let conditions = pod.status.as_ref()?.conditions.as_ref()?;
        conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True").then_some(pod)
    })
    .await;
    match ready {
        Ok(pod) => pod,
        Err(error) => {
            let status = pods.get(name).await.ok().and_then(|pod| pod.status);
            panic!("{error}; status: {status:#?}")
        }
    }
}

/// The cluster IP and first port of a Service, as a socket address the machine can dial.
async fn service_address(services: &Api<Service>, name: &str) -> SocketAddr {
    let service = services.get(name).await.unwrap_or_else(|error| panic!("get Service {name}: {error}"));
    let spec = service.spec.unwrap_or_else(|| panic!("Service {name} has no spec"));
    let ip: IpAddr = spec
        .cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("Service {name} has no cluster IP"));
    let port = spec.ports.as_ref().and_then(|ports| ports.first()).map(|port| port.port);
    SocketAddr::new(ip, port.and_then(|port| u16::try_from(port).ok()).unwrap_or_else(|| panic!("{name}: no port")))
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_run_with_probes_a_bound_claim_service_ips_cluster_dns_and_logs() {
    let node = node().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&node.plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    restricted_namespace(&client, NAMESPACE).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);

    // Alertmanager: a StatefulSet whose volumeClaimTemplate the node's provisioner binds.
    apply(
        &config_maps,
        "alertmanager",
        json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "alertmanager", "namespace": NAMESPACE},
            "data": {"alertmanager.yml": "route:\n  receiver: none\nreceivers:\n- name: none\n"},
        }),
    )
    .await;
    apply_service(&services, "alertmanager", 9093).await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    apply(&statefulsets, "alertmanager", json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "alertmanager", "namespace": NAMESPACE},
        "spec": {
            "serviceName": "alertmanager",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "alertmanager"}},
            "template": {
                "metadata": {"labels": {"app": "alertmanager"}},
                "spec": {
                    "securityContext": pod_security(65534),
                    "containers": [{
                        "name": "alertmanager",
                        "image": ALERTMANAGER_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                                 "--cluster.listen-address="],
                        "ports": [{"name": "web", "containerPort": 9093}],
                        "readinessProbe": http_probe("/-/ready", 9093),
                        "livenessProbe": http_probe("/-/healthy", 9093),
                        "securityContext": container_security(),
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/alertmanager"},
                                         {"name": "data", "mountPath": "/alertmanager"}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": "alertmanager"}}],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    }))
    .await;

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let claim = wait_for("claim data-alertmanager-0 Bound", TIMEOUT, || async {
        let claim = claims.get("data-alertmanager-0").await.ok()?;
        (claim.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(claim)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let class = claim.spec.and_then(|spec| spec.storage_class_name);
    assert_eq!(class.as_deref(), Some(node.var("STACKSCOPE_STORAGE_CLASS").unwrap_or_else(|e| panic!("{e}"))));

    let pod = wait_ready(&pods, "alertmanager-0").await;
    let pod_ip = pod.status.and_then(|status| status.pod_ip).unwrap_or_else(|| panic!("alertmanager-0 has no IP"));
    assert!(!pod_ip.is_empty(), "alertmanager-0 has an empty pod IP");

    // The machine reaches the pod through its Service's cluster IP (kube-proxy's rules).
    let alertmanager = service_address(&services, "alertmanager").await;
    let (status, _) = wait_for("Alertmanager through its cluster IP", TIMEOUT, || async {
        get(alertmanager, "/-/ready").await.ok().filter(|(status, _)| *status == 200)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(status, 200);

    // The API server reaches the kubelet (by the node's InternalIP) for the pod's log.
    let log = pods
        .logs("alertmanager-0", &LogParams { container: Some("alertmanager".to_owned()), ..LogParams::default() })
        .await
        .unwrap_or_else(|error| panic!("log of alertmanager-0: {error}"));
    assert!(log.lines().count() > 0, "the log of alertmanager-0 is empty");

    // Prometheus scrapes Alertmanager by its Service's name: CoreDNS resolves it inside the pod.
    let target = format!("alertmanager.{NAMESPACE}.svc:9093");
    apply(&config_maps, "prometheus", json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prometheus", "namespace": NAMESPACE},
        "data": {"prometheus.yml": format!(
            "global:\n  scrape_interval: 2s\nscrape_configs:\n- job_name: alertmanager\n  static_configs:\n  - targets: ['{target}']\n")},
    }))
    .await;
    apply_service(&services, "prometheus", 9090).await;
    let prometheus_pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "prometheus", "namespace": NAMESPACE, "labels": {"app": "prometheus"}},
        "spec": {
            "securityContext": pod_security(65534),
            "containers": [{
                "name": "prometheus",
                "image": PROMETHEUS_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "args": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
                "ports": [{"name": "web", "containerPort": 9090}],
                "readinessProbe": http_probe("/-/ready", 9090),
                "securityContext": container_security(),
                "volumeMounts": [{"name": "config", "mountPath": "/etc/prometheus"},
                                 {"name": "data", "mountPath": "/prometheus"}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": "prometheus"}}, {"name": "data", "emptyDir": {}}],
        },
    }))
    .unwrap_or_else(|error| panic!("{error}"));
    pods.create(&PostParams::default(), &prometheus_pod)
        .await
        .unwrap_or_else(|error| panic!("create prometheus: {error}"));
    wait_ready(&pods, "prometheus").await;
    let prometheus = service_address(&services, "prometheus").await;
    let up = wait_for("Prometheus scraping Alertmanager by name (up == 1)", TIMEOUT, || async {
        let samples = query(prometheus, r#"up{job="alertmanager"}"#).await.ok()?;
        let sample = samples.first()?.clone();
        (sample["value"][1] == "1").then_some(sample)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(up["metric"]["instance"], target.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_that_was_not_imported_fails_locally_without_a_pull_from_outside() {
    let node = node().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&node.plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    restricted_namespace(&client, MISSING_NAMESPACE).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), MISSING_NAMESPACE);
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "missing", "namespace": MISSING_NAMESPACE},
        "spec": {
            "securityContext": pod_security(65534),
            "containers": [{"name": "missing", "image": "registry.example/stackscope/missing:1",
                            "securityContext": container_security()}],
        },
    }))
    .unwrap_or_else(|error| panic!("{error}"));
    pods.create(&PostParams::default(), &pod).await.unwrap_or_else(|error| panic!("create missing: {error}"));
    // The kubelet's event names the endpoint it tried: the refusing one on loopback.
    let events: Api<Event> = Api::namespaced(client.clone(), MISSING_NAMESPACE);
    let failure = wait_for("an event of the failed pull of the missing image", TIMEOUT, || async {
        let list = events.list(&ListParams::default().fields("involvedObject.name=missing")).await.ok()?;
        list.items.into_iter().find(|event| {
            event.reason.as_deref() == Some("Failed")
                && event.message.as_deref().is_some_and(|message| message.starts_with("Failed to pull image"))
        })
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let message = failure.message.unwrap_or_default();
    assert!(message.contains(REFUSING_REGISTRY), "the pull went elsewhere than {REFUSING_REGISTRY}: {message}");
    // The pod says so too: its container waits on the image (ContainerCreating before the pull).
    wait_for("the container waiting with ErrImagePull or ImagePullBackOff", TIMEOUT, || async {
        let status = pods.get("missing").await.ok()?.status?;
        let reason = status.container_statuses?.first()?.state.as_ref()?.waiting.as_ref()?.reason.clone()?;
        matches!(reason.as_str(), "ErrImagePull" | "ImagePullBackOff").then_some(reason)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
}
