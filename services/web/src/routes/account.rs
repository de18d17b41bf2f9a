//! Sign-in, sign-up and sign-out. Before a session exists, the forms'
//! CSRF token is a random value in a short-lived cookie that the form
//! must repeat (double submit).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{SignedIn, cookie, forwarded_for, page, see_other, set_cookie};
use crate::WebState;
use crate::domain::sessions::{SESSION_COOKIE, Tokens, random_token, same_secret};
use crate::error::WebError;
use crate::views::account;

/// The pre-session CSRF cookie of the sign-in and sign-up forms.
const FORM_COOKIE: &str = "faultline_form";

/// How long a sign-in form stays valid.
const FORM_COOKIE_SECS: u64 = 3600;

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct SignUpForm {
    csrf: String,
    display_name: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// A form page with a fresh pre-session token in its cookie.
fn form_page(state: &WebState, render: impl FnOnce(&str) -> maud::Markup) -> HttpResponse {
    let token = random_token();
    let mut response = page(render(&token));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            FORM_COOKIE,
            &token,
            state.settings.secure_cookies,
            Some(FORM_COOKIE_SECS),
        ),
    );
    response
}

/// Refuses a pre-session form whose token is not its cookie's.
fn check_form_token(req: &HttpRequest, token: &str) -> Result<(), WebError> {
    match cookie(req, FORM_COOKIE) {
        Some(expected) if same_secret(token, &expected) => Ok(()),
        _ => Err(WebError::FormExpired),
    }
}

pub async fn sign_in_form(state: web::Data<WebState>) -> HttpResponse {
    form_page(&state, |token| account::sign_in(token, None))
}

pub async fn sign_up_form(state: web::Data<WebState>) -> HttpResponse {
    form_page(&state, |token| account::sign_up(token, None))
}

/// Starts the session and sends the browser to its projects.
async fn signed_in(
    state: &WebState,
    email: &str,
    tokens: Tokens,
) -> Result<HttpResponse, WebError> {
    let session = state
        .sessions
        .start(email.trim().to_lowercase(), tokens)
        .await?;
    let secure = state.settings.secure_cookies;
    let mut response = see_other("/");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &session.id, secure, None),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(FORM_COOKIE, "", secure, Some(0)),
    );
    Ok(response)
}

pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, WebError> {
    check_form_token(&req, &form.csrf)?;
    let chain = forwarded_for(&req);
    match state
        .api
        .log_in(&form.email, &form.password, chain.as_deref())
        .await?
    {
        Ok(tokens) => signed_in(&state, &form.email, tokens).await,
        Err(refused) => {
            let problem = if refused.status == StatusCode::UNAUTHORIZED {
                "Wrong email or password. Check both and try again.".to_owned()
            } else {
                refused.detail()
            };
            let mut response = form_page(&state, |token| account::sign_in(token, Some(&problem)));
            *response.status_mut() = actix_status(refused.status);
            Ok(response)
        }
    }
}

pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<WebState>,
    form: web::Form<SignUpForm>,
) -> Result<HttpResponse, WebError> {
    check_form_token(&req, &form.csrf)?;
    let chain = forwarded_for(&req);
    let created = state
        .api
        .send(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(&json!({
                "email": form.email,
                "password": form.password,
                "display_name": form.display_name,
            })),
            chain.as_deref(),
        )
        .await?;
    if created.status != StatusCode::CREATED {
        let problem = format!("{} Correct it and try again.", created.detail());
        let mut response = form_page(&state, |token| account::sign_up(token, Some(&problem)));
        *response.status_mut() = actix_status(created.status);
        return Ok(response);
    }
    match state
        .api
        .log_in(&form.email, &form.password, chain.as_deref())
        .await?
    {
        Ok(tokens) => signed_in(&state, &form.email, tokens).await,
        Err(refused) => Err(WebError::from_reply(refused)),
    }
}

/// Ends the session here and at the auth service (its tokens are
/// revoked), and clears the cookie.
pub async fn sign_out(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let session = &signed_in.0;
    // Through `call`, so an expired access token is refreshed first.
    let revoked = state
        .call(session, Method::POST, "/v1/auth/logout", None)
        .await;
    match &revoked {
        Ok(reply) if reply.status.is_success() => {}
        Ok(reply) => {
            tracing::warn!(status = %reply.status, "the auth service did not revoke a session at sign-out")
        }
        Err(error) => {
            tracing::warn!(%error, "the auth service did not revoke a session at sign-out")
        }
    }
    state.sessions.end(&session.id).await?;
    let mut response = see_other("/sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", state.settings.secure_cookies, Some(0)),
    );
    Ok(response)
}

/// The API's status, for the page that shows its refusal.
fn actix_status(status: StatusCode) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST)
}
