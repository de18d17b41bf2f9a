-- The read model the failure service publishes for the analytics service
-- (docs/analytics.md "Contract"), and the outbox queue that carries its
-- events to analytics. Expand only: new views, a new table, a trigger.

-- Views. `security_invoker` makes each view run with the reading role's
-- privileges and row level security, so `analytics_app` sees exactly the
-- rows of the project its transaction is confined to (tenant_isolation of
-- the base tables). The invoker therefore needs SELECT on the base
-- tables too: it gets it column by column, on the columns the views
-- expose and nothing else (messages, stack traces and outputs stay
-- private). Analytics reads only these views, never the tables; a test in
-- the analytics service fails when its SQL names any other failure
-- relation.

-- Builds: what a build is (job, branch) and how it ended.
CREATE VIEW failure.analytics_builds WITH (security_invoker = true) AS
    SELECT project_id, id, job_name, branch, status, started_at, finished_at,
           created_at, infrastructure_outage
      FROM failure.builds;

-- Tests: their names, for rankings.
CREATE VIEW failure.analytics_tests WITH (security_invoker = true) AS
    SELECT project_id, id, suite, classname, name
      FROM failure.tests;

-- Results: one row per test per build, with its outcome and duration.
CREATE VIEW failure.analytics_test_results WITH (security_invoker = true) AS
    SELECT project_id, build_id, test_id, build_created_at, status, duration_ms
      FROM failure.test_results;

-- Failures: which group and label each failing result has. `attempt` 0 is
-- the outcome the report states; earlier failed attempts are retries.
CREATE VIEW failure.analytics_failures WITH (security_invoker = true) AS
    SELECT project_id, id, build_id, test_id, group_id, label, attempt, created_at
      FROM failure.failures;

-- Groups: when first seen, where they stand now.
CREATE VIEW failure.analytics_groups WITH (security_invoker = true) AS
    SELECT project_id, id, exception_type, template, label, status, first_seen_at,
           last_seen_at
      FROM failure.failure_groups;

-- Triage history: status changes, for time to triage and to resolution.
CREATE VIEW failure.analytics_group_activity WITH (security_invoker = true) AS
    SELECT project_id, id, group_id, kind, old_value, new_value, created_at
      FROM failure.group_activity;

-- Flaky and broken tests as the monitors judge them now.
CREATE VIEW failure.analytics_test_health WITH (security_invoker = true) AS
    SELECT project_id, test_id, state
      FROM failure.test_health;

-- Tests in quarantine now.
CREATE VIEW failure.analytics_quarantined_tests WITH (security_invoker = true) AS
    SELECT project_id, test_id, created_at
      FROM failure.quarantined_tests;

GRANT SELECT ON failure.analytics_builds, failure.analytics_tests,
    failure.analytics_test_results, failure.analytics_failures, failure.analytics_groups,
    failure.analytics_group_activity, failure.analytics_test_health,
    failure.analytics_quarantined_tests TO analytics_app;

GRANT SELECT (project_id, id, job_name, branch, status, started_at, finished_at, created_at,
              infrastructure_outage) ON failure.builds TO analytics_app;
GRANT SELECT (project_id, id, suite, classname, name) ON failure.tests TO analytics_app;
GRANT SELECT (project_id, build_id, test_id, build_created_at, status, duration_ms)
    ON failure.test_results TO analytics_app;
GRANT SELECT (project_id, id, build_id, test_id, group_id, label, attempt, created_at)
    ON failure.failures TO analytics_app;
GRANT SELECT (project_id, id, exception_type, template, label, status, first_seen_at, last_seen_at)
    ON failure.failure_groups TO analytics_app;
GRANT SELECT (project_id, id, group_id, kind, old_value, new_value, created_at)
    ON failure.group_activity TO analytics_app;
GRANT SELECT (project_id, test_id, state) ON failure.test_health TO analytics_app;
GRANT SELECT (project_id, test_id, created_at) ON failure.quarantined_tests TO analytics_app;

-- A second receiver for the outbox: the analytics service. Each receiver
-- has its own queue with its own delivery state, so one receiver being
-- down delays only its own events, and each is retried and pruned on its
-- own. `failure.outbox` stays the integration gateway's queue; every event
-- written to it is copied here in the same statement (the trigger below),
-- so publishers keep calling one `publish`. Same shape as
-- `failure.outbox` (tenant-core's `outbox` module).
CREATE TABLE failure.outbox_analytics (
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    kind            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    CONSTRAINT outbox_analytics_pkey PRIMARY KEY (project_id, id)
);

CREATE INDEX outbox_analytics_due_idx ON failure.outbox_analytics (project_id, next_attempt_at, id)
    WHERE delivered_at IS NULL;
CREATE INDEX outbox_analytics_delivered_idx ON failure.outbox_analytics (project_id, delivered_at)
    WHERE delivered_at IS NOT NULL;

ALTER TABLE failure.outbox_analytics ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.outbox_analytics FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.outbox_analytics
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
-- As for `failure.outbox`: the owner's views below show the relay which
-- projects have events waiting, never an event.
CREATE POLICY outbox_owner_reads_all ON failure.outbox_analytics
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW failure.outbox_analytics_projects AS
    SELECT project_id, count(*) AS pending, min(next_attempt_at) AS next_attempt_at
      FROM failure.outbox_analytics
     WHERE delivered_at IS NULL
     GROUP BY project_id;

CREATE VIEW failure.outbox_analytics_delivered_projects AS
    SELECT project_id, min(delivered_at) AS oldest_delivered_at
      FROM failure.outbox_analytics
     WHERE delivered_at IS NOT NULL
     GROUP BY project_id;

-- The copy runs as the inserting role (no SECURITY DEFINER), so the new
-- rows pass the same tenant_isolation check as the outbox rows they copy.
CREATE FUNCTION failure.copy_outbox_to_analytics() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO failure.outbox_analytics (project_id, id, kind, occurred_at, payload)
    SELECT project_id, id, kind, occurred_at, payload FROM inserted_events;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_copy_to_analytics
    AFTER INSERT ON failure.outbox
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION failure.copy_outbox_to_analytics();
