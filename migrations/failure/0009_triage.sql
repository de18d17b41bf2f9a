-- Triage of failure groups (status, assignee, comments and the activity
-- log of changes), regressions, per-project grouping settings and the
-- regroup jobs. Expand only: new tables, and nullable or defaulted columns
-- on failure_groups, so a binary that does not know them keeps working.

-- A project's grouping settings; a project without a row uses the
-- defaults (no prefixes: every frame outside known frameworks is in-app;
-- long numbers masked). Read once per upload.
CREATE TABLE failure.grouping_settings (
    project_id       uuid NOT NULL,
    in_app_prefixes  text[] NOT NULL DEFAULT '{}',
    keep_numbers     boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL,
    updated_by       uuid,
    CONSTRAINT grouping_settings_pkey PRIMARY KEY (project_id)
);

ALTER TABLE failure.grouping_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.grouping_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.grouping_settings
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Who looks after a group (a member of the project, checked by the
-- service with the project service), and its regressions: a resolved
-- group that occurs again reopens, `regressed_at` says when it last did
-- and `regression_count` how often.
ALTER TABLE failure.failure_groups ADD COLUMN assignee_id uuid;
ALTER TABLE failure.failure_groups ADD COLUMN regressed_at timestamptz;
ALTER TABLE failure.failure_groups ADD COLUMN regression_count integer NOT NULL DEFAULT 0;

-- Comments on a group, newest first.
CREATE TABLE failure.group_comments (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL,
    group_id    uuid NOT NULL,
    author_id   uuid NOT NULL,
    body        text NOT NULL
                CONSTRAINT group_comments_body_check CHECK (char_length(body) BETWEEN 1 AND 10000),
    created_at  timestamptz NOT NULL,
    CONSTRAINT group_comments_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT group_comments_group_fkey FOREIGN KEY (project_id, group_id)
        REFERENCES failure.failure_groups (project_id, id)
);

CREATE INDEX group_comments_recent_idx
    ON failure.group_comments (project_id, group_id, created_at DESC, id DESC);

ALTER TABLE failure.group_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.group_comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.group_comments
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The audit log of a group's triage: status and assignee changes by a
-- member (`actor_id`), and regressions (no actor: an upload reopened it).
CREATE TABLE failure.group_activity (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL,
    group_id    uuid NOT NULL,
    actor_id    uuid,
    kind        text NOT NULL
                CONSTRAINT group_activity_kind_check
                CHECK (kind IN ('status', 'assignee', 'regressed')),
    old_value   text,
    new_value   text,
    created_at  timestamptz NOT NULL,
    CONSTRAINT group_activity_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT group_activity_group_fkey FOREIGN KEY (project_id, group_id)
        REFERENCES failure.failure_groups (project_id, id)
);

CREATE INDEX group_activity_recent_idx
    ON failure.group_activity (project_id, group_id, created_at DESC, id DESC);

ALTER TABLE failure.group_activity ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.group_activity FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.group_activity
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Regroup jobs: recompute the signatures of a project's failures since
-- `since` under the current grouping rules and settings. A worker claims
-- a job by setting `claimed_by` and a lease (`lease_until`); a worker that
-- dies stops renewing it, and once it has expired another takes the job
-- over. Progress is the keyset position of the last batch done
-- (`cursor_created_at`, `cursor_id`), written in the batch's transaction,
-- so a job taken over resumes after it.
CREATE TABLE failure.regroup_jobs (
    project_id         uuid NOT NULL,
    id                 uuid NOT NULL,
    state              text NOT NULL
                       CONSTRAINT regroup_jobs_state_check
                       CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    since              timestamptz NOT NULL,
    requested_by       uuid NOT NULL,
    created_at         timestamptz NOT NULL,
    started_at         timestamptz,
    finished_at        timestamptz,
    claimed_by         uuid,
    lease_until        timestamptz,
    attempts           integer NOT NULL DEFAULT 0,
    cursor_created_at  timestamptz,
    cursor_id          uuid,
    total              bigint NOT NULL DEFAULT 0,
    processed          bigint NOT NULL DEFAULT 0,
    moved              bigint NOT NULL DEFAULT 0,
    error              text,
    CONSTRAINT regroup_jobs_pkey PRIMARY KEY (project_id, id)
);

-- At most one queued or running job per project: a second request finds
-- the first.
CREATE UNIQUE INDEX regroup_jobs_active_key
    ON failure.regroup_jobs (project_id) WHERE state IN ('queued', 'running');

-- The claim's scan: jobs not finished, oldest first.
CREATE INDEX regroup_jobs_claimable_idx
    ON failure.regroup_jobs (project_id, created_at) WHERE state IN ('queued', 'running');

ALTER TABLE failure.regroup_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.regroup_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.regroup_jobs
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The claim: a worker has no project until it has claimed a job, so a
-- transaction that opts in with app.regroup_claim = 'claim' (and no
-- project) may see and lease the unfinished jobs of every project. It
-- sees nothing else: no other table has such a policy, and the job's
-- failures are processed in a transaction confined to the job's project.
-- Permissive policies combine with OR, so tenant transactions are
-- unaffected.
CREATE POLICY regroup_claim_read ON failure.regroup_jobs
    FOR SELECT
    USING ((SELECT current_setting('app.regroup_claim', true)) = 'claim'
           AND state IN ('queued', 'running'));
CREATE POLICY regroup_claim_lease ON failure.regroup_jobs
    FOR UPDATE
    USING ((SELECT current_setting('app.regroup_claim', true)) = 'claim'
           AND state IN ('queued', 'running'))
    WITH CHECK ((SELECT current_setting('app.regroup_claim', true)) = 'claim'
                AND state = 'running');
