//! `promtool test rules` suites generated from a stack's spec, so that every alert is judged by how
//! it behaves — firing at its threshold once its `for` has elapsed, silent just below it — and not
//! only by its syntax.
//!
//! Nothing here reads the rendered rules. For every alert the spec declares (the three seed tables
//! with the monitors' overrides, the SLO burn-rate pairs, the performance budgets) the generator
//! writes synthetic input series for the metrics the alert is defined on, one subject just above
//! the threshold and one just below, and computes from the spec when each alert must fire and with
//! which labels. promtool then evaluates the rendered rules on those series and compares. Moving a
//! threshold, a `for`, a window or a severity in the spec moves the expectations with it; a rule
//! that disagrees with its spec fails.
//!
//! The expectations come from a small model: the value each subject shows (a percentage, a ratio
//! of counters, a count of restarts, a p95) at every evaluation step, and Prometheus' alert state
//! machine (active while the expression returns the series, firing once it has been active for
//! `for`). The series are shaped so that what Prometheus measures is exactly what the subject was
//! built to show: counters start far from zero and are read over windows they fully cover (rate
//! extrapolation then neither adds nor cuts), gauges that complete an expression appear only once
//! the counters cover a whole window, histograms put 90% of observations below half the wanted p95
//! and 10% up to one and a half times it, so that the interpolated p95 is the wanted value. Values
//! that would land exactly on a threshold are refused, so no expectation hangs on a rounding.
//!
//! This is test support: on a spec a validated stack cannot have (an unparsable duration) or on
//! test data the model cannot vouch for (a value on its threshold), it panics, naming what.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::Path;

use regex::Regex;
use serde::Serialize;
use stackscope::api::{
    AlertThreshold, Channel, ChannelPolicy, Duration, IncidentLevel, RedMetrics, ScrapeDuration, Severity,
};
use stackscope::render::rules::{
    APPLICATION_FILE, BUDGETS_FILE, BUSINESS_FILE, Decimal, INFRASTRUCTURE_FILE, SLO_FILE,
};
use stackscope::resolve::{ResolvedMonitor, ResolvedStack};

/// Labels of a series or an alert.
pub type Labels = BTreeMap<String, String>;

mod self_monitoring;

/// A PromQL label matcher: label, operator (`=`, `!=`, `=~`, `!~`), value.
type Matcher = (String, String, String);

/// Series (by their labels) with a flag per evaluation step: returned by an expression, or firing.
type PerStep = Vec<(Labels, Vec<bool>)>;

/// Prometheus' lookback for instant selectors.
const LOOKBACK_SECONDS: u64 = 300;
/// Counters start here, so that rate extrapolation never stops at zero.
const COUNTER_START: f64 = 1e9;
/// Namespace of the infrastructure subjects' pods.
const NAMESPACE: &str = "apps";
/// Requests per evaluation step of every traffic-carrying subject.
const REQUESTS_PER_STEP: f64 = 10_000.0;
/// Requests per step of the SLO subjects: enough for small budgets times burn factors.
const SLO_REQUESTS_PER_STEP: f64 = 1_000_000.0;
/// Observations per step of histogram subjects (90% in the low bucket, 10% in the high one).
const OBSERVATIONS_PER_STEP: f64 = 1_000.0;
/// The latency SLO is on the p95: 5% of requests may be slower than the target.
const LATENCY_SLO_BUDGET: f64 = 0.05;
const LATENCY_SLO_BUDGET_TEXT: &str = "0.05";
/// Jaeger's span-duration histogram, in milliseconds.
const SPAN_BUCKETS: &str = "traces_span_metrics_duration_milliseconds_bucket";
/// Rate window of the performance budgets.
const BUDGET_WINDOW_SECONDS: u64 = 300;
/// Steps the generator may pick, longest first: whole divisors of the usual windows.
const STEPS: [u64; 17] =
    [86_400, 43_200, 21_600, 10_800, 7_200, 3_600, 1_800, 900, 600, 300, 120, 60, 30, 15, 10, 5, 1];

// ---------------------------------------------------------------------------------------------
// The generated files

/// One `promtool test rules` file: the rule files it loads and its test groups.
#[derive(Clone, Debug)]
pub struct Suite {
    /// Short name, e.g. `infrastructure` or `slo-1h-5m`; the file is `<name>.test.yml`.
    pub name: String,
    /// The rendered rule files it loads (keys of the `<stack>-rules` ConfigMap).
    pub rule_files: Vec<String>,
    /// Sample interval of the input series and evaluation interval, in seconds.
    pub step: u64,
    pub groups: Vec<Group>,
    /// Every alerting rule the suite models, as `(alert, labels without templated values)`.
    pub modelled: Vec<(String, Labels)>,
}

/// A test group: input series and the alerts expected at chosen evaluation times.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub series: Vec<Series>,
    pub checks: Vec<Check>,
}

/// One input series, one value (or a missing sample) per step from time 0.
#[derive(Clone, Debug)]
pub struct Series {
    pub metric: String,
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// The exact set of firing alerts of one name at one evaluation time.
#[derive(Clone, Debug)]
pub struct Check {
    /// Seconds from the start.
    pub at: u64,
    pub alertname: String,
    /// Every label of every firing alert (the series' and the rule's), without `alertname`.
    pub firing: Vec<Labels>,
}

impl Suite {
    pub fn file_name(&self) -> String {
        format!("{}.test.yml", self.name)
    }

    /// The test file, in promtool's format.
    pub fn to_yaml(&self) -> Result<String, String> {
        let tests = self
            .groups
            .iter()
            .map(|group| TestGroup {
                name: &group.name,
                interval: duration_text(self.step),
                input_series: group
                    .series
                    .iter()
                    .map(|series| InputSeries { series: series.selector(), values: series.notation() })
                    .collect(),
                alert_rule_test: group
                    .checks
                    .iter()
                    .map(|check| AlertTest {
                        eval_time: duration_text(check.at),
                        alertname: &check.alertname,
                        exp_alerts: check.firing.iter().map(|exp_labels| ExpectedAlert { exp_labels }).collect(),
                    })
                    .collect(),
            })
            .collect();
        let file = TestFile { rule_files: &self.rule_files, evaluation_interval: duration_text(self.step), tests };
        serde_saphyr::to_string(&file).map_err(|error| format!("{}: {error}", self.file_name()))
    }

    /// How many checks expect at least one alert, and how many expect none.
    pub fn counts(&self) -> (usize, usize) {
        let checks = self.groups.iter().flat_map(|group| &group.checks);
        checks.fold(
            (0, 0),
            |(firing, silent), check| {
                if check.firing.is_empty() { (firing, silent + 1) } else { (firing + 1, silent) }
            },
        )
    }
}

/// promtool's test file format (`promtool test rules`), in its field order.
#[derive(Serialize)]
struct TestFile<'a> {
    rule_files: &'a [String],
    evaluation_interval: String,
    tests: Vec<TestGroup<'a>>,
}

#[derive(Serialize)]
struct TestGroup<'a> {
    name: &'a str,
    interval: String,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest<'a>>,
}

#[derive(Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest<'a> {
    eval_time: String,
    alertname: &'a str,
    exp_alerts: Vec<ExpectedAlert<'a>>,
}

#[derive(Serialize)]
struct ExpectedAlert<'a> {
    exp_labels: &'a Labels,
}

impl Series {
    fn new(metric: &str, labels: &Labels, values: Vec<Option<f64>>) -> Self {
        Self { metric: metric.to_owned(), labels: labels.clone(), values }
    }

    /// `metric{label="value", ...}`.
    pub fn selector(&self) -> String {
        let matchers: Vec<String> =
            self.labels.iter().map(|(name, value)| format!("{name}={}", promql_string(value))).collect();
        format!("{}{{{}}}", self.metric, matchers.join(", "))
    }

    /// The values in promtool's expanding notation: `a+bxn` for runs of whole numbers growing
    /// evenly (exact in floating point), `axn` for repeated values, `_` for missing samples.
    pub fn notation(&self) -> String {
        let values = &self.values;
        let mut parts = Vec::new();
        let mut index = 0;
        while index < values.len() {
            let Some(first) = values[index] else {
                let run = values[index..].iter().take_while(|value| value.is_none()).count();
                parts.push(if run == 1 { "_".to_owned() } else { format!("_x{run}") });
                index += run;
                continue;
            };
            let next = values.get(index + 1).copied().flatten();
            let increment = next
                .map(|next| next - first)
                .filter(|increment| *increment == 0.0 || (is_whole(first) && is_whole(*increment) && *increment > 0.0));
            let run = match increment {
                Some(increment) => {
                    1 + values[index + 1..]
                        .iter()
                        .zip(&values[index..])
                        .take_while(|(value, previous)| match (value, previous) {
                            (Some(value), Some(previous)) => {
                                *value - *previous == increment && (increment == 0.0 || is_whole(*value))
                            }
                            _ => false,
                        })
                        .count()
                }
                None => 1,
            };
            match increment {
                Some(increment) if run >= 3 && increment == 0.0 => parts.push(format!("{first}x{}", run - 1)),
                Some(increment) if run >= 3 => parts.push(format!("{first}+{increment}x{}", run - 1)),
                _ => {
                    parts.push(number_text(first));
                    index += 1;
                    continue;
                }
            }
            index += run;
        }
        parts.join(" ")
    }
}

fn is_whole(value: f64) -> bool {
    value.fract() == 0.0 && value.abs() < 9e15
}

/// A number as promtool reads it back to the same float (Rust prints the shortest round trip).
fn number_text(value: f64) -> String {
    format!("{value}")
}

