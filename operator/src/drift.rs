//! Drift: where a running object no longer carries what stackscope declared.
//!
//! Only the fields stackscope sets are compared (its intent is the rendered object), so
//! defaults the API server adds and fields other controllers own never count as drift.

use serde_json::Value;

/// Longest value shown in a drift entry; status must stay small.
pub(crate) const MAX_VALUE_CHARS: usize = 256;

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDrift {
    /// Path from the object's root, e.g. `data["prometheus.yml"]` or `spec.replicas`.
    pub path: String,
    /// Declared value, truncated.
    pub expected: String,
    /// Running value, truncated; `<absent>` when the field is gone.
    pub actual: String,
}

/// Fields of the object stackscope never compares: identity and server-owned bookkeeping.
const IGNORED_TOP_LEVEL: [&str; 3] = ["apiVersion", "kind", "status"];
/// The object is read by its name and namespace, so those cannot differ.
const IGNORED_METADATA: [&str; 9] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "ownerReferences",
    "selfLink",
];

/// Every field of `declared` whose value differs in `live`, in a stable order.
pub fn compare(declared: &Value, live: &Value) -> Vec<FieldDrift> {
    let Some(live_map) = live.as_object() else { return Vec::new() };
    compare_fields(declared, |field| live_map.get(field))
}

/// [`compare`] against a live object whose top-level fields `live_field` looks up, so that a
/// typed object need not be converted to a JSON value as a whole first.
pub(crate) fn compare_fields<'live>(
    declared: &Value,
    live_field: impl Fn(&str) -> Option<&'live Value>,
) -> Vec<FieldDrift> {
    let mut drifts = Vec::new();
    let Some(declared) = declared.as_object() else { return drifts };
    let mut keys: Vec<&String> = declared.keys().collect();
    keys.sort();
    for key in keys {
        if IGNORED_TOP_LEVEL.contains(&key.as_str()) {
            continue;
        }
        let (Some(expected), actual) = (declared.get(key), live_field(key)) else { continue };
        if key == "metadata" {
            compare_metadata(expected, actual, &mut drifts);
        } else {
            walk(expected, actual, key.clone(), &mut drifts);
        }
    }
    drifts
}

fn compare_metadata(expected: &Value, actual: Option<&Value>, drifts: &mut Vec<FieldDrift>) {
    let Some(expected) = expected.as_object() else { return };
    let mut keys: Vec<&String> = expected.keys().collect();
    keys.sort();
    for key in keys {
        if IGNORED_METADATA.contains(&key.as_str()) {
            continue;
        }
        if let Some(value) = expected.get(key) {
            walk(value, actual.and_then(|meta| meta.get(key)), format!("metadata.{key}"), drifts);
        }
    }
}

fn walk(expected: &Value, actual: Option<&Value>, path: String, drifts: &mut Vec<FieldDrift>) {
    match (expected, actual) {
        (Value::Object(expected_map), Some(Value::Object(actual_map))) => {
            let mut keys: Vec<&String> = expected_map.keys().collect();
            keys.sort();
            for key in keys {
                if let Some(value) = expected_map.get(key) {
                    walk(value, actual_map.get(key), child_path(&path, key), drifts);
                }
            }
        }
        (Value::Array(expected_items), Some(Value::Array(actual_items)))
            if expected_items.len() == actual_items.len() =>
        {
            for (index, item) in expected_items.iter().enumerate() {
                walk(item, actual_items.get(index), format!("{path}[{index}]"), drifts);
            }
        }
        (expected, Some(actual)) if equivalent(expected, actual) => {}
        // A configuration file: the first line that differs says more than two truncated files.
        (Value::String(expected), Some(Value::String(actual))) if expected.contains('\n') || actual.contains('\n') => {
            let (line, expected_line, actual_line) = first_different_line(expected, actual);
            drifts.push(FieldDrift {
                path,
                expected: shorten(&Value::String(format!("line {line}: {expected_line}"))),
                actual: shorten(&Value::String(format!("line {line}: {actual_line}"))),
            });
        }
        (expected, actual) => drifts.push(FieldDrift {
            path,
            expected: shorten(expected),
            actual: actual.map_or_else(|| "<absent>".to_owned(), shorten),
        }),
    }
}

/// Numbers compare by value (the API server may turn `1.0` into `1`); everything else exactly.
fn equivalent(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Null, _) => true,
        _ => expected == actual,
    }
}

