//! Prometheus: `prometheus.yml` with a scrape job per ServiceMonitor endpoint (generated the way
//! prometheus-operator generates it), jobs for the stack's own components and the kubelet, the
//! StatefulSet with its config-reloader sidecar, RBAC for Kubernetes service discovery, and —
//! when downsampling is on — a Thanos sidecar that ships blocks to object storage and a Thanos
//! compactor that downsamples them and enforces the retention of each resolution.
//!
//! The configuration is reloaded in place by `prometheus-config-reloader`, so the pod template
//! carries no config hash: a ServiceMonitor change never restarts Prometheus.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Service, Volume, VolumeMount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::common::{
    ConfigReloader, ProbeTiming, cluster_metadata, cluster_object_name, config_map_volume, config_reloader,
    container_ports, field_env, headless_service, http_probe, into_object, labels, metadata, object_name,
    object_name_with, pod_selector, pod_template, regex_literal, resource_requirements, restricted_container_security,
    restricted_pod_spec, secret_volume, selector_labels, service, service_account, strings, to_yaml,
    volume_claim_template, volume_mount,
};
use super::shard::{self, Piece};
use super::{Component, RenderError, ports};
use crate::api::{ConfigMapKeyRef, Endpoint, RelabelConfig, SecretKeyRef, SecretOrConfigMap};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// Stem of the shard files of the monitors' jobs: `scrape-0000.json` …
pub const SCRAPE_SHARD_STEM: &str = "scrape";
/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "prometheus.yml";
/// Where the `<stack>-prometheus` ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/prometheus/config";
/// Where the `<stack>-rules` ConfigMap is mounted; every `*.yml` in it is a rule file.
pub const RULES_DIR: &str = "/etc/prometheus/rules";
/// Referenced Secrets are mounted at `<SECRETS_DIR>/<name>/<key>`.
pub const SECRETS_DIR: &str = "/etc/prometheus/secrets";
/// Referenced ConfigMaps are mounted at `<CONFIG_MAPS_DIR>/<name>/<key>`.
pub const CONFIG_MAPS_DIR: &str = "/etc/prometheus/configmaps";
/// The TSDB directory (the volume claim), shared with the Thanos sidecar.
pub const DATA_DIR: &str = "/prometheus";
/// Where the Thanos object storage configuration Secret key is mounted.
pub const OBJSTORE_DIR: &str = "/etc/thanos/objstore";
/// The Thanos compactor's working directory.
const COMPACTOR_DATA_DIR: &str = "/var/thanos/compact";
/// The service-account token and cluster CA every pod gets, used to scrape the kubelet.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The user of the upstream Prometheus, Thanos and config-reloader images (`nobody`).
const PROMETHEUS_USER: i64 = 65534;
/// External label telling replicas apart, so Thanos never sees two replicas' blocks as one
/// stream; dropped from alerts so Alertmanager deduplicates them.
pub const REPLICA_LABEL: &str = "prometheus_replica";
/// Value of `app.kubernetes.io/name` on the compactor's pods, so Prometheus' Services never select them.
const COMPACTOR_APP_NAME: &str = "thanos-compactor";
/// Suffix of the compactor's objects: `<stack>-prometheus-compactor`.
const COMPACTOR_SUFFIX: &str = "compactor";
/// Suffix of the headless governing Service of the StatefulSet.
const HEADLESS_SUFFIX: &str = "headless";

/// A configuration string, borrowed from the spec where possible: a render of thousands of
/// monitors copies as little as it can.
type Text<'a> = Cow<'a, str>;
/// Source labels: mostly a static list, so most relabelings allocate nothing.
type Labels<'a> = Cow<'a, [Text<'a>]>;

/// A static list of label names, as [`Labels`].
macro_rules! labels {
    ($($name:expr),+ $(,)?) => {
        Cow::Borrowed(const { &[$(Cow::Borrowed($name)),+] } as &[Text<'static>])
    };
}

/// A list of one label name built at render time.
fn owned_label<'a>(name: String) -> Labels<'a> {
    Cow::Owned(vec![Cow::Owned(name)])
}

/// The Prometheus configuration file.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PrometheusConfig<'a> {
    pub global: Global<'a>,
    pub rule_files: Vec<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerting: Option<Alerting<'a>>,
    /// Globs of the shard files holding the monitors' jobs, when the configuration is sharded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<Text<'a>>,
    pub scrape_configs: Vec<ScrapeConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Global<'a> {
    pub scrape_interval: Text<'a>,
    pub scrape_timeout: Text<'a>,
    pub evaluation_interval: Text<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<Text<'a>, Text<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Alerting<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alert_relabel_configs: Vec<Relabel<'a>>,
    pub alertmanagers: Vec<AlertmanagerConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig<'a> {
    pub kubernetes_sd_configs: Vec<KubernetesSd<'a>>,
    pub relabel_configs: Vec<Relabel<'a>>,
}

/// One scrape job. Optional knobs are written only when set, like prometheus-operator does,
/// so Prometheus' own defaults apply otherwise.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ScrapeConfig<'a> {
    pub job_name: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_timestamps: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<&'a BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsFiles<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuthFiles>,
    pub kubernetes_sd_configs: Vec<KubernetesSd<'a>>,
    pub relabel_configs: Vec<Relabel<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<Relabel<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_limit: Option<u64>,
}

impl<'a> ScrapeConfig<'a> {
    /// A job with discovery and relabelings only; everything else from `global`.
    fn new(job_name: impl Into<Text<'a>>, discovery: KubernetesSd<'a>, relabel_configs: Vec<Relabel<'a>>) -> Self {
        Self {
            job_name: job_name.into(),
            honor_labels: None,
            honor_timestamps: None,
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: None,
            scheme: None,
            params: None,
            follow_redirects: None,
            tls_config: None,
            authorization: None,
            basic_auth: None,
            kubernetes_sd_configs: vec![discovery],
            relabel_configs,
            metric_relabel_configs: Vec::new(),
            sample_limit: None,
            target_limit: None,
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct KubernetesSd<'a> {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Namespaces<'a> {
    pub names: Vec<Text<'a>>,
}

/// TLS client settings; every secret part is a file mounted from a Secret.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct TlsFiles<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// `Authorization: Bearer <token>`, the token read from a file on every scrape.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub credentials_file: String,
}

/// Basic auth with both parts read from files.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BasicAuthFiles {
    pub username_file: String,
    pub password_file: String,
}

/// One relabeling step, keys in the order prometheus-operator writes them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Relabel<'a> {
    #[serde(skip_serializing_if = "no_labels")]
    pub source_labels: Labels<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Text<'a>>,
    /// Omitted when `replace`, Prometheus' default, as prometheus-operator writes it.
    #[serde(skip_serializing_if = "is_replace")]
    pub action: &'static str,
}

fn no_labels(labels: &Labels<'_>) -> bool {
    labels.is_empty()
}

fn is_replace(action: &&'static str) -> bool {
    *action == "replace"
}

impl<'a> Relabel<'a> {
    fn filter(action: &'static str, source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels,
            separator: None,
            target_label: None,
            regex: Some(regex.into()),
            modulus: None,
            replacement: None,
            action,
        }
    }

    /// Keeps targets whose joined source labels match `regex`.
    fn keep(source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self::filter("keep", source_labels, regex)
    }

    /// Drops targets whose joined source labels match `regex`.
    fn drop(source_labels: Labels<'a>, regex: impl Into<Text<'a>>) -> Self {
        Self::filter("drop", source_labels, regex)
    }

    /// Copies a label (an empty source removes the target label, as in Prometheus).
    fn copy(source_labels: Labels<'a>, target: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels,
            separator: None,
            target_label: Some(target.into()),
            regex: None,
            modulus: None,
            replacement: None,
            action: "replace",
        }
    }

    /// Copies a label only when the source is not empty.
    fn copy_non_empty(source_labels: Labels<'a>, target: impl Into<Text<'a>>) -> Self {
        Self {
            regex: Some(Cow::Borrowed("(.+)")),
            replacement: Some(Cow::Borrowed("${1}")),
            ..Self::copy(source_labels, target)
        }
    }

    /// Sets a label to a fixed value.
    fn set(target: &'static str, value: impl Into<Text<'a>>) -> Self {
        Self {
            source_labels: Cow::Borrowed(&[]),
            separator: None,
            target_label: Some(Cow::Borrowed(target)),
            regex: None,
            modulus: None,
            replacement: Some(value.into()),
            action: "replace",
        }
    }

    /// A user's relabeling, with Prometheus' action name.
    fn from_spec(config: &'a RelabelConfig) -> Self {
        Self {
            source_labels: config
                .source_labels
                .iter()
                .map(|label| Cow::Borrowed(label.as_str()))
                .collect::<Vec<_>>()
                .into(),
            separator: config.separator.as_deref().map(Cow::Borrowed),
            target_label: config.target_label.as_deref().map(Cow::Borrowed),
            regex: config.regex.as_deref().map(Cow::Borrowed),
            modulus: config.modulus,
            replacement: config.replacement.as_deref().map(Cow::Borrowed),
            action: config.action.prometheus_name(),
        }
    }
}

