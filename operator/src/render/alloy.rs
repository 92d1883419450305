//! Grafana Alloy, Promtail's successor (`spec.logging.collector: alloy`): the same DaemonSet
//! shape and the same pipeline as Promtail ([`promtail::LogPipeline`]), written in Alloy's own
//! configuration syntax:
//!
//! `local.file_match` (the seed's path and `job` label) → `loki.source.file` → `loki.process`
//! (CRI, file-name labels, JSON fields, level normalisation, labels, structured metadata,
//! timestamp, DEBUG dropped outside development) → `loki.write` to Loki's push URL.
//!
//! The file is text built by [`AlloyWriter`], which quotes every string with Alloy's escapes, so
//! any value (a regular expression, a template) reaches Alloy unchanged. Like Promtail, Alloy
//! needs no Kubernetes API access here, so it gets a ServiceAccount without roles or token.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Container;
use kube::api::DynamicObject;

use super::common::{config_map, content_hash, into_object, object_name};
use super::pod::{
    config_map_volume, container_ports, empty_dir_volume, host_path_volume, resource_requirements, volume_mount,
};
use super::promtail::{
    self, DEBUG_REASON, DEBUG_SELECTOR, FILENAME_LABEL, LogPipeline, NODE_LOG_DIRECTORY, TIMESTAMP_FIELD,
    TIMESTAMP_FORMAT,
};
use super::{Component, RenderError, loki, ports};
use crate::api::defaults as seed;
use crate::resolve::ResolvedStack;

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "config.alloy";
/// Where the ConfigMap is mounted.
const CONFIG_DIRECTORY: &str = "/etc/alloy";
/// Alloy's `--storage.path` (file positions, WAL), a node directory that survives restarts.
pub(crate) const STORAGE_DIRECTORY: &str = "/var/lib/alloy/data";
/// Alloy's readiness endpoint.
pub(crate) const READY_PATH: &str = "/-/ready";
/// Label of the file components and of the processing pipeline.
const PIPELINE: &str = "containers";
/// Label of the `loki.write` component.
const WRITER: &str = "loki";

/// A value of an Alloy attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string literal, quoted and escaped when written.
    String(String),
    /// An expression written as is: only references to other components' exports, built from
    /// this module's constants (`loki.write.loki.receiver`).
    Reference(String),
    /// A list.
    List(Vec<Value>),
    /// An object; keys are written as quoted strings, in the given order.
    Object(Vec<(String, Value)>),
}

impl Value {
    fn string(text: &str) -> Self {
        Self::String(text.to_owned())
    }

    /// An object mapping each name to the same name (label ← extracted field of that name).
    fn identity(names: &[String]) -> Self {
        Self::Object(names.iter().map(|name| (name.clone(), Self::String(name.clone()))).collect())
    }
}

/// Quotes a string the way Alloy reads it: double quotes, Go-style escapes for `"`, `\` and
/// control characters; everything else (any Unicode) as is.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{07}' => quoted.push_str("\\a"),
            '\u{08}' => quoted.push_str("\\b"),
            '\u{0b}' => quoted.push_str("\\v"),
            '\u{0c}' => quoted.push_str("\\f"),
            // Control characters are all below U+FFFF, so four hex digits suffice.
            control if control.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// One statement of an Alloy body.
#[derive(Debug, Clone, PartialEq)]
enum Statement {
    Comment(String),
    Attribute(String, Value),
    Block { name: String, label: Option<String>, body: AlloyWriter },
}

/// Writes Alloy configuration text the way `alloy fmt` prints it: tab indentation, `=` aligned
/// across consecutive one-line attributes and object fields, blank lines around blocks, and
/// multi-line lists and objects with trailing commas. A writer is one body (the file, or a
/// block's contents); [`AlloyWriter::finish`] prints it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AlloyWriter {
    statements: Vec<Statement>,
}

