//! A stand-in for the kubelet on the plain control plane, which has none: pods are created by the
//! kube-controller-manager but never run. The stand-in writes pod status through the API server's
//! `status` subresource as a kubelet would — Running and Ready, or a container waiting with a
//! failure reason — and the kube-controller-manager turns that into the StatefulSets',
//! Deployments' and DaemonSets' status, which the operator reads. The status written is
//! `stackscope_e2e::kubelet`'s, which the black-box tests write with kubectl. The real path, a
//! kubelet running the pods, is `live_status.rs`'s on the node.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use stackscope_e2e::kubelet::{failing_status, ready_status};

/// How often the stand-in looks at the pods.
const PERIOD: Duration = Duration::from_millis(500);

/// A container failure the stand-in reports for one pod instead of running it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub container: String,
    /// A container waiting reason, e.g. `ImagePullBackOff`.
    pub reason: String,
    pub message: String,
}

/// Whether the pod's status already is what the stand-in would write.
fn written(pod: &Pod, failure: Option<&Failure>) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
    let waiting = |container: &str| {
        status
            .container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == container)
            .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
    };
    match failure {
        None => ready,
        Some(failure) => !ready && waiting(&failure.container).as_deref() == Some(failure.reason.as_str()),
    }
}

/// Writes the status of every pod of the namespace that is not yet as the stand-in would have it:
/// Running and Ready, or failing as told. Returns the pods written.
pub async fn write_pod_status(
    client: &Client,
    namespace: &str,
    failures: &BTreeMap<String, Failure>,
) -> Result<Vec<String>, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods.list(&ListParams::default()).await.map_err(|error| format!("list pods of {namespace}: {error}"))?;
    let mut written_pods = Vec::new();
    for pod in list.items {
        let name = pod.name_any();
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let failure = failures.get(&name);
        if written(&pod, failure) {
            continue;
        }
        let served = serde_json::to_value(&pod).map_err(|error| format!("pod {namespace}/{name}: {error}"))?;
        let status = match failure {
            Some(failure) => failing_status(&served, &failure.container, &failure.reason, &failure.message),
            None => ready_status(&served),
        };
        match pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await {
            Ok(_) => written_pods.push(name),
            // Deleted meanwhile (a rollout replacing it).
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(error) => return Err(format!("write the status of pod {namespace}/{name}: {error}")),
        }
    }
    Ok(written_pods)
}

/// The stand-in running in the background over one namespace until dropped: every pod becomes
/// Running and Ready, but those told to fail.
pub struct Kubelet {
    failures: Arc<Mutex<BTreeMap<String, Failure>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Kubelet {
    pub fn start(client: &Client, namespace: &str) -> Self {
        let failures: Arc<Mutex<BTreeMap<String, Failure>>> = Arc::default();
        let (client, namespace, shared) = (client.clone(), namespace.to_owned(), failures.clone());
        let task = tokio::spawn(async move {
            loop {
                let failures = shared.lock().map(|failures| failures.clone()).unwrap_or_default();
                if let Err(error) = write_pod_status(&client, &namespace, &failures).await {
                    eprintln!("kubelet stand-in: {error}");
                }
                tokio::time::sleep(PERIOD).await;
            }
        });
        Self { failures, task }
    }

    /// From now on the pod's container waits with this failure instead of running.
    pub fn fail(&self, pod: &str, failure: Failure) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.insert(pod.to_owned(), failure);
        }
    }

    /// The pod runs again.
    pub fn heal(&self, pod: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(pod);
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}
