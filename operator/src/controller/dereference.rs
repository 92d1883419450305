//! Dereference: the monitors a stack selects, each either accepted or quarantined with the
//! field that stops it, so one bad ServiceMonitor never blocks the others.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::api::{MonitorRef, ObservabilityStack, RejectedMonitor, SecretKeyRef, ServiceMonitor};
use crate::resolve::stack_selects;
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

/// Selects and checks the monitors of a stack. Secret existence is checked through the API.
pub async fn select(
    client: &Client,
    validator: &SchemaValidator,
    stack: &ObservabilityStack,
    monitors: &[ServiceMonitor],
) -> Result<Selection, DereferenceError> {
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
