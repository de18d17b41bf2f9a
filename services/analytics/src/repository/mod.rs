//! The analytics schema's SQL: rollups per project, day, branch, job and label,
//! and quality gates. Every statement runs in a `TenantTx`, so row level
//! security confines it to the request's project.
