//! The routing tree of `alertmanager.yml`. Alerts are routed on the labels every rendered alert
//! carries: `channels` (where it goes), `incident_level` (how fast and to whom on call) and
//! `alertname` for the Watchdog.
//!
//! - The Watchdog goes to the dead man's switch (or nowhere) and no further.
//! - One route per enabled channel takes the alerts whose `channels` name it; under it, the
//!   incident levels that change something get a route of their own: an `Immediate` level is sent
//!   without the group wait, a level held to business hours only within them.
//! - Alerts without a `channels` label (sent by another Prometheus) follow the severity policy.
//! - The alerts that page (`channels` names PagerDuty) walk the escalation path: each step takes
//!   the incident levels it lists, after its delay, or at once for an `Immediate` level.
//!
//! Every route but the Watchdog's continues, so an alert reaches every channel and step it is due.

use std::collections::BTreeSet;

use super::model::{Route, TimeInterval, TimePeriod, TimeRange};
use super::{DEAD_MANS_SWITCH_RECEIVER, NULL_RECEIVER};
use crate::api::{Channel, EscalationTiming, IncidentLevel, RoutingSpec, Severity};
use crate::render::rules::CHANNELS_LABEL;
use crate::render::rules::table::WATCHDOG;
use crate::resolve::ResolvedStack;

/// The time interval of business hours, for incident levels held to them.
pub(crate) const BUSINESS_HOURS: &str = "business-hours";
/// The incident level label every rendered alert carries.
const INCIDENT_LEVEL_LABEL: &str = "incident_level";

