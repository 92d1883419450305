//! Status of both resources, in the shape kstatus, `kubectl wait` and Argo CD understand.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A standard condition (`metav1.Condition` field names).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Applied`, `Progressing`, `Degraded`, `Drifted`, `Reconciling`, `Stalled` (stack)
    /// or `Accepted` (monitor).
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// CamelCase reason.
    pub reason: String,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Status of an `ObservabilityStack`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilityStackStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (every workload runs as declared), `Applied` (the current generation's
    /// configuration is applied), `Progressing` (rolling out), `Degraded`, `Drifted`, `RulesUnfireable`
    /// (enabled alerts without a source), and
    /// kstatus' `Reconciling` and `Stalled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Counts for printer columns and dashboards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<StackSummary>,
    /// Each rendered component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentStatus>,
    /// ServiceMonitors included in the stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_monitors: Vec<MonitorRef>,
    /// ServiceMonitors left out, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_monitors: Vec<RejectedMonitor>,
    /// Differences between the declared and the running objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// Workload probes that differ from the expected ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_findings: Vec<ProbeFinding>,
    /// Enabled alert rules that cannot fire: a series they read is produced by no scrape job of
    /// the stack (see the `RulesUnfireable` condition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfireable_rules: Vec<UnfireableRule>,
    /// Content hash of the last configuration applied in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_hash: Option<String>,
}

/// Counts shown by `kubectl get`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StackSummary {
    /// Monitors accepted.
    pub accepted_monitors: u32,
    /// Monitors rejected.
    pub rejected_monitors: u32,
    /// Objects owned.
    pub objects: u32,
    /// Drift entries.
    pub drifted_fields: u32,
}

/// One component (loki, promtail, alloy, prometheus, alertmanager, grafana, jaeger, ...).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Whether it runs as declared: applied, and every replica of each of its workloads updated
    /// and ready. A component without workloads (rules, probes) is ready once applied.
    pub ready: bool,
    /// Objects rendered for it.
    pub objects: u32,
    /// `Ready`, `Applied` (no workloads), `RollingOut`, or `Failing` (a pod cannot start, or a
    /// workload's controller gave up).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Detail: what its workloads wait for, or why they fail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Its Deployments, StatefulSets and DaemonSets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadStatus>,
}

/// One workload of a component, as its live status and (when it is not ready) its pods say.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    /// `Kind/name`, e.g. `StatefulSet/machineavatars-prometheus`.
    pub name: String,
    /// Every replica updated and ready, by kstatus' rules for its kind.
    pub ready: bool,
    /// `Ready`; the reason a pod gives (`ErrImagePull`, `ImagePullBackOff`, `CrashLoopBackOff`,
    /// `CreateContainerConfigError`, `Unschedulable`, `PersistentVolumeClaimPending`, ... or
    /// `ContainerCreating`, `PodPending` while starting); else kstatus' reason for the rollout
    /// (`LessReady`, `LessUpdated`, `LatestGenerationNotObserved`, `ProgressDeadlineExceeded`, ...).
    pub reason: String,
    /// Whether it cannot run as declared (the stack is then `Degraded`), rather than still
    /// rolling out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failing: bool,
    /// The replica counts, and what the pod says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The pod the reason is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The container the reason is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// A ServiceMonitor by namespace and name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API version of a monitor that is not stackscope's own: `monitoring.coreos.com/v1` for
    /// prometheus-operator's (see `spec.prometheusOperatorMonitors`). Absent for stackscope's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// A ServiceMonitor that was left out, and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedMonitor {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Field at fault, e.g. `spec.endpoints[0].relabelings[1].regex`.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
    /// API version of a monitor that is not stackscope's own: `monitoring.coreos.com/v1` for
    /// prometheus-operator's. Absent for stackscope's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// One field of one owned object that differs from what was declared.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftEntry {
    /// `Kind/name` of the object.
    pub object: String,
    /// JSON path of the field, e.g. `data["prometheus.yml"]`.
    pub path: String,
    /// Declared value (truncated).
    #[serde(default)]
    pub expected: String,
    /// Running value (truncated); empty when the object is missing.
    #[serde(default)]
    pub actual: String,
    /// When the drift was first seen (RFC 3339).
    pub since: String,
    /// Whether stackscope restored the declared value.
    pub corrected: bool,
}

/// A probe of a monitored workload that differs from the expected one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeFinding {
    /// `Kind/namespace/name` of the workload.
    pub workload: String,
    /// Container.
    pub container: String,
    /// `liveness` or `readiness`.
    pub probe: String,
    /// `Missing`, `Different` or `Enforced`.
    pub state: String,
    /// What differs.
    #[serde(default)]
    pub detail: String,
}

/// An alert rule that cannot fire, and the series it reads that nothing produces.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnfireableRule {
    /// The alert's name, e.g. `ContainerCrash`.
    pub alert: String,
    /// The service of a per-service rule (an SLO's, or a monitor's own threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// E.g. `ContainerCrash cannot fire: kube_pod_container_status_restarts_total has no source`.
    pub message: String,
}

/// Status of a `ServiceMonitor`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Endpoints rendered into scrape jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_count: Option<u32>,
    /// Stacks that include this monitor, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<String>,
}
