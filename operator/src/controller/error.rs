//! Why a reconcile failed, typed by stage, and what to do about it: input that cannot render
//! waits for a change (rendering it again gives the same answer), a failing API is retried with a
//! backoff that grows per stack.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::apply::ApplyError;
use super::dereference::DereferenceError;
use super::probes::ProbeError;
use super::validate::InvalidStack;
use crate::render::RenderError;

/// Why a reconcile failed. Each variant names the stage.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReconcileError {
    #[error("the ObservabilityStack has no namespace")]
    NoNamespace,
    #[error("dereference: {0}")]
    Dereference(#[from] DereferenceError),
    #[error(transparent)]
    InvalidStack(#[from] InvalidStack),
    #[error("render: {0}")]
    Render(#[from] RenderError),
    #[error("apply: {0}")]
    Apply(#[from] ApplyError),
    #[error("probes: {0}")]
    Probes(#[from] ProbeError),
    #[error("status of {object}: {source}")]
    Status { object: String, source: kube::Error },
    #[error("finalizer: {0}")]
    Finalizer(#[from] FinalizerError),
}

/// The finalizer helper's own failures (adding or removing the finalizer); failures of the
/// apply and cleanup it runs are the reconcile's own errors.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FinalizerError {
    #[error("failed to add the finalizer: {0}")]
    Add(#[source] kube::Error),
    #[error("failed to remove the finalizer: {0}")]
    Remove(#[source] kube::Error),
    #[error("the object has no name")]
    UnnamedObject,
    #[error("invalid finalizer")]
    InvalidFinalizer,
}

impl From<kube::runtime::finalizer::Error<ReconcileError>> for ReconcileError {
    fn from(error: kube::runtime::finalizer::Error<ReconcileError>) -> Self {
        use kube::runtime::finalizer::Error;
        match error {
            Error::ApplyFailed(inner) | Error::CleanupFailed(inner) => inner,
            Error::AddFinalizer(source) => FinalizerError::Add(source).into(),
            Error::RemoveFinalizer(source) => FinalizerError::Remove(source).into(),
            Error::UnnamedObject => FinalizerError::UnnamedObject.into(),
            Error::InvalidFinalizer => FinalizerError::InvalidFinalizer.into(),
        }
    }
}

/// When a failed reconcile runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// The input cannot render as it is: only a change of the stack or of what it reads (each
    /// of which triggers a reconcile) can help, so nothing is retried on a timer.
    AfterChange,
    /// The API server failed or refused a request: retried with a backoff that grows per stack.
    Backoff,
}

impl ReconcileError {
    /// Every value of [`Self::reason`]: the error counter is exported at zero for each from the
    /// start, so that "no errors" reads as a zero and not as a metric that does not exist.
    pub const REASONS: [&'static str; 10] = [
        "no_namespace",
        "dereference",
        "invalid_stack",
        "render",
        "unknown_kind",
        "serialize",
        "api",
        "probes",
        "status",
        "finalizer",
    ];

    /// A bounded label for metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::NoNamespace => "no_namespace",
            Self::Dereference(_) => "dereference",
            Self::InvalidStack(_) => "invalid_stack",
            Self::Render(_) => "render",
            Self::Apply(error) => error.reason(),
            Self::Probes(_) => "probes",
            Self::Status { .. } => "status",
            Self::Finalizer(_) => "finalizer",
        }
    }

    /// The retry policy of this kind of failure.
    pub(crate) fn retry(&self) -> Retry {
        match self {
            // Pure stages: the same input gives the same answer.
            Self::NoNamespace | Self::InvalidStack(_) | Self::Render(_) => Retry::AfterChange,
            Self::Apply(error) if !error.is_transient() => Retry::AfterChange,
            Self::Dereference(_) | Self::Apply(_) | Self::Probes(_) | Self::Status { .. } | Self::Finalizer(_) => {
                Retry::Backoff
            }
        }
    }
}

/// First and longest delay of the per-stack backoff.
pub(crate) const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// A delay per stack (`namespace/name`) that doubles with each consecutive occurrence, from
/// `first` up to `max`; resetting forgets the stack. For transient failures (1 s … 5 min, a success
/// resets) and for the recheck of a stack whose workloads do not run yet (10 s … the resync, a
/// change of its status resets).
#[derive(Debug)]
pub(crate) struct Backoffs {
    first: Duration,
    max: Duration,
    occurrences: Mutex<HashMap<String, u32>>,
}

impl Default for Backoffs {
    /// The failure backoff: [`BACKOFF_FIRST`] … [`BACKOFF_MAX`].
    fn default() -> Self {
        Self::new(BACKOFF_FIRST, BACKOFF_MAX)
    }
}

impl Backoffs {
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self { first, max, occurrences: Mutex::default() }
    }

    /// The delay after one more occurrence: `first`, twice that, four times … at most `max`.
    pub(crate) fn next_delay(&self, stack: &str) -> Duration {
        let occurrences = match self.occurrences.lock() {
            Ok(mut occurrences) => {
                let count = occurrences.entry(stack.to_owned()).or_insert(0);
                *count = count.saturating_add(1);
                *count
            }
            Err(_) => 1,
        };
        let factor = 2u32.saturating_pow(occurrences.saturating_sub(1).min(16));
        self.first.saturating_mul(factor).min(self.max)
    }

    /// Forgets a stack: it reconciled (or changed), or is gone.
    pub(crate) fn reset(&self, stack: &str) {
        if let Ok(mut occurrences) = self.occurrences.lock() {
            occurrences.remove(stack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Component;
    use crate::validate::FieldError;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(kube::core::Status::failure("refused", "Refused").with_code(code).boxed())
    }

    #[test]
    fn input_that_cannot_render_waits_for_a_change() {
        let invalid = ReconcileError::from(InvalidStack::Fields {
            problems: vec![FieldError { path: "spec.x".to_owned(), message: "bad".to_owned() }],
        });
        assert_eq!(invalid.retry(), Retry::AfterChange);
        let render = ReconcileError::from(RenderError::Invalid {
            component: Component::Rules,
            error: FieldError { path: "spec.alerting".to_owned(), message: "bad".to_owned() },
        });
        assert_eq!(render.retry(), Retry::AfterChange);
        assert_eq!(ReconcileError::NoNamespace.retry(), Retry::AfterChange);
        // The API server refusing a rendered object as invalid will refuse it again.
        let refused =
            ReconcileError::from(ApplyError::Api { action: "apply", object: "x".to_owned(), source: api_error(422) });
        assert_eq!(refused.retry(), Retry::AfterChange);
    }

    #[test]
    fn failing_api_calls_back_off() {
        let unavailable =
            ReconcileError::from(ApplyError::Api { action: "apply", object: "x".to_owned(), source: api_error(503) });
        assert_eq!(unavailable.retry(), Retry::Backoff);
        let conflict =
            ReconcileError::from(ApplyError::Api { action: "apply", object: "x".to_owned(), source: api_error(409) });
        assert_eq!(conflict.retry(), Retry::Backoff);
        let secret = ReconcileError::from(DereferenceError {
            namespace: "a".to_owned(),
            name: "s".to_owned(),
            source: api_error(500),
        });
        assert_eq!(secret.retry(), Retry::Backoff);
        let status = ReconcileError::Status { object: "x".to_owned(), source: api_error(500) };
        assert_eq!(status.retry(), Retry::Backoff);
    }

    #[test]
    fn every_reason_is_exported_from_the_start() {
        let errors = [
            ReconcileError::NoNamespace,
            ReconcileError::from(DereferenceError { namespace: "a".into(), name: "s".into(), source: api_error(500) }),
            ReconcileError::from(InvalidStack::Fields { problems: Vec::new() }),
            ReconcileError::from(RenderError::Invalid {
                component: Component::Rules,
                error: FieldError { path: String::new(), message: String::new() },
            }),
            ReconcileError::from(ApplyError::UnknownKind { object: "x".into() }),
            ReconcileError::from(ApplyError::Serialize {
                object: "x".into(),
                source: serde_json::from_str::<u8>("x").unwrap_err(),
            }),
            ReconcileError::from(ApplyError::Api { action: "apply", object: "x".into(), source: api_error(500) }),
            ReconcileError::from(ProbeError::List {
                kind: "Deployment",
                namespace: "a".into(),
                source: api_error(500),
            }),
            ReconcileError::Status { object: "x".into(), source: api_error(500) },
            ReconcileError::from(FinalizerError::UnnamedObject),
        ];
        let reasons: Vec<&str> = errors.iter().map(ReconcileError::reason).collect();
        assert_eq!(reasons, ReconcileError::REASONS);
    }

    #[test]
    fn backoff_doubles_per_stack_up_to_its_cap_and_resets() {
        let backoffs = Backoffs::default();
        let delays: Vec<u64> = (0..4).map(|_| backoffs.next_delay("a/one").as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(backoffs.next_delay("b/other"), BACKOFF_FIRST, "stacks back off independently");
        for _ in 0..40 {
            backoffs.next_delay("a/one");
        }
        assert_eq!(backoffs.next_delay("a/one"), BACKOFF_MAX);
        backoffs.reset("a/one");
        assert_eq!(backoffs.next_delay("a/one"), BACKOFF_FIRST);
        let rechecks = Backoffs::new(Duration::from_secs(10), Duration::from_secs(300));
        let delays: Vec<u64> = (0..7).map(|_| rechecks.next_delay("a/one").as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn finalizer_errors_keep_the_stage_error_they_wrap() {
        use kube::runtime::finalizer::Error;
        let inner = ReconcileError::NoNamespace;
        assert!(matches!(ReconcileError::from(Error::ApplyFailed(inner)), ReconcileError::NoNamespace));
        let add = ReconcileError::from(Error::<ReconcileError>::AddFinalizer(api_error(500)));
        assert!(matches!(add, ReconcileError::Finalizer(FinalizerError::Add(_))), "{add:?}");
        assert_eq!(add.retry(), Retry::Backoff);
    }
}
