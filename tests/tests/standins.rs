//! The stand-in services and the catchers of `tools/standins/` (built by `tools/build-tools.sh
//! standins`), judged by the real engines on loopback:
//!
//! - every stand-in answers `/health` and `/ready` with the observability document's shapes, as
//!   the operator's rendered JSON schemas describe them, and logs the document's JSON lines;
//! - a real Prometheus (exemplar storage and native histograms on) scrapes the RED series with a
//!   classic bucket at every latency threshold the rendered rules select and the document names,
//!   the native histogram beside them, and trace ids as exemplars;
//! - a real Jaeger v2 (in-memory storage) holds the trace of such an exemplar, across the gateway
//!   and the auth service it calls;
//! - `POST /control {"errorRate":0.25}` moves the failed/total ratio Prometheus computes to 0.25;
//! - a real Alertmanager running the operator's rendered configuration (only endpoints and secret
//!   paths adapted) delivers an alert to the Slack, PagerDuty and SMTP catchers, which return it,
//!   and the Watchdog to the dead man's switch alone.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::{Value, json};
use stackscope::api::LogLevel;
use stackscope::api::defaults::LOG_FIELDS;
use stackscope::render::{Component, alertmanager};
use stackscope_tests::http::{self, encode, prometheus_api, prometheus_query};
use stackscope_tests::process::Process;
use stackscope_tests::{Rendered, at, loopback_address, tools};

/// Deadline of every wait: generous, for a loaded two-core machine.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Prometheus' scrape and rule interval here, and the rate window of the error-ratio query.
const SCRAPE_INTERVAL: &str = "1s";
const RATE_WINDOW_SECONDS: u64 = 10;

fn example() -> Rendered {
    Rendered::example().unwrap_or_else(|error| panic!("the example does not render: {error}"))
}

/// The services of the example monitors (their SLOs name them).
fn example_services(rendered: &Rendered) -> Vec<String> {
    let services: Vec<String> = rendered
        .stack
        .monitors
        .iter()
        .filter_map(|monitor| monitor.spec.slo.as_ref().map(|slo| slo.service.clone().unwrap_or(monitor.name.clone())))
        .collect();
    assert_eq!(services.len(), 5, "the example monitors five services: {services:?}");
    services
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs_f64()).unwrap_or_default()
}

/// The programs of one test, in a temporary directory; every failure shows how each ended and
/// the end of its log.
struct Scene {
    work: tempfile::TempDir,
    processes: Vec<Process>,
}

