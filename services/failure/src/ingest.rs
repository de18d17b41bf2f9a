//! A results upload, from request body to committed rows.
//!
//! The body is streamed ([`crate::body`]): decoded (gzip, or as sent) and
//! parsed on a blocking thread while it arrives, and handed over in batches
//! through a small bounded channel to the request's task, which writes each
//! batch while the next one is parsed. Memory holds a few chunks, one XML
//! event (at most `max_xml_event_bytes`) and one batch, not the report; a
//! zip archive is read entry by entry as it arrives ([`crate::zip_stream`]).
//! Everything happens in one tenant transaction: a report that turns out
//! malformed or cut off halfway, in any file of an archive, leaves nothing
//! behind.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::Utc;
use futures_util::Stream;
use prometheus_client::metrics::gauge::Gauge;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use tenant_core::{Db, DbError, TenantContext};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::FailureState;
use crate::body::{self, BodyLimits, BodyReader, DecodedBudget, Pumped, RequestHash};
use crate::domain::{self, CaseStatus, FailureKind};
use crate::error::FailureError;
use crate::junit::{self, Counts, JunitError, LimitedReader, ParseLimits, ParsedCase, Warnings};
use crate::repo::{self, FailureRow, ResultRow};
use crate::settings::FailureSettings;
use crate::zip_stream::{ZipEntries, ZipError};

/// Read buffer for the parser's input.
const READ_BUFFER: usize = 64 * 1024;

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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadSummary {
    pub build_id: Uuid,
    /// Reports read: 1, or the `.xml` entries of a zip archive.
    pub files: u64,
    /// The sum of the five outcomes below, for this upload only.
    pub tests: u64,
    pub passed: u64,
    /// JUnit `<failure>`: an assertion did not hold.
    pub failures: u64,
    /// JUnit `<error>`: the test could not run to its assertion.
    pub errors: u64,
    pub skipped: u64,
    /// Passed after reruns (counted here only).
    pub flaky: u64,
    /// What was repaired or skipped: unnamed test cases, unreadable `time`,
    /// unknown entities, excerpts cut to their size limit, text longer than
    /// `service.max_xml_event_bytes` cut, suites counted from their stated
    /// totals because they list no test cases, non-XML zip entries.
    pub warnings: Vec<String>,
}

/// The request as the handler extracted it (the body follows as a stream).
#[derive(Debug)]
pub struct Upload {
    pub build_id: Uuid,
    pub format: UploadFormat,
    pub idempotency_key: Option<String>,
    pub content_type: String,
    pub content_encoding: String,
}

#[derive(Debug)]
pub enum UploadOutcome {
    Ingested(UploadSummary),
    Replayed(serde_json::Value),
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

/// The uploads one instance reads at once: a fixed number in all, and at
/// most `per_project` of them for any one project, so one project's slow or
/// numerous uploads cannot keep every other project out.
#[derive(Debug)]
pub struct UploadSlots {
    all: Arc<Semaphore>,
    per_project: usize,
    /// Slots held per project; a project without any has no entry.
    projects: Mutex<HashMap<Uuid, usize>>,
    /// Slots held, exported as `failure_uploads_in_progress`.
    in_progress: Gauge,
}

impl UploadSlots {
    pub fn new(total: usize, per_project: usize, in_progress: Gauge) -> Self {
        Self {
            all: Arc::new(Semaphore::new(total)),
            per_project,
            projects: Mutex::new(HashMap::new()),
            in_progress,
        }
    }

