//! Property tests: any valid stack renders, renders the same bytes twice, and never panics;
//! arbitrary documents fed to the loader are refused with messages naming the file, never a
//! panic; a mangled monitor is either refused (naming its file) or renders.

use proptest::prelude::*;
use stackscope::api::{
    Collector, DriftPolicy, Environment, LogStorageType, ObservabilityStack, ObservabilityStackSpec, ProbePolicy,
    ServiceMonitor, TraceBackend,
};
use stackscope::render::{objects_to_yaml, render_stack};
use stackscope::resolve::ResolvedStack;

fn environment() -> impl Strategy<Value = Environment> {
    prop_oneof![Just(Environment::Production), Just(Environment::Staging), Just(Environment::Development)]
}

fn duration() -> impl Strategy<Value = String> {
    (1u32..400, prop_oneof![Just("s"), Just("m"), Just("h"), Just("d")]).prop_map(|(n, unit)| format!("{n}{unit}"))
}

prop_compose! {
    fn stack_spec()(
        environment in environment(),
        alloy in any::<bool>(),
        azure in proptest::option::of(any::<bool>()),
        correct in any::<bool>(),
        enforce in any::<bool>(),
        logging in any::<bool>(),
        metrics in any::<bool>(),
        tracing in any::<bool>(),
        dashboards in any::<bool>(),
        badger in any::<bool>(),
        ingestion in 1u32..10_000,
        retention in proptest::option::of(duration()),
        cpu in 1.0f64..100.0,
        drop_debug in proptest::option::of(any::<bool>()),
        sampling in 0.0f64..=1.0,
    ) -> ObservabilityStackSpec {
        let mut spec = ObservabilityStackSpec { environment, ..Default::default() };
        spec.logging.collector = if alloy { Collector::Alloy } else { Collector::Promtail };
        spec.logging.loki.storage.storage_type = azure.map(|azure| if azure { LogStorageType::Azure } else { LogStorageType::Filesystem });
        spec.drift_policy = if correct { DriftPolicy::Correct } else { DriftPolicy::Report };
        spec.probes.policy = if enforce { ProbePolicy::Enforce } else { ProbePolicy::Report };
        spec.logging.enabled = logging;
        spec.metrics.enabled = metrics;
        spec.alerting.enabled = metrics;
        spec.slos.enabled = metrics;
        spec.tracing.enabled = tracing;
        spec.dashboards.enabled = dashboards;
        spec.tracing.storage.backend = if badger { TraceBackend::Badger } else { TraceBackend::Memory };
        spec.tracing.sampling_ratio = sampling;
        spec.logging.loki.ingestion_rate_mb = ingestion;
        spec.logging.loki.retention_period = retention.map(|r| r.as_str().into());
        spec.alerting.rules.infrastructure.high_cpu.threshold = cpu;
        spec.logging.drop_debug = drop_debug;
        spec
    }
}

prop_compose! {
    fn monitor()(
        name in "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        namespace in prop_oneof![Just("apps"), Just("observability")],
        ports in proptest::collection::vec("[a-z][a-z0-9]{0,8}", 1..4),
        interval in 5u32..120,
        with_slo in any::<bool>(),
        availability in 90.0f64..99.99,
        regex in prop_oneof![Just("(.*)"), Just("api-[0-9]+"), Just("(?i)Node.*")],
    ) -> ServiceMonitor {
        let endpoints: Vec<serde_json::Value> = ports.iter().map(|port| serde_json::json!({
            "port": port, "interval": format!("{interval}s"), "scrapeTimeout": "5s",
            "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "regex": regex, "targetLabel": "node"}]
        })).collect();
        let mut spec = serde_json::json!({"selector": {"matchLabels": {"app": name}}, "endpoints": endpoints});
        if with_slo {
            spec["slo"] = serde_json::json!({"availability": availability, "latencyP95": "300ms", "errorRate": 1.0});
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "stackscope.dev/v1alpha1", "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec
        })).unwrap_or_else(|error| panic!("generated monitor is valid: {error}"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn valid_stacks_render_deterministically(spec in stack_spec(), monitors in proptest::collection::vec(monitor(), 0..6)) {
        prop_assert!(stackscope::validate::stack(&spec).is_empty());
        let mut stack = ObservabilityStack::new("generated", spec);
        stack.metadata.namespace = Some("observability".to_owned());
        let resolved = ResolvedStack::new(&stack, &monitors);
        let first = render_stack(&resolved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = render_stack(&resolved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = |rendered: &[stackscope::render::RenderedObject]| {
            objects_to_yaml(&rendered.iter().map(|r| r.object.clone()).collect::<Vec<_>>())
        };
        // A serialization failure is a failure, not a match of two failures.
        let first = bytes(&first).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = bytes(&second).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!first.is_empty());
        prop_assert_eq!(first, second);
    }

    #[test]
    fn arbitrary_documents_are_refused_without_panicking(text in "\\PC{0,400}") {
        match stackscope::cli::offline::load(&[("fuzz.yaml".to_owned(), text)]) {
            // Text that happens to be YAML without objects (empty, a scalar) holds nothing.
            Ok(inputs) => prop_assert!(inputs.stacks.is_empty() && inputs.monitors.is_empty()),
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for problem in &problems {
                    prop_assert!(problem.starts_with("fuzz.yaml"), "the refusal names the file: {}", problem);
                }
            }
        }
    }

    #[test]
    fn mangled_example_monitors_never_panic(cut in 0usize..2000, junk in "[\\[\\]{}:,\\-\"' a-z0-9\\n]{0,12}") {
        let base = include_str!("../../examples/machineavatars/monitors.yaml");
        let cut = cut.min(base.len());
        let cut = (0..=cut).rev().find(|i| base.is_char_boundary(*i)).unwrap_or(0);
        let text = format!("{}{}{}", &base[..cut], junk, &base[cut..]);
        let stack = include_str!("../../examples/machineavatars/stack.yaml").to_owned();
        match stackscope::cli::offline::load(&[("stack.yaml".to_owned(), stack), ("monitors.yaml".to_owned(), text)]) {
            // What the loader accepts renders: validation refuses everything a render would.
            Ok(inputs) => {
                let stacks = stackscope::cli::offline::resolve(&inputs);
                prop_assert_eq!(stacks.len(), 1);
                for stack in stacks {
                    render_stack(&stack).map_err(|e| TestCaseError::fail(format!("accepted but not rendered: {e}")))?;
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for problem in &problems {
                    prop_assert!(problem.starts_with("monitors.yaml"), "the refusal names the mangled file: {}", problem);
                }
            }
        }
    }
}
