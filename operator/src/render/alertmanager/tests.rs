//! Tests of the Alertmanager renderer.

use super::config::severity_matcher;
use super::*;
use crate::api::defaults::images;
use crate::api::{Environment, EscalationStep, SecretKeyRef, Severity};
use crate::render::fixtures::{machineavatars, minimal, object};

fn parsed(stack: &ResolvedStack) -> serde_json::Value {
    let text = to_yaml(Component::Alertmanager, CONFIG_FILE, &config(stack).unwrap()).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// `(receiver, matchers, group_wait)` of every child route, in order.
fn child_routes(config: &serde_json::Value) -> Vec<(String, Vec<String>, Option<String>)> {
    config["route"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
            assert_eq!(route["continue"], true, "every child route continues: {route}");
            (
                route["receiver"].as_str().unwrap().to_owned(),
                route["matchers"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect(),
                route.get("group_wait").map(|wait| wait.as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

fn receiver<'a>(config: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    config["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|receiver| receiver["name"] == name)
        .unwrap_or_else(|| panic!("no receiver {name}"))
}

/// The receivers an alert with these labels reaches, as Alertmanager walks the tree (every
/// child route continues, so all matching children; the root when none matches).
fn receivers_for(config: &serde_json::Value, severity: &str) -> Vec<String> {
    let matched: Vec<String> = child_routes(config)
        .into_iter()
        .filter(|(_, matchers, _)| {
            matchers.iter().all(|matcher| {
                if let Some(values) = matcher.strip_prefix("severity=~\"") {
                    values.trim_end_matches('"').split('|').any(|value| value == severity)
                } else {
                    matcher == &format!("severity=\"{severity}\"")
                }
            })
        })
        .map(|(receiver, _, _)| receiver)
        .collect();
    if matched.is_empty() { vec![config["route"]["receiver"].as_str().unwrap().to_owned()] } else { matched }
}

#[test]
fn golden_example() {
    assert_golden_snapshot!(render(&machineavatars()));
}

#[test]
fn severity_matchers_use_equality_for_one_value_and_a_regex_in_severity_order_for_several() {
    assert_eq!(severity_matcher(&[Severity::Critical]), r#"severity="critical""#);
    assert_eq!(severity_matcher(&[Severity::Critical, Severity::Warning]), r#"severity=~"warning|critical""#);
    assert_eq!(
        severity_matcher(&[Severity::Warning, Severity::Info, Severity::Critical, Severity::Info]),
        r#"severity=~"info|warning|critical""#
    );
}

#[test]
fn email_gets_every_alert_slack_warning_and_critical_pagerduty_critical() {
    let config = parsed(&machineavatars());
    let route = &config["route"];
    assert_eq!(route["receiver"], EMAIL_RECEIVER);
    assert_eq!(route["group_by"], serde_json::json!(["alertname", "service", "severity"]));
    assert_eq!(route["group_wait"], "30s");
    assert_eq!(route["group_interval"], "5m");
    assert_eq!(route["repeat_interval"], "4h");
    assert!(route.get("matchers").is_none(), "the root route has no matchers");
    let routes = child_routes(&config);
    assert_eq!(routes[0], (EMAIL_RECEIVER.to_owned(), vec![r#"severity=~"info|warning|critical""#.to_owned()], None));
    assert_eq!(routes[1], (SLACK_RECEIVER.to_owned(), vec![r#"severity=~"warning|critical""#.to_owned()], None));
    assert_eq!(routes[2], (PAGERDUTY_RECEIVER.to_owned(), vec![r#"severity="critical""#.to_owned()], None));

    assert_eq!(receivers_for(&config, "info"), [EMAIL_RECEIVER]);
    assert_eq!(receivers_for(&config, "warning"), [EMAIL_RECEIVER, SLACK_RECEIVER]);
    let critical = receivers_for(&config, "critical");
    assert_eq!(critical[..3], [EMAIL_RECEIVER, SLACK_RECEIVER, PAGERDUTY_RECEIVER]);

    assert_eq!(receiver(&config, SLACK_RECEIVER)["slack_configs"][0]["channel"], "#alerts");
    let email = &receiver(&config, EMAIL_RECEIVER)["email_configs"][0];
    assert_eq!(email["to"], "oncall@machineavatars.example.com");
    assert!(email["headers"]["Subject"].as_str().unwrap().contains(".CommonLabels.incident_level"));
    assert_eq!(config["global"]["smtp_smarthost"], "smtp.machineavatars.example.com:587");
    assert_eq!(config["global"]["smtp_from"], "alertmanager@machineavatars.example.com");
    assert_eq!(config["global"]["smtp_auth_username"], "alertmanager");
}

#[test]
fn incident_levels_lead_every_notification_title() {
    let config = parsed(&machineavatars());
    let slack = &receiver(&config, SLACK_RECEIVER)["slack_configs"][0];
    let pagerduty = &receiver(&config, PAGERDUTY_RECEIVER)["pagerduty_configs"][0];
    for title in [&slack["title"], &pagerduty["description"]] {
        assert!(title.as_str().unwrap().starts_with("[{{ .CommonLabels.incident_level }}]"), "{title}");
    }
    assert_eq!(pagerduty["details"]["incident_level"], "{{ .CommonLabels.incident_level }}");
}

#[test]
fn critical_alerts_escalate_to_each_step_after_its_delay() {
    let config = parsed(&machineavatars());
    let steps: Vec<_> = child_routes(&config).into_iter().skip(3).collect();
    let expected = [("primary", "0s"), ("secondary", "15m"), ("escalation", "30m")];
    assert_eq!(steps.len(), expected.len());
    for ((receiver_name, matchers, group_wait), (name, after)) in steps.iter().zip(expected) {
        assert_eq!(receiver_name, name);
        assert_eq!(matchers, &[r#"severity="critical""#.to_owned()]);
        assert_eq!(group_wait.as_deref(), Some(after));
    }
    assert!(!receivers_for(&config, "warning").iter().any(|r| r == "secondary"), "warnings do not escalate");

    let secondary = receiver(&config, "secondary");
    assert_eq!(secondary["email_configs"][0]["to"], "backend-lead@machineavatars.example.com");
    assert_eq!(
        secondary["pagerduty_configs"][0]["routing_key_file"],
        "/etc/alertmanager/secrets/stackscope-alerting/pagerduty-routing-key"
    );
    // The immediate step does not page a second time with the PagerDuty receiver's key.
    let primary = receiver(&config, "primary");
    assert_eq!(primary["email_configs"][0]["to"], "devops-oncall@machineavatars.example.com");
    assert!(primary.get("pagerduty_configs").is_none());
}

#[test]
fn an_escalation_step_pages_with_its_own_key() {
    let mut stack = machineavatars();
    stack.spec.alerting.routing.escalation[0].pagerduty_routing_key =
        Some(SecretKeyRef::new("oncall-primary", "routing-key"));
    stack.spec.alerting.routing.escalation[2].pagerduty_routing_key = Some(SecretKeyRef::new("cto.pager", "key"));
    let config = parsed(&stack);
    assert_eq!(
        receiver(&config, "primary")["pagerduty_configs"][0]["routing_key_file"],
        "/etc/alertmanager/secrets/oncall-primary/routing-key"
    );
    assert_eq!(
        receiver(&config, "escalation")["pagerduty_configs"][0]["routing_key_file"],
        "/etc/alertmanager/secrets/cto.pager/key"
    );
}

#[test]
fn critical_inhibits_warning_of_the_same_signal_and_service() {
    let config = parsed(&machineavatars());
    assert_eq!(
        config["inhibit_rules"],
        serde_json::json!([{
            "source_matchers": ["severity=\"critical\""],
            "target_matchers": ["severity=\"warning\""],
            "equal": ["signal", "namespace", "service"],
        }])
    );
}

#[test]
fn every_credential_file_is_a_mounted_secret_key_and_no_configmap_holds_a_credential() {
    let stack = machineavatars();
    let objects = render(&stack).unwrap();
    let text =
        object(&objects, "ConfigMap", "machineavatars-alertmanager")["data"][CONFIG_FILE].as_str().unwrap().to_owned();
    for inline in ["smtp_auth_password:", "auth_password:", "api_url:", "routing_key:", "service_key:"] {
        assert!(!text.contains(&format!("\n{inline}")) && !text.contains(&format!(" {inline}")), "{inline}");
    }
    let config: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let files = [
        config["global"]["smtp_auth_password_file"].clone(),
        receiver(&config, SLACK_RECEIVER)["slack_configs"][0]["api_url_file"].clone(),
        receiver(&config, PAGERDUTY_RECEIVER)["pagerduty_configs"][0]["routing_key_file"].clone(),
    ];
    let pod = &object(&objects, "StatefulSet", "machineavatars-alertmanager")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    for file in &files {
        let file = file.as_str().unwrap();
        let (directory, key) = file.rsplit_once('/').unwrap();
        let mount = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|mount| mount["mountPath"] == directory)
            .unwrap_or_else(|| panic!("{directory} is not mounted"));
        assert_eq!(mount["readOnly"], true);
        let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
        assert_eq!(volume["secret"]["secretName"], directory.rsplit('/').next().unwrap());
        assert!(volume["secret"]["items"].as_array().unwrap().iter().any(|item| item["key"] == key));
    }
    // The seed's Slack URL, PagerDuty key and SMTP password share one Secret: one volume.
    let secret_volumes: Vec<_> =
        pod["volumes"].as_array().unwrap().iter().filter(|v| v.get("secret").is_some()).collect();
    assert_eq!(secret_volumes.len(), 1);
    assert_eq!(
        secret_volumes[0]["secret"]["items"],
        serde_json::json!([
            {"key": "pagerduty-routing-key", "path": "pagerduty-routing-key"},
            {"key": "slack-api-url", "path": "slack-api-url"},
            {"key": "smtp-password", "path": "smtp-password"},
        ])
    );
}

#[test]
fn disabled_receivers_get_no_route_and_no_receiver() {
    let mut stack = machineavatars();
    stack.spec.alerting.routing.slack.enabled = false;
    stack.spec.alerting.routing.pagerduty.enabled = false;
    let config = parsed(&stack);
    let names: Vec<_> = child_routes(&config).into_iter().map(|(receiver, _, _)| receiver).collect();
    assert_eq!(names, ["email", "primary", "secondary", "escalation"]);
    assert!(config["receivers"].as_array().unwrap().iter().all(|r| r["name"] != "slack" && r["name"] != "pagerduty"));
    assert!(receiver(&config, "secondary").get("pagerduty_configs").is_none(), "no key to page with");
    let objects = render(&stack).unwrap();
    let pod = &object(&objects, "StatefulSet", "machineavatars-alertmanager")["spec"]["template"]["spec"];
    let secret = pod["volumes"].as_array().unwrap().iter().find(|v| v.get("secret").is_some()).unwrap();
    assert_eq!(secret["secret"]["items"], serde_json::json!([{"key": "smtp-password", "path": "smtp-password"}]));

    stack.spec.alerting.routing.email.enabled = false;
    stack.spec.alerting.routing.escalation.clear();
    let config = parsed(&stack);
    assert_eq!(config["route"]["receiver"], NULL_RECEIVER);
    assert!(config["route"].get("routes").is_none());
    assert_eq!(config["receivers"], serde_json::json!([{"name": "null"}]));
    assert!(config.get("global").is_none());
}

#[test]
fn email_without_recipients_exists_but_sends_nothing() {
    let config = parsed(&minimal(Environment::Production));
    let email = receiver(&config, EMAIL_RECEIVER);
    assert!(email.get("email_configs").is_none());
    assert!(config.get("global").is_none(), "no SMTP settings without recipients");
    assert_eq!(child_routes(&config)[0].0, EMAIL_RECEIVER);
}

#[test]
fn email_limited_to_some_severities_is_not_the_root_receiver() {
    let mut stack = machineavatars();
    stack.spec.alerting.routing.email.severities = vec![Severity::Critical];
    let config = parsed(&stack);
    assert_eq!(config["route"]["receiver"], NULL_RECEIVER);
    assert_eq!(child_routes(&config)[0].1, [r#"severity="critical""#]);
    assert_eq!(receivers_for(&config, "warning"), [SLACK_RECEIVER]);
    assert_eq!(receivers_for(&config, "info"), [NULL_RECEIVER]);
}

#[test]
fn escalation_emails_need_smtp_settings_and_step_names_must_not_shadow_receivers() {
    let mut stack = minimal(Environment::Staging);
    stack.spec.alerting.routing.escalation[1].email = vec!["lead@example.com".to_owned()];
    let error = config(&stack).unwrap_err().to_string();
    assert!(error.contains("alerting.routing.email.smarthost"), "{error}");

    let mut stack = minimal(Environment::Staging);
    stack.spec.alerting.routing.escalation.push(EscalationStep {
        name: "slack".to_owned(),
        role: "Someone".to_owned(),
        after: crate::api::Duration::from("1h"),
        email: Vec::new(),
        pagerduty_routing_key: None,
    });
    let error = config(&stack).unwrap_err().to_string();
    assert!(error.contains("escalation[3].name"), "{error}");
}

#[test]
fn one_replica_runs_without_clustering() {
    let mut stack = machineavatars();
    stack.spec.high_availability = Some(false);
    let objects = render(&stack).unwrap();
    let statefulset = object(&objects, "StatefulSet", "machineavatars-alertmanager");
    assert_eq!(statefulset["spec"]["replicas"], 1);
    assert_eq!(statefulset["spec"]["serviceName"], "machineavatars-alertmanager-cluster");
    let args: Vec<&str> = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--cluster.listen-address="));
    assert!(args.contains(&"--config.file=/etc/alertmanager/config/alertmanager.yml"));
    assert!(args.contains(&"--web.listen-address=:9093"));
    assert!(args.contains(&"--cluster.advertise-address=[$(POD_IP)]:9094"));
    assert!(args.iter().any(|arg| arg.starts_with("--storage.path=")));
    assert!(!args.iter().any(|arg| arg.starts_with("--cluster.peer")));
}

#[test]
fn replicas_find_each_other_through_the_headless_service() {
    let mut stack = machineavatars();
    stack.spec.alerting.alertmanager.replicas = Some(3);
    let objects = render(&stack).unwrap();
    let statefulset = object(&objects, "StatefulSet", "machineavatars-alertmanager");
    assert_eq!(statefulset["spec"]["replicas"], 3);
    let args: Vec<&str> = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    let peers: Vec<_> = args.iter().filter(|arg| arg.starts_with("--cluster.peer=")).collect();
    assert_eq!(
        peers,
        [
            &"--cluster.peer=machineavatars-alertmanager-0.machineavatars-alertmanager-cluster.observability.svc:9094",
            &"--cluster.peer=machineavatars-alertmanager-1.machineavatars-alertmanager-cluster.observability.svc:9094",
            &"--cluster.peer=machineavatars-alertmanager-2.machineavatars-alertmanager-cluster.observability.svc:9094",
        ]
    );
    assert!(args.contains(&"--cluster.listen-address=[$(POD_IP)]:9094"));
    let cluster = object(&objects, "Service", "machineavatars-alertmanager-cluster");
    assert_eq!(cluster["spec"]["clusterIP"], "None");
    assert_eq!(cluster["spec"]["ports"][0]["name"], "cluster");
    assert_eq!(cluster["spec"]["ports"][0]["port"], 9094);
}

#[test]
fn workload_is_restricted_probed_and_reloaded_in_place() {
    let objects = render(&machineavatars()).unwrap();
    let service = object(&objects, "Service", "machineavatars-alertmanager");
    assert_eq!(service["spec"]["ports"][0]["name"], "http");
    assert_eq!(service["spec"]["ports"][0]["port"], 9093);
    let template = &object(&objects, "StatefulSet", "machineavatars-alertmanager")["spec"]["template"];
    assert!(template["metadata"].get("annotations").is_none(), "the reloader reloads, no restart");
    let pod = &template["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 65534);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let alertmanager = &pod["containers"][0];
    assert_eq!(alertmanager["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(alertmanager["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(alertmanager["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
    let reloader = &pod["containers"][1];
    assert_eq!(reloader["image"], images::CONFIG_RELOADER);
    assert!(reloader["args"].as_array().unwrap().contains(&"--reload-url=http://127.0.0.1:9093/-/reload".into()));
    assert!(reloader["args"].as_array().unwrap().contains(&"--watched-dir=/etc/alertmanager/config".into()));
    for container in pod["containers"].as_array().unwrap() {
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
        assert!(container.get("livenessProbe").is_some() && container.get("readinessProbe").is_some());
    }
}

#[test]
fn rendering_is_deterministic() {
    let stack = machineavatars();
    let first = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
    let second = crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap();
    assert_eq!(first, second);
}
