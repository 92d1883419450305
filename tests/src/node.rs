//! The local node (`tools/node.sh`): the control plane plus containerd, a kubelet, kube-proxy,
//! kube-scheduler, CoreDNS and a volume provisioner, so pods run. Started once per test process in
//! a state directory of its own (reused when healthy), apart from the plain control plane of the
//! other tests; `make test` stops it afterwards.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

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
        let output = std::process::Command::new(repo_root().join("tools/node.sh"))
            .env("STACKSCOPE_STATE", state)
            .arg("start")
            .output()
            .map_err(|error| format!("cannot run tools/node.sh: {error}"))?;
        if !output.status.success() {
            return Err(format!("tools/node.sh start failed:\n{}", String::from_utf8_lossy(&output.stderr)));
        }
        let env = exports(&output.stdout);
        Ok(Node { plane: ControlPlane::from_exports(&env)?, env })
    })
    .clone()
}