/// The 1-based number and both versions of the first line that differs (`<end of file>` past
/// the end of the shorter text).
fn first_different_line<'a>(expected: &'a str, actual: &'a str) -> (usize, &'a str, &'a str) {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    let mut number = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(a), Some(b)) if a == b => number += 1,
            (None, None) => return (number, "<end of file>", "<end of file>"),
            (a, b) => return (number, a.unwrap_or("<end of file>"), b.unwrap_or("<end of file>")),
        }
    }
}

fn child_path(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { format!("{path}.{key}") } else { format!("{path}[{key:?}]") }
}

fn shorten(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}… ({} more characters)", text.chars().count() - MAX_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identical_objects_and_server_added_fields_are_not_drift() {
        let declared = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}},
                              "data": {"prometheus.yml": "global: {}\n"}});
        let mut live = declared.clone();
        live["metadata"]["uid"] = json!("123");
        live["metadata"]["labels"]["added-by-someone"] = json!("y");
        live["metadata"]["managedFields"] = json!([]);
        assert_eq!(compare(&declared, &live), vec![]);
    }

    #[test]
    fn edited_removed_and_retyped_fields_are_reported_with_their_path() {
        let declared = json!({"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "loki"}},
                              "data": {"loki.yaml": "limits: 50"},
                              "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "loki", "image": "grafana/loki:3.5.7"}]}}}});
        let live = json!({"metadata": {"name": "a", "labels": {}},
                          "data": {"loki.yaml": "limits: 5"},
                          "spec": {"replicas": 1.0, "template": {"spec": {"containers": [{"name": "loki", "image": "grafana/loki:latest"}]}}}});
        let drifts = compare(&declared, &live);
        let paths: Vec<&str> = drifts.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                r#"data["loki.yaml"]"#,
                r#"metadata.labels["app.kubernetes.io/name"]"#,
                "spec.template.spec.containers[0].image"
            ]
        );
        assert_eq!(drifts[0].expected, "limits: 50");
        assert_eq!(drifts[0].actual, "limits: 5");
        assert_eq!(drifts[1].actual, "<absent>");
    }

    #[test]
    fn edited_files_are_reported_by_their_first_different_line() {
        let declared = json!({"data": {"loki.yaml": "auth_enabled: false\nserver:\n  http_listen_port: 3100\n"}});
        let edited = json!({"data": {"loki.yaml": "auth_enabled: false\nserver:\n  http_listen_port: 8080\n"}});
        let drifts = compare(&declared, &edited);
        assert_eq!(drifts.len(), 1);
        assert_eq!(drifts[0].expected, "line 3:   http_listen_port: 3100");
        assert_eq!(drifts[0].actual, "line 3:   http_listen_port: 8080");
        let truncated = json!({"data": {"loki.yaml": "auth_enabled: false\n"}});
        let drifts = compare(&declared, &truncated);
        assert_eq!(
            (drifts[0].expected.as_str(), drifts[0].actual.as_str()),
            ("line 2: server:", "line 2: <end of file>")
        );
    }

    #[test]
    fn list_length_changes_and_long_values_are_reported_compactly() {
        let long = "x".repeat(1000);
        let declared = json!({"spec": {"ports": [1, 2]}, "data": {"big": long}});
        let live = json!({"spec": {"ports": [1]}, "data": {"big": "y"}});
        let drifts = compare(&declared, &live);
        assert_eq!(drifts.len(), 2);
        assert!(drifts[0].expected.ends_with("(744 more characters)"), "{}", drifts[0].expected);
        assert_eq!(drifts[1].path, "spec.ports");
    }

    #[test]
    fn a_value_edited_into_a_file_or_a_file_into_a_value_is_reported_by_line() {
        let declared = json!({"data": {"flag": "on"}});
        let grown = json!({"data": {"flag": "on\nextra: true\n"}});
        let drifts = compare(&declared, &grown);
        assert_eq!(
            (drifts[0].expected.as_str(), drifts[0].actual.as_str()),
            ("line 2: <end of file>", "line 2: extra: true")
        );
        let drifts = compare(&grown, &declared);
        assert_eq!(
            (drifts[0].expected.as_str(), drifts[0].actual.as_str()),
            ("line 2: extra: true", "line 2: <end of file>")
        );
    }

    #[test]
    fn a_declared_null_takes_no_position() {
        // Serialized Kubernetes objects carry e.g. `creationTimestamp: null` in pod templates.
        let declared = json!({"spec": {"template": {"metadata": {"creationTimestamp": null}}}});
        let live = json!({"spec": {"template": {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}}}});
        assert_eq!(compare(&declared, &live), vec![]);
    }
}
