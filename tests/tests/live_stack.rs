//! The example stack running on the real node (`tools/node.sh`), and signals flowing through it:
//! the operator (in process) reconciles `examples/node/stack.yaml` — the MachineAvatars example
//! with its receivers at the catcher and its times shortened — over the stand-in workloads of
//! `examples/workloads/` and the example's five ServiceMonitors. In order, on that one stack:
//!
//! 1. every pod becomes Ready: the kubelet runs the rendered liveness and readiness probes, and
//!    the stack's `Ready` agrees;
//! 2. Prometheus, configured only by the operator, scrapes every endpoint it selects (`up == 1`),
//!    discovered through the API server;
//! 3. a trace id Prometheus returns as an exemplar of a stand-in's latency histogram is found in
//!    Jaeger through its query API;
//! 4. a gateway switched to 25% errors fires HighErrorRate, then CriticalErrorRate; the catchers
//!    receive each on exactly the channels the observability document names, the escalation steps
//!    of the critical one in path order, and the Watchdog reaches the dead man's switch alone;
//! 5. a new ServiceMonitor becomes an active scrape target once the reloader has reloaded the
//!    pod's configuration (the latency is printed; `make scale` measures it, no assertion on time);
//! 6. a container argument of a running workload edited by hand is reported as drift, corrected,
//!    and its pods roll back.
//!
//! Loki, Promtail and Grafana have no image here (their source is under the AGPL and may not be
//! built), so the node stack disables them; their configurations are judged offline by the other
//! tests. The long-term path (Thanos) is not part of this stack (its object storage is a cloud
//! bucket).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use stackscope::api::ObservabilityStack;
use stackscope_tests::cluster::{ControlPlane, Operator, client, fresh_namespace, install_crds, pod_ready, wait_for};
use stackscope_tests::http::{asynchronous as http, encode};
use stackscope_tests::node::{node, service_address};
use stackscope_tests::repo_root;
use stackscope_tests::seed::seed;

/// Images are large and the machine has two loaded cores.
const TIMEOUT: Duration = Duration::from_secs(300);
const STACK_NAMESPACE: &str = "observability";
const APPS_NAMESPACE: &str = "machineavatars";
const CATCHERS_NAMESPACE: &str = "catchers";
const STACK: &str = "machineavatars";
/// The manifests, in the order they are applied.
const MANIFESTS: [&str; 4] = [
    "examples/workloads/catchers.yaml",
    "examples/workloads/machineavatars.yaml",
    "examples/machineavatars/monitors.yaml",
    "examples/node",
];
/// The monitors of `examples/machineavatars/monitors.yaml`.
const MONITORS: [&str; 5] = ["gateway", "auth-service", "response-3d", "response-text", "llm-service"];

/// The running stack: the node's client and the operator reconciling it.
struct Live {
    client: Client,
    plane: ControlPlane,
    _operator: Operator,
}

