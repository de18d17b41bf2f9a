//! A results upload, from request body to committed rows.
//!
//! The body is decoded (gzip, zip, or as sent), parsed on a blocking
//! thread as a stream, and handed over in batches through a small bounded
//! channel to the request's task, which writes each batch while the next
//! one is parsed. Everything happens in one tenant transaction: a report
//! that turns out malformed halfway leaves nothing behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor, Read};

use actix_web::web::Bytes;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenant_core::{Db, TenantContext};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::FailureState;
use crate::domain::{self, CaseStatus, FailureKind};
use crate::error::FailureError;
use crate::junit::{self, Counts, JunitError, LimitedReader, ParseLimits, ParsedCase, Warnings};
use crate::repo::{self, FailureRow, ResultRow, Sql};
use crate::settings::FailureSettings;

/// How the body of an upload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    Xml { gzip: bool },
    Zip,
    Json { gzip: bool },
}

impl UploadFormat {
    /// From `Content-Type` and `Content-Encoding`.
    pub fn detect(
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Result<Self, FailureError> {
        let encoded_gzip = match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
            None => false,
            Some(encoding) if encoding.is_empty() || encoding == "identity" => false,
            Some(encoding) if encoding == "gzip" || encoding == "x-gzip" => true,
            Some(encoding) => {
                return Err(FailureError::UnsupportedMediaType(format!(
                    "Content-Encoding: {encoding}"
                )));
            }
        };
        let media = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "application/xml" | "text/xml" | "application/junit+xml" => {
                Ok(Self::Xml { gzip: encoded_gzip })
            }
            "application/gzip" | "application/x-gzip" => Ok(Self::Xml { gzip: true }),
            "application/zip" | "application/x-zip-compressed" if !encoded_gzip => Ok(Self::Zip),
            "application/json" => Ok(Self::Json { gzip: encoded_gzip }),
            "" => Err(FailureError::UnsupportedMediaType(
                "(no Content-Type)".to_owned(),
            )),
            other => Err(FailureError::UnsupportedMediaType(other.to_owned())),
        }
    }
}

/// What an upload added, as returned to the client (and replayed for a
/// retried Idempotency-Key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadSummary {
    pub build_id: Uuid,
    pub files: u64,
    pub tests: u64,
    pub passed: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub flaky: u64,
    pub warnings: Vec<String>,
}

/// The request as the handler extracted it.
#[derive(Debug)]
pub struct Upload {
    pub build_id: Uuid,
    pub format: UploadFormat,
    pub body: Bytes,
    pub idempotency_key: Option<String>,
    pub content_type: String,
    pub content_encoding: String,
}

#[derive(Debug)]
pub enum UploadOutcome {
    Ingested(UploadSummary),
    Replayed(serde_json::Value),
}

fn request_hash(upload: &Upload) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(upload.content_type.as_bytes());
    hasher.update([0]);
    hasher.update(upload.content_encoding.as_bytes());
    hasher.update([0]);
    hasher.update(&upload.body);
    hasher.finalize().to_vec()
}

pub fn parse_idempotency_key(raw: Option<&str>) -> Result<Option<String>, FailureError> {
    match raw {
        None => Ok(None),
        Some(key)
            if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        Some(_) => Err(FailureError::InvalidIdempotencyKey),
    }
}

