//! Prometheus: `prometheus.yml` with a scrape job per ServiceMonitor endpoint (generated the way
//! prometheus-operator generates it), jobs for the stack's own components and the kubelet, the
//! StatefulSet with its config-reloader sidecar, RBAC for Kubernetes service discovery, and —
//! when downsampling is on — a Thanos sidecar that ships blocks to object storage, a Thanos
//! compactor that downsamples them and enforces the retention of each resolution, and the Store
//! Gateway and Thanos Query that read every resolution back ([`thanos`]).
//!
//! The configuration is reloaded in place by `prometheus-config-reloader`, so the pod template
//! carries no config hash: a ServiceMonitor change never restarts Prometheus.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kube::api::DynamicObject;

use super::common::{into_object, object_name, service_account, to_yaml};
use super::layout::{ConfigMaps, FileSet, GrowingFile, ShardFormat, Sizing};
use super::shard::Piece;
use super::{Component, RenderError};
use crate::resolve::ResolvedStack;

mod jobs;
mod model;
mod mounts;
pub(crate) mod thanos;
mod workload;

use jobs::base_config;
pub(crate) use jobs::{DATABASE_LABEL, component_jobs, config, kubelet_jobs, monitor_piece};
pub(crate) use mounts::{Mounts, record_mounts};
use workload::{disruption_budget_of, rbac, services, statefulset};

/// Stem of the shard files of the monitors' jobs: `scrape-0000.json` …
pub(crate) const SCRAPE_SHARD_STEM: &str = "scrape";
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
pub(crate) const OBJSTORE_DIR: &str = "/etc/thanos/objstore";
/// The service-account token and cluster CA every pod gets, used to scrape the kubelet.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The user of the upstream Prometheus, Thanos and config-reloader images (`nobody`).
const PROMETHEUS_USER: i64 = 65534;
/// External label telling replicas apart, so Thanos never sees two replicas' blocks as one
/// stream; dropped from alerts so Alertmanager deduplicates them.
pub(crate) const REPLICA_LABEL: &str = "prometheus_replica";
/// Suffix of the headless governing Service of the StatefulSet.
const HEADLESS_SUFFIX: &str = "headless";

/// Renders Prometheus alone, as [`super::render_stack`] renders it.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    Component::Prometheus.render(stack)
}

/// Prometheus' configuration before layout: `prometheus.yml` with every scrape job while it is
/// small, else `prometheus.yml` reading the monitors' jobs, one piece per monitor (fresh or from
/// the render cache), from `scrape-NNNN.json` shards.
pub(crate) fn config_files<'a>(stack: &'a ResolvedStack, pieces: Vec<&'a Piece>) -> FileSet<'a> {
    FileSet {
        component: Component::Prometheus,
        name: object_name(stack, Component::Prometheus),
        files: BTreeMap::new(),
        growing: Some(GrowingFile {
            name: CONFIG_FILE,
            pieces,
            // JSON pieces are about two thirds the size of the same jobs in block YAML.
            sizing: Sizing::Measured { numerator: 3, denominator: 2 },
            whole: Box::new(move || to_yaml(Component::Prometheus, CONFIG_FILE, &config(stack)?.0)),
            shards: ShardFormat {
                stem: SCRAPE_SHARD_STEM,
                extension: "json",
                head: "{\"scrape_configs\":[\n",
                tail: "\n]}\n",
                index: Some(Box::new(move || {
                    let mut jobs = component_jobs(stack)?;
                    jobs.extend(kubelet_jobs());
                    let mut main = base_config(stack, jobs);
                    main.scrape_config_files = vec![Cow::Owned(format!("{CONFIG_DIR}/{SCRAPE_SHARD_STEM}-*.json"))];
                    to_yaml(Component::Prometheus, CONFIG_FILE, &main)
                })),
                overflow: None,
            },
        }),
    }
}

/// Prometheus' objects around its laid-out configuration: the RBAC, the configuration's
/// ConfigMaps, the Services, the StatefulSet mounting them and the rule ConfigMaps, and the
/// Thanos compactor when downsampling is enabled.
pub(crate) fn objects(
    stack: &ResolvedStack,
    config: ConfigMaps,
    rules: &ConfigMaps,
) -> Result<Vec<DynamicObject>, RenderError> {
    let mut mounts = Mounts::default();
    for monitor in &stack.monitors {
        record_mounts(monitor, &mut mounts);
    }
    let (role, binding) = rbac(stack);
    let mut objects = vec![
        into_object(Component::Prometheus, service_account(stack, Component::Prometheus))?,
        into_object(Component::Prometheus, role)?,
        into_object(Component::Prometheus, binding)?,
    ];
    let config_volume = config.volume("config");
    objects.extend(config.into_objects(stack));
    let (service, headless) = services(stack);
    objects.push(into_object(Component::Prometheus, service)?);
    objects.push(into_object(Component::Prometheus, headless)?);
    objects.push(into_object(
        Component::Prometheus,
        statefulset(stack, vec![config_volume, rules.volume("rules")], &mounts),
    )?);
    if let Some(budget) = disruption_budget_of(stack) {
        objects.push(into_object(Component::Prometheus, budget)?);
    }
    if stack.spec.metrics.downsampling.enabled {
        objects.extend(thanos::objects(stack)?);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests;
