-- A counter per project that every transaction changing the project's
-- rollups increases as its last step (before it commits), so a reader
-- that saw version v sees every change committed up to v, and any later
-- change shows as a higher version. Answers computed from the rollups
-- (the rankings) are kept under the version they were read at; once the
-- version moves on they are computed again, and served meanwhile only to
-- requests that waited longer than the service allows (docs/analytics.md).
-- The row lock taken by the increase is held only from a transaction's
-- last step to its commit.
CREATE TABLE analytics.rollup_versions (
    project_id uuid NOT NULL,
    version    bigint NOT NULL,
    CONSTRAINT rollup_versions_pkey PRIMARY KEY (project_id)
);

ALTER TABLE analytics.rollup_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.rollup_versions
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
