//! `alertmanager.yml`: the receivers of the seed's channels, the escalation steps and the dead
//! man's switch, every credential read from a mounted Secret file; the routing tree is built in
//! [`super::routes`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::routes;
use super::{
    DEAD_MANS_SWITCH_RECEIVER, EMAIL_RECEIVER, NULL_RECEIVER, PAGERDUTY_RECEIVER, SECRETS_DIRECTORY, SLACK_RECEIVER,
};
use crate::api::{SecretKeyRef, Severity};
use crate::render::{Component, RenderError};
use crate::resolve::ResolvedStack;

/// Notification title: the incident level first, so on-call sees P0–P3 before anything else.
const TITLE: &str = r#"[{{ .CommonLabels.incident_level }}] {{ .Status | toUpper }}: {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }}{{ with .CommonLabels.service }}, {{ . }}{{ end }})"#;
/// Slack body: one line per alert.
const SLACK_TEXT: &str = r#"{{ range .Alerts }}{{ with .Annotations.summary }}{{ . }}{{ else }}{{ .Labels.alertname }}{{ end }}{{ with .Annotations.description }} — {{ . }}{{ end }}
{{ end }}"#;
/// PagerDuty event severity from the alert's (PagerDuty accepts critical, error, warning, info).
const PAGERDUTY_SEVERITY: &str = r#"{{ if eq .CommonLabels.severity "info" }}info{{ else if eq .CommonLabels.severity "warning" }}warning{{ else }}critical{{ end }}"#;

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
    fn empty(name: &str) -> Self {
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

/// Where a Secret key is mounted in the Alertmanager container.
pub(crate) fn secret_file(secret: &SecretKeyRef) -> String {
    format!("{SECRETS_DIRECTORY}/{}/{}", secret.name, secret.key)
}

/// A `matchers:` entry on `severity`: `=` for one value, `=~` joined by `|` (least severe first)
/// for several.
pub(crate) fn severity_matcher(severities: &[Severity]) -> String {
    let distinct: BTreeSet<Severity> = severities.iter().copied().collect();
    let values: Vec<&str> = distinct.iter().map(|severity| severity.as_str()).collect();
    routes::label_matcher("severity", &values)
}

fn email_config(to: &[String]) -> EmailConfig {
    EmailConfig {
        send_resolved: true,
        to: to.join(", "),
        headers: BTreeMap::from([("Subject".to_owned(), TITLE.to_owned())]),
    }
}

fn pagerduty_config(routing_key: &SecretKeyRef) -> PagerdutyConfig {
    PagerdutyConfig {
        send_resolved: true,
        routing_key_file: secret_file(routing_key),
        description: TITLE.to_owned(),
        severity: PAGERDUTY_SEVERITY.to_owned(),
        details: BTreeMap::from([
            ("incident_level".to_owned(), "{{ .CommonLabels.incident_level }}".to_owned()),
            ("service".to_owned(), "{{ .CommonLabels.service }}".to_owned()),
        ]),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> RenderError {
    RenderError::invalid(Component::Alertmanager, field, message)
}

/// Builds `alertmanager.yml` for the stack: the receivers here, the routing tree in [`super::routes`].
pub(crate) fn config(stack: &ResolvedStack) -> Result<AlertmanagerConfig, RenderError> {
    let routing = &stack.spec.alerting.routing;
    let email = &routing.email;
    // The root's receiver takes what no route takes: nothing is sent for it.
    let mut receivers = vec![Receiver::empty(NULL_RECEIVER)];
    let mut sends_email = false;

    let switch = &routing.dead_mans_switch;
    if switch.enabled {
        let url = switch.url.as_ref().ok_or_else(|| {
            invalid("alerting.routing.deadMansSwitch.url", "an enabled dead man's switch needs a Secret")
        })?;
        let mut receiver = Receiver::empty(DEAD_MANS_SWITCH_RECEIVER);
        // Its service expects the heartbeat, never a resolution.
        receiver.webhook_configs.push(WebhookConfig { send_resolved: false, url_file: secret_file(url) });
        receivers.push(receiver);
    }

    if email.enabled {
        // With no recipients the receiver exists but sends nothing (the status reports it).
        let mut receiver = Receiver::empty(EMAIL_RECEIVER);
        if !email.to.is_empty() {
            receiver.email_configs.push(email_config(&email.to));
            sends_email = true;
        }
        receivers.push(receiver);
    }

    let slack = &routing.slack;
    if slack.enabled {
        let api_url = slack
            .api_url
            .as_ref()
            .ok_or_else(|| invalid("alerting.routing.slack.apiUrl", "an enabled Slack receiver needs a Secret"))?;
        let mut receiver = Receiver::empty(SLACK_RECEIVER);
        receiver.slack_configs.push(SlackConfig {
            send_resolved: true,
            api_url_file: secret_file(api_url),
            channel: slack.channel.clone(),
            title: TITLE.to_owned(),
            text: SLACK_TEXT.to_owned(),
        });
        receivers.push(receiver);
    }

    let pagerduty = &routing.pagerduty;
    let pagerduty_key = if pagerduty.enabled {
        let key = pagerduty.routing_key.as_ref().ok_or_else(|| {
            invalid("alerting.routing.pagerduty.routingKey", "an enabled PagerDuty receiver needs a Secret")
        })?;
        let mut receiver = Receiver::empty(PAGERDUTY_RECEIVER);
        receiver.pagerduty_configs.push(pagerduty_config(key));
        receivers.push(receiver);
        Some(key)
    } else {
        None
    };
    let mut pages = pagerduty_key.is_some();

    // The escalation steps, one receiver each; which alerts reach them and when is the routing
    // tree's business.
    for (index, step) in routing.escalation.iter().enumerate() {
        if receivers.iter().any(|receiver| receiver.name == step.name) {
            return Err(invalid(
                &format!("alerting.routing.escalation[{index}].name"),
                format!("{:?} is already the name of another receiver", step.name),
            ));
        }
        let mut receiver = Receiver::empty(&step.name);
        if !step.email.is_empty() {
            receiver.email_configs.push(email_config(&step.email));
            sends_email = true;
        }
        // A step that pages at once with the PagerDuty receiver's own key would duplicate that
        // receiver's page (a second incident, as the dedup key follows the route): only later
        // steps, or steps with their own key, page again.
        let immediate = step.after.to_millis() == Some(0);
        let key = match (&step.pagerduty_routing_key, pagerduty_key) {
            (Some(own), _) => Some(own),
            (None, Some(shared)) if !immediate => Some(shared),
            _ => None,
        };
        if let Some(key) = key {
            receiver.pagerduty_configs.push(pagerduty_config(key));
            pages = true;
        }
        receivers.push(receiver);
    }

    let mut global = GlobalConfig::default();
    if sends_email {
        global.smtp_smarthost = Some(email.smarthost.clone().ok_or_else(|| {
            invalid(
                "alerting.routing.email.smarthost",
                "email recipients (also of escalation steps) need an SMTP server",
            )
        })?);
        global.smtp_from = Some(email.from.clone().ok_or_else(|| {
            invalid("alerting.routing.email.from", "email recipients (also of escalation steps) need a sender")
        })?);
        global.smtp_auth_username = email.auth_username.clone();
        global.smtp_auth_password_file = email.auth_password.as_ref().map(secret_file);
        global.smtp_require_tls = email.require_tls;
        global.smtp_tls_config = email.tls.as_ref().map(|tls| TlsConfig {
            ca_file: tls.ca.as_ref().map(secret_file),
            server_name: tls.server_name.clone(),
            insecure_skip_verify: tls.insecure_skip_verify,
        });
    }
    if pages {
        global.pagerduty_url = pagerduty.url.clone();
    }

    let (route, time_intervals) = routes::tree(stack);
    Ok(AlertmanagerConfig {
        global: (global != GlobalConfig::default()).then_some(global),
        route,
        // A critical alert silences the warning of the same signal on the same service.
        inhibit_rules: vec![InhibitRule {
            source_matchers: vec![severity_matcher(&[Severity::Critical])],
            target_matchers: vec![severity_matcher(&[Severity::Warning])],
            equal: vec!["signal".to_owned(), "namespace".to_owned(), "service".to_owned()],
        }],
        receivers,
        time_intervals,
    })
}

/// Every Secret key the configuration reads as a file, by Secret, deduplicated and sorted.
pub(crate) fn referenced_secrets(config: &AlertmanagerConfig) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: Vec<&str> = Vec::new();
    if let Some(global) = &config.global {
        files.extend(global.smtp_auth_password_file.as_deref());
        files.extend(global.smtp_tls_config.as_ref().and_then(|tls| tls.ca_file.as_deref()));
    }
    for receiver in &config.receivers {
        files.extend(receiver.slack_configs.iter().map(|slack| slack.api_url_file.as_str()));
        files.extend(receiver.pagerduty_configs.iter().map(|pagerduty| pagerduty.routing_key_file.as_str()));
        files.extend(receiver.webhook_configs.iter().map(|webhook| webhook.url_file.as_str()));
    }
    let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(SECRETS_DIRECTORY).unwrap_or(file).trim_start_matches('/');
        if let Some((secret, key)) = relative.split_once('/') {
            secrets.entry(secret.to_owned()).or_default().insert(key.to_owned());
        }
    }
    secrets
}
