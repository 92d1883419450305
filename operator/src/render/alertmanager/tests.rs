//! Tests of the Alertmanager renderer.

use super::routes::severity_matcher;
use super::*;
use crate::api::defaults::images;
use crate::api::{Environment, EscalationStep, SecretKeyRef, Severity};
use crate::render::fixtures::{machineavatars, minimal, object};

fn parsed(stack: &ResolvedStack) -> serde_json::Value {
    let text = to_yaml(Component::Alertmanager, CONFIG_FILE, &config(stack).unwrap()).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// `(receiver, matchers, group_wait)` of every child route of the root, in order.
fn child_routes(config: &serde_json::Value) -> Vec<(String, Vec<String>, Option<String>)> {
    config["route"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
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

/// Whether labels satisfy a route's matchers, as Alertmanager reads them (`=`, `!=`, `=~`, `!~`,
/// regular expressions anchored, a missing label the empty string).
fn matches(route: &serde_json::Value, labels: &[(&str, &str)]) -> bool {
    route["matchers"].as_array().into_iter().flatten().all(|matcher| {
        let matcher = matcher.as_str().unwrap();
        let operator = ["=~", "!~", "!=", "="].into_iter().find(|op| matcher.contains(op)).unwrap();
        let (name, value) = matcher.split_once(operator).unwrap();
        let value = value.trim_matches('"');
        let actual = labels.iter().find(|(label, _)| *label == name).map_or("", |(_, v)| *v);
        let regex = || regex::Regex::new(&format!("^(?:{value})$")).unwrap();
        match operator {
            "=" => actual == value,
            "!=" => actual != value,
            "=~" => regex().is_match(actual),
            _ => !regex().is_match(actual),
        }
    })
}

/// The routes an alert ends on, as Alertmanager's `Route.Match` walks the tree: the deepest
/// matching routes, siblings tried while the matched ones continue, the route itself when no
/// child matches. Returns `(receiver, group_wait, active_time_intervals)` with inherited waits.
fn routed(route: &serde_json::Value, labels: &[(&str, &str)], wait: &str) -> Vec<(String, String, Vec<String>)> {
    if !matches(route, labels) {
        return Vec::new();
    }
    let wait = route.get("group_wait").and_then(serde_json::Value::as_str).unwrap_or(wait);
    let mut all = Vec::new();
    for child in route["routes"].as_array().into_iter().flatten() {
        let found = routed(child, labels, wait);
        let matched = !found.is_empty();
        all.extend(found);
        if matched && child["continue"] != true {
            break;
        }
    }
    if all.is_empty() {
        let intervals = route["active_time_intervals"].as_array().into_iter().flatten();
        all.push((
            route["receiver"].as_str().unwrap().to_owned(),
            wait.to_owned(),
            intervals.map(|name| name.as_str().unwrap().to_owned()).collect(),
        ));
    }
    all
}

/// The receivers an alert with these labels reaches, in route order.
fn receivers_for(config: &serde_json::Value, labels: &[(&str, &str)]) -> Vec<String> {
    routed(&config["route"], labels, "").into_iter().map(|(receiver, _, _)| receiver).collect()
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
fn each_channel_takes_the_alerts_that_name_it() {
    let config = parsed(&machineavatars());
    let route = &config["route"];
    assert_eq!(route["receiver"], NULL_RECEIVER, "what no route takes goes nowhere");
    assert_eq!(route["group_by"], serde_json::json!(["alertname", "service", "severity"]));
    assert_eq!(route["group_wait"], "30s");
    assert_eq!(route["group_interval"], "5m");
    assert_eq!(route["repeat_interval"], "4h");
    assert!(route.get("matchers").is_none(), "the root route has no matchers");
    let routes = child_routes(&config);
    assert_eq!(routes[1], (EMAIL_RECEIVER.to_owned(), vec![r#"channels=~"(.+,)?email(,.+)?""#.to_owned()], None));
    assert_eq!(routes[2], (SLACK_RECEIVER.to_owned(), vec![r#"channels=~"(.+,)?slack(,.+)?""#.to_owned()], None));
    assert_eq!(
        routes[3],
        (PAGERDUTY_RECEIVER.to_owned(), vec![r#"channels=~"(.+,)?pagerduty(,.+)?""#.to_owned()], None)
    );

    // The document's Channel column, as the rules label their alerts.
    let alert = |channels, severity, level| [("channels", channels), ("severity", severity), ("incident_level", level)];
    assert_eq!(receivers_for(&config, &alert("email", "warning", "P2")), [EMAIL_RECEIVER]);
    assert_eq!(receivers_for(&config, &alert("email,slack", "critical", "P1")), [EMAIL_RECEIVER, SLACK_RECEIVER]);
    assert_eq!(receivers_for(&config, &alert("slack", "critical", "P1")), [SLACK_RECEIVER]);
    assert_eq!(receivers_for(&config, &alert("none", "critical", "P1")), [NULL_RECEIVER]);
    // "pagerduty" as a word of the list, not a substring of another name.
    assert_eq!(receivers_for(&config, &alert("pagerdutyx", "critical", "P1")), [NULL_RECEIVER]);

    assert_eq!(receiver(&config, SLACK_RECEIVER)["slack_configs"][0]["channel"], "#alerts");
    let email = &receiver(&config, EMAIL_RECEIVER)["email_configs"][0];
    assert_eq!(email["to"], "oncall@machineavatars.example.com");
    assert!(email["headers"]["Subject"].as_str().unwrap().contains(".CommonLabels.incident_level"));
    assert_eq!(config["global"]["smtp_smarthost"], "smtp.machineavatars.example.com:587");
    assert_eq!(config["global"]["smtp_from"], "alertmanager@machineavatars.example.com");
    assert_eq!(config["global"]["smtp_auth_username"], "alertmanager");
}

#[test]
fn alerts_without_channels_follow_the_severity_policy() {
    let config = parsed(&machineavatars());
    let foreign = |severity| [("alertname", "FromElsewhere"), ("severity", severity)];
    assert_eq!(receivers_for(&config, &foreign("info")), [EMAIL_RECEIVER]);
    assert_eq!(receivers_for(&config, &foreign("warning")), [EMAIL_RECEIVER, SLACK_RECEIVER]);
    assert_eq!(receivers_for(&config, &foreign("critical")), [EMAIL_RECEIVER, SLACK_RECEIVER, PAGERDUTY_RECEIVER]);
    assert_eq!(receivers_for(&config, &[("alertname", "NoSeverity")]), [NULL_RECEIVER]);
}

#[test]
fn the_watchdog_goes_to_the_dead_mans_switch_alone() {
    let stack = machineavatars();
    let config = parsed(&stack);
    let watchdog = [("alertname", "Watchdog"), ("channels", "none"), ("severity", "info"), ("incident_level", "P3")];
    let routes = routed(&config["route"], &watchdog, "");
    assert_eq!(routes, [(DEAD_MANS_SWITCH_RECEIVER.to_owned(), "0s".to_owned(), Vec::new())]);
    assert_eq!(config["route"]["routes"][0]["repeat_interval"], "1m", "the heartbeat every minute");
    let webhook = &receiver(&config, DEAD_MANS_SWITCH_RECEIVER)["webhook_configs"][0];
    assert_eq!(webhook["url_file"], "/etc/alertmanager/secrets/stackscope-alerting/dead-mans-switch-url");
    assert_eq!(webhook["send_resolved"], false);
    // Even a Watchdog labelled with every channel reaches none of them.
    let loud = [("alertname", "Watchdog"), ("channels", "email,slack,pagerduty"), ("incident_level", "P0")];
    assert_eq!(receivers_for(&config, &loud), [DEAD_MANS_SWITCH_RECEIVER]);

    let mut off = stack;
    off.spec.alerting.routing.dead_mans_switch.enabled = false;
    let config = parsed(&off);
    assert_eq!(receivers_for(&config, &watchdog), [NULL_RECEIVER], "disabled: the Watchdog still fires, unsent");
    assert!(config["receivers"].as_array().unwrap().iter().all(|r| r["name"] != DEAD_MANS_SWITCH_RECEIVER));
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

/// `(receiver, group wait, time intervals)` of every route an alert ends on.
fn timings(config: &serde_json::Value, channels: &str, level: &str) -> Vec<(String, String, Vec<String>)> {
    let labels = [("alertname", "Test"), ("channels", channels), ("severity", "critical"), ("incident_level", level)];
    routed(&config["route"], &labels, "")
}

fn timing(receiver: &str, wait: &str, held: bool) -> (String, String, Vec<String>) {
    let intervals = if held { vec!["business-hours".to_owned()] } else { Vec::new() };
    (receiver.to_owned(), wait.to_owned(), intervals)
}

#[test]
fn paging_alerts_walk_the_escalation_path_by_incident_level() {
    let config = parsed(&machineavatars());
    let paging = "slack,pagerduty";
    // P0: every step and every channel at once.
    assert_eq!(
        timings(&config, paging, "P0"),
        [
            timing("slack", "0s", false),
            timing("pagerduty", "0s", false),
            timing("primary", "0s", false),
            timing("secondary", "0s", false),
            timing("escalation", "0s", false),
        ]
    );
    // P1: on call at once, the backend lead after 15 minutes, not the CTO.
    assert_eq!(
        timings(&config, paging, "P1"),
        [
            timing("slack", "30s", false),
            timing("pagerduty", "30s", false),
            timing("primary", "0s", false),
            timing("secondary", "15m", false),
        ]
    );
    // P2: the on-call engineer.
    assert_eq!(
        timings(&config, paging, "P2"),
        [timing("slack", "30s", false), timing("pagerduty", "30s", false), timing("primary", "0s", false)]
    );
    // P3: the on-call engineer and the channels, in business hours only.
    assert_eq!(
        timings(&config, paging, "P3"),
        [timing("slack", "30s", true), timing("pagerduty", "30s", true), timing("primary", "0s", true)]
    );
    // Alerts that do not page never escalate, whatever their level.
    assert_eq!(timings(&config, "email,slack", "P0"), [timing("email", "0s", false), timing("slack", "0s", false)]);

    assert_eq!(
        config["time_intervals"],
        serde_json::json!([{"name": "business-hours", "time_intervals": [{
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "09:00", "end_time": "17:00"}],
            "location": "UTC",
        }]}])
    );

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
fn incident_levels_are_configurable() {
    use crate::api::EscalationTiming;
    let mut stack = machineavatars();
    let routing = &mut stack.spec.alerting.routing;
    // The other reading of P1: the backend lead at once.
    routing.incident_levels.p1.timing = EscalationTiming::Immediate;
    routing.incident_levels.p3.business_hours_only = false;
    routing.escalation[2].levels.push(crate::api::IncidentLevel::P1);
    routing.business_hours.time_zone = "Europe/Berlin".to_owned();
    let config = parsed(&stack);
    assert_eq!(
        timings(&config, "pagerduty", "P1"),
        [
            timing("pagerduty", "0s", false),
            timing("primary", "0s", false),
            timing("secondary", "0s", false),
            timing("escalation", "0s", false),
        ]
    );
    assert_eq!(timings(&config, "email", "P3"), [timing("email", "30s", false)]);
    assert!(config.get("time_intervals").is_none(), "no level is held: no time interval");
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
    // The seed's Slack URL, PagerDuty key, SMTP password and the dead man's switch share one
    // Secret: one volume.
    let secret_volumes: Vec<_> =
        pod["volumes"].as_array().unwrap().iter().filter(|v| v.get("secret").is_some()).collect();
    assert_eq!(secret_volumes.len(), 1);
    assert_eq!(
        secret_volumes[0]["secret"]["items"],
        serde_json::json!([
            {"key": "dead-mans-switch-url", "path": "dead-mans-switch-url"},
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
    assert_eq!(
        names,
        ["dead-mans-switch", "email", "email", "primary", "primary", "secondary", "secondary", "escalation"]
    );
    assert!(config["receivers"].as_array().unwrap().iter().all(|r| r["name"] != "slack" && r["name"] != "pagerduty"));
    assert!(receiver(&config, "secondary").get("pagerduty_configs").is_none(), "no key to page with");
    // An alert the document pages for still walks the on-call path (by email here).
    let labels = [("channels", "slack,pagerduty"), ("severity", "critical"), ("incident_level", "P1")];
    assert_eq!(receivers_for(&config, &labels), ["primary", "secondary"]);
    let objects = render(&stack).unwrap();
    let pod = &object(&objects, "StatefulSet", "machineavatars-alertmanager")["spec"]["template"]["spec"];
    let secret = pod["volumes"].as_array().unwrap().iter().find(|v| v.get("secret").is_some()).unwrap();
    assert_eq!(
        secret["secret"]["items"],
        serde_json::json!([
            {"key": "dead-mans-switch-url", "path": "dead-mans-switch-url"},
            {"key": "smtp-password", "path": "smtp-password"},
        ])
    );

    stack.spec.alerting.routing.email.enabled = false;
    stack.spec.alerting.routing.escalation.clear();
    stack.spec.alerting.routing.dead_mans_switch.enabled = false;
    let config = parsed(&stack);
    assert_eq!(config["route"]["receiver"], NULL_RECEIVER);
    assert_eq!(child_routes(&config).len(), 1, "the Watchdog's route alone");
    assert_eq!(config["receivers"], serde_json::json!([{"name": "null"}]));
    assert!(config.get("global").is_none());
}

#[test]
fn email_without_recipients_exists_but_sends_nothing() {
    let config = parsed(&minimal(Environment::Production));
    let email = receiver(&config, EMAIL_RECEIVER);
    assert!(email.get("email_configs").is_none());
    assert!(config.get("global").is_none(), "no SMTP settings without recipients");
    assert_eq!(child_routes(&config)[1].0, EMAIL_RECEIVER);
}

#[test]
fn the_severity_policy_follows_each_receivers_severities() {
    let mut stack = machineavatars();
    stack.spec.alerting.routing.email.severities = vec![Severity::Critical];
    let config = parsed(&stack);
    let foreign = |severity| [("alertname", "FromElsewhere"), ("severity", severity)];
    assert_eq!(receivers_for(&config, &foreign("warning")), [SLACK_RECEIVER]);
    assert_eq!(receivers_for(&config, &foreign("info")), [NULL_RECEIVER]);
}

#[test]
fn test_stacks_reach_local_receivers() {
    use crate::api::SmtpTls;
    let mut stack = machineavatars();
    let routing = &mut stack.spec.alerting.routing;
    routing.pagerduty.url = Some("http://catcher.catchers.svc:8080/v2/enqueue".to_owned());
    routing.email.require_tls = Some(false);
    routing.email.tls = Some(SmtpTls {
        ca: Some(SecretKeyRef::new("smtp-ca", "ca.crt")),
        server_name: Some("catcher.catchers.svc".to_owned()),
        insecure_skip_verify: false,
    });
    let config = parsed(&stack);
    assert_eq!(config["global"]["pagerduty_url"], "http://catcher.catchers.svc:8080/v2/enqueue");
    assert_eq!(config["global"]["smtp_require_tls"], false);
    assert_eq!(
        config["global"]["smtp_tls_config"],
        serde_json::json!({"ca_file": "/etc/alertmanager/secrets/smtp-ca/ca.crt", "server_name": "catcher.catchers.svc"})
    );
    let objects = render(&stack).unwrap();
    let pod = &object(&objects, "StatefulSet", "machineavatars-alertmanager")["spec"]["template"]["spec"];
    assert!(
        pod["volumes"].as_array().unwrap().iter().any(|volume| volume["secret"]["secretName"] == "smtp-ca"),
        "the CA's Secret is mounted"
    );

    // The defaults leave all three to Alertmanager.
    let config = parsed(&machineavatars());
    for key in ["pagerduty_url", "smtp_require_tls", "smtp_tls_config"] {
        assert!(config["global"].get(key).is_none(), "{key} is not set by default");
    }
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
        levels: vec![crate::api::IncidentLevel::P0],
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
