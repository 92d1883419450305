//! Alert routing: the document's channels (email, Slack `#alerts`, PagerDuty), which alerts each
//! channel gets, the on-call escalation path, what the incident levels P0–P3 change, business
//! hours, and the dead man's switch the always-firing Watchdog alert keeps alive.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::common::*;
use crate::api::defaults as seed;

/// Alert routing: which channels each alert reaches (the document's per-alert Channel column, or
/// its general policy by severity), the on-call escalation of the alerts that page, and how the
/// incident levels change both.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.escalation.all(s, self.escalation.exists_one(t, t.name == s.name))", "message": "escalation step names must be unique"}]))]
pub struct RoutingSpec {
    /// Which channels an alert reaches. `PerAlert` (default): each alert of the document's tables
    /// goes to the channels of its Channel column (or of its own `channels`), alerts the tables do
    /// not list follow the severities of each receiver. `BySeverity`: the document's general
    /// policy for every alert without its own `channels` (email every severity, Slack warning and
    /// critical, PagerDuty critical, as the receivers' `severities` say).
    pub channel_policy: ChannelPolicy,
    /// Labels alerts are grouped by.
    #[schemars(length(min = 1, max = 16))]
    pub group_by: Vec<String>,
    /// Wait before the first notification of a group.
    pub group_wait: Duration,
    /// Wait before notifying about new alerts of a group.
    pub group_interval: Duration,
    /// Wait before repeating a notification.
    pub repeat_interval: Duration,
    /// Email receiver (the document: every alert).
    pub email: EmailReceiver,
    /// Slack receiver (the document: warning and critical).
    pub slack: SlackReceiver,
    /// PagerDuty receiver (the document: critical only, 24/7 on-call). Alerts sent to PagerDuty
    /// also walk the escalation path.
    pub pagerduty: PagerDutyReceiver,
    /// On-call escalation of the alerts that page: primary at once, secondary after 15 minutes,
    /// escalation after 30; each step serves the incident levels it lists.
    #[schemars(length(max = 8))]
    pub escalation: Vec<EscalationStep>,
    /// What each incident level changes: whether its escalation steps are notified at once or
    /// each after its delay, and whether it waits for business hours.
    pub incident_levels: IncidentLevelRoutes,
    /// Business hours, for incident levels held to them (the document: P3, next business day).
    pub business_hours: BusinessHours,
    /// Dead man's switch: the always-firing `Watchdog` alert, sent to an outside service that
    /// raises the alarm when it stops arriving.
    pub dead_mans_switch: DeadMansSwitch,
}

impl Default for RoutingSpec {
    fn default() -> Self {
        use IncidentLevel::*;
        Self {
            channel_policy: ChannelPolicy::PerAlert,
            group_by: vec!["alertname".to_owned(), "service".to_owned(), "severity".to_owned()],
            group_wait: Duration::from("30s"),
            group_interval: Duration::from("5m"),
            repeat_interval: Duration::from("4h"),
            email: EmailReceiver::default(),
            slack: SlackReceiver::default(),
            pagerduty: PagerDutyReceiver::default(),
            // The document's incident levels: P0 the CTO and the entire team, P1 on-call and the
            // backend lead, P2 and P3 the on-call engineer.
            escalation: vec![
                EscalationStep::seed("primary", "DevOps Engineer", "0s", &[P0, P1, P2, P3]),
                EscalationStep::seed("secondary", "Backend Lead", seed::ESCALATION_SECONDARY_AFTER, &[P0, P1]),
                EscalationStep::seed("escalation", "CTO", seed::ESCALATION_TERTIARY_AFTER, &[P0]),
            ],
            incident_levels: IncidentLevelRoutes::default(),
            business_hours: BusinessHours::default(),
            dead_mans_switch: DeadMansSwitch::default(),
        }
    }
}

impl RoutingSpec {
    /// The channels the document's general policy sends an alert of this severity to: those whose
    /// receiver lists the severity (enabled or not: a disabled receiver has no route).
    pub fn severity_channels(&self, severity: Severity) -> Vec<Channel> {
        Channel::ALL
            .into_iter()
            .filter(|channel| {
                match channel {
                    Channel::Email => &self.email.severities,
                    Channel::Slack => &self.slack.severities,
                    Channel::Pagerduty => &self.pagerduty.severities,
                }
                .contains(&severity)
            })
            .collect()
    }

    /// Whether the channel's receiver is rendered.
    pub fn channel_enabled(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.enabled,
            Channel::Slack => self.slack.enabled,
            Channel::Pagerduty => self.pagerduty.enabled,
        }
    }
}

/// Where an alert's channels come from when it does not name its own.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum ChannelPolicy {
    /// The Channel column of the document's alert tables (the more specific statement).
    #[default]
    PerAlert,
    /// The document's general policy: by severity, as each receiver's `severities` list it.
    BySeverity,
}