/// Ingests one upload in one transaction.
pub async fn ingest_upload(
    state: &FailureState,
    db: &Db,
    ctx: &TenantContext,
    project_id: Uuid,
    upload: Upload,
) -> Result<UploadOutcome, FailureError> {
    let tx = db.tenant_tx(ctx).await?;
    let sql = Sql::new(&tx, &state.statements);
    let build = repo::lock_build(&sql, project_id, upload.build_id)
        .await?
        .ok_or(FailureError::BuildNotFound)?;
    let hash = request_hash(&upload);
    if let Some(key) = &upload.idempotency_key
        && let Some(recorded) = repo::find_upload(&sql, project_id, build.id, key).await?
    {
        return if recorded.request_hash == hash {
            Ok(UploadOutcome::Replayed(recorded.response))
        } else {
            Err(FailureError::IdempotencyKeyReused)
        };
    }
    repo::ensure_results_partition(&sql, build.created_at).await?;

    let (sender, mut receiver) = mpsc::channel::<Vec<ResultRow>>(2);
    let settings = state.settings.clone();
    let format = upload.format;
    let body = upload.body.clone();
    let parser = tokio::task::spawn_blocking(move || {
        parse_upload(format, body, &settings, project_id, &sender)
    });
    let now = Utc::now();
    let mut write_error = None;
    while let Some(batch) = receiver.recv().await {
        if let Err(error) =
            repo::insert_results(&sql, project_id, build.id, build.created_at, now, &batch).await
        {
            write_error = Some(error);
            break;
        }
    }
    drop(receiver);
    let parsed = parser.await.map_err(|_| FailureError::ParserCrashed)?;
    if let Some(error) = write_error {
        return Err(error.into());
    }
    let (files, counts, warnings) = parsed?;
    repo::refresh_build_totals(&sql, project_id, build.id, build.created_at).await?;
    let summary = UploadSummary {
        build_id: build.id,
        files,
        tests: counts.tests,
        passed: counts.passed,
        failures: counts.failures,
        errors: counts.errors,
        skipped: counts.skipped,
        flaky: counts.flaky,
        warnings: warnings.into_vec(),
    };
    if let Some(key) = &upload.idempotency_key {
        let response = serde_json::to_value(&summary).map_err(|_| FailureError::ParserCrashed)?;
        repo::record_upload(&sql, project_id, build.id, key, &hash, &response).await?;
    }
    tx.commit().await?;
    Ok(UploadOutcome::Ingested(summary))
}

/// Collects parsed cases into batches unique by test, merging repeats
/// (retries written as repeated testcases) the way the database does
/// across batches.
struct Batcher<'a> {
    project_id: Uuid,
    batch_size: usize,
    rows: Vec<ResultRow>,
    index: HashMap<Uuid, usize>,
    sender: &'a mpsc::Sender<Vec<ResultRow>>,
}

impl Batcher<'_> {
    fn push(&mut self, case: ParsedCase) -> Result<(), JunitError> {
        let row = result_row(self.project_id, case);
        match self.index.get(&row.test_id) {
            Some(&position) => merge_repeat(&mut self.rows[position], row),
            None => {
                self.index.insert(row.test_id, self.rows.len());
                self.rows.push(row);
            }
        }
        if self.rows.len() >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), JunitError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        self.index.clear();
        let rows = std::mem::take(&mut self.rows);
        self.sender
            .blocking_send(rows)
            .map_err(|_| JunitError::Abandoned)
    }
}

fn result_row(project_id: Uuid, case: ParsedCase) -> ResultRow {
    let scope = case
        .file
        .as_deref()
        .filter(|_| case.suite.is_empty())
        .unwrap_or(&case.suite);
    let test_id = domain::test_id(project_id, scope, &case.classname, &case.name);
    ResultRow {
        test_id,
        failure: case.failure.map(|detail| FailureRow {
            kind: detail.kind.as_str(),
            error_type: detail.error_type,
            message: detail.message,
            stack_trace: detail.stack_trace,
            system_out: detail.system_out,
            system_err: detail.system_err,
        }),
        suite: case.suite,
        classname: case.classname,
        name: case.name,
        file: case.file,
        status: case.status,
        duration_ms: case.duration_ms,
        retries: case.retries,
    }
}

/// The status of a test seen twice in one build.
pub fn combine_status(earlier: CaseStatus, later: CaseStatus) -> CaseStatus {
    use CaseStatus::{Flaky, Passed, Skipped};
    match (earlier, later) {
        (a, b) if a == b => a,
        (Skipped, b) => b,
        (a, Skipped) => a,
        (Passed | Flaky, _) | (_, Passed | Flaky) => Flaky,
        (_, b) => b,
    }
}

fn merge_repeat(existing: &mut ResultRow, later: ResultRow) {
    existing.status = combine_status(existing.status, later.status);
    existing.retries = existing
        .retries
        .saturating_add(later.retries)
        .saturating_add(1);
    existing.duration_ms = later.duration_ms.or(existing.duration_ms);
    if later.failure.is_some() {
        existing.failure = later.failure;
    }
}

type Parsed = Result<(u64, Counts, Warnings), FailureError>;

