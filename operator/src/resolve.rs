//! The resolved input of a render: a stack with the monitors it selects, in a stable order.
//!
//! The controller builds this from the cluster, the CLI from files; renderers only ever see this.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::api::{
    Duration, Endpoint, Environment, LogStorageType, ObservabilityStack, ObservabilityStackSpec, ServiceMonitor,
    ServiceMonitorSpec,
};

/// A stack and everything it renders from.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedStack {
    /// Name of the `ObservabilityStack`.
    pub name: String,
    /// Namespace of the stack and of everything it renders.
    pub namespace: String,
    /// The stack's spec, with serde defaults applied.
    pub spec: ObservabilityStackSpec,
    /// Accepted monitors, sorted by namespace then name.
    pub monitors: Vec<ResolvedMonitor>,
}

/// One accepted `ServiceMonitor`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedMonitor {
    /// Namespace of the monitor (and, unless its namespaceSelector says otherwise, its Services).
    pub namespace: String,
    /// Name of the monitor.
    pub name: String,
    /// The monitor's spec, shared with the object it came from.
    pub spec: SharedSpec,
    /// `uid/generation` when the monitor came from the API server: the render cache's key of
    /// this spec (the generation moves with every spec change, not with status writes).
    pub revision: Option<String>,
}

/// A monitor's spec, shared with the monitor object it came from (in the controller, the watch
/// store's) instead of copied: a render of 10k monitors used to spend a third of its time
/// deep-copying specs. Reads go through `Deref`; a write copies the object first.
#[derive(Clone, Debug)]
pub struct SharedSpec(Arc<ServiceMonitor>);

impl Deref for SharedSpec {
    type Target = ServiceMonitorSpec;

    fn deref(&self) -> &ServiceMonitorSpec {
        &self.0.spec
    }
}

impl DerefMut for SharedSpec {
    fn deref_mut(&mut self) -> &mut ServiceMonitorSpec {
        &mut Arc::make_mut(&mut self.0).spec
    }
}

impl PartialEq for SharedSpec {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.spec == other.0.spec
    }
}

impl From<ServiceMonitorSpec> for SharedSpec {
    fn from(spec: ServiceMonitorSpec) -> Self {
        Self(Arc::new(ServiceMonitor::new("", spec)))
    }
}

impl ResolvedStack {
    /// Builds the render input from a stack and the monitors already selected for it: shared
    /// (`Arc`, the controller's) monitors are not copied, owned ones (the CLI's) are copied once.
    pub fn new<M>(stack: &ObservabilityStack, monitors: &[M]) -> Self
    where
        M: Clone + Into<Arc<ServiceMonitor>>,
    {
        let namespace = stack.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let mut resolved: Vec<ResolvedMonitor> = monitors
            .iter()
            .map(|monitor| {
                let monitor: Arc<ServiceMonitor> = monitor.clone().into();
                ResolvedMonitor {
                    namespace: monitor.metadata.namespace.clone().unwrap_or_else(|| namespace.clone()),
                    name: monitor.metadata.name.clone().unwrap_or_default(),
                    revision: match (&monitor.metadata.uid, monitor.metadata.generation) {
                        (Some(uid), Some(generation)) => Some(format!("{uid}/{generation}")),
                        _ => None,
                    },
                    spec: SharedSpec(monitor),
                }
            })
            .collect();
        resolved.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Self {
            name: stack.metadata.name.clone().unwrap_or_default(),
            namespace,
            spec: stack.spec.clone(),
            monitors: resolved,
        }
    }

    /// The render input of a stack that selects no monitor.
    pub fn without_monitors(stack: &ObservabilityStack) -> Self {
        Self::new::<ServiceMonitor>(stack, &[])
    }

    /// The environment.
    pub fn environment(&self) -> Environment {
        self.spec.environment
    }

    /// Retention of ordinary logs: the explicit value, else the environment's.
    pub(crate) fn log_retention(&self) -> Duration {
        self.spec.logging.loki.retention_period.clone().unwrap_or_else(|| self.spec.environment.log_retention())
    }

