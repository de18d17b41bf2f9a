-- Rankings read per-test rollups that do not split by branch and job
-- (one row per test and day, one per test and ISO week) when no branch
-- or job filter is given, and every test rollup keeps run durations as a
-- fixed-bucket histogram, so p50/p95 come from summing a few buckets per
-- test instead of sorting every run. Expand only: the sorted
-- `durations_ms` arrays stay (and are still written) until a later
-- migration drops them; the new columns and tables are filled below from
-- the rows already computed, so no ranking goes empty until the next
-- recomputation.

-- The buckets' lower bounds in milliseconds: bucket 0 holds durations
-- under 1 ms; bucket i (1 <= i < 70) holds [bounds[i], bounds[i+1]);
-- bucket 70 everything from 10,000,000 ms (about 2.8 hours) on. Single
-- milliseconds up to 10 ms, then ten buckets a decade (10, 12, 16, 20,
-- 25, 32, 40, 50, 63, 80 times a power of ten), each at most a third
-- wider than its lower bound. Changing them is a change of definitions:
-- a new function, and every rollup computed again.
CREATE FUNCTION analytics.duration_bounds() RETURNS bigint[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT
        ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 20, 25, 32, 40, 50, 63, 80, 100,
        120, 160, 200, 250, 320, 400, 500, 630, 800, 1000, 1200, 1600, 2000, 2500, 3200,
        4000, 5000, 6300, 8000, 10000, 12000, 16000, 20000, 25000, 32000, 40000, 50000,
        63000, 80000, 100000, 120000, 160000, 200000, 250000, 320000, 400000, 500000,
        630000, 800000, 1000000, 1200000, 1600000, 2000000, 2500000, 3200000, 4000000,
        5000000, 6300000, 8000000, 10000000]::bigint[] $$;

-- The bucket of a duration.
CREATE FUNCTION analytics.duration_bucket(ms bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT width_bucket(ms, analytics.duration_bounds()) $$;

-- The estimated duration at 0-based rank `target` (fractional, as
-- percentile_cont places it: p * (runs - 1)) when the rank falls in
-- `bucket`, which holds `n` runs after `before` runs of lower buckets.
-- The bucket's runs are taken as spread evenly over it: the estimate is
-- its lower bound plus its width times (target - before + 0.5) / n (at
-- most the width). Bucket 0 answers 0 and the open last bucket its lower
-- bound. Deterministic: the same histogram gives the same answer.
CREATE FUNCTION analytics.duration_estimate(bucket integer, n bigint, before bigint, target float8)
    RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE
                   WHEN bucket <= 0 THEN 0::float8
                   WHEN bucket >= cardinality(b.bounds) THEN b.bounds[bucket]::float8
                   ELSE b.bounds[bucket] + (b.bounds[bucket + 1] - b.bounds[bucket])
                                           * least(1.0, (target - before + 0.5) / n)
                 END
            FROM (SELECT analytics.duration_bounds() AS bounds) b $$;

-- A histogram is two arrays of one length: the buckets that hold runs,
-- ascending, and how many runs each holds.
ALTER TABLE analytics.test_daily_rollups
    ADD COLUMN duration_buckets integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN duration_counts  bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE analytics.test_weekly_rollups
    ADD COLUMN duration_buckets integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN duration_counts  bigint[] NOT NULL DEFAULT '{}';

-- A test's runs of one day over all branches and jobs: the sums of that
-- day's `test_daily_rollups` rows, rewritten whenever one of the day's
-- slices is computed.
CREATE TABLE analytics.test_daily_totals (
    project_id        uuid NOT NULL,
    day               date NOT NULL,
    test_id           uuid NOT NULL,
    runs              bigint NOT NULL,
    failures          bigint NOT NULL,
    flaky             bigint NOT NULL,
    skipped           bigint NOT NULL,
    duration_buckets  integer[] NOT NULL,
    duration_counts   bigint[] NOT NULL,
    CONSTRAINT test_daily_totals_pkey PRIMARY KEY (project_id, day, test_id)
);

-- The same per ISO week (`week` is its Monday), from the week's
-- `test_daily_totals`: an unfiltered ranking reads the range's full
-- weeks here and its first and last days from the daily totals.
CREATE TABLE analytics.test_weekly_totals (
    project_id        uuid NOT NULL,
    week              date NOT NULL,
    test_id           uuid NOT NULL,
    runs              bigint NOT NULL,
    failures          bigint NOT NULL,
    flaky             bigint NOT NULL,
    skipped           bigint NOT NULL,
    duration_buckets  integer[] NOT NULL,
    duration_counts   bigint[] NOT NULL,
    CONSTRAINT test_weekly_totals_pkey PRIMARY KEY (project_id, week, test_id)
);

ALTER TABLE analytics.test_daily_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.test_daily_totals
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

ALTER TABLE analytics.test_weekly_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics.test_weekly_totals
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));

