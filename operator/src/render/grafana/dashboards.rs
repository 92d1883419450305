//! The seed's Infrastructure, Application and Business dashboards.

use super::model::Dashboard;
use super::panels::*;
use super::{APPLICATION_FILE, BUSINESS_FILE, INFRASTRUCTURE_FILE, dashboard_uids, metrics};
use crate::render::Component;
use crate::render::rules::{ERROR_BUDGET_REMAINING_RECORD, sli_record};
use crate::resolve::ResolvedStack;

// ---------------------------------------------------------------------------------------------
// The seed's dashboards
// ---------------------------------------------------------------------------------------------

/// Infrastructure: containers' CPU, memory, replicas and health, Cosmos DB and Milvus, network,
/// disks, restarts and the daily cost by service.
pub(crate) fn infrastructure(stack: &ResolvedStack) -> Dashboard {
    use metrics::*;
    let alerts = &stack.spec.alerting.rules.infrastructure;
    let databases = &stack.spec.metrics.databases;
    let cost = &stack.spec.metrics.business.cloud_cost;
    let mut panels = vec![
        timeseries_with_threshold_line(
            "CPU Utilization (All Services)",
            "CPU used by each service's containers, in percent of their CPU limit.",
            24,
            vec![step(None, "green"), step(Some(alerts.high_cpu.threshold), "orange"), step(Some(alerts.critical_cpu.threshold), "red")],
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum by (namespace, container) (rate({CPU_SECONDS}{{container!=\"\", container!=\"POD\"}}[$__rate_interval]))\n  / sum by (namespace, container) ({CPU_LIMITS}{{resource=\"cpu\"}})"
            ),
            "{{namespace}}/{{container}}",
        )),
        stacked_timeseries(
            "Memory Usage (All Services)",
            "Working-set memory of each service's containers, stacked.",
            24,
        )
        .unit("bytes")
        .min(0.0)
        .target(range_query(
            "A",
            format!("sum by (namespace, container) ({MEMORY_WORKING_SET}{{container!=\"\", container!=\"POD\"}})"),
            "{{namespace}}/{{container}}",
        )),
        gauge("Active Replicas", "Available replicas of each Deployment; red at zero.", 8)
            .min(0.0)
            .thresholds(vec![step(None, "red"), step(Some(1.0), "green")])
            .target(range_query(
                "A",
                format!("sum by (namespace, deployment) ({REPLICAS_AVAILABLE})"),
                "{{deployment}}",
            )),
        timeseries(
            "Cosmos DB RU/s Consumption",
            "Request units consumed per second, by database (Azure Monitor's TotalRequestUnits).",
            16,
        )
        .unit("short")
        .min(0.0)
        .target(range_query(
            "A",
            format!("sum by (database_name) (rate({}[$__rate_interval]))", databases.cosmos_request_units),
            "{{database_name}}",
        )),
        timeseries("Network Bandwidth", "Bytes received and sent per second, by namespace.", 12)
            .unit("Bps")
            .target(range_query(
                "A",
                format!("sum by (namespace) (rate({NETWORK_RECEIVE}[$__rate_interval]))"),
                "{{namespace}} received",
            ))
            .target(range_query(
                "B",
                format!("sum by (namespace) (rate({NETWORK_TRANSMIT}[$__rate_interval]))"),
                "{{namespace}} sent",
            )),
        timeseries("Network Errors", "Receive and transmit errors per second, by namespace.", 12)
            .unit("short")
            .min(0.0)
            .target(range_query(
                "A",
                format!(
                    "sum by (namespace) (rate({NETWORK_RECEIVE_ERRORS}[$__rate_interval]) + rate({NETWORK_TRANSMIT_ERRORS}[$__rate_interval]))"
                ),
                "{{namespace}}",
            )),
        timeseries_with_threshold_line(
            "Disk Usage %",
            "Used share of each persistent volume.",
            12,
            red_from(alerts.disk_full.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!("100 * max by (namespace, persistentvolumeclaim) ({VOLUME_USED} / {VOLUME_CAPACITY})"),
            "{{namespace}}/{{persistentvolumeclaim}}",
        )),
        timeseries_with_threshold_line(
            "Container Restarts",
            "Restarts of each container over the crash alert's window.",
            12,
            red_from(alerts.container_crash.threshold),
        )
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "sum by (namespace, container) (increase({RESTARTS}[{}]))",
                alerts.container_crash.window.as_ref().map_or("10m", |window| window.as_str())
            ),
            "{{namespace}}/{{container}}",
        )),
        timeseries("Disk I/O (IOPS)", "Read and write operations per second, by namespace.", 12)
            .unit("iops")
            .min(0.0)
            .target(range_query(
                "A",
                format!("sum by (namespace) (rate({FS_READS}{{container!=\"\"}}[$__rate_interval]))"),
                "{{namespace}} reads",
            ))
            .target(range_query(
                "B",
                format!("sum by (namespace) (rate({FS_WRITES}{{container!=\"\"}}[$__rate_interval]))"),
                "{{namespace}} writes",
            )),
        timeseries("Disk Throughput", "Bytes read and written per second, by namespace.", 12)
            .unit("Bps")
            .min(0.0)
            .target(range_query(
                "A",
                format!("sum by (namespace) (rate({FS_READ_BYTES}{{container!=\"\"}}[$__rate_interval]))"),
                "{{namespace}} read",
            ))
            .target(range_query(
                "B",
                format!("sum by (namespace) (rate({FS_WRITE_BYTES}{{container!=\"\"}}[$__rate_interval]))"),
                "{{namespace}} written",
            )),
        timeseries(
            "Container Health",
            "Containers ready and not ready, and those waiting (CrashLoopBackOff, ImagePullBackOff, ...) by reason.",
            12,
        )
        .min(0.0)
        .target(range_query("A", format!("sum by (namespace) ({CONTAINER_READY})"), "{{namespace}} ready"))
        .target(range_query("B", format!("sum by (namespace) (1 - {CONTAINER_READY})"), "{{namespace}} not ready"))
        .target(range_query(
            "C",
            format!("sum by (namespace, reason) ({CONTAINER_WAITING})"),
            "{{namespace}} waiting: {{reason}}",
        )),
        daily(
            stacked_timeseries("Daily Cost by Service", "Cloud spend per day, stacked by service.", 12)
                .unit("currencyUSD")
                .min(0.0)
                .target(range_query("A", format!("sum by (service) (increase({cost}[1d]))"), "{{service}}")),
        ),
        timeseries(
            "Cosmos DB Throttled Requests",
            "Requests refused with 429 (request units exhausted) per second, by database.",
            12,
        )
        .unit("reqps")
        .min(0.0)
        .thresholds(red_from(0.01))
        .target(range_query(
            "A",
            format!("sum by (database_name) (rate({}[$__rate_interval]))", databases.cosmos_throttled_requests),
            "{{database_name}}",
        )),
        timeseries("Cosmos DB Storage", "Data and index size, by database.", 12).unit("bytes").min(0.0).target(
            range_query(
                "A",
                format!("sum by (database_name) ({})", databases.cosmos_storage_bytes),
                "{{database_name}}",
            ),
        ),
        timeseries("Milvus Insert Rate", "Vectors inserted into Milvus per second.", 8).unit("short").min(0.0).target(
            range_query(
                "A",
                format!("sum(rate({}[$__rate_interval]))", databases.milvus_inserted_vectors),
                "vectors/s",
            ),
        ),
        timeseries("Milvus Memory", "Resident memory of each Milvus process.", 8).unit("bytes").min(0.0).target(
            range_query(
                "A",
                format!("sum by (instance) ({}{{job=\"{}\"}})", databases.milvus_memory_bytes, databases.milvus_job),
                "{{instance}}",
            ),
        ),
        stat("Milvus Collections", "Collections in Milvus.", 8)
            .target(range_query("A", format!("max({})", databases.milvus_collections), "collections")),
    ];
    // Database latency comes from Jaeger's span metrics (the spans' `db.system`).
    if Component::Jaeger.enabled(stack) {
        let quantile = |ref_id: &str, q: &str| {
            range_query(
                ref_id,
                format!(
                    "histogram_quantile({q}, sum by (le, db_system) (rate({SPAN_DURATION_BUCKET}{{db_system!=\"\"}}[$__rate_interval])))"
                ),
                &format!("{{{{db_system}}}} p{}", &q[2..]),
            )
        };
        panels.push(
            timeseries(
                "Database Latency (p50, p95, p99)",
                "Latency of database calls (MongoDB, Cosmos DB, Milvus) from the spans' db.system.",
                24,
            )
            .unit("ms")
            .min(0.0)
            .target(quantile("A", "0.50"))
            .target(quantile("B", "0.95"))
            .target(quantile("C", "0.99")),
        );
    }
    dashboard(
        dashboard_uids::INFRASTRUCTURE,
        "Infrastructure",
        "Containers, databases and network of the platform.",
        "now-6h",
        panels,
    )
}

