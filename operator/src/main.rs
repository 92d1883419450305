//! The `stackscope` command: render and validate offline, print the CRDs, run the operator and
//! report drift.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stackscope::cli::{import, offline};
use stackscope::controller::leader::LeaseConfig;
use stackscope::controller::{self, RunConfig, WatchScope};
use stackscope::crdgen;
use stackscope::render::{Component, objects_to_yaml, render_stack};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "stackscope",
    version,
    about = "Observability stacks from ObservabilityStack and ServiceMonitor resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where `stackscope run` watches what its stacks read.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Scope {
    /// ServiceMonitors, Services, Secrets and workloads of every namespace (cluster-wide RBAC).
    Cluster,
    /// Only those of `--namespace` (a Role in that namespace suffices).
    Namespace,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DriftOutput {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions, or write one file per CRD into directories.
    Crds {
        /// Directory to write `<plural>.<group>.yaml` files into; repeat it to write the same
        /// files into several (`-o crds -o charts/stackscope/crds`).
        #[arg(short, long)]
        output: Vec<PathBuf>,
    },
    /// Validate stacks and monitors from files, render every object, print or write them.
    Render {
        /// Files or directories of YAML manifests (multi-document files are fine).
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Directory to write `<stack>/<component>/<kind>-<name>.yaml` into (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Report drift of the cluster's stacks (read-only): exit 0 in sync, 1 drift or pending, 2 error.
    Drift {
        /// Only stacks of this namespace (default: every namespace).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value = "text")]
        output: DriftOutput,
    },
    /// Run the operator against the cluster of the current kubeconfig (or in-cluster config).
    Run {
        /// Address of the `/metrics`, `/health` and `/ready` server.
        #[arg(long, default_value = "0.0.0.0:8080")]
        listen: std::net::SocketAddr,
        /// Only reconcile stacks of this namespace (default: every namespace).
        #[arg(long)]
        namespace: Option<String>,
        /// Where the ServiceMonitors, Services, Secrets and workloads the stacks read are watched:
        /// `namespace` watches only `--namespace`, so that a namespace-scoped Role suffices.
        #[arg(long, value_enum, default_value = "cluster", requires_if("namespace", "namespace"))]
        scope: Scope,
        /// Elect a leader through a Lease so that only one replica writes.
        #[arg(long)]
        leader_election: bool,
        /// Namespace of the Lease.
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Name of the Lease.
        #[arg(long, default_value = "stackscope-leader")]
        lease_name: String,
        /// This replica's identity in the Lease.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Seconds a lease lasts without renewal.
        #[arg(long, default_value_t = 15)]
        lease_seconds: u64,
        /// Stacks reconciled at once.
        #[arg(long, default_value_t = 4)]
        concurrency: u16,
    },
    /// Convert prometheus-operator's monitoring.coreos.com/v1 ServiceMonitors into stackscope
    /// ones, from files or from the cluster; fields stackscope lacks are reported per object.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["files", "from_cluster"])))]
    Import {
        /// Files or directories of YAML (multi-document files and `kubectl get -o yaml` lists are
        /// fine; documents that are not prometheus-operator ServiceMonitors are skipped).
        #[arg(short = 'f', long = "filename", num_args = 1..)]
        files: Vec<PathBuf>,
        /// Read the ServiceMonitors from the cluster of the current kubeconfig.
        #[arg(long)]
        from_cluster: bool,
        /// With --from-cluster: this namespace (default: the kubeconfig's).
        #[arg(short, long, conflicts_with = "all_namespaces")]
        namespace: Option<String>,
        /// With --from-cluster: every namespace.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Directory to write `<namespace>_<name>.yaml` files into (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Refuse monitors that lose a field in the conversion, instead of warning.
        #[arg(long)]
        strict: bool,
    },
    /// Validate stacks and monitors from files with the CRD's own rules; exit 1 on any problem.
    Validate {
        /// Files or directories of YAML manifests.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { output } => crds(output),
        Command::Render { files, output } => render(&files, output),
        Command::Validate { files } => validate(&files),
        Command::Import { files, from_cluster, namespace, all_namespaces, output, strict } => {
            let scope = match (from_cluster, all_namespaces) {
                (false, _) if namespace.is_some() || all_namespaces => {
                    eprintln!("error: -n/--namespace and -A/--all-namespaces apply to --from-cluster only");
                    return ExitCode::from(2);
                }
                (false, _) => ImportSource::Files(files),
                (true, true) => ImportSource::Cluster { namespace: None },
                (true, false) => ImportSource::Cluster { namespace: Some(namespace) },
            };
            import(scope, output, strict)
        }
        Command::Drift { namespace, output } => return drift(namespace.as_deref(), output),
        Command::Run {
            listen,
            namespace,
            scope,
            leader_election,
            lease_namespace,
            lease_name,
            identity,
            lease_seconds,
            concurrency,
        } => {
            let lease = leader_election.then(|| LeaseConfig {
                namespace: lease_namespace,
                name: lease_name,
                identity: identity.unwrap_or_else(default_identity),
                lease_duration: Duration::from_secs(lease_seconds.max(2)),
                renew_every: Duration::from_secs((lease_seconds / 3).max(1)),
            });
            let scope = match scope {
                Scope::Cluster => WatchScope::Cluster,
                Scope::Namespace => WatchScope::Namespace,
            };
            run(RunConfig { listen: Some(listen), lease, concurrency: concurrency.max(1), namespace, scope })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problems) => {
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            ExitCode::from(1)
        }
    }
}

/// Exit status of `stackscope drift` when it cannot make the report.
const DRIFT_ERROR: u8 = 2;

fn drift(namespace: Option<&str>, output: DriftOutput) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(DRIFT_ERROR);
        }
    };
    let reports = runtime.block_on(async {
        let client = kube::Client::try_default().await.map_err(|error| format!("cannot reach the cluster: {error}"))?;
        controller::report::report(&client, namespace).await.map_err(|error| error.to_string())
    });
    let reports = match reports {
        Ok(reports) => reports,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(DRIFT_ERROR);
        }
    };
    match output {
        DriftOutput::Text => print!("{}", controller::report::to_text(&reports)),
        DriftOutput::Json => match serde_json::to_string_pretty(&reports) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(DRIFT_ERROR);
            }
        },
    }
    if reports.iter().any(controller::report::StackReport::differs) { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "stackscope".to_owned());
    format!("{host}-{}", std::process::id())
}

