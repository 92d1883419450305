//! Prometheus rule files: the seed's infrastructure, application and business alerts, the RED
//! recording rules, SLO recording rules with multi-window multi-burn-rate alerts, and the
//! performance budgets on Jaeger's span metrics.
//!
//! The rule files go into one ConfigMap, `<stack>-rules`, one key per rule file (large stacks
//! add SLO shards, see [`super::layout`]); Prometheus mounts them at `/etc/prometheus/rules`, loads
//! `*.yml` and its config reloader picks changes up in place. The document's alert tables are data
//! in [`table`].
//!
//! What the toggles render (records describe, alerts page; only alerts need Alertmanager):
//! - metrics on (the component itself): `red.yml`, the RED recording rules;
//! - `alerting.enabled`: `infrastructure.yml`, `application.yml`, `business.yml`,
//!   `self-monitoring.yml` (the Watchdog and the stack's own failures, each only with the
//!   component it watches), the burn-rate alerts inside `slo.yml` and `budgets.yml`;
//! - `slos.enabled`: `slo.yml` (SLI and error-budget records, plus the burn-rate alerts when
//!   alerting is on) and `budgets.yml` (also needs tracing, whose span metrics it reads);
//! - a threshold with `enabled: false` renders no rule, and a file without rules is left out.
//!
//! Every alert carries a `channels` label (`email,slack`, or `none`), which Alertmanager routes on:
//! the alert's own channels, the document's Channel column, or the severity policy (see
//! [`crate::api::RoutingSpec`]).
//!
//! Numbers are written the way people write them (`> 80`, not `> 80.0`): thresholds keep the
//! shortest form of the spec's value, and every derived number (percent → ratio, milliseconds →
//! seconds, availability → error budget) is computed in decimal arithmetic, so 99.95% gives an
//! error budget of exactly `0.0005`. Expressions compare plain series with literal thresholds so
//! `promtool test rules` can check each one on both sides of its threshold.
//!
//! SLOs: the availability SLI is failed/total requests against the stricter of `1 - availability`
//! and the error-rate objective; the latency SLI is the share of requests above the p95 target,
//! read from the histogram bucket whose `le` is the SLO's `latencyBucket` (default: the target;
//! the monitor's declared buckets must hold it, which the rule-source check reports), or with
//! `histogram_fraction` at the target itself when the service's histogram is native and the stack
//! ingests native histograms; against the p95's 5%. Each gets records over every window the burn-rate pairs and the
//! SLO period need, the error budget left over the period, and one alert per severity.

use std::collections::BTreeMap;

use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{object_name, to_yaml};
use super::layout::{FileSet, GrowingFile, Overflow, ShardFormat, Sizing};
use super::shard::Piece;
use super::{Component, RenderError};
use crate::api::AlertThreshold;
use crate::resolve::ResolvedStack;

mod alerts;
mod decimal;
mod model;
mod slo;
pub(crate) mod table;

pub use decimal::Decimal;
pub use model::{AlertingRule, CHANNELS_LABEL, NO_CHANNEL, RecordingRule, Rule, RuleFile, RuleGroup, channels_label};
pub(crate) use slo::{ERROR_BUDGET_REMAINING_RECORD, sli_record};
use table::Table;

/// Rule file of the seed's Infrastructure Alerts table.
pub const INFRASTRUCTURE_FILE: &str = "infrastructure.yml";
/// Rule file of the seed's Application Alerts table.
pub const APPLICATION_FILE: &str = "application.yml";
/// Rule file of the seed's Business Alerts table.
pub const BUSINESS_FILE: &str = "business.yml";
/// Rule file of the alerts on the stack's own health.
pub const SELF_MONITORING_FILE: &str = "self-monitoring.yml";
/// RED recording rules.
pub(crate) const RED_FILE: &str = "red.yml";
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
pub(crate) fn rule_files(stack: &ResolvedStack) -> Result<BTreeMap<String, RuleFile>, RenderError> {
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
pub(crate) const SLO_SHARD_STEM: &str = "slo";
/// Bytes each SLO shard reserves for the wrapper of the application rules it may carry.
const APPLICATION_ENTRY_RESERVE: usize = 64;

/// Renders the rules alone, as [`super::render_stack`] renders them.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    Component::Rules.render(stack)
}

