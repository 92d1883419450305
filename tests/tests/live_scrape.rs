//! A live end-to-end scrape: the in-process operator reconciles the example stack against the real
//! control plane, and the real Prometheus runs the configuration and rule files it applied.
//!
//! The test serves a small exporter and describes it to the API server the way a cluster would: a
//! Service labelled like the example's `gateway`, a Pod (it never runs: there is no kubelet, but
//! Prometheus reads its metadata) and an EndpointSlice whose endpoint points at the exporter. It
//! then asserts through Prometheus' HTTP API that the ServiceMonitor job discovers the target with
//! the labels prometheus-operator users expect, scrapes it (`up == 1`), that the RED recording
//! rules compute the seed's series from what it scraped, that every rendered rule group loads and
//! evaluates without error, and that the stack's Alertmanager is discovered. A monitor naming a
//! port the EndpointSlice lacks yields no target. The exporter listens on the machine's own
//! address rather than 127.0.0.1, which the API server refuses in an EndpointSlice (see
//! [`local_ipv4`]); Prometheus listens on a free loopback port.
//!
//! The operator renders, not the library, because that proves the ConfigMaps it applies are what
//! Prometheus runs. Only what a Prometheus outside the cluster needs is adapted, on the parsed
//! YAML (see [`adapt_for_outside`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use stackscope::api::{ObservabilityStack, ServiceMonitor};
use stackscope_tests::cluster::{Operator, client, control_plane, fresh_namespace, install_crds, wait_for};
use stackscope_tests::http::asynchronous::{api, get, query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Deadline of every wait: generous, for a loaded two-core machine.
const TIMEOUT: Duration = Duration::from_secs(120);
const MANAGER: &str = "stackscope-tests";
const STACK_NAMESPACE: &str = "live-obs";
const APPS_NAMESPACE: &str = "live-apps";
/// The example monitor the exporter stands for, and the Service it selects (`app: gateway`).
const SERVICE: &str = "gateway";
/// A second monitor of that Service naming the port its EndpointSlice does not have.
const PORTLESS_MONITOR: &str = "gateway-admin";
const POD: &str = "gateway-0";
const CONTAINER: &str = "app";
const NODE: &str = "live-scrape-node";
/// `POD_NAME` as the downward API sets it in the Prometheus StatefulSet's first pod; the rendered
/// external label `prometheus_replica: ${POD_NAME}` expands it.
const PROMETHEUS_POD_NAME: &str = "machineavatars-prometheus-0";

/// The example stack and monitors, moved into the test's namespaces, plus [`PORTLESS_MONITOR`].
fn example() -> (ObservabilityStack, Vec<ServiceMonitor>) {
    let (stack, mut monitors) =
        stackscope_tests::example_in(STACK_NAMESPACE, APPS_NAMESPACE).unwrap_or_else(|error| panic!("{error}"));
    let gateway = monitors
        .iter()
        .find(|monitor| monitor.name_any() == SERVICE)
        .unwrap_or_else(|| panic!("the example has no {SERVICE} monitor"));
    let mut portless = gateway.clone();
    portless.metadata.name = Some(PORTLESS_MONITOR.to_owned());
    portless.spec.endpoints[0].port = Some("admin".to_owned());
    (portless.spec.slo, portless.spec.probes, portless.spec.alerts) = (None, None, None);
    monitors.push(portless);
    (stack, monitors)
}

fn job_name(monitor: &str) -> String {
    format!("serviceMonitor/{APPS_NAMESPACE}/{monitor}/0")
}

/// The machine's own non-loopback IPv4 address: the source address of its default route (a UDP
/// `connect` only picks the route, it sends nothing). The API server refuses loopback endpoint
/// addresses ("may not be in the loopback range") and single-label FQDNs such as `localhost`, so
/// the exporter listens here rather than on 127.0.0.1; the kernel delivers to a local address
/// over loopback all the same.
fn local_ipv4() -> Ipv4Addr {
    let route = || -> std::io::Result<IpAddr> {
        let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        // TEST-NET-3 (RFC 5737): any unicast address selects the default route.
        socket.connect((Ipv4Addr::new(203, 0, 113, 1), 9))?;
        Ok(socket.local_addr()?.ip())
    };
    match route() {
        Ok(IpAddr::V4(address)) if !address.is_loopback() && !address.is_unspecified() && !address.is_link_local() => {
            address
        }
        other => panic!(
            "this test needs a non-loopback IPv4 address (the API server refuses loopback endpoint addresses); \
             the default route gives {other:?}"
        ),
    }
}

/// A small exporter of the seed's RED series, answering `/metrics` in the Prometheus text format.
/// Its counters grow with every scrape, so rates over them are positive.
struct Exporter {
    address: SocketAddr,
    scrapes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Exporter {
    async fn start(ip: Ipv4Addr) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.unwrap_or_else(|e| panic!("exporter: bind {ip}: {e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("exporter: {e}"));
        let scrapes = Arc::new(AtomicU64::new(0));
        let counter = scrapes.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let _ = serve(stream, &counter).await;
                    });
                }
            }
        });
        Self { address, scrapes, task }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `scrape`th answer: 100 requests and 1 failure per scrape, 60% within 50 ms, 90% within
