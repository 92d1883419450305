//! Dereference: the monitors a stack selects, each either accepted or quarantined with the
//! field that stops it, so one bad ServiceMonitor never blocks the others.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::api::{MonitorRef, ObservabilityStack, RejectedMonitor, SecretKeyRef, ServiceMonitor};
use crate::resolve::{monitor_selects_service, stack_selects};
use crate::schema::{FieldError, SchemaValidator};
use crate::validate;

/// Monitors sorted into accepted and rejected.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub accepted: Vec<ServiceMonitor>,
    pub rejected: Vec<RejectedMonitor>,
}

impl Selection {
    /// References of the accepted monitors.
    pub fn accepted_refs(&self) -> Vec<MonitorRef> {
        self.accepted
            .iter()
            .map(|monitor| MonitorRef { namespace: monitor.namespace().unwrap_or_default(), name: monitor.name_any() })
            .collect()
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

/// Every Secret key an endpoint of the monitor reads, with the field that names it.
pub fn secret_references(monitor: &ServiceMonitor) -> Vec<(String, SecretKeyRef)> {
    let mut references = Vec::new();
    for (index, endpoint) in monitor.spec.endpoints.iter().enumerate() {
        let path = format!("spec.endpoints[{index}]");
        if let Some(secret) = &endpoint.bearer_token_secret {
            references.push((format!("{path}.bearerTokenSecret"), secret.clone()));
        }
        if let Some(auth) = &endpoint.basic_auth {
            references.push((format!("{path}.basicAuth.username"), auth.username.clone()));
            references.push((format!("{path}.basicAuth.password"), auth.password.clone()));
        }
        if let Some(tls) = &endpoint.tls_config {
            if let Some(secret) = tls.ca.as_ref().and_then(|ca| ca.secret.clone()) {
                references.push((format!("{path}.tlsConfig.ca.secret"), secret));
            }
            if let Some(secret) = tls.cert.as_ref().and_then(|cert| cert.secret.clone()) {
                references.push((format!("{path}.tlsConfig.cert.secret"), secret));
            }
            if let Some(secret) = &tls.key_secret {
                references.push((format!("{path}.tlsConfig.keySecret"), secret.clone()));
            }
        }
    }
    references
}

/// The first problem that stops a monitor from rendering: schema, semantics, then Secrets.
pub fn static_problem(validator: &SchemaValidator, monitor: &ServiceMonitor) -> Option<FieldError> {
    let value = serde_json::to_value(monitor).ok()?;
    validator
        .validate("ServiceMonitor", &value)
        .into_iter()
        .next()
        .or_else(|| validate::monitor(&monitor.spec).into_iter().next())
}

/// Every ConfigMap an endpoint of the monitor reads (TLS CA and certificate), with its field.
pub fn config_map_references(monitor: &ServiceMonitor) -> Vec<(String, String)> {
    let mut references = Vec::new();
    for (index, endpoint) in monitor.spec.endpoints.iter().enumerate() {
        let Some(tls) = &endpoint.tls_config else { continue };
        for (field, source) in [("ca", &tls.ca), ("cert", &tls.cert)] {
            if let Some(config_map) = source.as_ref().and_then(|source| source.config_map.as_ref()) {
                references
                    .push((format!("spec.endpoints[{index}].tlsConfig.{field}.configMap"), config_map.name.clone()));
            }
        }
    }
    references
}

/// A monitor outside the stack's namespace may not reference Secrets or ConfigMaps: Prometheus
/// runs in the stack's namespace and can only mount objects there, and letting a monitor lend
/// another namespace's credentials to a stack would cross a tenancy boundary.
pub fn foreign_reference(monitor: &ServiceMonitor, stack_namespace: &str) -> Option<(String, String)> {
    let namespace = monitor.metadata.namespace.as_deref().unwrap_or(stack_namespace);
    if namespace == stack_namespace {
        return None;
    }
    let secrets = secret_references(monitor).into_iter().map(|(field, secret)| (field, "Secret", secret.name));
    let config_maps = config_map_references(monitor).into_iter().map(|(field, name)| (field, "ConfigMap", name));
    secrets.chain(config_maps).next().map(|(field, kind, name)| {
        (
            field,
            format!(
                "{kind} {namespace}/{name} cannot be read by the stack in namespace {stack_namespace}: a \
                 ServiceMonitor that references a {kind} must be in the stack's namespace"
            ),
        )
    })
}

/// An endpoint whose `port` names no port of any Service the monitor selects. With no Service
/// selected yet nothing is known to be wrong (Prometheus simply has no target).
pub fn unknown_port(monitor: &ServiceMonitor, services: &[Arc<Service>]) -> Option<(String, String)> {
    let selected: Vec<&Service> =
        services.iter().map(|service| &**service).filter(|service| monitor_selects_service(monitor, service)).collect();
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

/// Selects and checks the monitors of a stack. Secret existence is checked through the API;
/// ports against the cached Services.
pub async fn select(
    client: &Client,
    validator: &SchemaValidator,
    stack: &ObservabilityStack,
    monitors: &[ServiceMonitor],
    services: &[Arc<Service>],
) -> Result<Selection, DereferenceError> {
    let stack_namespace = stack.namespace().unwrap_or_default();
    let mut selection = Selection::default();
    let mut candidates: Vec<&ServiceMonitor> =
        monitors.iter().filter(|monitor| stack_selects(stack, monitor)).collect();
    candidates.sort_by_key(|monitor| (monitor.namespace(), monitor.name_any()));
    for monitor in candidates {
        let namespace = monitor.namespace().unwrap_or_default();
        let reject = |field: String, reason: String| RejectedMonitor {
            namespace: namespace.clone(),
            name: monitor.name_any(),
            field,
            reason,
        };
        if let Some(problem) = static_problem(validator, monitor) {
            selection.rejected.push(reject(problem.path, problem.message));
            continue;
        }
        if let Some((field, reason)) =
            foreign_reference(monitor, &stack_namespace).or_else(|| unknown_port(monitor, services))
        {
            selection.rejected.push(reject(field, reason));
            continue;
        }
        let mut missing = None;
        let mut checked = BTreeSet::new();
        for (field, reference) in secret_references(monitor) {
            if !checked.insert((reference.name.clone(), reference.key.clone())) {
                continue;
            }
            let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
            let secret = secrets.get_opt(&reference.name).await.map_err(|source| DereferenceError {
                namespace: namespace.clone(),
                name: reference.name.clone(),
                source,
            })?;
            let has_key = secret.as_ref().is_some_and(|secret| {
                secret.data.as_ref().is_some_and(|data| data.contains_key(&reference.key))
                    || secret.string_data.as_ref().is_some_and(|data| data.contains_key(&reference.key))
            });
            if !has_key {
                let what = if secret.is_none() { "does not exist" } else { "has no such key" };
                missing =
                    Some(reject(field, format!("Secret {namespace}/{} key {} {what}", reference.name, reference.key)));
                break;
            }
        }
        match missing {
            Some(rejected) => selection.rejected.push(rejected),
            None => selection.accepted.push(monitor.clone()),
        }
    }
    Ok(selection)
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
        let fields: Vec<String> = secret_references(&monitor).into_iter().map(|(field, _)| field).collect();
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
    fn an_endpoint_port_no_selected_service_has_is_named_with_the_ports_there_are() {
        let monitor = monitor(serde_json::json!({
            "selector": {"matchLabels": {"app": "x"}}, "endpoints": [{"port": "http"}, {"port": "metrics"}]
        }));
        assert_eq!(unknown_port(&monitor, &[]), None, "no Service selected yet is not an error");
        let other_namespace = service("elsewhere", serde_json::json!({"app": "x"}), &["http"]);
        assert_eq!(unknown_port(&monitor, &[other_namespace]), None);
        let services = vec![service("apps", serde_json::json!({"app": "x"}), &["http", "grpc"])];
        let (field, reason) = unknown_port(&monitor, &services).unwrap();
        assert_eq!(field, "spec.endpoints[1].port");
        assert!(reason.contains(r#"port named "metrics""#) && reason.contains("grpc, http"), "{reason}");
        let both = vec![service("apps", serde_json::json!({"app": "x"}), &["http", "metrics"])];
        assert_eq!(unknown_port(&monitor, &both), None);
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
}
