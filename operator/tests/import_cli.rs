//! `stackscope import` as users run it over a multi-document file of prometheus-operator
//! ServiceMonitors in the shapes common charts install: stackscope monitors on stdout (or one file
//! each), notes for skipped documents and meaning-keeping rewrites, a warning per dropped field,
//! `--strict` turning those into errors, and a monitor stackscope would refuse stopping the import
//! before anything is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const STACKSCOPE: &str = env!("CARGO_BIN_EXE_stackscope");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prometheus-operator-monitors.yaml")
}

fn run(args: &[&str]) -> Output {
    Command::new(STACKSCOPE).args(args).output().expect("stackscope runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn documents(yaml: &str) -> Vec<serde_json::Value> {
    stackscope::manifest::documents("stdout", yaml).expect("the output is YAML")
}

#[test]
fn a_multi_document_file_converts_with_notes_and_warnings_and_the_output_validates() {
    let fixture = fixture().display().to_string();
    let output = run(&["import", "-f", &fixture]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");

    let monitors = documents(&stdout);
    let names: Vec<String> = monitors.iter().map(stackscope::prometheus_operator::object_key).collect();
    assert_eq!(
        names,
        [
            "monitoring/kube-prometheus-stack-kubelet",
            "monitoring/kube-prometheus-stack-prometheus-node-exporter",
            "ingress-nginx/ingress-nginx-controller",
            "cert-manager/cert-manager",
            "shop/payments",
            "argocd/argocd-metrics",
            "argocd/argocd-server-metrics",
        ]
    );
    for monitor in &monitors {
        assert_eq!(monitor["apiVersion"], "stackscope.dev/v1alpha1");
        assert_eq!(monitor["kind"], "ServiceMonitor");
        assert_eq!(monitor.get("status"), None);
        for server_set in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"] {
            assert_eq!(monitor["metadata"].get(server_set), None, "{server_set}");
        }
    }
    // Fields both have, carried over as they are.
    let payments = &monitors[4]["spec"];
    assert_eq!(payments["podTargetLabels"], serde_json::json!(["version"]));
    assert_eq!(payments["sampleLimit"], 100000);
    assert_eq!(payments["endpoints"][0]["scheme"], "https", "HTTPS is written the way stackscope spells it");
    assert_eq!(payments["endpoints"][0]["tlsConfig"]["ca"]["configMap"]["name"], "payments-ca");
    assert_eq!(payments["endpoints"][0]["basicAuth"]["password"]["key"], "password");
    assert_eq!(payments["endpoints"][0]["metricRelabelings"][0]["action"], "Drop");
    // prometheus-operator's newer fields, carried over as they are.
    assert_eq!(
        payments["endpoints"][1]["authorization"]["credentials"],
        serde_json::json!({"name": "payments-scrape", "key": "token"})
    );
    assert_eq!(payments["endpoints"][1]["proxyUrl"], "http://egress-proxy.shop.svc:3128");
    assert_eq!(payments["endpoints"][1]["noProxy"], "10.0.0.0/8,.svc");
    assert_eq!(payments["endpoints"][1]["enableHttp2"], false);
    assert_eq!(payments["endpoints"][1]["filterRunning"], false);
    assert_eq!(payments["endpoints"][1]["trackTimestampsStaleness"], true);
    assert_eq!(
        payments["endpoints"][2],
        serde_json::json!({
            "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token", "proxyFromEnvironment": true
        }),
        "an endpoint without a port"
    );
    for (field, value) in [
        ("scrapeProtocols", serde_json::json!(["OpenMetricsText1.0.0", "PrometheusText0.0.4"])),
        ("fallbackScrapeProtocol", serde_json::json!("PrometheusText0.0.4")),
        ("scrapeClassicHistograms", serde_json::json!(true)),
        ("nativeHistogramBucketLimit", serde_json::json!(160)),
        ("nativeHistogramMinBucketFactor", serde_json::json!("1.1")),
        ("convertClassicHistogramsToNHCB", serde_json::json!(false)),
        ("bodySizeLimit", serde_json::json!("10MiB")),
        ("labelLimit", serde_json::json!(64)),
        ("labelNameLengthLimit", serde_json::json!(128)),
        ("labelValueLengthLimit", serde_json::json!(2048)),
        ("keepDroppedTargets", serde_json::json!(20)),
        ("attachMetadata", serde_json::json!({"node": true})),
        ("selectorMechanism", serde_json::json!("RoleSelector")),
        ("serviceDiscoveryRole", serde_json::json!("EndpointSlice")),
        ("scrapeClass", serde_json::json!("default")),
    ] {
        assert_eq!(payments[field], value, "spec.{field}");
    }
    let kubelet = &monitors[0]["spec"];
    assert_eq!(kubelet["attachMetadata"], serde_json::json!({"node": false}));
    assert_eq!(kubelet["endpoints"][1]["bearerTokenFile"], "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_eq!(monitors[3]["spec"]["endpoints"][0]["targetPort"], 9402);
    assert_eq!(monitors[3]["spec"]["selector"]["matchExpressions"][1]["values"][0], "controller");
    assert_eq!(monitors[5]["metadata"].get("annotations"), None, "last-applied-configuration is not carried");
    assert_eq!(monitors[5]["spec"]["endpoints"][0].get("bearerTokenSecret"), None, "an empty selector is none");
    assert_eq!(monitors[6]["spec"]["endpoints"][0]["interval"], "24h");

    for expected in [
        "note: ", // skipped documents
        "(document 3): v1 Service ingress-nginx/ingress-nginx-controller-metrics is not a monitoring.coreos.com/v1 ServiceMonitor; skipped",
        "(document 7): apps/v1 Deployment shop/payments is not a monitoring.coreos.com/v1 ServiceMonitor; skipped",
        "(document 8, item 2): ServiceMonitor argocd/argocd-server-metrics: spec.endpoints[0].relabelings[0].sourceLabels[0]: __meta_kubernetes_endpoint_node_name renamed to __meta_kubernetes_endpointslice_endpoint_node_name",
        "(document 6): ServiceMonitor shop/payments: accepted without effect: spec.scrapeClass (scrape classes belong to prometheus-operator's Prometheus resource; stackscope has none)",
        "(document 6): ServiceMonitor shop/payments: accepted without effect: spec.selectorMechanism (stackscope selects the Services by relabeling, which keeps the same targets)",
        "warning: ",
        "(document 6): ServiceMonitor shop/payments: spec.endpoints[0].tlsConfig.keySecret.optional: optional: true is not supported: stackscope requires the Secret key to exist; dropped",
        "converted 7 ServiceMonitor(s); 1 of them lost fields stackscope does not have (see the warnings)",
    ] {
        assert!(stderr.contains(expected), "stderr lacks {expected:?}:\n{stderr}");
    }
    assert_eq!(stderr.matches("warning: ").count(), 1, "{stderr}");
    assert!(!stderr.contains("argocd-metrics: spec"), "the empty bearerTokenSecret is no warning:\n{stderr}");

    // What import wrote is what `stackscope validate` accepts.
    let directory = tempfile::tempdir().unwrap();
    let converted = directory.path().join("converted.yaml");
    std::fs::write(&converted, &stdout).unwrap();
    let validated = run(&["validate", "-f", &converted.display().to_string()]);
    assert!(validated.status.success(), "{}", text(&validated.stderr));
    assert!(text(&validated.stdout).contains("0 stack(s) and 7 monitor(s) are valid"));
}

#[test]
fn output_directory_gets_one_file_per_monitor() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("imported");
    let output = run(&["import", "-f", &fixture().display().to_string(), "-o", &out.display().to_string()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "argocd_argocd-metrics.yaml",
            "argocd_argocd-server-metrics.yaml",
            "cert-manager_cert-manager.yaml",
            "ingress-nginx_ingress-nginx-controller.yaml",
            "monitoring_kube-prometheus-stack-kubelet.yaml",
            "monitoring_kube-prometheus-stack-prometheus-node-exporter.yaml",
            "shop_payments.yaml",
        ]
    );
    let payments = documents(&std::fs::read_to_string(out.join("shop_payments.yaml")).unwrap());
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["metadata"]["labels"]["team"], "payments");
}

