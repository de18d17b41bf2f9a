//! What every service's OpenAPI document shares: the problem schema, the
//! role schema, the bearer scheme, the failures any operation may answer
//! with, and the internal route that serves the document to the gateway.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, ToSchema};

use crate::context::TenantContext;
use crate::error::PROBLEM_CONTENT_TYPE;

/// The security scheme every authenticated operation names.
pub const BEARER: &str = "bearer";

/// An RFC 9457 problem document: every error of every service has this shape.
/// `detail`, `request_id` and `errors` are left out when there is nothing
/// to say in them, never `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:faultline:problem:{code}`.
    #[serde(rename = "type")]
    type_uri: String,
    title: String,
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    #[schema(nullable = false)]
    detail: Option<String>,
    /// Stable dotted code clients may match on (`auth.invalid_credentials`).
    code: String,
    /// Quote it when reporting a problem.
    #[schema(nullable = false)]
    request_id: Option<String>,
    /// Field-level problems for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    errors: Vec<FieldProblem>,
}

/// One invalid field in a request body or query.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    field: String,
    message: String,
}

/// The problem schemas ([`Problem`] and the [`FieldProblem`] it refers to)
/// as JSON, by component name: for a document not built with utoipa (the
/// gateway's, when no service's document is at hand).
pub fn problem_schemas() -> Vec<(String, serde_json::Value)> {
    use utoipa::PartialSchema;
    [
        (Problem::name(), Problem::schema()),
        (FieldProblem::name(), FieldProblem::schema()),
    ]
    .into_iter()
    .map(|(name, schema)| {
        (
            name.into_owned(),
            serde_json::to_value(schema).unwrap_or_default(),
        )
    })
    .collect()
}

/// The project role, whose schema the real type carries; named here too
/// for documents that refer to it from this module.
pub use crate::context::Role;

/// Adds the `bearer` security scheme and the 500 and 503 problems every
/// operation may answer with.
#[derive(Debug)]
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_CONTENT_TYPE,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("500".into())
                    .or_insert_with(|| problem("Internal error (`internal`)").into());
                responses.entry("503".into()).or_insert_with(|| {
                    problem("The database or a service this depends on is unavailable; retry after `Retry-After`").into()
                });
            }
        }
    }
}

/// The body of `GET /internal/v1/openapi.json`: the service's document,
/// for service principals only, like every `/internal` route.
pub fn serve(
    ctx: &TenantContext,
    document: &utoipa::openapi::OpenApi,
) -> Result<HttpResponse, crate::Problem> {
    ctx.require_service()?;
    let body = serde_json::to_vec(document).map_err(crate::Problem::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
