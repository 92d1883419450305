use super::*;
use crate::api::{DatabaseTarget, DurationHistogram, Environment, ExistingExporter};
use crate::render::fixtures::{machineavatars, minimal};

fn messages(stack: &ResolvedStack) -> Vec<String> {
    unfireable_rules(stack).unwrap().into_iter().map(|rule| rule.message).collect()
}

fn alerts(stack: &ResolvedStack) -> Vec<String> {
    unfireable_rules(stack).unwrap().into_iter().map(|rule| rule.alert).collect()
}

#[test]
fn in_the_example_only_database_down_lacks_a_source_for_no_monitor_is_a_database() {
    assert_eq!(
        messages(&machineavatars()),
        [r#"DatabaseDown cannot fire: up{database!=""} has no source: no scrape job exports it with database!="""#]
    );
}

#[test]
fn without_kube_state_metrics_container_crash_cannot_fire_and_an_existing_one_is_a_source() {
    let mut stack = machineavatars();
    stack.spec.metrics.kube_state_metrics.enabled = false;
    let messages = messages(&stack);
    assert!(
        messages
            .contains(&"ContainerCrash cannot fire: kube_pod_container_status_restarts_total has no source".to_owned()),
        "{messages:?}"
    );
    stack.spec.metrics.kube_state_metrics.existing = Some(ExistingExporter {
        namespaces: vec!["kube-system".to_owned()],
        selector: Default::default(),
        port: "http".to_owned(),
    });
    assert!(!alerts(&stack).contains(&"ContainerCrash".to_owned()));
}

#[test]
fn a_database_monitor_feeds_database_down() {
    let mut stack = machineavatars();
    stack.monitors[0].spec.database = Some(DatabaseTarget { system: "mongodb".to_owned(), up_metric: None });
    assert!(messages(&stack).is_empty(), "{:?}", messages(&stack));
    // Its exporter's own gauge is a second way to fire, fed by the same monitor.
    stack.monitors[0].spec.database =
        Some(DatabaseTarget { system: "mongodb".to_owned(), up_metric: Some("mongodb_up".to_owned()) });
    assert!(messages(&stack).is_empty(), "{:?}", messages(&stack));
}

#[test]
fn undeclared_business_metrics_leave_the_business_alerts_without_a_source() {
    let mut stack = machineavatars();
    for monitor in &mut stack.monitors {
        monitor.spec.metrics.clear();
    }
    let alerts = alerts(&stack);
    for alert in ["NoSignups", "PaymentFailures", "HighChurn"] {
        assert!(alerts.contains(&alert.to_owned()), "{alert} in {alerts:?}");
    }
}

#[test]
fn a_latency_slo_between_declared_buckets_is_reported_until_it_names_one_or_goes_native() {
    let mut stack = machineavatars();
    let auth = stack.monitors.iter_mut().find(|monitor| monitor.name == "auth-service").unwrap();
    auth.spec.histogram = Some(DurationHistogram { buckets: vec![0.1, 0.25, 0.5, 1.0], native: false });
    let messages = messages(&stack);
    assert!(
        messages.contains(
            &"LatencyErrorBudgetBurn (auth-service) cannot fire: \
              http_request_duration_seconds_bucket{service=\"auth-service\", le=\"0.2\"} has no source: no scrape job \
              exports it with le=\"0.2\""
                .to_owned()
        ),
        "{messages:#?}"
    );
    let auth = stack.monitors.iter_mut().find(|monitor| monitor.name == "auth-service").unwrap();
    if let Some(slo) = auth.spec.slo.as_mut() {
        slo.latency_bucket = Some(0.25);
    }
    assert!(!alerts(&stack).contains(&"LatencyErrorBudgetBurn".to_owned()));
    // Native: histogram_fraction at the target itself, no bucket needed.
    let auth = stack.monitors.iter_mut().find(|monitor| monitor.name == "auth-service").unwrap();
    if let Some(slo) = auth.spec.slo.as_mut() {
        slo.latency_bucket = None;
    }
    auth.spec.histogram = Some(DurationHistogram { buckets: vec![0.1, 0.25], native: true });
    stack.spec.metrics.prometheus.native_histograms = true;
    assert!(!alerts(&stack).contains(&"LatencyErrorBudgetBurn".to_owned()));
}

#[test]
fn every_job_of_every_shape_has_an_entry_in_the_exports_table() {
    let mut stacks = vec![machineavatars(), minimal(Environment::Development)];
    let mut existing = machineavatars();
    existing.spec.metrics.kube_state_metrics.enabled = false;
    existing.spec.metrics.node_exporter.enabled = false;
    existing.spec.metrics.node_exporter.existing =
        Some(ExistingExporter { namespaces: Vec::new(), selector: Default::default(), port: "metrics".to_owned() });
    stacks.push(existing);
    for stack in &stacks {
        scrape_sources(stack).unwrap();
    }
    // A stack without a single source of the node's series would report the rules reading them.
    assert!(exports::job_exports("node-exporter", true).is_some());
    assert!(exports::job_exports("no-such-job", true).is_none());
}
