//! Client-side validation with the very schema the CRDs carry: the structural OpenAPI part
//! (types, patterns, enums, bounds, required and unknown fields) walked here, and the CEL rules
//! (`x-kubernetes-validations`) evaluated by kube's CEL engine. The offline CLI therefore refuses
//! exactly what the API server refuses, with one definition of every rule.

use std::collections::BTreeMap;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use regex::Regex;
use serde_json::Value;

use crate::crdgen;
use crate::validate::FieldError;

/// The CRD schemas of both kinds, compiled once.
pub struct SchemaValidator {
    kinds: BTreeMap<String, KindSchema>,
    cel: Validator,
    patterns: BTreeMap<String, Regex>,
}

struct KindSchema {
    openapi: Value,
    compiled: CompiledSchema,
}

impl SchemaValidator {
    /// Compiles the schemas of every stackscope CRD.
    pub fn new() -> Self {
        let mut kinds = BTreeMap::new();
        let mut patterns = BTreeMap::new();
        for crd in crdgen::crds() {
            let Some(openapi) = crd
                .spec
                .versions
                .first()
                .and_then(|version| version.schema.as_ref())
                .and_then(|schema| schema.open_api_v3_schema.as_ref())
                .and_then(|schema| serde_json::to_value(schema).ok())
            else {
                continue;
            };
            collect_patterns(&openapi, &mut patterns);
            let compiled = compile_schema(&openapi);
            kinds.insert(crd.spec.names.kind.clone(), KindSchema { openapi, compiled });
        }
        Self { kinds, cel: Validator::new(), patterns }
    }

    /// Validates an object of `kind` the way the API server would; empty when it is valid.
    pub fn validate(&self, kind: &str, object: &Value) -> Vec<FieldError> {
        let Some(schema) = self.kinds.get(kind) else {
            return vec![FieldError { path: "kind".to_owned(), message: format!("unknown kind {kind:?}") }];
        };
        let mut errors = Vec::new();
        if let Some(metadata) = object.get("metadata") {
            check_metadata(kind, metadata, &mut errors);
        }
        self.walk(&schema.openapi, object, "", &mut errors);
        // CEL rules assume a structurally valid object, as on the API server.
        if errors.is_empty()
            && let Err(failures) = self.cel.validate_compiled(&schema.compiled, object, None)
        {
            errors.extend(
                failures
                    .iter()
                    .map(|failure| FieldError { path: failure.field_path.clone(), message: failure.message.clone() }),
            );
        }
        errors
    }

    /// Drops what the API server drops before it validates: a field written as `null` where the
    /// schema does not allow null (it then takes its default, if any). Nullable fields keep their
    /// null, which the schema and the CEL rules then judge.
    pub(crate) fn prune_nulls(&self, kind: &str, object: &mut Value) {
        if let Some(schema) = self.kinds.get(kind) {
            prune_nulls(&schema.openapi, object);
        }
    }

