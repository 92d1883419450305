//! The building blocks of the stack's pods: restricted security contexts, pod templates, probes,
//! environment variables, volumes and claims, resources and the config-reloader sidecar.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, KeyToPath, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecretVolumeSource, SecurityContext, TCPSocketAction, TopologySpreadConstraint, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Component;
use super::common::{CONFIG_HASH_ANNOTATION, labels};
use crate::api::defaults::images;
use crate::api::defaults::resources::{self as sizes, Sizes};
use crate::api::{Resources, SecretKeyRef, StorageSize};
use crate::resolve::ResolvedStack;

/// Container ports from `(name, port)` pairs.
pub(crate) fn container_ports(ports: &[(&str, u16)]) -> Vec<ContainerPort> {
    ports
        .iter()
        .map(|(name, port)| ContainerPort {
            name: Some((*name).to_owned()),
            container_port: i32::from(*port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        })
        .collect()
}

/// Pod security context meeting the restricted Pod Security Standard.
pub(crate) fn restricted_pod_security(user_id: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(user_id),
        run_as_group: Some(user_id),
        fs_group: Some(user_id),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), localhost_profile: None }),
        ..PodSecurityContext::default()
    }
}

/// Container security context meeting the restricted Pod Security Standard.
pub(crate) fn restricted_container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), add: None }),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), localhost_profile: None }),
        ..SecurityContext::default()
    }
}

/// A pod of stackscope's own containers under the restricted Pod Security Standard, without a
/// service-account token: none of them calls the Kubernetes API (Prometheus, which does, sets
/// its own account over this).
pub(crate) fn restricted_pod_spec(user_id: i64, containers: Vec<Container>, volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        containers,
        security_context: Some(restricted_pod_security(user_id)),
        automount_service_account_token: Some(false),
        // The API server drops an empty list, which would read as drift.
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..PodSpec::default()
    }
}

/// The pod template of a component's workload, labelled like its other objects. `config_hash`
/// is the hash of the configuration a change of which must restart the pods; `None` where a
/// config reloader applies changes in place.
pub(crate) fn pod_template(
    stack: &ResolvedStack,
    component: Component,
    config_hash: Option<String>,
    spec: PodSpec,
) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(stack, component)),
            annotations: config_hash.map(|hash| BTreeMap::from([(CONFIG_HASH_ANNOTATION.to_owned(), hash)])),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    }
}

/// When a probe starts, how often it runs, how long one check may take and how many failed
/// checks in a row fail it. Each container keeps its own numbers: the components start and
/// answer at different speeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProbeTiming {
    pub initial_delay_seconds: i32,
    pub period_seconds: i32,
    pub timeout_seconds: i32,
    pub failure_threshold: i32,
}

impl ProbeTiming {
    /// Starting `initial_delay_seconds` after the container, then every 10 seconds with a
    /// 5-second timeout, failing after 3 misses: what most of the stack's containers use.
    pub(crate) const fn after(initial_delay_seconds: i32) -> Self {
        Self { initial_delay_seconds, period_seconds: 10, timeout_seconds: 5, failure_threshold: 3 }
    }

    /// The same timing with another timeout.
    pub(crate) const fn timeout(self, timeout_seconds: i32) -> Self {
        Self { timeout_seconds, ..self }
    }

    /// The same timing, failing only after `failure_threshold` misses in a row.
    pub(crate) const fn failures(self, failure_threshold: i32) -> Self {
        Self { failure_threshold, ..self }
    }
}

/// A probe with no handler yet, timed as given.
fn timed_probe(timing: ProbeTiming) -> Probe {
    Probe {
        initial_delay_seconds: Some(timing.initial_delay_seconds),
        period_seconds: Some(timing.period_seconds),
        timeout_seconds: Some(timing.timeout_seconds),
        failure_threshold: Some(timing.failure_threshold),
        ..Probe::default()
    }
}

/// An HTTP GET probe of `path` on a port given by number or by name.
pub(crate) fn http_get_probe(path: &str, port: IntOrString, timing: ProbeTiming) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction { path: Some(path.to_owned()), port, ..HTTPGetAction::default() }),
        ..timed_probe(timing)
    }
}

/// An HTTP GET probe of `path` on a named container port: the stack's own containers name every
/// port, so a port number changes in one place.
pub(crate) fn http_probe(path: &str, port_name: &str, timing: ProbeTiming) -> Probe {
    http_get_probe(path, IntOrString::String(port_name.to_owned()), timing)
}