/// Runs on a blocking thread: decodes and parses the body, sending batches.
fn parse_upload(
    format: UploadFormat,
    body: Bytes,
    settings: &FailureSettings,
    project_id: Uuid,
    sender: &mpsc::Sender<Vec<ResultRow>>,
) -> Parsed {
    let mut batcher = Batcher {
        project_id,
        batch_size: settings.insert_batch_size,
        rows: Vec::new(),
        index: HashMap::new(),
        sender,
    };
    let compressed = body.len() as u64;
    let budget = settings.max_uncompressed_bytes.min(
        compressed
            .saturating_mul(settings.max_decompression_ratio)
            .max(1024 * 1024),
    );
    let limits = settings.parse_limits();
    let result = match format {
        UploadFormat::Xml { gzip: false } => {
            let input = LimitedReader::new(Cursor::new(body), settings.max_uncompressed_bytes);
            parse_xml(BufReader::new(input), limits, &mut batcher).map(|(c, w)| (1, c, w))
        }
        UploadFormat::Xml { gzip: true } => {
            let input =
                LimitedReader::new(flate2::read::MultiGzDecoder::new(Cursor::new(body)), budget);
            parse_xml(
                BufReader::with_capacity(64 * 1024, input),
                limits,
                &mut batcher,
            )
            .map(|(c, w)| (1, c, w))
        }
        UploadFormat::Zip => parse_zip(body, budget, limits, &mut batcher),
        UploadFormat::Json { gzip } => {
            let json = if gzip {
                let mut decoded = Vec::new();
                LimitedReader::new(flate2::read::MultiGzDecoder::new(Cursor::new(body)), budget)
                    .read_to_end(&mut decoded)
                    .map_err(|error| match junit::size_limit(&error) {
                        Some(limit) => JunitError::TooLarge { limit },
                        None => JunitError::Io(error),
                    })?;
                Bytes::from(decoded)
            } else {
                body
            };
            parse_json(&json, limits, &mut batcher).map(|(c, w)| (1, c, w))
        }
    }?;
    batcher.flush()?;
    Ok(result)
}

fn parse_xml<R: BufRead>(
    input: R,
    limits: ParseLimits,
    batcher: &mut Batcher<'_>,
) -> Result<(Counts, Warnings), FailureError> {
    Ok(junit::parse_report(input, limits, |case| {
        batcher.push(case)
    })?)
}

fn parse_zip(body: Bytes, budget: u64, limits: ParseLimits, batcher: &mut Batcher<'_>) -> Parsed {
    let mut archive = zip::ZipArchive::new(Cursor::new(body))
        .map_err(|error| FailureError::Archive(format!("not a readable zip archive: {error}")))?;
    let mut remaining = budget;
    let mut files = 0_u64;
    let mut counts = Counts::default();
    let mut warnings = Warnings::default();
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|error| FailureError::Archive(format!("entry {index}: {error}")))?;
        let name = entry.name().to_owned();
        if entry.is_dir() {
            continue;
        }
        if !name.to_ascii_lowercase().ends_with(".xml") {
            warnings.push(format!(
                "`{name}` in the archive is not an .xml file; skipped"
            ));
            continue;
        }
        let mut limited = LimitedReader::new(entry, remaining);
        let parsed = junit::parse_report(
            BufReader::with_capacity(64 * 1024, &mut limited),
            limits,
            |case| batcher.push(case),
        );
        remaining -= limited.consumed();
        match parsed {
            Ok((file_counts, file_warnings)) => {
                files += 1;
                counts.merge(file_counts);
                for warning in file_warnings.into_vec() {
                    warnings.push(format!("{name}: {warning}"));
                }
            }
            Err(JunitError::TooLarge { .. }) => {
                return Err(JunitError::TooLarge { limit: budget }.into());
            }
            Err(
                error @ (JunitError::Malformed { .. }
                | JunitError::NotJunit(_)
                | JunitError::Empty
                | JunitError::DtdRefused { .. }
                | JunitError::TooDeep { .. }
                | JunitError::AttributeTooLong { .. }),
            ) => {
                return Err(FailureError::Report(match error {
                    JunitError::Malformed {
                        line,
                        column,
                        message,
                    } => JunitError::Malformed {
                        line,
                        column,
                        message: format!("{name}: {message}"),
                    },
                    other => other,
                }));
            }
            Err(JunitError::Io(error)) => {
                return Err(FailureError::Archive(format!("{name}: {error}")));
            }
            Err(other) => return Err(other.into()),
        }
    }
    if files == 0 {
        return Err(FailureError::Archive(
            "the archive holds no .xml report".to_owned(),
        ));
    }
    Ok((files, counts, warnings))
}

