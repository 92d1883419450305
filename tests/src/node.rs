//! The local node (`tools/node.sh`): the control plane plus containerd, a kubelet, kube-proxy,
//! kube-scheduler, CoreDNS and a volume provisioner, so pods run. Started once per test process in
//! a state directory of its own (reused when healthy), apart from the plain control plane of the
//! other tests; `make test` stops it afterwards.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};

use crate::cluster::{ControlPlane, exports};
use crate::repo_root;

/// The running node and its control plane.
#[derive(Clone, Debug)]
pub struct Node {
    pub plane: ControlPlane,
    /// What `tools/node.sh start` exported: `STACKSCOPE_NODE_IP`, `STACKSCOPE_SERVICE_CIDR`,
    /// `STACKSCOPE_CLUSTER_DNS`, `STACKSCOPE_STORAGE_CLASS`, ...
    pub env: BTreeMap<String, String>,
}

impl Node {
    /// One exported variable.
    pub fn var(&self, name: &str) -> Result<&str, String> {
        self.env.get(name).map(String::as_str).ok_or_else(|| format!("tools/node.sh exported no {name}"))
    }

    /// The node of `tools/node.sh ARGS` in a state directory, from the variables it exports.
    fn from_script(state: &Path, args: &[&str]) -> Result<Self, String> {
        let output = std::process::Command::new(repo_root().join("tools/node.sh"))
            .env("STACKSCOPE_STATE", state)
            .args(args)
            .output()
            .map_err(|error| format!("cannot run tools/node.sh: {error}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("tools/node.sh {} failed:\n{stderr}", args.join(" ")));
        }
        let env = exports(&output.stdout);
        Ok(Node { plane: ControlPlane::from_exports(&env)?, env })
    }

    /// The node already running in a state directory (`make run`'s), without starting one.
    pub fn running(state: &Path) -> Result<Self, String> {
        Self::from_script(state, &["env"])
    }
}

/// A Service's cluster IP and named port, as an address the machine can dial (the machine routes
/// the node's Service range into its namespace).
pub async fn service_address(
    client: &Client,
    namespace: &str,
    name: &str,
    port_name: &str,
) -> Result<SocketAddr, String> {
    let service = Api::<Service>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|error| format!("get Service {namespace}/{name}: {error}"))?;
    let spec = service.spec.unwrap_or_default();
    let ip: IpAddr = spec
        .cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| format!("Service {namespace}/{name} has no cluster IP"))?;
    let port = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .find(|port| port.name.as_deref() == Some(port_name))
        .and_then(|port| u16::try_from(port.port).ok())
        .ok_or_else(|| format!("Service {namespace}/{name} has no port {port_name}"))?;
    Ok(SocketAddr::new(ip, port))
}

/// The node tests' state directory (the Makefile's `NODE_TEST_STATE`).
pub fn node_state_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/stackscope/node-test")
}

/// Starts (or reuses) the node once per test process. `STACKSCOPE_NODE_STATE` overrides the state
/// directory.
pub fn node() -> Result<Node, String> {
    static NODE: OnceLock<Result<Node, String>> = OnceLock::new();
    NODE.get_or_init(|| {
        let state = std::env::var_os("STACKSCOPE_NODE_STATE").map(PathBuf::from).unwrap_or_else(node_state_dir);
        Node::from_script(&state, &["start"])
    })
    .clone()
}
