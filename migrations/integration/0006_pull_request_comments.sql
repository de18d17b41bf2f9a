-- The one Faultline comment kept up to date on each pull request, per
-- GitHub connection: its comment id and what it says (per job: the last
-- build's figures and quality gate), merged from each event and rendered
-- whole on every update. Locked per pull request while one is updated.
CREATE TABLE integration.pull_request_comments (
    project_id    uuid NOT NULL,
    connection_id uuid NOT NULL,
    pr_number     bigint NOT NULL,
    comment_id    bigint,
    state         jsonb NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT pull_request_comments_pkey PRIMARY KEY (project_id, connection_id, pr_number),
    CONSTRAINT pull_request_comments_connection_fkey FOREIGN KEY (project_id, connection_id)
        REFERENCES integration.connections (project_id, id) ON DELETE CASCADE
);

ALTER TABLE integration.pull_request_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.pull_request_comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.pull_request_comments
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
