//! The self-monitoring alerts read metrics the components really export: the pinned Prometheus
//! (loading the rendered `self-monitoring.yml`), Alertmanager and Thanos compactor run on
//! loopback, and every series a rule selects is on their `/metrics` with the labels the rule
//! groups by. (Loki may not be run here, its licence; its `loki_discarded_samples_total{reason,
//! tenant}` is Loki 3.5's `validation.DiscardedSamples`.) `promtool test rules` then proves the
//! rules fire from these names (`stackscope_tests::rule_tests`, `tests/tests/alert_behaviour.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use stackscope::render::Component;
use stackscope::render::rules::SELF_MONITORING_FILE;
use stackscope_tests::process::Process;
use stackscope_tests::{Rendered, http, loopback_address, promql, tools};

const TIMEOUT: Duration = Duration::from_secs(120);

fn start(name: &str, tool: &str, binary: &str, args: Vec<String>, dir: &Path) -> Process {
    let program = tools::binary(tool, binary).unwrap_or_else(|error| panic!("{error}"));
    Process::start(name, &program, &args, &[], dir).unwrap_or_else(|error| panic!("{error}"))
}

/// The label names of every series of a `/metrics` page, by metric name.
fn exported(page: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut metrics: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in page.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = metrics.entry(line[..name_end].to_owned()).or_default();
        if let Some(inside) = line[name_end..].strip_prefix('{').and_then(|rest| rest.split_once('}')) {
            labels.extend(inside.0.split(',').filter_map(|pair| pair.split_once('=')).map(|(n, _)| n.to_owned()));
        }
    }
    metrics
}

/// Waits until the program's `/metrics` exports every one of `wanted`, and returns what it does.
fn metrics_of(process: &mut Process, address: SocketAddr, wanted: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(answer) = http::get(address, "/metrics")
            && answer.status == 200
        {
            let metrics = exported(&answer.body);
            if wanted.iter().all(|name| metrics.contains_key(*name)) {
                return metrics;
            }
            if Instant::now() >= deadline {
                let missing: Vec<_> = wanted.iter().filter(|name| !metrics.contains_key(**name)).collect();
                panic!("{missing:?} not exported at {address}\n{}", process.diagnosis());
            }
        }
        assert!(process.state() == "running" && Instant::now() < deadline, "{}", process.diagnosis());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `sum by (a, b) (...)`: the labels an expression groups by.
fn grouped_by(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for part in expr.split(" by (").skip(1) {
        if let Some((list, _)) = part.split_once(')') {
            labels.extend(list.split(',').map(|label| label.trim().to_owned()));
        }
    }
    labels
}

#[test]
fn every_self_monitoring_rule_reads_metrics_the_components_export() {
    let rendered = Rendered::example().unwrap_or_else(|error| panic!("{error}"));
    let rules_text = rendered.file(Component::Rules, SELF_MONITORING_FILE).unwrap_or_else(|e| panic!("{e}"));
    let rules: serde_json::Value = serde_saphyr::from_str(rules_text).unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let dir = work.path();

    // Prometheus loading the rendered self-monitoring rules.
    let rules_file = dir.join(SELF_MONITORING_FILE);
    std::fs::write(&rules_file, rules_text).unwrap_or_else(|error| panic!("{error}"));
    let config = serde_json::json!({
        "global": {"evaluation_interval": "1s"},
        "rule_files": [rules_file.display().to_string()],
    });
    std::fs::write(dir.join("prometheus.yml"), config.to_string()).unwrap_or_else(|error| panic!("{error}"));
    let prometheus_address = loopback_address();
    let mut prometheus = start(
        "prometheus",
        "prometheus",
        "prometheus",
        vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("prometheus-data").display()),
            format!("--web.listen-address={prometheus_address}"),
        ],
        dir,
    );

    let alertmanager_config = serde_json::json!({
        "route": {"receiver": "null"},
        "receivers": [{"name": "null"}],
    });
    std::fs::write(dir.join("alertmanager.yml"), alertmanager_config.to_string())
        .unwrap_or_else(|error| panic!("{error}"));
    let alertmanager_address = loopback_address();
    let mut alertmanager = start(
        "alertmanager",
        "alertmanager",
        "alertmanager",
        vec![
            format!("--config.file={}", dir.join("alertmanager.yml").display()),
            format!("--storage.path={}", dir.join("alertmanager-data").display()),
            format!("--web.listen-address={alertmanager_address}"),
            "--cluster.listen-address=".to_owned(),
        ],
        dir,
    );

    // The compactor over a bucket on the filesystem, waiting for blocks.
    let objstore = format!("type: FILESYSTEM\nconfig:\n  directory: {}\n", dir.join("bucket").display());
    std::fs::write(dir.join("objstore.yml"), objstore).unwrap_or_else(|error| panic!("{error}"));
    let compactor_address = loopback_address();
    let mut compactor = start(
        "thanos-compact",
        "thanos",
        "thanos",
        vec![
            "compact".to_owned(),
            "--wait".to_owned(),
            format!("--data-dir={}", dir.join("compact").display()),
            format!("--objstore.config-file={}", dir.join("objstore.yml").display()),
            format!("--http-address={compactor_address}"),
        ],
        dir,
    );

    let mut exported = metrics_of(
        &mut prometheus,
        prometheus_address,
        &["prometheus_config_last_reload_successful", "prometheus_rule_evaluation_failures_total"],
    );
    exported.extend(metrics_of(
        &mut alertmanager,
        alertmanager_address,
        &[
            "alertmanager_config_last_reload_successful",
            "alertmanager_notifications_total",
            "alertmanager_notifications_failed_total",
        ],
    ));
    exported.extend(metrics_of(&mut compactor, compactor_address, &["thanos_compact_halted"]));

    let mut problems = Vec::new();
    let mut judged = 0;
    for rule in rules["groups"][0]["rules"].as_array().into_iter().flatten() {
        let alert = rule["alert"].as_str().unwrap_or_default();
        let expr = rule["expr"].as_str().unwrap_or_default();
        for metric in promql::selected_metrics(expr).into_iter().chain(
            expr.split(['(', ')', ' '])
                .filter(|word| word.ends_with("_successful") || word.ends_with("_halted"))
                .map(str::to_owned),
        ) {
            if metric.starts_with("loki_") {
                continue;
            }
            judged += 1;
            match exported.get(&metric) {
                None => problems.push(format!("{alert}: {metric} is exported by none of the components")),
                Some(labels) => {
                    // `namespace` and `pod` come from the scrape's relabeling, not the program.
                    let missing: Vec<String> = grouped_by(expr)
                        .into_iter()
                        .filter(|label| !["namespace", "pod"].contains(&label.as_str()) && !labels.contains(label))
                        .collect();
                    if !missing.is_empty() {
                        problems.push(format!("{alert}: {metric} has no label {missing:?} (it has {labels:?})"));
                    }
                }
            }
        }
    }
    assert!(judged >= 6, "only {judged} metric references judged");
    // The check tells names apart: near misses of the rules' names are not exported.
    for near_miss in
        ["thanos_compactor_halted", "alertmanager_notifications_failed", "prometheus_rule_evaluation_failures"]
    {
        assert!(!exported.contains_key(near_miss), "{near_miss} should not be exported");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
