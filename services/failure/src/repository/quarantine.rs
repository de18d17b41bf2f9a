//! `failure.quarantined_tests` and its audit trail
//! `failure.quarantine_audit`: every change to one is written to the other
//! in the same transaction.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::TestIdentity;
use crate::domain::flakiness::QuarantineEntry;

const ENTRY_SELECT: &str = "SELECT q.reason, q.automatic, q.quarantined_by, q.created_at,
            t.id, t.suite, t.classname, t.name, t.file
       FROM failure.quarantined_tests q
       JOIN failure.tests t ON t.project_id = q.project_id AND t.id = q.test_id";

fn entry_from_row(row: &Row) -> Result<QuarantineEntry, tokio_postgres::Error> {
    Ok(QuarantineEntry {
        test: TestIdentity {
            id: row.try_get("id")?,
            suite: row.try_get("suite")?,
            classname: row.try_get("classname")?,
            name: row.try_get("name")?,
            file: row.try_get("file")?,
        },
        reason: row.try_get("reason")?,
        automatic: row.try_get("automatic")?,
        quarantined_by: row.try_get("quarantined_by")?,
        quarantined_at: row.try_get("created_at")?,
    })
}

/// Who changed a quarantine: a person (or API key), or the monitors.
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Principal(Uuid),
    Automatic,
}

impl Actor {
    fn id(self) -> Option<Uuid> {
        match self {
            Self::Principal(id) => Some(id),
            Self::Automatic => None,
        }
    }
}

/// Quarantines `test_ids` that are not quarantined yet, each change
/// audited, in two statements; returns the tests newly quarantined.
#[tracing::instrument(skip_all, fields(project_id = %project_id, tests = test_ids.len()), err(level = "warn"))]
pub async fn quarantine_tests(
    tx: &TenantTx,
    project_id: Uuid,
    test_ids: &[Uuid],
    reason: Option<&str>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbError> {
    if test_ids.is_empty() {
        return Ok(Vec::new());
    }
    let automatic = matches!(actor, Actor::Automatic);
    let rows = tx
        .query(
            "INSERT INTO failure.quarantined_tests
                    (project_id, test_id, reason, automatic, quarantined_by, created_at)
             SELECT $1, t.id, $3, $4, $5, $6
               FROM unnest($2::uuid[]) AS t(id)
              ORDER BY t.id
             ON CONFLICT ON CONSTRAINT quarantined_tests_pkey DO NOTHING
             RETURNING test_id",
            &[
                &project_id,
                &test_ids,
                &reason,
                &automatic,
                &actor.id(),
                &now,
            ],
        )
        .await?;
    let added: Vec<Uuid> = rows
        .iter()
        .map(|row| row.try_get("test_id"))
        .collect::<Result<_, _>>()?;
    audit(tx, project_id, &added, "quarantined", reason, actor, now).await?;
    Ok(added)
}

/// Lifts the quarantine of a test, audited; `false` when it was not
/// quarantined.
#[tracing::instrument(skip_all, fields(project_id = %project_id, test_id = %test_id), err(level = "warn"))]
pub async fn release_test(
    tx: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let removed = tx
        .execute(
            "DELETE FROM failure.quarantined_tests WHERE project_id = $1 AND test_id = $2",
            &[&project_id, &test_id],
        )
        .await?;
    if removed > 0 {
        audit(tx, project_id, &[test_id], "released", None, actor, now).await?;
    }
    Ok(removed > 0)
}

async fn audit(
    tx: &TenantTx,
    project_id: Uuid,
    test_ids: &[Uuid],
    action: &str,
    reason: Option<&str>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if test_ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = test_ids.iter().map(|_| Uuid::now_v7()).collect();
    tx.execute(
        "INSERT INTO failure.quarantine_audit
                (project_id, id, test_id, action, automatic, actor, reason, created_at)
         SELECT $1, a.id, a.test_id, $4, $5, $6, $7, $8
           FROM unnest($2::uuid[], $3::uuid[]) AS a(id, test_id)",
        &[
            &project_id,
            &ids,
            &test_ids,
            &action,
            &matches!(actor, Actor::Automatic),
            &actor.id(),
            &reason,
            &now,
        ],
    )
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, test_id = %test_id), err(level = "warn"))]
pub async fn get_quarantine(
    tx: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
) -> Result<Option<QuarantineEntry>, DbError> {
    let row = tx
        .query_opt(
            &format!("{ENTRY_SELECT} WHERE q.project_id = $1 AND q.test_id = $2"),
            &[&project_id, &test_id],
        )
        .await?;
    Ok(row.as_ref().map(entry_from_row).transpose()?)
}

/// Every quarantined test of the project, oldest quarantine first: the
/// list CI reads whole.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_quarantine(
    tx: &TenantTx,
    project_id: Uuid,
) -> Result<Vec<QuarantineEntry>, DbError> {
    let rows = tx
        .query(
            &format!("{ENTRY_SELECT} WHERE q.project_id = $1 ORDER BY q.created_at, q.test_id"),
            &[&project_id],
        )
        .await?;
    Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
}