fn run(config: RunConfig) -> Result<(), Vec<String>> {
    stackscope::telemetry::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| vec![format!("cannot start the async runtime: {error}")])?;
    runtime.block_on(controller::run(config)).map_err(|error| vec![error.to_string()])
}

fn crds(outputs: Vec<PathBuf>) -> Result<(), Vec<String>> {
    let documents = crdgen::crd_documents().map_err(|error| vec![error])?;
    if outputs.is_empty() {
        for (_, text) in documents {
            print!("---\n{text}");
        }
        return Ok(());
    }
    // One generation, the same bytes in every directory: `crds/` and the chart's never differ.
    for directory in outputs {
        std::fs::create_dir_all(&directory).map_err(|error| vec![format!("{}: {error}", directory.display())])?;
        for (name, text) in &documents {
            let path = directory.join(format!("{name}.yaml"));
            std::fs::write(&path, text).map_err(|error| vec![format!("{}: {error}", path.display())])?;
        }
    }
    Ok(())
}

fn read_files(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Vec<String>> {
    let files = offline::expand_paths(paths).map_err(|error| vec![error])?;
    files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|error| vec![format!("{}: {error}", path.display())])
        })
        .collect()
}

fn validate(paths: &[PathBuf]) -> Result<(), Vec<String>> {
    let inputs = offline::load(&read_files(paths)?)?;
    println!("{} stack(s) and {} monitor(s) are valid", inputs.stacks.len(), inputs.monitors.len());
    Ok(())
}

