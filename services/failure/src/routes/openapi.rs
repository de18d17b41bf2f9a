//! The failure service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).
//!
//! Every type a request or response has derives its schema where it is
//! defined (`domain`, the handlers' modules, `upload`). The three below
//! describe the binary upload bodies, which are streamed and never become
//! a Rust value.

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use utoipa::{OpenApi, ToSchema};

use super::{
    builds, failures, flaky_tests, grouping_settings, groups, quarantine, regroup, results, rules,
    triage,
};
use crate::error::FailureError;

use tenant_core::openapi::CommonResponses;
pub use tenant_core::openapi::{FieldProblem, Problem};

/// A JUnit XML report: `<testsuites>`, `<testsuite>` or a bare
/// `<testcase>` root, optionally sent with `Content-Encoding: gzip`. No DTD.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(
    dead_code,
    reason = "described here, never built: the body is streamed"
)]
pub struct JunitXml(Vec<u8>);

/// A gzip-compressed JUnit XML report.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(
    dead_code,
    reason = "described here, never built: the body is streamed"
)]
pub struct GzipReport(Vec<u8>);

/// A zip archive of JUnit XML reports: every `.xml` entry is ingested,
/// other entries are skipped with a warning.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(
    dead_code,
    reason = "described here, never built: the body is streamed"
)]
pub struct ZipOfReports(Vec<u8>);

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "failure-service", description = "Builds and test results: result uploads (JUnit XML or JSON batches), failures, test history, failure groups with their classification, triage and regrouping, flaky and broken tests, quarantine."),
    paths(
        builds::create,
        builds::list,
        builds::show,
        builds::finish,
        results::upload,
        failures::list,
        failures::show,
        failures::history,
        failures::set_label,
        groups::list,
        groups::show,
        groups::set_label,
        groups::remove_label,
        rules::list,
        rules::create,
        rules::show,
        rules::update,
        rules::delete,
        flaky_tests::list,
        flaky_tests::show_settings,
        flaky_tests::replace_settings,
        quarantine::list,
        quarantine::quarantine,
        quarantine::release,
        grouping_settings::show,
        grouping_settings::replace,
        triage::update,
        triage::list_comments,
        triage::create_comment,
        triage::show_comment,
        triage::activity,
        regroup::request,
        regroup::show_job,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&CommonResponses),
    tags((name = "builds", description = "A project's CI builds and their totals"),
         (name = "results", description = "Result uploads: JUnit XML, gzip, zip or a JSON batch"),
         (name = "failures", description = "What failed, in which build"),
         (name = "tests", description = "A test's results across builds, flaky and broken tests, quarantine"),
         (name = "settings", description = "A project's grouping and flaky-test settings"),
         (name = "triage", description = "A failure group's status, assignee, comments and activity"),
         (name = "jobs", description = "Background jobs: regrouping a project's failures"),
         (name = "failure groups", description = "The problems behind a project's failures, labelled with a confidence and an explanation"),
         (name = "classification rules", description = "A project's rules: a pattern on a failure's field and the label it gives")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, FailureError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
