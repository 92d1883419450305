//! Loki 3.x as a single binary: one StatefulSet runs every target (distributor, ingester,
//! querier, compactor, ...), keeping its WAL, TSDB index and compactor files on a volume and its
//! chunks on Azure Blob Storage (production) or on that same volume (staging, development).
//!
//! Retention is enforced, not just declared: in Loki 3.x `limits_config.retention_period` only
//! takes effect when the compactor runs with `retention_enabled` and a `delete_request_store`.
//! Compliance and audit streams (`spec.logging.loki.compliance.selectors`) are kept longer
//! through `limits_config.retention_stream`; the collectors make `log_type` a label so those
//! selectors match.
//!
//! Azure credentials never enter the ConfigMap: `loki.yaml` holds `${AZURE_STORAGE_ACCOUNT_NAME}`
//! and `${AZURE_STORAGE_ACCOUNT_KEY}`, which Loki expands (`-config.expand-env=true`) from
//! environment variables the pod reads from the Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{Container, Service};
use kube::api::DynamicObject;
use serde::Serialize;

use super::common::{
    config_map, content_hash, headless_service, into_object, metadata, object_name, object_name_with, pod_selector,
    service, service_url, to_yaml,
};
use super::pod::{
    ProbeTiming, config_map_volume, container_ports, empty_dir_volume, env_from_secret, http_probe, pod_template,
    resource_requirements, restricted_container_security, restricted_pod_spec, tcp_probe, volume_claim_template,
    volume_mount,
};
use super::{Component, RenderError, ports};
use crate::api::{AzureAccessTier, LogStorageType};
use crate::resolve::ResolvedStack;

/// The configuration file name inside the ConfigMap and the container.
pub const CONFIG_FILE: &str = "loki.yaml";
/// Where the ConfigMap is mounted.
const CONFIG_DIRECTORY: &str = "/etc/loki";
/// Loki's data directory (`common.path_prefix`): WAL, TSDB index and cache, compactor, and the
/// chunks themselves with filesystem storage. A volume claim of the StatefulSet.
pub(crate) const DATA_DIRECTORY: &str = "/var/loki";
/// Path of Loki's push API, appended to the Service URL by the collectors.
pub(crate) const PUSH_PATH: &str = "/loki/api/v1/push";
/// Readiness endpoint of every Loki target.
pub(crate) const READY_PATH: &str = "/ready";
/// Annotation carrying the Azure Blob access tier the chunk container's account must use.
pub(crate) const ACCESS_TIER_ANNOTATION: &str = "stackscope.dev/azure-access-tier";
/// Environment variables Loki expands in `loki.yaml`, read from the Azure Secret.
pub(crate) const AZURE_ACCOUNT_NAME_ENV: &str = "AZURE_STORAGE_ACCOUNT_NAME";
pub(crate) const AZURE_ACCOUNT_KEY_ENV: &str = "AZURE_STORAGE_ACCOUNT_KEY";
/// First day of the one schema period. Never change it: existing data is read with the
/// period it was written under; a new schema would be a second period starting later.
const SCHEMA_FROM: &str = "2024-04-01";
/// Name of the data volume claim template.
const DATA_VOLUME: &str = "storage";
/// The user of the upstream image.
const LOKI_USER: i64 = 10001;

