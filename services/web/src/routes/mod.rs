//! The web service's one route table: pages (GET), the forms they post,
//! and the assets. Every answer carries the security headers; every POST
//! is checked against the session's CSRF token.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::Markup;

use crate::WebState;
use crate::domain::sessions::{SESSION_COOKIE, Session, same_secret};
use crate::error::WebError;
use crate::views::Viewer;

mod account;
mod assets;
mod builds;
mod groups;
mod integrations;
mod projects;
mod settings;

/// No inline script or style, nothing from elsewhere, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .app_data(web::FormConfig::default().error_handler(|error, _| {
                tracing::debug!(%error, "a form that cannot be read");
                WebError::Refused {
                    status: actix_web::http::StatusCode::BAD_REQUEST,
                    detail: "The form arrived incomplete.".to_owned(),
                }
                .into()
            }))
            .wrap(from_fn(signed_in_error_pages))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    // Pages show a member's data: never cached, so the back
                    // button after signing out shows nothing.
                    .add((header::CACHE_CONTROL, "no-store")),
            )
            .route("/static/{name}", web::get().to(assets::asset))
            .route("/sign-in", web::get().to(account::sign_in_form))
            .route("/sign-in", web::post().to(account::sign_in))
            .route("/sign-up", web::get().to(account::sign_up_form))
            .route("/sign-up", web::post().to(account::sign_up))
            .route("/sign-out", web::post().to(account::sign_out))
            .route("/", web::get().to(projects::list))
            .route("/projects", web::post().to(projects::create))
            .route("/p/{project}", web::get().to(projects::dashboard))
            .route("/p/{project}/builds/{build}", web::get().to(builds::build))
            .route("/p/{project}/groups/{group}", web::get().to(groups::group))
            .route(
                "/p/{project}/groups/{group}/label",
                web::post().to(groups::label),
            )
            .route(
                "/p/{project}/groups/{group}/triage",
                web::post().to(groups::triage),
            )
            .route(
                "/p/{project}/groups/{group}/comments",
                web::post().to(groups::comment),
            )
            .route(
                "/p/{project}/groups/{group}/issues",
                web::post().to(groups::file_issue),
            )
            .route("/p/{project}/flaky", web::get().to(groups::flaky))
            .route(
                "/p/{project}/flaky/{test}/quarantine",
                web::post().to(groups::quarantine),
            )
            .route("/p/{project}/settings", web::get().to(settings::settings))
            .route(
                "/p/{project}/settings/api-keys",
                web::post().to(settings::create_api_key),
            )
            .route(
                "/p/{project}/settings/members",
                web::post().to(settings::add_member),
            )
            .route(
                "/p/{project}/settings/members/{user}/role",
                web::post().to(settings::change_role),
            )
            .route(
                "/p/{project}/settings/members/{user}/remove",
                web::post().to(settings::remove_member),
            )
            .route(
                "/p/{project}/settings/grouping",
                web::post().to(settings::update_grouping),
            )
            .route(
                "/p/{project}/settings/classification-rules",
                web::post().to(settings::add_classification_rule),
            )
            .route(
                "/p/{project}/settings/quality-gate-rules",
                web::post().to(settings::add_gate_rule),
            )
            .route(
                "/p/{project}/integrations",
                web::get().to(integrations::integrations_page),
            )
            .route(
                "/p/{project}/integrations/connections",
                web::post().to(integrations::create_connection),
            )
            .route(
                "/p/{project}/integrations/connections/{connection}/delete",
                web::post().to(integrations::delete_connection),
            )
            .route(
                "/p/{project}/integrations/rules",
                web::post().to(integrations::create_rule),
            )
            .route(
                "/p/{project}/integrations/rules/{rule}/delete",
                web::post().to(integrations::delete_rule),
            )
            .route(
                "/p/{project}/integrations/deliveries/{delivery}/retry",
                web::post().to(integrations::retry_delivery),
            )
            .route(
                "/p/{project}/integrations/jira/connect",
                web::post().to(integrations::connect_my_jira),
            )
            .route(
                "/p/{project}/integrations/jira/disconnect",
                web::post().to(integrations::disconnect_my_jira),
            )
            .route(
                "/integrations/jira/callback",
                web::get().to(integrations::jira_callback),
            )
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound)
}

/// An error page shown to a signed-in user carries their header (who is
/// signed in, "Sign out"), not the "Sign in / Sign up" of a stranger. The
/// error itself is rendered before the session is known (extractors and
/// handlers fail anywhere), so the page is drawn again here.
async fn signed_in_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, String>>, actix_web::Error> {
    let res = next.call(req).await?;
    let error = res
        .response()
        .error()
        .and_then(|error| error.as_error::<WebError>())
        .filter(|error| !matches!(error, WebError::SignInRequired | WebError::SessionStore(_)));
    let mut page = None;
    if let Some(error) = error
        && let Some((id, state)) = cookie(res.request(), SESSION_COOKIE).zip(state(res.request()))
        && let Ok(Some(session)) = state.sessions.find(&id).await
    {
        let viewer = Viewer {
            email: &session.email,
            csrf: &session.csrf_token,
        };
        page = Some(error.page(Some(viewer)).into_string());
    }
    Ok(match page {
        Some(page) => res.map_body(|_, _| EitherBody::right(page)),
        None => res.map_into_left_body(),
    })
}

/// The shared state, always registered by `build`.
fn state(req: &HttpRequest) -> Option<&WebState> {
    req.app_data::<web::Data<WebState>>()
        .map(|data| data.get_ref())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The client chain the gateway wrote (`X-Forwarded-For`), passed on to
/// the API so the gateway there rates and records the browser's address,
/// not this service's. The gateway believes it only from a trusted proxy
/// (`server.trusted_proxies`), which this service then must be.
pub fn forwarded_for(req: &HttpRequest) -> Option<String> {
    let chain: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!chain.is_empty()).then(|| chain.join(", "))
}

/// The signed-in user's session; without one, the sign-in page.
#[derive(Debug)]
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = cookie(req, SESSION_COOKIE);
        let data = req.app_data::<web::Data<WebState>>().cloned();
        let chain = forwarded_for(req);
        Box::pin(async move {
            let (Some(id), Some(state)) = (id, data) else {
                return Err(WebError::SignInRequired);
            };
            let mut session = state
                .sessions
                .find(&id)
                .await?
                .ok_or(WebError::SignInRequired)?;
            session.forwarded_for = chain;
            Ok(SignedIn(session))
        })
    }
}

impl SignedIn {
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            email: &self.0.email,
            csrf: &self.0.csrf_token,
        }
    }

    /// Refuses a form that does not carry this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if same_secret(token, &self.0.csrf_token) {
            Ok(())
        } else {
            Err(WebError::FormExpired)
        }
    }
}

/// A page as an HTML answer.
pub fn page(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(markup.into_string())
}

/// After a form: back to `location` (POST, redirect, GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The `Set-Cookie` value of a cookie only this site's pages send back.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_secs: Option<u64>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(max_age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    HeaderValue::from_str(&cookie)
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A path segment as the API expects it: only characters ids, slugs and
/// test ids are made of pass, so a crafted segment cannot reach another route.
pub fn segment(value: &str) -> Result<&str, WebError> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(WebError::NotFound)
    }
}
