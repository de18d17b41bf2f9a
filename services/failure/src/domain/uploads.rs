//! Uploads: what one upload added, and what a retry with the same
//! Idempotency-Key is answered with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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

/// An upload made with an Idempotency-Key, as recorded.
#[derive(Debug)]
pub struct RecordedUpload {
    /// The [`tenant_core::idempotency::RequestFingerprint`] of the request.
    pub request_hash: Vec<u8>,
    pub response: serde_json::Value,
}
