//! The CustomResourceDefinitions, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::{ObservabilityStack, ServiceMonitor};

/// Every CRD stackscope serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ObservabilityStack::crd(), ServiceMonitor::crd()]
}