/// `kubectl ARGS` against the node's control plane.
fn kubectl(plane: &ControlPlane, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(plane.bin_dir.join("kubectl"))
        .arg("--kubeconfig")
        .arg(&plane.kubeconfig)
        .args(args)
        .output()
        .map_err(|error| format!("kubectl: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr)))
    }
}

impl Live {
    /// Fresh namespaces, the manifests applied as a user would (`kubectl apply --server-side`),
    /// and the operator started.
    async fn start() -> Self {
        let node = node().unwrap_or_else(|error| panic!("{error}"));
        let client = client(&node.plane, None).await.unwrap_or_else(|error| panic!("{error}"));
        install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
        for namespace in [STACK_NAMESPACE, APPS_NAMESPACE, CATCHERS_NAMESPACE] {
            fresh_namespace(&client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
        }
        for manifest in MANIFESTS {
            let path = repo_root().join(manifest);
            let path = path.to_string_lossy();
            kubectl(&node.plane, &["apply", "--server-side", "--field-manager=live-stack", "-f", &path])
                .unwrap_or_else(|error| panic!("{error}"));
        }
        let operator =
            Operator::start(&node.plane, STACK_NAMESPACE, None).await.unwrap_or_else(|error| panic!("{error}"));
        Self { client, plane: node.plane.clone(), _operator: operator }
    }

    async fn stack(&self) -> Option<ObservabilityStack> {
        Api::<ObservabilityStack>::namespaced(self.client.clone(), STACK_NAMESPACE).get(STACK).await.ok()
    }

    /// A Service's cluster IP and named port, as an address the machine can dial.
    async fn service(&self, namespace: &str, name: &str, port_name: &str) -> SocketAddr {
        service_address(&self.client, namespace, name, port_name).await.unwrap_or_else(|error| panic!("{error}"))
    }

    async fn pods(&self, namespace: &str, selector: Option<&str>) -> Vec<Pod> {
        let params = selector.map_or_else(ListParams::default, |selector| ListParams::default().labels(selector));
        Api::<Pod>::namespaced(self.client.clone(), namespace)
            .list(&params)
            .await
            .unwrap_or_else(|error| panic!("list pods of {namespace}: {error}"))
            .items
    }

    /// Pods of the namespaces that are not (yet) Ready, with their phase and container states.
    async fn pods_not_ready(&self) -> Vec<String> {
        let mut not_ready = Vec::new();
        for namespace in [STACK_NAMESPACE, APPS_NAMESPACE, CATCHERS_NAMESPACE] {
            for pod in self.pods(namespace, None).await {
                if !pod_ready(&pod) {
                    let states: Vec<String> = pod
                        .status
                        .as_ref()
                        .and_then(|status| status.container_statuses.as_ref())
                        .into_iter()
                        .flatten()
                        .map(|c| format!("{}: {:?}", c.name, c.state))
                        .collect();
                    not_ready.push(format!("{namespace}/{} {states:?}", pod.name_any()));
                }
            }
        }
        not_ready
    }
}

impl Drop for Live {
    /// The stack's pods take most of the node: the next tests need it back.
    fn drop(&mut self) {
        let _ = kubectl(
            &self.plane,
            &["delete", "namespace", APPS_NAMESPACE, CATCHERS_NAMESPACE, STACK_NAMESPACE, "--wait=false"],
        );
    }
}

fn condition_status(stack: &ObservabilityStack, kind: &str) -> Option<String> {
    let status = stack.status.as_ref()?;
    status.conditions.iter().find(|c| c.condition_type == kind).map(|c| c.status.clone())
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs_f64()).unwrap_or_default()
}

/// Stage 1: Every pod of the stack, the stand-ins and the catcher becomes Ready, and so does the stack.
async fn every_pod_becomes_ready_through_the_rendered_probes(live: &Live) {
    let ready = wait_for("the stack Ready and every pod Ready", TIMEOUT, || async {
        let stack = live.stack().await?;
        let current = stack.status.as_ref()?.observed_generation == stack.metadata.generation;
        let stack_ready = current && condition_status(&stack, "Ready").as_deref() == Some("True");
        (stack_ready && live.pods_not_ready().await.is_empty()).then_some(stack)
    })
    .await;
    let stack = match ready {
        Ok(stack) => stack,
        Err(error) => {
            let status = live.stack().await.and_then(|stack| stack.status);
            panic!("{error}\nnot ready: {:#?}\nstatus: {status:#?}", live.pods_not_ready().await)
        }
    };
    let workloads: BTreeSet<String> = stack
        .status
        .iter()
        .flat_map(|status| status.components.iter())
        .flat_map(|component| component.workloads.iter())
        .filter(|workload| workload.ready)
        .map(|workload| workload.name.clone())
        .collect();
    let expected: BTreeSet<String> = [
        "StatefulSet/machineavatars-prometheus",
        "StatefulSet/machineavatars-alertmanager",
        "Deployment/machineavatars-jaeger",
        "Deployment/machineavatars-kube-state-metrics",
        "DaemonSet/machineavatars-node-exporter",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(workloads, expected, "the ready workloads of the stack's status");
    // Ready was the kubelet's judgement of the rendered probes: every container has both.
    for pod in live.pods(STACK_NAMESPACE, None).await {
        for container in pod.spec.iter().flat_map(|spec| spec.containers.iter()) {
            assert!(
                container.readiness_probe.is_some() && container.liveness_probe.is_some(),
                "{}/{} runs without the rendered probes",
                pod.name_any(),
                container.name
            );
        }
    }
}

/// Stage 2: Every active target is up, among them every endpoint of the five monitors.
async fn prometheus_scrapes_every_selected_endpoint(live: &Live, prometheus: SocketAddr) {
    let pools = wait_for("every active target up", TIMEOUT, || async {
        let targets = http::api(prometheus, "/api/v1/targets?state=active").await.ok()?;
        let mut pools: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for target in targets["activeTargets"].as_array()? {
            let pool = target["scrapePool"].as_str()?.to_owned();
            pools.entry(pool).or_default().push(target["health"].as_str()?.to_owned());
        }
        let every_monitor =
            MONITORS.iter().all(|monitor| pools.contains_key(&format!("serviceMonitor/{APPS_NAMESPACE}/{monitor}/0")));
        let all_up = pools.values().flatten().all(|health| health == "up");
        (every_monitor && all_up).then_some(pools)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    // One target per replica of the stand-in each monitor selects.
    let mut endpoints = 0;
    for monitor in MONITORS {
        let replicas = live.pods(APPS_NAMESPACE, Some(&format!("app={monitor}"))).await.len();
        let pool = &pools[&format!("serviceMonitor/{APPS_NAMESPACE}/{monitor}/0")];
        assert_eq!(pool.len(), replicas, "{monitor}: {pool:?}");
        endpoints += replicas;
    }
    // The same seen through PromQL: `up` is 1 for every endpoint of the monitored namespace.
    let up = http::query(prometheus, &format!("up{{namespace=\"{APPS_NAMESPACE}\"}}"))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(up.len(), endpoints, "{up:?}");
    assert!(up.iter().all(|sample| sample["value"][1] == "1"), "{up:?}");
}

/// Stage 3: A trace id returned as an exemplar of the gateway's latency histogram is found in Jaeger.
async fn an_exemplars_trace_is_found_in_jaeger(live: &Live, prometheus: SocketAddr) {
    let jaeger = live.service(STACK_NAMESPACE, "machineavatars-jaeger", "query-http").await;
    let found = wait_for("an exemplar's trace in Jaeger", TIMEOUT, || async {
        let now = unix_now();
        let query = encode(&format!(
            "http_request_duration_seconds_bucket{{namespace=\"{APPS_NAMESPACE}\",service=\"gateway\"}}"
        ));
        let path = format!("/api/v1/query_exemplars?query={query}&start={}&end={now}", now - 300.0);
        let series = http::api(prometheus, &path).await.ok()?;
        // Newest first: the first requests' spans may have been sent before Jaeger was ready.
        let mut exemplars: Vec<(f64, String)> = series
            .as_array()?
            .iter()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|exemplar| {
                Some((exemplar["timestamp"].as_f64()?, exemplar["labels"]["trace_id"].as_str()?.to_owned()))
            })
            .collect();
        exemplars.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ids: Vec<String> = exemplars.into_iter().map(|(_, id)| id).collect();
        // The gateway calls the auth service with the trace context: one trace across both (the
        // gateway's span ends last, so its batch may arrive after the auth service's).
        for id in ids.iter().rev().take(5) {
            if let Ok(trace) = http::get_json(jaeger, &format!("/api/traces/{id}")).await
                && trace["data"][0]["traceID"] == json!(id)
                && trace_services(&trace["data"][0])
                    == BTreeSet::from(["auth-service".to_owned(), "gateway".to_owned()])
            {
                return Some(());
            }
        }
        None
    })
    .await;
    found.unwrap_or_else(|error| panic!("{error}: no exemplar's trace with spans of the gateway and the auth service"));
}

/// The services whose spans a Jaeger trace holds.
fn trace_services(trace: &Value) -> BTreeSet<String> {
    let processes = trace["processes"].as_object().into_iter().flatten();
    processes.filter_map(|(_, process)| process["serviceName"].as_str().map(str::to_owned)).collect()
}

/// One delivery the catcher recorded, read back: receiver kind, alert name, service, recipients.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    sequence: u64,
    receiver: String,
    alert: String,
    service: String,
    recipients: Vec<String>,
}

/// The alert of a firing notification's title (`[P1] FIRING: CriticalErrorRate (critical,
/// gateway)`, as the rendered templates write it for Slack, PagerDuty and email).
fn firing_alert(title: &str) -> Option<(String, String)> {
    let rest = title.split_once("FIRING: ")?.1;
    let (alert, labels) = rest.split_once(" (")?;
    let service = labels.trim_end_matches(')').rsplit(", ").next()?;
    Some((alert.to_owned(), service.to_owned()))
}

fn delivery(record: &Value) -> Option<Delivery> {
    let receiver = record["receiver"].as_str()?.to_owned();
    let title = match receiver.as_str() {
        "slack" => record["payload"]["attachments"][0]["title"].as_str()?,
        "pagerduty" => record["payload"]["payload"]["summary"].as_str()?,
        "email" => record["payload"]["subject"].as_str()?,
        _ => return None,
    };
    let (alert, service) = firing_alert(title)?;
    let recipients = record["envelope"]["rcptTo"].as_array().into_iter().flatten();
    Some(Delivery {
        sequence: record["sequence"].as_u64()?,
        receiver,
        alert,
        service,
        recipients: recipients.filter_map(Value::as_str).map(str::to_owned).collect(),
    })
}

/// The email recipients of the node stack's receivers: the email channel's `to` under "email",
/// and each escalation step's `email` under its name.
fn email_recipients() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("examples/node/stack.yaml")).unwrap_or_default();
    let stack: Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("examples/node/stack.yaml: {error}"));
    let routing = &stack["spec"]["alerting"]["routing"];
    let addresses =
        |list: &Value| list.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    let steps = routing["escalation"].as_array().into_iter().flatten();
    let mut recipients: BTreeMap<String, Vec<String>> =
        steps.filter_map(|step| Some((step["name"].as_str()?.to_owned(), addresses(&step["email"])))).collect();
    recipients.insert("email".to_owned(), addresses(&routing["email"]["to"]));
    recipients
}

