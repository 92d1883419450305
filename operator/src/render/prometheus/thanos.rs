//! The Thanos components around Prometheus when downsampling is on: the compactor (downsamples
//! the uploaded blocks and enforces each resolution's retention), the Store Gateway (serves the
//! blocks in object storage) and Thanos Query (one PromQL endpoint over the Prometheus replicas'
//! sidecars and the Store Gateway, deduplicating the replicas on [`REPLICA_LABEL`] and choosing
//! the downsampled resolution by the query's range). Grafana's metrics datasource points at Query.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Service, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::DynamicObject;

use super::{HEADLESS_SUFFIX, OBJSTORE_DIR, PROMETHEUS_USER, REPLICA_LABEL};
use crate::api::defaults::resources as sizes;
use crate::render::common::{into_object, labels, metadata, object_name_with, selector_labels, service};
use crate::render::pod::{
    ProbeTiming, container_ports, disruption_budget, http_probe, resource_requirements, restricted_container_security,
    restricted_pod_spec, secret_volume, spread_across_nodes, volume_claim_template, volume_mount,
};
use crate::render::{Component, RenderError, ports};
use crate::resolve::ResolvedStack;

/// One Thanos component: its `thanos` subcommand, the suffix of its objects
/// (`<stack>-prometheus-<suffix>`) and the `app.kubernetes.io/name` of its pods, which keeps
/// Prometheus' Services and scrape job from selecting them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Thanos {
    Compactor,
    Store,
    Query,
}

impl Thanos {
    pub(crate) const ALL: [Self; 3] = [Self::Compactor, Self::Store, Self::Query];

    /// Suffix of its objects' names.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Self::Compactor => "compactor",
            Self::Store => "store",
            Self::Query => "query",
        }
    }

    /// `app.kubernetes.io/name` of its objects and pods.
    pub(crate) fn app_name(self) -> &'static str {
        match self {
            Self::Compactor => "thanos-compactor",
            Self::Store => "thanos-store",
            Self::Query => "thanos-query",
        }
    }

    /// Its HTTP port: metrics, probes, and Query's API.
    pub(crate) fn http_port(self) -> u16 {
        match self {
            Self::Compactor => ports::THANOS_COMPACTOR_HTTP,
            Self::Store => ports::THANOS_STORE_HTTP,
            Self::Query => ports::THANOS_QUERY_HTTP,
        }
    }

    /// Its gRPC Store API port; the compactor serves none.
    fn grpc_port(self) -> Option<u16> {
        match self {
            Self::Compactor => None,
            Self::Store => Some(ports::THANOS_STORE_GRPC),
            Self::Query => Some(ports::THANOS_QUERY_GRPC),
        }
    }

    /// Name of its objects.
    pub(crate) fn object_name(self, stack: &ResolvedStack) -> String {
        object_name_with(stack, Component::Prometheus, self.suffix())
    }

    fn labels(self, stack: &ResolvedStack) -> BTreeMap<String, String> {
        let mut labels = labels(stack, Component::Prometheus);
        labels.insert("app.kubernetes.io/name".to_owned(), self.app_name().to_owned());
        labels
    }

    fn selector(self, stack: &ResolvedStack) -> BTreeMap<String, String> {
        let mut selector = selector_labels(stack, Component::Prometheus);
        selector.insert("app.kubernetes.io/name".to_owned(), self.app_name().to_owned());
        selector
    }

    fn metadata(self, stack: &ResolvedStack) -> ObjectMeta {
        ObjectMeta {
            labels: Some(self.labels(stack)),
            ..metadata(stack, Component::Prometheus, self.object_name(stack))
        }
    }

    fn ports(self) -> Vec<(&'static str, u16)> {
        let mut ports = vec![("http", self.http_port())];
        ports.extend(self.grpc_port().map(|port| ("grpc", port)));
        ports
    }

    /// The Service of its ports, selecting its pods only.
    fn service(self, stack: &ResolvedStack) -> Service {
        let mut svc = service(stack, Component::Prometheus, self.object_name(stack), &self.ports());
        svc.metadata = self.metadata(stack);
        if let Some(spec) = svc.spec.as_mut() {
            spec.selector = Some(self.selector(stack));
        }
        svc
    }

    /// The pod template of its container.
    fn template(
        self,
        stack: &ResolvedStack,
        container: Container,
        volumes: Vec<Volume>,
        replicas: u32,
    ) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(self.labels(stack)), ..ObjectMeta::default() }),
            spec: Some(PodSpec {
                topology_spread_constraints: (replicas > 1).then(|| spread_across_nodes(&self.selector(stack))),
                ..restricted_pod_spec(PROMETHEUS_USER, vec![container], volumes)
            }),
        }
    }
}

