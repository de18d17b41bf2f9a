//! JSON log lines, written straight from the event.
//!
//! The line has the shape `tracing-subscriber`'s JSON format gives with
//! flattened events and the current span: `timestamp`, `level`, the event's
//! fields (`message` among them), `target`, and `span` with the innermost
//! span's fields and its `name`. What differs is the cost. That format keeps
//! a span's fields as a JSON text, so every field recorded later (a request
//! span gets its route, project, principal and status that way) parsed the
//! text into a map and wrote it out again, and every line parsed the span's
//! text once more. Here a span keeps its fields as ready-written `"name":value`
//! pairs with where each one lies: recording a field appends it (or replaces
//! it in place), and a line copies the pairs as they are.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::ops::Range;

use chrono::{Datelike, Timelike};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer writing one JSON line per event to `W`.
#[derive(Debug)]
pub struct JsonLog<W> {
    writer: W,
}

impl<W> JsonLog<W> {
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

/// A span's fields as JSON pairs (`"name":value`, comma separated), and
/// the byte range of each pair so a field recorded again replaces its pair.
#[derive(Debug, Default)]
struct SpanFields {
    json: String,
    pairs: Vec<(&'static str, Range<usize>)>,
}

impl SpanFields {
    fn record(&mut self, values: &Record<'_>) {
        values.record(&mut FieldWriter::Span(self));
    }

    /// Writes a pair with `write_value`, in place of the field's earlier
    /// pair if it had one.
    fn put(&mut self, name: &'static str, write_value: impl FnOnce(&mut String)) {
        let mut pair = String::new();
        let earlier = self.pairs.iter().position(|(n, _)| *n == name);
        let out = if earlier.is_some() {
            &mut pair
        } else {
            if !self.json.is_empty() {
                self.json.push(',');
            }
            &mut self.json
        };
        let start = out.len();
        push_json_str(out, name);
        out.push(':');
        write_value(out);
        match earlier {
            None => {
                let end = self.json.len();
                self.pairs.push((name, start..end));
            }
            Some(index) => {
                let old = self.pairs[index].1.clone();
                let shift = pair.len() as isize - old.len() as isize;
                self.json.replace_range(old.clone(), &pair);
                self.pairs[index].1 = old.start..old.start + pair.len();
                for (_, range) in &mut self.pairs[index + 1..] {
                    *range = range.start.saturating_add_signed(shift)
                        ..range.end.saturating_add_signed(shift);
                }
            }
        }
    }
}

/// Where a visited field goes: a span's pairs, or the line being written
/// (with the `log` crate's own fields held aside).
enum FieldWriter<'a> {
    Span(&'a mut SpanFields),
    Line {
        out: &'a mut String,
        log_target: Option<String>,
    },
}

impl FieldWriter<'_> {
    fn put(&mut self, field: &Field, write_value: impl FnOnce(&mut String)) {
        match self {
            Self::Span(fields) => fields.put(field.name(), write_value),
            Self::Line { out, .. } => {
                // Fields the `log` bridge adds describe the call site, which
                // the line states itself (`target`).
                if field.name().starts_with("log.") {
                    return;
                }
                out.push(',');
                push_json_str(out, field.name());
                out.push(':');
                write_value(out);
            }
        }
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Self::Line { log_target, .. } = self
            && field.name() == "log.target"
        {
            *log_target = Some(value.to_owned());
            return;
        }
        self.put(field, |out| push_json_str(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |out| {
            let _ = write!(out, "{value}");
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |out| {
            let _ = write!(out, "{value}");
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, |out| {
            if value.is_finite() {
                let _ = write!(out, "{value}");
            } else {
                out.push_str("null");
            }
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |out| {
            out.push_str(if value { "true" } else { "false" })
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |out| {
            out.push('"');
            let _ = write!(JsonEscaped(out), "{value:?}");
            out.push('"');
        });
    }
}

thread_local! {
    /// The line being written, its capacity kept between lines.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, W> Layer<S> for JsonLog<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut FieldWriter::Span(&mut fields));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            fields.record(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        LINE.with(|line| {
            // A line logged while one is being written (from a `Debug` of
            // a field, say) gets a buffer of its own.
            let mut own = String::new();
            let mut borrowed = line.try_borrow_mut();
            let out = match &mut borrowed {
                Ok(line) => &mut **line,
                Err(_) => &mut own,
            };
            out.clear();
            self.write_line(out, event, &ctx);
            let _ = self
                .writer
                .make_writer_for(event.metadata())
                .write_all(out.as_bytes());
        });
    }
}

impl<W> JsonLog<W> {
    fn write_line<S>(&self, out: &mut String, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let metadata = event.metadata();
        out.push_str("{\"timestamp\":\"");
        push_timestamp(out, chrono::Utc::now());
        out.push_str("\",\"level\":\"");
        out.push_str(metadata.level().as_str());
        out.push('"');
        let mut visitor = FieldWriter::Line {
            out,
            log_target: None,
        };
        event.record(&mut visitor);
        let FieldWriter::Line { out, log_target } = visitor else {
            unreachable!("the visitor was made for a line")
        };
        out.push_str(",\"target\":");
        push_json_str(out, log_target.as_deref().unwrap_or(metadata.target()));
        if let Some(span) = ctx.event_span(event) {
            out.push_str(",\"span\":{");
            if let Some(fields) = span.extensions().get::<SpanFields>()
                && !fields.json.is_empty()
            {
                out.push_str(&fields.json);
                out.push(',');
            }
            out.push_str("\"name\":");
            push_json_str(out, span.name());
            out.push('}');
        }
        out.push_str("}\n");
    }
}

/// RFC 3339 in UTC with microseconds, as `2026-11-28T01:02:03.456789Z`.
fn push_timestamp(out: &mut String, now: chrono::DateTime<chrono::Utc>) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        // A leap second shows as 59.999999, not as a 60th second.
        (now.nanosecond() / 1_000).min(999_999),
    );
}

/// `value` as a JSON string, quotes included.
fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = JsonEscaped(out).write_str(value);
    out.push('"');
}

