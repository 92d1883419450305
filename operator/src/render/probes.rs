//! Expected liveness/readiness probes of the monitored workloads, as data the controller
//! compares with the running workloads and, under `probes.policy: Enforce`, sets on them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{object_name, to_json};
use super::layout::{FileSet, GrowingFile, ShardFormat, Sizing};
use super::pod::{ProbeTiming, http_get_probe};
use super::shard::Piece;
use super::{Component, RenderError};
use crate::api::HttpProbe;
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// The probes one monitor's workloads must carry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExpectedProbes {
    /// `namespace/name` of the ServiceMonitor.
    pub monitor: String,
    /// Namespaces of the workloads; `None` means every namespace.
    pub namespaces: Option<Vec<String>>,
    /// Selector of the Services whose workloads are checked.
    pub selector: LabelSelector,
    /// Container checked (default: the first).
    pub container: Option<String>,
    /// Expected liveness probe.
    pub liveness: HttpProbe,
    /// Expected readiness probe.
    pub readiness: HttpProbe,
}

/// Every monitor's expected probes: the monitor's own, else the stack's defaults.
pub(crate) fn expected_probes(stack: &ResolvedStack) -> Vec<ExpectedProbes> {
    stack.monitors.iter().map(|monitor| expected(stack, monitor)).collect()
}

/// One monitor's expected probes.
fn expected(stack: &ResolvedStack, monitor: &ResolvedMonitor) -> ExpectedProbes {
    let own = monitor.spec.probes.as_ref();
    ExpectedProbes {
        monitor: monitor.key(),
        namespaces: monitor.service_namespaces(),
        selector: monitor.spec.selector.clone(),
        container: own.and_then(|probes| probes.container.clone()),
        liveness: own.and_then(|p| p.liveness.clone()).unwrap_or_else(|| stack.spec.probes.liveness.clone()),
        readiness: own.and_then(|p| p.readiness.clone()).unwrap_or_else(|| stack.spec.probes.readiness.clone()),
    }
}

/// One monitor's expectations as a shard piece: one compact JSON line.
pub(crate) fn monitor_piece(stack: &ResolvedStack, monitor: &ResolvedMonitor) -> Result<Piece, RenderError> {
    let expected = expected(stack, monitor);
    let text = serde_json::to_string(&expected)
        .map_err(RenderError::serialize(Component::Probes, expected.monitor.as_str()))?;
    Ok(Piece::new(&expected.monitor, text))
}

/// The Kubernetes probe for an expected HTTP probe.
pub(crate) fn to_k8s_probe(probe: &HttpProbe) -> Probe {
    let seconds = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    let timing = ProbeTiming {
        initial_delay_seconds: seconds(probe.initial_delay_seconds),
        period_seconds: seconds(probe.period_seconds),
        timeout_seconds: seconds(probe.timeout_seconds),
        failure_threshold: seconds(probe.failure_threshold),
    };
    http_get_probe(&probe.path, IntOrString::Int(i32::from(probe.port)), timing)
}

/// `None` when the running probe matches on every field stackscope manages, else what differs.
pub fn compare(expected: &HttpProbe, actual: Option<&Probe>) -> Option<String> {
    let Some(actual) = actual else { return Some("not set".to_owned()) };
    let want = to_k8s_probe(expected);
    let mut differences = Vec::new();
    let http = actual.http_get.as_ref();
    let path = http.and_then(|get| get.path.clone());
    if path != want.http_get.as_ref().and_then(|get| get.path.clone()) {
        differences.push(format!(
            "path: expected {}, found {}",
            expected.path,
            path.unwrap_or_else(|| "none".to_owned())
        ));
    }
    let port_matches = match http.map(|get| &get.port) {
        Some(IntOrString::Int(port)) => *port == i32::from(expected.port),
        _ => false,
    };
    if !port_matches {
        let found = match http.map(|get| &get.port) {
            Some(IntOrString::Int(port)) => port.to_string(),
            Some(IntOrString::String(name)) => format!("named port {name}"),
            None => "no HTTP GET".to_owned(),
        };
        differences.push(format!("port: expected {}, found {found}", expected.port));
    }
    // Kubernetes defaults: delay 0, period 10, timeout 1, failures 3.
    for (field, expected_value, actual_value, default) in [
        ("initialDelaySeconds", want.initial_delay_seconds, actual.initial_delay_seconds, 0),
        ("periodSeconds", want.period_seconds, actual.period_seconds, 10),
        ("timeoutSeconds", want.timeout_seconds, actual.timeout_seconds, 1),
        ("failureThreshold", want.failure_threshold, actual.failure_threshold, 3),
    ] {
        let found = actual_value.unwrap_or(default);
        if expected_value != Some(found) {
            differences.push(format!("{field}: expected {}, found {found}", expected_value.unwrap_or(default)));
        }
    }
    (!differences.is_empty()).then(|| differences.join("; "))
}

