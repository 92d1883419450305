//! Large output: a stack of 50k monitors renders into objects that each fit the API server's
//! limit, with nothing lost, and promtool loads the sharded layout as the pod mounts it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use stackscope::render::prometheus::{CONFIG_DIR, CONFIG_FILE, RULES_DIR};
use stackscope::render::{RenderedObject, render_stack};
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;

/// The API server's limit on a ConfigMap's data, and near etcd's on a whole request.
const OBJECT_LIMIT: usize = 1024 * 1024;

fn render(count: usize) -> Vec<RenderedObject> {
    render_stack(&ResolvedStack::new(&fixtures::stack("monitoring"), &fixtures::service_monitors(count))).unwrap()
}

/// `ConfigMap name → files`, of every rendered ConfigMap.
fn config_maps(rendered: &[RenderedObject]) -> BTreeMap<String, BTreeMap<String, String>> {
    rendered
        .iter()
        .filter(|item| item.object.types.as_ref().is_some_and(|types| types.kind == "ConfigMap"))
        .map(|item| {
            let files = item.object.data["data"]
                .as_object()
                .map(|data| data.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                .unwrap_or_default();
            (item.object.metadata.name.clone().unwrap(), files)
        })
        .collect()
}

/// The ConfigMaps a volume of the Prometheus StatefulSet mounts.
fn mounted(rendered: &[RenderedObject], volume: &str) -> Vec<String> {
    let statefulset = rendered
        .iter()
        .find(|item| {
            item.object.types.as_ref().is_some_and(|t| t.kind == "StatefulSet")
                && item.object.metadata.name.as_deref() == Some("bench-prometheus")
        })
        .unwrap();
    let volumes = statefulset.object.data.pointer("/spec/template/spec/volumes").and_then(Value::as_array).unwrap();
    let volume = volumes.iter().find(|v| v["name"] == volume).unwrap();
    if let Some(name) = volume.pointer("/configMap/name").and_then(Value::as_str) {
        return vec![name.to_owned()];
    }
    volume
        .pointer("/projected/sources")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|source| source.pointer("/configMap/name").and_then(Value::as_str).unwrap().to_owned())
        .collect()
}

#[test]
fn every_object_of_a_50k_render_fits_and_nothing_is_lost() {
    let count = 50_000;
    let rendered = render(count);
    for item in &rendered {
        let size = serde_json::to_vec(&item.object).unwrap().len();
        assert!(size < OBJECT_LIMIT, "{:?} is {size} bytes", item.object.metadata.name);
    }
    let maps = config_maps(&rendered);

    // Every monitor's three jobs, once each, in the shards the config directory mounts.
    let config = mounted(&rendered, "config");
    assert!(config.len() > 2 && config.len().is_power_of_two() || (config.len() - 1).is_power_of_two());
    let main = &maps["bench-prometheus"][CONFIG_FILE];
    assert!(main.contains(&format!("scrape_config_files:\n- {CONFIG_DIR}/scrape-*.json")), "{main}");
    let mut jobs = BTreeSet::new();
    for name in &config[1..] {
        for (file, text) in &maps[name] {
            assert!(file.starts_with("scrape-") && file.ends_with(".json"));
            let shard: Value = serde_json::from_str(text).unwrap();
            for job in shard["scrape_configs"].as_array().unwrap() {
                assert!(jobs.insert(job["job_name"].as_str().unwrap().to_owned()), "{} twice", job["job_name"]);
            }
        }
    }
    assert_eq!(jobs.len(), count * 3);
    assert!(jobs.contains("serviceMonitor/bench-19/svc-49999/2"));

    // Every SLO service's group, in the rule ConfigMaps the rules directory mounts.
    let mut groups = BTreeSet::new();
    for name in mounted(&rendered, "rules") {
        for (file, text) in &maps[&name] {
            if file.starts_with("slo-") {
                let shard: Value = serde_json::from_str(text).unwrap();
                for group in shard["groups"].as_array().unwrap() {
                    let name = group["name"].as_str().unwrap().to_owned();
                    assert!(name.starts_with("slo-") || name.starts_with("application-"), "{name}");
                    assert!(groups.insert(name));
                }
            }
        }
    }
    assert_eq!(groups.iter().filter(|name| name.starts_with("slo-")).count(), count / fixtures::SLO_EVERY);

    // Every monitor's probe expectations.
    let expectations: usize = maps
        .iter()
        .filter(|(name, _)| name.starts_with("bench-probes-expectations-"))
        .flat_map(|(_, files)| files.values())
        .map(|text| serde_json::from_str::<Vec<Value>>(text).unwrap().len())
        .sum();
    assert_eq!(expectations, count);
}

