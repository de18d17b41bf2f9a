//! Connections to Jira, GitHub, Slack and webhooks, and the deliveries made
//! through them. Types and rules only: no SQL, no HTTP.
