//! The workloads stage: whether each rendered Deployment, StatefulSet and DaemonSet runs as
//! declared, and, for those that do not, why their pods do not.
//!
//! A workload's readiness is read from the controller's own watch cache ([`OwnedCache`]), so a
//! stack whose workloads run costs no request. Only a workload that is not ready has its pods
//! listed (and, when a pod cannot be scheduled, its claims read), since pods are not watched:
//! while a stack is not ready the reconcile comes back after [`NOT_READY_RECHECK`] (doubling up to
//! the resync while its status stays the same), which is what notices a pod that fails while its
//! workload's status stays the same (an image pull backing off changes only the pod).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::apply::{APPLIED_HASH_ANNOTATION, Declared, OwnedCache};
use super::kinds::OwnedKind;
use super::pods::{self, PodReason};
use super::readiness::{self, Rollout, WorkloadKind};
use crate::render::Component;

/// How soon a stack whose workloads are not all ready is looked at again, the first time after
/// its status changed.
pub(crate) const NOT_READY_RECHECK: Duration = Duration::from_secs(10);

/// Why the pods of a workload could not be looked at.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PodsError {
    #[error("list the pods of {workload} ({selector}): {source}")]
    List { workload: String, selector: String, source: kube::Error },
    #[error("get PersistentVolumeClaim {namespace}/{name}: {source}")]
    Claim { namespace: String, name: String, source: kube::Error },
}

/// A rendered workload, as applied.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub component: Component,
    pub kind: WorkloadKind,
    pub owned: OwnedKind,
    pub namespace: Option<String>,
    pub name: String,
    /// The hash of the declaration applied.
    pub hash: String,
    /// The label selector of its pods (`spec.selector.matchLabels`).
    pub selector: String,
}

impl Workload {
    /// The workloads among the declarations, each with the component that rendered it.
    pub(crate) fn among(declared: &[Declared], component_of: impl Fn(&str) -> Option<Component>) -> Vec<Self> {
        declared
            .iter()
            .filter_map(|item| {
                let kind = WorkloadKind::of(&item.kind.resource.kind)?;
                let component = component_of(&format!("{}/{}", item.kind.resource.kind, item.name))?;
                let labels = item.body.pointer("/spec/selector/matchLabels").and_then(|labels| labels.as_object());
                let selector = labels
                    .into_iter()
                    .flatten()
                    .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",");
                Some(Self {
                    component,
                    kind,
                    owned: item.kind.clone(),
                    namespace: item.namespace.clone(),
                    name: item.name.clone(),
                    hash: item.hash.clone(),
                    selector,
                })
            })
            .collect()
    }

    /// `Kind/name`, as status names it.
    pub(crate) fn object(&self) -> String {
        format!("{}/{}", self.owned.resource.kind, self.name)
    }
}

/// What the stage found about one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkloadReport {
    pub component: Component,
    /// `Kind/name`.
    pub object: String,
    pub rollout: Rollout,
    /// Why its pods are not ready, when it is not: the first failing pod's reason, else the first
    /// pod's that is not ready.
    pub pod: Option<PodReason>,
    /// Why its pods could not be looked at.
    pub pods_unreadable: Option<String>,
}

impl WorkloadReport {
    pub(crate) fn is_ready(&self) -> bool {
        self.rollout.is_ready()
    }

    /// Whether it cannot run as declared: a pod that cannot start, or a controller that gave up.
    pub(crate) fn is_failing(&self) -> bool {
        matches!(self.rollout, Rollout::Failed { .. }) || self.pod.as_ref().is_some_and(|pod| pod.failing)
    }

    /// The reason status gives: the pod's when a pod says why, else the rollout's.
    pub(crate) fn reason(&self) -> &str {
        match (&self.pod, &self.rollout) {
            (_, Rollout::Failed { reason, .. }) => reason,
            (Some(pod), _) => &pod.reason,
            (None, rollout) => rollout.reason(),
        }
    }

    /// The rollout's message, then what the pods say.
    pub(crate) fn message(&self) -> String {
        let mut message = self.rollout.message().to_owned();
        if let Some(pod) = &self.pod {
            message = format!("{message}; {}", pod.describe());
        }
        if let Some(unreadable) = &self.pods_unreadable {
            message = format!("{message}; pods not looked at: {unreadable}");
        }
        message
    }

    /// `Kind/name (rollout): what the pods say`, for lists of workloads.
    pub(crate) fn describe(&self) -> String {
        let pods = match (&self.pod, &self.pods_unreadable) {
            (Some(pod), _) => format!(": {}", pod.describe()),
            (None, Some(unreadable)) => format!(": pods not looked at: {unreadable}"),
            (None, None) => String::new(),
        };
        format!("{} ({}){pods}", self.object, self.rollout.message())
    }
}

/// Reads each workload's readiness from the cache, and the pods of those that are not ready.
pub(crate) async fn check(
    client: &Client,
    cache: &OwnedCache,
    workloads: &[Workload],
    now: Timestamp,
) -> Vec<WorkloadReport> {
    let mut reports = Vec::with_capacity(workloads.len());
    for workload in workloads {
        let rollout = rollout(cache, workload);
        let (pod, pods_unreadable) = if rollout.is_ready() {
            (None, None)
        } else {
            match pod_reason(client, workload, now).await {
                Ok(reason) => (reason, None),
                Err(error) => {
                    tracing::warn!(error = %error, "cannot look at the pods of a workload that is not ready");
                    (None, Some(error.to_string()))
                }
            }
        };
        reports.push(WorkloadReport {
            component: workload.component,
            object: workload.object(),
            rollout,
            pod,
            pods_unreadable,
        });
    }
    reports
}

/// The workload's rollout as cached. A cached object of another declaration is the one before
/// this reconcile's update, whose status says nothing about the update.
fn rollout(cache: &OwnedCache, workload: &Workload) -> Rollout {
    match cache.cached(&workload.owned, workload.namespace.as_deref(), &workload.name) {
        None => {
            Rollout::InProgress { reason: "NotObserved", message: "not yet seen by the operator's watch".to_owned() }
        }
        Some(live) if live.annotations().get(APPLIED_HASH_ANNOTATION) != Some(&workload.hash) => Rollout::InProgress {
            reason: "UpdateNotObserved",
            message: "the update is not yet seen by the operator's watch".to_owned(),
        },
        Some(live) => readiness::evaluate(workload.kind, &live),
    }
}

/// Lists the workload's pods and reads why they are not ready; reads the claims of pods the
/// scheduler cannot place.
async fn pod_reason(client: &Client, workload: &Workload, now: Timestamp) -> Result<Option<PodReason>, PodsError> {
    let namespace = workload.namespace.clone().unwrap_or_default();
    let selector = workload.selector.clone();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pods = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| PodsError::List { workload: workload.object(), selector: selector.clone(), source })?
        .items;
    let mut pending = BTreeSet::new();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    for name in pods::claims_to_check(&pods) {
        let claim = claims.get_opt(&name).await.map_err(|source| PodsError::Claim {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        })?;
        let phase = claim.as_ref().and_then(|claim| claim.status.as_ref()).and_then(|status| status.phase.as_deref());
        if phase == Some("Pending") {
            pending.insert(name);
        }
    }
    Ok(pods::first_reason(&pods, now, &pending))
}
