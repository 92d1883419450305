//! Credentials never leave their Secrets. A stack with every credential the platform uses (SMTP
//! password, Slack webhook, PagerDuty routing key, Azure storage account and key, Thanos object
//! storage, Grafana admin) and a monitor scraping with a bearer token and basic auth is reconciled
//! by the operator binary logging at `trace`; then every object in the stack's namespace, the
//! cluster-scoped objects it owns, the stack's and monitors' status, the events, the operator's
//! log and its `/metrics` are searched for each secret value, as written and base64-encoded.
//! Workloads may only reference them (`secretKeyRef`, Secret volumes). A monitor pointing at a
//! missing key is quarantined with a message that names the key, not a value.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::Value;
use stackscope_e2e::{free_port, run, stackscope_binary, wait_for};
use stackscope_tests::cluster::{ControlPlane, control_plane};

const STACK_NAMESPACE: &str = "secrets-obs";
const APPS_NAMESPACE: &str = "secrets-apps";

fn kubectl(plane: &ControlPlane, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    run(&plane.bin_dir.join("kubectl"), args, &[("KUBECONFIG", &plane.kubeconfig)], stdin)
}

fn get_json(plane: &ControlPlane, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let text = kubectl(plane, &all, None).unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("kubectl get: {error}"))
}

fn condition(object: &Value, kind: &str) -> Option<String> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
        .and_then(|condition| condition["status"].as_str().map(str::to_owned))
}

struct OperatorProcess {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl OperatorProcess {
    fn start(plane: &ControlPlane, log: PathBuf) -> Self {
        let port = free_port().unwrap_or_else(|error| panic!("{error}"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(stackscope_binary().unwrap_or_else(|error| panic!("{error}")))
            .args(["run", &format!("--listen=127.0.0.1:{port}"), &format!("--namespace={STACK_NAMESPACE}")])
            .env_clear()
            .env("KUBECONFIG", &plane.kubeconfig)
            // Everything any layer logs, the HTTP client's included.
            .env("RUST_LOG", "trace")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("stackscope run: {error}"));
        Self { child, log, port }
    }

    fn metrics(&self) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        std::io::Write::write_all(&mut stream, b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn manifests(secrets: &[(&str, &str, &str)]) -> String {
    let mut text = String::new();
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        text.push_str(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n---\n"));
    }
    let mut by_secret: std::collections::BTreeMap<&str, Vec<(&str, &str)>> = Default::default();
    for (secret, key, value) in secrets {
        by_secret.entry(secret).or_default().push((key, value));
    }
    for (secret, entries) in by_secret {
        text.push_str(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {secret}, namespace: {STACK_NAMESPACE}}}\nstringData:\n"
        ));
        for (key, value) in entries {
            text.push_str(&format!("  {key}: {}\n", serde_json::to_string(value).unwrap()));
        }
        text.push_str("---\n");
    }
    text.push_str(&format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: billing, namespace: {STACK_NAMESPACE}, labels: {{app: billing}}}}
spec:
  selector: {{app: billing}}
  ports: [{{name: http, port: 8080}}]
---
apiVersion: stackscope.dev/v1alpha1
kind: ServiceMonitor
metadata: {{name: billing, namespace: {STACK_NAMESPACE}, labels: {{platform: machineavatars}}}}
spec:
  selector: {{matchLabels: {{app: billing}}}}
  endpoints:
    - port: http
      bearerTokenSecret: {{name: billing-scrape, key: token}}
    - port: http
      path: /admin/metrics
      basicAuth:
        username: {{name: billing-scrape, key: username}}
        password: {{name: billing-scrape, key: password}}
---
apiVersion: stackscope.dev/v1alpha1
kind: ServiceMonitor
metadata: {{name: missing-key, namespace: {STACK_NAMESPACE}, labels: {{platform: machineavatars}}}}
spec:
  selector: {{matchLabels: {{app: billing}}}}
  endpoints:
    - port: http
      bearerTokenSecret: {{name: billing-scrape, key: no-such-key}}
"#
    ));
    text
}

