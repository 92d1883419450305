//! The Prometheus rule file format, and the builders every rule goes through.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{AlertThreshold, Channel, IncidentLevel, Severity};

/// The label naming the channels an alert is sent to, which Alertmanager routes on:
/// `channels="email,slack"`, in the document's order.
pub const CHANNELS_LABEL: &str = "channels";
/// The `channels` label of an alert sent to no channel.
pub const NO_CHANNEL: &str = "none";

/// The `channels` label value of a set of channels: each once, in the document's order.
pub fn channels_label(channels: &[Channel]) -> String {
    let named: Vec<&str> =
        Channel::ALL.iter().filter(|channel| channels.contains(channel)).map(|channel| channel.as_str()).collect();
    if named.is_empty() { NO_CHANNEL.to_owned() } else { named.join(",") }
}

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
    pub fn new(record: impl Into<String>, expr: String) -> Self {
        Self { record: record.into(), expr, labels: BTreeMap::new() }
    }

    pub(crate) fn labels(mut self, labels: &BTreeMap<String, String>) -> Rule {
        self.labels = labels.clone();
        Rule::Record(self)
    }
}

impl AlertingRule {
    /// An alert with the labels every alert carries: severity, incident level and signal.
    pub fn new(name: &str, expr: String, severity: Severity, incident_level: IncidentLevel, signal: &str) -> Self {
        let labels = BTreeMap::from([
            ("severity".to_owned(), severity.as_str().to_owned()),
            ("incident_level".to_owned(), incident_level.as_str().to_owned()),
            ("signal".to_owned(), signal.to_owned()),
        ]);
        Self { alert: name.to_owned(), expr, for_duration: None, labels, annotations: BTreeMap::new() }
    }

    /// An alert of a spec threshold: its severity, incident level and `for` (when it has one).
    pub(crate) fn of_threshold(name: &str, expr: String, threshold: &AlertThreshold, signal: &str) -> Self {
        let mut alert = Self::new(name, expr, threshold.severity, threshold.incident_level, signal);
        alert.for_duration = threshold
            .for_duration
            .as_ref()
            .filter(|duration| duration.to_millis().is_some_and(|millis| millis > 0))
            .map(|duration| duration.as_str().to_owned());
        alert
    }

    /// Sends the alert to these channels: the `channels` label Alertmanager routes on.
    pub(crate) fn channels(self, channels: &[Channel]) -> Self {
        self.label(CHANNELS_LABEL, channels_label(channels))
    }

    pub(crate) fn label(mut self, name: &str, value: impl Into<String>) -> Self {
        self.labels.insert(name.to_owned(), value.into());
        self
    }

    pub(crate) fn annotate(mut self, summary: impl Into<String>, description: impl Into<String>) -> Rule {
        self.annotations.insert("summary".to_owned(), summary.into());
        self.annotations.insert("description".to_owned(), description.into());
        Rule::Alert(self)
    }
}
