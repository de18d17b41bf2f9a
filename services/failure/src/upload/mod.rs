//! A results upload, from request body to committed rows.
//!
//! The body is streamed ([`body_stream`]): decoded (gzip, or as sent) and
//! parsed on a blocking thread while it arrives ([`parse`]), and handed
//! over in batches ([`batcher`]) through a small bounded channel to the
//! request's task, which writes each batch while the next one is parsed.
//! Memory holds a few chunks, one XML event (at most `max_xml_event_bytes`)
//! and one batch, not the report; a zip archive is read entry by entry as
//! it arrives ([`archive`], [`zip_stream`]), a JSON batch result by result
//! ([`json_batch`]). Everything happens in one tenant transaction: a report
//! that turns out malformed or cut off halfway, in any file of an archive,
//! leaves nothing behind. How many uploads are read at once is bounded
//! ([`slots`]).

mod archive;
mod batcher;
pub mod body_stream;
pub(crate) mod health;
pub mod json_batch;
mod parse;
pub mod similar;
pub mod slots;
pub mod zip_stream;

use std::collections::HashSet;
use std::time::Duration;

use actix_web::web::Bytes;
use chrono::Utc;
use futures_util::Stream;
use tenant_core::idempotency::{IdempotencyKey, RequestFingerprint};
use tenant_core::{Db, DbError, TenantContext};
use tokio::sync::mpsc;
use uuid::Uuid;

use self::body_stream::{BodyLimits, BodyReader, CHUNKS_IN_FLIGHT, Pumped};
use self::parse::{Ingested, parse_upload};
use crate::FailureState;
use crate::domain::classification::{CompiledRule, LabelledGroups, UploadClassifier};
use crate::domain::{CaseStatus, GroupScope, ResultRow, SimilarGroups, UploadSummary, events};
use crate::error::FailureError;
use crate::repository::results::ResultsTarget;
use crate::repository::{
    builds, classification_rules, group_triage, grouping_settings, groups, outbox, results,
    test_health, uploads,
};

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

/// The request as the handler extracted it (the body follows as a stream).
#[derive(Debug)]
pub struct Upload {
    pub build_id: Uuid,
    pub format: UploadFormat,
    pub idempotency_key: Option<IdempotencyKey>,
    pub content_type: String,
    pub content_encoding: String,
}

#[derive(Debug)]
pub enum UploadOutcome {
    Ingested(UploadSummary),
    Replayed(serde_json::Value),
}

