//! Reading stackscope manifests from YAML: multi-document files, typed by `kind`.

use serde::Deserialize;

use crate::api::{API_VERSION, ObservabilityStack, ServiceMonitor};

/// A stackscope object read from a file.
#[derive(Clone, Debug)]
pub enum Manifest {
    Stack(Box<ObservabilityStack>),
    Monitor(Box<ServiceMonitor>),
}

/// Where a document came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// File name as given.
    pub file: String,
    /// 1-based document index within the file.
    pub document: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {})", self.file, self.document)
    }
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{file}: invalid YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("{origin}: {message}")]
    Document { origin: Origin, message: String },
}

#[derive(Deserialize)]
struct TypeHeader {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Splits YAML text into JSON values, one per non-empty document.
pub fn documents(file: &str, text: &str) -> Result<Vec<serde_json::Value>, ManifestError> {
    // Bounded nesting keeps hostile documents from exhausting the stack; the default budget
    // already caps aliases, anchors and total size (YAML bombs).
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 128,
        },
    };
    let values: Vec<serde_json::Value> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|error| ManifestError::Yaml { file: file.to_owned(), message: error.to_string() })?;
    Ok(values.into_iter().filter(|value| !value.is_null()).collect())
}

/// Reads one document as a typed stackscope object.
pub fn typed(origin: &Origin, value: serde_json::Value) -> Result<Manifest, ManifestError> {
    let fail = |message: String| ManifestError::Document { origin: origin.clone(), message };
    let header: TypeHeader =
        serde_json::from_value(value.clone()).map_err(|error| fail(format!("not a Kubernetes object: {error}")))?;
    let api_version = header.api_version.ok_or_else(|| fail("apiVersion is missing".to_owned()))?;
    let kind = header.kind.ok_or_else(|| fail("kind is missing".to_owned()))?;
    if api_version != API_VERSION {
        return Err(fail(format!("apiVersion {api_version:?} is not served; use {API_VERSION:?}")));
    }
    match kind.as_str() {
        "ObservabilityStack" => serde_json::from_value(value)
            .map(|stack| Manifest::Stack(Box::new(stack)))
            .map_err(|error| fail(format!("ObservabilityStack: {error}"))),
        "ServiceMonitor" => serde_json::from_value(value)
            .map(|monitor| Manifest::Monitor(Box::new(monitor)))
            .map_err(|error| fail(format!("ServiceMonitor: {error}"))),
        other => Err(fail(format!("kind {other:?} is not a stackscope kind (ObservabilityStack, ServiceMonitor)"))),
    }
}
