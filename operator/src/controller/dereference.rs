//! Dereference: the monitors a stack selects, each either accepted or quarantined with the
//! field that stops it, so one bad ServiceMonitor never blocks the others.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::api::{MonitorRef, ObservabilityStack, Referenced, RejectedMonitor, ServiceMonitor, UnsupportedFields};
use crate::prometheus_operator::{Conversion, PROMETHEUS_OPERATOR_API_VERSION};
use crate::resolve::{selector_matches, service_namespaces, stack_selects, stack_selects_object};
use crate::schema::SchemaValidator;
use crate::validate;
use crate::validate::FieldError;

/// Monitors sorted into accepted and rejected.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    /// Every accepted monitor, prometheus-operator's converted ones included.
    pub accepted: Vec<Arc<ServiceMonitor>>,
    /// `(namespace, name)` of the accepted monitors that are prometheus-operator's.
    pub accepted_foreign: BTreeSet<(String, String)>,
    pub rejected: Vec<RejectedMonitor>,
}

impl Selection {
    /// References of the accepted monitors, prometheus-operator's with their API version.
    pub(crate) fn accepted_refs(&self) -> Vec<MonitorRef> {
        self.accepted
            .iter()
            .map(|monitor| {
                let (namespace, name) = (monitor.namespace().unwrap_or_default(), monitor.name_any());
                let foreign = self.accepted_foreign.contains(&(namespace.clone(), name.clone()));
                MonitorRef { namespace, name, api_version: foreign.then(|| PROMETHEUS_OPERATOR_API_VERSION.to_owned()) }
            })
            .collect()
    }
}

/// A prometheus-operator ServiceMonitor as the controller sees it: where it is, its labels (for
/// the stack's selectors), and its conversion.
#[derive(Clone, Debug)]
pub(crate) struct ForeignMonitor {
    pub namespace: String,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub conversion: Conversion,
}

impl ForeignMonitor {
    /// Converts a prometheus-operator ServiceMonitor read from the cluster.
    pub(crate) fn from_object(object: &kube::api::DynamicObject) -> Option<Self> {
        let value = serde_json::to_value(object).ok()?;
        Some(Self {
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            labels: object.labels().clone(),
            conversion: crate::prometheus_operator::convert(&value),
        })
    }

    /// The converted monitor, or the field and reason that keep it out.
    pub fn monitor(
        &self,
        validator: &SchemaValidator,
        policy: UnsupportedFields,
    ) -> Result<ServiceMonitor, (String, String)> {
        if policy == UnsupportedFields::Reject
            && let Some(first) = self.conversion.dropped.first()
        {
            let others = self.conversion.dropped.len() - 1;
            let more = if others > 0 { format!(" (and {others} more)") } else { String::new() };
            return Err((
                first.path.clone(),
                format!(
                    "{}{more}; set spec.prometheusOperatorMonitors.unsupportedFields: Ignore to render without it",
                    first.message
                ),
            ));
        }
        crate::prometheus_operator::check(validator, &self.conversion).map_err(|problems| {
            let first =
                problems.into_iter().next().unwrap_or(FieldError { path: String::new(), message: String::new() });
            (first.path, first.message)
        })
    }
}

/// Why the Secrets of the monitors could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("cannot read Secret {namespace}/{name}: {source}")]
pub struct DereferenceError {
    pub namespace: String,
    pub name: String,
    pub source: kube::Error,
}

/// The first problem that stops a monitor from rendering: schema, semantics, then Secrets.
pub(crate) fn static_problem(validator: &SchemaValidator, monitor: &ServiceMonitor) -> Option<FieldError> {
    let value = serde_json::to_value(monitor).ok()?;
    validator
        .validate("ServiceMonitor", &value)
        .into_iter()
        .next()
        .or_else(|| validate::monitor(&monitor.spec).into_iter().next())
}

/// The static problems of the monitors already checked, by uid and generation. Schema (CEL) and
/// regex validation is most of a reconcile's CPU with thousands of monitors (a profile of 100
/// monitors: a third of it), and a monitor's spec changes only with its generation.
#[derive(Debug, Default)]
pub(crate) struct StaticProblems {
    checked: Mutex<HashMap<String, (i64, Option<FieldError>)>>,
}