#[test]
fn small_stacks_keep_the_single_config_map_layout() {
    let rendered = render(20);
    assert_eq!(mounted(&rendered, "config"), ["bench-prometheus"]);
    assert_eq!(mounted(&rendered, "rules"), ["bench-rules"]);
    assert!(!config_maps(&rendered)["bench-prometheus"][CONFIG_FILE].contains("scrape_config_files"));
}

/// The files of the mounted ConfigMaps of a volume, written where the container sees them.
fn lay_out(root: &Path, directory: &str, names: &[String], maps: &BTreeMap<String, BTreeMap<String, String>>) {
    let target = root.join(directory.trim_start_matches('/'));
    std::fs::create_dir_all(&target).unwrap();
    for name in names {
        for (file, text) in &maps[name] {
            std::fs::write(target.join(file), rebase(root, text)).unwrap();
        }
    }
}

/// Absolute paths of the pod moved under the temporary root (promtool opens the files).
fn rebase(root: &Path, text: &str) -> String {
    let root = root.to_string_lossy();
    ["/etc/prometheus/", "/var/run/secrets/kubernetes.io/serviceaccount/"]
        .iter()
        .fold(text.to_owned(), |text, prefix| text.replace(prefix, &format!("{root}{prefix}")))
}

#[test]
fn promtool_accepts_the_sharded_layout() {
    let promtool = stackscope_tests::tools::binary("prometheus", "promtool").unwrap();
    let rendered = render(1_000);
    let maps = config_maps(&rendered);
    let config = mounted(&rendered, "config");
    let rules = mounted(&rendered, "rules");
    assert!(config.len() > 1 && rules.len() > 1, "1k monitors shard: {config:?} {rules:?}");
    let root = tempfile::tempdir().unwrap();
    lay_out(root.path(), CONFIG_DIR, &config, &maps);
    lay_out(root.path(), RULES_DIR, &rules, &maps);
    let account = root.path().join("var/run/secrets/kubernetes.io/serviceaccount");
    std::fs::create_dir_all(&account).unwrap();
    for file in ["token", "ca.crt"] {
        std::fs::write(account.join(file), "placeholder\n").unwrap();
    }
    let path = root.path().join(CONFIG_DIR.trim_start_matches('/')).join(CONFIG_FILE);
    let output = std::process::Command::new(promtool)
        .args(["check", "config", "--lint=all", "--lint-fatal"])
        .arg(&path)
        .env("POD_NAME", "bench-prometheus-0")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    let rule_files: usize = rules.iter().map(|name| maps[name].keys().filter(|f| f.ends_with(".yml")).count()).sum();
    assert!(text.contains(&format!("SUCCESS: {rule_files} rule files found")), "{text}");
}

#[test]
fn the_render_cache_gives_the_fresh_render_after_changes() {
    let stack = fixtures::stack("monitoring");
    let mut resolved = ResolvedStack::new(&stack, &fixtures::service_monitors(1_000));
    let mut cache = stackscope::render::cache::RenderCache::new();
    let json = |rendered: &[RenderedObject]| {
        serde_json::to_string(&rendered.iter().map(|item| &item.object).collect::<Vec<_>>()).unwrap()
    };
    assert_eq!(json(&cache.render(&resolved).unwrap()), json(&render(1_000)));
    // One plain monitor, then one with an SLO (the rule files change too), then one removed.
    for (index, generation) in [(501, 2), (500, 2), (501, 3)] {
        let monitor = &mut resolved.monitors[index];
        monitor.revision = Some(format!("changed/{generation}"));
        monitor.spec.sample_limit = Some(generation);
        if let Some(slo) = monitor.spec.slo.as_mut() {
            slo.availability = 99.0;
        }
        assert_eq!(json(&cache.render(&resolved).unwrap()), json(&render_stack(&resolved).unwrap()));
        assert_eq!(cache.last_rendered_monitors(), 1);
    }
    resolved.monitors.remove(7);
    assert_eq!(json(&cache.render(&resolved).unwrap()), json(&render_stack(&resolved).unwrap()));
    assert_eq!(cache.last_rendered_monitors(), 0);
}
