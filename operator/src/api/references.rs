//! The Secret and ConfigMap keys a ServiceMonitor reads, listed in one place. Everything that
//! needs them uses this list: the operator checks that they exist and stay in the stack's
//! namespace, maps Secret changes to stacks, and Prometheus mounts them. A new credential field
//! is added here once (a test walks the schema to make sure none is missed).

use super::common::{ConfigMapKeyRef, SecretKeyRef, SecretOrConfigMap};
use super::monitor::{Endpoint, ServiceMonitorSpec};
use super::scrape::{ProxyConfig, TlsConfig};

/// The object a reference points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Referenced<'a> {
    Secret(&'a SecretKeyRef),
    ConfigMap(&'a ConfigMapKeyRef),
}

impl<'a> Referenced<'a> {
    /// `Secret` or `ConfigMap`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Secret(_) => "Secret",
            Self::ConfigMap(_) => "ConfigMap",
        }
    }

    pub fn name(&self) -> &'a str {
        match self {
            Self::Secret(reference) => &reference.name,
            Self::ConfigMap(reference) => &reference.name,
        }
    }

    pub fn key(&self) -> &'a str {
        match self {
            Self::Secret(reference) => &reference.key,
            Self::ConfigMap(reference) => &reference.key,
        }
    }
}

/// One key a monitor reads, with the field that names it (e.g. `spec.endpoints[0].basicAuth.password`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub field: String,
    pub object: Referenced<'a>,
}

impl Reference<'_> {
    /// Whether it reads the Secret of this name.
    pub fn is_secret(&self, name: &str) -> bool {
        matches!(self.object, Referenced::Secret(secret) if secret.name == name)
    }
}