/// The email receiver. With no recipients it exists but sends nothing (status says so).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || size(self.to) == 0 || (has(self.smarthost) && has(self.from))", "message": "email recipients need smarthost and from"}]))]
pub struct EmailReceiver {
    /// Send alerts by email (needs `to`, `from` and `smarthost`).
    pub enabled: bool,
    /// Recipient addresses of every alert sent to email.
    #[schemars(length(max = 64), inner(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$")))]
    pub to: Vec<String>,
    /// Sender address (`From:` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$"))]
    pub from: Option<String>,
    /// SMTP server, `host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 260), pattern(r"^[^:\s]+:[0-9]{1,5}$"))]
    pub smarthost: Option<String>,
    /// SMTP user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 254))]
    pub auth_username: Option<String>,
    /// Secret key holding the SMTP password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<SecretKeyRef>,
    /// Refuse to send unless the server offers STARTTLS (absent: Alertmanager's default, true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    /// How the SMTP server's certificate is verified (absent: against the system's CAs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
    /// Severities email takes under the severity policy (the document: all).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for EmailReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            to: Vec::new(),
            from: None,
            smarthost: None,
            auth_username: None,
            auth_password: None,
            require_tls: None,
            tls: None,
            severities: vec![Severity::Info, Severity::Warning, Severity::Critical],
        }
    }
}

/// Trust in the SMTP server's certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!(has(self.insecureSkipVerify) && self.insecureSkipVerify && has(self.ca))", "message": "insecureSkipVerify and ca are mutually exclusive"}]))]
pub struct SmtpTls {
    /// Secret key holding the CA certificate (PEM) the server's certificate must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretKeyRef>,
    /// Name the server's certificate must carry (default: the smarthost's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// Accept any certificate (test servers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

/// The Slack receiver; its webhook URL is read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || (has(self.apiUrl) && self.apiUrl.name != '' && self.apiUrl.key != '')", "message": "an enabled Slack receiver needs a Secret reference in apiUrl", "fieldPath": ".apiUrl"}]))]
pub struct SlackReceiver {
    /// Send to Slack.
    pub enabled: bool,
    /// Channel (seed: #alerts).
    #[schemars(length(min = 2, max = 80), pattern(r"^[#@][^\s]+$"))]
    pub channel: String,
    /// Secret key holding the incoming-webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<SecretKeyRef>,
    /// Severities Slack takes under the severity policy (the document: warning, critical).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for SlackReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            channel: seed::SLACK_CHANNEL.to_owned(),
            api_url: Some(SecretKeyRef::new(seed::ALERTING_SECRET, "slack-api-url")),
            severities: vec![Severity::Warning, Severity::Critical],
        }
    }
}

/// The PagerDuty receiver; its routing key is read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || has(self.routingKey)", "message": "an enabled PagerDuty receiver needs a Secret reference in routingKey", "fieldPath": ".routingKey"}]))]
pub struct PagerDutyReceiver {
    /// Page through PagerDuty.
    pub enabled: bool,
    /// Secret key holding the Events API v2 routing key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<SecretKeyRef>,
    /// Events API URL (absent: PagerDuty's own, `https://events.pagerduty.com/v2/enqueue`); a
    /// test stack points it at a local receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 2048), pattern(r"^https?://[^\s]+$"))]
    pub url: Option<String>,
    /// Severities that page under the severity policy (the document: critical).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for PagerDutyReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            routing_key: Some(SecretKeyRef::new(seed::ALERTING_SECRET, "pagerduty-routing-key")),
            url: None,
            severities: vec![Severity::Critical],
        }
    }
}

/// Receiver names of the seed's three channels.
pub const EMAIL_RECEIVER: &str = "email";
pub const SLACK_RECEIVER: &str = "slack";
pub const PAGERDUTY_RECEIVER: &str = "pagerduty";
/// Root receiver without integrations, for alerts no channel takes.
pub const NULL_RECEIVER: &str = "null";
/// Receiver of the always-firing Watchdog: the dead man's switch's webhook.
pub const DEAD_MANS_SWITCH_RECEIVER: &str = "dead-mans-switch";
/// The receivers Alertmanager gets besides the escalation steps, whose names they must not take.
pub const FIXED_RECEIVERS: [&str; 5] =
    [NULL_RECEIVER, DEAD_MANS_SWITCH_RECEIVER, EMAIL_RECEIVER, SLACK_RECEIVER, PAGERDUTY_RECEIVER];

/// One step of the on-call escalation path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscalationStep {
    /// Step name, used as the receiver name.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Who is paged at this step.
    #[schemars(length(min = 1, max = 128))]
    pub role: String,
    /// Delay after the alert fires before this step is notified (unless its incident level is
    /// `Immediate`).
    pub after: Duration,
    /// Incident levels this step is part of (absent: every level). The document: the primary
    /// (on-call) P0–P3, the secondary (backend lead) P0 and P1, the escalation (CTO) P0 only.
    #[serde(default = "every_level")]
    #[schemars(length(min = 1, max = 4))]
    pub levels: Vec<IncidentLevel>,
    /// Email addresses of this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$")))]
    pub email: Vec<String>,
    /// Secret key holding a PagerDuty routing key of this step (default: the receiver's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty_routing_key: Option<SecretKeyRef>,
}

