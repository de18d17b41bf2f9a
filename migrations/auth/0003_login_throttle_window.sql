-- Sign-in throttling counts an account's failures within a sliding window
-- instead of for ever, and no longer locks client addresses: the limit per
-- address is the gateway's rate limit on attempts, which slows a noisy
-- address down without refusing the correct passwords of everyone behind it.

-- When each failure within the window happened, oldest first (at most 64,
-- enough for the longest backoff).
ALTER TABLE auth.login_throttle
    ADD COLUMN recent_failures timestamptz[] NOT NULL DEFAULT '{}';

-- Failures counted before this version keep counting, as of their last one.
UPDATE auth.login_throttle
   SET recent_failures = array_fill(last_failure_at, ARRAY[least(failures, 64)])
 WHERE scope = 'account' AND failures > 0;

DELETE FROM auth.login_throttle WHERE scope = 'ip';

-- Rows whose window has passed are purged a few at a time.
CREATE INDEX login_throttle_last_failure_idx ON auth.login_throttle (last_failure_at);
