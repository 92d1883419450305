//! The workload: Prometheus' StatefulSet with its config reloader and, when downsampling is on,
//! the Thanos sidecar; the RBAC service discovery needs. The other Thanos components are in
//! [`super::thanos`].

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, Service, Volume, VolumeMount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};

use super::mounts::Mounts;
use super::{CONFIG_DIR, CONFIG_FILE, DATA_DIR, HEADLESS_SUFFIX, OBJSTORE_DIR, PROMETHEUS_USER, RULES_DIR};
use crate::api::defaults::resources as sizes;
use crate::render::common::{
    cluster_metadata, cluster_object_name, headless_service, metadata, object_name, object_name_with, pod_selector,
    selector_labels, service, strings,
};
use crate::render::pod::{
    ConfigReloader, ProbeTiming, config_reloader, container_ports, disruption_budget, field_env, http_probe,
    pod_template, resource_requirements, restricted_container_security, restricted_pod_spec, spread_across_nodes,
    volume_claim_template, volume_mount,
};
use crate::render::{Component, ports};
use crate::resolve::ResolvedStack;

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
    if prometheus.exemplars.enabled {
        // The ring buffer's size is `storage.exemplars.max_exemplars` in prometheus.yml.
        args.push("--enable-feature=exemplar-storage".to_owned());
    }
    if prometheus.native_histograms {
        args.push("--enable-feature=native-histograms".to_owned());
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
        resources: Some(resource_requirements(&prometheus.resources, sizes::PROMETHEUS)),
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
        resources: Some(resource_requirements(
            &stack.spec.metrics.downsampling.sidecar_resources,
            sizes::THANOS_SIDECAR,
        )),
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
        // Thanos Query finds every replica's sidecar through this Service's `grpc` SRV records.
        headless_service(stack, Component::Prometheus, headless_name, &service_ports),
    )
}

/// The Prometheus StatefulSet: its configuration and rule volumes (as the layout made them), the
/// mounted Secrets and ConfigMaps its jobs read, the reloader and, with downsampling, the Thanos
/// sidecar.
pub(crate) fn statefulset(stack: &ResolvedStack, mut volumes: Vec<Volume>, mounts: &Mounts<'_>) -> StatefulSet {
    let prometheus = &stack.spec.metrics.prometheus;
    let replicas = stack.prometheus_replicas();
    let name = object_name(stack, Component::Prometheus);
    let (secret_volumes, secret_mounts) = mounts.volumes();
    let mut containers = vec![prometheus_container(stack, secret_mounts), reloader_container()];
    if stack.spec.metrics.downsampling.enabled {
        let (objstore, objstore_flag) = super::thanos::objstore_volume(stack);
        containers.push(thanos_sidecar_container(stack, objstore_flag));
        volumes.push(objstore);
    }
    volumes.extend(secret_volumes);
    StatefulSet {
        metadata: metadata(stack, Component::Prometheus, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(i32::MAX)),
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
                    topology_spread_constraints: (replicas > 1)
                        .then(|| spread_across_nodes(&selector_labels(stack, Component::Prometheus))),
                    ..restricted_pod_spec(PROMETHEUS_USER, containers, volumes)
                },
            ),
            volume_claim_templates: Some(vec![volume_claim_template(
                "data",
                &prometheus.storage_size,
                prometheus.storage_class_name.as_deref(),
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// A disruption budget for Prometheus' replicas, when it has replicas to spare.
pub(crate) fn disruption_budget_of(stack: &ResolvedStack) -> Option<PodDisruptionBudget> {
    (stack.prometheus_replicas() > 1).then(|| {
        disruption_budget(
            metadata(stack, Component::Prometheus, object_name(stack, Component::Prometheus)),
            &selector_labels(stack, Component::Prometheus),
        )
    })
}
