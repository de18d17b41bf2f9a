//! The integration gateway's background work: each job claims its work
//! with `FOR UPDATE SKIP LOCKED`, so replicas share it, and opens a
//! transaction confined to one project per item.
//!
//! - [`delivery`]: sends due deliveries to Slack and webhook receivers,
//!   with retries, a circuit breaker per connection and a dead letter.

//! - [`pull_requests`]: (part of a delivery) the comment kept up to date
//!   on a pull request through a GitHub connection.
//! - [`jira_sync`]: reads linked Jira issues; a done issue resolves its
//!   failure group.

pub mod delivery;
pub mod jira_sync;
pub mod pull_requests;

pub use delivery::{DeliveryMetrics, DeliveryWorker, spawn_delivery_worker};
pub use jira_sync::{JiraSync, spawn_jira_sync};
