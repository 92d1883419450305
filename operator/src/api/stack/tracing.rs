//! Tracing: Jaeger v2 with OTLP ingest and its storage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

/// The smallest memory limit Jaeger's memory limiter can be sized from (80% refuse, 25% spike).
pub const JAEGER_MIN_MEMORY_MIB: u64 = 16;

/// Tracing: Jaeger v2 (an OpenTelemetry Collector distribution) with OTLP ingest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TracingSpec {
    /// Render Jaeger v2 and the OTLP endpoints services send traces to.
    pub enabled: bool,
    /// Jaeger's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// OTLP gRPC port.
    #[schemars(range(min = 1024, max = 65535))]
    pub otlp_grpc_port: u16,
    /// OTLP HTTP port.
    #[schemars(range(min = 1024, max = 65535))]
    pub otlp_http_port: u16,
    /// Share of traces kept, 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sampling_ratio: f64,
    /// Where and how long traces are kept.
    pub storage: TraceStorage,
    /// CPU and memory requests and limits of the Jaeger container (default requests 250m/512Mi,
    /// limits 1/1Gi). Its memory limiter is sized from the memory limit (80%, spikes 25%).
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for TracingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::JAEGER),
            otlp_grpc_port: seed::OTLP_GRPC_PORT,
            otlp_http_port: seed::OTLP_HTTP_PORT,
            sampling_ratio: 1.0,
            storage: TraceStorage::default(),
            resources: Resources::default(),
        }
    }
}

/// Trace storage backends Jaeger v2 runs without external services.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TraceBackend {
    /// In memory, bounded by `maxTraces` (lost on restart).
    Memory,
    /// Badger on a persistent volume, expired after `retention`.
    Badger,
}

/// Where traces are kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceStorage {
    /// `memory` (lost on restart) or `badger` (on a volume).
    pub backend: TraceBackend,
    /// Most traces kept in memory.
    #[schemars(range(min = 1000, max = 10_000_000))]
    pub max_traces: u32,
    /// How long spans are kept on disk.
    pub retention: Duration,
    /// Volume size for Badger.
    pub size: StorageSize,
    /// Storage class of Badger's volume (default: the cluster's default class).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub storage_class_name: Option<String>,
}

impl Default for TraceStorage {
    fn default() -> Self {
        Self {
            backend: TraceBackend::Badger,
            max_traces: 100_000,
            retention: Duration::from("72h"),
            size: StorageSize::from("10Gi"),
            storage_class_name: None,
        }
    }
}
