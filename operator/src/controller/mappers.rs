//! Which stacks a change of another object concerns: a monitor, a Service, a Secret, a workload
//! or a cluster-scoped object. Decided purely over snapshots of the caches ([`Concerned`]), so the
//! rules are tested without a cluster; [`Mappers`] takes the snapshots for the controller.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::ResourceExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use super::foreign::ForeignMonitors;
use crate::api::{ObservabilityStack, ServiceMonitor};
use crate::prometheus_operator;
use crate::render::common::cluster_scoped_prefix;
use crate::resolve::{monitor_selects_service, service_namespaces, stack_selects};
use crate::schema::SchemaValidator;

/// The stacks and monitors a mapping looks at.
pub(crate) struct Concerned<'a> {
    pub stacks: &'a [Arc<ObservabilityStack>],
    /// stackscope's monitors and prometheus-operator's converted ones. A monitor stackscope would
    /// refuse may be among them: it then simply concerns no stack.
    pub monitors: &'a [Arc<ServiceMonitor>],
}

type Refs = Vec<ObjectRef<ObservabilityStack>>;

impl Concerned<'_> {
    fn stacks_where(&self, keep: impl Fn(&ObservabilityStack) -> bool) -> Refs {
        self.stacks.iter().filter(|stack| keep(stack)).map(|stack| ObjectRef::from_obj(&**stack)).collect()
    }

    /// Stacks with one of these monitors.
    fn stacks_with_any(&self, monitors: &[&Arc<ServiceMonitor>]) -> Refs {
        self.stacks_where(|stack| monitors.iter().any(|monitor| stack_selects(stack, monitor)))
    }

    /// Stacks that select a monitor.
    pub(crate) fn selecting(&self, monitor: &ServiceMonitor) -> Refs {
        self.stacks_where(|stack| stack_selects(stack, monitor))
    }

    /// Stacks with a monitor that selects the Service.
    pub(crate) fn monitoring_service(&self, service: &Service) -> Refs {
        let watching: Vec<&Arc<ServiceMonitor>> =
            self.monitors.iter().filter(|monitor| monitor_selects_service(monitor, service)).collect();
        self.stacks_with_any(&watching)
    }

    /// Stacks with a monitor whose Services may be in the namespace (probes of its workloads).
    pub(crate) fn probing_namespace(&self, namespace: Option<&str>) -> Refs {
        let Some(namespace) = namespace else { return Vec::new() };
        let probing: Vec<&Arc<ServiceMonitor>> = self
            .monitors
            .iter()
            .filter(|monitor| {
                service_namespaces(&monitor.spec, monitor.namespace().as_deref().unwrap_or_default())
                    .is_none_or(|names| names.iter().any(|name| name == namespace))
            })
            .collect();
        self.stacks_with_any(&probing)
    }

    /// Stacks whose cluster-scoped objects carry this name's prefix.
    pub(crate) fn owning_cluster_object(&self, name: &str) -> Refs {
        self.stacks_where(|stack| {
            name.starts_with(&cluster_scoped_prefix(&stack.namespace().unwrap_or_default(), &stack.name_any()))
        })
    }

    /// Stacks that read a Secret through a monitor they select.
    pub(crate) fn reading_secret(&self, namespace: &str, name: &str) -> Refs {
        let reading: Vec<&Arc<ServiceMonitor>> = self
            .monitors
            .iter()
            .filter(|monitor| {
                monitor.namespace().as_deref() == Some(namespace)
                    && monitor.spec.references().iter().any(|reference| reference.is_secret(name))
            })
            .collect();
        self.stacks_with_any(&reading)
    }
}

/// Maps changes of other objects to the stacks they concern, from the caches of stacks and
/// monitors.
#[derive(Clone)]
pub(crate) struct Mappers {
    pub stacks: Store<ObservabilityStack>,
    pub monitors: Store<ServiceMonitor>,
    pub foreign: ForeignMonitors,
    pub validator: Arc<SchemaValidator>,
}

impl Mappers {
    /// Every cached monitor: stackscope's, and prometheus-operator's converted ones (empty until
    /// a stack selects them).
    fn all_monitors(&self) -> Vec<Arc<ServiceMonitor>> {
        let mut monitors = self.monitors.state();
        monitors.extend(
            self.foreign
                .converted()
                .iter()
                .filter_map(|monitor| prometheus_operator::check(&self.validator, &monitor.conversion).ok())
                .map(Arc::new),
        );
        monitors
    }

