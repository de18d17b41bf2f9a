-- The analytics read model: events relayed from the failure service (kept
-- once per id), and rollups the dashboards read instead of raw results.
-- Every rollup row is a function of the failure service's published views
-- (the `analytics_` views of schema failure) for one slice; docs/analytics.md states each
-- definition. Events say which slices to compute again, a periodic
-- reconciliation recomputes slices too, and a recomputation replaces the
-- slice whole, so a repeated, late or out-of-order event changes nothing.

-- Events relayed from other services' outboxes, kept once per event id
-- (a redelivery meets its own primary key and is left as it was).
CREATE TABLE analytics.event_inbox (
    project_id  uuid NOT NULL,
    event_id    uuid NOT NULL,
    source      text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_inbox_pkey PRIMARY KEY (project_id, event_id)
);

CREATE INDEX event_inbox_received_idx ON analytics.event_inbox (project_id, received_at, event_id);

-- A slice is one project's finished builds of one UTC day (the day the
-- build was created), branch ('' when the build names none) and job. It is
-- the unit of recomputation: the rows of the five tables below with that
-- key are replaced together, and then the week's rows of
-- `test_weekly_rollups`. `refreshed_at` orders the reconciliation.
CREATE TABLE analytics.rollup_slices (
    project_id   uuid NOT NULL,
    day          date NOT NULL,
    branch       text NOT NULL,
    job_name     text NOT NULL,
    refreshed_at timestamptz NOT NULL,
    CONSTRAINT rollup_slices_pkey PRIMARY KEY (project_id, day, branch, job_name)
);

CREATE INDEX rollup_slices_refreshed_idx ON analytics.rollup_slices (project_id, refreshed_at);

-- One row per finished build: its results' counts and duration, and the
-- failure groups it brought (first failure in it) or met again.
CREATE TABLE analytics.build_rollups (
    project_id        uuid NOT NULL,
    build_id          uuid NOT NULL,
    day               date NOT NULL,
    branch            text NOT NULL,
    job_name          text NOT NULL,
    status            text NOT NULL,
    created_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    tests             bigint NOT NULL,
    passed            bigint NOT NULL,
    failed            bigint NOT NULL,
    skipped           bigint NOT NULL,
    flaky             bigint NOT NULL,
    duration_ms       bigint NOT NULL,
    new_groups        bigint NOT NULL,
    recurring_groups  bigint NOT NULL,
    CONSTRAINT build_rollups_pkey PRIMARY KEY (project_id, build_id)
);

CREATE INDEX build_rollups_recent_idx ON analytics.build_rollups (project_id, created_at DESC, build_id DESC);
CREATE INDEX build_rollups_slice_idx ON analytics.build_rollups (project_id, day, branch, job_name);

-- Per project, day, branch and job: the sums of its builds' rows.
CREATE TABLE analytics.daily_rollups (
    project_id        uuid NOT NULL,
    day               date NOT NULL,
    branch            text NOT NULL,
    job_name          text NOT NULL,
    builds            bigint NOT NULL,
    tests             bigint NOT NULL,
    passed            bigint NOT NULL,
    failed            bigint NOT NULL,
    skipped           bigint NOT NULL,
    flaky             bigint NOT NULL,
    duration_ms       bigint NOT NULL,
    new_groups        bigint NOT NULL,
    recurring_groups  bigint NOT NULL,
    CONSTRAINT daily_rollups_pkey PRIMARY KEY (project_id, day, branch, job_name)
);

-- Per project, day, branch, job and label: failing outcomes (attempt 0)
-- by their group's label (the failure's own when it has no group).
CREATE TABLE analytics.daily_label_rollups (
    project_id  uuid NOT NULL,
    day         date NOT NULL,
    branch      text NOT NULL,
    job_name    text NOT NULL,
    label       text NOT NULL,
    failures    bigint NOT NULL,
    CONSTRAINT daily_label_rollups_pkey PRIMARY KEY (project_id, day, branch, job_name, label)
);

-- Per test and slice: runs (not skipped), failing outcomes, flaky passes,
-- skips, and the run durations in ascending order (for p50/p95 over any
-- range without reading results).
CREATE TABLE analytics.test_daily_rollups (
    project_id    uuid NOT NULL,
    day           date NOT NULL,
    branch        text NOT NULL,
    job_name      text NOT NULL,
    test_id       uuid NOT NULL,
    runs          bigint NOT NULL,
    failures      bigint NOT NULL,
    flaky         bigint NOT NULL,
    skipped       bigint NOT NULL,
    durations_ms  bigint[] NOT NULL,
    CONSTRAINT test_daily_rollups_pkey PRIMARY KEY (project_id, day, branch, job_name, test_id)
);

