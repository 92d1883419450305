//! Counts an identity's API requests from the API server's audit log (tools/control-plane.sh
//! with `STACKSCOPE_AUDITED_USERS`): the server's own record, the same for both operators.

use std::collections::BTreeMap;
use std::io::{BufRead, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Requests of one identity between two points of the log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Requests {
    pub total: u64,
    /// create, update, patch, delete, deletecollection.
    pub writes: u64,
    /// Requests per verb (get, list, watch, patch, ...).
    pub by_verb: BTreeMap<String, u64>,
    /// Requests per `<verb> <resource>[/<subresource>]`.
    pub by_resource: BTreeMap<String, u64>,
}

const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// The audit log of a control plane.
#[derive(Clone, Debug)]
pub struct AuditLog {
    pub path: PathBuf,
}

impl AuditLog {
    /// The current end of the log: requests logged later are counted from here.
    pub fn offset(&self) -> u64 {
        std::fs::metadata(&self.path).map(|metadata| metadata.len()).unwrap_or(0)
    }

    /// The requests of `user` logged since `from`. A request is counted once: when its response
    /// completed, or for a watch when it started streaming.
    pub fn count(&self, user: &str, from: u64) -> Result<Requests, String> {
        let mut file = std::fs::File::open(&self.path).map_err(|error| format!("{}: {error}", self.path.display()))?;
        file.seek(SeekFrom::Start(from)).map_err(|error| error.to_string())?;
        let mut requests = Requests::default();
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|error| error.to_string())?;
            // A cheap filter first: the log also holds the other operator's requests.
            if !line.contains(user) {
                continue;
            }
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if event["user"]["username"] != user {
                continue;
            }
            let verb = event["verb"].as_str().unwrap_or_default();
            let counted = match event["stage"].as_str().unwrap_or_default() {
                "ResponseStarted" => verb == "watch",
                "ResponseComplete" => verb != "watch",
                "Panic" => true,
                _ => false,
            };
            if !counted {
                continue;
            }
            requests.total += 1;
            if WRITE_VERBS.contains(&verb) {
                requests.writes += 1;
            }
            *requests.by_verb.entry(verb.to_owned()).or_default() += 1;
            let resource = event["objectRef"]["resource"].as_str().unwrap_or("-");
            let resource = match event["objectRef"]["subresource"].as_str() {
                Some(subresource) => format!("{resource}/{subresource}"),
                None => resource.to_owned(),
            };
            *requests.by_resource.entry(format!("{verb} {resource}")).or_default() += 1;
        }
        Ok(requests)
    }

    /// Waits until no audited request was logged for `quiet` (or `timeout` passed); true if
    /// quiet. Only one operator runs at a time and the harness is not audited, so the log's size
    /// is enough (parsing it again and again would compete with the operator for the CPU).
    pub async fn wait_quiet(&self, quiet: Duration, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut last_size = u64::MAX;
        let mut last_change = Instant::now();
        while Instant::now() < deadline {
            let size = self.offset();
            if size != last_size {
                last_size = size;
                last_change = Instant::now();
            } else if last_change.elapsed() >= quiet {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }
}