/// A PromQL string literal.
fn promql_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Seconds as a Prometheus duration (`1d2h`, `90s` → `1m30s`, `0s`).
pub fn duration_text(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut rest = seconds;
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text
}

/// An `le` label value as Prometheus 3 stores it whatever the target sent: Go's shortest `%g`
/// form, with `.0` on whole numbers (`3` → `3.0`, `0.1` → `0.1`, `1e6` → `1e+06`).
pub fn le_label(value: f64) -> String {
    if value == 0.0 {
        return "0.0".to_owned();
    }
    let exponent = value.abs().log10().floor();
    if !(-4.0..6.0).contains(&exponent) {
        // Go switches to exponent form from 1e+06 up and below 1e-04.
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
    }
    let text = format!("{value}");
    if text.contains('.') { text } else { format!("{text}.0") }
}

// ---------------------------------------------------------------------------------------------
// The model

/// The evaluation grid of a group: samples and evaluations at `0, step, 2·step, …`.
#[derive(Clone, Copy, Debug)]
struct Grid {
    step: u64,
    len: usize,
}

impl Grid {
    fn time(self, index: usize) -> u64 {
        index as u64 * self.step
    }

    /// Indices of the samples a range selector `[window]` sees at `index`: times in `(t - window, t]`.
    fn window(self, index: usize, window: u64) -> RangeInclusive<usize> {
        let time = self.time(index);
        let first = if time < window { 0 } else { usize::try_from((time - window) / self.step + 1).unwrap_or(0) };
        first..=index
    }

    fn index(self, seconds: u64) -> usize {
        assert_eq!(seconds % self.step, 0, "{seconds}s is not on the {}s grid", self.step);
        usize::try_from(seconds / self.step).unwrap_or(usize::MAX)
    }
}

/// How much a series grew between the first and the last sample a window sees, and over how many
/// seconds; `None` with fewer than two samples (where `rate`/`increase` return nothing).
fn growth(values: &[Option<f64>], grid: Grid, index: usize, window: u64) -> Option<(f64, f64)> {
    let samples: Vec<(usize, f64)> = grid
        .window(index, window)
        .filter_map(|at| values.get(at).copied().flatten().map(|value| (at, value)))
        .collect();
    let (first, last) = (samples.first()?, samples.last()?);
    if samples.len() < 2 {
        return None;
    }
    Some((last.1 - first.1, (last.0 - first.0) as f64 * grid.step as f64))
}

/// Per-second rate over a window the series covers completely (what `rate` returns there).
fn rate(values: &[Option<f64>], grid: Grid, index: usize, window: u64) -> Option<f64> {
    growth(values, grid, index, window).map(|(grown, seconds)| grown / seconds)
}

/// The value an instant selector sees: the latest sample within the lookback.
fn instant(values: &[Option<f64>], grid: Grid, index: usize) -> Option<f64> {
    grid.window(index, LOOKBACK_SECONDS).rev().find_map(|at| values.get(at).copied().flatten())
}

/// `value > threshold`, refusing test data that puts a value on the threshold itself.
fn above(value: f64, threshold: f64, what: &str) -> bool {
    let scale = threshold.abs().max(1e-12);
    assert!(
        ((value - threshold) / scale).abs() > 1e-9,
        "test data bug: {what} is {value}, on its threshold {threshold}; move the subject away from it"
    );
    value > threshold
}

/// `count > threshold` for whole counts (restarts), where landing on the threshold is the point:
/// as many restarts as the threshold do not fire.
fn more_than(count: f64, threshold: f64) -> bool {
    assert!(is_whole(count), "test data bug: {count} is not a whole count");
    count > threshold
}

/// `value <= threshold` (for "no requests", "no signups": a count of exactly the threshold
/// counts), refusing test data near but not on the threshold.
fn at_most(value: f64, threshold: f64, what: &str) -> bool {
    value == threshold || !above(value, threshold, what)
}

/// One alerting rule as the spec defines it, evaluated on a group's subjects.
#[derive(Clone, Debug)]
struct RuleModel {
    alert: String,
    for_seconds: u64,
    /// The rule's own labels (they win over the series').
    labels: Labels,
    /// Every series the expression may return, with whether it does at each step.
    results: PerStep,
}

impl RuleModel {
    fn new(alert: &str, for_seconds: u64, labels: Labels) -> Self {
        Self { alert: alert.to_owned(), for_seconds, labels, results: Vec::new() }
    }

    fn of(threshold: &Threshold) -> Self {
        Self::new(threshold.alert, threshold.for_seconds, threshold.labels.clone())
    }

    fn result(&mut self, labels: Labels, active: Vec<bool>) {
        self.results.push((labels, active));
    }

    /// Prometheus' alert states: an alert is active while its series is returned and fires once
    /// it has been active for `for` (at once without one); a step without it resolves it.
    fn firing(&self, grid: Grid) -> PerStep {
        self.results
            .iter()
            .map(|(labels, active)| {
                let mut since = None;
                let firing = active
                    .iter()
                    .enumerate()
                    .map(|(index, is_active)| {
                        if !is_active {
                            since = None;
                            return false;
                        }
                        let start = *since.get_or_insert(index);
                        grid.time(index) - grid.time(start) >= self.for_seconds
                    })
                    .collect();
                let mut all = labels.clone();
                all.extend(self.labels.clone());
                (all, firing)
            })
            .collect()
    }
}

/// A subject's series plus what the model needs to know about them.
#[derive(Clone, Debug)]
struct Subject {
    /// Subjects with the same key write the same series and may not share a group.
    key: String,
    series: Vec<Series>,
    /// The p95 a histogram subject was built to show, in the histogram's unit.
    p95: Option<f64>,
}

impl Subject {
    fn values(&self, metric: &str) -> Option<&[Option<f64>]> {
        self.series.iter().find(|series| series.metric == metric).map(|series| series.values.as_slice())
    }

    fn labels(&self) -> &Labels {
        &self.series[0].labels
    }
}

/// A group being built: its subjects, and the times worth checking beyond the alerts' changes.
struct GroupPlan {
    name: String,
    grid: Grid,
    subjects: Vec<Subject>,
    times: BTreeSet<usize>,
}

impl GroupPlan {
    fn new(name: impl Into<String>, grid: Grid) -> Self {
        Self { name: name.into(), grid, subjects: Vec::new(), times: BTreeSet::new() }
    }
}

/// Puts each subject into the first group of its case that has none with the same key, opening
/// another group of the case when needed.
fn place(plans: &mut Vec<GroupPlan>, case: &str, grid: Grid, subject: Subject) {
    let free = plans
        .iter_mut()
        .find(|plan| plan.name.starts_with(case) && plan.subjects.iter().all(|other| other.key != subject.key));
    match free {
        Some(plan) => plan.subjects.push(subject),
        None => {
            let count = plans.iter().filter(|plan| plan.name.starts_with(case)).count();
            let name = if count == 0 { case.to_owned() } else { format!("{case} ({})", count + 1) };
            let mut plan = GroupPlan::new(name, grid);
            plan.subjects.push(subject);
            plans.push(plan);
        }
    }
}

