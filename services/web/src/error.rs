//! The web service's one error enum. Every error is a page that says what
//! happened and what to do; a project the user may not see and one that
//! does not exist give the same "not found".

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};

use crate::public_api::ApiReply;
use crate::views;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or one that ended: the browser goes to the sign-in page.
    #[error("sign in to continue")]
    SignInRequired,
    #[error("not found")]
    NotFound,
    /// A form posted without this session's CSRF token.
    #[error("the form expired")]
    FormExpired,
    /// The API refused the request (its problem's detail).
    #[error("{detail}")]
    Refused { status: StatusCode, detail: String },
    /// The API's rate limits (the user's or the project plan's) say wait.
    #[error("too many requests")]
    TooManyRequests,
    #[error("the API cannot be reached")]
    ApiUnreachable(#[source] reqwest::Error),
    /// The session store (the `web` schema) failed.
    #[error("the session store failed")]
    SessionStore(#[from] crate::repository::sessions::StoreError),
}

impl WebError {
    /// The page for an API answer that was not the expected one.
    pub fn from_reply(reply: ApiReply) -> Self {
        let status = StatusCode::from_u16(reply.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        match status {
            StatusCode::UNAUTHORIZED => Self::SignInRequired,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            status if status.is_client_error() => Self::Refused {
                status,
                detail: reply.detail(),
            },
            // A third party behind the API (Jira, GitHub) failed: its
            // problem says which, never with internals.
            StatusCode::BAD_GATEWAY if reply.body["detail"].is_string() => Self::Refused {
                status: StatusCode::BAD_GATEWAY,
                detail: reply.detail(),
            },
            status => Self::Refused {
                status: StatusCode::BAD_GATEWAY,
                detail: format!("the API answered {status}"),
            },
        }
    }

    /// The error's page, with the signed-in header when `viewer` is set
    /// (the routes' middleware puts it on once it knows the session).
    pub fn page(&self, viewer: Option<views::Viewer<'_>>) -> maud::Markup {
        let (title, what, todo) = self.advice();
        views::error_page(title, &what, todo, viewer)
    }

    /// What happened and what to do, for the error page.
    fn advice(&self) -> (&'static str, String, &'static str) {
        match self {
            Self::SignInRequired => ("Sign in", String::new(), ""),
            Self::NotFound => (
                "Not found",
                "There is no such page, or you are not a member of its project.".to_owned(),
                "Check the address, or ask a project admin to add you.",
            ),
            Self::FormExpired => (
                "The form expired",
                "This form belongs to an older or another session.".to_owned(),
                "Go back, reload the page and send the form again.",
            ),
            Self::Refused { detail, .. } => (
                "The request was refused",
                detail.clone(),
                "Correct the form and send it again.",
            ),
            Self::TooManyRequests => (
                "Too many requests",
                "This project (or your account) has made more requests than its plan allows for the moment.".to_owned(),
                "Wait a minute, then reload the page.",
            ),
            Self::ApiUnreachable(_) => (
                "Faultline is unavailable",
                "The dashboard could not reach the API.".to_owned(),
                "Try again in a minute; if it persists, tell your operator.",
            ),
            Self::SessionStore(_) => (
                "Faultline is unavailable",
                "The dashboard could not read or keep your session.".to_owned(),
                "Try again in a minute; if it persists, tell your operator.",
            ),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::FormExpired => StatusCode::FORBIDDEN,
            Self::Refused { status, .. } => *status,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::ApiUnreachable(_) => StatusCode::BAD_GATEWAY,
            Self::SessionStore(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::ApiUnreachable(source) = self {
            tracing::error!(error = %source, "public API call failed");
        }
        if let Self::SessionStore(source) = self {
            tracing::error!(error = %tenant_core::error::error_chain(source), "session store failed");
        }
        if matches!(self, Self::SignInRequired) {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/sign-in"))
                .finish();
        }
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(self.page(None).into_string())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reply(status: u16) -> ApiReply {
        ApiReply {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            body: json!({ "detail": "the name is taken" }),
        }
    }

    #[test]
    fn api_answers_become_pages_that_say_what_to_do() {
        for (status, page) in [
            (401, 303),
            (403, 404),
            (404, 404),
            (409, 409),
            (422, 422),
            (429, 429),
            (500, 502),
        ] {
            let error = WebError::from_reply(reply(status));
            assert_eq!(error.status_code().as_u16(), page, "{status}: {error:?}");
        }
        let refused = WebError::from_reply(reply(409));
        assert_eq!(refused.to_string(), "the name is taken");
        let busy = WebError::from_reply(reply(429)).error_response();
        assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
