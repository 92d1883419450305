//! The scale run: for each monitor count, a fresh local control plane with the fixture monitors
//! (stackscope's and, identical, prometheus-operator's), their Services and EndpointSlices; then
//! each operator in turn as a separate process against it, measured the same way: cold start,
//! a no-op reconcile, a series of monitor changes (each timed until the configuration object
//! shows it), API requests from the API server's audit log, CPU seconds and peak RSS from /proc.
//!
//! The operators run one after the other, not at once: on two shared cores each would otherwise
//! slow the other down, and the audit log could not tell whose quiet period it is.

pub mod audit;
pub mod config_watch;
pub mod objects;
pub mod plane;
pub mod process;
pub mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::Client;
use serde::Serialize;

use audit::{AuditLog, Requests};
use config_watch::ConfigWatch;
use objects::{NAME, PROMETHEUS_NAMESPACE, STACK_NAMESPACE, millis};
use plane::{PROMETHEUS_OPERATOR_USER, Plane, STACKSCOPE_USER};
use process::Operator;

/// The prometheus-operator release compared with (`tools/build-tools.sh prometheus-operator`).
pub const PROMETHEUS_OPERATOR_VERSION: &str = "v0.85.0";

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub repo: PathBuf,
    /// Control-plane state directory of the run.
    pub state: PathBuf,
    pub sizes: Vec<usize>,
    /// Monitor changes timed per operator and size.
    pub changes: usize,
    /// Upper bound on the time spent on the changes of one operator and size.
    pub change_budget: Duration,
    pub stackscope_binary: PathBuf,
    /// `None`: stackscope only.
    pub prometheus_operator_binary: Option<PathBuf>,
}

/// The operator measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Stackscope,
    PrometheusOperator,
}

impl Tool {
    pub fn user(self) -> &'static str {
        match self {
            Self::Stackscope => STACKSCOPE_USER,
            Self::PrometheusOperator => PROMETHEUS_OPERATOR_USER,
        }
    }

    /// The operator's own count of reconciles.
    fn reconcile_metric(self) -> &'static str {
        match self {
            Self::Stackscope => "stackscope_reconciles_total",
            Self::PrometheusOperator => "prometheus_operator_reconcile_operations_total",
        }
    }

    fn is_prometheus_operator(self) -> bool {
        self == Self::PrometheusOperator
    }
}

/// One operator's figures at one monitor count.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ToolRun {
    /// From process start to the stack's `Ready` condition (stackscope only).
    pub cold_start_to_ready_ms: Option<u64>,
    /// From process start to a configuration object holding a scrape job for every endpoint.
    pub cold_start_to_config_ms: Option<u64>,
    pub config_jobs: usize,
    pub config_objects: usize,
    /// Size of the configuration objects' data as stored (compressed if the tool compresses).
    pub config_stored_bytes: usize,
    /// CPU seconds, API requests and reconciles from start until the operator went quiet.
    pub cold_start_cpu_seconds: f64,
    pub cold_start_requests: Requests,
    pub cold_start_reconciles: f64,
    /// Reconciles with nothing to do (an annotation of the stack/Prometheus touched).
    pub noop_reconciles: f64,
    pub noop_requests: Requests,
    pub noop_writes_per_reconcile: Option<f64>,
    pub noop_requests_per_reconcile: Option<f64>,
    /// Monitor changes timed until the configuration object showed them.
    pub changes: usize,
    pub changes_missed: usize,
    pub change_to_config_p50_ms: Option<u64>,
    pub change_to_config_p90_ms: Option<u64>,
    pub change_to_config_p99_ms: Option<u64>,
    pub change_to_config_max_ms: Option<u64>,
    pub change_to_config_ms: Vec<u64>,
    pub change_requests: Requests,
    pub change_reconciles: f64,
    pub requests_per_change: Option<f64>,
    pub requests_per_reconcile: Option<f64>,
    pub cpu_seconds: f64,
    pub change_cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    pub peak_rss_mib: f64,
    /// Why the run of this operator stopped early, if it did.
    pub error: Option<String>,
}

