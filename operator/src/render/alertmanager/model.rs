//! Alertmanager's configuration model, with its own key names (`config/config.go`,
//! `config/notifiers.go`): what `config` fills with receivers and `routes` with the routing tree.

use std::collections::BTreeMap;

use serde::Serialize;

/// `alertmanager.yml`, with Alertmanager's own key names (`config/config.go`, `config/notifiers.go`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct AlertmanagerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalConfig>,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<TimeInterval>,
}

/// Settings shared by every email and PagerDuty configuration.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct GlobalConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_smarthost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_require_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_tls_config: Option<TlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerduty_url: Option<String>,
}

/// Prometheus' common TLS client settings, as Alertmanager reads them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TlsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct Route {
    pub receiver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_matching: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct InhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    pub equal: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Receiver {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
}

impl Receiver {
    pub(crate) fn empty(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            email_configs: Vec::new(),
            slack_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
            webhook_configs: Vec::new(),
        }
    }
}

/// One email notification; SMTP server, sender, credentials and TLS come from `global`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct EmailConfig {
    pub send_resolved: bool,
    pub to: String,
    pub headers: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct SlackConfig {
    pub send_resolved: bool,
    pub api_url_file: String,
    pub channel: String,
    pub title: String,
    pub text: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PagerdutyConfig {
    pub send_resolved: bool,
    pub routing_key_file: String,
    pub description: String,
    pub severity: String,
    pub details: BTreeMap<String, String>,
}

/// A webhook, here the dead man's switch; its URL is a credential, read from a file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct WebhookConfig {
    pub send_resolved: bool,
    pub url_file: String,
}

/// A named set of times routes can be limited to (`active_time_intervals`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TimeInterval {
    pub name: String,
    pub time_intervals: Vec<TimePeriod>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TimePeriod {
    pub weekdays: Vec<String>,
    pub times: Vec<TimeRange>,
    pub location: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TimeRange {
    pub start_time: String,
    pub end_time: String,
}