fn secret_or_config_map<'a>(
    field: &str,
    source: Option<&'a SecretOrConfigMap>,
) -> impl Iterator<Item = (String, Referenced<'a>)> + use<'a> {
    let secret =
        source.and_then(|source| source.secret.as_ref()).map(|s| (format!("{field}.secret"), Referenced::Secret(s)));
    let config_map = source
        .and_then(|source| source.config_map.as_ref())
        .map(|c| (format!("{field}.configMap"), Referenced::ConfigMap(c)));
    secret.into_iter().chain(config_map)
}

/// The keys of a TLS configuration at `field`.
fn tls_references<'a>(field: &str, tls: Option<&'a TlsConfig>, references: &mut Vec<(String, Referenced<'a>)>) {
    let Some(tls) = tls else { return };
    references.extend(secret_or_config_map(&format!("{field}.ca"), tls.ca.as_ref()));
    references.extend(secret_or_config_map(&format!("{field}.cert"), tls.cert.as_ref()));
    if let Some(secret) = &tls.key_secret {
        references.push((format!("{field}.keySecret"), Referenced::Secret(secret)));
    }
}

/// The keys of a proxy configuration, with `prefix` (empty or ending in `.`).
fn proxy_references<'a>(prefix: &str, proxy: &'a ProxyConfig, references: &mut Vec<(String, Referenced<'a>)>) {
    for (header, values) in &proxy.proxy_connect_header {
        for (index, secret) in values.iter().enumerate() {
            references.push((format!("{prefix}proxyConnectHeader.{header}[{index}]"), Referenced::Secret(secret)));
        }
    }
}

impl Endpoint {
    /// Every key the endpoint reads, with its field relative to the endpoint, Secrets first.
    pub fn references(&self) -> Vec<(String, Referenced<'_>)> {
        let mut references = Vec::new();
        if let Some(secret) = &self.bearer_token_secret {
            references.push(("bearerTokenSecret".to_owned(), Referenced::Secret(secret)));
        }
        if let Some(auth) = &self.basic_auth {
            references.push(("basicAuth.username".to_owned(), Referenced::Secret(&auth.username)));
            references.push(("basicAuth.password".to_owned(), Referenced::Secret(&auth.password)));
        }
        if let Some(secret) = self.authorization.as_ref().and_then(|auth| auth.credentials.as_ref()) {
            references.push(("authorization.credentials".to_owned(), Referenced::Secret(secret)));
        }
        if let Some(oauth2) = &self.oauth2 {
            references.extend(secret_or_config_map("oauth2.clientId", Some(&oauth2.client_id)));
            references.push(("oauth2.clientSecret".to_owned(), Referenced::Secret(&oauth2.client_secret)));
            tls_references("oauth2.tlsConfig", oauth2.tls_config.as_ref(), &mut references);
            proxy_references("oauth2.", &oauth2.proxy, &mut references);
        }
        tls_references("tlsConfig", self.tls_config.as_ref(), &mut references);
        proxy_references("", &self.proxy, &mut references);
        // Secrets before ConfigMaps: credentials are what a reader checks first.
        references.sort_by_key(|(_, object)| matches!(object, Referenced::ConfigMap(_)));
        references
    }
}

impl ServiceMonitorSpec {
    /// Every key the monitor's endpoints read, each with its field from the object's root,
    /// Secrets (of every endpoint) first.
    pub fn references(&self) -> Vec<Reference<'_>> {
        let mut references: Vec<Reference<'_>> = self
            .endpoints
            .iter()
            .enumerate()
            .flat_map(|(index, endpoint)| {
                endpoint
                    .references()
                    .into_iter()
                    .map(move |(field, object)| Reference { field: format!("spec.endpoints[{index}].{field}"), object })
            })
            .collect();
        references.sort_by_key(|reference| matches!(reference.object, Referenced::ConfigMap(_)));
        references
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Paths (from the endpoint) of every field whose schema is a Secret or ConfigMap key
    /// reference, found by walking the generated schema, so a new credential field shows up here
    /// whether or not anyone remembered `references()`.
    fn reference_fields() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(Endpoint)).expect("schema serializes");
        let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
        let mut found = Vec::new();
        walk(&schema, &definitions, String::new(), &mut found);
        found.sort();
        found
    }

    fn resolve<'a>(schema: &'a Value, definitions: &'a Value) -> (&'a Value, Option<&'a str>) {
        let reference = schema
            .get("$ref")
            .or_else(|| schema.get("anyOf").and_then(|any| any.as_array()?.iter().find_map(|s| s.get("$ref"))))
            .and_then(Value::as_str);
        match reference.and_then(|r| r.rsplit('/').next()) {
            Some(name) => (definitions.get(name).unwrap_or(schema), Some(name)),
            None => (schema, None),
        }
    }

    fn walk(schema: &Value, definitions: &Value, path: String, found: &mut Vec<String>) {
        let (schema, name) = resolve(schema, definitions);
        if matches!(name, Some("SecretKeyRef" | "ConfigMapKeyRef")) {
            found.push(path);
            return;
        }
        for (property, child) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            let child_path = if path.is_empty() { property.clone() } else { format!("{path}.{property}") };
            walk(child, definitions, child_path, found);
        }
    }

    fn set(value: &mut Value, path: &str, leaf: Value) {
        let mut cursor = value;
        for part in path.split('.') {
            cursor = cursor.as_object_mut().expect("objects on the way").entry(part).or_insert_with(|| json!({}));
        }
        *cursor = leaf;
    }

    #[test]
    fn every_credential_field_of_an_endpoint_is_a_reference() {
        let fields = reference_fields();
        assert!(fields.len() >= 8, "the schema walk finds the known fields: {fields:?}");
        let mut endpoint = json!({"port": "http", "oauth2": {"tokenUrl": "https://idp.example/token"}});
        for field in &fields {
            set(&mut endpoint, field, json!({"name": field.replace('.', "-").to_lowercase(), "key": "k"}));
        }
        let endpoint: Endpoint = serde_json::from_value(endpoint).expect("an endpoint with every reference");
        let mut listed: Vec<String> = endpoint.references().into_iter().map(|(field, _)| field).collect();
        listed.sort();
        assert_eq!(listed, fields);
        for (field, object) in endpoint.references() {
            assert_eq!(object.name(), field.replace('.', "-").to_lowercase(), "{field} points at its own object");
        }
    }

    #[test]
    fn a_monitor_lists_every_endpoints_references_by_full_path_secrets_first() {
        let spec: ServiceMonitorSpec = serde_json::from_value(json!({
            "selector": {},
            "endpoints": [
                {"port": "a", "tlsConfig": {"ca": {"configMap": {"name": "ca", "key": "ca.crt"}}, "keySecret": {"name": "tls", "key": "tls.key"}}},
                {"port": "b", "basicAuth": {"username": {"name": "auth", "key": "user"}, "password": {"name": "auth", "key": "pass"}}}
            ]
        }))
        .expect("a valid spec");
        let listed: Vec<(String, &str, &str, &str)> = spec
            .references()
            .into_iter()
            .map(|r| (r.field.clone(), r.object.kind(), r.object.name(), r.object.key()))
            .collect();
        let expected = [
            ("spec.endpoints[0].tlsConfig.keySecret", "Secret", "tls", "tls.key"),
            ("spec.endpoints[1].basicAuth.username", "Secret", "auth", "user"),
            ("spec.endpoints[1].basicAuth.password", "Secret", "auth", "pass"),
            ("spec.endpoints[0].tlsConfig.ca.configMap", "ConfigMap", "ca", "ca.crt"),
        ];
        assert_eq!(listed, expected.map(|(f, k, n, key)| (f.to_owned(), k, n, key)));
        assert!(spec.references()[1].is_secret("auth"));
        assert!(!spec.references()[3].is_secret("ca"), "a ConfigMap is not a Secret");
    }
}