impl Scene {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
        Self { work, processes: Vec::new() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn fail(&mut self, message: &str) -> ! {
        let diagnoses: Vec<String> = self.processes.iter_mut().map(Process::diagnosis).collect();
        panic!("{message}\n{}", diagnoses.join("\n"))
    }

    /// Polls `probe` every 200 ms until it yields a value; fails at the deadline, or at once when
    /// a program of the scene has ended.
    fn wait<T>(&mut self, what: &str, mut probe: impl FnMut() -> Result<Option<T>, String>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        let mut last_error = String::new();
        loop {
            match probe() {
                Ok(Some(value)) => return value,
                Ok(None) => {}
                Err(error) => last_error = error,
            }
            if let Some(ended) = self.processes.iter_mut().map(Process::state).find(|state| state != "running") {
                self.fail(&format!("waiting for {what}: a program {ended}"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {TIMEOUT:?} waiting for {what}; last error: {last_error}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start(&mut self, name: &str, tool: &str, binary: &str, args: Vec<String>, envs: &[(&str, String)]) {
        let program = tools::binary(tool, binary).unwrap_or_else(|error| panic!("{error}"));
        let process =
            Process::start(name, &program, &args, envs, self.work.path()).unwrap_or_else(|error| panic!("{error}"));
        self.processes.push(process);
    }

    /// A file of the scene's directory, written.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{}: {error}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        path
    }

    /// Waits until `GET path` answers 200.
    fn wait_ready(&mut self, what: &str, address: SocketAddr, path: &str) {
        self.wait(&format!("{what} to answer {path}"), || {
            Ok(http::get(address, path).ok().filter(|answer| answer.status == 200).map(|_| ()))
        });
    }

    /// A stand-in for `service` on a free loopback port; its log is `standin-<service>.log`.
    fn standin(&mut self, service: &str, extra: &[&str], envs: &[(&str, String)]) -> SocketAddr {
        let address = loopback_address();
        let mut args = vec![format!("--service={service}"), format!("--listen={address}")];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        self.start(&format!("standin-{service}"), "standins", "standin", args, envs);
        self.wait_ready(&format!("the {service} stand-in"), address, "/health");
        address
    }

    /// The catcher: its HTTP and SMTP addresses.
    fn catcher(&mut self) -> (SocketAddr, SocketAddr) {
        let (web, smtp) = (loopback_address(), loopback_address());
        let args = vec![format!("--listen={web}"), format!("--smtp-listen={smtp}")];
        self.start("catcher", "standins", "catcher", args, &[]);
        self.wait_ready("the catcher", web, "/ready");
        (web, smtp)
    }

    /// Jaeger v2 with in-memory storage, OTLP/HTTP in and the query API on loopback: the OTLP and
    /// query addresses.
    fn jaeger(&mut self) -> (SocketAddr, SocketAddr) {
        let (otlp, query, query_grpc) = (loopback_address(), loopback_address(), loopback_address());
        // JSON is YAML: the configuration is built as a value, not as text.
        let config = json!({
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query"],
                "pipelines": {"traces": {
                    "receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]
                }},
                // No telemetry server: its default port would collide with other tests.
                "telemetry": {"metrics": {"level": "none"}},
            },
            "extensions": {
                "jaeger_storage": {"backends": {"memstore": {"memory": {"max_traces": 100000}}}},
                "jaeger_query": {
                    "storage": {"traces": "memstore"},
                    "http": {"endpoint": query.to_string()},
                    "grpc": {"endpoint": query_grpc.to_string()},
                },
            },
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": otlp.to_string()}}}},
            "processors": {"batch": {"timeout": "200ms"}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
        });
        let path = self.write("jaeger.yaml", &config.to_string());
        self.start("jaeger", "jaeger", "jaeger", vec![format!("--config=file:{}", path.display())], &[]);
        self.wait_ready("Jaeger", query, "/api/services");
        (otlp, query)
    }

    /// Prometheus scraping `target` every second, with exemplar storage and native histograms
    /// (the classic buckets kept beside them).
    fn prometheus(&mut self, target: SocketAddr) -> SocketAddr {
        let address = loopback_address();
        let config = json!({
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": [{
                "job_name": "standin",
                "always_scrape_classic_histograms": true,
                "static_configs": [{"targets": [target.to_string()]}],
            }],
        });
        let path = self.write("prometheus.yml", &config.to_string());
        let args = vec![
            format!("--config.file={}", path.display()),
            format!("--storage.tsdb.path={}", self.path("prometheus-data").display()),
            format!("--web.listen-address={address}"),
            "--enable-feature=exemplar-storage,native-histograms".to_owned(),
        ];
        self.start("prometheus", "prometheus", "prometheus", args, &[]);
        self.wait_ready("Prometheus", address, "/-/ready");
        address
    }

    /// Alertmanager running `config` (no cluster): its API address.
    fn alertmanager(&mut self, config: &Value) -> SocketAddr {
        let address = loopback_address();
        let path = self.write("alertmanager.yml", &config.to_string());
        let args = vec![
            format!("--config.file={}", path.display()),
            format!("--storage.path={}", self.path("alertmanager-data").display()),
            format!("--web.listen-address={address}"),
            "--cluster.listen-address=".to_owned(),
        ];
        self.start("alertmanager", "alertmanager", "alertmanager", args, &[]);
        self.wait_ready("Alertmanager", address, "/-/ready");
        address
    }
}

/// Checks a JSON object against one of the operator's response schemas: exactly the required
/// properties (the document's shape has no others), each of the schema's type and enum.
fn check_schema(object: &Value, schema: &Value) -> Result<(), String> {
    let required: BTreeSet<&str> =
        at(schema, "required")?.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let keys: BTreeSet<&str> = object.as_object().ok_or("not an object")?.keys().map(String::as_str).collect();
    if keys != required {
        return Err(format!("properties {keys:?}, the schema requires exactly {required:?}"));
    }
    for key in keys {
        let property = at(schema, &format!("properties/{key}"))?;
        let value = &object[key];
        let typed = match property["type"].as_str() {
            Some("string") => value.is_string(),
            Some("boolean") => value.is_boolean(),
            Some("object") => value.as_object().is_some_and(|map| {
                map.values().all(|inner| property["additionalProperties"]["type"] != "string" || inner.is_string())
            }),
            other => return Err(format!("{key}: schema type {other:?} not handled here")),
        };
        if !typed {
            return Err(format!("{key}: {value} is not of the schema's {property}"));
        }
        if let Some(allowed) = property["enum"].as_array()
            && !allowed.contains(value)
        {
            return Err(format!("{key}: {value} is not one of {allowed:?}"));
        }
    }
    Ok(())
}

#[test]
fn every_standin_answers_health_and_ready_and_logs_in_the_documents_shapes() {
    let rendered = example();
    let health_schema =
        rendered.yaml(Component::Probes, "health-response.schema.json").unwrap_or_else(|e| panic!("{e}"));
    let ready_schema = rendered.yaml(Component::Probes, "ready-response.schema.json").unwrap_or_else(|e| panic!("{e}"));
    let seconds = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap_or_else(|e| panic!("{e}"));
    let milliseconds = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").unwrap_or_else(|e| panic!("{e}"));
    let version = Regex::new(r"^v\d+\.\d+\.\d+$").unwrap_or_else(|e| panic!("{e}"));
    let trace_id = Regex::new(r"^[0-9a-f]{32}$").unwrap_or_else(|e| panic!("{e}"));
    let user = Regex::new(r"^User-\d{6}$").unwrap_or_else(|e| panic!("{e}"));
    let levels: BTreeSet<&str> = LogLevel::ALL.iter().map(|level| level.as_str()).collect();

    let mut scene = Scene::new();
    for service in example_services(&rendered) {
        let address = scene.standin(&service, &["--traffic-rate=20"], &[]);
        let check = |scene: &mut Scene, result: Result<(), String>| {
            if let Err(error) = result {
                scene.fail(&format!("{service}: {error}"));
            }
        };

        let health = http::get(address, "/health").and_then(|answer| answer.json());
        let health = health.unwrap_or_else(|error| scene.fail(&error));
        check(&mut scene, check_schema(&health, &health_schema).map_err(|e| format!("/health {health}: {e}")));
        let healthy = (health["status"] == "healthy", health["service"] == service.as_str());
        let stamped = health["timestamp"].as_str().is_some_and(|stamp| seconds.is_match(stamp));
        let versioned = health["version"].as_str().is_some_and(|text| version.is_match(text));
        check(
            &mut scene,
            (healthy == (true, true) && stamped && versioned).then_some(()).ok_or(format!("/health {health}")),
        );

        let ready = http::get(address, "/ready").and_then(|answer| answer.json()).unwrap_or_else(|e| scene.fail(&e));
        check(&mut scene, check_schema(&ready, &ready_schema).map_err(|e| format!("/ready {ready}: {e}")));
        let dependencies = ready["dependencies"].as_object().cloned().unwrap_or_default();
        let connected =
            ready["ready"] == true && !dependencies.is_empty() && dependencies.values().all(|v| v == "connected");
        check(&mut scene, connected.then_some(()).ok_or(format!("/ready {ready}")));
        if service == "response-3d" {
            // The document's example answer is response-3d's.
            let names: BTreeSet<&str> = dependencies.keys().map(String::as_str).collect();
            assert_eq!(names, BTreeSet::from(["mongodb", "milvus", "blob_storage"]), "response-3d /ready {ready}");
        }

        // Told it is neither ready nor healthy, it says so with 503 and the same shapes.
        let answer = http::post_json(address, "/control", &json!({"ready": false, "healthy": false}))
            .unwrap_or_else(|e| scene.fail(&e));
        assert_eq!(
            (answer.status, answer.json().ok().map(|v| v["ready"].clone())),
            (200, Some(json!(false))),
            "{answer:?}"
        );
        let down = http::get(address, "/ready").unwrap_or_else(|e| scene.fail(&e));
        let down_json = down.json().unwrap_or_else(|e| scene.fail(&e));
        check(&mut scene, check_schema(&down_json, &ready_schema));
        assert_eq!((down.status, &down_json["ready"]), (503, &json!(false)), "{service} /ready after ready=false");
        assert!(down_json["dependencies"].as_object().is_some_and(|deps| deps.values().all(|v| v == "disconnected")));
        let sick = http::get(address, "/health").unwrap_or_else(|e| scene.fail(&e));
        let sick_json = sick.json().unwrap_or_else(|e| scene.fail(&e));
        check(&mut scene, check_schema(&sick_json, &health_schema));
        assert_eq!(
            (sick.status, &sick_json["status"]),
            (503, &json!("unhealthy")),
            "{service} /health after healthy=false"
        );

        // Bad settings are refused whole, naming the field.
        for (body, field) in [
            (json!({"errorRate": 1.5}), "errorRate"),
            (json!({"latency": "soon"}), "latency"),
            (json!({"trafficRate": -1}), "trafficRate"),
        ] {
            let answer = http::post_json(address, "/control", &body).unwrap_or_else(|e| scene.fail(&e));
            let error = answer.json().ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default();
            assert_eq!((answer.status, error.split(':').next()), (400, Some(field)), "{service}: {body} → {answer:?}");
        }
        let settings =
            http::get(address, "/control").and_then(|answer| answer.json()).unwrap_or_else(|e| scene.fail(&e));
        assert_eq!(
            settings,
            json!({"errorRate": 0, "latency": "0s", "trafficRate": 20, "ready": false, "healthy": false})
        );

        // Its log: one JSON object a line, the document's fields in the document's order; the
        // request lines carry ids, a trace id and a duration.
        let log = scene.path(&format!("standin-{service}.log"));
        let lines = scene.wait(&format!("{service}: log lines of served requests"), || {
            let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
            let lines: Vec<Value> = text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{log:?}: {e}"))?;
            Ok((lines.iter().filter(|line| line["trace_id"].is_string()).count() >= 3).then_some(lines))
        });
        for line in &lines {
            // JSON objects are unordered: the same fields, no more, no fewer.
            let keys: BTreeSet<&str> = line.as_object().into_iter().flatten().map(|(key, _)| key.as_str()).collect();
            assert_eq!(keys, BTreeSet::from(LOG_FIELDS), "{service}: {line}");
            assert!(line["level"].as_str().is_some_and(|level| levels.contains(level)), "{service}: level of {line}");
            assert!(line["timestamp"].as_str().is_some_and(|stamp| milliseconds.is_match(stamp)), "{service}: {line}");
            assert_eq!(line["service"], service.as_str(), "{service}: {line}");
        }
        let served: Vec<&Value> = lines.iter().filter(|line| line["trace_id"].is_string()).collect();
        for line in served {
            let ids = line["trace_id"].as_str().is_some_and(|id| trace_id.is_match(id))
                && line["user_id"].as_str().is_some_and(|id| user.is_match(id))
                && line["project_id"].as_str().zip(line["user_id"].as_str()).is_some_and(|(project, user)| {
                    project
                        .strip_prefix(user)
                        .and_then(|rest| rest.strip_prefix("_Project_"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                && line["duration_ms"].is_u64();
            assert!(ids, "{service}: request line {line}");
            // The services that call a language model name it and count its tokens.
            let llm = service.starts_with("response-") || service == "llm-service";
            if llm && line["level"] != "ERROR" {
                assert!(line["model"].is_string() && line["tokens"].is_u64(), "{service}: {line}");
            } else if !llm {
                assert!(line["model"].is_null() && line["tokens"].is_null(), "{service}: {line}");
            }
        }
    }
}

/// Every latency the rules and the document compare p95s with, in seconds, and what it is: the
/// `le` values the rendered SLO rules select, the SLO targets, the seed's p95 alerts and the
/// monitors' latency overrides.
fn latency_thresholds(rendered: &Rendered) -> Vec<(String, f64)> {
    let mut thresholds = Vec::new();
    for monitor in &rendered.stack.monitors {
        let name = &monitor.name;
        if let Some(slo) = &monitor.spec.slo {
            thresholds.push((format!("{name} latencyP95"), millis(&slo.latency_p95.to_millis(), name)));
        }
        if let Some(alerts) = &monitor.spec.alerts {
            for (field, value) in
                [("latencyWarning", &alerts.latency_warning), ("latencyCritical", &alerts.latency_critical)]
            {
                if let Some(value) = value {
                    thresholds.push((format!("{name} alerts.{field}"), millis(&value.to_millis(), name)));
                }
            }
        }
    }
    let application = &rendered.stack.spec.alerting.rules.application;
    thresholds.push(("high latency alert".to_owned(), application.high_latency.threshold));
    thresholds.push(("critical latency alert".to_owned(), application.critical_latency.threshold));
    thresholds
}

fn millis(value: &Option<u64>, monitor: &str) -> f64 {
    value.map(|millis| millis as f64 / 1000.0).unwrap_or_else(|| panic!("{monitor}: a latency that is no duration"))
}

/// The `le` values the rendered rules select on the duration histogram, as written there.
fn rule_le_values(rendered: &Rendered) -> BTreeSet<String> {
    let pattern =
        Regex::new(r#"http_request_duration_seconds_bucket\{[^}]*le="([^"]+)""#).unwrap_or_else(|e| panic!("{e}"));
    let mut values = BTreeSet::new();
    for file in rendered.file_names(Component::Rules) {
        let rules = rendered.yaml(Component::Rules, &file).unwrap_or_else(|e| panic!("{e}"));
        for group in rules["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let expr = rule["expr"].as_str().unwrap_or_default();
                values.extend(pattern.captures_iter(expr).map(|found| found[1].to_owned()));
            }
        }
    }
    assert!(!values.is_empty(), "the rendered SLO rules select no le of http_request_duration_seconds_bucket");
    values
}

/// Trace ids of the exemplars Prometheus returns for a selector, most recent first.
fn exemplar_trace_ids(prometheus: SocketAddr, selector: &str) -> Result<Vec<String>, String> {
    let now = unix_now();
    let path =
        format!("/api/v1/query_exemplars?query={}&start={:.0}&end={:.0}", encode(selector), now - 600.0, now + 60.0);
    let data = prometheus_api(prometheus, &path)?;
    let mut found: Vec<(f64, String)> = Vec::new();
    for series in data.as_array().into_iter().flatten() {
        for exemplar in series["exemplars"].as_array().into_iter().flatten() {
            let time = exemplar["timestamp"].as_f64().unwrap_or_default();
            if let Some(id) = exemplar["labels"]["trace_id"].as_str() {
                found.push((time, id.to_owned()));
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(found.into_iter().map(|(_, id)| id).collect())
}

/// The (service, operation) of every span of a Jaeger `/api/traces/<id>` answer for `id`.
fn trace_operations(answer: &Value, id: &str) -> Result<BTreeSet<(String, String)>, String> {
    let trace = &answer["data"][0];
    if trace["traceID"] != id {
        return Err(format!("Jaeger answered another trace: {answer}"));
    }
    let service_of = |span: &Value| {
        let process = span["processID"].as_str().unwrap_or_default();
        trace["processes"][process]["serviceName"].as_str().unwrap_or_default().to_owned()
    };
    Ok(trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|span| (service_of(span), span["operationName"].as_str().unwrap_or_default().to_owned()))
        .collect())
}

fn sample_value(sample: &Value) -> Option<f64> {
    sample["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_and_jaeger_get_the_red_metrics_exemplars_and_traces_and_the_error_rate_moves() {
    const SERVICE: &str = "gateway";
    let rendered = example();
    let mut scene = Scene::new();
    let (otlp, jaeger) = scene.jaeger();
    let envs =
        [("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")), ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned())];
    // The gateway calls the auth service, as in the document's trace example: one trace, two
    // services, joined by the propagated trace context.
    let auth = scene.standin("auth-service", &["--traffic-rate=0"], &envs);
    let downstream = format!("--downstream=http://{auth}/auth/verify");
    let standin = scene.standin(SERVICE, &["--traffic-rate=40", &downstream], &envs);
    let prometheus = scene.prometheus(standin);
    let series = format!(r#"service="{SERVICE}""#);

    scene.wait("the stand-in's target up", || {
        let up = prometheus_query(prometheus, r#"up{job="standin"}"#)?;
        Ok(up.first().and_then(sample_value).filter(|value| *value == 1.0))
    });

    // The classic buckets: one at every threshold, and every `le` the SLO rules select exists as
    // a series exactly as the rules write it.
    let bounds: Vec<String> = scene.wait("the classic duration buckets", || {
        let buckets =
            prometheus_query(prometheus, &format!("count by (le) (http_request_duration_seconds_bucket{{{series}}})"))?;
        Ok((!buckets.is_empty())
            .then(|| buckets.iter().filter_map(|b| b["metric"]["le"].as_str().map(str::to_owned)).collect()))
    });
    let numeric: Vec<f64> = bounds.iter().filter(|le| *le != "+Inf").filter_map(|le| le.parse().ok()).collect();
    let missing: Vec<String> = latency_thresholds(&rendered)
        .into_iter()
        .filter(|(_, seconds)| !numeric.iter().any(|bound| (bound - seconds).abs() < 1e-9))
        .map(|(what, seconds)| format!("{what} ({seconds}s)"))
        .collect();
    assert!(missing.is_empty(), "no classic bucket at {missing:?}; buckets: {bounds:?}");
    for le in rule_le_values(&rendered) {
        let found =
            prometheus_query(prometheus, &format!(r#"http_request_duration_seconds_bucket{{{series}, le="{le}"}}"#))
                .unwrap_or_else(|e| scene.fail(&e));
        assert_eq!(found.len(), 1, "the SLO rules select le=\"{le}\": Prometheus has {found:?} (buckets {bounds:?})");
    }

    // The native histogram beside them.
    let native = scene.wait("the native duration histogram", || {
        let samples = prometheus_query(prometheus, &format!("http_request_duration_seconds{{{series}}}"))?;
        Ok(samples.into_iter().find(|sample| sample["histogram"].is_array()))
    });
    let count: f64 = native["histogram"][1]["count"].as_str().and_then(|count| count.parse().ok()).unwrap_or_default();
    let native_buckets = native["histogram"][1]["buckets"].as_array().map_or(0, Vec::len);
    assert!(count > 0.0 && native_buckets > 0, "native histogram without observations: {native}");

    // Exemplars carry trace ids, on the counters and on the histogram.
    let trace_id = Regex::new(r"^[0-9a-f]{32}$").unwrap_or_else(|e| panic!("{e}"));
    for selector in
        [format!("http_requests_total{{{series}}}"), format!("http_request_duration_seconds_bucket{{{series}}}")]
    {
        let ids = scene.wait(&format!("exemplars of {selector}"), || {
            Ok(Some(exemplar_trace_ids(prometheus, &selector)?).filter(|ids| !ids.is_empty()))
        });
        assert!(ids.iter().all(|id| trace_id.is_match(id)), "{selector}: exemplar trace ids {ids:?}");
    }

    // Jaeger holds the trace of an exemplar: the stand-in's server span and its step.
    let id = exemplar_trace_ids(prometheus, &format!("http_requests_total{{{series}}}"))
        .ok()
        .and_then(|ids| ids.into_iter().next())
        .unwrap_or_else(|| scene.fail("the exemplars went away"));
    // The two services export their spans apart: wait until Jaeger has every expected span.
    let expected = [(SERVICE, "POST /api/chat"), (SERVICE, "gateway routing"), ("auth-service", "POST /auth/verify")];
    scene.wait(&format!("trace {id} in Jaeger with the spans {expected:?}"), || {
        let answer = http::get(jaeger, &format!("/api/traces/{id}"))?;
        if answer.status != 200 {
            return Err(format!("HTTP {}: {}", answer.status, answer.body));
        }
        let trace = answer.json()?;
        let operations = trace_operations(&trace, &id)?;
        let complete = expected
            .iter()
            .all(|(service, operation)| operations.contains(&((*service).to_owned(), (*operation).to_owned())));
        if complete { Ok(Some(())) } else { Err(format!("spans so far: {operations:?}")) }
    });

    // The error rate: none at first, then a quarter of the requests once told so.
    let window = RATE_WINDOW_SECONDS;
    let ratio_query = format!(
        "sum(rate(http_requests_failed_total{{{series}}}[{window}s])) / sum(rate(http_requests_total{{{series}}}[{window}s]))"
    );
    let ratio = || -> Result<Option<f64>, String> {
        Ok(prometheus_query(prometheus, &ratio_query)?.first().and_then(sample_value))
    };
    let before = scene.wait("the error ratio before", &ratio);
    assert_eq!(before, 0.0, "{ratio_query} before any failure");
    let answer = http::post_json(standin, "/control", &json!({"errorRate": 0.25})).unwrap_or_else(|e| scene.fail(&e));
    assert_eq!(
        (answer.status, answer.json().ok().map(|v| v["errorRate"].clone())),
        (200, Some(json!(0.25))),
        "{answer:?}"
    );
    let switched = unix_now();
    // Once the whole window lies after the switch (and a scrape more), the ratio is the rate set.
    let after = scene.wait("the error ratio over a window after the switch", || {
        let settled = unix_now() >= switched + (window + 2) as f64;
        Ok(ratio()?.filter(|_| settled))
    });
    assert!((after - 0.25).abs() < 0.02, "{ratio_query} is {after} with errorRate 0.25");
}

/// The operator's rendered `alertmanager.yml` for the example, told in its spec what a test stack
/// needs (`pagerduty.url` of the catcher, `email.tls.insecureSkipVerify` for the catcher's
/// self-signed STARTTLS certificate), with what a machine outside the cluster needs besides: the
/// referenced Secrets as files under `secrets` and the catcher's SMTP address.
fn alertmanager_config(scene: &Scene, web: SocketAddr, smtp: SocketAddr, routing_key: &str) -> Value {
    let resolved = stackscope_tests::resolve_dir(&stackscope_tests::example_dir())
        .ok()
        .and_then(|stacks| stacks.into_iter().next())
        .unwrap_or_else(|| panic!("the example does not resolve"));
    let mut stack = resolved;
    // The first notification of a group after a second, not the example's 30.
    stack.spec.alerting.routing.group_wait = stackscope::api::Duration::from("1s");
    stack.spec.alerting.routing.pagerduty.url = Some(format!("http://{web}/v2/enqueue"));
    stack.spec.alerting.routing.email.tls =
        Some(stackscope::api::SmtpTls { insecure_skip_verify: true, ..Default::default() });
    let rendered = Rendered::of(stack).unwrap_or_else(|e| panic!("{e}"));
    let mut config =
        rendered.yaml(Component::Alertmanager, alertmanager::CONFIG_FILE).unwrap_or_else(|e| panic!("{e}"));

    let secrets = scene.path("secrets");
    let files = [
        ("stackscope-alerting/smtp-password", "catcher-accepts-any".to_owned()),
        ("stackscope-alerting/slack-api-url", format!("http://{web}/slack/services/T000/B000/XXXX")),
        ("stackscope-alerting/pagerduty-routing-key", routing_key.to_owned()),
        ("stackscope-alerting/dead-mans-switch-url", format!("http://{web}/dead-mans-switch")),
    ];
    for (file, content) in files {
        scene.write(&format!("secrets/{file}"), &content);
    }
    relocate(&mut config, alertmanager::SECRETS_DIRECTORY, &secrets);
    config["global"]["smtp_smarthost"] = json!(smtp.to_string());
    config
}

/// Rewrites every string under `from` to the same path under `to`.
fn relocate(value: &mut Value, from: &str, to: &Path) {
    match value {
        Value::String(text) => {
            if let Some(rest) = text.strip_prefix(from) {
                *text = format!("{}{rest}", to.display());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| relocate(item, from, to)),
        Value::Object(map) => map.values_mut().for_each(|item| relocate(item, from, to)),
        _ => {}
    }
}

/// The `to` addresses of the email configurations of the named receivers.
fn email_recipients(config: &Value, receivers: &[&str]) -> BTreeSet<String> {
    config["receivers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|receiver| receiver["name"].as_str().is_some_and(|name| receivers.contains(&name)))
        .flat_map(|receiver| receiver["email_configs"].as_array().cloned().unwrap_or_default())
        .filter_map(|email| email["to"].as_str().map(str::to_owned))
        .collect()
}

fn received(catcher: SocketAddr, receiver: &str) -> Result<Vec<Value>, String> {
    let list = http::get_json(catcher, &format!("/received?receiver={receiver}"))?;
    list.as_array().cloned().ok_or_else(|| format!("/received?receiver={receiver}: not a list: {list}"))
}

#[test]
fn alertmanager_delivers_an_alert_to_the_slack_pagerduty_and_email_catchers() {
    const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";
    let mut scene = Scene::new();
    let (catcher, smtp) = scene.catcher();
    let config = alertmanager_config(&scene, catcher, smtp, ROUTING_KEY);
    let alertmanager = scene.alertmanager(&config);

    let alert = json!([{
        // As the rules label a CriticalErrorRate whose monitor sends it to every channel.
        "labels": {"alertname": "CriticalErrorRate", "severity": "critical", "service": "gateway",
                   "incident_level": "P1", "signal": "error_rate", "namespace": "machineavatars",
                   "channels": "email,slack,pagerduty"},
        "annotations": {"summary": "Error rate above 20%", "description": "25% of gateway requests fail."},
    }]);
    let answer = http::post_json(alertmanager, "/api/v2/alerts", &alert).unwrap_or_else(|e| scene.fail(&e));
    assert_eq!(answer.status, 200, "POST /api/v2/alerts: {answer:?}");

    // The alert goes to email, Slack, PagerDuty and, as it pages, the escalation's immediate step
    // (email); the backend lead's step waits 15 minutes, and the CTO's is not for P1.
    let immediate_email = email_recipients(&config, &[alertmanager::EMAIL_RECEIVER, "primary"]);
    let (emails, slack, pagerduty) = scene.wait("the alert at every catcher", || {
        let (emails, slack, pagerduty) =
            (received(catcher, "email")?, received(catcher, "slack")?, received(catcher, "pagerduty")?);
        Ok((emails.len() >= immediate_email.len() && !slack.is_empty() && !pagerduty.is_empty())
            .then_some((emails, slack, pagerduty)))
    });
    let title = "[P1] FIRING: CriticalErrorRate (critical, gateway)";

    assert_eq!(slack.len(), 1, "Slack got {slack:?}");
    let message = &slack[0];
    assert_eq!((&message["status"], &message["payload"]["channel"]), (&json!(200), &json!("#alerts")), "{message}");
    assert_eq!(message["request"]["path"], "/slack/services/T000/B000/XXXX", "{message}");
    assert_eq!(message["payload"]["attachments"][0]["title"], title, "{message}");
    let text = message["payload"]["attachments"][0]["text"].as_str().unwrap_or_default();
    assert_eq!(text.trim_end(), "Error rate above 20% — 25% of gateway requests fail.", "{message}");

    assert_eq!(pagerduty.len(), 1, "PagerDuty got {pagerduty:?}");
    let event = &pagerduty[0];
    assert_eq!(event["status"], 202, "the catcher refused the event: {event}");
    let payload = &event["payload"];
    assert_eq!(
        (&payload["routing_key"], &payload["event_action"]),
        (&json!(ROUTING_KEY), &json!("trigger")),
        "{event}"
    );
    assert_eq!(
        (&payload["payload"]["summary"], &payload["payload"]["severity"]),
        (&json!(title), &json!("critical")),
        "{event}"
    );
    let details = &payload["payload"]["custom_details"];
    assert_eq!((&details["incident_level"], &details["service"]), (&json!("P1"), &json!("gateway")), "{event}");
    assert!(payload["dedup_key"].as_str().is_some_and(|key| !key.is_empty()), "{event}");

    assert_eq!(emails.len(), immediate_email.len(), "emails {emails:?}, expected one to each of {immediate_email:?}");
    let mut recipients = BTreeSet::new();
    for mail in &emails {
        let envelope = &mail["envelope"];
        assert_eq!(
            (&envelope["tls"], &envelope["authUsername"]),
            (&json!(true), &json!("alertmanager")),
            "STARTTLS and AUTH: {mail}"
        );
        assert_eq!(envelope["mailFrom"], config["global"]["smtp_from"], "{mail}");
        assert_eq!(mail["payload"]["subject"], title, "{mail}");
        recipients
            .extend(envelope["rcptTo"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned));
    }
    assert_eq!(recipients, immediate_email);

    // What arrived can be forgotten, receiver by receiver.
    let forgotten = http::request(catcher, "DELETE", "/received?receiver=email", None).and_then(|answer| answer.json());
    assert_eq!(forgotten.unwrap_or_else(|e| scene.fail(&e))["forgotten"], json!(emails.len()));
    assert_eq!(received(catcher, "email").unwrap_or_else(|e| scene.fail(&e)), Vec::<Value>::new());
    let left = http::get_json(catcher, "/received").unwrap_or_else(|e| scene.fail(&e));
    let kinds: Vec<&str> = left.as_array().into_iter().flatten().filter_map(|r| r["receiver"].as_str()).collect();
    assert_eq!(kinds.into_iter().collect::<BTreeSet<_>>(), BTreeSet::from(["pagerduty", "slack"]));
}

#[test]
fn the_catchers_refuse_what_slack_and_pagerduty_refuse() {
    let mut scene = Scene::new();
    let (catcher, _) = scene.catcher();
    let slack = http::post_json(catcher, "/slack/services/T/B/X", &json!({"channel": "#alerts"}))
        .unwrap_or_else(|e| scene.fail(&e));
    assert_eq!((slack.status, slack.body.as_str()), (400, "no_text"));
    let event = json!({"routing_key": "short", "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "fatal"}});
    let answer = http::post_json(catcher, "/v2/enqueue", &event).unwrap_or_else(|e| scene.fail(&e));
    let body = answer.json().unwrap_or_else(|e| scene.fail(&e));
    assert_eq!(
        (answer.status, &body["status"], &body["message"]),
        (400, &json!("invalid event"), &json!("Event object is invalid"))
    );
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(2), "routing key and severity: {body}");
    let bad = http::get(catcher, "/received?receiver=fax").unwrap_or_else(|e| scene.fail(&e));
    assert_eq!(bad.status, 400, "{bad:?}");
    // Refused messages are recorded too, with the answer given.
    let statuses: Vec<Value> = http::get_json(catcher, "/received")
        .unwrap_or_else(|e| scene.fail(&e))
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(400), json!(400)]);
}

/// A webhook receiver on loopback: every request body it gets, as JSON, on the returned channel.
fn webhook_listener() -> (SocketAddr, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|error| panic!("{error}"));
    let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let _ =
                    reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                if let Ok(json) = serde_json::from_slice(&body) {
                    let _ = sender.send(json);
                }
            }
        }
    });
    (address, receiver)
}

#[test]
fn the_watchdog_reaches_the_dead_mans_switch_and_no_channel() {
    const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";
    let mut scene = Scene::new();
    let (catcher, smtp) = scene.catcher();
    let (switch, heartbeats) = webhook_listener();
    let config = alertmanager_config(&scene, catcher, smtp, ROUTING_KEY);
    scene.write("secrets/stackscope-alerting/dead-mans-switch-url", &format!("http://{switch}/heartbeat"));
    let alertmanager = scene.alertmanager(&config);

    // The Watchdog as the rendered rule labels it.
    let rules = example().yaml(Component::Rules, "self-monitoring.yml").unwrap_or_else(|e| panic!("{e}"));
    let watchdog = rules["groups"][0]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|rule| rule["alert"] == "Watchdog")
        .unwrap_or_else(|| panic!("no Watchdog rule"));
    let mut labels = watchdog["labels"].clone();
    labels["alertname"] = json!("Watchdog");
    let answer = http::post_json(alertmanager, "/api/v2/alerts", &json!([{"labels": labels}]))
        .unwrap_or_else(|e| scene.fail(&e));
    assert_eq!(answer.status, 200, "POST /api/v2/alerts: {answer:?}");

    let heartbeat = scene.wait("the Watchdog at the dead man's switch", || Ok(heartbeats.try_recv().ok()));
    assert_eq!(heartbeat["receiver"], "dead-mans-switch", "{heartbeat}");
    assert_eq!(heartbeat["status"], "firing", "{heartbeat}");
    assert_eq!(heartbeat["alerts"][0]["labels"]["alertname"], "Watchdog", "{heartbeat}");
    // Alertmanager routed it to the switch alone: no channel will ever get it.
    let alerts = http::get_json(alertmanager, "/api/v2/alerts").unwrap_or_else(|e| scene.fail(&e));
    let receivers: Vec<&Value> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|alert| alert["receivers"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(receivers, [&json!({"name": "dead-mans-switch"})], "{alerts}");
    for receiver in ["email", "slack", "pagerduty"] {
        assert_eq!(received(catcher, receiver).unwrap_or_else(|e| scene.fail(&e)), Vec::<Value>::new(), "{receiver}");
    }
}
