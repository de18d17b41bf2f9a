-- The analytics service counts a project's open and triaged groups after
-- every batch of events (its project rollup, 0010's analytics_groups
-- view). Without an index that answers it, the count read the whole
-- failure_groups table (groups carry their message and stack trace:
-- 380 MB for 100,000 groups, 126 ms a count on the benchmark's database,
-- after every upload) and pushed the uploads' own pages out of the
-- buffer cache. A partial index holds exactly the counted groups: the
-- count is an index-only scan (4.5 ms for a project of 50,000 open
-- groups).
CREATE INDEX failure_groups_open_idx ON failure.failure_groups (project_id)
    WHERE status IN ('open', 'triaged');
