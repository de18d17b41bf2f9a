//! Security events: who did what, from where. Details never hold secrets.

use serde_json::Value;
use uuid::Uuid;

/// One event for `auth.audit_events`, built from its kind.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub kind: &'static str,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub client_ip: Option<&'a str>,
    pub details: Value,
}

impl<'a> AuditEvent<'a> {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            user_id: None,
            session_id: None,
            client_ip: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    pub fn user(mut self, user_id: impl Into<Option<Uuid>>) -> Self {
        self.user_id = user_id.into();
        self
    }

    pub fn session(mut self, session_id: impl Into<Option<Uuid>>) -> Self {
        self.session_id = session_id.into();
        self
    }

    pub fn client_ip(mut self, client_ip: Option<&'a str>) -> Self {
        self.client_ip = client_ip;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}
