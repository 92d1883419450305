//! Prometheus: `prometheus.yml` with a scrape job per ServiceMonitor endpoint (generated the way
//! prometheus-operator generates it), jobs for the stack's own components and the kubelet, the
//! StatefulSet with its config-reloader sidecar, RBAC for Kubernetes service discovery, and —
//! when downsampling is on — a Thanos sidecar that ships blocks to object storage and a Thanos
//! compactor that downsamples them and enforces the retention of each resolution.
//!
//! The configuration is reloaded in place by `prometheus-config-reloader`, so the pod template
//! carries no config hash: a ServiceMonitor change never restarts Prometheus.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::PodSpec;
use kube::api::DynamicObject;

use super::common::{
    headless_service, into_object, metadata, object_name, object_name_with, pod_selector, pod_template,
    restricted_pod_spec, service, service_account, to_yaml, volume_claim_template,
};
use super::shard::{self, Piece};
use super::{Component, RenderError, ports};
use crate::resolve::ResolvedStack;

mod jobs;
mod model;
mod mounts;
mod workload;

use jobs::{base_config, component_jobs, kubelet_jobs};
pub use jobs::{config, monitor_jobs, monitor_piece};
pub use model::{
    Alerting, AlertmanagerConfig, Authorization, BasicAuthFiles, Global, KubernetesSd, Namespaces, PrometheusConfig,
    Relabel, ScrapeConfig, TlsFiles,
};
pub use mounts::{Mounts, record_mounts};
use workload::{compactor, objstore_volume, prometheus_container, rbac, reloader_container, thanos_sidecar_container};

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
mod tests;
