//! `stackscope run`: the health server, leader election, and the kube-runtime `Controller` over
//! ObservabilityStacks that owns what it renders and watches what the stacks read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, reflector};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::apply::{OwnWrites, OwnedCache};
use super::context::Context;
use super::dereference::StaticProblems;
use super::error::Backoffs;
use super::error::ReconcileError;
use super::foreign::ForeignMonitors;
use super::mappers::Mappers;
use super::metrics::Metrics;
use super::reconcile::{RESYNC, error_policy, reconcile};
use super::watches::{
    Changes, cached_watch, metadata_changes, monitor_fingerprint, namespaced_or_all, owned_watch, service_fingerprint,
    stack_fingerprint, without_watch_errors,
};
use super::workloads::NOT_READY_RECHECK;
use super::{kinds, leader, server};
use crate::api::{ObservabilityStack, ServiceMonitor};
use crate::render::common::MANAGER;
use crate::schema::SchemaValidator;

/// Settings of `stackscope run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Address of the metrics/health server; `None` serves nothing (tests).
    pub listen: Option<std::net::SocketAddr>,
    /// Leader election; `None` runs without (a single replica).
    pub lease: Option<leader::LeaseConfig>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Only reconcile stacks of this namespace (`None`: every namespace).
    pub namespace: Option<String>,
    /// Where the objects the stacks read (ServiceMonitors, Services, Secrets, workloads) are
    /// watched.
    pub scope: WatchScope,
}

impl RunConfig {
    /// The namespace the objects the stacks read are watched in (`None`: every namespace).
    fn read_namespace(&self) -> Result<Option<&str>, RunError> {
        match (self.scope, self.namespace.as_deref()) {
            (WatchScope::Cluster, _) => Ok(None),
            (WatchScope::Namespace, Some(namespace)) => Ok(Some(namespace)),
            (WatchScope::Namespace, None) => Err(RunError::NoNamespace),
        }
    }
}

/// Where the operator watches what its stacks read: in every namespace, or only in the stacks'
/// one namespace, so that namespace-scoped RBAC (a Role, no cluster-wide reads) suffices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WatchScope {
    /// ServiceMonitors, Services, Secrets and workloads of every namespace: a stack may select
    /// monitors anywhere.
    #[default]
    Cluster,
    /// Only those of `RunConfig::namespace`: its stacks see only monitors of that namespace.
    Namespace,
}

/// Errors that stop `stackscope run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(#[from] kube::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("http server: {0}")]
    Server(#[from] std::io::Error),
    #[error("the namespace scope needs a namespace to watch")]
    NoNamespace,
}

/// A future that ends the operator when it completes.
pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + Sync>>;

/// Runs the operator with the default client until SIGINT/SIGTERM or the loss of leadership.
pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    run_with(client, Metrics::new()?, config, None).await
}

/// Runs the operator with a given client and metrics; `shutdown` (else a signal) stops it.
pub async fn run_with(
    client: Client,
    metrics: Metrics,
    config: RunConfig,
    shutdown: Option<Shutdown>,
) -> Result<(), RunError> {
    let read_namespace = config.read_namespace()?;
    for reason in ReconcileError::REASONS {
        metrics.errors.with_label_values(&[reason]);
    }
    for outcome in ["success", "error"] {
        metrics.reconciles.with_label_values(&[outcome]);
    }
    let kubernetes_ready = Arc::new(AtomicBool::new(false));
    let leading = Arc::new(AtomicBool::new(config.lease.is_none()));
    let server = config.listen.map(|listen| {
        let state = server::ServerState {
            metrics: metrics.clone(),
            kubernetes_ready: kubernetes_ready.clone(),
            leading: leading.clone(),
        };
        tokio::spawn(server::serve(listen, state))
    });

    // The API server must answer before the replica reports ready.
    client.apiserver_version().await?;
    kubernetes_ready.store(true, Ordering::Relaxed);

    let elector = config.lease.clone().map(|lease| leader::LeaderElector::new(client.clone(), lease));
    if let Some(elector) = &elector {
        tracing::info!(identity = elector.identity(), "waiting for the leader lease");
        elector.wait_for_leadership().await;
        leading.store(true, Ordering::Relaxed);
        metrics.leader.set(1);
        tracing::info!(identity = elector.identity(), "leading");
    }

    let (controller, watched) = controller(&client, &metrics, &config, read_namespace);
    let controller = match shutdown {
        Some(shutdown) => controller.graceful_shutdown_on(shutdown),
        None => controller.shutdown_on_signal(),
    };
    let context = context(&client, &metrics, &config, &watched);
    let controller = controller.run(reconcile, error_policy, context).for_each(|result| {
        if let Err(error) = result {
            tracing::debug!(error = %error, "controller event");
        }
        futures::future::ready(())
    });

    match &elector {
        Some(elector) => {
            tokio::select! {
                () = controller => {}
                () = elector.hold() => {
                    tracing::error!("leader lease lost: stopping so that another replica can lead");
                }
            }
            leading.store(false, Ordering::Relaxed);
            metrics.leader.set(0);
            if let Err(error) = elector.release().await {
                tracing::warn!(error = %error, "cannot release the leader lease");
            }
        }
        None => controller.await,
    }
    watched.stop();
    if let Some(server) = server {
        server.abort();
    }
    Ok(())
}

