//! The module structure holds: no import cycles between the crate's top-level modules or between
//! the files of one module directory, the core never imports the command line's module (`cli`),
//! and no source file outside tests and generated code grows past what one can read.
//!
//! Dependencies are read from the source text (`crate::x`, `super::x` and grouped `use` lists),
//! test modules excluded: a test may use any fixture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
/// Longest non-test source file, in lines.
const MAX_LINES: usize = 800;

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The file's code before its test module (tests come last in every file here); a file that is
/// itself a test module (`tests.rs`) has none.
fn non_test_source(path: &Path) -> String {
    if path.file_name().is_some_and(|name| name == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).expect("source is readable");
    match text.find("#[cfg(test)]\nmod tests") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// The non-test source without comments, which name modules without depending on them.
fn non_test_code(path: &Path) -> String {
    let source = non_test_source(path);
    source.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The module path of a file relative to `src/`: `controller/mod.rs` → `["controller"]`,
/// `render/prometheus/jobs.rs` → `["render", "prometheus", "jobs"]`.
fn module_path(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(SOURCE).expect("below src");
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    match file.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// Every module path a piece of code names through `crate::` (resolved from the crate root) or
/// `super::` (resolved from `module`), as far as the first identifier after the prefix.
fn referenced_modules(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent_of(module))] {
        let mut start = 0;
        while let Some(offset) = code[start..].find(prefix) {
            let at = start + offset;
            start = at + prefix.len();
            // `foo_crate::` or `self.super::` are not paths of this crate.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let rest = &code[start..];
            let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                inner.split(',').map(|item| first_identifier(item.trim())).filter(|n| !n.is_empty()).collect()
            } else {
                vec![first_identifier(rest)]
            };
            for name in names.into_iter().filter(|name| !name.is_empty() && name != "self") {
                let mut target = base.clone();
                target.push(name);
                found.insert(target);
            }
        }
    }
    found
}

/// `super` of module `a::b` (file `a/b.rs` or `a/b/mod.rs`) is `a`.
fn parent_of(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

fn first_identifier(text: &str) -> String {
    text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// Edges between the children of `parent` (a directory module, or the crate root for `[]`):
/// `a → b` when code in `a` (or below it) names `b` (or something below it). Edges from a
/// module to its own parent's file (`mod.rs`) are the module tree, not a dependency cycle.
fn edges_below(
    parent: &[String],
    modules: &[(Vec<String>, BTreeSet<Vec<String>>)],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, references) in modules {
        if module.len() <= parent.len() || module[..parent.len()] != *parent {
            continue;
        }
        let from = &module[parent.len()];
        for target in references {
            if target.len() <= parent.len() || target[..parent.len()] != *parent {
                continue;
            }
            let to = &target[parent.len()];
            if to != from {
                edges.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    edges
}

/// A cycle in the graph, as the list of its modules, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(position) = stack.iter().position(|on_stack| on_stack == node) {
            let mut cycle = stack[position..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn library_modules() -> Vec<(PathBuf, Vec<String>, BTreeSet<Vec<String>>)> {
    let mut files = Vec::new();
    rust_files(Path::new(SOURCE), &mut files);
    files
        .into_iter()
        .filter(|path| !path.ends_with("main.rs"))
        .map(|path| {
            let module = module_path(&path);
            let references = referenced_modules(&non_test_code(&path), &module);
            (path, module, references)
        })
        .collect()
}

#[test]
fn no_import_cycles_between_modules() {
    let modules: Vec<(Vec<String>, BTreeSet<Vec<String>>)> =
        library_modules().into_iter().map(|(_, module, references)| (module, references)).collect();
    assert!(modules.len() > 40, "the source tree was read: {} files", modules.len());
    let mut parents: BTreeSet<Vec<String>> = BTreeSet::from([Vec::new()]);
    for (module, _) in &modules {
        for depth in 1..module.len() {
            parents.insert(module[..depth].to_vec());
        }
    }
    let mut cycles = Vec::new();
    for parent in &parents {
        let edges = edges_below(parent, &modules);
        if let Some(cycle) = find_cycle(&edges) {
            cycles.push(format!(
                "in {}: {}",
                if parent.is_empty() { "crate".to_owned() } else { parent.join("::") },
                cycle.join(" → ")
            ));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_core_never_imports_the_command_line() {
    let offenders: Vec<String> = library_modules()
        .into_iter()
        .filter(|(_, module, _)| module.first().map(String::as_str) != Some("cli"))
        .filter(|(_, _, references)| references.iter().any(|target| target.first().map(String::as_str) == Some("cli")))
        .map(|(path, _, _)| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "core modules importing crate::cli: {offenders:#?}");
}

#[test]
fn source_files_stay_readable() {
    let mut files = Vec::new();
    rust_files(Path::new(SOURCE), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|path| (path, non_test_source(path).lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(path, lines)| format!("{}: {lines} lines", path.display()))
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines (tests excluded):\n{}", long.join("\n"));
}

#[test]
fn the_dependency_reader_sees_what_it_must() {
    // The reader itself: a grouped `use`, `super::` from a file and from a `mod.rs`, a cycle.
    let code = "use crate::{api::Thing, render};\nuse super::apply::x;\nfn f() { other_crate::y(); }";
    let found = referenced_modules(code, &["controller".to_owned(), "reconcile".to_owned()]);
    let expected: BTreeSet<Vec<String>> = [vec!["api"], vec!["render"], vec!["controller", "apply"]]
        .into_iter()
        .map(|path| path.into_iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(found, expected);
    let cyclic: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_owned(), BTreeSet::from([to.to_owned()])))
        .collect();
    assert_eq!(find_cycle(&cyclic), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let mut acyclic = cyclic;
    acyclic.remove("c");
    assert_eq!(find_cycle(&acyclic), None);
}
