//! Shared helpers of the cross-cutting tests: the example stack rendered once, and lookups into
//! the configuration files its ConfigMaps carry.

pub mod cluster;
pub mod faults;
pub mod grafana_model;
pub mod http;
pub mod kubelet;
pub mod loki_model;
pub mod node;
pub mod process;
pub mod prometheus_operator;
pub mod promql;
pub mod rule_tests;
pub mod seed;
pub mod tools;
pub mod variants;

use std::path::{Path, PathBuf};

use stackscope::render::{Component, RenderedObject, render_stack};
use stackscope::resolve::ResolvedStack;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A loopback address with a port free a moment ago, for a program a test starts.
pub fn loopback_address() -> std::net::SocketAddr {
    let port = stackscope_e2e::free_port().unwrap_or_else(|error| panic!("a free port: {error}"));
    std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port))
}

/// The repository's `examples/machineavatars` directory.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/machineavatars")
}

/// The example stack and its monitors as typed objects, moved into the given namespaces (the
/// stack's monitor namespace selector follows the monitors).
pub fn example_in(
    stack_namespace: &str,
    apps_namespace: &str,
) -> Result<(stackscope::api::ObservabilityStack, Vec<stackscope::api::ServiceMonitor>), String> {
    use stackscope::manifest::{Manifest, Origin, documents, typed};
    let mut stacks = Vec::new();
    let mut monitors = Vec::new();
    for file in ["stack.yaml", "monitors.yaml"] {
        let text = std::fs::read_to_string(example_dir().join(file)).map_err(|error| format!("{file}: {error}"))?;
        for (index, value) in documents(file, &text).map_err(|error| error.to_string())?.into_iter().enumerate() {
            let origin = Origin { file: file.to_owned(), document: index + 1 };
            match typed(&origin, value).map_err(|error| error.to_string())? {
                Manifest::Stack(stack) => stacks.push(*stack),
                Manifest::Monitor(monitor) => monitors.push(*monitor),
            }
        }
    }
    let mut stack = stacks.into_iter().next().ok_or("the example has no stack")?;
    stack.metadata.namespace = Some(stack_namespace.to_owned());
    if let Some(selector) = stack.spec.monitor_namespace_selector.as_mut() {
        selector.match_names = vec![apps_namespace.to_owned()];
    }
    for monitor in &mut monitors {
        monitor.metadata.namespace = Some(apps_namespace.to_owned());
    }
    Ok((stack, monitors))
}

/// Loads and resolves every stack in the given directory, as `stackscope render -f` does.
pub fn resolve_dir(directory: &Path) -> Result<Vec<ResolvedStack>, String> {
    let paths = stackscope::cli::offline::expand_paths(&[directory.to_path_buf()])?;
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        files.push((path.display().to_string(), text));
    }
    let inputs = stackscope::cli::offline::load(&files).map_err(|errors| errors.join("\n"))?;
    Ok(stackscope::cli::offline::resolve(&inputs))
}

/// A rendered stack with lookups by component, kind and file.
pub struct Rendered {
    pub stack: ResolvedStack,
    pub objects: Vec<RenderedObject>,
}

impl Rendered {
    /// Renders the example MachineAvatars stack.
    pub fn example() -> Result<Self, String> {
        let stack = resolve_dir(&example_dir())?.into_iter().next().ok_or("the example has no stack")?;
        Self::of(stack)
    }

    /// Renders a resolved stack.
    pub fn of(stack: ResolvedStack) -> Result<Self, String> {
        let objects = render_stack(&stack).map_err(|error| error.to_string())?;
        Ok(Self { stack, objects })
    }

    /// Objects of one component and kind.
    pub fn objects(&self, component: Component, kind: &str) -> Vec<&serde_json::Value> {
        self.objects
            .iter()
            .filter(|rendered| {
                rendered.component == component && rendered.object.types.as_ref().is_some_and(|t| t.kind == kind)
            })
            .map(|rendered| &rendered.object.data)
            .collect()
    }

    /// The raw text of a file carried by any ConfigMap of the component.
    pub fn file(&self, component: Component, file: &str) -> Result<&str, String> {
        self.objects
            .iter()
            .filter(|rendered| {
                rendered.component == component && rendered.object.types.as_ref().is_some_and(|t| t.kind == "ConfigMap")
            })
            .find_map(|rendered| rendered.object.data.get("data").and_then(|data| data.get(file)))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("{component}: no ConfigMap carries {file}"))
    }

    /// A YAML (or JSON) file of the component, parsed.
    pub fn yaml(&self, component: Component, file: &str) -> Result<serde_json::Value, String> {
        let text = self.file(component, file)?;
        serde_saphyr::from_str(text).map_err(|error| format!("{component}/{file}: {error}"))
    }

    /// The arguments of the container of that name in the component's workloads.
    pub fn container_args(&self, component: Component, container: &str) -> Result<Vec<String>, String> {
        self.objects
            .iter()
            .filter(|object| object.component == component)
            .filter_map(|object| object.object.data.pointer("/spec/template/spec/containers")?.as_array())
            .flatten()
            .find(|candidate| candidate["name"] == container)
            .and_then(|candidate| candidate["args"].as_array())
            .map(|args| args.iter().filter_map(serde_json::Value::as_str).map(str::to_owned).collect())
            .ok_or_else(|| format!("{component}: no container {container} renders"))
    }

    /// Every file name the component's ConfigMaps carry.
    pub fn file_names(&self, component: Component) -> Vec<String> {
        self.objects
            .iter()
            .filter(|rendered| {
                rendered.component == component && rendered.object.types.as_ref().is_some_and(|t| t.kind == "ConfigMap")
            })
            .filter_map(|rendered| rendered.object.data.get("data").and_then(serde_json::Value::as_object))
            .flat_map(|data| data.keys().cloned())
            .collect()
    }
}

/// The value at a `/`-separated path (numbers index arrays), or an error naming the path.
pub fn at<'a>(value: &'a serde_json::Value, path: &str) -> Result<&'a serde_json::Value, String> {
    let mut current = value;
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        current = match current {
            serde_json::Value::Array(items) => segment.parse::<usize>().ok().and_then(|index| items.get(index)),
            other => other.get(segment),
        }
        .ok_or_else(|| format!("missing {path} (at {segment})"))?;
    }
    Ok(current)
}

/// Asserts the value at `path` equals `expected`, rendering numbers and strings alike.
pub fn expect_eq(value: &serde_json::Value, path: &str, expected: &str) -> Result<(), String> {
    let found = at(value, path)?;
    let text = match found {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if text == expected { Ok(()) } else { Err(format!("{path}: expected {expected}, found {text}")) }
}

/// Asserts a condition, with a message naming what was expected.
pub fn ensure(condition: bool, message: impl Into<String>) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message.into()) }
}