/// Both operators at one monitor count.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SizeRun {
    pub monitors: usize,
    pub endpoints: usize,
    pub services: usize,
    pub endpoint_slices: usize,
    pub namespaces: usize,
    pub setup_ms: u64,
    pub stackscope: Option<ToolRun>,
    pub prometheus_operator: Option<ToolRun>,
}

pub use stackscope_bench::measured::percentile;

fn log(message: impl AsRef<str>) {
    eprintln!("scale: {}", message.as_ref());
}

/// Runs every size; each size's results are returned even when an operator failed on it.
pub async fn run(options: &Options) -> Result<Vec<SizeRun>, String> {
    let mut runs = Vec::new();
    for &size in &options.sizes {
        log(format!("{size} monitors: starting a fresh control plane"));
        let plane = plane::start_fresh(&options.repo, &options.state)?;
        let result = run_size(options, &plane, size).await;
        plane::stop(&options.repo, &options.state);
        runs.push(result?);
    }
    Ok(runs)
}

async fn run_size(options: &Options, plane: &Plane, size: usize) -> Result<SizeRun, String> {
    let admin = plane::client(&plane.kubeconfig).await?;
    let mut crds = stackscope::crdgen::crds();
    if options.prometheus_operator_binary.is_some() {
        crds.extend(plane::prometheus_operator_crds(PROMETHEUS_OPERATOR_VERSION)?);
    }
    plane::install_crds(&admin, &crds).await?;
    log(format!("{size} monitors: creating monitors of both kinds, Services and EndpointSlices"));
    let created = objects::create_monitor_set(&admin, size, options.prometheus_operator_binary.is_some()).await?;
    log(format!("{size} monitors: created in {} ms", created.setup_ms));
    let mut run = SizeRun {
        monitors: created.monitors,
        endpoints: created.endpoints,
        services: created.monitors,
        endpoint_slices: created.monitors,
        namespaces: created.namespaces,
        setup_ms: created.setup_ms,
        ..SizeRun::default()
    };
    let audit = AuditLog { path: plane.audit_log() };

    objects::create_stack(&admin).await?;
    let stackscope = measure(options, plane, &admin, &audit, Tool::Stackscope, &created).await;
    log(format!("{size} monitors: stackscope: {}", summary(&stackscope)));
    run.stackscope = Some(stackscope);

    if let Some(binary) = &options.prometheus_operator_binary {
        objects::create_prometheus(&admin).await?;
        let options = Options { stackscope_binary: binary.clone(), ..options.clone() };
        let theirs = measure(&options, plane, &admin, &audit, Tool::PrometheusOperator, &created).await;
        log(format!("{size} monitors: prometheus-operator: {}", summary(&theirs)));
        run.prometheus_operator = Some(theirs);
    }
    Ok(run)
}

fn summary(run: &ToolRun) -> String {
    format!(
        "config after {:?} ms ({} jobs), change p50 {:?} ms p99 {:?} ms over {} changes, {:.1} CPU s, peak RSS {:.1} MiB{}",
        run.cold_start_to_config_ms,
        run.config_jobs,
        run.change_to_config_p50_ms,
        run.change_to_config_p99_ms,
        run.changes,
        run.cpu_seconds,
        run.peak_rss_mib,
        run.error.as_ref().map(|error| format!("; error: {error}")).unwrap_or_default()
    )
}

fn start(options: &Options, plane: &Plane, tool: Tool, size: usize) -> Result<Operator, String> {
    let port = process::free_port()?;
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let log = plane.logs().join(format!("{}-{size}.log", tool.user()));
    match tool {
        Tool::Stackscope => Operator::spawn(
            &options.stackscope_binary,
            &["run".to_owned(), "--listen".to_owned(), metrics.to_string()],
            &[("KUBECONFIG", plane.kubeconfig_of(tool.user()).display().to_string()), ("RUST_LOG", "info".to_owned())],
            &log,
            metrics,
        ),
        Tool::PrometheusOperator => {
            let (cert, key, ca) = plane.credentials_of(tool.user());
            let args = [
                format!("-apiserver={}", plane.apiserver_url),
                format!("-ca-file={}", ca.display()),
                format!("-cert-file={}", cert.display()),
                format!("-key-file={}", key.display()),
                format!("-web.listen-address={metrics}"),
                "-log-level=info".to_owned(),
            ];
            Operator::spawn(&options.stackscope_binary, &args, &[], &log, metrics)
        }
    }
}

