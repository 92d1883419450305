//! SLOs: burn-rate windows and the seed's performance budgets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::common::*;

/// SLO evaluation: multi-window burn-rate alerts and the seed's performance budgets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct SlosSpec {
    /// Render SLO recording and burn-rate rules for monitors that declare an `slo`.
    pub enabled: bool,
    /// SLO period the error budget is measured over.
    pub period: Duration,
    /// Burn-rate alert windows (Google SRE workbook multi-window, multi-burn-rate).
    #[schemars(length(min = 1, max = 8))]
    pub burn_rate_windows: Vec<BurnRateWindow>,
    /// Incident level of the burn-rate alerts of each severity (the windows of one severity make
    /// one alert). The document names no level for them; the default reads critical as a major
    /// feature down (P1), warning as degraded (P2), info as minor (P3).
    pub burn_rate_incident_levels: BurnRateIncidentLevels,
    /// Severity and incident level of `PerformanceBudgetExceeded` (default warning, P3: an
    /// overrun is engineering work, the document's "investigate bottleneck, optimize queries",
    /// not an on-call page).
    pub budget_alert: BudgetAlert,
    /// Response-time budgets per operation, checked on Jaeger's span metrics.
    #[schemars(length(max = 64))]
    pub budgets: Vec<PerformanceBudget>,
}

impl Default for SlosSpec {
    fn default() -> Self {
        use Severity::*;
        Self {
            enabled: true,
            period: Duration::from("30d"),
            burn_rate_windows: vec![
                BurnRateWindow::new("1h", "5m", 14.4, Critical),
                BurnRateWindow::new("6h", "30m", 6.0, Critical),
                BurnRateWindow::new("1d", "2h", 3.0, Warning),
                BurnRateWindow::new("3d", "6h", 1.0, Warning),
            ],
            burn_rate_incident_levels: BurnRateIncidentLevels::default(),
            budget_alert: BudgetAlert::default(),
            budgets: vec![
                PerformanceBudget::new(
                    "gateway-routing",
                    50,
                    r#"service_name="gateway", span_kind="SPAN_KIND_SERVER""#,
                ),
                PerformanceBudget::new("database-query", 100, r#"db_system=~"mongodb|cosmosdb""#),
                PerformanceBudget::new("milvus-search", 50, r#"db_system="milvus""#),
                PerformanceBudget::new("llm-api-call", 2000, r#"span_name=~"(?i).*llm.*""#),
                PerformanceBudget::new("tts-generation", 500, r#"span_name=~"(?i).*tts.*""#),
                PerformanceBudget::new(
                    "total",
                    3000,
                    r#"span_kind="SPAN_KIND_SERVER", service_name=~"gateway|response-3d|response-text""#,
                ),
            ],
        }
    }
}

/// Incident level of the burn-rate alerts, per severity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BurnRateIncidentLevels {
    /// Level of the critical burn-rate alert (default P1).
    pub critical: IncidentLevel,
    /// Level of the warning burn-rate alert (default P2).
    pub warning: IncidentLevel,
    /// Level of an info burn-rate alert (default P3).
    pub info: IncidentLevel,
}

impl Default for BurnRateIncidentLevels {
    fn default() -> Self {
        Self { critical: IncidentLevel::P1, warning: IncidentLevel::P2, info: IncidentLevel::P3 }
    }
}

impl BurnRateIncidentLevels {
    /// The level of the burn-rate alert of `severity`.
    pub fn of(&self, severity: Severity) -> IncidentLevel {
        match severity {
            Severity::Critical => self.critical,
            Severity::Warning => self.warning,
            Severity::Info => self.info,
        }
    }
}

/// Severity and incident level of the performance budgets' alert.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct BudgetAlert {
    /// Severity (default warning).
    pub severity: Severity,
    /// Incident level (default P3).
    pub incident_level: IncidentLevel,
}

impl Default for BudgetAlert {
    fn default() -> Self {
        Self { severity: Severity::Warning, incident_level: IncidentLevel::P3 }
    }
}

/// One pair of burn-rate windows: both must burn faster than `factor` for the alert to fire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BurnRateWindow {
    /// Long window, e.g. 1h (the burn rate over it must exceed the factor).
    pub long: Duration,
    /// Short window (confirms the burn is still happening).
    pub short: Duration,
    /// Burn-rate factor (14.4 spends 2% of a 30-day budget in an hour).
    #[schemars(range(min = 0.1, max = 1000.0))]
    pub factor: f64,
    /// Severity of the alert.
    pub severity: Severity,
}

impl BurnRateWindow {
    fn new(long: &str, short: &str, factor: f64, severity: Severity) -> Self {
        Self { long: Duration::from(long), short: Duration::from(short), factor, severity }
    }
}

/// A response-time budget of one operation (seed: Performance Budgets).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceBudget {
    /// Budget name, used as the `budget` label.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// p95 budget in milliseconds.
    #[schemars(range(min = 1, max = 3_600_000))]
    pub threshold_ms: u32,
    /// PromQL label matchers selecting the operation's spans in the span metrics.
    #[schemars(length(min = 1, max = 1024))]
    pub span_matchers: String,
}

impl PerformanceBudget {
    fn new(name: &str, threshold_ms: u32, span_matchers: &str) -> Self {
        Self { name: name.to_owned(), threshold_ms, span_matchers: span_matchers.to_owned() }
    }
}
