-- The overview's policies cast the member project list to uuid[] inside
-- their subquery, so the list is parsed once per statement. Written as
-- `(SELECT setting)::uuid[]`, the cast stood outside the subquery and ran
-- for every row the policy checked: 16 ms of a 20-project overview on the
-- benchmark's dataset (a sequential scan of 1,001 `project_rollups` rows
-- parsing 20 ids each), 1.2 ms with the cast inside. The outer cast keeps
-- the operand an array expression (`= ANY (array)`), not a subquery.
ALTER POLICY member_overview ON analytics.daily_rollups
    USING (project_id = ANY ((SELECT nullif(current_setting('app.member_project_ids', true), '')::uuid[])::uuid[]));
ALTER POLICY member_overview ON analytics.project_rollups
    USING (project_id = ANY ((SELECT nullif(current_setting('app.member_project_ids', true), '')::uuid[])::uuid[]));
