//! stackscope: a Kubernetes operator that turns `ObservabilityStack` and `ServiceMonitor`
//! resources into a complete, running observability stack, and reports drift.
//!
//! The pipeline is resolve → validate → render → apply; everything up to apply is pure and is
//! shared by the offline CLI, the golden tests, the benchmarks and the controller.

pub mod api;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod drift;
pub mod manifest;
pub mod prometheus_operator;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod sources;
pub mod telemetry;
pub mod validate;
