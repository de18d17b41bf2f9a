-- The query benchmark's dataset, written straight into the services' own
-- tables by an admin connection: {projects} projects (slugs bench-000...,
-- plan enterprise), each with {builds} builds spread over the last {days}
-- days and {tests} tests run in every build, one result in twenty failing
-- with a message and a stack trace, in up to {groups} failure groups per
-- project. Ids are derived from md5 of stable
-- names, so every seed of the same size has the same ids.
--
-- Foreign keys and triggers are off for the load (session_replication_role
-- = replica): every row is consistent by construction, and the change feed
-- has nothing to say about projects no gateway has seen yet.

SET session_replication_role = replica;

INSERT INTO project.projects (id, slug, name, description, plan, status, created_at, updated_at)
SELECT md5('bench-project-' || p)::uuid,
       'bench-' || lpad(p::text, 3, '0'),
       'Bench project ' || p,
       'Benchmark dataset',
       'enterprise', 'active',
       now() - interval '{days} days', now() - interval '{days} days'
  FROM generate_series(0, {projects} - 1) AS p;

SELECT failure.ensure_test_results_partition(month::date)
  FROM generate_series(date_trunc('month', now() - interval '{days} days'),
                       date_trunc('month', now()), interval '1 month') AS month;

INSERT INTO failure.builds
    (project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
     started_at, finished_at, created_at, updated_at,
     tests_total, passed, failures, errors, skipped, flaky, duration_ms)
SELECT md5('bench-project-' || p)::uuid,
       md5('bench-build-' || p || '-' || b)::uuid,
       CASE WHEN b % 5 = 0 THEN 'nightly' ELSE 'ci' END,
       'run-' || b,
       b,
       CASE WHEN b % 3 = 0 THEN 'main' ELSE 'feature-' || (b % 7) END,
       substr(md5('commit-' || p || '-' || b), 1, 40),
       'https://ci.example.com/job/' || p || '/' || b,
       CASE WHEN fails > 0 THEN 'failed' ELSE 'passed' END,
       created_at, created_at + interval '12 minutes', created_at, created_at,
       {tests}, {tests} - fails, fails, 0, 0, 0, {tests} * 450
  FROM generate_series(0, {projects} - 1) AS p,
       generate_series(0, {builds} - 1) AS b,
       LATERAL (SELECT now() - interval '{days} days' * ({builds} - b)::float8 / {builds}
                       - interval '1 minute' * ((p * 7919) % 600) AS created_at) AS t,
       LATERAL (SELECT count(*)::bigint AS fails FROM generate_series(0, {tests} - 1) AS c
                 WHERE (b * 31 + c * 17 + p) % 20 = 0) AS f;

INSERT INTO failure.tests (project_id, id, suite, classname, name, file, first_seen_at, last_seen_at)
SELECT md5('bench-project-' || p)::uuid,
       md5('bench-test-' || p || '-' || c)::uuid,
       'com.acme.module' || (c / 50),
       'com.acme.module' || (c / 50) || '.Feature' || (c / 10) || 'Test',
       'should_handle_case_' || c,
       'src/test/java/com/acme/Feature' || (c / 10) || 'Test.java',
       now() - interval '{days} days', now()
  FROM generate_series(0, {projects} - 1) AS p,
       generate_series(0, {tests} - 1) AS c;

INSERT INTO failure.test_results
    (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
SELECT b.project_id,
       b.id,
       md5('bench-test-' || p || '-' || c)::uuid,
       b.created_at,
       CASE WHEN (b.number * 31 + c * 17 + p) % 20 = 0 THEN 'failed' ELSE 'passed' END,
       5 + (c * 37 + b.number * 11) % 900,
       0,
       b.created_at
  FROM generate_series(0, {projects} - 1) AS p
  JOIN failure.builds b ON b.project_id = md5('bench-project-' || p)::uuid,
       generate_series(0, {tests} - 1) AS c;

INSERT INTO failure.failures
    (project_id, id, build_id, test_id, kind, error_type, message, stack_trace, created_at,
     group_id)
SELECT r.project_id,
       md5('bench-failure-' || r.build_id || '-' || r.test_id)::uuid,
       r.build_id,
       r.test_id,
       'failure',
       (ARRAY['org.opentest4j.AssertionFailedError', 'java.net.SocketTimeoutException',
              'org.openqa.selenium.NoSuchElementException', 'java.lang.NullPointerException'])
           [1 + abs(hashtext(r.test_id::text)) % 4],
       'expected: <200> but was: <500> (request ' || substr(r.build_id::text, 1, 8) || ')',
       'org.opentest4j.AssertionFailedError: expected: <200> but was: <500>' || E'\n' ||
       E'\tat com.acme.checkout.FeatureTest.should_handle_case(FeatureTest.java:42)\n' ||
       E'\tat com.acme.checkout.client.ApiClient.send(ApiClient.java:118)\n' ||
       E'\tat com.acme.checkout.service.Service.call(Service.java:77)\n' ||
       E'\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:725)\n' ||
       E'\tat org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)\n' ||
       E'\tat org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)\n' ||
       E'\tat org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)\n',
       r.created_at,
       md5('bench-group-' || r.project_id || '-' || abs(hashtext(r.test_id::text)) % {groups})::uuid
  FROM failure.test_results r
 WHERE r.status = 'failed';

-- Up to {groups} failure groups per project (a failure's group follows its
-- test), with the figures uploads keep on them and labels spread over the
-- kinds, so the groups list (v2) reads what it reads in production.
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
 GROUP BY f.project_id, f.group_id;

RESET session_replication_role;
