-- Projects get settings, lifecycle timestamps and idempotent creation;
-- memberships become readable by their own user outside a project; and a
-- change feed tells the gateway when cached access must be dropped.

-- The registry stays unsecured (see 0001). Creation is idempotent per
-- creator and Idempotency-Key: the key and a fingerprint of the request
-- live on the project row itself, so the unique constraint settles two
-- concurrent retries and no separate table has to be kept in step.
ALTER TABLE project.projects
    ADD COLUMN settings            jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN archived_at         timestamptz,
    ADD COLUMN deleted_at          timestamptz,
    ADD COLUMN created_by          uuid,
    ADD COLUMN idempotency_key     text,
    ADD COLUMN request_fingerprint text,
    ADD CONSTRAINT projects_idempotency_key UNIQUE (created_by, idempotency_key);

-- `{project}` in a path is an id or a slug: a slug that reads as a UUID
-- would be ambiguous. NOT VALID: it applies to new and updated rows.
ALTER TABLE project.projects
    ADD CONSTRAINT projects_slug_not_uuid CHECK (
        slug !~ '^[0-9a-f]{32}$'
        AND slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    ) NOT VALID;

-- "My projects" and the gateway's access check know the user before any
-- project: they run with app.user_id set and app.project_id unset, and may
-- then read that user's own membership rows, and nothing else. Inside a
-- project the usual tenant_isolation policy alone applies, and writes are
-- always confined to the project.
CREATE POLICY own_memberships ON project.memberships
    FOR SELECT
    USING (
        (SELECT nullif(current_setting('app.project_id', true), '')) IS NULL
        AND user_id = (SELECT nullif(current_setting('app.user_id', true), '')::uuid)
    );

CREATE INDEX memberships_user_idx ON project.memberships (user_id, project_id);

-- The change feed. One row hands out sequence numbers: a writer takes the
-- next one with UPDATE, which holds the row lock until it commits, so
-- sequence order is commit order and a poller reading `seq > N` never
-- skips a change that committed late. Not tenant data: it has no
-- project_id and only ever holds two numbers.
CREATE TABLE project.access_change_counter (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq       bigint NOT NULL,
    -- Changes up to here were pruned; a poller behind it must start over.
    pruned_through bigint NOT NULL
);
INSERT INTO project.access_change_counter (singleton, last_seq, pruned_through)
VALUES (true, 0, 0);

-- One row per change of a membership (user_id set) or of a project's
-- status, plan or slug (user_id NULL: every member's access changed).
-- Written only by the triggers below, inside the changing project's
-- transaction, so tenant_isolation confines writes as everywhere else.
-- Reading the whole feed across projects is for the gateway's poll only:
-- the transaction opts in with app.access_feed = 'read'.
CREATE TABLE project.access_changes (
    project_id uuid NOT NULL,
    seq        bigint NOT NULL,
    user_id    uuid,
    kind       text NOT NULL CHECK (kind IN ('membership', 'project')),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, seq)
);

CREATE UNIQUE INDEX access_changes_seq_key ON project.access_changes (seq);

ALTER TABLE project.access_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE project.access_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON project.access_changes
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
CREATE POLICY access_feed_read ON project.access_changes
    FOR SELECT
    USING ((SELECT current_setting('app.access_feed', true)) = 'read');
CREATE POLICY access_feed_prune ON project.access_changes
    FOR DELETE
    USING ((SELECT current_setting('app.access_feed', true)) = 'read');

CREATE FUNCTION project.record_access_change(changed_project uuid, changed_user uuid, change_kind text)
RETURNS void
LANGUAGE sql
AS $$
    WITH next AS (
        UPDATE project.access_change_counter
           SET last_seq = last_seq + 1
         WHERE singleton
        RETURNING last_seq
    )
    INSERT INTO project.access_changes (project_id, seq, user_id, kind)
    SELECT changed_project, next.last_seq, changed_user, change_kind FROM next;
$$;

-- Triggers rather than application code: no write path can forget to
-- signal, including manual fixes in psql.
CREATE FUNCTION project.membership_access_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM project.record_access_change(OLD.project_id, OLD.user_id, 'membership');
    ELSIF TG_OP = 'INSERT' OR NEW.role IS DISTINCT FROM OLD.role THEN
        PERFORM project.record_access_change(NEW.project_id, NEW.user_id, 'membership');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_access_changed
    AFTER INSERT OR UPDATE OR DELETE ON project.memberships
    FOR EACH ROW EXECUTE FUNCTION project.membership_access_changed();

CREATE FUNCTION project.project_access_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       OR NEW.plan IS DISTINCT FROM OLD.plan
       OR NEW.slug IS DISTINCT FROM OLD.slug THEN
        PERFORM project.record_access_change(NEW.id, NULL, 'project');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER projects_access_changed
    AFTER UPDATE ON project.projects
    FOR EACH ROW EXECUTE FUNCTION project.project_access_changed();
