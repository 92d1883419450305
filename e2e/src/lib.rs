//! The harness of stackscope's end-to-end tests. They are black-box: they drive only built
//! binaries — `target/debug/stackscope`, and `helm`, `kubectl`, `kube-apiserver`... built from
//! pinned Go modules by `tools/build-tools.sh` — against a real control plane of their own
//! (`tools/control-plane.sh` with the state directory `~/.cache/stackscope/control-plane-e2e`,
//! which `make e2e` stops afterwards). Nothing is mocked, and the operator runs from the host
//! exactly as the chart's Deployment would run it: same arguments and environment, credentials
//! of the chart's ServiceAccount.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod kubelet;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The control plane's state directory: `STACKSCOPE_STATE`, else the end-to-end tests' own.
pub fn state_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("STACKSCOPE_STATE") {
        return PathBuf::from(state);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/stackscope/control-plane-e2e")
}

/// Where the tests leave the operator's logs and other artifacts: `target/e2e/`.
pub fn artifacts_dir() -> Result<PathBuf, String> {
    let dir = repo_root().join("target/e2e");
    std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    Ok(dir)
}

fn describe(program: &Path, args: &[&str]) -> String {
    let name = program.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{name} {}", args.join(" "))
}

/// Runs a program to completion: its stdout, or an error with its stderr.
pub fn run(program: &Path, args: &[&str], envs: &[(&str, &Path)], stdin: Option<&str>) -> Result<String, String> {
    let mut command = Command::new(program);
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().map_err(|error| format!("{}: {error}", describe(program, args)))?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes()).map_err(|error| format!("{}: stdin: {error}", describe(program, args)))?;
    }
    let output = child.wait_with_output().map_err(|error| format!("{}: {error}", describe(program, args)))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}):\n{}{}",
            describe(program, args),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The directory of a `tools/build-tools.sh` tool, built on first use.
pub fn tool_dir(name: &str) -> Result<PathBuf, String> {
    let output = run(&repo_root().join("tools/build-tools.sh"), &["--print-path", name], &[], None)?;
    let dir = output.lines().next().map(str::trim).unwrap_or_default();
    if dir.is_empty() {
        return Err(format!("tools/build-tools.sh printed no directory for {name}"));
    }
    Ok(PathBuf::from(dir))
}

/// `target/debug/stackscope`, built (once per test process) the way `make build` builds it.
pub fn stackscope_binary() -> Result<PathBuf, String> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("cargo"));
            let root = repo_root();
            let manifest = root.join("Cargo.toml");
            let manifest = manifest.to_string_lossy();
            run(&cargo, &["build", "--quiet", "--manifest-path", &manifest, "-p", "stackscope"], &[], None)?;
            let binary = root.join("target/debug/stackscope");
            if binary.is_file() { Ok(binary) } else { Err(format!("{} was not built", binary.display())) }
        })
        .clone()
}