impl AlloyWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `//` comment, one per line of `text`.
    pub(crate) fn comment(&mut self, text: &str) {
        self.statements.push(Statement::Comment(text.to_owned()));
    }

    /// An attribute `name = value`. `name` is an identifier of this module's constants.
    pub(crate) fn attribute(&mut self, name: &str, value: Value) {
        self.statements.push(Statement::Attribute(name.to_owned(), value));
    }

    /// A block `name "label" { ... }` whose contents `body` writes (`name { }` when empty).
    pub(crate) fn block(&mut self, name: &str, label: Option<&str>, body: impl FnOnce(&mut Self)) {
        let mut inner = Self::new();
        body(&mut inner);
        self.statements.push(Statement::Block { name: name.to_owned(), label: label.map(str::to_owned), body: inner });
    }

    /// The finished text.
    pub(crate) fn finish(&self) -> String {
        let mut text = String::new();
        self.print(&mut text, 0);
        text
    }

    fn print(&self, text: &mut String, depth: usize) {
        // Key widths for alignment; anything but a one-line attribute breaks a run.
        let entries: Vec<(usize, bool)> = self
            .statements
            .iter()
            .map(|statement| match statement {
                Statement::Attribute(name, value) => (name.chars().count(), is_one_line(value)),
                _ => (0, false),
            })
            .collect();
        let mut previous: Option<&Statement> = None;
        for (index, statement) in self.statements.iter().enumerate() {
            let is_block = matches!(statement, Statement::Block { .. });
            if previous.is_some_and(|previous| is_block || matches!(previous, Statement::Block { .. })) {
                text.push('\n');
            }
            match statement {
                Statement::Comment(comment) => {
                    for line in comment.lines() {
                        indent(text, depth);
                        text.push_str("//");
                        if !line.is_empty() {
                            text.push(' ');
                            text.push_str(line);
                        }
                        text.push('\n');
                    }
                }
                Statement::Attribute(name, value) => {
                    let width = aligned_width(&entries, index);
                    indent(text, depth);
                    text.push_str(name);
                    pad(text, width.saturating_sub(name.chars().count()));
                    text.push_str(" = ");
                    print_value(text, value, depth);
                    text.push('\n');
                }
                Statement::Block { name, label, body } => {
                    indent(text, depth);
                    text.push_str(name);
                    if let Some(label) = label {
                        text.push(' ');
                        text.push_str(&quote(label));
                    }
                    if body.statements.is_empty() {
                        text.push_str(" { }\n");
                    } else {
                        text.push_str(" {\n");
                        body.print(text, depth + 1);
                        indent(text, depth);
                        text.push_str("}\n");
                    }
                }
            }
            previous = Some(statement);
        }
    }
}

/// The width the key at `index` is padded to: the widest key of the run of consecutive one-line
/// entries around it (an entry with a multi-line value stands alone), as `alloy fmt` aligns `=`.
fn aligned_width(entries: &[(usize, bool)], index: usize) -> usize {
    let (own, one_line) = entries[index];
    if !one_line {
        return own;
    }
    let start = entries[..index].iter().rposition(|(_, one)| !one).map_or(0, |position| position + 1);
    let end = entries[index..].iter().position(|(_, one)| !one).map_or(entries.len(), |position| index + position);
    entries[start..end].iter().map(|(width, _)| *width).max().unwrap_or(own)
}

fn indent(text: &mut String, depth: usize) {
    for _ in 0..depth {
        text.push('\t');
    }
}

fn pad(text: &mut String, spaces: usize) {
    for _ in 0..spaces {
        text.push(' ');
    }
}

/// Whether a value prints on one line: scalars, and lists of scalars.
fn is_one_line(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Reference(_) => true,
        Value::List(items) => items.iter().all(|item| matches!(item, Value::String(_) | Value::Reference(_))),
        Value::Object(fields) => fields.is_empty(),
    }
}

