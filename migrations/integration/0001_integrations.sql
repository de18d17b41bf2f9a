-- Configured destinations (Jira, GitHub, Slack, webhooks) per project.
-- Credentials are stored encrypted by the service, never in plain text.
CREATE TABLE integration.integrations (
    project_id        uuid NOT NULL,
    id                uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('jira', 'github', 'slack', 'webhook')),
    name              text NOT NULL,
    settings          jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret_ciphertext bytea,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    CONSTRAINT integrations_name_key UNIQUE (project_id, name)
);

ALTER TABLE integration.integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.integrations
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
