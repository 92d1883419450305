//! Promtail (the default collector, as the seed describes it): a DaemonSet that tails the
//! kubelet's container log files on every node and pushes them to Loki.
//!
//! `promtail.yaml` carries the seed's settings exactly (positions file, job `containers` with
//! label `job: containerlogs` and `__path__: /var/log/containers/*log`). The pipeline, shared with
//! Alloy through [`LogPipeline`], parses the CRI file format, takes namespace, pod and container
//! from the file name, extracts the seed's JSON log fields, normalises the level, makes only
//! bounded fields labels (`level`, `service`, `log_type`), sends the ids as structured metadata,
//! uses the line's own timestamp, and drops DEBUG lines outside development.
//!
//! No RBAC: a static file target needs no Kubernetes API access (namespace, pod and container
//! come from the file name), so the ServiceAccount gets no role and no token.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Container, PodSecurityContext, PodSpec, Probe, SeccompProfile, SecurityContext, ServiceAccount, Toleration, Volume,
};
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{
    config_map, content_hash, into_object, metadata, object_name, pod_selector, service_account, strings, to_yaml,
};
use super::pod::{
    ProbeTiming, config_map_volume, container_ports, host_path_volume, http_probe, pod_template, resource_requirements,
    restricted_container_security, tcp_probe, volume_mount,
};
use super::{Component, RenderError, loki, ports};
use crate::api::LogLevel;
use crate::api::defaults as seed;
use crate::resolve::ResolvedStack;

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "promtail.yaml";
/// Where the ConfigMap is mounted.
const CONFIG_DIRECTORY: &str = "/etc/promtail";
/// Promtail's readiness endpoint.
pub(crate) const READY_PATH: &str = "/ready";
/// The node directory holding the kubelet's log files (`containers/` links into `pods/`).
pub(crate) const NODE_LOG_DIRECTORY: &str = "/var/log";
/// Where the collectors keep their state on the node, per stack and collector.
pub(crate) const NODE_STATE_ROOT: &str = "/var/lib/stackscope";

/// Regular expression over the kubelet's log file name,
/// `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`.
pub(crate) const FILENAME_REGEX: &str =
    r"^/var/log/containers/(?P<pod>[^_]+)_(?P<namespace>[^_]+)_(?P<container>.+)-[0-9a-f]{64}\.log$";
/// The label the file targets put the file's path in.
pub(crate) const FILENAME_LABEL: &str = "filename";
/// Labels taken from the file name.
pub(crate) const FILE_LABELS: [&str; 3] = ["namespace", "pod", "container"];
/// Label the CRI stage sets (`stdout` or `stderr`).
pub(crate) const STREAM_LABEL: &str = "stream";
/// Value of the `level` label for a level outside `spec.logging.levels`.
pub(crate) const UNKNOWN_LEVEL: &str = "unknown";
/// LogQL selector of the lines dropped outside development.
pub(crate) const DEBUG_SELECTOR: &str = r#"{level="DEBUG"}"#;
/// Reason counted in the collector's dropped-lines metric.
pub(crate) const DEBUG_REASON: &str = "debug_level";
/// The JSON field holding the line's time, and its format (the seed's `2025-12-30T10:30:15.123Z`).
pub(crate) const TIMESTAMP_FIELD: &str = "timestamp";
pub(crate) const TIMESTAMP_FORMAT: &str = "RFC3339Nano";

/// The log pipeline both collectors run, described once so Promtail and Alloy cannot diverge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogPipeline {
    /// Extracts [`FILE_LABELS`] from the [`FILENAME_LABEL`].
    pub filename_regex: String,
    /// Labels set from the file name.
    pub file_labels: Vec<String>,
    /// JSON fields extracted from the line: the seed's fields plus `log_type`.
    pub json_fields: Vec<String>,
    /// Go template turning the extracted level into an accepted upper-case level or `unknown`.
    pub level_template: String,
    /// Labels set from JSON fields: bounded values only.
    pub field_labels: Vec<String>,
    /// Every label a stream may carry; anything else (the file name) is removed.
    pub kept_labels: Vec<String>,
    /// Drop `{level="DEBUG"}` lines.
    pub drop_debug: bool,
    /// Fields sent as structured metadata (and kept in the line).
    pub structured_metadata: Vec<String>,
}