/// Everything the reconciles share, from the stores the controller's watches fill.
fn context(client: &Client, metrics: &Metrics, config: &RunConfig, watched: &Watched) -> Arc<Context> {
    let reporter = Reporter {
        controller: MANAGER.to_owned(),
        instance: config.lease.as_ref().map(|lease| lease.identity.clone()),
    };
    Arc::new(Context {
        client: client.clone(),
        metrics: metrics.clone(),
        monitors: watched.monitors.clone(),
        services: watched.services.clone(),
        validator: SchemaValidator::new(),
        recorder: Recorder::new(client.clone(), reporter),
        foreign: watched.foreign.clone(),
        owned: watched.owned.clone(),
        checked: StaticProblems::default(),
        render_caches: Default::default(),
        written_statuses: Default::default(),
        backoffs: Default::default(),
        rechecks: Backoffs::new(NOT_READY_RECHECK, RESYNC),
    })
}

/// The caches the controller's watches fill, which the reconciles read.
struct Watched {
    monitors: reflector::Store<ServiceMonitor>,
    services: reflector::Store<Service>,
    owned: OwnedCache,
    foreign: ForeignMonitors,
}

impl Watched {
    fn stop(&self) {
        self.foreign.stop();
    }
}

/// The owned kinds' watches: one store per kind the reconciles read (a no-op reconcile sends no
/// request), and the changes that are not echoes of the operator's own writes.
fn owned_watches(
    client: &Client,
    metrics: &Metrics,
    namespace: Option<&str>,
) -> (OwnedCache, Vec<(kinds::OwnedKind, Changes<DynamicObject>)>) {
    let own_writes = OwnWrites::default();
    let mut stores = Vec::new();
    let mut changes = Vec::new();
    for kind in kinds::owned_kinds() {
        let api: Api<DynamicObject> = match (kind.namespaced, namespace) {
            (true, Some(namespace)) => Api::namespaced_with(client.clone(), namespace, &kind.resource),
            _ => Api::all_with(client.clone(), &kind.resource),
        };
        let writer = reflector::store::Writer::new(kind.resource.clone());
        stores.push((kind.clone(), writer.as_reader()));
        let (own_writes, echo_kind) = (own_writes.clone(), kind.clone());
        let kind_changes =
            reflector(writer, watcher(api, owned_watch()).default_backoff()).touched_objects().filter(move |change| {
                let echo = change.as_ref().is_ok_and(|object| own_writes.is_echo(&echo_kind, object));
                futures::future::ready(!echo)
            });
        changes.push((kind.clone(), without_watch_errors(&kind.resource.kind, metrics, kind_changes)));
    }
    (OwnedCache::new(stores, own_writes), changes)
}

