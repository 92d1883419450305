//! Tests of the Prometheus renderer.

use serde_json::{Value, json};

use super::mounts::volume_name;
use super::*;
use crate::api::defaults::images;
use crate::api::{Environment, ServiceMonitorSpec};
use crate::render::common::regex_literal as literal;
use crate::render::fixtures::{machineavatars, minimal};
use crate::resolve::ResolvedMonitor;

fn parsed(stack: &ResolvedStack) -> Value {
    let (config, _) = config(stack).unwrap();
    serde_saphyr::from_str(&to_yaml(Component::Prometheus, CONFIG_FILE, &config).unwrap()).unwrap()
}

/// The stack's namespace with one monitor of the given spec.
fn with_monitor(namespace: &str, name: &str, spec: Value) -> ResolvedStack {
    let mut stack = minimal(Environment::Production);
    let spec: ServiceMonitorSpec = serde_json::from_value(spec).unwrap();
    stack.monitors = vec![ResolvedMonitor {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        spec: spec.into(),
        revision: None,
    }];
    stack
}

fn job<'v>(config: &'v Value, name: &str) -> &'v Value {
    config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["job_name"] == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

fn kind<'o>(objects: &'o [DynamicObject], kind: &str) -> Vec<&'o DynamicObject> {
    objects.iter().filter(|object| object.types.as_ref().unwrap().kind == kind).collect()
}

fn named<'o>(objects: &'o [DynamicObject], kind_name: &str, name: &str) -> &'o Value {
    &kind(objects, kind_name)
        .into_iter()
        .find(|object| object.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no {kind_name} {name}"))
        .data
}

#[test]
fn golden_example() {
    assert_golden_snapshot!(render(&machineavatars()));
}

#[test]
fn global_section_carries_the_seed_intervals_rules_and_external_labels() {
    let config = parsed(&machineavatars());
    assert_eq!(config["global"]["scrape_interval"], "15s");
    assert_eq!(config["global"]["evaluation_interval"], "15s");
    assert_eq!(config["global"]["scrape_timeout"], "10s");
    assert_eq!(config["global"]["external_labels"]["cluster"], "machineavatars-prod");
    assert_eq!(config["global"]["external_labels"][REPLICA_LABEL], "${POD_NAME}");
    assert_eq!(config["rule_files"], json!(["/etc/prometheus/rules/*.yml"]));

    let mut dollar = minimal(Environment::Staging);
    dollar.spec.metrics.prometheus.external_labels.insert("region".to_owned(), "eu$1".to_owned());
    assert_eq!(parsed(&dollar)["global"]["external_labels"]["region"], "eu$$1", "a user's $ is not expanded");
}

#[test]
fn one_job_per_endpoint_named_like_prometheus_operator() {
    let stack = machineavatars();
    let config = parsed(&stack);
    for monitor in &stack.monitors {
        let found = job(&config, &monitor.job_name(0));
        assert_eq!(found["kubernetes_sd_configs"][0]["role"], "endpointslice");
        assert_eq!(found["kubernetes_sd_configs"][0]["namespaces"]["names"], json!(["machineavatars"]));
        assert_eq!(found["metrics_path"], "/metrics");
    }
    assert!(config.to_string().contains("serviceMonitor/machineavatars/response-3d/0"));

    let two = with_monitor(
        "monitoring",
        "api",
        json!({"selector": {"matchLabels": {"app": "api"}},
               "endpoints": [{"port": "http"}, {"port": "admin", "path": "/admin/metrics"}]}),
    );
    let config = parsed(&two);
    let monitor_jobs: Vec<&str> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|job| job["job_name"].as_str())
        .filter(|name| name.starts_with("serviceMonitor/"))
        .collect();
    assert_eq!(monitor_jobs, ["serviceMonitor/monitoring/api/0", "serviceMonitor/monitoring/api/1"]);
    let admin = job(&config, "serviceMonitor/monitoring/api/1");
    assert_eq!(admin["metrics_path"], "/admin/metrics");
    assert!(admin["relabel_configs"].as_array().unwrap().contains(&json!({
        "source_labels": ["__meta_kubernetes_endpointslice_port_name"], "regex": "admin", "action": "keep"
    })));
    assert!(admin["relabel_configs"].as_array().unwrap().contains(&json!({
        "target_label": "endpoint", "replacement": "admin"
    })));
}

