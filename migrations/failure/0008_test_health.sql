-- Flaky and broken tests: every failed attempt kept as a failure, builds
-- marked when an upload was an infrastructure outage, per-test health with
-- its evidence, per-project monitor settings, and quarantine with its
-- audit trail.

-- A failure per failed attempt: 0 is the outcome the report states, 1, 2,
-- ... the earlier attempts a runner retried (Surefire flakyFailure,
-- rerunFailure, ...). Constant default: adding the column rewrites
-- nothing; the old key is replaced by one that includes the attempt.
ALTER TABLE failure.failures ADD COLUMN attempt integer NOT NULL DEFAULT 0
    CONSTRAINT failures_attempt_check CHECK (attempt >= 0);
ALTER TABLE failure.failures
    ADD CONSTRAINT failures_build_test_attempt_key UNIQUE (project_id, build_id, test_id, attempt);
ALTER TABLE failure.failures DROP CONSTRAINT failures_build_test_key;

-- An upload in which most tests failed is an infrastructure event (a dead
-- database, a broken runner): its build's results are evidence for no
-- test's health, and health queries skip builds marked here.
ALTER TABLE failure.builds
    ADD COLUMN infrastructure_outage boolean NOT NULL DEFAULT false;

-- A project's flaky-test monitors. No row: the defaults the service
-- states (docs/failure.md).
CREATE TABLE failure.flaky_settings (
    project_id                  uuid NOT NULL,
    branch                      text NOT NULL,
    window_results              integer NOT NULL,
    window_days                 integer NOT NULL,
    min_sample                  integer NOT NULL,
    flaky_min_failure_rate      double precision NOT NULL,
    flaky_min_transitions       integer NOT NULL,
    broken_min_failures         integer NOT NULL,
    outage_failure_ratio        double precision NOT NULL,
    outage_min_tests            integer NOT NULL,
    recovery_days               integer NOT NULL,
    recovery_passes             integer NOT NULL,
    auto_quarantine             boolean NOT NULL,
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT flaky_settings_pkey PRIMARY KEY (project_id)
);

ALTER TABLE failure.flaky_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.flaky_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.flaky_settings
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- A test's health on the monitored branch and the evidence behind it, as
-- of the last upload that could change it. `since` is when the state
-- began; `evidence_from` is when the evidence starts (the last recovery:
-- results recorded before it count no more).
CREATE TABLE failure.test_health (
    project_id                  uuid NOT NULL,
    test_id                     uuid NOT NULL,
    state                       text NOT NULL
                                CONSTRAINT test_health_state_check
                                CHECK (state IN ('healthy', 'flaky', 'broken')),
    failure_rate                double precision NOT NULL,
    transitions                 integer NOT NULL,
    same_commit_contradictions  integer NOT NULL,
    retries_passed              integer NOT NULL,
    window_results              integer NOT NULL,
    first_seen_at               timestamptz,
    last_seen_at                timestamptz,
    since                       timestamptz NOT NULL,
    evidence_from               timestamptz,
    updated_at                  timestamptz NOT NULL,
    CONSTRAINT test_health_pkey PRIMARY KEY (project_id, test_id),
    CONSTRAINT test_health_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id)
);

-- The flaky-tests list: flagged tests, ranked.
CREATE INDEX test_health_flagged_idx ON failure.test_health (project_id, state, test_id)
    WHERE state <> 'healthy';

ALTER TABLE failure.test_health ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.test_health FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.test_health
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Tests whose failures do not fail a build's verdict. They still run and
-- are recorded.
CREATE TABLE failure.quarantined_tests (
    project_id      uuid NOT NULL,
    test_id         uuid NOT NULL,
    reason          text,
    automatic       boolean NOT NULL,
    quarantined_by  uuid,
    created_at      timestamptz NOT NULL,
    CONSTRAINT quarantined_tests_pkey PRIMARY KEY (project_id, test_id),
    CONSTRAINT quarantined_tests_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id)
);

ALTER TABLE failure.quarantined_tests ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.quarantined_tests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.quarantined_tests
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Every quarantine change: who (null when automatic), what, when, why.
CREATE TABLE failure.quarantine_audit (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL,
    test_id     uuid NOT NULL,
    action      text NOT NULL
                CONSTRAINT quarantine_audit_action_check
                CHECK (action IN ('quarantined', 'released')),
    automatic   boolean NOT NULL,
    actor       uuid,
    reason      text,
    created_at  timestamptz NOT NULL,
    CONSTRAINT quarantine_audit_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT quarantine_audit_test_fkey FOREIGN KEY (project_id, test_id)
        REFERENCES failure.tests (project_id, id)
);

CREATE INDEX quarantine_audit_test_idx ON failure.quarantine_audit (project_id, test_id, created_at DESC);

ALTER TABLE failure.quarantine_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.quarantine_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.quarantine_audit
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
