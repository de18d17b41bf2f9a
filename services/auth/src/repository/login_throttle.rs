//! `auth.login_throttle`: failed sign-ins per account within the window,
//! and the account's lock. Rows are keyed by the normalised address, which
//! stays out of spans and logs.

use tenant_core::{DbError, TenantTx};

use crate::domain::account_backoff::REMEMBERED_FAILURES;

/// Seconds until the account may try again, if it is locked.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn locked_for(tx: &TenantTx, account: &str) -> Result<Option<i64>, DbError> {
    tx.query_opt(
        "SELECT ceil(extract(epoch FROM locked_until - now()))::bigint
           FROM auth.login_throttle
          WHERE scope = 'account' AND subject = $1 AND locked_until > now()",
        &[&account],
    )
    .await?
    .map(|row| row.try_get(0))
    .transpose()
    .map_err(DbError::from)
}

/// Counts a failed sign-in of `account`; returns how many it had within
/// the last `window_secs`, this one included (at most
/// [`REMEMBERED_FAILURES`]).
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn record_failure(
    tx: &TenantTx,
    account: &str,
    window_secs: i64,
) -> Result<i32, DbError> {
    let window = window_secs as f64;
    let row = tx
        .query_one(
            "INSERT INTO auth.login_throttle AS t (scope, subject, failures, recent_failures, last_failure_at)
             VALUES ('account', $1, 1, ARRAY[now()], now())
             ON CONFLICT (scope, subject) DO UPDATE SET
                 recent_failures = ARRAY(
                     SELECT f FROM (
                         SELECT f FROM unnest(t.recent_failures || now()) AS f
                          WHERE f > now() - make_interval(secs => $2)
                          ORDER BY f DESC LIMIT $3
                     ) AS kept ORDER BY f),
                 last_failure_at = now()
             RETURNING cardinality(recent_failures)",
            &[&account, &window, &i64::from(REMEMBERED_FAILURES)],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Stores the account's failure count and, when `lock_secs` is set, locks
/// it for that long from now.
#[tracing::instrument(skip_all, fields(failures = failures), err(level = "warn"))]
pub async fn lock(
    tx: &TenantTx,
    account: &str,
    failures: i32,
    lock_secs: Option<i64>,
) -> Result<(), DbError> {
    let lock = lock_secs.map(|secs| secs as f64);
    tx.execute(
        "UPDATE auth.login_throttle
            SET failures = $2,
                locked_until = coalesce(now() + make_interval(secs => $3), locked_until)
          WHERE scope = 'account' AND subject = $1",
        &[&account, &failures, &lock],
    )
    .await?;
    Ok(())
}

/// Deletes a few rows whose failures have all left the window and whose
/// lock has ended, so a flood of made-up accounts does not pile up. Rows
/// another sign-in holds are skipped.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn purge_stale(tx: &TenantTx, window_secs: i64) -> Result<u64, DbError> {
    let window = window_secs as f64;
    tx.execute(
        "DELETE FROM auth.login_throttle AS t
          USING (SELECT scope, subject FROM auth.login_throttle
                  WHERE last_failure_at < now() - make_interval(secs => $1)
                    AND (locked_until IS NULL OR locked_until < now())
                  LIMIT 100 FOR UPDATE SKIP LOCKED) AS stale
          WHERE t.scope = stale.scope AND t.subject = stale.subject",
        &[&window],
    )
    .await
}

/// Forgets the account's failures (a successful sign-in, a new password).
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn clear(tx: &TenantTx, account: &str) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM auth.login_throttle WHERE scope = 'account' AND subject = $1",
        &[&account],
    )
    .await?;
    Ok(())
}
