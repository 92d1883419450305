//! The offline path of the CLI: files → validated objects → resolved stacks → rendered objects.
//! Everything the API server and the controller would refuse is refused here first, with the
//! file, document, object and field named.

use std::path::{Path, PathBuf};

use crate::api::{ObservabilityStack, ServiceMonitor};
use crate::manifest::{Manifest, Origin, documents, typed};
use crate::resolve::{ResolvedStack, stack_selects};
use crate::schema::SchemaValidator;
use crate::validate;

/// Objects read from files, each with where it came from.
#[derive(Default)]
pub struct Inputs {
    pub stacks: Vec<(Origin, ObservabilityStack)>,
    pub monitors: Vec<(Origin, ServiceMonitor)>,
}

/// Expands files and directories (recursively, `*.yaml`/`*.yml`, sorted) into file paths.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        return Err("no YAML files found in the given paths".to_owned());
    }
    Ok(files)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if metadata.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|error| format!("{}: {error}", path.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let is_yaml = entry.extension().is_some_and(|ext| ext == "yaml" || ext == "yml");
            if entry.is_dir() || is_yaml {
                collect(&entry, files)?;
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// Reads, schema-checks, types and semantically checks every document of the files.
/// Returns every problem found, not just the first.
pub fn load(files: &[(String, String)]) -> Result<Inputs, Vec<String>> {
    let validator = SchemaValidator::new();
    let mut inputs = Inputs::default();
    let mut problems = Vec::new();
    for (file, text) in files {
        let values = match documents(file, text) {
            Ok(values) => values,
            Err(error) => {
                problems.push(error.to_string());
                continue;
            }
        };
        for (index, mut value) in values.into_iter().enumerate() {
            let origin = Origin { file: file.clone(), document: index + 1 };
            let kind = value.get("kind").and_then(|kind| kind.as_str()).unwrap_or_default().to_owned();
            validator.prune_nulls(&kind, &mut value);
            let object = object_name(&value);
            let manifest = match typed(&origin, value.clone()) {
                Ok(manifest) => manifest,
                Err(error) => {
                    // For our own kinds the schema names the field; prefer it over serde's message.
                    let ours = value.get("apiVersion").and_then(|v| v.as_str()) == Some(crate::api::API_VERSION)
                        && matches!(kind.as_str(), "ObservabilityStack" | "ServiceMonitor");
                    let field_errors = if ours { validator.validate(&kind, &value) } else { Vec::new() };
                    if field_errors.is_empty() {
                        problems.push(error.to_string());
                    }
                    problems.extend(field_errors.iter().map(|e| format!("{origin}: {kind} {object}: {e}")));
                    continue;
                }
            };
            let mut field_errors = validator.validate(&kind, &value);
            if field_errors.is_empty() {
                field_errors = match &manifest {
                    Manifest::Stack(stack) => validate::stack(&stack.spec),
                    Manifest::Monitor(monitor) => validate::monitor(&monitor.spec),
                };
            }
            if !field_errors.is_empty() {
                problems.extend(field_errors.iter().map(|e| format!("{origin}: {kind} {object}: {e}")));
                continue;
            }
            match manifest {
                Manifest::Stack(stack) => inputs.stacks.push((origin, *stack)),
                Manifest::Monitor(monitor) => inputs.monitors.push((origin, *monitor)),
            }
        }
    }
    if problems.is_empty() { Ok(inputs) } else { Err(problems) }
}

fn object_name(value: &serde_json::Value) -> String {
    let metadata = value.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(|n| n.as_str()).unwrap_or("<unnamed>");
    match metadata.and_then(|m| m.get("namespace")).and_then(|n| n.as_str()) {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

/// Resolves every stack with the monitors it selects. Monitors without a namespace take the
/// namespace of the stack that reads them, as `kubectl apply -n` would give them.
pub fn resolve(inputs: &Inputs) -> Vec<ResolvedStack> {
    inputs
        .stacks
        .iter()
        .map(|(_, stack)| {
            let stack_namespace = stack.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
            let selected: Vec<ServiceMonitor> = inputs
                .monitors
                .iter()
                .map(|(_, monitor)| {
                    let mut monitor = monitor.clone();
                    monitor.metadata.namespace.get_or_insert_with(|| stack_namespace.clone());
                    monitor
                })
                .filter(|monitor| stack_selects(stack, monitor))
                .collect();
            ResolvedStack::new(stack, &selected)
        })
        .collect()
}
