//! The upstream engines judge the rendered configuration of every stack variant
//! (`stackscope_tests::variants`): `promtool check config` and `promtool check rules`,
//! `amtool check-config` and `amtool config routes test`, `jaeger validate`, and Thanos running
//! its Store Gateway, Query, compactor and sidecar with the rendered arguments. Each engine is the
//! pinned build of the version the stack's images run (`tools/build-tools.sh`).
//!
//! Files are laid out as the pod sees them: the container's volume mounts are read from the
//! rendered workload and recreated under a temporary root (the rendered ConfigMaps with their
//! files, a placeholder file for each projected Secret key, the service-account token when the
//! pod mounts it), and the engine is pointed at the file the container's own `--config` flag
//! names. A configuration that names a file no volume provides therefore fails here as it would
//! in the pod. Every check of every variant runs and all failures are reported together, each
//! naming the variant, the file and what the engine said.
//!
//! The deliberately broken renders at the end show that each engine check can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use stackscope::api::{Channel, RoutingSpec, Severity};
use stackscope::render::Component;
use stackscope::render::alertmanager::{
    DEAD_MANS_SWITCH_RECEIVER, EMAIL_RECEIVER, NULL_RECEIVER, PAGERDUTY_RECEIVER, SLACK_RECEIVER,
};
use stackscope_tests::tools::binary;
use stackscope_tests::variants::{self, Variant};
use stackscope_tests::{Rendered, loopback_address, seed};

/// Longest any single engine run may take before the test gives up on it.
const ENGINE_DEADLINE: Duration = Duration::from_secs(60);
/// Where Kubernetes mounts a pod's service-account token, CA and namespace.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Every variant, rendered once for all tests of this file.
fn all_variants() -> &'static [Variant] {
    static VARIANTS: OnceLock<Vec<Variant>> = OnceLock::new();
    VARIANTS.get_or_init(|| variants::all().unwrap_or_else(|error| panic!("{error}")))
}

/// Runs `check` on every variant; fails with every failure, or when fewer than two variants render
/// the component (a check that sees nothing proves nothing).
fn for_every_variant(what: &str, check: impl Fn(&Variant) -> Result<Checked, String>) {
    let mut failures = Vec::new();
    let mut checked = Vec::new();
    for variant in all_variants() {
        match check(variant) {
            Ok(Checked::Yes) => checked.push(variant.name),
            Ok(Checked::NotRendered) => {}
            Err(error) => failures.push(format!("variant {}: {error}", variant.name)),
        }
    }
    assert!(failures.is_empty(), "{what}: {} variant(s) fail:\n\n{}", failures.len(), failures.join("\n\n"));
    assert!(checked.len() >= 2, "{what}: only {checked:?} render this component; the check must see it");
}

/// Whether a variant's check ran: a component a variant turns off has nothing to judge.
enum Checked {
    Yes,
    NotRendered,
}

// ---------------------------------------------------------------------------------------------
// Running an engine
// ---------------------------------------------------------------------------------------------

/// What an engine said about a file.
struct Verdict {
    success: bool,
    /// stdout then stderr, as one text to quote.
    output: String,
    /// stdout alone.
    stdout: String,
}

/// Runs a program to completion within [`ENGINE_DEADLINE`], capturing its output in files (so a
/// chatty engine can never block on a full pipe while we wait).
fn run(program: &Path, args: &[&OsStr], envs: &[(&str, &str)]) -> Result<Verdict, String> {
    let capture = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let stdout_path = capture.path().join("stdout");
    let stderr_path = capture.path().join("stderr");
    let create = |path: &Path| std::fs::File::create(path).map_err(|error| format!("{}: {error}", path.display()));
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(create(&stdout_path)?)
        .stderr(create(&stderr_path)?)
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|error| format!("{}: {error}", program.display()))? {
            Some(status) => break status,
            None if started.elapsed() > ENGINE_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not finish within {ENGINE_DEADLINE:?}", program.display()));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let stdout = read(&stdout_path);
    let output = format!("{stdout}{}", read(&stderr_path)).trim_end().to_owned();
    Ok(Verdict { success: status.success(), output, stdout })
}

fn promtool() -> PathBuf {
    binary("prometheus", "promtool").unwrap_or_else(|error| panic!("{error}"))
}

fn amtool() -> PathBuf {
    binary("alertmanager", "amtool").unwrap_or_else(|error| panic!("{error}"))
}

fn jaeger() -> PathBuf {
    binary("jaeger", "jaeger").unwrap_or_else(|error| panic!("{error}"))
}

/// Indents an engine's output under the message that quotes it.
fn quoted(output: &str) -> String {
    output.lines().map(|line| format!("    | {line}")).collect::<Vec<_>>().join("\n")
}

// ---------------------------------------------------------------------------------------------
// The files a container sees
// ---------------------------------------------------------------------------------------------

/// The files one container of a rendered workload sees, recreated under a temporary root.
struct PodFiles {
    root: tempfile::TempDir,
    /// Name of the workload object (a StatefulSet's pods are `<name>-<ordinal>`).
    name: String,
    /// What the files are for messages: `<Kind>/<name> container <container>`.
    workload: String,
    /// The container's arguments.
    args: Vec<String>,
    /// Absolute mount paths of the container (the service-account directory included when the
    /// pod mounts the token), longest first.
    mounts: Vec<String>,
    /// Mounts of Secrets or ConfigMaps the stack does not render and whose keys the pod does not
    /// list: the user's objects, whose keys only the configuration names.
    opaque_mounts: Vec<String>,
}

