//! The real control plane of the integration tests: started once per test process through
//! `tools/control-plane.sh` (which reuses a healthy one), CRDs installed from the Rust types,
//! and operators run in-process against it with every request counted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use stackscope::controller::metrics::Metrics;
use stackscope::controller::{RunConfig, Shutdown, WatchScope, leader::LeaseConfig, run_with};

use crate::faults::FaultGate;
use crate::repo_root;

/// Environment of the running control plane (`KUBECONFIG`, binaries).
#[derive(Clone, Debug)]
pub struct ControlPlane {
    pub kubeconfig: PathBuf,
    pub bin_dir: PathBuf,
}

/// The `export NAME=value` lines a tools/ script printed, by name.
pub(crate) fn exports(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('"').to_owned()))
        .collect()
}

/// The tests' own control-plane state directory (the Makefile's `TEST_STATE`).
pub fn test_state_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/stackscope/control-plane-test")
}

impl ControlPlane {
    /// The control plane a tools/ script's export lines describe.
    pub(crate) fn from_exports(exports: &BTreeMap<String, String>) -> Result<Self, String> {
        let value = |name: &str| exports.get(name).map(PathBuf::from).ok_or(format!("no {name} exported"));
        Ok(Self { kubeconfig: value("KUBECONFIG")?, bin_dir: value("STACKSCOPE_CONTROL_PLANE_BIN")? })
    }
}

/// `tools/control-plane.sh ARGS` on the tests' control plane: `STACKSCOPE_STATE`, else the
/// tests' own state directory — never the control plane `make run` leaves up, whose operator
/// watches every namespace and would reconcile the tests' stacks too.
pub fn control_plane_script(args: &[&str]) -> Result<std::process::Output, String> {
    let mut command = std::process::Command::new(repo_root().join("tools/control-plane.sh"));
    if std::env::var_os("STACKSCOPE_STATE").is_none() {
        command.env("STACKSCOPE_STATE", test_state_dir());
    }
    let output = command.args(args).output().map_err(|error| format!("cannot run tools/control-plane.sh: {error}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!("tools/control-plane.sh {} failed:\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr)))
    }
}

/// Starts (or reuses) the control plane once per test process.
pub fn control_plane() -> Result<ControlPlane, String> {
    static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    PLANE
        .get_or_init(|| {
            let output = control_plane_script(&["start"])?;
            ControlPlane::from_exports(&exports(&output.stdout))
        })
        .clone()
}

/// Counts the requests a client sends, and carries the gate that injects a fault before a chosen
/// request. Counted: writes (anything but GET) and reads (GET, but not the
/// long-running watches, whose reconnects are the watcher's business).
#[derive(Clone, Default)]
pub struct RequestCounter {
    writes: Arc<AtomicU64>,
    /// The path of every read.
    reads: Arc<Mutex<Vec<String>>>,
    /// The gate that injects a fault before a chosen request.
    pub gate: FaultGate,
}

impl RequestCounter {
    /// Write requests so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Read requests (gets and lists) so far.
    pub fn reads(&self) -> usize {
        self.reads.lock().map(|reads| reads.len()).unwrap_or_default()
    }

    /// Reads of one resource (`pods`, `persistentvolumeclaims`, ...), listed or got by name.
    pub fn reads_of(&self, resource: &str) -> usize {
        let reads = self.reads.lock().map(|reads| reads.clone()).unwrap_or_default();
        reads.iter().filter(|path| path.split('/').any(|segment| segment == resource)).count()
    }
}

/// A client of the control plane; with a counter, every request it sends is counted.
pub async fn client(plane: &ControlPlane, counter: Option<RequestCounter>) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read_from(&plane.kubeconfig).map_err(|error| error.to_string())?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|error| error.to_string())?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|error| error.to_string())?;
    let counter = counter.unwrap_or_default();
    let counting = tower::layer::layer_fn(move |service| CountRequests { inner: service, counter: counter.clone() });
    Ok(builder.with_layer(&counting).build())
}

