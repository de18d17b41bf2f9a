-- Read-only views of one build's data for the analytics service's quality
-- gates and build comparison (docs/analytics.md). Plain projections with
-- no aggregates, so a query's `project_id = $1 AND ...` reaches the base
-- tables' indexes. `security_invoker`: the views run as the caller
-- (`analytics_app`), so row level security confines them to the
-- transaction's project exactly as it does the failure service. Because
-- the invoker's privileges on the base tables are checked too, the
-- analytics role gets SELECT on only the columns these views expose.

-- A build: where it ran (job, branch, commit), where it is in its life,
-- and its totals (listed results plus suites that stated only totals).
CREATE VIEW failure.gate_builds WITH (security_invoker = true) AS
    SELECT project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
           started_at, finished_at, created_at,
           tests_total, passed, failures, errors, skipped, flaky
      FROM failure.builds;

-- A build's results with the test's identity. `build_created_at` is the
-- results' partition key: a query naming it reads one partition. Every
-- result has its test (a foreign key), so the LEFT JOIN loses nothing and
-- lets the planner skip the test when a query reads only the result.
CREATE VIEW failure.gate_test_results WITH (security_invoker = true) AS
    SELECT r.project_id, r.build_id, r.build_created_at, r.test_id, r.status,
           t.suite, t.classname, t.name
      FROM failure.test_results r
      LEFT JOIN failure.tests t ON t.project_id = r.project_id AND t.id = r.test_id;

-- A build's failures (every attempt) with their own label, their group,
-- and the group's label and triage status (`muted` groups do not count
-- in a gate).
CREATE VIEW failure.gate_failures WITH (security_invoker = true) AS
    SELECT f.project_id, f.id, f.build_id, f.test_id, f.attempt, f.created_at,
           f.label, f.label_source, f.group_id,
           g.label AS group_label, g.status AS group_status
      FROM failure.failures f
      LEFT JOIN failure.failure_groups g ON g.project_id = f.project_id AND g.id = f.group_id;

-- Tests in quarantine now: their results never count in a gate.
CREATE VIEW failure.gate_quarantined_tests WITH (security_invoker = true) AS
    SELECT project_id, test_id, created_at
      FROM failure.quarantined_tests;

GRANT SELECT ON failure.gate_builds, failure.gate_test_results, failure.gate_failures,
                failure.gate_quarantined_tests TO analytics_app;

GRANT SELECT (project_id, id, job_name, external_id, number, branch, commit_sha, url, status,
              started_at, finished_at, created_at,
              tests_total, passed, failures, errors, skipped, flaky)
    ON failure.builds TO analytics_app;
GRANT SELECT (project_id, build_id, build_created_at, test_id, status)
    ON failure.test_results TO analytics_app;
GRANT SELECT (project_id, id, suite, classname, name) ON failure.tests TO analytics_app;
GRANT SELECT (project_id, id, build_id, test_id, attempt, created_at, label, label_source, group_id)
    ON failure.failures TO analytics_app;
GRANT SELECT (project_id, id, label, status) ON failure.failure_groups TO analytics_app;
GRANT SELECT (project_id, test_id, created_at) ON failure.quarantined_tests TO analytics_app;
