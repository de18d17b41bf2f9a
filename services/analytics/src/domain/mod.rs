//! Trends, rankings, time to resolution and quality-gate rules over the failure
//! service's published views. Types and rules only: no SQL, no HTTP.

pub mod comparison;
pub mod dashboards;
pub mod events;
pub mod filters;
pub mod gates;
