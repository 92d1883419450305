//! Varied stacks for the tests that let the real engines judge the rendered output: the example
//! MachineAvatars stack plus deterministic variants that together cover the spec space (each
//! environment and collector, every component toggled off where the CEL rules allow it, the
//! routing shapes, per-monitor overrides, authenticated and cross-namespace monitors, every
//! relabeling action, the tracing backends).
//!
//! Every variant is written as manifests (the example's documents, edited) and read through the
//! CLI's own path (`stackscope::cli::offline::load`: schema, CEL and semantic checks, then `resolve`),
//! so a variant is only ever something a user could apply. Its `name` is what failure messages
//! quote.

use serde_json::{Value, json};

use crate::{Rendered, example_dir};

/// One stack of the generated set.
pub struct Variant {
    /// Short, stable name for failure messages (`example`, `staging-alloy`, ...).
    pub name: &'static str,
    /// What the variant changes relative to the example, in a sentence.
    pub description: &'static str,
    /// The manifests the variant was read from (one YAML stream, the stack first), e.g. to apply
    /// them to a cluster.
    pub manifests: String,
    /// The resolved and rendered stack.
    pub rendered: Rendered,
}

impl std::fmt::Debug for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variant").field("name", &self.name).field("description", &self.description).finish()
    }
}

/// The example's documents, as edited by a variant.
#[derive(Clone, Debug)]
pub struct Documents {
    /// The `ObservabilityStack`.
    pub stack: Value,
    /// The `ServiceMonitor`s, in file order.
    pub monitors: Vec<Value>,
}

impl Documents {
    /// The example's stack and monitors.
    pub fn example() -> Result<Self, String> {
        let mut stack = None;
        let mut monitors = Vec::new();
        for file in ["stack.yaml", "monitors.yaml"] {
            let path = example_dir().join(file);
            let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
            for document in stackscope::manifest::documents(file, &text).map_err(|error| error.to_string())? {
                match document.get("kind").and_then(Value::as_str) {
                    Some("ObservabilityStack") => stack = Some(document),
                    _ => monitors.push(document),
                }
            }
        }
        Ok(Self { stack: stack.ok_or("the example has no ObservabilityStack")?, monitors })
    }

    /// The monitor of that name; an error naming it when absent.
    pub fn monitor(&mut self, name: &str) -> Result<&mut Value, String> {
        self.monitors
            .iter_mut()
            .find(|monitor| monitor.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("the example has no ServiceMonitor {name}"))
    }

    /// One YAML stream, the stack first (JSON documents are YAML).
    pub fn to_yaml(&self) -> Result<String, String> {
        let mut text = String::new();
        for document in std::iter::once(&self.stack).chain(&self.monitors) {
            text.push_str("---\n");
            text.push_str(&serde_json::to_string_pretty(document).map_err(|error| error.to_string())?);
            text.push('\n');
        }
        Ok(text)
    }
}

/// Sets the value at a `/`-separated path, creating the objects on the way.
pub fn set(document: &mut Value, path: &str, value: Value) {
    let mut current = document;
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        if !current.is_object() {
            *current = json!({});
        }
        let Value::Object(map) = current else { return };
        current = map.entry(segment.to_owned()).or_insert(Value::Null);
    }
    *current = value;
}

/// Removes the value at a `/`-separated path, if present.
pub fn remove(document: &mut Value, path: &str) {
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    let parent = if parent.is_empty() { Some(document) } else { document.pointer_mut(&format!("/{parent}")) };
    if let Some(Value::Object(map)) = parent {
        map.remove(key);
    }
}

type Edit = fn(&mut Documents) -> Result<(), String>;

