//! The local control plane of the scale run (`tools/control-plane.sh`, a state directory of its
//! own), with an audit log of the two operators' identities so that each one's API requests are
//! counted by the API server itself, the same way for both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The identity stackscope runs as (its own client certificate, in `system:masters`).
pub const STACKSCOPE_USER: &str = "scale-stackscope";
/// The identity prometheus-operator runs as.
pub const PROMETHEUS_OPERATOR_USER: &str = "scale-prometheus-operator";
/// Service IP range of the scale run: room for 10k Services (the first address, the API
/// server's, stays in the one the script's certificate names).
const SERVICE_CIDR: &str = "10.0.0.0/16";
/// Field manager of what the harness applies.
pub const HARNESS_MANAGER: &str = "stackscope-scale";

/// A running control plane.
#[derive(Clone, Debug)]
pub struct Plane {
    pub state: PathBuf,
    /// The admin's kubeconfig (not audited): the harness's own requests.
    pub kubeconfig: PathBuf,
    pub apiserver_url: String,
}

impl Plane {
    /// Kubeconfig of an audited identity.
    pub fn kubeconfig_of(&self, user: &str) -> PathBuf {
        self.state.join(format!("kubeconfig-{user}"))
    }

    /// Client certificate and key files of an audited identity, and the cluster CA.
    pub fn credentials_of(&self, user: &str) -> (PathBuf, PathBuf, PathBuf) {
        let pki = self.state.join("pki");
        (pki.join(format!("user-{user}.crt")), pki.join(format!("user-{user}.key")), pki.join("ca.crt"))
    }

    pub fn audit_log(&self) -> PathBuf {
        self.state.join("logs/audit.log")
    }

    pub fn logs(&self) -> PathBuf {
        self.state.join("logs")
    }
}

fn script(repo: &Path, state: &Path, command: &str) -> std::process::Command {
    let mut script = std::process::Command::new(repo.join("tools/control-plane.sh"));
    // 10k Services need more cluster IPs than the script's /24 (the later flag wins).
    let apiserver_args = format!(
        "{} --service-cluster-ip-range={SERVICE_CIDR}",
        std::env::var("STACKSCOPE_APISERVER_ARGS").unwrap_or_default()
    );
    script
        .arg(command)
        .env("STACKSCOPE_STATE", state)
        .env("STACKSCOPE_AUDITED_USERS", format!("{STACKSCOPE_USER} {PROMETHEUS_OPERATOR_USER}"))
        .env("STACKSCOPE_APISERVER_ARGS", apiserver_args.trim());
    script
}

/// Starts a fresh control plane (whatever ran in `state` before is stopped and wiped first, so
/// each monitor count starts from an empty etcd).
pub fn start_fresh(repo: &Path, state: &Path) -> Result<Plane, String> {
    stop(repo, state);
    let output = script(repo, state, "start").output().map_err(|error| format!("tools/control-plane.sh: {error}"))?;
    if !output.status.success() {
        return Err(format!("tools/control-plane.sh start failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    let exports = String::from_utf8_lossy(&output.stdout);
    let value = |name: &str| {
        exports
            .lines()
            .find_map(|line| line.strip_prefix(&format!("export {name}=")))
            .map(|value| value.trim_matches('"').to_owned())
            .ok_or(format!("control-plane.sh printed no {name}"))
    };
    Ok(Plane {
        state: state.to_owned(),
        kubeconfig: PathBuf::from(value("KUBECONFIG")?),
        apiserver_url: value("STACKSCOPE_APISERVER_URL")?,
    })
}

/// Stops the control plane of `state` (its logs stay).
pub fn stop(repo: &Path, state: &Path) {
    let _ = script(repo, state, "stop").output();
}

/// A client of the control plane as the kubeconfig's user.
pub async fn client(kubeconfig: &Path) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).map_err(|error| error.to_string())?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|error| error.to_string())?;
    // Creating tens of thousands of objects: the default 295 s would hide a stuck request.
    config.read_timeout = Some(Duration::from_secs(120));
    Client::try_from(config).map_err(|error| error.to_string())
}

/// Server-side applies CRDs and waits until every one is Established.
pub async fn install_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(HARNESS_MANAGER).force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(crd)).await.map_err(|error| format!("apply CRD {name}: {error}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        loop {
            let live = api.get(&name).await.map_err(|error| format!("get CRD {name}: {error}"))?;
            let established = live
                .status
                .and_then(|status| status.conditions)
                .unwrap_or_default()
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True");
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("CRD {name} not Established after 120 s"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// prometheus-operator's CRDs from its Go module (the release `tools/build-tools.sh` builds).
pub fn prometheus_operator_crds(version: &str) -> Result<Vec<CustomResourceDefinition>, String> {
    let module = "github.com/prometheus-operator/prometheus-operator";
    let output = std::process::Command::new("go")
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|error| format!("cannot run go (needed for prometheus-operator's CRDs): {error}"))?;
    let info: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| format!("go mod download printed no JSON ({error})"))?;
    let dir = info
        .get("Dir")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| format!("go mod download {module}@{version} gave no directory: {info}"))?;
    let crd_dir = dir.join("example/prometheus-operator-crd");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&crd_dir)
        .map_err(|error| format!("{}: {error}", crd_dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|error| format!("{}: {error}", file.display()))?;
        let name = file.display().to_string();
        for document in stackscope::manifest::documents(&name, &text).map_err(|error| error.to_string())? {
            crds.push(serde_json::from_value(document).map_err(|error| format!("{name}: {error}"))?);
        }
    }
    Ok(crds)
}
