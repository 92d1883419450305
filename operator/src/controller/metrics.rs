//! The operator's own metrics. Labels are bounded: outcome, error reason and component names
//! come from fixed sets; stack and monitor names never become labels.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Every metric the operator exports, registered once.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Reconciles by outcome (`success`, `error`).
    pub reconciles: IntCounterVec,
    /// Reconcile duration in seconds.
    pub reconcile_duration: HistogramVec,
    /// Reconcile errors by bounded reason.
    pub errors: IntCounterVec,
    /// Drifted fields found, summed over reconciles.
    pub drift_detected: IntCounter,
    /// Drifted objects restored under `driftPolicy: Correct`.
    pub drift_corrected: IntCounter,
    /// ServiceMonitors currently rejected, over all stacks.
    pub rejected_monitors: IntGauge,
    /// Write requests sent to the API server.
    pub writes: IntCounter,
    /// 1 while this replica holds the leader lease.
    pub leader: IntGauge,
    /// Failed watch requests by watched kind (a fixed set); each watch retries with backoff.
    pub watch_errors: IntCounterVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("stackscope".to_owned()), None)?;
        let reconciles = IntCounterVec::new(Opts::new("reconciles_total", "Reconciles by outcome"), &["outcome"])?;
        let reconcile_duration = HistogramVec::new(
            HistogramOpts::new("reconcile_duration_seconds", "Duration of a reconcile")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["outcome"],
        )?;
        let errors =
            IntCounterVec::new(Opts::new("reconcile_errors_total", "Reconcile errors by reason"), &["reason"])?;
        let drift_detected = IntCounter::new("drift_fields_total", "Drifted fields detected")?;
        let drift_corrected = IntCounter::new("drift_corrected_objects_total", "Drifted objects restored")?;
        let rejected_monitors = IntGauge::new("rejected_monitors", "ServiceMonitors rejected by validation")?;
        let writes = IntCounter::new("api_writes_total", "Write requests sent to the API server")?;
        let leader = IntGauge::new("leader", "1 while this replica holds the leader lease")?;
        let watch_errors = IntCounterVec::new(
            Opts::new("watch_errors_total", "Failed watch or list requests by watched kind; retried with backoff"),
            &["kind"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(drift_detected.clone()))?;
        registry.register(Box::new(drift_corrected.clone()))?;
        registry.register(Box::new(rejected_monitors.clone()))?;
        registry.register(Box::new(writes.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(watch_errors.clone()))?;
        Ok(Self {
            registry,
            reconciles,
            reconcile_duration,
            errors,
            drift_detected,
            drift_corrected,
            rejected_monitors,
            writes,
            leader,
            watch_errors,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn encode(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if encoder.encode(&self.registry.gather(), &mut buffer).is_err() {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exported_with_the_stackscope_prefix() {
        let metrics = Metrics::new().unwrap();
        metrics.reconciles.with_label_values(&["success"]).inc();
        metrics.errors.with_label_values(&["api"]).inc();
        let text = metrics.encode();
        assert!(text.contains("stackscope_reconciles_total{outcome=\"success\"} 1"), "{text}");
        assert!(text.contains("stackscope_reconcile_errors_total{reason=\"api\"} 1"));
    }
}
