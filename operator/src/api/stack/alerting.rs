//! Alerting: the rules of the seed's alert tables and of the stack's own health, and Alertmanager.
//! Routing is in [`super::routing`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{RoutingSpec, is_default};
use crate::api::common::*;
use crate::api::defaults as seed;

/// Alerting: the rules of the seed's three alert tables, the stack's own health alerts and
/// Alertmanager's routing.
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

/// One alert's threshold, duration and severity. Each field set alone keeps the others of the
/// alert's default.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::overlay::fields_default_from_parent)]
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
    /// Channels the alert is sent to (absent: the Channel column of the document's table for
    /// this alert, or with `routing.channelPolicy: BySeverity` the receivers' severities; an
    /// empty list: no channel). Alerts sent to PagerDuty also walk the escalation path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 3))]
    pub channels: Option<Vec<Channel>>,
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
            channels: None,
        }
    }
}

/// Every alert of the seed's Infrastructure, Application and Business tables, and the alerts on
/// the stack's own health.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AlertRules {
    /// Infrastructure alerts.
    pub infrastructure: InfrastructureAlerts,
    /// Application alerts.
    pub application: ApplicationAlerts,
    /// Business alerts.
    pub business: BusinessAlerts,
    /// Alerts on the stack itself: the always-firing Watchdog and the failures that would
    /// otherwise silence the other alerts or lose data.
    pub self_monitoring: SelfMonitoringAlerts,
}

/// Seed: Infrastructure Alerts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct InfrastructureAlerts {
    /// High CPU: >80% for 5 minutes, warning; email.
    pub high_cpu: AlertThreshold,
    /// Critical CPU: >95% for 2 minutes, critical; email and Slack.
    pub critical_cpu: AlertThreshold,
    /// High memory: >90% for 5 minutes, warning; email.
    pub high_memory: AlertThreshold,
    /// Out of memory: >98%, critical; email, Slack and PagerDuty.
    pub out_of_memory: AlertThreshold,
    /// Disk full: >85%, warning; email.
    pub disk_full: AlertThreshold,
    /// Container crash: more than 3 restarts in 10 minutes, critical; Slack and PagerDuty.
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
    /// High error rate: >5% of requests failing, warning; email and Slack.
    pub high_error_rate: AlertThreshold,
    /// Critical errors: >20% of requests failing, critical; Slack and PagerDuty.
    pub critical_error_rate: AlertThreshold,
    /// High latency: p95 >3s, warning; email.
    pub high_latency: AlertThreshold,
    /// Critical latency: p95 >10s, critical; Slack.
    pub critical_latency: AlertThreshold,
    /// No requests: 0 requests for 5 minutes, warning; email.
    pub no_requests: AlertThreshold,
    /// Database down: connection failed, critical; Slack and PagerDuty. Fires for the targets of the ServiceMonitors
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
    /// No signups: 0 signups for 1 hour, warning; email.
    pub no_signups: AlertThreshold,
    /// Payment failures: >10% of payments failing, critical; email and Slack.
    pub payment_failures: AlertThreshold,
    /// High churn: >5% monthly churn, warning; email (monthly).
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

/// The stack's own health: a dead man's switch and the failures that silence alerts or lose data.
/// Their thresholds are counts or percentages over the window, as each says; the Watchdog, the
/// reload alerts and the halted compactor have none (their `threshold` is not read).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct SelfMonitoringAlerts {
    /// Watchdog: always firing, so that a dead alerting pipeline is noticed by its absence
    /// (`routing.deadMansSwitch`); info, no channel.
    pub watchdog: AlertThreshold,
    /// Prometheus could not load its configuration for 10 minutes (it keeps the last good one),
    /// warning.
    pub prometheus_config_reload: AlertThreshold,
    /// Prometheus rules failed to evaluate (alerts cannot fire): more than 0 failures in 5
    /// minutes, for 5 minutes, critical.
    pub rule_evaluation_failures: AlertThreshold,
    /// Alertmanager could not load its configuration for 10 minutes (it keeps the last good one),
    /// warning.
    pub alertmanager_config_reload: AlertThreshold,
    /// Alertmanager fails to deliver: more than 1% of an integration's notifications failing
    /// over 5 minutes, for 5 minutes, critical.
    pub notifications_failing: AlertThreshold,
    /// The Thanos compactor halted (downsampling and retention stop), for 5 minutes, warning.
    pub compaction_halted: AlertThreshold,
    /// Loki refuses log lines (rate limits, validation): more than 0 discarded in 5 minutes, for
    /// 5 minutes, warning.
    pub log_ingestion_refused: AlertThreshold,
}

impl Default for SelfMonitoringAlerts {
    fn default() -> Self {
        use IncidentLevel::*;
        use Severity::*;
        Self {
            // No channel: Alertmanager sends the Watchdog to the dead man's switch alone.
            watchdog: AlertThreshold { channels: Some(Vec::new()), ..AlertThreshold::seed(0.0, None, None, Info, P3) },
            prometheus_config_reload: AlertThreshold::seed(0.0, Some("10m"), None, Warning, P2),
            rule_evaluation_failures: AlertThreshold::seed(0.0, Some("5m"), Some("5m"), Critical, P1),
            alertmanager_config_reload: AlertThreshold::seed(0.0, Some("10m"), None, Warning, P2),
            notifications_failing: AlertThreshold::seed(1.0, Some("5m"), Some("5m"), Critical, P1),
            compaction_halted: AlertThreshold::seed(0.0, Some("5m"), None, Warning, P2),
            log_ingestion_refused: AlertThreshold::seed(0.0, Some("5m"), Some("5m"), Warning, P2),
        }
    }
}
