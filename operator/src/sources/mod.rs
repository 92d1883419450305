//! The rule-source check: which enabled rules can never fire, because some series they read is
//! produced by no scrape job of the stack.
//!
//! Sources are known statically ([`exports`]): the stack's own components, the kubelet and
//! cAdvisor, kube-state-metrics and node-exporter (the stack's or the cluster's selected ones),
//! and the ServiceMonitors (the RED metrics, the names they declare, their database gauge). A
//! source also knows some of its labels: `database` (set on the targets of monitors marked as
//! databases, absent everywhere else), a monitor's `service`, and the `le` bounds of a declared
//! histogram; a selector matching on those must match a known value. Recording rules are sources
//! too, once their own inputs are. An alert can fire when every series of one of its top-level
//! `or` alternatives has a source; the others are reported in the stack's status with the series
//! that has none, e.g. `ContainerCrash cannot fire: kube_pod_container_status_restarts_total has
//! no source`.

pub(crate) mod exports;
pub mod promql;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use promql::{MatchOp, Selector, alternatives};

use crate::api::UnfireableRule;
use crate::render::prometheus::{DATABASE_LABEL, component_jobs, kubelet_jobs};
use crate::render::rules::{Decimal, Rule, rule_files};
use crate::render::{Component, RenderError};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum SourceCheckError {
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("rule {rule}: {source}")]
    Promql { rule: String, source: promql::PromqlError },
    #[error("scrape job {0} has no entry in the table of what each source exports")]
    UnknownJob(String),
}

/// Where some series come from: a scrape job, a monitor's jobs, or a recording rule.
#[derive(Debug)]
struct Source {
    exact: BTreeSet<String>,
    prefixes: Vec<String>,
    /// Known values of labels on all its series (an absent label is the empty value).
    labels: BTreeMap<&'static str, Vec<String>>,
    /// Known values of a label of one of its metrics: `(metric, label, values)`.
    metric_labels: Vec<(String, &'static str, Vec<String>)>,
    /// A recording rule's static labels: known values, any other label unknown.
    recorded_labels: BTreeMap<String, String>,
}

impl Source {
    /// A job of the stack's own components, the kubelet or an exporter. Its targets carry no
    /// `database` label, and no `service` label but kube-state-metrics' own (`labeled`).
    fn job(names: &[String], labeled: bool) -> Self {
        let (prefixes, exact): (Vec<&String>, Vec<&String>) = names.iter().partition(|name| name.ends_with('*'));
        let mut exact: BTreeSet<String> = exact.into_iter().cloned().collect();
        exact.extend(exports::EVERY_JOB.iter().map(|name| (*name).to_owned()));
        Self {
            exact,
            prefixes: prefixes.into_iter().map(|prefix| prefix.trim_end_matches('*').to_owned()).collect(),
            labels: if labeled {
                BTreeMap::from([(DATABASE_LABEL, vec![String::new()])])
            } else {
                BTreeMap::from([(DATABASE_LABEL, vec![String::new()]), ("service", vec![String::new()])])
            },
            metric_labels: Vec::new(),
            recorded_labels: BTreeMap::new(),
        }
    }

    fn monitor(stack: &ResolvedStack, monitor: &ResolvedMonitor) -> Self {
        let red = &stack.spec.metrics.red;
        let bucket = format!("{}_bucket", red.duration);
        let mut exact: BTreeSet<String> = exports::EVERY_JOB.iter().map(|name| (*name).to_owned()).collect();
        exact.extend([red.requests.clone(), red.failures.clone(), bucket.clone()]);
        exact.extend(["_count", "_sum"].map(|suffix| format!("{}{suffix}", red.duration)));
        exact.extend(monitor.spec.metrics.iter().cloned());
        let histogram = monitor.spec.histogram.as_ref();
        if histogram.is_some_and(|histogram| histogram.native) {
            exact.insert(red.duration.clone());
        }
        let database = monitor.spec.database.as_ref();
        exact.extend(database.and_then(|database| database.up_metric.clone()));
        let mut metric_labels = Vec::new();
        if let Some(histogram) = histogram.filter(|histogram| !histogram.buckets.is_empty()) {
            // Prometheus 3 stores `le` in OpenMetrics form, as the SLO rules write it.
            let bounds = histogram.buckets.iter().filter_map(|bound| Decimal::from_f64(*bound));
            metric_labels.push((bucket, "le", bounds.map(Decimal::openmetrics).chain(["+Inf".to_owned()]).collect()));
        }
        Self {
            exact,
            prefixes: Vec::new(),
            labels: BTreeMap::from([
                (DATABASE_LABEL, vec![database.map(|database| database.system.clone()).unwrap_or_default()]),
                ("service", vec![monitor.service_label()]),
            ]),
            metric_labels,
            recorded_labels: BTreeMap::new(),
        }
    }