impl StaticProblems {
    /// [`static_problem`], from the memo when this generation of the monitor was checked before.
    pub(crate) fn check(&self, validator: &SchemaValidator, monitor: &ServiceMonitor) -> Option<FieldError> {
        let key = monitor.metadata.uid.clone().zip(monitor.metadata.generation);
        if let Some((uid, generation)) = &key
            && let Ok(checked) = self.checked.lock()
            && let Some((checked_generation, problem)) = checked.get(uid)
            && checked_generation == generation
        {
            return problem.clone();
        }
        let problem = static_problem(validator, monitor);
        if let Some((uid, generation)) = key
            && let Ok(mut checked) = self.checked.lock()
        {
            checked.insert(uid, (generation, problem.clone()));
        }
        problem
    }

    /// Forgets the monitors not in `uids` (deleted ones) once the memo holds twice as many.
    fn forget_others(&self, uids: &HashSet<&str>) {
        if let Ok(mut checked) = self.checked.lock()
            && checked.len() > 2 * uids.len().max(64)
        {
            checked.retain(|uid, _| uids.contains(uid.as_str()));
        }
    }
}

/// A monitor outside the stack's namespace may not reference Secrets or ConfigMaps: Prometheus
/// runs in the stack's namespace and can only mount objects there, and letting a monitor lend
/// another namespace's credentials to a stack would cross a tenancy boundary.
pub(crate) fn foreign_reference(monitor: &ServiceMonitor, stack_namespace: &str) -> Option<(String, String)> {
    let namespace = monitor.metadata.namespace.as_deref().unwrap_or(stack_namespace);
    if namespace == stack_namespace {
        return None;
    }
    monitor.spec.references().into_iter().next().map(|reference| {
        let (kind, name) = (reference.object.kind(), reference.object.name());
        (
            reference.field,
            format!(
                "{kind} {namespace}/{name} cannot be read by the stack in namespace {stack_namespace}: a \
                 ServiceMonitor that references a {kind} must be in the stack's namespace"
            ),
        )
    })
}

/// The Services of one reconcile, indexed so that finding a monitor's Services does not scan them
/// all: at 10k monitors and 10k Services the scans (each monitor against every Service of its
/// namespace, twice: ports and probes) were most of a reconcile.
pub(crate) struct ServiceIndex<'a> {
    by_namespace: HashMap<&'a str, Vec<&'a Service>>,
    /// Services by each of their label pairs: a selector with `matchLabels` looks only at the
    /// Services carrying its first pair.
    by_label: HashMap<(&'a str, &'a str), Vec<&'a Service>>,
    all: &'a [Arc<Service>],
}

impl<'a> ServiceIndex<'a> {
    pub fn new(services: &'a [Arc<Service>]) -> Self {
        let mut by_namespace: HashMap<&str, Vec<&Service>> = HashMap::new();
        let mut by_label: HashMap<(&str, &str), Vec<&Service>> = HashMap::new();
        for service in services {
            let service: &Service = service;
            by_namespace.entry(service.metadata.namespace.as_deref().unwrap_or_default()).or_default().push(service);
            for (key, value) in service.metadata.labels.iter().flatten() {
                by_label.entry((key.as_str(), value.as_str())).or_default().push(service);
            }
        }
        Self { by_namespace, by_label, all: services }
    }

    /// The Services in these namespaces (`None`: in every namespace) that the label selector
    /// picks, by namespace and name.
    pub(crate) fn selected(&self, namespaces: Option<&[String]>, selector: &LabelSelector) -> Vec<&'a Service> {
        let in_namespaces = |service: &&Service| {
            let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
            namespaces.is_none_or(|names| names.iter().any(|name| name == namespace))
        };
        let candidates: Vec<&'a Service> = match selector.match_labels.iter().flatten().next() {
            Some((key, value)) => self
                .by_label
                .get(&(key.as_str(), value.as_str()))
                .map(|services| services.iter().copied().filter(in_namespaces).collect())
                .unwrap_or_default(),
            None => match namespaces {
                Some(names) => {
                    names.iter().filter_map(|name| self.by_namespace.get(name.as_str())).flatten().copied().collect()
                }
                None => self.all.iter().map(|service| &**service).collect(),
            },
        };
        let empty = BTreeMap::new();
        let mut selected: Vec<&'a Service> = candidates
            .into_iter()
            .filter(|service| selector_matches(selector, service.metadata.labels.as_ref().unwrap_or(&empty)))
            .collect();
        selected.sort_by(|a, b| {
            (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
                .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
        });
        selected.dedup_by(|a, b| std::ptr::eq(*a, *b));
        selected
    }

    /// The Services a monitor selects: in its namespaces, by its label selector.
    pub(crate) fn for_monitor(&self, monitor: &ServiceMonitor) -> Vec<&'a Service> {
        let namespace = monitor.metadata.namespace.as_deref().unwrap_or_default();
        self.selected(service_namespaces(&monitor.spec, namespace).as_deref(), &monitor.spec.selector)
    }
}

