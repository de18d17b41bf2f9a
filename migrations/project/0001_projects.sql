-- The project registry: one row per tenant. The row's own id is the tenant
-- key every other schema calls project_id; the registry itself is read by
-- slug or id before a project context exists, so it is not row-secured.
CREATE TABLE project.projects (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    plan        text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'team', 'enterprise')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'deleted')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    CONSTRAINT projects_slug_key UNIQUE (slug)
);

-- Membership is tenant data: project_id leads every key.
CREATE TABLE project.memberships (
    project_id uuid NOT NULL REFERENCES project.projects (id),
    user_id    uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);

ALTER TABLE project.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE project.memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON project.memberships
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