/// Application: the RED metrics per service and the LLM usage.
pub(crate) fn application(stack: &ResolvedStack) -> Dashboard {
    let red = &stack.spec.metrics.red;
    let business = &stack.spec.metrics.business;
    let alerts = &stack.spec.alerting.rules.application;
    let requests = &red.requests;
    let failures = &red.failures;
    let duration = &red.duration;
    let latency = |ref_id: &str, q: &str, by: &str, legend: &str| {
        range_query(
            ref_id,
            format!("histogram_quantile({q}, sum by (le{by}) (rate({duration}_bucket[$__rate_interval])))"),
            legend,
        )
    };
    let mut panels = vec![
        timeseries("Request Rate (per service)", "Requests per second, one series per service.", 24)
            .unit("reqps")
            .min(0.0)
            .target(range_query("A", format!("sum by (service) (rate({requests}[$__rate_interval]))"), "{{service}}")),
        timeseries_with_threshold_line(
            "Error Rate %",
            "Failed requests in percent of all requests; the red line is the high-error-rate alert.",
            24,
            red_from(alerts.high_error_rate.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum by (service) (rate({failures}[$__rate_interval]))\n  / sum by (service) (rate({requests}[$__rate_interval]))"
            ),
            "{{service}}",
        )),
        timeseries_with_threshold_line(
            "p95 Latency",
            "95th percentile of request duration per service; the red line is the high-latency alert.",
            12,
            red_from(alerts.high_latency.threshold),
        )
        .unit("s")
        .min(0.0)
        .target(latency("A", "0.95", ", service", "{{service}}")),
        barchart("LLM Token Usage", "Tokens consumed over the dashboard's range, by model.", 12, "model", "auto")
            .min(0.0)
            .target(table_query(
                "A",
                format!("sum by (model) (increase({}[$__range]))", business.llm_tokens),
                "{{model}}",
            )),
        timeseries("Response Latency (p50, p95, p99)", "Request duration percentiles over every service.", 12)
            .unit("s")
            .min(0.0)
            .target(latency("A", "0.50", "", "p50"))
            .target(latency("B", "0.95", "", "p95"))
            .target(latency("C", "0.99", "", "p99")),
        timeseries("LLM API Calls (per model)", "LLM API calls per second, by model.", 12)
            .unit("reqps")
            .min(0.0)
            .target(range_query(
                "A",
                format!("sum by (model) (rate({}[$__rate_interval]))", business.llm_calls),
                "{{model}}",
            )),
        timeseries("RAG Hit Rate %", "Retrieval lookups that found relevant context, in percent.", 12)
            .unit("percent")
            .min(0.0)
            .target(range_query(
                "A",
                format!(
                    "100 * sum(rate({}[$__rate_interval])) / sum(rate({}[$__rate_interval]))",
                    business.rag_hits, business.rag_lookups
                ),
                "hit rate",
            )),
        daily(
            timeseries("Cost per Conversation", "LLM spend per conversation, per day.", 12)
                .unit("currencyUSD")
                .min(0.0)
                .target(range_query(
                    "A",
                    format!(
                        "sum(increase({}[1d])) / sum(increase({}[1d]))",
                        business.llm_cost, business.conversations
                    ),
                    "per conversation",
                )),
        ),
    ];
    if stack.spec.slos.enabled {
        panels.extend(slo_panels(stack));
    }
    dashboard(
        dashboard_uids::APPLICATION,
        "Application",
        "Rate, errors and duration of every service, and LLM usage.",
        "now-6h",
        panels,
    )
}

