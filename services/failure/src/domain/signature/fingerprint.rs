//! A failure's fingerprint: what two failures of the same problem share.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::GROUPING_VERSION;
use super::frames::Frame;
use super::in_app::InAppRules;

/// How many frames a fingerprint takes from the top of the stack: enough
/// to tell two call paths apart, few enough that a change deep in the stack
/// (a test runner's version, a new caller of the failing code) keeps the
/// group.
pub const TOP_FRAMES: usize = 5;

/// What a failure's fingerprint was made of, and its hash: a group can
/// always say why a failure belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The grouping rules' version ([`GROUPING_VERSION`]).
    pub version: u32,
    /// The exception type (`java.lang.IllegalStateException`, `panic`),
    /// when the failure names one.
    pub exception_type: Option<String>,
    /// The [`Frame::key`]s the fingerprint was made of, top of stack
    /// first: the top in-app frames, or the top frames when none is
    /// in-app; empty when the failure has no trace.
    pub frames: Vec<String>,
    /// The normalised message, when there are no frames (and it is not
    /// empty): a failure without a trace is known by its message.
    pub message: Option<String>,
    /// Lower-case hex SHA-256 of the above; see [`fingerprint`].
    pub hash: String,
}

/// The fingerprint of a failure: its exception type (when it has one,
/// blank counting as none) with the keys of its top [`TOP_FRAMES`] in-app
/// frames; when no frame is in-app (a failure inside a framework, or
/// prefixes that match nothing), with its top frames of any kind, so
/// failures still split by where they happened; when there are no frames,
/// with its normalised message (given by the caller). Frames below the top
/// ones (another caller of the failing code, the test runner) and the
/// message of a failure with frames (values, ids) do not count; a key
/// repeated right after itself among the chosen frames counts once.
///
/// The hash covers the version and the parts, each length-prefixed so no
/// two different signatures hash the same bytes: the version (4 bytes,
/// big-endian), the exception type and the message (each one byte, 0 when
/// absent or 1 followed by its length as 8 bytes big-endian and its UTF-8
/// bytes), in between the number of frame keys (8 bytes) and each key
/// (its length, 8 bytes, and its bytes).
pub fn fingerprint(
    exception_type: Option<&str>,
    frames: &[Frame],
    in_app: &InAppRules,
    normalized_message: &str,
) -> Signature {
    let exception_type = exception_type
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let mut keys = top_keys(frames.iter().filter(|frame| in_app.is_in_app(frame)));
    if keys.is_empty() {
        keys = top_keys(frames.iter());
    }
    let message =
        (keys.is_empty() && !normalized_message.is_empty()).then(|| normalized_message.to_owned());
    let hash = hash(
        GROUPING_VERSION,
        exception_type.as_deref(),
        &keys,
        message.as_deref(),
    );
    Signature {
        version: GROUPING_VERSION,
        exception_type,
        frames: keys,
        message,
        hash,
    }
}

/// The keys of the first [`TOP_FRAMES`] frames, a key repeated right after
/// itself counted once: a lambda called back through framework code
/// (`forEach`) into the method it was written in is one place.
fn top_keys<'a>(frames: impl Iterator<Item = &'a Frame>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(TOP_FRAMES);
    for key in frames.map(Frame::key) {
        if keys.last() != Some(&key) {
            keys.push(key);
            if keys.len() == TOP_FRAMES {
                break;
            }
        }
    }
    keys
}

fn hash(
    version: u32,
    exception_type: Option<&str>,
    frames: &[String],
    message: Option<&str>,
) -> String {
    let mut digest = Sha256::new();
    digest.update(version.to_be_bytes());
    optional_part(&mut digest, exception_type);
    digest.update((frames.len() as u64).to_be_bytes());
    for key in frames {
        part(&mut digest, key);
    }
    optional_part(&mut digest, message);
    tenant_core::hex::encode(&digest.finalize())
}

fn optional_part(digest: &mut Sha256, text: Option<&str>) {
    match text {
        None => digest.update([0u8]),
        Some(text) => {
            digest.update([1u8]);
            part(digest, text);
        }
    }
}

fn part(digest: &mut Sha256, text: &str) {
    digest.update((text.len() as u64).to_be_bytes());
    digest.update(text.as_bytes());
}

#[cfg(test)]
mod tests;
