-- The project-count curve's filler: projects {from}..{to} (slugs
-- bench-count-NNNNNNN), each with one build of {tests} tests made a day
-- ago, one of them failing, in one failure group. Triggers off, as in the
-- seed: every row is consistent by construction.

SET session_replication_role = replica;

INSERT INTO project.projects (id, slug, name, description, plan, status, created_at, updated_at)
SELECT md5('bench-count-' || p)::uuid, 'bench-count-' || lpad(p::text, 7, '0'),
       'Bench count ' || p, 'Benchmark dataset: a point of the project-count curve',
       'free', 'active', now() - interval '1 day', now() - interval '1 day'
  FROM generate_series({from}, {to}) AS p;

INSERT INTO failure.builds
    (project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
     started_at, finished_at, created_at, updated_at,
     tests_total, passed, failures, errors, skipped, flaky, duration_ms)
SELECT md5('bench-count-' || p)::uuid, md5('bench-count-build-' || p)::uuid,
       'ci', 'run-0', 0, 'main', substr(md5('count-commit-' || p), 1, 40),
       'https://ci.example.com/job/count/' || p, 'failed',
       now() - interval '1 day', now() - interval '1 day' + interval '5 minutes',
       now() - interval '1 day', now() - interval '1 day',
       {tests}, {tests} - 1, 1, 0, 0, 0, {tests} * 450
  FROM generate_series({from}, {to}) AS p;

INSERT INTO failure.tests (project_id, id, suite, classname, name, file, first_seen_at, last_seen_at)
SELECT md5('bench-count-' || p)::uuid, md5('bench-count-test-' || p || '-' || c)::uuid,
       'com.acme', 'com.acme.FeatureTest', 'should_handle_case_' || c,
       'src/test/java/com/acme/FeatureTest.java', now() - interval '1 day', now() - interval '1 day'
  FROM generate_series({from}, {to}) AS p,
       generate_series(0, {tests} - 1) AS c;

INSERT INTO failure.test_results
    (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
SELECT b.project_id, b.id, md5('bench-count-test-' || p || '-' || c)::uuid, b.created_at,
       CASE WHEN c = 0 THEN 'failed' ELSE 'passed' END, 120, 0, b.created_at
  FROM generate_series({from}, {to}) AS p
  JOIN failure.builds b
    ON b.project_id = md5('bench-count-' || p)::uuid AND b.id = md5('bench-count-build-' || p)::uuid,
       generate_series(0, {tests} - 1) AS c;

INSERT INTO failure.failures
    (project_id, id, build_id, test_id, kind, error_type, message, stack_trace, created_at,
     group_id)
SELECT md5('bench-count-' || p)::uuid, md5('bench-count-failure-' || p)::uuid,
       md5('bench-count-build-' || p)::uuid, md5('bench-count-test-' || p || '-0')::uuid,
       'failure', 'org.opentest4j.AssertionFailedError', 'expected: <200> but was: <500>',
       E'org.opentest4j.AssertionFailedError: expected: <200> but was: <500>\n' ||
       E'\tat com.acme.FeatureTest.should_handle_case_0(FeatureTest.java:42)\n',
       now() - interval '1 day', md5('bench-count-group-' || p)::uuid
  FROM generate_series({from}, {to}) AS p;

-- The names of the tests that failed (the failures list's test filter).
INSERT INTO failure.failed_test_names (project_id, test_id, name)
SELECT t.project_id, t.id, t.name
  FROM failure.tests t
 WHERE t.project_id IN (SELECT md5('bench-count-' || p)::uuid FROM generate_series({from}, {to}) AS p)
   AND EXISTS (SELECT 1 FROM failure.failures f
                WHERE f.project_id = t.project_id AND f.test_id = t.id)
ON CONFLICT DO NOTHING;

INSERT INTO failure.failure_groups
    (project_id, id, grouping_version, signature_hash, exception_type, frames, template,
     message, stack_trace, first_seen_at, last_seen_at, occurrences, affected_tests,
     last_build_id, last_failure_id, label, confidence, label_source)
SELECT md5('bench-count-' || p)::uuid, md5('bench-count-group-' || p)::uuid, 1,
       md5('bench-count-signature-' || p), 'org.opentest4j.AssertionFailedError',
       ARRAY['FeatureTest.should_handle_case_0'], NULL, 'expected: <200> but was: <500>',
       E'org.opentest4j.AssertionFailedError: expected: <200> but was: <500>\n',
       now() - interval '1 day', now() - interval '1 day', 1, 1,
       md5('bench-count-build-' || p)::uuid, md5('bench-count-failure-' || p)::uuid,
       'to_investigate', 0.5, 'rule'
  FROM generate_series({from}, {to}) AS p;

RESET session_replication_role;