#[test]
fn strict_turns_dropped_fields_into_errors_and_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("imported");
    let output = run(&["import", "--strict", "-f", &fixture().display().to_string(), "-o", &out.display().to_string()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: ")
            && stderr.contains(
                "ServiceMonitor shop/payments: spec.endpoints[0].tlsConfig.keySecret.optional: optional: true is not supported: stackscope requires the Secret key to exist; dropped"
            ),
        "{stderr}"
    );
    assert!(!stderr.contains("warning: "), "{stderr}");
    assert!(!out.exists(), "nothing is written when a monitor is refused");
}

#[test]
fn a_monitor_stackscope_would_refuse_is_reported_not_written() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("monitors.yaml");
    std::fs::write(
        &file,
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: fine, namespace: apps}\n\
         spec:\n  selector: {matchLabels: {app: fine}}\n  endpoints: [{port: http}]\n---\n\
         apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: slow, namespace: apps}\n\
         spec:\n  selector: {matchLabels: {app: slow}}\n  endpoints: [{port: http, interval: 10s, scrapeTimeout: 30s}]\n---\n\
         apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: regex, namespace: apps}\n\
         spec:\n  selector: {}\n  endpoints: [{port: http, metricRelabelings: [{sourceLabels: [__name__], regex: \"(go_\", action: drop}]}]\n",
    )
    .unwrap();
    let output = run(&["import", "-f", &file.display().to_string()]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "nothing is written: {stdout}");
    assert!(
        stderr.contains(
            "(document 2): ServiceMonitor apps/slow: stackscope would refuse the result: spec.endpoints[0].scrapeTimeout: scrapeTimeout must not exceed interval"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("(document 3): ServiceMonitor apps/regex: stackscope would refuse the result: spec.endpoints[0].metricRelabelings[0].regex"),
        "{stderr}"
    );
    assert!(!stderr.contains("apps/fine"), "{stderr}");
}

#[test]
fn a_file_without_prometheus_operator_monitors_converts_nothing() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/machineavatars");
    let output = run(&["import", "-f", &examples.display().to_string()]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("stackscope.dev/v1alpha1 ServiceMonitor machineavatars/gateway is not a monitoring.coreos.com/v1 ServiceMonitor; skipped"), "{stderr}");
    assert!(stderr.contains("converted 0 ServiceMonitor(s)"), "{stderr}");
}

#[test]
fn import_needs_a_source_and_namespaces_only_apply_to_the_cluster() {
    let output = run(&["import"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--filename") && text(&output.stderr).contains("--from-cluster"));
    let output = run(&["import", "-f", &fixture().display().to_string(), "-n", "apps"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("apply to --from-cluster only"));
    assert!(output.stdout.is_empty());
}
