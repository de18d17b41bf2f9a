//! Which project a request acts on, and whether the caller's role there is
//! enough for the route's method.
//!
//! The project may be named in the path, in `X-Project-Id`, in
//! `?project_id=` and (where the route allows) by the token's default;
//! every source given must name the same project, by id or slug.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderValue;
use tenant_core::Role;

use super::{Caller, Gateway};
use crate::domain::route_table::{ProjectSource, Route};
use crate::error::GatewayError;
use crate::lookups::{Access, AccessSubject};

const PROJECT_HEADER: &str = "x-project-id";

impl Gateway {
    /// The caller's access to the request's project, `None` on routes
    /// without one.
    pub(super) async fn authorize(
        &self,
        req: &HttpRequest,
        route: &Route,
        params: &[(String, String)],
        caller: &Caller,
        request_id: &str,
    ) -> Result<Option<Arc<Access>>, GatewayError> {
        if route.project == ProjectSource::None {
            return Ok(None);
        }
        let mut sources = project_sources(req, route, params)?;
        if sources.is_empty() {
            match caller {
                Caller::ApiKey(key) => sources.push(Cow::Owned(key.project_id.to_string())),
                Caller::User(user) if route.project == ProjectSource::Default => {
                    if let Some(default) = user.default_project {
                        sources.push(Cow::Owned(default.to_string()));
                    }
                }
                _ => {}
            }
        }
        sources.dedup();
        let subject = match caller {
            Caller::User(user) => AccessSubject::User(user.user_id),
            Caller::ApiKey(key) => AccessSubject::ApiKey {
                project_id: key.project_id,
                role: key.role,
            },
            Caller::Anonymous => return Err(GatewayError::ProjectNeedsCredentials),
        };
        let Some(first) = sources.first() else {
            return Err(GatewayError::ProjectRequired);
        };
        let mut resolved: Option<Arc<Access>> = None;
        for source in &sources {
            let access = self.lookups.access(&subject, source, request_id).await?;
            match (access, &resolved) {
                // One answer for "not a member" and "no such project", so
                // neither leaks.
                (None, _) if sources.len() == 1 || source == first => {
                    return Err(GatewayError::ProjectNotFound);
                }
                (None, _) => return Err(GatewayError::ProjectConflict),
                (Some(access), Some(previous)) if access.project_id != previous.project_id => {
                    return Err(GatewayError::ProjectConflict);
                }
                (Some(access), _) => resolved = Some(access),
            }
        }
        let access = resolved.ok_or(GatewayError::ProjectNotFound)?;
        let minimum = route.min_role(req.method()).unwrap_or(Role::Owner);
        if access.role < minimum {
            return Err(GatewayError::RoleTooLow(minimum));
        }
        Ok(Some(access))
    }
}

/// The project as the request names it: the path's `{project}`, then
/// `X-Project-Id`, then `?project_id=`.
fn project_sources<'a>(
    req: &'a HttpRequest,
    route: &Route,
    params: &'a [(String, String)],
) -> Result<Vec<Cow<'a, str>>, GatewayError> {
    let mut sources = Vec::new();
    if route.project == ProjectSource::Path
        && let Some((_, value)) = params.iter().find(|(name, _)| name == "project")
    {
        sources.push(Cow::Borrowed(value.as_str()));
    }
    let headers: Vec<&HeaderValue> = req.headers().get_all(PROJECT_HEADER).collect();
    if headers.len() > 1 {
        return Err(GatewayError::DuplicateProjectHeader);
    }
    if let Some(value) = headers.first() {
        let value = value
            .to_str()
            .map_err(|_| GatewayError::UnreadableProjectHeader)?;
        sources.push(Cow::Borrowed(value));
    }
    if let Some(value) = query_param(req.query_string(), "project_id") {
        sources.push(Cow::Borrowed(value));
    }
    Ok(sources)
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_read_exactly() {
        assert_eq!(
            query_param("a=1&project_id=demo", "project_id"),
            Some("demo")
        );
        assert_eq!(query_param("xproject_id=demo", "project_id"), None);
        assert_eq!(query_param("project_id=", "project_id"), None);
    }
}