/// The Go template (Promtail's and Alloy's template stage) normalising the `level` field: trimmed
/// and upper-cased, kept when it is one of `levels`, else `unknown`; a line without a level gets
/// no level label (an empty result removes the field).
pub(crate) fn level_template(levels: &[LogLevel]) -> String {
    let mut accepted: Vec<LogLevel> = levels.to_vec();
    accepted.sort();
    accepted.dedup();
    let quoted: Vec<String> = accepted.iter().map(|level| format!("\"{}\"", level.as_str())).collect();
    format!(
        "{{{{ if .Value }}}}{{{{ $level := .Value | TrimSpace | ToUpper }}}}{{{{ if eq $level {} }}}}{{{{ $level }}}}{{{{ else }}}}{UNKNOWN_LEVEL}{{{{ end }}}}{{{{ end }}}}",
        quoted.join(" ")
    )
}

/// The stack's log pipeline, for the collector `component`.
pub(crate) fn pipeline(stack: &ResolvedStack, component: Component) -> Result<LogPipeline, RenderError> {
    let levels = &stack.spec.logging.levels;
    if levels.is_empty() {
        return Err(RenderError::invalid(
            component,
            "spec.logging.levels",
            "at least one level is needed to normalise the level label",
        ));
    }
    let mut json_fields = strings(&seed::LOG_FIELDS);
    json_fields.push(seed::LOG_TYPE_FIELD.to_owned());
    let mut field_labels = strings(&seed::LOG_LABEL_FIELDS);
    field_labels.push(seed::LOG_TYPE_FIELD.to_owned());
    let mut kept_labels = vec!["job".to_owned(), STREAM_LABEL.to_owned()];
    kept_labels.extend(strings(&FILE_LABELS));
    kept_labels.extend(field_labels.iter().cloned());
    Ok(LogPipeline {
        filename_regex: FILENAME_REGEX.to_owned(),
        file_labels: strings(&FILE_LABELS),
        json_fields,
        level_template: level_template(levels),
        field_labels,
        kept_labels,
        drop_debug: stack.drop_debug(),
        structured_metadata: strings(&seed::LOG_STRUCTURED_METADATA_FIELDS),
    })
}