/// Ingests one upload in one transaction, reading `body` as it arrives.
///
/// Three things run at once: the request task pumps the body's chunks to
/// the parser (fingerprinting them for the Idempotency-Key), the parser
/// turns them into batches on a blocking thread, and the request task
/// writes each batch. Whatever stops first stops the others; only a
/// complete body that parsed and wrote without error is committed.
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
    let build = builds::lock_build(&tx, project_id, upload.build_id)
        .await?
        .ok_or(FailureError::BuildNotFound)?;
    let limits = BodyLimits {
        max_bytes: state.settings.max_upload_bytes as u64,
        idle: Duration::from_secs(state.settings.upload_idle_timeout_secs),
        min_bytes_per_sec: state.settings.upload_min_bytes_per_sec,
    };
    let mut fingerprint = RequestFingerprint::new()
        .with_field(&upload.content_type)
        .with_field(&upload.content_encoding);
    if let Some(key) = &upload.idempotency_key
        && let Some(recorded) =
            uploads::find_upload(&tx, project_id, build.id, key.as_str()).await?
    {
        let fingerprint = body_stream::fingerprint_only(body, limits, fingerprint).await?;
        return if recorded.request_hash == fingerprint {
            Ok(UploadOutcome::Replayed(recorded.response))
        } else {
            Err(FailureError::IdempotencyKeyReused)
        };
    }
    results::ensure_results_partition(&tx, build.created_at).await?;
    // Read once; the parser's thread computes every signature under them.
    let scope = GroupScope {
        project_id,
        rules: grouping_settings::get_grouping_settings(&tx, project_id)
            .await?
            .rules(),
    };
    // What classifies the upload's failures, read once for the upload: the
    // project's rules, its user-labelled groups and the tests the flaky-test
    // monitor judged flaky before this upload.
    let rules = classification_rules::list_rules(&tx, project_id).await?;
    let labelled = groups::user_labelled_groups(&tx, project_id).await?;
    let known_flaky: HashSet<Uuid> = test_health::flaky_test_ids(&tx, project_id)
        .await?
        .into_iter()
        .collect();
    let mut classifier = UploadClassifier::new(
        CompiledRule::compile_all(&rules),
        LabelledGroups::new(labelled),
        known_flaky,
    );

    let (chunk_sender, chunk_receiver) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let (batch_sender, mut batch_receiver) = mpsc::channel::<Vec<ResultRow>>(2);
    let settings = state.settings.clone();
    let format = upload.format;
    // The parser's thread logs within the request's span.
    let span = tracing::Span::current();
    let parser = tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            parse_upload(
                format,
                BodyReader::new(chunk_receiver),
                &settings,
                scope,
                &batch_sender,
            )
        })
    });
    let now = Utc::now();
    // The tests that failed at least once in this upload, for the health
    // monitors.
    let mut failing: Vec<Uuid> = Vec::new();
    // Owns the receiver, so a failed write drops it and the parser stops.
    let write = {
        let tx = &tx;
        let classifier = &mut classifier;
        let failing = &mut failing;
        let mut target = ResultsTarget::new(
            project_id,
            build.id,
            build.created_at,
            now,
            build.totals.tests > 0,
        );
        async move {
            let mut similar = SimilarGroups::default();
            let mut new_groups = Vec::new();
            while let Some(mut batch) = batch_receiver.recv().await {
                failing.extend(
                    batch
                        .iter()
                        .filter(|row| {
                            row.failure.is_some()
                                || !row.attempts.is_empty()
                                || row.status == CaseStatus::Flaky
                        })
                        .map(|row| row.test_id),
                );
                // Earlier failed attempts join groups like reported failures.
                let failures = batch
                    .iter_mut()
                    .flat_map(|row| row.failure.iter_mut().chain(row.attempts.iter_mut()));
                similar::join_similar_in_batch(tx, project_id, &mut similar, failures).await?;
                let written = results::insert_results(tx, &mut target, &batch, classifier).await?;
                new_groups.extend(written);
            }
            Ok::<_, DbError>(new_groups)
        }
    };
    let pump = body_stream::pump(body, chunk_sender, limits, &mut fingerprint);
    let (pumped, written) = futures_util::join!(pump, write);
    let parsed = parser.await.map_err(|_| FailureError::ParserCrashed)?;
    // The first cause wins: a body that broke off or ran over the limit
    // explains the parser's error, a failed write the parser's abandon.
    let pumped = pumped?;
    let new_groups = written?;
    let Ingested {
        files,
        counts,
        unlisted,
        warnings,
    } = parsed?;
    if pumped != Pumped::Complete {
        return Err(FailureError::ParserCrashed);
    }
    // The groups the upload's failures went to: their figures, then the
    // resolved ones reopen as regressions. Both lock the groups in id
    // order, once, at the end, so uploads sharing groups do not deadlock.
    let touched = classifier.touched_groups();
    groups::refresh_group_figures(&tx, project_id, &touched).await?;
    let regressed = group_triage::reopen_regressions(&tx, project_id, &touched, now).await?;
    builds::refresh_build_totals(&tx, project_id, build.id, build.created_at, &unlisted).await?;
    let health_changes =
        health::update_test_health(&tx, project_id, &build, &counts, &failing, now).await?;
    health::publish_health_changes(&tx, project_id, Some(build.id), &health_changes).await?;
    let mut published = events::groups_created(project_id, build.id, now, &new_groups);
    published.extend(events::groups_regressed(
        project_id, build.id, now, &regressed,
    ));
    outbox::publish(&tx, &published).await?;
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
        let fingerprint = fingerprint.finish();
        uploads::record_upload(
            &tx,
            project_id,
            build.id,
            key.as_str(),
            &fingerprint,
            &response,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(UploadOutcome::Ingested(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

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