    fn recorded(record: &str, labels: &BTreeMap<String, String>) -> Self {
        Self {
            exact: BTreeSet::from([record.to_owned()]),
            prefixes: Vec::new(),
            labels: BTreeMap::new(),
            metric_labels: Vec::new(),
            recorded_labels: labels.clone(),
        }
    }

    fn exports(&self, metric: &str) -> bool {
        self.exact.contains(metric) || self.prefixes.iter().any(|prefix| metric.starts_with(prefix.as_str()))
    }

    /// The known values of a label of one metric, if the source knows them.
    fn known(&self, metric: &str, label: &str) -> Option<Vec<&str>> {
        if let Some(value) = self.recorded_labels.get(label) {
            return Some(vec![value.as_str()]);
        }
        if let Some((_, _, values)) =
            self.metric_labels.iter().find(|(name, known, _)| name == metric && *known == label)
        {
            return Some(values.iter().map(String::as_str).collect());
        }
        self.labels.get(label).map(|values| values.iter().map(String::as_str).collect())
    }

    /// The first matcher of the selector no known value of this source satisfies, if any.
    fn refuses<'s>(&self, selector: &'s Selector) -> Option<&'s promql::Matcher> {
        selector.matchers.iter().find(|matcher| {
            self.known(&selector.metric, &matcher.label)
                .is_some_and(|values| !values.iter().any(|value| matcher.accepts(value)))
        })
    }

    /// The `service` label's one known value.
    fn service(&self) -> Option<&str> {
        match self.labels.get("service").map(Vec::as_slice) {
            Some([service]) => Some(service),
            _ => self.recorded_labels.get("service").map(String::as_str),
        }
    }
}

/// The sources, indexed by exact metric name (and by service where one is known), so a stack of
/// thousands of monitors is checked without comparing every selector with every monitor.
#[derive(Default)]
struct Sources {
    all: Vec<Source>,
    prefixed: Vec<usize>,
    by_name: HashMap<String, Vec<usize>>,
    by_name_service: HashMap<(String, String), Vec<usize>>,
    by_name_any_service: HashMap<String, Vec<usize>>,
}

impl Sources {
    fn add(&mut self, source: Source) {
        let index = self.all.len();
        if !source.prefixes.is_empty() {
            self.prefixed.push(index);
        }
        for name in &source.exact {
            self.by_name.entry(name.clone()).or_default().push(index);
            match source.service() {
                Some(service) => {
                    self.by_name_service.entry((name.clone(), service.to_owned())).or_default().push(index)
                }
                None => self.by_name_any_service.entry(name.clone()).or_default().push(index),
            }
        }
        self.all.push(source);
    }

    /// The sources that might produce a selector's series.
    fn candidates<'a>(&'a self, selector: &Selector) -> impl Iterator<Item = &'a Source> + 'a {
        let service = selector
            .matchers
            .iter()
            .find(|matcher| matcher.label == "service" && matcher.op == MatchOp::Equal)
            .map(|matcher| matcher.value.clone());
        let exact: Vec<&Vec<usize>> = match service {
            Some(service) => [
                self.by_name_service.get(&(selector.metric.clone(), service)),
                self.by_name_any_service.get(&selector.metric),
            ]
            .into_iter()
            .flatten()
            .collect(),
            None => self.by_name.get(&selector.metric).into_iter().collect(),
        };
        exact.into_iter().flatten().chain(&self.prefixed).map(|index| &self.all[*index])
    }

    /// Whether some source produces the selector's series; else why not.
    fn produces(&self, selector: &Selector) -> Result<(), Missing> {
        let mut refused = None;
        for source in self.candidates(selector).filter(|source| source.exports(&selector.metric)) {
            match source.refuses(selector) {
                None => return Ok(()),
                Some(matcher) => refused = refused.or_else(|| Some(matcher.to_string())),
            }
        }
        Err(Missing { selector: selector.clone(), refused })
    }
}

/// A series no source produces, and the label no source that exports its name gives as selected.
#[derive(Clone, Debug)]
struct Missing {
    selector: Selector,
    refused: Option<String>,
}

impl Missing {
    fn describe(&self) -> String {
        match &self.refused {
            None => format!("{} has no source", self.selector),
            Some(matcher) => format!("{} has no source: no scrape job exports it with {matcher}", self.selector),
        }
    }
}

/// One rule read for the check.
struct Checked {
    name: String,
    labels: BTreeMap<String, String>,
    alternatives: Vec<Vec<Selector>>,
}