/// Measures one operator on the monitor set in the cluster.
async fn measure(
    options: &Options,
    plane: &Plane,
    admin: &Client,
    audit: &AuditLog,
    tool: Tool,
    created: &objects::Created,
) -> ToolRun {
    let mut run = ToolRun::default();
    let mut watch = match tool {
        Tool::Stackscope => ConfigWatch::stackscope(admin, STACK_NAMESPACE, NAME),
        Tool::PrometheusOperator => ConfigWatch::prometheus_operator(admin, PROMETHEUS_NAMESPACE, NAME),
    };
    let mut operator = match start(options, plane, tool, created.monitors) {
        Ok(operator) => operator,
        Err(error) => {
            run.error = Some(error);
            return run;
        }
    };
    if let Err(error) = phases(options, admin, audit, tool, created, &mut operator, &mut watch, &mut run).await {
        log(format!("{:?}: {error}", tool));
        run.error = Some(error);
    }
    if let Ok(usage) = operator.usage() {
        run.cpu_seconds = usage.cpu_seconds;
        run.peak_rss_bytes = usage.peak_rss_bytes;
        run.peak_rss_mib = usage.peak_rss_bytes as f64 / (1024.0 * 1024.0);
    }
    operator.stop().await;
    run
}

#[allow(clippy::too_many_arguments)] // the phases share everything the measurement holds
async fn phases(
    options: &Options,
    admin: &Client,
    audit: &AuditLog,
    tool: Tool,
    created: &objects::Created,
    operator: &mut Operator,
    watch: &mut ConfigWatch,
    run: &mut ToolRun,
) -> Result<(), String> {
    let user = tool.user();
    let cold_start_timeout = Duration::from_secs(120 + created.monitors as u64 / 20);
    let from = audit.offset();

    // Cold start: to the configuration applied (stackscope; `cold_start_to_ready_ms`, from when
    // Ready meant that) and to a configuration with every endpoint's job.
    if tool == Tool::Stackscope {
        let deadline = Instant::now() + cold_start_timeout;
        loop {
            if objects::stack_applied(admin).await? {
                run.cold_start_to_ready_ms = Some(millis(operator.started.elapsed()));
                break;
            }
            if Instant::now() > deadline || !operator.running() {
                return Err("the stack's configuration was never applied".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let expected_jobs = created.endpoints;
    match watch.wait_for(|snapshot| snapshot.jobs() >= expected_jobs, cold_start_timeout).await {
        Ok((at, snapshot)) => {
            run.cold_start_to_config_ms = Some(millis(at.saturating_duration_since(operator.started)));
            run.config_jobs = snapshot.jobs();
            run.config_objects = snapshot.texts.len();
            run.config_stored_bytes = snapshot.stored_bytes;
        }
        Err(snapshot) => {
            run.config_jobs = snapshot.jobs();
            return Err(format!(
                "no configuration with {expected_jobs} scrape jobs after {} s (last had {})",
                cold_start_timeout.as_secs(),
                snapshot.jobs()
            ));
        }
    }
    audit.wait_quiet(Duration::from_secs(3), cold_start_timeout).await;
    run.cold_start_cpu_seconds = operator.usage()?.cpu_seconds;
    run.cold_start_requests = audit.count(user, from)?;
    run.cold_start_reconciles = operator.metric_sum(tool.reconcile_metric()).await?;

    // No-op reconciles: an annotation changes, nothing the configuration depends on.
    let from = audit.offset();
    let reconciles_before = operator.metric_sum(tool.reconcile_metric()).await?;
    for poke in 0..3 {
        objects::poke(admin, tool.is_prometheus_operator(), poke).await?;
        audit.wait_quiet(Duration::from_secs(2), Duration::from_secs(60)).await;
    }
    run.noop_reconciles = operator.metric_sum(tool.reconcile_metric()).await? - reconciles_before;
    run.noop_requests = audit.count(user, from)?;
    if run.noop_reconciles > 0.0 {
        run.noop_writes_per_reconcile = Some(run.noop_requests.writes as f64 / run.noop_reconciles);
        run.noop_requests_per_reconcile = Some(run.noop_requests.total as f64 / run.noop_reconciles);
    }

    // Changes: one monitor at a time, spread over the set, timed until the configuration shows it.
    let from = audit.offset();
    let cpu_before = operator.usage()?.cpu_seconds;
    let reconciles_before = operator.metric_sum(tool.reconcile_metric()).await?;
    let started = Instant::now();
    let change_timeout = Duration::from_secs(60);
    for sequence in 0..options.changes {
        if started.elapsed() > options.change_budget {
            log(format!("{tool:?}: change budget spent after {sequence} changes"));
            break;
        }
        let index = sequence * created.monitors / options.changes.max(1);
        let marker = objects::marker(sequence);
        let sent = Instant::now();
        objects::change_monitor(admin, index, sequence, tool.is_prometheus_operator()).await?;
        run.changes += 1;
        match watch.wait_for(|snapshot| snapshot.contains(&marker), change_timeout).await {
            Ok((at, _)) => run.change_to_config_ms.push(millis(at.saturating_duration_since(sent))),
            Err(_) => run.changes_missed += 1,
        }
        // Changes a quarter second apart, each on its own.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    audit.wait_quiet(Duration::from_secs(3), Duration::from_secs(120)).await;
    run.change_cpu_seconds = operator.usage()?.cpu_seconds - cpu_before;
    run.change_requests = audit.count(user, from)?;
    run.change_reconciles = operator.metric_sum(tool.reconcile_metric()).await? - reconciles_before;
    if run.changes > 0 {
        run.requests_per_change = Some(run.change_requests.total as f64 / run.changes as f64);
    }
    if run.change_reconciles > 0.0 {
        run.requests_per_reconcile = Some(run.change_requests.total as f64 / run.change_reconciles);
    }
    let mut sorted = run.change_to_config_ms.clone();
    sorted.sort_unstable();
    run.change_to_config_p50_ms = percentile(&sorted, 50.0);
    run.change_to_config_p90_ms = percentile(&sorted, 90.0);
    run.change_to_config_p99_ms = percentile(&sorted, 99.0);
    run.change_to_config_max_ms = sorted.last().copied();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn scrape_jobs_are_counted_in_yaml_and_json() {
        let mut snapshot = config_watch::Snapshot::default();
        snapshot.texts.insert("yaml".to_owned(), "scrape_configs:\n- job_name: a\n  x: 1\n- job_name: b\n".to_owned());
        snapshot.texts.insert("json".to_owned(), r#"{"scrape_configs":[{"job_name":"c"}]}"#.to_owned());
        assert_eq!(snapshot.jobs(), 3);
        assert!(snapshot.contains("job_name\":\"c"));
    }

    #[test]
    fn the_table_replaces_only_its_section() {
        let directory = std::env::temp_dir().join(format!("stackscope-scale-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let readme = directory.join("README.md");
        let text = format!("# Bench\n\nabove\n\n{}\nold\n{}\n\nbelow\n", report::TABLE_BEGIN, report::TABLE_END);
        std::fs::write(&readme, text).unwrap();
        report::update_readme(&readme, "new table\n").unwrap();
        let updated = std::fs::read_to_string(&readme).unwrap();
        assert!(updated.contains("above") && updated.contains("below") && updated.contains("new table"));
        assert!(!updated.contains("old"));
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
