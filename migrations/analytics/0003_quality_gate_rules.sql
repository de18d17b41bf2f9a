-- Quality gates: a project's rules (scoped by branch pattern), the stored
-- evaluation of each finished build, and the outbox that carries
-- `gate.failed` to the integration gateway. Replaces the stub of 0001,
-- which nothing ever read or wrote.

DROP TABLE analytics.quality_gates;

-- One rule a build must pass. `kind` says what is measured and
-- `threshold` the limit: a count for max_failures, max_newly_failing and
-- min_tests, a percentage for min_pass_rate, 0 for no_new_groups and
-- no_product_bugs. `branch_pattern` is a glob (`*` any characters, `?`
-- one) the build's branch must match for the rule to apply.
CREATE TABLE analytics.quality_gate_rules (
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    name            text NOT NULL
                    CONSTRAINT quality_gate_rules_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL
                    CONSTRAINT quality_gate_rules_kind_check
                    CHECK (kind IN ('max_failures', 'min_pass_rate', 'no_new_groups',
                                    'no_product_bugs', 'max_newly_failing', 'min_tests')),
    branch_pattern  text NOT NULL
                    CONSTRAINT quality_gate_rules_branch_pattern_check
                    CHECK (char_length(branch_pattern) BETWEEN 1 AND 200),
    threshold       double precision NOT NULL
                    CONSTRAINT quality_gate_rules_threshold_check CHECK (threshold >= 0),
    enabled         boolean NOT NULL DEFAULT true,
    created_by      uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT quality_gate_rules_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT quality_gate_rules_name_key UNIQUE (project_id, name)
);

ALTER TABLE analytics.quality_gate_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.quality_gate_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.quality_gate_rules
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- A finished build's gate, evaluated once: the answer stays what it was
-- when the build finished (later rule changes, labels or quarantines do
-- not rewrite it), and `gate.failed` is published in the transaction that
-- inserts a failed one. `rules` holds each rule's result as answered.
CREATE TABLE analytics.quality_gate_evaluations (
    project_id         uuid NOT NULL,
    build_id           uuid NOT NULL,
    status             text NOT NULL
                       CONSTRAINT quality_gate_evaluations_status_check
                       CHECK (status IN ('passed', 'failed')),
    evaluated_at       timestamptz NOT NULL,
    baseline_build_id  uuid,
    rules              jsonb NOT NULL,
    CONSTRAINT quality_gate_evaluations_pkey PRIMARY KEY (project_id, build_id)
);

ALTER TABLE analytics.quality_gate_evaluations ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.quality_gate_evaluations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.quality_gate_evaluations
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The analytics service's transactional outbox, as tenant-core's
-- `outbox` module gives it (the failure service's is failure/0006).
CREATE TABLE analytics.outbox (
    project_id      uuid NOT NULL,
    id              uuid NOT NULL,
    kind            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    PRIMARY KEY (project_id, id)
);

-- A project's due events, for the relay's claim.
CREATE INDEX outbox_due_idx ON analytics.outbox (project_id, next_attempt_at, id)
    WHERE delivered_at IS NULL;
-- A project's delivered events by age, for pruning.
CREATE INDEX outbox_delivered_idx ON analytics.outbox (project_id, delivered_at)
    WHERE delivered_at IS NOT NULL;

ALTER TABLE analytics.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.outbox
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The relay finds the projects with events waiting through the two views
-- below, which run as their owner and show project ids, counts and times,
-- never an event (tenant-core's `outbox` module explains the design).
CREATE POLICY outbox_owner_reads_all ON analytics.outbox
    FOR SELECT TO CURRENT_USER USING (true);

CREATE VIEW analytics.outbox_projects AS
    SELECT project_id, count(*) AS pending, min(next_attempt_at) AS next_attempt_at
      FROM analytics.outbox
     WHERE delivered_at IS NULL
     GROUP BY project_id;

CREATE VIEW analytics.outbox_delivered_projects AS
    SELECT project_id, min(delivered_at) AS oldest_delivered_at
      FROM analytics.outbox
     WHERE delivered_at IS NOT NULL
     GROUP BY project_id;
