//! The rules that follow the services rather than the document's tables: the RED recording
//! rules, the SLO records with their multi-window multi-burn-rate alerts, and the performance
//! budgets on Jaeger's span metrics.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::model::{AlertingRule, RecordingRule, Rule, RuleGroup};
use super::{DEFAULT_WINDOW, Decimal, invalid, number, quoted, series};
use crate::api::{BurnRateWindow, Severity};
use crate::render::RenderError;
use crate::resolve::ResolvedStack;

/// Window of the span-duration rate the performance budgets take their p95 over.
const BUDGET_WINDOW: &str = "5m";
/// Jaeger's span-duration histogram (milliseconds) as Prometheus scrapes it.
const SPAN_DURATION_BUCKET: &str = "traces_span_metrics_duration_milliseconds_bucket";
/// The latency SLO is a p95: at most 5% of requests may be slower than the target.
const LATENCY_QUANTILE: &str = "0.95";
const LATENCY_BUDGET: Decimal = Decimal::new(5, 2);
/// Quantiles of the RED duration recording rules.
const RED_QUANTILES: [(&str, &str); 3] = [("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")];

/// A counter's name without its `_total` suffix, as recording-rule names write it.
fn base_name(counter: &str) -> &str {
    counter.strip_suffix("_total").unwrap_or(counter)
}

/// RED recording rules per service: request rate, failure rate, error ratio and p50/p95/p99.
pub(crate) fn red(stack: &ResolvedStack) -> Vec<Rule> {
    let red = &stack.spec.metrics.red;
    let (requests, failures) = (base_name(&red.requests), base_name(&red.failures));
    let window = DEFAULT_WINDOW;
    let rate = |metric: &str| format!("sum by (service) (rate({metric}[{window}]))");
    let none = BTreeMap::new();
    let mut rules = vec![
        RecordingRule::new(format!("service:{requests}:rate{window}"), rate(&red.requests)).labels(&none),
        RecordingRule::new(format!("service:{failures}:rate{window}"), rate(&red.failures)).labels(&none),
        RecordingRule::new(
            format!("service:{failures}_per_{requests}:ratio_rate{window}"),
            format!("{} / {}", rate(&red.failures), rate(&red.requests)),
        )
        .labels(&none),
    ];
    for (name, quantile) in RED_QUANTILES {
        rules.push(
            RecordingRule::new(
                format!("service:{}:{name}_rate{window}", red.duration),
                format!(
                    "histogram_quantile({quantile}, sum by (service, le) (rate({}_bucket[{window}])))",
                    red.duration
                ),
            )
            .labels(&none),
        );
    }
    rules
}

/// One service's objectives, from the first monitor that declares an SLO for it.
struct Objective {
    service: String,
    /// Availability in percent, as written (99.95).
    availability: Decimal,
    /// Latency target of the p95, in seconds.
    latency_seconds: Decimal,
    /// The classic bucket (`le`) the latency SLI counts requests below: `latencyBucket`, else
    /// the target.
    latency_bucket: Decimal,
    /// The service's histogram is native and the stack ingests native histograms: the latency
    /// SLI uses `histogram_fraction` at the target itself.
    native: bool,
    /// Highest error rate as a ratio (0.5% → 0.005).
    error_rate: Decimal,
    /// Share of requests that may fail: the stricter of `1 - availability` and the error rate,
    /// since both bound the same failed/total ratio.
    error_budget: Decimal,
}

/// The two SLOs each service gets burn-rate alerts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SloKind {
    /// Failed requests against the availability (and error-rate) budget.
    Availability,
    /// Requests slower than the latency target against the p95's 5%.
    Latency,
}

impl SloKind {
    const ALL: [Self; 2] = [Self::Availability, Self::Latency];

