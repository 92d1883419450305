//! What every results file records besides its figures: the commit measured, the machine, and
//! percentiles of the samples.

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

/// The commit measured.
#[derive(Clone, Debug, Serialize)]
pub struct Commit {
    pub commit: String,
    pub short: String,
    pub dirty: bool,
}

/// The trimmed standard output of a command run in `directory`, when it succeeds.
pub fn command_output(program: &str, args: &[&str], directory: &Path) -> Option<String> {
    let output = std::process::Command::new(program).args(args).current_dir(directory).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The checked-out commit and whether the tree differs from it (results excluded).
pub fn commit(repo: &Path) -> Commit {
    let commit = command_output("git", &["rev-parse", "HEAD"], repo).unwrap_or_else(|| "unknown".to_owned());
    let short = command_output("git", &["rev-parse", "--short", "HEAD"], repo).unwrap_or_else(|| "unknown".to_owned());
    let status =
        command_output("git", &["status", "--porcelain", "--", ".", ":!bench/results", ":!bench/README.md"], repo);
    Commit { commit, short, dirty: status.is_none_or(|status| !status.is_empty()) }
}

/// CPU model, cores, memory, OS and compiler of this machine.
pub fn machine(repo: &Path) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    json!({
        "cpu_model": cpu_model,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "memory_bytes": memory_bytes,
        "os": os,
        "kernel": kernel,
        "rustc": command_output("rustc", &["--version"], repo),
        "go": command_output("go", &["version"], repo),
    })
}

/// The percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[u64], percent: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}
