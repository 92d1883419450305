//! Pure renderers: `ResolvedStack` → Kubernetes objects, one module per component.
//!
//! No client, no clock, no randomness: the same input gives the same bytes, in a stable order.
//!
//! [`render_stack`] (and the render [`cache`]) run one pipeline: each monitor's pieces (its
//! scrape jobs, its probe expectations), the rule files, then the one [`layout`] stage that
//! decides single or sharded ConfigMaps for everything that grows with the monitors, then every
//! component's objects, Prometheus' StatefulSet mounting what the layout made.

/// The golden test of a renderer that is a module directory (`rules/`, `prometheus/`, ...): its
/// snapshot stays in `render/snapshots`, where it was when the renderer was one file.
#[cfg(test)]
macro_rules! assert_golden_snapshot {
    ($rendered:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots" }, {
            insta::assert_snapshot!(crate::render::objects_to_yaml(&$rendered.unwrap()).unwrap());
        })
    };
}

pub mod common;
pub(crate) mod pod;

pub mod alertmanager;
pub mod alloy;
pub(crate) mod exporters;
pub(crate) mod grafana;
pub(crate) mod jaeger;
pub(crate) mod loki;
pub mod probes;
pub mod prometheus;
pub(crate) mod promtail;
pub mod rules;

pub mod cache;
pub mod layout;
pub(crate) mod shard;

use kube::api::DynamicObject;

use crate::api::Collector;
use crate::resolve::ResolvedStack;
use crate::validate::FieldError;
use layout::ConfigMaps;
use shard::Piece;

/// The rendered components, in render order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Loki,
    Promtail,
    Alloy,
    Prometheus,
    Rules,
    Alertmanager,
    Grafana,
    Jaeger,
    Probes,
    KubeStateMetrics,
    NodeExporter,
}

impl Component {
    /// Every component, in render order.
    pub const ALL: [Component; 11] = [
        Self::Loki,
        Self::Promtail,
        Self::Alloy,
        Self::Prometheus,
        Self::Rules,
        Self::Alertmanager,
        Self::Grafana,
        Self::Jaeger,
        Self::Probes,
        Self::KubeStateMetrics,
        Self::NodeExporter,
    ];