/// An endpoint whose `port` names no port of any Service the monitor selects (`selected`). With
/// no Service selected yet nothing is known to be wrong (Prometheus simply has no target).
pub(crate) fn unknown_port(monitor: &ServiceMonitor, selected: &[&Service]) -> Option<(String, String)> {
    if selected.is_empty() {
        return None;
    }
    let port_names: BTreeSet<&str> = selected
        .iter()
        .filter_map(|service| service.spec.as_ref()?.ports.as_ref())
        .flatten()
        .filter_map(|port| port.name.as_deref())
        .collect();
    monitor.spec.endpoints.iter().enumerate().find_map(|(index, endpoint)| {
        let port = endpoint.port.as_deref()?;
        (!port_names.contains(port)).then(|| {
            let names: Vec<&str> = port_names.iter().copied().collect();
            (
                format!("spec.endpoints[{index}].port"),
                format!(
                    "no Service the selector picks ({} of them) has a port named {port:?}; named ports: {}",
                    selected.len(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ),
            )
        })
    })
}

/// Selects and checks the monitors of a stack, stackscope's own and, when the stack enables it,
/// prometheus-operator's (converted). Secret existence is checked through the API; ports against
/// the cached Services.
pub(crate) async fn select(
    client: &Client,
    validator: &SchemaValidator,
    checked: &StaticProblems,
    stack: &ObservabilityStack,
    monitors: &[Arc<ServiceMonitor>],
    foreign: &[ForeignMonitor],
    services: &ServiceIndex<'_>,
) -> Result<Selection, DereferenceError> {
    let stack_namespace = stack.namespace().unwrap_or_default();
    let mut selection = Selection::default();
    checked.forget_others(&monitors.iter().filter_map(|monitor| monitor.metadata.uid.as_deref()).collect());
    let mut candidates: Vec<&Arc<ServiceMonitor>> =
        monitors.iter().filter(|monitor| stack_selects(stack, monitor)).collect();
    candidates.sort_by_key(|monitor| (monitor.namespace(), monitor.name_any()));
    let own: BTreeSet<(String, String)> =
        candidates.iter().map(|monitor| (monitor.namespace().unwrap_or_default(), monitor.name_any())).collect();
    for monitor in candidates {
        let namespace = monitor.namespace().unwrap_or_default();
        match problem(client, monitor, &namespace, &stack_namespace, validator, checked, services).await? {
            Some((field, reason)) => selection.rejected.push(RejectedMonitor {
                namespace,
                name: monitor.name_any(),
                field,
                reason,
                api_version: None,
            }),
            None => selection.accepted.push(Arc::clone(monitor)),
        }
    }

    let options = &stack.spec.prometheus_operator_monitors;
    let mut foreign: Vec<&ForeignMonitor> = if options.enabled {
        foreign
            .iter()
            .filter(|monitor| stack_selects_object(stack, Some(&monitor.namespace), Some(&monitor.labels)))
            .collect()
    } else {
        Vec::new()
    };
    foreign.sort_by_key(|monitor| (&monitor.namespace, &monitor.name));
    for candidate in foreign {
        let key = (candidate.namespace.clone(), candidate.name.clone());
        // A stackscope monitor of the same namespace and name replaces it (what `stackscope
        // import` then `kubectl apply` produce): not a rejection, so that migrating monitor by
        // monitor keeps the stack healthy. Both would write the same scrape job.
        if own.contains(&key) {
            continue;
        }
        let outcome = match candidate.monitor(validator, options.unsupported_fields) {
            Err(rejection) => Some(rejection),
            Ok(monitor) => {
                let found =
                    problem(client, &monitor, &candidate.namespace, &stack_namespace, validator, checked, services)
                        .await?;
                if found.is_none() {
                    selection.accepted.push(Arc::new(monitor));
                    selection.accepted_foreign.insert(key.clone());
                }
                found
            }
        };
        if let Some((field, reason)) = outcome {
            selection.rejected.push(RejectedMonitor {
                namespace: key.0,
                name: key.1,
                field,
                reason,
                api_version: Some(PROMETHEUS_OPERATOR_API_VERSION.to_owned()),
            });
        }
    }
    Ok(selection)
}

/// The field and reason that keep a monitor out: schema, semantics, references across
/// namespaces, ports, then Secrets (through the API); `None` when it renders.
async fn problem(
    client: &Client,
    monitor: &ServiceMonitor,
    namespace: &str,
    stack_namespace: &str,
    validator: &SchemaValidator,
    checked: &StaticProblems,
    services: &ServiceIndex<'_>,
) -> Result<Option<(String, String)>, DereferenceError> {
    if let Some(problem) = checked.check(validator, monitor) {
        return Ok(Some((problem.path, problem.message)));
    }
    if let Some(rejection) =
        foreign_reference(monitor, stack_namespace).or_else(|| unknown_port(monitor, &services.for_monitor(monitor)))
    {
        return Ok(Some(rejection));
    }
    let mut checked = BTreeSet::new();
    for (field, reference) in monitor.spec.references().into_iter().filter_map(|reference| match reference.object {
        Referenced::Secret(secret) => Some((reference.field, secret)),
        Referenced::ConfigMap(_) => None,
    }) {
        if !checked.insert((reference.name.clone(), reference.key.clone())) {
            continue;
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let secret = secrets.get_opt(&reference.name).await.map_err(|source| DereferenceError {
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
            source,
        })?;
        let has_key = secret.as_ref().is_some_and(|secret| {
            secret.data.as_ref().is_some_and(|data| data.contains_key(&reference.key))
                || secret.string_data.as_ref().is_some_and(|data| data.contains_key(&reference.key))
        });
        if !has_key {
            let what = if secret.is_none() { "does not exist" } else { "has no such key" };
            return Ok(Some((field, format!("Secret {namespace}/{} key {} {what}", reference.name, reference.key))));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(spec: serde_json::Value) -> ServiceMonitor {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
            "metadata": {"name": "m", "namespace": "apps"}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn secret_references_name_their_fields() {
        let monitor = monitor(serde_json::json!({
            "selector": {},
            "endpoints": [{"port": "http", "bearerTokenSecret": {"name": "tok", "key": "t"}},
                          {"port": "https", "basicAuth": {"username": {"name": "ba", "key": "u"}, "password": {"name": "ba", "key": "p"}}}]
        }));
        let fields: Vec<String> = monitor.spec.references().into_iter().map(|reference| reference.field).collect();
        assert_eq!(
            fields,
            [
                "spec.endpoints[0].bearerTokenSecret",
                "spec.endpoints[1].basicAuth.username",
                "spec.endpoints[1].basicAuth.password"
            ]
        );
    }

    fn service(namespace: &str, labels: serde_json::Value, ports: &[&str]) -> Arc<Service> {
        let ports: Vec<serde_json::Value> =
            ports.iter().enumerate().map(|(i, name)| serde_json::json!({"name": name, "port": 8000 + i})).collect();
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "svc", "namespace": namespace, "labels": labels},
                "spec": {"selector": {"app": "x"}, "ports": ports}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn the_index_selects_what_a_scan_of_every_service_selects() {
        let mut services = Vec::new();
        for (index, namespace) in ["apps", "apps", "shop", "other"].iter().enumerate() {
            for (app, tier) in [("x", "web"), ("x", "db"), ("y", "web")] {
                let mut service = service(namespace, serde_json::json!({"app": app, "tier": tier}), &["http"]);
                Arc::make_mut(&mut service).metadata.name = Some(format!("svc-{index}-{app}-{tier}"));
                services.push(service);
            }
        }
        let index = ServiceIndex::new(&services);
        let selectors = [
            serde_json::json!({"matchLabels": {"app": "x"}}),
            serde_json::json!({"matchLabels": {"app": "x", "tier": "web"}}),
            serde_json::json!({"matchLabels": {"app": "absent"}}),
            serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}),
            serde_json::json!({"matchLabels": {"tier": "web"}, "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["y"]}]}),
            serde_json::json!({}),
        ];
        let namespace_selectors = [
            serde_json::json!(null),
            serde_json::json!({"matchNames": ["shop", "other"]}),
            serde_json::json!({"any": true}),
        ];
        for selector in &selectors {
            for namespace_selector in &namespace_selectors {
                let mut spec = serde_json::json!({"selector": selector, "endpoints": [{"port": "http"}]});
                if !namespace_selector.is_null() {
                    spec["namespaceSelector"] = namespace_selector.clone();
                }
                let monitor = monitor(spec);
                let mut scanned: Vec<&Service> = services
                    .iter()
                    .map(|service| &**service)
                    .filter(|service| crate::resolve::monitor_selects_service(&monitor, service))
                    .collect();
                scanned.sort_by_key(|service| (service.metadata.namespace.clone(), service.metadata.name.clone()));
                let indexed = index.for_monitor(&monitor);
                let names = |services: &[&Service]| -> Vec<String> {
                    services
                        .iter()
                        .map(|service| format!("{}/{}", service.namespace().unwrap(), service.name_any()))
                        .collect()
                };
                assert_eq!(names(&indexed), names(&scanned), "{selector} in {namespace_selector}");
            }
        }
    }

    #[test]
    fn an_endpoint_port_no_selected_service_has_is_named_with_the_ports_there_are() {
        let monitor = monitor(serde_json::json!({
            "selector": {"matchLabels": {"app": "x"}}, "endpoints": [{"port": "http"}, {"port": "metrics"}]
        }));
        let check =
            |services: &[Arc<Service>]| unknown_port(&monitor, &ServiceIndex::new(services).for_monitor(&monitor));
        assert_eq!(check(&[]), None, "no Service selected yet is not an error");
        let other_namespace = service("elsewhere", serde_json::json!({"app": "x"}), &["http"]);
        assert_eq!(check(&[other_namespace]), None);
        let services = vec![service("apps", serde_json::json!({"app": "x"}), &["http", "grpc"])];
        let (field, reason) = check(&services).unwrap();
        assert_eq!(field, "spec.endpoints[1].port");
        assert!(reason.contains(r#"port named "metrics""#) && reason.contains("grpc, http"), "{reason}");
        let both = vec![service("apps", serde_json::json!({"app": "x"}), &["http", "metrics"])];
        assert_eq!(check(&both), None);
    }

    #[test]
    fn monitors_outside_the_stack_namespace_may_not_reference_secrets_or_config_maps() {
        let with_secret = monitor(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http", "bearerTokenSecret": {"name": "tok", "key": "t"}}]
        }));
        assert_eq!(foreign_reference(&with_secret, "apps"), None, "same namespace is fine");
        let (field, reason) = foreign_reference(&with_secret, "observability").unwrap();
        assert_eq!(field, "spec.endpoints[0].bearerTokenSecret");
        assert!(reason.contains("Secret apps/tok") && reason.contains("namespace observability"), "{reason}");
        let with_config_map = monitor(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http", "scheme": "https",
                "tlsConfig": {"ca": {"configMap": {"name": "ca", "key": "ca.crt"}}}}]
        }));
        let (field, _) = foreign_reference(&with_config_map, "observability").unwrap();
        assert_eq!(field, "spec.endpoints[0].tlsConfig.ca.configMap");
        let plain = monitor(serde_json::json!({"selector": {}, "endpoints": [{"port": "http"}]}));
        assert_eq!(foreign_reference(&plain, "observability"), None);
    }

    #[test]
    fn a_bad_relabel_regex_is_a_static_problem_naming_the_field() {
        let validator = SchemaValidator::new();
        let bad = monitor(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http", "relabelings": [{"action": "replace", "regex": "(", "targetLabel": "x"}]}]
        }));
        let problem = static_problem(&validator, &bad).unwrap();
        assert!(problem.path.starts_with("spec.endpoints[0].relabelings[0]"), "{}", problem.path);
        let good = monitor(serde_json::json!({"selector": {}, "endpoints": [{"port": "http"}]}));
        assert!(static_problem(&validator, &good).is_none());
    }

    #[test]
    fn prometheus_operator_monitors_with_fields_stackscope_lacks_are_rejected_unless_ignored() {
        let validator = SchemaValidator::new();
        let object: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "api", "namespace": "apps", "labels": {"team": "a"}},
            "spec": {"selector": {}, "endpoints": [{"port": "http", "tlsConfig": {"minVersion": "TLS12", "certificateMagic": true, "futureKnob": 1}}]}
        }))
        .unwrap();
        let foreign = ForeignMonitor::from_object(&object).unwrap();
        assert_eq!((foreign.namespace.as_str(), foreign.name.as_str()), ("apps", "api"));
        assert_eq!(foreign.labels.get("team").map(String::as_str), Some("a"));
        let (field, reason) = foreign.monitor(&validator, UnsupportedFields::Reject).unwrap_err();
        assert_eq!(field, "spec.endpoints[0].tlsConfig.certificateMagic");
        assert!(reason.contains("(and 1 more)") && reason.contains("unsupportedFields: Ignore"), "{reason}");
        let monitor = foreign.monitor(&validator, UnsupportedFields::Ignore).unwrap();
        assert_eq!(monitor.spec.endpoints[0].port.as_deref(), Some("http"));
    }
}