/// Polls `probe` every 250 ms until it yields a value, fails, or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match probe() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            // A transient failure (e.g. the API server restarting a watch) is retried until the
            // deadline, and reported if it is the last thing seen.
            Err(error) => last_error = Some(error),
        }
        if Instant::now() >= deadline {
            let cause = last_error.map(|error| format!("; last error: {error}")).unwrap_or_default();
            return Err(format!("timed out after {timeout:?} waiting for {what}{cause}"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The control plane, with `kubectl` and `helm` pointed at it (admin credentials).
pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub helm: PathBuf,
    /// Helm's config, cache and data directories: the tests never read the user's.
    helm_home: PathBuf,
}

/// The group whose requests the end-to-end control plane audits.
const AUDITED_GROUP: &str = "system:serviceaccounts";

fn start_control_plane() -> Result<(PathBuf, PathBuf), String> {
    static PLANE: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    PLANE
        .get_or_init(|| {
            let state = state_dir();
            // Requests of ServiceAccounts (the operator runs as the chart's) are audited: refused
            // calls are read from the API server's own record, not from the operator's log.
            let audited = Path::new(AUDITED_GROUP);
            let exports = run(
                &repo_root().join("tools/control-plane.sh"),
                &["start"],
                &[("STACKSCOPE_STATE", &state), ("STACKSCOPE_AUDITED_GROUPS", audited)],
                None,
            )?;
            let value = |name: &str| {
                exports
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                    .map(|value| PathBuf::from(value.trim_matches('"')))
                    .ok_or(format!("control-plane.sh printed no {name}"))
            };
            Ok((value("KUBECONFIG")?, value("STACKSCOPE_CONTROL_PLANE_BIN")?))
        })
        .clone()
}

impl Cluster {
    /// Starts (or reuses) the end-to-end control plane and builds helm if needed.
    pub fn start(test: &str) -> Result<Self, String> {
        let (kubeconfig, bin) = start_control_plane()?;
        let helm = tool_dir("helm")?.join("helm");
        let helm_home = artifacts_dir()?.join(format!("{test}-helm-home"));
        std::fs::create_dir_all(&helm_home).map_err(|error| format!("{}: {error}", helm_home.display()))?;
        Ok(Self { kubeconfig, kubectl: bin.join("kubectl"), helm, helm_home })
    }

    /// `kubectl ARGS` with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        run(&self.kubectl, args, &[("KUBECONFIG", &self.kubeconfig)], None)
    }

    /// `kubectl ARGS` reading a manifest from stdin.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        run(&self.kubectl, args, &[("KUBECONFIG", &self.kubeconfig)], Some(stdin))
    }

    /// `kubectl ARGS -o json`, parsed; `None` when nothing was found (`--ignore-not-found`).
    pub fn get(&self, args: &[&str]) -> Result<Option<Value>, String> {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--ignore-not-found", "-o", "json"]);
        let text = self.kubectl(&all)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text).map(Some).map_err(|error| format!("kubectl {}: {error}", all.join(" ")))
    }

    /// The items of `kubectl get ARGS -o json` (a list).
    pub fn list(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        Ok(self.get(args)?.and_then(|list| list["items"].as_array().cloned()).unwrap_or_default())
    }

    /// `helm ARGS` against the control plane.
    pub fn helm(&self, args: &[&str]) -> Result<String, String> {
        let (config, cache, data) =
            (self.helm_home.join("config"), self.helm_home.join("cache"), self.helm_home.join("data"));
        let envs = [
            ("KUBECONFIG", self.kubeconfig.as_path()),
            ("HELM_CONFIG_HOME", config.as_path()),
            ("HELM_CACHE_HOME", cache.as_path()),
            ("HELM_DATA_HOME", data.as_path()),
        ];
        run(&self.helm, args, &envs, None)
    }

    /// `kubectl auth can-i VERB RESOURCE [flags]` as a user: whether the API server allows it.
    pub fn can_i(&self, user: &str, args: &[&str]) -> Result<bool, String> {
        let mut all = vec!["auth", "can-i", "--as", user];
        all.extend_from_slice(args);
        let output = Command::new(&self.kubectl)
            .args(&all)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .map_err(|error| format!("kubectl {}: {error}", all.join(" ")))?;
        // Exit 0 and "yes", or exit 1 and "no"; anything else is an error.
        match String::from_utf8_lossy(&output.stdout).trim() {
            "yes" => Ok(true),
            "no" => Ok(false),
            other => Err(format!(
                "kubectl {}: unexpected answer {other:?}: {}",
                all.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )),
        }
    }

    /// Deletes a namespace (if a previous run left it) and waits until it is gone; stacks left
    /// with a finalizer and no operator are released first.
    pub fn remove_namespace(&self, name: &str) -> Result<(), String> {
        if self.get(&["namespace", name])?.is_none() {
            return Ok(());
        }
        for stack in self.list(&["observabilitystacks", "-n", name])? {
            let stack_name = stack["metadata"]["name"].as_str().unwrap_or_default();
            self.kubectl(&[
                "patch",
                "observabilitystack",
                stack_name,
                "-n",
                name,
                "--type",
                "merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ])?;
        }
        self.kubectl(&["delete", "namespace", name, "--wait=false", "--ignore-not-found"])?;
        wait_for(&format!("namespace {name} to be deleted"), Duration::from_secs(120), || {
            Ok(self.get(&["namespace", name])?.is_none().then_some(()))
        })
    }

    /// Edits a ConfigMap's key as a person with `kubectl patch` would: the drift the operator
    /// must see.
    pub fn edit_config_map_by_hand(&self, namespace: &str, name: &str, key: &str) -> Result<(), String> {
        let edit = serde_json::json!({"data": {key: "# edited by hand\n"}}).to_string();
        self.kubectl(&["patch", "configmap", name, "-n", namespace, "--type", "merge", "-p", &edit]).map(drop)
    }

    /// Creates a namespace with labels.
    pub fn create_namespace(&self, name: &str, labels: &[(&str, &str)]) -> Result<(), String> {
        self.kubectl(&["create", "namespace", name])?;
        for (key, value) in labels {
            self.kubectl(&["label", "namespace", name, &format!("{key}={value}")])?;
        }
        Ok(())
    }

    /// A kubeconfig for the control plane whose credentials are a fresh token of a
    /// ServiceAccount (TokenRequest, `kubectl create token`).
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str, path: &Path) -> Result<PathBuf, String> {
        let token = self.kubectl(&["create", "token", name, "-n", namespace, "--duration", "2h"])?;
        let config = self.kubectl(&["config", "view", "--raw", "--minify", "-o", "json"])?;
        let config: Value = serde_json::from_str(&config).map_err(|error| format!("kubeconfig: {error}"))?;
        let cluster = &config["clusters"][0]["cluster"];
        let (Some(server), Some(ca)) = (cluster["server"].as_str(), cluster["certificate-authority-data"].as_str())
        else {
            return Err("the admin kubeconfig names no server or CA".to_owned());
        };
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority-data": ca}}],
            "users": [{"name": user, "user": {"token": token.trim()}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user, "namespace": namespace}}],
            "current-context": "e2e",
        });
        // kubeconfig files are YAML, and JSON is YAML.
        std::fs::write(path, kubeconfig.to_string()).map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(path.to_owned())
    }
}