    /// Lower-case name, used in object names, labels and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loki => "loki",
            Self::Promtail => "promtail",
            Self::Alloy => "alloy",
            Self::Prometheus => "prometheus",
            Self::Rules => "rules",
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
            Self::Jaeger => "jaeger",
            Self::Probes => "probes",
            Self::KubeStateMetrics => "kube-state-metrics",
            Self::NodeExporter => "node-exporter",
        }
    }

    /// Whether the stack renders this component.
    pub fn enabled(self, stack: &ResolvedStack) -> bool {
        let spec = &stack.spec;
        match self {
            Self::Loki => spec.logging.enabled,
            Self::Promtail => spec.logging.enabled && spec.logging.collector == Collector::Promtail,
            Self::Alloy => spec.logging.enabled && spec.logging.collector == Collector::Alloy,
            Self::Prometheus => spec.metrics.enabled,
            Self::Rules => spec.metrics.enabled,
            Self::Alertmanager => spec.metrics.enabled && spec.alerting.enabled,
            Self::Grafana => spec.dashboards.enabled,
            Self::Jaeger => spec.tracing.enabled,
            Self::Probes => true,
            Self::KubeStateMetrics => spec.metrics.enabled && spec.metrics.kube_state_metrics.enabled,
            Self::NodeExporter => spec.metrics.enabled && spec.metrics.node_exporter.enabled,
        }
    }

    /// Renders this component's objects. Prometheus, its rules and the probe expectations grow
    /// with the monitors and are laid out together: they render as [`render_stack`] renders them.
    pub fn render(self, stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
        match self {
            Self::Loki => loki::render(stack),
            Self::Promtail => promtail::render(stack),
            Self::Alloy => alloy::render(stack),
            Self::Alertmanager => alertmanager::render(stack),
            Self::Grafana => grafana::render(stack),
            Self::Jaeger => jaeger::render(stack),
            Self::KubeStateMetrics => exporters::kube_state_metrics(stack),
            Self::NodeExporter => exporters::node_exporter(stack),
            Self::Prometheus | Self::Rules | Self::Probes => Ok(render_stack(stack)?
                .into_iter()
                .filter(|rendered| rendered.component == self)
                .map(|rendered| rendered.object)
                .collect()),
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rendered object and the component it belongs to.
#[derive(Clone, Debug)]
pub struct RenderedObject {
    /// The component that rendered it.
    pub component: Component,
    /// The object, with apiVersion, kind, name, namespace and labels set.
    pub object: DynamicObject,
}

/// Why a render failed. Input that reaches a renderer has passed validation, so these name
/// the component and what could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{component}: cannot serialize {what}: {source}")]
    Serialize { component: Component, what: String, source: SerializeError },
    #[error("{component}: {error}")]
    Invalid { component: Component, error: FieldError },
    /// A template of the renderer's own names a placeholder it has no value for: a bug, caught
    /// by the renderer's tests, reported rather than panicking.
    #[error("{component}: template {template} has no value for ${{{placeholder}}}")]
    Template { component: Component, template: &'static str, placeholder: String },
}

impl RenderError {
    /// Input the renderer cannot use, at a field path (`spec.slos.period`, or
    /// `ServiceMonitor ns/name: spec.endpoints[0].interval`).
    pub(crate) fn invalid(component: Component, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { component, error: FieldError { path: path.into(), message: message.into() } }
    }

    /// A serializer's error, as `map_err(RenderError::serialize(component, what))`.
    pub(crate) fn serialize<E: Into<SerializeError>>(
        component: Component,
        what: impl Into<String>,
    ) -> impl FnOnce(E) -> Self {
        move |error| Self::Serialize { component, what: what.into(), source: error.into() }
    }
}

/// The serializer that failed, with its own error.
#[derive(Debug, thiserror::Error)]
pub enum SerializeError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Yaml(#[from] serde_saphyr::SerializeError),
}

/// Renders every enabled component of the stack: the monitors' pieces, the rule files, the one
/// layout stage for what grows with the monitors, then every component's objects.
pub fn render_stack(stack: &ResolvedStack) -> Result<Vec<RenderedObject>, RenderError> {
    let mut scrape = Vec::with_capacity(stack.monitors.len());
    let mut probe_pieces = Vec::with_capacity(stack.monitors.len());
    for monitor in &stack.monitors {
        scrape.push(prometheus::monitor_piece(stack, monitor)?);
        probe_pieces.push(probes::monitor_piece(stack, monitor)?);
    }
    let rules = if Component::Rules.enabled(stack) { Some(rule_config_maps(stack)?) } else { None };
    render_from(stack, scrape.iter().collect(), probe_pieces.iter().collect(), rules)
}

/// Renders every enabled component from the monitors' pieces and the laid-out rule files, fresh
/// or from the render cache: the same input gives the same objects either way.
fn render_from(
    stack: &ResolvedStack,
    scrape: Vec<&Piece>,
    probe_pieces: Vec<&Piece>,
    rules: Option<ConfigMaps>,
) -> Result<Vec<RenderedObject>, RenderError> {
    let mut laid_out = Layout::of(stack, scrape, probe_pieces, rules)?;
    let mut rendered = Vec::new();
    for component in Component::ALL {
        if !component.enabled(stack) {
            continue;
        }
        let objects = match component {
            // Prometheus' StatefulSet mounts the scrape and rule ConfigMaps as the layout made them.
            Component::Prometheus => match (laid_out.scrape.take(), &laid_out.rules) {
                (Some(config), Some(rules)) => prometheus::objects(stack, config, rules)?,
                _ => Vec::new(),
            },
            Component::Rules => laid_out.rules.take().map(|rules| rules.into_objects(stack)).unwrap_or_default(),
            Component::Probes => laid_out.probes.take().map(|probes| probes.into_objects(stack)).unwrap_or_default(),
            _ => component.render(stack)?,
        };
        rendered.extend(objects.into_iter().map(|object| RenderedObject { component, object }));
    }
    Ok(rendered)
}

/// The ConfigMaps of the three file sets that grow with the monitors, laid out; `None` for a
/// disabled component (and once taken).
struct Layout {
    pub scrape: Option<ConfigMaps>,
    pub rules: Option<ConfigMaps>,
    pub probes: Option<ConfigMaps>,
}

impl Layout {
    /// Lays out Prometheus' configuration and the probe expectations from the monitors' pieces,
    /// beside the rule files laid out by [`rule_config_maps`] (fresh or from the render cache).
    fn of<'a>(
        stack: &'a ResolvedStack,
        scrape: Vec<&'a Piece>,
        probe_pieces: Vec<&'a Piece>,
        rules: Option<ConfigMaps>,
    ) -> Result<Self, RenderError> {
        let scrape = if Component::Prometheus.enabled(stack) {
            Some(layout::lay_out(prometheus::config_files(stack, scrape))?)
        } else {
            None
        };
        let probes = Some(layout::lay_out(probes::files(stack, probe_pieces)?)?);
        Ok(Self { scrape, rules, probes })
    }
}

/// The rule files laid out; the render cache keeps them while the monitors they read stay the same.
pub(crate) fn rule_config_maps(stack: &ResolvedStack) -> Result<ConfigMaps, RenderError> {
    let mut content = rules::RuleContent::of(stack)?;
    layout::lay_out(content.file_set(stack))
}

/// Well-known ports of the rendered components.
pub(crate) mod ports {
    pub(crate) const LOKI_HTTP: u16 = 3100;
    pub(crate) const LOKI_GRPC: u16 = 9095;
    pub(crate) const PROMTAIL_HTTP: u16 = 9080;
    pub(crate) const ALLOY_HTTP: u16 = 12345;
    pub(crate) const PROMETHEUS_HTTP: u16 = 9090;
    pub(crate) const THANOS_SIDECAR_GRPC: u16 = 10901;
    pub(crate) const THANOS_SIDECAR_HTTP: u16 = 10902;
    pub(crate) const THANOS_COMPACTOR_HTTP: u16 = 10912;
    pub(crate) const THANOS_STORE_GRPC: u16 = 10901;
    pub(crate) const THANOS_STORE_HTTP: u16 = 10902;
    pub(crate) const THANOS_QUERY_GRPC: u16 = 10901;
    pub(crate) const THANOS_QUERY_HTTP: u16 = 10902;
    pub(crate) const ALERTMANAGER_HTTP: u16 = 9093;
    pub(crate) const ALERTMANAGER_CLUSTER: u16 = 9094;
    pub(crate) const GRAFANA_HTTP: u16 = 3000;
    pub(crate) const JAEGER_QUERY_HTTP: u16 = 16686;
    pub(crate) const JAEGER_QUERY_GRPC: u16 = 16685;
    pub(crate) const JAEGER_HEALTH: u16 = 13133;
    pub(crate) const JAEGER_METRICS: u16 = 8888;
    pub(crate) const JAEGER_SPANMETRICS: u16 = 8889;
    pub(crate) const KUBE_STATE_METRICS_HTTP: u16 = 8080;
    pub(crate) const KUBE_STATE_METRICS_TELEMETRY: u16 = 8081;
    pub(crate) const NODE_EXPORTER_HTTP: u16 = 9100;
}

/// Stable Grafana datasource UIDs, so dashboards and cross-links never break.
pub mod datasource_uids {
    pub const PROMETHEUS: &str = "stackscope-prometheus";
    pub const LOKI: &str = "stackscope-loki";
    pub const JAEGER: &str = "stackscope-jaeger";
    pub const ALERTMANAGER: &str = "stackscope-alertmanager";
}

/// The example MachineAvatars stack, for golden tests of every renderer.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::manifest::{Manifest, Origin, documents, typed};
    use crate::resolve::ResolvedStack;

    const STACK: &str = include_str!("../../../examples/machineavatars/stack.yaml");
    const MONITORS: &str = include_str!("../../../examples/machineavatars/monitors.yaml");

    /// The production stack of `examples/machineavatars` with its five monitors.
    pub(crate) fn machineavatars() -> ResolvedStack {
        let mut stacks = Vec::new();
        let mut monitors = Vec::new();
        for (file, text) in [("stack.yaml", STACK), ("monitors.yaml", MONITORS)] {
            for (index, value) in documents(file, text).expect("example YAML parses").into_iter().enumerate() {
                let origin = Origin { file: file.to_owned(), document: index + 1 };
                match typed(&origin, value).expect("example objects are valid") {
                    Manifest::Stack(stack) => stacks.push(*stack),
                    Manifest::Monitor(monitor) => monitors.push(*monitor),
                }
            }
        }
        ResolvedStack::new(&stacks[0], &monitors)
    }

    /// The data of the rendered object of that kind and name; panics naming it when absent.
    pub(crate) fn object<'a>(objects: &'a [kube::api::DynamicObject], kind: &str, name: &str) -> &'a serde_json::Value {
        &objects
            .iter()
            .find(|o| o.types.as_ref().unwrap().kind == kind && o.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .data
    }

    /// The same stack with `environment: development` and an empty-spec-like shape.
    pub(crate) fn minimal(environment: crate::api::Environment) -> ResolvedStack {
        let mut stack = crate::api::ObservabilityStack::new("minimal", crate::api::ObservabilityStackSpec::default());
        stack.metadata.namespace = Some("monitoring".to_owned());
        stack.spec.environment = environment;
        ResolvedStack::without_monitors(&stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_fixture_loads_with_its_five_monitors() {
        let stack = fixtures::machineavatars();
        assert_eq!(stack.name, "machineavatars");
        assert_eq!(stack.monitors.len(), 5);
        assert!(fixtures::minimal(crate::api::Environment::Staging).monitors.is_empty());
    }

    #[test]
    fn rendering_is_deterministic() {
        let stack = fixtures::machineavatars();
        let first = serde_json::to_string(
            &render_stack(&stack).map(|o| o.into_iter().map(|r| r.object).collect::<Vec<_>>()).ok(),
        );
        let second = serde_json::to_string(
            &render_stack(&stack).map(|o| o.into_iter().map(|r| r.object).collect::<Vec<_>>()).ok(),
        );
        assert_eq!(first.ok(), second.ok());
    }
}

/// Writes objects as one multi-document YAML stream, in the given order.
pub fn objects_to_yaml(objects: &[DynamicObject]) -> Result<String, RenderError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&common::to_yaml(Component::Probes, "object", object)?);
    }
    Ok(out)
}
