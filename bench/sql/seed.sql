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

-- The analytics benchmark's big project, bench-big: {big_builds} builds
-- over the last {days} days (about one in three on main, the others on
-- seven feature branches; one in five a nightly job) of {big_tests} tests
-- each, so {big_builds} x {big_tests} test results. One result in twenty
-- fails (in up to {big_groups} groups), one in two hundred passes on a
-- retry (flaky), one in a hundred is skipped. Some groups are triaged and
-- resolved (with their status changes), some tests are judged flaky and
-- a few are in quarantine, so every dashboard has something to count.
INSERT INTO project.projects (id, slug, name, description, plan, status, created_at, updated_at)
VALUES (md5('bench-project-big')::uuid, 'bench-big', 'Bench big project',
        'Benchmark dataset: the analytics project', 'enterprise', 'active',
        now() - interval '{days} days', now() - interval '{days} days');

INSERT INTO failure.tests (project_id, id, suite, classname, name, file, first_seen_at, last_seen_at)
SELECT md5('bench-project-big')::uuid,
       md5('bench-big-test-' || c)::uuid,
       'com.acme.module' || (c / 200),
       'com.acme.module' || (c / 200) || '.Feature' || (c / 20) || 'Test',
       'should_handle_case_' || c,
       'src/test/java/com/acme/Feature' || (c / 20) || 'Test.java',
       now() - interval '{days} days', now()
  FROM generate_series(0, {big_tests} - 1) AS c;

CREATE TEMPORARY TABLE bench_big_outcomes AS
SELECT b, c,
       CASE WHEN (b * 31 + c * 17) % 20 = 0 THEN 'failed'
            WHEN (b * 13 + c * 7) % 200 = 1 THEN 'flaky'
            WHEN (b * 11 + c * 3) % 100 = 2 THEN 'skipped'
            ELSE 'passed' END AS status
  FROM generate_series(0, {big_builds} - 1) AS b,
       generate_series(0, {big_tests} - 1) AS c;

INSERT INTO failure.builds
    (project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
     started_at, finished_at, created_at, updated_at,
     tests_total, passed, failures, errors, skipped, flaky, duration_ms)
SELECT md5('bench-project-big')::uuid,
       md5('bench-big-build-' || b)::uuid,
       CASE WHEN b % 5 = 0 THEN 'nightly' ELSE 'ci' END,
       'run-' || b,
       b,
       CASE WHEN b % 3 = 0 THEN 'main' ELSE 'feature-' || (b % 7) END,
       substr(md5('big-commit-' || b), 1, 40),
       'https://ci.example.com/job/big/' || b,
       CASE WHEN o.failed > 0 THEN 'failed' ELSE 'passed' END,
       t.created_at, t.created_at + interval '20 minutes', t.created_at, t.created_at,
       {big_tests}, o.passed, o.failed, 0, o.skipped, o.flaky, {big_tests} * 450
  FROM generate_series(0, {big_builds} - 1) AS b,
       LATERAL (SELECT now() - interval '{days} days' * ({big_builds} - b)::float8 / {big_builds}
                       - interval '10 minutes' AS created_at) AS t,
       LATERAL (SELECT count(*) FILTER (WHERE status = 'failed') AS failed,
                       count(*) FILTER (WHERE status = 'passed') AS passed,
                       count(*) FILTER (WHERE status = 'skipped') AS skipped,
                       count(*) FILTER (WHERE status = 'flaky') AS flaky
                  FROM bench_big_outcomes o WHERE o.b = b) AS o;