fn print_value(text: &mut String, value: &Value, depth: usize) {
    match value {
        Value::String(string) => text.push_str(&quote(string)),
        Value::Reference(expression) => text.push_str(expression),
        Value::List(items) if is_one_line(value) => {
            text.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                print_value(text, item, depth);
            }
            text.push(']');
        }
        Value::List(items) => {
            text.push_str("[\n");
            for item in items {
                indent(text, depth + 1);
                print_value(text, item, depth + 1);
                text.push_str(",\n");
            }
            indent(text, depth);
            text.push(']');
        }
        Value::Object(fields) if fields.is_empty() => text.push_str("{}"),
        Value::Object(fields) => {
            text.push_str("{\n");
            let keys: Vec<String> = fields.iter().map(|(key, _)| quote(key)).collect();
            let entries: Vec<(usize, bool)> =
                fields.iter().zip(&keys).map(|((_, field), key)| (key.chars().count(), is_one_line(field))).collect();
            for (index, ((_, field), key)) in fields.iter().zip(&keys).enumerate() {
                let width = aligned_width(&entries, index);
                indent(text, depth + 1);
                text.push_str(key);
                pad(text, width.saturating_sub(key.chars().count()));
                text.push_str(" = ");
                print_value(text, field, depth + 1);
                text.push_str(",\n");
            }
            indent(text, depth);
            text.push('}');
        }
    }
}

/// The `loki.process` stages of the pipeline, in the same order as Promtail's.
fn write_stages(writer: &mut AlloyWriter, pipeline: &LogPipeline) {
    // The kubelet writes CRI-formatted files: time, stream, flags, then the line.
    writer.block("stage.cri", None, |_| {});
    writer.block("stage.regex", None, |w| {
        w.attribute("expression", Value::String(pipeline.filename_regex.clone()));
        w.attribute("source", Value::string(FILENAME_LABEL));
    });
    writer.block("stage.labels", None, |w| w.attribute("values", Value::identity(&pipeline.file_labels)));
    writer.block("stage.json", None, |w| w.attribute("expressions", Value::identity(&pipeline.json_fields)));
    writer.block("stage.template", None, |w| {
        w.attribute("source", Value::string(seed::LOG_LABEL_FIELDS[0]));
        w.attribute("template", Value::String(pipeline.level_template.clone()));
    });
    writer.block("stage.labels", None, |w| w.attribute("values", Value::identity(&pipeline.field_labels)));
    writer.block("stage.label_keep", None, |w| {
        w.attribute("values", Value::List(pipeline.kept_labels.iter().map(|label| Value::string(label)).collect()));
    });
    if pipeline.drop_debug {
        writer.block("stage.match", None, |w| {
            w.attribute("selector", Value::string(DEBUG_SELECTOR));
            w.attribute("action", Value::string("drop"));
            w.attribute("drop_counter_reason", Value::string(DEBUG_REASON));
        });
    }
    writer.block("stage.structured_metadata", None, |w| {
        w.attribute("values", Value::identity(&pipeline.structured_metadata));
    });
    writer.block("stage.timestamp", None, |w| {
        w.attribute("source", Value::string(TIMESTAMP_FIELD));
        w.attribute("format", Value::string(TIMESTAMP_FORMAT));
    });
}

