//! The operator against a real kube-apiserver, etcd and kube-controller-manager (started by
//! `tools/control-plane.sh`). Each test works in namespaces of its own and runs its own
//! in-process operator limited to them, counting every write request it sends.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use stackscope::api::{Condition, ObservabilityStack, ServiceMonitor, WorkloadStatus};
use stackscope::controller::leader::LeaseConfig;
use stackscope::render::common::STACK_LABEL;
use stackscope_tests::cluster::{
    ControlPlane, Operator, client, control_plane, fresh_namespace, install_crds, wait_for,
};
use stackscope_tests::kubelet::{Failure, Kubelet};

const TIMEOUT: Duration = Duration::from_secs(90);
const TEST_MANAGER: &str = "stackscope-tests";
const LEASE: &str = "stackscope-leader";
const LEASE_DURATION: Duration = Duration::from_secs(6);
const LEASE_RENEWAL: Duration = Duration::from_secs(2);

/// The stack as a manifest to apply: without what the API server keeps for itself.
fn applicable(stack: &ObservabilityStack) -> ObservabilityStack {
    let mut stack = stack.clone();
    stack.metadata.managed_fields = None;
    stack.metadata.resource_version = None;
    stack.status = None;
    stack
}

struct Scenario {
    plane: ControlPlane,
    client: Client,
    stack_namespace: String,
    apps_namespace: String,
    stack: ObservabilityStack,
    monitors: Vec<ServiceMonitor>,
}

impl Scenario {
    async fn new(name: &str) -> Self {
        let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
        let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
        install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
        let stack_namespace = format!("obs-{name}");
        let apps_namespace = format!("apps-{name}");
        fresh_namespace(&client, &stack_namespace).await.unwrap_or_else(|error| panic!("{error}"));
        fresh_namespace(&client, &apps_namespace).await.unwrap_or_else(|error| panic!("{error}"));
        let (stack, monitors) =
            stackscope_tests::example_in(&stack_namespace, &apps_namespace).unwrap_or_else(|error| panic!("{error}"));
        Self { plane, client, stack_namespace, apps_namespace, stack, monitors }
    }

    fn stacks(&self) -> Api<ObservabilityStack> {
        Api::namespaced(self.client.clone(), &self.stack_namespace)
    }

    async fn apply_all(&self) {
        for monitor in &self.monitors {
            self.apply_monitor(monitor).await;
        }
        self.apply_stack(&self.stack).await;
    }