/// 100 ms (the gateway's latency SLO bucket), the rest slower.
fn exposition(scrape: u64) -> String {
    let (requests, failed) = (100 * scrape, scrape);
    let labels = format!(r#"service="{SERVICE}""#);
    format!(
        "# HELP http_requests_total Requests served.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{{{labels},method=\"GET\",status=\"200\"}} {requests}\n\
         # HELP http_requests_failed_total Requests that failed.\n\
         # TYPE http_requests_failed_total counter\n\
         http_requests_failed_total{{{labels},method=\"GET\",status=\"500\"}} {failed}\n\
         # HELP http_request_duration_seconds Request duration.\n\
         # TYPE http_request_duration_seconds histogram\n\
         http_request_duration_seconds_bucket{{{labels},le=\"0.05\"}} {}\n\
         http_request_duration_seconds_bucket{{{labels},le=\"0.1\"}} {}\n\
         http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {requests}\n\
         http_request_duration_seconds_sum{{{labels}}} {}\n\
         http_request_duration_seconds_count{{{labels}}} {requests}\n",
        60 * scrape,
        90 * scrape,
        7 * scrape,
    )
}

/// Answers one HTTP request: `/metrics` with the exposition, anything else 404.
async fn serve(mut stream: TcpStream, scrapes: &AtomicU64) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let (status, body) = if head.starts_with(b"GET /metrics ") {
        ("200 OK", exposition(scrapes.fetch_add(1, Ordering::SeqCst) + 1))
    } else {
        ("404 Not Found", String::new())
    };
    // Prometheus 3 fails scrapes without a valid Content-Type.
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The value of a vector sample.
fn sample_value(sample: &Value) -> Option<f64> {
    sample["value"][1].as_str()?.parse().ok()
}

/// A target's labels, without the internal `__` ones.
fn target_labels(target: &Value) -> BTreeMap<String, String> {
    target["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| !name.starts_with("__"))
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The real Prometheus, killed on drop.
struct Prometheus {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    fn start(config: &Path, work: &Path) -> Self {
        let binary = stackscope_tests::tools::binary("prometheus", "prometheus").unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .unwrap_or_else(|e| panic!("a free port: {e}"))
            .port();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log = work.join("prometheus.log");
        let output = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let errors = output.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", work.join("data").display()))
            .arg(format!("--web.listen-address={address}"))
            .env("POD_NAME", PROMETHEUS_POD_NAME)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        Self { child, address, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the message and the end of Prometheus' log.
    fn fail(&self, message: &str) -> ! {
        let log = self.log_text();
        let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        panic!(
            "live Prometheus (example stack, prometheus.yml): {message}\n--- Prometheus log (end) ---\n{}",
            tail.join("\n")
        )
    }

    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("exited with {status} before it was ready"));
            }
            if matches!(get(self.address, "/-/ready").await, Ok((200, _))) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.fail(&format!("not ready after {TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adapts the rendered `prometheus.yml` for a Prometheus outside the cluster, and only that:
/// - every `kubernetes_sd_configs` entry (scrape jobs and Alertmanager discovery) gets the control
///   plane's `kubeconfig_file`, where in a pod the in-cluster service account is used;
/// - the kubelet and cAdvisor jobs (role `node`) are dropped: they scrape kubelets, of which this
///   control plane has none, with the pod's service-account CA and token, which exist only inside
///   a pod (Prometheus cannot even create their scrape pools without them);
/// - `rule_files` points at the directory the rule files were written to;
/// - `global.evaluation_interval` is 1s, so the rule groups are evaluated within the test; scrape
///   intervals stay as rendered (the monitor's job carries its own 15s).
///
/// The stack's own component jobs stay: they discover the component pods the StatefulSet and
/// Deployment controllers create, which never run and have no IP, so they have no targets.
/// Returns the names of the dropped jobs.
fn adapt_for_outside(config: &mut Value, kubeconfig: &Path, rules_dir: &Path) -> Result<Vec<String>, String> {
    let kubeconfig = Value::String(kubeconfig.display().to_string());
    let with_kubeconfig = |discovery: &mut Value| -> Result<usize, String> {
        let entries = discovery.as_array_mut().ok_or("kubernetes_sd_configs is not a list")?;
        for entry in entries.iter_mut() {
            entry
                .as_object_mut()
                .ok_or("a kubernetes_sd_configs entry is not a map")?
                .insert("kubeconfig_file".to_owned(), kubeconfig.clone());
        }
        Ok(entries.len())
    };
    let jobs = config.get_mut("scrape_configs").and_then(Value::as_array_mut).ok_or("no scrape_configs")?;
    let mut dropped = Vec::new();
    jobs.retain(|job| {
        let roles = job["kubernetes_sd_configs"].as_array().into_iter().flatten();
        let kubelet = roles.into_iter().any(|discovery| discovery["role"] == "node");
        if kubelet {
            dropped.push(job["job_name"].as_str().unwrap_or_default().to_owned());
        }
        !kubelet
    });
    let mut adapted = 0;
    for job in jobs.iter_mut() {
        if let Some(discovery) = job.get_mut("kubernetes_sd_configs") {
            adapted += with_kubeconfig(discovery)?;
        }
    }
    let alertmanagers = config.pointer_mut("/alerting/alertmanagers").and_then(Value::as_array_mut);
    for alertmanager in alertmanagers.into_iter().flatten() {
        if let Some(discovery) = alertmanager.get_mut("kubernetes_sd_configs") {
            adapted += with_kubeconfig(discovery)?;
        }
    }
    if adapted == 0 {
        return Err("no kubernetes_sd_configs entry to adapt".to_owned());
    }
    let rules_glob = format!("{}/*.yml", rules_dir.display());
    *config.get_mut("rule_files").ok_or("no rule_files")? = json!([rules_glob]);
    *config.pointer_mut("/global/evaluation_interval").ok_or("no global.evaluation_interval")? = json!("1s");
    Ok(dropped)
}

async fn apply<K>(api: &Api<K>, object: Value)
where
    K: Clone + k8s_openapi::serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&object))
        .await
        .unwrap_or_else(|error| panic!("apply {kind} {name}: {error}"));
}

/// Removes the Pod of an earlier run at once: bound to a node without a kubelet, it would
/// otherwise wait for a graceful termination that never comes and hold its namespace.
async fn force_delete_pod(client: &Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    let _ = pods.delete(POD, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() }).await;
}

/// The Service, Pod and EndpointSlice of the exporter (and the Node the Pod is bound to, so the
/// example's `node` relabeling has a value and the pod is never garbage-collected as orphaned).
async fn describe_exporter(client: &Client, exporter: SocketAddr) {
    let port = exporter.port();
    let nodes: Api<Node> = Api::all(client.clone());
    apply(&nodes, json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})).await;

    // No selector: the EndpointSlice is ours, not the EndpointSlice controller's. `admin` is a
    // port of the Service (so the operator accepts the monitor naming it) but not of the slice.
    let services: Api<Service> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    apply(
        &services,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "labels": {"app": SERVICE}},
            "spec": {"ports": [
                {"name": "http", "port": 8000, "targetPort": port},
                {"name": "admin", "port": 9901, "targetPort": 9901}
            ]}
        }),
    )
    .await;

    // The ServiceAccount admission plugin needs the namespace's default ServiceAccount, which
    // the controller manager creates shortly after the namespace.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    wait_for("the default ServiceAccount of the apps namespace", TIMEOUT, || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    apply(
        &pods,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": POD, "labels": {"app": SERVICE}},
            "spec": {
                "nodeName": NODE,
                // The Node never reports Ready; its taints must not evict the Pod mid-test.
                "tolerations": [{"operator": "Exists"}],
                "containers": [{
                    "name": CONTAINER, "image": "stackscope.invalid/never-runs",
                    "ports": [{"name": "http", "containerPort": port}, {"name": "admin", "containerPort": 9901}]
                }]
            }
        }),
    )
    .await;

    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    apply(
        &slices,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{SERVICE}-live"), "labels": {
                "kubernetes.io/service-name": SERVICE,
                "endpointslice.kubernetes.io/managed-by": "stackscope-tests"
            }},
            "addressType": "IPv4",
            "endpoints": [{
                "addresses": [exporter.ip().to_string()],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": NODE,
                "targetRef": {"kind": "Pod", "name": POD, "namespace": APPS_NAMESPACE}
            }],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]
        }),
    )
    .await;
}