/// Turns planned groups into a suite: evaluates the rules on each group's subjects and checks
/// every alert name at every time any alert starts or stops firing (and one step before, when it
/// must not fire yet), at the planned times, and at the end.
fn finish(
    name: &str,
    rule_files: &[&str],
    step: u64,
    plans: Vec<GroupPlan>,
    rules: impl Fn(&GroupPlan) -> Vec<RuleModel>,
) -> Suite {
    let mut modelled = Vec::new();
    let mut evaluated = Vec::new();
    let mut times = BTreeSet::new();
    for plan in plans {
        let models = rules(&plan);
        if modelled.is_empty() {
            modelled = models
                .iter()
                .map(|model| {
                    let labels = model
                        .labels
                        .iter()
                        .filter(|(_, value)| !value.contains("{{"))
                        .map(|(k, v)| (k.clone(), v.clone()));
                    (model.alert.clone(), labels.collect())
                })
                .collect();
        }
        let firing: Vec<(String, PerStep)> =
            models.iter().map(|model| (model.alert.clone(), model.firing(plan.grid))).collect();
        for (_, results) in &firing {
            for (_, states) in results {
                for index in 1..states.len() {
                    if states[index] != states[index - 1] {
                        times.extend([plan.grid.time(index - 1), plan.grid.time(index)]);
                    }
                }
            }
        }
        times.extend(plan.times.iter().map(|index| plan.grid.time(*index)));
        times.extend([0, plan.grid.time(plan.grid.len - 1)]);
        evaluated.push((plan, firing));
    }
    let names: BTreeSet<String> = modelled.iter().map(|(alert, _)| alert.clone()).collect();
    let groups = evaluated
        .into_iter()
        .map(|(plan, firing)| {
            let end = plan.grid.time(plan.grid.len - 1);
            let mut checks = Vec::new();
            for at in times.iter().copied().filter(|at| *at <= end) {
                let index = plan.grid.index(at);
                for alertname in &names {
                    let mut expected: Vec<Labels> = firing
                        .iter()
                        .filter(|(alert, _)| alert == alertname)
                        .flat_map(|(_, results)| results.iter().filter(|(_, states)| states[index]))
                        .map(|(labels, _)| labels.clone())
                        .collect();
                    expected.sort();
                    checks.push(Check { at, alertname: alertname.clone(), firing: expected });
                }
            }
            let series = plan.subjects.iter().flat_map(|subject| subject.series.clone()).collect();
            Group { name: plan.name, series, checks }
        })
        .collect();
    Suite {
        name: name.to_owned(),
        rule_files: rule_files.iter().map(|file| (*file).to_owned()).collect(),
        step,
        groups,
        modelled,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the spec

/// One alert threshold of the spec, in the units the model works in.
#[derive(Clone, Debug)]
struct Threshold {
    alert: &'static str,
    value: f64,
    for_seconds: u64,
    window: u64,
    /// `severity`, `incident_level` and `signal`.
    labels: Labels,
}

fn seconds(duration: &Duration, what: &str) -> u64 {
    let millis = duration.to_millis().unwrap_or_else(|| panic!("{what}: {duration} is not a duration"));
    assert_eq!(millis % 1000, 0, "{what}: {duration} is not whole seconds");
    millis / 1000
}

fn scrape_seconds(duration: &ScrapeDuration, what: &str) -> f64 {
    let millis = duration.to_millis().unwrap_or_else(|| panic!("{what}: {duration} is not a duration"));
    millis as f64 / 1000.0
}

fn alert_labels(severity: Severity, incident_level: IncidentLevel, signal: &str) -> Labels {
    labels([("severity", severity.as_str()), ("incident_level", incident_level.as_str()), ("signal", signal)])
}

/// The `channels` label of a set of channels: each once, in the document's order, or `none`.
fn channels_value(channels: &[Channel]) -> String {
    let named: Vec<&str> = Channel::ALL.iter().filter(|c| channels.contains(c)).map(|c| c.as_str()).collect();
    if named.is_empty() { "none".to_owned() } else { named.join(",") }
}

/// The channels the spec sends an alert of the severity policy to.
fn severity_channels(stack: &ResolvedStack, severity: Severity) -> String {
    channels_value(&stack.spec.alerting.routing.severity_channels(severity))
}

/// The channels of an alert: its own, else under the `PerAlert` policy the document's Channel
/// column (`tests/data/seed.yaml`) when the document lists the alert, else the severity policy.
fn alert_channels(stack: &ResolvedStack, alert: &str, own: Option<&[Channel]>, severity: Severity) -> String {
    if let Some(own) = own {
        return channels_value(own);
    }
    let column = crate::seed::seed().alerts.iter().find(|row| row.name == alert).map(|row| {
        row.channels
            .iter()
            .map(|name| {
                Channel::ALL.into_iter().find(|c| c.as_str() == name).unwrap_or_else(|| panic!("channel {name}"))
            })
            .collect::<Vec<_>>()
    });
    match (stack.spec.alerting.routing.channel_policy, column) {
        (ChannelPolicy::PerAlert, Some(column)) => channels_value(&column),
        _ => severity_channels(stack, severity),
    }
}

/// The threshold of an enabled alert. `signal` is the contract's label for the alert's subject;
/// `default_window` the window the renderer takes when the spec names none.
fn threshold(
    stack: &ResolvedStack,
    alert: &'static str,
    spec: &AlertThreshold,
    signal: &str,
    default_window: u64,
) -> Option<Threshold> {
    spec.enabled.then(|| {
        let mut labels = alert_labels(spec.severity, spec.incident_level, signal);
        labels.insert("channels".to_owned(), alert_channels(stack, alert, spec.channels.as_deref(), spec.severity));
        Threshold {
            alert,
            value: spec.threshold,
            for_seconds: spec.for_duration.as_ref().map_or(0, |duration| seconds(duration, alert)),
            window: spec.window.as_ref().map_or(default_window, |window| seconds(window, alert)),
            labels,
        }
    })
}

fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs.into_iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()
}

/// A percentage just above (`1`) or just below (`-1`) a threshold: one point away, or half the
/// threshold away for thresholds under two.
fn percent_beside(threshold: f64, side: f64) -> f64 {
    let distance = if threshold >= 2.0 { 1.0 } else { threshold / 2.0 };
    threshold + side * distance
}

/// A duration in milliseconds just above or below a threshold: 10% away, at most 100ms, at least 1ms.
fn millis_beside(threshold_ms: f64, side: f64) -> f64 {
    threshold_ms + side * (threshold_ms / 10.0).clamp(1.0, 100.0)
}

/// The longest usual step that divides every window and duration and leaves at least
/// `min_samples` samples in the shortest window.
fn step_for(windows: &[u64], durations: &[u64], min_samples: u64) -> u64 {
    STEPS
        .into_iter()
        .find(|step| {
            windows.iter().all(|window| window % step == 0 && window / step >= min_samples)
                && durations.iter().all(|duration| duration % step == 0)
        })
        .unwrap_or_else(|| panic!("no evaluation step fits windows {windows:?} and durations {durations:?}"))
}

/// The label matchers of a PromQL selector body (`a="x", b=~"y|z"`), as `(label, op, value)`.
fn parse_matchers(text: &str) -> Vec<Matcher> {
    let text = text.trim().trim_start_matches('{').trim_end_matches('}');
    let mut matchers = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_end);
        let after = after.trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| after.starts_with(op))
            .unwrap_or_else(|| panic!("cannot read the matcher at `{rest}` of `{text}`"));
        let after = after[op.len()..].trim_start();
        assert!(after.starts_with('"'), "matcher values must be double-quoted: `{text}`");
        let mut value = String::new();
        let mut chars = after[1..].char_indices();
        let mut end = None;
        while let Some((at, character)) = chars.next() {
            match character {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(match escaped {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = Some(at + 2);
                    break;
                }
                other => value.push(other),
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated string in `{text}`"));
        matchers.push((name.to_owned(), op.to_owned(), value));
        rest = after[end..].trim_start().trim_start_matches(',').trim_start();
    }
    matchers
}

/// Whether labels satisfy matchers as PromQL does (a missing label is the empty string; regular
/// expressions are anchored).
fn matches(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|(name, op, value)| {
        let actual = labels.get(name).map_or("", String::as_str);
        let regex = || {
            Regex::new(&format!("^(?:{value})$"))
                .unwrap_or_else(|error| panic!("matcher {name}{op}\"{value}\": {error}"))
        };
        match op.as_str() {
            "=" => actual == value,
            "!=" => actual != value,
            "=~" => regex().is_match(actual),
            _ => !regex().is_match(actual),
        }
    })
}

/// The monitors by key, as the renderer takes the first one per service.
fn monitors_in_order(stack: &ResolvedStack) -> Vec<&ResolvedMonitor> {
    let mut monitors: Vec<&ResolvedMonitor> = stack.monitors.iter().collect();
    monitors.sort_by_key(|monitor| (monitor.namespace.clone(), monitor.name.clone()));
    monitors
}

// ---------------------------------------------------------------------------------------------
// Series shapes

/// `start + n·per_step` for `n` from 0.
fn counter(grid: Grid, start: f64, per_step: f64) -> Vec<Option<f64>> {
    (0..grid.len).map(|index| Some(start + index as f64 * per_step)).collect()
}

/// A counter growing by `per_step(n)` into sample `n`.
fn counter_by(grid: Grid, start: f64, per_step: impl Fn(usize) -> f64) -> Vec<Option<f64>> {
    let mut value = start;
    (0..grid.len)
        .map(|index| {
            if index > 0 {
                value += per_step(index);
            }
            Some(value)
        })
        .collect()
}

fn gauge(grid: Grid, value: f64) -> Vec<Option<f64>> {
    vec![Some(value); grid.len]
}

/// A gauge with no samples before `from`.
fn gauge_from(grid: Grid, value: f64, from: usize) -> Vec<Option<f64>> {
    (0..grid.len).map(|index| (index >= from).then_some(value)).collect()
}

