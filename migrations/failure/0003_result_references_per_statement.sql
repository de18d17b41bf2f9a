-- Test results are the one table that grows by the hundred thousand rows
-- an upload. Their foreign keys checked each row on its own (one trigger
-- and one index probe per row and per key: more than half of an upload's
-- time in the database). The same rule is now checked once per statement,
-- over all the rows it inserted, as one set-based query.
--
-- What this gives up: the row locks a foreign key takes on the referenced
-- build and test. Builds and tests are never deleted one by one (results
-- leave with their monthly partition), and the writer locks the build for
-- the whole upload, so no referenced row can go away in between. Rows
-- inserted into a partition directly, not through failure.test_results,
-- are not checked; the service never does that.

ALTER TABLE failure.test_results DROP CONSTRAINT test_results_build_fkey;
ALTER TABLE failure.test_results DROP CONSTRAINT test_results_test_fkey;

-- Runs as the inserting role, under its row level security: a result can
-- only name a build and a test of its own project.
CREATE FUNCTION failure.test_results_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A statement's rows almost always share one build: look it up once.
    IF EXISTS (
        SELECT 1
          FROM (SELECT DISTINCT project_id, build_id FROM inserted) AS r
         WHERE NOT EXISTS (SELECT 1 FROM failure.builds AS b
                            WHERE b.project_id = r.project_id AND b.id = r.build_id)
    ) OR EXISTS (
        SELECT 1
          FROM inserted AS r
         WHERE NOT EXISTS (SELECT 1 FROM failure.tests AS t
                            WHERE t.project_id = r.project_id AND t.id = r.test_id)
    ) THEN
        RAISE EXCEPTION 'a test result names a build or a test that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER test_results_check_references
    AFTER INSERT ON failure.test_results
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION failure.test_results_check_references();
