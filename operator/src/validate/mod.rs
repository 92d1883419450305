//! Semantic validation: what a schema cannot express (regular expressions that must compile,
//! PromQL matchers that must parse, thresholds that must be ordered). Runs after the schema
//! check in the CLI and in the controller, so both refuse the same input with the same words.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use regex::Regex;

use crate::api::{
    LABEL_NAME_PATTERN, ObservabilityStackSpec, RelabelAction, RelabelConfig, ServiceMonitorSpec, WEEKDAYS,
    parse_duration_millis,
};
pub(crate) mod names;
mod scrape;

use names::{is_dns_label, is_label_key, is_label_value, matches};

/// One violated rule, at a field path such as `spec.endpoints[0].interval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field from the object's root.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Application alerts a ServiceMonitor may disable or retune for its service.
pub(crate) const OVERRIDABLE_ALERTS: [&str; 5] =
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
    scrape::settings(spec, &mut errors);
    if let Some(alerts) = &spec.alerts {
        for (index, name) in alerts.disabled.iter().enumerate() {
            if !OVERRIDABLE_ALERTS.contains(&name.as_str()) {
                errors.push(error(
                    format!("spec.alerts.disabled[{index}]"),
                    format!("unknown alert {name:?}: one of {}", OVERRIDABLE_ALERTS.join(", ")),
                ));
            }
        }
        for name in alerts.channels.keys() {
            if !OVERRIDABLE_ALERTS.contains(&name.as_str()) {
                errors.push(error(
                    format!("spec.alerts.channels.{name}"),
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
    label_selector(&spec.selector, "spec.selector", &mut errors);
    if let Some(selector) = &spec.namespace_selector {
        namespace_names(&selector.match_names, "spec.namespaceSelector.matchNames", &mut errors);
    }
    if let Some(job_label) = &spec.job_label
        && !is_label_key(job_label)
    {
        errors.push(error("spec.jobLabel", format!("{job_label:?} is not a Kubernetes label key")));
    }
    for (list, keys) in [("targetLabels", &spec.target_labels), ("podTargetLabels", &spec.pod_target_labels)] {
        for (index, key) in keys.iter().enumerate() {
            if !is_label_key(key) {
                errors.push(error(format!("spec.{list}[{index}]"), format!("{key:?} is not a Kubernetes label key")));
            }
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
    // Alertmanager refuses the wildcard next to other labels, an empty label and a repeated one.
    if routing.group_by.len() > 1 && routing.group_by.iter().any(|label| label == "...") {
        errors.push(error(
            "spec.alerting.routing.groupBy",
            "`...` groups by every label and cannot be combined with other labels",
        ));
    }
    for (index, label) in routing.group_by.iter().enumerate() {
        if label.is_empty() {
            errors.push(error(format!("spec.alerting.routing.groupBy[{index}]"), "must not be empty"));
        } else if routing.group_by[..index].contains(label) {
            errors.push(error(format!("spec.alerting.routing.groupBy[{index}]"), format!("{label:?} is listed twice")));
        }
    }
    for (index, days) in routing.business_hours.weekdays.iter().enumerate() {
        if let Some(message) = weekday_range_problem(days) {
            errors.push(error(format!("spec.alerting.routing.businessHours.weekdays[{index}]"), message));
        }
    }
    if spec.alerting.enabled && routing.dead_mans_switch.enabled && routing.dead_mans_switch.url.is_none() {
        errors.push(error(
            "spec.alerting.routing.deadMansSwitch.url",
            "an enabled dead man's switch needs a Secret reference",
        ));
    }
    let email = &routing.email;
    let step_mail = routing.escalation.iter().any(|step| !step.email.is_empty());
    if spec.alerting.enabled && ((email.enabled && !email.to.is_empty()) || step_mail) {
        for (field, missing) in [("smarthost", email.smarthost.is_none()), ("from", email.from.is_none())] {
            if missing {
                errors.push(error(
                    format!("spec.alerting.routing.email.{field}"),
                    "email recipients (also of escalation steps) need smarthost and from",
                ));
            }
        }
    }
    for (index, step) in routing.escalation.iter().enumerate() {
        if crate::api::FIXED_RECEIVERS.contains(&step.name.as_str()) {
            errors.push(error(
                format!("spec.alerting.routing.escalation[{index}].name"),
                format!("{:?} is the name of one of Alertmanager's fixed receivers", step.name),
            ));
        }
    }
    if spec.tracing.enabled
        && let Some(limit) = spec.tracing.resources.limits.get("memory")
        && crate::api::mebibytes(limit).is_none_or(|mib| mib < crate::api::JAEGER_MIN_MEMORY_MIB)
    {
        errors.push(error(
            "spec.tracing.resources.limits.memory",
            format!(
                "{limit} is not a memory quantity of at least {}Mi (e.g. 1Gi, 512Mi)",
                crate::api::JAEGER_MIN_MEMORY_MIB
            ),
        ));
    }
    if spec.logging.enabled && spec.logging.levels.is_empty() {
        errors.push(error("spec.logging.levels", "at least one level is needed to normalise the level label"));
    }
    // The CRD checks this only when both fields are written; one set alone meets the other's default.
    for (name, probe) in [("liveness", &spec.probes.liveness), ("readiness", &spec.probes.readiness)] {
        if probe.timeout_seconds > probe.period_seconds {
            errors.push(error(
                format!("spec.probes.{name}.timeoutSeconds"),
                format!("{}s must not exceed periodSeconds ({}s)", probe.timeout_seconds, probe.period_seconds),
            ));
        }
    }
    if spec.slos.period.to_millis().is_none_or(|millis| millis == 0) {
        errors.push(error("spec.slos.period", "must be positive"));
    }
    for (index, window) in spec.slos.burn_rate_windows.iter().enumerate() {
        for (field, length) in [("long", &window.long), ("short", &window.short)] {
            if length.to_millis().is_none_or(|millis| millis == 0) {
                errors.push(error(format!("spec.slos.burnRateWindows[{index}].{field}"), "must be positive"));
            }
        }
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
        if budget.span_matchers.trim().is_empty() {
            errors.push(error(format!("{path}.spanMatchers"), "must not be empty"));
        } else if let Err(message) = label_matchers(&budget.span_matchers) {
            errors.push(error(format!("{path}.spanMatchers"), message));
        }
    }
    if let Some(database) = &spec.alerting.rules.application.database_selector {
        match database.trim().strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
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
    for (key, value) in &spec.metrics.prometheus.external_labels {
        if !is_label_name(key) {
            errors.push(error(
                format!("spec.metrics.prometheus.externalLabels.{key}"),
                "not a valid Prometheus label name",
            ));
        }
        // Carried by every series and alert leaving Prometheus, and written into its config.
        if value.len() > MAX_EXTERNAL_LABEL_VALUE {
            errors.push(error(
                format!("spec.metrics.prometheus.externalLabels.{key}"),
                format!("{} bytes: at most {MAX_EXTERNAL_LABEL_VALUE}", value.len()),
            ));
        }
    }
    if let Some(selector) = &spec.monitor_selector {
        label_selector(selector, "spec.monitorSelector", &mut errors);
    }
    if let Some(selector) = &spec.monitor_namespace_selector {
        namespace_names(&selector.match_names, "spec.monitorNamespaceSelector.matchNames", &mut errors);
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
        && let Err(problem) = regular_expression(pattern)
    {
        errors.push(error(format!("{path}.regex"), format!("invalid regular expression {pattern:?}: {problem}")));
    }
    // The fields Prometheus refuses next to an action (`relabel.Config.Validate`): one such step
    // would make Prometheus refuse the whole configuration, every other monitor's jobs with it.
    let action = relabeling.action.prometheus_name();
    let separator_set = relabeling.separator.as_deref().is_some_and(|separator| separator != ";");
    let replacement_set = relabeling.replacement.as_deref().is_some_and(|replacement| replacement != "$1");
    let regex_set = relabeling.regex.as_deref().is_some_and(|regex| regex != "(.*)");
    let refused: &[(&str, bool)] = match relabeling.action {
        RelabelAction::Labeldrop | RelabelAction::Labelkeep => &[
            ("sourceLabels", !relabeling.source_labels.is_empty()),
            ("separator", separator_set),
            ("targetLabel", relabeling.target_label.is_some()),
            ("modulus", relabeling.modulus.is_some()),
            ("replacement", replacement_set),
        ],
        RelabelAction::Keepequal | RelabelAction::Dropequal => &[
            ("separator", separator_set),
            ("regex", regex_set),
            ("modulus", relabeling.modulus.is_some()),
            ("replacement", replacement_set),
        ],
        RelabelAction::Lowercase | RelabelAction::Uppercase => &[("replacement", replacement_set)],
        _ => &[],
    };
    for (field, set) in refused {
        if *set {
            errors.push(error(
                format!("{path}.{field}"),
                format!("Prometheus does not allow {field} with action {action}"),
            ));
        }
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
pub(crate) fn label_matchers(text: &str) -> Result<Vec<(String, String, String)>, String> {
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
        if operator.ends_with('~')
            && let Err(problem) = regular_expression(&value)
        {
            return Err(format!("invalid regular expression {value:?} for {name:?}: {problem}"));
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

/// Checks a regular expression the way Prometheus, Loki and Alertmanager will compile it: with
/// Go's RE2 syntax. It must compile here, and must not use what this crate accepts but Go refuses
/// (see [`go_regexp_problem`]).
pub(crate) fn regular_expression(pattern: &str) -> Result<(), String> {
    if let Err(problem) = Regex::new(&format!("^(?:{pattern})$")) {
        return Err(problem.to_string().lines().last().unwrap_or_default().trim().to_owned());
    }
    match go_regexp_problem(pattern) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// What Go's `regexp/syntax` refuses in a pattern Rust's `regex` accepts: `\u`/`\U` escapes,
/// flags other than `i`, `m`, `s` and `U`, repetition counts above 1000 and a repetition of a
/// repetition (`a**`). Follows Go's parser: inside a character class only escapes matter, and a
/// `{` that does not start a well-formed count is a literal.
fn go_regexp_problem(pattern: &str) -> Option<String> {
    let characters: Vec<char> = pattern.chars().collect();
    let mut index = 0;
    // Whether the previous item was a repetition (Go refuses another one right after it).
    let mut after_repetition = false;
    while index < characters.len() {
        let character = characters[index];
        let repetition_before = std::mem::take(&mut after_repetition);
        match character {
            '\\' => {
                match characters.get(index + 1) {
                    Some('u' | 'U') => {
                        return Some("Go's regular expressions have no \\u escape: write \\x{...}".to_owned());
                    }
                    // `\p{Greek}`, `\x{41}`: skip the braces.
                    Some('p' | 'P' | 'x') if characters.get(index + 2) == Some(&'{') => {
                        index = characters[index..]
                            .iter()
                            .position(|c| *c == '}')
                            .map_or(characters.len(), |end| index + end);
                    }
                    _ => index += 1,
                }
            }
            '[' => {
                // A class: `[`, an optional `^`, a leading `]` taken literally, then up to `]`;
                // `[:alpha:]` inside it is one item.
                index += 1;
                if characters.get(index) == Some(&'^') {
                    index += 1;
                }
                if characters.get(index) == Some(&']') {
                    index += 1;
                }
                while index < characters.len() && characters[index] != ']' {
                    match characters[index] {
                        '\\' => {
                            if matches!(characters.get(index + 1), Some('u' | 'U')) {
                                return Some("Go's regular expressions have no \\u escape: write \\x{...}".to_owned());
                            }
                            index += 1;
                        }
                        '[' if characters.get(index + 1) == Some(&':') => {
                            if let Some(end) = characters[index + 2..].windows(2).position(|pair| pair == [':', ']']) {
                                index += end + 3;
                            }
                        }
                        _ => {}
                    }
                    index += 1;
                }
            }
            '(' if characters.get(index + 1) == Some(&'?') => {
                let flags: String = characters[index + 2..].iter().take_while(|c| !matches!(c, ')' | ':')).collect();
                let named = flags.starts_with('<') || flags.starts_with("P<");
                if !named && let Some(flag) = flags.chars().find(|flag| !"imsU-".contains(*flag)) {
                    return Some(format!("Go's regular expressions have no flag {flag:?} (only i, m, s and U)"));
                }
                index += 1;
            }
            '*' | '+' | '?' => {
                if repetition_before {
                    return Some(format!(
                        "Go's regular expressions refuse a repetition of a repetition at {character:?}"
                    ));
                }
                after_repetition = true;
                // A `?` right after it makes it lazy, still one repetition.
                if characters.get(index + 1) == Some(&'?') {
                    index += 1;
                }
            }
            '{' => {
                let rest: String = characters[index + 1..].iter().take_while(|c| **c != '}').collect();
                let closed = index + 1 + rest.chars().count() < characters.len();
                let (minimum, maximum) = rest.split_once(',').unwrap_or((rest.as_str(), rest.as_str()));
                let is_count = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
                if closed && is_count(minimum) && (maximum.is_empty() || is_count(maximum)) {
                    if repetition_before {
                        return Some(format!(
                            "Go's regular expressions refuse a repetition of a repetition at {{{rest}}}"
                        ));
                    }
                    let too_large = |text: &str| text.parse::<u64>().map_or(true, |count| count > 1000);
                    if too_large(minimum) || (!maximum.is_empty() && too_large(maximum)) {
                        return Some(format!("Go's regular expressions repeat at most 1000 times, not {{{rest}}}"));
                    }
                    index += rest.chars().count() + 1;
                    after_repetition = true;
                    if characters.get(index + 1) == Some(&'?') {
                        index += 1;
                    }
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// Longest external label value accepted.
const MAX_EXTERNAL_LABEL_VALUE: usize = 1024;

/// A label selector as the API server reads one: known operators, values only where they
/// belong, keys and values of label syntax. An unknown operator would otherwise select nothing
/// and silently drop every monitor.
fn label_selector(selector: &LabelSelector, path: &str, errors: &mut Vec<FieldError>) {
    for (key, value) in selector.match_labels.iter().flatten() {
        if !is_label_key(key) {
            errors.push(error(format!("{path}.matchLabels"), format!("{key:?} is not a Kubernetes label key")));
        }
        if !is_label_value(value) {
            errors.push(error(format!("{path}.matchLabels.{key}"), format!("{value:?} is not a label value")));
        }
    }
    for (index, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let here = format!("{path}.matchExpressions[{index}]");
        if !is_label_key(&expression.key) {
            errors.push(error(format!("{here}.key"), format!("{:?} is not a Kubernetes label key", expression.key)));
        }
        let values = expression.values.as_deref().unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                errors.push(error(format!("{here}.values"), "must be non-empty for In and NotIn"));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                errors.push(error(format!("{here}.values"), "must be empty for Exists and DoesNotExist"));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(error(
                format!("{here}.operator"),
                format!("unsupported operator {other:?}: one of In, NotIn, Exists, DoesNotExist"),
            )),
        }
        for (position, value) in values.iter().enumerate() {
            if !is_label_value(value) {
                errors.push(error(format!("{here}.values[{position}]"), format!("{value:?} is not a label value")));
            }
        }
    }
}

fn namespace_names(names: &[String], path: &str, errors: &mut Vec<FieldError>) {
    for (index, name) in names.iter().enumerate() {
        if !is_dns_label(name) {
            errors.push(error(format!("{path}[{index}]"), format!("{name:?} is not a namespace name")));
        }
    }
}

/// What Alertmanager refuses in a day or range of days (`monday:friday`): an unknown day, or a
/// range running backwards through Alertmanager's week, which starts on Sunday.
fn weekday_range_problem(days: &str) -> Option<String> {
    let position = |day: &str| WEEKDAYS.iter().position(|known| *known == day);
    let (first, last) = days.split_once(':').unwrap_or((days, days));
    match (position(first), position(last)) {
        (Some(start), Some(end)) if start <= end => None,
        (Some(_), Some(_)) => Some(format!(
            "{days:?} runs backwards: a range goes from Sunday to Saturday (use two entries to wrap the weekend)"
        )),
        _ => Some(format!("{days:?} is not a day or a range of days, e.g. monday:friday")),
    }
}

fn error(path: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { path: path.into(), message: message.into() }
}

/// Whether `text` is a valid Prometheus label name.
fn is_label_name(text: &str) -> bool {
    static LABEL_NAME: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    matches(&LABEL_NAME, LABEL_NAME_PATTERN, text)
}

/// Whether `text` is a Kubernetes resource quantity (`500m`, `1Gi`).
fn is_quantity(text: &str) -> bool {
    static QUANTITY: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    matches(&QUANTITY, r"^[+]?[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$", text)
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
    fn regexes_are_checked_against_what_go_refuses() {
        for refused in [
            r"\u0041",
            r"[\u0041-\u0042]",
            r"\U0001F600",
            "(?x)a b",
            "(?u)a",
            "(?R)a",
            "(?i-u:a)",
            "a**",
            "a+*",
            "a*??",
            "a{2}{3}",
            "a{2}*",
            "a{1001}",
            "a{2,1001}",
        ] {
            assert!(go_regexp_problem(refused).is_some(), "{refused:?} must be refused");
            assert!(regular_expression(refused).is_err(), "{refused:?} must be refused");
        }
        for accepted in [
            "a*?",
            "a+?b??",
            "a{2}?",
            "a{1000}",
            "a{2,}",
            "a{,5}",
            "x{y}*",
            "(?i)a",
            "(?i-s:a)",
            "(?P<n>a)",
            "(?<n>a)+",
            "(?:a)*",
            "[*+]*",
            r"\*\*",
            "[[:alpha:]]*",
            r"\p{Greek}+",
            r"\x{41}+",
            "[{]a}",
            "[]a]*",
            r"(.+)\.svc",
        ] {
            assert_eq!(go_regexp_problem(accepted), None, "{accepted:?} is valid Go");
        }
        assert!(label_matchers(r#"job=~"a{1001}""#).unwrap_err().contains("at most 1000"));
    }

    #[test]
    fn relabel_fields_prometheus_refuses_with_an_action_are_named() {
        let spec: ServiceMonitorSpec = serde_json::from_value(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http", "relabelings": [
                {"action": "labeldrop", "regex": "a", "sourceLabels": ["b"], "targetLabel": "c"},
                {"action": "LabelKeep", "regex": "a", "separator": ";", "replacement": "$1"},
                {"action": "keepequal", "sourceLabels": ["a"], "targetLabel": "b", "regex": "x", "modulus": 2},
                {"action": "dropequal", "sourceLabels": ["a"], "targetLabel": "b", "regex": "(.*)"},
                {"action": "lowercase", "sourceLabels": ["a"], "targetLabel": "b", "replacement": "x"},
                {"action": "replace", "sourceLabels": ["a"], "targetLabel": "b", "separator": "/", "replacement": "x"}
            ]}]
        }))
        .unwrap();
        let problems: Vec<String> = monitor(&spec).into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
        assert_eq!(
            problems,
            [
                "spec.endpoints[0].relabelings[0].sourceLabels: Prometheus does not allow sourceLabels with action labeldrop",
                "spec.endpoints[0].relabelings[0].targetLabel: Prometheus does not allow targetLabel with action labeldrop",
                "spec.endpoints[0].relabelings[2].regex: Prometheus does not allow regex with action keepequal",
                "spec.endpoints[0].relabelings[2].modulus: Prometheus does not allow modulus with action keepequal",
                "spec.endpoints[0].relabelings[4].replacement: Prometheus does not allow replacement with action lowercase",
            ],
            "Prometheus' own defaults (`;`, `$1`, `(.*)`) may be written out"
        );
    }

    #[test]
    fn alertmanager_group_by_is_checked() {
        let mut spec = ObservabilityStackSpec::default();
        spec.alerting.routing.group_by = vec!["...".to_owned()];
        assert_eq!(stack(&spec), vec![]);
        spec.alerting.routing.group_by = ["alertname", "...", "", "alertname"].map(str::to_owned).to_vec();
        let paths: Vec<String> = stack(&spec).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            ["spec.alerting.routing.groupBy", "spec.alerting.routing.groupBy[2]", "spec.alerting.routing.groupBy[3]"]
        );
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

    #[test]
    fn business_days_and_monitor_channels_are_checked() {
        let mut spec = ObservabilityStackSpec::default();
        spec.alerting.routing.business_hours.weekdays =
            ["monday:friday", "saturday", "sunday:saturday", "friday:monday", "saturday:sunday", "someday", "monday:"]
                .map(str::to_owned)
                .to_vec();
        let paths: Vec<String> = stack(&spec).into_iter().map(|e| e.path).collect();
        let day = |index: usize| format!("spec.alerting.routing.businessHours.weekdays[{index}]");
        assert_eq!(paths, [day(3), day(4), day(5), day(6)], "Alertmanager's week starts on Sunday");

        let monitor_spec: ServiceMonitorSpec = serde_json::from_value(serde_json::json!({
            "selector": {}, "endpoints": [{"port": "http"}],
            "alerts": {"channels": {"CriticalLatency": ["slack"], "OutOfMemory": ["email"]}}
        }))
        .unwrap();
        let errors = monitor(&monitor_spec);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "spec.alerts.channels.OutOfMemory", "not a per-service alert");
    }

    #[test]
    fn a_probe_timeout_set_alone_is_checked_against_the_default_period() {
        let spec: ObservabilityStackSpec =
            serde_json::from_value(serde_json::json!({"probes": {"readiness": {"timeoutSeconds": 6}}})).unwrap();
        let errors = stack(&spec);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "spec.probes.readiness.timeoutSeconds");
        assert!(errors[0].message.contains("periodSeconds (5s)"), "{}", errors[0].message);
    }

    /// Every refusal of the renderers, each made to happen: `validate` refuses the same spec,
    /// naming the same field, so nothing `validate` passes fails at reconcile time.
    #[test]
    fn validate_refuses_everything_the_renderers_refuse() {
        use crate::api::{EscalationStep, ObservabilityStack};
        use crate::render::{RenderError, render_stack};
        use crate::resolve::ResolvedStack;

        let step = |name: &str| -> EscalationStep {
            let mut step = ObservabilityStackSpec::default().alerting.routing.escalation[0].clone();
            step.name = name.to_owned();
            step
        };
        type Edit = Box<dyn Fn(&mut ObservabilityStackSpec)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("dead man's switch without url", Box::new(|spec| spec.alerting.routing.dead_mans_switch.enabled = true)),
            ("Slack without its Secret", Box::new(|spec| spec.alerting.routing.slack.api_url = None)),
            ("PagerDuty without its Secret", Box::new(|spec| spec.alerting.routing.pagerduty.routing_key = None)),
            (
                "a step named like a fixed receiver",
                Box::new(move |spec| spec.alerting.routing.escalation.push(step("slack"))),
            ),
            (
                "a step with email and no SMTP server",
                Box::new(move |spec| {
                    spec.alerting.routing.email.smarthost = None;
                    spec.alerting.routing.escalation[1].email = vec!["lead@example.com".to_owned()];
                }),
            ),
            (
                "a Jaeger memory limit too small",
                Box::new(|spec| {
                    spec.tracing.resources.limits.insert("memory".to_owned(), "8Mi".to_owned());
                }),
            ),
            ("no log levels", Box::new(|spec| spec.logging.levels.clear())),
            ("an empty budget matcher", Box::new(|spec| spec.slos.budgets[0].span_matchers = " ".to_owned())),
            (
                "a zero burn-rate window",
                Box::new(|spec| spec.slos.burn_rate_windows[0].short = crate::api::Duration::from("0")),
            ),
            ("a zero SLO period", Box::new(|spec| spec.slos.period = crate::api::Duration::from("0s"))),
        ];
        for (case, edit) in cases {
            let mut spec = ObservabilityStackSpec::default();
            spec.alerting.routing.email.from = Some("alerts@example.com".to_owned());
            spec.alerting.routing.email.smarthost = Some("smtp.example.com:587".to_owned());
            spec.alerting.routing.dead_mans_switch.url = None;
            edit(&mut spec);
            let mut object = ObservabilityStack::new("parity", spec.clone());
            object.metadata.namespace = Some("observability".to_owned());
            let refused = match render_stack(&ResolvedStack::new(&object, &[] as &[crate::api::ServiceMonitor])) {
                Err(RenderError::Invalid { error, .. }) => error.path,
                other => panic!("{case}: the renderers were meant to refuse, got {:?}", other.map(|_| ())),
            };
            let refused = if refused.starts_with("spec.") { refused } else { format!("spec.{refused}") };
            let paths: Vec<String> = stack(&spec).into_iter().map(|error| error.path).collect();
            assert!(paths.contains(&refused), "{case}: render refuses {refused}, validate says {paths:?}");
        }
    }
}
