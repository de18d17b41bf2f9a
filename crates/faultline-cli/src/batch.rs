//! Reports grouped into as few requests as fit under a size cap: JUnit
//! files in zip archives (the server ingests every `.xml` entry), each
//! JSON batch on its own, gzip-encoded. An archive's bytes depend only on its files'
//! names and contents (fixed timestamps, fixed order), so a retried CI
//! step sends the same body under the same `Idempotency-Key`, and the
//! server answers it from its record instead of counting it twice.

use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::discovery::{ReportFile, ReportKind};
use crate::error::CliError;

/// Limits on one request's content.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Uncompressed bytes of the files in one archive; a larger file goes
    /// alone.
    pub max_bytes: u64,
    /// Files in one archive (the server refuses archives past 10,000).
    pub max_files: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_files: 5_000,
        }
    }
}

/// The files of one request.
#[derive(Debug, Clone)]
pub struct Batch {
    pub files: Vec<ReportFile>,
    pub kind: ReportKind,
}

/// One request's body, ready to send.
#[derive(Debug, Clone)]
pub struct BatchBody {
    pub content_type: &'static str,
    /// `gzip` when the bytes are a gzip stream of the content.
    pub content_encoding: Option<&'static str>,
    pub bytes: Vec<u8>,
}

/// Groups `reports` into batches: consecutive JUnit files while they fit
/// `limits`, and every JSON batch alone.
pub fn plan_batches(reports: &[ReportFile], limits: BatchLimits) -> Result<Vec<Batch>, CliError> {
    let mut batches = Vec::new();
    let mut current: Vec<ReportFile> = Vec::new();
    let mut current_bytes = 0u64;
    for report in reports {
        if report.kind == ReportKind::JsonBatch {
            batches.push(Batch {
                files: vec![report.clone()],
                kind: ReportKind::JsonBatch,
            });
            continue;
        }
        let size = std::fs::metadata(&report.path)
            .map_err(|error| read_error(report, &error))?
            .len();
        let full = current.len() >= limits.max_files
            || (!current.is_empty() && current_bytes + size > limits.max_bytes);
        if full {
            batches.push(Batch {
                files: std::mem::take(&mut current),
                kind: ReportKind::JunitXml,
            });
            current_bytes = 0;
        }
        current.push(report.clone());
        current_bytes += size;
    }
    if !current.is_empty() {
        batches.push(Batch {
            files: current,
            kind: ReportKind::JunitXml,
        });
    }
    Ok(batches)
}

fn read_error(report: &ReportFile, error: &dyn std::fmt::Display) -> CliError {
    CliError::ReadFile {
        path: report.name.clone(),
        reason: error.to_string(),
    }
}

impl Batch {
    /// Reads the files and makes the request body.
    pub fn body(&self) -> Result<BatchBody, CliError> {
        match self.kind {
            ReportKind::JsonBatch => {
                let [file] = self.files.as_slice() else {
                    return Err(CliError::Usage(
                        "a JSON batch is sent on its own".to_owned(),
                    ));
                };
                let content =
                    std::fs::read(&file.path).map_err(|error| read_error(file, &error))?;
                // A gzip header without a time or a name: the same file
                // gives the same bytes.
                let mut gzip =
                    flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
                gzip.write_all(&content)
                    .map_err(|error| read_error(file, &error))?;
                let bytes = gzip.finish().map_err(|error| read_error(file, &error))?;
                Ok(BatchBody {
                    content_type: "application/json",
                    content_encoding: Some("gzip"),
                    bytes,
                })
            }
            ReportKind::JunitXml => {
                let options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .last_modified_time(DateTime::DEFAULT);
                let mut archive = ZipWriter::new(std::io::Cursor::new(Vec::new()));
                for file in &self.files {
                    let content =
                        std::fs::read(&file.path).map_err(|error| read_error(file, &error))?;
                    archive
                        .start_file(file.name.as_str(), options)
                        .and_then(|()| archive.write_all(&content).map_err(Into::into))
                        .map_err(|error| read_error(file, &error))?;
                }
                let bytes = archive
                    .finish()
                    .map_err(|error| {
                        CliError::Server(format!("cannot make a zip archive: {error}"))
                    })?
                    .into_inner();
                Ok(BatchBody {
                    content_type: "application/zip",
                    content_encoding: None,
                    bytes,
                })
            }
        }
    }
}

