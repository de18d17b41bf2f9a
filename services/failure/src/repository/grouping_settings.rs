//! `failure.grouping_settings`: a project's in-app prefixes and number
//! masking, read once per upload and written by admins.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::GroupingSettings;

/// The project's settings; the defaults when it never set any.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn get_grouping_settings(
    tx: &TenantTx,
    project_id: Uuid,
) -> Result<GroupingSettings, DbError> {
    let row = tx
        .query_opt(
            "SELECT in_app_prefixes, keep_numbers FROM failure.grouping_settings
              WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(GroupingSettings::default());
    };
    Ok(GroupingSettings {
        in_app_prefixes: row.try_get("in_app_prefixes")?,
        keep_numbers: row.try_get("keep_numbers")?,
    })
}

/// Replaces the project's settings.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn put_grouping_settings(
    tx: &TenantTx,
    project_id: Uuid,
    settings: &GroupingSettings,
    updated_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO failure.grouping_settings
                (project_id, in_app_prefixes, keep_numbers, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT grouping_settings_pkey DO UPDATE
            SET in_app_prefixes = excluded.in_app_prefixes,
                keep_numbers = excluded.keep_numbers,
                updated_at = excluded.updated_at,
                updated_by = excluded.updated_by",
        &[
            &project_id,
            &settings.in_app_prefixes,
            &settings.keep_numbers,
            &now,
            &updated_by,
        ],
    )
    .await?;
    Ok(())
}