/// The Secret and ConfigMap keys the scrape jobs read, each mounted once, in name order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mounts<'a> {
    /// Secret name → keys.
    pub secrets: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// ConfigMap name → keys.
    pub config_maps: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Mounts<'a> {
    /// The file of a Secret key, recording that the Secret must be mounted.
    fn secret(&mut self, reference: &'a SecretKeyRef) -> String {
        self.secrets.entry(&reference.name).or_default().insert(&reference.key);
        format!("{SECRETS_DIR}/{}/{}", reference.name, reference.key)
    }

    /// The file of a ConfigMap key, recording that the ConfigMap must be mounted.
    fn config_map(&mut self, reference: &'a ConfigMapKeyRef) -> String {
        self.config_maps.entry(&reference.name).or_default().insert(&reference.key);
        format!("{CONFIG_MAPS_DIR}/{}/{}", reference.name, reference.key)
    }

    /// The volumes and their mounts in the Prometheus container.
    fn volumes(&self) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = Vec::with_capacity(self.secrets.len() + self.config_maps.len());
        let mut mounts = Vec::with_capacity(volumes.capacity());
        for (name, keys) in &self.secrets {
            let volume = volume_name("secret", name);
            let items: Vec<(&str, &str)> = keys.iter().map(|key| (*key, *key)).collect();
            volumes.push(secret_volume(&volume, name, &items));
            mounts.push(volume_mount(&volume, &format!("{SECRETS_DIR}/{name}"), true));
        }
        for name in self.config_maps.keys() {
            let volume = volume_name("configmap", name);
            volumes.push(config_map_volume(&volume, name));
            mounts.push(volume_mount(&volume, &format!("{CONFIG_MAPS_DIR}/{name}"), true));
        }
        (volumes, mounts)
    }
}

/// A volume name (a DNS-1123 label, at most 63 characters) for an object name (a subdomain, up
/// to 253, dots allowed). Names that do not fit as they are get a hash suffix, so two objects
/// never share a volume.
fn volume_name(prefix: &str, object: &str) -> String {
    const MAX: usize = 63;
    let plain = format!("{prefix}-{object}");
    if plain.len() <= MAX && !object.contains('.') {
        return plain;
    }
    let digest = Sha256::digest(object.as_bytes());
    let suffix: String = digest.iter().take(4).map(|byte| format!("{byte:02x}")).collect();
    let mut head: String = plain.replace('.', "-").chars().take(MAX - suffix.len() - 1).collect();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}-{suffix}")
}

/// Prometheus-operator's `sanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
fn sanitize_label_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn invalid(field: String, message: String) -> RenderError {
    RenderError::invalid(Component::Prometheus, field, message)
}

/// Builds the Prometheus configuration and the Secrets/ConfigMaps its jobs read.
pub fn config(stack: &ResolvedStack) -> Result<(PrometheusConfig<'_>, Mounts<'_>), RenderError> {
    let mut mounts = Mounts::default();
    let endpoint_count: usize = stack.monitors.iter().map(|monitor| monitor.spec.endpoints.len()).sum();
    let mut scrape_configs = Vec::with_capacity(endpoint_count + 12);
    for monitor in &stack.monitors {
        scrape_configs.extend(monitor_jobs(stack, monitor, &mut mounts)?);
    }
    let mut config = base_config(stack, scrape_configs);
    config.scrape_configs.extend(component_jobs(stack));
    config.scrape_configs.extend(kubelet_jobs());
    Ok((config, mounts))
}