    fn walk(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let error = |errors: &mut Vec<FieldError>, message: String| {
            errors.push(FieldError { path: path.to_owned(), message });
        };
        if value.is_null() {
            if !schema.get("nullable").and_then(Value::as_bool).unwrap_or(false) {
                error(errors, "must not be null".to_owned());
            }
            return;
        }
        if schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool).unwrap_or(false) {
            if !(value.is_i64() || value.is_u64() || value.is_string()) {
                error(errors, format!("must be an integer or a string, found {}", type_name(value)));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let choices: Vec<String> = allowed.iter().map(Value::to_string).collect();
            error(errors, format!("unsupported value {value}: must be one of {}", choices.join(", ")));
            return;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => self.walk_object(schema, value, path, errors),
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return error(errors, format!("must be a list, found {}", type_name(value)));
                };
                check_count(schema, items.len(), "items", path, errors);
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &format!("{path}[{index}]"), errors);
                    }
                }
            }
            Some("string") => {
                let Some(text) = value.as_str() else {
                    return error(errors, format!("must be a string, found {}", type_name(value)));
                };
                check_count(schema, text.chars().count(), "characters", path, errors);
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                    && let Some(regex) = self.patterns.get(pattern)
                    && !regex.is_match(text)
                {
                    let description = schema.get("description").and_then(Value::as_str).unwrap_or_default();
                    let hint = if description.is_empty() { String::new() } else { format!(" ({description})") };
                    error(errors, format!("invalid value {text:?}: must match {pattern}{hint}"));
                }
            }
            Some("integer") => {
                if !(value.is_i64() || value.is_u64()) {
                    return error(errors, format!("must be an integer, found {}", type_name(value)));
                }
                check_bounds(schema, value, path, errors);
            }
            Some("number") => {
                if !value.is_number() {
                    return error(errors, format!("must be a number, found {}", type_name(value)));
                }
                check_bounds(schema, value, path, errors);
            }
            Some("boolean") if !value.is_boolean() => {
                error(errors, format!("must be true or false, found {}", type_name(value)));
            }
            _ => {}
        }
    }

    fn walk_object(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
        let Some(fields) = value.as_object() else {
            errors.push(FieldError {
                path: path.to_owned(),
                message: format!("must be an object, found {}", type_name(value)),
            });
            return;
        };
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = required.as_str()
                && !fields.contains_key(name)
            {
                errors.push(FieldError { path: join(path, name), message: "required field is missing".to_owned() });
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let preserve_unknown =
            schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false);
        for (name, field) in fields {
            let field_path = join(path, name);
            if let Some(field_schema) = properties.and_then(|properties| properties.get(name)) {
                self.walk(field_schema, field, &field_path, errors);
            } else if let Some(value_schema) = additional.filter(|additional| additional.is_object()) {
                self.walk(value_schema, field, &field_path, errors);
            } else if path.is_empty() && name == "metadata" {
                // Checked by `validate`, which knows the kind.
            } else if path.is_empty() && (name == "apiVersion" || name == "kind") {
                // Checked by the manifest reader before the schema is chosen.
            } else if !preserve_unknown && (properties.is_some() || additional.is_some()) {
                let known: Vec<&str> = properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                let hint = closest(name, &known).map(|best| format!("; did you mean {best:?}?")).unwrap_or_default();
                errors.push(FieldError { path: field_path, message: format!("unknown field{hint}") });
            }
        }
    }
}

impl Default for SchemaValidator {
    fn default() -> Self {
        Self::new()
    }
}

fn collect_patterns(schema: &Value, patterns: &mut BTreeMap<String, Regex>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get("pattern")
                && !patterns.contains_key(pattern)
                && let Ok(regex) = Regex::new(pattern)
            {
                patterns.insert(pattern.clone(), regex);
            }
            map.values().for_each(|child| collect_patterns(child, patterns));
        }
        Value::Array(items) => items.iter().for_each(|child| collect_patterns(child, patterns)),
        _ => {}
    }
}

fn prune_nulls(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|additional| additional.is_object());
            let child_schema = |name: &str| properties.and_then(|properties| properties.get(name)).or(additional);
            fields.retain(|name, field| {
                !field.is_null()
                    || child_schema(name)
                        .is_some_and(|child| child.get("nullable").and_then(Value::as_bool).unwrap_or(false))
            });
            for (name, field) in fields.iter_mut() {
                if let Some(child) = child_schema(name) {
                    prune_nulls(child, field);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items.iter_mut().for_each(|item| prune_nulls(item_schema, item));
            }
        }
        _ => {}
    }
}