/// The Loki configuration file (`loki.yaml`), only the keys stackscope sets; Loki's defaults
/// apply to everything else.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct LokiConfig {
    pub auth_enabled: bool,
    pub server: ServerConfig,
    pub common: CommonConfig,
    pub schema_config: SchemaConfig,
    pub ingester: IngesterConfig,
    pub limits_config: LimitsConfig,
    pub compactor: CompactorConfig,
    pub analytics: AnalyticsConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct ServerConfig {
    pub http_listen_port: u16,
    pub grpc_listen_port: u16,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct CommonConfig {
    pub path_prefix: String,
    pub replication_factor: u32,
    /// One instance: its rings never leave the process.
    pub instance_addr: String,
    pub ring: RingConfig,
    pub storage: CommonStorage,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct RingConfig {
    pub kvstore: KvStoreConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct KvStoreConfig {
    pub store: String,
}

/// Object storage shared by chunks, index, ruler and delete requests: exactly one is set.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct CommonStorage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorageConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemStorageConfig>,
}

/// Azure Blob Storage. Account name and key are `${VAR}` placeholders, expanded by Loki from
/// environment variables that come from the Secret.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct AzureStorageConfig {
    pub account_name: String,
    pub account_key: String,
    pub container_name: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct FilesystemStorageConfig {
    pub chunks_directory: String,
    pub rules_directory: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct SchemaConfig {
    pub configs: Vec<PeriodConfig>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct PeriodConfig {
    pub from: String,
    pub store: String,
    pub object_store: String,
    pub schema: String,
    pub index: IndexConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct IndexConfig {
    pub prefix: String,
    pub period: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct IngesterConfig {
    pub chunk_target_size: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct LimitsConfig {
    pub ingestion_rate_mb: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingestion_burst_size_mb: Option<u32>,
    pub retention_period: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retention_stream: Vec<StreamRetention>,
    pub allow_structured_metadata: bool,
}

/// A longer retention for the streams a LogQL selector matches; on overlap the highest
/// priority wins.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct StreamRetention {
    pub selector: String,
    pub priority: u32,
    pub period: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct CompactorConfig {
    pub working_directory: String,
    pub compaction_interval: String,
    pub retention_enabled: bool,
    pub retention_delete_delay: String,
    pub retention_delete_worker_count: u32,
    pub delete_request_store: String,
}

/// Usage reporting to Grafana Labs is off: the stack keeps its data (and metadata) in house.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct AnalyticsConfig {
    pub reporting_enabled: bool,
}

/// The Loki push URL the collectors send to.
pub(crate) fn push_url(stack: &ResolvedStack) -> String {
    format!("{}{PUSH_PATH}", service_url(stack, Component::Loki, ports::LOKI_HTTP))
}

/// `${NAME}`, the placeholder Loki expands from the environment.
fn placeholder(variable: &str) -> String {
    format!("${{{variable}}}")
}

/// The `object_store` name of the stack's storage in schema and compactor settings.
fn object_store(storage: LogStorageType) -> &'static str {
    match storage {
        LogStorageType::Azure => "azure",
        LogStorageType::Filesystem => "filesystem",
    }
}

/// The access tier as Azure spells it.
fn access_tier_name(tier: AzureAccessTier) -> &'static str {
    match tier {
        AzureAccessTier::Hot => "Hot",
        AzureAccessTier::Cool => "Cool",
        AzureAccessTier::Cold => "Cold",
    }
}

/// Builds the Loki configuration for the stack.
pub(crate) fn config(stack: &ResolvedStack) -> LokiConfig {
    let loki = &stack.spec.logging.loki;
    let storage_type = stack.log_storage();
    let store = object_store(storage_type).to_owned();
    let storage = match storage_type {
        LogStorageType::Azure => CommonStorage {
            azure: Some(AzureStorageConfig {
                account_name: placeholder(AZURE_ACCOUNT_NAME_ENV),
                account_key: placeholder(AZURE_ACCOUNT_KEY_ENV),
                container_name: loki.storage.azure.container_name.clone(),
            }),
            filesystem: None,
        },
        LogStorageType::Filesystem => CommonStorage {
            azure: None,
            filesystem: Some(FilesystemStorageConfig {
                chunks_directory: format!("{DATA_DIRECTORY}/chunks"),
                rules_directory: format!("{DATA_DIRECTORY}/rules"),
            }),
        },
    };
    // Earlier selectors win over later ones where both match.
    let selectors = &loki.compliance.selectors;
    let retention_stream = selectors
        .iter()
        .enumerate()
        .map(|(index, selector)| StreamRetention {
            selector: selector.clone(),
            priority: u32::try_from(selectors.len() - index).unwrap_or(u32::MAX),
            period: loki.compliance.period.as_str().to_owned(),
        })
        .collect();
    LokiConfig {
        auth_enabled: false,
        server: ServerConfig { http_listen_port: ports::LOKI_HTTP, grpc_listen_port: ports::LOKI_GRPC },
        common: CommonConfig {
            path_prefix: DATA_DIRECTORY.to_owned(),
            replication_factor: 1,
            instance_addr: "127.0.0.1".to_owned(),
            ring: RingConfig { kvstore: KvStoreConfig { store: "inmemory".to_owned() } },
            storage,
        },
        schema_config: SchemaConfig {
            configs: vec![PeriodConfig {
                from: SCHEMA_FROM.to_owned(),
                store: "tsdb".to_owned(),
                object_store: store.clone(),
                schema: "v13".to_owned(),
                index: IndexConfig { prefix: "index_".to_owned(), period: "24h".to_owned() },
            }],
        },
        ingester: IngesterConfig { chunk_target_size: loki.chunk_target_size },
        limits_config: LimitsConfig {
            ingestion_rate_mb: loki.ingestion_rate_mb,
            ingestion_burst_size_mb: loki.ingestion_burst_size_mb,
            retention_period: stack.log_retention().as_str().to_owned(),
            retention_stream,
            allow_structured_metadata: true,
        },
        compactor: CompactorConfig {
            working_directory: format!("{DATA_DIRECTORY}/compactor"),
            compaction_interval: "10m".to_owned(),
            retention_enabled: true,
            retention_delete_delay: "2h".to_owned(),
            retention_delete_worker_count: 150,
            delete_request_store: store,
        },
        analytics: AnalyticsConfig { reporting_enabled: false },
    }
}

/// Escapes text for Loki's `-config.expand-env` pass (drone/envsubst), which reads `${` as the
/// start of a variable, `$$` as `$`, `\\` as `\` and `\/` as `/` anywhere in the file. Only those
/// sequences are doubled, so every byte of a user's selector survives, and a file without them
/// (the usual case) is unchanged and stays plain YAML.
fn escape_for_env_expansion(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        escaped.push(character);
        if matches!((character, characters.peek()), ('\\', Some('\\' | '/')) | ('$', Some('$' | '{'))) {
            escaped.push(character);
        }
    }
    escaped
}

/// `loki.yaml` as Loki must read it with `-config.expand-env=true`: everything literal except
/// the credential placeholders, which are restored only where they are the whole value of their
/// own key (a selector spelling `${...}` stays literal). They are double-quoted so that no
/// character of the expanded value (base64 keys hold `+`, `/`, `=`) can change the YAML.
pub(crate) fn config_file(stack: &ResolvedStack) -> Result<String, RenderError> {
    let text = to_yaml(Component::Loki, CONFIG_FILE, &config(stack))?;
    let placeholders = [("account_name", AZURE_ACCOUNT_NAME_ENV), ("account_key", AZURE_ACCOUNT_KEY_ENV)];
    let mut file = String::with_capacity(text.len() + 16);
    for line in escape_for_env_expansion(&text).lines() {
        let content = line.trim_start();
        let indentation = &line[..line.len() - content.len()];
        let restored = placeholders.iter().find_map(|(key, variable)| {
            let wanted = placeholder(variable);
            let escaped = escape_for_env_expansion(&wanted);
            ["", "'", "\""]
                .iter()
                .any(|quote| content == format!("{key}: {quote}{escaped}{quote}"))
                .then(|| format!("{indentation}{key}: \"{wanted}\""))
        });
        file.push_str(restored.as_deref().unwrap_or(line));
        file.push('\n');
    }
    Ok(file)
}

/// Renders the ConfigMap, the StatefulSet, its Service and its headless Service.
///
/// With Azure storage the ConfigMap and the StatefulSet carry [`ACCESS_TIER_ANNOTATION`]: Loki
/// cannot choose a blob access tier, so the storage account (or a lifecycle rule on the chunk
/// container) must be set to that tier (seed: Cool) by whoever owns the account; the annotation
/// records the expectation next to the objects that use it.
pub fn render(stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    let loki = &stack.spec.logging.loki;
    let storage_type = stack.log_storage();
    let name = object_name(stack, Component::Loki);
    let headless_name = object_name_with(stack, Component::Loki, "headless");
    let files = BTreeMap::from([(CONFIG_FILE.to_owned(), config_file(stack)?)]);
    let hash = content_hash(&files);
    let tier_annotations = match storage_type {
        LogStorageType::Azure => Some(BTreeMap::from([(
            ACCESS_TIER_ANNOTATION.to_owned(),
            access_tier_name(loki.storage.azure.access_tier).to_owned(),
        )])),
        LogStorageType::Filesystem => None,
    };

    let mut config = config_map(stack, Component::Loki, name.clone(), files);
    config.metadata.annotations = tier_annotations.clone();

    let (env, claim_size) = match storage_type {
        LogStorageType::Azure => (
            Some(vec![
                env_from_secret(AZURE_ACCOUNT_NAME_ENV, &loki.storage.azure.account_name),
                env_from_secret(AZURE_ACCOUNT_KEY_ENV, &loki.storage.azure.account_key),
            ]),
            &loki.storage.azure.cache_size,
        ),
        LogStorageType::Filesystem => (None, &loki.storage.filesystem.size),
    };
    let named_ports = [("http", ports::LOKI_HTTP), ("grpc", ports::LOKI_GRPC)];
    let container = Container {
        name: "loki".to_owned(),
        image: Some(loki.image.as_str().to_owned()),
        args: Some(vec![
            format!("-config.file={CONFIG_DIRECTORY}/{CONFIG_FILE}"),
            "-config.expand-env=true".to_owned(),
            "-target=all".to_owned(),
        ]),
        env,
        ports: Some(container_ports(&named_ports)),
        readiness_probe: Some(http_probe(READY_PATH, "http", ProbeTiming::after(15))),
        // Liveness asks only whether the HTTP server answers: `/ready` stays false while the WAL
        // is replayed after a restart, and a liveness check on it would kill Loki in the middle
        // of that.
        liveness_probe: Some(tcp_probe("http", ProbeTiming::after(30).failures(6))),
        resources: Some(resource_requirements(&loki.resources, crate::api::defaults::resources::LOKI)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![
            volume_mount("config", CONFIG_DIRECTORY, true),
            volume_mount(DATA_VOLUME, DATA_DIRECTORY, false),
            volume_mount("tmp", "/tmp", false),
        ]),
        ..Container::default()
    };
    let claim_template =
        volume_claim_template(DATA_VOLUME, claim_size, loki.storage.filesystem.storage_class_name.as_deref());
    let mut statefulset_metadata = metadata(stack, Component::Loki, name.clone());
    statefulset_metadata.annotations = tier_annotations;
    let statefulset = StatefulSet {
        metadata: statefulset_metadata,
        spec: Some(StatefulSetSpec {
            // Single binary: the compactor must be a singleton and the rings are in memory.
            replicas: Some(1),
            service_name: Some(headless_name.clone()),
            selector: pod_selector(stack, Component::Loki),
            template: pod_template(
                stack,
                Component::Loki,
                Some(hash),
                restricted_pod_spec(
                    LOKI_USER,
                    vec![container],
                    vec![config_map_volume("config", &name), empty_dir_volume("tmp")],
                ),
            ),
            volume_claim_templates: Some(vec![claim_template]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    let svc: Service = service(stack, Component::Loki, name, &named_ports);
    let headless: Service = headless_service(stack, Component::Loki, headless_name, &named_ports);
    Ok(vec![
        into_object(Component::Loki, config)?,
        into_object(Component::Loki, statefulset)?,
        into_object(Component::Loki, svc)?,
        into_object(Component::Loki, headless)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Duration, Environment};
    use crate::render::common::CONFIG_HASH_ANNOTATION;
    use crate::render::fixtures::{machineavatars, minimal};

    fn parsed(stack: &ResolvedStack) -> serde_json::Value {
        serde_saphyr::from_str(&config_file(stack).unwrap()).unwrap()
    }

    fn object<'a>(objects: &'a [DynamicObject], kind: &str, name: &str) -> &'a DynamicObject {
        objects
            .iter()
            .find(|o| o.types.as_ref().unwrap().kind == kind && o.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    fn statefulset(stack: &ResolvedStack) -> serde_json::Value {
        let objects = render(stack).unwrap();
        object(&objects, "StatefulSet", &object_name(stack, Component::Loki)).data.clone()
    }

    /// Loki's `-config.expand-env` pass as drone/envsubst does it: `${NAME}` from the
    /// environment, `$$` → `$`, `\\` → `\`, `\/` → `/`.
    fn expand_env(text: &str, environment: &BTreeMap<&str, &str>) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('$', Some('$')) | ('\\', Some('\\')) | ('\\', Some('/')) => out.push(chars.next().unwrap()),
                ('$', Some('{')) => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    out.push_str(environment.get(name.as_str()).copied().unwrap_or_default());
                }
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn golden_example() {
        insta::assert_snapshot!(crate::render::objects_to_yaml(&render(&machineavatars()).unwrap()).unwrap());
    }

    #[test]
    fn seed_limits_and_enforced_retention() {
        let config = parsed(&machineavatars());
        assert_eq!(config["auth_enabled"], false);
        assert_eq!(config["limits_config"]["ingestion_rate_mb"], 50);
        assert_eq!(config["limits_config"]["retention_period"], "90d");
        assert_eq!(config["ingester"]["chunk_target_size"], 1_536_000);
        assert_eq!(config["limits_config"]["allow_structured_metadata"], true);
        assert!(config["limits_config"].get("ingestion_burst_size_mb").is_none(), "Loki's default unless set");
        // Loki 3.x applies retention_period only through the compactor.
        assert_eq!(config["compactor"]["retention_enabled"], true);
        assert_eq!(config["compactor"]["delete_request_store"], "azure");
        assert_eq!(config["compactor"]["working_directory"], "/var/loki/compactor");
        assert_eq!(config["compactor"]["retention_delete_delay"], "2h");
        assert_eq!(config["server"]["http_listen_port"], 3100);
        assert_eq!(config["server"]["grpc_listen_port"], 9095);
        assert_eq!(config["common"]["path_prefix"], "/var/loki");
        assert_eq!(config["common"]["replication_factor"], 1);
        assert_eq!(config["common"]["ring"]["kvstore"]["store"], "inmemory");
        let period = &config["schema_config"]["configs"][0];
        assert_eq!(period["store"], "tsdb");
        assert_eq!(period["schema"], "v13");
        assert_eq!(period["object_store"], "azure");
        assert_eq!(period["index"]["period"], "24h");
    }

    #[test]
    fn production_keeps_chunks_on_azure_with_credentials_from_the_secret() {
        let stack = machineavatars();
        let config = parsed(&stack);
        let azure = &config["common"]["storage"]["azure"];
        assert_eq!(azure["account_name"], "${AZURE_STORAGE_ACCOUNT_NAME}");
        assert_eq!(azure["account_key"], "${AZURE_STORAGE_ACCOUNT_KEY}");
        assert_eq!(azure["container_name"], "machineavatars-logs");
        assert!(config["common"]["storage"].get("filesystem").is_none());

        let statefulset = statefulset(&stack);
        let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
        let args = container["args"].as_array().unwrap();
        assert!(args.contains(&"-config.expand-env=true".into()));
        assert!(args.contains(&"-config.file=/etc/loki/loki.yaml".into()));
        assert_eq!(
            container["env"],
            serde_json::json!([
                {"name": "AZURE_STORAGE_ACCOUNT_NAME",
                 "valueFrom": {"secretKeyRef": {"name": "loki-azure-storage", "key": "account-name", "optional": false}}},
                {"name": "AZURE_STORAGE_ACCOUNT_KEY",
                 "valueFrom": {"secretKeyRef": {"name": "loki-azure-storage", "key": "account-key", "optional": false}}},
            ])
        );
        // The WAL, index cache and compactor get the Azure cache volume.
        assert_eq!(statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "20Gi");
    }

    #[test]
    fn no_config_map_holds_a_credential() {
        let stack = machineavatars();
        let objects = render(&stack).unwrap();
        let config = object(&objects, "ConfigMap", "machineavatars-loki");
        let text = config.data["data"][CONFIG_FILE].as_str().unwrap();
        let azure = &stack.spec.logging.loki.storage.azure;
        for reference in [&azure.account_name, &azure.account_key] {
            assert!(!text.contains(&reference.name) && !text.contains(&reference.key), "{reference:?}");
        }
        // Expanded with the pod's environment, the placeholders become the Secret's values.
        let environment =
            BTreeMap::from([("AZURE_STORAGE_ACCOUNT_NAME", "account"), ("AZURE_STORAGE_ACCOUNT_KEY", "a+b/c==")]);
        let expanded: serde_json::Value = serde_saphyr::from_str(&expand_env(text, &environment)).unwrap();
        assert_eq!(expanded["common"]["storage"]["azure"]["account_key"], "a+b/c==");
        assert_eq!(expanded["common"]["storage"]["azure"]["account_name"], "account");
    }

    #[test]
    fn access_tier_is_carried_where_the_account_owner_sees_it() {
        let stack = machineavatars();
        let objects = render(&stack).unwrap();
        for kind in ["ConfigMap", "StatefulSet"] {
            let annotations = &object(&objects, kind, "machineavatars-loki").metadata.annotations;
            assert_eq!(annotations.as_ref().unwrap()[ACCESS_TIER_ANNOTATION], "Cool", "{kind}");
        }
        let mut hot = stack.clone();
        hot.spec.logging.loki.storage.azure.access_tier = AzureAccessTier::Hot;
        let objects = render(&hot).unwrap();
        let annotations = object(&objects, "StatefulSet", "machineavatars-loki").metadata.annotations.clone();
        assert_eq!(annotations.unwrap()[ACCESS_TIER_ANNOTATION], "Hot");
        let local = render(&minimal(Environment::Staging)).unwrap();
        assert!(local.iter().all(|o| o.metadata.annotations.is_none()), "no tier without Azure");
    }

    #[test]
    fn staging_and_development_keep_logs_locally_for_30_and_7_days() {
        for (environment, days) in
            [(Environment::Production, "90d"), (Environment::Staging, "30d"), (Environment::Development, "7d")]
        {
            let stack = minimal(environment);
            let config = parsed(&stack);
            assert_eq!(config["limits_config"]["retention_period"], days, "{environment:?}");
            if environment == Environment::Production {
                continue;
            }
            let filesystem = &config["common"]["storage"]["filesystem"];
            assert_eq!(filesystem["chunks_directory"], "/var/loki/chunks");
            assert_eq!(filesystem["rules_directory"], "/var/loki/rules");
            assert!(config["common"]["storage"].get("azure").is_none());
            assert_eq!(config["schema_config"]["configs"][0]["object_store"], "filesystem");
            assert_eq!(config["compactor"]["delete_request_store"], "filesystem");
            let statefulset = statefulset(&stack);
            assert!(statefulset["spec"]["template"]["spec"]["containers"][0].get("env").is_none());
            let claim = &statefulset["spec"]["volumeClaimTemplates"][0];
            assert_eq!(claim["metadata"]["name"], DATA_VOLUME);
            assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "50Gi");
        }
    }

    #[test]
    fn explicit_storage_retention_burst_and_class_win_over_the_environment() {
        let mut stack = minimal(Environment::Development);
        stack.spec.logging.loki.storage.storage_type = Some(LogStorageType::Azure);
        stack.spec.logging.loki.retention_period = Some(Duration::from("14d"));
        stack.spec.logging.loki.ingestion_burst_size_mb = Some(80);
        stack.spec.logging.loki.ingestion_rate_mb = 20;
        stack.spec.logging.loki.chunk_target_size = 2_000_000;
        stack.spec.logging.loki.storage.filesystem.storage_class_name = Some("fast".to_owned());
        let config = parsed(&stack);
        assert!(config["common"]["storage"].get("azure").is_some());
        assert_eq!(config["limits_config"]["retention_period"], "14d");
        assert_eq!(config["limits_config"]["ingestion_burst_size_mb"], 80);
        assert_eq!(config["limits_config"]["ingestion_rate_mb"], 20);
        assert_eq!(config["ingester"]["chunk_target_size"], 2_000_000);
        assert_eq!(statefulset(&stack)["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "fast");
    }

    #[test]
    fn compliance_streams_are_kept_a_year_first_selector_first() {
        let config = parsed(&machineavatars());
        assert_eq!(
            config["limits_config"]["retention_stream"],
            serde_json::json!([
                {"selector": "{log_type=\"audit\"}", "priority": 2, "period": "365d"},
                {"selector": "{log_type=\"compliance\"}", "priority": 1, "period": "365d"},
            ])
        );
        let mut none = minimal(Environment::Staging);
        none.spec.logging.loki.compliance.selectors.clear();
        assert!(parsed(&none)["limits_config"].get("retention_stream").is_none());
    }

    #[test]
    fn selectors_survive_environment_expansion_byte_for_byte() {
        let mut stack = minimal(Environment::Production);
        let tricky = r#"{app=~"a\\.b$", note="${AZURE_STORAGE_ACCOUNT_KEY} \/ $$"}"#;
        stack.spec.logging.loki.compliance.selectors = vec![tricky.to_owned()];
        let text = config_file(&stack).unwrap();
        let environment = BTreeMap::from([("AZURE_STORAGE_ACCOUNT_KEY", "secret")]);
        let expanded: serde_json::Value = serde_saphyr::from_str(&expand_env(&text, &environment)).unwrap();
        assert_eq!(expanded["limits_config"]["retention_stream"][0]["selector"], tricky);
        assert_eq!(expanded["common"]["storage"]["azure"]["account_key"], "secret");
    }

    #[test]
    fn workload_is_one_restricted_pod_with_services_and_probes() {
        let stack = machineavatars();
        let objects = render(&stack).unwrap();
        let kinds: Vec<_> = objects.iter().map(|o| o.types.as_ref().unwrap().kind.as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "StatefulSet", "Service", "Service"]);
        let statefulset = statefulset(&stack);
        assert_eq!(statefulset["spec"]["replicas"], 1);
        assert_eq!(statefulset["spec"]["serviceName"], "machineavatars-loki-headless");
        let pod = &statefulset["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsUser"], 10001);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "grafana/loki:3.5.7");
        assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");
        assert!(container["livenessProbe"]["tcpSocket"].is_object());
        let mounts = container["volumeMounts"].to_string();
        assert!(mounts.contains("/var/loki") && mounts.contains("/etc/loki") && mounts.contains("/tmp"));

        let svc = &object(&objects, "Service", "machineavatars-loki").data["spec"];
        assert_eq!(svc["ports"][0]["name"], "http");
        assert_eq!(svc["ports"][0]["port"], 3100);
        assert_eq!(svc["ports"][1]["name"], "grpc");
        assert_eq!(svc["ports"][1]["port"], 9095);
        let headless = &object(&objects, "Service", "machineavatars-loki-headless").data["spec"];
        assert_eq!(headless["clusterIP"], "None");
        assert_eq!(push_url(&stack), "http://machineavatars-loki.observability.svc:3100/loki/api/v1/push");
    }

    #[test]
    fn config_changes_roll_the_pod() {
        let stack = machineavatars();
        let hash = |stack: &ResolvedStack| {
            statefulset(stack)["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION].clone()
        };
        let mut changed = stack.clone();
        changed.spec.logging.loki.ingestion_rate_mb = 60;
        assert!(hash(&stack).is_string());
        assert_ne!(hash(&stack), hash(&changed));
    }
}
