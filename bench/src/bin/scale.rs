//! `make scale`: stackscope and prometheus-operator against a real local control plane with 1k
//! and 10k ServiceMonitors; writes `bench/results/scale-<short commit>.json` and the side-by-side
//! table of `bench/README.md`. See `bench/src/scale/mod.rs` for what is measured and how.

#[path = "../scale/mod.rs"]
mod scale;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Scale run of stackscope, side by side with prometheus-operator.
#[derive(Parser, Debug)]
#[command(name = "scale")]
struct Arguments {
    /// Monitor counts, one fresh control plane each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    sizes: Vec<usize>,
    /// Monitor changes timed per operator and count.
    #[arg(long, default_value_t = 60)]
    changes: usize,
    /// Seconds at most spent on the changes of one operator at one count.
    #[arg(long, default_value_t = 600)]
    change_budget_seconds: u64,
    /// The stackscope binary (a release build).
    #[arg(long, default_value = "target/release/stackscope")]
    stackscope: PathBuf,
    /// prometheus-operator's `operator` binary (`tools/build-tools.sh --print-path
    /// prometheus-operator`); without it only stackscope is measured.
    #[arg(long)]
    prometheus_operator: Option<PathBuf>,
    /// Control-plane state directory of the run.
    #[arg(long, env = "STACKSCOPE_SCALE_STATE")]
    state: Option<PathBuf>,
    /// Print the table of an existing results file into bench/README.md and exit.
    #[arg(long)]
    table_from: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn absolute(path: PathBuf, repo: &std::path::Path) -> PathBuf {
    if path.is_absolute() { path } else { repo.join(path) }
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let repo = repo_root();
    if let Some(results) = arguments.table_from {
        let result = std::fs::read_to_string(&results)
            .map_err(|error| format!("{}: {error}", results.display()))
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|error| error.to_string()))
            .and_then(|document| {
                let name = results.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                scale::report::update_readme(&repo.join("bench/README.md"), &scale::report::table(&document, &name))
            });
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("scale: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let options = scale::Options {
        state: arguments.state.unwrap_or_else(|| home.join(".cache/stackscope/control-plane-scale")),
        sizes: arguments.sizes,
        changes: arguments.changes,
        change_budget: Duration::from_secs(arguments.change_budget_seconds),
        stackscope_binary: absolute(arguments.stackscope, &repo),
        prometheus_operator_binary: arguments.prometheus_operator.map(|path| absolute(path, &repo)),
        repo: repo.clone(),
    };
    // The commit is read before the run: the results name what was measured.
    let commit = scale::report::commit(&repo);
    let runs = match scale::run(&options).await {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("scale: {error}");
            return ExitCode::FAILURE;
        }
    };
    let document = scale::report::document(&repo, &commit, &runs, options.changes);
    match scale::report::write(&repo, &document, &commit.short) {
        Ok(path) => {
            eprintln!("scale: wrote {} and the table in bench/README.md", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("scale: {error}");
            ExitCode::FAILURE
        }
    }
}
