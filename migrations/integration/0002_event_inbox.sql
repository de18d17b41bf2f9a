-- Events other services relay from their transactional outboxes (the
-- failure service's `group.created`, `build.completed`, ...), kept once
-- per event id: outboxes deliver at least once, so a redelivered event
-- meets its own primary key and is left as it was (ON CONFLICT DO
-- NOTHING). The integration actions of a later change read them from
-- here.
CREATE TABLE integration.event_inbox (
    project_id  uuid NOT NULL,
    event_id    uuid NOT NULL,
    source      text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, event_id)
);

-- A project's events in arrival order.
CREATE INDEX event_inbox_received_idx ON integration.event_inbox (project_id, received_at, event_id);

ALTER TABLE integration.event_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.event_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.event_inbox
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
