//! Quality gates: `analytics.quality_gate_rules` (a project's rules),
//! `analytics.quality_gate_evaluations` (each finished build's gate, kept
//! once), and the facts of a build a gate is evaluated on, read from the
//! failure service's views.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::domain::comparison::{BuildSnapshot, test_title};
use crate::domain::gates::{FailingResult, GateAnswer, GateRule, NewGateRule, RuleResult};

const RULE_COLUMNS: &str =
    "id, name, kind, branch_pattern, threshold, enabled, created_by, created_at, updated_at";

fn rule(row: &Row) -> Result<GateRule, tokio_postgres::Error> {
    Ok(GateRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        branch_pattern: row.try_get("branch_pattern")?,
        threshold: row.try_get("threshold")?,
        enabled: row.try_get("enabled")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Every rule of the project, oldest first (the order they are evaluated
/// and answered in).
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_rules(tx: &TenantTx, project_id: Uuid) -> Result<Vec<GateRule>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {RULE_COLUMNS} FROM analytics.quality_gate_rules
                  WHERE project_id = $1 ORDER BY created_at, id"
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
) -> Result<Option<GateRule>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {RULE_COLUMNS} FROM analytics.quality_gate_rules
                  WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &rule_id],
        )
        .await?;
    Ok(row.as_ref().map(rule).transpose()?)
}

/// Stores a new rule; a name the project uses already violates
/// `quality_gate_rules_name_key`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn create_rule(
    tx: &TenantTx,
    project_id: Uuid,
    created_by: Uuid,
    new: &NewGateRule,
) -> Result<GateRule, DbError> {
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO analytics.quality_gate_rules
                        (project_id, id, name, kind, branch_pattern, threshold, enabled,
                         created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), now())
                 RETURNING {RULE_COLUMNS}"
            ),
            &[
                &project_id,
                &Uuid::now_v7(),
                &new.name.as_str(),
                &new.kind.as_str(),
                &new.branch_pattern.as_str(),
                &new.threshold.value(),
                &new.enabled,
                &created_by,
            ],
        )
        .await?;
    Ok(rule(&row)?)
}

/// Replaces a rule's fields (its kind stays); `None` when there is no such
/// rule.
#[tracing::instrument(skip_all, fields(project_id = %project_id, rule_id = %rule_id), err(level = "warn"))]
pub async fn update_rule(
    tx: &TenantTx,
    project_id: Uuid,
    rule_id: Uuid,
    new: &NewGateRule,
) -> Result<Option<GateRule>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "UPDATE analytics.quality_gate_rules
                    SET name = $3, branch_pattern = $4, threshold = $5, enabled = $6,
                        updated_at = now()
                  WHERE project_id = $1 AND id = $2
                  RETURNING {RULE_COLUMNS}"
            ),
            &[
                &project_id,
                &rule_id,
                &new.name.as_str(),
                &new.branch_pattern.as_str(),
                &new.threshold.value(),
                &new.enabled,
            ],
        )
        .await?;
    Ok(row.as_ref().map(rule).transpose()?)
}

/// Deletes a rule; `false` when there was none. Stored evaluations keep
/// its result.
#[tracing::instrument(skip_all, fields(project_id = %project_id, rule_id = %rule_id), err(level = "warn"))]
pub async fn delete_rule(tx: &TenantTx, project_id: Uuid, rule_id: Uuid) -> Result<bool, DbError> {
    let deleted = tx
        .execute(
            "DELETE FROM analytics.quality_gate_rules WHERE project_id = $1 AND id = $2",
            &[&project_id, &rule_id],
        )
        .await?;
    Ok(deleted > 0)
}