/// The `Idempotency-Key` of a body sent to a build: the same build and
/// the same bytes give the same key, anything else another.
pub fn idempotency_key(build_id: &str, body: &BatchBody) -> String {
    let mut hash = Sha256::new();
    hash.update(build_id.as_bytes());
    hash.update([0]);
    hash.update(body.content_type.as_bytes());
    hash.update([0]);
    hash.update(body.content_encoding.unwrap_or_default().as_bytes());
    hash.update([0]);
    hash.update(&body.bytes);
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("faultline-cli:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn files(sizes: &[usize]) -> (PathBuf, Vec<ReportFile>) {
        let dir = std::env::temp_dir().join(format!(
            "faultline-cli-batch-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let reports = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let path = dir.join(format!("TEST-{i}.xml"));
                std::fs::write(&path, "x".repeat(*size)).unwrap();
                ReportFile {
                    path,
                    name: format!("TEST-{i}.xml"),
                    kind: ReportKind::JunitXml,
                }
            })
            .collect();
        (dir, reports)
    }

    #[test]
    fn files_share_an_archive_until_the_size_or_count_cap() {
        let (dir, reports) = files(&[40, 40, 40, 200, 10]);
        let limits = BatchLimits {
            max_bytes: 100,
            max_files: 10,
        };
        let sizes: Vec<usize> = plan_batches(&reports, limits)
            .unwrap()
            .iter()
            .map(|batch| batch.files.len())
            .collect();
        assert_eq!(sizes, [2, 1, 1, 1], "a file over the cap goes alone");
        let limits = BatchLimits {
            max_bytes: 10_000,
            max_files: 2,
        };
        assert_eq!(plan_batches(&reports, limits).unwrap().len(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_json_batch_goes_alone_gzip_encoded_and_the_same_file_gives_the_same_bytes() {
        use std::io::Read;
        let (dir, mut reports) = files(&[10]);
        let json = dir.join("results.json");
        std::fs::write(&json, r#"{"results": []}"#).unwrap();
        reports.push(ReportFile {
            path: json,
            name: "results.json".to_owned(),
            kind: ReportKind::JsonBatch,
        });
        let batches = plan_batches(&reports, BatchLimits::default()).unwrap();
        assert_eq!(batches.len(), 2);
        let json_batch = batches
            .iter()
            .find(|batch| batch.kind == ReportKind::JsonBatch)
            .unwrap();
        assert_eq!(json_batch.files.len(), 1);
        let body = json_batch.body().unwrap();
        assert_eq!(body.content_encoding, Some("gzip"));
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(body.bytes.as_slice())
            .read_to_string(&mut decoded)
            .unwrap();
        assert_eq!(decoded, r#"{"results": []}"#);
        assert_eq!(body.bytes, json_batch.body().unwrap().bytes);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_same_files_make_the_same_body_and_key_and_another_build_another_key() {
        let (dir, reports) = files(&[30, 50]);
        let batch = &plan_batches(&reports, BatchLimits::default()).unwrap()[0];
        let first = batch.body().unwrap();
        let second = batch.body().unwrap();
        assert_eq!(first.bytes, second.bytes);
        assert_eq!(
            idempotency_key("b1", &first),
            idempotency_key("b1", &second)
        );
        assert_ne!(idempotency_key("b1", &first), idempotency_key("b2", &first));
        assert!(idempotency_key("b1", &first).len() <= 255);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