impl PodFiles {
    /// Lays out the volumes of `container` in the workload of `component` that runs it.
    fn of(rendered: &Rendered, component: Component, container: &str) -> Result<Self, String> {
        let (kind, name, pod) = rendered
            .objects
            .iter()
            .filter(|object| object.component == component)
            .filter_map(|object| {
                let kind = object.object.types.as_ref()?.kind.clone();
                let pod = object.object.data.pointer("/spec/template/spec")?;
                let runs = pod
                    .get("containers")?
                    .as_array()?
                    .iter()
                    .any(|candidate| candidate.get("name").and_then(Value::as_str) == Some(container));
                runs.then(|| (kind, object.object.metadata.name.clone().unwrap_or_default(), pod))
            })
            .next()
            .ok_or_else(|| format!("{component}: no workload runs a container {container:?}"))?;
        let workload = format!("{kind}/{name} container {container}");
        let spec = pod
            .get("containers")
            .and_then(Value::as_array)
            .and_then(|containers| containers.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)))
            .ok_or_else(|| format!("{workload}: not found"))?;
        let args = spec
            .get("args")
            .and_then(Value::as_array)
            .map(|args| args.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let root = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
        let mut files = Self { root, name, workload, args, mounts: Vec::new(), opaque_mounts: Vec::new() };

        let volumes = pod.get("volumes").and_then(Value::as_array).cloned().unwrap_or_default();
        for mount in spec.get("volumeMounts").and_then(Value::as_array).into_iter().flatten() {
            let volume_name = mount.get("name").and_then(Value::as_str).unwrap_or_default();
            let mount_path = mount.get("mountPath").and_then(Value::as_str).unwrap_or_default().to_owned();
            let directory = files.path(&mount_path);
            files.create_dir(&directory)?;
            files.mounts.push(mount_path.clone());
            let Some(volume) =
                volumes.iter().find(|volume| volume.get("name").and_then(Value::as_str) == Some(volume_name))
            else {
                // A StatefulSet's volume claim template: an empty volume.
                continue;
            };
            let items: Option<Vec<(String, String)>> = ["/configMap/items", "/secret/items"]
                .iter()
                .find_map(|pointer| volume.pointer(pointer).and_then(Value::as_array))
                .map(|items| {
                    items
                        .iter()
                        .map(|item| {
                            let field = |name| item.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                            (field("key"), field("path"))
                        })
                        .collect()
                });
            if let Some(config_map_name) = volume.pointer("/configMap/name").and_then(Value::as_str) {
                match rendered_config_map(rendered, config_map_name) {
                    Some(data) => {
                        let files_to_write: Vec<(String, String)> = match &items {
                            Some(items) => items.clone(),
                            None => data.keys().map(|key| (key.clone(), key.clone())).collect(),
                        };
                        for (key, path) in files_to_write {
                            let text = data.get(&key).and_then(Value::as_str).ok_or_else(|| {
                                format!("{}: ConfigMap {config_map_name} has no key {key}", files.workload)
                            })?;
                            files.write(&directory.join(path), text)?;
                        }
                    }
                    None => files.placeholders(&directory, &mount_path, items.as_deref())?,
                }
            } else if volume.get("secret").is_some() {
                files.placeholders(&directory, &mount_path, items.as_deref())?;
            }
            // emptyDir, persistentVolumeClaim, hostPath: an empty directory.
        }

        // Kubernetes mounts the service-account token unless the pod (or its account) opts out;
        // the stack's pods say explicitly.
        if pod.get("automountServiceAccountToken").and_then(Value::as_bool) != Some(false) {
            let directory = files.path(SERVICE_ACCOUNT_DIR);
            for file in ["token", "ca.crt", "namespace"] {
                files.write(&directory.join(file), "placeholder: projected by the kubelet\n")?;
            }
            files.mounts.push(SERVICE_ACCOUNT_DIR.to_owned());
        }
        files.mounts.sort_by_key(|mount| std::cmp::Reverse(mount.len()));
        Ok(files)
    }

    /// Placeholder files for the listed keys of a Secret or of a ConfigMap the stack does not
    /// render; without a list, the mount's files are the ones the configuration names.
    fn placeholders(
        &mut self,
        directory: &Path,
        mount_path: &str,
        items: Option<&[(String, String)]>,
    ) -> Result<(), String> {
        match items {
            Some(items) => {
                for (_, path) in items {
                    self.write(&directory.join(path), "placeholder: a key of a Secret or ConfigMap\n")?;
                }
            }
            None => self.opaque_mounts.push(mount_path.to_owned()),
        }
        Ok(())
    }

    /// The temporary path of an absolute path in the container.
    fn path(&self, absolute: &str) -> PathBuf {
        self.root.path().join(absolute.trim_start_matches('/'))
    }

    fn create_dir(&self, directory: &Path) -> Result<(), String> {
        std::fs::create_dir_all(directory).map_err(|error| format!("{}: {error}", directory.display()))
    }

    fn write(&self, path: &Path, text: &str) -> Result<(), String> {
        if let Some(parent) = path.parent() {
            self.create_dir(parent)?;
        }
        std::fs::write(path, text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// The value of the container's `--<flag>=` argument.
    fn flag(&self, flag: &str) -> Result<&str, String> {
        let prefix = format!("--{flag}=");
        self.args
            .iter()
            .find_map(|arg| arg.strip_prefix(&prefix))
            .ok_or_else(|| format!("{}: no {prefix} argument in {:?}", self.workload, self.args))
    }

    /// The configuration file the container loads (`--<flag>=<path>`), as mounted, with its text.
    fn config_file(&self, flag: &str) -> Result<(String, PathBuf, String), String> {
        let absolute = self.flag(flag)?;
        let absolute = absolute.strip_prefix("file:").unwrap_or(absolute).to_owned();
        let path = self.path(&absolute);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: loads {absolute}, which no volume provides: {error}", self.workload))?;
        Ok((absolute, path, text))
    }

    /// Checks that every file the configuration names (`*_file` keys) is one the pod has,
    /// creating those of the user's opaque Secrets and ConfigMaps first.
    fn check_named_files(&self, file: &str, config: &Value) -> Result<(), String> {
        let mut named = Vec::new();
        collect_named_files(config, "", &mut named);
        let mut missing = Vec::new();
        for (key, path) in named {
            if self.opaque_mounts.iter().any(|mount| path.starts_with(&format!("{mount}/"))) {
                self.write(&self.path(&path), "placeholder: a key of the user's Secret or ConfigMap\n")?;
            } else if !self.path(&path).is_file() {
                missing.push(format!("{key}: {path}"));
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{file} names files {} does not mount:\n{}",
                self.workload,
                missing.iter().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
            ))
        }
    }

    /// The text with every absolute path under one of the container's mounts moved under the
    /// temporary root.
    ///
    /// This rewrite is unavoidable for Prometheus alone: `promtool check config` checks that the
    /// rule files, credentials and client certificates the config names exist, at the absolute
    /// paths of the pod (`/etc/prometheus/...`, `/var/run/secrets/...`), and a test may not write
    /// there. Only those path prefixes change; every other byte is the rendered one. (amtool and
    /// jaeger do not open the files a configuration names, so theirs are checked unchanged.)
    fn rebase(&self, text: &str) -> String {
        let root = self.root.path().to_string_lossy();
        let mut out = String::with_capacity(text.len() + 64 * root.len());
        let mut previous = '\n';
        for (index, character) in text.char_indices() {
            if character == '/' && matches!(previous, ' ' | '\n' | '"' | '\'' | '=') {
                let rest = &text[index..];
                let under_mount = self.mounts.iter().any(|mount| {
                    rest.strip_prefix(mount.as_str())
                        .is_some_and(|after| after.is_empty() || after.starts_with(['/', '\n', '"', '\'', ' ']))
                });
                if under_mount {
                    out.push_str(&root);
                }
            }
            out.push(character);
            previous = character;
        }
        out
    }
}