/// The controller over the stacks of `config.namespace` (or every namespace), with every trigger:
/// owned objects, monitors, Services, Secrets (names only), workloads (probes) and
/// prometheus-operator's monitors. Monitors, Services and the owned objects have one watch each,
/// which fills the cache the reconciles read and triggers them, so a trigger never arrives before
/// the cache has the change.
fn controller(
    client: &Client,
    metrics: &Metrics,
    config: &RunConfig,
    read_namespace: Option<&str>,
) -> (Controller<ObservabilityStack>, Watched) {
    let (monitors, monitor_changes) =
        cached_watch::<ServiceMonitor>(client, read_namespace, monitor_fingerprint, "ServiceMonitor", metrics);
    let (services, service_changes) =
        cached_watch::<Service>(client, read_namespace, service_fingerprint, "Service", metrics);
    let (owned, owned_changes) = owned_watches(client, metrics, config.namespace.as_deref());

    let stacks: Api<ObservabilityStack> = namespaced_or_all(client, config.namespace.as_deref());
    let (stack_store, stack_writer) = reflector::store();
    let stack_changes = without_watch_errors(
        "ObservabilityStack",
        metrics,
        reflector(stack_writer, watcher(stacks, watcher::Config::default()).default_backoff())
            .applied_objects()
            .predicate_filter(stack_fingerprint, PredicateConfig::default()),
    );
    let (foreign_trigger, foreign_changes) = futures::channel::mpsc::unbounded();
    let foreign =
        ForeignMonitors::new(client.clone(), read_namespace.map(str::to_owned), stack_store.clone(), foreign_trigger);
    let mappers = Mappers {
        stacks: stack_store.clone(),
        monitors: monitors.clone(),
        foreign: foreign.clone(),
        validator: Arc::new(SchemaValidator::new()),
    };

    let mut controller = Controller::for_stream(stack_changes, stack_store);
    for (kind, changes) in owned_changes {
        controller = if kind.namespaced {
            controller.owns_stream_with(changes, kind.resource.clone())
        } else {
            // Cluster-scoped objects carry no owner reference: found by their name prefix.
            let mappers = mappers.clone();
            controller.watches_stream_with(
                changes,
                move |object: DynamicObject| mappers.stacks_owning_cluster_object(&object.name_any()),
                kind.resource.clone(),
            )
        };
    }
    let (for_monitors, for_services, for_secrets) = (mappers.clone(), mappers.clone(), mappers.clone());
    let controller = controller
        .watches_stream(monitor_changes, move |monitor| for_monitors.stacks_selecting(&monitor))
        .watches_stream(service_changes, move |service| for_services.stacks_monitoring_service(&service))
        // Only names matter here: metadata-only watches keep Secret values out of memory.
        .watches_stream(
            without_watch_errors("Secret", metrics, metadata_changes::<Secret>(client, read_namespace, false)),
            move |secret| for_secrets.stacks_reading_secret(&secret),
        );
    let controller = watch_workloads(controller, client, metrics, read_namespace, &mappers)
        // Changes of prometheus-operator's monitors, mapped to the stacks that select them.
        .reconcile_on(foreign_changes)
        .with_config(kube::runtime::controller::Config::default().concurrency(config.concurrency));
    (controller, Watched { monitors, services, owned, foreign })
}

/// Probe drift of the monitored workloads: a spec change bumps the generation; status updates
/// (every rollout step) do not, and are filtered out.
fn watch_workloads(
    controller: Controller<ObservabilityStack>,
    client: &Client,
    metrics: &Metrics,
    namespace: Option<&str>,
    mappers: &Mappers,
) -> Controller<ObservabilityStack> {
    let (deployments, statefulsets, daemonsets) = (mappers.clone(), mappers.clone(), mappers.clone());
    controller
        .watches_stream(
            without_watch_errors("Deployment", metrics, metadata_changes::<Deployment>(client, namespace, true)),
            move |workload| deployments.stacks_probing_namespace(workload.namespace().as_deref()),
        )
        .watches_stream(
            without_watch_errors("StatefulSet", metrics, metadata_changes::<StatefulSet>(client, namespace, true)),
            move |workload| statefulsets.stacks_probing_namespace(workload.namespace().as_deref()),
        )
        .watches_stream(
            without_watch_errors("DaemonSet", metrics, metadata_changes::<DaemonSet>(client, namespace, true)),
            move |workload| daemonsets.stacks_probing_namespace(workload.namespace().as_deref()),
        )
}