    async fn apply_stack(&self, stack: &ObservabilityStack) {
        let stack = applicable(stack);
        self.stacks()
            .patch(&stack.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&stack))
            .await
            .unwrap_or_else(|error| panic!("apply stack: {error}"));
    }

    async fn apply_monitor(&self, monitor: &ServiceMonitor) {
        let api: Api<ServiceMonitor> = Api::namespaced(self.client.clone(), &self.apps_namespace);
        let mut monitor = monitor.clone();
        monitor.status = None;
        api.patch(&monitor.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&monitor))
            .await
            .unwrap_or_else(|error| panic!("apply monitor {}: {error}", monitor.name_any()));
    }

    async fn operator(&self) -> Operator {
        Operator::start(&self.plane, &self.stack_namespace, None).await.unwrap_or_else(|error| panic!("{error}"))
    }

    /// Waits until the stack reports the condition with the status for its current generation.
    async fn wait_condition(&self, kind: &str, status: &str) -> ObservabilityStack {
        let api = self.stacks();
        let name = self.stack.name_any();
        wait_for(&format!("{kind}={status}"), TIMEOUT, || async {
            let stack = api.get(&name).await.ok()?;
            let current = stack.status.as_ref()?;
            let observed = current.observed_generation == stack.metadata.generation;
            let matches = current.conditions.iter().any(|c| c.condition_type == kind && c.status == status);
            (observed && matches).then_some(stack)
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    }

    async fn wait_status<F>(&self, what: &str, check: F) -> ObservabilityStack
    where
        F: Fn(&ObservabilityStack) -> bool,
    {
        let api = &self.stacks();
        let name = &self.stack.name_any();
        let check = &check;
        wait_for(what, TIMEOUT, || async move {
            let stack = api.get(name).await.ok()?;
            check(&stack).then_some(stack)
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.stack_namespace)
    }

    fn object_name(&self, component: &str) -> String {
        format!("{}-{component}", self.stack.name_any())
    }

    /// A leader (`first`, Ready) and a standby (`second`) under one Lease of 6 s renewed every 2 s.
    async fn leader_and_standby(&self) -> (Operator, Operator) {
        let lease = |identity: &str| LeaseConfig {
            namespace: self.stack_namespace.clone(),
            name: LEASE.to_owned(),
            identity: identity.to_owned(),
            lease_duration: LEASE_DURATION,
            renew_every: LEASE_RENEWAL,
        };
        let first = Operator::start(&self.plane, &self.stack_namespace, Some(lease("first")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.wait_condition("Applied", "True").await;
        let second = Operator::start(&self.plane, &self.stack_namespace, Some(lease("second")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (first, second)
    }

    /// Sets the stack's trace retention and waits until Jaeger's rendered config carries it.
    async fn set_trace_retention(&self, retention: &str, applied_by: &str) {
        let mut changed = self.stack.clone();
        changed.spec.tracing.storage.retention = stackscope::api::Duration::from(retention);
        self.apply_stack(&changed).await;
        let config_maps = self.config_maps();
        let jaeger = self.object_name("jaeger");
        let needle = format!("spans: {retention}");
        wait_for(&format!("the change to {retention} applied by {applied_by}"), TIMEOUT, || async {
            config_maps.get(&jaeger).await.ok()?.data?.get("config.yaml")?.contains(&needle).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Triggers a reconcile without changing the spec and waits until it ran.
    async fn nudge(&self, operator: &Operator, value: &str) {
        let before = operator.reconciles();
        let patch = serde_json::json!({"metadata": {"annotations": {"stackscope-tests/nudge": value}}});
        self.stacks()
            .patch(&self.stack.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|error| panic!("nudge: {error}"));
        wait_for("a reconcile after the nudge", TIMEOUT, || async { (operator.reconciles() > before).then_some(()) })
            .await
            .unwrap_or_else(|error| panic!("{error}"));
    }
}

fn rendered_keys(stack: &ObservabilityStack, monitors: &[ServiceMonitor]) -> Vec<(String, String, String)> {
    let resolved = stackscope::resolve::ResolvedStack::new(stack, monitors);
    stackscope::render::render_stack(&resolved)
        .unwrap_or_else(|error| panic!("{error}"))
        .into_iter()
        .map(|rendered| {
            let types = rendered.object.types.clone().unwrap_or_default();
            (types.api_version, types.kind, rendered.object.name_any())
        })
        .collect()
}

async fn get_dynamic(
    client: &Client,
    namespace: &str,
    api_version: &str,
    kind: &str,
    name: &str,
) -> Option<DynamicObject> {
    let owned = stackscope::controller::kinds::find(api_version, kind)?;
    let api: Api<DynamicObject> = if owned.namespaced {
        Api::namespaced_with(client.clone(), namespace, &owned.resource)
    } else {
        Api::all_with(client.clone(), &owned.resource)
    };
    api.get_opt(name).await.ok().flatten()
}

/// Whether the stack has the condition with this status and reason.
fn condition_is(stack: &ObservabilityStack, kind: &str, status: &str, reason: &str) -> bool {
    stack.status.as_ref().is_some_and(|current| {
        current.conditions.iter().any(|c| c.condition_type == kind && c.status == status && c.reason == reason)
    })
}

fn condition_of<'a>(stack: &'a ObservabilityStack, kind: &str) -> &'a Condition {
    let conditions = stack.status.as_ref().map(|status| status.conditions.as_slice()).unwrap_or_default();
    conditions.iter().find(|c| c.condition_type == kind).unwrap_or_else(|| panic!("no {kind} condition"))
}

/// A component's workload in the stack's status.
fn workload<'a>(stack: &'a ObservabilityStack, component: &str, name: &str) -> Option<&'a WorkloadStatus> {
    let status = stack.status.as_ref()?;
    status.components.iter().find(|c| c.name == component)?.workloads.iter().find(|w| w.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_stack_is_applied_then_ready_once_its_pods_run_and_a_no_op_reconcile_sends_nothing() {
    let scenario = Scenario::new("create").await;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    let stack = scenario.wait_condition("Applied", "True").await;
    let uid = stack.uid().unwrap_or_default();

    let status = stack.status.clone().unwrap_or_default();
    assert_eq!(status.accepted_monitors.len(), 5, "{status:?}");
    for (api_version, kind, name) in rendered_keys(&stack, &scenario.monitors) {
        let object = get_dynamic(&scenario.client, &scenario.stack_namespace, &api_version, &kind, &name)
            .await
            .unwrap_or_else(|| panic!("{kind} {name} was not created"));
        assert_eq!(object.labels().get(STACK_LABEL), Some(&stack.name_any()), "{kind} {name} label");
        assert_eq!(object.labels().get("app.kubernetes.io/managed-by").map(String::as_str), Some("stackscope"));
        if object.namespace().is_some() {
            let owner = object.owner_references().first().unwrap_or_else(|| panic!("{kind} {name} has no owner"));
            assert_eq!((owner.uid.as_str(), owner.controller), (uid.as_str(), Some(true)), "{kind} {name} owner");
        }
    }

    // No kubelet here: the pods are created but never run. The stack is applied and rolling
    // out, not Ready, and each workload says what it waits for.
    let prometheus = scenario.object_name("prometheus");
    let prometheus_workload = format!("StatefulSet/{prometheus}");
    let prometheus_pod = format!("{prometheus}-0");
    let waiting = scenario
        .wait_status("Progressing, Prometheus counted by its controller and its pod waiting to be scheduled", |stack| {
            // The StatefulSet controller may not have counted the replicas yet ("not yet observed
            // by its controller"): wait for the state this test describes.
            condition_is(stack, "Ready", "False", "WorkloadsNotReady")
                && workload(stack, "prometheus", &prometheus_workload)
                    .is_some_and(|w| w.reason == "PodPending" && w.message.starts_with("Ready: 0/"))
        })
        .await;
    for (kind, status, reason) in [
        ("Applied", "True", "Applied"),
        ("Progressing", "True", "RollingOut"),
        ("Reconciling", "True", "RollingOut"),
        ("Degraded", "False", "AsExpected"),
        ("Stalled", "False", "AsExpected"),
    ] {
        assert!(condition_is(&waiting, kind, status, reason), "{kind}: {:?}", condition_of(&waiting, kind));
    }
    let pending = workload(&waiting, "prometheus", &prometheus_workload).unwrap_or_else(|| panic!("no workload"));
    // As many replicas as the applied StatefulSet asks for (two in production, which is HA).
    let statefulsets: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let replicas = statefulsets
        .get(&prometheus)
        .await
        .ok()
        .and_then(|statefulset| statefulset.spec?.replicas)
        .unwrap_or_else(|| panic!("StatefulSet {prometheus} without replicas"));
    assert_eq!(
        (pending.ready, pending.failing, pending.pod.as_deref(), pending.message.as_str()),
        (
            false,
            false,
            Some(prometheus_pod.as_str()),
            format!("Ready: 0/{replicas}; pod {prometheus_pod}: PodPending: not yet scheduled").as_str()
        )
    );
    assert!(operator.requests.reads_of("pods") > 0, "the pods of a workload that is not ready are looked at");

    // A stand-in kubelet runs every pod: once the controllers count them, the stack is Ready.
    let kubelet = Kubelet::start(&scenario.client, &scenario.stack_namespace);
    let ready = scenario.wait_condition("Ready", "True").await;
    let status = ready.status.clone().unwrap_or_default();
    let workloads: Vec<(&str, bool, &str)> = status
        .components
        .iter()
        .flat_map(|c| c.workloads.iter().map(|w| (w.name.as_str(), w.ready, w.reason.as_str())))
        .collect();
    assert!(workloads.len() >= 5, "{workloads:?}");
    assert!(workloads.iter().all(|(_, ready, reason)| *ready && *reason == "Ready"), "{workloads:?}");
    assert!(status.components.iter().all(|c| c.ready), "{:?}", status.components);
    assert_eq!(
        condition_of(&ready, "Ready").message,
        format!(
            "{} objects applied, {} workload(s) ready",
            status.summary.as_ref().map(|s| s.objects).unwrap_or_default(),
            workloads.len()
        )
    );
    assert!(condition_is(&ready, "Progressing", "False", "WorkloadsReady"));

    // `kubectl wait` understands the Ready condition.
    let wait = std::process::Command::new(scenario.plane.bin_dir.join("kubectl"))
        .env("KUBECONFIG", &scenario.plane.kubeconfig)
        .args(["wait", "--for=condition=Ready", "--timeout=60s", "-n", &scenario.stack_namespace])
        .arg(format!("observabilitystack/{}", ready.name_any()))
        .output()
        .unwrap_or_else(|error| panic!("kubectl: {error}"));
    assert!(wait.status.success(), "kubectl wait: {}", String::from_utf8_lossy(&wait.stderr));

    // Let the reconciles triggered by our own writes settle, then a reconcile of the running
    // stack must write nothing and look at no pod: its workloads' status comes from the cache.
    scenario.nudge(&operator, "1").await;
    scenario.nudge(&operator, "2").await;
    let writes = operator.requests.writes();
    let pod_reads = operator.requests.reads_of("pods");
    let reconciles = operator.reconciles();
    scenario.nudge(&operator, "3").await;
    scenario.nudge(&operator, "4").await;
    assert!(operator.reconciles() >= reconciles + 2);
    assert_eq!(operator.requests.writes(), writes, "a reconcile with nothing to change sent write requests");
    assert_eq!(operator.requests.reads_of("pods"), pod_reads, "a reconcile of a running stack listed pods");

    // The Prometheus pod cannot pull its image: the stack is Degraded, naming the component,
    // the workload, the pod and the reason.
    let pods: Api<Pod> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let pod = pods.get(&prometheus_pod).await.unwrap_or_else(|error| panic!("{error}"));
    let image = pod
        .spec
        .iter()
        .flat_map(|spec| spec.containers.iter())
        .find(|container| container.name == "prometheus")
        .and_then(|container| container.image.clone())
        .unwrap_or_else(|| panic!("{prometheus_pod} has no prometheus container"));
    let back_off = format!("Back-off pulling image \"{image}\"");
    kubelet.fail(
        &prometheus_pod,
        Failure {
            container: "prometheus".to_owned(),
            reason: "ImagePullBackOff".to_owned(),
            message: back_off.clone(),
        },
    );
    // The other replicas keep running; the StatefulSet controller counts the failing one out.
    let total = workloads.len();
    let expected = format!(
        "1 of {total} workload(s) failing: prometheus: {prometheus_workload} (Ready: {}/{replicas}): pod \
         {prometheus_pod}, container prometheus: ImagePullBackOff: image {image}: {back_off}",
        replicas - 1
    );
    let degraded = scenario
        .wait_status("Degraded by Prometheus' image, counted by its controller", |stack| {
            condition_is(stack, "Degraded", "True", "ComponentsFailing")
                && condition_of(stack, "Degraded").message == expected
        })
        .await;
    assert_eq!(condition_of(&degraded, "Degraded").message, expected);
    assert_eq!(condition_of(&degraded, "Ready").message, expected);
    for (kind, status, reason) in [
        ("Ready", "False", "ComponentsFailing"),
        ("Progressing", "False", "ComponentsFailing"),
        ("Stalled", "True", "ComponentsFailing"),
        ("Applied", "True", "Applied"),
    ] {
        assert!(condition_is(&degraded, kind, status, reason), "{kind}: {:?}", condition_of(&degraded, kind));
    }
    let failing = workload(&degraded, "prometheus", &prometheus_workload).unwrap_or_else(|| panic!("no workload"));
    assert_eq!(
        (failing.reason.as_str(), failing.failing, failing.pod.as_deref(), failing.container.as_deref()),
        ("ImagePullBackOff", true, Some(prometheus_pod.as_str()), Some("prometheus"))
    );
    let component = degraded.status.as_ref().and_then(|s| s.components.iter().find(|c| c.name == "prometheus"));
    assert_eq!(component.map(|c| (c.ready, c.reason.as_str())), Some((false, "Failing")));
    // And an event says so, related to the workload.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let event = wait_for("a WorkloadFailing event", TIMEOUT, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().find(|event| event.reason.as_deref() == Some("WorkloadFailing"))
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let related = event.related.as_ref().map(|r| (r.kind.as_deref(), r.name.as_deref()));
    assert_eq!(related, Some((Some("StatefulSet"), Some(prometheus.as_str()))));

    // The image arrives: Ready again.
    kubelet.heal(&prometheus_pod);
    let healed = scenario.wait_condition("Ready", "True").await;
    assert!(condition_is(&healed, "Degraded", "False", "AsExpected"));
    drop(kubelet);
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_under_report_and_corrected_under_correct() {
    let mut scenario = Scenario::new("drift").await;
    scenario.stack.spec.drift_policy = stackscope::api::DriftPolicy::Report;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    let jaeger = scenario.object_name("jaeger");

    // An edit by someone else (kubectl edit / another field manager).
    let patch = serde_json::json!({"data": {"config.yaml": "edited: by hand\n"}});
    scenario
        .config_maps()
        .patch(&jaeger, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let drifted = scenario.wait_condition("Drifted", "True").await;
    let entry = drifted
        .status
        .as_ref()
        .and_then(|status| status.drift.iter().find(|entry| entry.path == r#"data["config.yaml"]"#))
        .unwrap_or_else(|| panic!("no drift entry: {:?}", drifted.status));
    assert_eq!(entry.object, format!("ConfigMap/{}/{jaeger}", scenario.stack_namespace));
    // A file is reported by its first different line.
    assert_eq!(entry.actual, "line 1: edited: by hand");
    assert!(entry.expected.starts_with("line 1: "), "{}", entry.expected);
    assert!(!entry.corrected);
    let live = scenario.config_maps().get(&jaeger).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        live.data.unwrap_or_default().get("config.yaml").map(String::as_str),
        Some("edited: by hand\n"),
        "Report leaves it"
    );
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let found = wait_for("a Drifted event", TIMEOUT, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.iter().any(|event| event.reason.as_deref() == Some("Drifted")).then_some(())
    })
    .await;
    assert!(found.is_ok(), "{found:?}");
    assert!(operator.metrics.drift_detected.get() >= 1);

    // Switching to Correct restores it, and the drift clears (kept as corrected history).
    scenario.stack.spec.drift_policy = stackscope::api::DriftPolicy::Correct;
    scenario.apply_stack(&scenario.stack).await;
    let config_maps = scenario.config_maps();
    wait_for("the ConfigMap restored", TIMEOUT, || async {
        let live = config_maps.get(&jaeger).await.ok()?;
        live.data?.get("config.yaml").is_some_and(|text| text.contains("jaeger_storage")).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    scenario.wait_condition("Drifted", "False").await;

    // A deleted object is drift too, and is recreated under Correct.
    let services: Api<Service> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    services.delete(&jaeger, &DeleteParams::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let stack = scenario
        .wait_status("the deleted Service reported", |stack| {
            stack
                .status
                .as_ref()
                .is_some_and(|s| s.drift.iter().any(|d| d.path == "<object>" && d.object.contains("Service/")))
        })
        .await;
    assert!(stack.status.unwrap_or_default().drift.iter().any(|d| d.path == "<object>" && d.corrected));
    wait_for("the Service recreated", TIMEOUT, || async { services.get_opt(&jaeger).await.ok().flatten() })
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Another field manager taking a field over with server-side apply (ports are keyed by
    // port and protocol, so this takes over the target port of 4317).
    let intruder = serde_json::json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": jaeger},
        "spec": {"ports": [{"name": "otlp-grpc", "port": 4317, "targetPort": 14317, "protocol": "TCP"}]}
    });
    services
        .patch(&jaeger, &PatchParams::apply("intruder").force(), &Patch::Apply(&intruder))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    scenario
        .wait_status("the port change reported", |stack| {
            stack
                .status
                .as_ref()
                .is_some_and(|s| s.drift.iter().any(|d| d.path.starts_with("spec.ports") && d.corrected))
        })
        .await;
    wait_for("the target port restored", TIMEOUT, || async {
        let service = services.get(&jaeger).await.ok()?;
        let declared = k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("otlp-grpc".to_owned());
        service.spec?.ports?.iter().any(|p| p.port == 4317 && p.target_port.as_ref() == Some(&declared)).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_monitors_are_quarantined_while_the_others_render() {
    let mut scenario = Scenario::new("quarantine").await;
    // Monitors of the stack's own namespace are selected too.
    if let Some(selector) = scenario.stack.spec.monitor_namespace_selector.as_mut() {
        selector.match_names.push(scenario.stack_namespace.clone());
    }
    // Credentials (prometheus-operator's `authorization`) from a Secret that does not exist yet.
    let mut needs_token = scenario.monitors[0].clone();
    needs_token.metadata.name = Some("needs-token".to_owned());
    needs_token.metadata.namespace = Some(scenario.stack_namespace.clone());
    needs_token.spec.endpoints[0].authorization = Some(stackscope::api::SafeAuthorization {
        kind: Some("Bearer".to_owned()),
        credentials: Some(stackscope::api::SecretKeyRef::new("scrape-token", "token")),
    });
    // prometheus-operator's scrape class: accepted, and said to have no effect once rendered.
    needs_token.spec.scrape_class = Some("istio-mtls".to_owned());
    // A Secret of another namespace than the stack's: never readable by the stack.
    let mut foreign = scenario.monitors[1].clone();
    foreign.metadata.name = Some("foreign-secret".to_owned());
    foreign.spec.endpoints[0].bearer_token_secret = Some(stackscope::api::SecretKeyRef::new("apps-token", "token"));
    // A port no selected Service has.
    let mut wrong_port = scenario.monitors[2].clone();
    wrong_port.metadata.name = Some("wrong-port".to_owned());
    wrong_port.spec.endpoints[0].port = Some("metrics".to_owned());
    // A relabeling regex Prometheus would not compile (the API server's schema cannot tell).
    let mut bad_regex = scenario.monitors[3].clone();
    bad_regex.metadata.name = Some("bad-regex".to_owned());
    bad_regex.spec.endpoints[0].relabelings[0].regex = Some("(unclosed".to_owned());
    let services: Api<Service> = Api::namespaced(scenario.client.clone(), &scenario.apps_namespace);
    let service: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "response-3d", "labels": {"app": "response-3d"}},
        "spec": {"selector": {"app": "response-3d"}, "ports": [{"name": "http", "port": 8011}]}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    services
        .patch("response-3d", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&service))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for monitor in [&needs_token, &foreign, &wrong_port, &bad_regex] {
        let namespace = monitor.namespace().unwrap_or_default();
        let api: Api<ServiceMonitor> = Api::namespaced(scenario.client.clone(), &namespace);
        api.patch(&monitor.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(monitor))
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", monitor.name_any()));
    }
    scenario.apply_all().await;
    let operator = scenario.operator().await;

    let stack = scenario.wait_condition("Degraded", "True").await;
    let status = stack.status.unwrap_or_default();
    assert_eq!(status.accepted_monitors.len(), 5, "{status:?}");
    let rejected: BTreeMap<&str, (&str, &str)> =
        status.rejected_monitors.iter().map(|r| (r.name.as_str(), (r.field.as_str(), r.reason.as_str()))).collect();
    let (field, reason) = rejected["needs-token"];
    assert_eq!(field, "spec.endpoints[0].authorization.credentials");
    assert!(reason.contains("scrape-token") && reason.contains("does not exist"), "{reason}");
    let (field, reason) = rejected["foreign-secret"];
    assert_eq!(field, "spec.endpoints[0].bearerTokenSecret");
    assert!(reason.contains("must be in the stack's namespace"), "{reason}");
    let (field, reason) = rejected["wrong-port"];
    assert_eq!(field, "spec.endpoints[0].port");
    assert!(reason.contains(r#"port named "metrics""#) && reason.contains("http"), "{reason}");
    let (field, _) = rejected["bad-regex"];
    assert!(field.starts_with("spec.endpoints[0].relabelings[0]"), "{field}");
    assert!(
        status.conditions.iter().any(|c| c.condition_type == "Applied" && c.status == "True"),
        "the rest still applies"
    );
    let prometheus = scenario.object_name("prometheus");
    let config = scenario.config_maps().get(&prometheus).await.unwrap_or_else(|e| panic!("{e}"));
    let config = config.data.unwrap_or_default().get("prometheus.yml").cloned().unwrap_or_default();
    assert!(config.contains(&format!("serviceMonitor/{}/gateway/0", scenario.apps_namespace)));
    assert!(!config.contains("wrong-port") && !config.contains("needs-token"), "rejected monitors are not rendered");

    let monitors: Api<ServiceMonitor> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    wait_for("the monitor's own Accepted=False", TIMEOUT, || async {
        let monitor = monitors.get("needs-token").await.ok()?;
        monitor.status?.conditions.iter().any(|c| c.condition_type == "Accepted" && c.status == "False").then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    wait_for("a MonitorRejected event naming the field", TIMEOUT, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|event| {
                event.reason.as_deref() == Some("MonitorRejected")
                    && event.message.as_deref().is_some_and(|message| message.contains("spec.endpoints[0].port"))
            })
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let monitor_events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(scenario.client.clone(), &scenario.apps_namespace);
    wait_for("a Rejected event on the monitor itself", TIMEOUT, || async {
        let list = monitor_events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|event| {
                event.reason.as_deref() == Some("Rejected")
                    && event.involved_object.name.as_deref() == Some("wrong-port")
                    && event.message.as_deref().is_some_and(|message| message.starts_with("spec.endpoints[0].port"))
            })
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    // Creating the Secret accepts the monitor (the Secret watch triggers the reconcile).
    let secrets: Api<Secret> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "scrape-token"}, "stringData": {"token": "t0ken"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    secrets
        .patch("scrape-token", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&secret))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    scenario
        .wait_status("needs-token accepted", |stack| {
            stack.status.as_ref().is_some_and(|s| s.accepted_monitors.iter().any(|m| m.name == "needs-token"))
        })
        .await;
    let message = wait_for("needs-token's own Accepted=True", TIMEOUT, || async {
        let monitor = monitors.get("needs-token").await.ok()?;
        monitor
            .status?
            .conditions
            .into_iter()
            .find(|c| c.condition_type == "Accepted" && c.status == "True")
            .map(|c| c.message)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(message.contains("accepted without effect: spec.scrapeClass (scrape classes belong to"), "{message}");
    // Renaming the Service port makes the wrong-port monitor valid (the Service watch triggers it).
    let mut renamed = service.clone();
    if let Some(ports) = renamed.spec.as_mut().and_then(|spec| spec.ports.as_mut()) {
        ports.push(
            serde_json::from_value(serde_json::json!({"name": "metrics", "port": 9100}))
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    services
        .patch("response-3d", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&renamed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stack = scenario
        .wait_status("wrong-port accepted", |stack| {
            stack.status.as_ref().is_some_and(|s| s.accepted_monitors.iter().any(|m| m.name == "wrong-port"))
        })
        .await;
    let status = stack.status.unwrap_or_default();
    assert_eq!(status.accepted_monitors.len(), 7, "{status:?}");
    let still: Vec<&str> = status.rejected_monitors.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(still, ["bad-regex", "foreign-secret"], "{status:?}");
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_stack_keeps_the_last_good_configuration() {
    let mut scenario = Scenario::new("last-good").await;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    let rules = scenario.object_name("rules");
    let before = scenario.config_maps().get(&rules).await.unwrap_or_else(|e| panic!("{e}")).data;

    // A budget whose span matchers are not PromQL: the schema accepts the string, the semantic
    // check refuses it, and nothing of the new spec is applied.
    scenario.stack.spec.slos.budgets[0].span_matchers = "service_name=".to_owned();
    scenario.stack.spec.tracing.storage.retention = stackscope::api::Duration::from("24h");
    scenario.apply_stack(&scenario.stack).await;
    let stack = scenario.wait_condition("Applied", "False").await;
    let applied = stack.status.unwrap_or_default().conditions.into_iter().find(|c| c.condition_type == "Applied");
    let message = applied.map(|c| c.message).unwrap_or_default();
    assert!(message.contains("last good configuration stays in force"), "{message}");
    assert!(message.contains("spec.slos.budgets[0].spanMatchers"), "{message}");
    let after = scenario.config_maps().get(&rules).await.unwrap_or_else(|e| panic!("{e}")).data;
    assert_eq!(before, after, "the rules stayed as last applied");
    let jaeger = scenario.config_maps().get(&scenario.object_name("jaeger")).await.unwrap_or_else(|e| panic!("{e}"));
    let config = jaeger.data.unwrap_or_default().get("config.yaml").cloned().unwrap_or_default();
    assert!(config.contains("spans: 72h"), "the valid part of the bad spec was not applied either");

    // Fixing the spec applies it.
    scenario.stack.spec.slos.budgets[0].span_matchers = r#"service_name="gateway""#.to_owned();
    scenario.apply_stack(&scenario.stack).await;
    scenario.wait_condition("Applied", "True").await;
    let config_maps = scenario.config_maps();
    let jaeger = scenario.object_name("jaeger");
    wait_for("the fixed spec applied", TIMEOUT, || async {
        config_maps.get(&jaeger).await.ok()?.data?.get("config.yaml")?.contains("spans: 24h").then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_reported_then_enforced_touching_nothing_else() {
    let mut scenario = Scenario::new("probes").await;
    let apps = scenario.apps_namespace.clone();
    let services: Api<Service> = Api::namespaced(scenario.client.clone(), &apps);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(scenario.client.clone(), &apps);
    let service: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "auth-service", "labels": {"app": "auth-service"}},
        "spec": {"selector": {"app": "auth"}, "ports": [{"name": "http", "port": 8001}]}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    services
        .patch("auth-service", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&service))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deployment: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "auth-service"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "auth"}},
            "template": {"metadata": {"labels": {"app": "auth"}}, "spec": {"containers": [
                {"name": "auth", "image": "machineavatars/auth-service:2.1.0", "ports": [{"containerPort": 8001}],
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8001}, "periodSeconds": 30}}
            ]}}
        }
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    deployments
        .patch("auth-service", &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&deployment))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    scenario.apply_all().await;
    let operator = scenario.operator().await;

    // Report: the missing liveness and the different readiness are listed, nothing is written.
    let stack = scenario
        .wait_status("probe findings", |stack| stack.status.as_ref().is_some_and(|s| s.probe_findings.len() == 2))
        .await;
    let findings = stack.status.unwrap_or_default().probe_findings;
    let workload = format!("Deployment/{apps}/auth-service");
    assert!(findings.iter().all(|f| f.workload == workload && f.container == "auth"), "{findings:?}");
    let liveness = findings.iter().find(|f| f.probe == "liveness").unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(liveness.state, "Missing");
    let readiness = findings.iter().find(|f| f.probe == "readiness").unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(readiness.state, "Different");
    assert!(readiness.detail.contains("periodSeconds: expected 5, found 30"), "{}", readiness.detail);
    let live = deployments.get("auth-service").await.unwrap_or_else(|e| panic!("{e}"));
    let generation = live.metadata.generation;
    assert!(
        !live.managed_fields().iter().any(|f| f.manager.as_deref() == Some("stackscope-probes")),
        "Report never writes"
    );

    // Enforce: the probes are set under their own field manager; nothing else changes.
    scenario.stack.spec.probes.policy = stackscope::api::ProbePolicy::Enforce;
    scenario.apply_stack(&scenario.stack).await;
    let enforced = wait_for("the probes set on the Deployment", TIMEOUT, || async {
        let live = deployments.get("auth-service").await.ok()?;
        let container = live.spec.as_ref()?.template.spec.as_ref()?.containers.first()?.clone();
        let liveness = container.liveness_probe.as_ref()?;
        (liveness.http_get.as_ref()?.path.as_deref() == Some("/health")
            && container.readiness_probe.as_ref()?.period_seconds == Some(5))
        .then_some(live)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let container = enforced.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|s| s.containers[0].clone());
    let container = container.unwrap_or_else(|| panic!("no container"));
    assert_eq!(container.image.as_deref(), Some("machineavatars/auth-service:2.1.0"), "image untouched");
    assert_eq!(enforced.spec.as_ref().and_then(|s| s.replicas), Some(2), "replicas untouched");
    assert!(enforced.metadata.generation > generation);
    let manager = enforced
        .managed_fields()
        .iter()
        .find(|f| f.manager.as_deref() == Some("stackscope-probes"))
        .unwrap_or_else(|| panic!("no stackscope-probes field manager"));
    let owned = manager.fields_v1.as_ref().map(|f| f.0.to_string()).unwrap_or_default();
    assert!(owned.contains("livenessProbe") && owned.contains("readinessProbe"), "{owned}");
    assert!(!owned.contains("f:image") && !owned.contains("f:replicas"), "owns only the probes: {owned}");
    scenario
        .wait_status("findings cleared once enforced", |stack| {
            stack
                .status
                .as_ref()
                .is_some_and(|s| s.probe_findings.is_empty() && s.observed_generation == stack.metadata.generation)
        })
        .await;
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_report_matches_the_cluster_without_writing() {
    let mut scenario = Scenario::new("report").await;
    scenario.stack.spec.drift_policy = stackscope::api::DriftPolicy::Report;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    // Let the reconciles triggered by the operator's own writes settle.
    scenario.nudge(&operator, "1").await;
    operator.stop().await;

    let counter = stackscope_tests::cluster::RequestCounter::default();
    let reader = client(&scenario.plane, Some(counter.clone())).await.unwrap_or_else(|e| panic!("{e}"));
    let reports = stackscope::controller::report::report(&reader, Some(&scenario.stack_namespace))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].differs(), "in sync right after a reconcile: {:?}", reports[0]);

    let grafana = scenario.object_name("grafana");
    let patch = serde_json::json!({"data": {"datasources.yaml": "apiVersion: 1\n"}});
    scenario
        .config_maps()
        .patch(&grafana, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reports = stackscope::controller::report::report(&reader, Some(&scenario.stack_namespace))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(reports[0].differs());
    let field = reports[0].drift.first().unwrap_or_else(|| panic!("{:?}", reports[0]));
    assert_eq!(field.object, format!("ConfigMap/{}/{grafana}", scenario.stack_namespace));
    assert_eq!(field.path, r#"data["datasources.yaml"]"#);
    let text = stackscope::controller::report::to_text(&reports);
    assert!(text.contains("DRIFT") && text.contains(&grafana), "{text}");
    assert_eq!(counter.writes(), 0, "the report sent write requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_component_prunes_it_and_deleting_the_stack_collects_everything() {
    let mut scenario = Scenario::new("prune").await;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    let jaeger = scenario.object_name("jaeger");
    assert!(scenario.config_maps().get_opt(&jaeger).await.unwrap_or_default().is_some());

    scenario.stack.spec.tracing.enabled = false;
    scenario.apply_stack(&scenario.stack).await;
    scenario.wait_condition("Applied", "True").await;
    let config_maps = scenario.config_maps();
    wait_for("the Jaeger ConfigMap pruned", TIMEOUT, || async {
        config_maps.get_opt(&jaeger).await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let stacks = scenario.stacks();
    stacks.delete(&scenario.stack.name_any(), &DeleteParams::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let selector = ListParams::default().labels(&format!("{STACK_LABEL}={}", scenario.stack.name_any()));
    wait_for("every owned object garbage-collected", Duration::from_secs(120), || async {
        let left = config_maps.list_metadata(&selector).await.ok()?.items.len();
        let gone = stacks.get_opt(&scenario.stack.name_any()).await.ok()?.is_none();
        (left == 0 && gone).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_does_not_write_while_the_first_holds_the_lease() {
    let scenario = Scenario::new("lease").await;
    scenario.apply_all().await;
    let (first, second) = scenario.leader_and_standby().await;

    // A spec change while the first leads: the first applies it, the second writes nothing.
    scenario.set_trace_retention("24h", "the leader").await;
    // Then the standby is watched over more than a whole lease period, long enough to have taken
    // the lease had the leader stopped renewing it, with a hand edit for it to correct meanwhile:
    // the leader keeps renewing, puts the edit back, and the standby never writes.
    use k8s_openapi::api::coordination::v1::Lease;
    let leases: Api<Lease> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let renewed = |lease: &Lease| lease.spec.as_ref().and_then(|spec| spec.renew_time.clone());
    let before = leases.get(LEASE).await.unwrap_or_else(|e| panic!("{e}"));
    let jaeger = scenario.object_name("jaeger");
    let edit = serde_json::json!({"data": {"config.yaml": "# edited by hand\n"}});
    scenario
        .config_maps()
        .patch(&jaeger, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let watched = LEASE_DURATION + 2 * LEASE_RENEWAL;
    let until = tokio::time::Instant::now() + watched;
    let mut ticks = tokio::time::interval(Duration::from_millis(200));
    while tokio::time::Instant::now() < until {
        ticks.tick().await;
        assert_eq!(second.requests.writes(), 0, "the standby wrote while the leader held the lease");
        assert_eq!(second.metrics.leader.get(), 0, "the standby believes it leads");
    }
    let after = leases.get(LEASE).await.unwrap_or_else(|e| panic!("{e}"));
    let holder = |lease: &Lease| lease.spec.as_ref().and_then(|spec| spec.holder_identity.clone());
    assert_eq!(holder(&after).as_deref(), Some("first"), "the lease stayed with the leader");
    assert_ne!(renewed(&after), renewed(&before), "the leader renewed its lease meanwhile");
    let maps = scenario.config_maps();
    wait_for("the leader puts the hand edit back", TIMEOUT, || async {
        let config = maps.get(&jaeger).await.ok()?.data?.remove("config.yaml")?;
        (!config.starts_with("# edited by hand")).then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(second.requests.writes(), 0, "the standby wrote while the leader held the lease");

    // When the first stops it releases the lease; the second takes over and applies changes.
    first.stop().await;
    scenario.set_trace_retention("12h", "the new leader").await;
    assert_eq!(second.metrics.leader.get(), 1);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_once_its_lease_expires_and_never_alongside_it() {
    use k8s_openapi::api::coordination::v1::Lease;

    let scenario = Scenario::new("lease-crash").await;
    scenario.apply_all().await;
    let (first, second) = scenario.leader_and_standby().await;

    // The leader dies without giving the lease up; its last renewal is what the standby waits out.
    first.crash();
    let leases: Api<Lease> = Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    let spec = |lease: Lease| lease.spec.unwrap_or_default();
    let held = spec(leases.get(LEASE).await.unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(held.holder_identity.as_deref(), Some("first"));
    assert_eq!(second.requests.writes(), 0, "the standby wrote while the leader held the lease");

    scenario.set_trace_retention("12h", "the new leader").await;
    assert_eq!(second.metrics.leader.get(), 1);
    let taken = spec(leases.get(LEASE).await.unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(taken.holder_identity.as_deref(), Some("second"));
    assert_eq!(taken.lease_transitions, held.lease_transitions.map(|transitions| transitions + 1));
    // Taken over no earlier than the lease allowed, and within one retry after it expired.
    let (Some(renewed), Some(acquired)) = (held.renew_time.clone(), taken.acquire_time.clone()) else {
        panic!("lease times missing: {held:?} {taken:?}")
    };
    let waited = acquired.0.duration_since(renewed.0);
    let lease_seconds = i64::try_from(LEASE_DURATION.as_secs()).unwrap_or(i64::MAX);
    let retry_seconds = i64::try_from(LEASE_RENEWAL.as_secs()).unwrap_or(i64::MAX);
    assert!(waited.as_secs() >= lease_seconds, "taken over after {waited:?}, before the lease expired");
    assert!(waited.as_secs() <= lease_seconds + retry_seconds + 1, "taken over only after {waited:?}");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_changed_between_the_read_and_the_write_is_applied_without_conflict() {
    use stackscope::controller::apply::{self, LiveState};
    use stackscope::render::render_stack;
    use stackscope::resolve::ResolvedStack;

    let scenario = Scenario::new("read-write").await;
    scenario.apply_all().await;
    // The stages of a reconcile run by hand, so that the change lands exactly between them.
    let stack = scenario.stacks().get(&scenario.stack.name_any()).await.unwrap_or_else(|e| panic!("{e}"));
    let declare = |stack: &ObservabilityStack| {
        let rendered = render_stack(&ResolvedStack::new(stack, &scenario.monitors)).unwrap_or_else(|e| panic!("{e}"));
        apply::declare(stack, rendered).unwrap_or_else(|e| panic!("{e}"))
    };
    let policy = stackscope::api::DriftPolicy::Correct;
    let first = declare(&stack);
    apply::apply(&scenario.client, apply::Live::Api, &first, policy, false).await.unwrap_or_else(|e| panic!("{e}"));
    let jaeger = scenario.object_name("jaeger");
    let item = first.iter().find(|item| item.name == jaeger && item.kind.resource.kind == "ConfigMap").unwrap();

    // The read: in sync.
    assert_eq!(apply::inspect(&scenario.client, item).await.unwrap_or_else(|e| panic!("{e}")), LiveState::InSync);
    // Meanwhile another field manager takes a declared field over and adds a label of its own.
    let theirs = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": jaeger, "namespace": scenario.stack_namespace, "labels": {"team": "tracing"}},
        "data": {"config.yaml": "# theirs\n"}
    });
    scenario
        .config_maps()
        .patch(&jaeger, &PatchParams::apply("someone-else").force(), &Patch::Apply(&theirs))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The write, of a new declaration made from the earlier read: no conflict, the declared
    // fields win, the other manager's own label stays.
    let mut changed = stack.clone();
    changed.spec.tracing.storage.retention = stackscope::api::Duration::from("12h");
    let second = declare(&changed);
    let report = apply::apply(&scenario.client, apply::Live::Api, &second, policy, true)
        .await
        .unwrap_or_else(|e| panic!("the write after a concurrent change failed: {e}"));
    assert!(report.updated.iter().any(|key| key.ends_with(&format!("/{jaeger}"))), "{report:?}");
    let live = scenario.config_maps().get(&jaeger).await.unwrap_or_else(|e| panic!("{e}"));
    let config = live.data.as_ref().and_then(|data| data.get("config.yaml")).cloned().unwrap_or_default();
    assert!(config.contains("spans: 12h"), "{config}");
    assert_eq!(live.labels().get("team").map(String::as_str), Some("tracing"));
    let item = second.iter().find(|item| item.name == jaeger && item.kind.resource.kind == "ConfigMap").unwrap();
    assert_eq!(apply::inspect(&scenario.client, item).await.unwrap_or_else(|e| panic!("{e}")), LiveState::InSync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_sees_only_the_monitors_of_the_namespaces_it_selects() {
    let scenario = Scenario::new("isolation").await;
    // Another tenant's namespace, not in the stack's monitorNamespaceSelector, with a monitor
    // that matches the stack's label selector all the same.
    let tenant = "tenant-b-isolation";
    fresh_namespace(&scenario.client, tenant).await.unwrap_or_else(|e| panic!("{e}"));
    let mut intruder = scenario.monitors[0].clone();
    intruder.metadata.namespace = Some(tenant.to_owned());
    intruder.metadata.name = Some("intruder".to_owned());
    let tenant_monitors: Api<ServiceMonitor> = Api::namespaced(scenario.client.clone(), tenant);
    tenant_monitors
        .patch("intruder", &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&intruder))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    let stack = scenario.wait_condition("Applied", "True").await;

    let status = stack.status.unwrap_or_default();
    assert!(!status.accepted_monitors.is_empty());
    assert!(status.accepted_monitors.iter().all(|monitor| monitor.namespace == scenario.apps_namespace));
    assert!(status.rejected_monitors.iter().all(|monitor| monitor.namespace != tenant));
    let prometheus =
        scenario.config_maps().get(&scenario.object_name("prometheus")).await.unwrap_or_else(|e| panic!("{e}"));
    let config = prometheus.data.unwrap_or_default().remove("prometheus.yml").unwrap_or_default();
    assert!(config.contains(&format!("serviceMonitor/{}/", scenario.apps_namespace)), "{config}");
    assert!(!config.contains(tenant), "another tenant's monitor was rendered: {config}");
    // Nothing is written on the other tenant's monitor either.
    let untouched = tenant_monitors.get("intruder").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(untouched.status.is_none_or(|status| status.conditions.is_empty()), "status written");
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_monitor_change_reaches_the_prometheus_config() {
    let scenario = Scenario::new("monitor-change").await;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    let mut gateway = scenario.monitors[0].clone();
    gateway.spec.endpoints[0].path = Some("/internal/metrics".to_owned());
    scenario.apply_monitor(&gateway).await;
    let config_maps = scenario.config_maps();
    let prometheus = scenario.object_name("prometheus");
    let config = wait_for("the new path in prometheus.yml", TIMEOUT, || async {
        let data: BTreeMap<String, String> = config_maps.get(&prometheus).await.ok()?.data?;
        let text = data.get("prometheus.yml")?.clone();
        text.contains("/internal/metrics").then_some(text)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.contains(&format!("serviceMonitor/{}/gateway/0", scenario.apps_namespace)));
    operator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_without_kube_state_metrics_reports_the_rules_that_cannot_fire() {
    let mut scenario = Scenario::new("sources").await;
    scenario.stack.spec.metrics.kube_state_metrics.enabled = false;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    // A stand-in kubelet runs the pods: the stack becomes Ready with rules that cannot fire.
    let kubelet = Kubelet::start(&scenario.client, &scenario.stack_namespace);
    let stack = scenario.wait_condition("Ready", "True").await;
    let status = stack.status.clone().unwrap_or_default();
    let unfireable = status.conditions.iter().find(|c| c.condition_type == "RulesUnfireable");
    assert_eq!(
        unfireable.map(|c| c.status.as_str()),
        Some("True"),
        "rules without a source do not stop the stack: {status:?}"
    );
    let condition = status.conditions.iter().find(|c| c.condition_type == "RulesUnfireable").unwrap();
    assert_eq!(condition.reason, "AlertsWithoutSource");
    let crash = status
        .unfireable_rules
        .iter()
        .find(|rule| rule.alert == "ContainerCrash")
        .unwrap_or_else(|| panic!("ContainerCrash not listed: {:?}", status.unfireable_rules));
    assert_eq!(crash.message, "ContainerCrash cannot fire: kube_pod_container_status_restarts_total has no source");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(scenario.client.clone(), &scenario.stack_namespace);
    assert!(
        deployments.get_opt(&scenario.object_name("kube-state-metrics")).await.unwrap().is_none(),
        "a disabled kube-state-metrics is not rendered"
    );

    // Selecting the cluster's own kube-state-metrics gives ContainerCrash its source back.
    let mut stack = scenario.stack.clone();
    stack.spec.metrics.kube_state_metrics.existing = Some(stackscope::api::ExistingExporter {
        namespaces: vec!["kube-system".to_owned()],
        selector: serde_json::from_value(
            serde_json::json!({"matchLabels": {"app.kubernetes.io/name": "kube-state-metrics"}}),
        )
        .unwrap(),
        port: "http".to_owned(),
    });
    scenario.apply_stack(&stack).await;
    let stack = scenario
        .wait_status("ContainerCrash fed by the cluster's kube-state-metrics", |stack| {
            let Some(status) = &stack.status else { return false };
            status.observed_generation == stack.metadata.generation
                && !status.unfireable_rules.iter().any(|rule| rule.alert == "ContainerCrash")
        })
        .await;
    let status = stack.status.unwrap_or_default();
    let config = scenario.config_maps().get(&scenario.object_name("prometheus")).await.unwrap();
    let prometheus: serde_json::Value = serde_saphyr::from_str(
        config.data.as_ref().and_then(|data| data.get("prometheus.yml")).map(String::as_str).unwrap_or_default(),
    )
    .unwrap();
    let job = prometheus["scrape_configs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|job| job["job_name"] == "kube-state-metrics")
        .unwrap_or_else(|| panic!("no kube-state-metrics job: {prometheus}"));
    assert_eq!(job["kubernetes_sd_configs"][0]["namespaces"]["names"], serde_json::json!(["kube-system"]));
    assert!(status.unfireable_rules.iter().all(|rule| rule.alert != "ContainerCrash"), "{status:?}");
    drop(kubelet);
    operator.stop().await;
}

/// The rule of `alert` in the rules file `file` of the stack's rules ConfigMap, parsed.
async fn applied_rule(scenario: &Scenario, file: &str, alert: &str) -> Option<serde_json::Value> {
    let data = scenario.config_maps().get(&scenario.object_name("rules")).await.ok()?.data?;
    let groups: serde_json::Value = serde_saphyr::from_str(data.get(file)?).ok()?;
    groups["groups"]
        .as_array()?
        .iter()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .find(|rule| rule["alert"] == alert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_threshold_set_alone_is_accepted_and_keeps_the_alerts_other_defaults() {
    let scenario = Scenario::new("partial-override").await;
    scenario.apply_all().await;
    let operator = scenario.operator().await;
    scenario.wait_condition("Applied", "True").await;
    let file = stackscope::render::rules::INFRASTRUCTURE_FILE;
    let before = applied_rule(&scenario, file, "HighCPU").await.unwrap_or_else(|| panic!("HighCPU not rendered"));

    // The same manager applies the stack with HighCpu reduced to its threshold: the API server
    // drops the other fields it owned, so what is stored is `highCpu: {threshold: 90}` (plus the
    // schema's own `enabled` default), which the CRD must accept.
    let mut stack = serde_json::to_value(applicable(&scenario.stack)).unwrap_or_else(|error| panic!("{error}"));
    stack["spec"]["alerting"]["rules"]["infrastructure"]["highCpu"] = serde_json::json!({"threshold": 90});
    let api: Api<DynamicObject> = Api::namespaced_with(
        scenario.client.clone(),
        &scenario.stack_namespace,
        &kube::api::ApiResource::erase::<ObservabilityStack>(&()),
    );
    api.patch(&scenario.stack.name_any(), &PatchParams::apply(TEST_MANAGER).force(), &Patch::Apply(&stack))
        .await
        .unwrap_or_else(|error| panic!("the API server refused a threshold set alone: {error}"));
    // Read untyped: the typed stack would show the defaults the operator lays under it.
    let stored = api.get(&scenario.stack.name_any()).await.unwrap_or_else(|error| panic!("{error}"));
    let high_cpu = &stored.data["spec"]["alerting"]["rules"]["infrastructure"]["highCpu"];
    assert_eq!(high_cpu["threshold"], 90, "{high_cpu}");
    assert!(high_cpu.get("severity").is_none() && high_cpu.get("for").is_none(), "stored as written: {high_cpu}");

    let after = wait_for("HighCPU at 90", TIMEOUT, || async {
        let rule = applied_rule(&scenario, file, "HighCPU").await?;
        (rule["expr"] != before["expr"]).then_some(rule)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let default_threshold = stackscope::api::InfrastructureAlerts::default().high_cpu.threshold;
    let expected_expr = before["expr"].as_str().map(|expr| expr.replace(&format!("> {default_threshold}"), "> 90"));
    assert_eq!(after["expr"].as_str(), expected_expr.as_deref(), "only the threshold changes");
    assert_eq!(after["for"], before["for"], "the document's 5 minutes stay");
    assert_eq!(after["labels"], before["labels"], "severity, incident level and channels stay");
    assert_eq!(after["labels"]["severity"], "warning");
    operator.stop().await;
}
