//! Connections to Slack, webhooks, GitHub and Jira, the rules that send
//! events through them, what those events say, and the events other
//! services relay to trigger them. Types and rules only: no SQL, no HTTP.

pub mod connections;
pub mod github;
pub mod jira;
pub mod messages;
pub mod oauth;
pub mod rules;
pub mod webhooks;
