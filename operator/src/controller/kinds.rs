//! The kinds of object stackscope renders and owns, and how to reach each through the API.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Resource;
use kube::api::ApiResource;

/// One kind stackscope may render.
#[derive(Clone, Debug)]
pub struct OwnedKind {
    /// How the API serves it.
    pub resource: ApiResource,
    /// Namespaced (owner references work) or cluster-scoped (cleaned up by the finalizer).
    pub namespaced: bool,
}

fn kind<K: Resource<DynamicType = ()>>(namespaced: bool) -> OwnedKind {
    OwnedKind { resource: ApiResource::erase::<K>(&()), namespaced }
}

/// Every kind a render can produce, in the order they are applied (dependencies first) and
/// looked through for orphans. Exactly these: each is a permission the operator's RBAC grants
/// (`controller::permissions`), so a kind no render produces (Secrets, Roles) is not listed.
pub fn owned_kinds() -> Vec<OwnedKind> {
    vec![
        kind::<ServiceAccount>(true),
        kind::<ClusterRole>(false),
        kind::<ClusterRoleBinding>(false),
        kind::<ConfigMap>(true),
        kind::<PersistentVolumeClaim>(true),
        kind::<Service>(true),
        kind::<StatefulSet>(true),
        kind::<Deployment>(true),
        kind::<DaemonSet>(true),
        kind::<PodDisruptionBudget>(true),
    ]
}

/// The kind of a rendered object, found by its apiVersion and kind.
pub fn find(api_version: &str, kind_name: &str) -> Option<OwnedKind> {
    owned_kinds()
        .into_iter()
        .find(|owned| owned.resource.api_version == api_version && owned.resource.kind == kind_name)
}

/// A reference to an owned object from its `Kind/namespace/name` (or `Kind/name`) key.
pub(crate) fn reference_of(key: &str) -> Option<k8s_openapi::api::core::v1::ObjectReference> {
    let mut parts = key.splitn(3, '/');
    let (kind_name, first, second) = (parts.next()?, parts.next()?, parts.next());
    let owned = owned_kinds().into_iter().find(|owned| owned.resource.kind == kind_name)?;
    let (namespace, name) = match second {
        Some(name) => (Some(first.to_owned()), name.to_owned()),
        None => (None, first.to_owned()),
    };
    Some(k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(owned.resource.api_version),
        kind: Some(owned.resource.kind),
        namespace,
        name: Some(name),
        ..Default::default()
    })
}

/// Position of a kind in the apply order (unknown kinds last).
pub(crate) fn apply_rank(api_version: &str, kind_name: &str) -> usize {
    owned_kinds()
        .iter()
        .position(|owned| owned.resource.api_version == api_version && owned.resource.kind == kind_name)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_a_render_produces_is_known() {
        let stack = crate::render::fixtures::machineavatars();
        for rendered in crate::render::render_stack(&stack).unwrap() {
            let types = rendered.object.types.clone().unwrap();
            assert!(
                find(&types.api_version, &types.kind).is_some(),
                "{} {} is not an owned kind",
                types.api_version,
                types.kind
            );
        }
        assert!(!find("rbac.authorization.k8s.io/v1", "ClusterRole").unwrap().namespaced);
        let rendered: std::collections::BTreeSet<String> = crate::render::render_stack(&stack)
            .unwrap()
            .iter()
            .filter_map(|rendered| rendered.object.types.as_ref().map(|types| types.kind.clone()))
            .collect();
        let owned: std::collections::BTreeSet<String> =
            owned_kinds().into_iter().map(|owned| owned.resource.kind).collect();
        assert_eq!(owned, rendered, "owned kinds are exactly what the example renders (each costs a permission)");
        assert!(apply_rank("v1", "ConfigMap") < apply_rank("apps/v1", "StatefulSet"));
        let reference = reference_of("ConfigMap/obs/s-loki").unwrap();
        assert_eq!(
            (reference.api_version.as_deref(), reference.namespace.as_deref(), reference.name.as_deref()),
            (Some("v1"), Some("obs"), Some("s-loki"))
        );
        let cluster = reference_of("ClusterRole/stackscope-obs-s-prometheus").unwrap();
        assert_eq!((cluster.api_version.as_deref(), cluster.namespace), (Some("rbac.authorization.k8s.io/v1"), None));
        assert!(reference_of("Pod/obs/x").is_none());
    }
}
