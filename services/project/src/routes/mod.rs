//! The route table, and one module per resource: version 1 of the public
//! API (the gateway maps `/api/v1/...` here) and the internal API the
//! gateway authorizes with. Handlers take HTTP in and give HTTP out; who
//! may do what is in [`crate::domain`] and [`crate::member_scope`], SQL in
//! [`crate::repository`].

pub mod access;
pub mod members;
pub mod openapi;
pub mod plan;
pub mod projects;

use actix_web::web;

/// Every route of the service. Health, readiness and metrics come from
/// the host; the state handlers share is registered by [`crate::build`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/projects")
            .get(projects::list)
            .post(projects::create),
    )
    .service(
        web::resource("/v1/projects/{project}")
            .get(projects::get)
            .patch(projects::update)
            .delete(projects::delete),
    )
    .service(web::resource("/v1/projects/{project}/archive").post(projects::archive))
    .service(web::resource("/v1/projects/{project}/restore").post(projects::restore))
    .service(web::resource("/v1/projects/{project}/plan").put(plan::change_plan))
    .service(
        web::resource("/v1/projects/{project}/members")
            .get(members::list)
            .post(members::add),
    )
    .service(
        web::resource("/v1/projects/{project}/members/{member}")
            .get(members::get)
            .patch(members::change_role)
            .delete(members::remove),
    )
    .service(web::resource("/internal/v1/access").get(access::check))
    .service(web::resource("/internal/v1/access/changes").get(access::changes))
    .service(web::resource("/internal/v1/users/{user}/projects").get(access::member_projects))
    .service(web::resource("/internal/v1/openapi.json").get(openapi::spec));
}
