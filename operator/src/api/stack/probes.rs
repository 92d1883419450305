//! Probes: the liveness and readiness probes expected of the monitored workloads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::defaults as seed;

/// Report or enforce the expected probes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum ProbePolicy {
    /// List missing or different probes in status.
    #[default]
    Report,
    /// Also set them on the workloads (server-side apply, nothing else touched).
    Enforce,
}

/// Expected probes of the monitored workloads (seed: Container Health Probes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbesSpec {
    /// Report or enforce.
    pub policy: ProbePolicy,
    /// Liveness probe: `/health` on 8011, 30/10/5/3.
    #[schemars(transform = super::overlay::fields_default_from_parent)]
    pub liveness: HttpProbe,
    /// Readiness probe: `/ready` on 8011, 5/5/3/2.
    #[schemars(transform = super::overlay::fields_default_from_parent)]
    pub readiness: HttpProbe,
}

impl Default for ProbesSpec {
    fn default() -> Self {
        Self {
            policy: ProbePolicy::Report,
            liveness: HttpProbe {
                path: seed::LIVENESS_PATH.to_owned(),
                port: seed::PROBE_PORT,
                initial_delay_seconds: 30,
                period_seconds: 10,
                timeout_seconds: 5,
                failure_threshold: 3,
            },
            readiness: HttpProbe {
                path: seed::READINESS_PATH.to_owned(),
                port: seed::PROBE_PORT,
                initial_delay_seconds: 5,
                period_seconds: 5,
                timeout_seconds: 3,
                failure_threshold: 2,
            },
        }
    }
}

/// An HTTP GET probe.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
// In a stack either field may be set alone (the other keeps the probe's default; the operator
// checks the pair). A monitor's own probe is whole.
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.timeoutSeconds) || !has(self.periodSeconds) || self.timeoutSeconds <= self.periodSeconds", "message": "timeoutSeconds must not exceed periodSeconds", "fieldPath": ".timeoutSeconds"}]))]
pub struct HttpProbe {
    /// Path to GET.
    #[schemars(length(min = 1, max = 1024), pattern(r"^/"))]
    pub path: String,
    /// Container port the probe connects to.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Seconds before the first probe.
    #[schemars(range(max = 3600))]
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: u32,
    /// Seconds before a probe times out.
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: u32,
    /// Failures in a row before the probe fails.
    #[schemars(range(min = 1, max = 100))]
    pub failure_threshold: u32,
}