/// The scrape jobs of one monitor, one per endpoint, with the files they read recorded.
pub fn monitor_jobs<'a>(
    stack: &'a ResolvedStack,
    monitor: &'a ResolvedMonitor,
    mounts: &mut Mounts<'a>,
) -> Result<Vec<ScrapeConfig<'a>>, RenderError> {
    monitor.endpoints().map(|(index, endpoint)| monitor_job(stack, monitor, index, endpoint, mounts)).collect()
}

/// One monitor's jobs as a shard piece: compact JSON (which is YAML), one job a line, so a
/// shard of thousands of jobs is written at serde_json's speed and stays readable line by line.
pub fn monitor_piece(stack: &ResolvedStack, monitor: &ResolvedMonitor) -> Result<Piece, RenderError> {
    let mut mounts = Mounts::default();
    let jobs = monitor_jobs(stack, monitor, &mut mounts)?;
    let mut text = String::with_capacity(jobs.len() * 3072);
    for (position, job) in jobs.iter().enumerate() {
        if position > 0 {
            text.push_str(",\n");
        }
        text.push_str(&to_json_line(&job.job_name, job)?);
    }
    Ok(Piece::new(&monitor.key(), text))
}

fn to_json_line<T: Serialize>(what: &str, value: &T) -> Result<String, RenderError> {
    serde_json::to_string(value).map_err(RenderError::serialize(Component::Prometheus, what))
}

/// Records the Secret and ConfigMap keys a monitor's jobs read, as [`monitor_jobs`] does, for
/// monitors whose jobs come from the render cache.
pub fn record_mounts<'a>(monitor: &'a ResolvedMonitor, mounts: &mut Mounts<'a>) {
    let secret_or_config_map = |reference: &'a SecretOrConfigMap, mounts: &mut Mounts<'a>| {
        if let Some(secret) = &reference.secret {
            mounts.secret(secret);
        } else if let Some(config_map) = &reference.config_map {
            mounts.config_map(config_map);
        }
    };
    for endpoint in &monitor.spec.endpoints {
        if let Some(tls) = &endpoint.tls_config {
            for reference in [&tls.ca, &tls.cert].into_iter().flatten() {
                secret_or_config_map(reference, mounts);
            }
            if let Some(key) = &tls.key_secret {
                mounts.secret(key);
            }
        }
        if let Some(token) = &endpoint.bearer_token_secret {
            mounts.secret(token);
        }
        if let Some(basic) = &endpoint.basic_auth {
            mounts.secret(&basic.username);
            mounts.secret(&basic.password);
        }
    }
}

/// The configuration around the given scrape jobs: global settings, rule files, alerting.
fn base_config<'a>(stack: &'a ResolvedStack, scrape_configs: Vec<ScrapeConfig<'a>>) -> PrometheusConfig<'a> {
    let prometheus = &stack.spec.metrics.prometheus;
    let mut external_labels: BTreeMap<Text<'_>, Text<'_>> = prometheus
        .external_labels
        .iter()
        // Prometheus expands `$VAR` in external label values; a user's `$` is literal.
        .map(|(name, value)| {
            let value =
                if value.contains('$') { Cow::Owned(value.replace('$', "$$")) } else { Cow::Borrowed(value.as_str()) };
            (Cow::Borrowed(name.as_str()), value)
        })
        .collect();
    external_labels.entry(Cow::Borrowed(REPLICA_LABEL)).or_insert(Cow::Borrowed("${POD_NAME}"));

    let alerting = Component::Alertmanager.enabled(stack).then(|| Alerting {
        alert_relabel_configs: vec![Relabel {
            source_labels: Cow::Borrowed(&[]),
            separator: None,
            target_label: None,
            regex: Some(Cow::Borrowed(REPLICA_LABEL)),
            modulus: None,
            replacement: None,
            action: "labeldrop",
        }],
        alertmanagers: vec![AlertmanagerConfig {
            // EndpointSlices, like the monitor jobs: the v1 Endpoints API is deprecated since
            // Kubernetes 1.33 and the API server answers every list and watch of it with a warning.
            kubernetes_sd_configs: vec![KubernetesSd {
                role: "endpointslice",
                namespaces: Some(Namespaces { names: vec![Cow::Borrowed(stack.namespace.as_str())] }),
            }],
            relabel_configs: vec![
                Relabel::keep(
                    labels!["__meta_kubernetes_service_name"],
                    Cow::Owned(regex_literal(&object_name(stack, Component::Alertmanager)).into_owned()),
                ),
                Relabel::keep(labels!["__meta_kubernetes_endpointslice_port_name"], "http"),
            ],
        }],
    });

    PrometheusConfig {
        global: Global {
            scrape_interval: Cow::Borrowed(prometheus.scrape_interval.as_str()),
            scrape_timeout: Cow::Borrowed(prometheus.scrape_timeout.as_str()),
            evaluation_interval: Cow::Borrowed(prometheus.evaluation_interval.as_str()),
            external_labels,
        },
        rule_files: vec![Cow::Owned(format!("{RULES_DIR}/*.yml"))],
        alerting,
        scrape_config_files: Vec::new(),
        scrape_configs,
    }
}

