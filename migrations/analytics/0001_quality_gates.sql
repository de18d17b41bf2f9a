-- Quality gates: per-project rules a build must pass to merge.
CREATE TABLE analytics.quality_gates (
    project_id uuid NOT NULL,
    id         uuid NOT NULL,
    name       text NOT NULL,
    rules      jsonb NOT NULL DEFAULT '[]'::jsonb,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    CONSTRAINT quality_gates_name_key UNIQUE (project_id, name)
);

ALTER TABLE analytics.quality_gates ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.quality_gates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.quality_gates
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
