//! `stackscope drift`: the drift report of a cluster, computed read-only with the operator's own
//! pipeline (select → validate → render → compare), so it holds even while no operator runs and
//! a pipeline can gate on it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde::Serialize;

use super::apply::{self, LiveState};
use super::dereference::ForeignMonitor;
use super::reconcile::{render_hash, validate_and_render};
use crate::api::{ObservabilityStack, ServiceMonitor};
use crate::drift::FieldDrift;
use crate::schema::SchemaValidator;

/// Why the report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot list {what}: {source}")]
    List { what: &'static str, source: kube::Error },
    #[error("{0}")]
    Dereference(#[from] super::dereference::DereferenceError),
    #[error("{0}")]
    Apply(#[from] apply::ApplyError),
}

/// One drifted field of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftedField {
    pub object: String,
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// The report of one stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackReport {
    /// `namespace/name`.
    pub stack: String,
    /// Fields changed by someone else since stackscope applied them (deleted objects included).
    pub drift: Vec<DriftedField>,
    /// Objects whose declaration changed and that the operator has not applied yet.
    pub pending: Vec<String>,
    /// ServiceMonitors left out, as `namespace/name: field: reason`.
    pub rejected_monitors: Vec<String>,
    /// Why the stack does not render, when it does not (its last good configuration stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl StackReport {
    /// Whether the cluster differs from the declaration.
    pub fn differs(&self) -> bool {
        !self.drift.is_empty() || !self.pending.is_empty()
    }
}

fn fields(object: &str, drift: Vec<FieldDrift>) -> impl Iterator<Item = DriftedField> + '_ {
    drift.into_iter().map(move |field| DriftedField {
        object: object.to_owned(),
        path: field.path,
        expected: field.expected,
        actual: field.actual,
    })
}

/// Reports every stack of the namespace (or of the cluster). Sends no write.
pub async fn report(client: &Client, namespace: Option<&str>) -> Result<Vec<StackReport>, ReportError> {
    let params = ListParams::default();
    let stacks_api: Api<ObservabilityStack> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let stacks =
        stacks_api.list(&params).await.map_err(|source| ReportError::List { what: "ObservabilityStacks", source })?;
    let monitors: Vec<Arc<ServiceMonitor>> = Api::<ServiceMonitor>::all(client.clone())
        .list(&params)
        .await
        .map_err(|source| ReportError::List { what: "ServiceMonitors", source })?
        .items
        .into_iter()
        .map(Arc::new)
        .collect();
    let services: Vec<Arc<Service>> = Api::<Service>::all(client.clone())
        .list(&params)
        .await
        .map_err(|source| ReportError::List { what: "Services", source })?
        .items
        .into_iter()
        .map(Arc::new)
        .collect();
    // prometheus-operator's monitors only when a stack selects them; unreadable means none (the
    // operator's status says why).
    let foreign: Vec<ForeignMonitor> =
        if stacks.items.iter().any(|stack| stack.spec.prometheus_operator_monitors.enabled) {
            let api: Api<DynamicObject> =
                Api::all_with(client.clone(), &crate::prometheus_operator::monitor_resource());
            api.list(&params)
                .await
                .map(|list| list.items.iter().filter_map(ForeignMonitor::from_object).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
    let validator = SchemaValidator::new();
    let checked = super::dereference::StaticProblems::default();
    let service_index = super::dereference::ServiceIndex::new(&services);
    let mut reports = Vec::new();
    for stack in &stacks.items {
        let mut report = StackReport {
            stack: format!("{}/{}", stack.namespace().unwrap_or_default(), stack.name_any()),
            ..StackReport::default()
        };
        let selection =
            super::dereference::select(client, &validator, &checked, stack, &monitors, &foreign, &service_index)
                .await?;
        report.rejected_monitors = selection
            .rejected
            .iter()
            .map(|r| format!("{}/{}: {}: {}", r.namespace, r.name, r.field, r.reason))
            .collect();
        match validate_and_render(&validator, stack, &selection, None) {
            Ok((_, rendered)) => {
                let declared = apply::declare(stack, rendered)?;
                let applied_hash = stack.status.as_ref().and_then(|status| status.last_applied_hash.as_deref());
                let previously_applied = applied_hash == Some(render_hash(&declared).as_str());
                for item in &declared {
                    let key = item.key();
                    match apply::inspect(client, item).await? {
                        LiveState::Absent if previously_applied => {
                            report.drift.extend(fields(&key, vec![apply::deleted_field()]));
                        }
                        LiveState::Absent | LiveState::Outdated => report.pending.push(key),
                        LiveState::Drifted(drift) => report.drift.extend(fields(&key, drift)),
                        LiveState::InSync => {}
                    }
                }
            }
            Err(error) => report.failure = Some(error.to_string()),
        }
        reports.push(report);
    }
    Ok(reports)
}

/// The report as text, one line per finding.
pub fn to_text(reports: &[StackReport]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("no ObservabilityStack found\n");
    }
    for report in reports {
        let state = if report.differs() { "DRIFT" } else { "in sync" };
        out.push_str(&format!(
            "{}: {state} ({} drifted field(s), {} pending object(s), {} rejected monitor(s))\n",
            report.stack,
            report.drift.len(),
            report.pending.len(),
            report.rejected_monitors.len()
        ));
        for field in &report.drift {
            out.push_str(&format!(
                "  drifted  {} {}: expected {}, found {}\n",
                field.object, field.path, field.expected, field.actual
            ));
        }
        for object in &report.pending {
            out.push_str(&format!("  pending  {object}: not yet applied by the operator\n"));
        }
        for rejected in &report.rejected_monitors {
            out.push_str(&format!("  rejected {rejected}\n"));
        }
        if let Some(failure) = &report.failure {
            out.push_str(&format!("  failing  {failure} (the last good configuration stays in force)\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_each_finding_and_says_in_sync_otherwise() {
        let clean = StackReport { stack: "obs/a".to_owned(), ..StackReport::default() };
        assert!(!clean.differs());
        let drifted = StackReport {
            stack: "obs/b".to_owned(),
            drift: vec![DriftedField {
                object: "ConfigMap/obs/b-loki".to_owned(),
                path: r#"data["loki.yaml"]"#.to_owned(),
                expected: "x".to_owned(),
                actual: "y".to_owned(),
            }],
            pending: vec!["Service/obs/b-grafana".to_owned()],
            ..StackReport::default()
        };
        assert!(drifted.differs());
        let text = to_text(&[clean, drifted]);
        assert!(text.contains("obs/a: in sync"), "{text}");
        assert!(text.contains(r#"drifted  ConfigMap/obs/b-loki data["loki.yaml"]: expected x, found y"#), "{text}");
        assert!(text.contains("pending  Service/obs/b-grafana"), "{text}");
        assert_eq!(to_text(&[]), "no ObservabilityStack found\n");
    }
}