/// The Promtail configuration file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PromtailConfig {
    pub server: ServerConfig,
    pub positions: PositionsConfig,
    pub clients: Vec<ClientConfig>,
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ServerConfig {
    pub http_listen_port: u16,
    /// 0: Promtail's gRPC server is not used.
    pub grpc_listen_port: u16,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PositionsConfig {
    pub filename: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ClientConfig {
    pub url: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ScrapeConfig {
    pub job_name: String,
    pub static_configs: Vec<StaticConfig>,
    pub pipeline_stages: Vec<Stage>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// One pipeline stage: exactly one field is set.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct Stage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cri: Option<CriStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<RegexStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateStage>,
    /// Label name → extracted field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labelallow: Option<Vec<String>>,
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<MatchStage>,
    /// Structured metadata name → extracted field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampStage>,
}

/// The CRI stage with Promtail's defaults (`cri: {}`).
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub(crate) struct CriStage {}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct RegexStage {
    pub expression: String,
    pub source: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct JsonStage {
    /// Extracted name → JMESPath expression.
    pub expressions: BTreeMap<String, String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TemplateStage {
    pub source: String,
    pub template: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct MatchStage {
    pub selector: String,
    pub action: String,
    pub drop_counter_reason: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct TimestampStage {
    pub source: String,
    pub format: String,
}

/// `name → name` for stages that read an extracted field into a label of the same name.
fn identity(names: &[String]) -> BTreeMap<String, String> {
    names.iter().map(|name| (name.clone(), name.clone())).collect()
}

/// The pipeline as Promtail stages, in order.
pub(crate) fn stages(pipeline: &LogPipeline) -> Vec<Stage> {
    let mut stages = vec![
        // The kubelet writes CRI-formatted files: time, stream, flags, then the line.
        Stage { cri: Some(CriStage {}), ..Stage::default() },
        Stage {
            regex: Some(RegexStage { expression: pipeline.filename_regex.clone(), source: FILENAME_LABEL.to_owned() }),
            ..Stage::default()
        },
        Stage { labels: Some(identity(&pipeline.file_labels)), ..Stage::default() },
        Stage { json: Some(JsonStage { expressions: identity(&pipeline.json_fields) }), ..Stage::default() },
        Stage {
            template: Some(TemplateStage {
                source: seed::LOG_LABEL_FIELDS[0].to_owned(),
                template: pipeline.level_template.clone(),
            }),
            ..Stage::default()
        },
        Stage { labels: Some(identity(&pipeline.field_labels)), ..Stage::default() },
        Stage { labelallow: Some(pipeline.kept_labels.clone()), ..Stage::default() },
    ];
    if pipeline.drop_debug {
        stages.push(Stage {
            match_: Some(MatchStage {
                selector: DEBUG_SELECTOR.to_owned(),
                action: "drop".to_owned(),
                drop_counter_reason: DEBUG_REASON.to_owned(),
            }),
            ..Stage::default()
        });
    }
    stages.push(Stage { structured_metadata: Some(identity(&pipeline.structured_metadata)), ..Stage::default() });
    stages.push(Stage {
        timestamp: Some(TimestampStage { source: TIMESTAMP_FIELD.to_owned(), format: TIMESTAMP_FORMAT.to_owned() }),
        ..Stage::default()
    });
    stages
}

/// Builds the Promtail configuration for the stack.
pub(crate) fn config(stack: &ResolvedStack) -> Result<PromtailConfig, RenderError> {
    let pipeline = pipeline(stack, Component::Promtail)?;
    Ok(PromtailConfig {
        server: ServerConfig { http_listen_port: ports::PROMTAIL_HTTP, grpc_listen_port: 0 },
        positions: PositionsConfig { filename: seed::PROMTAIL_POSITIONS_FILE.to_owned() },
        clients: vec![ClientConfig { url: loki::push_url(stack) }],
        scrape_configs: vec![ScrapeConfig {
            job_name: seed::PROMTAIL_JOB_NAME.to_owned(),
            static_configs: vec![StaticConfig {
                targets: vec!["localhost".to_owned()],
                labels: BTreeMap::from([
                    ("job".to_owned(), seed::PROMTAIL_JOB_LABEL.to_owned()),
                    ("__path__".to_owned(), seed::PROMTAIL_PATH_GLOB.to_owned()),
                ]),
            }],
            pipeline_stages: stages(&pipeline),
        }],
    })
}

/// The node directory where a collector of this stack keeps its state (positions), so a
/// restarted pod resumes where it stopped instead of re-sending or skipping lines.
pub(crate) fn node_state_directory(stack: &ResolvedStack, component: Component) -> String {
    format!("{NODE_STATE_ROOT}/{}-{}/{}", stack.namespace, stack.name, component.as_str())
}

/// Pod security of a log collector: the one exception to the restricted standard. The
/// kubelet's log files belong to root with mode 0640, so the collector runs as uid 0 to read
/// them; it gets no capability (root without `CAP_DAC_OVERRIDE` reads only what root owns), no
/// privilege escalation, a read-only root filesystem and the runtime's seccomp profile.
pub(crate) fn collector_pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(false),
        run_as_user: Some(0),
        run_as_group: Some(0),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), localhost_profile: None }),
        ..PodSecurityContext::default()
    }
}

/// Container security of a log collector: restricted in everything but the user (see
/// [`collector_pod_security`]).
pub(crate) fn collector_container_security() -> SecurityContext {
    SecurityContext { run_as_non_root: Some(false), run_as_user: Some(0), ..restricted_container_security() }
}

/// Tolerates every taint: logs of every node, control-plane and tainted pools included.
pub(crate) fn tolerate_every_taint() -> Vec<Toleration> {
    vec![Toleration { operator: Some("Exists".to_owned()), ..Toleration::default() }]
}

/// The collector's own ServiceAccount, without API access or a mounted token.
pub(crate) fn collector_service_account(stack: &ResolvedStack, component: Component) -> ServiceAccount {
    ServiceAccount { automount_service_account_token: Some(false), ..service_account(stack, component) }
}

/// Readiness on the collector's own endpoint, timed alike for both collectors.
pub(crate) fn collector_ready_probe(path: &str) -> Probe {
    http_probe(path, "http", ProbeTiming::after(10))
}

/// Liveness asks only whether the HTTP server answers: readiness and health also reflect Loki
/// being unreachable, which a restart of the collector would not fix.
pub(crate) fn collector_alive_probe() -> Probe {
    tcp_probe("http", ProbeTiming::after(10).failures(6))
}

/// A log collector's DaemonSet: a pod on every node, tainted ones included, under the
/// collector's ServiceAccount without a token, restarted when its configuration changes.
/// Promtail and Alloy differ only in their container and volumes.
pub(crate) fn collector_daemon_set(
    stack: &ResolvedStack,
    component: Component,
    config_hash: String,
    container: Container,
    volumes: Vec<Volume>,
) -> DaemonSet {
    let name = object_name(stack, component);
    let pod = PodSpec {
        containers: vec![container],
        service_account_name: Some(name.clone()),
        automount_service_account_token: Some(false),
        security_context: Some(collector_pod_security()),
        tolerations: Some(tolerate_every_taint()),
        volumes: Some(volumes),
        ..PodSpec::default()
    };
    DaemonSet {
        metadata: metadata(stack, component, name),
        spec: Some(DaemonSetSpec {
            selector: pod_selector(stack, component),
            template: pod_template(stack, component, Some(config_hash), pod),
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    }
}

/// Renders the ConfigMap, the ServiceAccount and the DaemonSet.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let promtail = &stack.spec.logging.promtail;
    let name = object_name(stack, Component::Promtail);
    let files = BTreeMap::from([(CONFIG_FILE.to_owned(), to_yaml(Component::Promtail, CONFIG_FILE, &config(stack)?)?)]);
    let hash = content_hash(&files);
    // The positions file (`/tmp/positions.yaml`, as the seed has it) lives on the node.
    let positions_directory = seed::PROMTAIL_POSITIONS_FILE.rsplit_once('/').map_or("/tmp", |(directory, _)| directory);

    let container = Container {
        name: "promtail".to_owned(),
        image: Some(promtail.image.as_str().to_owned()),
        args: Some(vec![format!("-config.file={CONFIG_DIRECTORY}/{CONFIG_FILE}")]),
        ports: Some(container_ports(&[("http", ports::PROMTAIL_HTTP)])),
        readiness_probe: Some(collector_ready_probe(READY_PATH)),
        liveness_probe: Some(collector_alive_probe()),
        resources: Some(resource_requirements(&promtail.resources, crate::api::defaults::resources::PROMTAIL)),
        security_context: Some(collector_container_security()),
        volume_mounts: Some(vec![
            volume_mount("config", CONFIG_DIRECTORY, true),
            volume_mount("positions", positions_directory, false),
            volume_mount("logs", NODE_LOG_DIRECTORY, true),
        ]),
        ..Container::default()
    };
    let volumes = vec![
        config_map_volume("config", &name),
        host_path_volume("positions", &node_state_directory(stack, Component::Promtail), "DirectoryOrCreate"),
        host_path_volume("logs", NODE_LOG_DIRECTORY, "Directory"),
    ];
    let daemonset = collector_daemon_set(stack, Component::Promtail, hash, container, volumes);
    Ok(vec![
        into_object(Component::Promtail, config_map(stack, Component::Promtail, name, files))?,
        into_object(Component::Promtail, collector_service_account(stack, Component::Promtail))?,
        into_object(Component::Promtail, daemonset)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Environment;
    use crate::render::common::CONFIG_HASH_ANNOTATION;
    use crate::render::fixtures::{machineavatars, minimal};

    fn text(stack: &ResolvedStack) -> String {
        to_yaml(Component::Promtail, CONFIG_FILE, &config(stack).unwrap()).unwrap()
    }

    fn parsed(stack: &ResolvedStack) -> serde_json::Value {
        serde_saphyr::from_str(&text(stack)).unwrap()
    }

    fn stages_of(config: &serde_json::Value) -> Vec<serde_json::Value> {
        config["scrape_configs"][0]["pipeline_stages"].as_array().unwrap().clone()
    }

    /// The stage names, in order.
    fn stage_names(config: &serde_json::Value) -> Vec<String> {
        stages_of(config)
            .iter()
            .map(|stage| {
                let keys: Vec<_> = stage.as_object().unwrap().keys().cloned().collect();
                assert_eq!(keys.len(), 1, "one stage per entry: {keys:?}");
                keys[0].clone()
            })
            .collect()
    }

    /// Every label any `labels` stage sets.
    fn label_names(config: &serde_json::Value) -> Vec<String> {
        let mut names: Vec<String> = stages_of(config)
            .iter()
            .filter_map(|stage| stage.get("labels").and_then(serde_json::Value::as_object))
            .flat_map(|labels| labels.keys().cloned())
            .collect();
        names.sort();
        names
    }

    fn daemonset(stack: &ResolvedStack) -> serde_json::Value {
        let objects = render(stack).unwrap();
        objects.iter().find(|o| o.types.as_ref().unwrap().kind == "DaemonSet").unwrap().data.clone()
    }

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn seed_settings_exactly() {
        let config = parsed(&machineavatars());
        assert_eq!(config["positions"]["filename"], "/tmp/positions.yaml");
        let job = &config["scrape_configs"][0];
        assert_eq!(config["scrape_configs"].as_array().unwrap().len(), 1);
        assert_eq!(job["job_name"], "containers");
        assert_eq!(
            job["static_configs"],
            serde_json::json!([{"targets": ["localhost"], "labels": {"job": "containerlogs", "__path__": "/var/log/containers/*log"}}])
        );
        assert_eq!(
            config["clients"],
            serde_json::json!([{"url": "http://machineavatars-loki.observability.svc:3100/loki/api/v1/push"}])
        );
        assert_eq!(config["server"]["http_listen_port"], 9080);
    }

    #[test]
    fn pipeline_parses_cri_then_file_name_then_json_fields() {
        let config = parsed(&machineavatars());
        assert_eq!(
            stage_names(&config),
            [
                "cri",
                "regex",
                "labels",
                "json",
                "template",
                "labels",
                "labelallow",
                "match",
                "structured_metadata",
                "timestamp"
            ]
        );
        let stages = stages_of(&config);
        assert_eq!(stages[0]["cri"], serde_json::json!({}));
        assert_eq!(stages[1]["regex"]["source"], "filename");
        let expressions = stages[3]["json"]["expressions"].as_object().unwrap();
        for field in seed::LOG_FIELDS.iter().chain([&"log_type"]) {
            assert_eq!(expressions[*field], *field, "json extracts {field}");
        }
        assert_eq!(expressions.len(), 11);
        assert_eq!(stages[4]["template"]["source"], "level");
        assert_eq!(
            stages[8]["structured_metadata"],
            serde_json::json!({"trace_id": "trace_id", "user_id": "user_id", "project_id": "project_id"})
        );
        assert_eq!(stages[9]["timestamp"], serde_json::json!({"source": "timestamp", "format": "RFC3339Nano"}));
    }

    #[test]
    fn only_bounded_fields_become_labels() {
        let config = parsed(&machineavatars());
        assert_eq!(label_names(&config), ["container", "level", "log_type", "namespace", "pod", "service"]);
        let allowed = stages_of(&config)[6]["labelallow"].clone();
        assert_eq!(
            allowed,
            serde_json::json!(["job", "stream", "namespace", "pod", "container", "level", "service", "log_type"])
        );
        let text = text(&machineavatars());
        for id in ["trace_id", "user_id", "project_id", "message", "duration_ms", "tokens"] {
            assert!(!allowed.to_string().contains(id), "{id} must never be a label");
        }
        assert!(text.contains("labelallow"), "the file name label is not kept");
    }

    #[test]
    fn file_name_regex_takes_namespace_pod_and_container() {
        let regex = regex::Regex::new(FILENAME_REGEX).unwrap();
        let file = format!(
            "/var/log/containers/response-3d-7d9f8b6c5-x2x9q_machineavatars_response-3d-{}.log",
            "ab".repeat(32)
        );
        let captures = regex.captures(&file).unwrap();
        assert_eq!(&captures["pod"], "response-3d-7d9f8b6c5-x2x9q");
        assert_eq!(&captures["namespace"], "machineavatars");
        assert_eq!(&captures["container"], "response-3d");
        assert!(regex.captures("/var/log/containers/not-a-kubelet-file.log").is_none());
    }

    #[test]
    fn level_template_accepts_the_configured_levels_only() {
        let template = level_template(&LogLevel::ALL);
        assert_eq!(
            template,
            r#"{{ if .Value }}{{ $level := .Value | TrimSpace | ToUpper }}{{ if eq $level "DEBUG" "INFO" "WARN" "ERROR" "FATAL" }}{{ $level }}{{ else }}unknown{{ end }}{{ end }}"#
        );
        let narrow = level_template(&[LogLevel::Error, LogLevel::Info, LogLevel::Error]);
        assert!(narrow.contains(r#"eq $level "INFO" "ERROR" }}"#), "{narrow}");

        let mut stack = minimal(Environment::Staging);
        stack.spec.logging.levels = vec![LogLevel::Warn];
        assert!(text(&stack).contains(r#"eq $level \"WARN\" }}"#));
        stack.spec.logging.levels.clear();
        assert!(
            matches!(render(&stack), Err(RenderError::Invalid { error, .. }) if error.path == "spec.logging.levels")
        );
    }

    #[test]
    fn debug_is_dropped_except_in_development() {
        for environment in [Environment::Production, Environment::Staging] {
            let config = parsed(&minimal(environment));
            let drop = stages_of(&config).into_iter().find_map(|stage| stage.get("match").cloned()).unwrap();
            assert_eq!(
                drop,
                serde_json::json!({"selector": "{level=\"DEBUG\"}", "action": "drop", "drop_counter_reason": "debug_level"})
            );
        }
        let development = minimal(Environment::Development);
        assert!(!stage_names(&parsed(&development)).contains(&"match".to_owned()));
        assert!(!text(&development).contains("drop"), "development keeps DEBUG");

        let mut kept = minimal(Environment::Production);
        kept.spec.logging.drop_debug = Some(false);
        assert!(!text(&kept).contains("drop"));
        let mut dropped = minimal(Environment::Development);
        dropped.spec.logging.drop_debug = Some(true);
        assert!(text(&dropped).contains("action: drop"));
    }

    #[test]
    fn daemonset_reads_node_logs_and_keeps_positions_on_the_node() {
        let stack = machineavatars();
        let daemonset = daemonset(&stack);
        let pod = &daemonset["spec"]["template"]["spec"];
        assert_eq!(pod["tolerations"], serde_json::json!([{"operator": "Exists"}]));
        assert_eq!(pod["serviceAccountName"], "machineavatars-promtail");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(
            pod["volumes"][1],
            serde_json::json!({"name": "positions", "hostPath": {"path": "/var/lib/stackscope/observability-machineavatars/promtail", "type": "DirectoryOrCreate"}})
        );
        assert_eq!(
            pod["volumes"][2],
            serde_json::json!({"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}})
        );
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "grafana/promtail:3.5.7");
        assert_eq!(container["args"], serde_json::json!(["-config.file=/etc/promtail/promtail.yaml"]));
        assert_eq!(
            container["volumeMounts"],
            serde_json::json!([
                {"name": "config", "mountPath": "/etc/promtail", "readOnly": true},
                {"name": "positions", "mountPath": "/tmp"},
                {"name": "logs", "mountPath": "/var/log", "readOnly": true},
            ])
        );
        assert_eq!(container["ports"][0]["containerPort"], 9080);
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
        assert!(container["livenessProbe"]["tcpSocket"].is_object());
        let security = &container["securityContext"];
        assert_eq!(security["runAsUser"], 0);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    }

    #[test]
    fn no_rbac_and_config_changes_roll_the_pods() {
        let stack = machineavatars();
        let objects = render(&stack).unwrap();
        let kinds: Vec<_> = objects.iter().map(|o| o.types.as_ref().unwrap().kind.as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "ServiceAccount", "DaemonSet"]);
        assert_eq!(objects[1].data["automountServiceAccountToken"], false);
        let hash = |stack: &ResolvedStack| {
            daemonset(stack)["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].clone()
        };
        let mut changed = stack.clone();
        changed.spec.logging.drop_debug = Some(false);
        assert!(hash(&stack).is_string());
        assert_ne!(hash(&stack), hash(&changed));
    }
}