#[test]
fn generated_relabelings_follow_prometheus_operator() {
    let stack = with_monitor(
        "monitoring",
        "api",
        json!({
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": "api.v2"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "edge"]},
                    {"key": "track", "operator": "NotIn", "values": ["canary"]},
                    {"key": "team", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"}
                ]
            },
            "jobLabel": "app.kubernetes.io/part-of",
            "targetLabels": ["team"],
            "podTargetLabels": ["version", "pod-template-hash"],
            "endpoints": [{"targetPort": 8080}]
        }),
    );
    let config = parsed(&stack);
    let relabelings = job(&config, "serviceMonitor/monitoring/api/0")["relabel_configs"].clone();
    let expected = json!([
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name",
                           "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"],
         "regex": "(api\\.v2);true", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_service_label_tier", "__meta_kubernetes_service_labelpresent_tier"],
         "regex": "(web|edge);true", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_service_label_track", "__meta_kubernetes_service_labelpresent_track"],
         "regex": "(canary);true", "action": "drop"},
        {"source_labels": ["__meta_kubernetes_service_labelpresent_team"], "regex": "true", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_service_labelpresent_legacy"], "regex": "true", "action": "drop"},
        {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": "8080", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_endpointslice_address_target_kind",
                           "__meta_kubernetes_endpointslice_address_target_name"],
         "separator": ";", "target_label": "node", "regex": "Node;(.*)", "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_endpointslice_address_target_kind",
                           "__meta_kubernetes_endpointslice_address_target_name"],
         "separator": ";", "target_label": "pod", "regex": "Pod;(.*)", "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)", "action": "drop"},
        {"source_labels": ["__meta_kubernetes_service_label_team"], "target_label": "team", "regex": "(.+)",
         "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_pod_label_version"], "target_label": "version", "regex": "(.+)",
         "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_pod_label_pod_template_hash"], "target_label": "pod_template_hash",
         "regex": "(.+)", "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        {"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_part_of"], "target_label": "job",
         "regex": "(.+)", "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": "8080"}
    ]);
    assert_eq!(relabelings, expected);

    let named_port =
        with_monitor("monitoring", "api", json!({"selector": {}, "endpoints": [{"targetPort": "metrics"}]}));
    let relabelings = job(&parsed(&named_port), "serviceMonitor/monitoring/api/0")["relabel_configs"].clone();
    let relabelings = relabelings.as_array().unwrap();
    assert!(relabelings.contains(&json!({
        "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "metrics", "action": "keep"
    })));
    assert!(relabelings.contains(&json!({"target_label": "endpoint", "replacement": "metrics"})));
    assert!(!relabelings.iter().any(|step| step["target_label"] == "job" && step["regex"] == "(.+)"));
}

#[test]
fn namespace_selector_any_match_names_and_default() {
    let spec =
        |selector: Value| json!({"selector": {}, "namespaceSelector": selector, "endpoints": [{"port": "http"}]});
    let any = parsed(&with_monitor("monitoring", "m", spec(json!({"any": true}))));
    let discovery = &job(&any, "serviceMonitor/monitoring/m/0")["kubernetes_sd_configs"][0];
    assert_eq!(discovery["role"], "endpointslice");
    assert!(discovery.get("namespaces").is_none(), "any: every namespace");

    let names = parsed(&with_monitor("monitoring", "m", spec(json!({"matchNames": ["web", "api", "web"]}))));
    assert_eq!(
        job(&names, "serviceMonitor/monitoring/m/0")["kubernetes_sd_configs"][0]["namespaces"]["names"],
        json!(["api", "web"])
    );

    let own = parsed(&with_monitor("apps", "m", json!({"selector": {}, "endpoints": [{"port": "http"}]})));
    assert_eq!(
        job(&own, "serviceMonitor/apps/m/0")["kubernetes_sd_configs"][0]["namespaces"]["names"],
        json!(["apps"])
    );
}