-- The fill below reads every project's rows as the owner: row level
-- security is forced again (on all four tables) right after it. It reads
-- every test rollup once, longer than the runtime statement timeout on
-- a large database; the tables stay locked meanwhile, so the inbox's
-- deliveries fail and the relay delivers them again afterwards.
SET LOCAL statement_timeout = 0;
ALTER TABLE analytics.test_daily_rollups NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_weekly_rollups NO FORCE ROW LEVEL SECURITY;

-- `durations_ms` holds exactly the durations the histograms count (runs
-- not skipped, with a duration).
UPDATE analytics.test_daily_rollups r
   SET duration_buckets = h.buckets, duration_counts = h.counts
  FROM (SELECT project_id, day, branch, job_name, test_id,
               array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
          FROM (SELECT r.project_id, r.day, r.branch, r.job_name, r.test_id,
                       analytics.duration_bucket(x.ms) AS bucket, count(*) AS n
                  FROM analytics.test_daily_rollups r
                 CROSS JOIN LATERAL unnest(r.durations_ms) AS x(ms)
                 GROUP BY 1, 2, 3, 4, 5, 6) b
         GROUP BY 1, 2, 3, 4, 5) h
 WHERE r.project_id = h.project_id AND r.day = h.day AND r.branch = h.branch
   AND r.job_name = h.job_name AND r.test_id = h.test_id;

UPDATE analytics.test_weekly_rollups r
   SET duration_buckets = h.buckets, duration_counts = h.counts
  FROM (SELECT project_id, week, branch, job_name, test_id,
               array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
          FROM (SELECT r.project_id, r.week, r.branch, r.job_name, r.test_id,
                       analytics.duration_bucket(x.ms) AS bucket, count(*) AS n
                  FROM analytics.test_weekly_rollups r
                 CROSS JOIN LATERAL unnest(r.durations_ms) AS x(ms)
                 GROUP BY 1, 2, 3, 4, 5, 6) b
         GROUP BY 1, 2, 3, 4, 5) h
 WHERE r.project_id = h.project_id AND r.week = h.week AND r.branch = h.branch
   AND r.job_name = h.job_name AND r.test_id = h.test_id;

INSERT INTO analytics.test_daily_totals
       (project_id, day, test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts)
SELECT s.project_id, s.day, s.test_id, s.runs, s.failures, s.flaky, s.skipped,
       coalesce(h.buckets, '{}'), coalesce(h.counts, '{}')
  FROM (SELECT project_id, day, test_id, sum(runs) AS runs, sum(failures) AS failures,
               sum(flaky) AS flaky, sum(skipped) AS skipped
          FROM analytics.test_daily_rollups GROUP BY 1, 2, 3) s
  LEFT JOIN (SELECT project_id, day, test_id,
                    array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
               FROM (SELECT r.project_id, r.day, r.test_id, x.bucket, sum(x.n)::bigint AS n
                       FROM analytics.test_daily_rollups r
                      CROSS JOIN LATERAL unnest(r.duration_buckets, r.duration_counts) AS x(bucket, n)
                      GROUP BY 1, 2, 3, 4) b
              GROUP BY 1, 2, 3) h
    ON h.project_id = s.project_id AND h.day = s.day AND h.test_id = s.test_id;

INSERT INTO analytics.test_weekly_totals
       (project_id, week, test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts)
SELECT s.project_id, s.week, s.test_id, s.runs, s.failures, s.flaky, s.skipped,
       coalesce(h.buckets, '{}'), coalesce(h.counts, '{}')
  FROM (SELECT project_id, date_trunc('week', day)::date AS week, test_id, sum(runs) AS runs,
               sum(failures) AS failures, sum(flaky) AS flaky, sum(skipped) AS skipped
          FROM analytics.test_daily_totals GROUP BY 1, 2, 3) s
  LEFT JOIN (SELECT project_id, week, test_id,
                    array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
               FROM (SELECT r.project_id, date_trunc('week', r.day)::date AS week, r.test_id,
                            x.bucket, sum(x.n)::bigint AS n
                       FROM analytics.test_daily_totals r
                      CROSS JOIN LATERAL unnest(r.duration_buckets, r.duration_counts) AS x(bucket, n)
                      GROUP BY 1, 2, 3, 4) b
              GROUP BY 1, 2, 3) h
    ON h.project_id = s.project_id AND h.week = s.week AND h.test_id = s.test_id;

ALTER TABLE analytics.test_daily_rollups FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_weekly_rollups FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_daily_totals FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.test_weekly_totals FORCE ROW LEVEL SECURITY;
