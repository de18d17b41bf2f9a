CREATE TABLE failure.builds (
    project_id    uuid NOT NULL,
    id            uuid NOT NULL,
    job_name      text NOT NULL,
    external_id   text NOT NULL,
    number        bigint,
    branch        text,
    commit_sha    text,
    url           text,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'passed', 'failed', 'errored', 'cancelled')),
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    CONSTRAINT builds_external_id_key UNIQUE (project_id, job_name, external_id),
    CONSTRAINT builds_external_id_format CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,100}$')
);

CREATE INDEX builds_recent_idx ON failure.builds (project_id, created_at DESC, id DESC);

ALTER TABLE failure.builds ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.builds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.builds
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
