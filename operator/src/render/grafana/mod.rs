//! Grafana with everything provisioned: the datasources of the stack's enabled components under
//! stable UIDs, cross-linked so a `trace_id` leads from a log line to its trace and from a span
//! back to its logs and metrics, and the seed's Infrastructure, Application and Business
//! dashboards.
//!
//! Nothing is kept in Grafana's own database: `/var/lib/grafana` is an `emptyDir`, datasources
//! and dashboards come back from the ConfigMaps on every start. Datasource changes roll the pod
//! (config hash); dashboard changes are picked up by the file provider without a restart.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Container;
use kube::api::DynamicObject;

use super::common::{
    config_map, content_hash, into_object, metadata, object_name, object_name_with, pod_selector, service, to_json,
    to_yaml,
};
use super::pod::{
    ProbeTiming, config_map_items_volume, config_map_volume, container_ports, empty_dir_volume, env, env_from_secret,
    http_probe, pod_template, resource_requirements, restricted_container_security, restricted_pod_spec, volume_mount,
};
use super::{Component, RenderError, ports};
use crate::api::SecretKeyRef;
use crate::resolve::ResolvedStack;

/// Metrics no spec field names: the standard Kubernetes ones (cAdvisor through the kubelet,
/// kube-state-metrics) and Jaeger's span metrics (see the jaeger renderer).
mod metrics {
    pub(crate) const CPU_SECONDS: &str = "container_cpu_usage_seconds_total";
    pub(crate) const CPU_LIMITS: &str = "kube_pod_container_resource_limits";
    pub(crate) const MEMORY_WORKING_SET: &str = "container_memory_working_set_bytes";
    pub(crate) const REPLICAS_AVAILABLE: &str = "kube_deployment_status_replicas_available";
    pub(crate) const RESTARTS: &str = "kube_pod_container_status_restarts_total";
    pub(crate) const NETWORK_RECEIVE: &str = "container_network_receive_bytes_total";
    pub(crate) const NETWORK_TRANSMIT: &str = "container_network_transmit_bytes_total";
    pub(crate) const NETWORK_RECEIVE_ERRORS: &str = "container_network_receive_errors_total";
    pub(crate) const NETWORK_TRANSMIT_ERRORS: &str = "container_network_transmit_errors_total";
    pub(crate) const VOLUME_USED: &str = "kubelet_volume_stats_used_bytes";
    pub(crate) const VOLUME_CAPACITY: &str = "kubelet_volume_stats_capacity_bytes";
    pub(crate) const FS_READS: &str = "container_fs_reads_total";
    pub(crate) const FS_WRITES: &str = "container_fs_writes_total";
    pub(crate) const FS_READ_BYTES: &str = "container_fs_reads_bytes_total";
    pub(crate) const FS_WRITE_BYTES: &str = "container_fs_writes_bytes_total";
    pub(crate) const CONTAINER_READY: &str = "kube_pod_container_status_ready";
    pub(crate) const CONTAINER_WAITING: &str = "kube_pod_container_status_waiting_reason";
    pub(crate) const SPAN_CALLS: &str = "traces_span_metrics_calls_total";
    pub(crate) const SPAN_DURATION_BUCKET: &str = "traces_span_metrics_duration_milliseconds_bucket";
}

mod dashboards;
mod datasources;
mod model;
mod panels;

pub(crate) use dashboards::dashboards;
pub(crate) use datasources::*;

/// Datasource provisioning file.
pub(crate) const DATASOURCES_FILE: &str = "datasources.yaml";
/// Dashboard provider provisioning file.
pub(crate) const PROVIDER_FILE: &str = "dashboards.yaml";
/// Dashboard files.
pub(crate) const INFRASTRUCTURE_FILE: &str = "infrastructure.json";
pub(crate) const APPLICATION_FILE: &str = "application.json";
pub(crate) const BUSINESS_FILE: &str = "business.json";
/// Grafana's provisioning root.
pub(crate) const PROVISIONING_DIRECTORY: &str = "/etc/grafana/provisioning";
/// Where the dashboard files are mounted and the provider reads them.
pub(crate) const DASHBOARDS_DIRECTORY: &str = "/etc/grafana/dashboards";
/// Grafana's data directory (SQLite, plugins, sessions): disposable, everything is provisioned.
const DATA_DIRECTORY: &str = "/var/lib/grafana";
/// The user of the upstream image.
const GRAFANA_USER: i64 = 472;
/// Grafana's health endpoint, which its probes ask.
const HEALTH_PATH: &str = "/api/health";
/// Keys of the admin Secret.
pub(crate) const ADMIN_USER_KEY: &str = "admin-user";
pub(crate) const ADMIN_PASSWORD_KEY: &str = "admin-password";
/// Seconds between the provider's re-reads of the dashboard files.
const DASHBOARD_UPDATE_INTERVAL_SECONDS: u32 = 30;
/// Dashboard JSON schema version of the pinned Grafana.
pub(crate) const SCHEMA_VERSION: u32 = 41;

