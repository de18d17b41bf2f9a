//! Idempotency keys as every write endpoint reads them: the client's
//! `Idempotency-Key` header, and the fingerprint of the request a key is
//! bound to, so a retry with the same key but another body is refused
//! instead of answered with the first request's result.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

/// The request header, lower-case as `http` spells header names.
pub const HEADER: &str = "idempotency-key";

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// The header was present but is not a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key is 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, InvalidIdempotencyKey> {
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// The request's key; `None` without the header.
    pub fn from_request(request: &HttpRequest) -> Result<Option<Self>, InvalidIdempotencyKey> {
        request
            .headers()
            .get(HEADER)
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| InvalidIdempotencyKey)
                    .and_then(Self::parse)
            })
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 over what a key is bound to, fed field by field and then by
/// body chunks as they stream in.
#[derive(Debug, Clone, Default)]
pub struct RequestFingerprint(Sha256);

impl RequestFingerprint {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one header-like field, terminated so `("ab", "c")` and
    /// `("a", "bc")` differ.
    #[must_use]
    pub fn with_field(mut self, value: &str) -> Self {
        self.0.update(value.as_bytes());
        self.0.update([0]);
        self
    }

    /// Adds body bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.finalize().to_vec()
    }

    /// [`RequestFingerprint::finish`] as lower-case hex.
    pub fn finish_hex(self) -> String {
        crate::hex::encode(&self.finish())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        for good in ["a", "retry-1", &"k".repeat(255), "!~"] {
            assert!(IdempotencyKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", &"k".repeat(256), "with space", "tab\t", "é"] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(InvalidIdempotencyKey),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_header_is_optional_but_must_be_valid_when_sent() {
        let none = TestRequest::default().to_http_request();
        assert_eq!(IdempotencyKey::from_request(&none), Ok(None));
        let some = TestRequest::default()
            .insert_header((HEADER, "abc"))
            .to_http_request();
        assert_eq!(
            IdempotencyKey::from_request(&some).map(|key| key.map(|k| k.0)),
            Ok(Some("abc".to_owned()))
        );
        let bad = TestRequest::default()
            .insert_header((HEADER, "a b"))
            .to_http_request();
        assert_eq!(
            IdempotencyKey::from_request(&bad),
            Err(InvalidIdempotencyKey)
        );
    }

    #[test]
    fn fields_are_delimited_so_shifted_boundaries_differ() {
        let left = RequestFingerprint::new().with_field("ab").with_field("c");
        let right = RequestFingerprint::new().with_field("a").with_field("bc");
        assert_ne!(left.finish(), right.finish());
        let mut streamed = RequestFingerprint::new();
        streamed.update(b"he");
        streamed.update(b"llo");
        let mut whole = RequestFingerprint::new();
        whole.update(b"hello");
        assert_eq!(streamed.finish_hex(), whole.finish_hex());
    }
}
