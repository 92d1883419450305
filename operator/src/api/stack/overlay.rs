//! Partial overrides: a stack's spec is read as the user's document laid over the document's
//! defaults, so any single field of an alert, route, probe or component can be set alone and the
//! rest keeps the default of *that* place (`highCpu: {threshold: 90}` stays a warning at P2 for
//! 5 minutes; `criticalCpu: {threshold: 97}` stays critical).
//!
//! The defaults of those places differ per field of their parent (every alert is an
//! `AlertThreshold` with its own severity), which serde's `default` cannot express, so the merge
//! is done once, on the whole document, as a JSON merge patch (RFC 7386) would: objects merge key
//! by key, anything else (a scalar, a list) replaces the default. Unlike a merge patch, `null` is
//! kept as `null`, which an optional field reads as "unset".

use std::sync::LazyLock;

use schemars::Schema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::ObservabilityStackSpec;

/// The document's defaults as JSON, computed once.
static DEFAULT_SPEC: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(ObservabilityStackSpec::default()).unwrap_or(Value::Null));

/// Lays `user` over `base`: objects merge key by key, any other value replaces.
pub(crate) fn overlay(base: &mut Value, user: Value) {
    match (base, user) {
        (Value::Object(base), Value::Object(user)) => {
            for (key, value) in user {
                match base.get_mut(&key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, user) => *base = user,
    }
}

impl<'de> Deserialize<'de> for ObservabilityStackSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let user = Value::deserialize(deserializer)?;
        if !user.is_object() {
            return Err(D::Error::custom(format!("expected a mapping for the stack's spec, found {user}")));
        }
        let mut merged = DEFAULT_SPEC.clone();
        overlay(&mut merged, user);
        // The deserializer derived for the type (`serde(remote = "Self")`), on the merged document.
        ObservabilityStackSpec::deserialize(merged).map_err(D::Error::custom)
    }
}

impl Serialize for ObservabilityStackSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ObservabilityStackSpec::serialize(self, serializer)
    }
}

/// Schema transform for types whose every field has a default given by their parent (an alert,
/// an incident level, a probe, a collector): no field is required, so the API server accepts one
/// field set alone and the operator fills in the rest from the parent's default.
pub(crate) fn fields_default_from_parent(schema: &mut Schema) {
    schema.remove("required");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::{Duration, IncidentLevel, Severity};

    fn spec(user: Value) -> ObservabilityStackSpec {
        match serde_json::from_value(user) {
            Ok(spec) => spec,
            Err(error) => panic!("spec refused: {error}"),
        }
    }

    #[test]
    fn an_empty_spec_is_the_documents_stack() {
        assert_eq!(spec(json!({})), ObservabilityStackSpec::default());
    }

    #[test]
    fn a_threshold_alone_keeps_the_alerts_other_fields() {
        let read = spec(json!({"alerting": {"rules": {"infrastructure": {
            "highCpu": {"threshold": 90},
            "criticalCpu": {"threshold": 97},
        }}}}));
        let infrastructure = &read.alerting.rules.infrastructure;
        assert_eq!(infrastructure.high_cpu.threshold, 90.0);
        assert_eq!(infrastructure.high_cpu.severity, Severity::Warning);
        assert_eq!(infrastructure.high_cpu.incident_level, IncidentLevel::P2);
        assert_eq!(infrastructure.high_cpu.for_duration, Some(Duration::from("5m")));
        assert_eq!(infrastructure.critical_cpu.threshold, 97.0);
        assert_eq!(infrastructure.critical_cpu.severity, Severity::Critical);
        assert_eq!(infrastructure.critical_cpu.for_duration, Some(Duration::from("2m")));
        let mut expected = ObservabilityStackSpec::default();
        expected.alerting.rules.infrastructure.high_cpu.threshold = 90.0;
        expected.alerting.rules.infrastructure.critical_cpu.threshold = 97.0;
        assert_eq!(read, expected, "nothing but the two thresholds changes");
    }

    #[test]
    fn one_field_of_a_probe_a_route_or_a_collector_keeps_the_rest() {
        let read = spec(json!({
            "probes": {"liveness": {"port": 9000}},
            "alerting": {"routing": {"incidentLevels": {"p3": {"businessHoursOnly": false}}}},
            "logging": {"alloy": {"resources": {"limits": {"memory": "512Mi"}}}},
        }));
        let default = ObservabilityStackSpec::default();
        assert_eq!(read.probes.liveness.port, 9000);
        assert_eq!(read.probes.liveness.path, default.probes.liveness.path);
        assert_eq!(read.probes.liveness.period_seconds, default.probes.liveness.period_seconds);
        assert_eq!(read.probes.readiness, default.probes.readiness);
        let p3 = &read.alerting.routing.incident_levels.p3;
        assert!(!p3.business_hours_only);
        assert_eq!(p3.timing, default.alerting.routing.incident_levels.p3.timing);
        assert_eq!(read.logging.alloy.image, default.logging.alloy.image);
    }

    #[test]
    fn lists_replace_the_default_and_null_unsets() {
        let read = spec(json!({
            "alerting": {"routing": {"groupBy": ["alertname"]},
                         "rules": {"infrastructure": {"highCpu": {"for": null}}}},
        }));
        assert_eq!(read.alerting.routing.group_by, vec!["alertname".to_owned()]);
        assert_eq!(read.alerting.rules.infrastructure.high_cpu.for_duration, None);
        assert_eq!(read.alerting.rules.infrastructure.high_cpu.threshold, 80.0);
    }

    #[test]
    fn a_wrong_type_is_still_refused() {
        let refused = serde_json::from_value::<ObservabilityStackSpec>(json!({
            "alerting": {"rules": {"infrastructure": {"highCpu": {"threshold": "ninety"}}}},
        }));
        assert!(refused.is_err_and(|error| error.to_string().contains("invalid type")));
        assert!(serde_json::from_value::<ObservabilityStackSpec>(json!(["a list"])).is_err());
    }

    #[test]
    fn a_spec_reads_back_as_written() {
        let mut written = ObservabilityStackSpec::default();
        written.alerting.rules.business.high_churn.threshold = 7.5;
        written.probes.readiness.port = 8080;
        let text = serde_json::to_value(&written).unwrap_or_default();
        assert_eq!(spec(text), written);
    }
}
