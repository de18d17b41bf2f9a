//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), so
//! receivers can verify our webhooks with that specification's libraries.
//!
//! The signing secret is `whsec_` followed by the base64 of 24 to 64 random
//! bytes; the key is those bytes. A message carries `webhook-id` (the event
//! id, the same on every retry, so receivers deduplicate by it),
//! `webhook-timestamp` (Unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "id.timestamp.body")>`.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const SECRET_PREFIX: &str = "whsec_";

/// A webhook signing key, parsed from its `whsec_...` form.
pub struct SigningKey(hmac::Key);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is `whsec_` followed by the base64 of 24 to 64 bytes")]
pub struct InvalidSigningSecret;

impl SigningKey {
    pub fn parse(secret: &str) -> Result<Self, InvalidSigningSecret> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(InvalidSigningSecret)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| InvalidSigningSecret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(InvalidSigningSecret);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The `webhook-signature` header value for one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(message_id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's published example (also the test vector of
    /// its reference libraries).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_published_test_vector_signs_as_published() {
        let key = SigningKey::parse(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn any_change_to_id_timestamp_body_or_key_changes_the_signature() {
        let key = SigningKey::parse(SECRET).unwrap();
        assert_ne!(key.sign("msg_other", TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert_ne!(key.sign(ID, TIMESTAMP + 1, BODY.as_bytes()), SIGNATURE);
        assert_ne!(
            key.sign(ID, TIMESTAMP, br#"{"test": 2432232315}"#),
            SIGNATURE
        );
        let other = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx").unwrap();
        assert_ne!(other.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for secret in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
            "whsec_",
        ] {
            assert!(SigningKey::parse(secret).is_err(), "{secret}");
        }
    }
}
