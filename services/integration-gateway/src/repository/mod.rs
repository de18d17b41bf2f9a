//! The integration schema's SQL: connections, sealed secrets and deliveries.
//! Every statement runs in a `TenantTx`, so row level security confines it
//! to the request's project.
