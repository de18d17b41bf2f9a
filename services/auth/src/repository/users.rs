//! `auth.users`: accounts, their password hashes and profiles.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::keyset;
use crate::domain::user::User;

/// The columns [`user`] reads, in every statement that returns a user.
pub(super) const USER_COLUMNS: &str = "id, email, display_name, platform_role, default_project, disabled_at IS NOT NULL AS disabled, created_at, password_hash";

pub(super) fn user(row: &Row) -> Result<User, DbError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        platform_role: row.try_get("platform_role")?,
        default_project: row.try_get("default_project")?,
        disabled: row.try_get("disabled")?,
        created_at: row.try_get("created_at")?,
        password_hash: row.try_get("password_hash")?,
    })
}

/// A new account; a taken address fails on `users_email_key`.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn insert(
    tx: &TenantTx,
    email: &str,
    display_name: &str,
    password_hash: &str,
    platform_role: &str,
) -> Result<User, DbError> {
    let sql = format!(
        "INSERT INTO auth.users (id, email, display_name, password_hash, platform_role)
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &Uuid::now_v7(),
                &email,
                &display_name,
                &password_hash,
                &platform_role,
            ],
        )
        .await?;
    user(&row)
}

#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn by_email(tx: &TenantTx, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM auth.users WHERE email = $1");
    tx.query_opt(&sql, &[&email])
        .await?
        .as_ref()
        .map(user)
        .transpose()
}

#[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1");
    tx.query_opt(&sql, &[&id])
        .await?
        .as_ref()
        .map(user)
        .transpose()
}

/// Changes what is given: `default_project` `Some(None)` clears it.
#[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
pub async fn update_profile(
    tx: &TenantTx,
    id: Uuid,
    display_name: Option<&str>,
    default_project: Option<Option<Uuid>>,
) -> Result<Option<User>, DbError> {
    let sql = format!(
        "UPDATE auth.users
            SET display_name = coalesce($2, display_name),
                default_project = CASE WHEN $3 THEN $4 ELSE default_project END,
                updated_at = now()
          WHERE id = $1 RETURNING {USER_COLUMNS}"
    );
    let (set_project, project) = match default_project {
        Some(project) => (true, project),
        None => (false, None),
    };
    tx.query_opt(&sql, &[&id, &display_name, &set_project, &project])
        .await?
        .as_ref()
        .map(user)
        .transpose()
}

#[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
pub async fn set_password_hash(
    tx: &TenantTx,
    id: Uuid,
    password_hash: &str,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
        &[&id, &password_hash],
    )
    .await?;
    Ok(())
}

/// Up to `limit` users after the keyset position, oldest first.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(
    tx: &TenantTx,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<User>, DbError> {
    let (after_at, after_id) = keyset(after);
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM auth.users
          WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
          ORDER BY created_at, id LIMIT $3"
    );
    tx.query(&sql, &[&after_at, &after_id, &limit])
        .await?
        .iter()
        .map(user)
        .collect()
}

/// Whether the user exists (disabling twice keeps the first time).
#[tracing::instrument(skip_all, fields(user_id = %id), err(level = "warn"))]
pub async fn disable(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE auth.users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE id = $1",
            &[&id],
        )
        .await?
        == 1)
}
