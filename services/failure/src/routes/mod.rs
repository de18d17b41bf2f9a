//! The failure service's route table (v1 and v2). The gateway serves these
//! as `/api/v1/...` and `/api/v2/...`; its merged OpenAPI document comes
//! from [`openapi`].

mod builds;
mod failures;
mod flaky_tests;
mod grouping_settings;
mod groups;
mod internal_links;
pub mod openapi;
mod quarantine;
mod regroup;
mod results;
mod rules;
mod triage;

use actix_web::web;
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::error::FailureError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/projects/{project}")
            .route("/builds", web::post().to(builds::create))
            .route("/builds", web::get().to(builds::list))
            .route("/builds/{build}", web::get().to(builds::show))
            .route("/builds/{build}", web::patch().to(builds::finish))
            .route("/builds/{build}/results", web::post().to(results::upload))
            .route("/failures", web::get().to(failures::list))
            .route("/failures/{failure}", web::get().to(failures::show))
            .route("/tests/{test}/history", web::get().to(failures::history))
            .route("/flaky-tests", web::get().to(flaky_tests::list))
            .route(
                "/settings/flaky-tests",
                web::get().to(flaky_tests::show_settings),
            )
            .route(
                "/settings/flaky-tests",
                web::put().to(flaky_tests::replace_settings),
            )
            .route("/quarantine", web::get().to(quarantine::list))
            .route("/quarantine/{test}", web::put().to(quarantine::quarantine))
            .route("/quarantine/{test}", web::delete().to(quarantine::release))
            .route("/settings/grouping", web::get().to(grouping_settings::show))
            .route(
                "/settings/grouping",
                web::put().to(grouping_settings::replace),
            )
            .route(
                "/failures/{failure}/label",
                web::put().to(failures::set_label),
            )
            .route("/classification-rules", web::get().to(rules::list))
            .route("/classification-rules", web::post().to(rules::create))
            .route("/classification-rules/{rule}", web::get().to(rules::show))
            .route(
                "/classification-rules/{rule}",
                web::patch().to(rules::update),
            )
            .route(
                "/classification-rules/{rule}",
                web::delete().to(rules::delete),
            ),
    )
    // One scope per version: the first scope matching a prefix answers
    // every path under it.
    .service(
        web::scope("/v2/projects/{project}")
            .route("/failures", web::get().to(groups::list))
            .route("/failures/{group}", web::get().to(groups::show))
            .route("/failures/{group}", web::patch().to(triage::update))
            .route("/failures/{group}/label", web::put().to(groups::set_label))
            .route(
                "/failures/{group}/label",
                web::delete().to(groups::remove_label),
            )
            .route(
                "/failures/{group}/comments",
                web::get().to(triage::list_comments),
            )
            .route(
                "/failures/{group}/comments",
                web::post().to(triage::create_comment),
            )
            .route(
                "/failures/{group}/comments/{comment}",
                web::get().to(triage::show_comment),
            )
            .route(
                "/failures/{group}/activity",
                web::get().to(triage::activity),
            )
            .route("/regroup", web::post().to(regroup::request))
            .route("/jobs/{job}", web::get().to(regroup::show_job)),
    )
    .route(
        "/internal/v1/projects/{project}/failure-groups/{group}/issue-links/{provider}",
        web::put().to(internal_links::put),
    )
    .service(web::resource("/internal/v1/openapi.json").get(openapi::spec));
}

/// The request's project, if the caller has `minimum` there, recorded as
/// the handler span's `project_id`. The gateway resolved `{project}` (an
/// id or a slug) into the context; an id in the path that names another
/// project is refused rather than trusted.
fn project_scope(
    ctx: &TenantContext,
    path_project: &str,
    minimum: Role,
) -> Result<Uuid, FailureError> {
    let access = ctx.require_role(minimum)?;
    if let Ok(id) = path_project.parse::<Uuid>()
        && id != access.project_id
    {
        return Err(FailureError::ContextMismatch);
    }
    tracing::Span::current().record("project_id", tracing::field::display(access.project_id));
    Ok(access.project_id)
}