    /// A slot for `project_id`, or why there is none (429 either way).
    fn take(self: &Arc<Self>, project_id: Uuid) -> Result<UploadSlot, FailureError> {
        {
            let mut projects = self.projects.lock().unwrap_or_else(PoisonError::into_inner);
            let held = projects.entry(project_id).or_insert(0);
            if *held >= self.per_project {
                return Err(FailureError::ProjectUploadsBusy {
                    max: self.per_project,
                });
            }
            *held += 1;
        }
        let mut slot = UploadSlot {
            slots: Arc::clone(self),
            project_id,
            permit: None,
        };
        // Dropping `slot` on refusal gives the project's place back.
        let permit = Arc::clone(&self.all)
            .try_acquire_owned()
            .map_err(|_| FailureError::UploadsBusy)?;
        self.in_progress.inc();
        slot.permit = Some(permit);
        Ok(slot)
    }
}

/// A place among the uploads one instance reads at once, counted in the
/// `failure_uploads_in_progress` gauge while held.
struct UploadSlot {
    slots: Arc<UploadSlots>,
    project_id: Uuid,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            self.slots.in_progress.dec();
        }
        let mut projects = self
            .slots
            .projects
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = projects.get_mut(&self.project_id) {
            *held -= 1;
            if *held == 0 {
                projects.remove(&self.project_id);
            }
        }
    }
}