/// The metadata's labels and names as the API server checks them. Namespaces and stacks (whose
/// name prefixes the objects they render) are DNS-1123 labels; a ServiceMonitor's name is a
/// subdomain, as for prometheus-operator's (`api.v2`).
fn check_metadata(kind: &str, metadata: &Value, errors: &mut Vec<FieldError>) {
    let Some(fields) = metadata.as_object() else {
        errors.push(FieldError { path: "metadata".to_owned(), message: "must be an object".to_owned() });
        return;
    };
    for (key, value) in fields.get("labels").and_then(Value::as_object).into_iter().flatten() {
        if !crate::validate::names::is_label_key(key) {
            errors.push(FieldError {
                path: "metadata.labels".to_owned(),
                message: format!("{key:?} is not a label key"),
            });
        }
        if !value.as_str().is_some_and(crate::validate::names::is_label_value) {
            errors.push(FieldError {
                path: format!("metadata.labels.{key}"),
                message: format!("invalid value {value}: a label value is at most 63 alphanumerics, '-', '_', '.'"),
            });
        }
    }
    for key in ["name", "namespace"] {
        let subdomain = key == "name" && kind == "ServiceMonitor";
        match fields.get(key) {
            None if key == "name" => errors
                .push(FieldError { path: "metadata.name".to_owned(), message: "required field is missing".to_owned() }),
            None => {}
            Some(Value::String(text)) if subdomain && crate::validate::names::is_dns_subdomain(text) => {}
            Some(Value::String(text)) if !subdomain && crate::validate::names::is_dns_label(text) => {}
            Some(other) if subdomain => errors.push(FieldError {
                path: format!("metadata.{key}"),
                message: format!(
                    "invalid value {other}: must be a DNS-1123 subdomain (lower case, digits, '-', '.', at most 253)"
                ),
            }),
            Some(other) => errors.push(FieldError {
                path: format!("metadata.{key}"),
                message: format!(
                    "invalid value {other}: must be a DNS-1123 label (lower case, digits, '-', at most 63)"
                ),
            }),
        }
    }
}

fn check_count(schema: &Value, count: usize, unit: &str, path: &str, errors: &mut Vec<FieldError>) {
    let (min_key, max_key) = if unit == "items" { ("minItems", "maxItems") } else { ("minLength", "maxLength") };
    if let Some(min) = schema.get(min_key).and_then(Value::as_u64)
        && (count as u64) < min
    {
        errors.push(FieldError {
            path: path.to_owned(),
            message: format!("must have at least {min} {unit}, has {count}"),
        });
    }
    if let Some(max) = schema.get(max_key).and_then(Value::as_u64)
        && (count as u64) > max
    {
        errors.push(FieldError {
            path: path.to_owned(),
            message: format!("must have at most {max} {unit}, has {count}"),
        });
    }
}