/// Cumulative histogram buckets whose interpolated p95 is `p95` (in the histogram's unit): 90%
/// of the observations at most `p95 / 2`, the rest at most `1.5 · p95`, so that the 95th
/// percentile lies half way into the upper bucket.
fn histogram(metric: &str, grid: Grid, base: &Labels, p95: f64) -> Vec<Series> {
    let (low, high) = (p95 / 2.0, p95 * 3.0 / 2.0);
    [(le_label(low), 0.9), (le_label(high), 1.0), ("+Inf".to_owned(), 1.0)]
        .into_iter()
        .map(|(le, share)| {
            let mut labels = base.clone();
            labels.insert("le".to_owned(), le);
            Series::new(metric, &labels, counter(grid, 0.0, OBSERVATIONS_PER_STEP * share))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The suites

/// Every suite of a stack: the three seed tables, the churn (monthly, on its own coarse grid), the
/// stack's own health, one suite per SLO burn-rate pair and the performance budgets. Suites of
/// disabled parts are left out, as the renderer leaves their rule files out.
pub fn suites(stack: &ResolvedStack) -> Vec<Suite> {
    let spec = &stack.spec;
    let mut suites = Vec::new();
    if spec.alerting.enabled {
        suites.push(infrastructure(stack));
        suites.push(application(stack));
        suites.push(business(stack));
        suites.extend(churn(stack));
        suites.push(self_monitoring::suite(stack));
    }
    if spec.alerting.enabled && spec.slos.enabled {
        suites.extend((0..spec.slos.burn_rate_windows.len()).filter_map(|pair| slo_pair(stack, pair)));
        if spec.tracing.enabled {
            suites.push(budgets(stack));
        }
    }
    suites.retain(|suite| !suite.modelled.is_empty());
    suites
}

/// Seed: Infrastructure Alerts.
fn infrastructure(stack: &ResolvedStack) -> Suite {
    let infra = &stack.spec.alerting.rules.infrastructure;
    let cpu: Vec<Threshold> = [("HighCPU", &infra.high_cpu), ("CriticalCPU", &infra.critical_cpu)]
        .into_iter()
        .filter_map(|(alert, spec)| threshold(stack, alert, spec, "cpu", 300))
        .collect();
    let memory: Vec<Threshold> = [("HighMemory", &infra.high_memory), ("OutOfMemory", &infra.out_of_memory)]
        .into_iter()
        .filter_map(|(alert, spec)| threshold(stack, alert, spec, "memory", 0))
        .collect();
    let disk = threshold(stack, "DiskFull", &infra.disk_full, "disk", 0);
    let crash = threshold(stack, "ContainerCrash", &infra.container_crash, "restarts", 600);

    let all: Vec<&Threshold> = cpu.iter().chain(&memory).chain(&disk).chain(&crash).collect();
    let windows: Vec<u64> = cpu.iter().chain(&crash).map(|threshold| threshold.window).collect();
    let fors: Vec<u64> = all.iter().map(|threshold| threshold.for_seconds).collect();
    let step = step_for(&windows, &fors, 4);
    // CPU is a rate: its quota and period appear once the usage counter covers a whole window.
    let cpu_from = cpu.iter().map(|threshold| threshold.window / step).max().unwrap_or(0) as usize;
    // Restarts come two steps apart from the third sample on (or every step, to fit the window);
    // the spread subject restarts as often as fires the alert, too far apart for any window to
    // hold them all.
    let restart_start = 2;
    let longest_for = (fors.iter().max().copied().unwrap_or(0) / step) as usize;
    let spread: Vec<usize> = crash.as_ref().map_or_else(Vec::new, |crash| {
        let count = crash.value.floor() as usize + 1;
        let window_steps = (crash.window / step) as usize;
        if count < 2 {
            return Vec::new();
        }
        let gap = (window_steps - 2) / (count - 1) + 1;
        (0..count).map(|n| restart_start + n * gap).collect()
    });
    let crash_span = crash.as_ref().map_or(0, |crash| restart_start + 2 * (crash.window / step) as usize);
    let len = (cpu_from + longest_for).max(crash_span).max(spread.last().copied().unwrap_or(0)) + 3;
    let grid = Grid { step, len };

    let container = |name: &str| labels([("namespace", NAMESPACE), ("pod", &format!("{name}-0")), ("container", name)]);
    let mut plans = Vec::new();
    for (case, side) in [("just above the thresholds", 1.0), ("just below the thresholds", -1.0)] {
        for threshold in &cpu {
            let percent = percent_beside(threshold.value, side);
            let name = format!("{}-{}", kebab(threshold.alert), if side > 0.0 { "above" } else { "below" });
            place(&mut plans, case, grid, cpu_subject(grid, &container(&name), percent, cpu_from));
        }
        for threshold in &memory {
            let percent = percent_beside(threshold.value, side);
            let name = format!("{}-{}", kebab(threshold.alert), if side > 0.0 { "above" } else { "below" });
            place(&mut plans, case, grid, memory_subject(grid, &container(&name), percent, true));
        }
        if let Some(disk) = &disk {
            let percent = percent_beside(disk.value, side);
            let claim = format!("disk-full-{}", if side > 0.0 { "above" } else { "below" });
            let mut pvc = labels([("namespace", NAMESPACE), ("persistentvolumeclaim", &claim)]);
            pvc.insert("node".to_owned(), "node-a".to_owned());
            let used = (10_737_418_240.0 * percent / 100.0).round();
            let series = vec![
                Series::new("kubelet_volume_stats_used_bytes", &pvc, gauge(grid, used)),
                Series::new("kubelet_volume_stats_capacity_bytes", &pvc, gauge(grid, 10_737_418_240.0)),
            ];
            place(&mut plans, case, grid, Subject { key: format!("disk {claim}"), series, p95: None });
        }
        if let Some(crash) = &crash {
            // Just above: one restart more than the threshold within the window; just below: as
            // many as the threshold.
            let count = crash.value.floor() as usize + usize::from(side > 0.0);
            let name = format!("container-crash-{}", if side > 0.0 { "above" } else { "below" });
            let window_steps = (crash.window / step) as usize;
            let gap = if count > 1 { ((window_steps - 2) / (count - 1)).clamp(1, 2) } else { 1 };
            assert!(gap * (count.max(1) - 1) + 1 < window_steps, "{count} restarts do not fit in the window");
            let at: Vec<usize> = (0..count).map(|n| restart_start + n * gap).collect();
            place(&mut plans, case, grid, restarts_subject(grid, &container(&name), &at));
        }
    }
    if !spread.is_empty() {
        let subject = restarts_subject(grid, &container("container-crash-spread"), &spread);
        place(&mut plans, "just below the thresholds", grid, subject);
    }
    if !memory.is_empty() {
        // A container without a memory limit (limit 0) is never in memory trouble.
        place(
            &mut plans,
            "just above the thresholds",
            grid,
            memory_subject(grid, &container("memory-unlimited"), 100.0, false),
        );
    }
    if !cpu.is_empty() {
        // cAdvisor's pod-level cgroup has `container=""`: no alert for it.
        let mut pod = container("cpu-pod-cgroup");
        pod.insert("container".to_owned(), String::new());
        place(&mut plans, "just above the thresholds", grid, cpu_subject(grid, &pod, 99.0, cpu_from));
    }

    finish("infrastructure", &[INFRASTRUCTURE_FILE], step, plans, |plan| {
        let grid = plan.grid;
        let mut models = Vec::new();
        let per_container = |subject: &Subject| {
            let mut result = subject.labels().clone();
            result.retain(|name, _| ["namespace", "pod", "container"].contains(&name.as_str()));
            let container = result.get("container").cloned().unwrap_or_default();
            result.insert("service".to_owned(), container);
            result
        };
        for threshold in &cpu {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let (Some(usage), Some(quota), Some(period)) = (
                    subject.values("container_cpu_usage_seconds_total"),
                    subject.values("container_spec_cpu_quota"),
                    subject.values("container_spec_cpu_period"),
                ) else {
                    continue;
                };
                if subject.labels().get("container").is_none_or(String::is_empty) {
                    continue;
                }
                let active = (0..grid.len)
                    .map(|index| {
                        let cores = instant(quota, grid, index)? / instant(period, grid, index)?;
                        let used = rate(usage, grid, index, threshold.window)?;
                        Some(above(100.0 * used / cores, threshold.value, &format!("{} CPU", subject.key)))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                model.result(per_container(subject), active);
            }
            models.push(model);
        }
        for threshold in &memory {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let (Some(used), Some(limit)) = (
                    subject.values("container_memory_working_set_bytes"),
                    subject.values("container_spec_memory_limit_bytes"),
                ) else {
                    continue;
                };
                let active = (0..grid.len)
                    .map(|index| {
                        let limit = instant(limit, grid, index).filter(|limit| *limit > 0.0)?;
                        let used = instant(used, grid, index)?;
                        Some(above(100.0 * used / limit, threshold.value, &format!("{} memory", subject.key)))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                model.result(per_container(subject), active);
            }
            models.push(model);
        }
        if let Some(threshold) = &disk {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let (Some(used), Some(capacity)) = (
                    subject.values("kubelet_volume_stats_used_bytes"),
                    subject.values("kubelet_volume_stats_capacity_bytes"),
                ) else {
                    continue;
                };
                let active = (0..grid.len)
                    .map(|index| {
                        let percent = 100.0 * instant(used, grid, index)? / instant(capacity, grid, index)?;
                        Some(above(percent, threshold.value, &subject.key))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                let mut result = subject.labels().clone();
                result.retain(|name, _| ["namespace", "persistentvolumeclaim"].contains(&name.as_str()));
                model.result(result, active);
            }
            models.push(model);
        }
        if let Some(threshold) = &crash {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let Some(restarts) = subject.values("kube_pod_container_status_restarts_total") else { continue };
                // Restarts within the window: how often the counter went up between the samples it holds.
                let active = (0..grid.len)
                    .map(|index| {
                        let (grown, _) = growth(restarts, grid, index, threshold.window)?;
                        Some(more_than(grown, threshold.value))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                model.result(per_container(subject), active);
            }
            models.push(model);
        }
        models
    })
}

fn kebab(alert: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = alert.chars().collect();
    for (index, character) in chars.iter().enumerate() {
        let next_is_lower = chars.get(index + 1).is_some_and(char::is_ascii_lowercase);
        let previous_is_lower = index > 0 && chars[index - 1].is_ascii_lowercase();
        if character.is_ascii_uppercase() && index > 0 && (previous_is_lower || next_is_lower) {
            out.push('-');
        }
        out.push(character.to_ascii_lowercase());
    }
    out
}

/// A container using `percent` of its CPU limit of two cores; the limit series start at `from`.
fn cpu_subject(grid: Grid, container: &Labels, percent: f64, from: usize) -> Subject {
    let cores = 2.0;
    let per_step = percent / 100.0 * cores * grid.step as f64;
    Subject {
        key: format!("cpu {}", container["pod"]),
        series: vec![
            Series::new("container_cpu_usage_seconds_total", container, counter(grid, COUNTER_START, per_step)),
            Series::new("container_spec_cpu_quota", container, gauge_from(grid, cores * 100_000.0, from)),
            Series::new("container_spec_cpu_period", container, gauge_from(grid, 100_000.0, from)),
        ],
        p95: None,
    }
}

/// A container using `percent` of a 1 GiB memory limit (or of no limit: limit 0).
fn memory_subject(grid: Grid, container: &Labels, percent: f64, limited: bool) -> Subject {
    let limit = 1_073_741_824.0;
    Subject {
        key: format!("memory {}", container["pod"]),
        series: vec![
            Series::new(
                "container_memory_working_set_bytes",
                container,
                gauge(grid, (limit * percent / 100.0).round()),
            ),
            Series::new("container_spec_memory_limit_bytes", container, gauge(grid, if limited { limit } else { 0.0 })),
        ],
        p95: None,
    }
}

/// A container that had restarted 5 times before and restarts once more into each sample of `at`.
fn restarts_subject(grid: Grid, container: &Labels, at: &[usize]) -> Subject {
    let values = counter_by(grid, 5.0, |index| if at.contains(&index) { 1.0 } else { 0.0 });
    Subject {
        key: format!("restarts {}", container["pod"]),
        series: vec![Series::new("kube_pod_container_status_restarts_total", container, values)],
        p95: None,
    }
}

/// The application alerts a monitor may retune or disable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppAlert {
    HighErrorRate,
    CriticalErrorRate,
    HighLatency,
    CriticalLatency,
    NoRequests,
}

impl AppAlert {
    fn name(self) -> &'static str {
        match self {
            Self::HighErrorRate => "HighErrorRate",
            Self::CriticalErrorRate => "CriticalErrorRate",
            Self::HighLatency => "HighLatency",
            Self::CriticalLatency => "CriticalLatency",
            Self::NoRequests => "NoRequests",
        }
    }
}

/// One rule of an application alert: the general one (every service but `excluded`) or a
/// monitor's own (`only`).
#[derive(Clone, Debug)]
struct AppRule {
    alert: AppAlert,
    threshold: Threshold,
    excluded: BTreeSet<String>,
    only: Option<String>,
}

impl AppRule {
    fn applies_to(&self, service: &str) -> bool {
        match &self.only {
            Some(only) => only == service,
            None => !self.excluded.contains(service),
        }
    }

    fn model(&self) -> RuleModel {
        let mut model = RuleModel::of(&self.threshold);
        if let Some(service) = &self.only {
            model.labels.insert("service".to_owned(), service.clone());
        }
        model
    }
}

/// The rules of the application alerts, in the renderer's order: each alert's general rule, then
/// one per service that sets its own threshold. Services that disable an alert or set their own
/// threshold are left out of the general rule.
fn app_rules(stack: &ResolvedStack) -> Vec<AppRule> {
    let application = &stack.spec.alerting.rules.application;
    let mut overrides: BTreeMap<String, &stackscope::api::AlertOverrides> = BTreeMap::new();
    for monitor in monitors_in_order(stack) {
        if let Some(alerts) = &monitor.spec.alerts {
            overrides.entry(monitor.service_label()).or_insert(alerts);
        }
    }
    let mut rules = Vec::new();
    for (alert, spec, signal) in [
        (AppAlert::HighErrorRate, &application.high_error_rate, "error_rate"),
        (AppAlert::CriticalErrorRate, &application.critical_error_rate, "error_rate"),
        (AppAlert::HighLatency, &application.high_latency, "latency"),
        (AppAlert::CriticalLatency, &application.critical_latency, "latency"),
        (AppAlert::NoRequests, &application.no_requests, "traffic"),
    ] {
        let Some(general) = threshold(stack, alert.name(), spec, signal, 300) else { continue };
        let mut excluded = BTreeSet::new();
        let mut own = Vec::new();
        for (service, alerts) in &overrides {
            let value = match alert {
                AppAlert::HighErrorRate => alerts.error_rate_warning,
                AppAlert::CriticalErrorRate => alerts.error_rate_critical,
                AppAlert::HighLatency => alerts.latency_warning.as_ref().map(|d| scrape_seconds(d, service)),
                AppAlert::CriticalLatency => alerts.latency_critical.as_ref().map(|d| scrape_seconds(d, service)),
                AppAlert::NoRequests => None,
            };
            let channels = alerts.channels.get(alert.name());
            if alerts.disabled.iter().any(|name| name == alert.name()) {
                excluded.insert(service.clone());
            } else if value.is_some() || channels.is_some() {
                excluded.insert(service.clone());
                own.push((service.clone(), value.unwrap_or(general.value), channels));
            }
        }
        rules.push(AppRule { alert, threshold: general.clone(), excluded, only: None });
        for (service, value, channels) in own {
            let mut threshold = Threshold { value, ..general.clone() };
            if let Some(channels) = channels {
                threshold.labels.insert("channels".to_owned(), channels_value(channels));
            }
            rules.push(AppRule { alert, threshold, excluded: BTreeSet::new(), only: Some(service) });
        }
    }
    rules
}

/// A service with requests, some failing, on the spec's RED counters.
fn requests_subject(grid: Grid, red: &RedMetrics, service: &str, failing_percent: f64) -> Subject {
    let service_labels = labels([("service", service), ("job", service)]);
    Subject {
        key: format!("requests {service}"),
        series: vec![
            Series::new(&red.requests, &service_labels, counter(grid, COUNTER_START, REQUESTS_PER_STEP)),
            Series::new(
                &red.failures,
                &service_labels,
                counter(grid, COUNTER_START, REQUESTS_PER_STEP * failing_percent / 100.0),
            ),
        ],
        p95: None,
    }
}

/// Seed: Application Alerts, with the monitors' overrides.
fn application(stack: &ResolvedStack) -> Suite {
    let application = &stack.spec.alerting.rules.application;
    let red = &stack.spec.metrics.red;
    let rules = app_rules(stack);
    let database = threshold(stack, "DatabaseDown", &application.database_down, "database", 0);
    // The targets of monitors marked as databases carry `database`; the stack's own selector
    // takes further targets.
    let marked = parse_matchers(r#"{database!=""}"#);
    let selected = application.database_selector.as_deref().map(parse_matchers);
    let is_database =
        |target: &Labels| matches(&marked, target) || selected.as_ref().is_some_and(|extra| matches(extra, target));

    let windows: Vec<u64> = rules.iter().map(|rule| rule.threshold.window).collect();
    let fors: Vec<u64> =
        rules.iter().map(|rule| rule.threshold.for_seconds).chain(database.iter().map(|t| t.for_seconds)).collect();
    let step = step_for(&windows, &fors, 4);
    let steps = |seconds: u64| (seconds / step) as usize;
    // Traffic of the silent services stops after two steps; databases go down at the third.
    let (stop, down) = (2, 3);
    let mut len = 1 + steps(fors.iter().max().copied().unwrap_or(0));
    for rule in rules.iter().filter(|rule| rule.alert == AppAlert::NoRequests) {
        len = len.max(stop + steps(rule.threshold.window) + steps(rule.threshold.for_seconds));
    }
    if let Some(database) = &database {
        len = len.max(down + steps(database.for_seconds));
    }
    let grid = Grid { step, len: len + 3 };

    let mut plans = Vec::new();
    for (case, side) in [("just above the thresholds", 1.0), ("just below the thresholds", -1.0)] {
        let which = if side > 0.0 { "above" } else { "below" };
        for rule in &rules {
            let service = rule.only.clone().unwrap_or_else(|| format!("{}-{which}", kebab(rule.alert.name())));
            let subject = match rule.alert {
                AppAlert::HighErrorRate | AppAlert::CriticalErrorRate => {
                    requests_subject(grid, red, &service, percent_beside(rule.threshold.value, side))
                }
                AppAlert::HighLatency | AppAlert::CriticalLatency => {
                    let millis = millis_beside(rule.threshold.value * 1000.0, side);
                    latency_subject(grid, &format!("{}_bucket", red.duration), &service, millis / 1000.0)
                }
                AppAlert::NoRequests => {
                    // Just above "none": no request after the second step; just below: some in every step.
                    let threshold = rule.threshold.value;
                    let per_step = if side > 0.0 { 0.0 } else { threshold.floor() + 1.0 };
                    let values =
                        counter_by(
                            grid,
                            COUNTER_START,
                            |index| {
                                if index <= stop { REQUESTS_PER_STEP } else { per_step }
                            },
                        );
                    let service_labels = labels([("service", service.as_str()), ("job", service.as_str())]);
                    Subject {
                        key: format!("requests {service}"),
                        series: vec![Series::new(&red.requests, &service_labels, values)],
                        p95: None,
                    }
                }
            };
            place(&mut plans, case, grid, subject);
        }
        // A service that disables an alert gets no alert however far above the threshold it is.
        for rule in rules.iter().filter(|rule| rule.only.is_none() && side > 0.0) {
            for service in &rule.excluded {
                if rules.iter().any(|other| other.alert == rule.alert && other.only.as_ref() == Some(service)) {
                    continue;
                }
                let subject = match rule.alert {
                    AppAlert::HighErrorRate | AppAlert::CriticalErrorRate => {
                        requests_subject(grid, red, service, percent_beside(rule.threshold.value, 1.0))
                    }
                    AppAlert::HighLatency | AppAlert::CriticalLatency => latency_subject(
                        grid,
                        &format!("{}_bucket", red.duration),
                        service,
                        millis_beside(rule.threshold.value * 1000.0, 1.0) / 1000.0,
                    ),
                    AppAlert::NoRequests => {
                        let service_labels = labels([("service", service.as_str()), ("job", service.as_str())]);
                        let values = counter_by(grid, COUNTER_START, |index| if index <= stop { 1.0 } else { 0.0 });
                        Subject {
                            key: format!("requests {service}"),
                            series: vec![Series::new(&red.requests, &service_labels, values)],
                            p95: None,
                        }
                    }
                };
                place(&mut plans, case, grid, subject);
            }
        }
        if database.is_some() {
            // A database target that goes down; another that stays up; a target the selector
            // does not take as a database going down.
            let candidates = [
                ("mongodb", "mongodb"),
                ("milvus", "milvus"),
                ("postgres", ""),
                ("redis", ""),
                ("gateway", ""),
                ("auth-service", ""),
            ];
            let target_of = |job: &str, database: &str| {
                let instance = format!("{job}-0.{job}:9216");
                let mut target = labels([("job", job), ("instance", instance.as_str())]);
                if !database.is_empty() {
                    target.insert("database".to_owned(), database.to_owned());
                }
                target
            };
            let up_of = |target: &Labels| {
                let mut series = target.clone();
                series.insert("__name__".to_owned(), "up".to_owned());
                series
            };
            let (databases, others): (Vec<Labels>, Vec<Labels>) = candidates
                .into_iter()
                .map(|(job, database)| target_of(job, database))
                .partition(|target| is_database(&up_of(target)));
            let mut targets = Vec::new();
            if let Some(target) = databases.first() {
                targets.push((target.clone(), side > 0.0));
            }
            if let Some(target) = databases.get(1) {
                targets.push((target.clone(), false));
            }
            if let Some(target) = others.first() {
                targets.push((target.clone(), true));
            }
            for (target, goes_down) in targets {
                let job = target.get("job").cloned().unwrap_or_default();
                let values =
                    (0..grid.len).map(|index| Some(if goes_down && index >= down { 0.0 } else { 1.0 })).collect();
                let subject =
                    Subject { key: format!("up {job}"), series: vec![Series::new("up", &target, values)], p95: None };
                place(&mut plans, case, grid, subject);
            }
        }
    }

    finish("application", &[APPLICATION_FILE], step, plans, |plan| {
        let grid = plan.grid;
        let mut models = Vec::new();
        for rule in &rules {
            let mut model = rule.model();
            for subject in &plan.subjects {
                let service = subject.labels().get("service").cloned().unwrap_or_default();
                if service.is_empty() || !rule.applies_to(&service) {
                    continue;
                }
                let window = rule.threshold.window;
                let what = format!("{} of {service}", rule.alert.name());
                let measure = |index: usize| -> Option<bool> {
                    match rule.alert {
                        AppAlert::HighErrorRate | AppAlert::CriticalErrorRate => {
                            let failed = rate(subject.values(&red.failures)?, grid, index, window)?;
                            let total = rate(subject.values(&red.requests)?, grid, index, window)?;
                            Some(above(100.0 * failed / total, rule.threshold.value, &what))
                        }
                        AppAlert::HighLatency | AppAlert::CriticalLatency => {
                            let buckets = subject.values(&format!("{}_bucket", red.duration))?;
                            growth(buckets, grid, index, window)?;
                            Some(above(subject.p95?, rule.threshold.value, &what))
                        }
                        AppAlert::NoRequests => {
                            let (grown, _) = growth(subject.values(&red.requests)?, grid, index, window)?;
                            Some(at_most(grown, rule.threshold.value, &what))
                        }
                    }
                };
                let active: Vec<bool> = (0..grid.len).map(|index| measure(index) == Some(true)).collect();
                let applies = match rule.alert {
                    AppAlert::HighErrorRate | AppAlert::CriticalErrorRate => subject.values(&red.failures).is_some(),
                    AppAlert::HighLatency | AppAlert::CriticalLatency => subject.p95.is_some(),
                    AppAlert::NoRequests => subject.values(&red.requests).is_some(),
                };
                if applies {
                    model.result(labels([("service", service.as_str())]), active);
                }
            }
            models.push(model);
        }
        if let Some(threshold) = &database {
            let mut model = RuleModel::of(threshold);
            for subject in &plan.subjects {
                let Some(up) = subject.values("up") else { continue };
                let mut target = subject.labels().clone();
                target.insert("__name__".to_owned(), "up".to_owned());
                if !is_database(&target) {
                    continue;
                }
                target.remove("__name__");
                let active = (0..grid.len).map(|index| instant(up, grid, index) == Some(0.0)).collect();
                model.result(target, active);
            }
            models.push(model);
        }
        models
    })
}

/// A service whose request durations have the given p95, in seconds.
fn latency_subject(grid: Grid, metric: &str, service: &str, p95_seconds: f64) -> Subject {
    let base = labels([("service", service), ("job", service)]);
    Subject {
        key: format!("latency {service}"),
        series: histogram(metric, grid, &base, p95_seconds),
        p95: Some(p95_seconds),
    }
}

/// Seed: Business Alerts without the churn (signups and payments, over minutes).
fn business(stack: &ResolvedStack) -> Suite {
    let alerts = &stack.spec.alerting.rules.business;
    let metrics = &stack.spec.metrics.business;
    let signups = threshold(stack, "NoSignups", &alerts.no_signups, "signups", 3_600);
    let payments = threshold(stack, "PaymentFailures", &alerts.payment_failures, "payments", 300);
    let churn = threshold(stack, "HighChurn", &alerts.high_churn, "churn", 30 * 86_400);
    let windows: Vec<u64> = signups.iter().chain(&payments).map(|threshold| threshold.window).collect();
    let fors: Vec<u64> = signups.iter().chain(&payments).map(|threshold| threshold.for_seconds).collect();
    let step = step_for(&windows, &fors, 4);
    let steps = |seconds: u64| (seconds / step) as usize;
    let stop = 2;
    let len = signups
        .iter()
        .map(|t| stop + steps(t.window) + steps(t.for_seconds))
        .max()
        .unwrap_or(0)
        .max(payments.iter().map(|t| 1 + steps(t.for_seconds)).max().unwrap_or(0))
        + 3;
    let grid = Grid { step, len };

    // The business alerts sum over the whole platform: one subject per metric and group.
    let mut plans = Vec::new();
    for (case, side) in [("just above the thresholds", 1.0), ("just below the thresholds", -1.0)] {
        let mut plan = GroupPlan::new(case, grid);
        if let Some(signups) = &signups {
            let per_step = if side > 0.0 { 0.0 } else { signups.value.floor() + 1.0 };
            let values = counter_by(grid, 1_000.0, |index| if index <= stop { 3.0 } else { per_step });
            let source = labels([("source", "web")]);
            plan.subjects.push(Subject {
                key: "signups".to_owned(),
                series: vec![Series::new(&metrics.signups, &source, values)],
                p95: None,
            });
        }
        if let Some(payments) = &payments {
            let percent = percent_beside(payments.value, side);
            let provider = labels([("provider", "stripe")]);
            plan.subjects.push(Subject {
                key: "payments".to_owned(),
                series: vec![
                    Series::new(&metrics.payments, &provider, counter(grid, COUNTER_START, REQUESTS_PER_STEP)),
                    Series::new(
                        &metrics.payment_failures,
                        &provider,
                        counter(grid, COUNTER_START, REQUESTS_PER_STEP * percent / 100.0),
                    ),
                ],
                p95: None,
            });
        }
        plans.push(plan);
    }

    finish("business", &[BUSINESS_FILE], step, plans, |plan| {
        let grid = plan.grid;
        let mut models = Vec::new();
        if let Some(threshold) = &signups {
            let mut model = RuleModel::of(threshold);
            if let Some(values) = plan.subjects.iter().find_map(|subject| subject.values(&metrics.signups)) {
                let active = (0..grid.len)
                    .map(|index| {
                        growth(values, grid, index, threshold.window)
                            .is_some_and(|(grown, _)| at_most(grown, threshold.value, "signups"))
                    })
                    .collect();
                model.result(Labels::new(), active);
            }
            models.push(model);
        }
        if let Some(threshold) = &payments {
            let mut model = RuleModel::of(threshold);
            let total = plan.subjects.iter().find_map(|subject| subject.values(&metrics.payments));
            let failed = plan.subjects.iter().find_map(|subject| subject.values(&metrics.payment_failures));
            if let (Some(total), Some(failed)) = (total, failed) {
                let active = (0..grid.len)
                    .map(|index| {
                        let ratio =
                            rate(failed, grid, index, threshold.window)? / rate(total, grid, index, threshold.window)?;
                        Some(above(100.0 * ratio, threshold.value, "payment failures"))
                    })
                    .map(|active| active == Some(true))
                    .collect();
                model.result(Labels::new(), active);
            }
            models.push(model);
        }
        if let Some(threshold) = &churn {
            // No churn data in these groups: the churn is judged over months in its own suite.
            models.push(RuleModel::of(threshold));
        }
        models
    })
}

/// Seed: the monthly churn, on a grid of its own (a day per step over a 30-day window).
fn churn(stack: &ResolvedStack) -> Option<Suite> {
    let alerts = &stack.spec.alerting.rules.business;
    let metrics = &stack.spec.metrics.business;
    let churn = threshold(stack, "HighChurn", &alerts.high_churn, "churn", 30 * 86_400)?;
    let step = step_for(&[churn.window], &[churn.for_seconds], 7);
    let window_steps = (churn.window / step) as usize;
    let grid = Grid { step, len: window_steps + (churn.for_seconds / step) as usize + 3 };
    let active_subscriptions = 10_000.0;
    let mut plans = Vec::new();
    for (case, side) in [("just above the threshold", 1.0), ("just below the threshold", -1.0)] {
        let percent = percent_beside(churn.value, side);
        let per_step = active_subscriptions * percent / 100.0 / window_steps as f64;
        let plan_labels = labels([("plan", "pro")]);
        let mut plan = GroupPlan::new(case, grid);
        plan.subjects.push(Subject {
            key: "subscriptions".to_owned(),
            series: vec![
                Series::new(&metrics.cancelled_subscriptions, &plan_labels, counter(grid, COUNTER_START, per_step)),
                // The active count is known once the cancellations cover a whole window.
                Series::new(
                    &metrics.active_subscriptions,
                    &plan_labels,
                    gauge_from(grid, active_subscriptions, window_steps),
                ),
            ],
            p95: None,
        });
        plans.push(plan);
    }
    let signups = threshold(stack, "NoSignups", &alerts.no_signups, "signups", 3_600);
    let payments = threshold(stack, "PaymentFailures", &alerts.payment_failures, "payments", 300);
    Some(finish("business-churn", &[BUSINESS_FILE], step, plans, |plan| {
        let grid = plan.grid;
        let mut models: Vec<RuleModel> = signups.iter().chain(&payments).map(RuleModel::of).collect();
        let mut model = RuleModel::of(&churn);
        let cancelled = plan.subjects.iter().find_map(|subject| subject.values(&metrics.cancelled_subscriptions));
        let active = plan.subjects.iter().find_map(|subject| subject.values(&metrics.active_subscriptions));
        if let (Some(cancelled), Some(active)) = (cancelled, active) {
            let states = (0..grid.len)
                .map(|index| {
                    let per_window = rate(cancelled, grid, index, churn.window)? * churn.window as f64;
                    let percent = 100.0 * per_window / instant(active, grid, index)?;
                    Some(above(percent, churn.value, "churn"))
                })
                .map(|active| active == Some(true))
                .collect();
            model.result(Labels::new(), states);
        }
        models.push(model);
        models
    }))
}

/// One service's objectives, as the renderer resolves them from the first monitor declaring one.
struct Objective {
    service: String,
    /// The labels the SLI records carry, per SLO kind.
    availability_labels: Labels,
    latency_labels: Labels,
    availability_budget: f64,
    /// `le` of the latency target, as Prometheus 3 stores it.
    latency_le: String,
}

/// `ppb` billionths as the shortest decimal text (`1000000` → `0.001`).
fn parts_per_billion(ppb: u64) -> String {
    let text = format!("{}.{:09}", ppb / 1_000_000_000, ppb % 1_000_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn objectives(stack: &ResolvedStack) -> Vec<Objective> {
    let mut seen = BTreeSet::new();
    let mut objectives = Vec::new();
    for monitor in monitors_in_order(stack) {
        let Some(slo) = &monitor.spec.slo else { continue };
        let service = monitor.service_label();
        if !seen.insert(service.clone()) {
            continue;
        }
        let decimal = |value: f64| Decimal::from_f64(value).unwrap_or_else(|| panic!("{service}: {value}"));
        let availability = decimal(slo.availability);
        let error_rate = decimal(slo.error_rate).shift(2);
        // Failed/total is bounded by both targets: the smaller allowance wins. Computed here in
        // whole parts per billion from the spec's percentages, not with the renderer's decimals.
        let unavailable_ppb = ((100.0 - slo.availability) * 1e7).round() as u64;
        let error_rate_ppb = (slo.error_rate * 1e7).round() as u64;
        let budget_ppb = match error_rate_ppb {
            0 => unavailable_ppb,
            bound => unavailable_ppb.min(bound),
        };
        let budget = parts_per_billion(budget_ppb);
        let latency_millis = slo.latency_p95.to_millis().unwrap_or_else(|| panic!("{service}: latencyP95"));
        let latency = Decimal::from_millis(latency_millis);
        let common = labels([
            ("service", service.as_str()),
            ("availability_target", &availability.to_string()),
            ("latency_target_seconds", &latency.to_string()),
            ("error_rate_target", &error_rate.to_string()),
        ]);
        let with = |slo: &str, budget: &str| {
            let mut labels = common.clone();
            labels.insert("slo".to_owned(), slo.to_owned());
            labels.insert("error_budget".to_owned(), budget.to_owned());
            labels
        };
        objectives.push(Objective {
            availability_labels: with("availability", &budget),
            latency_labels: with("latency", LATENCY_SLO_BUDGET_TEXT),
            availability_budget: budget_ppb as f64 / 1e9,
            latency_le: le_label(latency_millis as f64 / 1000.0),
            service,
        });
    }
    objectives
}

/// The SLO burn-rate alerts around one pair of windows. Every service with an objective burns
/// its budget at just above (or just below) the pair's factor, in both SLOs, after a healthy
/// history long enough that the long windows of the other pairs of the same severity with a
/// lower factor are diluted: the pair under test decides alone whether its severity fires.
fn slo_pair(stack: &ResolvedStack, pair_index: usize) -> Option<Suite> {
    let slos = &stack.spec.slos;
    let red = &stack.spec.metrics.red;
    let objectives = objectives(stack);
    if objectives.is_empty() {
        return None;
    }
    let pairs: Vec<(u64, u64, f64, Severity)> = slos
        .burn_rate_windows
        .iter()
        .map(|pair| {
            (seconds(&pair.long, "burn window"), seconds(&pair.short, "burn window"), pair.factor, pair.severity)
        })
        .collect();
    let (long, short, factor, severity) = pairs[pair_index];
    let step = step_for(&[long, short], &[], 4);
    let distance = if factor >= 0.5 { 0.1 } else { factor / 5.0 };
    // The healthy history before the burn: long enough that, once the pair's long window is all
    // burn, the long window of every other pair of the severity with a lower factor sees the burn
    // diluted to under 90% of its own factor (or as diluted as its window allows).
    let history = pairs
        .iter()
        .filter(|(other_long, _, other_factor, other_severity)| {
            *other_severity == severity && *other_factor < factor && *other_long > long
        })
        .map(|(other_long, _, other_factor, _)| {
            let covered = ((factor + distance) * long as f64 / (0.9 * other_factor)).ceil() as u64;
            covered.min(*other_long).saturating_sub(long)
        })
        .max()
        .unwrap_or(0)
        .max(2 * short)
        .div_ceil(step)
        * step;
    let burn_from = (history / step) as usize;
    let grid = Grid { step, len: burn_from + (long / step) as usize + 2 };

    let mut plans = Vec::new();
    for (case, side) in [("burning just above the factor", 1.0), ("burning just below the factor", -1.0)] {
        let burn = factor + side * distance;
        let mut plan = GroupPlan::new(format!("{case} ({burn}x)"), grid);
        // Short window burning alone, then both.
        plan.times.extend([burn_from + (2 * short / step) as usize, burn_from + (long / step) as usize]);
        for objective in &objectives {
            let service = labels([("service", objective.service.as_str()), ("job", objective.service.as_str())]);
            let failing = (burn * objective.availability_budget).min(1.0);
            let slow = (burn * LATENCY_SLO_BUDGET).min(1.0);
            let per_step = SLO_REQUESTS_PER_STEP;
            let bad = |share: f64| move |index: usize| if index > burn_from { per_step * share } else { 0.0 };
            let mut fast = service.clone();
            fast.insert("le".to_owned(), objective.latency_le.clone());
            let mut all = service.clone();
            all.insert("le".to_owned(), "+Inf".to_owned());
            let histogram_metric = format!("{}_bucket", red.duration);
            plan.subjects.push(Subject {
                key: format!("slo {}", objective.service),
                series: vec![
                    Series::new(&red.requests, &service, counter(grid, COUNTER_START, per_step)),
                    Series::new(&red.failures, &service, counter_by(grid, COUNTER_START, bad(failing))),
                    Series::new(
                        &histogram_metric,
                        &fast,
                        counter_by(grid, COUNTER_START, |index| per_step - bad(slow)(index)),
                    ),
                    Series::new(&histogram_metric, &all, counter(grid, COUNTER_START, per_step)),
                    Series::new(&format!("{}_count", red.duration), &service, counter(grid, COUNTER_START, per_step)),
                ],
                p95: None,
            });
        }
        plans.push(plan);
    }

    let name = format!("slo-{}-{}", duration_text(long), duration_text(short));
    Some(finish(&name, &[SLO_FILE], step, plans, |plan| {
        let grid = plan.grid;
        let mut models = Vec::new();
        for objective in &objectives {
            let Some(subject) =
                plan.subjects.iter().find(|subject| subject.key == format!("slo {}", objective.service))
            else {
                continue;
            };
            let series = |metric: &str, le: Option<&str>| {
                subject
                    .series
                    .iter()
                    .find(|series| series.metric == metric && series.labels.get("le").map(String::as_str) == le)
                    .map(|series| series.values.as_slice())
                    .unwrap_or_else(|| panic!("no {metric} for {}", objective.service))
            };
            let requests = series(&red.requests, None);
            let failures = series(&red.failures, None);
            let fast = series(&format!("{}_bucket", red.duration), Some(&objective.latency_le));
            let count = series(&format!("{}_count", red.duration), None);
            for (alert, signal, slo, record_labels, budget) in [
                (
                    "AvailabilityErrorBudgetBurn",
                    "slo_burn",
                    "availability",
                    &objective.availability_labels,
                    objective.availability_budget,
                ),
                (
                    "LatencyErrorBudgetBurn",
                    "slo_latency_burn",
                    "latency",
                    &objective.latency_labels,
                    LATENCY_SLO_BUDGET,
                ),
            ] {
                let sli = |index: usize, window: u64| -> Option<f64> {
                    if slo == "availability" {
                        Some(rate(failures, grid, index, window)? / rate(requests, grid, index, window)?)
                    } else {
                        Some(1.0 - rate(fast, grid, index, window)? / rate(count, grid, index, window)?)
                    }
                };
                let mut severities: Vec<Severity> = Vec::new();
                for (.., severity) in &pairs {
                    if !severities.contains(severity) {
                        severities.push(*severity);
                    }
                }
                for severity in severities {
                    let mut rule_labels =
                        alert_labels(severity, stack.spec.slos.burn_rate_incident_levels.of(severity), signal);
                    rule_labels.insert("channels".to_owned(), severity_channels(stack, severity));
                    rule_labels.insert("service".to_owned(), objective.service.clone());
                    rule_labels.insert("slo".to_owned(), slo.to_owned());
                    let mut model = RuleModel::new(alert, 0, rule_labels);
                    let active = (0..grid.len)
                        .map(|index| {
                            pairs.iter().filter(|pair| pair.3 == severity).any(|(long, short, factor, _)| {
                                let limit = factor * budget;
                                let burning = |window: u64| {
                                    sli(index, window).is_some_and(|value| {
                                        above(
                                            value,
                                            limit,
                                            &format!("{slo} SLI of {} over {window}s", objective.service),
                                        )
                                    })
                                };
                                burning(*long) && burning(*short)
                            })
                        })
                        .collect();
                    model.result(record_labels.clone(), active);
                    models.push(model);
                }
            }
        }
        models
    }))
}

/// Label values a span may carry, to find spans each budget's matchers select.
const SPAN_VOCABULARY: [(&str, &[&str]); 4] = [
    ("service_name", &["gateway", "auth-service", "response-3d", "response-text", "llm-service", "checkout"]),
    ("span_kind", &["SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_INTERNAL"]),
    ("db_system", &["mongodb", "cosmosdb", "milvus", "postgresql", "redis"]),
    ("span_name", &["GET /v1/chat", "mongodb.find", "milvus.search", "llm.chat_completion", "tts.synthesize"]),
];

/// Seed: Performance Budgets. For each budget a span just over and one just under it, chosen from
/// a vocabulary to match that budget's matchers and as few other budgets as possible (those it
/// also matches are expected to judge it too).
fn budgets(stack: &ResolvedStack) -> Suite {
    let budgets: Vec<(String, f64, Vec<Matcher>)> = stack
        .spec
        .slos
        .budgets
        .iter()
        .map(|budget| (budget.name.clone(), f64::from(budget.threshold_ms), parse_matchers(&budget.span_matchers)))
        .collect();
    let step = step_for(&[BUDGET_WINDOW_SECONDS], &[], 4);
    let grid = Grid { step, len: 4 };
    let mut plans = Vec::new();
    for (name, threshold_ms, matchers) in &budgets {
        let mut candidates: Vec<Labels> = vec![Labels::new()];
        for (label, values) in SPAN_VOCABULARY {
            let constrained = matchers.iter().any(|(name, ..)| name == label);
            let values: Vec<&str> = if constrained || label == "service_name" { values.to_vec() } else { vec![""] };
            candidates = candidates
                .into_iter()
                .flat_map(|base| {
                    values.iter().map(move |value| {
                        let mut labels = base.clone();
                        if !value.is_empty() {
                            labels.insert(label.to_owned(), (*value).to_owned());
                        }
                        labels
                    })
                })
                .collect();
        }
        for (label, op, value) in matchers {
            if op == "=" && !SPAN_VOCABULARY.iter().any(|(known, _)| known == label) {
                for candidate in &mut candidates {
                    candidate.insert(label.clone(), value.clone());
                }
            }
        }
        let span = candidates
            .into_iter()
            .filter(|candidate| matches(matchers, candidate))
            .min_by_key(|candidate| budgets.iter().filter(|(_, _, other)| matches(other, candidate)).count())
            .unwrap_or_else(|| panic!("budget {name}: no span of the vocabulary matches {matchers:?}; extend it"));
        for (case, side) in [("just above", 1.0), ("just below", -1.0)] {
            let p95 = millis_beside(*threshold_ms, side);
            let mut plan = GroupPlan::new(format!("{name} budget: p95 {p95}ms, {case}"), grid);
            plan.subjects.push(Subject {
                key: format!("span {name}"),
                series: histogram(SPAN_BUCKETS, grid, &span, p95),
                p95: Some(p95),
            });
            plans.push(plan);
        }
    }
    finish("budgets", &[BUDGETS_FILE], step, plans, |plan| {
        let grid = plan.grid;
        budgets
            .iter()
            .map(|(name, threshold_ms, matchers)| {
                // Severity and level as the spec states them (slos.budgetAlert).
                let alert = &stack.spec.slos.budget_alert;
                let channels = severity_channels(stack, alert.severity);
                let (severity, level) = (alert.severity.as_str(), format!("{:?}", alert.incident_level));
                let rule_labels = labels([
                    ("budget", name.as_str()),
                    ("channels", channels.as_str()),
                    ("severity", severity),
                    ("incident_level", level.as_str()),
                    ("signal", "budget"),
                ]);
                let mut model = RuleModel::new("PerformanceBudgetExceeded", 0, rule_labels);
                for subject in &plan.subjects {
                    let span = &subject.series[0];
                    let mut selected = span.labels.clone();
                    selected.remove("le");
                    if !matches(matchers, &selected) {
                        continue;
                    }
                    let service = selected.get("service_name").cloned().unwrap_or_default();
                    let p95 = subject.p95.unwrap_or_default();
                    let active = (0..grid.len)
                        .map(|index| {
                            growth(&span.values, grid, index, BUDGET_WINDOW_SECONDS).is_some()
                                && above(p95 / 1000.0, threshold_ms / 1000.0, &format!("{name} p95"))
                        })
                        .collect();
                    model.result(labels([("service_name", service.as_str()), ("service", service.as_str())]), active);
                }
                model
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Running promtool

/// The rendered rule files as promtool gets them: every alert's annotations left out. promtool
/// compares annotations exactly, and these are templates over `$value` whose float formatting is
/// not what these tests judge (`promtool check rules` validates them); expressions, `for` and
/// labels stay byte for byte as rendered.
pub fn without_annotations(text: &str) -> Result<String, String> {
    let mut file: serde_json::Value = serde_saphyr::from_str(text).map_err(|error| error.to_string())?;
    let groups = file.get_mut("groups").and_then(serde_json::Value::as_array_mut).ok_or("no groups")?;
    for group in groups {
        let rules = group.get_mut("rules").and_then(serde_json::Value::as_array_mut).ok_or("a group without rules")?;
        for rule in rules {
            if let Some(rule) = rule.as_object_mut() {
                rule.remove("annotations");
            }
        }
    }
    serde_json::to_string_pretty(&file).map_err(|error| error.to_string())
}

/// Writes the suite next to the rule files in `dir` and runs `promtool test rules` on it;
/// `Err` carries what promtool said.
pub fn run(promtool: &Path, dir: &Path, suite: &Suite) -> Result<(), String> {
    let file = dir.join(suite.file_name());
    std::fs::write(&file, suite.to_yaml()?).map_err(|error| format!("{}: {error}", file.display()))?;
    let output = std::process::Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", promtool.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout).trim(), String::from_utf8_lossy(&output.stderr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_labels_follow_prometheus_3() {
        for (value, text) in [(3.0, "3.0"), (0.1, "0.1"), (1.55, "1.55"), (4.65, "4.65"), (100_000.0, "100000.0")] {
            assert_eq!(le_label(value), text);
        }
        assert_eq!(le_label(1e6), "1e+06");
        assert_eq!(le_label(0.00001), "1e-05");
        assert_eq!(le_label(0.0001), "0.0001");
    }

    #[test]
    fn notation_compresses_only_exact_runs() {
        let series = |values: Vec<Option<f64>>| Series::new("m", &Labels::new(), values).notation();
        assert_eq!(series(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]), "1+1x3");
        assert_eq!(series(vec![None, None, Some(5.0), Some(5.0), Some(5.0)]), "_x2 5x2");
        assert_eq!(series(vec![Some(0.5), Some(1.0), Some(1.5)]), "0.5 1 1.5");
        assert_eq!(series(vec![Some(5.0), Some(5.0), Some(6.0), Some(6.0)]), "5 5 6 6");
    }

    #[test]
    fn matchers_parse_and_match_like_promql() {
        let matchers = parse_matchers(r#"span_kind="SPAN_KIND_SERVER", service_name=~"gateway|response-3d""#);
        assert_eq!(matchers.len(), 2);
        assert!(matches(&matchers, &labels([("span_kind", "SPAN_KIND_SERVER"), ("service_name", "gateway")])));
        assert!(!matches(&matchers, &labels([("span_kind", "SPAN_KIND_SERVER"), ("service_name", "gateway-x")])));
        let database = parse_matchers(r#"{job=~".*(mongodb|cosmos|milvus).*"}"#);
        assert!(matches(&database, &labels([("job", "cosmosdb")])));
        assert!(!matches(&database, &labels([("job", "gateway")])));
        assert!(matches(&parse_matchers(r#"span_name=~"(?i).*llm.*""#), &labels([("span_name", "LLM call")])));
    }

    #[test]
    fn windows_are_left_open() {
        let grid = Grid { step: 60, len: 20 };
        assert_eq!(grid.window(10, 300), 6..=10);
        assert_eq!(grid.window(3, 300), 0..=3);
        assert_eq!(grid.window(5, 300), 1..=5);
    }

    #[test]
    fn durations_print_as_prometheus_reads_them() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(90), "1m30s");
        assert_eq!(duration_text(93_600), "1d2h");
    }
}
