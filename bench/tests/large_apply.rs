//! The render of 50k monitors applied to a real API server (etcd, kube-apiserver and
//! kube-controller-manager of `tools/control-plane.sh`): every object, shards included, is
//! accepted. Heavy (hundreds of MB into etcd, minutes): run it on purpose, against a control
//! plane of its own:
//!
//! ```sh
//! STACKSCOPE_STATE=$HOME/.cache/stackscope/control-plane-large cargo test -p stackscope-bench \
//!     --test large_apply -- --ignored
//! STACKSCOPE_STATE=$HOME/.cache/stackscope/control-plane-large tools/control-plane.sh stop
//! ```

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use stackscope::api::{DriftPolicy, ObservabilityStack};
use stackscope::controller::apply;
use stackscope::render::render_stack;
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;
use stackscope_tests::cluster::{client, control_plane, fresh_namespace, install_crds};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: writes the 50k render (hundreds of MB) into etcd; see the module doc"]
async fn the_render_of_50k_monitors_applies() {
    let plane = control_plane().unwrap_or_else(|error| panic!("{error}"));
    let client = client(&plane, None).await.unwrap_or_else(|error| panic!("{error}"));
    install_crds(&client).await.unwrap_or_else(|error| panic!("{error}"));
    let namespace = "large-apply";
    fresh_namespace(&client, namespace).await.unwrap_or_else(|error| panic!("{error}"));
    let stacks: Api<ObservabilityStack> = Api::namespaced(client.clone(), namespace);
    // The stack exists, so the owner references of the objects point at a live owner.
    let stack = stacks.create(&PostParams::default(), &fixtures::stack(namespace)).await.unwrap();

    let rendered = render_stack(&ResolvedStack::new(&stack, &fixtures::service_monitors(50_000))).unwrap();
    let declared = apply::declare(&stack, rendered.clone()).unwrap();
    let report = apply::apply(&client, apply::Live::Api, &declared, DriftPolicy::Correct, false).await.unwrap();
    assert_eq!(report.created.len(), declared.len(), "every object created");

    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), namespace);
    let live: BTreeSet<String> =
        config_maps.list_metadata(&ListParams::default()).await.unwrap().items.iter().map(|cm| cm.name_any()).collect();
    let expected: BTreeSet<String> = rendered
        .iter()
        .filter(|item| item.object.types.as_ref().is_some_and(|types| types.kind == "ConfigMap"))
        .map(|item| item.object.name_any())
        .collect();
    assert!(expected.len() > 500, "the 50k render is sharded: {} ConfigMaps", expected.len());
    assert!(expected.is_subset(&live), "missing: {:?}", expected.difference(&live).collect::<Vec<_>>());

    // Applying the same render again writes nothing.
    let again = apply::apply(&client, apply::Live::Api, &declared, DriftPolicy::Correct, true).await.unwrap();
    assert_eq!(again.writes, 0);

    apply::delete_cluster_scoped(&client, &stack.name_any(), namespace).await.unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces.delete(namespace, &DeleteParams::default()).await;
}
