//! The platform's observability document as data: `tests/data/seed.yaml`, transcribed by hand
//! from the document, read into types. The conformance tests take what they expect from here,
//! never from stackscope's defaults, so a default that drifts from the document fails them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The whole transcription.
#[derive(Deserialize, Debug)]
pub struct Seed {
    pub loki: Loki,
    pub log_retention: LogRetention,
    pub promtail: Promtail,
    pub log_fields: Vec<String>,
    pub log_levels: Vec<String>,
    pub prometheus: Prometheus,
    pub metric_retention: BTreeMap<String, String>,
    pub red_metrics: RedMetrics,
    pub alerts: Vec<Alert>,
    pub routing: Routing,
    pub incident_levels: BTreeMap<String, IncidentLevel>,
    pub dashboards: BTreeMap<String, Vec<String>>,
    pub tracing: Tracing,
    pub probes: Probes,
    pub slos: Vec<Slo>,
    pub budgets: Vec<Budget>,
    pub readings: Readings,
}

#[derive(Deserialize, Debug)]
pub struct Loki {
    pub ingestion_rate_mb: u64,
    pub retention_period: String,
    pub chunk_target_size: u64,
}

#[derive(Deserialize, Debug)]
pub struct LogRetention {
    pub production: Retention,
    pub staging: Retention,
    pub development: Retention,
    pub compliance: String,
}

#[derive(Deserialize, Debug)]
pub struct Retention {
    pub retention: String,
    pub storage: String,
    #[serde(default)]
    pub tier: Option<String>,
}

#[derive(Deserialize, Debug)]
pub struct Promtail {
    pub positions_file: String,
    pub job_name: String,
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug)]
pub struct Prometheus {
    pub scrape_interval: String,
    pub evaluation_interval: String,
    pub targets: Vec<String>,
}

#[derive(Deserialize, Debug)]
pub struct RedMetrics {
    pub rate: String,
    pub errors: String,
    pub duration: String,
}

/// One row of the document's alert tables.
#[derive(Deserialize, Debug, Clone)]
pub struct Alert {
    pub table: String,
    /// The row's name in the document.
    pub alert: String,
    /// The rule's name.
    pub name: String,
    /// A number in the row's unit, a duration (`3s`), or words (`connection failed`).
    pub threshold: serde_json::Value,
    #[serde(default, rename = "for")]
    pub for_duration: Option<String>,
    #[serde(default)]
    pub window: Option<String>,
    pub severity: String,
    /// The row's Channel column.
    pub channels: Vec<String>,
}

impl Alert {
    /// The threshold as the rule compares it (seconds for durations); `None` for words.
    pub fn threshold_value(&self) -> Option<f64> {
        match &self.threshold {
            serde_json::Value::Number(number) => number.as_f64(),
            serde_json::Value::String(text) => seconds(text),
            _ => None,
        }
    }
}

#[derive(Deserialize, Debug)]
pub struct Routing {
    pub general_policy: BTreeMap<String, Vec<String>>,
    pub slack_channel: String,
    pub escalation: Vec<EscalationStep>,
}

#[derive(Deserialize, Debug)]
pub struct EscalationStep {
    pub step: String,
    pub role: String,
    pub after: String,
}

#[derive(Deserialize, Debug)]
pub struct IncidentLevel {
    pub definition: String,
    pub response: String,
    /// Roles of the escalation path the level reaches.
    pub reaches: Vec<String>,
    #[serde(default)]
    pub next_business_day: bool,
}

#[derive(Deserialize, Debug)]
pub struct Tracing {
    pub ingest: String,
    pub backend: String,
    pub log_field: String,
}

#[derive(Deserialize, Debug)]
pub struct Probes {
    pub liveness: BTreeMap<String, serde_json::Value>,
    pub readiness: BTreeMap<String, serde_json::Value>,
    pub health_response: Vec<String>,
    pub ready_response: Vec<String>,
}

#[derive(Deserialize, Debug)]
pub struct Slo {
    pub name: String,
    pub service: String,
    pub availability: f64,
    pub latency_p95: String,
    /// Percent.
    pub error_rate: f64,
}

#[derive(Deserialize, Debug)]
pub struct Budget {
    pub name: String,
    pub budget: String,
    pub ms: u64,
}

/// stackscope's readings where the document is silent.
#[derive(Deserialize, Debug)]
pub struct Readings {
    pub incident_levels: BTreeMap<String, String>,
    pub business_hours: BusinessHours,
    pub p1_backend_lead_after: String,
    pub escalation_for: String,
}

#[derive(Deserialize, Debug)]
pub struct BusinessHours {
    pub weekdays: Vec<String>,
    pub start: String,
    pub end: String,
    pub time_zone: String,
}

/// The transcription, read once.
pub fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        let path = crate::repo_root().join("tests/data/seed.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    })
}

/// A duration of the document (`100ms`, `3s`, `15m`, `1h`, `30d`) in seconds.
pub fn seconds(text: &str) -> Option<f64> {
    let millis = stackscope::api::parse_duration_millis(text)?;
    Some(millis as f64 / 1000.0)
}

impl Seed {
    /// The escalation steps an alert of this incident level reaches when it pages, by step name,
    /// in path order.
    pub fn steps_of_level(&self, level: &str) -> Vec<String> {
        let reaches = &self.incident_levels.get(level).unwrap_or_else(|| panic!("no incident level {level}")).reaches;
        self.routing
            .escalation
            .iter()
            .filter(|step| reaches.contains(&step.role))
            .map(|step| step.step.clone())
            .collect()
    }

    /// The receivers an alert of the document reaches: its Channel column, and when it pages the
    /// escalation steps of its incident level (stackscope's reading of its level).
    pub fn receivers_of(&self, alert: &Alert) -> Vec<String> {
        let mut receivers = alert.channels.clone();
        if alert.channels.contains(&self.readings.escalation_for) {
            let level = self.readings.incident_levels.get(&alert.name).unwrap_or_else(|| panic!("{}", alert.name));
            receivers.extend(self.steps_of_level(level));
        }
        receivers
    }
}
