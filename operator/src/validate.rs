//! Semantic validation: what a schema cannot express (regular expressions that must compile,
//! PromQL matchers that must parse, thresholds that must be ordered). Runs after the schema
//! check in the CLI and in the controller, so both refuse the same input with the same words.

use regex::Regex;

use crate::api::{
    LABEL_NAME_PATTERN, ObservabilityStackSpec, RelabelAction, RelabelConfig, ServiceMonitorSpec, parse_duration_millis,
};
use crate::schema::FieldError;

/// Application alerts a ServiceMonitor may disable or retune for its service.
pub const OVERRIDABLE_ALERTS: [&str; 5] =
    ["HighErrorRate", "CriticalErrorRate", "HighLatency", "CriticalLatency", "NoRequests"];

/// Checks a ServiceMonitor's spec; paths start at `spec`.
pub fn monitor(spec: &ServiceMonitorSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, endpoint) in spec.endpoints.iter().enumerate() {
        let path = format!("spec.endpoints[{index}]");
        for (list, relabelings) in
            [("relabelings", &endpoint.relabelings), ("metricRelabelings", &endpoint.metric_relabelings)]
        {
            for (step, relabeling) in relabelings.iter().enumerate() {
                relabel(relabeling, &format!("{path}.{list}[{step}]"), &mut errors);
            }
        }
        for key in endpoint.params.keys() {
            if key.trim().is_empty() {
                errors.push(error(format!("{path}.params"), "parameter names must not be empty"));
            }
        }
    }
    if let Some(alerts) = &spec.alerts {
        for (index, name) in alerts.disabled.iter().enumerate() {
            if !OVERRIDABLE_ALERTS.contains(&name.as_str()) {
                errors.push(error(
                    format!("spec.alerts.disabled[{index}]"),
                    format!("unknown alert {name:?}: one of {}", OVERRIDABLE_ALERTS.join(", ")),
                ));
            }
        }
        if let (Some(warning), Some(critical)) = (alerts.error_rate_warning, alerts.error_rate_critical)
            && warning >= critical
        {
            errors.push(error(
                "spec.alerts.errorRateWarning",
                format!("{warning} must be below errorRateCritical {critical}"),
            ));
        }
        if let (Some(warning), Some(critical)) = (&alerts.latency_warning, &alerts.latency_critical)
            && warning.to_millis() >= critical.to_millis()
        {
            errors.push(error(
                "spec.alerts.latencyWarning",
                format!("{warning} must be below latencyCritical {critical}"),
            ));
        }
    }
    if let Some(slo) = &spec.slo
        && slo.latency_p95.to_millis().unwrap_or(0) == 0
    {
        errors.push(error("spec.slo.latencyP95", "must be a positive duration"));
    }
    errors
}

