//! `make bench-live`: how long a ServiceMonitor change takes to become an active scrape target in
//! the running stack of `make run` (the local node): the apply, the operator's ConfigMap carrying
//! it, the kubelet refreshing the pod's configuration volume, the config reloader reloading
//! Prometheus, the target discovered and active. Both stages are timed per change; the results go
//! to `bench/results/live-<short commit>.json`.
//!
//! Needs `make run` first (its node, stack and stand-ins running); it changes nothing else there
//! and removes its ServiceMonitor at the end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use stackscope_bench::measured::{commit, machine, percentile};
use stackscope_tests::cluster::client;
use stackscope_tests::http::asynchronous as http;
use stackscope_tests::node::{Node, service_address};
use stackscope_tests::repo_root;

const STACK_NAMESPACE: &str = "observability";
const APPS_NAMESPACE: &str = "machineavatars";
const PROMETHEUS: &str = "machineavatars-prometheus";
const MONITOR: &str = "bench-latency";
const MANAGER: &str = "stackscope-bench";

/// Change-to-active-target latency on the live stack of `make run`.
#[derive(Parser, Debug)]
#[command(name = "live-latency")]
struct Arguments {
    /// Changes timed.
    #[arg(long, default_value_t = 10)]
    changes: usize,
    /// Seconds one change may take before the run fails.
    #[arg(long, default_value_t = 300)]
    timeout_seconds: u64,
    /// State directory of `make run`'s node.
    #[arg(long, env = "STACKSCOPE_STATE")]
    state: Option<PathBuf>,
}

/// The monitor whose one relabeling writes `marker` into a label of its targets.
fn monitor(marker: &str) -> Value {
    json!({
        "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
        "metadata": {"name": MONITOR, "namespace": APPS_NAMESPACE, "labels": {"platform": "machineavatars"}},
        "spec": {
            "selector": {"matchLabels": {"app": "llm-service"}},
            "endpoints": [{
                "port": "http", "path": "/metrics", "interval": "15s",
                "relabelings": [{"sourceLabels": ["__address__"], "regex": "(.*)", "targetLabel": "bench_change",
                                 "replacement": marker}],
            }],
        },
    })
}

/// Milliseconds from the apply until the config carried the marker, and until a target with it
/// was active.
async fn time_change(
    client: &Client,
    prometheus: SocketAddr,
    marker: &str,
    timeout: Duration,
) -> Result<(u64, u64), String> {
    let monitors: Api<stackscope::api::ServiceMonitor> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), STACK_NAMESPACE);
    let applied = Instant::now();
    monitors
        .patch(MONITOR, &PatchParams::apply(MANAGER).force(), &Patch::Apply(monitor(marker)))
        .await
        .map_err(|error| format!("apply {MONITOR}: {error}"))?;
    let mut to_config = None;
    loop {
        if to_config.is_none() {
            let config = config_maps.get(PROMETHEUS).await.map_err(|error| error.to_string())?;
            if config.data.iter().flat_map(|data| data.values()).any(|text| text.contains(marker)) {
                to_config = Some(applied.elapsed());
            }
        }
        let targets = http::api(prometheus, "/api/v1/targets?state=active").await.unwrap_or_default();
        let active =
            targets["activeTargets"].as_array().into_iter().flatten().any(|t| t["labels"]["bench_change"] == marker);
        if let (true, Some(config)) = (active, to_config) {
            return Ok((millis(config), millis(applied.elapsed())));
        }
        if applied.elapsed() > timeout {
            return Err(format!("change {marker}: no active target within {timeout:?} (config: {to_config:?})"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn summary(mut samples: Vec<u64>) -> Value {
    samples.sort_unstable();
    json!({"p50": percentile(&samples, 50.0), "p90": percentile(&samples, 90.0), "max": samples.last()})
}

async fn run(arguments: Arguments) -> Result<PathBuf, String> {
    let repo = repo_root();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let state = arguments.state.unwrap_or_else(|| home.join(".cache/stackscope/control-plane"));
    let node = Node::running(&state).map_err(|error| format!("no node running (run make run first): {error}"))?;
    let client = client(&node.plane, None).await?;
    let prometheus = service_address(&client, STACK_NAMESPACE, PROMETHEUS, "http")
        .await
        .map_err(|error| format!("{error} (is make run's stack up?)"))?;
    let measured = commit(&repo);
    let timeout = Duration::from_secs(arguments.timeout_seconds);
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default();
    let mut samples = Vec::new();
    for index in 0..arguments.changes {
        let marker = format!("{started}-{index}");
        let (to_config, to_target) = time_change(&client, prometheus, &marker, timeout).await?;
        eprintln!("live-latency: change {index}: config {to_config} ms, active target {to_target} ms");
        samples.push((to_config, to_target));
    }
    let monitors: Api<stackscope::api::ServiceMonitor> = Api::namespaced(client.clone(), APPS_NAMESPACE);
    let _ = monitors.delete(MONITOR, &DeleteParams::default()).await;
    let document = json!({
        "what": "ServiceMonitor change -> operator's ConfigMap -> active Prometheus target, on make run's node",
        "commit": measured,
        "machine": machine(&repo),
        "changes": samples.len(),
        "to_config_ms": summary(samples.iter().map(|sample| sample.0).collect()),
        "to_active_target_ms": summary(samples.iter().map(|sample| sample.1).collect()),
        "samples": samples.iter().map(|(config, target)| json!({"to_config_ms": config, "to_active_target_ms": target})).collect::<Vec<_>>(),
    });
    let path = repo.join(format!("bench/results/live-{}.json", measured.short));
    let text = serde_json::to_string_pretty(&document).map_err(|error| error.to_string())?;
    std::fs::write(&path, text + "\n").map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(path)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Arguments::parse()).await {
        Ok(path) => {
            eprintln!("live-latency: wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("live-latency: {error}");
            ExitCode::FAILURE
        }
    }
}
