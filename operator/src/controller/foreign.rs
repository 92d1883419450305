//! prometheus-operator's `monitoring.coreos.com/v1` ServiceMonitors, for stacks that set
//! `spec.prometheusOperatorMonitors.enabled`.
//!
//! Nothing is watched until the first such stack is reconciled: a cluster that never uses the
//! feature costs no cache and needs no permission on prometheus-operator's API. From then on a
//! dynamic watch keeps them cached. Whether they can be read at all is tracked from the watch
//! itself: without their CRD the list answers 404 (and 403 without permission), the stacks say so
//! in their status, and the watch keeps retrying with backoff, so a CRD installed later is picked
//! up without a restart — no crash loop either way.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::dereference::ForeignMonitor;
use crate::api::ObservabilityStack;
use crate::prometheus_operator::{monitor_resource, unavailable_reason};
use crate::resolve::stack_selects_object;

/// How long a reconcile waits for the first list of prometheus-operator's ServiceMonitors.
const FIRST_LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether prometheus-operator's ServiceMonitors can be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    /// Not listed yet.
    Unknown,
    /// Listed; the cache is current.
    Available,
    /// The last list or watch failed, for this reason.
    Unavailable(String),
}

/// What a reconcile gets: the converted monitors, or why there are none.
#[derive(Clone, Debug)]
pub(crate) enum Snapshot {
    Available(Vec<ForeignMonitor>),
    Unavailable(String),
}

struct Inner {
    client: Client,
    /// The namespace the operator is limited to (`run --namespace`), else every namespace.
    namespace: Option<String>,
    store: Store<DynamicObject>,
    writer: Mutex<Option<Writer<DynamicObject>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    availability: tokio::sync::watch::Sender<Availability>,
    stacks: Store<ObservabilityStack>,
    trigger: UnboundedSender<ObjectRef<ObservabilityStack>>,
}

/// The cache of prometheus-operator's ServiceMonitors, started on first use.
#[derive(Clone)]
pub(crate) struct ForeignMonitors(Arc<Inner>);

impl ForeignMonitors {
    /// A cache that reconciles the stacks of `stacks` concerned by a change through `trigger`.
    pub fn new(
        client: Client,
        namespace: Option<String>,
        stacks: Store<ObservabilityStack>,
        trigger: UnboundedSender<ObjectRef<ObservabilityStack>>,
    ) -> Self {
        let writer = Writer::new(monitor_resource());
        let store = writer.as_reader();
        let (availability, _) = tokio::sync::watch::channel(Availability::Unknown);
        Self(Arc::new(Inner {
            client,
            namespace,
            store,
            writer: Mutex::new(Some(writer)),
            task: Mutex::new(None),
            availability,
            stacks,
            trigger,
        }))
    }

    /// Whether they can be read, as far as known.
    pub(crate) fn availability(&self) -> Availability {
        self.0.availability.borrow().clone()
    }

    /// Starts the watch unless it runs already.
    pub(crate) fn ensure_started(&self) {
        let Some(writer) = self.0.writer.lock().ok().and_then(|mut writer| writer.take()) else { return };
        let inner = self.0.clone();
        let task = tokio::spawn(watch(inner, writer));
        if let Ok(mut slot) = self.0.task.lock() {
            *slot = Some(task);
        }
    }

    /// Stops the watch.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.0.task.lock().ok().and_then(|mut task| task.take()) {
            task.abort();
        }
    }

    /// The converted monitors for a reconcile, starting the watch and waiting for its first list
    /// when needed.
    pub(crate) async fn snapshot(&self) -> Snapshot {
        self.ensure_started();
        let mut availability = self.0.availability.subscribe();
        let settled = tokio::time::timeout(FIRST_LIST_TIMEOUT, availability.wait_for(|a| *a != Availability::Unknown))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|state| state.clone());
        match settled {
            Some(Availability::Available) => Snapshot::Available(self.converted()),
            Some(Availability::Unavailable(reason)) => Snapshot::Unavailable(reason),
            _ => Snapshot::Unavailable(format!(
                "{} ServiceMonitors are still being listed",
                crate::prometheus_operator::PROMETHEUS_OPERATOR_API_VERSION
            )),
        }
    }

    /// Every cached monitor, converted; empty unless they can be read.
    pub(crate) fn converted(&self) -> Vec<ForeignMonitor> {
        if self.availability() != Availability::Available {
            return Vec::new();
        }
        self.0.store.state().iter().filter_map(|object| ForeignMonitor::from_object(object)).collect()
    }
}

/// Stacks that use prometheus-operator's monitors, and of those the ones selecting `object`
/// (every one of them when `object` is `None`).
fn concerned(stacks: &Store<ObservabilityStack>, object: Option<&DynamicObject>) -> Vec<ObjectRef<ObservabilityStack>> {
    stacks
        .state()
        .iter()
        .filter(|stack| stack.spec.prometheus_operator_monitors.enabled)
        .filter(|stack| {
            object
                .is_none_or(|object| stack_selects_object(stack, object.namespace().as_deref(), Some(object.labels())))
        })
        .map(|stack| ObjectRef::from_obj(&**stack))
        .collect()
}

async fn watch(inner: Arc<Inner>, mut writer: Writer<DynamicObject>) {
    let resource = monitor_resource();
    // Limited to the operator's namespace when it has one: its Role grants nothing beyond.
    let api: Api<DynamicObject> = match &inner.namespace {
        Some(namespace) => Api::namespaced_with(inner.client.clone(), namespace, &resource),
        None => Api::all_with(inner.client.clone(), &resource),
    };
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let mut touched: Vec<Option<DynamicObject>> = Vec::new();
        match event {
            Ok(event) => {
                if let watcher::Event::Apply(object) | watcher::Event::Delete(object) = &event {
                    // The version before the change too: a monitor whose labels changed leaves
                    // the stacks that selected it.
                    let previous = inner.store.get(&ObjectRef::from_obj_with(object, resource.clone()));
                    touched.extend([previous.map(|previous| (*previous).clone()), Some(object.clone())]);
                }
                writer.apply_watcher_event(&event);
                let settled = matches!(event, watcher::Event::InitDone);
                let changed = (settled || !touched.is_empty())
                    && inner.availability.send_if_modified(|state| {
                        let changed = *state != Availability::Available;
                        *state = Availability::Available;
                        changed
                    });
                if changed {
                    tracing::info!(api = %resource.api_version, "prometheus-operator ServiceMonitors are available");
                }
                if settled || changed {
                    touched = vec![None];
                }
            }
            Err(error) => {
                let reason = match &error {
                    watcher::Error::InitialListFailed(error)
                    | watcher::Error::WatchStartFailed(error)
                    | watcher::Error::WatchFailed(error) => unavailable_reason(error),
                    other => other.to_string(),
                };
                let changed = inner.availability.send_if_modified(|state| {
                    let next = Availability::Unavailable(reason.clone());
                    let changed = *state != next;
                    *state = next;
                    changed
                });
                if changed {
                    tracing::warn!(reason = %reason, "prometheus-operator ServiceMonitors are unavailable; retrying");
                    touched = vec![None];
                }
            }
        }
        for object in touched {
            for stack in concerned(&inner.stacks, object.as_ref()) {
                // The controller is gone when the operator stops; nothing to tell then.
                let _ = inner.trigger.unbounded_send(stack);
            }
        }
    }
}
