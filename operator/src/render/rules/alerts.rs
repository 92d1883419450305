//! The rules of the document's alert tables and of the stack's own: each row of [`ALERTS`] with
//! the spec's threshold and channels, and for per-service alerts the monitors' overrides: a
//! service with its own threshold or channels gets its own rule, one that disables the alert gets
//! none, and the general rule leaves both out.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use super::model::{AlertingRule, Rule};
use super::table::{ALERTS, AlertRow, OwnThreshold, Scope, Table};
use super::{Decimal, at_most, invalid, number, quoted, series, window};
use crate::api::{AlertOverrides, AlertThreshold, Channel, ChannelPolicy};
use crate::render::common::regex_literal;
use crate::render::prometheus::DATABASE_LABEL;
use crate::render::{Component, RenderError};
use crate::resolve::{ResolvedMonitor, ResolvedStack};

/// The rules of one of the tables, in row order; disabled alerts, and alerts on components the
/// stack does not render, render none.
pub(crate) fn table_rules(stack: &ResolvedStack, table: Table) -> Result<Vec<Rule>, RenderError> {
    let overrides = OnceCell::new();
    let mut rules = Vec::new();
    for row in ALERTS.iter().filter(|row| row.table == table && row.requires.holds(&stack.spec)) {
        let threshold = (row.threshold)(&stack.spec.alerting.rules);
        if !threshold.enabled {
            continue;
        }
        let field = format!("spec.alerting.rules.{}.{}.threshold", table.key(), row.key);
        let value = number(threshold.threshold, &field)?;
        let window = row.window.map(|fallback| window(threshold, fallback));
        let channels = channels(stack, row, threshold);
        let filled = Filled { stack, row, threshold, window: window.as_deref(), channels: &channels };
        let Scope::PerService { own_threshold } = row.scope else {
            rules.push(filled.rule(&[], value, None)?);
            continue;
        };
        let mut excluded = Vec::new();
        let mut own = Vec::new();
        for (service, (monitor, service_overrides)) in overrides.get_or_init(|| overrides_by_service(stack)) {
            if service_overrides.disabled.iter().any(|name| name == row.name) {
                excluded.push(service.as_str());
                continue;
            }
            let own_value = own_value(own_threshold, service_overrides, monitor)?;
            let own_channels = service_overrides.channels.get(row.name);
            if own_value.is_some() || own_channels.is_some() {
                excluded.push(service.as_str());
                own.push((service, own_value.unwrap_or(value), own_channels));
            }
        }
        let general_selector = if excluded.is_empty() {
            Vec::new()
        } else {
            // Each service as an RE2 literal, before PromQL string quoting.
            let alternatives: Vec<_> = excluded.iter().map(|service| regex_literal(service)).collect();
            vec![format!("service!~{}", quoted(&alternatives.join("|")))]
        };
        rules.push(filled.rule(&general_selector, value, None)?);
        for (service, value, own_channels) in own {
            let selector = [format!("service={}", quoted(service))];
            let service_filled = Filled { channels: own_channels.map_or(&channels, |own| own.as_slice()), ..filled };
            rules.push(service_filled.rule(&selector, value, Some(service))?);
        }
    }
    Ok(rules)
}

/// The channels of a row's alert: its own (`channels` of its threshold), else the document's
/// Channel column under the `PerAlert` policy, else the severity policy.
fn channels(stack: &ResolvedStack, row: &AlertRow, threshold: &AlertThreshold) -> Vec<Channel> {
    let routing = &stack.spec.alerting.routing;
    match (&threshold.channels, routing.channel_policy, row.channels) {
        (Some(own), _, _) => own.clone(),
        (None, ChannelPolicy::PerAlert, Some(column)) => column.to_vec(),
        (None, _, _) => routing.severity_channels(threshold.severity),
    }
}

/// Monitors with alert overrides, by the `service` label they apply to. When two monitors name
/// the same service, the first (by namespace, then name) wins, so no service is evaluated twice.
fn overrides_by_service(stack: &ResolvedStack) -> BTreeMap<String, (&ResolvedMonitor, &AlertOverrides)> {
    let mut by_service = BTreeMap::new();
    for monitor in &stack.monitors {
        if let Some(overrides) = &monitor.spec.alerts {
            by_service.entry(monitor.service_label()).or_insert((monitor, overrides));
        }
    }
    by_service
}

