//! The JSON batch format (`application/json`), for CI systems that do not
//! write JUnit XML: `{"results": [...]}`, read as a stream, each result
//! handed to the batcher as soon as it is complete.

use std::borrow::Cow;
use std::io::{self, Read};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use utoipa::ToSchema;

use super::batcher::Batcher;
use crate::domain::{CaseStatus, FailureKind};
use crate::error::FailureError;
use crate::junit::{Counts, FailureDetail, JunitError, ParseLimits, ParsedCase, Warnings};
use crate::size_limit::size_limit;

/// The JSON batch format (`application/json`), for CI systems that do not
/// write JUnit XML. Read as a stream: each result goes to the batcher as
/// soon as it is complete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonBatch {
    /// One entry per test; a test listed twice is merged (retries add up,
    /// a pass meeting a failure makes it `flaky`).
    pub results: Vec<JsonResult>,
}

/// One test's outcome in a JSON batch. Its identity (suite, class name,
/// name, and the file when there is no suite) gives the test's stable id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonResult {
    /// The test suite; empty when absent.
    #[serde(default)]
    #[schema(pattern = r"^[^\x00]*$")]
    pub suite: String,
    /// The test's class or module; empty when absent.
    #[serde(default)]
    #[schema(pattern = r"^[^\x00]*$")]
    pub classname: String,
    /// The test's name; must not be blank.
    #[schema(
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    )]
    pub name: String,
    /// The source file, which stands for the suite when there is none.
    #[schema(pattern = r"^[^\x00]*$")]
    pub file: Option<String>,
    pub status: CaseStatus,
    /// 0 to 10^12 (a JUnit `time` of at most 10^9 seconds, as XML reports
    /// are read).
    #[serde(default, deserialize_with = "tenant_core::json::optional_integer")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub duration_ms: Option<i64>,
    /// Failed attempts before the outcome: 0 (the default) to 10,000.
    #[serde(default, deserialize_with = "tenant_core::json::integer")]
    #[schema(minimum = 0, maximum = 10_000)]
    pub retries: i32,
    /// The failure's type (often an exception class); kept for `failed`
    /// and `error` results only, like the fields below.
    #[serde(rename = "type")]
    #[schema(pattern = r"^[^\x00]*$")]
    pub error_type: Option<String>,
    /// Cut to `service.max_message_bytes` (8 KiB by default), with a warning.
    #[schema(pattern = r"^[^\x00]*$")]
    pub message: Option<String>,
    /// Cut to `service.max_stack_trace_bytes` (64 KiB by default), with a warning.
    #[schema(pattern = r"^[^\x00]*$")]
    pub stack_trace: Option<String>,
    /// Cut to `service.max_output_bytes` (16 KiB by default), with a warning.
    #[schema(pattern = r"^[^\x00]*$")]
    pub system_out: Option<String>,
    /// Cut to `service.max_output_bytes` (16 KiB by default), with a warning.
    #[schema(pattern = r"^[^\x00]*$")]
    pub system_err: Option<String>,
}

/// The most retries one JSON result may report.
const MAX_JSON_RETRIES: i32 = 10_000;
/// The longest duration one JSON result may report: the 10^9 seconds a
/// JUnit `time` may have, so sums over a build stay far inside `bigint`.
const MAX_DURATION_MS: i64 = 1_000_000_000_000;

fn cap(text: Option<String>, max: usize, warnings: &mut bool) -> Option<String> {
    text.map(|mut text| {
        if text.len() > max {
            let mut end = max;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            *warnings = true;
        }
        text
    })
}

/// Takes the results of a JSON batch one at a time.
struct JsonSink<'a, 'b> {
    limits: ParseLimits,
    batcher: &'a mut Batcher<'b>,
    counts: Counts,
    truncated: bool,
    seen: usize,
    /// Why the sink stopped the deserializer, if it did.
    stopped: Option<FailureError>,
}

impl JsonSink<'_, '_> {
    fn take(&mut self, result: JsonResult) -> Result<(), FailureError> {
        let index = self.seen;
        self.seen += 1;
        if result.name.trim().is_empty() {
            return Err(FailureError::invalid(
                format!("results[{index}].name"),
                "must not be empty",
            ));
        }
        if !(0..=MAX_JSON_RETRIES).contains(&result.retries)
            || result
                .duration_ms
                .is_some_and(|d| !(0..=MAX_DURATION_MS).contains(&d))
        {
            return Err(FailureError::invalid(
                format!("results[{index}]"),
                "retries must be 0 to 10000 and duration_ms 0 to 10^12",
            ));
        }
        let limits = self.limits;
        let truncated = &mut self.truncated;
        let failure = result.status.is_failing().then(|| FailureDetail {
            kind: if result.status == CaseStatus::Error {
                FailureKind::Error
            } else {
                FailureKind::Failure
            },
            error_type: result.error_type,
            message: cap(result.message, limits.max_message_bytes, truncated),
            stack_trace: cap(result.stack_trace, limits.max_stack_trace_bytes, truncated),
            system_out: cap(result.system_out, limits.max_output_bytes, truncated),
            system_err: cap(result.system_err, limits.max_output_bytes, truncated),
        });
        self.counts.add(result.status);
        self.batcher.push(ParsedCase {
            suite: result.suite,
            classname: result.classname,
            name: result.name,
            file: result.file,
            status: result.status,
            duration_ms: result.duration_ms,
            retries: result.retries,
            failure,
            attempts: Vec::new(),
        })?;
        Ok(())
    }
}

