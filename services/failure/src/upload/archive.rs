//! A zip archive of reports, read entry by entry as it arrives: every
//! `.xml` entry is a report, within the limits of its own and of the whole
//! upload; a refusal names the entry.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader};
use std::rc::Rc;

use super::batcher::Batcher;
use super::body_stream::DecodedBudget;
use super::parse::{Ingested, Parsed, READ_BUFFER};
use super::zip_stream::{ZipEntries, ZipError};
use crate::error::FailureError;
use crate::junit::{self, JunitError, ParseLimits};
use crate::size_limit::{LimitedReader, size_limit};

/// What a zip archive may hold.
#[derive(Debug)]
pub(super) struct ZipLimits {
    /// Bytes of the body read so far, for the decompression ratio.
    pub(super) compressed: Rc<Cell<u64>>,
    /// Uncompressed bytes of all entries together.
    pub(super) max: u64,
    pub(super) ratio: u64,
    pub(super) max_entries: u64,
    pub(super) max_entry_bytes: u64,
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
pub(super) fn parse_zip<R: BufRead>(
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
            return Err(in_entry(match size_limit(&io) {
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
