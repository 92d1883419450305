//! Collects criterion's estimates of the render benchmarks, with the rendered output's sizes,
//! the machine and the commit, into `bench/results/render-<short commit>.json`.
//!
//! Usage: `bench-report <criterion dir> <results dir>` (what `make bench` runs).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use stackscope::render::render_stack;
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;

fn main() {
    let mut args = std::env::args().skip(1);
    let criterion = PathBuf::from(args.next().unwrap_or_else(|| "target/criterion".to_owned()));
    let results = PathBuf::from(args.next().unwrap_or_else(|| "bench/results".to_owned()));
    if let Err(error) = run(&criterion, &results) {
        eprintln!("bench-report: {error}");
        std::process::exit(1);
    }
}

fn run(criterion: &Path, results: &Path) -> Result<(), String> {
    let mut figures = Map::new();
    for (group, key) in [
        ("resolve_render", "resolve_render"),
        ("resolve", "resolve"),
        ("incremental_render", "incremental_render"),
        ("declare", "declare"),
        ("serialize", "serialize_json"),
    ] {
        let directory = criterion.join(group);
        let Ok(entries) = std::fs::read_dir(&directory) else { continue };
        let mut ids: Vec<String> =
            entries.filter_map(Result::ok).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
        ids.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
        for id in ids.iter().filter(|id| id.parse::<u64>().is_ok()) {
            let path = directory.join(id).join("new").join("estimates.json");
            let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
            let estimates: Value =
                serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
            let nanos =
                |statistic: &str| estimates.pointer(&format!("/{statistic}/point_estimate")).and_then(Value::as_f64);
            if let Some(mean) = nanos("mean") {
                figures.insert(format!("{key}_{id}_mean_ms"), json!(round(mean / 1e6)));
            }
            if let Some(median) = nanos("median") {
                figures.insert(format!("{key}_{id}_median_ms"), json!(round(median / 1e6)));
            }
        }
    }
    for count in [10_000, 50_000] {
        let stack = fixtures::stack("monitoring");
        let rendered = render_stack(&ResolvedStack::new(&stack, &fixtures::service_monitors(count)))
            .map_err(|error| format!("render of {count}: {error}"))?;
        let mut largest = 0;
        let mut total = 0;
        let mut config_maps = 0;
        for item in &rendered {
            let size = serde_json::to_vec(&item.object).map_err(|error| error.to_string())?.len();
            largest = largest.max(size);
            total += size;
            if item.object.types.as_ref().is_some_and(|types| types.kind == "ConfigMap") {
                config_maps += 1;
            }
        }
        figures.insert(format!("output_{count}_objects"), json!(rendered.len()));
        figures.insert(format!("output_{count}_config_maps"), json!(config_maps));
        figures.insert(format!("output_{count}_largest_object_bytes"), json!(largest));
        figures.insert(format!("output_{count}_total_bytes"), json!(total));
    }

    let commit = git(&["rev-parse", "HEAD"])?;
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"])?.is_empty();
    let short = git(&["rev-parse", "--short", "HEAD"])?;
    let report = json!({
        "kind": "render",
        "commit": commit,
        "dirty": dirty,
        "date": command("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_default(),
        "machine": machine(),
        "figures": figures,
    });
    std::fs::create_dir_all(results).map_err(|error| format!("{}: {error}", results.display()))?;
    let path = results.join(format!("render-{short}.json"));
    let text = serde_json::to_string_pretty(&report).map_err(|error| error.to_string())? + "\n";
    std::fs::write(&path, text).map_err(|error| format!("{}: {error}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME=").map(|name| name.trim_matches('"').to_owned()));
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(usize::from).ok(),
        "memory_mib": memory_kib.map(|kib| kib / 1024),
        "os": os,
        "kernel": command("uname", &["-r"]),
        "rustc": command("rustc", &["--version"]),
        "load_average_at_report": std::fs::read_to_string("/proc/loadavg").ok().map(|text| text.trim().to_owned()),
    })
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn git(args: &[&str]) -> Result<String, String> {
    command("git", args).ok_or_else(|| format!("git {} failed", args.join(" ")))
}
