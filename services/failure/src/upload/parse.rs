//! The blocking side of an upload: the body decoded as it arrives, read as
//! the format it was sent in, and handed to the batcher case by case.

use std::io::{self, BufRead, BufReader};
use std::rc::Rc;

use tokio::sync::mpsc;

use super::UploadFormat;
use super::archive::{ZipLimits, parse_zip};
use super::batcher::Batcher;
use super::body_stream::{BodyReader, DecodedBudget};
use super::json_batch::parse_json;
use crate::domain::{GroupScope, ResultRow};
use crate::error::FailureError;
use crate::junit::{self, Counts, JunitError, ParseLimits, Warnings};
use crate::settings::FailureSettings;
use crate::size_limit::LimitedReader;

/// Read buffer for the parser's input.
pub(super) const READ_BUFFER: usize = 64 * 1024;

/// What the reports of one upload held.
#[derive(Debug, Default)]
pub(super) struct Ingested {
    /// Reports read: 1, or the `.xml` entries of an archive.
    pub(super) files: u64,
    pub(super) counts: Counts,
    /// Declared by suites that list no test cases (also in `counts`).
    pub(super) unlisted: Counts,
    pub(super) warnings: Warnings,
}

impl Ingested {
    pub(super) fn one(counts: Counts, unlisted: Counts, warnings: Warnings) -> Self {
        Self {
            files: 1,
            counts,
            unlisted,
            warnings,
        }
    }
}

pub(super) type Parsed = Result<Ingested, FailureError>;

/// Runs on a blocking thread: decodes and parses the body as it arrives,
/// sending batches.
pub(super) fn parse_upload(
    format: UploadFormat,
    mut body: BodyReader,
    settings: &FailureSettings,
    scope: GroupScope,
    sender: &mpsc::Sender<Vec<ResultRow>>,
) -> Parsed {
    let mut batcher = Batcher::new(scope, settings.insert_batch_size, sender);
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
    // to the request and to its fingerprint: read it, so the pump completes.
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
