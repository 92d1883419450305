//! Alertmanager: the seed's routing (email every alert, Slack `#alerts` warning and critical,
//! PagerDuty critical), the on-call escalation path and the incident levels in notification
//! titles, as `alertmanager.yml` in a ConfigMap, run by a StatefulSet that gossips between
//! replicas.
//!
//! Credentials never enter the configuration: every receiver reads them from files
//! (`smtp_auth_password_file`, `api_url_file`, `routing_key_file`) of Secrets mounted read-only
//! under [`SECRETS_DIRECTORY`]. A `prometheus-config-reloader` sidecar reloads a changed
//! configuration in place, so the pod template carries no config hash.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort};
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{
    ConfigReloader, ProbeTiming, config_map, config_map_volume, config_reloader, container_ports, empty_dir_volume,
    field_env, headless_service, http_probe, into_object, metadata, object_name, object_name_with, pod_selector,
    pod_template, resource_requirements, restricted_container_security, restricted_pod_spec, secret_volume, service,
    to_yaml, volume_mount,
};
use super::{Component, RenderError, ports};
use crate::api::{SecretKeyRef, Severity};
use crate::resolve::ResolvedStack;

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "alertmanager.yml";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIRECTORY: &str = "/etc/alertmanager/config";
/// Where each referenced Secret is mounted, as `<SECRETS_DIRECTORY>/<secret>/<key>`.
pub const SECRETS_DIRECTORY: &str = "/etc/alertmanager/secrets";
/// Silences and the notification log.
const STORAGE_DIRECTORY: &str = "/alertmanager";
/// `nobody`, the user of the upstream image.
const ALERTMANAGER_USER: i64 = 65534;
/// Alertmanager and its reloader get 3 seconds to answer a probe.
const PROBE_TIMEOUT_SECONDS: i32 = 3;

/// Receiver names of the seed's three channels.
pub const EMAIL_RECEIVER: &str = "email";
pub const SLACK_RECEIVER: &str = "slack";
pub const PAGERDUTY_RECEIVER: &str = "pagerduty";
/// Root receiver without integrations, for alerts no channel takes.
pub const NULL_RECEIVER: &str = "null";

/// Notification title: the incident level first, so on-call sees P0–P3 before anything else.
const TITLE: &str = r#"[{{ .CommonLabels.incident_level }}] {{ .Status | toUpper }}: {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }}{{ with .CommonLabels.service }}, {{ . }}{{ end }})"#;
/// Slack body: one line per alert.
const SLACK_TEXT: &str = r#"{{ range .Alerts }}{{ with .Annotations.summary }}{{ . }}{{ else }}{{ .Labels.alertname }}{{ end }}{{ with .Annotations.description }} — {{ . }}{{ end }}
{{ end }}"#;
/// PagerDuty event severity from the alert's (PagerDuty accepts critical, error, warning, info).
const PAGERDUTY_SEVERITY: &str = r#"{{ if eq .CommonLabels.severity "info" }}info{{ else if eq .CommonLabels.severity "warning" }}warning{{ else }}critical{{ end }}"#;

/// `alertmanager.yml`, with Alertmanager's own key names (`config/config.go`, `config/notifiers.go`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalConfig>,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
}

/// SMTP settings shared by every email configuration.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    pub smtp_smarthost: String,
    pub smtp_from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Route {
    pub receiver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_matching: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct InhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    pub equal: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
}

impl Receiver {
    fn empty(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            email_configs: Vec::new(),
            slack_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
        }
    }
}

