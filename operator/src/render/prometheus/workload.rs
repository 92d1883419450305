//! The workload: Prometheus' StatefulSet with its config reloader and, when downsampling is on,
//! the Thanos sidecar; the RBAC service discovery needs; and the Thanos compactor.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Service, Volume, VolumeMount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::mounts::Mounts;
use super::{
    COMPACTOR_APP_NAME, COMPACTOR_DATA_DIR, COMPACTOR_SUFFIX, CONFIG_DIR, CONFIG_FILE, DATA_DIR, HEADLESS_SUFFIX,
    OBJSTORE_DIR, PROMETHEUS_USER, RULES_DIR,
};
use crate::render::common::{
    cluster_metadata, cluster_object_name, headless_service, labels, metadata, object_name, object_name_with,
    pod_selector, selector_labels, service, strings,
};
use crate::render::pod::{
    ConfigReloader, ProbeTiming, config_reloader, container_ports, field_env, http_probe, pod_template,
    resource_requirements, restricted_container_security, restricted_pod_spec, secret_volume, volume_claim_template,
    volume_mount,
};
use crate::render::{Component, ports};
use crate::resolve::ResolvedStack;

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
pub(crate) fn rbac(stack: &ResolvedStack) -> (ClusterRole, ClusterRoleBinding) {
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
pub(crate) fn compactor(stack: &ResolvedStack) -> (Service, StatefulSet) {
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

/// The Service of the Prometheus API (and the Thanos sidecar's Store API when downsampling), and
/// the headless Service governing the StatefulSet.
pub(crate) fn services(stack: &ResolvedStack) -> (Service, Service) {
    let mut service_ports = vec![("http", ports::PROMETHEUS_HTTP)];
    if stack.spec.metrics.downsampling.enabled {
        service_ports.push(("grpc", ports::THANOS_SIDECAR_GRPC));
    }
    let name = object_name(stack, Component::Prometheus);
    let headless_name = object_name_with(stack, Component::Prometheus, HEADLESS_SUFFIX);
    (
        service(stack, Component::Prometheus, name, &service_ports),
        headless_service(stack, Component::Prometheus, headless_name, &[("http", ports::PROMETHEUS_HTTP)]),
    )
}

/// The Prometheus StatefulSet: its configuration and rule volumes (as the layout made them), the
/// mounted Secrets and ConfigMaps its jobs read, the reloader and, with downsampling, the Thanos
/// sidecar.
pub(crate) fn statefulset(stack: &ResolvedStack, mut volumes: Vec<Volume>, mounts: &Mounts<'_>) -> StatefulSet {
    let prometheus = &stack.spec.metrics.prometheus;
    let name = object_name(stack, Component::Prometheus);
    let (secret_volumes, secret_mounts) = mounts.volumes();
    let mut containers = vec![prometheus_container(stack, secret_mounts), reloader_container()];
    if stack.spec.metrics.downsampling.enabled {
        let (objstore, objstore_flag) = objstore_volume(stack);
        containers.push(thanos_sidecar_container(stack, objstore_flag));
        volumes.push(objstore);
    }
    volumes.extend(secret_volumes);
    StatefulSet {
        metadata: metadata(stack, Component::Prometheus, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(prometheus.replicas).unwrap_or(i32::MAX)),
            selector: pod_selector(stack, Component::Prometheus),
            service_name: Some(object_name_with(stack, Component::Prometheus, HEADLESS_SUFFIX)),
            // Replicas are independent: start and stop them together.
            pod_management_policy: Some("Parallel".to_owned()),
            // No config hash: the reloader applies config changes without a restart.
            template: pod_template(
                stack,
                Component::Prometheus,
                None,
                PodSpec {
                    service_account_name: Some(name),
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
    }
}