fn render(paths: &[PathBuf], output: Option<PathBuf>) -> Result<(), Vec<String>> {
    let inputs = offline::load(&read_files(paths)?)?;
    if inputs.stacks.is_empty() {
        return Err(vec!["no ObservabilityStack in the given files: nothing to render".to_owned()]);
    }
    // Render everything before writing anything: a failure leaves no partial output.
    let mut rendered = Vec::new();
    for stack in offline::resolve(&inputs) {
        let objects =
            render_stack(&stack).map_err(|error| vec![format!("stack {}/{}: {error}", stack.namespace, stack.name)])?;
        rendered.push((stack, objects));
    }
    match output {
        None => {
            for (_, objects) in &rendered {
                let objects: Vec<_> = objects.iter().map(|rendered| rendered.object.clone()).collect();
                print!("{}", objects_to_yaml(&objects).map_err(|error| vec![error.to_string()])?);
            }
        }
        Some(directory) => {
            let mut count = 0;
            for (stack, objects) in &rendered {
                for component in Component::ALL {
                    let mine: Vec<_> = objects.iter().filter(|o| o.component == component).collect();
                    if mine.is_empty() {
                        continue;
                    }
                    let folder = directory.join(&stack.name).join(component.as_str());
                    std::fs::create_dir_all(&folder).map_err(|error| vec![format!("{}: {error}", folder.display())])?;
                    for object in mine {
                        let kind = object.object.types.as_ref().map(|t| t.kind.to_lowercase()).unwrap_or_default();
                        let name = object.object.metadata.name.clone().unwrap_or_default();
                        let path = folder.join(format!("{kind}-{name}.yaml"));
                        let text = objects_to_yaml(std::slice::from_ref(&object.object))
                            .map_err(|error| vec![error.to_string()])?;
                        std::fs::write(&path, text).map_err(|error| vec![format!("{}: {error}", path.display())])?;
                        count += 1;
                    }
                }
            }
            println!("wrote {count} objects of {} stack(s) to {}", rendered.len(), directory.display());
        }
    }
    Ok(())
}

/// Where `stackscope import` reads from.
enum ImportSource {
    Files(Vec<PathBuf>),
    /// `namespace: None` is every namespace; `Some(None)` the kubeconfig's namespace.
    Cluster {
        namespace: Option<Option<String>>,
    },
}

fn import(source: ImportSource, output: Option<PathBuf>, strict: bool) -> Result<(), Vec<String>> {
    let documents = match source {
        ImportSource::Files(paths) => import::documents_of_files(&read_files(&paths)?)?,
        ImportSource::Cluster { namespace } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| vec![format!("cannot start the async runtime: {error}")])?;
            runtime.block_on(async {
                let client = kube::Client::try_default()
                    .await
                    .map_err(|error| vec![format!("cannot reach the cluster: {error}")])?;
                let namespace =
                    namespace.map(|namespace| namespace.unwrap_or_else(|| client.default_namespace().to_owned()));
                import::documents_of_cluster(&client, namespace.as_deref()).await.map_err(|error| vec![error])
            })?
        }
    };
    let report = import::import_documents(documents, strict);
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if !report.errors.is_empty() {
        return Err(report.errors);
    }
    let mut texts = Vec::new();
    for (source, monitor) in &report.monitors {
        let text = serde_saphyr::to_string(monitor).map_err(|error| vec![format!("{source}: {error}")])?;
        texts.push((import::file_name(monitor), text));
    }
    match &output {
        None => {
            for (_, text) in &texts {
                print!("---\n{text}");
            }
        }
        Some(directory) => {
            std::fs::create_dir_all(directory).map_err(|error| vec![format!("{}: {error}", directory.display())])?;
            for (name, text) in &texts {
                let path = directory.join(name);
                std::fs::write(&path, text).map_err(|error| vec![format!("{}: {error}", path.display())])?;
            }
        }
    }
    let written = match &output {
        Some(directory) => format!(" into {}", directory.display()),
        None => String::new(),
    };
    let lossy = match report.lossy {
        0 => "none lost a field".to_owned(),
        count => format!("{count} of them lost fields stackscope does not have (see the warnings)"),
    };
    eprintln!("converted {} ServiceMonitor(s){written}; {lossy}", texts.len());
    Ok(())
}