/// The Thanos object storage configuration, a Secret key mounted as a file, and its flag.
pub(crate) fn objstore_volume(stack: &ResolvedStack) -> (Volume, String) {
    let reference = &stack.spec.metrics.downsampling.object_storage;
    (
        secret_volume("objstore", &reference.name, &[(&reference.key, &reference.key)]),
        format!("--objstore.config-file={OBJSTORE_DIR}/{}", reference.key),
    )
}

/// A Thanos container: the subcommand with its arguments and the HTTP and gRPC addresses.
fn container(
    stack: &ResolvedStack,
    component: Thanos,
    mut args: Vec<String>,
    resources: ContainerSizing<'_>,
) -> Container {
    let mut all = vec![component_command(component).to_owned()];
    all.append(&mut args);
    all.push(format!("--http-address=0.0.0.0:{}", component.http_port()));
    if let Some(grpc) = component.grpc_port() {
        all.push(format!("--grpc-address=0.0.0.0:{grpc}"));
    }
    Container {
        name: component.app_name().to_owned(),
        image: Some(stack.spec.metrics.downsampling.image.as_str().to_owned()),
        args: Some(all),
        ports: Some(container_ports(&component.ports())),
        liveness_probe: Some(http_probe("/-/healthy", "http", ProbeTiming::after(10).failures(6))),
        readiness_probe: Some(http_probe("/-/ready", "http", ProbeTiming::after(5))),
        resources: Some(resource_requirements(resources.0, resources.1)),
        security_context: Some(restricted_container_security()),
        ..Container::default()
    }
}

/// The spec's resources of a container and the component's defaults.
type ContainerSizing<'a> = (&'a crate::api::Resources, sizes::Sizes);

fn component_command(component: Thanos) -> &'static str {
    match component {
        Thanos::Compactor => "compact",
        Thanos::Store => "store",
        Thanos::Query => "query",
    }
}

