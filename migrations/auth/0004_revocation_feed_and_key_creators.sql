-- A commit-ordered feed of revoked sessions and API keys for the gateway,
-- and what the project service tells us about the people who create keys.

-- The feed. One row hands out sequence numbers: a revoking statement takes
-- a block of them with UPDATE, which holds the row lock until its
-- transaction commits, so sequence order is commit order and a poller
-- reading `seq > N` never skips a revocation that committed late (ordering
-- by `revoked_at`, the transaction's start, did). Not tenant data.
CREATE TABLE auth.revocation_counter (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq       bigint NOT NULL,
    -- Revocations up to here were pruned; a poller behind it starts over.
    pruned_through bigint NOT NULL
);
INSERT INTO auth.revocation_counter (singleton, last_seq, pruned_through)
VALUES (true, 0, 0);

-- One row per revoked session or API key. `recorded_at` is taken after the
-- counter's lock, so it grows with `seq`; a starting poller reads the rows
-- recorded within one access token lifetime (older sessions have no live
-- tokens), and rows older than twice that are pruned. Holds ids only, no
-- project data, so it is not row-secured (like auth.sessions).
CREATE TABLE auth.revocations (
    seq         bigint PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('session', 'api_key')),
    subject_id  uuid NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX revocations_recorded_idx ON auth.revocations (recorded_at);

CREATE FUNCTION auth.record_revocations(revoked_kind text, ids uuid[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    n    bigint := coalesce(cardinality(ids), 0);
    last bigint;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    UPDATE auth.revocation_counter SET last_seq = last_seq + n
     WHERE singleton
    RETURNING last_seq INTO last;
    INSERT INTO auth.revocations (seq, kind, subject_id)
    SELECT last - n + u.ord, revoked_kind, u.id
      FROM unnest(ids) WITH ORDINALITY AS u (id, ord);
END
$$;

-- Statement triggers rather than application code: no write path can
-- forget to signal (including manual fixes in psql), and a statement that
-- revokes thousands of sessions takes the counter once.
CREATE FUNCTION auth.sessions_revoked()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM auth.record_revocations('session', ARRAY(
        SELECT n.id FROM revoked_new n JOIN revoked_old o ON o.id = n.id
         WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL
         ORDER BY n.id));
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_revoked
    AFTER UPDATE ON auth.sessions
    REFERENCING OLD TABLE AS revoked_old NEW TABLE AS revoked_new
    FOR EACH STATEMENT EXECUTE FUNCTION auth.sessions_revoked();

CREATE FUNCTION auth.api_keys_revoked()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM auth.record_revocations('api_key', ARRAY(
        SELECT n.id FROM revoked_new n
          JOIN revoked_old o ON o.project_id = n.project_id AND o.id = n.id
         WHERE o.revoked_at IS NULL AND n.revoked_at IS NOT NULL
         ORDER BY n.id));
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_revoked
    AFTER UPDATE ON auth.api_keys
    REFERENCING OLD TABLE AS revoked_old NEW TABLE AS revoked_new
    FOR EACH STATEMENT EXECUTE FUNCTION auth.api_keys_revoked();

-- Sessions revoked shortly before this migration may still have live
-- tokens: a gateway that starts on the new feed must learn of them.
SELECT auth.record_revocations('session', ARRAY(
    SELECT id FROM auth.sessions
     WHERE revoked_at > now() - interval '2 hours'
     ORDER BY revoked_at, id));

-- Whether a member may keep the API keys they created, as the project
-- service last told us (its access change feed, relayed in order). A row
-- with may_create = false revokes the member's keys in that project and
-- refuses new ones until a later change says otherwise; `as_of_seq` (the
-- project service's change sequence the answer reflects) keeps a late,
-- repeated delivery from undoing a newer one. No row: nothing was heard
-- about the member since this table exists, and the caller's role decides.
CREATE TABLE auth.key_creators (
    project_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    may_create boolean NOT NULL,
    as_of_seq  bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);

ALTER TABLE auth.key_creators ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.key_creators FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth.key_creators
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Revoking a former admin's keys finds them by creator.
CREATE INDEX api_keys_creator_idx ON auth.api_keys (project_id, created_by) WHERE revoked_at IS NULL;
