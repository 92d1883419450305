//! prometheus-operator's API as stackscope reads it: its group and resources, and the pure
//! conversion of its `monitoring.coreos.com/v1` ServiceMonitors into stackscope ones, which
//! `stackscope import` (files in, files out) and the operator (when a stack sets
//! `prometheusOperatorMonitors.enabled`) share.
//!
//! Every field both kinds have is carried over as it is (stackscope keeps prometheus-operator's
//! names and meaning). Fields stackscope lacks are dropped and reported, each with its path, so a
//! migration never loses a setting silently. Rewrites that keep the meaning (a `1d` interval
//! written `24h`, an Endpoints discovery label renamed to its EndpointSlice twin) are reported as
//! notes. The result is then checked with the CRD's schema and the semantic checks, exactly as
//! `stackscope validate` checks a file.

use serde_json::{Map, Value, json};

use crate::api::{API_VERSION, ServiceMonitor, parse_duration_millis};
use crate::schema::SchemaValidator;
use crate::validate;
use crate::validate::FieldError;

/// prometheus-operator's API group.
pub(crate) const PROMETHEUS_OPERATOR_GROUP: &str = "monitoring.coreos.com";
/// `apiVersion` of prometheus-operator's ServiceMonitor.
pub const PROMETHEUS_OPERATOR_API_VERSION: &str = "monitoring.coreos.com/v1";
/// Annotation `kubectl apply` keeps the previous manifest in; it describes the source object,
/// not the converted one, and is not carried over.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One thing the conversion has to say about a field of the source object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Path of the field from the object's root, e.g. `spec.endpoints[0].oauth2`.
    pub path: String,
    /// What happened to it.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A prometheus-operator ServiceMonitor converted into a stackscope one (not yet validated).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conversion {
    /// `namespace/name` (or `name`) of the source object.
    pub source: String,
    /// The stackscope ServiceMonitor as JSON.
    pub converted: Value,
    /// Rewrites that keep the meaning.
    pub notes: Vec<Finding>,
    /// Fields stackscope does not have, dropped from the result.
    pub dropped: Vec<Finding>,
}

/// Whether a document is a prometheus-operator ServiceMonitor.
pub(crate) fn is_prometheus_operator_monitor(value: &Value) -> bool {
    value.get("apiVersion").and_then(Value::as_str) == Some(PROMETHEUS_OPERATOR_API_VERSION)
        && value.get("kind").and_then(Value::as_str) == Some("ServiceMonitor")
}