    fn with<T>(&self, monitors: bool, map: impl FnOnce(&Concerned<'_>) -> T) -> T {
        let stacks = self.stacks.state();
        let monitors = if monitors { self.all_monitors() } else { Vec::new() };
        map(&Concerned { stacks: &stacks, monitors: &monitors })
    }

    pub(crate) fn stacks_selecting(&self, monitor: &ServiceMonitor) -> Refs {
        self.with(false, |concerned| concerned.selecting(monitor))
    }

    pub(crate) fn stacks_monitoring_service(&self, service: &Service) -> Refs {
        self.with(true, |concerned| concerned.monitoring_service(service))
    }

    pub(crate) fn stacks_probing_namespace(&self, namespace: Option<&str>) -> Refs {
        self.with(true, |concerned| concerned.probing_namespace(namespace))
    }

    pub(crate) fn stacks_owning_cluster_object(&self, name: &str) -> Refs {
        self.with(false, |concerned| concerned.owning_cluster_object(name))
    }

    pub(crate) fn stacks_reading_secret(&self, secret: &PartialObjectMeta<Secret>) -> Refs {
        let namespace = secret.namespace().unwrap_or_default();
        self.with(true, |concerned| concerned.reading_secret(&namespace, &secret.name_any()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack(namespace: &str, name: &str, spec: serde_json::Value) -> Arc<ObservabilityStack> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "stackscope.dev/v1alpha1", "kind": "ObservabilityStack",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec
            }))
            .expect("a well-typed stack"),
        )
    }

    fn monitor(namespace: &str, name: &str, labels: serde_json::Value, spec: serde_json::Value) -> Arc<ServiceMonitor> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
                "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec
            }))
            .expect("a well-typed monitor"),
        )
    }

    fn names(refs: Refs) -> Vec<String> {
        refs.into_iter().map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name)).collect()
    }

    /// Stack `team-a` selects monitors labelled `team: a` in every namespace; `team-b` those
    /// labelled `team: b`; `all` selects every monitor.
    fn stacks() -> Vec<Arc<ObservabilityStack>> {
        vec![
            stack(
                "obs",
                "team-a",
                json!({"monitorSelector": {"matchLabels": {"team": "a"}}, "monitorNamespaceSelector": {"any": true}}),
            ),
            stack(
                "obs",
                "team-b",
                json!({"monitorSelector": {"matchLabels": {"team": "b"}}, "monitorNamespaceSelector": {"any": true}}),
            ),
        ]
    }

    fn api_monitor() -> Arc<ServiceMonitor> {
        monitor(
            "apps",
            "api",
            json!({"team": "a"}),
            json!({
                "selector": {"matchLabels": {"app": "api"}},
                "endpoints": [{"port": "http", "bearerTokenSecret": {"name": "api-token", "key": "token"}}]
            }),
        )
    }

    #[test]
    fn a_monitor_concerns_the_stacks_that_select_it() {
        let (stacks, monitors) = (stacks(), vec![api_monitor()]);
        let concerned = Concerned { stacks: &stacks, monitors: &monitors };
        assert_eq!(names(concerned.selecting(&api_monitor())), ["obs/team-a"]);
        let unlabelled = monitor("apps", "other", json!({}), json!({"selector": {}, "endpoints": []}));
        assert_eq!(names(concerned.selecting(&unlabelled)), Vec::<String>::new());
    }

    #[test]
    fn a_service_concerns_the_stacks_of_the_monitors_selecting_it() {
        let (stacks, monitors) = (stacks(), vec![api_monitor()]);
        let concerned = Concerned { stacks: &stacks, monitors: &monitors };
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "apps", "labels": {"app": "api"}}
        }))
        .unwrap();
        assert_eq!(names(concerned.monitoring_service(&service)), ["obs/team-a"]);
        let elsewhere: Service = serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "other", "labels": {"app": "api"}}
        }))
        .unwrap();
        assert_eq!(names(concerned.monitoring_service(&elsewhere)), Vec::<String>::new(), "another namespace");
    }

    #[test]
    fn a_secret_concerns_the_stacks_whose_monitors_read_it() {
        let (stacks, monitors) = (stacks(), vec![api_monitor()]);
        let concerned = Concerned { stacks: &stacks, monitors: &monitors };
        assert_eq!(names(concerned.reading_secret("apps", "api-token")), ["obs/team-a"]);
        assert_eq!(names(concerned.reading_secret("apps", "other")), Vec::<String>::new());
        assert_eq!(names(concerned.reading_secret("other", "api-token")), Vec::<String>::new());
    }

    #[test]
    fn workloads_concern_the_stacks_probing_their_namespace() {
        let stacks = stacks();
        let monitors = vec![
            api_monitor(),
            monitor(
                "apps",
                "b",
                json!({"team": "b"}),
                json!({"selector": {}, "namespaceSelector": {"matchNames": ["web"]}, "endpoints": []}),
            ),
        ];
        let concerned = Concerned { stacks: &stacks, monitors: &monitors };
        assert_eq!(names(concerned.probing_namespace(Some("apps"))), ["obs/team-a"]);
        assert_eq!(names(concerned.probing_namespace(Some("web"))), ["obs/team-b"]);
        assert_eq!(names(concerned.probing_namespace(None)), Vec::<String>::new());
    }

    #[test]
    fn cluster_scoped_objects_belong_to_the_stack_of_their_prefix() {
        let stacks = stacks();
        let concerned = Concerned { stacks: &stacks, monitors: &[] };
        let name = format!("{}prometheus", cluster_scoped_prefix("obs", "team-b"));
        assert_eq!(names(concerned.owning_cluster_object(&name)), ["obs/team-b"]);
        assert_eq!(names(concerned.owning_cluster_object("kube-system-coredns")), Vec::<String>::new());
    }
}
