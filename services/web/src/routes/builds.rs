//! A build's page.

use actix_web::{HttpResponse, web};

use super::{SignedIn, page, segment};
use crate::WebState;
use crate::error::WebError;
use crate::views::builds::{self, BuildPage, groups_of_failures};

pub async fn build(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    let base = format!("/v1/projects/{slug}/builds/{id}");
    let build = state.get(&signed_in.0, &base).await?;
    let (failures, gate, comparison) = tokio::join!(
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/failures?build={id}&limit=500")
        ),
        state.get(&signed_in.0, format!("{base}/quality-gate")),
        state.get(&signed_in.0, format!("{base}/comparison")),
    );
    let groups = groups_of_failures(&failures?);
    let (gate, comparison) = (gate.ok(), comparison.ok());
    let view = BuildPage {
        slug,
        build: &build,
        groups: &groups,
        gate: gate.as_ref(),
        comparison: comparison.as_ref(),
    };
    Ok(page(builds::build(signed_in.viewer(), &view)))
}
