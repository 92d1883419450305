//! The exporters the infrastructure alerts and dashboards read besides the kubelet and cAdvisor:
//! kube-state-metrics (the state of Kubernetes objects: container restarts, available replicas)
//! and node-exporter (the nodes' CPU, memory, disks and network). Each is rendered only when the
//! stack runs its own (`spec.metrics.kubeStateMetrics.enabled`, `spec.metrics.nodeExporter.enabled`);
//! Prometheus' jobs scrape either the stack's or the cluster's own (`existing`).

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext, Toleration, VolumeMount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::api::DynamicObject;

use super::common::{
    cluster_metadata, cluster_object_name, into_object, metadata, object_name, pod_selector, service_account, strings,
};
use super::pod::{
    ProbeTiming, container_ports, host_path_volume, http_probe, pod_template, resource_requirements,
    restricted_container_security, restricted_pod_spec,
};
use super::{Component, RenderError, ports};
use crate::api::defaults::resources as sizes;
use crate::resolve::ResolvedStack;

/// `nobody`, the user of both upstream images.
const EXPORTER_USER: i64 = 65534;

/// The Kubernetes objects kube-state-metrics reports on (`--resources`), and the API groups it
/// lists and watches them in: exactly what its ClusterRole grants, nothing more.
pub(crate) const KUBE_STATE_METRICS_RESOURCES: [(&str, &str); 6] = [
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("", "nodes"),
    ("", "persistentvolumeclaims"),
    ("", "pods"),
    ("apps", "statefulsets"),
];

