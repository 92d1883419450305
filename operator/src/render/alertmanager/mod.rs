//! Alertmanager: the seed's routing (each alert to the channels of the document's Channel column,
//! or by the general policy: email every alert, Slack `#alerts` warning and critical, PagerDuty
//! critical), the on-call escalation path by incident level, business hours, the dead man's
//! switch, and the incident levels in notification titles, as `alertmanager.yml` in a ConfigMap,
//! run by a StatefulSet that gossips between replicas.
//!
//! Credentials never enter the configuration: every receiver reads them from files
//! (`smtp_auth_password_file`, `api_url_file`, `routing_key_file`) of Secrets mounted read-only
//! under [`SECRETS_DIRECTORY`]. A `prometheus-config-reloader` sidecar reloads a changed
//! configuration in place, so the pod template carries no config hash.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec};
use kube::api::DynamicObject;

use super::common::{
    config_map, headless_service, into_object, metadata, object_name, object_name_with, pod_selector, selector_labels,
    service, to_yaml,
};
use super::pod::{
    ConfigReloader, ProbeTiming, config_map_volume, config_reloader, container_ports, disruption_budget, field_env,
    http_probe, pod_template, resource_requirements, restricted_container_security, restricted_pod_spec, secret_volume,
    spread_across_nodes, volume_claim_template, volume_mount,
};
use super::{Component, RenderError, ports};
use crate::api::defaults::resources as sizes;
use crate::resolve::ResolvedStack;

mod config;
mod model;
mod routes;

pub(crate) use config::{config, referenced_secrets};

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "alertmanager.yml";
/// Where the ConfigMap is mounted.
pub(crate) const CONFIG_DIRECTORY: &str = "/etc/alertmanager/config";
/// Where each referenced Secret is mounted, as `<SECRETS_DIRECTORY>/<secret>/<key>`.
pub const SECRETS_DIRECTORY: &str = "/etc/alertmanager/secrets";
/// Silences and the notification log.
const STORAGE_DIRECTORY: &str = "/alertmanager";
/// `nobody`, the user of the upstream image.
const ALERTMANAGER_USER: i64 = 65534;
/// Alertmanager and its reloader get 3 seconds to answer a probe.
const PROBE_TIMEOUT_SECONDS: i32 = 3;

pub use crate::api::{DEAD_MANS_SWITCH_RECEIVER, EMAIL_RECEIVER, NULL_RECEIVER, PAGERDUTY_RECEIVER, SLACK_RECEIVER};

/// The headless Service giving each replica a stable name for gossip.
pub fn cluster_service_name(stack: &ResolvedStack) -> String {
    object_name_with(stack, Component::Alertmanager, "cluster")
}

/// Container arguments: config, storage, web and the gossip cluster of the replicas.
fn alertmanager_args(stack: &ResolvedStack) -> Vec<String> {
    let replicas = stack.alertmanager_replicas();
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

    // Silences and the notification log live on a claim per replica: lost on a restart, a
    // silenced alert would page again and a sent notification be sent twice.
    let mut volumes = vec![config_map_volume("config", &name)];
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
        resources: Some(resource_requirements(&spec.resources, sizes::ALERTMANAGER)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    // The sidecar that calls `/-/reload` when the mounted ConfigMap changes.
    let reloader = config_reloader(ConfigReloader {
        reload_port: ports::ALERTMANAGER_HTTP,
        watched: &[("config", CONFIG_DIRECTORY)],
        pod_name_env: true,
        probe_timeout_seconds: PROBE_TIMEOUT_SECONDS,
    });
    let replicas = stack.alertmanager_replicas();
    let selector = selector_labels(stack, Component::Alertmanager);
    let statefulset = StatefulSet {
        metadata: metadata(stack, Component::Alertmanager, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(1)),
            service_name: Some(cluster_service_name(stack)),
            // Replicas are peers, not a sequence: start them together.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: pod_selector(stack, Component::Alertmanager),
            // No config hash: the reloader applies a new configuration without a restart.
            template: pod_template(
                stack,
                Component::Alertmanager,
                None,
                PodSpec {
                    topology_spread_constraints: (replicas > 1).then(|| spread_across_nodes(&selector)),
                    ..restricted_pod_spec(ALERTMANAGER_USER, vec![alertmanager, reloader], volumes)
                },
            ),
            volume_claim_templates: Some(vec![volume_claim_template(
                "data",
                &spec.storage_size,
                spec.storage_class_name.as_deref(),
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    objects.push(into_object(Component::Alertmanager, statefulset)?);
    if replicas > 1 {
        objects.push(into_object(
            Component::Alertmanager,
            disruption_budget(metadata(stack, Component::Alertmanager, name.clone()), &selector),
        )?);
    }
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
mod tests;