/// Business: the executive view (DAU, MAU, signups, MRR), conversations and revenue health.
pub(crate) fn business(stack: &ResolvedStack) -> Dashboard {
    let metric = &stack.spec.metrics.business;
    let alerts = &stack.spec.alerting.rules.business;
    let conversations = daily(
        timeseries("Conversations per Day", "Conversations per day over the last 30 days.", 24)
            .min(0.0)
            .target(range_query("A", format!("sum(increase({}[1d]))", metric.conversations), "conversations")),
    );
    let panels = vec![
        stat("DAU", "Daily active users.", 6).target(range_query(
            "A",
            format!("max({})", metric.daily_active_users),
            "DAU",
        )),
        stat("MAU", "Monthly active users.", 6).target(range_query(
            "A",
            format!("max({})", metric.monthly_active_users),
            "MAU",
        )),
        stat("New Signups", "Signups over the last day.", 6).target(range_query(
            "A",
            format!("sum(increase({}[1d]))", metric.signups),
            "signups",
        )),
        stat("MRR", "Monthly recurring revenue.", 6).unit("currencyUSD").target(range_query(
            "A",
            format!("sum({})", metric.monthly_recurring_revenue),
            "MRR",
        )),
        conversations,
        barchart(
            "Top Chatbots by Usage",
            "The ten chatbots with the most conversations in the range.",
            12,
            "chatbot",
            "horizontal",
        )
        .min(0.0)
        .target(table_query(
            "A",
            format!("topk(10, sum by (chatbot) (increase({}[$__range])))", metric.conversations),
            "{{chatbot}}",
        )),
        timeseries_with_threshold_line(
            "Payment Failure Rate %",
            "Failed payments in percent of all payments; the red line is the payment-failure alert.",
            12,
            red_from(alerts.payment_failures.threshold),
        )
        .unit("percent")
        .min(0.0)
        .target(range_query(
            "A",
            format!(
                "100 * sum(rate({}[$__rate_interval])) / sum(rate({}[$__rate_interval]))",
                metric.payment_failures, metric.payments
            ),
            "failed payments",
        )),
        stat("Active Subscriptions", "Subscriptions currently active.", 12).target(range_query(
            "A",
            format!("sum({})", metric.active_subscriptions),
            "subscriptions",
        )),
        daily(
            timeseries("Chatbots Created per Day", "Chatbots created per day over the last 30 days.", 12)
                .min(0.0)
                .target(range_query("A", format!("sum(increase({}[1d]))", metric.chatbots_created), "chatbots")),
        ),
        stat("User Satisfaction", "Thumbs up in percent of all ratings over the last day.", 6).unit("percent").target(
            range_query(
                "A",
                format!(
                    "100 * sum(increase({ratings}{{rating=\"up\"}}[1d])) / sum(increase({ratings}[1d]))",
                    ratings = metric.satisfaction_ratings
                ),
                "satisfied",
            ),
        ),
        stat("Free → Pro Conversion", "Upgrades to Pro in percent of new signups over 30 days.", 6)
            .unit("percent")
            .target(range_query(
                "A",
                format!("100 * sum(increase({}[30d])) / sum(increase({}[30d]))", metric.pro_upgrades, metric.signups),
                "conversion",
            )),
        stat("Monthly Churn %", "Subscriptions cancelled over 30 days, in percent of the active ones.", 12)
            .unit("percent")
            .thresholds(red_from(alerts.high_churn.threshold))
            .target(range_query(
                "A",
                format!(
                    "100 * sum(increase({}[30d])) / sum({})",
                    metric.cancelled_subscriptions, metric.active_subscriptions
                ),
                "churn",
            )),
    ];
    dashboard(
        dashboard_uids::BUSINESS,
        "Business",
        "Users, conversations and revenue of the platform.",
        "now-7d",
        panels,
    )
}

