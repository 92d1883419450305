//! Kubernetes name syntax: namespace and object names, label keys and values, checked as the
//! API server checks them (the schema validator and the semantic checks both use these).

use regex::Regex;

/// Whether `text` matches a constant pattern, compiled once into `cell`.
pub(crate) fn matches(cell: &'static std::sync::OnceLock<Option<Regex>>, pattern: &str, text: &str) -> bool {
    // Constant patterns, compiled in the tests; `None` would refuse rather than accept.
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref().is_some_and(|regex| regex.is_match(text))
}

/// Whether `text` is a DNS-1123 label: a namespace or object name.
pub(crate) fn is_dns_label(text: &str) -> bool {
    static DNS_LABEL: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    text.len() <= 63 && matches(&DNS_LABEL, r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", text)
}

/// Whether `text` is a DNS-1123 subdomain: dot-separated labels, at most 253 characters, the
/// name syntax of most objects (a ServiceMonitor may be named `api.v2`).
pub(crate) fn is_dns_subdomain(text: &str) -> bool {
    static SUBDOMAIN: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    text.len() <= 253 && matches(&SUBDOMAIN, r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", text)
}

/// Whether `text` is a Kubernetes label key: an optional DNS subdomain prefix and `/`, then a
/// name of at most 63 characters.
pub(crate) fn is_label_key(text: &str) -> bool {
    static PREFIX: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let (prefix, name) = match text.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, text),
    };
    let prefix_ok = prefix.is_none_or(|prefix| {
        prefix.len() <= 253
            && matches(&PREFIX, r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", prefix)
    });
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// Whether `text` is a Kubernetes label value (empty, or at most 63 alphanumerics, `-`, `_`,
/// `.`, beginning and ending alphanumeric).
pub(crate) fn is_label_value(text: &str) -> bool {
    static VALUE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    text.len() <= 63 && matches(&VALUE, r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", text)
}
