//! Who is calling: nobody (on public routes), a user with an access token,
//! or an API key (`flt_...`), each from one `Authorization: Bearer` header.

use actix_web::HttpRequest;
use actix_web::http::header;

use super::{Caller, Gateway};
use crate::domain::route_table::{AuthMode, Route};
use crate::error::GatewayError;

/// What every API key starts with; anything else is an access token.
const API_KEY_PREFIX: &str = "flt_";

impl Gateway {
    pub(super) async fn authenticate(
        &self,
        req: &HttpRequest,
        route: &Route,
        request_id: &str,
    ) -> Result<Caller, GatewayError> {
        let mut values = req.headers().get_all(header::AUTHORIZATION);
        let (first, second) = (values.next(), values.next());
        if second.is_some() {
            return Err(GatewayError::DuplicateAuthorization);
        }
        let Some(value) = first else {
            return if route.auth == AuthMode::Public {
                Ok(Caller::Anonymous)
            } else {
                Err(GatewayError::CredentialsRequired)
            };
        };
        let value = value
            .to_str()
            .map_err(|_| GatewayError::UnreadableAuthorization)?;
        let (scheme, credential) = value.split_once(' ').ok_or(GatewayError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(GatewayError::NotBearer);
        }
        let credential = credential.trim();
        if credential.starts_with(API_KEY_PREFIX) {
            if route.auth == AuthMode::User {
                return Err(GatewayError::UserRequired);
            }
            let principal = self
                .lookups
                .introspect(credential, request_id)
                .await?
                .ok_or(GatewayError::InvalidApiKey)?;
            return Ok(Caller::ApiKey(principal));
        }
        let user = self
            .verifier
            .verify(credential)
            .await
            .map_err(GatewayError::TokenRefused)?;
        let live = self
            .lookups
            .session_is_live(user.session_id, user.user_id, request_id)
            .await?;
        if !live {
            return Err(GatewayError::SessionEnded);
        }
        Ok(Caller::User(user))
    }
}