/// Tower service that counts requests before passing them on.
#[derive(Clone)]
pub struct CountRequests<S> {
    inner: S,
    counter: RequestCounter,
}

impl<S, B> tower::Service<http::Request<B>> for CountRequests<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, context: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.counter.gate.before(&request);
        if request.method() != http::Method::GET {
            self.counter.writes.fetch_add(1, Ordering::SeqCst);
        } else if !request.uri().query().is_some_and(|query| query.split('&').any(|pair| pair == "watch=true"))
            && let Ok(mut reads) = self.counter.reads.lock()
        {
            reads.push(request.uri().path().to_owned());
        }
        self.inner.call(request)
    }
}

/// Installs (server-side applies) the CRDs generated from the Rust types and waits until
/// they are Established.
pub async fn install_crds(client: &Client) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in stackscope::crdgen::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &PatchParams::apply("stackscope-tests").force(), &Patch::Apply(&crd))
            .await
            .map_err(|error| format!("apply CRD {name}: {error}"))?;
        wait_for(&format!("CRD {name} Established"), Duration::from_secs(60), || async {
            let crd = api.get(&name).await.ok()?;
            crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
        })
        .await?;
    }
    Ok(())
}

/// Creates a namespace (deleting it first if a previous run left it).
pub async fn fresh_namespace(client: &Client, name: &str) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await.map_err(|error| error.to_string())?.is_some() {
        // A stack left by an interrupted run keeps its cleanup finalizer, and with no operator to
        // remove it the namespace would never finish deleting.
        let stacks: Api<stackscope::api::ObservabilityStack> = Api::namespaced(client.clone(), name);
        for stack in stacks.list(&ListParams::default()).await.map_err(|error| error.to_string())? {
            let patch = serde_json::json!({"metadata": {"finalizers": null}});
            let stack_name = stack.metadata.name.clone().unwrap_or_default();
            stacks
                .patch(&stack_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|error| format!("remove the finalizer of {name}/{stack_name}: {error}"))?;
        }
        let _ = api.delete(name, &DeleteParams::default()).await;
        wait_for(&format!("namespace {name} deleted"), Duration::from_secs(120), || async {
            api.get_opt(name).await.ok()?.is_none().then_some(())
        })
        .await?;
    }
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).map_err(|error| error.to_string())?;
    api.create(&PostParams::default(), &namespace)
        .await
        .map_err(|error| format!("create namespace {name}: {error}"))?;
    Ok(())
}

/// Whether the kubelet reports the pod Ready.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Polls `probe` every 200 ms until it yields a value or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An operator running in-process, stopped on drop.
pub struct Operator {
    pub metrics: Metrics,
    pub requests: RequestCounter,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Operator {
    /// Starts an operator reconciling the stacks of `namespace`, optionally with a lease.
    pub async fn start(plane: &ControlPlane, namespace: &str, lease: Option<LeaseConfig>) -> Result<Self, String> {
        let requests = RequestCounter::default();
        let client = client(plane, Some(requests.clone())).await?;
        let metrics = Metrics::new().map_err(|error| error.to_string())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        // The scenarios' monitors live in namespaces apart from their stacks'.
        let config = RunConfig {
            listen: None,
            lease,
            concurrency: 2,
            namespace: Some(namespace.to_owned()),
            scope: WatchScope::Cluster,
        };
        let task_metrics = metrics.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = run_with(client, task_metrics, config, Some(shutdown)).await {
                eprintln!("operator stopped: {error}");
            }
        });
        Ok(Self { metrics, requests, stop: Some(stop), task })
    }

    /// Stops the operator and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.task).await;
    }

    /// Ends the operator as a crash would: its task is dropped mid-flight, the leader lease is
    /// not released.
    pub fn crash(mut self) {
        self.stop = None;
        self.task.abort();
    }

    /// Successful reconciles so far.
    pub fn reconciles(&self) -> u64 {
        self.metrics.reconciles.with_label_values(&["success"]).get()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
