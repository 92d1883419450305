//! The render cache: a reconcile after one monitor changed renders that monitor only.
//!
//! The controller keeps one cache per stack across reconciles. Each monitor's pieces (its scrape
//! jobs, its probe expectations) are kept under its identity and revision (uid and generation:
//! the generation moves with every spec change and not with status writes); the rule files are
//! kept under the revisions of the monitors with an SLO or alert overrides, the only ones they
//! read. A change of the stack itself (its spec, name or namespace) empties the cache. The output
//! is the same as [`render_stack`](super::render_stack)'s, byte for byte; only the work differs.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::layout::ConfigMaps;
use super::shard::Piece;
use super::{Component, RenderError, RenderedObject, probes, prometheus, render_from};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// What one monitor rendered to, at one revision.
#[derive(Debug)]
struct MonitorEntry {
    revision: String,
    scrape: Piece,
    probes: Piece,
}

/// Cached pieces of one stack's render.
#[derive(Debug, Default)]
pub struct RenderCache {
    /// Digest of the stack's spec, name and namespace the entries were rendered under.
    stack_digest: Option<[u8; 32]>,
    monitors: HashMap<String, MonitorEntry>,
    /// The laid-out rule files and the digest of the monitor revisions they were rendered from.
    rules: Option<([u8; 32], ConfigMaps)>,
    /// Monitors rendered (not taken from the cache) by the last render, for tests and metrics.
    last_rendered_monitors: usize,
}

impl RenderCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many monitors the last render had to render afresh.
    pub fn last_rendered_monitors(&self) -> usize {
        self.last_rendered_monitors
    }

    /// Renders the stack, reusing what is cached for unchanged monitors.
    pub fn render(&mut self, stack: &ResolvedStack) -> Result<Vec<RenderedObject>, RenderError> {
        let digest = stack_digest(stack)?;
        if self.stack_digest != Some(digest) {
            self.monitors.clear();
            self.rules = None;
            self.stack_digest = Some(digest);
        }
        let mut rendered_now = 0;
        let mut fresh: HashMap<String, MonitorEntry> = HashMap::with_capacity(stack.monitors.len());
        let mut uncached: Vec<(usize, Piece, Piece)> = Vec::new();
        for (position, monitor) in stack.monitors.iter().enumerate() {
            let key = monitor.key();
            if fresh.contains_key(&key) || uncached.iter().any(|(at, _, _)| stack.monitors[*at].key() == key) {
                // Two monitors under one key cannot share the cache's entries: render afresh.
                self.monitors.clear();
                self.rules = None;
                return super::render_stack(stack);
            }
            let cached = self.monitors.remove(&key).filter(|entry| Some(&entry.revision) == monitor.revision.as_ref());
            match (cached, &monitor.revision) {
                (Some(entry), _) => {
                    fresh.insert(key, entry);
                }
                (None, revision) => {
                    rendered_now += 1;
                    let scrape = prometheus::monitor_piece(stack, monitor)?;
                    let probes = probes::monitor_piece(stack, monitor)?;
                    match revision {
                        Some(revision) => {
                            fresh.insert(key, MonitorEntry { revision: revision.clone(), scrape, probes });
                        }
                        // Without a revision (not from the API server) nothing is kept.
                        None => uncached.push((position, scrape, probes)),
                    }
                }
            }
        }
        // Monitors gone from the stack drop out here.
        self.monitors = fresh;
        self.last_rendered_monitors = rendered_now;

        let rules = if Component::Rules.enabled(stack) {
            let rules_digest = rules_digest(stack);
            match &self.rules {
                Some((cached_digest, rules)) if *cached_digest == rules_digest => Some(rules.clone()),
                _ => {
                    let rules = super::rule_config_maps(stack)?;
                    // Kept only when every monitor it read has a revision.
                    if rules_inputs(stack).all(|monitor| monitor.revision.is_some()) {
                        self.rules = Some((rules_digest, rules.clone()));
                    }
                    Some(rules)
                }
            }
        } else {
            None
        };

        let mut uncached = uncached.iter().peekable();
        let mut scrape = Vec::with_capacity(stack.monitors.len());
        let mut probe_pieces = Vec::with_capacity(stack.monitors.len());
        for (position, monitor) in stack.monitors.iter().enumerate() {
            if let Some((_, scrape_piece, probe_piece)) = uncached.next_if(|(at, _, _)| *at == position) {
                scrape.push(scrape_piece);
                probe_pieces.push(probe_piece);
            } else if let Some(entry) = self.monitors.get(&monitor.key()) {
                scrape.push(&entry.scrape);
                probe_pieces.push(&entry.probes);
            }
        }
        render_from(stack, scrape, probe_pieces, rules)
    }
}

/// The monitors the rule files read: those with an SLO, alert overrides or a database.
fn rules_inputs(stack: &ResolvedStack) -> impl Iterator<Item = &ResolvedMonitor> {
    stack.monitors.iter().filter(|monitor| {
        monitor.spec.slo.is_some() || monitor.spec.alerts.is_some() || monitor.spec.database.is_some()
    })
}

fn rules_digest(stack: &ResolvedStack) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for monitor in rules_inputs(stack) {
        hasher.update(monitor.key().as_bytes());
        hasher.update([0]);
        hasher.update(monitor.revision.as_deref().unwrap_or_default().as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

fn stack_digest(stack: &ResolvedStack) -> Result<[u8; 32], RenderError> {
    let spec =
        serde_json::to_vec(&stack.spec).map_err(RenderError::serialize(Component::Prometheus, "the stack's spec"))?;
    let mut hasher = Sha256::new();
    hasher.update(stack.name.as_bytes());
    hasher.update([0]);
    hasher.update(stack.namespace.as_bytes());
    hasher.update([0]);
    hasher.update(&spec);
    Ok(hasher.finalize().into())
}
