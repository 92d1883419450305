//! Migration from prometheus-operator against the local control plane with prometheus-operator's
//! real ServiceMonitor CRD (from its Go module, see `stackscope_tests::prometheus_operator`):
//! a stack that selects `monitoring.coreos.com/v1` ServiceMonitors says so clearly while their CRD
//! is missing and picks them up once it is installed; a selected one reaches `prometheus.yml`, one
//! with a field stackscope lacks is rejected naming it, their own status is never written; and
//! `stackscope import` reads them from the cluster, after which the imported stackscope monitor
//! takes over the same scrape job.
//!
//! One test, because it deletes and installs the cluster-wide CRD: tests in this binary would
//! otherwise race on it (test binaries run one after another).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use stackscope::api::{ObservabilityStack, ServiceMonitor};
use stackscope::prometheus_operator::{PROMETHEUS_OPERATOR_API_VERSION, monitor_resource};
use stackscope_tests::cluster::{Operator, client, control_plane, fresh_namespace, install_crds, wait_for};

const TIMEOUT: Duration = Duration::from_secs(90);
const MANAGER: &str = "stackscope-tests";
const CRD_NAME: &str = "servicemonitors.monitoring.coreos.com";

async fn stack_status(
    api: &Api<ObservabilityStack>,
    name: &str,
    what: &str,
    check: impl Fn(&ObservabilityStack) -> bool,
) -> ObservabilityStack {
    wait_for(what, TIMEOUT, || async {
        let stack = api.get(name).await.ok()?;
        let current = stack.status.as_ref()?.observed_generation == stack.metadata.generation;
        (current && check(&stack)).then_some(stack)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"))
}

fn condition<'a>(stack: &'a ObservabilityStack, kind: &str) -> Option<&'a stackscope::api::Condition> {
    stack.status.as_ref()?.conditions.iter().find(|condition| condition.condition_type == kind)
}

fn prometheus_operator_monitor(
    namespace: &str,
    name: &str,
    labels: serde_json::Value,
    spec: serde_json::Value,
) -> DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": PROMETHEUS_OPERATOR_API_VERSION, "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec
    }))
    .unwrap_or_else(|error| panic!("{error}"))
}