/// Renders the probe expectations alone, as [`super::render_stack`] renders them.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    Component::Probes.render(stack)
}

/// The probe expectations and the seed's health-response shapes before layout: one ConfigMap
/// with pretty `expectations.json` while small, else the monitors' pieces (fresh or from the
/// render cache), one compact line each, in `<stack>-probes-expectations-NNNN` shards.
pub(crate) fn files<'a>(stack: &'a ResolvedStack, pieces: Vec<&'a Piece>) -> Result<FileSet<'a>, RenderError> {
    let health = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "liveness response (/health)",
        "type": "object",
        "required": ["status", "timestamp", "service", "version"],
        "properties": {
            "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "service": {"type": "string"},
            "version": {"type": "string"}
        }
    });
    let ready = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "readiness response (/ready)",
        "type": "object",
        "required": ["ready", "dependencies"],
        "properties": {
            "ready": {"type": "boolean"},
            "dependencies": {"type": "object", "additionalProperties": {"type": "string"}}
        }
    });
    let files = BTreeMap::from([
        ("health-response.schema.json".to_owned(), to_json(Component::Probes, "health schema", &health)?),
        ("ready-response.schema.json".to_owned(), to_json(Component::Probes, "ready schema", &ready)?),
    ]);
    Ok(FileSet {
        component: Component::Probes,
        name: object_name(stack, Component::Probes),
        files,
        growing: Some(GrowingFile {
            name: EXPECTATIONS_FILE,
            pieces,
            // Pretty JSON is about two and a half times the compact pieces.
            sizing: Sizing::Estimated { numerator: 5, denominator: 2 },
            whole: Box::new(move || to_json(Component::Probes, EXPECTATIONS_FILE, &expected_probes(stack))),
            shards: ShardFormat {
                stem: EXPECTATIONS_STEM,
                extension: "json",
                head: "[\n",
                tail: "\n]\n",
                index: None,
                overflow: None,
            },
        }),
    })
}

/// The expectations file of a stack that fits one object.
pub(crate) const EXPECTATIONS_FILE: &str = "expectations.json";
/// Stem of the expectation shards of large stacks: `expectations-0000.json` …
pub(crate) const EXPECTATIONS_STEM: &str = "expectations";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Environment;
    use crate::render::fixtures::{machineavatars, minimal};

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn monitors_override_the_seed_defaults_per_probe() {
        let expected = expected_probes(&machineavatars());
        let auth = expected.iter().find(|e| e.monitor == "machineavatars/auth-service").unwrap();
        assert_eq!((auth.liveness.path.as_str(), auth.liveness.port), ("/health", 8001));
        assert_eq!(
            (
                auth.liveness.initial_delay_seconds,
                auth.liveness.period_seconds,
                auth.liveness.timeout_seconds,
                auth.liveness.failure_threshold
            ),
            (30, 10, 5, 3)
        );
        assert_eq!(
            (
                auth.readiness.path.as_str(),
                auth.readiness.initial_delay_seconds,
                auth.readiness.period_seconds,
                auth.readiness.timeout_seconds,
                auth.readiness.failure_threshold
            ),
            ("/ready", 5, 5, 3, 2)
        );
        let defaults = minimal(Environment::Development).spec.probes;
        assert_eq!((defaults.liveness.port, defaults.readiness.port), (8011, 8011));
    }

    #[test]
    fn compare_reports_missing_different_and_equal() {
        let expected = minimal(Environment::Production).spec.probes.liveness;
        assert_eq!(compare(&expected, None).as_deref(), Some("not set"));
        assert_eq!(compare(&expected, Some(&to_k8s_probe(&expected))), None);
        let mut other = to_k8s_probe(&expected);
        other.period_seconds = Some(15);
        assert_eq!(compare(&expected, Some(&other)).as_deref(), Some("periodSeconds: expected 10, found 15"));
        other.period_seconds = None;
        assert_eq!(compare(&expected, Some(&other)), None, "an unset period is Kubernetes' default of 10");
        if let Some(get) = other.http_get.as_mut() {
            get.port = IntOrString::String("http".to_owned());
        }
        assert_eq!(compare(&expected, Some(&other)).as_deref(), Some("port: expected 8011, found named port http"));
    }
}
