//! What Prometheus refuses in a monitor's scrape settings (authorization, OAuth 2.0, proxies,
//! protocols, native histograms), and what stackscope cannot render without writing Secret values
//! into the Prometheus ConfigMap.

use super::{FieldError, error};
use crate::api::{Endpoint, ProxyConfig, ServiceMonitorSpec, quantity_as_f64};

/// Why a value Prometheus reads only inline is refused: the configuration is a ConfigMap.
const INLINE_ONLY: &str = "stackscope keeps Secret and ConfigMap values out of the Prometheus configuration (a \
                           ConfigMap), and Prometheus reads this value only from the configuration itself";

/// Checks the scrape settings of a monitor and its endpoints; paths start at `spec`.
pub(super) fn settings(spec: &ServiceMonitorSpec, errors: &mut Vec<FieldError>) {
    for (index, protocol) in spec.scrape_protocols.iter().enumerate() {
        if spec.scrape_protocols[..index].contains(protocol) {
            errors.push(error(
                format!("spec.scrapeProtocols[{index}]"),
                format!("{} is listed twice (Prometheus refuses duplicates)", protocol.as_str()),
            ));
        }
    }
    if let Some(factor) = &spec.native_histogram_min_bucket_factor {
        match quantity_as_f64(factor) {
            Some(value) if value >= 1.0 || value == 0.0 => {}
            Some(value) => errors.push(error(
                "spec.nativeHistogramMinBucketFactor",
                format!("{value} must be at least 1 (or 0 for Prometheus' default): it is a growth factor"),
            )),
            None => errors.push(error(
                "spec.nativeHistogramMinBucketFactor",
                format!("{factor:?} is not a decimal number such as \"1.1\""),
            )),
        }
    }
    for (index, endpoint) in spec.endpoints.iter().enumerate() {
        self::endpoint(endpoint, &format!("spec.endpoints[{index}]"), errors);
    }
}

fn endpoint(endpoint: &Endpoint, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(kind) = endpoint.authorization.as_ref().and_then(|auth| auth.kind.as_deref())
        && kind.eq_ignore_ascii_case("basic")
    {
        errors.push(error(
            format!("{path}.authorization.type"),
            "Prometheus refuses authorization type Basic: use basicAuth",
        ));
    }
    if let Some(oauth2) = &endpoint.oauth2 {
        if !is_http_url(&oauth2.token_url) {
            errors.push(error(
                format!("{path}.oauth2.tokenUrl"),
                format!("{:?} is not an http or https URL", oauth2.token_url),
            ));
        }
        errors.push(error(
            format!("{path}.oauth2.clientId"),
            format!(
                "OAuth 2.0 is not supported yet: {INLINE_ONLY} (client_id); use authorization with a token from a \
                 Secret"
            ),
        ));
        proxy(&oauth2.proxy, &format!("{path}.oauth2"), errors);
    }
    proxy(&endpoint.proxy, path, errors);
    if let Some(tls) = &endpoint.tls_config
        && let (Some(min), Some(max)) = (tls.min_version, tls.max_version)
        && min > max
    {
        errors.push(error(format!("{path}.tlsConfig.maxVersion"), format!("{max:?} is older than minVersion {min:?}")));
    }
}

fn proxy(proxy: &ProxyConfig, path: &str, errors: &mut Vec<FieldError>) {
    let from_environment = proxy.proxy_from_environment == Some(true);
    if proxy.no_proxy.is_some() && from_environment {
        errors.push(error(
            format!("{path}.noProxy"),
            "noProxy and proxyFromEnvironment are mutually exclusive (the environment's NO_PROXY applies)",
        ));
    } else if proxy.no_proxy.is_some() && proxy.proxy_url.is_none() {
        errors.push(error(format!("{path}.noProxy"), "noProxy needs proxyUrl"));
    }
    if let Some(url) = &proxy.proxy_url
        && !has_host(url)
    {
        errors.push(error(format!("{path}.proxyUrl"), format!("{url:?} has no host")));
    }
    if let Some(header) = proxy.proxy_connect_header.keys().next() {
        errors.push(error(
            format!("{path}.proxyConnectHeader.{header}"),
            format!("proxy CONNECT headers are not supported: {INLINE_ONLY} (proxy_connect_header)"),
        ));
    }
}

