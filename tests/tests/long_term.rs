//! The long-term path of the example stack, run by the real programs with the operator's rendered
//! arguments: Prometheus and its Thanos sidecar, the compactor, the Store Gateway and Query, over
//! a filesystem bucket on this machine (the stack's own is a cloud bucket).
//!
//! 44 days of a gauge are backfilled with `promtool tsdb create-blocks-from openmetrics` into
//! Prometheus' data directory — most of it older than the stack's raw retention (30 days). The
//! sidecar uploads the blocks, the compactor compacts them, downsamples them to 5m and 1h and
//! marks the raw blocks past the raw retention for deletion, and Query answers through the Store
//! Gateway at each resolution. The gauge alternates 0 and 100 every minute, so the resolution an
//! answer came from shows in its values: raw 0 or 100, a 5-minute average 40 or 60, an hourly
//! one 50.
//!
//! What is adapted, and why: the listen addresses and directories (loopback ports, temporary
//! directories), Query's endpoints (cluster DNS names) the local Store Gateway, Prometheus' local
//! retention (the backfilled blocks must live until the sidecar ships them; the stack's
//! Prometheus only ever holds fresh ones) and the compactor's consistency delay (30 minutes by
//! default, for blocks still being uploaded: the backfilled blocks are minutes old here).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use stackscope::render::Component;
use stackscope_tests::http::{self, encode};
use stackscope_tests::process::Process;
use stackscope_tests::tools::binary;
use stackscope_tests::{Rendered, at, loopback_address};

/// Deadline of every wait: compaction of some 500 blocks on a loaded two-core machine.
const TIMEOUT: Duration = Duration::from_secs(600);
const METRIC: &str = "stackscope_longterm_sawtooth";
const DAY_SECONDS: i64 = 86_400;
/// Days of data backfilled; the raw retention of the example is 30.
const DAYS: i64 = 44;
const RESOLUTION_5M_MS: i64 = 300_000;
const RESOLUTION_1H_MS: i64 = 3_600_000;

fn now_seconds() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs() as i64).unwrap_or_default()
}

/// The arguments of a container of the Prometheus component's workloads.
fn container_args(rendered: &Rendered, container: &str) -> Vec<String> {
    rendered.container_args(Component::Prometheus, container).unwrap_or_else(|error| panic!("{error}"))
}

/// The rendered arguments with the flags in `replace` given new values (appended when absent)
/// and the flags in `drop` removed.
fn adapted(args: &[String], replace: &[(&str, String)], drop: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = args
        .iter()
        .filter(|arg| !drop.contains(&arg.split_once('=').map_or(arg.as_str(), |(flag, _)| flag)))
        .map(|arg| match replace.iter().find(|(flag, _)| arg.split_once('=').is_some_and(|(f, _)| f == *flag)) {
            Some((flag, value)) => format!("{flag}={value}"),
            None => arg.clone(),
        })
        .collect();
    for (flag, value) in replace {
        if !out.iter().any(|arg| arg.starts_with(&format!("{flag}="))) {
            out.push(format!("{flag}={value}"));
        }
    }
    out
}

/// Polls `probe` every 500 ms until it yields a value; on the deadline, panics with the
/// processes' logs.
fn wait<T>(what: &str, processes: &mut [&mut Process], mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = processes.iter_mut().map(|process| process.diagnosis()).collect();
            panic!("timed out after {TIMEOUT:?} waiting for {what}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The OpenMetrics text of the gauge: one sample a minute from `start` to `end` (seconds),
/// alternating 0 and 100.
fn sawtooth(start: i64, end: i64) -> String {
    let mut text = format!("# HELP {METRIC} Backfilled test gauge.\n# TYPE {METRIC} gauge\n");
    for (index, time) in (start..end).step_by(60).enumerate() {
        let value = if index % 2 == 0 { 0 } else { 100 };
        text.push_str(&format!("{METRIC}{{source=\"backfill\"}} {value} {time}\n"));
    }
    text.push_str("# EOF\n");
    text
}

/// A block of the bucket: its meta.json and whether it is marked for deletion.
struct Block {
    meta: Value,
    marked_for_deletion: bool,
}

impl Block {
    fn resolution(&self) -> i64 {
        self.meta["thanos"]["downsample"]["resolution"].as_i64().unwrap_or_default()
    }
}

fn blocks(directory: &Path) -> Vec<Block> {
    let Ok(entries) = std::fs::read_dir(directory) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("meta.json")).ok()?;
            let meta = serde_json::from_str(&text).ok()?;
            Some(Block { meta, marked_for_deletion: entry.path().join("deletion-mark.json").is_file() })
        })
        .collect()
}

