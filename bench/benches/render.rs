//! Criterion benchmarks of the render path: resolve+render of 100 … 50k monitors, the
//! incremental re-render after one monitor changed (render cache), the declarations the apply
//! stage makes of a render, and serialization of the rendered objects as they are sent to the
//! API server. `make bench` runs them and writes `bench/results/render-<commit>.json`.
//!
//! The monitors are shared (`Arc`), as the controller holds them in its watch store.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use stackscope::api::ServiceMonitor;
use stackscope::controller::apply;
use stackscope::render::cache::RenderCache;
use stackscope::render::render_stack;
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;

/// Monitor counts of the full render.
const COUNTS: [usize; 4] = [100, 1_000, 10_000, 50_000];

fn shared_monitors(count: usize) -> Vec<Arc<ServiceMonitor>> {
    fixtures::service_monitors(count).into_iter().map(Arc::new).collect()
}

/// Enough samples for a stable mean without spending minutes on the 50k case.
fn measurement_time(count: usize) -> Duration {
    Duration::from_secs(match count {
        50_000 => 40,
        10_000 => 15,
        _ => 5,
    })
}

fn resolve_render(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("resolve_render");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for count in COUNTS {
        let monitors = shared_monitors(count);
        group.measurement_time(measurement_time(count));
        group.bench_with_input(BenchmarkId::from_parameter(count), &monitors, |b, monitors| {
            b.iter(|| render_stack(&ResolvedStack::new(&stack, black_box(monitors))))
        });
    }
    group.finish();
}

fn resolve(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("resolve");
    group.sample_size(10);
    for count in [1_000, 10_000] {
        let monitors = shared_monitors(count);
        group.bench_with_input(BenchmarkId::from_parameter(count), &monitors, |b, monitors| {
            b.iter(|| ResolvedStack::new(&stack, black_box(monitors)))
        });
    }
    group.finish();
}

/// The position of a monitor near the middle without SLO or alert overrides (most monitors):
/// its change leaves the rule files as they are.
fn plain_monitor(resolved: &ResolvedStack) -> usize {
    let middle = resolved.monitors.len() / 2;
    (middle..resolved.monitors.len())
        .find(|&at| resolved.monitors[at].spec.slo.is_none() && resolved.monitors[at].spec.alerts.is_none())
        .unwrap_or(middle)
}

/// One monitor changes (new generation, new spec) between renders; the cache holds the rest.
fn incremental(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("incremental_render");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    for count in [1_000, 10_000] {
        let resolved = ResolvedStack::new(&stack, &shared_monitors(count));
        let changing = plain_monitor(&resolved);
        let mut cache = RenderCache::new();
        let _ = cache.render(&resolved);
        let mut generation = 1u64;
        group.bench_function(BenchmarkId::from_parameter(count), |b| {
            b.iter_batched(
                || {
                    generation += 1;
                    let mut changed = resolved.clone();
                    let monitor = &mut changed.monitors[changing];
                    monitor.revision = Some(format!("changed/{generation}"));
                    monitor.spec.sample_limit = Some(generation);
                    changed
                },
                |changed| cache.render(&changed),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The apply stage's declarations of a render: owner reference, hash annotation, apply order.
fn declare(c: &mut Criterion) {
    let mut stack = fixtures::stack("monitoring");
    stack.metadata.uid = Some("6f1d2c3b-0000-4000-8000-000000000000".to_owned());
    let mut group = c.benchmark_group("declare");
    group.sample_size(10);
    for count in [1_000, 10_000] {
        let rendered = render_stack(&ResolvedStack::new(&stack, &shared_monitors(count))).unwrap_or_default();
        group.bench_with_input(BenchmarkId::from_parameter(count), &rendered, |b, rendered| {
            b.iter_batched(|| rendered.clone(), |rendered| apply::declare(&stack, rendered), BatchSize::LargeInput)
        });
    }
    group.finish();
}

/// The rendered objects as JSON, the form the API server receives.
fn serialization(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("serialize");
    group.sample_size(10);
    for count in [1_000, 10_000] {
        let rendered = render_stack(&ResolvedStack::new(&stack, &shared_monitors(count))).unwrap_or_default();
        group.bench_with_input(BenchmarkId::from_parameter(count), &rendered, |b, rendered| {
            b.iter(|| {
                rendered
                    .iter()
                    .map(|item| serde_json::to_vec(&item.object).map(|bytes| bytes.len()))
                    .sum::<Result<usize, _>>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, resolve_render, resolve, incremental, declare, serialization);
criterion_main!(benches);