/// One email notification; SMTP server, sender and credentials come from `global`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct EmailConfig {
    pub send_resolved: bool,
    pub to: String,
    pub headers: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SlackConfig {
    pub send_resolved: bool,
    pub api_url_file: String,
    pub channel: String,
    pub title: String,
    pub text: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PagerdutyConfig {
    pub send_resolved: bool,
    pub routing_key_file: String,
    pub description: String,
    pub severity: String,
    pub details: BTreeMap<String, String>,
}

/// Where a Secret key is mounted in the Alertmanager container.
pub fn secret_file(secret: &SecretKeyRef) -> String {
    format!("{SECRETS_DIRECTORY}/{}/{}", secret.name, secret.key)
}

/// A `matchers:` entry on `severity`: `=` for one value, `=~` joined by `|` (least severe first)
/// for several.
pub fn severity_matcher(severities: &[Severity]) -> String {
    let distinct: BTreeSet<Severity> = severities.iter().copied().collect();
    let values: Vec<&str> = distinct.iter().map(|severity| severity.as_str()).collect();
    match values.as_slice() {
        [one] => format!(r#"severity="{one}""#),
        several => format!(r#"severity=~"{}""#, several.join("|")),
    }
}

fn email_config(to: &[String]) -> EmailConfig {
    EmailConfig {
        send_resolved: true,
        to: to.join(", "),
        headers: BTreeMap::from([("Subject".to_owned(), TITLE.to_owned())]),
    }
}

fn pagerduty_config(routing_key: &SecretKeyRef) -> PagerdutyConfig {
    PagerdutyConfig {
        send_resolved: true,
        routing_key_file: secret_file(routing_key),
        description: TITLE.to_owned(),
        severity: PAGERDUTY_SEVERITY.to_owned(),
        details: BTreeMap::from([
            ("incident_level".to_owned(), "{{ .CommonLabels.incident_level }}".to_owned()),
            ("service".to_owned(), "{{ .CommonLabels.service }}".to_owned()),
        ]),
    }
}

fn child_route(receiver: &str, matcher: String) -> Route {
    Route {
        receiver: receiver.to_owned(),
        group_by: Vec::new(),
        matchers: vec![matcher],
        // Every channel sees the alert, not only the first route that matches.
        continue_matching: Some(true),
        group_wait: None,
        group_interval: None,
        repeat_interval: None,
        routes: Vec::new(),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> RenderError {
    RenderError::invalid(Component::Alertmanager, field, message)
}

/// Builds `alertmanager.yml` for the stack.
pub fn config(stack: &ResolvedStack) -> Result<AlertmanagerConfig, RenderError> {
    let routing = &stack.spec.alerting.routing;
    let email = &routing.email;
    let mut routes = Vec::new();
    let mut receivers = Vec::new();
    let mut sends_email = false;

    // Email takes every alert by default; it is also the root receiver then, so alerts without a
    // severity label still reach someone.
    let email_takes_everything = email.enabled
        && [Severity::Info, Severity::Warning, Severity::Critical]
            .iter()
            .all(|severity| email.severities.contains(severity));
    let root_receiver = if email_takes_everything { EMAIL_RECEIVER } else { NULL_RECEIVER };
    if !email_takes_everything {
        receivers.push(Receiver::empty(NULL_RECEIVER));
    }
    if email.enabled {
        routes.push(child_route(EMAIL_RECEIVER, severity_matcher(&email.severities)));
        // With no recipients the receiver exists but sends nothing (the status reports it).
        let mut receiver = Receiver::empty(EMAIL_RECEIVER);
        if !email.to.is_empty() {
            receiver.email_configs.push(email_config(&email.to));
            sends_email = true;
        }
        receivers.push(receiver);
    }

    let slack = &routing.slack;
    if slack.enabled {
        let api_url = slack
            .api_url
            .as_ref()
            .ok_or_else(|| invalid("alerting.routing.slack.apiUrl", "an enabled Slack receiver needs a Secret"))?;
        routes.push(child_route(SLACK_RECEIVER, severity_matcher(&slack.severities)));
        let mut receiver = Receiver::empty(SLACK_RECEIVER);
        receiver.slack_configs.push(SlackConfig {
            send_resolved: true,
            api_url_file: secret_file(api_url),
            channel: slack.channel.clone(),
            title: TITLE.to_owned(),
            text: SLACK_TEXT.to_owned(),
        });
        receivers.push(receiver);
    }

    let pagerduty = &routing.pagerduty;
    let pagerduty_key = if pagerduty.enabled {
        let key = pagerduty.routing_key.as_ref().ok_or_else(|| {
            invalid("alerting.routing.pagerduty.routingKey", "an enabled PagerDuty receiver needs a Secret")
        })?;
        routes.push(child_route(PAGERDUTY_RECEIVER, severity_matcher(&pagerduty.severities)));
        let mut receiver = Receiver::empty(PAGERDUTY_RECEIVER);
        receiver.pagerduty_configs.push(pagerduty_config(key));
        receivers.push(receiver);
        Some(key)
    } else {
        None
    };

    // Escalation of critical alerts: one route per step, whose group_wait is the step's delay.
    // Alertmanager sends a group's first notification only after group_wait, and only if an alert
    // of the group is still firing then, so a step is notified `after` the alert fired and only if
    // it was not resolved meanwhile. Alertmanager knows no acknowledgement: silencing the alert
    // is what stops the later steps.
    for (index, step) in routing.escalation.iter().enumerate() {
        let field = format!("alerting.routing.escalation[{index}].name");
        if receivers.iter().any(|receiver| receiver.name == step.name) {
            return Err(invalid(&field, format!("{:?} is already the name of another receiver", step.name)));
        }
        let mut route = child_route(&step.name, severity_matcher(&[Severity::Critical]));
        route.group_wait = Some(step.after.as_str().to_owned());
        routes.push(route);
        let mut receiver = Receiver::empty(&step.name);
        if !step.email.is_empty() {
            receiver.email_configs.push(email_config(&step.email));
            sends_email = true;
        }
        // A step that pages at once with the PagerDuty receiver's own key would duplicate that
        // receiver's page (a second incident, as the dedup key follows the route): only later
        // steps, or steps with their own key, page again.
        let immediate = step.after.to_millis() == Some(0);
        let key = match (&step.pagerduty_routing_key, pagerduty_key) {
            (Some(own), _) => Some(own),
            (None, Some(shared)) if !immediate => Some(shared),
            _ => None,
        };
        if let Some(key) = key {
            receiver.pagerduty_configs.push(pagerduty_config(key));
        }
        receivers.push(receiver);
    }

    let global = if sends_email {
        let smarthost = email.smarthost.clone().ok_or_else(|| {
            invalid(
                "alerting.routing.email.smarthost",
                "email recipients (also of escalation steps) need an SMTP server",
            )
        })?;
        let from = email.from.clone().ok_or_else(|| {
            invalid("alerting.routing.email.from", "email recipients (also of escalation steps) need a sender")
        })?;
        Some(GlobalConfig {
            smtp_smarthost: smarthost,
            smtp_from: from,
            smtp_auth_username: email.auth_username.clone(),
            smtp_auth_password_file: email.auth_password.as_ref().map(secret_file),
        })
    } else {
        None
    };

    Ok(AlertmanagerConfig {
        global,
        route: Route {
            receiver: root_receiver.to_owned(),
            group_by: routing.group_by.clone(),
            matchers: Vec::new(),
            continue_matching: None,
            group_wait: Some(routing.group_wait.as_str().to_owned()),
            group_interval: Some(routing.group_interval.as_str().to_owned()),
            repeat_interval: Some(routing.repeat_interval.as_str().to_owned()),
            routes,
        },
        // A critical alert silences the warning of the same signal on the same service.
        inhibit_rules: vec![InhibitRule {
            source_matchers: vec![severity_matcher(&[Severity::Critical])],
            target_matchers: vec![severity_matcher(&[Severity::Warning])],
            equal: vec!["signal".to_owned(), "namespace".to_owned(), "service".to_owned()],
        }],
        receivers,
    })
}

/// Every Secret key the configuration reads as a file, by Secret, deduplicated and sorted.
pub fn referenced_secrets(config: &AlertmanagerConfig) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: Vec<&str> = Vec::new();
    if let Some(password) = config.global.as_ref().and_then(|global| global.smtp_auth_password_file.as_deref()) {
        files.push(password);
    }
    for receiver in &config.receivers {
        files.extend(receiver.slack_configs.iter().map(|slack| slack.api_url_file.as_str()));
        files.extend(receiver.pagerduty_configs.iter().map(|pagerduty| pagerduty.routing_key_file.as_str()));
    }
    let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(SECRETS_DIRECTORY).unwrap_or(file).trim_start_matches('/');
        if let Some((secret, key)) = relative.split_once('/') {
            secrets.entry(secret.to_owned()).or_default().insert(key.to_owned());
        }
    }
    secrets
}

/// The headless Service giving each replica a stable name for gossip.
pub fn cluster_service_name(stack: &ResolvedStack) -> String {
    object_name_with(stack, Component::Alertmanager, "cluster")
}

/// Container arguments: config, storage, web and the gossip cluster of the replicas.
fn alertmanager_args(stack: &ResolvedStack) -> Vec<String> {
    let replicas = stack.spec.alerting.alertmanager.replicas;
    let mut args = vec![
        format!("--config.file={CONFIG_DIRECTORY}/{CONFIG_FILE}"),
        format!("--storage.path={STORAGE_DIRECTORY}"),
        format!("--web.listen-address=:{}", ports::ALERTMANAGER_HTTP),
        format!("--cluster.advertise-address=[$(POD_IP)]:{}", ports::ALERTMANAGER_CLUSTER),
    ];
    if replicas > 1 {
        args.push(format!("--cluster.listen-address=[$(POD_IP)]:{}", ports::ALERTMANAGER_CLUSTER));
        let name = object_name(stack, Component::Alertmanager);
        let domain = format!("{}.{}.svc", cluster_service_name(stack), stack.namespace);
        for ordinal in 0..replicas {
            args.push(format!("--cluster.peer={name}-{ordinal}.{domain}:{}", ports::ALERTMANAGER_CLUSTER));
        }
        // Forget a restarted peer's old address quickly (prometheus-operator does the same).
        args.push("--cluster.reconnect-timeout=5m".to_owned());
    } else {
        // A single replica has no peers: an empty listen address turns clustering off.
        args.push("--cluster.listen-address=".to_owned());
    }
    args
}

/// Renders the ConfigMap, the StatefulSet, its Service and the headless gossip Service.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let spec = &stack.spec.alerting.alertmanager;
    let name = object_name(stack, Component::Alertmanager);
    let config = config(stack)?;
    let files = BTreeMap::from([(CONFIG_FILE.to_owned(), to_yaml(Component::Alertmanager, CONFIG_FILE, &config)?)]);
    let mut objects =
        vec![into_object(Component::Alertmanager, config_map(stack, Component::Alertmanager, name.clone(), files))?];

    let mut volumes = vec![config_map_volume("config", &name), empty_dir_volume("data")];
    let mut mounts =
        vec![volume_mount("config", CONFIG_DIRECTORY, true), volume_mount("data", STORAGE_DIRECTORY, false)];
    for (index, (secret, keys)) in referenced_secrets(&config).iter().enumerate() {
        // Secret names may hold dots, volume names may not: volumes are numbered instead.
        let volume = format!("secret-{index}");
        let items: Vec<(&str, &str)> = keys.iter().map(|key| (key.as_str(), key.as_str())).collect();
        volumes.push(secret_volume(&volume, secret, &items));
        mounts.push(volume_mount(&volume, &format!("{SECRETS_DIRECTORY}/{secret}"), true));
    }

    let mut container_port_list =
        container_ports(&[("http", ports::ALERTMANAGER_HTTP), ("cluster", ports::ALERTMANAGER_CLUSTER)]);
    // Gossip (memberlist) uses UDP as well as TCP on the cluster port.
    container_port_list.push(ContainerPort {
        name: Some("cluster-udp".to_owned()),
        container_port: i32::from(ports::ALERTMANAGER_CLUSTER),
        protocol: Some("UDP".to_owned()),
        ..ContainerPort::default()
    });
    let alertmanager = Container {
        name: "alertmanager".to_owned(),
        image: Some(spec.image.as_str().to_owned()),
        args: Some(alertmanager_args(stack)),
        env: Some(vec![field_env("POD_IP", "status.podIP")]),
        ports: Some(container_port_list),
        liveness_probe: Some(http_probe("/-/healthy", "http", ProbeTiming::after(10).timeout(PROBE_TIMEOUT_SECONDS))),
        readiness_probe: Some(http_probe("/-/ready", "http", ProbeTiming::after(5).timeout(PROBE_TIMEOUT_SECONDS))),
        resources: resource_requirements(&spec.resources),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    // The sidecar that calls `/-/reload` when the mounted ConfigMap changes.
    let reloader = config_reloader(ConfigReloader {
        reload_port: ports::ALERTMANAGER_HTTP,
        watched: &[("config", CONFIG_DIRECTORY)],
        pod_name_env: true,
        cpu_limit: true,
        probe_timeout_seconds: PROBE_TIMEOUT_SECONDS,
    });
    let statefulset = StatefulSet {
        metadata: metadata(stack, Component::Alertmanager, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(spec.replicas).unwrap_or(1)),
            service_name: Some(cluster_service_name(stack)),
            // Replicas are peers, not a sequence: start them together.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: pod_selector(stack, Component::Alertmanager),
            // No config hash: the reloader applies a new configuration without a restart.
            template: pod_template(
                stack,
                Component::Alertmanager,
                None,
                restricted_pod_spec(ALERTMANAGER_USER, vec![alertmanager, reloader], volumes),
            ),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    objects.push(into_object(Component::Alertmanager, statefulset)?);
    objects.push(into_object(
        Component::Alertmanager,
        service(stack, Component::Alertmanager, name, &[("http", ports::ALERTMANAGER_HTTP)]),
    )?);
    objects.push(into_object(
        Component::Alertmanager,
        headless_service(
            stack,
            Component::Alertmanager,
            cluster_service_name(stack),
            &[("cluster", ports::ALERTMANAGER_CLUSTER)],
        ),
    )?);
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::defaults::images;
    use crate::api::{Environment, EscalationStep};
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
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
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
        assert_eq!(
            routes[0],
            (EMAIL_RECEIVER.to_owned(), vec![r#"severity=~"info|warning|critical""#.to_owned()], None)
        );
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
        let text = object(&objects, "ConfigMap", "machineavatars-alertmanager")["data"][CONFIG_FILE]
            .as_str()
            .unwrap()
            .to_owned();
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
        assert!(
            config["receivers"].as_array().unwrap().iter().all(|r| r["name"] != "slack" && r["name"] != "pagerduty")
        );
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
        let objects = render(&machineavatars()).unwrap();
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
        stack.spec.alerting.alertmanager.replicas = 3;
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
}
