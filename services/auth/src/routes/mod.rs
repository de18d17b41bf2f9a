//! The auth service's route table.
//!
//! Public routes sit under `/v1` (the gateway maps `/api/v1/...` onto them
//! and always sends a context token, anonymous for sign-up, log-in and
//! refresh); `/internal/v1` is for other services only; the JWKS is public.
//! The client's address, where one matters, is the one the gateway put in
//! the context token: forwarding headers are never read here.

mod api_keys;
mod jwks;
mod me;
mod openapi;
mod revocations;
mod sessions;
mod users;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/.well-known/jwks.json").get(jwks::jwks))
        .service(web::resource("/v1/auth/signup").post(users::sign_up))
        .service(web::resource("/v1/auth/login").post(sessions::log_in))
        .service(web::resource("/v1/auth/refresh").post(sessions::refresh))
        .service(web::resource("/v1/auth/logout").post(sessions::log_out))
        .service(web::resource("/v1/auth/logout-all").post(sessions::log_out_everywhere))
        .service(web::resource("/v1/me").get(me::get_me).patch(me::update_me))
        .service(web::resource("/v1/me/password").post(me::change_password))
        .service(web::resource("/v1/admin/users").get(users::list_users))
        .service(web::resource("/v1/admin/users/{user_id}/disable").post(users::disable_user))
        .service(
            web::resource("/v1/projects/{project}/api-keys")
                .get(api_keys::list)
                .post(api_keys::create),
        )
        .service(web::resource("/v1/projects/{project}/api-keys/{key_id}").delete(api_keys::revoke))
        .service(web::resource("/internal/v1/users").get(users::user_by_email))
        .service(web::resource("/internal/v1/api-keys/introspect").post(api_keys::introspect))
        .service(web::resource("/internal/v1/api-keys/member-access").post(api_keys::member_access))
        .service(web::resource("/internal/v1/revocations").get(revocations::revocations))
        .service(web::resource("/internal/v1/sessions/{session_id}").get(sessions::session_status))
        .service(web::resource("/internal/v1/openapi.json").get(openapi::spec));
}
