//! `failure.flaky_settings`: a project's flaky-test monitor settings.

use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::flakiness::FlakySettings;

fn settings_from_row(row: &Row) -> Result<FlakySettings, tokio_postgres::Error> {
    Ok(FlakySettings {
        branch: row.try_get("branch")?,
        window_results: row.try_get("window_results")?,
        window_days: row.try_get("window_days")?,
        min_sample: row.try_get("min_sample")?,
        flaky_min_failure_rate: row.try_get("flaky_min_failure_rate")?,
        flaky_min_transitions: row.try_get("flaky_min_transitions")?,
        broken_min_failures: row.try_get("broken_min_failures")?,
        outage_failure_ratio: row.try_get("outage_failure_ratio")?,
        outage_min_tests: row.try_get("outage_min_tests")?,
        recovery_days: row.try_get("recovery_days")?,
        recovery_passes: row.try_get("recovery_passes")?,
        auto_quarantine: row.try_get("auto_quarantine")?,
    })
}

/// The project's settings, or the defaults when it never set any.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn get_settings(tx: &TenantTx, project_id: Uuid) -> Result<FlakySettings, DbError> {
    let row = tx
        .query_opt(
            "SELECT branch, window_results, window_days, min_sample, flaky_min_failure_rate,
                    flaky_min_transitions, broken_min_failures, outage_failure_ratio,
                    outage_min_tests, recovery_days, recovery_passes, auto_quarantine
               FROM failure.flaky_settings WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    Ok(row
        .as_ref()
        .map(settings_from_row)
        .transpose()?
        .unwrap_or_default())
}

/// Replaces the project's settings.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn put_settings(
    tx: &TenantTx,
    project_id: Uuid,
    settings: &FlakySettings,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO failure.flaky_settings
                (project_id, branch, window_results, window_days, min_sample,
                 flaky_min_failure_rate, flaky_min_transitions, broken_min_failures,
                 outage_failure_ratio, outage_min_tests, recovery_days, recovery_passes,
                 auto_quarantine, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
         ON CONFLICT ON CONSTRAINT flaky_settings_pkey DO UPDATE
            SET branch = excluded.branch, window_results = excluded.window_results,
                window_days = excluded.window_days, min_sample = excluded.min_sample,
                flaky_min_failure_rate = excluded.flaky_min_failure_rate,
                flaky_min_transitions = excluded.flaky_min_transitions,
                broken_min_failures = excluded.broken_min_failures,
                outage_failure_ratio = excluded.outage_failure_ratio,
                outage_min_tests = excluded.outage_min_tests,
                recovery_days = excluded.recovery_days,
                recovery_passes = excluded.recovery_passes,
                auto_quarantine = excluded.auto_quarantine, updated_at = now()",
        &[
            &project_id,
            &settings.branch,
            &settings.window_results,
            &settings.window_days,
            &settings.min_sample,
            &settings.flaky_min_failure_rate,
            &settings.flaky_min_transitions,
            &settings.broken_min_failures,
            &settings.outage_failure_ratio,
            &settings.outage_min_tests,
            &settings.recovery_days,
            &settings.recovery_passes,
            &settings.auto_quarantine,
        ],
    )
    .await?;
    Ok(())
}