fn check_bounds(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(number) = value.as_f64() else { return };
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && number < min
    {
        errors.push(FieldError { path: path.to_owned(), message: format!("{value} is less than the minimum {min}") });
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && number > max
    {
        errors.push(FieldError { path: path.to_owned(), message: format!("{value} is more than the maximum {max}") });
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The known name closest to a misspelt one, when it is close enough to be a likely typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (edit_distance(&name.to_lowercase(), &candidate.to_lowercase()), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn monitor(spec: Value) -> Value {
        json!({"apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
               "metadata": {"name": "api", "namespace": "apps"}, "spec": spec})
    }

    #[test]
    fn a_monitor_may_have_a_dotted_name_a_stack_may_not() {
        let validator = SchemaValidator::new();
        let named = |kind: &str, name: &str| {
            let mut object = monitor(json!({"selector": {}, "endpoints": []}));
            object["kind"] = json!(kind);
            object["metadata"]["name"] = json!(name);
            if kind == "ObservabilityStack" {
                object["spec"] = json!({});
            }
            validator.validate(kind, &object)
        };
        assert_eq!(named("ServiceMonitor", "api.v2"), vec![]);
        let bad = named("ServiceMonitor", "api..v2");
        assert_eq!(bad[0].path, "metadata.name");
        assert!(bad[0].message.contains("DNS-1123 subdomain"), "{}", bad[0].message);
        let stack = named("ObservabilityStack", "shop.v2");
        assert_eq!(stack[0].path, "metadata.name");
        assert!(stack[0].message.contains("DNS-1123 label"), "{}", stack[0].message);
        let mut namespace = monitor(json!({"selector": {}, "endpoints": []}));
        namespace["metadata"]["namespace"] = json!("apps.v2");
        assert_eq!(validator.validate("ServiceMonitor", &namespace)[0].path, "metadata.namespace");
    }

    #[test]
    fn a_valid_monitor_passes() {
        let validator = SchemaValidator::new();
        let object = monitor(
            json!({"selector": {"matchLabels": {"app": "api"}}, "endpoints": [{"port": "http", "interval": "30s", "scrapeTimeout": "10s"}]}),
        );
        assert_eq!(validator.validate("ServiceMonitor", &object), vec![]);
    }

    #[test]
    fn structural_and_cel_rules_name_the_field() {
        let validator = SchemaValidator::new();
        let cases = [
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "targetPort": 8080}]}),
                "spec.endpoints[0]",
                "at most one of port",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "interval": "5 minutes"}]}),
                "spec.endpoints[0].interval",
                "must match",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "intervall": "5m"}]}),
                "spec.endpoints[0].intervall",
                "did you mean \"interval\"",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "scheme": "ftp"}]}),
                "spec.endpoints[0].scheme",
                "one of",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "interval": "10s", "scrapeTimeout": "30s"}]}),
                "spec.endpoints[0].scrapeTimeout",
                "scrapeTimeout must not exceed interval",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "relabelings": [{"action": "hashmod", "targetLabel": "x"}]}]}),
                "spec.endpoints[0].relabelings[0]",
                "modulus",
            ),
            (
                json!({"selector": {}, "endpoints": [{"bearerTokenFile": "/t", "authorization": {"type": "Bearer"}}]}),
                "spec.endpoints[0]",
                "mutually exclusive",
            ),
            (
                json!({"selector": {}, "endpoints": [{"proxyUrl": "http://proxy:3128", "proxyFromEnvironment": true}]}),
                "spec.endpoints[0]",
                "proxyUrl and proxyFromEnvironment",
            ),
            (
                json!({"selector": {}, "endpoints": [{"port": "http", "proxyUrl": "proxy:3128"}]}),
                "spec.endpoints[0].proxyUrl",
                "must match",
            ),
            (
                json!({"selector": {}, "scrapeProtocols": ["PrometheusProto", "Bogus"], "endpoints": []}),
                "spec.scrapeProtocols[1]",
                "one of",
            ),
        ];
        // prometheus-operator accepts a monitor without endpoints and an endpoint without a port.
        for valid in [json!({"selector": {}, "endpoints": []}), json!({"selector": {}, "endpoints": [{}]})] {
            assert_eq!(validator.validate("ServiceMonitor", &monitor(valid.clone())), vec![], "{valid}");
        }
        for (spec, path, message) in cases {
            let errors = validator.validate("ServiceMonitor", &monitor(spec.clone()));
            assert!(
                errors.iter().any(|error| error.path == path && error.message.contains(message)),
                "{spec}: expected {path}: …{message}…, got {errors:?}"
            );
        }
    }

    #[test]
    fn an_empty_stack_spec_is_valid_and_cross_field_rules_apply() {
        let validator = SchemaValidator::new();
        let stack = |spec: Value| json!({"apiVersion": "stackscope.dev/v1alpha1", "kind": "ObservabilityStack", "metadata": {"name": "s"}, "spec": spec});
        assert_eq!(validator.validate("ObservabilityStack", &stack(json!({}))), vec![]);
        let errors = validator.validate(
            "ObservabilityStack",
            &stack(json!({"alerting": {"routing": {"email": {"to": ["oncall@example.com"]}}}})),
        );
        assert!(errors.iter().any(|error| error.message.contains("smarthost")), "{errors:?}");
        let errors = validator.validate(
            "ObservabilityStack",
            &stack(json!({"alerting": {"routing": {"slack": {"enabled": true, "apiUrl": {"name": "alerting"}}}}})),
        );
        assert!(errors.iter().any(|error| error.path == "spec.alerting.routing.slack.apiUrl.key"), "{errors:?}");
        let errors = validator.validate("ObservabilityStack", &stack(json!({"metrics": {"enabled": false}})));
        assert!(errors.iter().any(|error| error.message.contains("alerting needs metrics")), "{errors:?}");
    }
}
