//! The bad-input matrix: malformed and hostile stacks and monitors, each sent where a user would
//! send it, against the real API server with the operator running. Every case must be refused by
//! a layer that names the field — the API server (the CRD's schema and CEL rules), or, for what
//! only the operator can check, the operator (a monitor quarantined with `Accepted=False`, a stack
//! `Applied=False`) — and the CLI (`stackscope validate`'s loader) must refuse every case the API
//! server refuses, with the same field. Nothing panics, and after each case the last good
//! configuration is still what is applied: the stack's ConfigMaps are byte for byte the baseline.
//! Documents only the CLI reads (YAML anchor bombs, deep nesting, megabyte scalars) are fed to
//! its parser and must be refused with a message.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, ValidationDirective};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use stackscope::api::{ObservabilityStack, ServiceMonitor};
use stackscope_tests::cluster::{Operator, client, control_plane, fresh_namespace, install_crds, wait_for};
use stackscope_tests::variants::Documents;

const STACK_NAMESPACE: &str = "hostile-obs";
const APPS_NAMESPACE: &str = "hostile-apps";
const MANAGER: &str = "bad-input-test";
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// The example stack, edited (and put back afterwards).
    Stack,
    /// A new monitor the stack selects, edited (and deleted afterwards).
    Monitor,
}

struct Case {
    name: &'static str,
    target: Target,
    edit: Box<dyn Fn(&mut Value)>,
    /// Every one of these must appear in the refusal, whichever layer refuses.
    expected: Vec<&'static str>,
}

/// Sets the value at a `/`-separated path; numbers index arrays, objects are created on the way.
fn put(document: &mut Value, path: &str, value: Value) {
    let mut current = document;
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        current = match current {
            Value::Array(items) => match segment.parse::<usize>().ok().and_then(|index| items.get_mut(index)) {
                Some(item) => item,
                None => return,
            },
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                let Value::Object(map) = other else { return };
                map.entry(segment.to_owned()).or_insert(Value::Null)
            }
        };
    }
    *current = value;
}

fn case(name: &'static str, target: Target, path: impl Into<String>, value: Value, expected: &[&'static str]) -> Case {
    let path = path.into();
    Case {
        name,
        target,
        edit: Box::new(move |document| put(document, &path, value.clone())),
        expected: expected.to_vec(),
    }
}

fn monitor(name: &'static str, path: impl Into<String>, value: Value, expected: &[&'static str]) -> Case {
    case(name, Target::Monitor, path, value, expected)
}

fn stack(name: &'static str, path: impl Into<String>, value: Value, expected: &[&'static str]) -> Case {
    case(name, Target::Stack, path, value, expected)
}

