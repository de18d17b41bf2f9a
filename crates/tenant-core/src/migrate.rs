//! Forward-only SQL migrations, one folder per service schema.
//!
//! Migrations run as the schema's owner role, each in its own transaction,
//! under a PostgreSQL advisory lock keyed by the schema, so any number of
//! replicas may start (or run `migrate`) at once: one applies, the others
//! wait and then find nothing to do. Applied migrations are recorded with a
//! checksum; editing one that has already run is refused rather than
//! silently ignored. Changes follow expand/contract (see migrations/README.md).

use std::borrow::Cow;
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: Cow<'static, str>,
    pub sql: Cow<'static, str>,
}

impl Migration {
    /// A migration embedded in a service binary (`include_str!`).
    pub const fn embedded(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name: Cow::Borrowed(name),
            sql: Cow::Borrowed(sql),
        }
    }

    pub fn checksum(&self) -> String {
        crate::hex::encode(&Sha256::digest(self.sql.as_bytes()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {version} ({name}) failed")]
    Apply {
        version: i64,
        name: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "migration {version} was changed after it was applied (checksum {applied} in the database, {current} in this build)"
    )]
    Modified {
        version: i64,
        applied: String,
        current: String,
    },
    #[error("migration bookkeeping failed")]
    Database(#[from] tokio_postgres::Error),
    #[error("cannot read migrations from {path}: {reason}")]
    Read { path: String, reason: String },
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
    pub current_version: i64,
}

/// The latest version in `migrations`, which readiness expects to find applied.
pub fn latest_version(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies pending `migrations` to `schema` over `client`, which must be
/// connected as (or `SET ROLE` to) the schema owner.
pub async fn run(
    client: &mut Client,
    schema: &str,
    app_role: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrationError> {
    client
        .execute(
            "SELECT pg_advisory_lock(hashtext('faultline.migrate'), hashtext($1))",
            &[&schema],
        )
        .await?;
    let result = apply_pending(client, schema, app_role, migrations).await;
    client
        .execute(
            "SELECT pg_advisory_unlock(hashtext('faultline.migrate'), hashtext($1))",
            &[&schema],
        )
        .await?;
    result
}

async fn apply_pending(
    client: &mut Client,
    schema: &str,
    app_role: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrationError> {
    let schema_ident = quote_ident(schema);
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {schema_ident}.schema_migrations (
                 version    bigint PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             REVOKE ALL ON {schema_ident}.schema_migrations FROM {app};
             GRANT SELECT ON {schema_ident}.schema_migrations TO {app};",
            app = quote_ident(app_role),
        ))
        .await?;

    let applied: Vec<(i64, String)> = client
        .query(
            &format!("SELECT version, checksum FROM {schema_ident}.schema_migrations"),
            &[],
        )
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;

    let mut ordered: Vec<&Migration> = migrations.iter().collect();
    ordered.sort_by_key(|m| m.version);
    let mut report = MigrationReport::default();
    for migration in ordered {
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == migration.version) {
            let current = migration.checksum();
            if *checksum != current {
                return Err(MigrationError::Modified {
                    version: migration.version,
                    applied: checksum.clone(),
                    current,
                });
            }
            continue;
        }
        let apply_error = |source| MigrationError::Apply {
            version: migration.version,
            name: migration.name.to_string(),
            source,
        };
        let tx = client.transaction().await?;
        tx.batch_execute(&migration.sql)
            .await
            .map_err(apply_error)?;
        tx.execute(
            &format!(
                "INSERT INTO {schema_ident}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
            ),
            &[&migration.version, &migration.name.as_ref(), &migration.checksum()],
        )
        .await?;
        tx.commit().await.map_err(apply_error)?;
        tracing::info!(schema, version = migration.version, name = %migration.name, "migration applied");
        report.applied.push(migration.version);
    }
    report.current_version = applied
        .iter()
        .map(|(v, _)| *v)
        .chain(report.applied.iter().copied())
        .max()
        .unwrap_or(0);
    Ok(report)
}

/// Reads `NNNN_name.sql` files from a folder, for tools and tests that work
/// on the source tree rather than a built binary.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let read_error = |reason: String| MigrationError::Read {
        path: dir.display().to_string(),
        reason,
    };
    let mut migrations = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(e.to_string()))?;
    for entry in entries {
        let path = entry.map_err(|e| read_error(e.to_string()))?.path();
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| read_error(format!("bad file name {}", path.display())))?;
        let (version, name) = stem
            .split_once('_')
            .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n)))
            .ok_or_else(|| read_error(format!("{stem}: expected NNNN_name.sql")))?;
        let sql = std::fs::read_to_string(&path).map_err(|e| read_error(e.to_string()))?;
        migrations.push(Migration {
            version,
            name: Cow::Owned(name.to_owned()),
            sql: Cow::Owned(sql),
        });
    }
    migrations.sort_by_key(|m| m.version);
    Ok(migrations)
}

pub(crate) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
