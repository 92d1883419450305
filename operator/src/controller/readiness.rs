//! Whether a workload runs as declared, decided purely from its live object by kstatus' rules
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status`): the generation observed, then the replica counts
//! of each kind. What kstatus calls Current is [`Rollout::Ready`], InProgress is
//! [`Rollout::InProgress`], Failed is [`Rollout::Failed`]. The reasons are kstatus' own.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;

/// The workload kinds a stack renders, whose readiness is the stack's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    /// The kind of a rendered object, when it is a workload.
    pub(crate) fn of(kind: &str) -> Option<Self> {
        match kind {
            "Deployment" => Some(Self::Deployment),
            "StatefulSet" => Some(Self::StatefulSet),
            "DaemonSet" => Some(Self::DaemonSet),
            _ => None,
        }
    }
}

/// How far a workload is from running as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rollout {
    /// Every replica updated and ready (kstatus: Current).
    Ready { message: String },
    /// Still rolling out (kstatus: InProgress): the reason is kstatus' (`LessReady`, ...).
    InProgress { reason: &'static str, message: String },
    /// The workload's controller gave up (kstatus: Failed), e.g. a Deployment's progress
    /// deadline exceeded.
    Failed { reason: &'static str, message: String },
}

impl Rollout {
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self, Self::Ready { .. })
    }

    /// `Ready`, or kstatus' reason.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "Ready",
            Self::InProgress { reason, .. } | Self::Failed { reason, .. } => reason,
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Ready { message } | Self::InProgress { message, .. } | Self::Failed { message, .. } => message,
        }
    }

    fn in_progress(reason: &'static str, message: String) -> Self {
        Self::InProgress { reason, message }
    }
}

/// The readiness of a live workload object of the given kind. An object that cannot be read as
/// its kind is still in progress: its controller has not written a status we can read.
pub(crate) fn evaluate(kind: WorkloadKind, object: &DynamicObject) -> Rollout {
    let parsed = match kind {
        WorkloadKind::Deployment => object.clone().try_parse::<Deployment>().map(|d| deployment(&d)),
        WorkloadKind::StatefulSet => object.clone().try_parse::<StatefulSet>().map(|s| statefulset(&s)),
        WorkloadKind::DaemonSet => object.clone().try_parse::<DaemonSet>().map(|d| daemonset(&d)),
    };
    parsed.unwrap_or_else(|error| Rollout::in_progress("Unreadable", format!("status not readable: {error}")))
}

/// kstatus' generic checks: deletion, then the generation observed. Unlike kstatus, which skips
/// the check when `status.observedGeneration` is absent, a workload whose controller has not
/// written one yet is in progress (kstatus requires it for DaemonSets only).
fn generic(metadata: &ObjectMeta, observed_generation: Option<i64>) -> Option<Rollout> {
    if metadata.deletion_timestamp.is_some() {
        return Some(Rollout::in_progress("Terminating", "being deleted".to_owned()));
    }
    match (metadata.generation, observed_generation) {
        (Some(generation), Some(observed)) if observed != generation => Some(Rollout::in_progress(
            "LatestGenerationNotObserved",
            format!("generation {generation} not yet observed (observed {observed})"),
        )),
        (_, None) => {
            Some(Rollout::in_progress("NoObservedGeneration", "not yet observed by its controller".to_owned()))
        }
        _ => None,
    }
}

/// kstatus' rules for a StatefulSet, plus the updated replicas: every replica there, ready,
/// current and of the update revision.
pub(crate) fn statefulset(statefulset: &StatefulSet) -> Rollout {
    let status = statefulset.status.clone().unwrap_or_default();
    if let Some(rollout) = generic(&statefulset.metadata, status.observed_generation) {
        return rollout;
    }
    let spec = statefulset.spec.as_ref();
    let strategy = spec.and_then(|spec| spec.update_strategy.as_ref());
    if strategy.and_then(|strategy| strategy.type_.as_deref()) == Some("OnDelete") {
        return Rollout::Ready { message: "OnDelete update strategy: updates wait for pods to be deleted".to_owned() };
    }
    let desired = spec.and_then(|spec| spec.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let current = status.current_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if desired > status.replicas {
        return Rollout::in_progress("LessReplicas", format!("Replicas: {}/{desired}", status.replicas));
    }
    if desired > ready {
        return Rollout::in_progress("LessReady", format!("Ready: {ready}/{desired}"));
    }
    if status.replicas > desired {
        return Rollout::in_progress("ExtraPods", format!("Pending termination: {}", status.replicas - desired));
    }
    let partition =
        strategy.and_then(|strategy| strategy.rolling_update.as_ref()).and_then(|rolling| rolling.partition);
    if let Some(partition) = partition.filter(|partition| *partition > 0) {
        let expected = (desired - partition).max(0);
        if updated < expected {
            return Rollout::in_progress("PartitionRollout", format!("Updated: {updated}/{expected}"));
        }
        return Rollout::Ready { message: format!("{ready}/{desired} ready, partition rollout complete") };
    }
    if desired > updated {
        return Rollout::in_progress("LessUpdated", format!("Updated: {updated}/{desired}"));
    }
    if desired > current {
        return Rollout::in_progress("LessCurrent", format!("Current: {current}/{desired}"));
    }
    if status.current_revision != status.update_revision {
        return Rollout::in_progress(
            "RevisionMismatch",
            "waiting for the update revision to become current".to_owned(),
        );
    }
    Rollout::Ready { message: format!("{ready}/{desired} ready") }
}

/// kstatus' rules for a Deployment: the progress deadline, the replica counts, then the
/// `Progressing` (`NewReplicaSetAvailable`) and `Available` conditions.
pub(crate) fn deployment(deployment: &Deployment) -> Rollout {
    let status = deployment.status.clone().unwrap_or_default();
    if let Some(rollout) = generic(&deployment.metadata, status.observed_generation) {
        return rollout;
    }
    let spec = deployment.spec.as_ref();
    // Without a progress deadline the controller never sets `Progressing`.
    let mut progressing = spec.and_then(|spec| spec.progress_deadline_seconds).is_none_or(|s| s == i32::MAX);
    let mut available = false;
    for condition in status.conditions.iter().flatten() {
        match condition.type_.as_str() {
            "Progressing" if condition.reason.as_deref() == Some("ProgressDeadlineExceeded") => {
                let message = condition.message.clone().unwrap_or_default();
                return Rollout::Failed {
                    reason: "ProgressDeadlineExceeded",
                    message: format!("progress deadline exceeded: {message}"),
                };
            }
            "Progressing" => {
                progressing |=
                    condition.status == "True" && condition.reason.as_deref() == Some("NewReplicaSetAvailable");
            }
            "Available" => available |= condition.status == "True",
            _ => {}
        }
    }
    let desired = spec.and_then(|spec| spec.replicas).unwrap_or(1);
    let replicas = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available_replicas = status.available_replicas.unwrap_or(0);
    if desired > replicas {
        return Rollout::in_progress("LessReplicas", format!("Replicas: {replicas}/{desired}"));
    }
    if desired > updated {
        return Rollout::in_progress("LessUpdated", format!("Updated: {updated}/{desired}"));
    }
    if replicas > desired {
        return Rollout::in_progress("ExtraPods", format!("Pending termination: {}", replicas - desired));
    }
    if updated > available_replicas {
        return Rollout::in_progress("LessAvailable", format!("Available: {available_replicas}/{updated}"));
    }
    if desired > ready {
        return Rollout::in_progress("LessReady", format!("Ready: {ready}/{desired}"));
    }
    if !progressing {
        return Rollout::in_progress("ReplicaSetNotAvailable", "the new ReplicaSet is not available yet".to_owned());
    }
    if !available {
        return Rollout::in_progress("DeploymentNotAvailable", "the Deployment is not Available yet".to_owned());
    }
    Rollout::Ready { message: format!("{ready}/{desired} ready") }
}

/// kstatus' rules for a DaemonSet: the generation must have been observed, then every node's pod
/// scheduled, updated, available and ready.
pub(crate) fn daemonset(daemonset: &DaemonSet) -> Rollout {
    let status = daemonset.status.clone().unwrap_or_default();
    if let Some(rollout) = generic(&daemonset.metadata, status.observed_generation) {
        return rollout;
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if desired > status.current_number_scheduled {
        return Rollout::in_progress("LessCurrent", format!("Current: {}/{desired}", status.current_number_scheduled));
    }
    if desired > updated {
        return Rollout::in_progress("LessUpdated", format!("Updated: {updated}/{desired}"));
    }
    if desired > available {
        return Rollout::in_progress("LessAvailable", format!("Available: {available}/{desired}"));
    }
    if desired > status.number_ready {
        return Rollout::in_progress("LessReady", format!("Ready: {}/{desired}", status.number_ready));
    }
    Rollout::Ready { message: format!("{}/{desired} ready", status.number_ready) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A workload of the kind with the given spec and status, generation 2.
    fn object(kind: &str, spec: Value, status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "w", "namespace": "obs", "generation": 2},
            "spec": spec, "status": status,
        }))
        .expect("a workload")
    }

    fn failed(rollout: &Rollout) -> bool {
        matches!(rollout, Rollout::Failed { .. })
    }

    const REVISION: &str = "w-5d8f";

    fn statefulset_status(replicas: i32, ready: i32, updated: i32, current: i32, update_revision: &str) -> Value {
        json!({"observedGeneration": 2, "replicas": replicas, "readyReplicas": ready, "updatedReplicas": updated,
               "currentReplicas": current, "currentRevision": REVISION, "updateRevision": update_revision})
    }

    #[test]
    fn statefulsets_follow_kstatus() {
        let two = json!({"replicas": 2});
        let cases: Vec<(&str, Value, Value, &str, &str)> = vec![
            ("all there", two.clone(), statefulset_status(2, 2, 2, 2, REVISION), "Ready", "2/2 ready"),
            ("replicas default to 1", json!({}), statefulset_status(1, 1, 1, 1, REVISION), "Ready", "1/1 ready"),
            ("no status yet", two.clone(), json!({"replicas": 0}), "NoObservedGeneration", ""),
            (
                "an older generation observed",
                two.clone(),
                json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2}),
                "LatestGenerationNotObserved",
                "generation 2 not yet observed (observed 1)",
            ),
            ("a pod missing", two.clone(), statefulset_status(1, 1, 1, 1, REVISION), "LessReplicas", "Replicas: 1/2"),
            ("a pod not ready", two.clone(), statefulset_status(2, 1, 2, 2, REVISION), "LessReady", "Ready: 1/2"),
            (
                "scaling down",
                two.clone(),
                statefulset_status(3, 3, 3, 3, REVISION),
                "ExtraPods",
                "Pending termination: 1",
            ),
            ("rolling", two.clone(), statefulset_status(2, 2, 1, 2, "w-6e9a"), "LessUpdated", "Updated: 1/2"),
            ("current lagging", two.clone(), statefulset_status(2, 2, 2, 1, REVISION), "LessCurrent", "Current: 1/2"),
            (
                "revisions differ",
                two.clone(),
                statefulset_status(2, 2, 2, 2, "w-6e9a"),
                "RevisionMismatch",
                "waiting for the update revision to become current",
            ),
            (
                "partition done",
                json!({"replicas": 2, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
                statefulset_status(2, 2, 1, 1, "w-6e9a"),
                "Ready",
                "2/2 ready, partition rollout complete",
            ),
            (
                "partition rolling",
                json!({"replicas": 2, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
                statefulset_status(2, 2, 0, 2, "w-6e9a"),
                "PartitionRollout",
                "Updated: 0/1",
            ),
            (
                "OnDelete is up to the user",
                json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
                statefulset_status(2, 0, 0, 0, "w-6e9a"),
                "Ready",
                "OnDelete update strategy: updates wait for pods to be deleted",
            ),
        ];
        for (case, spec, status, expected_reason, expected_message) in cases {
            let rollout = evaluate(WorkloadKind::StatefulSet, &object("StatefulSet", spec, status));
            assert_eq!(rollout.reason(), expected_reason, "{case}: {rollout:?}");
            if !expected_message.is_empty() {
                assert_eq!(rollout.message(), expected_message, "{case}");
            }
            assert!(!failed(&rollout), "{case}: a StatefulSet never reports a failure itself");
        }
    }

    fn deployment_status(replicas: i32, updated: i32, ready: i32, available: i32, conditions: Value) -> Value {
        json!({"observedGeneration": 2, "replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready,
               "availableReplicas": available, "conditions": conditions})
    }

    fn condition(kind: &str, status: &str, reason: &str) -> Value {
        json!({"type": kind, "status": status, "reason": reason, "message": format!("{kind} {reason}")})
    }

    #[test]
    fn deployments_follow_kstatus() {
        let complete = json!([
            condition("Progressing", "True", "NewReplicaSetAvailable"),
            condition("Available", "True", "MinimumReplicasAvailable"),
        ]);
        let rolling = json!([
            condition("Progressing", "True", "ReplicaSetUpdated"),
            condition("Available", "False", "MinimumReplicasUnavailable"),
        ]);
        let one = json!({"replicas": 1, "progressDeadlineSeconds": 600});
        let cases: Vec<(&str, Value, Value, &str)> = vec![
            ("complete", one.clone(), deployment_status(1, 1, 1, 1, complete.clone()), "Ready"),
            ("no status yet", one.clone(), json!({}), "NoObservedGeneration"),
            ("no pod yet", one.clone(), deployment_status(0, 0, 0, 0, rolling.clone()), "LessReplicas"),
            ("old pod only", one.clone(), deployment_status(1, 0, 1, 1, rolling.clone()), "LessUpdated"),
            ("surge", one.clone(), deployment_status(2, 1, 2, 2, rolling.clone()), "ExtraPods"),
            ("not available", one.clone(), deployment_status(1, 1, 0, 0, rolling.clone()), "LessAvailable"),
            ("available, not ready", one.clone(), deployment_status(1, 1, 0, 1, complete.clone()), "LessReady"),
            ("counts done, rollout not", one.clone(), deployment_status(1, 1, 1, 1, rolling), "ReplicaSetNotAvailable"),
            (
                "not Available",
                one.clone(),
                deployment_status(
                    1,
                    1,
                    1,
                    1,
                    json!([
                        condition("Progressing", "True", "NewReplicaSetAvailable"),
                        condition("Available", "False", "MinimumReplicasUnavailable")
                    ]),
                ),
                "DeploymentNotAvailable",
            ),
            (
                "no deadline: never Progressing, still ready",
                json!({"replicas": 1}),
                deployment_status(1, 1, 1, 1, json!([condition("Available", "True", "MinimumReplicasAvailable")])),
                "Ready",
            ),
            (
                "deadline exceeded",
                one,
                deployment_status(
                    1,
                    1,
                    0,
                    0,
                    json!([
                        condition("Progressing", "False", "ProgressDeadlineExceeded"),
                        condition("Available", "False", "MinimumReplicasUnavailable")
                    ]),
                ),
                "ProgressDeadlineExceeded",
            ),
        ];
        for (case, spec, status, expected) in cases {
            let rollout = evaluate(WorkloadKind::Deployment, &object("Deployment", spec, status));
            assert_eq!(rollout.reason(), expected, "{case}: {rollout:?}");
            assert_eq!(failed(&rollout), expected == "ProgressDeadlineExceeded", "{case}");
        }
    }

    fn daemonset_status(desired: i32, current: i32, updated: i32, available: i32, ready: i32) -> Value {
        json!({"observedGeneration": 2, "desiredNumberScheduled": desired, "currentNumberScheduled": current,
               "updatedNumberScheduled": updated, "numberAvailable": available, "numberReady": ready,
               "numberMisscheduled": 0})
    }

    #[test]
    fn daemonsets_follow_kstatus() {
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("every node", daemonset_status(3, 3, 3, 3, 3), "Ready", "3/3 ready"),
            ("no node at all", daemonset_status(0, 0, 0, 0, 0), "Ready", "0/0 ready"),
            ("no status yet", json!({}), "NoObservedGeneration", "not yet observed by its controller"),
            ("a node without its pod", daemonset_status(3, 2, 2, 2, 2), "LessCurrent", "Current: 2/3"),
            ("rolling", daemonset_status(3, 3, 1, 3, 3), "LessUpdated", "Updated: 1/3"),
            ("not available", daemonset_status(3, 3, 3, 2, 3), "LessAvailable", "Available: 2/3"),
            ("not ready", daemonset_status(3, 3, 3, 3, 1), "LessReady", "Ready: 1/3"),
        ];
        for (case, status, expected_reason, expected_message) in cases {
            let rollout = evaluate(WorkloadKind::DaemonSet, &object("DaemonSet", json!({}), status));
            assert_eq!(rollout.reason(), expected_reason, "{case}: {rollout:?}");
            assert_eq!(rollout.message(), expected_message, "{case}");
        }
    }

    #[test]
    fn a_workload_being_deleted_is_not_ready() {
        let mut deleting = object("StatefulSet", json!({"replicas": 1}), statefulset_status(1, 1, 1, 1, REVISION));
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(evaluate(WorkloadKind::StatefulSet, &deleting).reason(), "Terminating");
    }

    #[test]
    fn only_workload_kinds_are_workloads() {
        assert_eq!(WorkloadKind::of("StatefulSet"), Some(WorkloadKind::StatefulSet));
        assert_eq!(WorkloadKind::of("Deployment"), Some(WorkloadKind::Deployment));
        assert_eq!(WorkloadKind::of("DaemonSet"), Some(WorkloadKind::DaemonSet));
        assert_eq!(WorkloadKind::of("ConfigMap"), None);
    }
}
