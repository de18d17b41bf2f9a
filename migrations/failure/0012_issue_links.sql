-- Issues filed in a tracker (Jira, GitHub) for a failure group, recorded
-- by the integration gateway through the internal API and shown on v2
-- groups: one link per group and tracker, replaced when the gateway files
-- a new issue (a forced create) or its status changes.
CREATE TABLE failure.issue_links (
    project_id uuid NOT NULL,
    group_id   uuid NOT NULL,
    provider   text NOT NULL,
    key        text NOT NULL,
    url        text NOT NULL,
    status     text NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT issue_links_pkey PRIMARY KEY (project_id, group_id, provider),
    CONSTRAINT issue_links_provider_check CHECK (provider IN ('jira', 'github')),
    CONSTRAINT issue_links_group_fkey FOREIGN KEY (project_id, group_id)
        REFERENCES failure.failure_groups (project_id, id) ON DELETE CASCADE
);

ALTER TABLE failure.issue_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.issue_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.issue_links
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
