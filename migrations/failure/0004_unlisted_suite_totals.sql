-- Totals stated by <testsuite> elements that list no test cases (a runner
-- that wrote only the summary). They have no test results to recount, so
-- each upload adds them here, and a build's totals are its results'
-- recount plus these. Constant defaults: adding the columns rewrites
-- nothing.
ALTER TABLE failure.builds
    ADD COLUMN unlisted_tests     bigint NOT NULL DEFAULT 0,
    ADD COLUMN unlisted_passed    bigint NOT NULL DEFAULT 0,
    ADD COLUMN unlisted_failures  bigint NOT NULL DEFAULT 0,
    ADD COLUMN unlisted_errors    bigint NOT NULL DEFAULT 0,
    ADD COLUMN unlisted_skipped   bigint NOT NULL DEFAULT 0;