/// Ingests one upload in one transaction, reading `body` as it arrives.
///
/// Three things run at once: the request task pumps the body's chunks to
/// the parser (hashing them for the Idempotency-Key), the parser turns them
/// into batches on a blocking thread, and the request task writes each
/// batch. Whatever stops first stops the others; only a complete body that
/// parsed and wrote without error is committed.
pub async fn ingest_upload<B, E>(
    state: &FailureState,
    db: &Db,
    ctx: &TenantContext,
    project_id: Uuid,
    upload: Upload,
    body: B,
) -> Result<UploadOutcome, FailureError>
where
    B: Stream<Item = Result<Bytes, E>> + Unpin,
{
    // Held until the upload is done: it bounds the connections uploads hold.
    let _slot = state.uploads.take(project_id)?;
    let tx = db.tenant_tx(ctx).await?;
    let sql = &tx;
    let build = repo::lock_build(sql, project_id, upload.build_id)
        .await?
        .ok_or(FailureError::BuildNotFound)?;
    let limits = BodyLimits {
        max_bytes: state.settings.max_upload_bytes as u64,
        idle: Duration::from_secs(state.settings.upload_idle_timeout_secs),
        min_bytes_per_sec: state.settings.upload_min_bytes_per_sec,
    };
    let mut hash = RequestHash::new(&upload.content_type, &upload.content_encoding);
    if let Some(key) = &upload.idempotency_key
        && let Some(recorded) = repo::find_upload(sql, project_id, build.id, key).await?
    {
        let hash = body::hash_only(body, limits, hash).await?;
        return if recorded.request_hash == hash {
            Ok(UploadOutcome::Replayed(recorded.response))
        } else {
            Err(FailureError::IdempotencyKeyReused)
        };
    }
    repo::ensure_results_partition(sql, build.created_at).await?;

    let (chunk_sender, chunk_receiver) = mpsc::channel::<Bytes>(body::CHUNKS_IN_FLIGHT);
    let (batch_sender, mut batch_receiver) = mpsc::channel::<Vec<ResultRow>>(2);
    let settings = state.settings.clone();
    let format = upload.format;
    let parser = tokio::task::spawn_blocking(move || {
        parse_upload(
            format,
            BodyReader::new(chunk_receiver),
            &settings,
            project_id,
            &batch_sender,
        )
    });
    let now = Utc::now();
    // Owns the receiver, so a failed write drops it and the parser stops.
    let write = async move {
        while let Some(batch) = batch_receiver.recv().await {
            repo::insert_results(sql, project_id, build.id, build.created_at, now, &batch).await?;
        }
        Ok::<(), DbError>(())
    };
    let (pumped, written) =
        futures_util::join!(body::pump(body, chunk_sender, limits, &mut hash), write);
    let parsed = parser.await.map_err(|_| FailureError::ParserCrashed)?;
    // The first cause wins: a body that broke off or ran over the limit
    // explains the parser's error, a failed write the parser's abandon.
    let pumped = pumped?;
    written?;
    let Ingested {
        files,
        counts,
        unlisted,
        warnings,
    } = parsed?;
    if pumped != Pumped::Complete {
        return Err(FailureError::ParserCrashed);
    }
    repo::refresh_build_totals(sql, project_id, build.id, build.created_at, &unlisted).await?;
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
        repo::record_upload(sql, project_id, build.id, key, &hash.finish(), &response).await?;
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

/// What the reports of one upload held.
#[derive(Debug, Default)]
struct Ingested {
    /// Reports read: 1, or the `.xml` entries of an archive.
    files: u64,
    counts: Counts,
    /// Declared by suites that list no test cases (also in `counts`).
    unlisted: Counts,
    warnings: Warnings,
}

impl Ingested {
    fn one(counts: Counts, unlisted: Counts, warnings: Warnings) -> Self {
        Self {
            files: 1,
            counts,
            unlisted,
            warnings,
        }
    }
}

type Parsed = Result<Ingested, FailureError>;

/// Runs on a blocking thread: decodes and parses the body as it arrives,
/// sending batches.
fn parse_upload(
    format: UploadFormat,
    mut body: BodyReader,
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
    let max = settings.max_uncompressed_bytes;
    let ratio = settings.max_decompression_ratio;
    let compressed = body.consumed();
    let limits = settings.parse_limits();
    let gunzip = |body| {
        let decoded = DecodedBudget::gunzip(body, Rc::clone(&compressed), max, ratio);
        BufReader::with_capacity(READ_BUFFER, decoded)
    };
    let result = match format {
        UploadFormat::Xml { gzip: false } => {
            let input = LimitedReader::new(&mut body, max);
            parse_xml(
                BufReader::with_capacity(READ_BUFFER, input),
                limits,
                &mut batcher,
            )?
        }
        UploadFormat::Xml { gzip: true } => parse_xml(gunzip(&mut body), limits, &mut batcher)?,
        UploadFormat::Zip => {
            let input = BufReader::with_capacity(READ_BUFFER, &mut body);
            let zip = ZipLimits {
                compressed: Rc::clone(&compressed),
                max,
                ratio,
                max_entries: settings.max_zip_entries,
                max_entry_bytes: settings.max_zip_entry_bytes,
            };
            parse_zip(input, &zip, limits, &mut batcher)?
        }
        UploadFormat::Json { gzip: false } => {
            let input = LimitedReader::new(&mut body, max);
            let (counts, warnings) = parse_json(
                BufReader::with_capacity(READ_BUFFER, input),
                limits,
                &mut batcher,
            )?;
            Ingested::one(counts, Counts::default(), warnings)
        }
        UploadFormat::Json { gzip: true } => {
            let (counts, warnings) = parse_json(gunzip(&mut body), limits, &mut batcher)?;
            Ingested::one(counts, Counts::default(), warnings)
        }
    };
    batcher.flush()?;
    // Whatever follows the document (an archive's directory) still belongs
    // to the request and to its hash: read it, so the pump completes.
    io::copy(&mut body, &mut io::sink()).map_err(JunitError::Io)?;
    Ok(result)
}

fn parse_xml<R: BufRead>(input: R, limits: ParseLimits, batcher: &mut Batcher<'_>) -> Parsed {
    let report = junit::parse_report(input, limits, |case| batcher.push(case))?;
    Ok(Ingested::one(
        report.counts,
        report.unlisted,
        report.warnings,
    ))
}

/// What a zip archive may hold.
struct ZipLimits {
    /// Bytes of the body read so far, for the decompression ratio.
    compressed: Rc<Cell<u64>>,
    /// Uncompressed bytes of all entries together.
    max: u64,
    ratio: u64,
    max_entries: u64,
    max_entry_bytes: u64,
}

fn archive_error(error: ZipError) -> FailureError {
    match error {
        ZipError::TooManyEntries { max } => FailureError::TooManyEntries { max },
        ZipError::EntryTooLarge { name, max, .. } => FailureError::ArchiveReport {
            file: name,
            error: JunitError::TooLarge { limit: max },
        },
        ZipError::Invalid(detail) => FailureError::Archive(detail),
        ZipError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            FailureError::Archive("the archive ends early".to_owned())
        }
        ZipError::Io(io) => FailureError::Archive(format!("the archive could not be read: {io}")),
    }
}

