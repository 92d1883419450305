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

use std::collections::BTreeMap;

use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{config_map, into_object, object_name, to_yaml};
use super::shard::{self, Piece};
use super::{Component, RenderError};
use crate::api::AlertThreshold;
use crate::resolve::ResolvedStack;

mod alerts;
mod decimal;
mod model;
mod slo;
pub mod table;

pub use decimal::Decimal;
pub use model::{AlertingRule, RecordingRule, Rule, RuleFile, RuleGroup};
use table::Table;

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
        for table in Table::ALL {
            add(
                table.file(),
                vec![RuleGroup { name: table.key().to_owned(), rules: alerts::table_rules(stack, table)? }],
            );
        }
    }
    add(RED_FILE, vec![RuleGroup { name: "red".to_owned(), rules: slo::red(stack) }]);
    if spec.slos.enabled {
        add(SLO_FILE, slo::slo_groups(stack)?);
        if alerting && spec.tracing.enabled {
            add(BUDGETS_FILE, vec![RuleGroup { name: "performance-budgets".to_owned(), rules: slo::budgets(stack)? }]);
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

#[cfg(test)]
mod tests;
