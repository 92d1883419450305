//! What every object the renderers write carries: names, labels and metadata; the plain objects
//! (ServiceAccount, ConfigMap, Services); their serialization (deterministic YAML and JSON, the
//! config hash, the dynamic form); and regex literals. Pod building blocks are in [`super::pod`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use kube::api::DynamicObject;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Component, RenderError};
use crate::resolve::ResolvedStack;

/// Label carrying the owning stack's name; it selects everything a stack owns.
pub const STACK_LABEL: &str = "stackscope.dev/stack";
/// Label carrying the component.
pub(crate) const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// Annotation with the hash of a workload's configuration, so a config change rolls its pods.
pub(crate) const CONFIG_HASH_ANNOTATION: &str = "stackscope.dev/config-hash";
/// The field manager and `managed-by` value.
pub(crate) const MANAGER: &str = "stackscope";

/// Name of a component's main objects: `<stack>-<component>`.
pub(crate) fn object_name(stack: &ResolvedStack, component: Component) -> String {
    format!("{}-{}", stack.name, component.as_str())
}

/// Name of a secondary object of a component: `<stack>-<component>-<suffix>`.
pub(crate) fn object_name_with(stack: &ResolvedStack, component: Component, suffix: &str) -> String {
    format!("{}-{}-{}", stack.name, component.as_str(), suffix)
}

/// Name prefix of a stack's cluster-scoped objects. They cannot carry an owner reference to a
/// namespaced stack, so the name says whose they are (and stacks of the same name in two
/// namespaces never collide).
pub(crate) fn cluster_scoped_prefix(namespace: &str, stack_name: &str) -> String {
    format!("stackscope-{namespace}-{stack_name}-")
}

/// Name of a component's cluster-scoped object (ClusterRole, ClusterRoleBinding).
pub(crate) fn cluster_object_name(stack: &ResolvedStack, component: Component) -> String {
    format!("{}{}", cluster_scoped_prefix(&stack.namespace, &stack.name), component.as_str())
}

/// In-cluster URL of a component's Service.
pub(crate) fn service_url(stack: &ResolvedStack, component: Component, port: u16) -> String {
    format!("http://{}.{}.svc:{}", object_name(stack, component), stack.namespace, port)
}

/// Owned copies of static names, for the `Vec<String>` fields of configuration files and RBAC rules.
pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// Labels that select a component's pods. Kept minimal: selectors are immutable.
pub(crate) fn selector_labels(stack: &ResolvedStack, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), component.as_str().to_owned()),
        ("app.kubernetes.io/instance".to_owned(), stack.name.clone()),
    ])
}

/// Every label stackscope puts on a component's objects.
pub(crate) fn labels(stack: &ResolvedStack, component: Component) -> BTreeMap<String, String> {
    let mut labels = selector_labels(stack, component);
    labels.insert(COMPONENT_LABEL.to_owned(), component.as_str().to_owned());
    labels.insert("app.kubernetes.io/part-of".to_owned(), "stackscope".to_owned());
    labels.insert("app.kubernetes.io/managed-by".to_owned(), MANAGER.to_owned());
    labels.insert(STACK_LABEL.to_owned(), stack.name.clone());
    labels
}

/// Metadata of a component object in the stack's namespace.
pub(crate) fn metadata(stack: &ResolvedStack, component: Component, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(stack.namespace.clone()),
        labels: Some(labels(stack, component)),
        ..ObjectMeta::default()
    }
}

/// Metadata of a cluster-scoped component object (no namespace).
pub(crate) fn cluster_metadata(stack: &ResolvedStack, component: Component, name: String) -> ObjectMeta {
    ObjectMeta { name: Some(name), labels: Some(labels(stack, component)), ..ObjectMeta::default() }
}

/// The component's ServiceAccount, named like its main objects.
pub(crate) fn service_account(stack: &ResolvedStack, component: Component) -> ServiceAccount {
    ServiceAccount {
        metadata: metadata(stack, component, object_name(stack, component)),
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    }
}

/// A label selector matching a component's pods.
pub(crate) fn pod_selector(stack: &ResolvedStack, component: Component) -> LabelSelector {
    LabelSelector { match_labels: Some(selector_labels(stack, component)), match_expressions: None }
}

/// A ConfigMap of the component with the given files.
pub(crate) fn config_map(
    stack: &ResolvedStack,
    component: Component,
    name: String,
    data: BTreeMap<String, String>,
) -> ConfigMap {
    ConfigMap { metadata: metadata(stack, component, name), data: Some(data), ..ConfigMap::default() }
}

/// A ClusterIP Service selecting the component's pods, with `(name, port)` pairs.
pub(crate) fn service(stack: &ResolvedStack, component: Component, name: String, ports: &[(&str, u16)]) -> Service {
    Service {
        metadata: metadata(stack, component, name),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(stack, component)),
            ports: Some(
                ports
                    .iter()
                    .map(|(port_name, port)| ServicePort {
                        name: Some((*port_name).to_owned()),
                        port: i32::from(*port),
                        target_port: Some(IntOrString::String((*port_name).to_owned())),
                        protocol: Some("TCP".to_owned()),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// A headless Service for a StatefulSet's stable network identities.
pub(crate) fn headless_service(
    stack: &ResolvedStack,
    component: Component,
    name: String,
    ports: &[(&str, u16)],
) -> Service {
    let mut headless = service(stack, component, name, ports);
    if let Some(spec) = headless.spec.as_mut() {
        spec.cluster_ip = Some("None".to_owned());
        spec.publish_not_ready_addresses = Some(true);
    }
    headless
}

/// Serializes a configuration file as YAML, deterministically (struct order, sorted maps).
pub(crate) fn to_yaml<T: Serialize>(component: Component, what: &str, value: &T) -> Result<String, RenderError> {
    serde_saphyr::to_string(value).map_err(RenderError::serialize(component, what))
}

/// Serializes a configuration file as pretty JSON (dashboards, strategies).
pub(crate) fn to_json<T: Serialize>(component: Component, what: &str, value: &T) -> Result<String, RenderError> {
    serde_json::to_string_pretty(value).map_err(RenderError::serialize(component, what))
}

/// Hex SHA-256 of a set of files, for the config-hash annotation.
pub(crate) fn content_hash(files: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, content) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(content.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Converts a typed object into the dynamic form every renderer returns.
pub(crate) fn into_object<K>(component: Component, object: K) -> Result<DynamicObject, RenderError>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let what = format!("{}/{}", K::kind(&()), object.meta().name.clone().unwrap_or_default());
    let value = serde_json::to_value(&object).map_err(RenderError::serialize(component, what.clone()))?;
    let mut dynamic: DynamicObject = serde_json::from_value(value).map_err(RenderError::serialize(component, what))?;
    dynamic.types =
        Some(kube::api::TypeMeta { api_version: K::api_version(&()).into_owned(), kind: K::kind(&()).into_owned() });
    Ok(dynamic)
}

/// Escapes a literal (a label value, port or object name) for use inside an RE2 regular
/// expression, like Go's `regexp.QuoteMeta`: names may contain `.`, which must not match any
/// character. Borrowed when nothing needs escaping, the usual case.
pub(crate) fn regex_literal(text: &str) -> Cow<'_, str> {
    const META: &[u8] = b"\\.+*?()|[]{}^$";
    if !text.bytes().any(|byte| META.contains(&byte)) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if c.is_ascii() && META.contains(&(c as u8)) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    Cow::Owned(escaped)
}