/// kube-state-metrics: its ServiceAccount, a ClusterRole that lists and watches only the objects
/// it reports on, the binding, and a Deployment under the restricted Pod Security Standard.
pub(crate) fn kube_state_metrics(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let component = Component::KubeStateMetrics;
    let spec = &stack.spec.metrics.kube_state_metrics;
    let name = object_name(stack, component);
    let cluster_name = cluster_object_name(stack, component);
    let mut rules: Vec<PolicyRule> = Vec::new();
    for (group, resource) in KUBE_STATE_METRICS_RESOURCES {
        match rules.iter_mut().find(|rule| rule.api_groups.as_deref() == Some(&[group.to_owned()])) {
            Some(rule) => rule.resources.get_or_insert_with(Vec::new).push(resource.to_owned()),
            None => rules.push(PolicyRule {
                api_groups: Some(strings(&[group])),
                resources: Some(strings(&[resource])),
                verbs: strings(&["list", "watch"]),
                ..PolicyRule::default()
            }),
        }
    }
    let role = ClusterRole {
        metadata: cluster_metadata(stack, component, cluster_name.clone()),
        rules: Some(rules),
        ..ClusterRole::default()
    };
    let binding = ClusterRoleBinding {
        metadata: cluster_metadata(stack, component, cluster_name.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: cluster_name,
        },
        subjects: Some(vec![Subject {
            api_group: None,
            kind: "ServiceAccount".to_owned(),
            name: name.clone(),
            namespace: Some(stack.namespace.clone()),
        }]),
    };
    let resources: Vec<&str> = KUBE_STATE_METRICS_RESOURCES.iter().map(|(_, resource)| *resource).collect();
    let container = Container {
        name: component.as_str().to_owned(),
        image: Some(spec.image.as_str().to_owned()),
        args: Some(vec![
            format!("--port={}", ports::KUBE_STATE_METRICS_HTTP),
            format!("--telemetry-port={}", ports::KUBE_STATE_METRICS_TELEMETRY),
            format!("--resources={}", resources.join(",")),
        ]),
        ports: Some(container_ports(&[
            ("http-metrics", ports::KUBE_STATE_METRICS_HTTP),
            ("telemetry", ports::KUBE_STATE_METRICS_TELEMETRY),
        ])),
        // Upstream's probes: alive while it serves, ready once its caches are synced.
        liveness_probe: Some(http_probe("/livez", "http-metrics", ProbeTiming::after(5))),
        readiness_probe: Some(http_probe("/readyz", "telemetry", ProbeTiming::after(5))),
        resources: Some(resource_requirements(&spec.resources, sizes::KUBE_STATE_METRICS)),
        security_context: Some(restricted_container_security()),
        ..Container::default()
    };
    let deployment = Deployment {
        metadata: metadata(stack, component, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: pod_selector(stack, component),
            template: pod_template(
                stack,
                component,
                None,
                PodSpec {
                    service_account_name: Some(name),
                    // It lists and watches the API with its token.
                    automount_service_account_token: Some(true),
                    ..restricted_pod_spec(EXPORTER_USER, vec![container], Vec::new())
                },
            ),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    Ok(vec![
        into_object(component, service_account(stack, component))?,
        into_object(component, role)?,
        into_object(component, binding)?,
        into_object(component, deployment)?,
    ])
}

/// The node's directories node-exporter reads, read-only: `(volume, host path, mount path, the
/// node-exporter flag naming the mount path)`.
const NODE_PATHS: [(&str, &str, &str, &str); 3] = [
    ("proc", "/proc", "/host/proc", "--path.procfs"),
    ("sys", "/sys", "/host/sys", "--path.sysfs"),
    ("root", "/", "/host/root", "--path.rootfs"),
];

/// node-exporter: a DaemonSet on every node (tolerating every taint), in the node's network and
/// process namespaces with its `/proc`, `/sys` and root filesystem mounted read-only, as a
/// non-root user without capabilities. Those three host accesses are what Pod Security's
/// `restricted` and `baseline` refuse, and all it needs.
pub(crate) fn node_exporter(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let component = Component::NodeExporter;
    let spec = &stack.spec.metrics.node_exporter;
    let name = object_name(stack, component);
    let mut args: Vec<String> = NODE_PATHS.iter().map(|(_, _, mount, flag)| format!("{flag}={mount}")).collect();
    args.push(format!("--web.listen-address=:{}", ports::NODE_EXPORTER_HTTP));
    // Pods' and containers' own mounts are the kubelet's and the runtime's business.
    args.push(
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/docker/.+|var/lib/kubelet/.+)($|/)"
            .to_owned(),
    );
    let mounts = NODE_PATHS
        .iter()
        .map(|(volume, _, mount, _)| VolumeMount {
            name: (*volume).to_owned(),
            mount_path: (*mount).to_owned(),
            read_only: Some(true),
            // Filesystems mounted on the node later show up too.
            mount_propagation: (*volume == "root").then(|| "HostToContainer".to_owned()),
            ..VolumeMount::default()
        })
        .collect();
    let container = Container {
        name: component.as_str().to_owned(),
        image: Some(spec.image.as_str().to_owned()),
        args: Some(args),
        ports: Some(container_ports(&[("metrics", ports::NODE_EXPORTER_HTTP)])),
        liveness_probe: Some(http_probe("/", "metrics", ProbeTiming::after(5))),
        readiness_probe: Some(http_probe("/", "metrics", ProbeTiming::after(5))),
        resources: Some(resource_requirements(&spec.resources, sizes::NODE_EXPORTER)),
        security_context: Some(SecurityContext { ..restricted_container_security() }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let volumes = NODE_PATHS.iter().map(|(volume, path, _, _)| host_path_volume(volume, path, "Directory")).collect();
    let daemonset = DaemonSet {
        metadata: metadata(stack, component, name),
        spec: Some(DaemonSetSpec {
            selector: pod_selector(stack, component),
            template: pod_template(
                stack,
                component,
                None,
                PodSpec {
                    host_network: Some(true),
                    host_pid: Some(true),
                    // Every node, control plane and tainted ones included.
                    tolerations: Some(vec![Toleration {
                        operator: Some("Exists".to_owned()),
                        ..Toleration::default()
                    }]),
                    ..restricted_pod_spec(EXPORTER_USER, vec![container], volumes)
                },
            ),
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    };
    Ok(vec![into_object(component, daemonset)?])
}
