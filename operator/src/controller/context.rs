//! What every reconcile shares: the client, the caches the watches fill, and the per-stack memory
//! the controller keeps between reconciles (render caches, written statuses, backoffs, rechecks).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use k8s_openapi::api::core::v1::Service;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};

use super::apply::OwnedCache;
use super::dereference::StaticProblems;
use super::error::{Backoffs, ReconcileError};
use super::foreign::ForeignMonitors;
use super::metrics::Metrics;
use crate::api::{ObservabilityStack, ObservabilityStackStatus, ServiceMonitor};
use crate::render::cache::RenderCache;
use crate::render::{RenderError, RenderedObject};
use crate::resolve::ResolvedStack;
use crate::schema::SchemaValidator;

/// What every reconcile shares.
pub(crate) struct Context {
    pub client: Client,
    pub metrics: Metrics,
    /// Every ServiceMonitor in the cluster, kept by a reflector.
    pub monitors: Store<ServiceMonitor>,
    /// Every Service in the cluster, kept by a reflector: the monitors' ports are checked and
    /// their workloads found through them without a request per reconcile.
    pub services: Store<Service>,
    pub validator: SchemaValidator,
    pub recorder: Recorder,
    /// prometheus-operator's ServiceMonitors, watched once a stack selects them.
    pub foreign: ForeignMonitors,
    /// The objects the stacks own, as their watches last saw them.
    pub owned: OwnedCache,
    /// Monitors already validated, by uid and generation.
    pub checked: StaticProblems,
    /// One render cache per stack, so a reconcile after one monitor changed renders that
    /// monitor only.
    pub render_caches: RenderCaches,
    /// The status this replica last wrote for each stack.
    pub written_statuses: WrittenStatuses,
    /// Consecutive transient failures per stack.
    pub backoffs: Backoffs,
    /// Consecutive reconciles per stack that found its workloads not yet running and its status
    /// unchanged: the recheck slows down while nothing moves.
    pub rechecks: Backoffs,
}

impl Context {
    /// Waits until the caches hold their first full list. An error means a watch ended at
    /// shutdown; the reconcile then reads what there is.
    pub(crate) async fn caches_ready(&self) {
        let _ = self.monitors.wait_until_ready().await;
        let _ = self.services.wait_until_ready().await;
        self.owned.wait_until_ready().await;
    }

    /// Forgets everything kept for a stack that is gone.
    pub(crate) fn forget(&self, key: &StackKey) {
        self.render_caches.forget(key);
        self.written_statuses.forget(key);
        self.backoffs.reset(key.as_str());
        self.rechecks.reset(key.as_str());
    }
}

/// `namespace/name` of a stack: the key of everything the controller keeps per stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StackKey(String);

impl StackKey {
    /// The key of a stack, which must have a namespace (ObservabilityStacks are namespaced).
    pub(crate) fn of(stack: &ObservabilityStack) -> Result<Self, ReconcileError> {
        let namespace = stack.namespace().ok_or(ReconcileError::NoNamespace)?;
        Ok(Self(format!("{namespace}/{}", stack.name_any())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lock that survives a panic of its previous holder by starting afresh: what it guards is a
/// cache, which can always be rebuilt.
fn lock_or_reset<T: Default>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| {
        mutex.clear_poison();
        let mut guard = poisoned.into_inner();
        *guard = T::default();
        guard
    })
}

/// Render caches by stack; a stack's cache is dropped with the stack.
#[derive(Default)]
pub(crate) struct RenderCaches(Mutex<BTreeMap<StackKey, RenderCache>>);

impl RenderCaches {
    /// Renders a stack through its cache (the same objects a fresh render gives).
    pub fn render(&self, key: &StackKey, resolved: &ResolvedStack) -> Result<Vec<RenderedObject>, RenderError> {
        lock_or_reset(&self.0).entry(key.clone()).or_default().render(resolved)
    }

    fn forget(&self, key: &StackKey) {
        lock_or_reset(&self.0).remove(key);
    }
}

/// The status this replica last wrote for each stack, with the stack's uid. The leader is the
/// only writer of status, so this is never older than the cached stack's, which can lag behind: a
/// reconcile triggered by an owned object's watch event may run before the stack's own status
/// update reaches the cache, and must not undo it.
#[derive(Default)]
pub(crate) struct WrittenStatuses(Mutex<BTreeMap<StackKey, (String, ObservabilityStackStatus)>>);

impl WrittenStatuses {
    /// The stack's status as last written: by this replica for this very stack (same uid), else
    /// as cached.
    pub(crate) fn previous(&self, key: &StackKey, stack: &ObservabilityStack) -> Option<ObservabilityStackStatus> {
        let uid = stack.uid().unwrap_or_default();
        let written = lock_or_reset(&self.0)
            .get(key)
            .filter(|(written_uid, _)| *written_uid == uid)
            .map(|(_, status)| status.clone());
        written.or_else(|| stack.status.clone())
    }

    pub(crate) fn remember(&self, key: &StackKey, stack: &ObservabilityStack, status: ObservabilityStackStatus) {
        lock_or_reset(&self.0).insert(key.clone(), (stack.uid().unwrap_or_default(), status));
    }

    fn forget(&self, key: &StackKey) {
        lock_or_reset(&self.0).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObservabilityStackSpec;

    fn stack(uid: &str) -> ObservabilityStack {
        let mut stack = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("apps".to_owned());
        stack.metadata.uid = Some(uid.to_owned());
        stack
    }

    fn status(hash: &str) -> ObservabilityStackStatus {
        ObservabilityStackStatus { last_applied_hash: Some(hash.to_owned()), ..Default::default() }
    }

    #[test]
    fn a_stack_without_namespace_has_no_key() {
        let stack = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        assert!(matches!(StackKey::of(&stack), Err(ReconcileError::NoNamespace)));
    }

    #[test]
    fn the_written_status_wins_over_a_lagging_cache_but_not_over_a_new_stack() {
        let statuses = WrittenStatuses::default();
        let mut cached = stack("uid-1");
        cached.status = Some(status("cached"));
        let key = StackKey::of(&cached).unwrap();
        assert_eq!(statuses.previous(&key, &cached), Some(status("cached")), "nothing written yet");
        statuses.remember(&key, &cached, status("written"));
        assert_eq!(statuses.previous(&key, &cached), Some(status("written")));
        // A stack deleted and created again under the same name is another stack.
        let mut recreated = stack("uid-2");
        recreated.status = None;
        assert_eq!(statuses.previous(&key, &recreated), None);
        statuses.forget(&key);
        assert_eq!(statuses.previous(&key, &cached), Some(status("cached")));
    }

    #[test]
    fn a_poisoned_cache_starts_afresh() {
        let statuses = std::sync::Arc::new(WrittenStatuses::default());
        let cached = stack("uid-1");
        let key = StackKey::of(&cached).unwrap();
        statuses.remember(&key, &cached, status("written"));
        let poisoner = statuses.clone();
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.0.lock();
            panic!("a reconcile panicked while holding the lock");
        })
        .join();
        assert_eq!(statuses.previous(&key, &cached), None, "reset, not stuck");
    }
}