/// A probe that only connects to a named container port: for liveness where the HTTP endpoints
/// also report states a restart would not fix (a WAL replay, an unreachable Loki).
pub(crate) fn tcp_probe(port_name: &str, timing: ProbeTiming) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String(port_name.to_owned()), host: None }),
        ..timed_probe(timing)
    }
}

/// An environment variable read from a Secret key; the value never enters a rendered object.
pub(crate) fn env_from_secret(variable: &str, secret: &SecretKeyRef) -> EnvVar {
    EnvVar {
        name: variable.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// A plain environment variable.
pub(crate) fn env(variable: &str, value: &str) -> EnvVar {
    EnvVar { name: variable.to_owned(), value: Some(value.to_owned()), value_from: None }
}

/// An environment variable from the downward API: a field of the pod (`metadata.name`,
/// `status.podIP`, ...), known only once the pod exists.
pub(crate) fn field_env(variable: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: variable.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: field_path.to_owned(), api_version: None }),
            ..EnvVarSource::default()
        }),
    }
}

/// A volume exposing Secret keys as files: `(key, file name)` pairs.
pub(crate) fn secret_volume(volume_name: &str, secret_name: &str, items: &[(&str, &str)]) -> Volume {
    Volume {
        name: volume_name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret_name.to_owned()),
            items: Some(
                items
                    .iter()
                    .map(|(key, path)| KeyToPath { key: (*key).to_owned(), path: (*path).to_owned(), mode: None })
                    .collect(),
            ),
            default_mode: Some(0o440),
            optional: Some(false),
        }),
        ..Volume::default()
    }
}

/// A volume with the files of a ConfigMap.
pub(crate) fn config_map_volume(volume_name: &str, config_map_name: &str) -> Volume {
    Volume {
        name: volume_name.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name.to_owned(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A scratch volume that lives as long as the pod: writable space (`/tmp`, caches, data that is
/// rebuilt on start) under a read-only root filesystem.
pub(crate) fn empty_dir_volume(volume_name: &str) -> Volume {
    Volume { name: volume_name.to_owned(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() }
}

/// A volume mount.
pub(crate) fn volume_mount(volume_name: &str, mount_path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume_name.to_owned(),
        mount_path: mount_path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// A `ReadWriteOnce` claim of the given size: a standalone PersistentVolumeClaim of the component
/// (named `name`), or, with `metadata` of just a name, a StatefulSet's volume claim template.
pub(crate) fn volume_claim(
    metadata: ObjectMeta,
    size: &StorageSize,
    storage_class_name: Option<&str>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size.as_str().to_owned()))])),
                limits: None,
            }),
            storage_class_name: storage_class_name.map(str::to_owned),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// A StatefulSet's volume claim template: a [`volume_claim`] with only a name, which the
/// StatefulSet completes per replica.
pub(crate) fn volume_claim_template(
    volume_name: &str,
    size: &StorageSize,
    storage_class_name: Option<&str>,
) -> PersistentVolumeClaim {
    volume_claim(ObjectMeta { name: Some(volume_name.to_owned()), ..ObjectMeta::default() }, size, storage_class_name)
}

/// A container's requests and limits: the component's defaults (`api::defaults::resources`)
/// with the spec's `resources` over them, per resource name. A resource the spec names on one
/// side only gets the same quantity on the other, so a request never exceeds its limit by merging.
pub(crate) fn resource_requirements(resources: &Resources, defaults: Sizes) -> ResourceRequirements {
    let (cpu_request, memory_request, cpu_limit, memory_limit) = defaults;
    let mut requests =
        BTreeMap::from([("cpu".to_owned(), cpu_request.to_owned()), ("memory".to_owned(), memory_request.to_owned())]);
    let mut limits =
        BTreeMap::from([("cpu".to_owned(), cpu_limit.to_owned()), ("memory".to_owned(), memory_limit.to_owned())]);
    let named: std::collections::BTreeSet<&String> = resources.requests.keys().chain(resources.limits.keys()).collect();
    for name in named {
        let request = resources.requests.get(name).or_else(|| resources.limits.get(name));
        let limit = resources.limits.get(name).or_else(|| resources.requests.get(name));
        if let (Some(request), Some(limit)) = (request, limit) {
            requests.insert(name.clone(), request.clone());
            limits.insert(name.clone(), limit.clone());
        }
    }
    let quantities = |map: BTreeMap<String, String>| map.into_iter().map(|(k, v)| (k, Quantity(v))).collect();
    ResourceRequirements {
        requests: Some(quantities(requests)),
        limits: Some(quantities(limits)),
        ..Default::default()
    }
}