/// The compactor: a singleton (two on one bucket corrupt it) with its scratch volume.
fn compactor(stack: &ResolvedStack) -> StatefulSet {
    let downsampling = &stack.spec.metrics.downsampling;
    let (objstore, objstore_flag) = objstore_volume(stack);
    let mut container = container(
        stack,
        Thanos::Compactor,
        vec![
            "--wait".to_owned(),
            format!("--data-dir={COMPACTOR_DATA_DIR}"),
            objstore_flag,
            format!("--retention.resolution-raw={}", downsampling.raw_retention),
            format!("--retention.resolution-5m={}", downsampling.five_minute_retention),
            format!("--retention.resolution-1h={}", downsampling.one_hour_retention),
        ],
        (&downsampling.compactor.resources, sizes::THANOS_COMPACTOR),
    );
    container.volume_mounts =
        Some(vec![volume_mount("data", COMPACTOR_DATA_DIR, false), volume_mount("objstore", OBJSTORE_DIR, true)]);
    let compactor = &downsampling.compactor;
    StatefulSet {
        metadata: Thanos::Compactor.metadata(stack),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(Thanos::Compactor.selector(stack)), match_expressions: None },
            service_name: Some(Thanos::Compactor.object_name(stack)),
            template: Thanos::Compactor.template(stack, container, vec![objstore], 1),
            volume_claim_templates: Some(vec![volume_claim_template(
                "data",
                &compactor.storage_size,
                compactor.storage_class_name.as_deref(),
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// The Store Gateway: serves every block in object storage, raw and downsampled, with its
/// index headers cached on a volume.
fn store(stack: &ResolvedStack) -> StatefulSet {
    let store = &stack.spec.metrics.downsampling.store;
    let (objstore, objstore_flag) = objstore_volume(stack);
    let mut container = container(
        stack,
        Thanos::Store,
        vec![format!("--data-dir={STORE_DATA_DIR}"), objstore_flag],
        (&store.resources, sizes::THANOS_STORE),
    );
    container.volume_mounts =
        Some(vec![volume_mount("data", STORE_DATA_DIR, false), volume_mount("objstore", OBJSTORE_DIR, true)]);
    StatefulSet {
        metadata: Thanos::Store.metadata(stack),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(Thanos::Store.selector(stack)), match_expressions: None },
            service_name: Some(Thanos::Store.object_name(stack)),
            template: Thanos::Store.template(stack, container, vec![objstore], 1),
            volume_claim_templates: Some(vec![volume_claim_template(
                "data",
                &store.storage_size,
                store.storage_class_name.as_deref(),
            )]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// The arguments of Thanos Query: every Prometheus replica's sidecar (found through the headless
/// Service's SRV records, so a new replica joins by itself) and the Store Gateway, deduplicated
/// on the replica label, downsampled data used when a query's range allows.
pub(crate) fn query_args(stack: &ResolvedStack) -> Vec<String> {
    let sidecars = object_name_with(stack, Component::Prometheus, HEADLESS_SUFFIX);
    vec![
        format!("--query.replica-label={REPLICA_LABEL}"),
        "--query.auto-downsampling".to_owned(),
        format!("--endpoint=dnssrv+_grpc._tcp.{sidecars}.{}.svc", stack.namespace),
        format!("--endpoint=dnssrv+_grpc._tcp.{}.{}.svc", Thanos::Store.object_name(stack), stack.namespace),
    ]
}

/// Thanos Query: stateless, as many replicas as the stack runs highly available.
fn query(stack: &ResolvedStack) -> Deployment {
    let replicas = stack.thanos_query_replicas();
    let container = container(
        stack,
        Thanos::Query,
        query_args(stack),
        (&stack.spec.metrics.downsampling.query.resources, sizes::THANOS_QUERY),
    );
    Deployment {
        metadata: Thanos::Query.metadata(stack),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(1)),
            selector: LabelSelector { match_labels: Some(Thanos::Query.selector(stack)), match_expressions: None },
            template: Thanos::Query.template(stack, container, Vec::new(), replicas),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Every Thanos component's Service and workload (the sidecar is in Prometheus' pod), and a
/// disruption budget for Query when it has replicas to spare.
pub(crate) fn objects(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let mut objects = Vec::new();
    for component in Thanos::ALL {
        objects.push(into_object(Component::Prometheus, component.service(stack))?);
    }
    objects.push(into_object(Component::Prometheus, compactor(stack))?);
    objects.push(into_object(Component::Prometheus, store(stack))?);
    objects.push(into_object(Component::Prometheus, query(stack))?);
    if stack.thanos_query_replicas() > 1 {
        let budget = disruption_budget(Thanos::Query.metadata(stack), &Thanos::Query.selector(stack));
        objects.push(into_object(Component::Prometheus, budget)?);
    }
    Ok(objects)
}

/// The compactor's working directory.
const COMPACTOR_DATA_DIR: &str = "/var/thanos/compact";
/// The Store Gateway's index-header cache.
const STORE_DATA_DIR: &str = "/var/thanos/store";