/// The values of a range query through Query at a maximum source resolution.
fn values_at(query: SocketAddr, start: i64, end: i64, step: &str, resolution: &str) -> Option<BTreeSet<String>> {
    let path = format!(
        "/api/v1/query_range?query={}&start={start}&end={end}&step={step}&max_source_resolution={resolution}",
        encode(METRIC)
    );
    let data = http::prometheus_api(query, &path).ok()?;
    let series = data["result"].as_array()?;
    let values: BTreeSet<String> = series
        .iter()
        .flat_map(|series| series["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|pair| pair[1].as_str().map(str::to_owned))
        .collect();
    (!values.is_empty()).then_some(values)
}

#[test]
fn backfilled_blocks_are_uploaded_downsampled_and_answered_at_5m_and_1h() {
    let rendered = Rendered::example().unwrap_or_else(|error| panic!("the example does not render: {error}"));
    let scratch = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let dir = |name: &str| -> PathBuf {
        let path = scratch.path().join(name);
        std::fs::create_dir_all(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        path
    };
    let (data, bucket, logs) = (dir("prometheus"), dir("bucket"), dir("logs"));
    let objstore = scratch.path().join("objstore.yml");
    std::fs::write(&objstore, format!("type: FILESYSTEM\nconfig:\n  directory: {}\n", bucket.display()))
        .unwrap_or_else(|error| panic!("{error}"));
    let objstore = objstore.display().to_string();
    let thanos = binary("thanos", "thanos").unwrap_or_else(|error| panic!("{error}"));

    // The backfill: whole hours, ending two hours ago (Prometheus' head would hold the rest).
    let end = (now_seconds() / 3600 - 2) * 3600;
    let start = end - DAYS * DAY_SECONDS;
    let openmetrics = scratch.path().join("backfill.om");
    std::fs::write(&openmetrics, sawtooth(start, end)).unwrap_or_else(|error| panic!("{error}"));
    let promtool = binary("prometheus", "promtool").unwrap_or_else(|error| panic!("{error}"));
    let output = std::process::Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&openmetrics)
        .arg(&data)
        .output()
        .unwrap_or_else(|error| panic!("promtool: {error}"));
    assert!(output.status.success(), "promtool: {}", String::from_utf8_lossy(&output.stderr));
    let backfilled = blocks(&data).len();
    assert!(backfilled > DAYS as usize, "promtool made {backfilled} blocks");

    // Prometheus with the rendered global section (its external labels identify the blocks) and
    // arguments.
    let config: Value =
        rendered.yaml(Component::Prometheus, "prometheus.yml").unwrap_or_else(|error| panic!("{error}"));
    let global = at(&config, "global").unwrap_or_else(|error| panic!("{error}")).clone();
    let config_file = scratch.path().join("prometheus.yml");
    let config_text = serde_json::json!({"global": global}).to_string();
    std::fs::write(&config_file, config_text).unwrap_or_else(|error| panic!("{error}"));
    let prometheus_address = loopback_address();
    let prometheus_args = adapted(
        &container_args(&rendered, "prometheus"),
        &[
            ("--config.file", config_file.display().to_string()),
            ("--storage.tsdb.path", data.display().to_string()),
            ("--storage.tsdb.retention.time", format!("{}d", DAYS + 30)),
            ("--web.listen-address", prometheus_address.to_string()),
        ],
        &[],
    );
    let prometheus_binary = binary("prometheus", "prometheus").unwrap_or_else(|error| panic!("{error}"));
    let mut prometheus = Process::start(
        "prometheus",
        &prometheus_binary,
        &prometheus_args,
        &[("POD_NAME", "longterm-0".to_owned())],
        &logs,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    wait("Prometheus ready", &mut [&mut prometheus], || {
        http::get(prometheus_address, "/-/ready").ok().filter(|answer| answer.status == 200)
    });

    // The sidecar ships every backfilled block.
    let (sidecar_http, sidecar_grpc) = (loopback_address(), loopback_address());
    let sidecar_args = adapted(
        &container_args(&rendered, "thanos-sidecar"),
        &[
            ("--tsdb.path", data.display().to_string()),
            ("--prometheus.url", format!("http://{prometheus_address}")),
            ("--objstore.config-file", objstore.clone()),
            ("--http-address", sidecar_http.to_string()),
            ("--grpc-address", sidecar_grpc.to_string()),
        ],
        &[],
    );
    let mut sidecar =
        Process::start("thanos-sidecar", &thanos, &sidecar_args, &[], &logs).unwrap_or_else(|e| panic!("{e}"));
    wait("every backfilled block in the bucket", &mut [&mut prometheus, &mut sidecar], || {
        (blocks(&bucket).len() >= backfilled).then_some(())
    });
    let shipped = blocks(&bucket);
    let labels = &shipped[0].meta["thanos"]["labels"];
    assert_eq!(labels["prometheus_replica"], "longterm-0", "the external labels mark the blocks: {labels}");
    assert!(labels["cluster"].is_string(), "{labels}");

    // The compactor: compaction, downsampling to 5m and 1h, raw retention.
    let compactor_http = loopback_address();
    let compactor_args = adapted(
        &container_args(&rendered, "thanos-compactor"),
        &[
            ("--data-dir", dir("compactor").display().to_string()),
            ("--objstore.config-file", objstore.clone()),
            ("--http-address", compactor_http.to_string()),
            ("--consistency-delay", "0s".to_owned()),
        ],
        &[],
    );
    let raw_retention_days: i64 = compactor_args
        .iter()
        .find_map(|arg| arg.strip_prefix("--retention.resolution-raw=")?.strip_suffix('d')?.parse().ok())
        .unwrap_or_else(|| panic!("no raw retention in days: {compactor_args:?}"));
    assert!(raw_retention_days < DAYS, "the backfill must reach past the raw retention");
    let mut compactor =
        Process::start("thanos-compactor", &thanos, &compactor_args, &[], &logs).unwrap_or_else(|e| panic!("{e}"));
    let hourly = wait("1h and 5m blocks, and the raw retention applied", &mut [&mut sidecar, &mut compactor], || {
        let all = blocks(&bucket);
        let hourly: Vec<&Block> = all.iter().filter(|block| block.resolution() == RESOLUTION_1H_MS).collect();
        let five_minute = all.iter().any(|block| block.resolution() == RESOLUTION_5M_MS);
        let retention_edge_ms = (now_seconds() - raw_retention_days * DAY_SECONDS) * 1000;
        let expired: Vec<&Block> = all
            .iter()
            .filter(|block| block.resolution() == 0)
            .filter(|block| block.meta["maxTime"].as_i64().is_some_and(|max| max < retention_edge_ms))
            .collect();
        let retention_applied = !expired.is_empty() && expired.iter().all(|block| block.marked_for_deletion);
        let first = hourly.first()?;
        (five_minute && retention_applied).then(|| (first.meta["minTime"].as_i64(), first.meta["maxTime"].as_i64()))
    });
    let (Some(hour_min), Some(hour_max)) = hourly else { panic!("a 1h block without its time range") };

    // The Store Gateway serves the bucket; Query answers through it.
    let (store_http, store_grpc) = (loopback_address(), loopback_address());
    let store_args = adapted(
        &container_args(&rendered, "thanos-store"),
        &[
            ("--data-dir", dir("store").display().to_string()),
            ("--objstore.config-file", objstore.clone()),
            ("--http-address", store_http.to_string()),
            ("--grpc-address", store_grpc.to_string()),
        ],
        &[],
    );
    let mut store = Process::start("thanos-store", &thanos, &store_args, &[], &logs).unwrap_or_else(|e| panic!("{e}"));
    let (query_http, query_grpc) = (loopback_address(), loopback_address());
    let query_args = adapted(
        &container_args(&rendered, "thanos-query"),
        &[
            ("--endpoint", store_grpc.to_string()),
            ("--http-address", query_http.to_string()),
            ("--grpc-address", query_grpc.to_string()),
        ],
        &[],
    );
    // Both rendered endpoints became the one Store Gateway: keep it once.
    let mut seen_endpoint = false;
    let query_args: Vec<String> = query_args
        .into_iter()
        .filter(|arg| !arg.starts_with("--endpoint=") || !std::mem::replace(&mut seen_endpoint, true))
        .collect();
    let mut query = Process::start("thanos-query", &thanos, &query_args, &[], &logs).unwrap_or_else(|e| panic!("{e}"));

    // Two days inside the hourly block, well past the raw retention.
    let (from, to) = (hour_min / 1000 + DAY_SECONDS, hour_min / 1000 + 3 * DAY_SECONDS);
    assert!(to * 1000 <= hour_max, "the 1h block spans less than three days");
    let processes = &mut [&mut store, &mut query];
    let hourly_values = wait("Query's answer at 1h", processes, || values_at(query_http, from, to, "1h", "1h"));
    assert_eq!(hourly_values, BTreeSet::from(["50".to_owned()]), "hourly averages of 0 and 100");
    let five_minute_values = wait("Query's answer at 5m", processes, || values_at(query_http, from, to, "5m", "5m"));
    assert_eq!(five_minute_values, BTreeSet::from(["40".to_owned(), "60".to_owned()]), "5-minute averages");
    // The raw blocks are only marked for deletion (the compactor deletes them after a delay), so
    // the raw answer is still there to compare with.
    let raw_values = wait("Query's raw answer", processes, || values_at(query_http, from, to, "5m", "0s"));
    assert_eq!(raw_values, BTreeSet::from(["0".to_owned(), "100".to_owned()]), "raw samples");
}