    fn as_str(self) -> &'static str {
        match self {
            Self::Availability => "availability",
            Self::Latency => "latency",
        }
    }

    fn alert_name(self) -> &'static str {
        match self {
            Self::Availability => "AvailabilityErrorBudgetBurn",
            Self::Latency => "LatencyErrorBudgetBurn",
        }
    }

    fn signal(self) -> &'static str {
        match self {
            Self::Availability => "slo_burn",
            Self::Latency => "slo_latency_burn",
        }
    }

    fn budget(self, objective: &Objective) -> Decimal {
        match self {
            Self::Availability => objective.error_budget,
            Self::Latency => LATENCY_BUDGET,
        }
    }

    /// The SLI over a window: the share of requests that spent the budget.
    fn sli(self, stack: &ResolvedStack, objective: &Objective, window: &str) -> String {
        let red = &stack.spec.metrics.red;
        let service = format!("service={}", quoted(&objective.service));
        match self {
            Self::Availability => format!(
                "sum(rate({}[{window}])) / sum(rate({}[{window}]))",
                series(&red.failures, std::slice::from_ref(&service)),
                series(&red.requests, std::slice::from_ref(&service))
            ),
            // A native histogram answers at any threshold.
            Self::Latency if objective.native => format!(
                "1 - histogram_fraction(0, {}, sum(rate({}[{window}])))",
                objective.latency_seconds,
                series(&red.duration, &[service])
            ),
            // Prometheus 3 stores `le` in OpenMetrics form (`1.0`, `0.1`), whatever the target sends.
            Self::Latency => format!(
                "1 - sum(rate({}[{window}])) / sum(rate({}[{window}]))",
                series(
                    &format!("{}_bucket", red.duration),
                    &[service.clone(), format!("le={}", quoted(&objective.latency_bucket.openmetrics()))]
                ),
                series(&format!("{}_count", red.duration), &[service])
            ),
        }
    }
}

/// The services' objectives, in service order.
fn objectives(stack: &ResolvedStack) -> Result<Vec<Objective>, RenderError> {
    let mut by_service: BTreeMap<String, Objective> = BTreeMap::new();
    for monitor in &stack.monitors {
        let Some(slo) = &monitor.spec.slo else { continue };
        let service = monitor.service_label();
        if by_service.contains_key(&service) {
            continue;
        }
        let field = |key: &str| format!("ServiceMonitor {}: spec.slo.{key}", monitor.key());
        let availability = number(slo.availability, &field("availability"))?;
        let unavailable = Decimal::new(100, 0)
            .checked_sub(availability)
            .filter(|rest| !rest.is_zero())
            .ok_or_else(|| invalid(field("availability"), "must be below 100"))?
            .shift(2);
        let error_rate = number(slo.error_rate, &field("errorRate"))?.shift(2);
        let error_budget = match unavailable.checked_cmp(error_rate) {
            Some(Ordering::Greater) if !error_rate.is_zero() => error_rate,
            Some(_) => unavailable,
            None => return Err(invalid(field("errorRate"), "too many digits to compare with the availability")),
        };
        let latency_seconds = slo
            .latency_p95
            .to_millis()
            .filter(|millis| *millis > 0)
            .map(Decimal::from_millis)
            .ok_or_else(|| invalid(field("latencyP95"), "must be a positive duration"))?;
        let latency_bucket = match slo.latency_bucket {
            Some(bucket) => number(bucket, &field("latencyBucket"))?,
            None => latency_seconds,
        };
        let native = stack.spec.metrics.prometheus.native_histograms
            && monitor.spec.histogram.as_ref().is_some_and(|histogram| histogram.native);
        by_service.insert(
            service.clone(),
            Objective { service, availability, latency_seconds, latency_bucket, native, error_rate, error_budget },
        );
    }
    Ok(by_service.into_values().collect())
}

