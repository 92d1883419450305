//! The Kubernetes API permissions `stackscope run` needs, derived from the calls the controller
//! makes. The Helm chart's RBAC (`charts/stackscope/templates/rbac.yaml`) grants exactly these
//! and nothing else, which `tests/tests/chart.rs` checks against `helm template` in both scopes.

use std::collections::BTreeSet;

use kube::Resource;

use super::kinds::owned_kinds;
use crate::api::{ObservabilityStack, ObservabilityStackSpec, ServiceMonitor};
use crate::render::render_stack;
use crate::resolve::ResolvedStack;

/// Where a permission must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reach {
    /// Namespaced objects the stacks own, read or report on: every namespace when the operator
    /// watches the cluster, the watched namespace when it is limited to one.
    Watched,
    /// Cluster-scoped objects (Prometheus' ClusterRole and its binding), and every rule that
    /// ClusterRole grants: the API server lets a subject create a role, or bind one, only with
    /// rules it holds itself unless it has `escalate`/`bind`, which would let it grant anything.
    Cluster,
    /// The leader-election Lease, in the operator's own namespace.
    Lease,
}

/// One verb on one resource (`resource` or `resource/subresource`; a non-resource URL starts
/// with `/` and has no group).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub reach: Reach,
    pub api_group: String,
    pub resource: String,
    pub verb: String,
}

fn grants(reach: Reach, api_group: &str, resource: &str, verbs: &[&str]) -> impl Iterator<Item = Grant> {
    let (api_group, resource) = (api_group.to_owned(), resource.to_owned());
    verbs.iter().map(move |verb| Grant {
        reach,
        api_group: api_group.clone(),
        resource: resource.clone(),
        verb: (*verb).to_owned(),
    })
}

/// Every permission the operator needs.
pub fn required() -> Result<BTreeSet<Grant>, String> {
    let mut required = BTreeSet::new();
    let group = ObservabilityStack::group(&()).into_owned();
    let stacks = ObservabilityStack::plural(&()).into_owned();
    let monitors = ServiceMonitor::plural(&()).into_owned();
    // The controller lists and watches stacks; the finalizer helper adds and removes its entry
    // with a JSON patch; status is server-side applied. Owner references with
    // blockOwnerDeletion need `update` on the owner's finalizers where the
    // OwnerReferencesPermissionEnforcement admission plugin runs.
    required.extend(grants(Reach::Watched, &group, &stacks, &["list", "watch", "patch"]));
    required.extend(grants(Reach::Watched, &group, &format!("{stacks}/status"), &["patch"]));
    required.extend(grants(Reach::Watched, &group, &format!("{stacks}/finalizers"), &["update"]));
    // Monitors are cached by a reflector; their `Accepted` condition is server-side applied.
    required.extend(grants(Reach::Watched, &group, &monitors, &["list", "watch"]));
    required.extend(grants(Reach::Watched, &group, &format!("{monitors}/status"), &["patch"]));
    // Owned kinds: watched by label, read before apply (drift), server-side applied (which
    // needs `create` when the object is new), listed and deleted when pruned or cleaned up.
    // Services and the three workload kinds are also what the caches and the probes read and
    // what probe enforcement patches.
    for kind in owned_kinds() {
        let reach = if kind.namespaced { Reach::Watched } else { Reach::Cluster };
        let verbs = ["get", "list", "watch", "create", "patch", "delete"];
        required.extend(grants(reach, &kind.resource.group, &kind.resource.plural, &verbs));
    }
    // Pods: listed only for a rendered workload that is not ready, to name why (an image that
    // cannot be pulled, a crash loop, ...); the claims of pods the scheduler cannot place are
    // read with the owned kinds' `get` above. Never watched: a stack that runs reads none.
    required.extend(grants(Reach::Watched, "", "pods", &["list"]));
    // Secrets: watched metadata-only, and read to check that a monitor's reference exists.
    required.extend(grants(Reach::Watched, "", "secrets", &["get", "list", "watch"]));
    // Events through kube's recorder, which patches a repeated event into a series.
    required.extend(grants(Reach::Watched, "events.k8s.io", "events", &["create", "patch"]));
    // Leader election: read, create, renew and release (update) one Lease.
    required.extend(grants(Reach::Lease, "coordination.k8s.io", "leases", &["get", "create", "update"]));
    required.extend(prometheus_cluster_rules()?);
    Ok(required)
}