async fn remove_prometheus_operator_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    if crds.get_opt(CRD_NAME).await.unwrap_or_else(|error| panic!("{error}")).is_none() {
        return;
    }
    let _ = crds.delete(CRD_NAME, &DeleteParams::default()).await;
    wait_for("prometheus-operator's CRD deleted", TIMEOUT, || async {
        crds.get_opt(CRD_NAME).await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
}

async fn install_prometheus_operator_crd(client: &Client) {
    let crd = stackscope_tests::prometheus_operator::service_monitor_crd().unwrap_or_else(|error| panic!("{error}"));
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(CRD_NAME, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&crd))
        .await
        .unwrap_or_else(|error| panic!("apply {CRD_NAME}: {error}"));
    wait_for("prometheus-operator's CRD Established", TIMEOUT, || async {
        let crd = crds.get(CRD_NAME).await.ok()?;
        crd.status?.conditions?.iter().any(|c| c.type_ == "Established" && c.status == "True").then_some(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_operator_monitors_are_selected_directly_and_imported_from_the_cluster() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    let (stack_namespace, apps_namespace) = ("promop-observability", "promop-apps");
    for namespace in [stack_namespace, apps_namespace] {
        fresh_namespace(&client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    }
    remove_prometheus_operator_crd(&client).await;

    // The example stack, selecting prometheus-operator's monitors too, and one of its own monitors.
    let (mut stack, monitors) =
        stackscope_tests::example_in(stack_namespace, apps_namespace).unwrap_or_else(|error| panic!("{error}"));
    stack.spec.prometheus_operator_monitors.enabled = true;
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), stack_namespace);
    let own: Api<ServiceMonitor> = Api::namespaced(client.clone(), apps_namespace);
    let gateway = monitors
        .iter()
        .find(|monitor| monitor.name_any() == "gateway")
        .cloned()
        .unwrap_or_else(|| panic!("no gateway"));
    own.patch("gateway", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&gateway))
        .await
        .unwrap_or_else(|error| panic!("apply gateway: {error}"));
    stacks
        .patch(&stack.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&stack))
        .await
        .unwrap_or_else(|error| panic!("apply stack: {error}"));
    let name = stack.name_any();
    let operator = Operator::start(&plane, stack_namespace, None).await.unwrap_or_else(|error| panic!("{error}"));

    // No CRD: a clear Degraded message, the stack's own monitors still render, no crash loop.
    let missing = stack_status(&stacks, &name, "Degraded for the missing CRD", |stack| {
        condition(stack, "Degraded").is_some_and(|c| c.reason == "PrometheusOperatorMonitorsUnavailable")
    })
    .await;
    let degraded = condition(&missing, "Degraded").map(|c| c.message.clone()).unwrap_or_default();
    assert!(
        degraded.contains("spec.prometheusOperatorMonitors is enabled but the cluster serves no monitoring.coreos.com/v1 ServiceMonitor: the CRD servicemonitors.monitoring.coreos.com is not installed"),
        "{degraded}"
    );
    assert_eq!(condition(&missing, "Applied").map(|c| c.status.as_str()), Some("True"));
    assert_eq!(missing.status.as_ref().map(|s| s.accepted_monitors.len()), Some(1));

    // The CRD arrives: the operator picks it up without a restart.
    install_prometheus_operator_crd(&client).await;
    let resource = monitor_resource();
    let foreign: Api<DynamicObject> = Api::namespaced_with(client.clone(), apps_namespace, &resource);
    let selected = serde_json::json!({"platform": "machineavatars"});
    for monitor in [
        prometheus_operator_monitor(
            apps_namespace,
            "legacy-api",
            selected.clone(),
            serde_json::json!({
                "selector": {"matchLabels": {"app": "legacy-api"}},
                "endpoints": [{"port": "metrics", "path": "/stats/prometheus", "interval": "30s", "scheme": "http"}]
            }),
        ),
        prometheus_operator_monitor(
            apps_namespace,
            "oauth-api",
            selected.clone(),
            serde_json::json!({
                "selector": {"matchLabels": {"app": "oauth-api"}},
                "endpoints": [{"port": "metrics", "oauth2": {"clientId": {"secret": {"name": "idp", "key": "id"}},
                               "clientSecret": {"name": "idp", "key": "secret"}, "tokenUrl": "https://idp.example.com/token"}}]
            }),
        ),
        prometheus_operator_monitor(
            apps_namespace,
            "gateway",
            selected.clone(),
            serde_json::json!({
                "selector": {"matchLabels": {"app": "gateway"}}, "endpoints": [{"port": "http"}]
            }),
        ),
        prometheus_operator_monitor(
            apps_namespace,
            "unlabelled",
            serde_json::json!({}),
            serde_json::json!({
                "selector": {"matchLabels": {"app": "other"}}, "endpoints": [{"port": "metrics"}]
            }),
        ),
    ] {
        foreign
            .patch(&monitor.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&monitor))
            .await
            .unwrap_or_else(|error| panic!("apply {}: {error}", monitor.name_any()));
    }
    let selecting = stack_status(&stacks, &name, "prometheus-operator's monitors in status", |stack| {
        let status = stack.status.clone().unwrap_or_default();
        status.accepted_monitors.iter().any(|m| m.name == "legacy-api") && !status.rejected_monitors.is_empty()
    })
    .await;
    let status = selecting.status.clone().unwrap_or_default();
    let accepted: Vec<(String, Option<String>)> =
        status.accepted_monitors.iter().map(|m| (m.name.clone(), m.api_version.clone())).collect();
    assert_eq!(
        accepted,
        [("gateway".to_owned(), None), ("legacy-api".to_owned(), Some(PROMETHEUS_OPERATOR_API_VERSION.to_owned()))]
    );
    let rejected: BTreeMap<&str, &stackscope::api::RejectedMonitor> =
        status.rejected_monitors.iter().map(|r| (r.name.as_str(), r)).collect();
    let oauth = rejected.get("oauth-api").unwrap_or_else(|| panic!("{status:?}"));
    assert_eq!(oauth.api_version.as_deref(), Some(PROMETHEUS_OPERATOR_API_VERSION));
    assert_eq!(oauth.field, "spec.endpoints[0].oauth2");
    assert!(oauth.reason.contains("not supported by stackscope"), "{}", oauth.reason);
    // prometheus-operator's gateway is replaced by stackscope's of the same name: no rejection.
    assert_eq!(rejected.keys().copied().collect::<Vec<_>>(), ["oauth-api"], "{status:?}");
    assert_eq!(condition(&selecting, "Degraded").map(|c| c.reason.as_str()), Some("MonitorsRejected"));
    // Our own gateway is accepted, its status written as always.
    let own_gateway = own.get("gateway").await.unwrap_or_else(|error| panic!("{error}"));
    let accepted_condition = own_gateway.status.unwrap_or_default().conditions;
    assert_eq!(accepted_condition.first().map(|c| c.status.as_str()), Some("True"), "{accepted_condition:?}");

    // The prometheus-operator monitor reaches prometheus.yml as prometheus-operator names the job.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), stack_namespace);
    let prometheus = format!("{name}-prometheus");
    let job = format!("serviceMonitor/{apps_namespace}/legacy-api/0");
    let config = wait_for("legacy-api's job in prometheus.yml", TIMEOUT, || async {
        let text = config_maps.get(&prometheus).await.ok()?.data?.get("prometheus.yml")?.clone();
        text.contains(&job).then_some(text)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let job_block = config.split("- job_name:").find(|block| block.contains(&job)).unwrap_or_default();
    assert!(job_block.contains("metrics_path: /stats/prometheus"), "{job_block}");
    assert!(job_block.contains("scrape_interval: 30s"), "{job_block}");
    assert!(!config.contains("oauth-api") && !config.contains("unlabelled"), "{config}");

    // Their status belongs to prometheus-operator: stackscope wrote none and manages no field.
    for name in ["legacy-api", "oauth-api", "gateway"] {
        let object = foreign.get(name).await.unwrap_or_else(|error| panic!("{error}"));
        assert!(
            object.data.get("status").is_none_or(|status| status.as_object().is_none_or(|s| s.is_empty())),
            "{name}: {:?}",
            object.data.get("status")
        );
        let managers: Vec<String> = object.managed_fields().iter().filter_map(|f| f.manager.clone()).collect();
        assert_eq!(managers, [MANAGER], "{name}");
    }

    // `stackscope import --from-cluster -n <namespace>`: the same conversion, from the cluster.
    let documents = stackscope::cli::import::documents_of_cluster(&client, Some(apps_namespace))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let report = stackscope::cli::import::import_documents(documents, false);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let imported: Vec<&str> = report.monitors.iter().map(|(source, _)| source.as_str()).collect();
    assert_eq!(
        imported,
        [
            format!("{apps_namespace}/gateway"),
            format!("{apps_namespace}/legacy-api"),
            format!("{apps_namespace}/oauth-api"),
            format!("{apps_namespace}/unlabelled"),
        ]
    );
    assert_eq!(
        report.warnings,
        [format!(
            "cluster: ServiceMonitor {apps_namespace}/oauth-api: spec.endpoints[0].oauth2: not supported by stackscope; dropped"
        )]
    );
    let strict = stackscope::cli::import::import_documents(
        stackscope::cli::import::documents_of_cluster(&client, Some(apps_namespace))
            .await
            .unwrap_or_else(|error| panic!("{error}")),
        true,
    );
    assert_eq!(strict.errors.len(), 1, "{:?}", strict.errors);

    // The imported legacy-api, applied as a stackscope monitor, takes over the very same job.
    let legacy =
        report.monitors.iter().find(|(source, _)| source.ends_with("/legacy-api")).map(|(_, value)| value.clone());
    let legacy: ServiceMonitor =
        serde_json::from_value(legacy.unwrap_or_default()).unwrap_or_else(|error| panic!("{error}"));
    own.patch("legacy-api", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&legacy))
        .await
        .unwrap_or_else(|error| panic!("apply the imported legacy-api: {error}"));
    let migrated =
        stack_status(&stacks, &name, "the imported legacy-api accepted in place of prometheus-operator's", |stack| {
            let status = stack.status.clone().unwrap_or_default();
            status.accepted_monitors.iter().any(|m| m.name == "legacy-api" && m.api_version.is_none())
        })
        .await;
    let status = migrated.status.unwrap_or_default();
    assert_eq!(status.accepted_monitors.len(), 2, "{status:?}");
    assert_eq!(status.rejected_monitors.len(), 1, "only oauth-api: {status:?}");
    let after = config_maps.get(&prometheus).await.unwrap_or_else(|error| panic!("{error}")).data.unwrap_or_default();
    let after = after.get("prometheus.yml").cloned().unwrap_or_default();
    assert_eq!(after.matches(&format!("job_name: {job}")).count(), 1, "{after}");
    assert!(after.contains("/stats/prometheus"));

    operator.stop().await;
}