fn cases() -> Vec<Case> {
    let endpoint = |field: &str| format!("/spec/endpoints/0/{field}");
    let huge = "x".repeat(1 << 20);
    let injection = "app\"}\n- job_name: injected\n  static_configs: [{targets: ['evil:80']}]\n#";
    vec![
        // ServiceMonitor: types, patterns, enums, bounds.
        monitor("interval is no duration", endpoint("interval"), json!("soon"), &["spec.endpoints[0].interval"]),
        monitor("interval as a number", endpoint("interval"), json!(15), &["spec.endpoints[0].interval"]),
        monitor(
            "scrapeTimeout over interval",
            endpoint("scrapeTimeout"),
            json!("1m"),
            &["scrapeTimeout must not exceed interval"],
        ),
        monitor("port and targetPort", endpoint("targetPort"), json!(8080), &["at most one of port"]),
        // An empty endpoint list is valid (prometheus-operator's too); a proxy exception without
        // a proxy is what Prometheus refuses, and only the semantic checks see it.
        monitor("noProxy without proxyUrl", endpoint("noProxy"), json!(".svc"), &["spec.endpoints[0].noProxy"]),
        monitor("proxyUrl without scheme", endpoint("proxyUrl"), json!("proxy:3128"), &["spec.endpoints[0].proxyUrl"]),
        monitor("endpoints as a string", "/spec/endpoints", json!("http"), &["spec.endpoints"]),
        monitor("endpoint as a number", "/spec/endpoints/0", json!(42), &["spec.endpoints[0]"]),
        monitor("honorLabels as a string", endpoint("honorLabels"), json!("yes"), &["spec.endpoints[0].honorLabels"]),
        monitor("scheme ftp", endpoint("scheme"), json!("ftp"), &["spec.endpoints[0].scheme"]),
        monitor(
            "unknown relabel action",
            endpoint("relabelings"),
            json!([{"action": "explode"}]),
            &["spec.endpoints[0].relabelings[0].action"],
        ),
        monitor(
            "replace without targetLabel",
            endpoint("relabelings"),
            json!([{"action": "replace", "sourceLabels": ["pod"]}]),
            &["spec.endpoints[0].relabelings[0]", "targetLabel"],
        ),
        monitor(
            "hashmod without modulus",
            endpoint("relabelings"),
            json!([{"action": "hashmod", "sourceLabels": ["pod"], "targetLabel": "shard"}]),
            &["spec.endpoints[0].relabelings[0]", "modulus"],
        ),
        monitor(
            "unclosed regex",
            endpoint("relabelings"),
            json!([{"sourceLabels": ["pod"], "regex": "(unclosed", "targetLabel": "pod"}]),
            &["spec.endpoints[0].relabelings[0].regex"],
        ),
        monitor(
            "reversed character class in a metric relabeling",
            endpoint("metricRelabelings"),
            json!([{"sourceLabels": ["__name__"], "regex": "[z-a]+", "action": "drop"}]),
            &["spec.endpoints[0].metricRelabelings[0].regex"],
        ),
        monitor(
            "label injection through targetLabel",
            endpoint("relabelings"),
            json!([{"sourceLabels": ["pod"], "targetLabel": injection}]),
            &["spec.endpoints[0].relabelings[0].targetLabel"],
        ),
        monitor(
            "label injection through sourceLabels",
            endpoint("relabelings"),
            json!([{"sourceLabels": [injection], "targetLabel": "pod"}]),
            &["spec.endpoints[0].relabelings[0].sourceLabels[0]"],
        ),
        monitor(
            "a 1 MiB replacement",
            endpoint("relabelings"),
            json!([{"sourceLabels": ["pod"], "targetLabel": "pod", "replacement": huge}]),
            &["spec.endpoints[0].relabelings[0].replacement"],
        ),
        monitor(
            "a 1 MiB path",
            endpoint("path"),
            json!(format!("/{}", "p".repeat(1 << 20))),
            &["spec.endpoints[0].path"],
        ),
        monitor(
            "10 000 endpoints",
            "/spec/endpoints",
            json!(vec![json!({"port": "http"}); 10_000]),
            &["spec.endpoints"],
        ),
        monitor(
            "Secret name that is no name",
            endpoint("bearerTokenSecret"),
            json!({"name": "Not_A_Name", "key": "token"}),
            &["spec.endpoints[0].bearerTokenSecret.name"],
        ),
        monitor(
            "Secret of the monitor's namespace, not the stack's",
            endpoint("bearerTokenSecret"),
            json!({"name": "scrape-token", "key": "token"}),
            &["spec.endpoints[0].bearerTokenSecret"],
        ),
        monitor(
            "basic auth from another namespace's Secret",
            endpoint("basicAuth"),
            json!({"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "password"}}),
            &["spec.endpoints[0].basicAuth"],
        ),
        monitor("negative sampleLimit", "/spec/sampleLimit", json!(-1), &["spec.sampleLimit"]),
        monitor("sampleLimit beyond 64 bits", "/spec/sampleLimit", json!(1e30), &["spec.sampleLimit"]),
        monitor(
            "namespace that is no name",
            "/spec/namespaceSelector",
            json!({"matchNames": ["Bad Name"]}),
            &["spec.namespaceSelector.matchNames[0]"],
        ),
        monitor(
            "selector operator Like",
            "/spec/selector",
            json!({"matchExpressions": [{"key": "app", "operator": "Like"}]}),
            &["spec.selector.matchExpressions[0].operator"],
        ),
        monitor("unknown field", "/spec/endpoints/0/intervall", json!("15s"), &["intervall"]),
        monitor(
            "availability over 100",
            "/spec/slo",
            json!({"service": "hostile", "availability": 150}),
            &["spec.slo.availability"],
        ),
        monitor(
            "latency budget is no duration",
            "/spec/slo",
            json!({"service": "hostile", "availability": 99.9, "latencyP95": "fast"}),
            &["spec.slo.latencyP95"],
        ),
        monitor(
            "probe port out of range",
            "/spec/probes",
            json!({"liveness": {"path": "/health", "port": 70000, "initialDelaySeconds": 1, "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3}}),
            &["spec.probes.liveness.port"],
        ),
        monitor("label value injection", "/metadata/labels/team", json!("a\"}\n- evil"), &["metadata.labels"]),
        monitor("job label that is no label", "/spec/jobLabel", json!("app\"}"), &["spec.jobLabel"]),
        monitor(
            "channels of an unknown alert",
            "/spec/alerts/channels",
            json!({"HighLatencyy": ["slack"]}),
            &["spec.alerts.channels.HighLatencyy", "unknown alert"],
        ),
        monitor(
            "a channel that does not exist",
            "/spec/alerts/channels",
            json!({"CriticalLatency": ["sms"]}),
            &["spec.alerts.channels.CriticalLatency[0]"],
        ),
        // ObservabilityStack.
        stack("environment prod", "/spec/environment", json!("prod"), &["spec.environment"]),
        stack("spec as a string", "/spec", json!("everything"), &["spec"]),
        stack("metrics off, alerting on", "/spec/metrics/enabled", json!(false), &["alerting needs metrics"]),
        // The example is production, so highly available: fewer replicas than HA needs.
        stack(
            "one Prometheus replica in production",
            "/spec/metrics/prometheus/replicas",
            json!(1),
            &["spec.metrics.prometheus.replicas", "at least 2 Prometheus replicas"],
        ),
        stack(
            "one Alertmanager replica in production",
            "/spec/alerting/alertmanager/replicas",
            json!(1),
            &["spec.alerting.alertmanager.replicas", "at least 2 clustered Alertmanager replicas"],
        ),
        stack(
            "one Thanos Query replica with high availability",
            "/spec/metrics/downsampling/query/replicas",
            json!(1),
            &["spec.metrics.downsampling.query.replicas", "at least 2 Thanos Query replicas"],
        ),
        stack(
            "an existing kube-state-metrics beside the stack's own",
            "/spec/metrics/kubeStateMetrics/existing",
            json!({"selector": {}, "port": "http"}),
            &["spec.metrics.kubeStateMetrics.existing", "set enabled: false"],
        ),
        Case {
            name: "email without smarthost",
            target: Target::Stack,
            edit: Box::new(|document| {
                if let Some(email) = document.pointer_mut("/spec/alerting/routing/email").and_then(Value::as_object_mut)
                {
                    email.remove("smarthost");
                }
            }),
            expected: vec!["email recipients need smarthost and from"],
        },
        stack(
            "log retention forever",
            "/spec/logging/loki/retentionPeriod",
            json!("forever"),
            &["spec.logging.loki.retentionPeriod"],
        ),
        stack(
            "zero ingestion rate",
            "/spec/logging/loki/ingestionRateMb",
            json!(0),
            &["spec.logging.loki.ingestionRateMb"],
        ),
        stack(
            "ingestion rate beyond 64 bits",
            "/spec/logging/loki/ingestionRateMb",
            json!(1e300),
            &["spec.logging.loki.ingestionRateMb"],
        ),
        stack("unknown collector", "/spec/logging/collector", json!("fluentd"), &["spec.logging.collector"]),
        // Routing.
        stack(
            "an alert to a channel that does not exist",
            "/spec/alerting/rules/infrastructure/highCpu",
            json!({"threshold": 80, "severity": "warning", "incidentLevel": "P2", "channels": ["email", "fax"]}),
            &["spec.alerting.rules.infrastructure.highCpu.channels[1]"],
        ),
        stack(
            "an incident level that does not exist",
            "/spec/alerting/rules/application/databaseDown",
            json!({"threshold": 0, "severity": "critical", "incidentLevel": "P5"}),
            &["spec.alerting.rules.application.databaseDown.incidentLevel"],
        ),
        stack(
            "an escalation step for a level that does not exist",
            "/spec/alerting/routing/escalation",
            json!([{"name": "primary", "role": "On call", "after": "0s", "levels": ["P0", "P9"]}]),
            &["spec.alerting.routing.escalation[0].levels[1]"],
        ),
        stack(
            "routing for an incident level that does not exist",
            "/spec/alerting/routing/incidentLevels/p4",
            json!({"timing": "Immediate"}),
            &["p4"],
        ),
        stack(
            "an unknown channel policy",
            "/spec/alerting/routing/channelPolicy",
            json!("ByMood"),
            &["spec.alerting.routing.channelPolicy"],
        ),
        stack(
            "business hours from 25:00",
            "/spec/alerting/routing/businessHours/start",
            json!("25:00"),
            &["spec.alerting.routing.businessHours.start"],
        ),
        stack(
            "business hours at nine",
            "/spec/alerting/routing/businessHours/start",
            json!("9am"),
            &["spec.alerting.routing.businessHours.start"],
        ),
        stack(
            "business hours ending before they start",
            "/spec/alerting/routing/businessHours",
            json!({"start": "17:00", "end": "09:00"}),
            &["spec.alerting.routing.businessHours.end", "business hours must end after they start"],
        ),
        stack(
            "business days running backwards",
            "/spec/alerting/routing/businessHours/weekdays",
            json!(["friday:monday"]),
            &["spec.alerting.routing.businessHours.weekdays[0]", "runs backwards"],
        ),
        stack(
            "a business day that does not exist",
            "/spec/alerting/routing/businessHours/weekdays",
            json!(["someday"]),
            &["spec.alerting.routing.businessHours.weekdays[0]"],
        ),
        stack(
            "a time zone that is no time zone",
            "/spec/alerting/routing/businessHours/timeZone",
            json!("somewhere; rm -rf /"),
            &["spec.alerting.routing.businessHours.timeZone"],
        ),
        stack(
            "a dead man's switch without its URL",
            "/spec/alerting/routing/deadMansSwitch",
            json!({"enabled": true}),
            &["spec.alerting.routing.deadMansSwitch.url", "needs a Secret reference in url"],
        ),
        stack(
            "a PagerDuty URL that is no URL",
            "/spec/alerting/routing/pagerduty/url",
            json!("events.pagerduty.com"),
            &["spec.alerting.routing.pagerduty.url"],
        ),
        stack(
            "SMTP trusting a CA and any certificate",
            "/spec/alerting/routing/email/tls",
            json!({"ca": {"name": "smtp-ca", "key": "ca.crt"}, "insecureSkipVerify": true}),
            &["spec.alerting.routing.email.tls", "mutually exclusive"],
        ),
        stack("unknown drift policy", "/spec/driftPolicy", json!("Ignore"), &["spec.driftPolicy"]),
        stack("unknown field", "/spec/telemetry", json!({"enabled": true}), &["telemetry"]),
        stack(
            "monitor selector operator Like",
            "/spec/monitorSelector",
            json!({"matchExpressions": [{"key": "platform", "operator": "Like"}]}),
            &["spec.monitorSelector.matchExpressions[0].operator"],
        ),
        stack(
            "probe timeout above its period",
            "/spec/probes/liveness",
            json!({"path": "/health", "port": 8000, "initialDelaySeconds": 1, "periodSeconds": 5, "timeoutSeconds": 10, "failureThreshold": 3}),
            &["spec.probes.liveness.timeoutSeconds"],
        ),
        stack(
            "image that is no image",
            "/spec/tracing/image",
            json!("Not An Image; rm -rf /"),
            &["spec.tracing.image"],
        ),
        stack(
            "1 MiB external label",
            "/spec/metrics/prometheus/externalLabels/cluster",
            json!("c".repeat(1 << 20)),
            &["spec.metrics.prometheus.externalLabels"],
        ),
        stack(
            "external label name injection",
            "/spec/metrics/prometheus/externalLabels",
            json!({"a\"}\nevil": "x"}),
            &["spec.metrics.prometheus.externalLabels"],
        ),
    ]
}

/// Documents only the CLI reads: they never reach the API server as YAML.
fn cli_only_documents() -> Vec<(&'static str, String)> {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = format!("*a{}", level - 1);
        bomb.push_str(&format!("a{level}: &a{level} [{}]\n", vec![previous; 10].join(", ")));
    }
    vec![
        ("anchor bomb", bomb),
        ("100 000 nested lists", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
        ("100 000 nested maps", format!("{}x{}", "{a: ".repeat(100_000), "}".repeat(100_000))),
        ("1 MiB name", format!("apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nmetadata: {{name: {}}}\n", "n".repeat(1 << 20))),
        ("tab indentation", "apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nmetadata:\n\tname: x\n".to_owned()),
        ("duplicate keys", "apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nkind: ObservabilityStack\nmetadata: {name: x}\n".to_owned()),
        ("a number beyond f64", "apiVersion: stackscope.dev/v1alpha1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec: {sampleLimit: 1e400, endpoints: [{port: http}], selector: {}}\n".to_owned()),
        ("a list for a document", "- apiVersion: stackscope.dev/v1alpha1\n".to_owned()),
        ("a NUL byte", "apiVersion: stackscope.dev/v1alpha1\nkind: Service\u{0}Monitor\n".to_owned()),
        ("unterminated quote", "apiVersion: \"stackscope.dev/v1alpha1\nkind: ServiceMonitor\n".to_owned()),
    ]
}

fn hostile_monitor() -> Value {
    json!({
        "apiVersion": "stackscope.dev/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "hostile", "namespace": APPS_NAMESPACE, "labels": {"platform": "machineavatars"}},
        "spec": {"selector": {"matchLabels": {"app": "hostile"}}, "endpoints": [{"port": "http", "interval": "15s"}]},
    })
}

fn example() -> (Value, Vec<Value>) {
    let documents = Documents::example().unwrap_or_else(|error| panic!("{error}"));
    let mut stack = documents.stack;
    put(&mut stack, "/metadata/namespace", json!(STACK_NAMESPACE));
    put(&mut stack, "/spec/monitorNamespaceSelector/matchNames", json!([APPS_NAMESPACE]));
    let monitors = documents
        .monitors
        .into_iter()
        .map(|mut monitor| {
            put(&mut monitor, "/metadata/namespace", json!(APPS_NAMESPACE));
            monitor
        })
        .collect();
    (stack, monitors)
}

/// What `stackscope validate` says of these documents (`None`: accepted).
fn cli_verdict(documents: &[&Value]) -> Option<String> {
    let text: String = documents.iter().map(|document| format!("---\n{document}\n")).collect();
    match stackscope::cli::offline::load(&[("hostile.yaml".to_owned(), text)]) {
        Ok(_) => None,
        Err(errors) => Some(errors.join("\n")),
    }
}

fn resource(kind: &str) -> ApiResource {
    if kind == "ObservabilityStack" {
        ApiResource::erase::<ObservabilityStack>(&())
    } else {
        ApiResource::erase::<ServiceMonitor>(&())
    }
}

/// Server-side applies a document as a user would (`kubectl apply --server-side`, strict field
/// validation): the API server's refusal, if any.
async fn apply(client: &Client, document: &Value) -> Result<(), String> {
    let namespace = document["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = document["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource(document["kind"].as_str().unwrap_or_default()));
    let mut params = PatchParams::apply(MANAGER).force();
    params.field_validation = Some(ValidationDirective::Strict);
    match api.patch(name, &params, &Patch::Apply(document)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(response)) => Err(response.message),
        Err(other) => Err(format!("transport: {other}")),
    }
}

/// The stack's ConfigMaps: what is applied.
async fn applied(client: &Client) -> BTreeMap<String, Value> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let list = api.list(&ListParams::default().labels("stackscope.dev/stack=machineavatars")).await.unwrap();
    list.items.into_iter().map(|map| (map.name_any(), json!(map.data))).collect()
}

async fn stack_applied_for_current_generation(client: &Client) -> Result<Option<ObservabilityStack>, String> {
    let api: Api<ObservabilityStack> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let stack = api.get("machineavatars").await.map_err(|error| error.to_string())?;
    let status = stack.status.as_ref();
    let current = status.and_then(|status| status.observed_generation) == stack.metadata.generation;
    let ready = status.is_some_and(|status| {
        status.conditions.iter().any(|condition| condition.condition_type == "Applied" && condition.status == "True")
    });
    Ok((current && ready).then_some(stack))
}

/// The operator's refusal of an admitted case: the hostile monitor's `Accepted=False`, or the
/// stack's `Applied=False`, for its current generation.
async fn operator_verdict(client: &Client, target: Target) -> Result<String, String> {
    let (kind, namespace, name, condition_type, what) = match target {
        Target::Monitor => ("ServiceMonitor", APPS_NAMESPACE, "hostile", "Accepted", "the hostile monitor's verdict"),
        Target::Stack => ("ObservabilityStack", STACK_NAMESPACE, "machineavatars", "Applied", "the stack's verdict"),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource(kind));
    wait_for(what, TIMEOUT, || async {
        let object = api.get(name).await.ok()?;
        let status = &object.data["status"];
        let current = status["observedGeneration"].as_i64() == object.metadata.generation;
        let condition = status["conditions"].as_array()?.iter().find(|c| c["type"] == condition_type)?;
        (current && condition["status"] == "False")
            .then(|| condition["message"].as_str().unwrap_or_default().to_owned())
    })
    .await
}

#[tokio::test]
async fn every_bad_input_is_refused_naming_the_field_and_the_last_good_configuration_stays() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        fresh_namespace(&client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    }
    let (good_stack, monitors) = example();
    for document in monitors.iter().chain(std::iter::once(&good_stack)) {
        apply(&client, document).await.unwrap_or_else(|error| panic!("the example: {error}"));
    }
    let operator = Operator::start(&plane, STACK_NAMESPACE, None).await.unwrap_or_else(|error| panic!("{error}"));
    wait_for("the example applied", TIMEOUT, || async {
        stack_applied_for_current_generation(&client).await.ok().flatten()
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let baseline = applied(&client).await;
    assert!(baseline.len() >= 8, "the stack's ConfigMaps: {:?}", baseline.keys());

    let cases = cases();
    let mut failures = Vec::new();
    let mut refused_by: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let mut document = match case.target {
            Target::Stack => good_stack.clone(),
            Target::Monitor => hostile_monitor(),
        };
        (case.edit)(&mut document);
        let cli = match case.target {
            Target::Stack => cli_verdict(&[&document]),
            Target::Monitor => cli_verdict(&[&good_stack, &document]),
        };
        let (layer, message) = match apply(&client, &document).await {
            Err(refusal) => {
                // What the API server refuses, the CLI refuses too.
                match &cli {
                    Some(cli) if case.expected.iter().all(|text| cli.contains(text)) => {}
                    other => failures.push(format!("{}: the API server refused it, the CLI said {other:?}", case.name)),
                }
                ("API server", refusal)
            }
            Ok(()) => match operator_verdict(&client, case.target).await {
                Ok(message) => ("operator", message),
                Err(error) => {
                    failures.push(format!("{}: admitted and not refused by the operator: {error}", case.name));
                    ("nobody", String::new())
                }
            },
        };
        *refused_by.entry(layer).or_default() += 1;
        if layer != "nobody" && !case.expected.iter().all(|text| message.contains(text)) {
            failures.push(format!("{}: {layer} refused it without naming {:?}: {message}", case.name, case.expected));
        }
        // The last good configuration stays applied.
        if applied(&client).await != baseline {
            failures.push(format!("{}: the applied configuration changed", case.name));
        }
        // Put things back and wait until the stack is applied again before the next case.
        match case.target {
            Target::Stack => apply(&client, &good_stack).await.unwrap_or_else(|error| panic!("restore: {error}")),
            Target::Monitor => {
                let api: Api<ServiceMonitor> = Api::namespaced(client.clone(), APPS_NAMESPACE);
                let _ = api.delete("hostile", &DeleteParams::default()).await;
                wait_for("the hostile monitor gone", TIMEOUT, || async {
                    api.get_opt("hostile").await.ok().and_then(|found| found.is_none().then_some(()))
                })
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            }
        }
        wait_for("the stack applied again, as before", TIMEOUT, || async {
            let stack = stack_applied_for_current_generation(&client).await.ok().flatten()?;
            let rejected = stack.status.as_ref().map(|status| status.rejected_monitors.len()).unwrap_or_default();
            (rejected == 0 && applied(&client).await == baseline).then_some(())
        })
        .await
        .unwrap_or_else(|error| panic!("after {}: {error}", case.name));
    }

    let mut cli_refused = 0;
    for (name, text) in cli_only_documents() {
        let verdict =
            std::panic::catch_unwind(|| stackscope::cli::offline::load(&[("hostile.yaml".to_owned(), text.clone())]));
        match verdict {
            Ok(Err(errors)) if errors.iter().all(|error| error.contains("hostile.yaml")) => cli_refused += 1,
            Ok(Err(errors)) => failures.push(format!("{name}: refused without naming the file: {errors:?}")),
            Ok(Ok(_)) => failures.push(format!("{name}: accepted by the CLI")),
            Err(_) => failures.push(format!("{name}: the CLI panicked")),
        }
    }

    // The operator is still reconciling, and the stack is as it was.
    assert_eq!(applied(&client).await, baseline, "the last good configuration");
    assert!(operator.metrics.reconciles.with_label_values(&["success"]).get() > 0, "the operator reconciled");
    drop(operator);
    let total = cases.len() + cli_only_documents().len();
    eprintln!("{total} bad inputs: refused by {refused_by:?}, {cli_refused} by the CLI's parser");
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 50, "the matrix has {total} cases");
}
