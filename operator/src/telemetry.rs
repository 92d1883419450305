//! JSON logs in the seed's structured-log shape: `timestamp`, `level`, `service`, `trace_id`,
//! `message`, `duration_ms`, plus the event's own fields, one object per line.

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The `service` field of every line.
pub const SERVICE: &str = "stackscope";

/// Formats events as the seed's JSON log lines.
pub struct SeedJson;

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

/// One log line from a timestamp, level and the event's fields (the pure part, tested).
pub fn line(timestamp: &str, level: &tracing::Level, mut fields: Map<String, Value>) -> Value {
    let mut object = Map::new();
    object.insert("timestamp".to_owned(), Value::String(timestamp.to_owned()));
    // The seed's levels: DEBUG INFO WARN ERROR (TRACE folds into DEBUG).
    let level = match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    };
    object.insert("level".to_owned(), Value::String(level.to_owned()));
    object.insert("service".to_owned(), Value::String(SERVICE.to_owned()));
    for key in ["trace_id", "message", "duration_ms"] {
        if let Some(value) = fields.remove(key) {
            object.insert(key.to_owned(), value);
        }
    }
    object.extend(fields);
    Value::Object(object)
}

impl<S, N> FormatEvent<S, N> for SeedJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, context: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields(Map::new());
        // Span fields (e.g. the stack being reconciled) first, so event fields win.
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                if let Some(stored) = span.extensions().get::<tracing_subscriber::fmt::FormattedFields<N>>()
                    && !stored.fields.is_empty()
                {
                    fields.0.insert(
                        format!("{}_span", span.name()).replace(' ', "_"),
                        Value::String(stored.fields.clone()),
                    );
                }
            }
        }
        event.record(&mut fields);
        let timestamp = Timestamp::now().to_string();
        let value = line(&timestamp, event.metadata().level(), fields.0);
        writeln!(writer, "{value}")
    }
}

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).event_format(SeedJson).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_seed_fields_first() {
        let mut fields = Map::new();
        fields.insert("message".to_owned(), Value::from("applied"));
        fields.insert("duration_ms".to_owned(), Value::from(12));
        fields.insert("stack".to_owned(), Value::from("obs/machineavatars"));
        let value = line("2026-01-01T00:00:00Z", &tracing::Level::WARN, fields);
        let mut keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["duration_ms", "level", "message", "service", "stack", "timestamp"]);
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["service"], "stackscope");
    }
}