#[test]
fn no_secret_value_reaches_a_config_map_an_object_a_status_an_event_a_log_line_or_a_metric() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    remove_namespaces(&plane);
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or_default();
    let slack = format!("https://hooks.slack.com/services/T0000/B0000/slack{nonce}");
    let pagerduty = format!("pdkey{nonce}");
    let smtp = format!("smtp-pass-{nonce}");
    let azure_account = format!("azacct{nonce}");
    let azure_key = format!("azure-key-{nonce}==");
    let objstore =
        format!("type: AZURE\nconfig:\n  storage_account: thanos\n  storage_account_key: thanos-key-{nonce}\n");
    let grafana = format!("grafana-pass-{nonce}");
    let token = format!("bearer-{nonce}");
    let basic = format!("basic-pass-{nonce}");
    let secrets: Vec<(&str, &str, &str)> = vec![
        ("stackscope-alerting", "slack-api-url", &slack),
        ("stackscope-alerting", "pagerduty-routing-key", &pagerduty),
        ("stackscope-alerting", "smtp-password", &smtp),
        ("loki-azure-storage", "account-name", &azure_account),
        ("loki-azure-storage", "account-key", &azure_key),
        ("thanos-objstore", "objstore.yml", &objstore),
        ("grafana-admin", "admin-user", "admin"),
        ("grafana-admin", "admin-password", &grafana),
        ("billing-scrape", "token", &token),
        ("billing-scrape", "username", "scraper"),
        ("billing-scrape", "password", &basic),
    ];
    kubectl(&plane, &["apply", "--server-side", "-f", "-"], Some(&manifests(&secrets))).unwrap();

    // The example stack, in this test's namespace.
    let example = std::fs::read_to_string(stackscope_tests::example_dir().join("stack.yaml")).unwrap();
    let stack = example
        .replace("namespace: observability", &format!("namespace: {STACK_NAMESPACE}"))
        .replace("matchNames: [observability, machineavatars]", &format!("matchNames: [{STACK_NAMESPACE}]"));
    kubectl(&plane, &["apply", "--server-side", "-f", "-"], Some(&stack)).unwrap();

    let log = std::env::temp_dir().join(format!("stackscope-secrets-{nonce}.log"));
    let operator = OperatorProcess::start(&plane, log.clone());
    let stack = wait_for("the stack applied with the billing monitor accepted", Duration::from_secs(120), || {
        let stack = get_json(&plane, &["observabilitystack", "machineavatars", "-n", STACK_NAMESPACE]);
        let accepted = stack["status"]["acceptedMonitors"]
            .as_array()
            .is_some_and(|monitors| monitors.iter().any(|monitor| monitor["name"] == "billing"));
        let rejected = stack["status"]["rejectedMonitors"].as_array().is_some_and(|monitors| !monitors.is_empty());
        Ok((condition(&stack, "Applied").as_deref() == Some("True") && accepted && rejected).then_some(stack))
    })
    .unwrap_or_else(|error| panic!("{error}"));

    // The missing key is named, and no value is.
    let rejection = stack["status"]["rejectedMonitors"].to_string();
    assert!(rejection.contains("no-such-key"), "the rejection names the missing key: {rejection}");

    // The scrape credentials are mounted files, not inlined.
    let prometheus = get_json(&plane, &["configmap", "machineavatars-prometheus", "-n", STACK_NAMESPACE]);
    let config = prometheus["data"]["prometheus.yml"].as_str().unwrap_or_default();
    assert!(config.contains("credentials_file:") && config.contains("password_file:"), "{config}");

    // Everything a user, a log shipper or a scraper can read.
    let mut haystacks: Vec<(String, String)> = Vec::new();
    let kinds = "configmaps,services,serviceaccounts,statefulsets,deployments,daemonsets,persistentvolumeclaims,\
                 roles,rolebindings,events.events.k8s.io,observabilitystacks.stackscope.dev,servicemonitors.stackscope.dev";
    for item in get_json(&plane, &[kinds, "-n", STACK_NAMESPACE])["items"].as_array().into_iter().flatten() {
        let what =
            format!("{}/{}", item["kind"].as_str().unwrap_or("?"), item["metadata"]["name"].as_str().unwrap_or("?"));
        haystacks.push((what, item.to_string()));
    }
    for item in
        get_json(&plane, &["clusterroles,clusterrolebindings", "-l", "stackscope.dev/stack=machineavatars"])["items"]
            .as_array()
            .into_iter()
            .flatten()
    {
        haystacks.push((format!("cluster {}", item["metadata"]["name"]), item.to_string()));
    }
    let config_maps = haystacks.iter().filter(|(what, _)| what.starts_with("ConfigMap/")).count();
    assert!(config_maps >= 8, "the stack's ConfigMaps were read: {config_maps}");
    haystacks.push(("/metrics".to_owned(), operator.metrics()));
    let log_text = std::fs::read_to_string(&operator.log).unwrap_or_default();
    assert!(log_text.lines().count() > 50, "the operator logged at trace level");
    haystacks.push(("operator log".to_owned(), log_text));

    // The search sees the references themselves: Secret names, and the files they are mounted as.
    for reference in ["stackscope-alerting", "loki-azure-storage", "billing-scrape", "slack-api-url"] {
        assert!(haystacks.iter().any(|(_, text)| text.contains(reference)), "{reference} is referenced somewhere");
    }
    let base64 = base64::engine::general_purpose::STANDARD;
    for (secret, key, value) in &secrets {
        if value.len() < 8 {
            continue; // user names such as "admin" are no secret and occur in any text
        }
        for needle in [value.to_string(), base64.encode(value)] {
            for (what, text) in &haystacks {
                assert!(!text.contains(&needle), "{secret}/{key} leaked into {what}");
            }
        }
    }

    // Workloads reference the Secrets, never carry their data.
    for workload in get_json(&plane, &["statefulsets,deployments,daemonsets", "-n", STACK_NAMESPACE])["items"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for container in workload["spec"]["template"]["spec"]["containers"].as_array().into_iter().flatten() {
            for variable in container["env"].as_array().into_iter().flatten() {
                let name = variable["name"].as_str().unwrap_or_default();
                let sensitive = ["PASSWORD", "KEY", "TOKEN", "SECRET"].iter().any(|word| name.contains(word));
                assert!(
                    !sensitive || variable.get("value").is_none(),
                    "{}: env {name} carries a literal value",
                    workload["metadata"]["name"]
                );
            }
        }
    }
    // The stack goes while the operator runs, so that its finalizer is removed.
    kubectl(&plane, &["delete", "observabilitystack", "machineavatars", "-n", STACK_NAMESPACE, "--timeout=120s"], None)
        .unwrap();
    drop(operator);
    let _ = std::fs::remove_file(&log);
    remove_namespaces(&plane);
}

/// Deletes this test's namespaces and waits until they are gone; a stack a previous, interrupted
/// run left behind is released from its finalizer first (no operator runs now).
fn remove_namespaces(plane: &ControlPlane) {
    let release = r#"{"metadata":{"finalizers":null}}"#;
    let _ = kubectl(
        plane,
        &["patch", "observabilitystack", "machineavatars", "-n", STACK_NAMESPACE, "--type", "merge", "-p", release],
        None,
    );
    for namespace in [STACK_NAMESPACE, APPS_NAMESPACE] {
        kubectl(plane, &["delete", "namespace", namespace, "--ignore-not-found", "--timeout=120s"], None)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}
