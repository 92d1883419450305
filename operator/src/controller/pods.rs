//! Why a workload's pods do not run, read purely from their status: the first failing pod's
//! reason (an image that cannot be pulled, a crash loop, a missing ConfigMap or Secret key, a pod
//! the scheduler cannot place, a claim that stays Pending), else what the first pod that is not
//! ready is waiting for.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;

/// How long a pod may be unschedulable before that counts as a failure: kstatus' window, since
/// the scheduler often reports a pod unschedulable for a moment while its claims are bound.
pub(crate) const SCHEDULE_WINDOW_SECONDS: i64 = 15;

/// Longest message taken from a pod, in characters: enough for an image pull's error.
const MAX_MESSAGE_CHARS: usize = 300;

/// Container waiting reasons that do not resolve by waiting: the pod cannot start as declared.
const FAILING_WAITING_REASONS: [&str; 8] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What one pod says about why it is not ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PodReason {
    pub pod: String,
    /// The container the reason is about, if it is one container's.
    pub container: Option<String>,
    /// `ImagePullBackOff`, `CrashLoopBackOff`, `Unschedulable`, `PersistentVolumeClaimPending`,
    /// ... or, while starting, `ContainerCreating`, `PodPending`, `PodRunningNotReady`.
    pub reason: String,
    pub message: String,
    /// Whether the pod cannot start as declared (the stack is then Degraded), rather than still
    /// starting.
    pub failing: bool,
}

impl PodReason {
    /// `pod P[, container C]: REASON[: message]`.
    pub(crate) fn describe(&self) -> String {
        let container = self.container.as_ref().map(|container| format!(", container {container}")).unwrap_or_default();
        let message = if self.message.is_empty() { String::new() } else { format!(": {}", self.message) };
        format!("pod {}{container}: {}{message}", self.pod, self.reason)
    }
}

fn cut(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or_default().trim();
    if first_line.chars().count() <= MAX_MESSAGE_CHARS {
        first_line.to_owned()
    } else {
        format!("{}…", first_line.chars().take(MAX_MESSAGE_CHARS).collect::<String>())
    }
}

/// The reason of one failing container, if it fails.
fn failing_container(status: &ContainerStatus) -> Option<(String, String)> {
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref().filter(|reason| FAILING_WAITING_REASONS.contains(reason))?;
    let detail = cut(waiting.message.as_deref().unwrap_or_default());
    let message = match reason {
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
            if detail.is_empty() {
                format!("image {}", status.image)
            } else {
                format!("image {}: {detail}", status.image)
            }
        }
        "CrashLoopBackOff" => match status.last_state.as_ref().and_then(|state| state.terminated.as_ref()) {
            Some(last) => {
                let why = last.reason.as_deref().map(|reason| format!(" ({reason})")).unwrap_or_default();
                let said = last.message.as_deref().map(cut).filter(|said| !said.is_empty());
                let said = said.map(|said| format!(": {said}")).unwrap_or_default();
                format!("last exit code {}{why}{said}", last.exit_code)
            }
            None => detail,
        },
        _ => detail,
    };
    Some((reason.to_owned(), message))
}

/// The first container still waiting for an ordinary reason (`ContainerCreating`, ...).
fn waiting_container(status: &ContainerStatus) -> Option<(String, String)> {
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    Some((
        waiting.reason.clone().unwrap_or_else(|| "Waiting".to_owned()),
        cut(waiting.message.as_deref().unwrap_or_default()),
    ))
}

