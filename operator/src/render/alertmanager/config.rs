//! `alertmanager.yml`: the receivers of the seed's channels, the escalation steps and the dead
//! man's switch, every credential read from a mounted Secret file; the routing tree is built in
//! [`super::routes`].

use std::collections::{BTreeMap, BTreeSet};

use super::model::*;
use super::routes::{self, severity_matcher};
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

/// Where a Secret key is mounted in the Alertmanager container.
pub(crate) fn secret_file(secret: &SecretKeyRef) -> String {
    format!("{SECRETS_DIRECTORY}/{}/{}", secret.name, secret.key)
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
