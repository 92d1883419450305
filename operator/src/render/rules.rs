//! Prometheus rule files: the seed's infrastructure, application and business alerts, the RED
//! recording rules, SLO recording rules with multi-window multi-burn-rate alerts, and the
//! performance budgets on Jaeger's span metrics.
//!
//! Everything goes into one ConfigMap, `<stack>-rules`, one key per rule file; Prometheus mounts
//! it at `/etc/prometheus/rules`, loads `*.yml` and its config reloader picks changes up in place.
//!
//! What the toggles render (records describe, alerts page; only alerts need Alertmanager):
//! - metrics on (the component itself): `red.yml`, the RED recording rules;
//! - `alerting.enabled`: `infrastructure.yml`, `application.yml`, `business.yml`, the burn-rate
//!   alerts inside `slo.yml` and `budgets.yml`;
//! - `slos.enabled`: `slo.yml` (SLI and error-budget records, plus the burn-rate alerts when
//!   alerting is on) and `budgets.yml` (also needs tracing, whose span metrics it reads);
//! - a threshold with `enabled: false` renders no rule, and a file without rules is left out.
//!
//! Numbers are written the way people write them (`> 80`, not `> 80.0`): thresholds keep the
//! shortest form of the spec's value, and every derived number (percent → ratio, milliseconds →
//! seconds, availability → error budget) is computed in decimal arithmetic, so 99.95% gives an
//! error budget of exactly `0.0005`. Expressions compare plain series with literal thresholds so
//! `promtool test rules` can check each one on both sides of its threshold.
//!
//! SLOs: the availability SLI is failed/total requests against the stricter of `1 - availability`
//! and the error-rate objective; the latency SLI is the share of requests above the p95 target,
//! read from the histogram bucket whose `le` is that target (so services must expose a bucket
//! there), against the p95's 5%. Each gets records over every window the burn-rate pairs and the
//! SLO period need, the error budget left over the period, and one alert per severity.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{config_map, into_object, object_name, regex_literal, to_yaml};
use super::shard::{self, Piece};
use super::{Component, RenderError};
use crate::api::{AlertOverrides, AlertThreshold, ApplicationAlerts, BurnRateWindow, IncidentLevel, Severity};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// Rule file of the seed's Infrastructure Alerts table.
pub const INFRASTRUCTURE_FILE: &str = "infrastructure.yml";
/// Rule file of the seed's Application Alerts table.
pub const APPLICATION_FILE: &str = "application.yml";
/// Rule file of the seed's Business Alerts table.
pub const BUSINESS_FILE: &str = "business.yml";
/// RED recording rules.
pub const RED_FILE: &str = "red.yml";
/// SLO recording rules and burn-rate alerts.
pub const SLO_FILE: &str = "slo.yml";
/// Performance-budget alerts.
pub const BUDGETS_FILE: &str = "budgets.yml";

/// Rate window of alerts whose threshold names none, and of the RED recording rules.
const DEFAULT_WINDOW: &str = "5m";
/// Window of the container-restart count when the threshold names none (seed: 10 minutes).
const RESTART_WINDOW: &str = "10m";
/// Window of the monthly churn when the threshold names none.
const CHURN_WINDOW: &str = "30d";
/// Window of the span-duration rate the performance budgets take their p95 over.
const BUDGET_WINDOW: &str = "5m";
/// Jaeger's span-duration histogram (milliseconds) as Prometheus scrapes it.
const SPAN_DURATION_BUCKET: &str = "traces_span_metrics_duration_milliseconds_bucket";
/// The latency SLO is a p95: at most 5% of requests may be slower than the target.
const LATENCY_QUANTILE: &str = "0.95";
const LATENCY_BUDGET: Decimal = Decimal { coefficient: 5, scale: 2 };
/// Quantiles of the RED duration recording rules.
const RED_QUANTILES: [(&str, &str); 3] = [("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")];
/// Incident level of a performance-budget overrun: engineering work (seed: "investigate
/// bottleneck, optimize queries"), not an on-call page.
const BUDGET_INCIDENT_LEVEL: IncidentLevel = IncidentLevel::P3;
/// Alert label `service` of per-container infrastructure alerts: the container name, so
/// Alertmanager's inhibition (`equal: [signal, namespace, service]`) pairs the warning and the
/// critical alert of the same workload and not of any two pods of a namespace.
const CONTAINER_AS_SERVICE: &str = "{{ $labels.container }}";

/// A Prometheus rule file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

/// A group of rules, evaluated in order (records before the alerts that read them).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// A recording or an alerting rule.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Rule {
    Record(RecordingRule),
    Alert(AlertingRule),
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AlertingRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl RecordingRule {
    fn new(record: impl Into<String>, expr: String) -> Self {
        Self { record: record.into(), expr, labels: BTreeMap::new() }
    }

    fn labels(mut self, labels: &BTreeMap<String, String>) -> Rule {
        self.labels = labels.clone();
        Rule::Record(self)
    }
}

impl AlertingRule {
    /// An alert with the labels every alert carries: severity, incident level and signal.
    fn new(name: &str, expr: String, severity: Severity, incident_level: IncidentLevel, signal: &str) -> Self {
        let labels = BTreeMap::from([
            ("severity".to_owned(), severity.as_str().to_owned()),
            ("incident_level".to_owned(), incident_level.as_str().to_owned()),
            ("signal".to_owned(), signal.to_owned()),
        ]);
        Self { alert: name.to_owned(), expr, for_duration: None, labels, annotations: BTreeMap::new() }
    }

    /// An alert of a spec threshold: its severity, incident level and `for` (when it has one).
    fn of_threshold(name: &str, expr: String, threshold: &AlertThreshold, signal: &str) -> Self {
        let mut alert = Self::new(name, expr, threshold.severity, threshold.incident_level, signal);
        alert.for_duration = threshold
            .for_duration
            .as_ref()
            .filter(|duration| duration.to_millis().is_some_and(|millis| millis > 0))
            .map(|duration| duration.as_str().to_owned());
        alert
    }

    fn label(mut self, name: &str, value: impl Into<String>) -> Self {
        self.labels.insert(name.to_owned(), value.into());
        self
    }