    /// Log storage: the explicit type, else the environment's.
    pub(crate) fn log_storage(&self) -> LogStorageType {
        self.spec.logging.loki.storage.storage_type.unwrap_or_else(|| self.spec.environment.log_storage())
    }

    /// Whether the stack runs highly available: the explicit value, else in production.
    pub fn high_availability(&self) -> bool {
        self.spec.high_availability.unwrap_or(self.spec.environment == Environment::Production)
    }

    /// Replicas of a highly available component: the explicit count, else `available` with high
    /// availability and 1 without.
    fn replicas(&self, explicit: Option<u32>, available: u32) -> u32 {
        explicit.unwrap_or(if self.high_availability() { available } else { 1 })
    }

    /// Prometheus replicas.
    pub fn prometheus_replicas(&self) -> u32 {
        self.replicas(self.spec.metrics.prometheus.replicas, crate::api::defaults::HA_PROMETHEUS_REPLICAS)
    }

    /// Alertmanager replicas.
    pub fn alertmanager_replicas(&self) -> u32 {
        self.replicas(self.spec.alerting.alertmanager.replicas, crate::api::defaults::HA_ALERTMANAGER_REPLICAS)
    }

    /// Thanos Query replicas.
    pub fn thanos_query_replicas(&self) -> u32 {
        self.replicas(self.spec.metrics.downsampling.query.replicas, crate::api::defaults::HA_THANOS_QUERY_REPLICAS)
    }

    /// Whether the collector drops DEBUG lines: the explicit value, else everywhere but development.
    pub fn drop_debug(&self) -> bool {
        self.spec.logging.drop_debug.unwrap_or(self.spec.environment != Environment::Development)
    }
}

impl ResolvedMonitor {
    /// `namespace/name`, as users write it.
    pub(crate) fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The Prometheus job name of one endpoint, as prometheus-operator names it.
    pub fn job_name(&self, endpoint_index: usize) -> String {
        format!("serviceMonitor/{}/{}/{}", self.namespace, self.name, endpoint_index)
    }

    /// The endpoints with their index.
    pub fn endpoints(&self) -> impl Iterator<Item = (usize, &Endpoint)> {
        self.spec.endpoints.iter().enumerate()
    }

    /// Namespaces the monitor's Services are looked for in; `None` means every namespace.
    pub fn service_namespaces(&self) -> Option<Vec<String>> {
        service_namespaces(&self.spec, &self.namespace)
    }

    /// The `service` label value the monitor's SLO and alert overrides refer to.
    pub fn service_label(&self) -> String {
        self.spec.slo.as_ref().and_then(|slo| slo.service.clone()).unwrap_or_else(|| self.name.clone())
    }
}

/// Namespaces a monitor's Services are looked for in (prometheus-operator's `namespaceSelector`:
/// `any`, `matchNames`, else the monitor's own); `None` means every namespace.
pub(crate) fn service_namespaces(spec: &ServiceMonitorSpec, monitor_namespace: &str) -> Option<Vec<String>> {
    match &spec.namespace_selector {
        Some(selector) if selector.any => None,
        Some(selector) if !selector.match_names.is_empty() => {
            let mut names = selector.match_names.clone();
            names.sort();
            names.dedup();
            Some(names)
        }
        _ => Some(vec![monitor_namespace.to_owned()]),
    }
}

/// Whether a monitor selects a Service: the Service is in one of its namespaces and matches its
/// label selector.
pub fn monitor_selects_service(monitor: &ServiceMonitor, service: &k8s_openapi::api::core::v1::Service) -> bool {
    let monitor_namespace = monitor.metadata.namespace.as_deref().unwrap_or_default();
    let service_namespace = service.metadata.namespace.as_deref().unwrap_or_default();
    let empty = std::collections::BTreeMap::new();
    service_namespaces(&monitor.spec, monitor_namespace)
        .is_none_or(|names| names.iter().any(|name| name == service_namespace))
        && selector_matches(&monitor.spec.selector, service.metadata.labels.as_ref().unwrap_or(&empty))
}