/// The scrape job of one ServiceMonitor endpoint, as prometheus-operator generates it
/// (`generateServiceMonitorConfig`, EndpointSlice discovery, relabel selector mechanism).
fn monitor_job<'a>(
    stack: &'a ResolvedStack,
    monitor: &'a ResolvedMonitor,
    index: usize,
    endpoint: &'a Endpoint,
    mounts: &mut Mounts<'a>,
) -> Result<ScrapeConfig<'a>, RenderError> {
    let spec = &monitor.spec;
    let field = |name: &str| format!("ServiceMonitor {}: spec.endpoints[{index}].{name}", monitor.key());
    let defaults = &stack.spec.metrics.prometheus;

    // Interval and timeout: the endpoint's, else the stack's; a default timeout longer than the
    // endpoint's interval shrinks to it (what Prometheus does when the timeout is unset).
    let interval = endpoint.interval.as_ref().unwrap_or(&defaults.scrape_interval);
    let interval_ms =
        interval.to_millis().ok_or_else(|| invalid(field("interval"), format!("{interval} is not a duration")))?;
    let timeout = match &endpoint.scrape_timeout {
        Some(timeout) => {
            let timeout_ms = timeout
                .to_millis()
                .ok_or_else(|| invalid(field("scrapeTimeout"), format!("{timeout} is not a duration")))?;
            if timeout_ms > interval_ms {
                return Err(invalid(
                    field("scrapeTimeout"),
                    format!("{timeout} exceeds the scrape interval {interval}"),
                ));
            }
            timeout
        }
        None if defaults.scrape_timeout.to_millis().is_none_or(|timeout_ms| timeout_ms > interval_ms) => interval,
        None => &defaults.scrape_timeout,
    };

    // Prometheus runs in the stack's namespace and can only mount Secrets and ConfigMaps there.
    let mount_check = |name: &str, kind: &str, object: &str| {
        if monitor.namespace == stack.namespace {
            Ok(())
        } else {
            Err(invalid(
                field(name),
                format!(
                    "{kind} {object} is in the monitor's namespace {}, but Prometheus can only mount objects of \
                     the stack's namespace {}",
                    monitor.namespace, stack.namespace
                ),
            ))
        }
    };
    let secret_or_config_map =
        |reference: &'a SecretOrConfigMap, name: &str, mounts: &mut Mounts<'a>| -> Result<String, RenderError> {
            match (&reference.secret, &reference.config_map) {
                (Some(secret), None) => {
                    mount_check(&format!("{name}.secret"), "Secret", &secret.name)?;
                    Ok(mounts.secret(secret))
                }
                (None, Some(config_map)) => {
                    mount_check(&format!("{name}.configMap"), "ConfigMap", &config_map.name)?;
                    Ok(mounts.config_map(config_map))
                }
                _ => Err(invalid(field(name), "set exactly one of secret or configMap".to_owned())),
            }
        };

    let tls_config = match &endpoint.tls_config {
        Some(tls) => {
            let mut files = TlsFiles {
                ca_file: tls.ca_file.as_deref().map(Cow::Borrowed),
                server_name: tls.server_name.as_deref().map(Cow::Borrowed),
                insecure_skip_verify: tls.insecure_skip_verify,
                ..TlsFiles::default()
            };
            if let Some(ca) = &tls.ca {
                files.ca_file = Some(Cow::Owned(secret_or_config_map(ca, "tlsConfig.ca", mounts)?));
            }
            if let Some(cert) = &tls.cert {
                files.cert_file = Some(secret_or_config_map(cert, "tlsConfig.cert", mounts)?);
            }
            if let Some(key) = &tls.key_secret {
                mount_check("tlsConfig.keySecret", "Secret", &key.name)?;
                files.key_file = Some(mounts.secret(key));
            }
            Some(files)
        }
        None => None,
    };
    let authorization = match &endpoint.bearer_token_secret {
        Some(token) => {
            mount_check("bearerTokenSecret", "Secret", &token.name)?;
            Some(Authorization { kind: "Bearer", credentials_file: mounts.secret(token) })
        }
        None => None,
    };
    let basic_auth = match &endpoint.basic_auth {
        Some(basic) => {
            mount_check("basicAuth.username", "Secret", &basic.username.name)?;
            mount_check("basicAuth.password", "Secret", &basic.password.name)?;
            Some(BasicAuthFiles {
                username_file: mounts.secret(&basic.username),
                password_file: mounts.secret(&basic.password),
            })
        }
        None => None,
    };

    let mut relabelings =
        Vec::with_capacity(16 + spec.target_labels.len() + spec.pod_target_labels.len() + endpoint.relabelings.len());
    relabelings.push(Relabel::copy(labels!["job"], "__tmp_prometheus_job_name"));

    // Keep the Services the selector selects.
    let label_sources = |key: &str| {
        let key = sanitize_label_name(key);
        Cow::Owned(vec![
            Cow::Owned(format!("__meta_kubernetes_service_label_{key}")),
            Cow::Owned(format!("__meta_kubernetes_service_labelpresent_{key}")),
        ])
    };
    let present_source =
        |key: &str| owned_label(format!("__meta_kubernetes_service_labelpresent_{}", sanitize_label_name(key)));
    for (key, value) in spec.selector.match_labels.iter().flatten() {
        relabelings.push(Relabel::keep(label_sources(key), format!("({});true", regex_literal(value))));
    }
    for (position, expression) in spec.selector.match_expressions.iter().flatten().enumerate() {
        let values =
            || expression.values.iter().flatten().map(|value| regex_literal(value)).collect::<Vec<_>>().join("|");
        relabelings.push(match expression.operator.as_str() {
            "In" => Relabel::keep(label_sources(&expression.key), format!("({});true", values())),
            "NotIn" => Relabel::drop(label_sources(&expression.key), format!("({});true", values())),
            "Exists" => Relabel::keep(present_source(&expression.key), "true"),
            "DoesNotExist" => Relabel::drop(present_source(&expression.key), "true"),
            other => {
                return Err(invalid(
                    format!("ServiceMonitor {}: spec.selector.matchExpressions[{position}].operator", monitor.key()),
                    format!("unknown operator {other:?}: one of In, NotIn, Exists, DoesNotExist"),
                ));
            }
        });
    }

    // Keep the endpoint's port.
    if let Some(port) = &endpoint.port {
        relabelings.push(Relabel::keep(labels!["__meta_kubernetes_endpointslice_port_name"], regex_literal(port)));
    } else if let Some(target_port) = &endpoint.target_port {
        relabelings.push(match target_port {
            IntOrString::String(name) => {
                Relabel::keep(labels!["__meta_kubernetes_pod_container_port_name"], regex_literal(name))
            }
            IntOrString::Int(number) => {
                Relabel::keep(labels!["__meta_kubernetes_pod_container_port_number"], number.to_string())
            }
        });
    }

    // Target identity: node or pod from the endpoint's target, namespace, service, pod, container.
    for (regex, label) in [("Node;(.*)", "node"), ("Pod;(.*)", "pod")] {
        relabelings.push(Relabel {
            source_labels: labels![
                "__meta_kubernetes_endpointslice_address_target_kind",
                "__meta_kubernetes_endpointslice_address_target_name",
            ],
            separator: Some(Cow::Borrowed(";")),
            target_label: Some(Cow::Borrowed(label)),
            regex: Some(Cow::Borrowed(regex)),
            modulus: None,
            replacement: Some(Cow::Borrowed("${1}")),
            action: "replace",
        });
    }
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_namespace"], "namespace"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_service_name"], "service"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_name"], "pod"));
    relabelings.push(Relabel::copy(labels!["__meta_kubernetes_pod_container_name"], "container"));
    relabelings.push(running_pods_only());

    for label in &spec.target_labels {
        let name = sanitize_label_name(label);
        relabelings.push(Relabel::copy_non_empty(owned_label(format!("__meta_kubernetes_service_label_{name}")), name));
    }
    for label in &spec.pod_target_labels {
        let name = sanitize_label_name(label);
        relabelings.push(Relabel::copy_non_empty(owned_label(format!("__meta_kubernetes_pod_label_{name}")), name));
    }

    // `job`: the Service name, overridden by the jobLabel's value where the Service has it.
    relabelings.push(Relabel {
        replacement: Some(Cow::Borrowed("${1}")),
        ..Relabel::copy(labels!["__meta_kubernetes_service_name"], "job")
    });
    if let Some(job_label) = &spec.job_label {
        relabelings.push(Relabel::copy_non_empty(
            owned_label(format!("__meta_kubernetes_service_label_{}", sanitize_label_name(job_label))),
            "job",
        ));
    }

    // `endpoint`: the port name, else the target port.
    if let Some(port) = &endpoint.port {
        relabelings.push(Relabel::set("endpoint", port.as_str()));
    } else if let Some(target_port) = &endpoint.target_port {
        relabelings.push(Relabel::set(
            "endpoint",
            match target_port {
                IntOrString::String(name) => Cow::Borrowed(name.as_str()),
                IntOrString::Int(number) => Cow::Owned(number.to_string()),
            },
        ));
    }

    // The user's relabelings come last, so they can rewrite anything generated above.
    relabelings.extend(endpoint.relabelings.iter().map(Relabel::from_spec));

    let mut job = ScrapeConfig::new(
        monitor.job_name(index),
        KubernetesSd {
            role: "endpointslice",
            namespaces: monitor
                .service_namespaces()
                .map(|names| Namespaces { names: names.into_iter().map(Cow::Owned).collect() }),
        },
        relabelings,
    );
    job.honor_labels = endpoint.honor_labels;
    job.honor_timestamps = endpoint.honor_timestamps;
    job.scrape_interval = Some(Cow::Borrowed(interval.as_str()));
    job.scrape_timeout = Some(Cow::Borrowed(timeout.as_str()));
    job.metrics_path = endpoint.path.as_deref().map(Cow::Borrowed);
    job.scheme = endpoint.scheme.map(|scheme| scheme.as_str());
    job.params = (!endpoint.params.is_empty()).then_some(&endpoint.params);
    job.follow_redirects = endpoint.follow_redirects;
    job.tls_config = tls_config;
    job.authorization = authorization;
    job.basic_auth = basic_auth;
    job.metric_relabel_configs = endpoint.metric_relabelings.iter().map(Relabel::from_spec).collect();
    job.sample_limit = spec.sample_limit;
    job.target_limit = spec.target_limit;
    Ok(job)
}

