//! The user's projects, creating one, and a project's dashboard.

use actix_web::{HttpResponse, web};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SignedIn, page, see_other, segment};
use crate::WebState;
use crate::error::WebError;
use crate::views::projects::{self, Dashboard, ProjectCard, pass_rate};
use crate::views::{items, text};

/// At most this many projects are shown side by side.
const PROJECTS_SHOWN: u32 = 50;

#[derive(Deserialize)]
pub struct CreateProject {
    csrf: String,
    name: String,
    slug: String,
}

#[derive(Deserialize)]
pub struct DashboardFilters {
    days: Option<u32>,
    branch: Option<String>,
    job: Option<String>,
}

/// `value` percent-encoded for a query string.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn card(state: &WebState, signed_in: &SignedIn, project: Value) -> ProjectCard {
    let slug = text(&project["slug"]);
    let base = format!("/v1/projects/{}", encode(&slug));
    let (builds, groups, flaky) = tokio::join!(
        state.get(&signed_in.0, format!("{base}/builds?limit=1")),
        state.get(
            &signed_in.0,
            format!(
                "/v2/projects/{}/failures?status=open&limit=100",
                encode(&slug)
            )
        ),
        state.get(&signed_in.0, format!("{base}/flaky-tests?limit=100")),
    );
    let latest = builds
        .ok()
        .and_then(|b| items(&b).first().and_then(pass_rate));
    ProjectCard {
        project,
        pass_rate: latest.map_or(Value::Null, |r| json!(r)),
        open_groups: groups.map(|g| items(&g).len()).unwrap_or(0),
        flaky: flaky.map(|f| items(&f).len()).unwrap_or(0),
    }
}

pub async fn list(
    signed_in: SignedIn,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    let list = state
        .get(
            &signed_in.0,
            &format!("/v1/projects?limit={PROJECTS_SHOWN}"),
        )
        .await?;
    let cards = join_all(
        items(&list)
            .iter()
            .cloned()
            .map(|p| card(&state, &signed_in, p)),
    )
    .await;
    Ok(page(projects::list(signed_in.viewer(), &cards)))
}

pub async fn create(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    form: web::Form<CreateProject>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let created = state
        .expect(
            &signed_in.0,
            Method::POST,
            "/v1/projects",
            Some(&json!({ "name": form.name.trim(), "slug": form.slug.trim() })),
            StatusCode::CREATED,
        )
        .await?;
    Ok(see_other(&format!(
        "/p/{}",
        encode(&text(&created["slug"]))
    )))
}

pub async fn dashboard(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    filters: web::Query<DashboardFilters>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&project)?;
    let days = filters
        .days
        .filter(|days| [7, 30, 90].contains(days))
        .unwrap_or(30);
    let branch = filters.branch.as_deref().unwrap_or_default().trim();
    let job = filters.job.as_deref().unwrap_or_default().trim();
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let mut builds_query = format!(
        "/v1/projects/{slug}/builds?limit=50&since={}",
        encode(&since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    if !branch.is_empty() {
        builds_query.push_str(&format!("&branch={}", encode(branch)));
    }
    if !job.is_empty() {
        builds_query.push_str(&format!("&job={}", encode(job)));
    }
    let project = state
        .get(&signed_in.0, format!("/v1/projects/{slug}"))
        .await?;
    let (builds, groups, flaky) = tokio::join!(
        state.get(&signed_in.0, &builds_query),
        state.get(
            &signed_in.0,
            format!("/v2/projects/{slug}/failures?limit=10")
        ),
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/flaky-tests?limit=10")
        ),
    );
    let dashboard = Dashboard {
        project: &project,
        builds: &builds?,
        groups: &groups?,
        flaky: &flaky?,
        days,
        branch,
        job,
    };
    Ok(page(projects::dashboard(signed_in.viewer(), &dashboard)))
}
