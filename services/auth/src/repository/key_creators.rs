//! `auth.key_creators`: what the project service last said about whether
//! a member may create API keys in a project (and keep those they made).

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

/// Serialises everything that decides whether `user`'s keys in the
/// transaction's project live: creating one, and applying a change of the
/// user's role. Held until the transaction ends.
#[tracing::instrument(skip_all, fields(project_id = %project_id, user_id = %user_id), err(level = "warn"))]
pub async fn lock(tx: &TenantTx, project_id: Uuid, user_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(format('auth.key_creators:%s:%s', $1::uuid, $2::uuid), 0))",
        &[&project_id, &user_id],
    )
    .await?;
    Ok(())
}

/// Whether the project service last said `user` may create keys here;
/// `None` when it has said nothing about them. Needs [`lock`].
#[tracing::instrument(skip_all, fields(project_id = %project_id, user_id = %user_id), err(level = "warn"))]
pub async fn allowed(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Option<bool>, DbError> {
    tx.query_opt(
        "SELECT may_create FROM auth.key_creators WHERE project_id = $1 AND user_id = $2",
        &[&project_id, &user_id],
    )
    .await?
    .map(|row| row.try_get(0))
    .transpose()
    .map_err(DbError::from)
}

/// Records what the project service said about `user` as of its change
/// `as_of_seq`; `false` when something newer was already recorded (a
/// repeated, late delivery), which must then change nothing.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, user_id = %user_id, as_of_seq = as_of_seq),
    err(level = "warn")
)]
pub async fn record(
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
