//! The CustomResourceDefinitions, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{ObservabilityStack, ServiceMonitor};

/// Every CRD stackscope serves, in a stable order, exactly as installed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [ObservabilityStack::crd(), ServiceMonitor::crd()]
        .into_iter()
        .map(|crd| {
            let Ok(mut value) = serde_json::to_value(&crd) else { return crd };
            strip_object_defaults(&mut value);
            drop_null_from_enums(&mut value);
            type_int_or_string(&mut value);
            unwrap_descriptions(&mut value);
            keep_on_uninstall(&mut value);
            serde_json::from_value(value).unwrap_or(crd)
        })
        .collect()
}

/// Each CRD as `(metadata.name, YAML)`, as written to `crds/` and the chart.
pub fn crd_documents() -> Result<Vec<(String, String)>, String> {
    crds()
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let value = serde_json::to_value(&crd).map_err(|error| format!("{name}: {error}"))?;
            serde_saphyr::to_string(&value).map(|text| (name.clone(), text)).map_err(|error| format!("{name}: {error}"))
        })
        .collect()
}

/// Deleting a CRD deletes every stack and monitor with it. `helm.sh/resource-policy: keep`
/// makes Argo CD (as `Delete=false`) and Helm keep the CRDs when the release or Application that
/// installed them goes away; `kubectl apply` ignores it.
fn keep_on_uninstall(value: &mut serde_json::Value) {
    value["metadata"]["annotations"]["helm.sh/resource-policy"] = serde_json::Value::from("keep");
}

/// Drops `default` from schema nodes of objects that contain objects or lists. Leaves and
/// small flat objects (such as a Secret reference) keep theirs, which is what `kubectl explain`
/// shows and the API server fills in; whole-subtree copies at every level would multiply the
/// CRD's size past what `kubectl apply` can annotate. The operator applies the same defaults
/// through serde, so the rendered stack is the same either way.
fn strip_object_defaults(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let nested = map.get("properties").and_then(|p| p.as_object()).is_some_and(|properties| {
                properties.values().any(|property| {
                    matches!(property.get("type").and_then(|t| t.as_str()), Some("object") | Some("array"))
                })
            });
            if nested {
                map.remove("default");
            }
            map.values_mut().for_each(strip_object_defaults);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_object_defaults),
        _ => {}
    }
}

/// Removes `null` from the `enum` of optional fields. `nullable: true` already admits null, and a
/// `null` among the choices only shows up as `<no value>` in `kubectl explain` and as a
/// supported value `"null"` in the API server's refusal.
fn drop_null_from_enums(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(choices)) = map.get_mut("enum") {
                choices.retain(|choice| !choice.is_null());
            }
            map.values_mut().for_each(drop_null_from_enums);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_null_from_enums),
        _ => {}
    }
}

/// Gives every `x-kubernetes-int-or-string` field the two typed branches the API server's own
/// types publish (kube's schema rewrite leaves them untyped), so that `kubectl explain` and
/// OpenAPI clients see an integer-or-string rather than an object.
fn type_int_or_string(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("x-kubernetes-int-or-string").and_then(serde_json::Value::as_bool) == Some(true) {
                map.insert("anyOf".to_owned(), serde_json::json!([{"type": "integer"}, {"type": "string"}]));
            }
            map.values_mut().for_each(type_int_or_string);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(type_int_or_string),
        _ => {}
    }
}

/// Joins the lines of each description into paragraphs: a doc comment wraps at the source's
/// line width, and `kubectl explain` would show those breaks mid-sentence on top of its own
/// wrapping. Blank lines (paragraph breaks) stay.
fn unwrap_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(description)) = map.get_mut("description") {
                *description = description
                    .split("\n\n")
                    .map(|paragraph| paragraph.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            map.values_mut().for_each(unwrap_descriptions);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}