/// Whether `text` is an absolute `http` or `https` URL with a host.
fn is_http_url(text: &str) -> bool {
    (text.starts_with("http://") || text.starts_with("https://")) && has_host(text)
}

/// Whether a `scheme://host...` URL has a non-empty host and no whitespace.
fn has_host(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    !host.is_empty() && !host.starts_with(':') && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(spec: serde_json::Value) -> Vec<(String, String)> {
        let spec: ServiceMonitorSpec = serde_json::from_value(spec).unwrap();
        let mut errors = Vec::new();
        settings(&spec, &mut errors);
        errors.into_iter().map(|e| (e.path, e.message)).collect()
    }

    fn paths(spec: serde_json::Value) -> Vec<String> {
        problems(spec).into_iter().map(|(path, _)| path).collect()
    }

    #[test]
    fn what_prometheus_refuses_is_named_by_its_field() {
        assert_eq!(
            paths(json!({"selector": {}, "endpoints": [
                {"authorization": {"type": "basic"}},
                {"proxyUrl": "http://", "noProxy": ".svc"},
                {"noProxy": ".svc"},
                {"proxyFromEnvironment": true, "noProxy": ".svc"},
                {"tlsConfig": {"minVersion": "TLS13", "maxVersion": "TLS12"}},
                {"tlsConfig": {"minVersion": "TLS12", "maxVersion": "TLS13"}}
            ]})),
            [
                "spec.endpoints[0].authorization.type",
                "spec.endpoints[1].proxyUrl",
                "spec.endpoints[2].noProxy",
                "spec.endpoints[3].noProxy",
                "spec.endpoints[4].tlsConfig.maxVersion",
            ]
        );
        assert_eq!(
            paths(json!({"selector": {}, "endpoints": [],
                         "scrapeProtocols": ["PrometheusProto", "PrometheusText0.0.4", "PrometheusProto"],
                         "nativeHistogramMinBucketFactor": "0.5"})),
            ["spec.scrapeProtocols[2]", "spec.nativeHistogramMinBucketFactor"]
        );
        assert_eq!(
            paths(json!({"selector": {}, "nativeHistogramMinBucketFactor": "fast"})),
            ["spec.nativeHistogramMinBucketFactor"]
        );
    }

    #[test]
    fn values_prometheus_reads_only_inline_are_refused_with_the_reason() {
        let found = problems(json!({"selector": {}, "endpoints": [{
            "oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}, "clientSecret": {"name": "o", "key": "s"},
                       "tokenUrl": "idp/token", "proxyUrl": "http://proxy:3128",
                       "proxyConnectHeader": {"Proxy-Authorization": [{"name": "p", "key": "h"}]}},
            "proxyUrl": "http://proxy:3128",
            "proxyConnectHeader": {"Proxy-Authorization": [{"name": "p", "key": "h"}]}
        }]}));
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.endpoints[0].oauth2.tokenUrl",
                "spec.endpoints[0].oauth2.clientId",
                "spec.endpoints[0].oauth2.proxyConnectHeader.Proxy-Authorization",
                "spec.endpoints[0].proxyConnectHeader.Proxy-Authorization",
            ]
        );
        assert!(found[1].1.contains("client_id") && found[1].1.contains("authorization"), "{}", found[1].1);
        assert!(found[3].1.contains("proxy_connect_header"), "{}", found[3].1);
    }

    #[test]
    fn the_supported_settings_pass() {
        assert_eq!(
            paths(json!({"selector": {}, "nativeHistogramMinBucketFactor": "1.1",
                         "scrapeProtocols": ["PrometheusProto", "OpenMetricsText1.0.0"],
                         "endpoints": [{"authorization": {"type": "Token", "credentials": {"name": "t", "key": "t"}},
                                        "proxyUrl": "socks5://user@proxy:1080", "noProxy": "10.0.0.0/8"},
                                       {"proxyFromEnvironment": true}, {"bearerTokenFile": "/t"}]})),
            Vec::<String>::new()
        );
        assert!(is_http_url("https://idp.example/token?x=1"));
        assert!(!is_http_url("ftp://idp.example"));
    }
}
