//! A program the live tests run (an engine, a stand-in, a catcher), its output in a log file,
//! killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program` with `args` and `envs` (added to the test's environment), stdout and
    /// stderr into `<log_dir>/<name>.log`.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        envs: &[(&str, String)],
        log_dir: &Path,
    ) -> Result<Self, String> {
        let log = log_dir.join(format!("{name}.log"));
        let output = std::fs::File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
        let errors = output.try_clone().map_err(|error| format!("{}: {error}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .envs(envs.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .map_err(|error| format!("{name}: {}: {error}", program.display()))?;
        Ok(Self { name: name.to_owned(), child, log })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it is still running, and if not how it ended.
    pub fn state(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            Ok(None) => "running".to_owned(),
            Err(error) => format!("unknown ({error})"),
        }
    }

    /// Its state and the end of its log, for a failure message.
    pub fn diagnosis(&mut self) -> String {
        let log = self.log_text();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        let state = self.state();
        format!("--- {} ({state}), end of its log ---\n{tail}", self.name)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