/// `(name, description, edit of the example)`: the whole set, in a fixed order.
const VARIANTS: &[(&str, &str, Edit)] = &[
    ("example", "the MachineAvatars production stack of examples/machineavatars, unchanged", |_| Ok(())),
    ("defaults", "an empty spec and no monitors: the documented default stack", defaults),
    ("staging-alloy", "staging (30d logs on a volume), Grafana Alloy as the collector, drift reported", staging_alloy),
    (
        "development",
        "development (7d logs, DEBUG kept), 30s/1m/20s Prometheus, 2 replicas, a `$` label, spans kept 7d",
        development,
    ),
    ("metrics-off", "metrics off, so alerting and SLOs off too (CEL), tracing without span metrics", metrics_off),
    ("alerting-off", "alerting off: no Alertmanager, SLO records without burn-rate alerts", alerting_off),
    ("slos-off", "SLOs off: no slo.yml and no budgets.yml", slos_off),
    ("tracing-dashboards-off", "tracing and dashboards off: no Jaeger, no Grafana, no budgets", tracing_dashboards_off),
    ("ha-no-downsampling", "downsampling off, Prometheus 3 replicas, Alertmanager 3 replicas", ha_no_downsampling),
    (
        "routing-quiet",
        "email without recipients, Slack disabled, escalation steps without email, grouped by every label",
        routing_quiet,
    ),
    ("routing-critical-only", "email limited to critical, PagerDuty disabled", routing_critical_only),
    (
        "routing-custom-escalation",
        "Slack critical only, PagerDuty warning and critical, escalation steps with their own PagerDuty keys",
        routing_custom_escalation,
    ),
    (
        "routing-by-severity",
        "the severity policy, P1 immediate, P2 held to Berlin business hours, a paging step for P1, local receivers",
        routing_by_severity,
    ),
    (
        "alert-overrides",
        "per-monitor alert overrides and disabled alerts, retuned and disabled rules, own channels",
        alert_overrides,
    ),
    ("monitor-auth", "monitors in the stack's namespace with TLS, bearer-token and basic-auth Secrets", monitor_auth),
    (
        "monitor-selection",
        "namespaceSelector any/matchNames, every relabeling action, honorLabels, params, limits",
        monitor_selection,
    ),
    ("tracing-memory-sampled", "Jaeger with memory storage, 25% sampling, other OTLP ports", tracing_memory_sampled),
    (
        "native-existing-sources",
        "native histograms, the cluster's own kube-state-metrics and node-exporter, a MongoDB database monitor",
        native_existing_sources,
    ),
];

/// The names of every variant, in order.
pub fn names() -> Vec<&'static str> {
    VARIANTS.iter().map(|(name, _, _)| *name).collect()
}

/// Every variant, validated, resolved and rendered; an error names the variant that failed.
pub fn all() -> Result<Vec<Variant>, String> {
    VARIANTS.iter().map(|(name, description, edit)| build(name, description, *edit)).collect()
}

/// One variant by name.
pub fn named(name: &str) -> Result<Variant, String> {
    let (name, description, edit) = VARIANTS
        .iter()
        .find(|(candidate, _, _)| *candidate == name)
        .ok_or_else(|| format!("no variant {name:?}; known: {}", names().join(", ")))?;
    build(name, description, *edit)
}

fn build(name: &'static str, description: &'static str, edit: Edit) -> Result<Variant, String> {
    let mut documents = Documents::example()?;
    edit(&mut documents).map_err(|error| format!("variant {name}: {error}"))?;
    let manifests = documents.to_yaml()?;
    let inputs = stackscope::cli::offline::load(&[(format!("variant {name}"), manifests.clone())])
        .map_err(|errors| format!("variant {name} is not a valid input:\n{}", errors.join("\n")))?;
    let mut stacks = stackscope::cli::offline::resolve(&inputs);
    if stacks.len() != 1 {
        return Err(format!("variant {name}: {} stacks resolved, expected 1", stacks.len()));
    }
    let rendered =
        Rendered::of(stacks.remove(0)).map_err(|error| format!("variant {name} does not render: {error}"))?;
    Ok(Variant { name, description, manifests, rendered })
}

fn defaults(documents: &mut Documents) -> Result<(), String> {
    documents.stack = json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ObservabilityStack",
        "metadata": {"name": "defaults", "namespace": "monitoring"},
        "spec": {}
    });
    documents.monitors.clear();
    Ok(())
}

fn staging_alloy(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/environment", json!("staging"));
    set(stack, "spec/driftPolicy", json!("Report"));
    set(stack, "spec/logging/collector", json!("alloy"));
    Ok(())
}

