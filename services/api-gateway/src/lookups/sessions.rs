//! Whether the session behind a verified access token is still live: from
//! the revocation feed while it is current, else asked of the auth service.

use std::time::Duration;

use serde::Deserialize;
use tenant_core::client::ServiceCallError;
use uuid::Uuid;

use super::Lookups;

/// Access tokens live at most an hour (plus the verifiers' leeway), so a
/// revoked session matters no longer than this.
pub(super) const LONGEST_TOKEN_LIFE: Duration = Duration::from_secs(3600 + 300);

#[derive(Deserialize)]
struct SessionStatus {
    live: bool,
}

impl Lookups {
    /// Whether a verified token's session is still live: from the
    /// revocation feed while it is current, else asked of the auth service
    /// (an error then refuses the request rather than trusting the token).
    pub async fn session_is_live(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        request_id: &str,
    ) -> Result<bool, ServiceCallError> {
        if self.revoked_sessions.get(&session_id).is_some() {
            return Ok(false);
        }
        if self.revocation_feed.is_current(self.feed_trusted_for) {
            return Ok(true);
        }
        self.recheck_session(session_id, user_id, request_id).await
    }

    /// Asks the auth service, in a span of its own (the answer from the
    /// feed, every request's, needs none).
    #[tracing::instrument(skip_all, fields(session_id = %session_id, user_id = %user_id), err(level = "warn"))]
    async fn recheck_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        request_id: &str,
    ) -> Result<bool, ServiceCallError> {
        self.session_rechecks.inc();
        let status: SessionStatus = self
            .auth
            .get_json(
                &format!("/internal/v1/sessions/{session_id}?user={user_id}"),
                &self.context(request_id),
            )
            .await?;
        Ok(status.live)
    }
}
