//! Probes: the liveness and readiness probes of the workloads behind each accepted monitor,
//! compared with the expected ones and, under `probes.policy: Enforce`, set through server-side
//! apply under a field manager of their own that owns nothing but those two fields of one
//! container, so every other field of the workload stays with whoever manages it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Resource};

use super::dereference::ServiceIndex;
use crate::api::{ProbeFinding, ProbePolicy};
use crate::render::probes::{ExpectedProbes, compare, to_k8s_probe};

/// Field manager of enforced probes, apart from `stackscope` so that the stack's own objects and
/// the users' workloads never share ownership.
pub(crate) const PROBE_MANAGER: &str = "stackscope-probes";

/// Why the probes could not be checked or enforced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("list {kind} in namespace {namespace}: {source}")]
    List { kind: &'static str, namespace: String, source: kube::Error },
    #[error("enforce probes on {workload}: {source}")]
    Enforce { workload: String, source: kube::Error },
}

/// A workload (Deployment, StatefulSet or DaemonSet) and its pod template.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub resource: ApiResource,
    pub namespace: String,
    pub name: String,
    pub template: PodTemplateSpec,
}

impl Workload {
    fn of<K: Resource<DynamicType = ()>>(object: &K, template: Option<&PodTemplateSpec>) -> Option<Self> {
        Some(Self {
            resource: ApiResource::erase::<K>(&()),
            namespace: object.meta().namespace.clone()?,
            name: object.meta().name.clone()?,
            template: template?.clone(),
        })
    }

    /// `Kind/namespace/name`, as status lists it.
    pub(crate) fn key(&self) -> String {
        format!("{}/{}/{}", self.resource.kind, self.namespace, self.name)
    }

    fn container_named(&self, name: Option<&str>) -> Option<&k8s_openapi::api::core::v1::Container> {
        let containers = &self.template.spec.as_ref()?.containers;
        match name {
            Some(name) => containers.iter().find(|container| container.name == name),
            None => containers.first(),
        }
    }
}

/// Whether a Service's selector picks the workload's pods. A Service without a selector picks
/// nothing (its endpoints are managed by hand).
pub(crate) fn service_selects(service: &Service, template: &PodTemplateSpec) -> bool {
    let Some(selector) = service.spec.as_ref().and_then(|spec| spec.selector.as_ref()) else { return false };
    if selector.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = template.metadata.as_ref().and_then(|metadata| metadata.labels.as_ref()).unwrap_or(&empty);
    selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

/// What differs between a workload's probes and the expected ones (pure).
pub(crate) fn check_workload(expected: &ExpectedProbes, workload: &Workload) -> Vec<ProbeFinding> {
    let Some(container) = workload.container_named(expected.container.as_deref()) else {
        return vec![ProbeFinding {
            workload: workload.key(),
            container: expected.container.clone().unwrap_or_default(),
            probe: "container".to_owned(),
            state: "Missing".to_owned(),
            detail: match &expected.container {
                Some(name) => format!("no container named {name} (ServiceMonitor {})", expected.monitor),
                None => format!("the pod template has no container (ServiceMonitor {})", expected.monitor),
            },
        }];
    };
    [
        ("liveness", &expected.liveness, container.liveness_probe.as_ref()),
        ("readiness", &expected.readiness, container.readiness_probe.as_ref()),
    ]
    .into_iter()
    .filter_map(|(probe, want, actual)| {
        compare(want, actual).map(|detail| ProbeFinding {
            workload: workload.key(),
            container: container.name.clone(),
            probe: probe.to_owned(),
            state: if actual.is_none() { "Missing" } else { "Different" }.to_owned(),
            detail,
        })
    })
    .collect()
}

/// The server-side apply body that sets just the two probes of one container.
pub(crate) fn enforcement_patch(workload: &Workload, container: &str, expected: &ExpectedProbes) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": workload.resource.api_version,
        "kind": workload.resource.kind,
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {"template": {"spec": {"containers": [{
            "name": container,
            "livenessProbe": to_k8s_probe(&expected.liveness),
            "readinessProbe": to_k8s_probe(&expected.readiness),
        }]}}}
    })
}

/// What a probe check found and how many writes enforcing took.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProbeCheck {
    pub findings: Vec<ProbeFinding>,
    pub writes: u32,
}

