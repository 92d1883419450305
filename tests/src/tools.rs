//! The pinned upstream programs the tests run (promtool, amtool, jaeger, prometheus, ...), built
//! once per machine by `tools/build-tools.sh` into a cache outside the repository.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::repo_root;

/// The directory holding the binaries of a `tools/build-tools.sh` name (`prometheus`,
/// `alertmanager`, `jaeger`, `control-plane`, ...), building them on first use.
pub fn bin_dir(name: &str) -> Result<PathBuf, String> {
    static DIRS: OnceLock<Mutex<std::collections::BTreeMap<String, PathBuf>>> = OnceLock::new();
    let dirs = DIRS.get_or_init(Default::default);
    if let Some(dir) = dirs.lock().map_err(|error| error.to_string())?.get(name) {
        return Ok(dir.clone());
    }
    let output = std::process::Command::new(repo_root().join("tools/build-tools.sh"))
        .args(["--print-path", name])
        .output()
        .map_err(|error| format!("cannot run tools/build-tools.sh: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "tools/build-tools.sh --print-path {name} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let dir = String::from_utf8_lossy(&output.stdout).lines().next().map(str::trim).unwrap_or_default().to_owned();
    if dir.is_empty() {
        return Err(format!("tools/build-tools.sh printed no directory for {name}"));
    }
    let dir = PathBuf::from(dir);
    dirs.lock().map_err(|error| error.to_string())?.insert(name.to_owned(), dir.clone());
    Ok(dir)
}

/// A binary of a tool: `binary("prometheus", "promtool")`.
pub fn binary(tool: &str, binary: &str) -> Result<PathBuf, String> {
    let path = bin_dir(tool)?.join(binary);
    if path.is_file() { Ok(path) } else { Err(format!("{} is missing", path.display())) }
}
