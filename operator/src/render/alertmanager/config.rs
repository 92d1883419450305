//! `alertmanager.yml`: the seed's routing, escalation and receivers, every credential read from a
//! mounted Secret file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{EMAIL_RECEIVER, NULL_RECEIVER, PAGERDUTY_RECEIVER, SECRETS_DIRECTORY, SLACK_RECEIVER};
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
}

/// SMTP settings shared by every email configuration.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct GlobalConfig {
    pub smtp_smarthost: String,
    pub smtp_from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
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
}

impl Receiver {
    fn empty(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            email_configs: Vec::new(),
            slack_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
        }
    }
}

/// One email notification; SMTP server, sender and credentials come from `global`.
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

/// Where a Secret key is mounted in the Alertmanager container.
pub(crate) fn secret_file(secret: &SecretKeyRef) -> String {
    format!("{SECRETS_DIRECTORY}/{}/{}", secret.name, secret.key)
}

/// A `matchers:` entry on `severity`: `=` for one value, `=~` joined by `|` (least severe first)
/// for several.
pub(crate) fn severity_matcher(severities: &[Severity]) -> String {
    let distinct: BTreeSet<Severity> = severities.iter().copied().collect();
    let values: Vec<&str> = distinct.iter().map(|severity| severity.as_str()).collect();
    match values.as_slice() {
        [one] => format!(r#"severity="{one}""#),
        several => format!(r#"severity=~"{}""#, several.join("|")),
    }
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

fn child_route(receiver: &str, matcher: String) -> Route {
    Route {
        receiver: receiver.to_owned(),
        group_by: Vec::new(),
        matchers: vec![matcher],
        // Every channel sees the alert, not only the first route that matches.
        continue_matching: Some(true),
        group_wait: None,
        group_interval: None,
        repeat_interval: None,
        routes: Vec::new(),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> RenderError {
    RenderError::invalid(Component::Alertmanager, field, message)
}

/// Builds `alertmanager.yml` for the stack.
pub(crate) fn config(stack: &ResolvedStack) -> Result<AlertmanagerConfig, RenderError> {
    let routing = &stack.spec.alerting.routing;
    let email = &routing.email;
    let mut routes = Vec::new();
    let mut receivers = Vec::new();
    let mut sends_email = false;

    // Email takes every alert by default; it is also the root receiver then, so alerts without a
    // severity label still reach someone.
    let email_takes_everything = email.enabled
        && [Severity::Info, Severity::Warning, Severity::Critical]
            .iter()
            .all(|severity| email.severities.contains(severity));
    let root_receiver = if email_takes_everything { EMAIL_RECEIVER } else { NULL_RECEIVER };
    if !email_takes_everything {
        receivers.push(Receiver::empty(NULL_RECEIVER));
    }
    if email.enabled {
        routes.push(child_route(EMAIL_RECEIVER, severity_matcher(&email.severities)));
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
        routes.push(child_route(SLACK_RECEIVER, severity_matcher(&slack.severities)));
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
        routes.push(child_route(PAGERDUTY_RECEIVER, severity_matcher(&pagerduty.severities)));
        let mut receiver = Receiver::empty(PAGERDUTY_RECEIVER);
        receiver.pagerduty_configs.push(pagerduty_config(key));
        receivers.push(receiver);
        Some(key)
    } else {
        None
    };

    // Escalation of critical alerts: one route per step, whose group_wait is the step's delay.
    // Alertmanager sends a group's first notification only after group_wait, and only if an alert
    // of the group is still firing then, so a step is notified `after` the alert fired and only if
    // it was not resolved meanwhile. Alertmanager knows no acknowledgement: silencing the alert
    // is what stops the later steps.
    for (index, step) in routing.escalation.iter().enumerate() {
        let field = format!("alerting.routing.escalation[{index}].name");
        if receivers.iter().any(|receiver| receiver.name == step.name) {
            return Err(invalid(&field, format!("{:?} is already the name of another receiver", step.name)));
        }
        let mut route = child_route(&step.name, severity_matcher(&[Severity::Critical]));
        route.group_wait = Some(step.after.as_str().to_owned());
        routes.push(route);
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
        }
        receivers.push(receiver);
    }

    let global = if sends_email {
        let smarthost = email.smarthost.clone().ok_or_else(|| {
            invalid(
                "alerting.routing.email.smarthost",
                "email recipients (also of escalation steps) need an SMTP server",
            )
        })?;
        let from = email.from.clone().ok_or_else(|| {
            invalid("alerting.routing.email.from", "email recipients (also of escalation steps) need a sender")
        })?;
        Some(GlobalConfig {
            smtp_smarthost: smarthost,
            smtp_from: from,
            smtp_auth_username: email.auth_username.clone(),
            smtp_auth_password_file: email.auth_password.as_ref().map(secret_file),
        })
    } else {
        None
    };

    Ok(AlertmanagerConfig {
        global,
        route: Route {
            receiver: root_receiver.to_owned(),
            group_by: routing.group_by.clone(),
            matchers: Vec::new(),
            continue_matching: None,
            group_wait: Some(routing.group_wait.as_str().to_owned()),
            group_interval: Some(routing.group_interval.as_str().to_owned()),
            repeat_interval: Some(routing.repeat_interval.as_str().to_owned()),
            routes,
        },
        // A critical alert silences the warning of the same signal on the same service.
        inhibit_rules: vec![InhibitRule {
            source_matchers: vec![severity_matcher(&[Severity::Critical])],
            target_matchers: vec![severity_matcher(&[Severity::Warning])],
            equal: vec!["signal".to_owned(), "namespace".to_owned(), "service".to_owned()],
        }],
        receivers,
    })
}

/// Every Secret key the configuration reads as a file, by Secret, deduplicated and sorted.
pub(crate) fn referenced_secrets(config: &AlertmanagerConfig) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: Vec<&str> = Vec::new();
    if let Some(password) = config.global.as_ref().and_then(|global| global.smtp_auth_password_file.as_deref()) {
        files.push(password);
    }
    for receiver in &config.receivers {
        files.extend(receiver.slack_configs.iter().map(|slack| slack.api_url_file.as_str()));
        files.extend(receiver.pagerduty_configs.iter().map(|pagerduty| pagerduty.routing_key_file.as_str()));
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
