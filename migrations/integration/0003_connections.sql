-- Connections to third parties, their sealed secrets and each project's
-- data key. `integration.integrations` (0001) was never used by any
-- binary; connections replace it.
DROP TABLE integration.integrations;

-- One data key per project, wrapped (AES-256-GCM) by a master key from
-- the service's settings; `master_key_id` says which, so master keys can
-- rotate (`integration-gateway keys rewrap`).
CREATE TABLE integration.project_keys (
    project_id    uuid NOT NULL,
    master_key_id text NOT NULL,
    wrapped_key   bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    rewrapped_at  timestamptz,
    CONSTRAINT project_keys_pkey PRIMARY KEY (project_id)
);

ALTER TABLE integration.project_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.project_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.project_keys
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- `keys rewrap` must find the projects whose data key is wrapped by an
-- older master key, across projects, as a runtime role that cannot bypass
-- RLS. The view runs as its owner and shows project ids and key ids only,
-- never a wrapped key; the rewrap itself runs per project under
-- tenant_isolation.
CREATE POLICY project_keys_owner_reads_all ON integration.project_keys
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW integration.project_key_ids AS
    SELECT project_id, master_key_id FROM integration.project_keys;

-- A project's connection to Jira, GitHub, Slack or a webhook receiver.
-- `settings` holds what is not secret (owner/repo, channel, site URL,
-- e-mail); secrets live sealed in connection_secrets. The circuit
-- breaker's state is kept here, so every instance sees it.
CREATE TABLE integration.connections (
    project_id           uuid NOT NULL,
    id                   uuid NOT NULL,
    kind                 text NOT NULL,
    name                 text NOT NULL,
    settings             jsonb NOT NULL,
    status               text NOT NULL DEFAULT 'active',
    consecutive_failures integer NOT NULL DEFAULT 0,
    circuit_open_until   timestamptz,
    created_by           uuid,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT connections_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT connections_name_key UNIQUE (project_id, name),
    CONSTRAINT connections_kind_check CHECK (kind IN ('slack', 'webhook', 'github', 'jira')),
    CONSTRAINT connections_status_check CHECK (status IN ('active', 'needs_reauth'))
);

ALTER TABLE integration.connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.connections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.connections
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- One sealed secret per connection and field: nonce || ciphertext+tag
-- under the project's data key, associated data `project|connection|field`.
-- `last_four` is what the API may show of it.
CREATE TABLE integration.connection_secrets (
    project_id    uuid NOT NULL,
    connection_id uuid NOT NULL,
    field         text NOT NULL,
    sealed        bytea NOT NULL,
    last_four     text,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT connection_secrets_pkey PRIMARY KEY (project_id, connection_id, field),
    CONSTRAINT connection_secrets_connection_fkey FOREIGN KEY (project_id, connection_id)
        REFERENCES integration.connections (project_id, id) ON DELETE CASCADE
);

ALTER TABLE integration.connection_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.connection_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.connection_secrets
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
