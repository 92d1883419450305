//! `stackscope import`: prometheus-operator ServiceMonitors read from files (or listed from a
//! cluster), converted by the core's [`crate::prometheus_operator`] conversion, checked, and
//! reported line by line; the binary writes the results.

use serde_json::{Value, json};

use crate::prometheus_operator::{
    PROMETHEUS_OPERATOR_API_VERSION, check, convert, is_prometheus_operator_monitor, monitor_resource, object_key,
    unavailable_reason,
};
use crate::schema::SchemaValidator;

/// The outcome of an import: the monitors to write and what to tell the user, line by line.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Converted, valid monitors as `(source, JSON)`, in input order.
    pub monitors: Vec<(String, Value)>,
    /// Documents skipped and rewrites that keep the meaning.
    pub notes: Vec<String>,
    /// Dropped fields (errors instead under `strict`).
    pub warnings: Vec<String>,
    /// What stops the import: unreadable input, monitors stackscope would refuse, and under
    /// `strict` every dropped field.
    pub errors: Vec<String>,
    /// Monitors that lost at least one field.
    pub lossy: usize,
}

/// Converts and checks every prometheus-operator ServiceMonitor among `documents` (each with
/// where it came from); other documents are skipped with a note.
pub fn import_documents(documents: Vec<(String, Value)>, strict: bool) -> ImportReport {
    let validator = SchemaValidator::new();
    let mut report = ImportReport::default();
    for (origin, document) in documents {
        if !is_prometheus_operator_monitor(&document) {
            let api_version = document.get("apiVersion").and_then(Value::as_str).unwrap_or("<no apiVersion>");
            let kind = document.get("kind").and_then(Value::as_str).unwrap_or("<no kind>");
            report.notes.push(format!(
                "{origin}: {api_version} {kind} {} is not a {PROMETHEUS_OPERATOR_API_VERSION} ServiceMonitor; skipped",
                object_key(&document)
            ));
            continue;
        }
        let conversion = convert(&document);
        let what = format!("{origin}: ServiceMonitor {}", conversion.source);
        report.notes.extend(conversion.notes.iter().map(|note| format!("{what}: {note}")));
        let dropped: Vec<String> = conversion.dropped.iter().map(|finding| format!("{what}: {finding}")).collect();
        if !dropped.is_empty() {
            report.lossy += 1;
        }
        if strict {
            report.errors.extend(dropped);
        } else {
            report.warnings.extend(dropped);
        }
        match check(&validator, &conversion) {
            Ok(monitor) => {
                // Kept so the manifest ports unchanged, but stackscope does nothing with them.
                report.notes.extend(
                    monitor
                        .spec
                        .without_effect()
                        .iter()
                        .map(|field| format!("{what}: accepted without effect: {field}")),
                );
                report.monitors.push((conversion.source.clone(), conversion.converted));
            }
            Err(problems) => report.errors.extend(
                problems.iter().map(|problem| format!("{what}: stackscope would refuse the result: {problem}")),
            ),
        }
    }
    report
}

/// The documents of YAML files, each with its origin (`file (document N)`), lists expanded.
pub fn documents_of_files(files: &[(String, String)]) -> Result<Vec<(String, Value)>, Vec<String>> {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in files {
        match crate::manifest::documents(file, text) {
            Ok(values) => {
                for (index, value) in values.into_iter().enumerate() {
                    let items = expand_lists(value);
                    let several = items.len() > 1;
                    for (item_index, item) in items.into_iter().enumerate() {
                        let origin = if several {
                            format!("{file} (document {}, item {})", index + 1, item_index + 1)
                        } else {
                            format!("{file} (document {})", index + 1)
                        };
                        documents.push((origin, item));
                    }
                }
            }
            Err(error) => problems.push(error.to_string()),
        }
    }
    if problems.is_empty() { Ok(documents) } else { Err(problems) }
}

/// Documents to convert: a `List` (what `kubectl get -o yaml` prints for several objects) is
/// expanded into its items.
pub(crate) fn expand_lists(value: Value) -> Vec<Value> {
    let is_list =
        value.get("kind").and_then(Value::as_str).is_some_and(|kind| kind == "List" || kind.ends_with("List"))
            && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![value];
    }
    let api_version = value.get("apiVersion").cloned();
    let list_kind = value.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|mut item| {
                    // Items of a typed list (`ServiceMonitorList`) may omit their own type.
                    if let (Some(object), Some(api_version)) = (item.as_object_mut(), api_version.as_ref())
                        && list_kind != "List"
                    {
                        object.entry("apiVersion").or_insert_with(|| api_version.clone());
                        object.entry("kind").or_insert_with(|| json!(list_kind.trim_end_matches("List")));
                    }
                    item
                })
                .collect(),
            _ => Vec::new(),
        },
        other => vec![other],
    }
}

/// prometheus-operator's ServiceMonitors of a namespace (or of every namespace), sorted by
/// namespace and name, each with its origin (`cluster`).
pub async fn documents_of_cluster(
    client: &kube::Client,
    namespace: Option<&str>,
) -> Result<Vec<(String, Value)>, String> {
    use kube::api::{Api, DynamicObject, ListParams};
    let resource = monitor_resource();
    let api: Api<DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let list = api.list(&ListParams::default()).await.map_err(|error| unavailable_reason(&error))?;
    let mut documents: Vec<(String, Value)> = list
        .items
        .into_iter()
        .map(|object| serde_json::to_value(object).map(|value| ("cluster".to_owned(), value)))
        .collect::<Result<_, _>>()
        .map_err(|error| error.to_string())?;
    documents.sort_by_key(|(_, value)| object_key(value));
    Ok(documents)
}

/// The file a converted monitor is written to under `-o`: `<namespace>_<name>.yaml` (neither
/// part can contain `_`), or `<name>.yaml` without a namespace.
pub fn file_name(monitor: &Value) -> String {
    let metadata = monitor.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("unnamed");
    match metadata.and_then(|m| m.get("namespace")).and_then(Value::as_str) {
        Some(namespace) => format!("{namespace}_{name}.yaml"),
        None => format!("{name}.yaml"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(spec: Value) -> Value {
        json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "api", "namespace": "apps"}, "spec": spec
        })
    }

    #[test]
    fn lists_expand_into_their_items() {
        let list = json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitorList",
                          "items": [{"metadata": {"name": "a"}, "spec": {}}]});
        let items = expand_lists(list);
        assert!(is_prometheus_operator_monitor(&items[0]), "{items:?}");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [source(json!({})), {"apiVersion": "v1", "kind": "Service"}]});
        assert_eq!(expand_lists(list).len(), 2);
    }
}