fn development(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/environment", json!("development"));
    set(
        stack,
        "spec/metrics/prometheus",
        json!({
            "scrapeInterval": "30s",
            "evaluationInterval": "1m",
            "scrapeTimeout": "20s",
            "retention": "7d",
            "replicas": 2,
            // Prometheus expands `$VAR` in external labels: a literal `$` must survive.
            "externalLabels": {"cluster": "dev", "cost_center": "team$42"}
        }),
    );
    // The monitors' own 15s interval is below the stack's 20s timeout: the timeout shrinks.
    // Spans kept a week: a Prometheus-style duration where Jaeger reads Go durations.
    set(stack, "spec/tracing/storage/retention", json!("7d"));
    Ok(())
}

fn metrics_off(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/metrics/enabled", json!(false));
    set(stack, "spec/alerting/enabled", json!(false));
    set(stack, "spec/slos/enabled", json!(false));
    Ok(())
}

fn alerting_off(documents: &mut Documents) -> Result<(), String> {
    set(&mut documents.stack, "spec/alerting/enabled", json!(false));
    Ok(())
}

fn slos_off(documents: &mut Documents) -> Result<(), String> {
    set(&mut documents.stack, "spec/slos/enabled", json!(false));
    Ok(())
}

fn tracing_dashboards_off(documents: &mut Documents) -> Result<(), String> {
    set(&mut documents.stack, "spec/tracing/enabled", json!(false));
    set(&mut documents.stack, "spec/dashboards/enabled", json!(false));
    Ok(())
}

fn ha_no_downsampling(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/metrics/downsampling/enabled", json!(false));
    set(stack, "spec/metrics/prometheus/replicas", json!(3));
    set(stack, "spec/alerting/alertmanager/replicas", json!(3));
    Ok(())
}

fn routing_quiet(documents: &mut Documents) -> Result<(), String> {
    set(
        &mut documents.stack,
        "spec/alerting/routing",
        json!({
            // Group by every label: Alertmanager's wildcard.
            "groupBy": ["..."],
            "email": {"enabled": true},
            "slack": {"enabled": false},
            "escalation": [
                {"name": "primary", "role": "DevOps Engineer", "after": "0s"},
                {"name": "secondary", "role": "Backend Lead", "after": "15m"}
            ]
        }),
    );
    Ok(())
}

fn routing_critical_only(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/alerting/routing/email/severities", json!(["critical"]));
    set(stack, "spec/alerting/routing/pagerduty", json!({"enabled": false}));
    Ok(())
}

fn routing_custom_escalation(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/alerting/routing/groupBy", json!(["alertname", "severity"]));
    set(stack, "spec/alerting/routing/groupWait", json!("10s"));
    set(stack, "spec/alerting/routing/groupInterval", json!("2m"));
    set(stack, "spec/alerting/routing/repeatInterval", json!("12h"));
    set(
        stack,
        "spec/alerting/routing/slack",
        json!({
            "channel": "@oncall-bot",
            "apiUrl": {"name": "slack.webhooks", "key": "oncall-url"},
            "severities": ["critical"]
        }),
    );
    set(stack, "spec/alerting/routing/pagerduty/severities", json!(["warning", "critical"]));
    set(
        stack,
        "spec/alerting/routing/escalation",
        json!([
            {"name": "on-call", "role": "SRE", "after": "0s",
             "pagerdutyRoutingKey": {"name": "oncall-pagerduty", "key": "routing-key"}},
            {"name": "team-lead", "role": "Team Lead", "after": "10m",
             "email": ["lead@machineavatars.example.com", "deputy@machineavatars.example.com"]},
            {"name": "director", "role": "Director", "after": "1h", "email": ["director@machineavatars.example.com"],
             "pagerdutyRoutingKey": {"name": "director-pagerduty", "key": "routing-key"}}
        ]),
    );
    Ok(())
}

