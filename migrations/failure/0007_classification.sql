-- Classification: a label with a confidence, a source and an explanation
-- on every group and every failure; project rules admins write; the log
-- of labels members gave; and figures of each group kept up to date by
-- uploads, so the groups list reads one row per group.

-- A group's label as it stands (`label` .. `explanation`): the user's, a
-- label learned from a similar user-labelled group, or the group's own.
-- `own_classification` is the group's own (flaky evidence, a project rule,
-- a built-in rule or nothing), computed when the group was created: what
-- the label falls back to when a user label is removed. The figures below
-- (`occurrences` .. `last_failure_id`) are recomputed from the group's
-- failures at the end of each upload that added to it.
ALTER TABLE failure.failure_groups
    ADD COLUMN label               text NOT NULL DEFAULT 'to_investigate'
                                   CONSTRAINT failure_groups_label_check
                                   CHECK (label IN ('product_bug', 'automation_bug', 'infrastructure',
                                                    'flaky', 'no_defect', 'to_investigate')),
    ADD COLUMN confidence          double precision NOT NULL DEFAULT 0
                                   CONSTRAINT failure_groups_confidence_check
                                   CHECK (confidence >= 0 AND confidence <= 1),
    ADD COLUMN label_source        text
                                   CONSTRAINT failure_groups_label_source_check
                                   CHECK (label_source IN ('user', 'learned', 'rule', 'flaky')),
    ADD COLUMN explanation         jsonb NOT NULL DEFAULT '{"decided_by": "nothing"}',
    ADD COLUMN own_classification  jsonb,
    ADD COLUMN occurrences         bigint NOT NULL DEFAULT 0,
    ADD COLUMN affected_tests      bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_seen_at        timestamptz,
    ADD COLUMN last_build_id       uuid,
    ADD COLUMN last_failure_id     uuid;

-- Groups written before this migration: their figures from their failures.
-- Row level security is forced on the owner too, so the backfill lifts it
-- for this transaction only (the ALTERs hold both tables exclusively until
-- the migration commits).
ALTER TABLE failure.failure_groups NO FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.failures NO FORCE ROW LEVEL SECURITY;
UPDATE failure.failure_groups g
   SET occurrences = s.occurrences,
       affected_tests = s.affected_tests,
       last_seen_at = s.last_seen_at,
       last_build_id = s.last_build_id,
       last_failure_id = s.last_failure_id
  FROM (SELECT f.project_id, f.group_id,
               count(*) AS occurrences,
               count(DISTINCT f.test_id) AS affected_tests,
               max(f.created_at) AS last_seen_at,
               (array_agg(f.build_id ORDER BY f.created_at DESC, f.id DESC))[1] AS last_build_id,
               (array_agg(f.id ORDER BY f.created_at DESC, f.id DESC))[1] AS last_failure_id
          FROM failure.failures f
         WHERE f.group_id IS NOT NULL
         GROUP BY f.project_id, f.group_id) s
 WHERE g.project_id = s.project_id AND g.id = s.group_id;
UPDATE failure.failure_groups SET last_seen_at = first_seen_at WHERE last_seen_at IS NULL;
ALTER TABLE failure.failure_groups ALTER COLUMN last_seen_at SET NOT NULL;
ALTER TABLE failure.failure_groups FORCE ROW LEVEL SECURITY;
ALTER TABLE failure.failures FORCE ROW LEVEL SECURITY;

-- The v2 groups list: latest seen first, unfiltered and by label.
CREATE INDEX failure_groups_last_seen_idx
    ON failure.failure_groups (project_id, last_seen_at DESC, id DESC);
CREATE INDEX failure_groups_label_last_seen_idx
    ON failure.failure_groups (project_id, label, last_seen_at DESC, id DESC);
-- The list's `q`: a substring of the template or of the first message's
-- first 1000 characters.
CREATE INDEX failure_groups_template_trgm_idx ON failure.failure_groups
    USING gin (project_id, template extensions.gin_trgm_ops);
CREATE INDEX failure_groups_message_trgm_idx ON failure.failure_groups
    USING gin (project_id, left(message, 1000) extensions.gin_trgm_ops);
-- The user-labelled groups an upload or a new label compares against.
CREATE INDEX failure_groups_user_labelled_idx
    ON failure.failure_groups (project_id, exception_type) WHERE label_source = 'user';

-- A failure's own label, set at ingestion; a member may set it instead.
-- Constant defaults: adding the columns rewrites nothing.
ALTER TABLE failure.failures
    ADD COLUMN label         text NOT NULL DEFAULT 'to_investigate'
                             CONSTRAINT failures_label_check
                             CHECK (label IN ('product_bug', 'automation_bug', 'infrastructure',
                                              'flaky', 'no_defect', 'to_investigate')),
    ADD COLUMN confidence    double precision NOT NULL DEFAULT 0
                             CONSTRAINT failures_confidence_check
                             CHECK (confidence >= 0 AND confidence <= 1),
    ADD COLUMN label_source  text
                             CONSTRAINT failures_label_source_check
                             CHECK (label_source IN ('user', 'learned', 'rule', 'flaky')),
    ADD COLUMN explanation   jsonb NOT NULL DEFAULT '{"decided_by": "nothing"}';

-- Rules a project's admins write: a regular expression on one field of a
-- failure, and the label it gives. Applied in `position` order (then by
-- id), the first enabled rule that matches wins.
CREATE TABLE failure.classification_rules (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL,
    position    integer NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    field       text NOT NULL CHECK (field IN ('message', 'exception_type', 'frames')),
    pattern     text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 1000),
    label       text NOT NULL
                CHECK (label IN ('product_bug', 'automation_bug', 'infrastructure',
                                 'flaky', 'no_defect', 'to_investigate')),
    enabled     boolean NOT NULL DEFAULT true,
    created_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT classification_rules_pkey PRIMARY KEY (project_id, id)
);

CREATE INDEX classification_rules_order_idx
    ON failure.classification_rules (project_id, position, id);

ALTER TABLE failure.classification_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.classification_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.classification_rules
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- Every label a member gave or removed: who, on which group or failure,
-- from what to what, when. Append only.
CREATE TABLE failure.label_feedback (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL,
    group_id    uuid,
    failure_id  uuid,
    actor_id    uuid NOT NULL,
    action      text NOT NULL CHECK (action IN ('set', 'removed')),
    old_label   text,
    old_source  text,
    new_label   text NOT NULL,
    new_source  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT label_feedback_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT label_feedback_subject_check CHECK ((group_id IS NULL) <> (failure_id IS NULL)),
    CONSTRAINT label_feedback_group_fkey FOREIGN KEY (project_id, group_id)
        REFERENCES failure.failure_groups (project_id, id) ON DELETE CASCADE,
    CONSTRAINT label_feedback_failure_fkey FOREIGN KEY (project_id, failure_id)
        REFERENCES failure.failures (project_id, id) ON DELETE CASCADE
);

CREATE INDEX label_feedback_group_idx
    ON failure.label_feedback (project_id, group_id, created_at DESC) WHERE group_id IS NOT NULL;
CREATE INDEX label_feedback_failure_idx
    ON failure.label_feedback (project_id, failure_id, created_at DESC) WHERE failure_id IS NOT NULL;

ALTER TABLE failure.label_feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.label_feedback FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.label_feedback
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