/// Drops pods that have finished: their endpoints linger but can never be scraped.
fn running_pods_only<'a>() -> Relabel<'a> {
    Relabel::drop(labels!["__meta_kubernetes_pod_phase"], "(Failed|Succeeded)")
}

/// A job scraping one port of a stack component's pods, found by their labels (pod discovery,
/// so every replica is scraped and DaemonSets without a Service are found too).
fn component_job<'a>(stack: &'a ResolvedStack, job_name: &'static str, app_name: &str, port: u16) -> ScrapeConfig<'a> {
    ScrapeConfig::new(
        job_name,
        KubernetesSd {
            role: "pod",
            namespaces: Some(Namespaces { names: vec![Cow::Borrowed(stack.namespace.as_str())] }),
        },
        vec![
            Relabel::keep(
                labels![
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
                    "__meta_kubernetes_pod_container_port_number",
                ],
                format!("{};{};{port}", regex_literal(app_name), regex_literal(&stack.name)),
            ),
            running_pods_only(),
            Relabel::copy(labels!["__meta_kubernetes_namespace"], "namespace"),
            Relabel::copy(labels!["__meta_kubernetes_pod_name"], "pod"),
            Relabel::copy(labels!["__meta_kubernetes_pod_container_name"], "container"),
        ],
    )
}

/// Jobs for the stack's own enabled components.
fn component_jobs(stack: &ResolvedStack) -> Vec<ScrapeConfig<'_>> {
    let prometheus = Component::Prometheus.as_str();
    let mut jobs = vec![component_job(stack, "prometheus", prometheus, ports::PROMETHEUS_HTTP)];
    if stack.spec.metrics.downsampling.enabled {
        jobs.push(component_job(stack, "thanos-sidecar", prometheus, ports::THANOS_SIDECAR_HTTP));
        jobs.push(component_job(stack, "thanos-compactor", COMPACTOR_APP_NAME, ports::THANOS_COMPACTOR_HTTP));
    }
    let others: [(Component, &'static str, u16); 7] = [
        (Component::Alertmanager, "alertmanager", ports::ALERTMANAGER_HTTP),
        (Component::Loki, "loki", ports::LOKI_HTTP),
        (Component::Promtail, "promtail", ports::PROMTAIL_HTTP),
        (Component::Alloy, "alloy", ports::ALLOY_HTTP),
        (Component::Grafana, "grafana", ports::GRAFANA_HTTP),
        (Component::Jaeger, "jaeger", ports::JAEGER_METRICS),
        // Span metrics (`traces_span_metrics_*`) for the performance budgets.
        (Component::Jaeger, "jaeger-spanmetrics", ports::JAEGER_SPANMETRICS),
    ];
    for (component, job_name, port) in others {
        if component.enabled(stack) {
            jobs.push(component_job(stack, job_name, component.as_str(), port));
        }
    }
    jobs
}