/// The monitor's own threshold for a per-service alert, if the alert has one and the monitor sets it.
fn own_value(
    own_threshold: Option<OwnThreshold>,
    overrides: &AlertOverrides,
    monitor: &ResolvedMonitor,
) -> Result<Option<Decimal>, RenderError> {
    let field = |key: &str| format!("ServiceMonitor {}: spec.alerts.{key}", monitor.key());
    Ok(match own_threshold {
        None => None,
        Some(OwnThreshold::Percent { key, value }) => value(overrides).map(|v| number(v, &field(key))).transpose()?,
        Some(OwnThreshold::Duration { key, value }) => value(overrides)
            .map(|duration| {
                duration
                    .to_millis()
                    .map(Decimal::from_millis)
                    .ok_or_else(|| invalid(field(key), "not a valid duration"))
            })
            .transpose()?,
    })
}

/// A row with what its rules share: the spec's threshold, the window and the channels.
#[derive(Clone, Copy)]
struct Filled<'a> {
    stack: &'a ResolvedStack,
    row: &'a AlertRow,
    threshold: &'a AlertThreshold,
    window: Option<&'a str>,
    channels: &'a [Channel],
}

impl Filled<'_> {
    /// The rule at `value` over the RED series `selector` narrows the row's to; a service's own
    /// rule is labelled with the service.
    fn rule(&self, selector: &[String], value: Decimal, service: Option<&str>) -> Result<Rule, RenderError> {
        let fill = |template| self.fill(template, selector, value);
        let mut alert =
            AlertingRule::of_threshold(self.row.name, fill(self.row.expr)?, self.threshold, self.row.signal);
        for (name, label) in self.row.labels {
            alert = alert.label(name, *label);
        }
        alert = alert.channels(self.channels);
        if let Some(service) = service {
            alert = alert.label("service", service);
        }
        Ok(alert.annotate(fill(self.row.summary)?, fill(self.row.description)?))
    }

    /// A template with its placeholders replaced (see [`super::table`]).
    fn fill(&self, template: &str, selector: &[String], value: Decimal) -> Result<String, RenderError> {
        let red = &self.stack.spec.metrics.red;
        let business = &self.stack.spec.metrics.business;
        let value_of = |name: &str| -> Option<Cow<'_, str>> {
            Some(match name {
                "value" => Cow::Owned(value.to_string()),
                "window" => Cow::Borrowed(self.window?),
                "at_most" => Cow::Owned(at_most(value)),
                "requests" => Cow::Owned(series(&red.requests, selector)),
                "failures" => Cow::Owned(series(&red.failures, selector)),
                "duration_bucket" => Cow::Owned(series(&format!("{}_bucket", red.duration), selector)),
                "database_down" => Cow::Owned(database_down(self.stack)),
                "signups" => Cow::Borrowed(&business.signups),
                "payments" => Cow::Borrowed(&business.payments),
                "payment_failures" => Cow::Borrowed(&business.payment_failures),
                "active_subscriptions" => Cow::Borrowed(&business.active_subscriptions),
                "cancelled_subscriptions" => Cow::Borrowed(&business.cancelled_subscriptions),
                _ => return None,
            })
        };
        fill(template, value_of).map_err(|placeholder| RenderError::Template {
            component: Component::Rules,
            template: self.row.name,
            placeholder: placeholder.to_owned(),
        })
    }
}

/// Replaces every `${name}` of `template` with its value; the error is the first name without one.
pub(crate) fn fill<'t, 'v>(
    template: &'t str,
    value_of: impl Fn(&str) -> Option<Cow<'v, str>>,
) -> Result<String, &'t str> {
    let mut filled = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        filled.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { return Err(after) };
        let name = &after[..end];
        filled.push_str(&value_of(name).ok_or(name)?);
        rest = &after[end + 1..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// The DatabaseDown condition: a target of a monitor marked as a database that cannot be scraped,
/// an exporter's connection gauge (`spec.database.upMetric`) at 0, or a target of the stack's
/// `databaseSelector` down. Every part selects on the `database` label the scrape jobs put on the
/// database monitors' targets, so no other target can match.
fn database_down(stack: &ResolvedStack) -> String {
    let mut systems_by_gauge: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for monitor in &stack.monitors {
        if let Some(database) = &monitor.spec.database
            && let Some(gauge) = &database.up_metric
        {
            systems_by_gauge.entry(gauge).or_default().insert(&database.system);
        }
    }
    let mut alternatives = vec![format!("up{{{DATABASE_LABEL}!=\"\"}} == 0")];
    for (gauge, systems) in systems_by_gauge {
        let systems: Vec<_> = systems.into_iter().map(regex_literal).collect();
        alternatives.push(format!("{gauge}{{{DATABASE_LABEL}=~{}}} == 0", quoted(&systems.join("|"))));
    }
    if let Some(selector) = &stack.spec.alerting.rules.application.database_selector {
        alternatives.push(format!("up{} == 0", selector.trim()));
    }
    alternatives.join(" or ")
}