/// `config.alloy` for the stack.
pub(crate) fn config(stack: &ResolvedStack) -> Result<String, RenderError> {
    let pipeline = promtail::pipeline(stack, Component::Alloy)?;
    let mut writer = AlloyWriter::new();
    writer.comment(&format!(
        "Rendered by stackscope for ObservabilityStack {}/{}: change the stack, not this file.",
        stack.namespace, stack.name
    ));
    writer.block("local.file_match", Some(PIPELINE), |w| {
        w.attribute(
            "path_targets",
            Value::List(vec![Value::Object(vec![
                ("__path__".to_owned(), Value::string(seed::PROMTAIL_PATH_GLOB)),
                ("job".to_owned(), Value::string(seed::PROMTAIL_JOB_LABEL)),
            ])]),
        );
    });
    writer.block("loki.source.file", Some(PIPELINE), |w| {
        w.attribute("targets", Value::Reference(format!("local.file_match.{PIPELINE}.targets")));
        w.attribute("forward_to", Value::List(vec![Value::Reference(format!("loki.process.{PIPELINE}.receiver"))]));
    });
    writer.block("loki.process", Some(PIPELINE), |w| {
        w.attribute("forward_to", Value::List(vec![Value::Reference(format!("loki.write.{WRITER}.receiver"))]));
        write_stages(w, &pipeline);
    });
    writer.block("loki.write", Some(WRITER), |w| {
        w.block("endpoint", None, |endpoint| endpoint.attribute("url", Value::String(loki::push_url(stack))));
    });
    Ok(writer.finish())
}

