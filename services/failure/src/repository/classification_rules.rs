//! `failure.classification_rules`: a project's rules, in order.

use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::classification::{NewRule, RulePatch, RuleRecord};

const RULE_COLUMNS: &str =
    "id, position, name, field, pattern, label, enabled, created_by, created_at, updated_at";

fn rule(row: &Row) -> Result<RuleRecord, tokio_postgres::Error> {
    Ok(RuleRecord {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        name: row.try_get("name")?,
        field: row.try_get("field")?,
        pattern: row.try_get("pattern")?,
        label: row.try_get("label")?,
        enabled: row.try_get("enabled")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Every rule of the project in the order they are tried.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_rules(tx: &TenantTx, project_id: Uuid) -> Result<Vec<RuleRecord>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {RULE_COLUMNS} FROM failure.classification_rules
                  WHERE project_id = $1 ORDER BY position, id"
            ),
            &[&project_id],
        )
        .await?;
    Ok(rows.iter().map(rule).collect::<Result<_, _>>()?)
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, rule_id = %rule_id), err(level = "warn"))]
pub async fn get_rule(
    tx: &TenantTx,
    project_id: Uuid,
    rule_id: Uuid,
) -> Result<Option<RuleRecord>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {RULE_COLUMNS} FROM failure.classification_rules
                  WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &rule_id],
        )
        .await?;
    Ok(row.as_ref().map(rule).transpose()?)
}

/// Creates a rule, after the project's last one unless a position is
/// given, if the project has fewer than `max_rules`; `None` when it has
/// as many already. The count and the insert are one statement.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn create_rule(
    tx: &TenantTx,
    project_id: Uuid,
    created_by: Uuid,
    new: &NewRule,
    max_rules: i64,
) -> Result<Option<RuleRecord>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "WITH existing AS (
                     SELECT count(*) AS n, coalesce(max(position) + 1, 0) AS next
                       FROM failure.classification_rules WHERE project_id = $1)
                 INSERT INTO failure.classification_rules
                        (project_id, id, position, name, field, pattern, label, enabled, created_by)
                 SELECT $1, $2, coalesce($3, existing.next), $4, $5, $6, $7, $8, $9
                   FROM existing WHERE existing.n < $10
                 RETURNING {RULE_COLUMNS}"
            ),
            &[
                &project_id,
                &Uuid::now_v7(),
                &new.position,
                &new.name,
                &new.field.as_str(),
                &new.pattern,
                &new.label.as_str(),
                &new.enabled,
                &created_by,
                &max_rules,
            ],
        )
        .await?;
    Ok(row.as_ref().map(rule).transpose()?)
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, rule_id = %rule_id), err(level = "warn"))]
pub async fn update_rule(
    tx: &TenantTx,
    project_id: Uuid,
    rule_id: Uuid,
    patch: &RulePatch,
) -> Result<Option<RuleRecord>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "UPDATE failure.classification_rules
                    SET name = coalesce($3, name), field = coalesce($4, field),
                        pattern = coalesce($5, pattern), label = coalesce($6, label),
                        enabled = coalesce($7, enabled), position = coalesce($8, position),
                        updated_at = now()
                  WHERE project_id = $1 AND id = $2
                 RETURNING {RULE_COLUMNS}"
            ),
            &[
                &project_id,
                &rule_id,
                &patch.name,
                &patch.field.map(|f| f.as_str()),
                &patch.pattern,
                &patch.label.map(|l| l.as_str()),
                &patch.enabled,
                &patch.position,
            ],
        )
        .await?;
    Ok(row.as_ref().map(rule).transpose()?)
}

/// Whether the rule existed.
#[tracing::instrument(skip_all, fields(project_id = %project_id, rule_id = %rule_id), err(level = "warn"))]
pub async fn delete_rule(tx: &TenantTx, project_id: Uuid, rule_id: Uuid) -> Result<bool, DbError> {
    let deleted = tx
        .execute(
            "DELETE FROM failure.classification_rules WHERE project_id = $1 AND id = $2",
            &[&project_id, &rule_id],
        )
        .await?;
    Ok(deleted > 0)
}
