//! A render loop to profile: `cargo build --release -p stackscope-bench --example profile`, then
//! `perf record -g target/release/examples/profile 10000 [incremental]`.

use std::time::Instant;

use stackscope::render::cache::RenderCache;
use stackscope::render::render_stack;
use stackscope::resolve::ResolvedStack;
use stackscope_bench::fixtures;

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(10_000);
    let incremental = args.next().as_deref() == Some("incremental");
    let monitors = fixtures::service_monitors(count);
    let stack = fixtures::stack("monitoring");
    let mut resolved = ResolvedStack::new(&stack, &monitors);
    let mut cache = RenderCache::new();
    // A monitor without SLO or alert overrides, like most: the rule files stay cached.
    let changing = (count / 2..count)
        .find(|&at| resolved.monitors[at].spec.slo.is_none() && resolved.monitors[at].spec.alerts.is_none())
        .unwrap_or(count / 2);
    for round in 0..10u64 {
        let started = Instant::now();
        let objects = if incremental {
            let monitor = &mut resolved.monitors[changing];
            monitor.revision = Some(format!("changed/{round}"));
            monitor.spec.sample_limit = Some(round);
            cache.render(&resolved).map(|objects| objects.len())
        } else {
            render_stack(&ResolvedStack::new(&stack, &monitors)).map(|objects| objects.len())
        };
        println!("round {round}: {:?}, {objects:?} objects", started.elapsed());
    }
}
