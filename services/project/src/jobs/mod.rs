//! Background work the service does besides answering requests.
//!
//! - [`key_creator_relay`]: tells the auth service whose role changed, so
//!   it revokes API keys of members removed or demoted below admin.

pub mod key_creator_relay;

pub use key_creator_relay::{KEY_CREATOR_RELAY, KeyCreatorRelay, spawn_key_creator_relay};
