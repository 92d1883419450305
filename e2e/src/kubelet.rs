//! What a kubelet writes into a pod's status, for control planes that have none (the plain local
//! control plane creates pods through the kube-controller-manager but never runs them). Written
//! through the `status` subresource, it lets the StatefulSet, Deployment and DaemonSet controllers
//! count the pods as a real node's kubelet would make them. The integration tests' stand-in
//! (`stackscope_tests::kubelet`) writes the same.

use serde_json::{Value, json};

use crate::Cluster;

/// When the stand-in says the containers started and the conditions changed.
const SINCE: &str = "2020-01-01T00:00:00Z";

/// `(name, image)` of each container of a pod (as the API serves it).
fn containers(pod: &Value) -> Vec<(String, String)> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|container| {
            let text = |field: &str| container[field].as_str().unwrap_or_default().to_owned();
            (text("name"), text("image"))
        })
        .collect()
}

fn conditions(ready: bool) -> Value {
    let status = if ready { "True" } else { "False" };
    json!([
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": SINCE},
        {"type": "Initialized", "status": "True", "lastTransitionTime": SINCE},
        {"type": "ContainersReady", "status": status, "lastTransitionTime": SINCE},
        {"type": "Ready", "status": status, "lastTransitionTime": SINCE},
    ])
}

/// The status (a merge patch of `status`) of a pod whose containers run and pass their probes.
pub fn ready_status(pod: &Value) -> Value {
    let statuses: Vec<Value> = containers(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": "", "ready": true, "started": true, "restartCount": 0,
                   "state": {"running": {"startedAt": SINCE}}})
        })
        .collect();
    json!({"status": {"phase": "Running", "conditions": conditions(true), "containerStatuses": statuses}})
}

/// The status of a pod whose container `failing` waits with `reason` (e.g. `ImagePullBackOff`)
/// and `message`; its other containers run.
pub fn failing_status(pod: &Value, failing: &str, reason: &str, message: &str) -> Value {
    let statuses: Vec<Value> = containers(pod)
        .into_iter()
        .map(|(name, image)| {
            let state = if name == failing {
                json!({"waiting": {"reason": reason, "message": message}})
            } else {
                json!({"running": {"startedAt": SINCE}})
            };
            json!({"name": name, "image": image, "imageID": "", "ready": false, "started": false, "restartCount": 0,
                   "state": state})
        })
        .collect();
    json!({"status": {"phase": "Pending", "conditions": conditions(false), "containerStatuses": statuses}})
}

/// Whether a pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

impl Cluster {
    /// Writes [`ready_status`] into every pod of the namespace that is not Ready (nor being
    /// deleted) with `kubectl patch --subresource=status`, as a kubelet running them would.
    /// Returns how many it wrote.
    pub fn run_pods_as_a_kubelet(&self, namespace: &str) -> Result<usize, String> {
        let mut written = 0;
        for pod in self.list(&["pods", "-n", namespace])? {
            if is_ready(&pod) || !pod["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let status = ready_status(&pod).to_string();
            self.kubectl(&[
                "patch",
                "pod",
                name,
                "-n",
                namespace,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status,
            ])?;
            written += 1;
        }
        Ok(written)
    }
}