/// The rule files before layout: every file as YAML but the SLO groups (one per service, the part
/// that grows with the monitors), which come as compact JSON pieces and as rules to write whole.
/// The application rules are kept as rules too: with thousands of alert overrides they outgrow
/// one object and are cut into the SLO shards as well.
pub(crate) struct RuleContent {
    texts: BTreeMap<String, String>,
    slo: Option<RuleFile>,
    slo_pieces: Vec<Piece>,
    application: Option<RuleFile>,
}

impl RuleContent {
    pub(crate) fn of(stack: &ResolvedStack) -> Result<Self, RenderError> {
        let mut files = rule_files(stack)?;
        let slo = files.remove(SLO_FILE);
        let mut slo_pieces = Vec::new();
        for group in slo.iter().flat_map(|slo| &slo.groups) {
            slo_pieces.push(Piece::new(&group.name, json(&group.name, group)?));
        }
        let mut texts = BTreeMap::new();
        for (file, rules) in &files {
            texts.insert(file.clone(), to_yaml(Component::Rules, file, rules)?);
        }
        let application = files.remove(APPLICATION_FILE);
        Ok(Self { texts, slo, slo_pieces, application })
    }

    /// The files of `<stack>-rules`, the SLO file growing (its texts move into the file set):
    /// sharded, each `<stack>-rules-slo-NNNN` holds `slo-NNNN.yml` (compact JSON, which is YAML).
    pub(crate) fn file_set<'a>(&'a mut self, stack: &ResolvedStack) -> FileSet<'a> {
        let Self { texts, slo, slo_pieces, application } = self;
        let application = &*application;
        FileSet {
            component: Component::Rules,
            name: object_name(stack, Component::Rules),
            files: std::mem::take(texts),
            growing: slo.as_ref().map(|slo| GrowingFile {
                name: SLO_FILE,
                pieces: slo_pieces.iter().collect(),
                // Block YAML is about half as large again as the compact JSON pieces.
                sizing: Sizing::Measured { numerator: 3, denominator: 2 },
                whole: Box::new(move || to_yaml(Component::Rules, SLO_FILE, slo)),
                shards: ShardFormat {
                    stem: SLO_SHARD_STEM,
                    extension: "yml",
                    head: "{\"groups\":[\n",
                    tail: "\n]}\n",
                    index: None,
                    overflow: Some(Overflow {
                        file: APPLICATION_FILE,
                        pieces: Box::new(move || application.as_ref().map_or(Ok(Vec::new()), application_pieces)),
                        entry: application_group,
                        reserve: APPLICATION_ENTRY_RESERVE,
                    }),
                },
            }),
        }
    }
}

/// A value as compact JSON, for the shard files.
fn json<T: Serialize>(what: &str, value: &T) -> Result<String, RenderError> {
    serde_json::to_string(value).map_err(RenderError::serialize(Component::Rules, what))
}

/// The application rules (independent alerts) as pieces, one per rule.
fn application_pieces(application: &RuleFile) -> Result<Vec<Piece>, RenderError> {
    let mut pieces = Vec::new();
    for rule in application.groups.iter().flat_map(|group| &group.rules) {
        let identity = match rule {
            Rule::Alert(alert) => format!("{}/{}", alert.alert, alert.labels.get("service").map_or("", String::as_str)),
            Rule::Record(record) => record.record.clone(),
        };
        pieces.push(Piece::new(&identity, json(&identity, rule)?));
    }
    Ok(pieces)
}

/// The application rules of one shard, as one group of their own.
fn application_group(bucket: usize, rules: &[&str]) -> String {
    format!("{{\"name\":\"application-{bucket:04}\",\"rules\":[\n{}\n]}}", rules.join(",\n"))
}

#[cfg(test)]
mod tests;
