//! The route table of the integration gateway. Health, readiness and
//! metrics come from the host; each resource has its own module here.

mod events;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/internal/v1/events", web::post().to(events::receive));
}
