//! Alerting: the rules of the seed's alert tables, Alertmanager and its routing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

/// Alerting: the rules of the seed's three alert tables and Alertmanager's routing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertingSpec {
    /// Render alert rules and Alertmanager.
    pub enabled: bool,
    /// The Alertmanager server: image, replicas, resources.
    pub alertmanager: AlertmanagerSpec,
    /// Thresholds of every alert.
    pub rules: AlertRules,
    /// Where alerts go.
    pub routing: RoutingSpec,
}

impl Default for AlertingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            alertmanager: AlertmanagerSpec::default(),
            rules: AlertRules::default(),
            routing: RoutingSpec::default(),
        }
    }
}

/// Alertmanager server settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertmanagerSpec {
    /// Alertmanager's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Replicas, clustered through gossip (peers found through the headless Service) when more
    /// than one (default 3 with `spec.highAvailability`, which production turns on, else 1; at
    /// least 2 with high availability).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub replicas: Option<u32>,
    /// Size of each replica's volume for silences and the notification log, which must
    /// survive a restart (else silenced alerts page again and sent ones are sent twice).
    pub storage_size: StorageSize,
    /// Storage class of those volumes (default: the cluster's default class).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub storage_class_name: Option<String>,
    /// CPU and memory requests and limits of the Alertmanager container (default requests
    /// 50m/128Mi, limits 200m/256Mi; the resource names you set replace the defaults').
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for AlertmanagerSpec {
    fn default() -> Self {
        Self {
            image: Image::from(seed::images::ALERTMANAGER),
            replicas: None,
            storage_size: StorageSize::from("1Gi"),
            storage_class_name: None,
            resources: Resources::default(),
        }
    }
}

/// One alert's threshold, duration and severity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertThreshold {
    /// Evaluate this alert.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Threshold the alert fires above (percent, count or seconds, as the alert says).
    #[schemars(range(min = 0.0, max = 1e9))]
    pub threshold: f64,
    /// How long the condition must hold before the alert fires (absent: at once).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<Duration>,
    /// Window the underlying rate or count is taken over, where the alert has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Severity label.
    pub severity: Severity,
    /// Incident level label (seed: P0–P3).
    pub incident_level: IncidentLevel,
}

fn enabled() -> bool {
    true
}

impl AlertThreshold {
    fn seed(
        threshold: f64,
        for_duration: Option<&str>,
        window: Option<&str>,
        severity: Severity,
        incident_level: IncidentLevel,
    ) -> Self {
        Self {
            enabled: true,
            threshold,
            for_duration: for_duration.map(Duration::from),
            window: window.map(Duration::from),
            severity,
            incident_level,
        }
    }
}

/// Every alert of the seed's Infrastructure, Application and Business tables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertRules {
    /// Infrastructure alerts.
    pub infrastructure: InfrastructureAlerts,
    /// Application alerts.
    pub application: ApplicationAlerts,
    /// Business alerts.
    pub business: BusinessAlerts,
}

/// Seed: Infrastructure Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct InfrastructureAlerts {
    /// High CPU: >80% for 5 minutes, warning.
    pub high_cpu: AlertThreshold,
    /// Critical CPU: >95% for 2 minutes, critical.
    pub critical_cpu: AlertThreshold,
    /// High memory: >90% for 5 minutes, warning.
    pub high_memory: AlertThreshold,
    /// Out of memory: >98%, critical.
    pub out_of_memory: AlertThreshold,
    /// Disk full: >85%, warning.
    pub disk_full: AlertThreshold,
    /// Container crash: more than 3 restarts in 10 minutes, critical.
    pub container_crash: AlertThreshold,
}

impl Default for InfrastructureAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            high_cpu: AlertThreshold::seed(80.0, Some("5m"), None, Warning, P2),
            critical_cpu: AlertThreshold::seed(95.0, Some("2m"), None, Critical, P1),
            high_memory: AlertThreshold::seed(90.0, Some("5m"), None, Warning, P2),
            out_of_memory: AlertThreshold::seed(98.0, None, None, Critical, P1),
            disk_full: AlertThreshold::seed(85.0, None, None, Warning, P2),
            container_crash: AlertThreshold::seed(3.0, None, Some("10m"), Critical, P1),
        }
    }
}

/// Seed: Application Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationAlerts {
    /// High error rate: >5% of requests failing, warning.
    pub high_error_rate: AlertThreshold,
    /// Critical errors: >20% of requests failing, critical.
    pub critical_error_rate: AlertThreshold,
    /// High latency: p95 >3s, warning.
    pub high_latency: AlertThreshold,
    /// Critical latency: p95 >10s, critical.
    pub critical_latency: AlertThreshold,
    /// No requests: 0 requests for 5 minutes, warning.
    pub no_requests: AlertThreshold,
    /// Database down: connection failed, critical. Fires for the targets of the ServiceMonitors
    /// marked as databases (`spec.database`): their scrape failing, or their exporter's own
    /// connection gauge (`spec.database.upMetric`) at 0.
    pub database_down: AlertThreshold,
    /// PromQL selector of further database targets whose `up` must be 1, scraped other than
    /// through a database ServiceMonitor (e.g. `{job="postgres"}`; default: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub database_selector: Option<String>,
}

