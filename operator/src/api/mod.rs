//! The stackscope API: group `stackscope.dev`, version `v1alpha1`.
//!
//! Every default here is the value the platform's observability document (the seed) prescribes,
//! so an `ObservabilityStack` with an empty spec renders the documented stack. Validation lives in
//! the generated schema (patterns, enums, bounds, CEL rules), so the API server rejects bad input
//! before the operator sees it, and the offline CLI runs the very same schema (see `crate::schema`).

pub mod common;
pub mod defaults;
pub mod monitor;
pub mod references;
pub mod scrape;
pub mod stack;
pub mod status;

pub use common::*;
pub use monitor::*;
pub use references::{Reference, Referenced};
pub use scrape::*;
pub use stack::*;
pub use status::*;

/// The API group of every stackscope resource.
pub const GROUP: &str = "stackscope.dev";
/// The API version served and stored.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "stackscope.dev/v1alpha1";