/// The kubelet's own metrics (`kubelet_volume_stats_*`) and cAdvisor's container metrics
/// (`container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`) that the
/// infrastructure alerts read: every node's kubelet over HTTPS with the service-account token.
fn kubelet_jobs<'a>() -> [ScrapeConfig<'a>; 2] {
    let job = |job_name: &'static str, metrics_path: &'static str| {
        let mut job = ScrapeConfig::new(
            job_name,
            KubernetesSd { role: "node", namespaces: None },
            vec![Relabel::copy(labels!["__meta_kubernetes_node_name"], "node")],
        );
        job.metrics_path = Some(Cow::Borrowed(metrics_path));
        job.scheme = Some("https");
        job.tls_config = Some(TlsFiles {
            ca_file: Some(Cow::Owned(format!("{SERVICE_ACCOUNT_DIR}/ca.crt"))),
            ..TlsFiles::default()
        });
        job.authorization =
            Some(Authorization { kind: "Bearer", credentials_file: format!("{SERVICE_ACCOUNT_DIR}/token") });
        job
    };
    [job("kubelet", "/metrics"), job("cadvisor", "/metrics/cadvisor")]
}

/// The Thanos object storage configuration, a Secret key mounted as a file.
fn objstore_volume(stack: &ResolvedStack) -> (Volume, String) {
    let reference = &stack.spec.metrics.downsampling.object_storage;
    (
        secret_volume("objstore", &reference.name, &[(&reference.key, &reference.key)]),
        format!("--objstore.config-file={OBJSTORE_DIR}/{}", reference.key),
    )
}

/// Labels of the compactor's objects and pods: the component's, under their own app name.
fn compactor_labels(stack: &ResolvedStack) -> BTreeMap<String, String> {
    let mut compactor = labels(stack, Component::Prometheus);
    compactor.insert("app.kubernetes.io/name".to_owned(), COMPACTOR_APP_NAME.to_owned());
    compactor
}

fn compactor_selector(stack: &ResolvedStack) -> BTreeMap<String, String> {
    let mut selector = selector_labels(stack, Component::Prometheus);
    selector.insert("app.kubernetes.io/name".to_owned(), COMPACTOR_APP_NAME.to_owned());
    selector
}

/// The Prometheus container.
fn prometheus_container(stack: &ResolvedStack, secret_mounts: Vec<VolumeMount>) -> Container {
    let prometheus = &stack.spec.metrics.prometheus;
    let mut args = vec![
        format!("--config.file={CONFIG_DIR}/{CONFIG_FILE}"),
        format!("--storage.tsdb.path={DATA_DIR}"),
        format!("--storage.tsdb.retention.time={}", prometheus.retention),
        "--web.enable-lifecycle".to_owned(),
    ];
    if stack.spec.metrics.downsampling.enabled {
        // The sidecar uploads 2h blocks; compaction is the Thanos compactor's job.
        args.push("--storage.tsdb.min-block-duration=2h".to_owned());
        args.push("--storage.tsdb.max-block-duration=2h".to_owned());
    }
    let mut mounts = vec![
        volume_mount("config", CONFIG_DIR, true),
        volume_mount("rules", RULES_DIR, true),
        volume_mount("data", DATA_DIR, false),
    ];
    mounts.extend(secret_mounts);
    Container {
        name: "prometheus".to_owned(),
        image: Some(prometheus.image.as_str().to_owned()),
        args: Some(args),
        // `${POD_NAME}` in the external labels tells the replicas apart.
        env: Some(vec![field_env("POD_NAME", "metadata.name")]),
        ports: Some(container_ports(&[("http", ports::PROMETHEUS_HTTP)])),
        liveness_probe: Some(http_probe("/-/healthy", "http", ProbeTiming::after(30).failures(6))),
        readiness_probe: Some(http_probe("/-/ready", "http", ProbeTiming::after(5))),
        resources: resource_requirements(&prometheus.resources),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The sidecar that reloads Prometheus when the config or rule files change.
fn reloader_container() -> Container {
    config_reloader(ConfigReloader {
        reload_port: ports::PROMETHEUS_HTTP,
        watched: &[("config", CONFIG_DIR), ("rules", RULES_DIR)],
        pod_name_env: false,
        cpu_limit: false,
        probe_timeout_seconds: 5,
    })
}

/// The Thanos sidecar: uploads every finished TSDB block to object storage.
fn thanos_sidecar_container(stack: &ResolvedStack, objstore_flag: String) -> Container {
    Container {
        name: "thanos-sidecar".to_owned(),
        image: Some(stack.spec.metrics.downsampling.image.as_str().to_owned()),
        args: Some(vec![
            "sidecar".to_owned(),
            format!("--tsdb.path={DATA_DIR}"),
            format!("--prometheus.url=http://127.0.0.1:{}", ports::PROMETHEUS_HTTP),
            objstore_flag,
            format!("--grpc-address=0.0.0.0:{}", ports::THANOS_SIDECAR_GRPC),
            format!("--http-address=0.0.0.0:{}", ports::THANOS_SIDECAR_HTTP),
        ]),
        ports: Some(container_ports(&[
            ("grpc", ports::THANOS_SIDECAR_GRPC),
            ("thanos-http", ports::THANOS_SIDECAR_HTTP),
        ])),
        liveness_probe: Some(http_probe("/-/healthy", "thanos-http", ProbeTiming::after(10).failures(6))),
        readiness_probe: Some(http_probe("/-/ready", "thanos-http", ProbeTiming::after(5))),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![volume_mount("data", DATA_DIR, false), volume_mount("objstore", OBJSTORE_DIR, true)]),
        ..Container::default()
    }
}

/// The ClusterRole Kubernetes service discovery and the kubelet scrapes need, bound to the
/// Prometheus ServiceAccount.
fn rbac(stack: &ResolvedStack) -> (ClusterRole, ClusterRoleBinding) {
    let name = cluster_object_name(stack, Component::Prometheus);
    let read = strings(&["get", "list", "watch"]);
    let role = ClusterRole {
        metadata: cluster_metadata(stack, Component::Prometheus, name.clone()),
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(strings(&[""])),
                resources: Some(strings(&["services", "pods", "nodes", "nodes/metrics"])),
                verbs: read.clone(),
                ..PolicyRule::default()
            },
            PolicyRule {
                api_groups: Some(strings(&["discovery.k8s.io"])),
                resources: Some(strings(&["endpointslices"])),
                verbs: read,
                ..PolicyRule::default()
            },
            PolicyRule {
                non_resource_urls: Some(strings(&["/metrics"])),
                verbs: strings(&["get"]),
                ..PolicyRule::default()
            },
        ]),
        ..ClusterRole::default()
    };
    let binding = ClusterRoleBinding {
        metadata: cluster_metadata(stack, Component::Prometheus, name.clone()),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".to_owned(), kind: "ClusterRole".to_owned(), name },
        subjects: Some(vec![Subject {
            api_group: None,
            kind: "ServiceAccount".to_owned(),
            name: object_name(stack, Component::Prometheus),
            namespace: Some(stack.namespace.clone()),
        }]),
    };
    (role, binding)
}