/// The build's stored gate, if it was evaluated: one primary-key read.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn stored_evaluation(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<GateAnswer>, DbError> {
    let row = tx
        .query_opt(
            "SELECT status, evaluated_at, baseline_build_id, rules
               FROM analytics.quality_gate_evaluations
              WHERE project_id = $1 AND build_id = $2",
            &[&project_id, &build_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let Json(rules): Json<Vec<RuleResult>> = row.try_get("rules")?;
    let evaluated_at: DateTime<Utc> = row.try_get("evaluated_at")?;
    Ok(Some(GateAnswer {
        build_id,
        status: row.try_get("status")?,
        reason: None,
        evaluated_at: Some(evaluated_at),
        baseline_build_id: row.try_get("baseline_build_id")?,
        rules,
    }))
}

/// Stores an evaluated gate unless the build has one already (a
/// concurrent evaluation committed first); `true` when this one was
/// stored.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %answer.build_id), err(level = "warn"))]
pub async fn store_evaluation(
    tx: &TenantTx,
    project_id: Uuid,
    answer: &GateAnswer,
) -> Result<bool, DbError> {
    let evaluated_at = answer.evaluated_at.unwrap_or_else(Utc::now);
    let inserted = tx
        .execute(
            "INSERT INTO analytics.quality_gate_evaluations
                    (project_id, build_id, status, evaluated_at, baseline_build_id, rules)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT ON CONSTRAINT quality_gate_evaluations_pkey DO NOTHING",
            &[
                &project_id,
                &answer.build_id,
                &answer.status.as_str(),
                &evaluated_at,
                &answer.baseline_build_id,
                &Json(&answer.rules),
            ],
        )
        .await?;
    Ok(inserted > 0)
}

/// Every failing (failed or errored) result of the build, in name order,
/// with the failure of its stated outcome (attempt 0), that failure's
/// group, the label that stands (the failure's own when a member set it,
/// else its group's) and whether the test is quarantined. One statement:
/// the build's results by primary key in one partition, each failure by
/// `failures_build_test_attempt_key`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build.id), err(level = "warn"))]
pub async fn failing_results(
    tx: &TenantTx,
    project_id: Uuid,
    build: &BuildSnapshot,
) -> Result<Vec<FailingResult>, DbError> {
    let rows = tx
        .query(
            "SELECT r.test_id, r.suite, r.classname, r.name,
                    f.id AS failure_id, f.group_id,
                    CASE WHEN f.label_source = 'user' OR f.group_id IS NULL THEN f.label
                         ELSE f.group_label END AS label,
                    coalesce(f.group_status = 'muted', false) AS group_muted,
                    (q.test_id IS NOT NULL) AS quarantined
               FROM failure.gate_test_results r
               LEFT JOIN failure.gate_failures f
                      ON f.project_id = r.project_id AND f.build_id = r.build_id
                     AND f.test_id = r.test_id AND f.attempt = 0
               LEFT JOIN failure.gate_quarantined_tests q
                      ON q.project_id = r.project_id AND q.test_id = r.test_id
              WHERE r.project_id = $1 AND r.build_id = $2 AND r.build_created_at = $3
                AND r.status IN ('failed', 'error')
              ORDER BY r.suite, r.classname, r.name, r.test_id",
            &[&project_id, &build.id, &build.created_at],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let suite: String = row.try_get("suite")?;
            let classname: String = row.try_get("classname")?;
            let name: String = row.try_get("name")?;
            let label: Option<String> = row.try_get("label")?;
            Ok(FailingResult {
                test_id: row.try_get("test_id")?,
                test: test_title(&suite, &classname, &name),
                failure_id: row.try_get("failure_id")?,
                group_id: row.try_get("group_id")?,
                label: label.unwrap_or_default(),
                group_muted: row.try_get("group_muted")?,
                quarantined: row.try_get("quarantined")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Passed (or flaky) results of quarantined tests in the build: the
/// quarantine list is short, so each quarantined test's result is a
/// primary-key probe.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build.id), err(level = "warn"))]
pub async fn quarantined_passing(
    tx: &TenantTx,
    project_id: Uuid,
    build: &BuildSnapshot,
) -> Result<i64, DbError> {
    let row = tx
        .query_one(
            "SELECT count(*) AS passing
               FROM failure.gate_quarantined_tests q
               JOIN failure.gate_test_results r
                 ON r.project_id = q.project_id AND r.test_id = q.test_id
                AND r.build_id = $2 AND r.build_created_at = $3
              WHERE q.project_id = $1 AND r.status IN ('passed', 'flaky')",
            &[&project_id, &build.id, &build.created_at],
        )
        .await?;
    Ok(row.try_get("passing")?)
}

/// The groups first seen in the build: of its failures' groups, those
/// whose earliest failure (any build, any attempt) belongs to it. Each
/// group's earliest failure comes from `failures_group_recent_idx`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn groups_first_seen_in(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT g.group_id
               FROM (SELECT DISTINCT f.group_id
                       FROM failure.gate_failures f
                      WHERE f.project_id = $1 AND f.build_id = $2 AND f.group_id IS NOT NULL) g
              CROSS JOIN LATERAL (
                    SELECT first.build_id
                      FROM failure.gate_failures first
                     WHERE first.project_id = $1 AND first.group_id = g.group_id
                     ORDER BY first.created_at, first.id
                     LIMIT 1
                   ) earliest
              WHERE earliest.build_id = $2
              ORDER BY g.group_id",
            &[&project_id, &build_id],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("group_id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