/// Spreads a replicated workload's pods across nodes, and zones where there are any: preferred,
/// not required, so a smaller cluster still runs every replica.
pub(crate) fn spread_across_nodes(selector: &BTreeMap<String, String>) -> Vec<TopologySpreadConstraint> {
    ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        .into_iter()
        .map(|topology_key| TopologySpreadConstraint {
            max_skew: 1,
            topology_key: topology_key.to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(LabelSelector { match_labels: Some(selector.clone()), match_expressions: None }),
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

/// A PodDisruptionBudget letting a drain take one replica of a replicated workload at a time.
pub(crate) fn disruption_budget(metadata: ObjectMeta, selector: &BTreeMap<String, String>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(selector.clone()), match_expressions: None }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// A volume of a directory on the node. `host_type` is Kubernetes' check on the path
/// (`Directory`, `DirectoryOrCreate`, ...). Only log collectors use it: they read the node's
/// log files and keep their read positions where a restarted pod finds them again.
pub(crate) fn host_path_volume(volume_name: &str, path: &str, host_type: &str) -> Volume {
    Volume {
        name: volume_name.to_owned(),
        host_path: Some(k8s_openapi::api::core::v1::HostPathVolumeSource {
            path: path.to_owned(),
            type_: Some(host_type.to_owned()),
        }),
        ..Volume::default()
    }
}

/// A volume with chosen keys of a ConfigMap: `(key, path)` pairs, the path relative to the mount.
pub(crate) fn config_map_items_volume(volume_name: &str, config_map_name: &str, items: &[(&str, &str)]) -> Volume {
    Volume {
        name: volume_name.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name.to_owned(),
            items: Some(
                items
                    .iter()
                    .map(|(key, path)| KeyToPath { key: (*key).to_owned(), path: (*path).to_owned(), mode: None })
                    .collect(),
            ),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// Port of the config reloader's `/healthz` and `/metrics`.
const RELOADER_PORT: u16 = 8080;

/// What differs between the `prometheus-config-reloader` sidecars of Prometheus and Alertmanager.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConfigReloader<'a> {
    /// The main container's port, whose `/-/reload` the reloader calls.
    pub reload_port: u16,
    /// `(volume, directory)` of each mounted ConfigMap it watches, mounted read-only.
    pub watched: &'a [(&'a str, &'a str)],
    /// Pass the pod's name as `POD_NAME`: the reloader derives the StatefulSet ordinal from it
    /// (and warns without it).
    pub pod_name_env: bool,
    /// Timeout of its probes, in seconds.
    pub probe_timeout_seconds: i32,
}

/// The `prometheus-config-reloader` sidecar: calls the main container's `/-/reload` when a
/// watched ConfigMap changes, so a configuration change never restarts the pod.
pub(crate) fn config_reloader(reloader: ConfigReloader<'_>) -> Container {
    let mut args = vec![
        format!("--listen-address=:{RELOADER_PORT}"),
        format!("--reload-url=http://127.0.0.1:{}/-/reload", reloader.reload_port),
    ];
    args.extend(reloader.watched.iter().map(|(_, directory)| format!("--watched-dir={directory}")));
    let timing =
        |initial_delay_seconds| ProbeTiming::after(initial_delay_seconds).timeout(reloader.probe_timeout_seconds);
    Container {
        name: "config-reloader".to_owned(),
        image: Some(images::CONFIG_RELOADER.to_owned()),
        args: Some(args),
        env: reloader.pod_name_env.then(|| vec![field_env("POD_NAME", "metadata.name")]),
        ports: Some(container_ports(&[("reloader-web", RELOADER_PORT)])),
        liveness_probe: Some(http_probe("/healthz", "reloader-web", timing(10))),
        readiness_probe: Some(http_probe("/healthz", "reloader-web", timing(5))),
        // prometheus-operator's requests for this sidecar, with room to burst on a reload.
        resources: Some(resource_requirements(&Resources::default(), sizes::CONFIG_RELOADER)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(
            reloader.watched.iter().map(|(volume, directory)| volume_mount(volume, directory, true)).collect(),
        ),
        ..Container::default()
    }
}