/// Checks an ObservabilityStack's spec; paths start at `spec`.
pub fn stack(spec: &ObservabilityStackSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let routing = &spec.alerting.routing;
    if spec.alerting.enabled && routing.slack.enabled && routing.slack.api_url.is_none() {
        errors.push(error("spec.alerting.routing.slack.apiUrl", "an enabled Slack receiver needs a Secret reference"));
    }
    if spec.alerting.enabled && routing.pagerduty.enabled && routing.pagerduty.routing_key.is_none() {
        errors.push(error(
            "spec.alerting.routing.pagerduty.routingKey",
            "an enabled PagerDuty receiver needs a Secret reference",
        ));
    }
    for (index, window) in spec.slos.burn_rate_windows.iter().enumerate() {
        if window.short.to_millis() >= window.long.to_millis() {
            errors.push(error(
                format!("spec.slos.burnRateWindows[{index}].short"),
                format!("{} must be shorter than the long window {}", window.short, window.long),
            ));
        }
    }
    let mut budget_names = std::collections::BTreeSet::new();
    for (index, budget) in spec.slos.budgets.iter().enumerate() {
        let path = format!("spec.slos.budgets[{index}]");
        if !budget_names.insert(budget.name.as_str()) {
            errors.push(error(format!("{path}.name"), format!("duplicate budget name {:?}", budget.name)));
        }
        if let Err(message) = label_matchers(&budget.span_matchers) {
            errors.push(error(format!("{path}.spanMatchers"), message));
        }
    }
    let database = spec.alerting.rules.application.database_selector.trim();
    match database.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
        Some(inner) => {
            if let Err(message) = label_matchers(inner) {
                errors.push(error("spec.alerting.rules.application.databaseSelector", message));
            }
        }
        None => errors.push(error(
            "spec.alerting.rules.application.databaseSelector",
            "must be a PromQL selector in braces, e.g. {job=~\"mongodb.*\"}",
        )),
    }
    for (index, selector) in spec.logging.loki.compliance.selectors.iter().enumerate() {
        let inner = selector.trim().trim_start_matches('{').trim_end_matches('}');
        if let Err(message) = label_matchers(inner) {
            errors.push(error(format!("spec.logging.loki.compliance.selectors[{index}]"), message));
        }
    }
    let tiers = &spec.metrics.downsampling;
    if tiers.enabled {
        let raw = tiers.raw_retention.to_millis();
        let five = tiers.five_minute_retention.to_millis();
        let hour = tiers.one_hour_retention.to_millis();
        if raw > five || five > hour {
            errors.push(error(
                "spec.metrics.downsampling",
                format!(
                    "retention must not shrink with coarser resolution: raw {}, 5m {}, 1h {}",
                    tiers.raw_retention, tiers.five_minute_retention, tiers.one_hour_retention
                ),
            ));
        }
    }
    for key in spec.metrics.prometheus.external_labels.keys() {
        if !is_label_name(key) {
            errors.push(error(
                format!("spec.metrics.prometheus.externalLabels.{key}"),
                "not a valid Prometheus label name",
            ));
        }
    }
    for (path, resources) in [
        ("spec.logging.loki.resources", &spec.logging.loki.resources),
        ("spec.metrics.prometheus.resources", &spec.metrics.prometheus.resources),
        ("spec.alerting.alertmanager.resources", &spec.alerting.alertmanager.resources),
        ("spec.tracing.resources", &spec.tracing.resources),
        ("spec.dashboards.resources", &spec.dashboards.resources),
        ("spec.logging.promtail.resources", &spec.logging.promtail.resources),
        ("spec.logging.alloy.resources", &spec.logging.alloy.resources),
    ] {
        for (kind, map) in [("requests", &resources.requests), ("limits", &resources.limits)] {
            for (name, quantity) in map {
                if !is_quantity(quantity) {
                    errors.push(error(
                        format!("{path}.{kind}.{name}"),
                        format!("{quantity:?} is not a Kubernetes quantity"),
                    ));
                }
            }
        }
    }
    for (path, duration) in [
        ("spec.alerting.routing.groupWait", &routing.group_wait),
        ("spec.alerting.routing.groupInterval", &routing.group_interval),
        ("spec.alerting.routing.repeatInterval", &routing.repeat_interval),
    ] {
        if parse_duration_millis(duration.as_str()).unwrap_or(0) == 0 && path != "spec.alerting.routing.groupWait" {
            errors.push(error(path, "must be a positive duration"));
        }
    }
    errors
}

fn relabel(relabeling: &RelabelConfig, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(pattern) = &relabeling.regex
        && let Err(problem) = Regex::new(&format!("^(?:{pattern})$"))
    {
        let first_line = problem.to_string().lines().last().unwrap_or_default().trim().to_owned();
        errors.push(error(format!("{path}.regex"), format!("invalid regular expression {pattern:?}: {first_line}")));
    }
    let writes_label = matches!(
        relabeling.action,
        RelabelAction::Replace
            | RelabelAction::Hashmod
            | RelabelAction::Lowercase
            | RelabelAction::Uppercase
            | RelabelAction::Keepequal
            | RelabelAction::Dropequal
    );
    if let Some(target) = &relabeling.target_label
        && writes_label
        && !(relabeling.action == RelabelAction::Replace && target.contains('$'))
        && !is_label_name(target)
    {
        errors.push(error(format!("{path}.targetLabel"), format!("{target:?} is not a valid Prometheus label name")));
    }
}