/// The Thanos compactor: downsamples uploaded blocks to 5m and 1h and deletes each resolution
/// after its retention. A singleton, with its own scratch volume and a Service for its metrics.
fn compactor(stack: &ResolvedStack) -> (Service, StatefulSet) {
    let downsampling = &stack.spec.metrics.downsampling;
    let name = object_name_with(stack, Component::Prometheus, COMPACTOR_SUFFIX);
    let object_metadata =
        || ObjectMeta { labels: Some(compactor_labels(stack)), ..metadata(stack, Component::Prometheus, name.clone()) };
    let mut svc = service(stack, Component::Prometheus, name.clone(), &[("http", ports::THANOS_COMPACTOR_HTTP)]);
    svc.metadata = object_metadata();
    if let Some(spec) = svc.spec.as_mut() {
        spec.selector = Some(compactor_selector(stack));
    }
    let (objstore, objstore_flag) = objstore_volume(stack);
    let container = Container {
        name: "thanos-compactor".to_owned(),
        image: Some(downsampling.image.as_str().to_owned()),
        args: Some(vec![
            "compact".to_owned(),
            "--wait".to_owned(),
            format!("--data-dir={COMPACTOR_DATA_DIR}"),
            objstore_flag,
            format!("--http-address=0.0.0.0:{}", ports::THANOS_COMPACTOR_HTTP),
            format!("--retention.resolution-raw={}", downsampling.raw_retention),
            format!("--retention.resolution-5m={}", downsampling.five_minute_retention),
            format!("--retention.resolution-1h={}", downsampling.one_hour_retention),
        ]),
        ports: Some(container_ports(&[("http", ports::THANOS_COMPACTOR_HTTP)])),
        liveness_probe: Some(http_probe("/-/healthy", "http", ProbeTiming::after(10).failures(6))),
        readiness_probe: Some(http_probe("/-/ready", "http", ProbeTiming::after(5))),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![
            volume_mount("data", COMPACTOR_DATA_DIR, false),
            volume_mount("objstore", OBJSTORE_DIR, true),
        ]),
        ..Container::default()
    };
    let statefulset = StatefulSet {
        metadata: object_metadata(),
        spec: Some(StatefulSetSpec {
            // Two compactors on one bucket corrupt it: exactly one.
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(compactor_selector(stack)), match_expressions: None },
            service_name: Some(name.clone()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(compactor_labels(stack)), ..ObjectMeta::default() }),
                spec: Some(restricted_pod_spec(PROMETHEUS_USER, vec![container], vec![objstore])),
            },
            volume_claim_templates: Some(vec![volume_claim_template(
                "data",
                &stack.spec.metrics.prometheus.storage_size,
                None,
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    (svc, statefulset)
}

/// Renders the RBAC, the ConfigMap, the Services and the StatefulSet of Prometheus, and the
/// Thanos compactor when downsampling is enabled.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    if !Component::Prometheus.enabled(stack) {
        return Ok(Vec::new());
    }
    let pieces: Vec<Piece> =
        stack.monitors.iter().map(|monitor| monitor_piece(stack, monitor)).collect::<Result<_, _>>()?;
    let pieces: Vec<&Piece> = pieces.iter().collect();
    let rule_config_maps = super::rules::layout(stack)?.config_map_names(stack);
    render_with(stack, &pieces, &rule_config_maps)
}

/// The configuration file(s) and the ConfigMaps holding them: `prometheus.yml` alone while it is
/// small, else `prometheus.yml` reading the monitors' jobs from `scrape-NNNN.json` shards.
struct ConfigLayout<'a> {
    /// `(ConfigMap name, files)`, the main ConfigMap first.
    config_maps: Vec<(String, BTreeMap<String, String>)>,
    mounts: Mounts<'a>,
}

fn config_layout<'a>(stack: &'a ResolvedStack, pieces: &[&Piece]) -> Result<ConfigLayout<'a>, RenderError> {
    let name = object_name(stack, Component::Prometheus);
    // JSON pieces are about two thirds the size of the same jobs in block YAML.
    let estimated: usize = pieces.iter().map(|piece| piece.text.len()).sum::<usize>() * 3 / 2;
    if estimated <= shard::UNSHARDED_LIMIT {
        let (config, mounts) = config(stack)?;
        let text = to_yaml(Component::Prometheus, CONFIG_FILE, &config)?;
        if text.len() <= shard::UNSHARDED_LIMIT {
            return Ok(ConfigLayout {
                config_maps: vec![(name, BTreeMap::from([(CONFIG_FILE.to_owned(), text)]))],
                mounts,
            });
        }
    }
    let mut mounts = Mounts::default();
    for monitor in &stack.monitors {
        record_mounts(monitor, &mut mounts);
    }
    let mut jobs = component_jobs(stack);
    jobs.extend(kubelet_jobs());
    let mut main = base_config(stack, jobs);
    main.scrape_config_files = vec![Cow::Owned(format!("{CONFIG_DIR}/{SCRAPE_SHARD_STEM}-*.json"))];
    let main_text = to_yaml(Component::Prometheus, CONFIG_FILE, &main)?;
    const HEAD: &str = "{\"scrape_configs\":[\n";
    const TAIL: &str = "\n]}\n";
    let buckets = shard::bucket_count(pieces, shard::SHARD_BUDGET, HEAD.len() + TAIL.len());
    let mut config_maps = vec![(name.clone(), BTreeMap::from([(CONFIG_FILE.to_owned(), main_text)]))];
    for (bucket, members) in shard::distribute(pieces, buckets).into_iter().enumerate() {
        let size: usize = members.iter().map(|piece| piece.text.len() + 2).sum();
        let mut text = String::with_capacity(HEAD.len() + size + TAIL.len());
        text.push_str(HEAD);
        for (position, piece) in members.iter().enumerate() {
            if position > 0 {
                text.push_str(",\n");
            }
            text.push_str(&piece.text);
        }
        text.push_str(TAIL);
        config_maps.push((
            shard::shard_object(&name, SCRAPE_SHARD_STEM, bucket),
            BTreeMap::from([(shard::shard_file(SCRAPE_SHARD_STEM, bucket, "json"), text)]),
        ));
    }
    Ok(ConfigLayout { config_maps, mounts })
}