fn routing_by_severity(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/alerting/routing/channelPolicy", json!("BySeverity"));
    set(
        stack,
        "spec/alerting/routing/incidentLevels",
        json!({"p1": {"timing": "Immediate"}, "p2": {"timing": "Escalating", "businessHoursOnly": true},
               "p3": {"timing": "Escalating"}}),
    );
    set(
        stack,
        "spec/alerting/routing/businessHours",
        json!({"weekdays": ["monday:thursday", "friday"], "start": "08:30", "end": "18:00", "timeZone": "Europe/Berlin"}),
    );
    // The CTO is part of P1 too: with P1 immediate, everyone on the path is paged at once.
    set(
        stack,
        "spec/alerting/routing/escalation",
        json!([
            {"name": "primary", "role": "DevOps Engineer", "after": "0s", "email": ["devops-oncall@machineavatars.example.com"]},
            {"name": "secondary", "role": "Backend Lead", "after": "15m", "levels": ["P0", "P1", "P2"]},
            {"name": "escalation", "role": "CTO", "after": "30m", "levels": ["P0", "P1"],
             "email": ["cto@machineavatars.example.com"]}
        ]),
    );
    set(stack, "spec/alerting/routing/pagerduty/url", json!("http://catcher.catchers.svc:8080/v2/enqueue"));
    set(stack, "spec/alerting/routing/email/requireTls", json!(false));
    set(stack, "spec/alerting/routing/email/tls", json!({"ca": {"name": "smtp-ca", "key": "ca.crt"}}));
    set(stack, "spec/alerting/routing/deadMansSwitch/enabled", json!(false));
    set(
        stack,
        "spec/alerting/rules/infrastructure/highCpu",
        json!({"threshold": 80, "for": "5m", "severity": "warning", "incidentLevel": "P2", "channels": ["slack"]}),
    );
    Ok(())
}