/// A `matchers:` entry: `=` for one value, `=~` joined by `|` for several, in the given order.
pub(crate) fn label_matcher(label: &str, values: &[&str]) -> String {
    match values {
        [one] => format!(r#"{label}="{one}""#),
        several => format!(r#"{label}=~"{}""#, several.join("|")),
    }
}

/// The alerts whose `channels` label names this channel (`email,slack` names both).
pub(crate) fn channel_matcher(channel: Channel) -> String {
    format!(r#"{CHANNELS_LABEL}=~"(.+,)?{}(,.+)?""#, channel.as_str())
}

/// The root route with every child, and the time intervals they refer to.
pub(crate) fn tree(stack: &ResolvedStack) -> (Route, Vec<TimeInterval>) {
    let routing = &stack.spec.alerting.routing;
    let mut routes = vec![watchdog(routing)];
    let enabled: Vec<Channel> = Channel::ALL.into_iter().filter(|channel| routing.channel_enabled(*channel)).collect();
    for channel in &enabled {
        routes.push(continuing(
            channel.as_str(),
            vec![channel_matcher(*channel)],
            level_routes(channel.as_str(), routing),
        ));
    }
    for channel in &enabled {
        let severities: Vec<_> =
            Severity::ALL.into_iter().filter(|s| routing.severity_channels(*s).contains(channel)).collect();
        if !severities.is_empty() {
            let matchers = vec![format!(r#"{CHANNELS_LABEL}="""#), severity_matcher(&severities)];
            routes.push(continuing(channel.as_str(), matchers, level_routes(channel.as_str(), routing)));
        }
    }
    routes.extend(escalation(routing));
    let held = IncidentLevel::ALL.into_iter().any(|level| routing.incident_levels.of(level).business_hours_only);
    let time_intervals = if held { vec![business_hours(routing)] } else { Vec::new() };
    let root = Route {
        receiver: NULL_RECEIVER.to_owned(),
        group_by: routing.group_by.clone(),
        group_wait: Some(routing.group_wait.as_str().to_owned()),
        group_interval: Some(routing.group_interval.as_str().to_owned()),
        repeat_interval: Some(routing.repeat_interval.as_str().to_owned()),
        routes,
        ..Route::default()
    };
    (root, time_intervals)
}

/// A child route that lets the alert go on to its siblings.
fn continuing(receiver: &str, matchers: Vec<String>, routes: Vec<Route>) -> Route {
    Route { receiver: receiver.to_owned(), matchers, continue_matching: Some(true), routes, ..Route::default() }
}

/// The Watchdog, first and alone: to the dead man's switch every `interval`, or to nowhere.
fn watchdog(routing: &RoutingSpec) -> Route {
    let switch = &routing.dead_mans_switch;
    let receiver = if switch.enabled { DEAD_MANS_SWITCH_RECEIVER } else { NULL_RECEIVER };
    Route {
        receiver: receiver.to_owned(),
        matchers: vec![label_matcher("alertname", &[WATCHDOG])],
        group_wait: Some("0s".to_owned()),
        group_interval: Some(switch.interval.as_str().to_owned()),
        repeat_interval: Some(switch.interval.as_str().to_owned()),
        ..Route::default()
    }
}

/// When an incident level is notified: its group wait (`None`: the parent's) and whether it is
/// held to business hours.
fn timing(routing: &RoutingSpec, level: IncidentLevel, delay: Option<&str>) -> (Option<String>, bool) {
    let route = routing.incident_levels.of(level);
    let wait = match route.timing {
        EscalationTiming::Immediate => Some("0s".to_owned()),
        EscalationTiming::Escalating => delay.map(str::to_owned),
    };
    (wait, route.business_hours_only)
}

/// Levels grouped by how they are notified, in level order: `(levels, group wait, held)`.
fn by_timing(
    routing: &RoutingSpec,
    levels: impl Iterator<Item = IncidentLevel>,
    delay: Option<&str>,
) -> Vec<(Vec<&'static str>, Option<String>, bool)> {
    let mut groups: Vec<(Vec<&'static str>, Option<String>, bool)> = Vec::new();
    for level in levels {
        let (wait, held) = timing(routing, level, delay);
        match groups.iter_mut().find(|(_, other_wait, other_held)| *other_wait == wait && *other_held == held) {
            Some((members, _, _)) => members.push(level.as_str()),
            None => groups.push((vec![level.as_str()], wait, held)),
        }
    }
    groups
}

fn held_to(held: bool) -> Vec<String> {
    if held { vec![BUSINESS_HOURS.to_owned()] } else { Vec::new() }
}

/// Under a channel's route: the levels notified at once or held to business hours.
fn level_routes(receiver: &str, routing: &RoutingSpec) -> Vec<Route> {
    by_timing(routing, IncidentLevel::ALL.into_iter(), None)
        .into_iter()
        .filter(|(_, wait, held)| wait.is_some() || *held)
        .map(|(levels, wait, held)| Route {
            receiver: receiver.to_owned(),
            matchers: vec![label_matcher(INCIDENT_LEVEL_LABEL, &levels)],
            group_wait: wait,
            active_time_intervals: held_to(held),
            ..Route::default()
        })
        .collect()
}

/// The escalation path of the alerts that page: per step, its levels after its delay (at once
/// for an `Immediate` level).
fn escalation(routing: &RoutingSpec) -> Vec<Route> {
    let mut routes = Vec::new();
    for step in &routing.escalation {
        let levels = IncidentLevel::ALL.into_iter().filter(|level| step.levels.contains(level));
        for (levels, wait, held) in by_timing(routing, levels, Some(step.after.as_str())) {
            routes.push(Route {
                group_wait: wait,
                active_time_intervals: held_to(held),
                ..continuing(
                    &step.name,
                    vec![channel_matcher(Channel::Pagerduty), label_matcher(INCIDENT_LEVEL_LABEL, &levels)],
                    Vec::new(),
                )
            });
        }
    }
    routes
}

/// The business hours of the spec as Alertmanager's time interval.
fn business_hours(routing: &RoutingSpec) -> TimeInterval {
    let hours = &routing.business_hours;
    TimeInterval {
        name: BUSINESS_HOURS.to_owned(),
        time_intervals: vec![TimePeriod {
            weekdays: hours.weekdays.clone(),
            times: vec![TimeRange { start_time: hours.start.clone(), end_time: hours.end.clone() }],
            location: hours.time_zone.clone(),
        }],
    }
}

/// A `matchers:` entry on `severity`: `=` for one value, `=~` joined by `|` (least severe first)
/// for several.
pub(crate) fn severity_matcher(severities: &[Severity]) -> String {
    let distinct: BTreeSet<Severity> = severities.iter().copied().collect();
    let values: Vec<&str> = distinct.iter().map(|severity| severity.as_str()).collect();
    label_matcher("severity", &values)
}