/// The windows the burn-rate pairs and the budget period need, shortest first, each spelling once.
fn slo_windows(stack: &ResolvedStack) -> Result<Vec<String>, RenderError> {
    let slos = &stack.spec.slos;
    let mut windows = BTreeMap::new();
    let pairs = slos.burn_rate_windows.iter().enumerate();
    let candidates = pairs
        .flat_map(|(index, pair)| {
            [
                (format!("spec.slos.burnRateWindows[{index}].long"), &pair.long),
                (format!("spec.slos.burnRateWindows[{index}].short"), &pair.short),
            ]
        })
        .chain(std::iter::once(("spec.slos.period".to_owned(), &slos.period)));
    for (field, window) in candidates {
        let millis =
            window.to_millis().filter(|millis| *millis > 0).ok_or_else(|| invalid(field, "must be positive"))?;
        // Keyed by spelling too: the alerts name the record of the window as the spec writes it.
        windows.insert((millis, window.as_str().to_owned()), ());
    }
    Ok(windows.into_keys().map(|(_, spelling)| spelling).collect())
}

/// The error budget left over the SLO period, per service and SLO (1: untouched, 0: spent).
pub(crate) const ERROR_BUDGET_REMAINING_RECORD: &str = "slo:error_budget_remaining:ratio";

/// Name of the recorded SLI over a window: the share of bad events (failed or too slow requests).
pub(crate) fn sli_record(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// One long/short window pair of a burn-rate alert, with its factor as a decimal.
struct BurnPair<'a> {
    long: &'a str,
    short: &'a str,
    factor: Decimal,
}

/// The burn-rate pairs grouped by severity, in the order the spec first names each severity:
/// the pairs of one severity are one alert, firing when any of them burns.
fn pairs_by_severity(windows: &[BurnRateWindow]) -> Result<Vec<(Severity, Vec<BurnPair<'_>>)>, RenderError> {
    let mut grouped: Vec<(Severity, Vec<BurnPair>)> = Vec::new();
    for (index, window) in windows.iter().enumerate() {
        let pair = BurnPair {
            long: window.long.as_str(),
            short: window.short.as_str(),
            factor: number(window.factor, &format!("spec.slos.burnRateWindows[{index}].factor"))?,
        };
        match grouped.iter_mut().find(|(severity, _)| *severity == window.severity) {
            Some((_, members)) => members.push(pair),
            None => grouped.push((window.severity, vec![pair])),
        }
    }
    Ok(grouped)
}