/// Parses comma-separated PromQL label matchers (`a="x", b=~"y|z"`), checking regexes compile.
pub fn label_matchers(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut matchers = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_length = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..name_length];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("expected a label name at {rest:?}"));
        }
        rest = rest[name_length..].trim_start();
        let operator = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|operator| rest.starts_with(operator))
            .ok_or_else(|| format!("expected =, !=, =~ or !~ after {name:?}"))?;
        rest = rest[operator.len()..].trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'' || *c == '`');
        let Some(quote) = quote else { return Err(format!("expected a quoted value for {name:?}")) };
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (offset, c) in rest.char_indices().skip(1) {
            if escaped {
                value.push(c);
                escaped = false;
            } else if c == '\\' && quote != '`' {
                escaped = true;
            } else if c == quote {
                end = Some(offset);
                break;
            } else {
                value.push(c);
            }
        }
        let end = end.ok_or_else(|| format!("unterminated value for {name:?}"))?;
        if operator.ends_with('~') && Regex::new(&format!("^(?:{value})$")).is_err() {
            return Err(format!("invalid regular expression {value:?} for {name:?}"));
        }
        matchers.push((name.to_owned(), operator.to_owned(), value));
        rest = rest[end + 1..].trim_start();
        if let Some(after_comma) = rest.strip_prefix(',') {
            rest = after_comma.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("expected ',' before {rest:?}"));
        }
    }
    if matchers.is_empty() {
        return Err("expected at least one label matcher".to_owned());
    }
    Ok(matchers)
}

fn error(path: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { path: path.into(), message: message.into() }
}

/// Whether `text` is a valid Prometheus label name.
fn is_label_name(text: &str) -> bool {
    static LABEL_NAME: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    // A constant pattern, compiled in the tests; `None` would refuse rather than accept.
    LABEL_NAME.get_or_init(|| Regex::new(LABEL_NAME_PATTERN).ok()).as_ref().is_some_and(|regex| regex.is_match(text))
}

/// Whether `text` is a Kubernetes resource quantity (`500m`, `1Gi`).
fn is_quantity(text: &str) -> bool {
    static QUANTITY: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    QUANTITY
        .get_or_init(|| Regex::new(r"^[+]?[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$").ok())
        .as_ref()
        .is_some_and(|regex| regex.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_patterns_compile() {
        assert!(is_label_name("service"));
        assert!(!is_label_name("1service"));
        assert!(is_quantity("500m"));
        assert!(is_quantity("1Gi"));
        assert!(!is_quantity("lots"));
    }

    #[test]
    fn label_matchers_parse_and_refuse_garbage() {
        assert_eq!(label_matchers(r#"a="x", b=~"y|z""#).unwrap().len(), 2);
        assert!(label_matchers(r#"span_name=~"(?i).*llm.*""#).is_ok());
        for bad in ["", "a", r#"a=x"#, r#"a="x" b="y""#, r#"a=~"(""#, r#"1a="x""#, r#"a="x"#] {
            assert!(label_matchers(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn the_default_stack_and_the_example_monitors_are_semantically_valid() {
        assert_eq!(stack(&ObservabilityStackSpec::default()), vec![]);
        for monitor_spec in crate::render::fixtures::machineavatars().monitors.iter().map(|m| &m.spec) {
            assert_eq!(monitor(monitor_spec), vec![]);
        }
    }

    #[test]
    fn bad_regexes_and_labels_are_named() {
        let spec: ServiceMonitorSpec = serde_json::from_value(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http",
              "relabelings": [{"sourceLabels": ["a"], "regex": "(unclosed", "targetLabel": "ok"},
                              {"sourceLabels": ["a"], "targetLabel": "bad-label"}]}],
            "alerts": {"disabled": ["NoSuchAlert"], "errorRateWarning": 30.0, "errorRateCritical": 20.0}
        }))
        .unwrap();
        let paths: Vec<String> = monitor(&spec).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "spec.endpoints[0].relabelings[0].regex",
                "spec.endpoints[0].relabelings[1].targetLabel",
                "spec.alerts.disabled[0]",
                "spec.alerts.errorRateWarning"
            ]
        );
    }
}
