-- The per-statement reference check of test results (0003) let the planner
-- join the inserted rows to the project's tests as it liked. Right after a
-- project's first large upload, before ANALYZE has seen its new tests, the
-- planner thinks the project has a handful of tests and picks a nested
-- loop over all of them (the test id only filtered, not looked up): with
-- 100,000 tests that is billions of comparisons per 5,000-row batch, and
-- the next upload ran into the statement timeout.
--
-- Each row's build and test are now looked up by their whole key, one
-- index probe per inserted row: `OFFSET 0` keeps each NOT EXISTS a
-- subquery of its own, so it cannot be turned into a join whose plan
-- depends on how many tests the statistics say the project has.

CREATE OR REPLACE FUNCTION failure.test_results_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A statement's rows almost always share one build: look it up once.
    IF EXISTS (
        SELECT 1
          FROM (SELECT DISTINCT project_id, build_id FROM inserted) AS r
         WHERE NOT EXISTS (SELECT 1 FROM failure.builds AS b
                            WHERE b.project_id = r.project_id AND b.id = r.build_id
                           OFFSET 0)
    ) OR EXISTS (
        SELECT 1
          FROM inserted AS r
         WHERE NOT EXISTS (SELECT 1 FROM failure.tests AS t
                            WHERE t.project_id = r.project_id AND t.id = r.test_id
                           OFFSET 0)
    ) THEN
        RAISE EXCEPTION 'a test result names a build or a test that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
