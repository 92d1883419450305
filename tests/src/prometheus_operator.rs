//! prometheus-operator's real ServiceMonitor CRD, as data: read from its Go module (the module
//! zip the Go module proxy serves, fetched once into Go's module cache by `go mod download`),
//! never vendored here.

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// The prometheus-operator release whose CRD the tests install (stackscope renders its v0.86
/// config-reloader, but the module proxy refuses v0.86.0 of the root module; v0.85.0 is served).
pub const MODULE: &str = "github.com/prometheus-operator/prometheus-operator";
pub const VERSION: &str = "v0.85.0";
const CRD_PATH: &str = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml";

/// The directory of the module in Go's module cache, downloading it on first use.
fn module_dir() -> Result<PathBuf, String> {
    let output = std::process::Command::new("go")
        .args(["mod", "download", "-json", &format!("{MODULE}@{VERSION}")])
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|error| format!("cannot run go (needed to fetch prometheus-operator's CRD): {error}"))?;
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!("go mod download printed no JSON ({error}): {}", String::from_utf8_lossy(&output.stderr))
    })?;
    if let Some(error) = info.get("Error").and_then(serde_json::Value::as_str) {
        return Err(format!("go mod download {MODULE}@{VERSION}: {error}"));
    }
    info.get("Dir")
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| format!("go mod download {MODULE}@{VERSION} gave no directory"))
}

/// prometheus-operator's `servicemonitors.monitoring.coreos.com` CRD at [`VERSION`].
pub fn service_monitor_crd() -> Result<CustomResourceDefinition, String> {
    let path = module_dir()?.join(CRD_PATH);
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let value = stackscope::manifest::documents(CRD_PATH, &text)
        .map_err(|error| error.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{CRD_PATH} is empty"))?;
    serde_json::from_value(value).map_err(|error| format!("{CRD_PATH}: {error}"))
}
