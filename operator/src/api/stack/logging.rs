//! Logging: Loki, the log collector and log retention.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

/// Which agent ships container logs to Loki.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Collector {
    /// Promtail, as the seed describes (end of life upstream; kept for compatibility).
    #[default]
    Promtail,
    /// Grafana Alloy, Promtail's successor, with the same pipeline.
    Alloy,
}

/// Standard log levels of the seed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    /// Every level, least to most severe.
    pub const ALL: [LogLevel; 5] = [Self::Debug, Self::Info, Self::Warn, Self::Error, Self::Fatal];

    /// The level as it appears in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}

/// Logging: Loki, the collector and the log pipeline.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LoggingSpec {
    /// Render the logging components.
    pub enabled: bool,
    /// The log collector.
    pub collector: Collector,
    /// Loki, the log store (single binary, Loki 3.x): image, ingestion limits, chunk size, retention
    /// (by environment unless set) and storage (Azure Blob in production, a volume otherwise).
    pub loki: LokiSpec,
    /// Promtail's image, when `collector: promtail`.
    pub promtail: CollectorSpec,
    /// Alloy's image, when `collector: alloy`.
    pub alloy: CollectorSpec,
    /// Levels accepted in the `level` label; lines with another level get `level="unknown"`.
    #[schemars(length(min = 1, max = 5))]
    pub levels: Vec<LogLevel>,
    /// Drop DEBUG lines at the collector (default: everywhere but development, where the seed
    /// says DEBUG belongs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_debug: Option<bool>,
}

impl Default for LoggingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            collector: Collector::default(),
            loki: LokiSpec::default(),
            promtail: CollectorSpec { image: Image::from(seed::images::PROMTAIL), resources: Resources::default() },
            alloy: CollectorSpec { image: Image::from(seed::images::ALLOY), resources: Resources::default() },
            levels: LogLevel::ALL.to_vec(),
            drop_debug: None,
        }
    }
}

/// A log collector's image and resources.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::overlay::fields_default_from_parent)]
pub struct CollectorSpec {
    /// Container image of the collector (default: the pinned release stackscope is tested with).
    pub image: Image,
    /// CPU and memory requests and limits of the collector's container.
    #[serde(default, skip_serializing_if = "is_default")]
    pub resources: Resources,
}

/// Loki (single binary, Loki 3.x).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LokiSpec {
    /// Loki's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Ingestion rate limit per tenant, MB/s (seed: 50).
    #[schemars(range(min = 1, max = 10_000))]
    pub ingestion_rate_mb: u32,
    /// Ingestion burst per tenant, MB (default: Loki's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100_000))]
    pub ingestion_burst_size_mb: Option<u32>,
    /// Target compressed chunk size in bytes (seed: 1536000).
    #[schemars(range(min = 65_536, max = 67_108_864))]
    pub chunk_target_size: u64,
    /// Retention of ordinary logs (default: by environment, 90d/30d/7d).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_period: Option<Duration>,
    /// Where chunks and the index are kept.
    pub storage: LokiStorage,
    /// Longer retention for compliance and audit streams (GDPR: one year).
    pub compliance: ComplianceRetention,
    /// CPU and memory requests and limits of Loki's container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for LokiSpec {
    fn default() -> Self {
        Self {
            image: Image::from(seed::images::LOKI),
            ingestion_rate_mb: seed::LOKI_INGESTION_RATE_MB,
            ingestion_burst_size_mb: None,
            chunk_target_size: seed::LOKI_CHUNK_TARGET_SIZE,
            retention_period: None,
            storage: LokiStorage::default(),
            compliance: ComplianceRetention::default(),
            resources: Resources::default(),
        }
    }
}

/// Kinds of log storage.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStorageType {
    /// Azure Blob Storage (production).
    Azure,
    /// A local persistent volume (staging, development).
    Filesystem,
}

/// Loki storage: Azure Blob or a local volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct LokiStorage {
    /// Storage kind (default: by environment, Azure in production, filesystem otherwise).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<LogStorageType>,
    /// Azure Blob settings; credentials only ever come from the Secret.
    pub azure: AzureBlobStorage,
    /// Local volume settings.
    pub filesystem: FilesystemStorage,
}

/// Azure Blob storage for Loki chunks; account and key are read from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AzureBlobStorage {
    /// Secret key holding the storage account name.
    pub account_name: SecretKeyRef,
    /// Secret key holding the storage account key.
    pub account_key: SecretKeyRef,
    /// Blob container for chunks.
    #[schemars(length(min = 3, max = 63), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub container_name: String,
    /// Access tier the container is expected to use (seed: Cool).
    pub access_tier: AzureAccessTier,
    /// Size of the local volume for the WAL, index cache and compactor.
    pub cache_size: StorageSize,
}

impl Default for AzureBlobStorage {
    fn default() -> Self {
        Self {
            account_name: SecretKeyRef::new(seed::LOKI_AZURE_SECRET, "account-name"),
            account_key: SecretKeyRef::new(seed::LOKI_AZURE_SECRET, "account-key"),
            container_name: "loki-chunks".to_owned(),
            access_tier: AzureAccessTier::Cool,
            cache_size: StorageSize::from("20Gi"),
        }
    }
}

/// Azure Blob access tiers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AzureAccessTier {
    Hot,
    Cool,
    Cold,
}

/// A local persistent volume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct FilesystemStorage {
    /// Size of the persistent volume claim, e.g. 50Gi.
    pub size: StorageSize,
    /// StorageClass (default: the cluster's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

impl Default for FilesystemStorage {
    fn default() -> Self {
        Self { size: StorageSize::from("50Gi"), storage_class_name: None }
    }
}

/// Retention of compliance and audit streams, enforced by Loki's `retention_stream`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ComplianceRetention {
    /// How long compliance streams are kept (seed: 1 year).
    pub period: Duration,
    /// LogQL stream selectors of compliance streams. The collector promotes the `log_type`
    /// field of JSON lines to a label so services mark audit logs with `"log_type": "audit"`.
    #[schemars(length(max = 32), inner(length(min = 3, max = 1024), pattern(r"^\{.*\}$")))]
    pub selectors: Vec<String>,
}

impl Default for ComplianceRetention {
    fn default() -> Self {
        Self {
            period: Duration::from(seed::COMPLIANCE_RETENTION),
            selectors: vec![r#"{log_type="audit"}"#.to_owned(), r#"{log_type="compliance"}"#.to_owned()],
        }
    }
}
