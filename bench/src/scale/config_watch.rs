//! Watches the configuration objects an operator writes (stackscope's Prometheus ConfigMaps,
//! prometheus-operator's gzipped config Secret) and notes when each version arrived, decoded, so
//! that the harness can tell when a change reached the configuration.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

/// The decoded configuration objects and when the last change arrived.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Object name → decoded text of every key.
    pub texts: BTreeMap<String, String>,
    /// When the last change arrived (`None` before the first).
    pub changed_at: Option<Instant>,
    /// Bytes of the objects as stored (before decompression).
    pub stored_bytes: usize,
}

impl Snapshot {
    pub fn contains(&self, needle: &str) -> bool {
        self.texts.values().any(|text| text.contains(needle))
    }

    /// Scrape jobs in the configuration, written as YAML (`- job_name:`) or JSON (`"job_name":`).
    pub fn jobs(&self) -> usize {
        self.texts
            .values()
            .map(|text| text.matches("- job_name:").count() + text.matches("\"job_name\":").count())
            .sum()
    }
}

/// A running watch of configuration objects.
pub struct ConfigWatch {
    snapshot: watch::Receiver<Snapshot>,
    task: tokio::task::JoinHandle<()>,
}

/// Text of a value: gunzipped when it is gzip, else as UTF-8.
fn decode(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        if flate2::read::MultiGzDecoder::new(bytes).read_to_string(&mut text).is_ok() {
            return text;
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

fn config_map_text(config_map: &ConfigMap) -> (String, usize) {
    let mut text = String::new();
    let mut stored = 0;
    for value in config_map.data.iter().flat_map(BTreeMap::values) {
        stored += value.len();
        text.push_str(value);
        text.push('\n');
    }
    for ByteString(bytes) in config_map.binary_data.iter().flat_map(BTreeMap::values) {
        stored += bytes.len();
        text.push_str(&decode(bytes));
        text.push('\n');
    }
    (text, stored)
}

fn secret_text(secret: &Secret) -> (String, usize) {
    let mut text = String::new();
    let mut stored = 0;
    for ByteString(bytes) in secret.data.iter().flat_map(BTreeMap::values) {
        stored += bytes.len();
        text.push_str(&decode(bytes));
        text.push('\n');
    }
    (text, stored)
}

impl ConfigWatch {
    /// stackscope's Prometheus configuration: the stack's ConfigMaps of the `prometheus`
    /// component (one, or its shards).
    pub fn stackscope(client: &Client, namespace: &str, stack: &str) -> Self {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let selector =
            format!("{}={stack},app.kubernetes.io/component=prometheus", stackscope::render::common::STACK_LABEL);
        Self::spawn(api, watcher::Config::default().labels(&selector), config_map_text)
    }

    /// prometheus-operator's configuration Secret `prometheus-<name>`.
    pub fn prometheus_operator(client: &Client, namespace: &str, prometheus: &str) -> Self {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name=prometheus-{prometheus}"));
        Self::spawn(api, config, secret_text)
    }

    fn spawn<K>(api: Api<K>, config: watcher::Config, text_of: fn(&K) -> (String, usize)) -> Self
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let (sender, receiver) = watch::channel(Snapshot::default());
        let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
        let task = tokio::spawn(async move {
            let mut events = kube::runtime::watcher(api, config).boxed();
            while let Some(event) = events.next().await {
                let arrived = Instant::now();
                let (object, deleted) = match event {
                    Ok(Event::Apply(object) | Event::InitApply(object)) => (object, false),
                    Ok(Event::Delete(object)) => (object, true),
                    Ok(Event::Init | Event::InitDone) | Err(_) => continue,
                };
                let name = object.name_any();
                let decoded = (!deleted).then(|| text_of(&object));
                sender.send_modify(|snapshot| {
                    match decoded {
                        Some((text, stored)) => {
                            sizes.insert(name.clone(), stored);
                            snapshot.texts.insert(name, text);
                        }
                        None => {
                            sizes.remove(&name);
                            snapshot.texts.remove(&name);
                        }
                    }
                    snapshot.stored_bytes = sizes.values().sum();
                    snapshot.changed_at = Some(arrived);
                });
            }
        });
        Self { snapshot: receiver, task }
    }

    /// Waits until the configuration satisfies `condition`; returns when the change that
    /// satisfied it arrived, and the snapshot then.
    pub async fn wait_for(
        &mut self,
        condition: impl Fn(&Snapshot) -> bool,
        timeout: Duration,
    ) -> Result<(Instant, Snapshot), Snapshot> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let snapshot = self.snapshot.borrow_and_update();
                if condition(&snapshot)
                    && let Some(at) = snapshot.changed_at
                {
                    return Ok((at, snapshot.clone()));
                }
            }
            match tokio::time::timeout_at(deadline, self.snapshot.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(self.snapshot.borrow().clone()),
            }
        }
    }
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
