-- Which events a project sends through which connection, and every
-- delivery those rules made of an inbox event.

CREATE TABLE integration.notification_rules (
    project_id    uuid NOT NULL,
    id            uuid NOT NULL,
    connection_id uuid NOT NULL,
    events        text[] NOT NULL,
    branch_filter text,
    labels        text[],
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    CONSTRAINT notification_rules_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT notification_rules_connection_fkey FOREIGN KEY (project_id, connection_id)
        REFERENCES integration.connections (project_id, id) ON DELETE CASCADE
);

CREATE INDEX notification_rules_connection_idx
    ON integration.notification_rules (project_id, connection_id);

ALTER TABLE integration.notification_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.notification_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.notification_rules
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- One delivery per event and connection, however many rules matched it:
-- the receiver sees each event once (a webhook's `webhook-id` is the
-- event id). Made in the same transaction that stores the event, so an
-- acknowledged event always has its deliveries.
CREATE TABLE integration.deliveries (
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    event_id        uuid NOT NULL,
    connection_id   uuid NOT NULL,
    status          text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    last_status     integer,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    CONSTRAINT deliveries_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT deliveries_event_connection_key UNIQUE (project_id, event_id, connection_id),
    CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'delivered', 'dead')),
    CONSTRAINT deliveries_event_fkey FOREIGN KEY (project_id, event_id)
        REFERENCES integration.event_inbox (project_id, event_id),
    CONSTRAINT deliveries_connection_fkey FOREIGN KEY (project_id, connection_id)
        REFERENCES integration.connections (project_id, id) ON DELETE CASCADE
);

CREATE INDEX deliveries_due_idx ON integration.deliveries (project_id, next_attempt_at, id)
    WHERE status = 'pending';
CREATE INDEX deliveries_connection_idx ON integration.deliveries (project_id, connection_id, id);

ALTER TABLE integration.deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration.deliveries
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The delivery worker must find the projects with deliveries due, across
-- projects, as a runtime role that cannot bypass RLS: the view runs as its
-- owner and shows project ids and times only. Claiming and sending run per
-- project under tenant_isolation.
CREATE POLICY deliveries_owner_reads_all ON integration.deliveries
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW integration.delivery_projects AS
    SELECT project_id, min(next_attempt_at) AS next_attempt_at
      FROM integration.deliveries
     WHERE status = 'pending'
     GROUP BY project_id;
