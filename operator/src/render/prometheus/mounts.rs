//! The Secret and ConfigMap keys the scrape jobs read, which the Prometheus pod mounts.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Volume, VolumeMount};
use sha2::{Digest, Sha256};

use super::{CONFIG_MAPS_DIR, SECRETS_DIR};
use crate::api::{ConfigMapKeyRef, Referenced, SecretKeyRef};
use crate::render::pod::{config_map_volume, secret_volume, volume_mount};
use crate::resolve::ResolvedMonitor;

/// The Secret and ConfigMap keys the scrape jobs read, each mounted once, in name order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Mounts<'a> {
    /// Secret name → keys.
    pub secrets: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// ConfigMap name → keys.
    pub config_maps: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Mounts<'a> {
    /// The file of a Secret key, recording that the Secret must be mounted.
    pub(crate) fn secret(&mut self, reference: &'a SecretKeyRef) -> String {
        self.secrets.entry(&reference.name).or_default().insert(&reference.key);
        format!("{SECRETS_DIR}/{}/{}", reference.name, reference.key)
    }

    /// The file of a ConfigMap key, recording that the ConfigMap must be mounted.
    pub(crate) fn config_map(&mut self, reference: &'a ConfigMapKeyRef) -> String {
        self.config_maps.entry(&reference.name).or_default().insert(&reference.key);
        format!("{CONFIG_MAPS_DIR}/{}/{}", reference.name, reference.key)
    }

    /// The volumes and their mounts in the Prometheus container.
    pub(crate) fn volumes(&self) -> (Vec<Volume>, Vec<VolumeMount>) {
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
pub(crate) fn volume_name(prefix: &str, object: &str) -> String {
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

/// Records the Secret and ConfigMap keys a monitor's jobs read (its [`references`]), as
/// [`super::jobs::monitor_jobs`] does, for monitors whose jobs come from the render cache.
///
/// [`references`]: crate::api::ServiceMonitorSpec::references
pub(crate) fn record_mounts<'a>(monitor: &'a ResolvedMonitor, mounts: &mut Mounts<'a>) {
    for reference in monitor.spec.references() {
        match reference.object {
            Referenced::Secret(secret) => mounts.secret(secret),
            Referenced::ConfigMap(config_map) => mounts.config_map(config_map),
        };
    }
}