/// Renders the ConfigMap, the ServiceAccount and the DaemonSet.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let alloy = &stack.spec.logging.alloy;
    let name = object_name(stack, Component::Alloy);
    let files = BTreeMap::from([(CONFIG_FILE.to_owned(), config(stack)?)]);
    let hash = content_hash(&files);

    let container = Container {
        name: "alloy".to_owned(),
        image: Some(alloy.image.as_str().to_owned()),
        args: Some(vec![
            "run".to_owned(),
            format!("{CONFIG_DIRECTORY}/{CONFIG_FILE}"),
            format!("--storage.path={STORAGE_DIRECTORY}"),
            // The default listens on 127.0.0.1 only, out of the kubelet's reach for probes.
            format!("--server.http.listen-addr=0.0.0.0:{}", ports::ALLOY_HTTP),
            "--disable-reporting".to_owned(),
        ]),
        ports: Some(container_ports(&[("http", ports::ALLOY_HTTP)])),
        readiness_probe: Some(promtail::collector_ready_probe(READY_PATH)),
        liveness_probe: Some(promtail::collector_alive_probe()),
        resources: Some(resource_requirements(&alloy.resources, crate::api::defaults::resources::ALLOY)),
        security_context: Some(promtail::collector_container_security()),
        volume_mounts: Some(vec![
            volume_mount("config", CONFIG_DIRECTORY, true),
            volume_mount("storage", STORAGE_DIRECTORY, false),
            volume_mount("logs", NODE_LOG_DIRECTORY, true),
            volume_mount("tmp", "/tmp", false),
        ]),
        ..Container::default()
    };
    let volumes = vec![
        config_map_volume("config", &name),
        host_path_volume("storage", &promtail::node_state_directory(stack, Component::Alloy), "DirectoryOrCreate"),
        host_path_volume("logs", NODE_LOG_DIRECTORY, "Directory"),
        empty_dir_volume("tmp"),
    ];
    let daemonset = promtail::collector_daemon_set(stack, Component::Alloy, hash, container, volumes);
    Ok(vec![
        into_object(Component::Alloy, config_map(stack, Component::Alloy, name, files))?,
        into_object(Component::Alloy, promtail::collector_service_account(stack, Component::Alloy))?,
        into_object(Component::Alloy, daemonset)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Collector, Environment};
    use crate::render::common::CONFIG_HASH_ANNOTATION;
    use crate::render::fixtures::{machineavatars, minimal};

    fn with_alloy(mut stack: ResolvedStack) -> ResolvedStack {
        stack.spec.logging.collector = Collector::Alloy;
        stack
    }

    /// Reads back a string [`quote`] wrote (the subset of Go escapes it uses).
    fn unquote(quoted: &str) -> String {
        let inner = quoted.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap();
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'a' => out.push('\u{07}'),
                'b' => out.push('\u{08}'),
                'v' => out.push('\u{0b}'),
                'f' => out.push('\u{0c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => out.push(other),
            }
        }
        out
    }

    /// The quoted value of the first `name = "..."` attribute (`=` may be aligned).
    fn attribute(config: &str, name: &str) -> String {
        config
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(" = ")?;
                (key.trim() == name).then(|| unquote(value))
            })
            .unwrap()
    }

    /// The block headers (`name` or `name "label"`), in order.
    fn blocks(config: &str) -> Vec<String> {
        config
            .lines()
            .map(str::trim)
            .filter(|line| *line != "{" && line.ends_with('{') && !line.contains('=') || line.ends_with("{ }"))
            .map(|line| line.trim_end_matches("{ }").trim_end_matches('{').trim().to_owned())
            .collect()
    }

    /// The text with every run of whitespace (alignment, indentation, newlines) as one space.
    fn flat(config: &str) -> String {
        config.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn golden_example() {
        let stack = with_alloy(machineavatars());
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&stack).unwrap()).unwrap());
    }

    #[test]
    fn tab_indented_config_survives_the_yaml_of_its_config_map() {
        let stack = with_alloy(machineavatars());
        let objects = render(&stack).unwrap();
        let yaml = crate::render::common::to_yaml(Component::Alloy, "ConfigMap", &objects[0]).unwrap();
        let parsed: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        let config = config(&stack).unwrap();
        assert!(config.contains("\tstage.cri { }\n"));
        assert_eq!(parsed["data"][CONFIG_FILE], config.as_str());
    }

    #[test]
    fn strings_are_quoted_with_alloys_escapes() {
        assert_eq!(quote("plain"), r#""plain""#);
        assert_eq!(quote(r#"{level="DEBUG"}"#), r#""{level=\"DEBUG\"}""#);
        assert_eq!(quote(r"a\.b"), r#""a\\.b""#);
        assert_eq!(quote("line\nnext\ttab\r\u{07}\u{08}\u{0b}\u{0c}"), r#""line\nnext\ttab\r\a\b\v\f""#);
        assert_eq!(quote("nul\u{0}del\u{7f}c1\u{85}"), r#""nul\u0000del\u007fc1\u0085""#);
        assert_eq!(quote("ünïcode ✓ {{ $x }}"), "\"ünïcode ✓ {{ $x }}\"");
        for text in ["", "\"\\\"", "mixed \\n literal and \n real", "\u{1}\u{1f}"] {
            assert_eq!(unquote(&quote(text)), text);
        }
    }

    #[test]
    fn writer_prints_like_alloy_fmt() {
        let mut writer = AlloyWriter::new();
        writer.comment("first\n\nthird");
        writer.block("outer", Some("a \"label\""), |w| {
            w.attribute("list", Value::List(vec![Value::string("x"), Value::Reference("a.b.c".to_owned())]));
            w.attribute("longer_name", Value::Object(Vec::new()));
            w.attribute(
                "objects",
                Value::List(vec![Value::Object(vec![
                    ("k".to_owned(), Value::string("v")),
                    ("key".to_owned(), Value::string("w")),
                ])]),
            );
            w.block("empty", None, |_| {});
            w.attribute("after", Value::string("block"));
        });
        assert_eq!(
            writer.finish(),
            concat!(
                "// first\n//\n// third\n",
                "\n",
                "outer \"a \\\"label\\\"\" {\n",
                "\tlist        = [\"x\", a.b.c]\n",
                "\tlonger_name = {}\n",
                "\tobjects = [\n\t\t{\n\t\t\t\"k\"   = \"v\",\n\t\t\t\"key\" = \"w\",\n\t\t},\n\t]\n",
                "\n",
                "\tempty { }\n",
                "\n",
                "\tafter = \"block\"\n",
                "}\n",
            )
        );
    }

    #[test]
    fn components_chain_from_files_to_loki() {
        let config = config(&with_alloy(machineavatars())).unwrap();
        assert_eq!(
            blocks(&config),
            [
                r#"local.file_match "containers""#,
                r#"loki.source.file "containers""#,
                r#"loki.process "containers""#,
                "stage.cri",
                "stage.regex",
                "stage.labels",
                "stage.json",
                "stage.template",
                "stage.labels",
                "stage.label_keep",
                "stage.match",
                "stage.structured_metadata",
                "stage.timestamp",
                r#"loki.write "loki""#,
                "endpoint",
            ]
        );
        let flat = flat(&config);
        assert!(flat.contains(r#""__path__" = "/var/log/containers/*log", "job" = "containerlogs","#));
        assert!(
            flat.contains(
                "targets = local.file_match.containers.targets forward_to = [loki.process.containers.receiver]"
            )
        );
        assert!(flat.contains("forward_to = [loki.write.loki.receiver]"));
        assert_eq!(attribute(&config, "url"), "http://machineavatars-loki.observability.svc:3100/loki/api/v1/push");
    }

    #[test]
    fn pipeline_matches_promtails() {
        let stack = with_alloy(machineavatars());
        let config = config(&stack).unwrap();
        let pipeline = promtail::pipeline(&stack, Component::Alloy).unwrap();
        assert_eq!(attribute(&config, "expression"), pipeline.filename_regex);
        assert_eq!(attribute(&config, "template"), pipeline.level_template);
        assert_eq!(attribute(&config, "selector"), r#"{level="DEBUG"}"#);
        for field in pipeline.json_fields.iter() {
            assert!(flat(&config).contains(&format!("\"{field}\" = \"{field}\",")), "json extracts {field}");
        }
        let metadata =
            config.split("stage.structured_metadata").nth(1).unwrap().split("stage.timestamp").next().unwrap();
        for id in ["trace_id", "user_id", "project_id"] {
            assert!(metadata.contains(id));
        }
        let labels: Vec<&str> = config.split("stage.labels").skip(1).map(|s| s.split('}').next().unwrap()).collect();
        for id in ["trace_id", "user_id", "project_id", "message", "duration_ms"] {
            assert!(labels.iter().all(|block| !block.contains(id)), "{id} is not a label");
        }
        assert!(config.contains(
            r#"values = ["job", "stream", "namespace", "pod", "container", "level", "service", "log_type"]"#
        ));
        assert_eq!(attribute(&config, "format"), "RFC3339Nano");
    }

    #[test]
    fn debug_is_kept_in_development() {
        let development = config(&with_alloy(minimal(Environment::Development))).unwrap();
        assert!(!development.contains("stage.match") && !development.contains("drop"));
        let staging = config(&with_alloy(minimal(Environment::Staging))).unwrap();
        assert!(flat(&staging).contains(r#"action = "drop""#));
    }

    #[test]
    fn daemonset_runs_alloy_on_every_node_with_storage_on_the_node() {
        let stack = with_alloy(machineavatars());
        let objects = render(&stack).unwrap();
        let kinds: Vec<_> = objects.iter().map(|o| o.types.as_ref().unwrap().kind.as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "ServiceAccount", "DaemonSet"]);
        let pod = &objects[2].data["spec"]["template"]["spec"];
        assert_eq!(pod["tolerations"], serde_json::json!([{"operator": "Exists"}]));
        assert_eq!(pod["automountServiceAccountToken"], false);
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "grafana/alloy:v1.11.3");
        assert_eq!(
            container["args"],
            serde_json::json!([
                "run",
                "/etc/alloy/config.alloy",
                "--storage.path=/var/lib/alloy/data",
                "--server.http.listen-addr=0.0.0.0:12345",
                "--disable-reporting"
            ])
        );
        assert_eq!(container["ports"][0]["containerPort"], 12345);
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/-/ready");
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(
            pod["volumes"][1]["hostPath"],
            serde_json::json!({"path": "/var/lib/stackscope/observability-machineavatars/alloy", "type": "DirectoryOrCreate"})
        );
        assert!(objects[2].data["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].is_string());
    }
}