fn alert_overrides(documents: &mut Documents) -> Result<(), String> {
    set(
        documents.monitor("gateway")?,
        "spec/alerts",
        json!({"disabled": ["NoRequests", "HighLatency"], "errorRateCritical": 10, "latencyCritical": "500ms"}),
    );
    set(documents.monitor("auth-service")?, "spec/alerts", json!({"disabled": ["HighErrorRate", "CriticalErrorRate"]}));
    set(
        documents.monitor("response-3d")?,
        "spec/alerts",
        json!({"errorRateWarning": 2.5, "latencyWarning": "1500ms", "channels": {"CriticalLatency": ["slack", "pagerduty"]}}),
    );
    set(documents.monitor("response-text")?, "spec/alerts", json!({"channels": {"HighErrorRate": []}}));
    let stack = &mut documents.stack;
    // A threshold is replaced whole, so a disabled one still names its numbers.
    set(
        stack,
        "spec/alerting/rules/infrastructure/diskFull",
        json!({"enabled": false, "threshold": 85, "severity": "warning", "incidentLevel": "P2"}),
    );
    set(
        stack,
        "spec/alerting/rules/infrastructure/criticalCpu",
        json!({"threshold": 97.5, "for": "1m", "severity": "critical", "incidentLevel": "P0",
               "channels": ["slack", "pagerduty"]}),
    );
    set(
        stack,
        "spec/alerting/rules/infrastructure/containerCrash",
        json!({"threshold": 5, "window": "15m", "severity": "warning", "incidentLevel": "P2"}),
    );
    set(stack, "spec/alerting/rules/application/databaseSelector", json!(r#"{job=~"postgres|redis", env!="test"}"#));
    set(
        stack,
        "spec/alerting/rules/business/highChurn",
        json!({"enabled": false, "threshold": 5, "window": "30d", "severity": "warning", "incidentLevel": "P3"}),
    );
    set(
        stack,
        "spec/alerting/rules/business/noSignups",
        json!({"threshold": 2, "window": "2h", "for": "30m", "severity": "info", "incidentLevel": "P3"}),
    );
    set(
        stack,
        "spec/slos/burnRateWindows",
        json!([
            {"long": "1h", "short": "5m", "factor": 14.4, "severity": "critical"},
            {"long": "3d", "short": "6h", "factor": 1, "severity": "warning"}
        ]),
    );
    set(
        stack,
        "spec/slos/budgets",
        json!([{"name": "checkout", "thresholdMs": 750, "spanMatchers": r#"service_name="gateway", span_name=~"(?i)checkout.*""#}]),
    );
    Ok(())
}

fn monitor_auth(documents: &mut Documents) -> Result<(), String> {
    let metadata =
        |name: &str| json!({"name": name, "namespace": "observability", "labels": {"platform": "machineavatars"}});
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": metadata("payments"),
        "spec": {
            "selector": {"matchLabels": {"app": "payments"}},
            "endpoints": [
                {
                    "port": "https",
                    "scheme": "https",
                    "tlsConfig": {
                        "ca": {"secret": {"name": "payments-tls", "key": "ca.crt"}},
                        "cert": {"secret": {"name": "payments-tls", "key": "tls.crt"}},
                        "keySecret": {"name": "payments-tls", "key": "tls.key"},
                        "serverName": "payments.observability.svc"
                    },
                    "bearerTokenSecret": {"name": "payments-token", "key": "token"}
                },
                {
                    "port": "admin",
                    "scheme": "https",
                    "path": "/admin/metrics",
                    "basicAuth": {
                        "username": {"name": "payments-basic-auth", "key": "username"},
                        "password": {"name": "payments-basic-auth", "key": "password"}
                    },
                    "tlsConfig": {
                        "ca": {"configMap": {"name": "payments-ca", "key": "ca.pem"}},
                        "cert": {"configMap": {"name": "payments-ca", "key": "client.pem"}},
                        "keySecret": {"name": "payments.client-key.v2", "key": "key.pem"},
                        "insecureSkipVerify": false
                    }
                }
            ]
        }
    }));
    // prometheus-operator's newer fields, under a dotted name: promtool judges their keys.
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": metadata("ledger.v2"),
        "spec": {
            "selector": {"matchLabels": {"app": "ledger"}},
            "attachMetadata": {"node": true},
            "scrapeProtocols": ["PrometheusProto", "OpenMetricsText1.0.0"],
            "fallbackScrapeProtocol": "PrometheusText0.0.4",
            "scrapeClassicHistograms": true,
            "nativeHistogramBucketLimit": 160,
            "nativeHistogramMinBucketFactor": "1.1",
            "convertClassicHistogramsToNHCB": true,
            "bodySizeLimit": "10MiB",
            "labelLimit": 40, "labelNameLengthLimit": 128, "labelValueLengthLimit": 2048,
            "keepDroppedTargets": 25,
            "scrapeClass": "istio-mtls",
            "endpoints": [
                {"port": "http", "authorization": {"type": "Token", "credentials": {"name": "ledger-token", "key": "token"}},
                 "proxyUrl": "http://egress-proxy.observability.svc:3128", "noProxy": "10.0.0.0/8,.svc",
                 "enableHttp2": false, "filterRunning": false, "honorTimestamps": true, "trackTimestampsStaleness": true},
                {"proxyFromEnvironment": true}
            ]
        }
    }));
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": metadata("node-agent"),
        "spec": {
            "selector": {"matchLabels": {"app": "node-agent"}},
            "endpoints": [
                {"targetPort": 9100, "path": "/probe", "bearerTokenSecret": {"name": "payments-token", "key": "token"}},
                {"targetPort": "metrics", "scheme": "https", "tlsConfig": {"insecureSkipVerify": true}}
            ]
        }
    }));
    Ok(())
}

