-- The failures list's test-name filter can only ever match a test that
-- has failed, so only those tests' names are indexed for substring search:
-- one row per test that has a failure, written by the upload with its
-- failures. A trigram index on every test's name cost a first upload of
-- 100,000 new tests about 0.7 s of its database time (1M new tests, about
-- 7 s) for names that no failure list can return; a report's new failing
-- tests (a few percent of it) now pay it instead.
CREATE TABLE failure.failed_test_names (
    project_id uuid NOT NULL,
    test_id    uuid NOT NULL,
    name       text NOT NULL,
    CONSTRAINT failed_test_names_pkey PRIMARY KEY (project_id, test_id),
    CONSTRAINT failed_test_names_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id) ON DELETE CASCADE
);

CREATE INDEX failed_test_names_name_trgm_idx ON failure.failed_test_names
    USING gin (project_id, name extensions.gin_trgm_ops);

ALTER TABLE failure.failed_test_names ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.failed_test_names FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.failed_test_names
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The tests that failed before this migration. Row level security is
-- forced on the owner too, so the backfill lifts it for this transaction
-- only (the ALTERs hold the tables exclusively until the migration commits).
ALTER TABLE failure.failed_test_names NO FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.failures NO FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.tests NO FORCE ROW LEVEL SECURITY;
INSERT INTO failure.failed_test_names (project_id, test_id, name)
SELECT t.project_id, t.id, t.name
  FROM failure.tests t
 WHERE EXISTS (SELECT 1 FROM failure.failures f
                WHERE f.project_id = t.project_id AND f.test_id = t.id);
ALTER TABLE failure.failed_test_names FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.failures FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.tests FORCE ROW LEVEL SECURITY;

DROP INDEX failure.tests_name_trgm_idx;