/// An EndpointSlice of the stack's Alertmanager Service (its pods never run) pointing at the
/// exporter, so Prometheus' Alertmanager discovery has something to find.
async fn describe_alertmanager(client: &Client, alertmanager_service: &str, address: SocketAddr) {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    apply(
        &slices,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{alertmanager_service}-live"), "labels": {
                "kubernetes.io/service-name": alertmanager_service,
                "endpointslice.kubernetes.io/managed-by": "stackscope-tests"
            }},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address.ip().to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": address.port(), "protocol": "TCP"}]
        }),
    )
    .await;
}

/// Starts the operator and waits until the stack is applied with every monitor accepted; returns
/// the running operator and the data of the Prometheus and rules ConfigMaps it applied.
async fn operator_output(
    client: &Client,
    stack: &ObservabilityStack,
    monitors: &[ServiceMonitor],
) -> (Operator, BTreeMap<String, String>, BTreeMap<String, String>) {
    let plane = control_plane().unwrap_or_else(|e| panic!("{e}"));
    let monitor_api: Api<ServiceMonitor> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    for monitor in monitors {
        monitor_api
            .patch(&monitor.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(monitor))
            .await
            .unwrap_or_else(|error| panic!("apply monitor {}: {error}", monitor.name_any()));
    }
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    stacks
        .patch(&stack.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(stack))
        .await
        .unwrap_or_else(|error| panic!("apply stack: {error}"));

    let operator = Operator::start(&plane, STACK_NAMESPACE, None).await.unwrap_or_else(|e| panic!("{e}"));
    let name = stack.name_any();
    let ready = wait_for("the stack applied with every monitor accepted", TIMEOUT, || async {
        let stack = stacks.get(&name).await.ok()?;
        let status = stack.status.as_ref()?;
        let current = status.observed_generation == stack.metadata.generation;
        let applied = status.conditions.iter().any(|c| c.condition_type == "Applied" && c.status == "True");
        (current && applied && status.accepted_monitors.len() == monitors.len()).then_some(())
    })
    .await;
    if let Err(error) = ready {
        let status = stacks.get(&name).await.ok().and_then(|stack| stack.status);
        panic!("{error}; status: {status:?}");
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let data = |name: String| {
        let config_maps = &config_maps;
        async move {
            config_maps
                .get(&name)
                .await
                .unwrap_or_else(|error| panic!("ConfigMap {name}: {error}"))
                .data
                .unwrap_or_default()
        }
    };
    let prometheus = data(format!("{name}-prometheus")).await;
    let rules = data(format!("{name}-rules")).await;
    (operator, prometheus, rules)
}

/// Removes what the test made once it passed (a failure leaves it all for inspection): the stack
/// first, while the operator runs, so its finalizer removes the cluster-scoped RBAC, then the Pod,
/// the Node and the namespaces, without waiting for them (the next run's `fresh_namespace` does).
async fn clean_up(client: &Client, operator: Operator, stack: &ObservabilityStack) {
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let name = stack.name_any();
    let _ = stacks.delete(&name, &DeleteParams::default()).await;
    wait_for("the stack deleted", TIMEOUT, || async { stacks.get_opt(&name).await.ok()?.is_none().then_some(()) })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    operator.stop().await;
    force_delete_pod(client).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = nodes.delete(NODE, &DeleteParams::default()).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        let _ = namespaces.delete(namespace, &DeleteParams::default()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_runs_the_operators_config_and_scrapes_a_service_monitor_target() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    force_delete_pod(&client).await;
    fresh_namespace(&client, STACK_NAMESPACE).await.unwrap_or_else(|error| panic!("{error}"));
    fresh_namespace(&client, APPS_NAMESPACE).await.unwrap_or_else(|error| panic!("{error}"));

    let exporter = Exporter::start(local_ipv4()).await;
    describe_exporter(&client, exporter.address).await;
    let (stack, monitors) = example();
    let (operator, prometheus_data, rules_data) = operator_output(&client, &stack, &monitors).await;
    describe_alertmanager(&client, &format!("{}-alertmanager", stack.name_any()), exporter.address).await;

    // The rendered configuration, adapted on the parsed YAML; the monitor's job stays as rendered.
    let text = prometheus_data.get("prometheus.yml").unwrap_or_else(|| panic!("no prometheus.yml in the ConfigMap"));
    let rendered: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("prometheus.yml: {e}"));
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rules_dir = work.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut config = rendered.clone();
    let dropped =
        adapt_for_outside(&mut config, &plane.kubeconfig, &rules_dir).unwrap_or_else(|e| panic!("prometheus.yml: {e}"));
    assert_eq!(dropped, ["kubelet", "cadvisor"], "only the kubelet jobs are in-cluster only");
    let job = job_name(SERVICE);
    let find_job = |config: &Value| {
        config["scrape_configs"].as_array().into_iter().flatten().find(|j| j["job_name"] == job.as_str()).cloned()
    };
    let mut adapted_job = find_job(&config).unwrap_or_else(|| panic!("prometheus.yml has no job {job}"));
    for discovery in adapted_job["kubernetes_sd_configs"].as_array_mut().into_iter().flatten() {
        discovery.as_object_mut().and_then(|entry| entry.remove("kubeconfig_file"));
    }
    assert_eq!(Some(adapted_job), find_job(&rendered), "the monitor's job must run as rendered");
    let config_path = work.path().join("prometheus.yml");
    let adapted = serde_saphyr::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&config_path, adapted).unwrap_or_else(|e| panic!("{e}"));
    let mut rule_groups: BTreeMap<(String, String), String> = BTreeMap::new();
    for (file, text) in &rules_data {
        let path = rules_dir.join(file);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let parsed: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("rules {file}: {e}"));
        for group in parsed["groups"].as_array().into_iter().flatten() {
            let name = group["name"].as_str().unwrap_or_default().to_owned();
            rule_groups.insert((path.display().to_string(), name), file.clone());
        }
    }
    assert!(!rule_groups.is_empty(), "the rules ConfigMap carries no rule group: {:?}", rules_data.keys());

    let mut prometheus = Prometheus::start(&config_path, work.path());
    prometheus.wait_ready().await;
    let address = prometheus.address;

    // The target: discovered, labelled as prometheus-operator labels it, and up.
    let instance = exporter.address.to_string();
    let targets = || async { api(address, "/api/v1/targets").await.ok() };
    let found = wait_for(&format!("an up target of {job}"), TIMEOUT, || async {
        let data = targets().await?;
        let active = data["activeTargets"].as_array()?;
        active.iter().find(|target| target["scrapePool"] == job.as_str() && target["health"] == "up").cloned()
    })
    .await;
    let target = match found {
        Ok(target) => target,
        Err(error) => {
            let pool: Vec<Value> = targets()
                .await
                .and_then(|data| data["activeTargets"].as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|target| target["scrapePool"] == job.as_str())
                .collect();
            prometheus.fail(&format!("{error}; active targets of the job: {pool:?}"))
        }
    };
    let expected: BTreeMap<String, String> = [
        ("job", SERVICE),
        ("namespace", APPS_NAMESPACE),
        ("service", SERVICE),
        ("endpoint", "http"),
        ("pod", POD),
        ("container", CONTAINER),
        ("instance", instance.as_str()),
        // The example's relabeling of `__meta_kubernetes_pod_node_name`.
        ("node", NODE),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    if target_labels(&target) != expected {
        prometheus.fail(&format!("job {job}: target labels {:?}, expected {expected:?}", target_labels(&target)));
    }

    let selector = format!(r#"job="{SERVICE}",namespace="{APPS_NAMESPACE}""#);
    // The scrape's samples are committed around the time its health is reported: poll briefly.
    let up = wait_for("up of the target", TIMEOUT, || async {
        let up = query(address, &format!("up{{{selector}}}")).await.ok()?;
        up.iter().any(|sample| sample_value(sample) == Some(1.0)).then_some(up)
    })
    .await
    .unwrap_or_else(|e| prometheus.fail(&format!("job {job}: up{{{selector}}}: {e}")));
    if up.len() != 1 {
        prometheus.fail(&format!("job {job}: up{{{selector}}} is {up:?}, expected one sample of 1"));
    }
    assert!(exporter.scrapes.load(Ordering::SeqCst) >= 1, "the exporter was never scraped");

    // A scraped RED series, with the target's labels (the exporter's own `service` label
    // agrees with the Service name; Prometheus keeps the target's and renames the exporter's).
    let requests =
        query(address, &format!("http_requests_total{{{selector}}}")).await.unwrap_or_else(|e| prometheus.fail(&e));
    let scraped = requests.first().filter(|sample| sample_value(sample).is_some_and(|value| value >= 100.0));
    if scraped.is_none_or(|sample| sample["metric"]["service"] != SERVICE || sample["metric"]["pod"] != POD) {
        prometheus.fail(&format!("job {job}: http_requests_total{{{selector}}} is {requests:?}"));
    }

    // The RED recording rules compute over the scraped series once two scrapes give a rate:
    // 1 failure per 100 requests.
    let ratio_rule = "service:http_requests_failed_per_http_requests:ratio_rate5m";
    let ratio = wait_for("the RED recording rules over the scraped series", TIMEOUT, || async {
        let rate = query(address, &format!(r#"service:http_requests:rate5m{{service="{SERVICE}"}}"#)).await.ok()?;
        rate.first().and_then(sample_value).filter(|value| *value > 0.0)?;
        let ratio = query(address, &format!(r#"{ratio_rule}{{service="{SERVICE}"}}"#)).await.ok()?;
        ratio.first().and_then(sample_value)
    })
    .await
    .unwrap_or_else(|e| prometheus.fail(&e));
    if (ratio - 0.01).abs() > 1e-9 {
        prometheus.fail(&format!("red.yml: {ratio_rule}{{service=\"{SERVICE}\"}} is {ratio}, expected 0.01"));
    }

    // Every rule group of every rendered file loaded, evaluated with the scraped data present,
    // and no rule failed.
    let groups = wait_for("every rendered rule group loaded and evaluated", TIMEOUT, || async {
        let data = api(address, "/api/v1/rules").await.ok()?;
        let groups = data["groups"].as_array()?.clone();
        let evaluated = |key: &(String, String)| {
            groups.iter().any(|group| {
                group["file"] == key.0.as_str()
                    && group["name"] == key.1.as_str()
                    && group["rules"]
                        .as_array()
                        .is_some_and(|rules| !rules.is_empty() && rules.iter().all(|rule| rule["health"] != "unknown"))
            })
        };
        (!rule_groups.is_empty() && rule_groups.keys().all(evaluated)).then_some(groups)
    })
    .await
    .unwrap_or_else(|e| prometheus.fail(&format!("{e}; expected groups: {:?}", rule_groups.keys())));
    let mut failures = Vec::new();
    for group in &groups {
        let key = (
            group["file"].as_str().unwrap_or_default().to_owned(),
            group["name"].as_str().unwrap_or_default().to_owned(),
        );
        let Some(file) = rule_groups.get(&key) else {
            failures.push(format!("unexpected group {} from {}", key.1, key.0));
            continue;
        };
        for rule in group["rules"].as_array().into_iter().flatten() {
            if rule["health"] != "ok" || rule.get("lastError").is_some() {
                failures.push(format!(
                    "{file}: group {}: rule {}: health {}, error {}",
                    key.1, rule["name"], rule["health"], rule["lastError"]
                ));
            }
        }
    }
    if groups.len() != rule_groups.len() || !failures.is_empty() {
        prometheus.fail(&format!(
            "{} groups loaded of {} rendered; failures:\n{}",
            groups.len(),
            rule_groups.len(),
            failures.join("\n")
        ));
    }

    // The stack's Alertmanager is discovered through its Service's EndpointSlice.
    let alertmanager_url = format!("http://{}/api/v2/alerts", exporter.address);
    wait_for("the Alertmanager discovered", TIMEOUT, || async {
        let data = api(address, "/api/v1/alertmanagers").await.ok()?;
        data["activeAlertmanagers"].as_array()?.iter().any(|am| am["url"] == alertmanager_url.as_str()).then_some(())
    })
    .await
    .unwrap_or_else(|e| prometheus.fail(&format!("alerting.alertmanagers: {e} ({alertmanager_url})")));

    // A monitor naming a port the EndpointSlice lacks: the endpoint is discovered for its job but
    // dropped by the port relabeling, so the job has no target.
    let portless = job_name(PORTLESS_MONITOR);
    let data = wait_for(&format!("the endpoint discovered and dropped for {portless}"), TIMEOUT, || async {
        let data = targets().await?;
        data["droppedTargets"]
            .as_array()?
            .iter()
            .any(|target| {
                target["scrapePool"] == portless.as_str()
                    && target["discoveredLabels"]["__meta_kubernetes_endpointslice_port_name"] == "http"
                    && target["discoveredLabels"]["__meta_kubernetes_service_name"] == SERVICE
            })
            .then_some(data)
    })
    .await
    .unwrap_or_else(|e| prometheus.fail(&e));
    let active: Vec<&Value> = data["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|target| target["scrapePool"] == portless.as_str())
        .collect();
    if !active.is_empty() {
        prometheus
            .fail(&format!("{portless} names port admin, absent from the EndpointSlice, yet has targets: {active:?}"));
    }

    // No discovery reads a deprecated API (the API server's warnings land in Prometheus' log).
    let warnings: Vec<String> = prometheus
        .log_text()
        .lines()
        .filter(|line| line.contains("component=k8s_client_runtime") && line.contains("Warning:"))
        .map(str::to_owned)
        .collect();
    if !warnings.is_empty() {
        prometheus.fail(&format!("the API server warned Prometheus' discovery:\n{}", warnings.join("\n")));
    }

    drop(prometheus);
    clean_up(&client, operator, &stack).await;
}
