-- The failure service's transactional outbox (tenant-core's `outbox`
-- module documents the pattern this copies). Events are written in the
-- same transaction as the change they describe and relayed at least once
-- to the integration gateway, which keeps each event id once.

-- `id` is the event's UUIDv7. An event is due while `delivered_at` is
-- NULL and `next_attempt_at` has passed; a failed delivery counts an
-- attempt, keeps its cause in `last_error` and moves `next_attempt_at`
-- (exponential backoff with jitter). Delivered events are pruned after
-- `service.outbox_retention_hours`.
CREATE TABLE failure.outbox (
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    kind            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (project_id, id)
);

-- A project's due events, for the relay's claim.
CREATE INDEX outbox_due_idx ON failure.outbox (project_id, next_attempt_at, id)
    WHERE delivered_at IS NULL;
-- A project's delivered events by age, for pruning.
CREATE INDEX outbox_delivered_idx ON failure.outbox (project_id, delivered_at)
    WHERE delivered_at IS NOT NULL;

ALTER TABLE failure.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.outbox
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The relay must find the projects that have events waiting, across
-- projects, as a runtime role that cannot bypass RLS. It reads the two
-- views below, which run as their owner (the schema owner, who runs this
-- migration) and show project ids, counts and times, never an event. The
-- owner may read every row for them: it owns the table and could turn its
-- RLS off anyway, so this grants nothing new. Claiming, marking delivered,
-- scheduling retries and pruning run per project under tenant_isolation.
CREATE POLICY outbox_owner_reads_all ON failure.outbox
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW failure.outbox_projects AS
    SELECT project_id, count(*) AS pending, min(next_attempt_at) AS next_attempt_at
      FROM failure.outbox
     WHERE delivered_at IS NULL
     GROUP BY project_id;

CREATE VIEW failure.outbox_delivered_projects AS
    SELECT project_id, min(delivered_at) AS oldest_delivered_at
      FROM failure.outbox
     WHERE delivered_at IS NOT NULL
     GROUP BY project_id;
