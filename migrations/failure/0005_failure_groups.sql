-- Failures grouped by signature: one group per (project, grouping rules
-- version, fingerprint hash), and each failure naming its group. Expand
-- only: a new table and a nullable column, so a binary that does not know
-- groups keeps writing failures without one.

-- A problem that failed in one or more builds. `id` is derived by the
-- service from (project, grouping_version, signature_hash), so uploads know
-- it without reading the row; `signature_hash` is the fingerprint's hex
-- SHA-256 under the rules of `grouping_version`, and `exception_type`,
-- `frames` and `template` (the normalised message, when the fingerprint is
-- made of it) are what it was computed from. `message` and `stack_trace`
-- are the first failure's, as capped at ingestion. Uploads only insert
-- groups (ON CONFLICT DO NOTHING) and never update one, so concurrent
-- uploads sharing a signature do not lock each other out: there are no
-- counters here. Occurrences, last seen and last build are derived from
-- the group's failures (failures_group_recent_idx below).
CREATE TABLE failure.failure_groups (
    project_id        uuid NOT NULL,
    id                uuid NOT NULL,
    grouping_version  integer NOT NULL,
    signature_hash    text NOT NULL,
    exception_type    text,
    frames            text[] NOT NULL,
    template          text,
    message           text,
    stack_trace       text,
    first_seen_at     timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'open'
                      CONSTRAINT failure_groups_status_check
                      CHECK (status IN ('open', 'triaged', 'resolved', 'muted')),
    CONSTRAINT failure_groups_pkey PRIMARY KEY (project_id, id),
    CONSTRAINT failure_groups_signature_key UNIQUE (project_id, grouping_version, signature_hash)
);

-- Groups list, newest first.
CREATE INDEX failure_groups_first_seen_idx ON failure.failure_groups (project_id, first_seen_at DESC, id);

ALTER TABLE failure.failure_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE failure.failure_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON failure.failure_groups
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The group of a failure; failures written before groups have none.
-- Nullable without a default: adding it rewrites nothing. The reference is
-- checked for new rows; NOT VALID skips scanning the existing ones (all
-- without a group).
ALTER TABLE failure.failures ADD COLUMN group_id uuid;
ALTER TABLE failure.failures ADD CONSTRAINT failures_group_fkey FOREIGN KEY (project_id, group_id)
    REFERENCES failure.failure_groups (project_id, id) NOT VALID;

-- A group's failures, newest first: its occurrences, last seen and last
-- build.
CREATE INDEX failures_group_recent_idx ON failure.failures (project_id, group_id, created_at DESC, id DESC);