    fn annotate(mut self, summary: impl Into<String>, description: impl Into<String>) -> Rule {
        self.annotations.insert("summary".to_owned(), summary.into());
        self.annotations.insert("description".to_owned(), description.into());
        Rule::Alert(self)
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RenderError {
    RenderError::invalid(Component::Rules, field, message)
}

/// A spec number as a decimal, or an error naming the field.
fn number(value: f64, field: &str) -> Result<Decimal, RenderError> {
    Decimal::from_f64(value).ok_or_else(|| invalid(field, format!("{value} is not a usable non-negative number")))
}

/// The window a threshold's rate or count is taken over.
fn window(threshold: &AlertThreshold, default: &str) -> String {
    threshold.window.as_ref().map_or_else(|| default.to_owned(), |window| window.as_str().to_owned())
}

/// `metric{matchers}`, or the bare metric without matchers.
fn series(metric: &str, matchers: &[String]) -> String {
    if matchers.is_empty() { metric.to_owned() } else { format!("{metric}{{{}}}", matchers.join(", ")) }
}

/// A PromQL string literal.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for character in value.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// The comparison of "too few" alerts (no requests, no signups): `<= threshold`, or for the
/// seed's threshold 0 the exact `== 0`.
fn at_most(threshold: Decimal) -> String {
    if threshold.is_zero() { "== 0".to_owned() } else { format!("<= {threshold}") }
}

/// The rule files of the stack, by file name; files without rules are left out.
pub fn rule_files(stack: &ResolvedStack) -> Result<BTreeMap<String, RuleFile>, RenderError> {
    let spec = &stack.spec;
    let alerting = spec.alerting.enabled;
    let mut files = BTreeMap::new();
    let mut add = |file: &str, groups: Vec<RuleGroup>| {
        let groups: Vec<RuleGroup> = groups.into_iter().filter(|group| !group.rules.is_empty()).collect();
        if !groups.is_empty() {
            files.insert(file.to_owned(), RuleFile { groups });
        }
    };
    if alerting {
        add(INFRASTRUCTURE_FILE, vec![RuleGroup { name: "infrastructure".to_owned(), rules: infrastructure(stack)? }]);
        add(APPLICATION_FILE, vec![RuleGroup { name: "application".to_owned(), rules: application(stack)? }]);
        add(BUSINESS_FILE, vec![RuleGroup { name: "business".to_owned(), rules: business(stack)? }]);
    }
    add(RED_FILE, vec![RuleGroup { name: "red".to_owned(), rules: red(stack) }]);
    if spec.slos.enabled {
        add(SLO_FILE, slo_groups(stack)?);
        if alerting && spec.tracing.enabled {
            add(BUDGETS_FILE, vec![RuleGroup { name: "performance-budgets".to_owned(), rules: budgets(stack)? }]);
        }
    }
    Ok(files)
}

/// Stem of the shard files of the SLO groups: `slo-0000.yml` …
pub const SLO_SHARD_STEM: &str = "slo";

/// The rule files as they are laid out in ConfigMaps: all in `<stack>-rules` while they are
/// small, else the SLO groups (one per service, the part that grows with the monitors) in
/// `<stack>-rules-slo-NNNN` shards, each file `slo-NNNN.yml` (compact JSON, which is YAML).
#[derive(Clone, Debug, PartialEq)]
pub struct RulesLayout {
    /// Files of `<stack>-rules`.
    pub files: BTreeMap<String, String>,
    /// The SLO shard files, by bucket; empty when not sharded.
    pub slo_shards: Vec<String>,
}

impl RulesLayout {
    /// Names of the ConfigMaps the rule files are in, `<stack>-rules` first.
    pub fn config_map_names(&self, stack: &ResolvedStack) -> Vec<String> {
        let name = object_name(stack, Component::Rules);
        let shards = (0..self.slo_shards.len()).map(|bucket| shard::shard_object(&name, SLO_SHARD_STEM, bucket));
        std::iter::once(name.clone()).chain(shards).collect()
    }
}

/// Renders and lays out the rule files.
pub fn layout(stack: &ResolvedStack) -> Result<RulesLayout, RenderError> {
    let mut files = rule_files(stack)?;
    fn serialize<T: Serialize>(what: &str, value: &T) -> Result<String, RenderError> {
        serde_json::to_string(value).map_err(RenderError::serialize(Component::Rules, what))
    }
    // The SLO groups, the part that grows with the monitors, as compact JSON pieces first: block
    // YAML is about half as large again, which tells whether they fit without writing it.
    let slo = files.remove(SLO_FILE);
    let mut slo_pieces = Vec::new();
    for group in slo.iter().flat_map(|slo| &slo.groups) {
        slo_pieces.push(Piece::new(&group.name, serialize(&group.name, group)?));
    }
    let mut texts = BTreeMap::new();
    for (file, rules) in &files {
        texts.insert(file.clone(), to_yaml(Component::Rules, file, rules)?);
    }
    let estimated: usize = texts.values().map(String::len).sum::<usize>()
        + slo_pieces.iter().map(|piece| piece.text.len()).sum::<usize>() * 3 / 2;
    let Some(slo) = slo else {
        return Ok(RulesLayout { files: texts, slo_shards: Vec::new() });
    };
    if estimated <= shard::UNSHARDED_LIMIT {
        let text = to_yaml(Component::Rules, SLO_FILE, &slo)?;
        let total = text.len() + texts.values().map(String::len).sum::<usize>();
        if total <= shard::UNSHARDED_LIMIT {
            texts.insert(SLO_FILE.to_owned(), text);
            return Ok(RulesLayout { files: texts, slo_shards: Vec::new() });
        }
    }
    // With thousands of alert overrides the application rules outgrow one object too: their
    // rules (independent alerts) go into the same buckets, as one group per bucket.
    let remaining: usize = texts.values().map(String::len).sum();
    let mut application_pieces = Vec::new();
    if remaining > shard::UNSHARDED_LIMIT
        && let Some(application) = files.remove(APPLICATION_FILE)
    {
        texts.remove(APPLICATION_FILE);
        for rule in application.groups.iter().flat_map(|group| &group.rules) {
            let identity = match rule {
                Rule::Alert(alert) => {
                    format!("{}/{}", alert.alert, alert.labels.get("service").map_or("", String::as_str))
                }
                Rule::Record(record) => record.record.clone(),
            };
            application_pieces.push(Piece::new(&identity, serialize(&identity, rule)?));
        }
    }
    const HEAD: &str = "{\"groups\":[\n";
    const TAIL: &str = "\n]}\n";
    const APPLICATION_OVERHEAD: usize = 64;
    let all: Vec<&Piece> = slo_pieces.iter().chain(&application_pieces).collect();
    let buckets = shard::bucket_count(&all, shard::SHARD_BUDGET, HEAD.len() + TAIL.len() + APPLICATION_OVERHEAD);
    let slo_buckets = shard::distribute(&slo_pieces.iter().collect::<Vec<_>>(), buckets);
    let application_buckets = shard::distribute(&application_pieces.iter().collect::<Vec<_>>(), buckets);
    let slo_shards = slo_buckets
        .into_iter()
        .zip(application_buckets)
        .enumerate()
        .map(|(bucket, (groups, rules))| {
            let mut entries: Vec<String> = groups.iter().map(|piece| piece.text.clone()).collect();
            if !rules.is_empty() {
                let rules: Vec<&str> = rules.iter().map(|piece| piece.text.as_str()).collect();
                entries.push(format!("{{\"name\":\"application-{bucket:04}\",\"rules\":[\n{}\n]}}", rules.join(",\n")));
            }
            format!("{HEAD}{}{TAIL}", entries.join(",\n"))
        })
        .collect();
    Ok(RulesLayout { files: texts, slo_shards })
}

/// Renders the `<stack>-rules` ConfigMap (and its SLO shards when the rules are large).
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    render_layout(stack, layout(stack)?)
}

/// The ConfigMaps of a rules layout.
pub fn render_layout(stack: &ResolvedStack, layout: RulesLayout) -> Result<Vec<DynamicObject>, RenderError> {
    let names = layout.config_map_names(stack);
    let name = object_name(stack, Component::Rules);
    if layout.slo_shards.is_empty() {
        return Ok(vec![into_object(Component::Rules, config_map(stack, Component::Rules, name, layout.files))?]);
    }
    let mut objects = vec![shard::config_map_object(stack, Component::Rules, name, layout.files)?];
    for (bucket, (text, object_name)) in layout.slo_shards.into_iter().zip(names.into_iter().skip(1)).enumerate() {
        let files = BTreeMap::from([(shard::shard_file(SLO_SHARD_STEM, bucket, "yml"), text)]);
        objects.push(shard::config_map_object(stack, Component::Rules, object_name, files)?);
    }
    Ok(objects)
}

/// Seed: Infrastructure Alerts, on cAdvisor, kubelet and kube-state-metrics series, in percent.
fn infrastructure(stack: &ResolvedStack) -> Result<Vec<Rule>, RenderError> {
    let infra = &stack.spec.alerting.rules.infrastructure;
    let field = |key: &str| format!("spec.alerting.rules.infrastructure.{key}.threshold");
    let mut rules = Vec::new();

    for (name, key, threshold) in
        [("HighCPU", "highCpu", &infra.high_cpu), ("CriticalCPU", "criticalCpu", &infra.critical_cpu)]
    {
        if !threshold.enabled {
            continue;
        }
        let value = number(threshold.threshold, &field(key))?;
        let window = window(threshold, DEFAULT_WINDOW);
        let expr = format!(
            "100 * sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{{container!=\"\"}}[{window}])) \
             / sum by (namespace, pod, container) (container_spec_cpu_quota{{container!=\"\"}} / container_spec_cpu_period{{container!=\"\"}}) \
             > {value}"
        );
        rules.push(
            AlertingRule::of_threshold(name, expr, threshold, "cpu").label("service", CONTAINER_AS_SERVICE).annotate(
                format!("CPU above {value}% of the limit in {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}}"),
                format!(
                    "Container {{{{ $labels.container }}}} of {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} uses \
                     {{{{ printf \"%.1f\" $value }}}}% of its CPU limit (threshold {value}%)."
                ),
            ),
        );
    }

    for (name, key, threshold) in
        [("HighMemory", "highMemory", &infra.high_memory), ("OutOfMemory", "outOfMemory", &infra.out_of_memory)]
    {
        if !threshold.enabled {
            continue;
        }
        let value = number(threshold.threshold, &field(key))?;
        // A limit of 0 means none: leave those containers out rather than divide by zero.
        let expr = format!(
            "100 * sum by (namespace, pod, container) (container_memory_working_set_bytes{{container!=\"\"}}) \
             / sum by (namespace, pod, container) (container_spec_memory_limit_bytes{{container!=\"\"}} > 0) \
             > {value}"
        );
        rules.push(
            AlertingRule::of_threshold(name, expr, threshold, "memory").label("service", CONTAINER_AS_SERVICE).annotate(
                format!("Memory above {value}% of the limit in {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}}"),
                format!(
                    "Container {{{{ $labels.container }}}} of {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} uses \
                     {{{{ printf \"%.1f\" $value }}}}% of its memory limit (threshold {value}%)."
                ),
            ),
        );
    }

    let disk = &infra.disk_full;
    if disk.enabled {
        let value = number(disk.threshold, &field("diskFull"))?;
        // `max`: a volume mounted on several nodes is reported by each kubelet.
        let expr = format!(
            "100 * max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes) \
             / max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes) \
             > {value}"
        );
        rules.push(AlertingRule::of_threshold("DiskFull", expr, disk, "disk").annotate(
            format!("Volume {{{{ $labels.namespace }}}}/{{{{ $labels.persistentvolumeclaim }}}} above {value}% full"),
            format!(
                "Volume {{{{ $labels.persistentvolumeclaim }}}} in {{{{ $labels.namespace }}}} is \
                 {{{{ printf \"%.1f\" $value }}}}% full (threshold {value}%)."
            ),
        ));
    }

    let crash = &infra.container_crash;
    if crash.enabled {
        let value = number(crash.threshold, &field("containerCrash"))?;
        let window = window(crash, RESTART_WINDOW);
        // `increase` extrapolates to the window's edges, so 3 restarts inside a 10m window scraped
        // every minute read as 3.33 and would pass `> 3`. Restarts are whole: `floor` drops the
        // extrapolated fraction, and since extrapolation only ever adds, 4 restarts never read below 4.
        let expr = format!(
            "floor(sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total[{window}]))) \
             > {value}"
        );
        rules.push(
            AlertingRule::of_threshold("ContainerCrash", expr, crash, "restarts")
                .label("service", CONTAINER_AS_SERVICE)
                .annotate(
                    format!(
                        "{{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}}: container {{{{ $labels.container }}}} \
                         restarted more than {value} times in {window}"
                    ),
                    format!(
                        "Container {{{{ $labels.container }}}} of {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} \
                         restarted {{{{ $value }}}} times in the last {window} (threshold {value})."
                    ),
                ),
        );
    }
    Ok(rules)
}

/// The application alerts a ServiceMonitor may retune or disable for its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppAlert {
    HighErrorRate,
    CriticalErrorRate,
    HighLatency,
    CriticalLatency,
    NoRequests,
}

impl AppAlert {
    const ALL: [Self; 5] =
        [Self::HighErrorRate, Self::CriticalErrorRate, Self::HighLatency, Self::CriticalLatency, Self::NoRequests];