fn read(name: &str, expr: &str, labels: &BTreeMap<String, String>) -> Result<Checked, SourceCheckError> {
    let alternatives =
        alternatives(expr).map_err(|source| SourceCheckError::Promql { rule: name.to_owned(), source })?;
    Ok(Checked { name: name.to_owned(), labels: labels.clone(), alternatives })
}

/// The sources of the stack's scrape jobs and monitors.
fn scrape_sources(stack: &ResolvedStack) -> Result<Sources, SourceCheckError> {
    let mut sources = Sources::default();
    let own_kube_state_metrics = Component::KubeStateMetrics.enabled(stack);
    let jobs = component_jobs(stack)?;
    let names =
        jobs.iter().map(|job| job.job_name.to_string()).chain(kubelet_jobs().map(|job| job.job_name.to_string()));
    for job in names {
        let exported = exports::job_exports(&job, own_kube_state_metrics)
            .ok_or_else(|| SourceCheckError::UnknownJob(job.clone()))?;
        let labeled = job == exports::KUBE_STATE_METRICS_JOB;
        sources.add(Source::job(&exported, labeled));
    }
    for monitor in &stack.monitors {
        sources.add(Source::monitor(stack, monitor));
    }
    Ok(sources)
}

/// Whether every selector of one alternative has a source; else the missing series of the
/// first alternative.
fn fed(sources: &Sources, rule: &Checked) -> Result<(), Vec<Missing>> {
    let mut first_missing = None;
    for alternative in &rule.alternatives {
        let missing: Vec<Missing> =
            alternative.iter().filter_map(|selector| sources.produces(selector).err()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        first_missing.get_or_insert(missing);
    }
    Err(first_missing.unwrap_or_default())
}

/// The enabled alert rules of the stack that cannot fire, once per alert and service, each with
/// the series it misses, in rule order; a series recorded by a rule that is itself unfed is
/// traced to what that rule misses.
pub fn unfireable_rules(stack: &ResolvedStack) -> Result<Vec<UnfireableRule>, SourceCheckError> {
    if !Component::Rules.enabled(stack) {
        return Ok(Vec::new());
    }
    let mut records = Vec::new();
    let mut alerts = Vec::new();
    for file in rule_files(stack)?.values() {
        for rule in file.groups.iter().flat_map(|group| &group.rules) {
            match rule {
                Rule::Record(record) => records.push(read(&record.record, &record.expr, &record.labels)?),
                Rule::Alert(alert) => alerts.push(read(&alert.alert, &alert.expr, &alert.labels)?),
            }
        }
    }
    let mut sources = scrape_sources(stack)?;
    // Records feed records: add each once its inputs are produced, until nothing changes.
    let mut unfed: Vec<usize> = (0..records.len()).collect();
    loop {
        let before = unfed.len();
        unfed.retain(|index| {
            let record = &records[*index];
            if fed(&sources, record).is_ok() {
                sources.add(Source::recorded(&record.name, &record.labels));
                false
            } else {
                true
            }
        });
        if unfed.len() == before {
            break;
        }
    }
    let root_causes = |missing: &Missing| -> Vec<String> {
        let recorder = unfed.iter().map(|index| &records[*index]).find(|record| {
            record.name == missing.selector.metric
                && missing
                    .selector
                    .matchers
                    .iter()
                    .all(|matcher| record.labels.get(&matcher.label).is_none_or(|value| matcher.accepts(value)))
        });
        match recorder.map(|record| fed(&sources, record)) {
            Some(Err(inputs)) => inputs.iter().map(Missing::describe).collect(),
            _ => vec![missing.describe()],
        }
    };
    let mut unfireable: Vec<UnfireableRule> = Vec::new();
    for alert in &alerts {
        let Err(missing) = fed(&sources, alert) else { continue };
        let mut reasons: Vec<String> = Vec::new();
        for reason in missing.iter().flat_map(root_causes) {
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        // A per-service rule names its service; a templated label is no service.
        let service = alert.labels.get("service").filter(|service| !service.contains("{{")).cloned();
        // One entry per alert and service (the burn-rate alerts come once per severity).
        if unfireable.iter().any(|entry| entry.alert == alert.name && entry.service == service) {
            continue;
        }
        let entry = UnfireableRule {
            alert: alert.name.clone(),
            service: service.clone(),
            message: format!(
                "{}{} cannot fire: {}",
                alert.name,
                service.map(|service| format!(" ({service})")).unwrap_or_default(),
                reasons.join("; ")
            ),
        };
        unfireable.push(entry);
    }
    Ok(unfireable)
}

#[cfg(test)]
mod tests;