/// Every relabeling action Prometheus knows, in both spellings, each in a form Prometheus accepts.
fn every_relabeling() -> Value {
    json!([
        {"sourceLabels": ["__meta_kubernetes_pod_label_app"], "regex": "(.+)", "targetLabel": "app", "replacement": "$1"},
        {"sourceLabels": ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_name"], "separator": "/",
         "targetLabel": "instance_path", "action": "Replace"},
        {"sourceLabels": ["__meta_kubernetes_pod_label_tier"], "regex": "(.+)", "targetLabel": "tier_${1}",
         "replacement": "yes", "action": "replace"},
        {"sourceLabels": ["__meta_kubernetes_pod_phase"], "regex": "Running|Pending", "action": "Keep"},
        {"sourceLabels": ["__meta_kubernetes_pod_label_scrape"], "regex": "false", "action": "drop"},
        {"sourceLabels": ["__address__"], "modulus": 4, "targetLabel": "__tmp_shard", "action": "hashmod"},
        {"sourceLabels": ["__tmp_shard"], "regex": "[0-3]", "action": "keep"},
        {"regex": "__meta_kubernetes_pod_label_(.+)", "replacement": "pod_$1", "action": "LabelMap"},
        {"regex": "pod_pod_template_hash", "action": "labeldrop"},
        {"regex": "__.+|job|instance|instance_path|namespace|service|pod|container|endpoint|node|app|app_.+|tier_.+|pod_.+|NAMESPACE",
         "action": "labelkeep"},
        {"sourceLabels": ["app"], "targetLabel": "app_lower", "action": "lowercase"},
        {"sourceLabels": ["namespace"], "targetLabel": "NAMESPACE", "action": "Uppercase"},
        {"sourceLabels": ["__meta_kubernetes_pod_container_port_number"], "targetLabel": "__tmp_expected_port",
         "action": "keepequal"},
        {"sourceLabels": ["__meta_kubernetes_pod_label_canary"], "targetLabel": "__tmp_never", "action": "DropEqual"}
    ])
}

fn monitor_selection(documents: &mut Documents) -> Result<(), String> {
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "edge", "namespace": "machineavatars", "labels": {"platform": "machineavatars"}},
        "spec": {
            "namespaceSelector": {"any": true},
            "selector": {
                "matchLabels": {"app.kubernetes.io/part-of": "edge.proxy"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
                    {"key": "stage", "operator": "NotIn", "values": ["test"]},
                    {"key": "team", "operator": "Exists"},
                    {"key": "deprecated", "operator": "DoesNotExist"}
                ]
            },
            "jobLabel": "app.kubernetes.io/name",
            "targetLabels": ["team", "app.kubernetes.io/version"],
            "podTargetLabels": ["pod-template-hash"],
            "sampleLimit": 5000,
            "targetLimit": 50,
            "endpoints": [{
                "port": "metrics",
                "interval": "30s",
                "scrapeTimeout": "25s",
                "honorLabels": true,
                "honorTimestamps": false,
                "followRedirects": false,
                "params": {"module": ["http_2xx"], "target": ["a.example.com", "b.example.com"]},
                "relabelings": every_relabeling(),
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": "go_gc_.*", "action": "drop"},
                    {"regex": "id|uid", "action": "LabelDrop"},
                    {"sourceLabels": ["le"], "regex": "(\\d+)\\.0", "targetLabel": "le", "replacement": "$1"}
                ]
            }]
        }
    }));
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "shared-cache", "namespace": "machineavatars", "labels": {"platform": "machineavatars"}},
        "spec": {
            "namespaceSelector": {"matchNames": ["shared-services", "machineavatars", "shared-services"]},
            "selector": {"matchLabels": {"app": "redis"}},
            "endpoints": [{"port": "exporter", "interval": "1m", "path": "/scrape"}, {"targetPort": 9121}]
        }
    }));
    Ok(())
}

fn tracing_memory_sampled(documents: &mut Documents) -> Result<(), String> {
    set(
        &mut documents.stack,
        "spec/tracing",
        json!({
            "samplingRatio": 0.25,
            "otlpGrpcPort": 14317,
            "otlpHttpPort": 14318,
            "storage": {"backend": "memory", "maxTraces": 50000}
        }),
    );
    Ok(())
}