    /// The alert name, as `spec.alerts.disabled` lists it.
    fn name(self) -> &'static str {
        match self {
            Self::HighErrorRate => "HighErrorRate",
            Self::CriticalErrorRate => "CriticalErrorRate",
            Self::HighLatency => "HighLatency",
            Self::CriticalLatency => "CriticalLatency",
            Self::NoRequests => "NoRequests",
        }
    }

    /// The field of `spec.alerting.rules.application` holding the threshold.
    fn key(self) -> &'static str {
        match self {
            Self::HighErrorRate => "highErrorRate",
            Self::CriticalErrorRate => "criticalErrorRate",
            Self::HighLatency => "highLatency",
            Self::CriticalLatency => "criticalLatency",
            Self::NoRequests => "noRequests",
        }
    }

    fn threshold(self, application: &ApplicationAlerts) -> &AlertThreshold {
        match self {
            Self::HighErrorRate => &application.high_error_rate,
            Self::CriticalErrorRate => &application.critical_error_rate,
            Self::HighLatency => &application.high_latency,
            Self::CriticalLatency => &application.critical_latency,
            Self::NoRequests => &application.no_requests,
        }
    }

    fn signal(self) -> &'static str {
        match self {
            Self::HighErrorRate | Self::CriticalErrorRate => "error_rate",
            Self::HighLatency | Self::CriticalLatency => "latency",
            Self::NoRequests => "traffic",
        }
    }

    /// The monitor's own threshold for this alert, if it sets one.
    fn overridden(self, overrides: &AlertOverrides, monitor: &ResolvedMonitor) -> Result<Option<Decimal>, RenderError> {
        let field = |key: &str| format!("ServiceMonitor {}: spec.alerts.{key}", monitor.key());
        let seconds = |duration: &crate::api::ScrapeDuration, key: &str| {
            duration.to_millis().map(Decimal::from_millis).ok_or_else(|| invalid(field(key), "not a valid duration"))
        };
        Ok(match self {
            Self::HighErrorRate => {
                overrides.error_rate_warning.map(|value| number(value, &field("errorRateWarning"))).transpose()?
            }
            Self::CriticalErrorRate => {
                overrides.error_rate_critical.map(|value| number(value, &field("errorRateCritical"))).transpose()?
            }
            Self::HighLatency => {
                overrides.latency_warning.as_ref().map(|d| seconds(d, "latencyWarning")).transpose()?
            }
            Self::CriticalLatency => {
                overrides.latency_critical.as_ref().map(|d| seconds(d, "latencyCritical")).transpose()?
            }
            Self::NoRequests => None,
        })
    }

    /// Expression, summary and description of the alert over the selected services.
    fn rule(
        self,
        stack: &ResolvedStack,
        selector: &[String],
        value: Decimal,
        window: &str,
    ) -> (String, String, String) {
        let red = &stack.spec.metrics.red;
        match self {
            Self::HighErrorRate | Self::CriticalErrorRate => (
                format!(
                    "100 * sum by (service) (rate({}[{window}])) / sum by (service) (rate({}[{window}])) > {value}",
                    series(&red.failures, selector),
                    series(&red.requests, selector)
                ),
                format!("{{{{ $labels.service }}}}: more than {value}% of requests failing"),
                format!(
                    "{{{{ printf \"%.2f\" $value }}}}% of the requests of {{{{ $labels.service }}}} failed over the \
                     last {window} (threshold {value}%)."
                ),
            ),
            Self::HighLatency | Self::CriticalLatency => (
                format!(
                    "histogram_quantile(0.95, sum by (service, le) (rate({}[{window}]))) > {value}",
                    series(&format!("{}_bucket", red.duration), selector)
                ),
                format!("{{{{ $labels.service }}}}: p95 latency above {value}s"),
                format!(
                    "The p95 latency of {{{{ $labels.service }}}} over the last {window} is \
                     {{{{ $value | humanizeDuration }}}} (threshold {value}s)."
                ),
            ),
            Self::NoRequests => (
                format!(
                    "sum by (service) (increase({}[{window}])) {}",
                    series(&red.requests, selector),
                    at_most(value)
                ),
                "{{ $labels.service }}: no requests".to_owned(),
                format!(
                    "{{{{ $labels.service }}}} received {{{{ $value }}}} requests in the last {window} (alert at \
                     {value} or fewer)."
                ),
            ),
        }
    }
}

/// Monitors with alert overrides, by the `service` label they apply to. When two monitors name
/// the same service, the first (by namespace, then name) wins, so no service is evaluated twice.
fn overrides_by_service(stack: &ResolvedStack) -> BTreeMap<String, (&ResolvedMonitor, &AlertOverrides)> {
    let mut by_service = BTreeMap::new();
    for monitor in &stack.monitors {
        if let Some(overrides) = &monitor.spec.alerts {
            by_service.entry(monitor.service_label()).or_insert((monitor, overrides));
        }
    }
    by_service
}

/// Seed: Application Alerts, per `service` label of the RED metrics, honouring the monitors'
/// overrides: a service with its own threshold gets its own rule, one that disables the alert
/// gets none, and the general rule leaves both out.
fn application(stack: &ResolvedStack) -> Result<Vec<Rule>, RenderError> {
    let application = &stack.spec.alerting.rules.application;
    let overrides = overrides_by_service(stack);
    let mut rules = Vec::new();
    for alert in AppAlert::ALL {
        let threshold = alert.threshold(application);
        if !threshold.enabled {
            continue;
        }
        let field = format!("spec.alerting.rules.application.{}.threshold", alert.key());
        let general = number(threshold.threshold, &field)?;
        let window = window(threshold, DEFAULT_WINDOW);
        let mut excluded = Vec::new();
        let mut own = Vec::new();
        for (service, (monitor, service_overrides)) in &overrides {
            if service_overrides.disabled.iter().any(|name| name == alert.name()) {
                excluded.push(service.clone());
            } else if let Some(value) = alert.overridden(service_overrides, monitor)? {
                excluded.push(service.clone());
                own.push((service.clone(), value));
            }
        }
        let general_selector = if excluded.is_empty() {
            Vec::new()
        } else {
            // Each service as an RE2 literal, before PromQL string quoting.
            let alternatives: Vec<_> = excluded.iter().map(|service| regex_literal(service)).collect();
            vec![format!("service!~{}", quoted(&alternatives.join("|")))]
        };
        let (expr, summary, description) = alert.rule(stack, &general_selector, general, &window);
        rules.push(
            AlertingRule::of_threshold(alert.name(), expr, threshold, alert.signal()).annotate(summary, description),
        );
        for (service, value) in own {
            let selector = vec![format!("service={}", quoted(&service))];
            let (expr, summary, description) = alert.rule(stack, &selector, value, &window);
            rules.push(
                AlertingRule::of_threshold(alert.name(), expr, threshold, alert.signal())
                    .label("service", service)
                    .annotate(summary, description),
            );
        }
    }

    let database = &application.database_down;
    if database.enabled {
        let selector = application.database_selector.trim();
        let expr = format!("up{selector} == 0");
        rules.push(AlertingRule::of_threshold("DatabaseDown", expr, database, "database").annotate(
            "Database target {{ $labels.job }} is down",
            "Prometheus cannot reach {{ $labels.instance }} of {{ $labels.job }}: the database connection failed.",
        ));
    }
    Ok(rules)
}

/// Seed: Business Alerts, on the business metric names of `spec.metrics.business`.
fn business(stack: &ResolvedStack) -> Result<Vec<Rule>, RenderError> {
    let alerts = &stack.spec.alerting.rules.business;
    let metrics = &stack.spec.metrics.business;
    let field = |key: &str| format!("spec.alerting.rules.business.{key}.threshold");
    let mut rules = Vec::new();

    let signups = &alerts.no_signups;
    if signups.enabled {
        let value = number(signups.threshold, &field("noSignups"))?;
        let window = window(signups, "1h");
        let expr = format!("sum(increase({}[{window}])) {}", metrics.signups, at_most(value));
        rules.push(AlertingRule::of_threshold("NoSignups", expr, signups, "signups").annotate(
            format!("No new signups in {window}"),
            format!("{{{{ $value }}}} users signed up in the last {window} (alert at {value} or fewer)."),
        ));
    }

    let payments = &alerts.payment_failures;
    if payments.enabled {
        let value = number(payments.threshold, &field("paymentFailures"))?;
        let window = window(payments, DEFAULT_WINDOW);
        let expr = format!(
            "100 * sum(rate({}[{window}])) / sum(rate({}[{window}])) > {value}",
            metrics.payment_failures, metrics.payments
        );
        rules.push(AlertingRule::of_threshold("PaymentFailures", expr, payments, "payments").annotate(
            format!("More than {value}% of payments failing"),
            format!(
                "{{{{ printf \"%.1f\" $value }}}}% of payments failed over the last {window} (threshold {value}%)."
            ),
        ));
    }

    let churn = &alerts.high_churn;
    if churn.enabled {
        let value = number(churn.threshold, &field("highChurn"))?;
        let window = window(churn, CHURN_WINDOW);
        // Churn: subscriptions cancelled over the period as a share of those active now.
        let expr = format!(
            "100 * sum(increase({}[{window}])) / sum({}) > {value}",
            metrics.cancelled_subscriptions, metrics.active_subscriptions
        );
        rules.push(AlertingRule::of_threshold("HighChurn", expr, churn, "churn").annotate(
            format!("Churn above {value}% over {window}"),
            format!(
                "{{{{ printf \"%.1f\" $value }}}}% of subscriptions were cancelled over the last {window} \
                 (threshold {value}%)."
            ),
        ));
    }
    Ok(rules)
}

/// A counter's name without its `_total` suffix, as recording-rule names write it.
fn base_name(counter: &str) -> &str {
    counter.strip_suffix("_total").unwrap_or(counter)
}

/// RED recording rules per service: request rate, failure rate, error ratio and p50/p95/p99.
fn red(stack: &ResolvedStack) -> Vec<Rule> {
    let red = &stack.spec.metrics.red;
    let (requests, failures) = (base_name(&red.requests), base_name(&red.failures));
    let window = DEFAULT_WINDOW;
    let rate = |metric: &str| format!("sum by (service) (rate({metric}[{window}]))");
    let none = BTreeMap::new();
    let mut rules = vec![
        RecordingRule::new(format!("service:{requests}:rate{window}"), rate(&red.requests)).labels(&none),
        RecordingRule::new(format!("service:{failures}:rate{window}"), rate(&red.failures)).labels(&none),
        RecordingRule::new(
            format!("service:{failures}_per_{requests}:ratio_rate{window}"),
            format!("{} / {}", rate(&red.failures), rate(&red.requests)),
        )
        .labels(&none),
    ];
    for (name, quantile) in RED_QUANTILES {
        rules.push(
            RecordingRule::new(
                format!("service:{}:{name}_rate{window}", red.duration),
                format!(
                    "histogram_quantile({quantile}, sum by (service, le) (rate({}_bucket[{window}])))",
                    red.duration
                ),
            )
            .labels(&none),
        );
    }
    rules
}