/// Every string under a key ending in `_file` that is an absolute path, with its key path.
fn collect_named_files(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{at}/{key}");
                match inner {
                    Value::String(text) if key.ends_with("_file") && text.starts_with('/') => {
                        found.push((path, text.clone()));
                    }
                    other => collect_named_files(other, &path, found),
                }
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                collect_named_files(inner, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

/// The data of a ConfigMap the stack renders, by name.
fn rendered_config_map<'a>(rendered: &'a Rendered, name: &str) -> Option<&'a serde_json::Map<String, Value>> {
    rendered
        .objects
        .iter()
        .filter(|object| object.object.types.as_ref().is_some_and(|types| types.kind == "ConfigMap"))
        .find(|object| object.object.metadata.name.as_deref() == Some(name))
        .and_then(|object| object.object.data.get("data"))
        .and_then(Value::as_object)
}

fn parse_yaml(file: &str, text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(text).map_err(|error| format!("{file} is not YAML: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

/// `promtool check config` on `prometheus.yml` as the Prometheus container loads it: the full
/// check (rule files, credential and certificate files must exist, every rule file is checked
/// too), with every lint fatal, plus the files promtool does not open (`ca_file`,
/// `username_file`, ...) checked against the pod's volumes.
fn check_prometheus(rendered: &Rendered) -> Result<Checked, String> {
    if !Component::Prometheus.enabled(&rendered.stack) {
        return Ok(Checked::NotRendered);
    }
    let pod = PodFiles::of(rendered, Component::Prometheus, "prometheus")?;
    let (file, path, text) = pod.config_file("config.file")?;
    let mut problems = Vec::new();
    if let Err(problem) = pod.check_named_files(&file, &parse_yaml(&file, &text)?) {
        problems.push(problem);
    }
    std::fs::write(&path, pod.rebase(&text)).map_err(|error| format!("{}: {error}", path.display()))?;
    // The container gets POD_NAME from the downward API; its external label expands it.
    let pod_name = format!("{}-0", pod.name);
    let verdict = run(
        &promtool(),
        &["check".as_ref(), "config".as_ref(), "--lint=all".as_ref(), "--lint-fatal".as_ref(), path.as_os_str()],
        &[("POD_NAME", pod_name.as_str())],
    )?;
    if !verdict.success {
        problems.push(format!("promtool check config {file} rejects it:\n{}", quoted(&verdict.output)));
    } else {
        // Every rule file of the rules ConfigMap must be loaded through `rule_files`.
        let rule_files = rendered.file_names(Component::Rules).len();
        let expected = format!("SUCCESS: {rule_files} rule files found");
        if rule_files > 0 && !verdict.output.contains(&expected) {
            problems.push(format!("promtool check config {file}: expected {expected:?}:\n{}", quoted(&verdict.output)));
        }
    }
    if problems.is_empty() { Ok(Checked::Yes) } else { Err(problems.join("\n")) }
}

/// `promtool check rules` on every rule file, lints fatal.
fn check_rules(rendered: &Rendered) -> Result<Checked, String> {
    let names = rendered.file_names(Component::Rules);
    if names.is_empty() {
        return Ok(Checked::NotRendered);
    }
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let mut paths = Vec::new();
    for name in &names {
        let path = directory.path().join("rules").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("{}: {error}", parent.display()))?;
        }
        std::fs::write(&path, rendered.file(Component::Rules, name)?)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        paths.push(path);
    }
    let mut args: Vec<&OsStr> =
        vec!["check".as_ref(), "rules".as_ref(), "--lint=all".as_ref(), "--lint-fatal".as_ref()];
    args.extend(paths.iter().map(|path| path.as_os_str()));
    let verdict = run(&promtool(), &args, &[])?;
    if verdict.success {
        Ok(Checked::Yes)
    } else {
        Err(format!("promtool check rules {} rejects them:\n{}", names.join(" "), quoted(&verdict.output)))
    }
}

#[test]
fn promtool_accepts_the_prometheus_config_of_every_variant() {
    for_every_variant("promtool check config", |variant| check_prometheus(&variant.rendered));
}

#[test]
fn promtool_accepts_every_rule_file_of_every_variant() {
    for_every_variant("promtool check rules", |variant| check_rules(&variant.rendered));
}

// ---------------------------------------------------------------------------------------------
// Alertmanager
// ---------------------------------------------------------------------------------------------

/// The channels of the seed, by the key of their integrations in `alertmanager.yml`.
const CHANNELS: [(&str, &str); 3] =
    [("email", "email_configs"), ("slack", "slack_configs"), ("pagerduty", "pagerduty_configs")];

/// The labels Alertmanager routes an alert on: `alertname`, `severity`, `incident_level` and
/// `channels` (when the alert has it).
type AlertLabels = BTreeMap<String, String>;

/// The receivers the spec routes an alert with these labels to: the Watchdog to the dead man's
/// switch; each enabled channel its `channels` label names (without the label: the channels
/// whose severities include the alert's); when the label names PagerDuty, every escalation step
/// serving the alert's incident level; the root's receiver without integrations when nothing is.
fn routed_receivers(routing: &RoutingSpec, labels: &AlertLabels) -> BTreeSet<String> {
    let label = |name: &str| labels.get(name).map_or("", String::as_str);
    if label("alertname") == "Watchdog" {
        let receiver = if routing.dead_mans_switch.enabled { DEAD_MANS_SWITCH_RECEIVER } else { NULL_RECEIVER };
        return BTreeSet::from([receiver.to_owned()]);
    }
    let named: Vec<Channel> = match labels.get("channels") {
        Some(channels) => Channel::ALL.into_iter().filter(|c| channels.split(',').any(|n| n == c.as_str())).collect(),
        None => Severity::ALL
            .into_iter()
            .filter(|severity| severity.as_str() == label("severity"))
            .flat_map(|severity| routing.severity_channels(severity))
            .collect(),
    };
    let mut receivers: BTreeSet<String> = named
        .iter()
        .filter(|channel| routing.channel_enabled(**channel))
        .map(|channel| channel.as_str().to_owned())
        .collect();
    if labels.contains_key("channels") && named.contains(&Channel::Pagerduty) {
        receivers.extend(
            routing
                .escalation
                .iter()
                .filter(|step| step.levels.iter().any(|level| level.as_str() == label("incident_level")))
                .map(|step| step.name.clone()),
        );
    }
    if receivers.is_empty() {
        receivers.insert(NULL_RECEIVER.to_owned());
    }
    receivers
}

/// The channels that actually notify through these receivers, as the spec declares them: email
/// needs recipients (the receiver's or an escalation step's); a step pages with its own PagerDuty
/// key, or, when it comes after the first page, with the PagerDuty receiver's.
fn reached_channels(routing: &RoutingSpec, receivers: &BTreeSet<String>) -> BTreeSet<&'static str> {
    let steps: Vec<_> = routing.escalation.iter().filter(|step| receivers.contains(&step.name)).collect();
    let email = receivers.contains(EMAIL_RECEIVER) && !routing.email.to.is_empty()
        || steps.iter().any(|step| !step.email.is_empty());
    let slack = receivers.contains(SLACK_RECEIVER);
    let pagerduty = receivers.contains(PAGERDUTY_RECEIVER)
        || steps.iter().any(|step| {
            step.pagerduty_routing_key.is_some() || routing.pagerduty.enabled && step.after.to_millis() != Some(0)
        });
    [("email", email), ("slack", slack), ("pagerduty", pagerduty)]
        .into_iter()
        .filter_map(|(channel, reached)| reached.then_some(channel))
        .collect()
}