/// Sets the error rate of every gateway replica (`POST /control` on each pod, not the Service,
/// which would reach one).
async fn set_gateway_error_rate(live: &Live, rate: f64) -> Result<(), String> {
    for pod in live.pods(APPS_NAMESPACE, Some("app=gateway")).await {
        let ip: IpAddr = pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| format!("{} has no IP", pod.name_any()))?;
        let (status, body) =
            http::post_json(SocketAddr::new(ip, 8000), "/control", &json!({"errorRate": rate})).await?;
        if status != 200 {
            return Err(format!("POST /control on {}: {status} {body}", pod.name_any()));
        }
    }
    Ok(())
}

/// Stage 4: 25% errors at the gateway: HighErrorRate then CriticalErrorRate, each on its document
/// channels, the critical one's escalation steps in order; the Watchdog at the dead man's switch.
async fn errors_fire_high_then_critical_on_the_documents_channels_in_escalation_order(live: &Live) {
    let catcher = live.service(CATCHERS_NAMESPACE, "catcher", "http").await;
    let alertmanager = live.service(STACK_NAMESPACE, "machineavatars-alertmanager", "http").await;
    let names = ["HighErrorRate", "CriticalErrorRate"];
    // Each of the document's alerts with its receivers: channels, and escalation steps when it pages.
    let expected_receivers: BTreeMap<String, BTreeSet<String>> = names
        .iter()
        .map(|name| {
            let alert = seed().alerts.iter().find(|a| a.name == *name).unwrap_or_else(|| panic!("{name}"));
            (name.to_string(), seed().receivers_of(alert).into_iter().collect())
        })
        .collect();
    // Every gateway replica fails a quarter of its requests.
    set_gateway_error_rate(live, 0.25).await.unwrap_or_else(|error| panic!("{error}"));
    // What each alert should reach, as (receiver kind, recipients): the webhooks, and the email
    // channel and the escalation steps at their addresses.
    let recipients = email_recipients();
    let recipients_of = |receiver: &str| {
        recipients.get(receiver).cloned().unwrap_or_else(|| panic!("examples/node names no {receiver}"))
    };
    let expected_deliveries: BTreeMap<&str, BTreeSet<(String, Vec<String>)>> = names
        .iter()
        .map(|name| {
            let deliveries = expected_receivers[*name]
                .iter()
                .map(|receiver| match receiver.as_str() {
                    "slack" | "pagerduty" => (receiver.clone(), Vec::new()),
                    email => ("email".to_owned(), recipients_of(email)),
                })
                .collect();
            (*name, deliveries)
        })
        .collect();
    let expected_deliveries = &expected_deliveries;
    let deliveries = wait_for("both alerts delivered on all their channels", TIMEOUT, || async {
        let records = http::get_json(catcher, "/received").await.ok()?;
        let deliveries: Vec<Delivery> = records
            .as_array()?
            .iter()
            .filter_map(delivery)
            .filter(|d| d.service == "gateway" && names.contains(&d.alert.as_str()))
            .collect();
        let complete = names.iter().all(|name| {
            let got: BTreeSet<(String, Vec<String>)> = deliveries
                .iter()
                .filter(|d| d.alert == *name)
                .map(|d| (d.receiver.clone(), d.recipients.clone()))
                .collect();
            expected_deliveries[name].is_subset(&got)
        });
        complete.then_some(deliveries)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));

    for name in names {
        let got: BTreeSet<(String, Vec<String>)> =
            deliveries.iter().filter(|d| d.alert == name).map(|d| (d.receiver.clone(), d.recipients.clone())).collect();
        assert_eq!(got, expected_deliveries[name], "{name}: the catchers got {deliveries:#?}");
    }
    let first = |name: &str, receiver: &str, recipients: Option<&[String]>| {
        deliveries
            .iter()
            .filter(|d| d.alert == name && d.receiver == receiver)
            .filter(|d| recipients.is_none_or(|r| d.recipients == r))
            .map(|d| d.sequence)
            .min()
            .unwrap_or_else(|| panic!("no {name} at {receiver}"))
    };
    assert!(
        first("HighErrorRate", "slack", None) < first("CriticalErrorRate", "slack", None),
        "HighErrorRate fires before CriticalErrorRate: {deliveries:#?}"
    );
    let steps: Vec<String> = seed().steps_of_level("P1");
    let arrivals: Vec<u64> =
        steps.iter().map(|step| first("CriticalErrorRate", "email", Some(&recipients_of(step)))).collect();
    assert!(arrivals.windows(2).all(|pair| pair[0] < pair[1]), "escalation {steps:?} arrived as {arrivals:?}");

    // Alertmanager's own view: each alert's groups are exactly its receivers, so no step beyond
    // its level's (the CTO's, P0 only) will ever be notified.
    let groups = http::get_json(alertmanager, "/api/v2/alerts/groups").await.unwrap_or_else(|error| panic!("{error}"));
    for name in names {
        let receivers: BTreeSet<String> = groups
            .as_array()
            .into_iter()
            .flatten()
            .filter(|group| {
                group["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|alert| alert["labels"]["alertname"] == name && alert["labels"]["service"] == "gateway")
            })
            .filter_map(|group| group["receiver"]["name"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(receivers, expected_receivers[name], "{name}'s groups in Alertmanager");
    }

    // The Watchdog reaches the dead man's switch, and no channel.
    let watchdog = wait_for("the Watchdog at the dead man's switch", TIMEOUT, || async {
        let records = http::get_json(catcher, "/received?receiver=webhook").await.ok()?;
        records.as_array()?.iter().find(|record| record["payload"]["commonLabels"]["alertname"] == "Watchdog").cloned()
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(watchdog["request"]["path"], "/webhook/dead-mans-switch", "{watchdog}");
    let records = http::get_json(catcher, "/received").await.unwrap_or_else(|error| panic!("{error}"));
    let elsewhere: Vec<Delivery> =
        records.as_array().into_iter().flatten().filter_map(delivery).filter(|d| d.alert == "Watchdog").collect();
    assert!(elsewhere.is_empty(), "the Watchdog reached channels: {elsewhere:?}");

    // Back to health, for what follows.
    let _ = set_gateway_error_rate(live, 0.0).await;
}

/// Stage 5: A ServiceMonitor created now becomes an active target once the pod's configuration is
/// reloaded; the time from the apply to the active target is printed.
async fn a_new_service_monitor_becomes_an_active_target(live: &Live, prometheus: SocketAddr) {
    let monitor = json!({
        "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
        "metadata": {"name": "catcher-of-llm", "namespace": APPS_NAMESPACE, "labels": {"platform": "machineavatars"}},
        "spec": {
            "selector": {"matchLabels": {"app": "llm-service"}},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "5s"}],
        },
    });
    let api: Api<stackscope::api::ServiceMonitor> = Api::namespaced(live.client.clone(), APPS_NAMESPACE);
    let applied = Instant::now();
    api.patch("catcher-of-llm", &PatchParams::apply("live-stack").force(), &Patch::Apply(&monitor))
        .await
        .unwrap_or_else(|error| panic!("apply the monitor: {error}"));
    let pool = format!("serviceMonitor/{APPS_NAMESPACE}/catcher-of-llm/0");
    let pool_ref = &pool;
    wait_for("the new monitor's targets active and up", TIMEOUT, || async move {
        let targets = http::api(prometheus, "/api/v1/targets?state=active").await.ok()?;
        let healths: Vec<&str> = targets["activeTargets"]
            .as_array()?
            .iter()
            .filter(|t| t["scrapePool"] == pool_ref.as_str())
            .filter_map(|t| t["health"].as_str())
            .collect();
        (healths.len() == 2 && healths.iter().all(|h| *h == "up")).then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    eprintln!("live: ServiceMonitor applied -> target up in {:.1} s", applied.elapsed().as_secs_f64());
    let _ = api.delete("catcher-of-llm", &Default::default()).await;
}

/// The name and arguments of the Deployment's first container.
fn first_container(deployment: &Deployment) -> (String, Vec<String>) {
    let container = deployment.spec.as_ref().and_then(|spec| spec.template.spec.as_ref()?.containers.first());
    container.map(|c| (c.name.clone(), c.args.clone().unwrap_or_default())).unwrap_or_default()
}

/// Stage 6: A container argument of kube-state-metrics edited by hand: the drift is reported and
/// corrected, and the pods roll back to the rendered arguments.
async fn drift_on_a_running_workload_is_corrected_and_the_pods_roll_back(live: &Live) {
    let name = "machineavatars-kube-state-metrics";
    let deployments: Api<Deployment> = Api::namespaced(live.client.clone(), STACK_NAMESPACE);
    let (container, original) =
        first_container(&deployments.get(name).await.unwrap_or_else(|error| panic!("get Deployment {name}: {error}")));
    assert!(!original.is_empty(), "{name} has no arguments");
    let mut edited = original.clone();
    edited.push("--log-level=debug".to_owned());
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": container, "args": edited}]}}}});
    deployments
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap_or_else(|error| panic!("edit {name}: {error}"));

    let object = format!("Deployment/{STACK_NAMESPACE}/{name}");
    let object_ref = &object;
    wait_for("the drift reported as corrected", TIMEOUT, || async move {
        let stack = live.stack().await?;
        let drift = stack.status?.drift;
        let entry = drift.iter().find(|entry| entry.object == *object_ref && entry.corrected)?;
        (entry.path == "spec.template.spec.containers[0].args" && entry.actual.contains("--log-level=debug"))
            .then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let original_ref = &original;
    let deployments_ref = &deployments;
    wait_for("the pods rolled back to the rendered arguments", TIMEOUT, || async move {
        let deployment = deployments_ref.get(name).await.ok()?;
        let status = deployment.status.as_ref()?;
        let rolled = first_container(&deployment).1 == *original_ref
            && status.observed_generation == deployment.metadata.generation
            && status.updated_replicas == status.replicas
            && status.ready_replicas == status.replicas
            && status.replicas == deployment.spec.as_ref()?.replicas;
        let pods = live.pods(STACK_NAMESPACE, Some("app.kubernetes.io/name=kube-state-metrics")).await;
        let pods_original = pods.iter().all(|pod| {
            pod.spec.as_ref().and_then(|spec| spec.containers.first()).and_then(|c| c.args.clone()).as_ref()
                == Some(original_ref)
        });
        (rolled && pods_original && !pods.is_empty()).then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_stack_runs_on_the_node_and_its_signals_flow_through_it() {
    let started = Instant::now();
    let live = Live::start().await;
    every_pod_becomes_ready_through_the_rendered_probes(&live).await;
    eprintln!("live: every pod Ready after {:.0} s", started.elapsed().as_secs_f64());
    let prometheus = live.service(STACK_NAMESPACE, "machineavatars-prometheus", "http").await;
    prometheus_scrapes_every_selected_endpoint(&live, prometheus).await;
    an_exemplars_trace_is_found_in_jaeger(&live, prometheus).await;
    errors_fire_high_then_critical_on_the_documents_channels_in_escalation_order(&live).await;
    eprintln!("live: alerts delivered after {:.0} s", started.elapsed().as_secs_f64());
    a_new_service_monitor_becomes_an_active_target(&live, prometheus).await;
    drift_on_a_running_workload_is_corrected_and_the_pods_roll_back(&live).await;
}