/// Whether a Kubernetes label selector matches a set of labels (an empty selector matches all).
pub(crate) fn selector_matches(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let labels_match = selector.match_labels.iter().flatten().all(|(key, value)| labels.get(key) == Some(value));
    let expressions_match = selector.match_expressions.iter().flatten().all(|expression| {
        let values = expression.values.as_deref().unwrap_or_default();
        let current = labels.get(&expression.key);
        match expression.operator.as_str() {
            "In" => current.is_some_and(|value| values.contains(value)),
            "NotIn" => current.is_none_or(|value| !values.contains(value)),
            "Exists" => current.is_some(),
            "DoesNotExist" => current.is_none(),
            // Unknown operators match nothing, as the API server would refuse them.
            _ => false,
        }
    });
    labels_match && expressions_match
}

/// Whether a stack includes a monitor: namespace first, then labels.
pub fn stack_selects(stack: &ObservabilityStack, monitor: &ServiceMonitor) -> bool {
    stack_selects_object(stack, monitor.metadata.namespace.as_deref(), monitor.metadata.labels.as_ref())
}

/// Whether a stack includes a monitor of any kind (stackscope's or prometheus-operator's) with
/// this namespace and these labels.
pub fn stack_selects_object(
    stack: &ObservabilityStack,
    namespace: Option<&str>,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> bool {
    let stack_namespace = stack.metadata.namespace.as_deref().unwrap_or("default");
    let monitor_namespace = namespace.unwrap_or(stack_namespace);
    let namespace_allowed = match &stack.spec.monitor_namespace_selector {
        Some(selector) if selector.any => true,
        Some(selector) if !selector.match_names.is_empty() => {
            selector.match_names.iter().any(|name| name == monitor_namespace)
        }
        _ => monitor_namespace == stack_namespace,
    };
    let empty = std::collections::BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    namespace_allowed && stack.spec.monitor_selector.as_ref().is_none_or(|selector| selector_matches(selector, labels))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    use super::*;
    use crate::api::NamespaceSelector;

    fn monitor(namespace: &str, labels: &[(&str, &str)]) -> ServiceMonitor {
        let mut monitor: ServiceMonitor = serde_json::from_value(serde_json::json!({
            "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
            "metadata": {"name": "m", "namespace": namespace},
            "spec": {"selector": {}, "endpoints": [{"port": "http"}]}
        }))
        .unwrap();
        monitor.metadata.labels = Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        monitor
    }

    #[test]
    fn stacks_select_monitors_by_namespace_then_labels() {
        let mut stack = ObservabilityStack::new("s", ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("obs".to_owned());
        assert!(stack_selects(&stack, &monitor("obs", &[])));
        assert!(!stack_selects(&stack, &monitor("apps", &[])), "other namespaces need a namespace selector");
        stack.spec.monitor_namespace_selector =
            Some(NamespaceSelector { any: false, match_names: vec!["apps".to_owned()] });
        assert!(stack_selects(&stack, &monitor("apps", &[])));
        assert!(!stack_selects(&stack, &monitor("obs", &[])), "matchNames replaces the default namespace");
        stack.spec.monitor_namespace_selector = Some(NamespaceSelector { any: true, match_names: vec![] });
        stack.spec.monitor_selector = Some(LabelSelector {
            match_labels: Some([("team".to_owned(), "a".to_owned())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".to_owned(),
                operator: "NotIn".to_owned(),
                values: Some(vec!["test".to_owned()]),
            }]),
        });
        assert!(stack_selects(&stack, &monitor("x", &[("team", "a")])));
        assert!(!stack_selects(&stack, &monitor("x", &[("team", "a"), ("tier", "test")])));
        assert!(!stack_selects(&stack, &monitor("x", &[("team", "b")])));
    }
}