/// Renders Prometheus from the monitors' job pieces (fresh or from the render cache) and the
/// names of the rule ConfigMaps it mounts.
pub fn render_with(
    stack: &ResolvedStack,
    pieces: &[&Piece],
    rule_config_maps: &[String],
) -> Result<Vec<DynamicObject>, RenderError> {
    if !Component::Prometheus.enabled(stack) {
        return Ok(Vec::new());
    }
    let prometheus = &stack.spec.metrics.prometheus;
    let downsampling = stack.spec.metrics.downsampling.enabled;
    let name = object_name(stack, Component::Prometheus);
    let layout = config_layout(stack, pieces)?;
    let (secret_volumes, secret_mounts) = layout.mounts.volumes();
    let config_map_names: Vec<String> = layout.config_maps.iter().map(|(name, _)| name.clone()).collect();

    let (role, binding) = rbac(stack);
    let mut objects = vec![
        into_object(Component::Prometheus, service_account(stack, Component::Prometheus))?,
        into_object(Component::Prometheus, role)?,
        into_object(Component::Prometheus, binding)?,
    ];
    for (config_map_name, files) in layout.config_maps {
        objects.push(shard::config_map_object(stack, Component::Prometheus, config_map_name, files)?);
    }

    let mut service_ports = vec![("http", ports::PROMETHEUS_HTTP)];
    if downsampling {
        service_ports.push(("grpc", ports::THANOS_SIDECAR_GRPC));
    }
    objects
        .push(into_object(Component::Prometheus, service(stack, Component::Prometheus, name.clone(), &service_ports))?);
    let headless_name = object_name_with(stack, Component::Prometheus, HEADLESS_SUFFIX);
    objects.push(into_object(
        Component::Prometheus,
        headless_service(stack, Component::Prometheus, headless_name.clone(), &[("http", ports::PROMETHEUS_HTTP)]),
    )?);

    let mut containers = vec![prometheus_container(stack, secret_mounts), reloader_container()];
    let mut volumes =
        vec![shard::files_volume("config", &config_map_names), shard::files_volume("rules", rule_config_maps)];
    if downsampling {
        let (objstore, objstore_flag) = objstore_volume(stack);
        containers.push(thanos_sidecar_container(stack, objstore_flag));
        volumes.push(objstore);
    }
    volumes.extend(secret_volumes);

    let statefulset = StatefulSet {
        metadata: metadata(stack, Component::Prometheus, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(prometheus.replicas).unwrap_or(i32::MAX)),
            selector: pod_selector(stack, Component::Prometheus),
            service_name: Some(headless_name),
            // Replicas are independent: start and stop them together.
            pod_management_policy: Some("Parallel".to_owned()),
            // No config hash: the reloader applies config changes without a restart.
            template: pod_template(
                stack,
                Component::Prometheus,
                None,
                PodSpec {
                    service_account_name: Some(name.clone()),
                    // Service discovery and the kubelet scrapes authenticate with the token.
                    automount_service_account_token: Some(true),
                    termination_grace_period_seconds: Some(600),
                    ..restricted_pod_spec(PROMETHEUS_USER, containers, volumes)
                },
            ),
            volume_claim_templates: Some(vec![volume_claim_template("data", &prometheus.storage_size, None)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    objects.push(into_object(Component::Prometheus, statefulset)?);

    if downsampling {
        let (svc, statefulset) = compactor(stack);
        objects.push(into_object(Component::Prometheus, svc)?);
        objects.push(into_object(Component::Prometheus, statefulset)?);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::defaults::images;
    use crate::api::{Environment, ServiceMonitorSpec};
    use crate::render::common::regex_literal as literal;
    use crate::render::fixtures::{machineavatars, minimal};

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
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
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
                 "tlsConfig": {"caFile": "/etc/ssl/certs/ca-certificates.crt"},
                 "basicAuth": {"username": {"name": "admin-auth", "key": "user"},
                               "password": {"name": "admin-auth", "key": "pass"}}},
                {"port": "again", "bearerTokenSecret": {"name": "scrape-token", "key": "token"}}
            ]}),
        )
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
        assert_eq!(second["tls_config"], json!({"ca_file": "/etc/ssl/certs/ca-certificates.crt"}));
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
        assert!(
            render(&with_monitor("apps", "plain", json!({"selector": {}, "endpoints": [{"port": "http"}]}))).is_ok()
        );
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
            "alertmanager",
            "loki",
            "promtail",
            "grafana",
            "jaeger",
            "jaeger-spanmetrics",
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
        assert_eq!(
            cadvisor["authorization"]["credentials_file"],
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        );
        assert_eq!(job(&config, "kubelet")["metrics_path"], "/metrics");

        let mut lean = minimal(Environment::Development);
        lean.spec.logging.collector = crate::api::Collector::Alloy;
        lean.spec.tracing.enabled = false;
        lean.spec.dashboards.enabled = false;
        lean.spec.metrics.downsampling.enabled = false;
        let config = parsed(&lean);
        let names: Vec<&str> =
            config["scrape_configs"].as_array().unwrap().iter().filter_map(|j| j["job_name"].as_str()).collect();
        assert_eq!(names, ["prometheus", "alertmanager", "loki", "alloy", "kubelet", "cadvisor"]);
        assert_eq!(job(&config, "alloy")["relabel_configs"][0]["regex"], "alloy;minimal;12345");
    }

    #[test]
    fn statefulset_runs_prometheus_restricted_with_a_reloader_and_no_config_hash() {
        let mut stack = machineavatars();
        stack.spec.metrics.prometheus.replicas = 2;
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
        assert_eq!(selector["app.kubernetes.io/name"], COMPACTOR_APP_NAME);
        assert_eq!(&compactor["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"], COMPACTOR_APP_NAME);
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
        let args =
            named(&objects, "StatefulSet", "machineavatars-prometheus-compactor")["spec"]["template"].to_string();
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
}
