//! The kinds of object stackscope renders and owns, and how to reach each through the API.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
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
/// looked through for orphans.
pub fn owned_kinds() -> Vec<OwnedKind> {
    vec![
        kind::<ServiceAccount>(true),
        kind::<ClusterRole>(false),
        kind::<ClusterRoleBinding>(false),
        kind::<Role>(true),
        kind::<RoleBinding>(true),
        kind::<Secret>(true),
        kind::<ConfigMap>(true),
        kind::<PersistentVolumeClaim>(true),
        kind::<Service>(true),
        kind::<StatefulSet>(true),
        kind::<Deployment>(true),
        kind::<DaemonSet>(true),
    ]
}

/// The kind of a rendered object, found by its apiVersion and kind.
pub fn find(api_version: &str, kind_name: &str) -> Option<OwnedKind> {
    owned_kinds()
        .into_iter()
        .find(|owned| owned.resource.api_version == api_version && owned.resource.kind == kind_name)
}

/// Position of a kind in the apply order (unknown kinds last).
pub fn apply_rank(api_version: &str, kind_name: &str) -> usize {
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
        assert!(apply_rank("v1", "ConfigMap") < apply_rank("apps/v1", "StatefulSet"));
    }
}