CREATE INDEX test_daily_rollups_test_idx ON analytics.test_daily_rollups (project_id, test_id, day);

-- The same per ISO week (`week` is its Monday): a ranking over a range
-- reads the range's full weeks here and only its first and last days
-- from the daily rows, about a seventh of the rows for long ranges.
CREATE TABLE analytics.test_weekly_rollups (
    project_id    uuid NOT NULL,
    week          date NOT NULL,
    branch        text NOT NULL,
    job_name      text NOT NULL,
    test_id       uuid NOT NULL,
    runs          bigint NOT NULL,
    failures      bigint NOT NULL,
    flaky         bigint NOT NULL,
    skipped       bigint NOT NULL,
    durations_ms  bigint[] NOT NULL,
    CONSTRAINT test_weekly_rollups_pkey PRIMARY KEY (project_id, week, branch, job_name, test_id)
);

-- Per group and slice: its failing outcomes (attempt 0).
CREATE TABLE analytics.group_daily_rollups (
    project_id  uuid NOT NULL,
    day         date NOT NULL,
    branch      text NOT NULL,
    job_name    text NOT NULL,
    group_id    uuid NOT NULL,
    failures    bigint NOT NULL,
    CONSTRAINT group_daily_rollups_pkey PRIMARY KEY (project_id, day, branch, job_name, group_id)
);

-- Per group: where it stands and when it was first triaged (its first
-- status change) and resolved (the latest change to `resolved`, while it
-- is resolved).
CREATE TABLE analytics.group_rollups (
    project_id     uuid NOT NULL,
    group_id       uuid NOT NULL,
    label          text NOT NULL,
    status         text NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    triaged_at     timestamptz,
    resolved_at    timestamptz,
    refreshed_at   timestamptz NOT NULL,
    CONSTRAINT group_rollups_pkey PRIMARY KEY (project_id, group_id)
);

CREATE INDEX group_rollups_resolved_idx ON analytics.group_rollups (project_id, resolved_at);
CREATE INDEX group_rollups_refreshed_idx ON analytics.group_rollups (project_id, refreshed_at);

-- Per project, now: open groups, tests judged flaky, tests in quarantine.
CREATE TABLE analytics.project_rollups (
    project_id         uuid NOT NULL,
    open_groups        bigint NOT NULL,
    flaky_tests        bigint NOT NULL,
    quarantined_tests  bigint NOT NULL,
    refreshed_at       timestamptz NOT NULL,
    CONSTRAINT project_rollups_pkey PRIMARY KEY (project_id)
);

ALTER TABLE analytics.event_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.event_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.event_inbox
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.rollup_slices ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_slices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.rollup_slices
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.build_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.build_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.build_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.daily_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.daily_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.daily_label_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_label_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.daily_label_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.test_daily_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_daily_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.test_daily_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.test_weekly_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_weekly_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.test_weekly_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.group_daily_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.group_daily_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.group_daily_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.group_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.group_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.group_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.project_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.project_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.project_rollups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The cross-project overview reads a user's projects side by side in one
-- statement. `app.member_project_ids` is set only by tenant-core's
-- `Db::member_projects_tx`, from the list of projects the project service
-- says the user is a member of; these policies let such a transaction
-- read (never write) the two rollups the overview shows, for exactly those
-- projects. Permissive policies are OR'ed, so tenant_isolation still
-- governs every other transaction, and an unset setting matches nothing.
CREATE POLICY member_overview ON analytics.daily_rollups FOR SELECT
    USING (project_id = ANY ((SELECT nullif(current_setting('app.member_project_ids', true), ''))::uuid[]));
CREATE POLICY member_overview ON analytics.project_rollups FOR SELECT
    USING (project_id = ANY ((SELECT nullif(current_setting('app.member_project_ids', true), ''))::uuid[]));

-- The reconciliation must find the projects that have rollups, across
-- projects, as a runtime role that cannot bypass RLS: as the outbox
-- relay does, it reads a view owned by the schema owner that shows
-- project ids and nothing else.
CREATE POLICY rollup_slices_owner_reads_all ON analytics.rollup_slices
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW analytics.rollup_projects AS
    SELECT project_id, min(refreshed_at) AS oldest_refreshed_at
      FROM analytics.rollup_slices
     GROUP BY project_id;