INSERT INTO failure.test_results
    (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
SELECT md5('bench-project-big')::uuid,
       md5('bench-big-build-' || o.b)::uuid,
       md5('bench-big-test-' || o.c)::uuid,
       bu.created_at,
       o.status,
       5 + (o.c * 37 + o.b * 11) % 900,
       CASE WHEN o.status = 'flaky' THEN 1 ELSE 0 END,
       bu.created_at
  FROM bench_big_outcomes o
  JOIN failure.builds bu
    ON bu.project_id = md5('bench-project-big')::uuid
   AND bu.id = md5('bench-big-build-' || o.b)::uuid;

INSERT INTO failure.failures
    (project_id, id, build_id, test_id, kind, error_type, message, stack_trace, created_at,
     group_id, label)
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
       E'\tat com.acme.checkout.client.ApiClient.send(ApiClient.java:118)\n',
       r.created_at,
       md5('bench-big-group-' || abs(hashtext(r.test_id::text)) % {big_groups})::uuid,
       (ARRAY['product_bug', 'automation_bug', 'infrastructure', 'to_investigate'])
           [1 + abs(hashtext(r.test_id::text)) % {big_groups} % 4]
  FROM failure.test_results r
 WHERE r.project_id = md5('bench-project-big')::uuid AND r.status = 'failed';

-- The names of the tests that failed (the failures list's test filter).
INSERT INTO failure.failed_test_names (project_id, test_id, name)
SELECT t.project_id, t.id, t.name
  FROM failure.tests t
 WHERE EXISTS (SELECT 1 FROM failure.failures f
                WHERE f.project_id = t.project_id AND f.test_id = t.id)
ON CONFLICT DO NOTHING;

-- Every third group resolved (triaged a day after it was first seen,
-- resolved two days later), every third triaged, the rest open.
INSERT INTO failure.failure_groups
    (project_id, id, grouping_version, signature_hash, exception_type, frames, template,
     message, stack_trace, first_seen_at, last_seen_at, occurrences, affected_tests,
     last_build_id, last_failure_id, label, confidence, label_source, status)
SELECT f.project_id, f.group_id, 1, md5(f.project_id::text || f.group_id::text),
       min(f.error_type), ARRAY['FeatureTest.should_handle_case', 'ApiClient.send'],
       NULL, min(f.message), min(f.stack_trace), min(f.created_at), max(f.created_at),
       count(*), count(DISTINCT f.test_id),
       (array_agg(f.build_id ORDER BY f.created_at DESC))[1],
       (array_agg(f.id ORDER BY f.created_at DESC))[1],
       min(f.label), 0.9, 'rule',
       (ARRAY['resolved', 'triaged', 'open'])[1 + abs(hashtext(f.group_id::text)) % 3]
  FROM failure.failures f
 WHERE f.project_id = md5('bench-project-big')::uuid
 GROUP BY f.project_id, f.group_id;

INSERT INTO failure.group_activity
    (project_id, id, group_id, actor_id, kind, old_value, new_value, created_at)
SELECT g.project_id, md5('bench-big-triage-' || g.id)::uuid, g.id, NULL::uuid, 'status',
       'open', 'triaged', g.first_seen_at + interval '1 day'
  FROM failure.failure_groups g
 WHERE g.project_id = md5('bench-project-big')::uuid AND g.status IN ('triaged', 'resolved')
UNION ALL
SELECT g.project_id, md5('bench-big-resolve-' || g.id)::uuid, g.id, NULL::uuid, 'status',
       'triaged', 'resolved', g.first_seen_at + interval '3 days'
  FROM failure.failure_groups g
 WHERE g.project_id = md5('bench-project-big')::uuid AND g.status = 'resolved';

-- The tests whose results are sometimes flaky are judged flaky; a few of
-- them are in quarantine.
INSERT INTO failure.test_health
    (project_id, test_id, state, failure_rate, transitions, same_commit_contradictions,
     retries_passed, window_results, first_seen_at, last_seen_at, since, evidence_from,
     updated_at)
SELECT md5('bench-project-big')::uuid, md5('bench-big-test-' || c)::uuid, 'flaky', 0.05, 4, 0,
       3, 50, now() - interval '{days} days', now(), now() - interval '7 days',
       now() - interval '30 days', now()
  FROM generate_series(0, {big_tests} - 1) AS c
 WHERE c % 100 = 1;

INSERT INTO failure.quarantined_tests (project_id, test_id, reason, automatic, quarantined_by, created_at)
SELECT md5('bench-project-big')::uuid, md5('bench-big-test-' || c)::uuid, 'flaky', true, NULL,
       now() - interval '7 days'
  FROM generate_series(0, {big_tests} - 1) AS c
 WHERE c % 500 = 1;

DROP TABLE bench_big_outcomes;

RESET session_replication_role;