fn every_level() -> Vec<IncidentLevel> {
    IncidentLevel::ALL.to_vec()
}

impl EscalationStep {
    fn seed(name: &str, role: &str, after: &str, levels: &[IncidentLevel]) -> Self {
        Self {
            name: name.to_owned(),
            role: role.to_owned(),
            after: Duration::from(after),
            levels: levels.to_vec(),
            email: Vec::new(),
            pagerduty_routing_key: None,
        }
    }
}

/// What each incident level changes in routing (the document's Incident Severity Levels).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct IncidentLevelRoutes {
    /// P0, complete outage: immediate, the CTO and the entire team (default `Immediate`).
    pub p0: IncidentLevelRoute,
    /// P1, major feature down: under 15 minutes, on-call and the backend lead (default
    /// `Escalating`: the backend lead after the secondary step's delay; `Immediate` notifies
    /// both at once).
    pub p1: IncidentLevelRoute,
    /// P2, degraded performance: under 1 hour, the on-call engineer (default `Escalating`).
    pub p2: IncidentLevelRoute,
    /// P3, minor issue: next business day (default `Escalating`, held to business hours).
    pub p3: IncidentLevelRoute,
}

impl Default for IncidentLevelRoutes {
    fn default() -> Self {
        let level = |timing, business_hours_only| IncidentLevelRoute { timing, business_hours_only };
        Self {
            p0: level(EscalationTiming::Immediate, false),
            p1: level(EscalationTiming::Escalating, false),
            p2: level(EscalationTiming::Escalating, false),
            p3: level(EscalationTiming::Escalating, true),
        }
    }
}

impl IncidentLevelRoutes {
    /// The routing of one level.
    pub fn of(&self, level: IncidentLevel) -> &IncidentLevelRoute {
        match level {
            IncidentLevel::P0 => &self.p0,
            IncidentLevel::P1 => &self.p1,
            IncidentLevel::P2 => &self.p2,
            IncidentLevel::P3 => &self.p3,
        }
    }
}

/// The routing of one incident level.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::overlay::fields_default_from_parent)]
pub struct IncidentLevelRoute {
    /// `Escalating`: each escalation step of the level after its `after`. `Immediate`: every step
    /// of the level at once, and the channels without waiting for the group (`groupWait` 0s).
    pub timing: EscalationTiming,
    /// Notify only within `businessHours`: outside them notifications wait, and are sent when
    /// business hours begin if the alert still fires.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub business_hours_only: bool,
}

/// When the escalation steps of an incident level are notified.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum EscalationTiming {
    /// Each step after its own delay.
    #[default]
    Escalating,
    /// Every step at once.
    Immediate,
}

/// Business hours, as an Alertmanager time interval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.start < self.end", "message": "business hours must end after they start", "fieldPath": ".end"}]))]
pub struct BusinessHours {
    /// Days, as a day or an inclusive range from Sunday to Saturday (`monday:friday`, `saturday`).
    #[schemars(length(min = 1, max = 7), inner(pattern(WEEKDAY_RANGE_PATTERN)))]
    pub weekdays: Vec<String>,
    /// Start of the day's business hours, `HH:MM` (24-hour clock).
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// End of the day's business hours, `HH:MM`, after `start` (`24:00` for midnight).
    #[schemars(pattern(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))]
    pub end: String,
    /// IANA time zone the hours are in, e.g. `Europe/Berlin` (default `UTC`, which needs no time
    /// zone database in the Alertmanager image; any other zone does).
    #[schemars(length(min = 1, max = 64), pattern(r"^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$"))]
    pub time_zone: String,
}

/// A day of the week or an inclusive range of days, as Alertmanager reads them.
pub const WEEKDAY_RANGE_PATTERN: &str = r"^(sunday|monday|tuesday|wednesday|thursday|friday|saturday)(:(sunday|monday|tuesday|wednesday|thursday|friday|saturday))?$";

/// The days of the week in Alertmanager's order (Sunday first).
pub const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            weekdays: vec!["monday:friday".to_owned()],
            start: seed::BUSINESS_HOURS_START.to_owned(),
            end: seed::BUSINESS_HOURS_END.to_owned(),
            time_zone: seed::BUSINESS_HOURS_TIME_ZONE.to_owned(),
        }
    }
}

/// The dead man's switch: where the always-firing `Watchdog` alert goes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || has(self.url)", "message": "an enabled dead man's switch needs a Secret reference in url", "fieldPath": ".url"}]))]
pub struct DeadMansSwitch {
    /// Send the Watchdog to `url`. Disabled, the Watchdog still fires (it is visible in
    /// Alertmanager) and goes to no receiver.
    pub enabled: bool,
    /// Secret key holding the webhook URL of the dead man's switch service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<SecretKeyRef>,
    /// How often the Watchdog is sent again: the heartbeat the service expects.
    pub interval: Duration,
}

impl Default for DeadMansSwitch {
    fn default() -> Self {
        Self { enabled: false, url: None, interval: Duration::from("1m") }
    }
}
