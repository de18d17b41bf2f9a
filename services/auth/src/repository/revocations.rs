//! `auth.revocations` and its counter: the feed of ended sessions and
//! revoked API keys the gateway polls. Triggers record the revocations;
//! this module reads and prunes them.

use tenant_core::{DbError, TenantTx};

use crate::domain::revocations::{Revocation, RevocationSlice, RevokedKind};

/// Up to `limit` revocations after `after`, with the counter, in one
/// statement (one snapshot). Without `after`, or when it cannot be
/// continued from, the slice starts at the first revocation recorded
/// within the last `window_secs` (older ones have no live tokens).
#[tracing::instrument(skip_all, fields(after = ?after, limit = limit), err(level = "warn"))]
pub async fn after(
    tx: &TenantTx,
    after: Option<i64>,
    window_secs: f64,
    limit: i64,
) -> Result<RevocationSlice, DbError> {
    let rows = tx
        .query(
            // The counter is one row: a derived table limited to it keeps
            // the planner's estimates (and so its cost, and JIT) small.
            "SELECT c.last_seq, c.reset, r.seq, r.kind, r.subject_id
               FROM (SELECT k.last_seq, k.reset,
                            CASE WHEN $1::bigint IS NULL OR k.reset THEN
                                 coalesce((SELECT min(x.seq) - 1 FROM auth.revocations x
                                            WHERE x.recorded_at > now() - make_interval(secs => $2)),
                                          k.last_seq)
                            ELSE $1 END AS start_after
                       FROM (SELECT last_seq,
                                    ($1::bigint IS NOT NULL AND ($1 < pruned_through OR $1 > last_seq)) AS reset
                               FROM auth.revocation_counter
                              WHERE singleton
                              LIMIT 1) k) c
               LEFT JOIN LATERAL (
                    SELECT seq, kind, subject_id FROM auth.revocations
                     WHERE seq > c.start_after
                     ORDER BY seq
                     LIMIT $3
               ) r ON true
              ORDER BY r.seq",
            &[&after, &window_secs, &limit],
        )
        .await?;
    let mut slice = RevocationSlice {
        latest: 0,
        reset: false,
        revocations: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        slice.latest = row.try_get(0)?;
        slice.reset = row.try_get(1)?;
        let Some(seq) = row.try_get::<_, Option<i64>>(2)? else {
            continue;
        };
        let kind = match row.try_get::<_, &str>(3)? {
            "session" => RevokedKind::Session,
            _ => RevokedKind::ApiKey,
        };
        slice.revocations.push(Revocation {
            seq,
            kind,
            id: row.try_get(4)?,
        });
    }
    Ok(slice)
}

/// Drops revocations recorded more than `retain_secs` ago. Cheap when
/// there is nothing to drop, so every poll may call it.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn prune(tx: &TenantTx, retain_secs: f64) -> Result<(), DbError> {
    tx.execute(
        "WITH bound AS (
             SELECT max(r.seq) AS through FROM auth.revocations r
              WHERE r.recorded_at < now() - make_interval(secs => $1)
             HAVING max(r.seq) IS NOT NULL
         ), pruned AS (
             DELETE FROM auth.revocations r USING bound WHERE r.seq <= bound.through
         )
         UPDATE auth.revocation_counter c SET pruned_through = bound.through
           FROM bound
          WHERE bound.through > c.pruned_through",
        &[&retain_secs],
    )
    .await?;
    Ok(())
}