/// The channels the named receivers of a parsed `alertmanager.yml` notify through.
fn channels_of(config: &Value, receivers: &BTreeSet<String>) -> Result<BTreeSet<&'static str>, String> {
    let mut channels = BTreeSet::new();
    for name in receivers {
        let receiver = config
            .get("receivers")
            .and_then(Value::as_array)
            .and_then(|all| all.iter().find(|receiver| receiver.get("name").and_then(Value::as_str) == Some(name)))
            .ok_or_else(|| format!("no receiver {name}"))?;
        for (channel, key) in CHANNELS {
            if receiver.get(key).and_then(Value::as_array).is_some_and(|integrations| !integrations.is_empty()) {
                channels.insert(channel);
            }
        }
    }
    Ok(channels)
}

/// The routing labels of every alerting rule of a render (templated values left out), each label
/// set once.
fn rendered_alert_labels(rendered: &Rendered) -> Result<Vec<AlertLabels>, String> {
    let mut all = Vec::new();
    for file in rendered.file_names(Component::Rules) {
        let parsed = rendered.yaml(Component::Rules, &file)?;
        for group in parsed["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let Some(alert) = rule.get("alert").and_then(Value::as_str) else { continue };
                let mut labels = AlertLabels::from([("alertname".to_owned(), alert.to_owned())]);
                for name in ["severity", "incident_level", "channels"] {
                    if let Some(value) = rule.pointer(&format!("/labels/{name}")).and_then(Value::as_str) {
                        labels.insert(name.to_owned(), value.to_owned());
                    }
                }
                if !all.contains(&labels) {
                    all.push(labels);
                }
            }
        }
    }
    Ok(all)
}

/// The receivers `amtool config routes test` routes these labels to.
fn amtool_receivers(path: &Path, labels: &AlertLabels) -> Result<Vec<String>, String> {
    let config_flag = format!("--config.file={}", path.display());
    let matchers: Vec<String> = labels.iter().map(|(name, value)| format!("{name}=\"{value}\"")).collect();
    let mut args: Vec<&OsStr> = vec!["config".as_ref(), "routes".as_ref(), "test".as_ref(), config_flag.as_ref()];
    args.extend(matchers.iter().map(OsStr::new));
    let verdict = run(&amtool(), &args, &[])?;
    if !verdict.success {
        return Err(format!("amtool config routes test {}:\n{}", matchers.join(" "), quoted(&verdict.output)));
    }
    let line = verdict.stdout.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    Ok(line.trim().split(',').map(str::to_owned).collect())
}

