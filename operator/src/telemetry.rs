//! JSON logs in the seed's structured-log shape: `timestamp`, `level`, `service`, `trace_id`,
//! `message`, `duration_ms`, plus the event's own fields, one object per line.

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The `service` field of every line.
pub(crate) const SERVICE: &str = "stackscope";

/// Formats events as the seed's JSON log lines.
pub(crate) struct SeedJson;

/// Fields of an event or span, as JSON values.
struct Fields(Map<String, Value>);

/// Keeps each span's fields as JSON so that every line logged inside a span carries them as
/// top-level keys (`trace_id` and `stack` of a reconcile).
pub(crate) struct SpanFields;

impl<S> Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        attributes.record(&mut fields);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }
}

/// A fresh 16-hex-digit trace id for one unit of work (a reconcile).
pub(crate) fn new_trace_id() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = Sha256::new();
    hasher.update(Timestamp::now().as_nanosecond().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

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

/// One log line from a timestamp, level and the event's fields (the pure part, tested): the
/// seed's fields first, in the seed's order, then the others by name. A JSON object type would
/// sort every key (serde_json's map is ordered by name), so the line keeps its pairs in order.
pub(crate) fn line(timestamp: &str, level: &tracing::Level, mut fields: Map<String, Value>) -> Vec<(String, Value)> {
    // The seed's levels: DEBUG INFO WARN ERROR (TRACE folds into DEBUG).
    let level = match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    };
    let mut pairs = vec![
        ("timestamp".to_owned(), Value::String(timestamp.to_owned())),
        ("level".to_owned(), Value::String(level.to_owned())),
        ("service".to_owned(), Value::String(SERVICE.to_owned())),
    ];
    for key in ["trace_id", "message", "duration_ms"] {
        if let Some(value) = fields.remove(key) {
            pairs.push((key.to_owned(), value));
        }
    }
    pairs.extend(fields);
    pairs
}

/// The pairs as one JSON object, in their order.
pub(crate) fn json_line(pairs: &[(String, Value)]) -> String {
    let members: Vec<String> =
        pairs.iter().map(|(key, value)| format!("{}:{value}", Value::String(key.clone()))).collect();
    format!("{{{}}}", members.join(","))
}

impl<S, N> FormatEvent<S, N> for SeedJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, context: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields(Map::new());
        // Span fields (the reconcile's trace_id and stack) first, so event fields win.
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                if let Some(stored) = span.extensions().get::<Fields>() {
                    fields.0.extend(stored.0.clone());
                }
            }
        }
        event.record(&mut fields);
        let timestamp = Timestamp::now().to_string();
        let pairs = line(&timestamp, event.metadata().level(), fields.0);
        writeln!(writer, "{}", json_line(&pairs))
    }
}

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(SpanFields)
        .with(tracing_subscriber::fmt::layer().with_ansi(false).event_format(SeedJson))
        .try_init();
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
        fields.insert("attempt".to_owned(), Value::from(2));
        let pairs = line("2026-01-01T00:00:00Z", &tracing::Level::WARN, fields);
        let text = json_line(&pairs);
        // The order as written: the seed's fields first, in its order, then the others by name.
        let order: Vec<&str> = ["timestamp", "level", "service", "message", "duration_ms", "attempt", "stack"]
            .into_iter()
            .filter(|key| text.contains(&format!("\"{key}\":")))
            .collect();
        let mut positions: Vec<(usize, &str)> =
            order.iter().map(|key| (text.find(&format!("\"{key}\":")).unwrap_or(usize::MAX), *key)).collect();
        positions.sort();
        assert_eq!(positions.iter().map(|(_, key)| *key).collect::<Vec<_>>(), order, "{text}");
        assert_eq!(order.len(), 7, "{text}");
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["service"], "stackscope");
        assert_eq!(value["stack"], "obs/machineavatars");
    }

    #[test]
    fn lines_inside_a_span_carry_its_trace_id() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(SpanFields)
            .with(tracing_subscriber::fmt::layer().event_format(SeedJson).with_writer(move || writer.clone()));
        let trace_id = new_trace_id();
        assert_eq!(trace_id.len(), 16);
        assert_ne!(trace_id, new_trace_id());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("reconcile", trace_id = %trace_id, stack = "obs/s");
            let _entered = span.enter();
            tracing::info!(duration_ms = 7_u64, "reconciled");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let value: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(value["trace_id"], trace_id.as_str());
        assert_eq!(value["stack"], "obs/s");
        assert_eq!(value["duration_ms"], 7);
        assert_eq!(value["message"], "reconciled");
    }
}
