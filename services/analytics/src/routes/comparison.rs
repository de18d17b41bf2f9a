//! `/v1/projects/{project}/builds/{build}/comparison`: what changed
//! between a build and another one, by default its baseline (the last
//! good build of its job on its branch, as the quality gate counts newly
//! failing tests).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::comparison::{GroupRef, LISTED_PER_SET, TestChange, compare};
use crate::error::AnalyticsError;
use crate::repository::builds as repository;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComparisonQuery {
    /// The build to compare with; default: the build's baseline, the last
    /// passed build of the same job on the same branch before it.
    with: Option<Uuid>,
}

/// What the build was compared with.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComparedWith {
    /// The build `with` named.
    Given,
    /// The build's baseline (null `with_build_id` when it has none:
    /// every failing test is then newly failing).
    LastGood,
}

/// How many tests (or groups) each set holds; the lists stop at 1000.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparisonCounts {
    newly_failing: usize,
    fixed: usize,
    still_failing: usize,
    newly_skipped: usize,
    new_groups: usize,
}

/// Two builds compared, test by test.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildComparison {
    build_id: Uuid,
    with_build_id: Option<Uuid>,
    compared_with: ComparedWith,
    counts: ComparisonCounts,
    /// Failing now, not failing in the other build (passed, skipped or
    /// absent there).
    newly_failing: Vec<TestChange>,
    /// Failing in the other build, passing now.
    fixed: Vec<TestChange>,
    /// Failing in both.
    still_failing: Vec<TestChange>,
    /// Skipped now, run in the other build.
    newly_skipped: Vec<TestChange>,
    /// Groups of this build's failures that none of the other build's
    /// failures belongs to.
    new_groups: Vec<GroupRef>,
}

fn listed<T>(mut items: Vec<T>) -> Vec<T> {
    items.truncate(LISTED_PER_SET);
    items
}

/// `GET /v1/projects/{project}/builds/{build}/comparison`.
/// The tests newly failing, fixed, still failing and newly skipped, and
/// the new failure groups, between the build and `with` (default: its
/// baseline).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/builds/{build}/comparison",
    tag = "quality gates",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("build" = Uuid, Path, description = "The build's id (the failure service's)"),
        ComparisonQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The comparison (at most 1000 tests listed per set)", body = BuildComparison),
        (status = 400, description = "A build id that is not a UUID (`request.invalid_path`, `request.invalid_query`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such build (or `with` build) in this project (`build.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, build_id = %path.1), err(level = "info"))]
pub async fn compare_builds(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<ComparisonQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let build = repository::find_build(&tx, project_id, build_id)
        .await?
        .ok_or(AnalyticsError::BuildNotFound)?;
    let (other, compared_with) = match query.with {
        Some(with) => (
            Some(
                repository::find_build(&tx, project_id, with)
                    .await?
                    .ok_or(AnalyticsError::BuildNotFound)?,
            ),
            ComparedWith::Given,
        ),
        None => (
            repository::last_good_build(&tx, project_id, &build).await?,
            ComparedWith::LastGood,
        ),
    };
    let pairs = repository::result_pairs(&tx, project_id, &build, other.as_ref()).await?;
    let new_groups =
        repository::groups_not_in(&tx, project_id, build.id, other.as_ref().map(|b| b.id)).await?;
    tx.commit().await?;
    let sets = compare(pairs);
    let counts = ComparisonCounts {
        newly_failing: sets.newly_failing.len(),
        fixed: sets.fixed.len(),
        still_failing: sets.still_failing.len(),
        newly_skipped: sets.newly_skipped.len(),
        new_groups: new_groups.len(),
    };
    Ok(HttpResponse::Ok().json(BuildComparison {
        build_id,
        with_build_id: other.map(|b| b.id),
        compared_with,
        counts,
        newly_failing: listed(sets.newly_failing),
        fixed: listed(sets.fixed),
        still_failing: listed(sets.still_failing),
        newly_skipped: listed(sets.newly_skipped),
        new_groups: listed(new_groups),
    }))
}
