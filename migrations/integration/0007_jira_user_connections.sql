-- Per-user Jira connections through OAuth 2.0 (3LO) with PKCE.

-- A started authorisation: the `state` (stored as its SHA-256 only) is
-- random, single-use, valid 10 minutes and bound to the user, the project
-- and the PKCE verifier (sealed with the project's data key).
CREATE TABLE integration.oauth_states (
    project_id      uuid NOT NULL,
    state_hash      bytea NOT NULL,
    user_id         uuid NOT NULL,
    verifier_sealed bytea NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    CONSTRAINT oauth_states_pkey PRIMARY KEY (project_id, state_hash)
);

CREATE INDEX oauth_states_expiry_idx ON integration.oauth_states (project_id, expires_at);

ALTER TABLE integration.oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.oauth_states FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.oauth_states
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- A member's own Jira account for a project: sealed access and refresh
-- tokens (rotated on every refresh, stored before the new access token is
-- used), the Jira site, and `needs_reauth` once Jira refused the refresh
-- token for good.
CREATE TABLE integration.user_jira_connections (
    project_id             uuid NOT NULL,
    user_id                uuid NOT NULL,
    id                     uuid NOT NULL,
    status                 text NOT NULL,
    cloud_id               text NOT NULL,
    site_url               text NOT NULL,
    access_token_sealed    bytea NOT NULL,
    refresh_token_sealed   bytea NOT NULL,
    access_expires_at      timestamptz NOT NULL,
    created_at             timestamptz NOT NULL,
    refreshed_at           timestamptz,
    CONSTRAINT user_jira_connections_pkey PRIMARY KEY (project_id, user_id),
    CONSTRAINT user_jira_connections_status_check CHECK (status IN ('active', 'needs_reauth'))
);

ALTER TABLE integration.user_jira_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.user_jira_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.user_jira_connections
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- What was synced through a user's connection: the Jira issues assigned
-- to them. Deleted with the connection.
CREATE TABLE integration.user_jira_issues (
    project_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    issue_key  text NOT NULL,
    summary    text NOT NULL,
    status     text NOT NULL,
    synced_at  timestamptz NOT NULL,
    CONSTRAINT user_jira_issues_pkey PRIMARY KEY (project_id, user_id, issue_key),
    CONSTRAINT user_jira_issues_connection_fkey FOREIGN KEY (project_id, user_id)
        REFERENCES integration.user_jira_connections (project_id, user_id) ON DELETE CASCADE
);

ALTER TABLE integration.user_jira_issues ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.user_jira_issues FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.user_jira_issues
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
