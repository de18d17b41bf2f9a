//! The integration schema's SQL: connections, sealed secrets, deliveries
//! and the event inbox. Every statement runs in a `TenantTx`, so row level
//! security confines it to the request's project.

pub mod event_inbox;