/// Reads the archive's entries in order as they arrive; every `.xml` file
/// is a report, others are read past with a warning.
fn parse_zip<R: BufRead>(
    input: R,
    zip: &ZipLimits,
    limits: ParseLimits,
    batcher: &mut Batcher<'_>,
) -> Parsed {
    let mut entries = ZipEntries::new(input, zip.max_entries, zip.max_entry_bytes);
    let mut produced = 0;
    let mut ingested = Ingested::default();
    while let Some(mut entry) = entries.next_entry().map_err(archive_error)? {
        let name = entry.header.name.clone();
        let is_report = !entry.header.is_dir() && name.to_ascii_lowercase().ends_with(".xml");
        if !is_report && !entry.header.is_dir() {
            ingested.warnings.push(format!(
                "`{name}` in the archive is not an .xml file; skipped"
            ));
        }
        let (parsed, drained, entry_limit_reached) = {
            let mut budget = DecodedBudget::resuming(
                &mut entry,
                Rc::clone(&zip.compressed),
                zip.max,
                zip.ratio,
                produced,
            );
            let mut limited = LimitedReader::new(&mut budget, zip.max_entry_bytes);
            let parsed = is_report.then(|| {
                junit::parse_report(
                    BufReader::with_capacity(READ_BUFFER, &mut limited),
                    limits,
                    |case| batcher.push(case),
                )
            });
            // The rest of the entry, within the same limits.
            let drained = match &parsed {
                Some(Err(_)) => Ok(0),
                _ => io::copy(&mut limited, &mut io::sink()),
            };
            let reached = limited.reached();
            produced = budget.produced();
            (parsed, drained, reached)
        };
        let in_entry = |error: JunitError| match error {
            JunitError::TooLarge { .. } if entry_limit_reached => FailureError::ArchiveReport {
                file: name.clone(),
                error: JunitError::TooLarge {
                    limit: zip.max_entry_bytes,
                },
            },
            JunitError::TooLarge { limit } => JunitError::TooLarge { limit }.into(),
            JunitError::Io(io) => FailureError::Archive(format!("`{name}`: {io}")),
            JunitError::Abandoned => JunitError::Abandoned.into(),
            error => FailureError::ArchiveReport {
                file: name.clone(),
                error,
            },
        };
        if let Err(io) = drained {
            return Err(in_entry(match junit::size_limit(&io) {
                Some(limit) => JunitError::TooLarge { limit },
                None => JunitError::Io(io),
            }));
        }
        if let Some(parsed) = parsed {
            let report = parsed.map_err(in_entry)?;
            ingested.files += 1;
            ingested.counts.merge(report.counts);
            ingested.unlisted.merge(report.unlisted);
            for warning in report.warnings.into_vec() {
                ingested.warnings.push(format!("{name}: {warning}"));
            }
        }
        entry.finish().map_err(archive_error)?;
    }
    if ingested.files == 0 {
        return Err(FailureError::Archive(
            "the archive holds no .xml report".to_owned(),
        ));
    }
    Ok(ingested)
}

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
        let failure = result.status.is_failing().then(|| junit::FailureDetail {
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

fn parse_json<R: Read>(
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
            match junit::size_limit(&io) {
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

    fn read_json(json: &str) -> (Result<(Counts, Warnings), FailureError>, Vec<ResultRow>) {
        let (sender, mut receiver) = mpsc::channel(16);
        let mut batcher = Batcher {
            project_id: Uuid::nil(),
            batch_size: 2,
            rows: Vec::new(),
            index: HashMap::new(),
            sender: &sender,
        };
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
            ("error", Some("too "))
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
