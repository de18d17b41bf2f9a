//! The SQL of what other services learn from the auth service: the
//! revocation feed, and the project service's reports of members whose
//! role changed (who may keep the API keys they created).

use serde::Serialize;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

// --- the revocation feed -----------------------------------------------------

/// What a feed entry revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedKind {
    Session,
    ApiKey,
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    pub seq: i64,
    pub kind: RevokedKind,
    /// The session's or the API key's id.
    pub id: Uuid,
}

/// A slice of the revocation feed and where the feed stands.
#[derive(Debug)]
pub struct RevocationSlice {
    pub latest: i64,
    /// The caller's position could not be continued from (pruned past, or
    /// ahead of the feed as after a restore); the slice starts over.
    pub reset: bool,
    pub revocations: Vec<Revocation>,
}

/// Up to `limit` revocations after `after`, with the counter, in one
/// statement (one snapshot). Without `after`, or when it cannot be
/// continued from, the slice starts at the first revocation recorded
/// within the last `window_secs` (older ones have no live tokens).
pub async fn revocations_after(
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
        slice.latest = row.get(0);
        slice.reset = row.get(1);
        let Some(seq) = row.get::<_, Option<i64>>(2) else {
            continue;
        };
        let kind = match row.get::<_, String>(3).as_str() {
            "session" => RevokedKind::Session,
            _ => RevokedKind::ApiKey,
        };
        slice.revocations.push(Revocation {
            seq,
            kind,
            id: row.get(4),
        });
    }
    Ok(slice)
}

/// Drops revocations recorded more than `retain_secs` ago. Cheap when
/// there is nothing to drop, so every poll may call it.
pub async fn prune_revocations(tx: &TenantTx, retain_secs: f64) -> Result<(), DbError> {
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

// --- who may keep the keys they created -------------------------------------

/// Serialises everything that decides whether `user`'s keys in the
/// transaction's project live: creating one, and applying a change of the
/// user's role. Held until the transaction ends.
pub async fn lock_key_creator(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(format('auth.key_creators:%s:%s', $1::uuid, $2::uuid), 0))",
        &[&project_id, &user_id],
    )
    .await?;
    Ok(())
}

/// Whether the project service last said `user` may create keys here;
/// `None` when it has said nothing about them. Needs [`lock_key_creator`].
pub async fn key_creator_allowed(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Option<bool>, DbError> {
    Ok(tx
        .query_opt(
            "SELECT may_create FROM auth.key_creators WHERE project_id = $1 AND user_id = $2",
            &[&project_id, &user_id],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Records what the project service said about `user` as of its change
/// `as_of_seq`; `false` when something newer was already recorded (a
/// repeated, late delivery), which must then change nothing.
pub async fn record_key_creator(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
    may_create: bool,
    as_of_seq: i64,
) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "INSERT INTO auth.key_creators AS k (project_id, user_id, may_create, as_of_seq)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (project_id, user_id) DO UPDATE
                SET may_create = excluded.may_create, as_of_seq = excluded.as_of_seq, updated_at = now()
              WHERE k.as_of_seq <= excluded.as_of_seq",
            &[&project_id, &user_id, &may_create, &as_of_seq],
        )
        .await?
        == 1)
}

/// Revokes every live key `user` created in the project; returns their ids.
pub async fn revoke_api_keys_created_by(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    Ok(tx
        .query(
            "UPDATE auth.api_keys SET revoked_at = now()
              WHERE project_id = $1 AND created_by = $2 AND revoked_at IS NULL
              RETURNING id",
            &[&project_id, &user_id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
