//! An operator under test as a separate process: started, sampled from /proc (CPU seconds,
//! peak RSS), its Prometheus metrics read, and stopped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// CPU and memory of a process so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// Peak resident set size (`VmHWM`).
    pub peak_rss_bytes: u64,
}

/// A running operator.
pub struct Operator {
    child: tokio::process::Child,
    pid: u32,
    pub started: Instant,
    pub metrics: SocketAddr,
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    listener.local_addr().map(|address| address.port()).map_err(|error| error.to_string())
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

impl Operator {
    /// Starts `program` with `args` (and `env`), its output appended to `log`.
    pub fn spawn(
        program: &Path,
        args: &[String],
        env: &[(&str, String)],
        log: &Path,
        metrics: SocketAddr,
    ) -> Result<Self, String> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|error| format!("{}: {error}", log.display()))
        };
        let mut command = tokio::process::Command::new(program);
        command.args(args).stdin(Stdio::null()).stdout(open()?).stderr(open()?).kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let started = Instant::now();
        let child = command.spawn().map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        let pid = child.id().ok_or("the operator exited at once")?;
        Ok(Self { child, pid, started, metrics })
    }

    /// CPU seconds (user + system) and memory from /proc.
    pub fn usage(&self) -> Result<Usage, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|error| format!("/proc/{}/stat: {error} (did the operator exit?)", self.pid))?;
        // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
        let cpu_seconds = (ticks(11) + ticks(12)) / clock_ticks_per_second();
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|error| format!("/proc/{}/status: {error}", self.pid))?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        Ok(Usage { cpu_seconds, peak_rss_bytes: kib("VmHWM:") })
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The sum of every series of a metric on the operator's `/metrics` (0 when absent).
    pub async fn metric_sum(&self, name: &str) -> Result<f64, String> {
        let text = scrape(self.metrics).await?;
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Stops the operator: SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// `GET /metrics` over plain HTTP/1.0.
async fn scrape(address: SocketAddr) -> Result<String, String> {
    let request = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .map_err(|_| format!("metrics of {address}: timed out"))?
        .map_err(|error| format!("metrics of {address}: {error}"))?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}