/// Stable dashboard UIDs, so links and bookmarks survive re-provisioning.
pub(crate) mod dashboard_uids {
    pub(crate) const INFRASTRUCTURE: &str = "stackscope-infrastructure";
    pub(crate) const APPLICATION: &str = "stackscope-application";
    pub(crate) const BUSINESS: &str = "stackscope-business";
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// Renders the provisioning and dashboard ConfigMaps, the Deployment and the Service.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let spec = &stack.spec.dashboards;
    let name = object_name(stack, Component::Grafana);
    let dashboards_name = object_name_with(stack, Component::Grafana, "dashboards");

    let provisioning = BTreeMap::from([
        (DATASOURCES_FILE.to_owned(), to_yaml(Component::Grafana, DATASOURCES_FILE, &datasources(stack))?),
        (PROVIDER_FILE.to_owned(), to_yaml(Component::Grafana, PROVIDER_FILE, &provider(stack))?),
    ]);
    // Only provisioning changes need a restart; the provider re-reads dashboards on its own.
    let hash = content_hash(&provisioning);
    let mut dashboard_files = BTreeMap::new();
    for (file, dashboard) in dashboards(stack) {
        dashboard_files.insert(file.to_owned(), to_json(Component::Grafana, file, &dashboard)?);
    }
    let mut objects = vec![
        into_object(Component::Grafana, config_map(stack, Component::Grafana, name.clone(), provisioning))?,
        into_object(
            Component::Grafana,
            config_map(stack, Component::Grafana, dashboards_name.clone(), dashboard_files),
        )?,
    ];

    let admin = |key: &str| SecretKeyRef { name: spec.admin_secret.clone(), key: key.to_owned() };
    let container = Container {
        name: "grafana".to_owned(),
        image: Some(spec.image.as_str().to_owned()),
        env: Some(vec![
            env_from_secret("GF_SECURITY_ADMIN_USER", &admin(ADMIN_USER_KEY)),
            env_from_secret("GF_SECURITY_ADMIN_PASSWORD", &admin(ADMIN_PASSWORD_KEY)),
            env("GF_PATHS_PROVISIONING", PROVISIONING_DIRECTORY),
            env("GF_PATHS_DATA", DATA_DIRECTORY),
            // The root filesystem is read-only: log to stdout only.
            env("GF_LOG_MODE", "console"),
            env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
        ]),
        ports: Some(container_ports(&[("http", ports::GRAFANA_HTTP)])),
        liveness_probe: Some(http_probe(HEALTH_PATH, "http", ProbeTiming::after(30))),
        readiness_probe: Some(http_probe(HEALTH_PATH, "http", ProbeTiming::after(5))),
        resources: Some(resource_requirements(&spec.resources, crate::api::defaults::resources::GRAFANA)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![
            volume_mount("datasources", &format!("{PROVISIONING_DIRECTORY}/datasources"), true),
            volume_mount("providers", &format!("{PROVISIONING_DIRECTORY}/dashboards"), true),
            volume_mount("dashboards", DASHBOARDS_DIRECTORY, true),
            volume_mount("data", DATA_DIRECTORY, false),
            volume_mount("tmp", "/tmp", false),
        ]),
        ..Container::default()
    };
    let volumes = vec![
        // Only the provisioning subdirectories are replaced; the image's others stay.
        config_map_items_volume("datasources", &name, &[(DATASOURCES_FILE, DATASOURCES_FILE)]),
        config_map_items_volume("providers", &name, &[(PROVIDER_FILE, PROVIDER_FILE)]),
        config_map_volume("dashboards", &dashboards_name),
        empty_dir_volume("data"),
        empty_dir_volume("tmp"),
    ];
    let deployment = Deployment {
        metadata: metadata(stack, Component::Grafana, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: pod_selector(stack, Component::Grafana),
            template: pod_template(
                stack,
                Component::Grafana,
                Some(hash),
                restricted_pod_spec(GRAFANA_USER, vec![container], volumes),
            ),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    objects.push(into_object(Component::Grafana, deployment)?);
    objects.push(into_object(
        Component::Grafana,
        service(stack, Component::Grafana, name, &[("http", ports::GRAFANA_HTTP)]),
    )?);
    Ok(objects)
}

#[cfg(test)]
mod tests;