/// `amtool config routes test` for every alert the stack renders, and for alerts of each
/// severity that carry no `channels` label (sent by another Prometheus): the receivers are exactly
/// those the spec routes them to, each once, and they notify exactly the channels the spec implies.
fn check_routes(rendered: &Rendered, file: &str, path: &Path, config: &Value) -> Result<(), String> {
    let routing = &rendered.stack.spec.alerting.routing;
    let mut cases = rendered_alert_labels(rendered)?;
    for severity in Severity::ALL {
        cases.push(AlertLabels::from([
            ("alertname".to_owned(), "EngineTest".to_owned()),
            ("severity".to_owned(), severity.as_str().to_owned()),
        ]));
    }
    let mut problems = Vec::new();
    for labels in &cases {
        let expected = routed_receivers(routing, labels);
        let found = amtool_receivers(path, labels)?;
        let distinct: BTreeSet<String> = found.iter().cloned().collect();
        if distinct != expected || distinct.len() != found.len() {
            problems.push(format!(
                "amtool config routes test {file} {labels:?}: expected receivers {expected:?}, found {found:?}"
            ));
            continue;
        }
        let reached = channels_of(config, &expected).map_err(|error| format!("{file}: {error}"))?;
        let implied = reached_channels(routing, &expected);
        if reached != implied {
            problems.push(format!(
                "{file}: an alert {labels:?} reaches {reached:?} through {expected:?}, the spec implies {implied:?}"
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// The Alertmanager container's configuration, checked by `amtool check-config` and routed by
/// `amtool config routes test`; the Secret files its receivers read must be mounted.
fn check_alertmanager(rendered: &Rendered) -> Result<Checked, String> {
    if !Component::Alertmanager.enabled(&rendered.stack) {
        return Ok(Checked::NotRendered);
    }
    let pod = PodFiles::of(rendered, Component::Alertmanager, "alertmanager")?;
    let (file, path, text) = pod.config_file("config.file")?;
    let config = parse_yaml(&file, &text)?;
    let mut problems = Vec::new();
    if let Err(problem) = pod.check_named_files(&file, &config) {
        problems.push(problem);
    }
    let verdict = run(&amtool(), &["check-config".as_ref(), path.as_os_str()], &[])?;
    if !verdict.success || !verdict.output.contains("SUCCESS") {
        problems.push(format!("amtool check-config {file} rejects it:\n{}", quoted(&verdict.output)));
    } else if let Err(problem) = check_routes(rendered, &file, &path, &config) {
        problems.push(problem);
    }
    if problems.is_empty() { Ok(Checked::Yes) } else { Err(problems.join("\n")) }
}

#[test]
fn amtool_accepts_and_routes_the_alertmanager_config_of_every_variant() {
    for_every_variant("amtool", |variant| check_alertmanager(&variant.rendered));
}

#[test]
fn the_example_routes_every_alert_of_the_document_to_its_receivers() {
    // The document's words (tests/data/seed.yaml): each alert to its Channel column, and when it
    // pages, to the people of its incident level on the escalation path.
    let example = variants::named("example").unwrap_or_else(|error| panic!("{error}"));
    let rendered = &example.rendered;
    let pod = PodFiles::of(rendered, Component::Alertmanager, "alertmanager").unwrap_or_else(|e| panic!("{e}"));
    let (_, path, _) = pod.config_file("config.file").unwrap_or_else(|e| panic!("{e}"));
    let labels = rendered_alert_labels(rendered).unwrap_or_else(|e| panic!("{e}"));
    let seed = seed::seed();
    let mut problems = Vec::new();
    for alert in &seed.alerts {
        let Some(labels) = labels.iter().find(|labels| labels["alertname"] == alert.name) else {
            problems.push(format!("{}: not rendered", alert.name));
            continue;
        };
        let expected: BTreeSet<String> = seed.receivers_of(alert).into_iter().collect();
        let found = amtool_receivers(&path, labels).unwrap_or_else(|e| panic!("{e}"));
        if found.iter().cloned().collect::<BTreeSet<_>>() != expected || found.len() != expected.len() {
            problems.push(format!(
                "{} ({}): the document's {expected:?}, amtool routes to {found:?}",
                alert.name, alert.alert
            ));
        }
    }
    let watchdog =
        labels.iter().find(|labels| labels["alertname"] == "Watchdog").unwrap_or_else(|| panic!("no Watchdog"));
    assert_eq!(amtool_receivers(&path, watchdog).unwrap_or_else(|e| panic!("{e}")), [DEAD_MANS_SWITCH_RECEIVER]);
    assert!(
        problems.is_empty(),
        "{} of {} alerts misrouted:\n{}",
        problems.len(),
        seed.alerts.len(),
        problems.join("\n")
    );
    match check_alertmanager(rendered) {
        Ok(Checked::Yes) => {}
        Ok(Checked::NotRendered) => panic!("the example renders no Alertmanager"),
        Err(error) => panic!("variant example: {error}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Jaeger
// ---------------------------------------------------------------------------------------------

/// `jaeger validate` on the configuration the Jaeger container loads: exit status 0 and nothing
/// but the version banner said.
fn check_jaeger(rendered: &Rendered) -> Result<Checked, String> {
    if !Component::Jaeger.enabled(&rendered.stack) {
        return Ok(Checked::NotRendered);
    }
    let pod = PodFiles::of(rendered, Component::Jaeger, "jaeger")?;
    let (file, path, _) = pod.config_file("config")?;
    let config = format!("--config=file:{}", path.display());
    let verdict = run(&jaeger(), &["validate".as_ref(), config.as_ref()], &[])?;
    let complaints: Vec<&str> = verdict
        .output
        .lines()
        .filter(|line| !line.contains("application version:"))
        .filter(|line| {
            let line = line.to_lowercase();
            line.contains("error") || line.contains("warn") || line.contains("invalid")
        })
        .collect();
    if verdict.success && complaints.is_empty() {
        Ok(Checked::Yes)
    } else {
        Err(format!("jaeger validate {file} rejects it:\n{}", quoted(&verdict.output)))
    }
}

#[test]
fn jaeger_validates_the_config_of_every_variant() {
    for_every_variant("jaeger validate", |variant| check_jaeger(&variant.rendered));
}

// ---------------------------------------------------------------------------------------------
// Thanos
// ---------------------------------------------------------------------------------------------

fn thanos() -> PathBuf {
    binary("thanos", "thanos").unwrap_or_else(|error| panic!("{error}"))
}

/// A Thanos process run by the check, killed when dropped.
struct RunningThanos {
    child: std::process::Child,
    log: PathBuf,
    what: String,
}

impl Drop for RunningThanos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningThanos {
    /// Waits until `path` on `address` answers 200, or the process exits, or the deadline passes.
    fn wait_for(&mut self, address: std::net::SocketAddr, path: &str) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited ({status}):\n{}", self.what, quoted(&self.log_text())));
            }
            if stackscope_tests::http::get(address, path).is_ok_and(|answer| answer.status == 200) {
                return Ok(());
            }
            if started.elapsed() > ENGINE_DEADLINE {
                return Err(format!(
                    "{}: {path} not 200 within {ENGINE_DEADLINE:?}:\n{}",
                    self.what,
                    quoted(&self.log_text())
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The arguments of the container of that name in the Prometheus component's workloads.
fn thanos_args(rendered: &Rendered, container: &str) -> Result<Vec<String>, String> {
    rendered.container_args(Component::Prometheus, container)
}

/// Runs the rendered arguments of one Thanos container with what only a cluster has replaced by
/// local stand-ins: the object storage a filesystem bucket, the data directories temporary ones,
/// the listen addresses free loopback ports, and Query's endpoints (which name cluster DNS) the
/// Store Gateway run here. Returns the process and its HTTP address.
fn start_thanos(
    container: &str,
    args: &[String],
    scratch: &Path,
    endpoint: Option<std::net::SocketAddr>,
) -> Result<(RunningThanos, std::net::SocketAddr, std::net::SocketAddr), String> {
    let http = loopback_address();
    let grpc = loopback_address();
    let objstore = scratch.join("objstore.yml");
    let mut rewritten = Vec::new();
    let mut endpoints = 0;
    for arg in args {
        let (flag, _) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        rewritten.push(match flag {
            "--objstore.config-file" => format!("{flag}={}", objstore.display()),
            "--data-dir" | "--tsdb.path" => {
                let directory = scratch.join(format!("{container}-data"));
                std::fs::create_dir_all(&directory).map_err(|error| error.to_string())?;
                format!("{flag}={}", directory.display())
            }
            "--http-address" => format!("{flag}={http}"),
            "--grpc-address" => format!("{flag}={grpc}"),
            "--endpoint" => {
                endpoints += 1;
                // One stand-in for every endpoint: the rendered ones are checked by name elsewhere.
                if endpoints > 1 {
                    continue;
                }
                format!("{flag}={}", endpoint.ok_or("Query without a store to point at")?)
            }
            // Nothing listens there: the sidecar retries, which is all this check needs of it.
            "--prometheus.url" => format!("{flag}=http://127.0.0.1:9"),
            _ => arg.clone(),
        });
    }
    let log = scratch.join(format!("{container}.log"));
    let file = std::fs::File::create(&log).map_err(|error| error.to_string())?;
    let child = Command::new(thanos())
        .args(&rewritten)
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|error| error.to_string())?)
        .stderr(file)
        .spawn()
        .map_err(|error| format!("cannot start thanos: {error}"))?;
    let what = format!("thanos {}", rewritten.join(" "));
    Ok((RunningThanos { child, log, what }, http, grpc))
}

/// The Thanos components judged by Thanos itself: the Store Gateway, Query, the compactor and the
/// sidecar each start with the rendered arguments over a filesystem bucket and become ready
/// (healthy for the sidecar, which waits for a Prometheus); Query finds the Store Gateway and
/// answers the exemplars API. The rendered Query deduplicates on the replica label, downsamples
/// automatically and names the sidecars' and the Store Gateway's Services, each with a `grpc` port.
fn check_thanos(rendered: &Rendered) -> Result<Checked, String> {
    if !(Component::Prometheus.enabled(&rendered.stack) && rendered.stack.spec.metrics.downsampling.enabled) {
        return Ok(Checked::NotRendered);
    }
    let scratch = tempfile::tempdir().map_err(|error| error.to_string())?;
    let bucket = scratch.path().join("bucket");
    std::fs::create_dir_all(&bucket).map_err(|error| error.to_string())?;
    let objstore = format!("type: FILESYSTEM\nconfig:\n  directory: {}\n", bucket.display());
    std::fs::write(scratch.path().join("objstore.yml"), objstore).map_err(|error| error.to_string())?;

    let query_args = thanos_args(rendered, "thanos-query")?;
    for expected in ["--query.replica-label=prometheus_replica", "--query.auto-downsampling"] {
        if !query_args.iter().any(|arg| arg == expected) {
            return Err(format!("thanos-query lacks {expected}: {query_args:?}"));
        }
    }
    let namespace = &rendered.stack.namespace;
    let endpoints: Vec<&str> =
        query_args.iter().filter_map(|arg| arg.strip_prefix("--endpoint=dnssrv+_grpc._tcp.")).collect();
    let services: Vec<String> = endpoints
        .iter()
        .map(|endpoint| endpoint.strip_suffix(&format!(".{namespace}.svc")).unwrap_or_default().to_owned())
        .collect();
    let stack = &rendered.stack.name;
    if services != [format!("{stack}-prometheus-headless"), format!("{stack}-prometheus-store")] {
        return Err(format!("thanos-query's endpoints are not the sidecars' and the store's Services: {query_args:?}"));
    }
    for service in &services {
        let has_grpc = rendered.objects.iter().any(|object| {
            object.object.types.as_ref().is_some_and(|types| types.kind == "Service")
                && object.object.metadata.name.as_deref() == Some(service.as_str())
                && object
                    .object
                    .data
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .is_some_and(|ports| ports.iter().any(|port| port["name"] == "grpc"))
        });
        if !has_grpc {
            return Err(format!("Service {service}, an endpoint of thanos-query, has no port named grpc"));
        }
    }

    let (mut store, store_http, store_grpc) =
        start_thanos("thanos-store", &thanos_args(rendered, "thanos-store")?, scratch.path(), None)?;
    store.wait_for(store_http, "/-/ready")?;
    let (mut query, query_http, _) = start_thanos("thanos-query", &query_args, scratch.path(), Some(store_grpc))?;
    query.wait_for(query_http, "/-/ready")?;
    let exemplars = stackscope_tests::http::get_json(query_http, "/api/v1/query_exemplars?query=up&start=0&end=60")?;
    if exemplars["status"] != "success" {
        return Err(format!("thanos-query's exemplars API answered {exemplars}"));
    }
    let started = Instant::now();
    loop {
        let stores = stackscope_tests::http::get_json(query_http, "/api/v1/stores")?;
        let found = stores.pointer("/data/store").and_then(Value::as_array).is_some_and(|stores| {
            stores.iter().any(|entry| entry["name"] == store_grpc.to_string() && entry["lastError"].is_null())
        });
        if found {
            break;
        }
        if started.elapsed() > ENGINE_DEADLINE {
            return Err(format!("thanos-query never connected to the Store Gateway: {stores}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (mut compactor, compactor_http, _) =
        start_thanos("thanos-compactor", &thanos_args(rendered, "thanos-compactor")?, scratch.path(), None)?;
    compactor.wait_for(compactor_http, "/-/ready")?;
    let (mut sidecar, sidecar_http, _) =
        start_thanos("thanos-sidecar", &thanos_args(rendered, "thanos-sidecar")?, scratch.path(), None)?;
    sidecar.wait_for(sidecar_http, "/-/healthy")?;
    Ok(Checked::Yes)
}

#[test]
fn thanos_runs_the_store_query_compactor_and_sidecar_of_every_variant() {
    for_every_variant("thanos", |variant| check_thanos(&variant.rendered));
}

#[test]
fn thanos_refuses_an_unknown_flag_in_the_rendered_arguments() {
    let mut rendered = example().rendered;
    for object in rendered.objects.iter_mut().filter(|object| object.component == Component::Prometheus) {
        let Some(containers) = object.object.data.pointer_mut("/spec/template/spec/containers") else { continue };
        for container in containers.as_array_mut().into_iter().flatten() {
            if container["name"] == "thanos-query"
                && let Some(args) = container["args"].as_array_mut()
            {
                args.push(Value::String("--query.replica-labels=prometheus_replica".to_owned()));
            }
        }
    }
    expect_rejection(check_thanos(&rendered), "a misspelled Query flag", &["exited", "query.replica-labels"]);
}

// ---------------------------------------------------------------------------------------------
// Deliberately broken renders: every check above can fail.
// ---------------------------------------------------------------------------------------------

fn example() -> Variant {
    variants::named("example").unwrap_or_else(|error| panic!("{error}"))
}

/// Replaces `from` (which must occur) by `to` in a file of a ConfigMap of the component.
fn break_file(rendered: &mut Rendered, component: Component, file: &str, from: &str, to: &str) {
    let text = rendered
        .objects
        .iter_mut()
        .filter(|object| object.component == component)
        .find_map(|object| object.object.data.get_mut("data").and_then(|data| data.get_mut(file)))
        .unwrap_or_else(|| panic!("{component} renders no {file}"));
    let original = text.as_str().unwrap_or_default().to_owned();
    assert!(original.contains(from), "{file} has no {from:?} to break");
    *text = Value::String(original.replacen(from, to, 1));
}

/// Asserts the check failed, and that its message says each of `needles`.
fn expect_rejection(outcome: Result<Checked, String>, what: &str, needles: &[&str]) {
    match outcome {
        Err(error) => {
            for needle in needles {
                assert!(error.contains(needle), "{what}: rejected, but not for {needle:?}:\n{error}");
            }
        }
        Ok(_) => panic!("{what}: accepted"),
    }
}

#[test]
fn promtool_rejects_a_wrong_scrape_interval_in_the_spec() {
    // A broken spec that skipped validation renders a broken config, and promtool says so.
    let mut stack = example().rendered.stack;
    stack.spec.metrics.prometheus.scrape_interval = "15x".into();
    let rendered = Rendered::of(stack).unwrap_or_else(|error| panic!("{error}"));
    expect_rejection(check_prometheus(&rendered), "scrape_interval: 15x", &[r#"unknown unit "x" in duration "15x""#]);
}

#[test]
fn promtool_rejects_a_credentials_file_the_pod_does_not_mount() {
    // Drop the bearer-token Secret's volume from the Prometheus StatefulSet: the config still
    // names the token file, which the pod (and so the test's layout) no longer has.
    let mut rendered = variants::named("monitor-auth").unwrap_or_else(|error| panic!("{error}")).rendered;
    let statefulset = rendered
        .objects
        .iter_mut()
        .find(|object| {
            object.component == Component::Prometheus
                && object.object.types.as_ref().is_some_and(|types| types.kind == "StatefulSet")
                && object.object.metadata.name.as_deref() == Some("machineavatars-prometheus")
        })
        .unwrap_or_else(|| panic!("no Prometheus StatefulSet"));
    let volumes = statefulset
        .object
        .data
        .pointer_mut("/spec/template/spec/volumes")
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no volumes"));
    let before = volumes.len();
    volumes.retain(|volume| volume.pointer("/secret/secretName").and_then(Value::as_str) != Some("payments-token"));
    assert_eq!(volumes.len(), before - 1, "the payments-token Secret is mounted once");
    expect_rejection(
        check_prometheus(&rendered),
        "an unmounted bearer token",
        &[
            // promtool's own file check, and the named-files check before it.
            "error checking authorization credentials",
            "credentials_file: /etc/prometheus/secrets/payments-token/token",
        ],
    );
}

#[test]
fn promtool_rejects_an_invalid_promql_expression() {
    let mut rendered = example().rendered;
    break_file(&mut rendered, Component::Rules, "infrastructure.yml", "> 80", "> > 80");
    expect_rejection(check_rules(&rendered), "expr `... > > 80`", &["could not parse expression"]);
    expect_rejection(
        check_prometheus(&rendered),
        "expr `... > > 80` through rule_files",
        &["could not parse expression"],
    );
}

#[test]
fn promtool_rejects_a_duplicate_rule_group() {
    let mut rendered = example().rendered;
    let infrastructure = rendered.file(Component::Rules, "infrastructure.yml").unwrap_or_else(|e| panic!("{e}"));
    let group = infrastructure.strip_prefix("groups:\n").unwrap_or_else(|| panic!("unexpected layout")).to_owned();
    break_file(&mut rendered, Component::Rules, "infrastructure.yml", "groups:\n", &format!("groups:\n{group}"));
    expect_rejection(
        check_rules(&rendered),
        "a repeated group",
        &[r#"groupname: "infrastructure" is repeated in the same file"#],
    );
}

#[test]
fn amtool_rejects_a_route_to_an_undefined_receiver() {
    let mut rendered = example().rendered;
    break_file(
        &mut rendered,
        Component::Alertmanager,
        "alertmanager.yml",
        "- receiver: slack\n",
        "- receiver: slack-typo\n",
    );
    expect_rejection(check_alertmanager(&rendered), "a route to slack-typo", &[r#"undefined receiver "slack-typo""#]);
}

#[test]
fn amtool_routes_test_catches_info_alerts_sent_to_slack() {
    let mut rendered = example().rendered;
    break_file(
        &mut rendered,
        Component::Alertmanager,
        "alertmanager.yml",
        r#"severity=~"warning|critical""#,
        r#"severity=~"info|warning|critical""#,
    );
    expect_rejection(
        check_alertmanager(&rendered),
        "info routed to Slack",
        &[r#"{"alertname": "EngineTest", "severity": "info"}: expected receivers {"email"}"#],
    );
}

#[test]
fn amtool_routes_test_catches_email_alerts_sent_to_slack() {
    let mut rendered = example().rendered;
    break_file(
        &mut rendered,
        Component::Alertmanager,
        "alertmanager.yml",
        r#"- channels=~"(.+,)?slack(,.+)?""#,
        r#"- channels=~"(.+,)?(email|slack)(,.+)?""#,
    );
    expect_rejection(
        check_alertmanager(&rendered),
        "email alerts routed to Slack",
        &[
            r#""alertname": "HighCPU", "channels": "email", "incident_level": "P2", "severity": "warning"}: expected receivers {"email"}, found ["email", "slack"]"#,
        ],
    );
}

#[test]
fn the_routing_check_catches_a_receiver_without_its_integration() {
    // The routes are right, but the PagerDuty receiver and the escalation steps lost their
    // PagerDuty integration: a critical alert no longer pages anyone.
    let mut rendered = example().rendered;
    let text = rendered.file(Component::Alertmanager, "alertmanager.yml").unwrap_or_else(|e| panic!("{e}")).to_owned();
    let mut config = parse_yaml("alertmanager.yml", &text).unwrap_or_else(|e| panic!("{e}"));
    for receiver in config.get_mut("receivers").and_then(Value::as_array_mut).into_iter().flatten() {
        if receiver.get("name").and_then(Value::as_str) != Some("email")
            && let Some(map) = receiver.as_object_mut()
        {
            map.remove("pagerduty_configs");
        }
    }
    let broken = serde_json::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    break_file(&mut rendered, Component::Alertmanager, "alertmanager.yml", &text, &broken);
    expect_rejection(
        check_alertmanager(&rendered),
        "no PagerDuty integration left",
        &[
            r#""channels": "email,slack,pagerduty", "incident_level": "P1", "severity": "critical"} reaches {"email", "slack"}"#,
        ],
    );
}

#[test]
fn jaeger_rejects_a_pipeline_naming_an_undefined_exporter() {
    let mut rendered = example().rendered;
    break_file(
        &mut rendered,
        Component::Jaeger,
        "config.yaml",
        "      - jaeger_storage_exporter\n",
        "      - otlp/nowhere\n",
    );
    expect_rejection(
        check_jaeger(&rendered),
        "exporter otlp/nowhere",
        &[r#"references exporter "otlp/nowhere" which is not configured"#],
    );
}

#[test]
fn jaeger_rejects_a_wrong_span_retention_in_the_spec() {
    let mut stack = example().rendered.stack;
    stack.spec.tracing.storage.retention = "72x".into();
    let rendered = Rendered::of(stack).unwrap_or_else(|error| panic!("{error}"));
    expect_rejection(check_jaeger(&rendered), "badger ttl 72x", &["badger.ttl.spans"]);
}

// ---------------------------------------------------------------------------------------------
// Whatever validation accepts, the engines load: a refused step would stop every tenant's config.
// ---------------------------------------------------------------------------------------------

/// The documents of a stack of this spec in namespace `obs` and of these monitors.
fn edge_documents(spec: &Value, monitors: &[Value]) -> Vec<Value> {
    let stack = serde_json::json!({
        "apiVersion": "stackscope.dev/v1alpha1", "kind": "ObservabilityStack",
        "metadata": {"name": "edge", "namespace": "obs"}, "spec": spec
    });
    std::iter::once(stack).chain(monitors.iter().cloned()).collect()
}

/// Whether the CLI's validation (schema, CEL, semantic checks) refuses the documents, and why.
fn validation_refusal(documents: &[Value]) -> Option<String> {
    let text = documents.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n");
    stackscope::cli::offline::load(&[("edge.yaml".to_owned(), text)]).err().map(|errors| errors.join("\n"))
}

/// The documents rendered without validation: what the renderer makes of them.
fn render_unvalidated(documents: &[Value]) -> Rendered {
    let mut stacks = Vec::new();
    let mut monitors = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let origin = stackscope::manifest::Origin { file: "edge.yaml".to_owned(), document: index + 1 };
        match stackscope::manifest::typed(&origin, document.clone()).unwrap_or_else(|error| panic!("{error}")) {
            stackscope::manifest::Manifest::Stack(stack) => stacks.push(*stack),
            stackscope::manifest::Manifest::Monitor(monitor) => monitors.push(*monitor),
        }
    }
    let stack = stackscope::resolve::ResolvedStack::new(&stacks[0], &monitors);
    Rendered::of(stack).unwrap_or_else(|error| panic!("{error}"))
}

/// Writes a file into a fresh temporary directory and runs an engine on it.
fn judge(engine: &Path, args: &[&str], file: &str, text: &str) -> Result<Verdict, String> {
    let directory = tempfile::tempdir().map_err(|error| format!("temporary directory: {error}"))?;
    let path = directory.path().join(file);
    std::fs::write(&path, text).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut arguments: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    arguments.push(path.as_os_str());
    run(engine, &arguments, &[])
}

/// For each `(case, the engine refuses it)`: the engine's verdict on the rendered case is the
/// expected one (the table records what the engine really does), and validation refuses the case
/// exactly when the engine would.
fn differential(
    what: &str,
    cases: &[(Value, bool)],
    documents: impl Fn(&Value) -> Vec<Value>,
    engine: impl Fn(&Rendered) -> Verdict,
) {
    let mut failures = Vec::new();
    for (case, engine_refuses) in cases {
        let documents = documents(case);
        let verdict = engine(&render_unvalidated(&documents));
        let refusal = validation_refusal(&documents);
        if verdict.success == *engine_refuses {
            let said = if verdict.success { "accepts" } else { "refuses" };
            failures.push(format!("{case}: the engine unexpectedly {said} it:\n{}", quoted(&verdict.output)));
        }
        match (&refusal, verdict.success) {
            (None, false) => failures
                .push(format!("{case}: validation accepts it, the engine refuses it:\n{}", quoted(&verdict.output))),
            (Some(refusal), true) => {
                failures.push(format!("{case}: validation refuses what the engine accepts:\n{}", quoted(refusal)))
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{what}: {} case(s) disagree:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn relabelings_validation_accepts_are_the_ones_prometheus_loads() {
    use serde_json::json;
    let cases = [
        // Field combinations per action (Prometheus' relabel.Config.Validate).
        (json!({"action": "labeldrop", "regex": "tmp_.*"}), false),
        (json!({"action": "labeldrop", "regex": "a", "sourceLabels": ["b"]}), true),
        (json!({"action": "LabelKeep", "regex": "a|__.*", "targetLabel": "b"}), true),
        (json!({"action": "labelkeep", "regex": "a|__.*", "separator": ";", "replacement": "$1"}), false),
        (json!({"action": "labelkeep", "regex": "a|__.*", "separator": ","}), true),
        (json!({"action": "keepequal", "sourceLabels": ["a"], "targetLabel": "b"}), false),
        (json!({"action": "keepequal", "sourceLabels": ["a"], "targetLabel": "b", "regex": "x"}), true),
        (json!({"action": "DropEqual", "sourceLabels": ["a"], "targetLabel": "b", "modulus": 3}), true),
        (json!({"action": "lowercase", "sourceLabels": ["a"], "targetLabel": "b"}), false),
        (json!({"action": "uppercase", "sourceLabels": ["a"], "targetLabel": "b", "replacement": "x"}), true),
        (json!({"action": "hashmod", "sourceLabels": ["a"], "targetLabel": "b", "modulus": 8}), false),
        (json!({"action": "labelmap", "regex": "__meta_(.+)", "replacement": "meta_$1"}), false),
        (json!({"action": "replace", "sourceLabels": ["a"], "targetLabel": "tier_${1}", "regex": "(.+)"}), false),
        // Regular expressions: Rust's `regex` and Go's RE2 differ.
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "(?i)web|api"}), false),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "a{1000}"}), false),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "a{1001}"}), true),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "a**"}), true),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "a*?b+?"}), false),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "(?u)a"}), true),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "(?x)a b"}), true),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": r"\u0041"}), true),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": r"\x{41}\p{Greek}[[:alpha:]]"}), false),
        (json!({"action": "keep", "sourceLabels": ["a"], "regex": "(unclosed"}), true),
    ];
    let promtool = promtool();
    differential(
        "relabelings",
        &cases,
        |relabeling| edge_documents(&serde_json::json!({}), &[monitor_with_relabeling(relabeling)]),
        |rendered| {
            let config = rendered.file(Component::Prometheus, "prometheus.yml").unwrap_or_else(|e| panic!("{e}"));
            judge(&promtool, &["check", "config", "--syntax-only"], "prometheus.yml", config)
                .unwrap_or_else(|e| panic!("{e}"))
        },
    );
}