/// Writes what it is given escaped for the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, value: &str) -> fmt::Result {
        let out = &mut *self.0;
        let mut plain = 0;
        for (at, byte) in value.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            out.push_str(&value[plain..at]);
            if escape.is_empty() {
                let _ = write!(out, "\\u{byte:04x}");
            } else {
                out.push_str(escape);
            }
            plain = at + 1;
        }
        out.push_str(&value[plain..]);
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Captured log lines.
    #[derive(Clone, Default)]
    pub(in crate::telemetry) struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Lines {
        pub(in crate::telemetry) fn parsed(&self) -> Vec<Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).expect(line))
                .collect()
        }
    }

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Lines {
        type Writer = Self;

        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(body: impl FnOnce()) -> Vec<Value> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(JsonLog::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, body);
        lines.parsed()
    }

    #[test]
    fn a_line_has_the_event_its_target_and_the_innermost_span_with_fields_recorded_later() {
        let lines = logged(|| {
            let span = tracing::info_span!(
                "http.request",
                http.route = tracing::field::Empty,
                request_id = "r-1",
                status = tracing::field::Empty,
            );
            span.record("http.route", "/api/v1/me");
            span.record("status", 200_u16);
            // Recorded again: replaced where it was, the later fields kept.
            span.record("http.route", "/api/v1/projects/{project}");
            span.in_scope(|| {
                tracing::info!(
                    latency_ms = 1.5,
                    ok = true,
                    count = -3_i64,
                    "request finished"
                );
            });
            tracing::warn!(detail = ?"quoted \"and\"\nsplit", "outside any span");
        });
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "request finished");
        assert_eq!(first["latency_ms"], 1.5);
        assert_eq!(first["ok"], true);
        assert_eq!(first["count"], -3);
        assert_eq!(first["target"], module_path!());
        assert_eq!(
            first["span"],
            json!({
                "http.route": "/api/v1/projects/{project}",
                "request_id": "r-1",
                "status": 200,
                "name": "http.request",
            })
        );
        let timestamp = first["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
        assert_eq!(timestamp.len(), "2026-11-28T01:02:03.456789Z".len());

        let second = &lines[1];
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["detail"], "\"quoted \\\"and\\\"\\nsplit\"");
        assert!(second.get("span").is_none());
    }

    #[test]
    fn control_characters_and_non_finite_numbers_still_make_valid_json() {
        let lines = logged(|| {
            let span = tracing::info_span!("job", label = "tab\there\u{1}bell", ratio = f64::NAN);
            span.in_scope(|| tracing::info!(value = f64::INFINITY, "é ünïcode \u{7f}"));
        });
        assert_eq!(lines[0]["message"], "é ünïcode \u{7f}");
        assert_eq!(lines[0]["value"], Value::Null);
        assert_eq!(lines[0]["span"]["name"], "job");
        assert_eq!(lines[0]["span"]["ratio"], Value::Null);
        assert_eq!(lines[0]["span"]["label"], "tab\there\u{1}bell");
    }
}