/// What the operator needs besides [`required`] once a stack sets
/// `spec.prometheusOperatorMonitors.enabled`: its cache lists and watches prometheus-operator's
/// ServiceMonitors (the chart's `rbac.prometheusOperatorMonitors`).
pub fn prometheus_operator_monitors() -> BTreeSet<Grant> {
    let resource = crate::prometheus_operator::monitor_resource();
    grants(Reach::Watched, &resource.group, &resource.plural, &["list", "watch"]).collect()
}

/// The rules of the ClusterRole a stack renders for Prometheus, which the operator must hold.
fn prometheus_cluster_rules() -> Result<BTreeSet<Grant>, String> {
    let mut stack = ObservabilityStack::new("permissions", ObservabilityStackSpec::default());
    stack.metadata.namespace = Some("default".to_owned());
    let rendered = render_stack(&ResolvedStack::without_monitors(&stack)).map_err(|error| error.to_string())?;
    let mut rules = BTreeSet::new();
    for object in rendered.iter().map(|rendered| &rendered.object) {
        if object.types.as_ref().is_none_or(|types| types.kind != "ClusterRole") {
            continue;
        }
        let role: k8s_openapi::api::rbac::v1::ClusterRole =
            serde_json::from_value(serde_json::to_value(object).map_err(|error| error.to_string())?)
                .map_err(|error| error.to_string())?;
        for rule in role.rules.unwrap_or_default() {
            let verbs: Vec<&str> = rule.verbs.iter().map(String::as_str).collect();
            for url in rule.non_resource_urls.iter().flatten() {
                rules.extend(grants(Reach::Cluster, "", url, &verbs));
            }
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    rules.extend(grants(Reach::Cluster, group, resource, &verbs));
                }
            }
        }
    }
    if rules.is_empty() {
        return Err("the default stack renders no ClusterRole: the permissions are out of date".to_owned());
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(required: &BTreeSet<Grant>, reach: Reach, group: &str, resource: &str, verb: &str) -> bool {
        required.contains(&Grant {
            reach,
            api_group: group.to_owned(),
            resource: resource.to_owned(),
            verb: verb.to_owned(),
        })
    }

    #[test]
    fn what_the_operator_calls_and_nothing_that_would_let_it_grant_more() {
        let required = required().unwrap();
        assert!(has(&required, Reach::Watched, "stackscope.dev", "observabilitystacks/status", "patch"));
        assert!(has(&required, Reach::Watched, "apps", "deployments", "patch"), "probe enforcement");
        assert!(has(&required, Reach::Watched, "", "secrets", "get"));
        assert!(has(&required, Reach::Watched, "", "pods", "list"), "why a workload's pods do not start");
        assert!(!has(&required, Reach::Watched, "", "pods", "watch"), "pods are listed only when needed");
        assert!(!has(&required, Reach::Watched, "", "secrets", "patch"), "no Secret is ever written");
        assert!(has(&required, Reach::Cluster, "rbac.authorization.k8s.io", "clusterroles", "create"));
        assert!(has(&required, Reach::Cluster, "", "nodes/metrics", "get"), "held to grant it to Prometheus");
        assert!(has(&required, Reach::Cluster, "", "/metrics", "get"));
        assert!(has(&required, Reach::Lease, "coordination.k8s.io", "leases", "update"));
        for verb in ["escalate", "bind", "impersonate", "*"] {
            assert!(required.iter().all(|grant| grant.verb != verb), "{verb}");
        }
        assert!(required.iter().all(|grant| grant.resource != "*" && grant.api_group != "*"));
    }
}