/// `namespace/name` of an object, or its name alone.
pub fn object_key(value: &Value) -> String {
    let metadata = value.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("<unnamed>");
    match metadata.and_then(|m| m.get("namespace")).and_then(Value::as_str) {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

/// Collects findings while the fields of one object are converted.
struct Converter {
    notes: Vec<Finding>,
    dropped: Vec<Finding>,
}

impl Converter {
    fn drop_field(&mut self, path: &str, value: &Value) {
        // A field set to its zero value sets nothing: `kubectl get -o yaml` of objects written by
        // older prometheus-operator versions carries e.g. `bearerTokenFile: ""`.
        if is_empty(value) {
            return;
        }
        self.dropped
            .push(Finding { path: path.to_owned(), message: "not supported by stackscope; dropped".to_owned() });
    }

    fn drop_because(&mut self, path: &str, message: String) {
        self.dropped.push(Finding { path: path.to_owned(), message });
    }

    fn note(&mut self, path: &str, message: String) {
        self.notes.push(Finding { path: path.to_owned(), message });
    }

    /// Copies the fields of `source` named in `kept` (converted by `convert` when given) and
    /// drops every other one.
    fn object(
        &mut self,
        source: &Map<String, Value>,
        path: &str,
        mut convert: impl FnMut(&mut Self, &str, &Value, &str) -> Option<Value>,
    ) -> Map<String, Value> {
        let mut target = Map::new();
        for (key, value) in source {
            let field_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if let Some(converted) = convert(self, key, value, &field_path) {
                target.insert(key.clone(), converted);
            }
        }
        target
    }

    fn spec(&mut self, spec: &Map<String, Value>) -> Map<String, Value> {
        self.object(spec, "spec", |this, key, value, path| match key {
            "jobLabel"
            | "targetLabels"
            | "podTargetLabels"
            | "sampleLimit"
            | "targetLimit"
            | "labelLimit"
            | "labelNameLengthLimit"
            | "labelValueLengthLimit"
            | "bodySizeLimit"
            | "keepDroppedTargets"
            | "scrapeProtocols"
            | "fallbackScrapeProtocol"
            | "nativeHistogramBucketLimit"
            | "attachMetadata"
            | "scrapeClass"
            | "selectorMechanism" => non_empty(value),
            "scrapeClassicHistograms" | "convertClassicHistogramsToNHCB" => Some(value.clone()),
            // A quantity; a YAML float (`1.1`) is the same number written as a string.
            "nativeHistogramMinBucketFactor" if value.is_f64() => Some(json!(value.to_string())),
            "nativeHistogramMinBucketFactor" => non_empty(value),
            "selector" => Some(value.clone()),
            "namespaceSelector" => {
                let any = value.get("any").and_then(Value::as_bool).unwrap_or(false);
                let names = value.get("matchNames").filter(|names| !is_empty(names));
                if let Some(object) = value.as_object() {
                    for key in object.keys().filter(|key| !matches!(key.as_str(), "any" | "matchNames")) {
                        this.drop_field(&format!("{path}.{key}"), &object[key]);
                    }
                }
                match (any, names) {
                    (false, None) => None,
                    (true, _) => Some(json!({"any": true})),
                    (false, Some(names)) => Some(json!({"matchNames": names})),
                }
            }
            "endpoints" => Some(Value::Array(
                value
                    .as_array()
                    .map(|endpoints| {
                        endpoints
                            .iter()
                            .enumerate()
                            .map(|(index, endpoint)| this.endpoint(endpoint, &format!("{path}[{index}]")))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            "serviceDiscoveryRole" if value.as_str() == Some("Endpoints") => {
                this.note(path, "stackscope discovers targets through EndpointSlices (the same targets)".to_owned());
                Some(value.clone())
            }
            "serviceDiscoveryRole" => non_empty(value),
            _ => {
                this.drop_field(path, value);
                None
            }
        })
    }

    fn endpoint(&mut self, endpoint: &Value, path: &str) -> Value {
        let Some(source) = endpoint.as_object() else { return endpoint.clone() };
        let has_port = source.get("port").is_some_and(|port| !is_empty(port));
        let converted = self.object(source, path, |this, key, value, field| match key {
            "port" | "path" | "params" | "bearerTokenFile" | "proxyUrl" | "noProxy" => non_empty(value),
            "honorLabels"
            | "honorTimestamps"
            | "followRedirects"
            | "enableHttp2"
            | "filterRunning"
            | "trackTimestampsStaleness"
            | "proxyFromEnvironment" => Some(value.clone()),
            "authorization" => {
                let auth = value.as_object().cloned().unwrap_or_default();
                let converted = this.object(&auth, field, |this, key, value, path| match key {
                    "type" => non_empty(value),
                    "credentials" => this.secret_key(value, path),
                    _ => {
                        this.drop_field(path, value);
                        None
                    }
                });
                Some(Value::Object(converted))
            }
            "targetPort" if has_port => {
                this.note(
                    field,
                    "dropped: port takes precedence over targetPort, as in prometheus-operator".to_owned(),
                );
                None
            }
            "targetPort" => non_empty(value),
            "scheme" => Some(value.as_str().map_or_else(|| value.clone(), |scheme| json!(scheme.to_lowercase()))),
            "interval" | "scrapeTimeout" => this.duration(value, field),
            "tlsConfig" => Some(Value::Object(this.tls(value, field))),
            "bearerTokenSecret" => this.secret_key(value, field),
            "basicAuth" => {
                let auth = value.as_object().cloned().unwrap_or_default();
                let converted = this.object(&auth, field, |this, key, value, path| match key {
                    "username" | "password" => this.secret_key(value, path),
                    _ => {
                        this.drop_field(path, value);
                        None
                    }
                });
                Some(Value::Object(converted))
            }
            "relabelings" | "metricRelabelings" => Some(Value::Array(
                value
                    .as_array()
                    .map(|steps| {
                        steps
                            .iter()
                            .enumerate()
                            .map(|(index, step)| this.relabeling(step, &format!("{field}[{index}]")))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            _ => {
                this.drop_field(field, value);
                None
            }
        });
        Value::Object(converted)
    }

    /// A `{secret}` or `{configMap}` key reference (a TLS CA or certificate).
    fn secret_or_config_map(&mut self, value: &Value, path: &str) -> Option<Value> {
        let reference = value.as_object().cloned().unwrap_or_default();
        let converted = self.object(&reference, path, |this, key, value, field| match key {
            "secret" => this.secret_key(value, field),
            "configMap" => this.key_reference(value, field),
            _ => {
                this.drop_field(field, value);
                None
            }
        });
        (!converted.is_empty()).then_some(Value::Object(converted))
    }

    fn tls(&mut self, tls: &Value, path: &str) -> Map<String, Value> {
        let source = tls.as_object().cloned().unwrap_or_default();
        self.object(&source, path, |this, key, value, field| match key {
            "ca" | "cert" => this.secret_or_config_map(value, field),
            "keySecret" => this.secret_key(value, field),
            "caFile" | "serverName" | "certFile" | "keyFile" | "minVersion" | "maxVersion" => non_empty(value),
            "insecureSkipVerify" => Some(value.clone()),
            _ => {
                this.drop_field(field, value);
                None
            }
        })
    }

    /// A `SecretKeySelector` as a stackscope `SecretKeyRef`. An empty one (older
    /// prometheus-operator versions wrote `bearerTokenSecret: {key: ""}` on every endpoint) is
    /// no reference at all.
    fn secret_key(&mut self, value: &Value, path: &str) -> Option<Value> {
        if value.as_object().is_some_and(|selector| selector.values().all(is_empty)) {
            return None;
        }
        if value.get("optional").and_then(Value::as_bool) == Some(true) {
            self.drop_because(
                &format!("{path}.optional"),
                "optional: true is not supported: stackscope requires the Secret key to exist; dropped".to_owned(),
            );
        }
        self.key_reference(value, path)
    }

    /// A `{name, key}` reference (Secret or ConfigMap key selector).
    fn key_reference(&mut self, value: &Value, path: &str) -> Option<Value> {
        let source = value.as_object().cloned().unwrap_or_default();
        let converted = self.object(&source, path, |this, key, value, field| match key {
            "name" | "key" => Some(value.clone()),
            "optional" if value.as_bool() == Some(false) => None,
            // Reported by `secret_key`; a ConfigMap's `optional: true` is dropped here.
            "optional" if path.ends_with("configMap") => {
                this.drop_because(field, "optional: true is not supported; dropped".to_owned());
                None
            }
            "optional" => None,
            _ => {
                this.drop_field(field, value);
                None
            }
        });
        Some(Value::Object(converted))
    }

    fn relabeling(&mut self, step: &Value, path: &str) -> Value {
        let Some(source) = step.as_object() else { return step.clone() };
        let converted = self.object(source, path, |this, key, value, field| match key {
            "sourceLabels" => Some(this.source_labels(value, field)),
            "separator" | "targetLabel" | "regex" | "modulus" | "replacement" | "action" => Some(value.clone()),
            _ => {
                this.drop_field(field, value);
                None
            }
        });
        Value::Object(converted)
    }

    /// Discovery labels of the Endpoints role renamed to their EndpointSlice twins: stackscope
    /// discovers targets through EndpointSlices, where the Endpoints role's labels do not exist
    /// and a relabeling on them would silently match nothing.
    fn source_labels(&mut self, labels: &Value, path: &str) -> Value {
        let Some(items) = labels.as_array() else { return labels.clone() };
        let renamed = items
            .iter()
            .enumerate()
            .map(|(index, label)| {
                let Some(name) = label.as_str() else { return label.clone() };
                match endpointslice_label(name) {
                    Some(twin) => {
                        self.note(
                            &format!("{path}[{index}]"),
                            format!("{name} renamed to {twin} (EndpointSlice discovery)"),
                        );
                        json!(twin)
                    }
                    None => {
                        if name.starts_with("__meta_kubernetes_endpoints_")
                            || name.starts_with("__meta_kubernetes_endpoint_")
                        {
                            self.drop_because(
                                &format!("{path}[{index}]"),
                                format!("{name} has no EndpointSlice counterpart; this relabeling will not match"),
                            );
                        }
                        label.clone()
                    }
                }
            })
            .collect();
        Value::Array(renamed)
    }

    /// A duration in the form stackscope's CEL rules can compare: `1d` becomes `24h`.
    fn duration(&mut self, value: &Value, path: &str) -> Option<Value> {
        let text = value.as_str()?;
        if text.is_empty() {
            return None;
        }
        let Some(millis) = parse_duration_millis(text) else { return Some(value.clone()) };
        if millis == 0 {
            self.note(path, format!("{text:?} means the default; left unset"));
            return None;
        }
        // Only days, weeks and years need rewriting; `60s` stays as written.
        if !text.contains(['d', 'w', 'y']) {
            return Some(value.clone());
        }
        let written = format_duration(millis);
        if written != text {
            self.note(path, format!("{text} written as {written} (no days, weeks or years in scrape durations)"));
        }
        Some(json!(written))
    }
}

/// The EndpointSlice discovery label carrying what an Endpoints discovery label carried.
fn endpointslice_label(name: &str) -> Option<String> {
    const RENAMED: [(&str, &str); 8] = [
        ("__meta_kubernetes_endpoints_name", "__meta_kubernetes_service_name"),
        ("__meta_kubernetes_endpoint_port_name", "__meta_kubernetes_endpointslice_port_name"),
        ("__meta_kubernetes_endpoint_port_protocol", "__meta_kubernetes_endpointslice_port_protocol"),
        ("__meta_kubernetes_endpoint_ready", "__meta_kubernetes_endpointslice_endpoint_conditions_ready"),
        ("__meta_kubernetes_endpoint_hostname", "__meta_kubernetes_endpointslice_endpoint_hostname"),
        ("__meta_kubernetes_endpoint_node_name", "__meta_kubernetes_endpointslice_endpoint_node_name"),
        ("__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpointslice_address_target_kind"),
        ("__meta_kubernetes_endpoint_address_target_name", "__meta_kubernetes_endpointslice_address_target_name"),
    ];
    RENAMED.iter().find(|(from, _)| *from == name).map(|(_, to)| (*to).to_owned())
}

/// Milliseconds as hours, minutes, seconds and milliseconds (`90000` → `1m30s`).
fn format_duration(millis: u64) -> String {
    let mut rest = millis;
    let mut text = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn non_empty(value: &Value) -> Option<Value> {
    (!is_empty(value)).then(|| value.clone())
}

/// Converts one prometheus-operator ServiceMonitor. Metadata keeps the name, namespace, labels
/// and annotations; what the API server set (uid, resourceVersion, managedFields, ...) and the
/// status belong to the source object.
pub(crate) fn convert(source: &Value) -> Conversion {
    let mut converter = Converter { notes: Vec::new(), dropped: Vec::new() };
    let mut metadata = Map::new();
    if let Some(source_metadata) = source.get("metadata").and_then(Value::as_object) {
        for key in ["name", "namespace", "labels"] {
            if let Some(value) = source_metadata.get(key).and_then(non_empty) {
                metadata.insert(key.to_owned(), value);
            }
        }
        if let Some(annotations) = source_metadata.get("annotations").and_then(Value::as_object) {
            let kept: Map<String, Value> = annotations
                .iter()
                .filter(|(key, _)| *key != LAST_APPLIED)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !kept.is_empty() {
                metadata.insert("annotations".to_owned(), Value::Object(kept));
            }
        }
    }
    let spec = source.get("spec").and_then(Value::as_object).map(|spec| converter.spec(spec)).unwrap_or_default();
    let mut converted = Map::new();
    converted.insert("apiVersion".to_owned(), json!(API_VERSION));
    converted.insert("kind".to_owned(), json!("ServiceMonitor"));
    converted.insert("metadata".to_owned(), Value::Object(metadata));
    converted.insert("spec".to_owned(), Value::Object(spec));
    let (mut notes, mut dropped) = (converter.notes, converter.dropped);
    notes.sort_by(|a, b| a.path.cmp(&b.path));
    dropped.sort_by(|a, b| a.path.cmp(&b.path));
    Conversion { source: object_key(source), converted: Value::Object(converted), notes, dropped }
}

/// Checks a converted monitor as `stackscope validate` checks a file: the CRD's schema and CEL
/// rules, then the semantic checks. Returns the typed monitor, or every problem found.
pub(crate) fn check(validator: &SchemaValidator, conversion: &Conversion) -> Result<ServiceMonitor, Vec<FieldError>> {
    let errors = validator.validate("ServiceMonitor", &conversion.converted);
    if !errors.is_empty() {
        return Err(errors);
    }
    let monitor: ServiceMonitor = serde_json::from_value(conversion.converted.clone())
        .map_err(|error| vec![FieldError { path: String::new(), message: error.to_string() }])?;
    let errors = validate::monitor(&monitor.spec);
    if errors.is_empty() { Ok(monitor) } else { Err(errors) }
}

/// prometheus-operator's ServiceMonitor as a dynamic API resource.
pub fn monitor_resource() -> kube::core::ApiResource {
    kube::core::ApiResource {
        group: PROMETHEUS_OPERATOR_GROUP.to_owned(),
        version: "v1".to_owned(),
        api_version: PROMETHEUS_OPERATOR_API_VERSION.to_owned(),
        kind: "ServiceMonitor".to_owned(),
        plural: "servicemonitors".to_owned(),
    }
}

/// Why prometheus-operator's ServiceMonitors cannot be read, in words that say what to do.
pub(crate) fn unavailable_reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 404 => format!(
            "the cluster serves no {PROMETHEUS_OPERATOR_API_VERSION} ServiceMonitor: the CRD \
             servicemonitors.{PROMETHEUS_OPERATOR_GROUP} is not installed"
        ),
        kube::Error::Api(status) if status.code == 403 => format!(
            "not allowed to list {PROMETHEUS_OPERATOR_API_VERSION} ServiceMonitors (grant get, list and watch on \
             servicemonitors.{PROMETHEUS_OPERATOR_GROUP}): {}",
            status.message
        ),
        other => format!("cannot list {PROMETHEUS_OPERATOR_API_VERSION} ServiceMonitors: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(spec: Value) -> Value {
        json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "api", "namespace": "apps", "labels": {"team": "a"},
                         "annotations": {"owner": "team-a", LAST_APPLIED: "{}"},
                         "uid": "0f1e", "resourceVersion": "42", "generation": 3,
                         "managedFields": [{"manager": "kubectl"}], "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec,
            "status": {"bindings": []}
        })
    }

    fn paths(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|finding| finding.path.as_str()).collect()
    }

    #[test]
    fn every_shared_field_maps_one_to_one() {
        let spec = json!({
            "jobLabel": "app.kubernetes.io/name",
            "targetLabels": ["team"],
            "podTargetLabels": ["version"],
            "selector": {"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["test"]}]},
            "namespaceSelector": {"matchNames": ["apps", "apps-canary"]},
            "sampleLimit": 50000,
            "targetLimit": 20,
            "endpoints": [
                {
                    "port": "https-metrics", "path": "/metrics/cadvisor", "scheme": "https",
                    "params": {"module": ["http_2xx"]},
                    "interval": "30s", "scrapeTimeout": "10s",
                    "honorLabels": true, "honorTimestamps": false, "followRedirects": false,
                    "tlsConfig": {
                        "ca": {"configMap": {"name": "ca-bundle", "key": "ca.crt"}},
                        "cert": {"secret": {"name": "client", "key": "tls.crt"}},
                        "keySecret": {"name": "client", "key": "tls.key"},
                        "serverName": "api.apps.svc", "insecureSkipVerify": false
                    },
                    "bearerTokenSecret": {"name": "api-token", "key": "token", "optional": false},
                    "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}],
                    "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"},
                                          {"sourceLabels": ["pod"], "targetLabel": "shard", "modulus": 4, "action": "HashMod", "separator": ";", "replacement": "$1"}]
                },
                {"targetPort": 9100, "basicAuth": {"username": {"name": "auth", "key": "user"}, "password": {"name": "auth", "key": "pass"}}},
                {"port": "web", "tlsConfig": {"caFile": "/etc/prometheus/ca.crt", "ca": {"secret": {"name": "ca", "key": "ca.crt"}}}}
            ]
        });
        let conversion = convert(&source(spec.clone()));
        assert_eq!(conversion.dropped, vec![], "nothing is lost");
        assert_eq!(conversion.notes, vec![]);
        let mut expected_spec = spec;
        expected_spec["endpoints"][0]["bearerTokenSecret"] = json!({"name": "api-token", "key": "token"});
        assert_eq!(conversion.converted["spec"], expected_spec);
        assert_eq!(
            conversion.converted["metadata"],
            json!({"name": "api", "namespace": "apps", "labels": {"team": "a"}, "annotations": {"owner": "team-a"}})
        );
        assert_eq!(conversion.converted["apiVersion"], "stackscope.dev/v1alpha1");
        assert_eq!(conversion.converted.get("status"), None);
        assert_eq!(conversion.source, "apps/api");
        // `ca` plus `caFile` is refused by stackscope as by Prometheus: the check says so.
        let problems = check(&SchemaValidator::new(), &conversion).unwrap_err();
        assert!(problems.iter().any(|p| p.path == "spec.endpoints[2].tlsConfig"), "{problems:?}");
    }

    #[test]
    fn a_converted_monitor_passes_the_same_checks_as_a_file() {
        let conversion = convert(&source(json!({
            "selector": {"matchLabels": {"app": "api"}},
            "endpoints": [{"port": "http", "interval": "1m", "scrapeTimeout": "30s"}]
        })));
        let monitor = check(&SchemaValidator::new(), &conversion).unwrap();
        assert_eq!(monitor.spec.endpoints[0].interval.as_ref().map(|d| d.as_str()), Some("1m"));
        assert_eq!(monitor.metadata.namespace.as_deref(), Some("apps"));
    }

    #[test]
    fn fields_stackscope_lacks_are_dropped_and_named() {
        let conversion = convert(&source(json!({
            "selector": {},
            "endpoints": [{
                "port": "http",
                "tlsConfig": {"certFile": "/c", "keyFile": "/k", "minVersion": "TLS12", "certificateMagic": true},
                "bearerTokenSecret": {"name": "tok", "key": "t", "optional": true},
                "relabelings": [{"action": "keep", "sourceLabels": ["__meta_kubernetes_service_label_app"], "regex": "api", "unknownKnob": 1}]
            }]
        })));
        assert_eq!(
            paths(&conversion.dropped),
            [
                "spec.endpoints[0].bearerTokenSecret.optional",
                "spec.endpoints[0].relabelings[0].unknownKnob",
                "spec.endpoints[0].tlsConfig.certificateMagic",
            ]
        );
        let endpoint = &conversion.converted["spec"]["endpoints"][0];
        assert_eq!(endpoint["bearerTokenSecret"], json!({"name": "tok", "key": "t"}));
        assert_eq!(endpoint["tlsConfig"], json!({"certFile": "/c", "keyFile": "/k", "minVersion": "TLS12"}));
        assert!(check(&SchemaValidator::new(), &conversion).is_ok(), "what is left is a valid monitor");
    }

    /// Every field prometheus-operator added after its first API (v0.85), as a manifest sets them.
    fn newer_fields() -> Value {
        json!({
            "selector": {"matchLabels": {"app": "api"}},
            "attachMetadata": {"node": true},
            "selectorMechanism": "RoleSelector",
            "serviceDiscoveryRole": "EndpointSlice",
            "scrapeProtocols": ["PrometheusProto", "OpenMetricsText1.0.0", "PrometheusText0.0.4"],
            "fallbackScrapeProtocol": "PrometheusText1.0.0",
            "scrapeClassicHistograms": true,
            "nativeHistogramBucketLimit": 160,
            "nativeHistogramMinBucketFactor": "1.1",
            "convertClassicHistogramsToNHCB": false,
            "bodySizeLimit": "10MiB",
            "labelLimit": 40, "labelNameLengthLimit": 128, "labelValueLengthLimit": 2048,
            "keepDroppedTargets": 10,
            "scrapeClass": "istio-mtls",
            "endpoints": [
                {"port": "http", "authorization": {"type": "Bearer", "credentials": {"name": "tok", "key": "t"}},
                 "proxyUrl": "http://proxy:3128", "noProxy": "10.0.0.0/8,.svc",
                 "enableHttp2": false, "filterRunning": false, "honorTimestamps": true, "trackTimestampsStaleness": true},
                {"targetPort": "metrics", "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                 "proxyFromEnvironment": true},
                {"path": "/federate"}
            ]
        })
    }

    #[test]
    fn every_newer_field_is_carried_over_unchanged() {
        let spec = newer_fields();
        let conversion = convert(&source(spec.clone()));
        assert_eq!(conversion.dropped, vec![], "nothing is lost");
        assert_eq!(conversion.notes, vec![]);
        assert_eq!(conversion.converted["spec"], spec);
        let monitor = check(&SchemaValidator::new(), &conversion).unwrap();
        assert_eq!(
            monitor.spec.endpoints[1].bearer_token_file.as_deref(),
            Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
        );
        assert_eq!(monitor.spec.scrape_class.as_deref(), Some("istio-mtls"));
        // A quantity written as a YAML float is the same number.
        let mut float = newer_fields();
        float["nativeHistogramMinBucketFactor"] = json!(1.1);
        assert_eq!(convert(&source(float)).converted["spec"]["nativeHistogramMinBucketFactor"], "1.1");
        // A monitor without endpoints converts too.
        let empty = convert(&source(json!({"selector": {}})));
        assert!(check(&SchemaValidator::new(), &empty).is_ok());
    }

    /// stackscope's API has them, but Prometheus reads the OAuth 2.0 client id and CONNECT
    /// headers only inline, and stackscope writes no Secret value into its ConfigMap: a
    /// stackscope monitor setting them is refused, a converted one loses them with a warning.
    #[test]
    fn oauth2_and_proxy_connect_headers_are_dropped_and_named() {
        let conversion = convert(&source(json!({
            "selector": {},
            "endpoints": [{
                "port": "http",
                "oauth2": {"clientId": {"configMap": {"name": "o", "key": "id"}}, "clientSecret": {"name": "o", "key": "s"},
                           "tokenUrl": "https://idp.example/token"},
                "proxyUrl": "http://proxy:3128",
                "proxyConnectHeader": {"Proxy-Authorization": [{"name": "proxy", "key": "auth"}]}
            }]
        })));
        assert_eq!(paths(&conversion.dropped), ["spec.endpoints[0].oauth2", "spec.endpoints[0].proxyConnectHeader"]);
        assert_eq!(
            conversion.converted["spec"]["endpoints"][0],
            json!({"port": "http", "proxyUrl": "http://proxy:3128"})
        );
        assert!(check(&SchemaValidator::new(), &conversion).is_ok());
    }

    #[test]
    fn rewrites_that_keep_the_meaning_are_notes() {
        let conversion = convert(&source(json!({
            "selector": {},
            "serviceDiscoveryRole": "Endpoints",
            "endpoints": [{
                "port": "http", "targetPort": 8080, "scheme": "HTTPS", "interval": "1w", "scrapeTimeout": "1d",
                "relabelings": [{"sourceLabels": ["__meta_kubernetes_endpoint_node_name", "__meta_kubernetes_endpoints_name"], "targetLabel": "where"}],
                "bearerTokenSecret": {"key": ""}, "bearerTokenFile": ""
            }]
        })));
        assert_eq!(conversion.dropped, vec![], "zero values drop nothing");
        let endpoint = &conversion.converted["spec"]["endpoints"][0];
        assert_eq!(endpoint["interval"], "168h");
        assert_eq!(endpoint["scrapeTimeout"], "24h");
        assert_eq!(endpoint["scheme"], "https");
        assert_eq!(endpoint.get("targetPort"), None);
        assert_eq!(endpoint.get("bearerTokenSecret"), None);
        assert_eq!(
            endpoint["relabelings"][0]["sourceLabels"],
            json!(["__meta_kubernetes_endpointslice_endpoint_node_name", "__meta_kubernetes_service_name"])
        );
        assert_eq!(
            paths(&conversion.notes),
            [
                "spec.endpoints[0].interval",
                "spec.endpoints[0].relabelings[0].sourceLabels[0]",
                "spec.endpoints[0].relabelings[0].sourceLabels[1]",
                "spec.endpoints[0].scrapeTimeout",
                "spec.endpoints[0].targetPort",
                "spec.serviceDiscoveryRole",
            ]
        );
        assert!(check(&SchemaValidator::new(), &conversion).is_ok());
    }

    #[test]
    fn a_monitor_stackscope_would_refuse_is_reported_with_its_field() {
        let conversion = convert(&source(json!({
            "selector": {},
            "endpoints": [{"port": "http", "interval": "10s", "scrapeTimeout": "30s"},
                          {"port": "http", "relabelings": [{"sourceLabels": ["a"], "regex": "(", "targetLabel": "b"}]}]
        })));
        let problems = check(&SchemaValidator::new(), &conversion).unwrap_err();
        assert_eq!(problems[0].path, "spec.endpoints[0].scrapeTimeout");
        let only_regex = convert(&source(json!({
            "selector": {}, "endpoints": [{"port": "http", "relabelings": [{"sourceLabels": ["a"], "regex": "(", "targetLabel": "b"}]}]
        })));
        let problems = check(&SchemaValidator::new(), &only_regex).unwrap_err();
        assert!(problems[0].path.starts_with("spec.endpoints[0].relabelings[0]"), "{problems:?}");
        let no_endpoints = convert(&source(json!({"selector": {}, "endpoints": []})));
        assert!(check(&SchemaValidator::new(), &no_endpoints).is_ok(), "a monitor without endpoints is valid");
    }

    #[test]
    fn durations_are_written_in_scrape_units() {
        assert_eq!(format_duration(5_400_250), "1h30m250ms");
    }
}