/// A panel of one point per day over the last 30 days.
fn daily(mut panel: PanelSpec) -> PanelSpec {
    panel.time_from = Some("30d".to_owned());
    panel.interval = Some("1d".to_owned());
    panel
}

/// The SLOs of the monitored services: how much of each objective was met over the SLO period,
/// and how much of its error budget is left (the records of the `slo.yml` rules).
fn slo_panels(stack: &ResolvedStack) -> Vec<PanelSpec> {
    let period = sli_record(stack.spec.slos.period.as_str());
    vec![
        timeseries(
            "SLO Attainment",
            "Good requests (fast enough, not failed) in percent of all, over the SLO period, per service and SLO.",
            12,
        )
        .unit("percentunit")
        .target(range_query("A", format!("1 - max by (service, slo) ({period})"), "{{service}} {{slo}}")),
        gauge("Error Budget Remaining", "Error budget left over the SLO period; red once spent.", 12)
            .unit("percentunit")
            .thresholds(vec![step(None, "red"), step(Some(0.0), "orange"), step(Some(0.25), "green")])
            .target(range_query(
                "A",
                format!("max by (service, slo) ({ERROR_BUDGET_REMAINING_RECORD})"),
                "{{service}} {{slo}}",
            )),
    ]
}

/// The enabled dashboards as `(file name, dashboard)`.
pub(crate) fn dashboards(stack: &ResolvedStack) -> Vec<(&'static str, Dashboard)> {
    let spec = &stack.spec.dashboards;
    let mut list = Vec::new();
    if spec.infrastructure {
        list.push((INFRASTRUCTURE_FILE, infrastructure(stack)));
    }
    if spec.application {
        list.push((APPLICATION_FILE, application(stack)));
    }
    if spec.business {
        list.push((BUSINESS_FILE, business(stack)));
    }
    list
}