/// One service's objectives, from the first monitor that declares an SLO for it.
struct Objective {
    service: String,
    /// Availability in percent, as written (99.95).
    availability: Decimal,
    /// Latency target of the p95, in seconds.
    latency_seconds: Decimal,
    /// Highest error rate as a ratio (0.5% → 0.005).
    error_rate: Decimal,
    /// Share of requests that may fail: the stricter of `1 - availability` and the error rate,
    /// since both bound the same failed/total ratio.
    error_budget: Decimal,
}

/// The two SLOs each service gets burn-rate alerts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SloKind {
    /// Failed requests against the availability (and error-rate) budget.
    Availability,
    /// Requests slower than the latency target against the p95's 5%.
    Latency,
}

impl SloKind {
    const ALL: [Self; 2] = [Self::Availability, Self::Latency];

    fn as_str(self) -> &'static str {
        match self {
            Self::Availability => "availability",
            Self::Latency => "latency",
        }
    }

    fn alert_name(self) -> &'static str {
        match self {
            Self::Availability => "AvailabilityErrorBudgetBurn",
            Self::Latency => "LatencyErrorBudgetBurn",
        }
    }

    fn signal(self) -> &'static str {
        match self {
            Self::Availability => "slo_burn",
            Self::Latency => "slo_latency_burn",
        }
    }

    fn budget(self, objective: &Objective) -> Decimal {
        match self {
            Self::Availability => objective.error_budget,
            Self::Latency => LATENCY_BUDGET,
        }
    }

    /// The SLI over a window: the share of requests that spent the budget.
    fn sli(self, stack: &ResolvedStack, objective: &Objective, window: &str) -> String {
        let red = &stack.spec.metrics.red;
        let service = format!("service={}", quoted(&objective.service));
        match self {
            Self::Availability => format!(
                "sum(rate({}[{window}])) / sum(rate({}[{window}]))",
                series(&red.failures, std::slice::from_ref(&service)),
                series(&red.requests, std::slice::from_ref(&service))
            ),
            // Prometheus 3 stores `le` in OpenMetrics form (`1.0`, `0.1`), whatever the target sends.
            Self::Latency => format!(
                "1 - sum(rate({}[{window}])) / sum(rate({}[{window}]))",
                series(
                    &format!("{}_bucket", red.duration),
                    &[service.clone(), format!("le={}", quoted(&objective.latency_seconds.openmetrics()))]
                ),
                series(&format!("{}_count", red.duration), &[service])
            ),
        }
    }
}

/// Incident level of a burn-rate alert, which the windows give only a severity.
fn burn_incident_level(severity: Severity) -> IncidentLevel {
    match severity {
        Severity::Critical => IncidentLevel::P1,
        Severity::Warning => IncidentLevel::P2,
        Severity::Info => IncidentLevel::P3,
    }
}

/// The services' objectives, in service order.
fn objectives(stack: &ResolvedStack) -> Result<Vec<Objective>, RenderError> {
    let mut by_service: BTreeMap<String, Objective> = BTreeMap::new();
    for monitor in &stack.monitors {
        let Some(slo) = &monitor.spec.slo else { continue };
        let service = monitor.service_label();
        if by_service.contains_key(&service) {
            continue;
        }
        let field = |key: &str| format!("ServiceMonitor {}: spec.slo.{key}", monitor.key());
        let availability = number(slo.availability, &field("availability"))?;
        let unavailable = Decimal::new(100, 0)
            .checked_sub(availability)
            .filter(|rest| !rest.is_zero())
            .ok_or_else(|| invalid(field("availability"), "must be below 100"))?
            .shift(2);
        let error_rate = number(slo.error_rate, &field("errorRate"))?.shift(2);
        let error_budget = match unavailable.checked_cmp(error_rate) {
            Some(Ordering::Greater) if !error_rate.is_zero() => error_rate,
            Some(_) => unavailable,
            None => return Err(invalid(field("errorRate"), "too many digits to compare with the availability")),
        };
        let latency_seconds = slo
            .latency_p95
            .to_millis()
            .filter(|millis| *millis > 0)
            .map(Decimal::from_millis)
            .ok_or_else(|| invalid(field("latencyP95"), "must be a positive duration"))?;
        by_service
            .insert(service.clone(), Objective { service, availability, latency_seconds, error_rate, error_budget });
    }
    Ok(by_service.into_values().collect())
}

/// The windows the burn-rate pairs and the budget period need, shortest first, each spelling once.
fn slo_windows(stack: &ResolvedStack) -> Result<Vec<String>, RenderError> {
    let slos = &stack.spec.slos;
    let mut windows = BTreeMap::new();
    let pairs = slos.burn_rate_windows.iter().enumerate();
    let candidates = pairs
        .flat_map(|(index, pair)| {
            [
                (format!("spec.slos.burnRateWindows[{index}].long"), &pair.long),
                (format!("spec.slos.burnRateWindows[{index}].short"), &pair.short),
            ]
        })
        .chain(std::iter::once(("spec.slos.period".to_owned(), &slos.period)));
    for (field, window) in candidates {
        let millis =
            window.to_millis().filter(|millis| *millis > 0).ok_or_else(|| invalid(field, "must be positive"))?;
        // Keyed by spelling too: the alerts name the record of the window as the spec writes it.
        windows.insert((millis, window.as_str().to_owned()), ());
    }
    Ok(windows.into_keys().map(|(_, spelling)| spelling).collect())
}

/// Name of the recorded SLI over a window.
fn sli_record(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// One long/short window pair of a burn-rate alert, with its factor as a decimal.
struct BurnPair<'a> {
    long: &'a str,
    short: &'a str,
    factor: Decimal,
}

/// The burn-rate pairs grouped by severity, in the order the spec first names each severity:
/// the pairs of one severity are one alert, firing when any of them burns.
fn pairs_by_severity(windows: &[BurnRateWindow]) -> Result<Vec<(Severity, Vec<BurnPair<'_>>)>, RenderError> {
    let mut grouped: Vec<(Severity, Vec<BurnPair>)> = Vec::new();
    for (index, window) in windows.iter().enumerate() {
        let pair = BurnPair {
            long: window.long.as_str(),
            short: window.short.as_str(),
            factor: number(window.factor, &format!("spec.slos.burnRateWindows[{index}].factor"))?,
        };
        match grouped.iter_mut().find(|(severity, _)| *severity == window.severity) {
            Some((_, members)) => members.push(pair),
            None => grouped.push((window.severity, vec![pair])),
        }
    }
    Ok(grouped)
}

/// One group per service with an SLO: SLI records over every window, the error budget left over
/// the SLO period, and (with alerting) multi-window multi-burn-rate alerts per severity, as the
/// Google SRE workbook sets them up: page when both the long and the short window burn faster
/// than the factor.
fn slo_groups(stack: &ResolvedStack) -> Result<Vec<RuleGroup>, RenderError> {
    let slos = &stack.spec.slos;
    let windows = slo_windows(stack)?;
    let period = slos.period.as_str();
    let by_severity = pairs_by_severity(&slos.burn_rate_windows)?;
    let mut groups = Vec::new();
    for objective in objectives(stack)? {
        let service = &objective.service;
        let mut rules = Vec::new();
        for kind in SloKind::ALL {
            let budget = kind.budget(&objective);
            let labels = BTreeMap::from([
                ("service".to_owned(), service.clone()),
                ("slo".to_owned(), kind.as_str().to_owned()),
                ("availability_target".to_owned(), objective.availability.to_string()),
                ("latency_target_seconds".to_owned(), objective.latency_seconds.to_string()),
                ("error_rate_target".to_owned(), objective.error_rate.to_string()),
                ("error_budget".to_owned(), budget.to_string()),
            ]);
            for window in &windows {
                rules.push(RecordingRule::new(sli_record(window), kind.sli(stack, &objective, window)).labels(&labels));
            }
            let selector = [format!("service={}", quoted(service)), format!("slo={}", quoted(kind.as_str()))];
            rules.push(
                RecordingRule::new(
                    "slo:error_budget_remaining:ratio",
                    format!("1 - {} / {budget}", series(&sli_record(period), &selector)),
                )
                .labels(&labels),
            );
        }
        if stack.spec.alerting.enabled {
            for kind in SloKind::ALL {
                let budget = kind.budget(&objective);
                let selector = [format!("service={}", quoted(service)), format!("slo={}", quoted(kind.as_str()))];
                for (severity, pairs) in &by_severity {
                    let mut conditions = Vec::new();
                    let mut spoken = Vec::new();
                    for pair in pairs {
                        let burn = |window: &str| {
                            format!("{} > ({} * {budget})", series(&sli_record(window), &selector), pair.factor)
                        };
                        conditions.push(format!("({} and {})", burn(pair.long), burn(pair.short)));
                        spoken.push(format!("{}x over {} and {}", pair.factor, pair.long, pair.short));
                    }
                    let what = match kind {
                        SloKind::Availability => format!(
                            "failed requests (budget {budget} of requests: availability {}%, error rate {})",
                            objective.availability, objective.error_rate
                        ),
                        SloKind::Latency => format!(
                            "requests slower than {}s (budget {budget}: p95 below {}s)",
                            objective.latency_seconds, objective.latency_seconds
                        ),
                    };
                    rules.push(
                        AlertingRule::new(
                            kind.alert_name(),
                            conditions.join(" or "),
                            *severity,
                            burn_incident_level(*severity),
                            kind.signal(),
                        )
                        .label("service", service.clone())
                        .label("slo", kind.as_str())
                        .annotate(
                            format!("{{{{ $labels.service }}}} is burning its {} error budget", kind.as_str()),
                            format!(
                                "{{{{ $labels.service }}}}: {{{{ $value | humanizePercentage }}}} {what}; burning \
                                 faster than {} of the {period} budget.",
                                spoken.join(", or ")
                            ),
                        ),
                    );
                }
            }
        }
        groups.push(RuleGroup { name: format!("slo-{service}"), rules });
    }
    Ok(groups)
}