/// The JSON batch format (`application/json`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonBatch {
    pub results: Vec<JsonResult>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonResult {
    #[serde(default)]
    pub suite: String,
    #[serde(default)]
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub status: CaseStatus,
    pub duration_ms: Option<i64>,
    #[serde(default)]
    pub retries: i32,
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

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

fn parse_json(
    json: &[u8],
    limits: ParseLimits,
    batcher: &mut Batcher<'_>,
) -> Result<(Counts, Warnings), FailureError> {
    let batch: JsonBatch = serde_json::from_slice(json)
        .map_err(|error| FailureError::InvalidBatch(error.to_string()))?;
    let mut counts = Counts::default();
    let mut warnings = Warnings::default();
    let mut truncated = false;
    for (index, result) in batch.results.into_iter().enumerate() {
        if result.name.trim().is_empty() {
            return Err(FailureError::invalid(
                format!("results[{index}].name"),
                "must not be empty",
            ));
        }
        if result.retries < 0 || result.duration_ms.is_some_and(|d| d < 0) {
            return Err(FailureError::invalid(
                format!("results[{index}]"),
                "retries and duration_ms must not be negative",
            ));
        }
        let failure = result.status.is_failing().then(|| junit::FailureDetail {
            kind: if result.status == CaseStatus::Error {
                FailureKind::Error
            } else {
                FailureKind::Failure
            },
            error_type: result.error_type.clone(),
            message: cap(
                result.message.clone(),
                limits.max_message_bytes,
                &mut truncated,
            ),
            stack_trace: cap(
                result.stack_trace.clone(),
                limits.max_stack_trace_bytes,
                &mut truncated,
            ),
            system_out: cap(
                result.system_out.clone(),
                limits.max_output_bytes,
                &mut truncated,
            ),
            system_err: cap(
                result.system_err.clone(),
                limits.max_output_bytes,
                &mut truncated,
            ),
        });
        counts.add(result.status);
        batcher.push(ParsedCase {
            suite: result.suite,
            classname: result.classname,
            name: result.name,
            file: result.file,
            status: result.status,
            duration_ms: result.duration_ms,
            retries: result.retries,
            failure,
        })?;
    }
    if truncated {
        warnings.push("some messages, stack traces or outputs were cut to their size limit");
    }
    Ok((counts, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_and_a_failure_of_one_test_make_it_flaky_and_skips_yield() {
        use CaseStatus::*;
        assert_eq!(combine_status(Failed, Passed), Flaky);
        assert_eq!(combine_status(Passed, Error), Flaky);
        assert_eq!(combine_status(Failed, Error), Error);
        assert_eq!(combine_status(Skipped, Failed), Failed);
        assert_eq!(combine_status(Passed, Skipped), Passed);
        assert_eq!(combine_status(Passed, Passed), Passed);
    }

    #[test]
    fn formats_are_chosen_from_content_type_and_encoding() {
        assert_eq!(
            UploadFormat::detect(Some("application/xml; charset=utf-8"), None).unwrap(),
            UploadFormat::Xml { gzip: false }
        );
        assert_eq!(
            UploadFormat::detect(Some("application/xml"), Some("gzip")).unwrap(),
            UploadFormat::Xml { gzip: true }
        );
        assert_eq!(
            UploadFormat::detect(Some("application/gzip"), None).unwrap(),
            UploadFormat::Xml { gzip: true }
        );
        assert_eq!(
            UploadFormat::detect(Some("application/zip"), None).unwrap(),
            UploadFormat::Zip
        );
        assert!(UploadFormat::detect(Some("text/plain"), None).is_err());
        assert!(UploadFormat::detect(Some("application/xml"), Some("br")).is_err());
        assert!(UploadFormat::detect(None, None).is_err());
    }
}