fn native_existing_sources(documents: &mut Documents) -> Result<(), String> {
    let stack = &mut documents.stack;
    set(stack, "spec/metrics/prometheus/nativeHistograms", json!(true));
    set(
        stack,
        "spec/metrics/kubeStateMetrics",
        json!({"enabled": false, "existing": {
            "namespaces": ["kube-system"],
            "selector": {"matchLabels": {"app.kubernetes.io/name": "kube-state-metrics"}},
            "port": "http"
        }}),
    );
    set(
        stack,
        "spec/metrics/nodeExporter",
        json!({"enabled": false, "existing": {
            "selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["node-exporter", "prometheus-node-exporter"]}]},
            "port": "metrics"
        }}),
    );
    documents.monitors.push(json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "mongodb", "namespace": "machineavatars", "labels": {"platform": "machineavatars"}},
        "spec": {
            "selector": {"matchLabels": {"app": "mongodb-exporter"}},
            "endpoints": [{"port": "metrics"}],
            "database": {"system": "mongodb", "upMetric": "mongodb_up"}
        }
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_is_valid_and_renders() {
        let variants = all().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(variants.len(), VARIANTS.len());
        assert!(variants.len() >= 13, "the set covers the spec space with a dozen variants and the example");
    }

    #[test]
    fn the_variants_cover_the_spec_space() {
        use stackscope::api::{Collector, Environment, RelabelAction, Severity, TraceBackend};
        use stackscope::resolve::{ResolvedMonitor, ResolvedStack};

        let variants = all().unwrap_or_else(|error| panic!("{error}"));
        let stacks: Vec<&ResolvedStack> = variants.iter().map(|variant| &variant.rendered.stack).collect();
        let monitors = || stacks.iter().flat_map(|stack| stack.monitors.iter().map(move |monitor| (*stack, monitor)));
        let endpoints = || monitors().flat_map(|(_, monitor)| monitor.spec.endpoints.iter());
        let any_stack = |predicate: &dyn Fn(&ResolvedStack) -> bool| stacks.iter().any(|stack| predicate(stack));
        let any_monitor =
            |predicate: &dyn Fn(&ResolvedStack, &ResolvedMonitor) -> bool| monitors().any(|(s, m)| predicate(s, m));
        let own_namespace = |stack: &ResolvedStack, monitor: &ResolvedMonitor| monitor.namespace == stack.namespace;
        let actions: std::collections::BTreeSet<String> = endpoints()
            .flat_map(|endpoint| endpoint.relabelings.iter().chain(&endpoint.metric_relabelings))
            .map(|relabeling| relabeling.action.prometheus_name().to_owned())
            .collect();
        let coverage = [
            ("production", any_stack(&|s| s.spec.environment == Environment::Production)),
            ("staging", any_stack(&|s| s.spec.environment == Environment::Staging)),
            ("development", any_stack(&|s| s.spec.environment == Environment::Development)),
            ("promtail", any_stack(&|s| s.spec.logging.enabled && s.spec.logging.collector == Collector::Promtail)),
            ("alloy", any_stack(&|s| s.spec.logging.enabled && s.spec.logging.collector == Collector::Alloy)),
            ("metrics off", any_stack(&|s| !s.spec.metrics.enabled)),
            ("alerting off, metrics on", any_stack(&|s| s.spec.metrics.enabled && !s.spec.alerting.enabled)),
            ("slos off, metrics on", any_stack(&|s| s.spec.metrics.enabled && !s.spec.slos.enabled)),
            ("tracing off", any_stack(&|s| !s.spec.tracing.enabled)),
            ("dashboards off", any_stack(&|s| !s.spec.dashboards.enabled)),
            ("downsampling off", any_stack(&|s| s.spec.metrics.enabled && !s.spec.metrics.downsampling.enabled)),
            ("alertmanager 3 replicas", any_stack(&|s| s.alertmanager_replicas() == 3)),
            (
                "email without recipients",
                any_stack(&|s| s.spec.alerting.routing.email.enabled && s.spec.alerting.routing.email.to.is_empty()),
            ),
            ("slack disabled", any_stack(&|s| s.spec.alerting.enabled && !s.spec.alerting.routing.slack.enabled)),
            (
                "pagerduty disabled",
                any_stack(&|s| s.spec.alerting.enabled && !s.spec.alerting.routing.pagerduty.enabled),
            ),
            ("email critical only", any_stack(&|s| s.spec.alerting.routing.email.severities == [Severity::Critical])),
            (
                "the severity policy",
                any_stack(&|s| s.spec.alerting.routing.channel_policy == stackscope::api::ChannelPolicy::BySeverity),
            ),
            (
                "a level at once besides P0",
                any_stack(&|s| {
                    s.spec.alerting.routing.incident_levels.p1.timing == stackscope::api::EscalationTiming::Immediate
                }),
            ),
            ("the dead man's switch off", any_stack(&|s| !s.spec.alerting.routing.dead_mans_switch.enabled)),
            ("a PagerDuty URL", any_stack(&|s| s.spec.alerting.routing.pagerduty.url.is_some())),
            (
                "an alert's own channels",
                any_stack(&|s| s.spec.alerting.rules.infrastructure.high_cpu.channels.is_some()),
            ),
            (
                "a monitor's own channels",
                any_monitor(&|_, m| m.spec.alerts.as_ref().is_some_and(|a| !a.channels.is_empty())),
            ),
            (
                "escalation with its own PagerDuty key",
                any_stack(&|s| {
                    s.spec.alerting.routing.escalation.iter().any(|step| step.pagerduty_routing_key.is_some())
                }),
            ),
            (
                "alerts disabled per monitor",
                any_monitor(&|_, m| m.spec.alerts.as_ref().is_some_and(|a| !a.disabled.is_empty())),
            ),
            (
                "alert thresholds per monitor",
                any_monitor(&|_, m| {
                    m.spec
                        .alerts
                        .as_ref()
                        .is_some_and(|a| a.error_rate_critical.is_some() || a.latency_warning.is_some())
                }),
            ),
            (
                "TLS from Secrets in the stack's namespace",
                any_monitor(&|s, m| {
                    own_namespace(s, m)
                        && m.spec
                            .endpoints
                            .iter()
                            .any(|e| e.tls_config.as_ref().is_some_and(|t| t.key_secret.is_some()))
                }),
            ),
            (
                "bearer token in the stack's namespace",
                any_monitor(&|s, m| {
                    own_namespace(s, m) && m.spec.endpoints.iter().any(|e| e.bearer_token_secret.is_some())
                }),
            ),
            (
                "basic auth in the stack's namespace",
                any_monitor(&|s, m| own_namespace(s, m) && m.spec.endpoints.iter().any(|e| e.basic_auth.is_some())),
            ),
            ("namespaceSelector any", any_monitor(&|_, m| m.spec.namespace_selector.as_ref().is_some_and(|n| n.any))),
            (
                "namespaceSelector matchNames",
                any_monitor(&|_, m| m.spec.namespace_selector.as_ref().is_some_and(|n| !n.match_names.is_empty())),
            ),
            ("native histograms", any_stack(&|s| s.spec.metrics.prometheus.native_histograms)),
            (
                "the cluster's own exporters",
                any_stack(&|s| {
                    s.spec.metrics.kube_state_metrics.existing.is_some()
                        && s.spec.metrics.node_exporter.existing.is_some()
                }),
            ),
            (
                "a database monitor with its gauge",
                any_monitor(&|_, m| m.spec.database.as_ref().is_some_and(|d| d.up_metric.is_some())),
            ),
            ("every relabeling action", RelabelAction::SPELLINGS.iter().all(|(_, name, _)| actions.contains(*name))),
            ("honorLabels", endpoints().any(|e| e.honor_labels == Some(true))),
            ("params", endpoints().any(|e| !e.params.is_empty())),
            ("sampleLimit", any_monitor(&|_, m| m.spec.sample_limit.is_some())),
            (
                "memory traces sampled below 1",
                any_stack(&|s| {
                    s.spec.tracing.storage.backend == TraceBackend::Memory && s.spec.tracing.sampling_ratio < 1.0
                }),
            ),
        ];
        let missing: Vec<&str> = coverage.iter().filter(|(_, covered)| !covered).map(|(what, _)| *what).collect();
        assert!(missing.is_empty(), "no variant covers: {missing:?}");
    }

    #[test]
    fn an_invalid_edit_is_refused_with_the_variant_named() {
        let error = build("broken", "alerting without metrics", |documents| {
            set(&mut documents.stack, "spec/metrics/enabled", json!(false));
            Ok(())
        })
        .err()
        .unwrap_or_default();
        assert!(error.contains("variant broken") && error.contains("alerting needs metrics"), "{error}");
    }
}