/// A condition's status (`"True"`, `"False"`) of an object's `status.conditions`.
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a str> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)?["status"].as_str()
}

/// The first container of a Deployment's pod template.
pub fn first_container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

/// The operator, run from the host as the chart's Deployment would run it; stopped on drop.
pub struct HostOperator {
    child: Child,
    pub log: PathBuf,
    pub port: u16,
    /// The `POD_NAME` it was given (its Lease identity), if the Deployment asks for one.
    pub pod_name: String,
    /// The user it acts as, when it is a ServiceAccount (whose requests the API server audits).
    identity: Option<String>,
}

/// The user of a kubeconfig written by [`Cluster::service_account_kubeconfig`] (JSON); `None`
/// for another kubeconfig (the admin's).
fn service_account_of(kubeconfig: &Path) -> Option<String> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    let user = config["users"][0]["name"].as_str()?;
    user.starts_with("system:serviceaccount:").then(|| user.to_owned())
}

impl HostOperator {
    /// Starts `target/debug/stackscope` with the container's arguments and environment of a
    /// Deployment: `--listen` moved to a free loopback port, downward-API fields filled in as
    /// the kubelet would (`pod_name`), the kubeconfig given (a ServiceAccount's). `RUST_LOG`
    /// adds stackscope's debug lines, where a refused watch shows.
    pub fn start(deployment: &Value, kubeconfig: &Path, pod_name: &str, log: &Path) -> Result<Self, String> {
        let binary = stackscope_binary()?;
        let container = first_container(deployment);
        let port = free_port()?;
        let args: Vec<String> = container["args"]
            .as_array()
            .ok_or("the Deployment's container has no args")?
            .iter()
            .map(|arg| arg.as_str().unwrap_or_default().to_owned())
            .map(|arg| if arg.starts_with("--listen=") { format!("--listen=127.0.0.1:{port}") } else { arg })
            .collect();
        let namespace = deployment["metadata"]["namespace"].as_str().unwrap_or_default();
        let mut command = Command::new(&binary);
        command.args(&args).env_clear().env("KUBECONFIG", kubeconfig);
        for variable in container["env"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap_or_default();
            let value = match (variable["value"].as_str(), variable["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
                (Some(value), _) => value.to_owned(),
                (None, Some("metadata.name")) => pod_name.to_owned(),
                (None, Some("metadata.namespace")) => namespace.to_owned(),
                (None, other) => return Err(format!("env {name}: unsupported source {other:?}")),
            };
            command.env(name, value);
        }
        command.env("RUST_LOG", "info,stackscope=debug");
        let file = std::fs::File::create(log).map_err(|error| format!("{}: {error}", log.display()))?;
        let stderr = file.try_clone().map_err(|error| error.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|error| format!("{}: {error}", binary.display()))?;
        let identity = service_account_of(kubeconfig);
        let mut operator = Self { child, log: log.to_owned(), port, pod_name: pod_name.to_owned(), identity };
        wait_for("the operator's /ready", Duration::from_secs(60), || {
            if let Some(status) = operator.exit_status() {
                return Err(format!("the operator exited ({status}):\n{}", operator.log_text()));
            }
            Ok(matches!(operator.http_get("/ready"), Ok((200, _))).then_some(()))
        })
        .map_err(|error| format!("{error}\n{}", operator.log_text()))?;
        Ok(operator)
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `GET path` on the operator's own server: status code and body.
    pub fn http_get(&self, path: &str) -> Result<(u16, String), String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|error| error.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|error| error.to_string())?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .map_err(|error| error.to_string())?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(|error| error.to_string())?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no HTTP status in {response:?}"))?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The calls of the operator the API server refused (403 Forbidden), read from the API
    /// server's audit log as `verb resource namespace/name`. An operator acting as the admin, or
    /// an audit log with no request of the operator's at all, is an error: nothing to conclude.
    pub fn refused_calls(&self) -> Result<Vec<String>, String> {
        let identity = self.identity.as_deref().ok_or("the operator acts as the admin: its calls are not audited")?;
        let path = state_dir().join("logs/audit.log");
        let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        let mut seen = 0;
        let mut refused = Vec::new();
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
            if event["user"]["username"] != identity {
                continue;
            }
            seen += 1;
            if event["responseStatus"]["code"] == 403 {
                let object = &event["objectRef"];
                refused.push(format!(
                    "{} {} {}/{}",
                    event["verb"].as_str().unwrap_or("?"),
                    object["resource"].as_str().unwrap_or("?"),
                    object["namespace"].as_str().unwrap_or(""),
                    object["name"].as_str().unwrap_or("")
                ));
            }
        }
        if seen == 0 {
            return Err(format!("{} holds no request of {identity}", path.display()));
        }
        Ok(refused)
    }

