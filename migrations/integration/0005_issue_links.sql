-- Issues filed in Jira for failure groups: one per group and tracker
-- (creating again is answered with this one unless forced, which files a
-- new issue and replaces the link). The status sync and the regression
-- comments read it. Deleted with the connection it was filed through.
CREATE TABLE integration.issue_links (
    project_id      uuid NOT NULL,
    group_id        uuid NOT NULL,
    provider        text NOT NULL,
    connection_id   uuid NOT NULL,
    issue_key       text NOT NULL,
    issue_url       text NOT NULL,
    status          text NOT NULL,
    status_category text NOT NULL,
    group_resolved  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    synced_at       timestamptz,
    CONSTRAINT issue_links_pkey PRIMARY KEY (project_id, group_id, provider),
    CONSTRAINT issue_links_provider_check CHECK (provider IN ('jira', 'github')),
    CONSTRAINT issue_links_connection_fkey FOREIGN KEY (project_id, connection_id)
        REFERENCES integration.connections (project_id, id) ON DELETE CASCADE
);

CREATE INDEX issue_links_connection_idx ON integration.issue_links (project_id, connection_id);

ALTER TABLE integration.issue_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.issue_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.issue_links
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The status sync finds the projects with Jira issues whose group it has
-- not resolved yet through this view (project ids only), then reads them
-- per project under tenant_isolation.
CREATE POLICY issue_links_owner_reads_all ON integration.issue_links
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW integration.issue_link_projects AS
    SELECT DISTINCT project_id
      FROM integration.issue_links
     WHERE provider = 'jira' AND NOT group_resolved;
