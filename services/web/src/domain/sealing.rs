//! Sealing of what a session keeps at rest: the user's access and refresh
//! tokens and the session's CSRF token, with AES-256-GCM under the web
//! service's session key (`service.session_keys.<id>`), a random 96-bit
//! nonce per seal, stored as `nonce || ciphertext || tag` beside the key's
//! id. The associated data is the session's id hash, so a sealed value
//! copied to another session's row fails to open.
//!
//! Rotation: add a key under a new id and make it `service.session_key_id`;
//! sessions sealed under the old id keep opening while it is configured,
//! and are sealed again under the new one at their next token refresh.
//! Remove the old key once `service.session_idle_minutes` has passed.

pub use tenant_core::sealing::{KeyRing as SessionKeys, SealingError};
