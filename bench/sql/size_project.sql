-- One project of the read-cost curve, bench-size-{label}: {builds} builds
-- over the last {days} days of {tests} tests each, so {builds} x {tests}
-- test results, one in twenty failing (in up to {groups} failure groups),
-- as the main seed's projects are made. Runs after the main seed, with
-- its partitions in place and triggers off.

SET session_replication_role = replica;

INSERT INTO project.projects (id, slug, name, description, plan, status, created_at, updated_at)
VALUES (md5('bench-size-{label}')::uuid, 'bench-size-{label}', 'Bench size {label}',
        'Benchmark dataset: a point of the read-cost curve', 'enterprise', 'active',
        now() - interval '{days} days', now() - interval '{days} days');

INSERT INTO failure.tests (project_id, id, suite, classname, name, file, first_seen_at, last_seen_at)
SELECT md5('bench-size-{label}')::uuid,
       md5('bench-size-{label}-test-' || c)::uuid,
       'com.acme.module' || (c / 200),
       'com.acme.module' || (c / 200) || '.Feature' || (c / 20) || 'Test',
       'should_handle_case_' || c,
       'src/test/java/com/acme/Feature' || (c / 20) || 'Test.java',
       now() - interval '{days} days', now()
  FROM generate_series(0, {tests} - 1) AS c;

INSERT INTO failure.builds
    (project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
     started_at, finished_at, created_at, updated_at,
     tests_total, passed, failures, errors, skipped, flaky, duration_ms)
SELECT md5('bench-size-{label}')::uuid,
       md5('bench-size-{label}-build-' || b)::uuid,
       'ci', 'run-' || b, b,
       CASE WHEN b % 3 = 0 THEN 'main' ELSE 'feature-' || (b % 7) END,
       substr(md5('size-commit-{label}-' || b), 1, 40),
       'https://ci.example.com/job/size-{label}/' || b,
       'failed', t.created_at, t.created_at + interval '15 minutes', t.created_at, t.created_at,
       {tests}, {tests} - {tests} / 20, {tests} / 20, 0, 0, 0, {tests} * 450
  FROM generate_series(0, {builds} - 1) AS b,
       LATERAL (SELECT now() - interval '{days} days' * ({builds} - b)::float8 / {builds}
                       - interval '10 minutes' AS created_at) AS t;

INSERT INTO failure.test_results
    (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
SELECT bu.project_id, bu.id, md5('bench-size-{label}-test-' || c)::uuid, bu.created_at,
       CASE WHEN (bu.number + c) % 20 = 0 THEN 'failed' ELSE 'passed' END,
       5 + (c * 37 + bu.number * 11) % 900, 0, bu.created_at
  FROM failure.builds bu,
       generate_series(0, {tests} - 1) AS c
 WHERE bu.project_id = md5('bench-size-{label}')::uuid;

INSERT INTO failure.failures
    (project_id, id, build_id, test_id, kind, error_type, message, stack_trace, created_at,
     group_id)
SELECT r.project_id,
       md5('bench-failure-' || r.build_id || '-' || r.test_id)::uuid,
       r.build_id, r.test_id, 'failure',
       (ARRAY['org.opentest4j.AssertionFailedError', 'java.net.SocketTimeoutException',
              'org.openqa.selenium.NoSuchElementException', 'java.lang.NullPointerException'])
           [1 + abs(hashtext(r.test_id::text)) % 4],
       'expected: <200> but was: <500> (request ' || substr(r.build_id::text, 1, 8) || ')',
       'org.opentest4j.AssertionFailedError: expected: <200> but was: <500>' || E'\n' ||
       E'\tat com.acme.checkout.FeatureTest.should_handle_case(FeatureTest.java:42)\n' ||
       E'\tat com.acme.checkout.client.ApiClient.send(ApiClient.java:118)\n',
       r.created_at,
       md5('bench-size-{label}-group-' || abs(hashtext(r.test_id::text)) % {groups})::uuid
  FROM failure.test_results r
 WHERE r.project_id = md5('bench-size-{label}')::uuid AND r.status = 'failed';

-- The names of the tests that failed (the failures list's test filter).
INSERT INTO failure.failed_test_names (project_id, test_id, name)
SELECT t.project_id, t.id, t.name
  FROM failure.tests t
 WHERE t.project_id = md5('bench-size-{label}')::uuid
   AND EXISTS (SELECT 1 FROM failure.failures f
                WHERE f.project_id = t.project_id AND f.test_id = t.id)
ON CONFLICT DO NOTHING;

INSERT INTO failure.failure_groups
    (project_id, id, grouping_version, signature_hash, exception_type, frames, template,
     message, stack_trace, first_seen_at, last_seen_at, occurrences, affected_tests,
     last_build_id, last_failure_id, label, confidence, label_source)
SELECT f.project_id, f.group_id, 1, md5(f.project_id::text || f.group_id::text),
       min(f.error_type), ARRAY['FeatureTest.should_handle_case', 'ApiClient.send'],
       NULL, min(f.message), min(f.stack_trace), min(f.created_at), max(f.created_at),
       count(*), count(DISTINCT f.test_id),
       (array_agg(f.build_id ORDER BY f.created_at DESC))[1],
       (array_agg(f.id ORDER BY f.created_at DESC))[1],
       (ARRAY['product_bug', 'automation_bug', 'infrastructure', 'to_investigate'])
           [1 + abs(hashtext(f.group_id::text)) % 4],
       0.9, 'rule'
  FROM failure.failures f
 WHERE f.project_id = md5('bench-size-{label}')::uuid
 GROUP BY f.project_id, f.group_id;

RESET session_replication_role;
