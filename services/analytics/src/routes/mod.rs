//! The route table of the analytics service. Health, readiness and metrics come from
//! the host; each resource gets its own module here as it is built.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
