//! Criterion benchmarks of the render path: resolve+render of 100 … 50k monitors, the
//! incremental re-render after one monitor changed (render cache), and serialization of the
//! rendered objects as they are sent to the API server. `make bench` runs them and writes
//! `bench/results/render-<commit>.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use stackscope::render::cache::RenderCache;
use stackscope::render::render_stack;
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;

/// Monitor counts of the full render.
const COUNTS: [usize; 4] = [100, 1_000, 10_000, 50_000];

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
        let monitors = fixtures::service_monitors(count);
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
        let monitors = fixtures::service_monitors(count);
        group.bench_with_input(BenchmarkId::from_parameter(count), &monitors, |b, monitors| {
            b.iter(|| ResolvedStack::new(&stack, black_box(monitors)))
        });
    }
    group.finish();
}

/// One monitor changes (new generation, new spec) between renders; the cache holds the rest.
fn incremental(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("incremental_render");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    for count in [1_000, 10_000] {
        let resolved = ResolvedStack::new(&stack, &fixtures::service_monitors(count));
        let mut cache = RenderCache::new();
        let _ = cache.render(&resolved);
        let mut generation = 1u64;
        group.bench_function(BenchmarkId::from_parameter(count), |b| {
            b.iter_batched(
                || {
                    generation += 1;
                    let mut changed = resolved.clone();
                    // A monitor without SLO or alert overrides: the rule files stay cached.
                    let monitor = &mut changed.monitors[count / 2 + 1];
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

/// The rendered objects as JSON, the form the API server receives.
fn serialization(c: &mut Criterion) {
    let stack = fixtures::stack("monitoring");
    let mut group = c.benchmark_group("serialize");
    group.sample_size(10);
    for count in [1_000, 10_000] {
        let rendered =
            render_stack(&ResolvedStack::new(&stack, &fixtures::service_monitors(count))).unwrap_or_default();
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

criterion_group!(benches, resolve_render, resolve, incremental, serialization);
criterion_main!(benches);