/// Seed: Performance Budgets, the p95 of the matching spans of Jaeger's span metrics against
/// each budget, per service.
fn budgets(stack: &ResolvedStack) -> Result<Vec<Rule>, RenderError> {
    let mut rules = Vec::new();
    for (index, budget) in stack.spec.slos.budgets.iter().enumerate() {
        let matchers = budget.span_matchers.trim();
        if matchers.is_empty() {
            return Err(invalid(format!("spec.slos.budgets[{index}].spanMatchers"), "must not be empty"));
        }
        let seconds = Decimal::from_millis(u64::from(budget.threshold_ms));
        let expr = format!(
            "histogram_quantile({LATENCY_QUANTILE}, sum by (service_name, le) \
             (rate({SPAN_DURATION_BUCKET}{{{matchers}}}[{BUDGET_WINDOW}]))) / 1000 > {seconds}"
        );
        rules.push(
            AlertingRule::new("PerformanceBudgetExceeded", expr, Severity::Warning, BUDGET_INCIDENT_LEVEL, "budget")
                .label("budget", budget.name.clone())
                .label("service", "{{ $labels.service_name }}")
                .annotate(
                    format!(
                        "{{{{ $labels.service_name }}}} over the {} budget of {}ms",
                        budget.name, budget.threshold_ms
                    ),
                    format!(
                        "The p95 of the {} spans of {{{{ $labels.service_name }}}} over the last {BUDGET_WINDOW} is \
                         {{{{ $value | humanizeDuration }}}}, above its budget of {}ms.",
                        budget.name, budget.threshold_ms
                    ),
                ),
        );
    }
    Ok(rules)
}

/// A non-negative decimal `coefficient / 10^scale` without trailing zeros, so numbers print the
/// way they are written and derived ratios are exact (f64 arithmetic would print 0.0005 as
/// 0.0004999999999999449).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    coefficient: u128,
    scale: u32,
}

impl Decimal {
    fn new(mut coefficient: u128, mut scale: u32) -> Self {
        while scale > 0 && coefficient.is_multiple_of(10) {
            coefficient /= 10;
            scale -= 1;
        }
        if coefficient == 0 {
            scale = 0;
        }
        Self { coefficient, scale }
    }