/// `{"results": [...]}`, handing each element to the sink.
struct BatchSeed<'s, 'a, 'b>(&'s mut JsonSink<'a, 'b>);

impl<'de> DeserializeSeed<'de> for BatchSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(r#"an object {"results": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut saw_results = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != "results" {
                return Err(de::Error::unknown_field(&key, &["results"]));
            }
            if saw_results {
                return Err(de::Error::duplicate_field("results"));
            }
            saw_results = true;
            map.next_value_seed(ResultsSeed(&mut *self.0))?;
        }
        if saw_results {
            Ok(())
        } else {
            Err(de::Error::missing_field("results"))
        }
    }
}

struct ResultsSeed<'s, 'a, 'b>(&'s mut JsonSink<'a, 'b>);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an array of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(result) = seq.next_element::<JsonResult>()? {
            if let Err(error) = self.0.take(result) {
                self.0.stopped = Some(error);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

pub(super) fn parse_json<R: Read>(
    input: R,
    limits: ParseLimits,
    batcher: &mut Batcher<'_>,
) -> Result<(Counts, Warnings), FailureError> {
    let mut sink = JsonSink {
        limits,
        batcher,
        counts: Counts::default(),
        truncated: false,
        seen: 0,
        stopped: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let read = BatchSeed(&mut sink)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Some(error) = sink.stopped.take() {
        return Err(error);
    }
    if let Err(error) = read {
        return Err(if error.is_io() {
            let io = io::Error::from(error);
            match size_limit(&io) {
                Some(limit) => JunitError::TooLarge { limit }.into(),
                None => JunitError::Io(io).into(),
            }
        } else {
            FailureError::InvalidBatch(error.to_string())
        });
    }
    let mut warnings = Warnings::default();
    if sink.truncated {
        warnings.push("some messages, stack traces or outputs were cut to their size limit");
    }
    Ok((sink.counts, warnings))
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::ResultRow;

    fn read_json(json: &str) -> (Result<(Counts, Warnings), FailureError>, Vec<ResultRow>) {
        let (sender, mut receiver) = mpsc::channel(16);
        let mut batcher = Batcher::new(Uuid::nil(), 2, &sender);
        let limits = ParseLimits {
            max_message_bytes: 4,
            ..ParseLimits::default()
        };
        let result = parse_json(json.as_bytes(), limits, &mut batcher);
        if result.is_ok() {
            batcher.flush().unwrap();
        }
        drop(sender);
        let mut rows = Vec::new();
        while let Ok(batch) = receiver.try_recv() {
            rows.extend(batch);
        }
        (result, rows)
    }

    #[test]
    fn a_json_batch_is_read_result_by_result_into_batches() {
        let (result, rows) = read_json(
            r#"{"results": [
                {"name": "a", "status": "passed", "duration_ms": 3},
                {"name": "b", "classname": "C", "status": "error", "type": "E", "message": "too long"},
                {"name": "c", "status": "skipped"}
            ]}"#,
        );
        let (counts, warnings) = result.unwrap();
        assert_eq!(
            (counts.tests, counts.passed, counts.errors, counts.skipped),
            (3, 1, 1, 1)
        );
        assert_eq!(warnings.into_vec().len(), 1, "the message was cut");
        let names: Vec<_> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let failure = rows[1].failure.as_ref().unwrap();
        assert_eq!(
            (failure.kind, failure.message.as_deref()),
            (FailureKind::Error, Some("too "))
        );
    }

    #[test]
    fn a_json_batch_is_refused_for_bad_shapes_and_bad_values() {
        for (json, expected) in [
            (r#"{"results": [], "extra": 1}"#, "unknown field `extra`"),
            (r#"{}"#, "missing field `results`"),
            (
                r#"{"results": [], "results": []}"#,
                "duplicate field `results`",
            ),
            (r#"{"results": [{"name": "a"}]}"#, "missing field `status`"),
            (
                r#"{"results": [{"name": "a", "status": "passed"}] } x"#,
                "trailing",
            ),
            (r#"[1, 2]"#, "expected an object"),
        ] {
            match read_json(json).0 {
                Err(FailureError::InvalidBatch(detail)) => {
                    assert!(detail.contains(expected), "{json}: {detail}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
        let (result, _) = read_json(
            r#"{"results": [{"name": "a", "status": "passed"}, {"name": " ", "status": "passed"}]}"#,
        );
        match result {
            Err(FailureError::Invalid { field, .. }) => assert_eq!(field, "results[1].name"),
            other => panic!("{other:?}"),
        }
    }
}
