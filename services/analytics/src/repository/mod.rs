//! The analytics schema's SQL: the event inbox, the rollups computed from
//! the failure service's published views, and the dashboards' reads of
//! them. Every statement runs in a `TenantTx`, so row level security
//! confines it to the request's project (the overview's to the caller's
//! member projects).

pub mod dashboards;
pub mod event_inbox;
pub mod rollups;
