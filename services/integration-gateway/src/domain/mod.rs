//! Connections to Jira, GitHub, Slack and webhooks, the deliveries made
//! through them, and the events other services relay to trigger them.
//! Types and rules only: no SQL, no HTTP.

pub mod events;
