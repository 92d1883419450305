//! stackscope's image has two recipes with one content: `tools/images.sh` writes it without a
//! container engine, the repository's `Dockerfile` builds it with one. The Dockerfile stages its
//! files with `tools/images.sh rootfs` of the same tag, and its final stage declares exactly the
//! configuration `tools/images.sh config` gives that image.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};
use stackscope_tests::repo_root;

fn images_sh(args: &[&str]) -> String {
    let output = Command::new(repo_root().join("tools/images.sh"))
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run tools/images.sh: {error}"));
    assert!(output.status.success(), "tools/images.sh {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The Dockerfile's instructions (continuation lines joined, comments dropped), each as
/// (keyword, arguments), split into stages at each FROM.
fn stages(dockerfile: &str) -> Vec<Vec<(String, String)>> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for instruction in instructions {
        let (keyword, arguments) = instruction.split_once(' ').unwrap_or((&instruction, ""));
        let keyword = keyword.to_uppercase();
        if keyword == "FROM" {
            stages.push(Vec::new());
        }
        let stage = stages.last_mut().unwrap_or_else(|| panic!("an instruction before the first FROM: {instruction}"));
        stage.push((keyword, arguments.trim().to_owned()));
    }
    stages
}

/// `key="value" key2="value2"` of a LABEL instruction.
fn labels(arguments: &str) -> BTreeMap<String, String> {
    let pattern = regex::Regex::new(r#"([A-Za-z0-9._-]+)="([^"]*)""#).unwrap_or_else(|error| panic!("{error}"));
    pattern.captures_iter(arguments).map(|c| (c[1].to_owned(), c[2].to_owned())).collect()
}

#[test]
fn the_dockerfile_builds_the_image_tools_images_sh_writes() {
    let listed = images_sh(&["list"]);
    let tag = listed
        .lines()
        .find_map(|line| line.split_once('\t').filter(|(_, tool)| *tool == "stackscope").map(|(tag, _)| tag.to_owned()))
        .unwrap_or_else(|| panic!("tools/images.sh lists no stackscope image:\n{listed}"));
    let config: Value = serde_json::from_str(&images_sh(&["config", &tag]))
        .unwrap_or_else(|error| panic!("tools/images.sh config {tag}: {error}"));
    let config = &config["config"];

    let dockerfile =
        std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap_or_else(|e| panic!("Dockerfile: {e}"));
    let stages = stages(&dockerfile);
    let [build, image] = stages.as_slice() else { panic!("expected a build stage and the image's, got {stages:?}") };

    // The build stage stages the files of the same image with the same function.
    let runs: Vec<&str> = build.iter().filter(|(k, _)| k == "RUN").map(|(_, a)| a.as_str()).collect();
    let staged = runs.iter().any(|run| {
        let words: Vec<&str> = run.split_whitespace().collect();
        words.windows(3).any(|w| w[0] == "tools/images.sh" && w[1] == "rootfs" && w[2] == tag)
    });
    assert!(staged, "the build stage does not run `tools/images.sh rootfs {tag}`: {runs:?}");

    let image: BTreeMap<&str, Vec<&str>> = image.iter().fold(BTreeMap::new(), |mut map, (keyword, arguments)| {
        map.entry(keyword.as_str()).or_default().push(arguments.as_str());
        map
    });
    let one = |keyword: &str| -> &str {
        match image.get(keyword).map(Vec::as_slice) {
            Some([arguments]) => arguments,
            other => panic!("the image's stage has {other:?} for {keyword}, expected one"),
        }
    };
    assert_eq!(one("FROM"), "scratch");
    assert_eq!(one("COPY"), "--from=build /rootfs/ /");
    assert_eq!(json!(one("USER")), config["User"]);
    assert_eq!(json!(one("WORKDIR")), config["WorkingDir"]);
    let entrypoint: Value = serde_json::from_str(one("ENTRYPOINT")).unwrap_or_else(|e| panic!("ENTRYPOINT: {e}"));
    assert_eq!(entrypoint, config["Entrypoint"]);
    let cmd: Value = serde_json::from_str(one("CMD")).unwrap_or_else(|e| panic!("CMD: {e}"));
    assert_eq!(cmd, config["Cmd"]);
    let ports: Value = one("EXPOSE").split_whitespace().map(|port| (port.to_owned(), json!({}))).collect();
    assert_eq!(ports, config["ExposedPorts"]);
    let env: Vec<String> = one("ENV").split_whitespace().map(str::to_owned).collect();
    assert_eq!(json!(env), config["Env"]);
    assert_eq!(json!(labels(one("LABEL"))), config["Labels"]);
}