impl Default for ApplicationAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            high_error_rate: AlertThreshold::seed(5.0, Some("5m"), Some("5m"), Warning, P2),
            critical_error_rate: AlertThreshold::seed(20.0, Some("2m"), Some("5m"), Critical, P1),
            high_latency: AlertThreshold::seed(3.0, Some("5m"), Some("5m"), Warning, P2),
            critical_latency: AlertThreshold::seed(10.0, Some("2m"), Some("5m"), Critical, P1),
            no_requests: AlertThreshold::seed(0.0, Some("5m"), Some("5m"), Warning, P2),
            database_down: AlertThreshold::seed(0.0, Some("1m"), None, Critical, P0),
            database_selector: None,
        }
    }
}

/// Seed: Business Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BusinessAlerts {
    /// No signups: 0 signups for 1 hour, warning.
    pub no_signups: AlertThreshold,
    /// Payment failures: >10% of payments failing, critical.
    pub payment_failures: AlertThreshold,
    /// High churn: >5% monthly churn, warning (reported monthly).
    pub high_churn: AlertThreshold,
}

impl Default for BusinessAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            no_signups: AlertThreshold::seed(0.0, None, Some("1h"), Warning, P3),
            payment_failures: AlertThreshold::seed(10.0, Some("5m"), Some("15m"), Critical, P1),
            high_churn: AlertThreshold::seed(5.0, None, Some("30d"), Warning, P3),
        }
    }
}

/// Alert routing: email gets all, Slack warning and critical, PagerDuty critical, with escalation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.escalation.all(s, self.escalation.exists_one(t, t.name == s.name))", "message": "escalation step names must be unique"}]))]
pub struct RoutingSpec {
    /// Labels alerts are grouped by.
    #[schemars(length(min = 1, max = 16))]
    pub group_by: Vec<String>,
    /// Wait before the first notification of a group.
    pub group_wait: Duration,
    /// Wait before notifying about new alerts of a group.
    pub group_interval: Duration,
    /// Wait before repeating a notification.
    pub repeat_interval: Duration,
    /// Email receiver: every alert.
    pub email: EmailReceiver,
    /// Slack receiver: warning and critical.
    pub slack: SlackReceiver,
    /// PagerDuty receiver: critical only (24/7 on-call).
    pub pagerduty: PagerDutyReceiver,
    /// On-call escalation of critical alerts: primary at once, secondary after 15 minutes,
    /// escalation after 30.
    #[schemars(length(max = 8))]
    pub escalation: Vec<EscalationStep>,
}

impl Default for RoutingSpec {
    fn default() -> Self {
        Self {
            group_by: vec!["alertname".to_owned(), "service".to_owned(), "severity".to_owned()],
            group_wait: Duration::from("30s"),
            group_interval: Duration::from("5m"),
            repeat_interval: Duration::from("4h"),
            email: EmailReceiver::default(),
            slack: SlackReceiver::default(),
            pagerduty: PagerDutyReceiver::default(),
            escalation: vec![
                EscalationStep::seed("primary", "DevOps Engineer", "0s"),
                EscalationStep::seed("secondary", "Backend Lead", seed::ESCALATION_SECONDARY_AFTER),
                EscalationStep::seed("escalation", "CTO", seed::ESCALATION_TERTIARY_AFTER),
            ],
        }
    }
}

/// The email receiver. With no recipients it exists but sends nothing (status says so).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.enabled || size(self.to) == 0 || (has(self.smarthost) && has(self.from))", "message": "email recipients need smarthost and from"}]))]
pub struct EmailReceiver {
    /// Send alerts by email (needs `to`, `from` and `smarthost`).
    pub enabled: bool,
    /// Recipient addresses of every alert of the listed severities.
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
    /// Severities delivered by email (seed: all).
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
            severities: vec![Severity::Info, Severity::Warning, Severity::Critical],
        }
    }
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
    /// Severities delivered to Slack (seed: warning, critical).
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
    /// Severities that page (seed: critical).
    #[schemars(length(min = 1, max = 3))]
    pub severities: Vec<Severity>,
}

impl Default for PagerDutyReceiver {
    fn default() -> Self {
        Self {
            enabled: true,
            routing_key: Some(SecretKeyRef::new(seed::ALERTING_SECRET, "pagerduty-routing-key")),
            severities: vec![Severity::Critical],
        }
    }
}

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
    /// Delay after the alert fires before this step is notified.
    pub after: Duration,
    /// Email addresses of this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 3, max = 254), pattern(r"^[^@\s]+@[^@\s]+$")))]
    pub email: Vec<String>,
    /// Secret key holding a PagerDuty routing key of this step (default: the receiver's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty_routing_key: Option<SecretKeyRef>,
}

impl EscalationStep {
    fn seed(name: &str, role: &str, after: &str) -> Self {
        Self {
            name: name.to_owned(),
            role: role.to_owned(),
            after: Duration::from(after),
            email: Vec::new(),
            pagerduty_routing_key: None,
        }
    }
}