async fn list_workloads(client: &Client, namespace: &str) -> Result<Vec<Workload>, ProbeError> {
    let params = ListParams::default();
    let list_error = |kind: &'static str| {
        let namespace = namespace.to_owned();
        move |source| ProbeError::List { kind, namespace, source }
    };
    let mut workloads = Vec::new();
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace).list(&params).await;
    for item in deployments.map_err(list_error("Deployments"))? {
        workloads.extend(Workload::of(&item, item.spec.as_ref().map(|spec| &spec.template)));
    }
    let statefulsets = Api::<StatefulSet>::namespaced(client.clone(), namespace).list(&params).await;
    for item in statefulsets.map_err(list_error("StatefulSets"))? {
        workloads.extend(Workload::of(&item, item.spec.as_ref().map(|spec| &spec.template)));
    }
    let daemonsets = Api::<DaemonSet>::namespaced(client.clone(), namespace).list(&params).await;
    for item in daemonsets.map_err(list_error("DaemonSets"))? {
        workloads.extend(Workload::of(&item, item.spec.as_ref().map(|spec| &spec.template)));
    }
    Ok(workloads)
}

async fn enforce(
    client: &Client,
    workload: &Workload,
    container: &str,
    expected: &ExpectedProbes,
) -> Result<(), ProbeError> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &workload.namespace, &workload.resource);
    let body = enforcement_patch(workload, container, expected);
    api.patch(&workload.name, &PatchParams::apply(PROBE_MANAGER).force(), &Patch::Apply(&body))
        .await
        .map_err(|source| ProbeError::Enforce { workload: workload.key(), source })?;
    Ok(())
}

