//! CORS for the origins the settings allow, and no others: a preflight is
//! answered by the gateway itself, and answers to allowed origins say so.

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use super::Gateway;

impl Gateway {
    /// The request's `Origin`, when it is one of the allowed origins.
    fn allowed_origin(&self, req: &HttpRequest) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.cors_allowed_origins
            .iter()
            .any(|o| o == text)
            .then(|| origin.clone())
    }

    /// The answer to a CORS preflight; `None` for any other request.
    pub fn cors_preflight(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if req.method() != Method::OPTIONS
            || !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(origin) = self.allowed_origin(req) {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, POST, PUT, PATCH, DELETE",
                ))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "authorization, content-type, x-project-id, x-request-id, idempotency-key",
                ))
                .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        Some(response.finish())
    }

    /// The CORS headers of an answer to an allowed origin.
    pub(super) fn cors_headers(&self, req: &HttpRequest, headers: &mut HeaderMap) {
        if let Some(origin) = self.allowed_origin(req) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "x-request-id, ratelimit, ratelimit-policy, retry-after, location",
                ),
            );
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}