#[test]
fn user_relabelings_follow_the_generated_ones_in_order() {
    let stack = with_monitor(
        "monitoring",
        "api",
        json!({"selector": {}, "endpoints": [{
            "port": "http",
            "relabelings": [
                {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
                {"action": "LabelDrop", "regex": "pod_template_hash"},
                {"sourceLabels": ["__address__"], "targetLabel": "__tmp_hash", "modulus": 4, "action": "HashMod"}
            ],
            "metricRelabelings": [
                {"sourceLabels": ["__name__"], "regex": "go_.*", "action": "Drop"},
                {"sourceLabels": ["le"], "separator": ",", "regex": "(.*)", "targetLabel": "le", "replacement": "$1"}
            ]
        }]}),
    );
    let config = parsed(&stack);
    let scrape = job(&config, "serviceMonitor/monitoring/api/0");
    let relabelings = scrape["relabel_configs"].as_array().unwrap();
    let tail = &relabelings[relabelings.len() - 3..];
    assert_eq!(
        tail,
        [
            json!({"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"}),
            json!({"regex": "pod_template_hash", "action": "labeldrop"}),
            json!({"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 4, "action": "hashmod"}),
        ]
    );
    assert_eq!(relabelings[relabelings.len() - 4], json!({"target_label": "endpoint", "replacement": "http"}));
    assert_eq!(
        scrape["metric_relabel_configs"],
        json!([
            {"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"},
            {"source_labels": ["le"], "separator": ",", "target_label": "le", "regex": "(.*)", "replacement": "$1"}
        ])
    );
}

#[test]
fn endpoint_knobs_and_interval_overrides() {
    let stack = with_monitor(
        "monitoring",
        "api",
        json!({"selector": {}, "sampleLimit": 5000, "targetLimit": 20, "endpoints": [
            {"port": "http", "interval": "30s", "scrapeTimeout": "25s", "scheme": "https",
             "params": {"format": ["prometheus"]}, "honorLabels": true, "honorTimestamps": false,
             "followRedirects": false},
            {"port": "fast", "interval": "5s"},
            {"port": "slow", "scrapeTimeout": "12s"},
            {"port": "plain"}
        ]}),
    );
    let config = parsed(&stack);
    let first = job(&config, "serviceMonitor/monitoring/api/0");
    assert_eq!(first["scrape_interval"], "30s");
    assert_eq!(first["scrape_timeout"], "25s");
    assert_eq!(first["scheme"], "https");
    assert_eq!(first["params"], json!({"format": ["prometheus"]}));
    assert_eq!(first["honor_labels"], true);
    assert_eq!(first["honor_timestamps"], false);
    assert_eq!(first["follow_redirects"], false);
    assert_eq!(first["sample_limit"], 5000);
    assert_eq!(first["target_limit"], 20);
    // A 5s interval with the stack's 10s timeout: the timeout shrinks to the interval.
    let fast = job(&config, "serviceMonitor/monitoring/api/1");
    assert_eq!((fast["scrape_interval"].as_str(), fast["scrape_timeout"].as_str()), (Some("5s"), Some("5s")));
    let slow = job(&config, "serviceMonitor/monitoring/api/2");
    assert_eq!((slow["scrape_interval"].as_str(), slow["scrape_timeout"].as_str()), (Some("15s"), Some("12s")));
    let plain = job(&config, "serviceMonitor/monitoring/api/3");
    assert_eq!((plain["scrape_interval"].as_str(), plain["scrape_timeout"].as_str()), (Some("15s"), Some("10s")));
    for key in ["scheme", "params", "honor_labels", "honor_timestamps", "follow_redirects", "metrics_path"] {
        assert!(plain.get(key).is_none(), "{key} is left to Prometheus' default");
    }

    // A timeout above the (stack's) interval cannot be scraped: an error naming the field.
    let too_long = with_monitor(
        "monitoring",
        "api",
        json!({"selector": {}, "endpoints": [{"port": "http", "scrapeTimeout": "20s"}]}),
    );
    let error = render(&too_long).unwrap_err().to_string();
    assert!(error.contains("monitoring/api") && error.contains("spec.endpoints[0].scrapeTimeout"), "{error}");
}

fn secured_monitor(namespace: &str) -> ResolvedStack {
    with_monitor(
        namespace,
        "secure",
        json!({"selector": {}, "endpoints": [
            {"port": "https", "scheme": "https",
             "tlsConfig": {"ca": {"configMap": {"name": "trust", "key": "ca.crt"}},
                           "cert": {"secret": {"name": "client.tls", "key": "tls.crt"}},
                           "keySecret": {"name": "client.tls", "key": "tls.key"},
                           "serverName": "api.internal", "insecureSkipVerify": false},
             "bearerTokenSecret": {"name": "scrape-token", "key": "token"}},
            {"port": "admin",
             "tlsConfig": {"caFile": "/etc/ssl/certs/ca-certificates.crt", "certFile": "/etc/client/tls.crt",
                           "keyFile": "/etc/client/tls.key", "minVersion": "TLS12", "maxVersion": "TLS13"},
             "basicAuth": {"username": {"name": "admin-auth", "key": "user"},
                           "password": {"name": "admin-auth", "key": "pass"}}},
            {"port": "again", "bearerTokenSecret": {"name": "scrape-token", "key": "token"}}
        ]}),
    )
}

#[test]
fn the_jobs_mount_exactly_the_monitors_references() {
    let stack = secured_monitor("monitoring");
    let monitor = &stack.monitors[0];
    let mut from_jobs = Mounts::default();
    super::jobs::monitor_jobs(&stack, monitor, &mut from_jobs).unwrap();
    let mut recorded = Mounts::default();
    record_mounts(monitor, &mut recorded);
    assert_eq!(recorded, from_jobs, "a cached monitor mounts what a fresh render mounts");
    let mut listed = Mounts::default();
    for reference in monitor.spec.references() {
        let keys = match reference.object.kind() {
            "Secret" => &mut listed.secrets,
            _ => &mut listed.config_maps,
        };
        keys.entry(reference.object.name()).or_default().insert(reference.object.key());
    }
    assert_eq!(from_jobs, listed, "every reference of the monitor is mounted, and nothing else");
}

#[test]
fn tls_bearer_and_basic_auth_read_mounted_files() {
    let stack = secured_monitor("monitoring");
    let config = parsed(&stack);
    let first = job(&config, "serviceMonitor/monitoring/secure/0");
    assert_eq!(
        first["tls_config"],
        json!({"ca_file": "/etc/prometheus/configmaps/trust/ca.crt",
               "cert_file": "/etc/prometheus/secrets/client.tls/tls.crt",
               "key_file": "/etc/prometheus/secrets/client.tls/tls.key",
               "server_name": "api.internal", "insecure_skip_verify": false})
    );
    assert_eq!(
        first["authorization"],
        json!({"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/scrape-token/token"})
    );
    let second = job(&config, "serviceMonitor/monitoring/secure/1");
    assert_eq!(
        second["tls_config"],
        json!({"ca_file": "/etc/ssl/certs/ca-certificates.crt", "cert_file": "/etc/client/tls.crt",
               "key_file": "/etc/client/tls.key", "min_version": "TLS12", "max_version": "TLS13"})
    );
    assert_eq!(
        second["basic_auth"],
        json!({"username_file": "/etc/prometheus/secrets/admin-auth/user",
               "password_file": "/etc/prometheus/secrets/admin-auth/pass"})
    );

    // Each object is mounted once, in name order, with only the keys the jobs read.
    let objects = render(&stack).unwrap();
    let pod = &named(&objects, "StatefulSet", "minimal-prometheus")["spec"]["template"]["spec"];
    let volumes: Vec<&Value> = pod["volumes"].as_array().unwrap().iter().collect();
    let volume_names: Vec<&str> = volumes.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(
        volume_names,
        [
            "config",
            "rules",
            "objstore",
            "secret-admin-auth",
            &volume_name("secret", "client.tls"),
            "secret-scrape-token",
            "configmap-trust"
        ]
    );
    let admin = volumes.iter().find(|v| v["name"] == "secret-admin-auth").unwrap();
    assert_eq!(admin["secret"]["secretName"], "admin-auth");
    assert_eq!(admin["secret"]["items"], json!([{"key": "pass", "path": "pass"}, {"key": "user", "path": "user"}]));
    assert!(volume_name("secret", "client.tls").starts_with("secret-client-tls-"));
    let mounts = pod["containers"][0]["volumeMounts"].to_string();
    for path in [
        "/etc/prometheus/secrets/admin-auth",
        "/etc/prometheus/secrets/client.tls",
        "/etc/prometheus/secrets/scrape-token",
        "/etc/prometheus/configmaps/trust",
    ] {
        assert!(mounts.contains(&format!("\"{path}\"")), "{path} is mounted");
    }
}

#[test]
fn no_credential_value_or_inline_credential_key_in_the_config_map() {
    let objects = render(&secured_monitor("monitoring")).unwrap();
    let text = named(&objects, "ConfigMap", "minimal-prometheus")["data"][CONFIG_FILE].as_str().unwrap().to_owned();
    for inline in ["bearer_token:", "password:", "username:", "credentials:", "bearer_token_file"] {
        assert!(!text.contains(inline), "the config must not carry {inline}");
    }
    assert!(text.contains("credentials_file: /etc/prometheus/secrets/scrape-token/token"));
    assert!(text.contains("password_file: /etc/prometheus/secrets/admin-auth/pass"));
    // Rendered objects only name Secrets; none of them is a Secret.
    assert!(kind(&objects, "Secret").is_empty());
}

#[test]
fn a_monitor_in_another_namespace_cannot_mount_secrets() {
    let error = render(&secured_monitor("apps")).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, RenderError::Invalid { .. }));
    assert!(
        text.contains("ServiceMonitor apps/secure") && text.contains("spec.endpoints[0].tlsConfig.ca.configMap"),
        "{text}"
    );
    assert!(text.contains("monitoring"), "{text}");
    // Without references, other namespaces are fine.
    assert!(render(&with_monitor("apps", "plain", json!({"selector": {}, "endpoints": [{"port": "http"}]}))).is_ok());
}

#[test]
fn alertmanagers_are_found_through_their_service_endpoint_slices() {
    let config = parsed(&machineavatars());
    let alerting = &config["alerting"];
    assert_eq!(
        alerting["alertmanagers"][0]["kubernetes_sd_configs"],
        json!([{"role": "endpointslice", "namespaces": {"names": ["observability"]}}])
    );
    assert_eq!(
        alerting["alertmanagers"][0]["relabel_configs"],
        json!([
            {"source_labels": ["__meta_kubernetes_service_name"], "regex": "machineavatars-alertmanager", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_endpointslice_port_name"], "regex": "http", "action": "keep"}
        ])
    );
    // Nothing reads the deprecated v1 Endpoints API any more.
    let text = crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap();
    assert!(!text.contains("role: endpoints\n") && !text.contains("__meta_kubernetes_endpoint_"), "{text}");
    assert_eq!(alerting["alert_relabel_configs"], json!([{"regex": REPLICA_LABEL, "action": "labeldrop"}]));

    let mut quiet = machineavatars();
    quiet.spec.alerting.enabled = false;
    let config = parsed(&quiet);
    assert!(config.get("alerting").is_none());
    assert!(config["scrape_configs"].as_array().unwrap().iter().all(|job| job["job_name"] != "alertmanager"));
}

#[test]
fn own_components_and_the_kubelet_are_scraped_when_enabled() {
    let config = parsed(&machineavatars());
    let names: Vec<&str> =
        config["scrape_configs"].as_array().unwrap().iter().filter_map(|j| j["job_name"].as_str()).collect();
    for expected in [
        "prometheus",
        "thanos-sidecar",
        "thanos-compactor",
        "thanos-store",
        "thanos-query",
        "alertmanager",
        "loki",
        "promtail",
        "grafana",
        "jaeger",
        "jaeger-spanmetrics",
        "kube-state-metrics",
        "node-exporter",
        "kubelet",
        "cadvisor",
    ] {
        assert!(names.contains(&expected), "job {expected} in {names:?}");
    }
    assert!(!names.contains(&"alloy"));
    let spanmetrics = job(&config, "jaeger-spanmetrics");
    assert_eq!(
        spanmetrics["kubernetes_sd_configs"],
        json!([{"role": "pod", "namespaces": {"names": ["observability"]}}])
    );
    assert_eq!(spanmetrics["relabel_configs"][0]["regex"], "jaeger;machineavatars;8889");

    let cadvisor = job(&config, "cadvisor");
    assert_eq!(cadvisor["kubernetes_sd_configs"], json!([{"role": "node"}]));
    assert_eq!(cadvisor["scheme"], "https");
    assert_eq!(cadvisor["metrics_path"], "/metrics/cadvisor");
    assert_eq!(cadvisor["tls_config"]["ca_file"], "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    assert_eq!(cadvisor["authorization"]["credentials_file"], "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_eq!(job(&config, "kubelet")["metrics_path"], "/metrics");

    let mut lean = minimal(Environment::Development);
    lean.spec.logging.collector = crate::api::Collector::Alloy;
    lean.spec.tracing.enabled = false;
    lean.spec.dashboards.enabled = false;
    lean.spec.metrics.downsampling.enabled = false;
    let config = parsed(&lean);
    let names: Vec<&str> =
        config["scrape_configs"].as_array().unwrap().iter().filter_map(|j| j["job_name"].as_str()).collect();
    assert_eq!(
        names,
        ["prometheus", "alertmanager", "loki", "alloy", "kube-state-metrics", "node-exporter", "kubelet", "cadvisor"]
    );
    assert_eq!(job(&config, "alloy")["relabel_configs"][0]["regex"], "alloy;minimal;12345");
}

#[test]
fn statefulset_runs_prometheus_restricted_with_a_reloader_and_no_config_hash() {
    let mut stack = machineavatars();
    stack.spec.metrics.prometheus.replicas = Some(2);
    stack.spec.metrics.prometheus.storage_size = crate::api::StorageSize::from("120Gi");
    stack.spec.metrics.prometheus.retention = crate::api::Duration::from("15d");
    let objects = render(&stack).unwrap();
    let statefulset = named(&objects, "StatefulSet", "machineavatars-prometheus");
    let spec = &statefulset["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["serviceName"], "machineavatars-prometheus-headless");
    assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "120Gi");
    let pod = &spec["template"]["spec"];
    assert!(spec["template"]["metadata"].get("annotations").is_none(), "the reloader applies config changes");
    assert_eq!(pod["serviceAccountName"], "machineavatars-prometheus");
    assert_eq!(pod["securityContext"]["runAsUser"], 65534);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let prometheus = &pod["containers"][0];
    let args: Vec<&str> = prometheus["args"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for flag in [
        "--config.file=/etc/prometheus/config/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=15d",
        "--web.enable-lifecycle",
        "--storage.tsdb.min-block-duration=2h",
        "--storage.tsdb.max-block-duration=2h",
    ] {
        assert!(args.contains(&flag), "{flag} in {args:?}");
    }
    assert_eq!(prometheus["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(prometheus["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(prometheus["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(prometheus["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(prometheus["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");

    let reloader = &pod["containers"][1];
    assert_eq!(reloader["image"], images::CONFIG_RELOADER);
    assert_eq!(
        reloader["args"],
        json!([
            "--listen-address=:8080",
            "--reload-url=http://127.0.0.1:9090/-/reload",
            "--watched-dir=/etc/prometheus/config",
            "--watched-dir=/etc/prometheus/rules"
        ])
    );
    assert!(reloader["livenessProbe"].is_object() && reloader["readinessProbe"].is_object());
    let volumes = pod["volumes"].to_string();
    assert!(volumes.contains("\"machineavatars-rules\"") && volumes.contains("\"machineavatars-prometheus\""));

    let service = named(&objects, "Service", "machineavatars-prometheus");
    assert_eq!(service["spec"]["ports"][0]["name"], "http");
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);
    assert_eq!(service["spec"]["ports"][1]["name"], "grpc");
    let headless = named(&objects, "Service", "machineavatars-prometheus-headless");
    assert_eq!(headless["spec"]["clusterIP"], "None");
}

#[test]
fn rbac_allows_discovery_and_kubelet_scrapes_only() {
    let objects = render(&machineavatars()).unwrap();
    let name = "stackscope-observability-machineavatars-prometheus";
    let role = named(&objects, "ClusterRole", name);
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": [""], "resources": ["services", "pods", "nodes", "nodes/metrics"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
        ])
    );
    let binding = named(&objects, "ClusterRoleBinding", name);
    assert_eq!(binding["roleRef"]["name"], name);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "machineavatars-prometheus", "namespace": "observability"}])
    );
    assert!(role.get("metadata").and_then(|m| m.get("namespace")).is_none());
    assert_eq!(kind(&objects, "ServiceAccount").len(), 1);
}

#[test]
fn downsampling_adds_a_sidecar_and_a_compactor_with_the_seed_tiers() {
    let objects = render(&machineavatars()).unwrap();
    let compactor = named(&objects, "StatefulSet", "machineavatars-prometheus-compactor");
    let container = &compactor["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(&args[..2], ["compact", "--wait"]);
    for flag in [
        "--retention.resolution-raw=30d",
        "--retention.resolution-5m=90d",
        "--retention.resolution-1h=2y",
        "--objstore.config-file=/etc/thanos/objstore/objstore.yml",
    ] {
        assert!(args.contains(&flag), "{flag} in {args:?}");
    }
    assert!(!args.iter().any(|arg| arg.contains("downsampling.disable")));
    assert_eq!(compactor["spec"]["replicas"], 1);
    assert!(compactor["spec"]["volumeClaimTemplates"][0]["spec"].is_object());
    let selector = &compactor["spec"]["selector"]["matchLabels"];
    assert_eq!(selector["app.kubernetes.io/name"], super::thanos::Thanos::Compactor.app_name());
    assert_eq!(
        &compactor["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
        super::thanos::Thanos::Compactor.app_name()
    );
    let service = named(&objects, "Service", "machineavatars-prometheus-compactor");
    assert_eq!(service["spec"]["selector"], *selector);
    assert_eq!(service["spec"]["ports"][0]["port"], 10912);
    // Prometheus' Services never select the compactor.
    let prometheus_service = named(&objects, "Service", "machineavatars-prometheus");
    assert_eq!(prometheus_service["spec"]["selector"]["app.kubernetes.io/name"], "prometheus");

    let pod = &named(&objects, "StatefulSet", "machineavatars-prometheus")["spec"]["template"]["spec"];
    let sidecar = &pod["containers"][2];
    assert_eq!(sidecar["name"], "thanos-sidecar");
    assert!(sidecar["args"].to_string().contains("--objstore.config-file=/etc/thanos/objstore/objstore.yml"));
    let objstore = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "objstore").unwrap();
    assert_eq!(objstore["secret"]["secretName"], "thanos-objstore");

    let mut tiers = machineavatars();
    tiers.spec.metrics.downsampling.raw_retention = crate::api::Duration::from("14d");
    tiers.spec.metrics.downsampling.one_hour_retention = crate::api::Duration::from("5y");
    let objects = render(&tiers).unwrap();
    let args = named(&objects, "StatefulSet", "machineavatars-prometheus-compactor")["spec"]["template"].to_string();
    assert!(args.contains("--retention.resolution-raw=14d") && args.contains("--retention.resolution-1h=5y"));
}

#[test]
fn downsampling_off_removes_the_sidecar_and_the_compactor() {
    let mut stack = machineavatars();
    stack.spec.metrics.downsampling.enabled = false;
    let objects = render(&stack).unwrap();
    let text = crate::render::objects_to_yaml(&objects).unwrap();
    assert!(!text.contains("thanos"), "no Thanos left:\n{text}");
    assert!(!text.contains("block-duration"));
    assert_eq!(kind(&objects, "StatefulSet").len(), 1);
    let pod = &named(&objects, "StatefulSet", "machineavatars-prometheus")["spec"]["template"]["spec"];
    assert_eq!(pod["containers"].as_array().unwrap().len(), 2);
    let service = named(&objects, "Service", "machineavatars-prometheus");
    assert_eq!(service["spec"]["ports"].as_array().unwrap().len(), 1);
}

#[test]
fn metrics_disabled_renders_nothing() {
    let mut stack = machineavatars();
    stack.spec.metrics.enabled = false;
    stack.spec.alerting.enabled = false;
    assert!(render(&stack).unwrap().is_empty());
}

#[test]
fn output_is_deterministic_whatever_the_reference_order() {
    let stack = secured_monitor("monitoring");
    let first = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
    assert_eq!(first, crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap());
    // Reversing the endpoints changes the jobs' order, never the mounted volumes.
    let mut reversed = stack.clone();
    reversed.monitors[0].spec.endpoints.reverse();
    let volumes = |stack: &ResolvedStack| {
        named(&render(stack).unwrap(), "StatefulSet", "minimal-prometheus")["spec"]["template"]["spec"]["volumes"]
            .clone()
    };
    assert_eq!(volumes(&stack), volumes(&reversed));
}

#[test]
fn literals_are_escaped_for_relabel_regexes() {
    assert_eq!(literal("api"), "api");
    assert_eq!(literal("a.b-c_d"), "a\\.b-c_d");
    assert_eq!(literal("x+(y)|z$"), "x\\+\\(y\\)\\|z\\$");
    assert_eq!(volume_name("secret", "plain-name"), "secret-plain-name");
    let long = "a".repeat(200);
    assert!(volume_name("secret", &long).len() <= 63);
    assert_ne!(volume_name("secret", "a.b"), volume_name("secret", "a-b"));
}

/// A monitor with every scrape setting prometheus-operator added after its first API.
fn tuned_monitor() -> ResolvedStack {
    with_monitor(
        "monitoring",
        "tuned.api",
        json!({
            "selector": {},
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
            "scrapeClass": "istio-mtls", "selectorMechanism": "RoleSelector", "serviceDiscoveryRole": "Endpoints",
            "endpoints": [
                {"port": "http", "authorization": {"type": "Token", "credentials": {"name": "api.token", "key": "t"}},
                 "proxyUrl": "http://proxy.internal:3128", "noProxy": "10.0.0.0/8,.svc",
                 "enableHttp2": false, "filterRunning": false, "honorTimestamps": true, "trackTimestampsStaleness": true},
                {"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token", "proxyFromEnvironment": true},
                {"port": "plain", "authorization": {}}
            ]
        }),
    )
}

#[test]
fn newer_prometheus_operator_fields_render_under_prometheus_keys() {
    let stack = tuned_monitor();
    let config = parsed(&stack);
    let first = job(&config, "serviceMonitor/monitoring/tuned.api/0");
    assert_eq!(
        first["authorization"],
        json!({"type": "Token", "credentials_file": "/etc/prometheus/secrets/api.token/t"})
    );
    assert_eq!(first["proxy_url"], "http://proxy.internal:3128");
    assert_eq!(first["no_proxy"], "10.0.0.0/8,.svc");
    assert_eq!(first["enable_http2"], false);
    assert_eq!(first["track_timestamps_staleness"], true);
    assert_eq!(first["kubernetes_sd_configs"][0]["attach_metadata"], json!({"node": true}));
    assert_eq!(first["kubernetes_sd_configs"][0]["role"], "endpointslice", "Endpoints discovers the same targets");
    assert_eq!(first["scrape_protocols"], json!(["PrometheusProto", "OpenMetricsText1.0.0"]));
    assert_eq!(first["fallback_scrape_protocol"], "PrometheusText0.0.4");
    assert_eq!(first["always_scrape_classic_histograms"], true);
    assert_eq!(first["native_histogram_bucket_limit"], 160);
    assert_eq!(first["native_histogram_min_bucket_factor"], 1.1);
    assert_eq!(first["convert_classic_histograms_to_nhcb"], true);
    assert_eq!(first["body_size_limit"], "10MiB");
    assert_eq!(first["label_limit"], 40);
    assert_eq!(first["label_name_length_limit"], 128);
    assert_eq!(first["label_value_length_limit"], 2048);
    assert_eq!(first["keep_dropped_targets"], 25);
    let drops_finished_pods = |job: &Value| {
        job["relabel_configs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|step| step["source_labels"] == json!(["__meta_kubernetes_pod_phase"]) && step["action"] == "drop")
    };
    assert!(!drops_finished_pods(first), "filterRunning: false keeps finished pods");

    let second = job(&config, "serviceMonitor/monitoring/tuned.api/1");
    assert_eq!(
        second["authorization"],
        json!({"type": "Bearer", "credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"})
    );
    assert_eq!(second["proxy_from_environment"], true);
    assert_eq!(second.get("proxy_url"), None);
    assert!(drops_finished_pods(second));
    // No port: every port of the selected Services' endpoints, and no fixed `endpoint` label.
    let steps = second["relabel_configs"].as_array().unwrap();
    assert!(!steps.iter().any(|step| step["source_labels"] == json!(["__meta_kubernetes_endpointslice_port_name"])));
    assert!(!steps.iter().any(|step| step["target_label"] == "endpoint"));

    let third = job(&config, "serviceMonitor/monitoring/tuned.api/2");
    assert_eq!(third["authorization"], json!({"type": "Bearer"}), "an empty authorization is Prometheus' default");

    // The authorization Secret is mounted with the key the job reads, like bearerTokenSecret.
    let objects = render(&stack).unwrap();
    let pod = &named(&objects, "StatefulSet", "minimal-prometheus")["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|volume| volume["secret"]["secretName"] == "api.token")
        .expect("the authorization Secret is a volume");
    assert_eq!(volume["secret"]["items"], json!([{"key": "t", "path": "t"}]));
}

#[test]
fn a_monitor_without_endpoints_renders_no_job() {
    let stack = with_monitor("monitoring", "empty", json!({"selector": {}, "endpoints": []}));
    let config = parsed(&stack);
    let monitor_jobs = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job["job_name"].as_str().is_some_and(|name| name.starts_with("serviceMonitor/")))
        .count();
    assert_eq!(monitor_jobs, 0);
}

#[test]
fn a_dotted_monitor_name_makes_valid_job_names_and_rules() {
    let stack = with_monitor(
        "monitoring",
        "api.v2",
        json!({"selector": {}, "endpoints": [{"port": "http"}],
               "slo": {"availability": 99.9, "latencyP95": "300ms", "errorRate": 1}}),
    );
    let config = parsed(&stack);
    let job = job(&config, "serviceMonitor/monitoring/api.v2/0");
    assert_eq!(job["kubernetes_sd_configs"][0]["namespaces"]["names"], json!(["monitoring"]));
    // The whole stack renders, the SLO's rule group and `service` label taking the name as it is.
    let objects = crate::render::render_stack(&stack).unwrap();
    let groups: Vec<Value> = objects
        .iter()
        .filter(|rendered| rendered.object.types.as_ref().is_some_and(|types| types.kind == "ConfigMap"))
        .flat_map(|rendered| rendered.object.data["data"].as_object().cloned().unwrap_or_default().into_values())
        .filter_map(|text| serde_saphyr::from_str::<Value>(text.as_str()?).ok())
        .flat_map(|file| file["groups"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(groups.iter().any(|group| group["name"] == "slo-api.v2"), "an SLO rule group for api.v2");
}