/// Checks (and under `Enforce` sets) the probes of every workload behind the monitors' Services.
/// Each namespace's workloads are listed once per check.
pub(crate) async fn check(
    client: &Client,
    services: &ServiceIndex<'_>,
    expectations: &[ExpectedProbes],
    policy: ProbePolicy,
) -> Result<ProbeCheck, ProbeError> {
    let mut result = ProbeCheck::default();
    let mut workloads_by_namespace: BTreeMap<String, Vec<Workload>> = BTreeMap::new();
    // A workload behind several monitors is enforced once, by the first monitor in order.
    let mut enforced: BTreeSet<String> = BTreeSet::new();
    for expected in expectations {
        let mut checked: BTreeSet<String> = BTreeSet::new();
        for service in services.selected(expected.namespaces.as_deref(), &expected.selector) {
            // A Service without a pod selector picks no workload (its endpoints are managed by
            // hand): no need to list the namespace's workloads for it.
            if service.spec.as_ref().and_then(|spec| spec.selector.as_ref()).is_none_or(BTreeMap::is_empty) {
                continue;
            }
            let namespace = service.metadata.namespace.clone().unwrap_or_default();
            if !workloads_by_namespace.contains_key(&namespace) {
                let listed = list_workloads(client, &namespace).await?;
                workloads_by_namespace.insert(namespace.clone(), listed);
            }
            let workloads = workloads_by_namespace.get(&namespace).map(Vec::as_slice).unwrap_or_default();
            for workload in workloads.iter().filter(|workload| service_selects(service, &workload.template)) {
                if !checked.insert(workload.key()) {
                    continue;
                }
                let mut findings = check_workload(expected, workload);
                let container = workload.container_named(expected.container.as_deref()).map(|c| c.name.clone());
                if let (ProbePolicy::Enforce, Some(container), false) = (policy, container, findings.is_empty())
                    && enforced.insert(workload.key())
                {
                    enforce(client, workload, &container, expected).await?;
                    result.writes += 1;
                    for finding in &mut findings {
                        finding.state = "Enforced".to_owned();
                    }
                }
                result.findings.extend(findings);
            }
        }
    }
    result.findings.sort_by(|a, b| (&a.workload, &a.container, &a.probe).cmp(&(&b.workload, &b.container, &b.probe)));
    result.findings.dedup();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Probe;

    use super::*;
    use crate::render::fixtures::machineavatars;
    use crate::render::probes::expected_probes;

    fn workload(labels: serde_json::Value, containers: serde_json::Value) -> Workload {
        Workload {
            resource: ApiResource::erase::<Deployment>(&()),
            namespace: "machineavatars".to_owned(),
            name: "gateway".to_owned(),
            template: serde_json::from_value(serde_json::json!({
                "metadata": {"labels": labels}, "spec": {"containers": containers}
            }))
            .unwrap(),
        }
    }

    fn service(namespace: &str, labels: serde_json::Value, selector: serde_json::Value) -> Arc<Service> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "svc", "namespace": namespace, "labels": labels},
                "spec": {"selector": selector}
            }))
            .unwrap(),
        )
    }

    fn gateway() -> ExpectedProbes {
        expected_probes(&machineavatars()).into_iter().find(|e| e.monitor.ends_with("/gateway")).unwrap()
    }

    #[test]
    fn services_are_selected_by_namespace_and_labels_and_select_pods_by_their_selector() {
        let expected = gateway();
        let services = vec![
            service("machineavatars", serde_json::json!({"app": "gateway"}), serde_json::json!({"app": "gw"})),
            service("other", serde_json::json!({"app": "gateway"}), serde_json::json!({"app": "gw"})),
            service("machineavatars", serde_json::json!({"app": "auth"}), serde_json::json!({"app": "auth"})),
        ];
        let selected = ServiceIndex::new(&services).selected(expected.namespaces.as_deref(), &expected.selector);
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].metadata.namespace.as_deref(), Some("machineavatars"));
        let pods = workload(serde_json::json!({"app": "gw", "tier": "edge"}), serde_json::json!([{"name": "c"}]));
        assert!(service_selects(selected[0], &pods.template));
        let other = workload(serde_json::json!({"app": "auth"}), serde_json::json!([{"name": "c"}]));
        assert!(!service_selects(selected[0], &other.template));
        let no_selector = service("machineavatars", serde_json::json!({}), serde_json::json!({}));
        assert!(!service_selects(&no_selector, &pods.template), "an empty selector selects nothing");
    }

    #[test]
    fn findings_name_missing_and_different_probes_and_nothing_when_equal() {
        let expected = gateway();
        let missing = workload(serde_json::json!({}), serde_json::json!([{"name": "app", "image": "x"}]));
        let findings = check_workload(&expected, &missing);
        assert_eq!(findings.len(), 2);
        assert!(findings.iter().all(|f| f.state == "Missing" && f.workload == "Deployment/machineavatars/gateway"));

        let liveness: Probe = to_k8s_probe(&expected.liveness);
        let mut readiness: Probe = to_k8s_probe(&expected.readiness);
        readiness.period_seconds = Some(30);
        let different = workload(
            serde_json::json!({}),
            serde_json::json!([{"name": "app", "livenessProbe": liveness, "readinessProbe": readiness}]),
        );
        let findings = check_workload(&expected, &different);
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].probe.as_str(), findings[0].state.as_str()), ("readiness", "Different"));
        assert!(findings[0].detail.contains("periodSeconds: expected 5, found 30"), "{}", findings[0].detail);

        let equal = workload(
            serde_json::json!({}),
            serde_json::json!([{"name": "app", "livenessProbe": liveness,
                                "readinessProbe": to_k8s_probe(&expected.readiness)}]),
        );
        assert!(check_workload(&expected, &equal).is_empty());
    }

    #[test]
    fn a_named_container_that_does_not_exist_is_reported() {
        let mut expected = gateway();
        expected.container = Some("api".to_owned());
        let findings =
            check_workload(&expected, &workload(serde_json::json!({}), serde_json::json!([{"name": "web"}])));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].probe, "container");
        assert!(findings[0].detail.contains("no container named api"));
    }

    #[test]
    fn the_enforcement_patch_carries_only_the_two_probes_of_one_container() {
        let expected = gateway();
        let target = workload(serde_json::json!({}), serde_json::json!([{"name": "app"}]));
        let patch = enforcement_patch(&target, "app", &expected);
        let container = &patch["spec"]["template"]["spec"]["containers"][0];
        let mut keys: Vec<&String> = container.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["livenessProbe", "name", "readinessProbe"]);
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(container["readinessProbe"]["periodSeconds"], 5);
        assert_eq!(patch["spec"].as_object().unwrap().len(), 1, "nothing but the template is declared");
        assert_eq!(patch["metadata"]["namespace"], "machineavatars");
    }
}