/// What a pod says about why it is not ready; `None` when it is ready (or done). `now` decides
/// whether an unschedulable pod has waited past [`SCHEDULE_WINDOW_SECONDS`]; `pending_claims`
/// are the names of the claims of its namespace that are not bound.
pub(crate) fn pod_reason(pod: &Pod, now: Timestamp, pending_claims: &BTreeSet<String>) -> Option<PodReason> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let reason = |container: Option<&str>, reason: String, message: String, failing: bool| PodReason {
        pod: name.clone(),
        container: container.map(str::to_owned),
        reason,
        message,
        failing,
    };
    let containers: Vec<&ContainerStatus> =
        status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten()).collect();
    if let Some((container, (why, message))) =
        containers.iter().find_map(|container| Some((container.name.as_str(), failing_container(container)?)))
    {
        return Some(reason(Some(container), why, message, true));
    }
    let conditions = status.conditions.clone().unwrap_or_default();
    let condition = |kind: &str| conditions.iter().find(|condition| condition.type_ == kind);
    match status.phase.as_deref() {
        Some("Failed") => {
            let why = status.reason.clone().unwrap_or_else(|| "Failed".to_owned());
            return Some(reason(None, why, cut(status.message.as_deref().unwrap_or_default()), true));
        }
        Some("Succeeded") => return None,
        _ => {}
    }
    if let Some(scheduled) =
        condition("PodScheduled").filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
    {
        let since =
            scheduled.last_transition_time.as_ref().or(pod.metadata.creation_timestamp.as_ref()).map(|time| time.0);
        let waited = since.is_none_or(|since| (now - since).get_seconds() >= SCHEDULE_WINDOW_SECONDS);
        let scheduler = cut(scheduled.message.as_deref().unwrap_or_default());
        let pending = pod
            .spec
            .iter()
            .flat_map(|spec| spec.volumes.iter().flatten())
            .filter_map(|volume| volume.persistent_volume_claim.as_ref())
            .find(|claim| pending_claims.contains(&claim.claim_name));
        return Some(match pending {
            Some(claim) => reason(
                None,
                "PersistentVolumeClaimPending".to_owned(),
                format!("PersistentVolumeClaim {} is Pending; the scheduler: {scheduler}", claim.claim_name),
                waited,
            ),
            None => reason(None, "Unschedulable".to_owned(), scheduler, waited),
        });
    }
    if let Some((container, (why, message))) =
        containers.iter().find_map(|container| Some((container.name.as_str(), waiting_container(container)?)))
    {
        return Some(reason(Some(container), why, message, false));
    }
    if condition("Ready").is_some_and(|ready| ready.status == "True") {
        return None;
    }
    Some(match status.phase.as_deref() {
        Some("Running") => {
            let ready = condition("Ready").and_then(|ready| ready.message.as_deref()).unwrap_or_default();
            reason(None, "PodRunningNotReady".to_owned(), cut(ready), false)
        }
        _ if condition("PodScheduled").is_none() => {
            reason(None, "PodPending".to_owned(), "not yet scheduled".to_owned(), false)
        }
        _ => reason(None, "PodPending".to_owned(), status.phase.clone().unwrap_or_default(), false),
    })
}

/// The claims of unschedulable pods, which decide between `Unschedulable` and
/// `PersistentVolumeClaimPending`: only these are worth a request.
pub(crate) fn claims_to_check(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter(|pod| {
            pod.status.as_ref().and_then(|status| status.conditions.as_ref()).is_some_and(|conditions| {
                conditions.iter().any(|c| {
                    c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
                })
            })
        })
        .flat_map(|pod| pod.spec.iter().flat_map(|spec| spec.volumes.iter().flatten()))
        .filter_map(|volume| volume.persistent_volume_claim.as_ref().map(|claim| claim.claim_name.clone()))
        .collect()
}

