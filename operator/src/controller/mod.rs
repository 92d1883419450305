//! The controller: a kube-runtime `Controller` over ObservabilityStacks that owns what it renders
//! and watches what the stacks read.
//!
//! A reconcile ([`reconcile`]) is a pipeline of typed stages, each in its own module with its own
//! error: [`dereference`] (select and check monitors) → [`validate`] (the stack) → render (pure,
//! `crate::render`, cached per stack) → [`apply`] (server-side apply, drift, prune) →
//! [`workloads`] (whether they run: [`readiness`] by kstatus' rules, [`pods`] for why not) →
//! [`probes`] → [`status`] (built purely) with [`events`] and the status writes. A failure in any stage
//! leaves the objects of the last good render in place and says so in status; its kind decides
//! when the stack is tried again ([`error::Retry`]).
//!
//! Around it: [`run`] (health server, leader election, the controller and its watches),
//! [`watches`] (caches and the changes that trigger), [`mappers`] (which stacks a change
//! concerns), [`context`] (what reconciles share), and `stackscope drift`'s read-only
//! [`report`].

pub mod apply;
pub mod context;
pub(crate) mod dereference;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod foreign;
pub mod kinds;
pub mod leader;
pub mod mappers;
pub mod metrics;
pub mod permissions;
pub(crate) mod pods;
pub mod probes;
pub(crate) mod readiness;
pub mod reconcile;
pub mod report;
pub mod run;
pub(crate) mod server;
pub(crate) mod status;
pub(crate) mod status_writes;
pub mod validate;
pub(crate) mod watches;
pub(crate) mod workloads;

pub use run::{RunConfig, RunError, Shutdown, WatchScope, run, run_with};