/// A monitor of the stack's namespace with one relabeling step on its endpoint.
fn monitor_with_relabeling(relabeling: &Value) -> Value {
    serde_json::json!({
        "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
        "metadata": {"name": "edge", "namespace": "obs"},
        "spec": {"selector": {"matchLabels": {"app": "edge"}}, "endpoints": [{"port": "http", "relabelings": [relabeling]}]}
    })
}

#[test]
fn database_selectors_validation_accepts_are_the_ones_promtool_loads() {
    use serde_json::json;
    let cases = [
        (json!(r#"{job=~"mongodb|cosmos"}"#), false),
        (json!(r#"{job=~"db{2,3}"}"#), false),
        (json!(r#"{job=~"db{1001}"}"#), true),
        (json!(r#"{job=~"(?U)db.*"}"#), false),
        (json!(r#"{job=~"(?u)db"}"#), true),
    ];
    let promtool = promtool();
    differential(
        "alerting.rules.application.databaseSelector",
        &cases,
        |selector| {
            edge_documents(&json!({"alerting": {"rules": {"application": {"databaseSelector": selector}}}}), &[])
        },
        |rendered| {
            let rules = rendered.file(Component::Rules, "application.yml").unwrap_or_else(|e| panic!("{e}"));
            judge(&promtool, &["check", "rules"], "application.yml", rules).unwrap_or_else(|e| panic!("{e}"))
        },
    );
}

#[test]
fn group_by_validation_accepts_is_what_alertmanager_loads() {
    use serde_json::json;
    let cases = [
        (json!(["alertname", "service"]), false),
        (json!(["..."]), false),
        (json!(["team-name", "__tenant"]), false),
        (json!(["alertname", "..."]), true),
        (json!(["alertname", "alertname"]), true),
        (json!([""]), true),
    ];
    let amtool = amtool();
    differential(
        "alerting.routing.groupBy",
        &cases,
        |group_by| edge_documents(&json!({"alerting": {"routing": {"groupBy": group_by}}}), &[]),
        |rendered| {
            let config = rendered.file(Component::Alertmanager, "alertmanager.yml").unwrap_or_else(|e| panic!("{e}"));
            judge(&amtool, &["check-config"], "alertmanager.yml", config).unwrap_or_else(|e| panic!("{e}"))
        },
    );
}