    /// The shortest decimal that reads back as this `f64` (`80.0` → `80`, `99.95` → `99.95`).
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        // Rust prints floats in their shortest round-trip form, never in exponent notation.
        Self::parse(&value.to_string())
    }

    /// Parses `digits[.digits]`.
    pub fn parse(text: &str) -> Option<Self> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let coefficient = if digits.is_empty() { 0 } else { digits.parse::<u128>().ok()? };
        Some(Self::new(coefficient, u32::try_from(fraction.len()).ok()?))
    }

    /// Milliseconds as seconds.
    pub fn from_millis(millis: u64) -> Self {
        Self::new(u128::from(millis), 3)
    }

    /// This number divided by `10^places` (percent → ratio is `shift(2)`).
    pub fn shift(self, places: u32) -> Self {
        Self::new(self.coefficient, self.scale.saturating_add(places))
    }

    pub fn is_zero(self) -> bool {
        self.coefficient == 0
    }

    /// Both coefficients at the larger scale, if they fit.
    fn aligned(self, other: Self) -> Option<(u128, u128, u32)> {
        let scale = self.scale.max(other.scale);
        let left = self.coefficient.checked_mul(10u128.checked_pow(scale - self.scale)?)?;
        let right = other.coefficient.checked_mul(10u128.checked_pow(scale - other.scale)?)?;
        Some((left, right, scale))
    }

    /// `self - other`, or `None` below zero or on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let (left, right, scale) = self.aligned(other)?;
        Some(Self::new(left.checked_sub(right)?, scale))
    }

    /// The order of two numbers, or `None` when they are too far apart to align.
    pub fn checked_cmp(self, other: Self) -> Option<Ordering> {
        let (left, right, _) = self.aligned(other)?;
        Some(left.cmp(&right))
    }

    /// The number as Prometheus 3 writes `le` and `quantile` label values: Go's shortest `%g`,
    /// with `.0` added to whole numbers (`3` → `3.0`, `0.1` → `0.1`, `1000000` → `1e+06`).
    pub fn openmetrics(self) -> String {
        if self.is_zero() {
            return "0.0".to_owned();
        }
        let digits = self.coefficient.to_string();
        let exponent = i64::try_from(digits.len()).unwrap_or(i64::MAX) - i64::from(self.scale) - 1;
        if !(-4..6).contains(&exponent) {
            let (first, rest) = digits.trim_end_matches('0').split_at(1);
            let mantissa = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
            let sign = if exponent < 0 { '-' } else { '+' };
            return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
        }
        let plain = self.to_string();
        if plain.contains('.') { plain } else { format!("{plain}.0") }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.coefficient.to_string();
        let scale = usize::try_from(self.scale).map_err(|_| fmt::Error)?;
        if scale == 0 {
            f.write_str(&digits)
        } else if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            write!(f, "{whole}.{fraction}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Duration, Environment, ServiceMonitorSpec};
    use crate::render::fixtures::{machineavatars, minimal};

    fn alerts(stack: &ResolvedStack, file: &str) -> Vec<AlertingRule> {
        let files = rule_files(stack).unwrap();
        let groups = &files.get(file).unwrap_or_else(|| panic!("no {file}")).groups;
        groups
            .iter()
            .flat_map(|group| &group.rules)
            .filter_map(|rule| match rule {
                Rule::Alert(alert) => Some(alert.clone()),
                Rule::Record(_) => None,
            })
            .collect()
    }

    fn records(stack: &ResolvedStack, file: &str) -> Vec<RecordingRule> {
        let files = rule_files(stack).unwrap();
        let groups = &files.get(file).unwrap_or_else(|| panic!("no {file}")).groups;
        groups
            .iter()
            .flat_map(|group| &group.rules)
            .filter_map(|rule| match rule {
                Rule::Record(record) => Some(record.clone()),
                Rule::Alert(_) => None,
            })
            .collect()
    }

    /// The alerts of a name that apply to every service (no fixed `service` label).
    fn general(stack: &ResolvedStack, file: &str, name: &str) -> AlertingRule {
        let matching: Vec<_> = alerts(stack, file)
            .into_iter()
            .filter(|alert| alert.alert == name && alert.labels.get("service").is_none_or(|s| s.starts_with("{{")))
            .collect();
        assert_eq!(matching.len(), 1, "exactly one general {name} in {file}");
        matching[0].clone()
    }

    fn names(stack: &ResolvedStack, file: &str) -> Vec<String> {
        alerts(stack, file).into_iter().map(|alert| alert.alert).collect()
    }

    fn monitor(name: &str, spec: serde_json::Value) -> ResolvedMonitor {
        let mut full = serde_json::json!({"selector": {}, "endpoints": [{"port": "http"}]});
        for (key, value) in spec.as_object().unwrap() {
            full[key] = value.clone();
        }
        let spec: ServiceMonitorSpec = serde_json::from_value(full).unwrap();
        ResolvedMonitor { namespace: "apps".to_owned(), name: name.to_owned(), spec: spec.into(), revision: None }
    }

    fn with_monitors(monitors: Vec<ResolvedMonitor>) -> ResolvedStack {
        let mut stack = minimal(Environment::Production);
        stack.monitors = monitors;
        stack
    }

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn one_config_map_carries_every_rule_file_as_parseable_yaml() {
        let objects = render(&machineavatars()).unwrap();
        assert_eq!(objects.len(), 1);
        let config_map = &objects[0];
        assert_eq!(config_map.types.as_ref().unwrap().kind, "ConfigMap");
        assert_eq!(config_map.metadata.name.as_deref(), Some("machineavatars-rules"));
        assert_eq!(config_map.metadata.namespace.as_deref(), Some("observability"));
        let data = config_map.data["data"].as_object().unwrap();
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [APPLICATION_FILE, BUDGETS_FILE, BUSINESS_FILE, INFRASTRUCTURE_FILE, RED_FILE, SLO_FILE],
            "the contract's six files"
        );
        for (file, text) in data {
            let parsed: serde_json::Value = serde_saphyr::from_str(text.as_str().unwrap()).unwrap();
            let groups = parsed["groups"].as_array().unwrap_or_else(|| panic!("{file} has groups"));
            assert!(!groups.is_empty(), "{file}");
            for group in groups {
                assert!(group["name"].as_str().is_some_and(|name| !name.is_empty()));
                assert!(!group["rules"].as_array().unwrap().is_empty(), "{file}: empty groups are left out");
            }
        }
    }

    #[test]
    fn infrastructure_alerts_carry_the_seed_thresholds() {
        let stack = machineavatars();
        // (alert, comparison, for, severity, incident level, signal)
        let table = [
            ("HighCPU", "> 80", Some("5m"), "warning", "P2", "cpu"),
            ("CriticalCPU", "> 95", Some("2m"), "critical", "P1", "cpu"),
            ("HighMemory", "> 90", Some("5m"), "warning", "P2", "memory"),
            ("OutOfMemory", "> 98", None, "critical", "P1", "memory"),
            ("DiskFull", "> 85", None, "warning", "P2", "disk"),
            ("ContainerCrash", "[10m]))) > 3", None, "critical", "P1", "restarts"),
        ];
        assert_eq!(names(&stack, INFRASTRUCTURE_FILE), table.map(|row| row.0.to_owned()));
        for (name, comparison, for_duration, severity, level, signal) in table {
            let alert = general(&stack, INFRASTRUCTURE_FILE, name);
            assert!(alert.expr.ends_with(comparison), "{name}: {}", alert.expr);
            assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
            assert_eq!(alert.labels["severity"], severity, "{name}");
            assert_eq!(alert.labels["incident_level"], level, "{name}");
            assert_eq!(alert.labels["signal"], signal, "{name}");
        }
        let cpu = general(&stack, INFRASTRUCTURE_FILE, "HighCPU");
        for series in ["container_cpu_usage_seconds_total", "container_spec_cpu_quota", "container_spec_cpu_period"] {
            assert!(cpu.expr.contains(series), "{series}");
        }
        assert!(cpu.expr.starts_with("100 * "), "CPU in percent of the limit");
        assert_eq!(cpu.labels["service"], CONTAINER_AS_SERVICE, "warning and critical pair per container");
        let memory = general(&stack, INFRASTRUCTURE_FILE, "OutOfMemory").expr;
        assert!(
            memory.contains("container_memory_working_set_bytes")
                && memory.contains("container_spec_memory_limit_bytes")
        );
        let disk = general(&stack, INFRASTRUCTURE_FILE, "DiskFull").expr;
        assert!(
            disk.contains("kubelet_volume_stats_used_bytes") && disk.contains("kubelet_volume_stats_capacity_bytes")
        );
        let crash = general(&stack, INFRASTRUCTURE_FILE, "ContainerCrash").expr;
        assert!(crash.contains("increase(kube_pod_container_status_restarts_total[10m])"));
        assert!(crash.starts_with("floor("), "whole restarts, not extrapolated ones: {crash}");
    }

    #[test]
    fn application_alerts_carry_the_seed_thresholds() {
        let stack = minimal(Environment::Production);
        let table = [
            ("HighErrorRate", "> 5", Some("5m"), "warning", "P2", "error_rate"),
            ("CriticalErrorRate", "> 20", Some("2m"), "critical", "P1", "error_rate"),
            ("HighLatency", "> 3", Some("5m"), "warning", "P2", "latency"),
            ("CriticalLatency", "> 10", Some("2m"), "critical", "P1", "latency"),
            ("NoRequests", "== 0", Some("5m"), "warning", "P2", "traffic"),
            ("DatabaseDown", "== 0", Some("1m"), "critical", "P0", "database"),
        ];
        assert_eq!(names(&stack, APPLICATION_FILE), table.map(|row| row.0.to_owned()));
        for (name, comparison, for_duration, severity, level, signal) in table {
            let alert = general(&stack, APPLICATION_FILE, name);
            assert!(alert.expr.ends_with(comparison), "{name}: {}", alert.expr);
            assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
            assert_eq!(alert.labels["severity"], severity, "{name}");
            assert_eq!(alert.labels["incident_level"], level, "{name}");
            assert_eq!(alert.labels["signal"], signal, "{name}");
        }
        assert_eq!(
            general(&stack, APPLICATION_FILE, "HighErrorRate").expr,
            "100 * sum by (service) (rate(http_requests_failed_total[5m])) / sum by (service) \
             (rate(http_requests_total[5m])) > 5"
        );
        assert_eq!(
            general(&stack, APPLICATION_FILE, "CriticalLatency").expr,
            "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m]))) > 10"
        );
        assert_eq!(
            general(&stack, APPLICATION_FILE, "NoRequests").expr,
            "sum by (service) (increase(http_requests_total[5m])) == 0"
        );
        assert_eq!(
            general(&stack, APPLICATION_FILE, "DatabaseDown").expr,
            r#"up{job=~".*(mongodb|cosmos|milvus).*"} == 0"#
        );
    }

    #[test]
    fn overridable_alerts_are_the_ones_validation_accepts() {
        assert_eq!(AppAlert::ALL.map(AppAlert::name), crate::validate::OVERRIDABLE_ALERTS);
    }

    #[test]
    fn business_alerts_carry_the_seed_thresholds() {
        let stack = machineavatars();
        let table = [
            ("NoSignups", "sum(increase(user_signups_total[1h])) == 0", "warning", "P3", "signups", None),
            (
                "PaymentFailures",
                "100 * sum(rate(payments_failed_total[15m])) / sum(rate(payments_total[15m])) > 10",
                "critical",
                "P1",
                "payments",
                Some("5m"),
            ),
            (
                "HighChurn",
                "100 * sum(increase(subscriptions_cancelled_total[30d])) / sum(subscriptions_active) > 5",
                "warning",
                "P3",
                "churn",
                None,
            ),
        ];
        assert_eq!(names(&stack, BUSINESS_FILE), table.map(|row| row.0.to_owned()));
        for (name, expr, severity, level, signal, for_duration) in table {
            let alert = general(&stack, BUSINESS_FILE, name);
            assert_eq!(alert.expr, expr, "{name}");
            assert_eq!(alert.labels["severity"], severity, "{name}");
            assert_eq!(alert.labels["incident_level"], level, "{name}");
            assert_eq!(alert.labels["signal"], signal, "{name}");
            assert_eq!(alert.for_duration.as_deref(), for_duration, "{name}");
        }
    }

    #[test]
    fn thresholds_windows_and_durations_follow_the_spec() {
        let mut stack = minimal(Environment::Staging);
        let infra = &mut stack.spec.alerting.rules.infrastructure;
        infra.high_cpu.threshold = 85.5;
        infra.high_cpu.for_duration = Some(Duration::from("10m"));
        infra.high_cpu.window = Some(Duration::from("2m"));
        infra.out_of_memory.for_duration = Some(Duration::from("1m"));
        infra.container_crash.window = Some(Duration::from("15m"));
        infra.container_crash.threshold = 5.0;
        stack.spec.alerting.rules.application.critical_latency.threshold = 7.25;
        stack.spec.alerting.rules.business.no_signups.threshold = 2.0;
        stack.spec.metrics.business.signups = "signups_total".to_owned();
        stack.spec.alerting.rules.application.database_selector = r#"{job="postgres"}"#.to_owned();

        let cpu = general(&stack, INFRASTRUCTURE_FILE, "HighCPU");
        assert!(cpu.expr.contains("[2m]") && cpu.expr.ends_with("> 85.5"), "{}", cpu.expr);
        assert_eq!(cpu.for_duration.as_deref(), Some("10m"));
        assert_eq!(general(&stack, INFRASTRUCTURE_FILE, "OutOfMemory").for_duration.as_deref(), Some("1m"));
        assert!(general(&stack, INFRASTRUCTURE_FILE, "ContainerCrash").expr.ends_with("[15m]))) > 5"));
        assert!(general(&stack, APPLICATION_FILE, "CriticalLatency").expr.ends_with("> 7.25"));
        assert_eq!(general(&stack, BUSINESS_FILE, "NoSignups").expr, "sum(increase(signups_total[1h])) <= 2");
        assert_eq!(general(&stack, APPLICATION_FILE, "DatabaseDown").expr, r#"up{job="postgres"} == 0"#);
    }

    #[test]
    fn monitor_overrides_get_their_own_rule_and_leave_the_general_one() {
        let stack = machineavatars();
        let rules = alerts(&stack, APPLICATION_FILE);
        let high_error: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighErrorRate").collect();
        assert_eq!(high_error.len(), 2);
        assert!(high_error[0].expr.contains(r#"http_requests_failed_total{service!~"llm-service"}"#));
        assert!(high_error[0].expr.ends_with("> 5"));
        assert_eq!(high_error[1].labels["service"], "llm-service");
        assert!(high_error[1].expr.contains(r#"http_requests_failed_total{service="llm-service"}"#));
        assert!(high_error[1].expr.ends_with("> 7.5"), "errorRateWarning: 7.5");
        assert_eq!(high_error[1].labels["severity"], "warning");
        assert_eq!(high_error[1].for_duration.as_deref(), Some("5m"), "the override keeps the stack's for");

        let high_latency: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighLatency").collect();
        assert_eq!(high_latency.len(), 2);
        assert!(high_latency[0].expr.contains(r#"{service!~"llm-service"}"#) && high_latency[0].expr.ends_with("> 3"));
        assert!(high_latency[1].expr.contains(r#"{service="llm-service"}"#) && high_latency[1].expr.ends_with("> 4"));

        // Not overridden: one rule for every service.
        for name in ["CriticalErrorRate", "CriticalLatency", "NoRequests"] {
            let all: Vec<_> = rules.iter().filter(|alert| alert.alert == name).collect();
            assert_eq!(all.len(), 1, "{name}");
            assert!(!all[0].expr.contains("service=") && !all[0].expr.contains("service!~"), "{name}: {}", all[0].expr);
        }
    }

    #[test]
    fn disabled_alerts_leave_the_service_out_without_a_rule_of_its_own() {
        let stack = with_monitors(vec![
            monitor(
                "api",
                serde_json::json!({"slo": {"service": "api.v2", "availability": 99.9, "latencyP95": "300ms", "errorRate": 1},
                    "alerts": {"disabled": ["NoRequests", "HighLatency"], "latencyCritical": "15s"}}),
            ),
            monitor("batch", serde_json::json!({"alerts": {"disabled": ["NoRequests"], "errorRateCritical": 30}})),
            monitor("web", serde_json::json!({})),
        ]);
        let rules = alerts(&stack, APPLICATION_FILE);
        let of = |name: &str| rules.iter().filter(|alert| alert.alert == name).cloned().collect::<Vec<_>>();

        let no_requests = of("NoRequests");
        assert_eq!(no_requests.len(), 1);
        // `.` is escaped for RE2 and its backslash for the PromQL string.
        assert!(
            no_requests[0].expr.contains(r#"http_requests_total{service!~"api\\.v2|batch"}"#),
            "{}",
            no_requests[0].expr
        );

        let high_latency = of("HighLatency");
        assert_eq!(high_latency.len(), 1, "disabled, so no rule of its own");
        assert!(high_latency[0].expr.contains(r#"{service!~"api\\.v2"}"#));

        let critical_latency = of("CriticalLatency");
        assert_eq!(critical_latency.len(), 2);
        assert!(
            critical_latency[1].expr.contains(r#"{service="api.v2"}"#) && critical_latency[1].expr.ends_with("> 15")
        );

        let critical_errors = of("CriticalErrorRate");
        assert_eq!(critical_errors.len(), 2);
        assert!(critical_errors[0].expr.contains(r#"{service!~"batch"}"#));
        assert!(critical_errors[1].expr.contains(r#"{service="batch"}"#) && critical_errors[1].expr.ends_with("> 30"));
        assert_eq!(of("HighErrorRate").len(), 1);
    }

    #[test]
    fn no_service_is_evaluated_twice_by_the_same_alert() {
        let stack = with_monitors(vec![
            monitor("a", serde_json::json!({"alerts": {"errorRateWarning": 10, "latencyWarning": "5s"}})),
            monitor("b", serde_json::json!({"alerts": {"errorRateWarning": 8, "disabled": ["HighLatency"]}})),
            // Same service label as `a` through its SLO: the first monitor wins, one rule only.
            monitor(
                "c",
                serde_json::json!({"slo": {"service": "a", "availability": 99, "latencyP95": "1s", "errorRate": 1},
                "alerts": {"errorRateWarning": 12}}),
            ),
        ]);
        let rules = alerts(&stack, APPLICATION_FILE);
        for name in AppAlert::ALL.map(AppAlert::name) {
            let of_name: Vec<_> = rules.iter().filter(|alert| alert.alert == name).collect();
            let general: Vec<_> = of_name.iter().filter(|alert| !alert.labels.contains_key("service")).collect();
            assert_eq!(general.len(), 1, "{name}");
            let mut own: Vec<&str> =
                of_name.iter().filter_map(|alert| alert.labels.get("service")).map(String::as_str).collect();
            let count = own.len();
            own.dedup();
            assert_eq!(own.len(), count, "{name}: one rule per service");
            for service in own {
                assert!(
                    general[0].expr.contains("service!~\"") && general[0].expr.contains(service),
                    "{name}: the general rule leaves {service} out: {}",
                    general[0].expr
                );
            }
        }
        let high_error: Vec<_> = rules.iter().filter(|alert| alert.alert == "HighErrorRate").collect();
        assert_eq!(high_error.len(), 3);
        assert!(high_error[1].expr.ends_with("> 10"), "monitor a, not c, sets service a");
    }

    #[test]
    fn disabled_thresholds_render_no_rule_and_empty_files_are_left_out() {
        let mut stack = minimal(Environment::Production);
        let rules = &mut stack.spec.alerting.rules;
        rules.infrastructure.high_cpu.enabled = false;
        rules.application.database_down.enabled = false;
        rules.application.high_error_rate.enabled = false;
        rules.business.no_signups.enabled = false;
        rules.business.payment_failures.enabled = false;
        rules.business.high_churn.enabled = false;
        assert_eq!(
            names(&stack, INFRASTRUCTURE_FILE),
            ["CriticalCPU", "HighMemory", "OutOfMemory", "DiskFull", "ContainerCrash"]
        );
        assert_eq!(
            names(&stack, APPLICATION_FILE),
            ["CriticalErrorRate", "HighLatency", "CriticalLatency", "NoRequests"]
        );
        assert!(!rule_files(&stack).unwrap().contains_key(BUSINESS_FILE));
    }

    #[test]
    fn without_alerting_only_records_remain() {
        let mut stack = machineavatars();
        stack.spec.alerting.enabled = false;
        let files = rule_files(&stack).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), [RED_FILE, SLO_FILE]);
        for file in files.values() {
            for rule in file.groups.iter().flat_map(|group| &group.rules) {
                assert!(matches!(rule, Rule::Record(_)), "alerts need alerting.enabled");
            }
        }
        assert_eq!(records(&stack, SLO_FILE).len(), records(&machineavatars(), SLO_FILE).len());
    }

    #[test]
    fn slo_and_budget_files_follow_their_toggles() {
        let mut stack = machineavatars();
        stack.spec.slos.enabled = false;
        let files = rule_files(&stack).unwrap();
        assert!(!files.contains_key(SLO_FILE) && !files.contains_key(BUDGETS_FILE));
        assert!(files.contains_key(RED_FILE) && files.contains_key(APPLICATION_FILE));

        let mut stack = machineavatars();
        stack.spec.tracing.enabled = false;
        let files = rule_files(&stack).unwrap();
        assert!(files.contains_key(SLO_FILE) && !files.contains_key(BUDGETS_FILE), "no span metrics without Jaeger");

        let mut stack = machineavatars();
        stack.spec.slos.budgets.clear();
        assert!(!rule_files(&stack).unwrap().contains_key(BUDGETS_FILE));

        // No monitor with an SLO: nothing to record.
        assert!(!rule_files(&minimal(Environment::Production)).unwrap().contains_key(SLO_FILE));
    }

    #[test]
    fn red_records_use_the_configured_metric_names() {
        let stack = machineavatars();
        let red = records(&stack, RED_FILE);
        let table = [
            ("service:http_requests:rate5m", "sum by (service) (rate(http_requests_total[5m]))"),
            ("service:http_requests_failed:rate5m", "sum by (service) (rate(http_requests_failed_total[5m]))"),
            (
                "service:http_requests_failed_per_http_requests:ratio_rate5m",
                "sum by (service) (rate(http_requests_failed_total[5m])) / sum by (service) (rate(http_requests_total[5m]))",
            ),
            (
                "service:http_request_duration_seconds:p50_rate5m",
                "histogram_quantile(0.5, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
            ),
            (
                "service:http_request_duration_seconds:p95_rate5m",
                "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
            ),
            (
                "service:http_request_duration_seconds:p99_rate5m",
                "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
            ),
        ];
        assert_eq!(red.iter().map(|r| (r.record.as_str(), r.expr.as_str())).collect::<Vec<_>>(), table);

        let mut renamed = minimal(Environment::Development);
        renamed.spec.metrics.red.requests = "api_calls_total".to_owned();
        renamed.spec.metrics.red.failures = "api_errors".to_owned();
        renamed.spec.metrics.red.duration = "api_latency_seconds".to_owned();
        let red = records(&renamed, RED_FILE);
        assert_eq!(red[0].record, "service:api_calls:rate5m");
        assert_eq!(red[2].record, "service:api_errors_per_api_calls:ratio_rate5m");
        assert!(red[4].expr.contains("api_latency_seconds_bucket"));
    }

    #[test]
    fn slo_math_for_each_seed_service() {
        let stack = machineavatars();
        // (service, availability, latency s, error rate ratio, availability budget, latency `le`)
        let table = [
            ("gateway", "99.95", "0.1", "0.005", "0.0005", "0.1"),
            ("auth-service", "99.9", "0.2", "0.01", "0.001", "0.2"),
            ("response-3d", "99.5", "3", "0.02", "0.005", "3.0"),
            ("response-text", "99.7", "1", "0.015", "0.003", "1.0"),
            ("llm-service", "99", "2", "0.05", "0.01", "2.0"),
        ];
        let records = records(&stack, SLO_FILE);
        let alerts = alerts(&stack, SLO_FILE);
        for (service, availability, latency, error_rate, budget, le) in table {
            let mine: Vec<_> = records.iter().filter(|record| record.labels["service"] == service).collect();
            assert_eq!(mine.len(), 2 * 9, "{service}: 8 windows + budget left, for availability and latency");
            for record in &mine {
                assert_eq!(record.labels["availability_target"], availability, "{service}");
                assert_eq!(record.labels["latency_target_seconds"], latency, "{service}");
                assert_eq!(record.labels["error_rate_target"], error_rate, "{service}");
            }
            let availability_1h = mine
                .iter()
                .find(|r| r.record == "slo:sli_error:ratio_rate1h" && r.labels["slo"] == "availability")
                .unwrap();
            assert_eq!(availability_1h.labels["error_budget"], budget);
            assert_eq!(
                availability_1h.expr,
                format!(
                    "sum(rate(http_requests_failed_total{{service=\"{service}\"}}[1h])) / \
                     sum(rate(http_requests_total{{service=\"{service}\"}}[1h]))"
                )
            );
            let latency_1h =
                mine.iter().find(|r| r.record == "slo:sli_error:ratio_rate1h" && r.labels["slo"] == "latency").unwrap();
            assert_eq!(latency_1h.labels["error_budget"], "0.05");
            assert_eq!(
                latency_1h.expr,
                format!(
                    "1 - sum(rate(http_request_duration_seconds_bucket{{service=\"{service}\", le=\"{le}\"}}[1h])) / \
                     sum(rate(http_request_duration_seconds_count{{service=\"{service}\"}}[1h]))"
                )
            );
            let remaining = mine
                .iter()
                .find(|r| r.record == "slo:error_budget_remaining:ratio" && r.labels["slo"] == "availability")
                .unwrap();
            assert_eq!(
                remaining.expr,
                format!("1 - slo:sli_error:ratio_rate30d{{service=\"{service}\", slo=\"availability\"}} / {budget}")
            );

            let page = alerts
                .iter()
                .find(|a| {
                    a.alert == "AvailabilityErrorBudgetBurn"
                        && a.labels["service"] == service
                        && a.labels["severity"] == "critical"
                })
                .unwrap();
            let selector = format!("{{service=\"{service}\", slo=\"availability\"}}");
            assert_eq!(
                page.expr,
                format!(
                    "(slo:sli_error:ratio_rate1h{selector} > (14.4 * {budget}) and slo:sli_error:ratio_rate5m{selector} > (14.4 * {budget})) \
                     or (slo:sli_error:ratio_rate6h{selector} > (6 * {budget}) and slo:sli_error:ratio_rate30m{selector} > (6 * {budget}))"
                )
            );
            assert_eq!(page.labels["incident_level"], "P1");
            assert_eq!(page.labels["signal"], "slo_burn");
            assert_eq!(page.for_duration, None, "the short window does the confirming");
            let ticket = alerts
                .iter()
                .find(|a| {
                    a.alert == "AvailabilityErrorBudgetBurn"
                        && a.labels["service"] == service
                        && a.labels["severity"] == "warning"
                })
                .unwrap();
            assert!(ticket.expr.contains(&format!("ratio_rate1d{selector} > (3 * {budget})")));
            assert!(ticket.expr.contains(&format!("ratio_rate6h{selector} > (1 * {budget})")));
            assert_eq!(ticket.labels["incident_level"], "P2");
            let latency_page = alerts
                .iter()
                .find(|a| {
                    a.alert == "LatencyErrorBudgetBurn"
                        && a.labels["service"] == service
                        && a.labels["severity"] == "critical"
                })
                .unwrap();
            assert!(latency_page.expr.contains("> (14.4 * 0.05)"));
            assert_eq!(latency_page.labels["signal"], "slo_latency_burn");
        }
        assert_eq!(alerts.len(), 5 * 2 * 2, "per service: availability and latency, critical and warning");
    }

    #[test]
    fn a_stricter_error_rate_objective_sets_the_availability_budget() {
        let stack = with_monitors(vec![monitor(
            "api",
            serde_json::json!({"slo": {"availability": 99, "latencyP95": "1500ms", "errorRate": 0.25}}),
        )]);
        let records = records(&stack, SLO_FILE);
        let availability = records.iter().find(|r| r.labels["slo"] == "availability").unwrap();
        assert_eq!(availability.labels["service"], "api", "the monitor name when the SLO names no service");
        assert_eq!(availability.labels["error_budget"], "0.0025", "0.25% beats 1% unavailability");
        assert_eq!(availability.labels["latency_target_seconds"], "1.5");
        let latency = records.iter().find(|r| r.labels["slo"] == "latency").unwrap();
        assert!(latency.expr.contains(r#"le="1.5""#));
    }

    #[test]
    fn burn_rate_windows_follow_the_spec() {
        let mut stack = with_monitors(vec![monitor(
            "api",
            serde_json::json!({"slo": {"availability": 99.9, "latencyP95": "1s", "errorRate": 1}}),
        )]);
        stack.spec.slos.period = Duration::from("28d");
        stack.spec.slos.burn_rate_windows = vec![BurnRateWindow {
            long: Duration::from("90m"),
            short: Duration::from("10m"),
            factor: 2.5,
            severity: Severity::Info,
        }];
        let windows: Vec<String> = records(&stack, SLO_FILE)
            .into_iter()
            .filter(|r| r.labels["slo"] == "availability")
            .map(|r| r.record)
            .collect();
        assert_eq!(
            windows,
            [
                "slo:sli_error:ratio_rate10m",
                "slo:sli_error:ratio_rate90m",
                "slo:sli_error:ratio_rate28d",
                "slo:error_budget_remaining:ratio"
            ]
        );
        let alerts = alerts(&stack, SLO_FILE);
        assert_eq!(alerts.len(), 2);
        assert_eq!(
            alerts[0].expr,
            r#"(slo:sli_error:ratio_rate90m{service="api", slo="availability"} > (2.5 * 0.001) and slo:sli_error:ratio_rate10m{service="api", slo="availability"} > (2.5 * 0.001))"#
        );
        assert_eq!(alerts[0].labels["severity"], "info");
        assert_eq!(alerts[0].labels["incident_level"], "P3");
    }

    #[test]
    fn budgets_compare_the_span_p95_in_seconds() {
        let stack = machineavatars();
        let budgets = alerts(&stack, BUDGETS_FILE);
        let table = [
            ("gateway-routing", "0.05", r#"service_name="gateway", span_kind="SPAN_KIND_SERVER""#),
            ("database-query", "0.1", r#"db_system=~"mongodb|cosmosdb""#),
            ("milvus-search", "0.05", r#"db_system="milvus""#),
            ("llm-api-call", "2", r#"span_name=~"(?i).*llm.*""#),
            ("tts-generation", "0.5", r#"span_name=~"(?i).*tts.*""#),
            ("total", "3", r#"span_kind="SPAN_KIND_SERVER", service_name=~"gateway|response-3d|response-text""#),
        ];
        assert_eq!(budgets.len(), table.len());
        for (alert, (name, seconds, matchers)) in budgets.iter().zip(table) {
            assert_eq!(alert.alert, "PerformanceBudgetExceeded");
            assert_eq!(
                alert.expr,
                format!(
                    "histogram_quantile(0.95, sum by (service_name, le) \
                     (rate(traces_span_metrics_duration_milliseconds_bucket{{{matchers}}}[5m]))) / 1000 > {seconds}"
                )
            );
            assert_eq!(alert.labels["budget"], name);
            assert_eq!(alert.labels["signal"], "budget");
            assert_eq!(alert.labels["severity"], "warning");
            assert_eq!(alert.labels["incident_level"], "P3");
            assert_eq!(alert.labels["service"], "{{ $labels.service_name }}");
            assert_eq!(alert.for_duration, None);
        }
    }

    #[test]
    fn every_alert_carries_the_contract_labels_and_annotations() {
        let stack = machineavatars();
        let mut count = 0;
        for file in [INFRASTRUCTURE_FILE, APPLICATION_FILE, BUSINESS_FILE, SLO_FILE, BUDGETS_FILE] {
            for alert in alerts(&stack, file) {
                count += 1;
                let what = format!("{file}: {}", alert.alert);
                assert!(["info", "warning", "critical"].contains(&alert.labels["severity"].as_str()), "{what}");
                assert!(["P0", "P1", "P2", "P3"].contains(&alert.labels["incident_level"].as_str()), "{what}");
                let signal = &alert.labels["signal"];
                assert!(!signal.is_empty() && signal.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{what}");
                // Business alerts are over the whole platform: no labels to name.
                let summary = &alert.annotations["summary"];
                assert!(file == BUSINESS_FILE || summary.contains("{{ $labels."), "{what}: summary names what");
                let description = &alert.annotations["description"];
                assert!(description.contains("$value") || description.contains("$labels"), "{what}: templated");
                assert!(!description.contains("{{{") && !description.contains("}}}"), "{what}: {description}");
            }
        }
        assert_eq!(count, 6 + 8 + 3 + 20 + 6);
    }

    #[test]
    fn expressions_are_balanced_and_numbers_have_no_float_noise() {
        let stack = machineavatars();
        for file in rule_files(&stack).unwrap().values() {
            for rule in file.groups.iter().flat_map(|group| &group.rules) {
                let expr = match rule {
                    Rule::Record(record) => &record.expr,
                    Rule::Alert(alert) => &alert.expr,
                };
                for (open, close) in [('(', ')'), ('{', '}'), ('[', ']')] {
                    let mut depth = 0i32;
                    for character in expr.chars() {
                        depth += i32::from(character == open) - i32::from(character == close);
                        assert!(depth >= 0, "{expr}");
                    }
                    assert_eq!(depth, 0, "{expr}");
                }
                assert_eq!(expr.matches('"').count() % 2, 0, "{expr}");
                assert!(!expr.contains(".0 ") && !expr.ends_with(".0") && !expr.contains("0000000"), "{expr}");
            }
        }
    }

    #[test]
    fn rendering_is_deterministic_and_independent_of_monitor_order() {
        let stack = machineavatars();
        let first = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
        let second = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
        assert_eq!(first, second);
        let mut reversed = stack.clone();
        reversed.monitors.reverse();
        assert_eq!(crate::render::objects_to_yaml(&render(&reversed).unwrap()).unwrap(), first);
    }

    #[test]
    fn invalid_numbers_are_errors_naming_the_field() {
        let mut stack = minimal(Environment::Production);
        stack.spec.alerting.rules.infrastructure.disk_full.threshold = f64::NAN;
        let error = rule_files(&stack).unwrap_err().to_string();
        assert!(error.contains("spec.alerting.rules.infrastructure.diskFull.threshold"), "{error}");

        let stack = with_monitors(vec![monitor(
            "api",
            serde_json::json!({"slo": {"availability": 100, "latencyP95": "1s", "errorRate": 1}}),
        )]);
        let error = rule_files(&stack).unwrap_err().to_string();
        assert!(error.contains("ServiceMonitor apps/api: spec.slo.availability"), "{error}");
    }

    #[test]
    fn decimals_print_exactly() {
        let decimal = |value: f64| Decimal::from_f64(value).unwrap();
        assert_eq!(decimal(80.0).to_string(), "80");
        assert_eq!(decimal(0.0).to_string(), "0");
        assert_eq!(decimal(7.5).to_string(), "7.5");
        assert_eq!(decimal(99.0).to_string(), "99");
        assert_eq!(decimal(1e9).to_string(), "1000000000");
        assert_eq!(decimal(0.0001).to_string(), "0.0001");
        // Percent → ratio without float noise (0.5 / 100 in f64 is 0.005, 1.5 / 100 is 0.015000000000000001).
        assert_eq!(decimal(0.5).shift(2).to_string(), "0.005");
        assert_eq!(decimal(1.5).shift(2).to_string(), "0.015");
        assert_eq!(decimal(5.0).shift(2).to_string(), "0.05");
        // Availability → error budget (1 - 0.9995 in f64 is 0.0004999999999999449).
        for (availability, budget) in [
            (99.95, "0.0005"),
            (99.9, "0.001"),
            (99.5, "0.005"),
            (99.7, "0.003"),
            (99.0, "0.01"),
            (99.9999, "0.000001"),
        ] {
            let rest = Decimal::new(100, 0).checked_sub(decimal(availability)).unwrap().shift(2);
            assert_eq!(rest.to_string(), budget, "{availability}");
        }
        assert_eq!(Decimal::from_millis(50).to_string(), "0.05");
        assert_eq!(Decimal::from_millis(2000).to_string(), "2");
        assert_eq!(Decimal::from_millis(1500).to_string(), "1.5");
        assert_eq!(Decimal::from_millis(0).to_string(), "0");
        assert_eq!(decimal(0.5).checked_cmp(decimal(0.25)), Some(Ordering::Greater));
        assert_eq!(decimal(2.0).checked_sub(decimal(2.5)), None);
        assert_eq!(Decimal::parse("007.500"), Some(decimal(7.5)));
        for bad in ["", ".5", "1e5", "-1", "1.2.3", "x"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Decimal::from_f64(f64::INFINITY), None);
        assert_eq!(Decimal::from_f64(-1.0), None);
    }

    #[test]
    fn le_values_are_written_as_prometheus_3_stores_them() {
        // Go's strconv.FormatFloat(f, 'g', -1, 64), plus ".0" for whole numbers.
        for (millis, le) in [
            (100, "0.1"),
            (3000, "3.0"),
            (1000, "1.0"),
            (250, "0.25"),
            (1, "0.001"),
            (100_000_000, "100000.0"),
            (1_000_000_000, "1e+06"),
            (1_500_000_000, "1.5e+06"),
            (0, "0.0"),
        ] {
            assert_eq!(Decimal::from_millis(millis).openmetrics(), le, "{millis}ms");
        }
        assert_eq!(Decimal::parse("0.00001").unwrap().openmetrics(), "1e-05");
        assert_eq!(Decimal::parse("0.0001").unwrap().openmetrics(), "0.0001");
    }
}