/// One group per service with an SLO: SLI records over every window, the error budget left over
/// the SLO period, and (with alerting) multi-window multi-burn-rate alerts per severity, as the
/// Google SRE workbook sets them up: page when both the long and the short window burn faster
/// than the factor.
pub(crate) fn slo_groups(stack: &ResolvedStack) -> Result<Vec<RuleGroup>, RenderError> {
    let slos = &stack.spec.slos;
    let windows = slo_windows(stack)?;
    let period = slos.period.as_str();
    let by_severity = pairs_by_severity(&slos.burn_rate_windows)?;
    let mut groups = Vec::new();
    for objective in objectives(stack)? {
        let service = &objective.service;
        let mut rules = Vec::new();
        for kind in SloKind::ALL {
            let budget = kind.budget(&objective);
            let labels = BTreeMap::from([
                ("service".to_owned(), service.clone()),
                ("slo".to_owned(), kind.as_str().to_owned()),
                ("availability_target".to_owned(), objective.availability.to_string()),
                ("latency_target_seconds".to_owned(), objective.latency_seconds.to_string()),
                ("error_rate_target".to_owned(), objective.error_rate.to_string()),
                ("error_budget".to_owned(), budget.to_string()),
            ]);
            for window in &windows {
                rules.push(RecordingRule::new(sli_record(window), kind.sli(stack, &objective, window)).labels(&labels));
            }
            let selector = [format!("service={}", quoted(service)), format!("slo={}", quoted(kind.as_str()))];
            rules.push(
                RecordingRule::new(
                    ERROR_BUDGET_REMAINING_RECORD,
                    format!("1 - {} / {budget}", series(&sli_record(period), &selector)),
                )
                .labels(&labels),
            );
        }
        if stack.spec.alerting.enabled {
            for kind in SloKind::ALL {
                let budget = kind.budget(&objective);
                let selector = [format!("service={}", quoted(service)), format!("slo={}", quoted(kind.as_str()))];
                for (severity, pairs) in &by_severity {
                    let mut conditions = Vec::new();
                    let mut spoken = Vec::new();
                    for pair in pairs {
                        let burn = |window: &str| {
                            format!("{} > ({} * {budget})", series(&sli_record(window), &selector), pair.factor)
                        };
                        conditions.push(format!("({} and {})", burn(pair.long), burn(pair.short)));
                        spoken.push(format!("{}x over {} and {}", pair.factor, pair.long, pair.short));
                    }
                    let what = match kind {
                        SloKind::Availability => format!(
                            "failed requests (budget {budget} of requests: availability {}%, error rate {})",
                            objective.availability, objective.error_rate
                        ),
                        SloKind::Latency => format!(
                            "requests slower than {}s (budget {budget}: p95 below {}s)",
                            objective.latency_seconds, objective.latency_seconds
                        ),
                    };
                    rules.push(
                        AlertingRule::new(
                            kind.alert_name(),
                            conditions.join(" or "),
                            *severity,
                            stack.spec.slos.burn_rate_incident_levels.of(*severity),
                            kind.signal(),
                        )
                        .label("service", service.clone())
                        .label("slo", kind.as_str())
                        .channels(&stack.spec.alerting.routing.severity_channels(*severity))
                        .annotate(
                            format!("{{{{ $labels.service }}}} is burning its {} error budget", kind.as_str()),
                            format!(
                                "{{{{ $labels.service }}}}: {{{{ $value | humanizePercentage }}}} {what}; burning \
                                 faster than {} of the {period} budget.",
                                spoken.join(", or ")
                            ),
                        ),
                    );
                }
            }
        }
        groups.push(RuleGroup { name: format!("slo-{service}"), rules });
    }
    Ok(groups)
}

/// Seed: Performance Budgets, the p95 of the matching spans of Jaeger's span metrics against
/// each budget, per service.
pub(crate) fn budgets(stack: &ResolvedStack) -> Result<Vec<Rule>, RenderError> {
    let mut rules = Vec::new();
    let alert = &stack.spec.slos.budget_alert;
    for (index, budget) in stack.spec.slos.budgets.iter().enumerate() {
        let matchers = budget.span_matchers.trim();
        if matchers.is_empty() {
            return Err(invalid(format!("spec.slos.budgets[{index}].spanMatchers"), "must not be empty"));
        }
        let seconds = Decimal::from_millis(u64::from(budget.threshold_ms));
        let expr = format!(
            "histogram_quantile({LATENCY_QUANTILE}, sum by (service_name, le) \
             (rate({SPAN_DURATION_BUCKET}{{{matchers}}}[{BUDGET_WINDOW}]))) / 1000 > {seconds}"
        );
        rules.push(
            AlertingRule::new("PerformanceBudgetExceeded", expr, alert.severity, alert.incident_level, "budget")
                .label("budget", budget.name.clone())
                .channels(&stack.spec.alerting.routing.severity_channels(alert.severity))
                .label("service", "{{ $labels.service_name }}")
                .annotate(
                    format!(
                        "{{{{ $labels.service_name }}}} over the {} budget of {}ms",
                        budget.name, budget.threshold_ms
                    ),
                    format!(
                        "The p95 of the {} spans of {{{{ $labels.service_name }}}} over the last {BUDGET_WINDOW} is \
                         {{{{ $value | humanizeDuration }}}}, above its budget of {}ms.",
                        budget.name, budget.threshold_ms
                    ),
                ),
        );
    }
    Ok(rules)
}