/// The first failing pod's reason, else the first pod's that is not ready, by pod name. Pods
/// being deleted are left out: they belong to a revision that is going away.
pub(crate) fn first_reason(pods: &[Pod], now: Timestamp, pending_claims: &BTreeSet<String>) -> Option<PodReason> {
    let mut current: Vec<&Pod> = pods.iter().filter(|pod| pod.metadata.deletion_timestamp.is_none()).collect();
    current.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let reasons: Vec<PodReason> = current.iter().filter_map(|pod| pod_reason(pod, now, pending_claims)).collect();
    let failing = reasons.iter().position(|reason| reason.failing);
    let index = failing.or(if reasons.is_empty() { None } else { Some(0) })?;
    reasons.into_iter().nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const NOW: &str = "2026-01-01T00:10:00Z";

    fn now() -> Timestamp {
        NOW.parse().expect("a time")
    }

    fn pod(name: &str, spec: Value, status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "obs", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec, "status": status,
        }))
        .expect("a pod")
    }

    fn container_spec() -> Value {
        json!({"containers": [{"name": "prometheus", "image": "prom/prometheus:v0.0.0-missing"}]})
    }

    fn waiting(reason: &str, message: &str) -> Value {
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "prometheus", "image": "prom/prometheus:v0.0.0-missing", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}}]})
    }

    fn summary(reason: Option<PodReason>) -> Option<(String, Option<String>, String, String, bool)> {
        reason.map(|r| (r.pod, r.container, r.reason, r.message, r.failing))
    }

    fn expect(
        reason: Option<PodReason>,
        container: Option<&str>,
        why: &str,
        message: &str,
        failing: bool,
    ) -> Result<(), String> {
        let expected =
            Some(("p-0".to_owned(), container.map(str::to_owned), why.to_owned(), message.to_owned(), failing));
        let found = summary(reason);
        if found == expected { Ok(()) } else { Err(format!("expected {expected:?}, found {found:?}")) }
    }

    /// One pod, the claims of its namespace that are Pending, and the reason expected.
    struct Case<'a> {
        name: &'a str,
        pod: Pod,
        claims: &'a BTreeSet<String>,
        container: Option<&'a str>,
        reason: &'a str,
        message: &'a str,
        failing: bool,
    }

    impl<'a> Case<'a> {
        fn new(
            name: &'a str,
            pod: Pod,
            claims: &'a BTreeSet<String>,
            container: Option<&'a str>,
            reason: &'a str,
            message: &'a str,
            failing: bool,
        ) -> Self {
            Self { name, pod, claims, container, reason, message, failing }
        }
    }

    #[test]
    fn pod_reasons_are_read_from_the_status_a_kubelet_and_scheduler_write() {
        let unschedulable = |since: &str| {
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "lastTransitionTime": since,
                "message": "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."}]})
        };
        let with_claim = json!({"containers": [{"name": "prometheus", "image": "p"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-p-0"}}]});
        let pending = BTreeSet::from(["data-p-0".to_owned()]);
        let none = BTreeSet::new();
        let cases = vec![
            Case::new(
                "an image that does not exist",
                pod(
                    "p-0",
                    container_spec(),
                    waiting("ErrImagePull", "failed to pull and unpack image: connection refused"),
                ),
                &none,
                Some("prometheus"),
                "ErrImagePull",
                "image prom/prometheus:v0.0.0-missing: failed to pull and unpack image: connection refused",
                true,
            ),
            Case::new(
                "the pull backing off",
                pod(
                    "p-0",
                    container_spec(),
                    waiting("ImagePullBackOff", "Back-off pulling image \"prom/prometheus:v0.0.0-missing\""),
                ),
                &none,
                Some("prometheus"),
                "ImagePullBackOff",
                "image prom/prometheus:v0.0.0-missing: Back-off pulling image \"prom/prometheus:v0.0.0-missing\"",
                true,
            ),
            Case::new(
                "a missing key",
                pod(
                    "p-0",
                    container_spec(),
                    waiting("CreateContainerConfigError", "couldn't find key token in Secret obs/t"),
                ),
                &none,
                Some("prometheus"),
                "CreateContainerConfigError",
                "couldn't find key token in Secret obs/t",
                true,
            ),
            Case::new(
                "a crash loop, with the last exit",
                pod(
                    "p-0",
                    container_spec(),
                    json!({"phase": "Running", "containerStatuses": [{
                        "name": "prometheus", "image": "p", "imageID": "", "ready": false, "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting"}},
                        "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
                            "message": "error loading config: parsing YAML\nmore lines"}}}]}),
                ),
                &none,
                Some("prometheus"),
                "CrashLoopBackOff",
                "last exit code 2 (Error): error loading config: parsing YAML",
                true,
            ),
            Case::new(
                "an init container failing first",
                pod(
                    "p-0",
                    container_spec(),
                    json!({"phase": "Pending",
                        "initContainerStatuses": [{"name": "init", "image": "i", "imageID": "", "ready": false,
                            "restartCount": 0, "state": {"waiting": {"reason": "InvalidImageName", "message": "bad"}}}],
                        "containerStatuses": [{"name": "prometheus", "image": "p", "imageID": "", "ready": false,
                            "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                &none,
                Some("init"),
                "InvalidImageName",
                "image i: bad",
                true,
            ),
            Case::new(
                "unschedulable for long",
                pod("p-0", container_spec(), unschedulable("2026-01-01T00:00:00Z")),
                &none,
                None,
                "Unschedulable",
                "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                true,
            ),
            Case::new(
                "unschedulable for a moment (kstatus' window)",
                pod("p-0", container_spec(), unschedulable("2026-01-01T00:09:50Z")),
                &none,
                None,
                "Unschedulable",
                "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                false,
            ),
            Case::new(
                "its claim Pending",
                pod("p-0", with_claim.clone(), unschedulable("2026-01-01T00:00:00Z")),
                &pending,
                None,
                "PersistentVolumeClaimPending",
                "PersistentVolumeClaim data-p-0 is Pending; the scheduler: 0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                true,
            ),
            Case::new(
                "evicted",
                pod(
                    "p-0",
                    container_spec(),
                    json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
                ),
                &none,
                None,
                "Evicted",
                "low on memory",
                true,
            ),
            Case::new(
                "creating its container",
                pod("p-0", container_spec(), waiting("ContainerCreating", "")),
                &none,
                Some("prometheus"),
                "ContainerCreating",
                "",
                false,
            ),
            Case::new(
                "never scheduled (no scheduler)",
                pod("p-0", container_spec(), json!({"phase": "Pending"})),
                &none,
                None,
                "PodPending",
                "not yet scheduled",
                false,
            ),
            Case::new(
                "running, its probe failing",
                pod(
                    "p-0",
                    container_spec(),
                    json!({"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"},
                        {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                         "message": "containers with unready status: [prometheus]"}]}),
                ),
                &none,
                None,
                "PodRunningNotReady",
                "containers with unready status: [prometheus]",
                false,
            ),
        ];
        let mut failures = Vec::new();
        for case in cases {
            let found = pod_reason(&case.pod, now(), case.claims);
            if let Err(error) = expect(found, case.container, case.reason, case.message, case.failing) {
                failures.push(format!("{}: {error}", case.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_ready_or_finished_pod_has_no_reason() {
        let ready = pod(
            "p-0",
            container_spec(),
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(pod_reason(&ready, now(), &BTreeSet::new()), None);
        let done = pod("p-0", container_spec(), json!({"phase": "Succeeded"}));
        assert_eq!(pod_reason(&done, now(), &BTreeSet::new()), None);
    }

    #[test]
    fn the_first_failing_pod_wins_over_pods_still_starting() {
        let starting = pod("a-0", container_spec(), waiting("ContainerCreating", ""));
        let failing = pod("b-0", container_spec(), waiting("ImagePullBackOff", "Back-off"));
        let also_failing = pod("c-0", container_spec(), waiting("ErrImagePull", "refused"));
        let mut deleted = pod("0-old", container_spec(), waiting("CrashLoopBackOff", ""));
        deleted.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH));
        let pods = [also_failing, deleted, starting.clone(), failing];
        let first = first_reason(&pods, now(), &BTreeSet::new()).expect("a reason");
        assert_eq!((first.pod.as_str(), first.reason.as_str(), first.failing), ("b-0", "ImagePullBackOff", true));
        let first = first_reason(std::slice::from_ref(&starting), now(), &BTreeSet::new()).expect("a reason");
        assert_eq!((first.pod.as_str(), first.failing), ("a-0", false));
        assert_eq!(first_reason(&[], now(), &BTreeSet::new()), None);
        assert_eq!(
            first.describe(),
            "pod a-0, container prometheus: ContainerCreating",
            "a reason without a message reads without a colon"
        );
    }

    #[test]
    fn only_the_claims_of_unschedulable_pods_are_looked_up() {
        let volumes = json!({"containers": [{"name": "c", "image": "i"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-p-0"}}]});
        let unschedulable = pod(
            "p-0",
            volumes.clone(),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}),
        );
        let starting = pod("p-1", volumes, waiting("ContainerCreating", ""));
        assert_eq!(claims_to_check(&[unschedulable, starting]), BTreeSet::from(["data-p-0".to_owned()]));
    }

    #[test]
    fn long_messages_are_cut_to_their_first_line() {
        let long = "x".repeat(1000);
        let reason = pod_reason(&pod("p-0", container_spec(), waiting("ErrImagePull", &long)), now(), &BTreeSet::new())
            .expect("a reason");
        assert!(reason.message.chars().count() < MAX_MESSAGE_CHARS + 60, "{}", reason.message.len());
        assert!(reason.message.ends_with('…'));
    }
}
