-- Ingestion: totals on builds, tests with a stable identity, test results
-- partitioned by month, failures with capped excerpts, upload idempotency.

ALTER TABLE failure.builds
    ADD COLUMN tests_total   bigint NOT NULL DEFAULT 0,
    ADD COLUMN passed        bigint NOT NULL DEFAULT 0,
    ADD COLUMN failures      bigint NOT NULL DEFAULT 0,
    ADD COLUMN errors        bigint NOT NULL DEFAULT 0,
    ADD COLUMN skipped       bigint NOT NULL DEFAULT 0,
    ADD COLUMN flaky         bigint NOT NULL DEFAULT 0,
    ADD COLUMN duration_ms   bigint NOT NULL DEFAULT 0,
    ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();

-- Build list filters, newest first.
CREATE INDEX builds_job_recent_idx ON failure.builds (project_id, job_name, created_at DESC, id DESC);
CREATE INDEX builds_branch_recent_idx ON failure.builds (project_id, branch, created_at DESC, id DESC);
CREATE INDEX builds_status_recent_idx ON failure.builds (project_id, status, created_at DESC, id DESC);

-- A test across builds. `id` is derived from a hash of (project, suite or
-- file, classname, name) by the service, so the same test always has the
-- same id without a lookup.
CREATE TABLE failure.tests (
    project_id     uuid NOT NULL,
    id             uuid NOT NULL,
    suite          text NOT NULL,
    classname      text NOT NULL,
    name           text NOT NULL,
    file           text,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);

-- Test name substring search (failures list `test` filter).
CREATE INDEX tests_name_trgm_idx ON failure.tests
    USING gin (project_id, name extensions.gin_trgm_ops);

ALTER TABLE failure.tests ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.tests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.tests
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- One row per test per build, partitioned by the month the build was
-- created in, so retention drops whole partitions and every result of a
-- build lives in one partition (the key is the build's, not the row's).
CREATE TABLE failure.test_results (
    project_id        uuid NOT NULL,
    build_id          uuid NOT NULL,
    test_id           uuid NOT NULL,
    build_created_at  timestamptz NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('passed', 'failed', 'error', 'skipped', 'flaky')),
    duration_ms       bigint,
    retry_count       integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    CONSTRAINT test_results_pkey PRIMARY KEY (project_id, build_id, test_id, build_created_at),
    CONSTRAINT test_results_build_fkey FOREIGN KEY (project_id, build_id)
        REFERENCES failure.builds (project_id, id) ON DELETE CASCADE,
    CONSTRAINT test_results_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id)
) PARTITION BY RANGE (build_created_at);

-- A test's history, newest first.
CREATE INDEX test_results_history_idx ON failure.test_results (project_id, test_id, build_created_at DESC);

ALTER TABLE failure.test_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.test_results FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.test_results
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Creates the month's partition when missing. Partitions get the same
-- forced RLS and policy as the parent: a partition is a table of its own,
-- and a query naming it directly would otherwise bypass the parent's
-- policy. SECURITY DEFINER, so the runtime role (which must own nothing)
-- can create a partition on demand; the partition is owned by the owner.
CREATE FUNCTION failure.ensure_test_results_partition(month_start date)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first_day date := date_trunc('month', month_start)::date;
    partition_name text := format('test_results_%s', to_char(first_day, 'YYYY_MM'));
BEGIN
    IF to_regclass(format('failure.%I', partition_name)) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('failure.test_results'), hashtext(partition_name));
    IF to_regclass(format('failure.%I', partition_name)) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'CREATE TABLE failure.%I PARTITION OF failure.test_results FOR VALUES FROM (%L) TO (%L)',
        partition_name,
        (first_day::timestamp AT TIME ZONE 'UTC'),
        ((first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
    EXECUTE format('ALTER TABLE failure.%I ENABLE ROW LEVEL SECURITY', partition_name);
    EXECUTE format('ALTER TABLE failure.%I FORCE ROW LEVEL SECURITY', partition_name);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON failure.%I '
        'USING (project_id = (SELECT nullif(current_setting(''app.project_id'', true), '''')::uuid)) '
        'WITH CHECK (project_id = (SELECT nullif(current_setting(''app.project_id'', true), '''')::uuid))',
        partition_name);
END;
$$;

REVOKE ALL ON FUNCTION failure.ensure_test_results_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION failure.ensure_test_results_partition(date) TO failure_app;

-- Three months back and six ahead; the service creates others on demand.
SELECT failure.ensure_test_results_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
  FROM generate_series(-3, 6) AS m;

-- One row per failing test per build, with capped excerpts (the caps are
-- the service's settings; the columns hold what it kept).
CREATE TABLE failure.failures (
    project_id        uuid NOT NULL,
    id                uuid NOT NULL,
    build_id          uuid NOT NULL,
    test_id           uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('failure', 'error')),
    error_type        text,
    message           text,
    stack_trace       text,
    system_out        text,
    system_err        text,
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (project_id, id),
    CONSTRAINT failures_build_test_key UNIQUE (project_id, build_id, test_id),
    CONSTRAINT failures_build_fkey FOREIGN KEY (project_id, build_id)
        REFERENCES failure.builds (project_id, id) ON DELETE CASCADE,
    CONSTRAINT failures_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id)
);

-- The failures list, newest first, unfiltered and by error type; by build
-- is served by failures_build_test_key's prefix plus a sort of one build's
-- failures; by test for a test's failures.
CREATE INDEX failures_recent_idx ON failure.failures (project_id, created_at DESC, id DESC);
CREATE INDEX failures_type_recent_idx ON failure.failures (project_id, error_type, created_at DESC, id DESC);
CREATE INDEX failures_test_recent_idx ON failure.failures (project_id, test_id, created_at DESC, id DESC);

ALTER TABLE failure.failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.failures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.failures
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Uploads made with an Idempotency-Key: a retry with the same key and the
-- same body gets the recorded response instead of being counted twice.
CREATE TABLE failure.uploads (
    project_id       uuid NOT NULL,
    build_id         uuid NOT NULL,
    idempotency_key  text NOT NULL,
    request_hash     bytea NOT NULL,
    response         jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, build_id, idempotency_key),
    CONSTRAINT uploads_build_fkey FOREIGN KEY (project_id, build_id)
        REFERENCES failure.builds (project_id, id) ON DELETE CASCADE
);

ALTER TABLE failure.uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.uploads
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