    /// Where to look when it did not do what was expected: the log, and the first refused calls.
    pub fn diagnosis(&self) -> String {
        let refused = match self.refused_calls() {
            Ok(refused) => format!(
                "{} refused calls: {}",
                refused.len(),
                refused.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ),
            Err(error) => format!("refused calls unknown: {error}"),
        };
        format!("operator log: {} ({refused})", self.log.display())
    }

    /// Fails with the refused calls, if there were any.
    pub fn assert_nothing_refused(&self) -> Result<(), String> {
        let refused = self.refused_calls()?;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(format!("the API server refused {} call(s) of the operator:\n{}", refused.len(), refused.join("\n")))
        }
    }

    /// A metric of its `/metrics`, summed over the samples whose labels pass `keep` (the text
    /// between the braces, e.g. `reason="apply"`). A metric that is not exported is an error,
    /// never a zero.
    pub fn metric(&self, name: &str, keep: impl Fn(&str) -> bool) -> Result<f64, String> {
        let (_, body) = self.http_get("/metrics")?;
        if !body.lines().any(|line| line.starts_with(&format!("# TYPE {name} "))) {
            return Err(format!("the operator exports no metric {name}"));
        }
        Ok(body
            .lines()
            .filter_map(|line| line.strip_prefix(name))
            .filter_map(|rest| {
                let (labels, value) = match rest.strip_prefix('{') {
                    Some(labelled) => labelled.split_once("} ")?,
                    None => ("", rest.strip_prefix(' ')?),
                };
                keep(labels).then(|| value.trim().parse::<f64>().ok()).flatten()
            })
            .sum())
    }

    /// Failed reconciles, except those kube's finalizer helper causes when its cached stack is
    /// a step behind (its JSON patch tests the cached finalizers; the API server answers 422 or
    /// 404 and the reconcile is retried): any other reason (apply, status, probes, dereference)
    /// is a real failure.
    pub fn reconcile_errors(&self) -> Result<f64, String> {
        self.metric("stackscope_reconcile_errors_total", |labels| labels != r#"reason="finalizer""#)
    }

    /// Stops it with SIGTERM (it releases its lease) and waits for it to exit.
    pub fn stop(mut self) -> Result<(), String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err("the operator did not stop within 30 s of SIGTERM".to_owned())
    }
}

impl Drop for HostOperator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A TCP port on loopback that nothing listens on.
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}
