-- A failure's build, test and group were checked by three foreign keys:
-- a trigger, an index probe and a key-share row lock per row and per key,
-- 8 of the 13 ms a 250-failure batch took to insert (measured on the
-- benchmark's database). They are now checked once per statement, as the
-- results' are (0003, 0013): one set-based query over the rows the
-- statement inserted, each reference looked up by its whole key.
--
-- What this gives up is what 0003 gave up for results: the row locks on
-- the referenced build, test and group. None of them is ever deleted one
-- by one (no statement of the service deletes a build, a test or a
-- group), and the writer locks the build for the whole upload. An update
-- is checked too, for the rows whose build, test or group it changed
-- (uploads merging a failure and regroup batches move failures between
-- groups; labels and triage change none of the three).

ALTER TABLE failure.failures DROP CONSTRAINT failures_build_fkey;
ALTER TABLE failure.failures DROP CONSTRAINT failures_test_fkey;
ALTER TABLE failure.failures DROP CONSTRAINT failures_group_fkey;

-- Runs as the writing role, under its row level security: a failure can
-- only name a build, a test and a group of its own project. `OFFSET 0`
-- keeps each lookup a subquery of its own, one index probe a row, whatever
-- the statistics say of the project (0013).
CREATE FUNCTION failure.failures_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A statement's failures almost always share one build: looked up once.
        IF EXISTS (
            SELECT 1
              FROM (SELECT DISTINCT project_id, build_id FROM changed) AS r
             WHERE NOT EXISTS (SELECT 1 FROM failure.builds AS b
                                WHERE b.project_id = r.project_id AND b.id = r.build_id
                               OFFSET 0)
        ) OR EXISTS (
            SELECT 1
              FROM changed AS r
             WHERE NOT EXISTS (SELECT 1 FROM failure.tests AS t
                                WHERE t.project_id = r.project_id AND t.id = r.test_id
                               OFFSET 0)
                OR (r.group_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM failure.failure_groups AS g
                                     WHERE g.project_id = r.project_id AND g.id = r.group_id
                                    OFFSET 0))
        ) THEN
            RAISE EXCEPTION 'a failure names a build, a test or a group that does not exist'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF EXISTS (
        SELECT 1
          FROM changed AS r
          JOIN previous AS o ON o.project_id = r.project_id AND o.id = r.id
         WHERE (r.build_id, r.test_id, r.group_id) IS DISTINCT FROM (o.build_id, o.test_id, o.group_id)
           AND (NOT EXISTS (SELECT 1 FROM failure.builds AS b
                             WHERE b.project_id = r.project_id AND b.id = r.build_id
                            OFFSET 0)
                OR NOT EXISTS (SELECT 1 FROM failure.tests AS t
                                WHERE t.project_id = r.project_id AND t.id = r.test_id
                               OFFSET 0)
                OR (r.group_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM failure.failure_groups AS g
                                     WHERE g.project_id = r.project_id AND g.id = r.group_id
                                    OFFSET 0)))
    ) THEN
        RAISE EXCEPTION 'a failure names a build, a test or a group that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER failures_check_inserted_references
    AFTER INSERT ON failure.failures
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION failure.failures_check_references();
CREATE TRIGGER failures_check_updated_references
    AFTER UPDATE ON failure.failures
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION failure.failures_check_references();
