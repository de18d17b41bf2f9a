//! The user's projects, creating one, and a project's dashboard.

use actix_web::{HttpResponse, web};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SignedIn, page, see_other, segment};
use crate::WebState;
use crate::error::WebError;
use crate::views::projects::{self, Dashboard, ProjectCard};
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

/// The user's projects with their figures of the last 30 days from the
/// analytics overview (one call for all of them); without it, the cards
/// show dashes.
pub async fn list(
    signed_in: SignedIn,
    state: web::Data<WebState>,
) -> Result<HttpResponse, WebError> {
    let (list, overview) = tokio::join!(
        state.get(&signed_in.0, format!("/v1/projects?limit={PROJECTS_SHOWN}")),
        state.get(&signed_in.0, "/v1/analytics/overview?period=30"),
    );
    let overview = overview.unwrap_or(Value::Null);
    let figures = overview["projects"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let cards: Vec<ProjectCard> = items(&list?)
        .iter()
        .map(|project| ProjectCard {
            figures: figures
                .iter()
                .find(|f| f["project_id"] == project["id"])
                .cloned()
                .unwrap_or(Value::Null),
            project: project.clone(),
        })
        .collect();
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
    let mut filter = String::new();
    if !branch.is_empty() {
        filter.push_str(&format!("&branch={}", encode(branch)));
    }
    if !job.is_empty() {
        filter.push_str(&format!("&job={}", encode(job)));
    }
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let since = encode(&since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let project = state
        .get(&signed_in.0, format!("/v1/projects/{slug}"))
        .await?;
    let analytics = format!("/v1/projects/{slug}/analytics");
    let (builds, groups, summary, trends, rankings) = tokio::join!(
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/builds?limit=20&since={since}{filter}")
        ),
        state.get(
            &signed_in.0,
            format!("/v2/projects/{slug}/failures?limit=100")
        ),
        state.get(
            &signed_in.0,
            format!("{analytics}/summary?period={days}{filter}")
        ),
        state.get(
            &signed_in.0,
            format!("{analytics}/trends?period={days}{filter}")
        ),
        state.get(
            &signed_in.0,
            format!("{analytics}/rankings?period={days}&limit=10{filter}")
        ),
    );
    // The analytics figures are shown when they can be had; the builds
    // and groups come from the failure service and must.
    let dashboard = Dashboard {
        project: &project,
        builds: &builds?,
        groups: &groups?,
        summary: &summary.unwrap_or(Value::Null),
        trends: &trends.unwrap_or(Value::Null),
        rankings: &rankings.unwrap_or(Value::Null),
        days,
        branch,
        job,
    };
    Ok(page(projects::dashboard(signed_in.viewer(), &dashboard)))
}
