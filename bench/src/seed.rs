//! The benchmark databases.
//!
//! `faultline_bench_seed` (or `..._quick`) holds the migrated schemas and
//! the seeded dataset; it is kept between runs and rebuilt only when its
//! stamp (seed version, dataset size, seed SQL and every migration file)
//! changes. Each run gets a fresh `faultline_bench` copied from it (a file
//! copy, seconds), so ingestion in one run never shows up in the next.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

use crate::results::Dataset;

/// Bump when the seed's meaning changes without its SQL changing.
const SEED_VERSION: &str = "2";
const SEED_SQL: &str = include_str!("../sql/seed.sql");
const SIZE_PROJECT_SQL: &str = include_str!("../sql/size_project.sql");

/// Services that own a schema, migrated into the seed database, with
/// their folders under `migrations/`.
const MIGRATED: [(&str, &str); 6] = [
    ("auth-service", "auth"),
    ("project-service", "project"),
    ("failure-service", "failure"),
    ("analytics-service", "analytics"),
    ("integration-gateway", "integration"),
    ("web-service", "web"),
];

#[derive(Debug, Clone, Copy)]
pub struct DatasetSize {
    pub projects: u32,
    pub builds_per_project: u32,
    pub tests_per_project: u32,
    pub days: u32,
    /// The analytics benchmark's project (`bench-big`): builds, tests in
    /// each, and failure groups at most.
    pub big_builds: u32,
    pub big_tests: u32,
    pub big_groups: u32,
    /// The read-cost curve's projects (`bench-size-{label}`): label,
    /// builds, tests in each.
    pub size_projects: &'static [(&'static str, u32, u32)],
}

/// Failure groups per seeded project, at most (a failure's group follows
/// its test).
const GROUPS_PER_PROJECT: u32 = 40;

/// Failure groups of each read-cost curve project, at most.
const SIZE_PROJECT_GROUPS: u32 = 200;

impl DatasetSize {
    pub fn full() -> Self {
        Self {
            projects: 1000,
            builds_per_project: 50,
            tests_per_project: 100,
            days: 90,
            big_builds: 500,
            big_tests: 2000,
            big_groups: 200,
            size_projects: &[
                ("10k", 20, 500),
                ("100k", 100, 1_000),
                ("1m", 500, 2_000),
                ("10m", 2_000, 5_000),
            ],
        }
    }

    pub fn quick() -> Self {
        Self {
            projects: 100,
            builds_per_project: 20,
            tests_per_project: 100,
            days: 90,
            big_builds: 100,
            big_tests: 1000,
            big_groups: 50,
            size_projects: &[("1k", 10, 100), ("10k", 20, 500), ("100k", 100, 1_000)],
        }
    }

    pub fn seed_sql(&self) -> String {
        let mut sql = SEED_SQL
            .replace("{projects}", &self.projects.to_string())
            .replace("{builds}", &self.builds_per_project.to_string())
            .replace("{tests}", &self.tests_per_project.to_string())
            .replace("{days}", &self.days.to_string())
            .replace("{groups}", &GROUPS_PER_PROJECT.to_string())
            .replace("{big_builds}", &self.big_builds.to_string())
            .replace("{big_tests}", &self.big_tests.to_string())
            .replace("{big_groups}", &self.big_groups.to_string());
        for (label, builds, tests) in self.size_projects {
            sql.push_str(
                &SIZE_PROJECT_SQL
                    .replace("{label}", label)
                    .replace("{builds}", &builds.to_string())
                    .replace("{tests}", &tests.to_string())
                    .replace("{days}", &self.days.to_string())
                    .replace("{groups}", &SIZE_PROJECT_GROUPS.to_string()),
            );
        }
        sql
    }

    pub fn test_results(&self) -> u64 {
        u64::from(self.projects)
            * u64::from(self.builds_per_project)
            * u64::from(self.tests_per_project)
            + self.big_test_results()
            + self
                .size_projects
                .iter()
                .map(|(_, builds, tests)| u64::from(*builds) * u64::from(*tests))
                .sum::<u64>()
    }

    pub fn big_test_results(&self) -> u64 {
        u64::from(self.big_builds) * u64::from(self.big_tests)
    }

    /// A regex matching every project slug, for load generators that pick
    /// one at random per request. Sizes are powers of ten up to 1000.
    pub fn slug_regex(&self) -> String {
        let digits = match self.projects {
            10 => 1,
            100 => 2,
            _ => 3,
        };
        format!("bench-{}[0-9]{{{digits}}}", "0".repeat(3 - digits))
    }
}

/// The stamp of a seed: what it was made from.
pub fn stamp(root: &Path, size: &DatasetSize) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(SEED_VERSION.as_bytes());
    for (service, _) in MIGRATED {
        hasher.update(service.as_bytes());
    }
    hasher.update(size.seed_sql().as_bytes());
    let mut files = Vec::new();
    for dir in std::fs::read_dir(root.join("migrations"))? {
        let dir = dir?.path();
        if dir.is_dir() {
            for file in std::fs::read_dir(&dir)? {
                files.push(file?.path());
            }
        } else {
            files.push(dir);
        }
    }
    files.sort();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file)?);
    }
    let digest = hasher.finalize();
    Ok(format!(
        "faultline-bench-seed:{}",
        tenant_core::hex::encode(&digest)
    ))
}

async fn connect(
    admin_url: &str,
    database: &str,
) -> anyhow::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let mut config: tokio_postgres::Config = admin_url.parse().context("admin URL")?;
    config.dbname(database);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .with_context(|| format!("connecting to {database} as admin"))?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

/// The tables the seed writes (the rollups apart), analysed once written.
pub const SEEDED_TABLES: [&str; 9] = [
    "project.projects",
    "failure.builds",
    "failure.tests",
    "failure.test_results",
    "failure.failures",
    "failure.failure_groups",
    "failure.group_activity",
    "failure.test_health",
    "failure.quarantined_tests",
];

/// The analytics service's rollup tables, analysed once they are built.
const ROLLUP_TABLES: [&str; 11] = [
    "rollup_slices",
    "build_rollups",
    "daily_rollups",
    "daily_label_rollups",
    "test_daily_rollups",
    "test_weekly_rollups",
    "test_daily_totals",
    "test_weekly_totals",
    "group_daily_rollups",
    "group_rollups",
    "project_rollups",
];

/// Concurrent rollup computations while seeding: one more than the
/// cores, so the server always has a statement to run while another
/// worker's result travels back.
fn rollup_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() + 1)
}

/// Computes every seeded project's analytics rollups with the analytics
/// service's own code (`rollups::rebuild_project`, the from-scratch
/// computation its events and reconciliation must equal), as its runtime
/// role under row level security, one transaction per project: the
/// dashboards then read what production would have built, not rows
/// written by hand.
async fn build_rollups(admin: &tokio_postgres::Client, database: &str) -> anyhow::Result<()> {
    let settings: analytics_service::Settings = tenant_core::config::load_with_overrides(
        &analytics_service::SPEC,
        &[
            ("environment", "dev".to_owned()),
            ("database.name", database.to_owned()),
        ],
    )?;
    let database_settings = settings
        .database
        .as_ref()
        .context("the analytics settings name no database")?;
    let db = tenant_core::Db::connect(database_settings, "analytics", "faultline-bench-seed")
        .await
        .context("connecting as the analytics runtime role")?;
    let projects: Vec<uuid::Uuid> = admin
        .query(
            // The read-cost curve's projects are read by lists only.
            "SELECT id FROM project.projects
              WHERE slug LIKE 'bench-%' AND slug NOT LIKE 'bench-size-%' ORDER BY slug",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    eprintln!(
        "bench: computing the analytics rollups of {} projects",
        projects.len()
    );
    let queue = std::sync::Arc::new(std::sync::Mutex::new(projects));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..rollup_workers() {
        let db = db.clone();
        let queue = queue.clone();
        workers.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned queue"))?
                    .pop();
                let Some(project_id) = next else {
                    return anyhow::Ok(());
                };
                let tx = db.worker_tx(project_id).await?;
                analytics_service::repository::rollups::rebuild_project(&tx, project_id)
                    .await
                    .with_context(|| format!("the rollups of project {project_id}"))?;
                tx.commit().await?;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    Ok(())
}

/// What [`prepare`] did.
#[derive(Debug)]
pub struct Prepared {
    pub seed_secs: f64,
    /// The part of `seed_secs` spent computing the analytics rollups.
    pub rollup_secs: f64,
    pub dataset: Dataset,
}

/// Makes sure the seed database is current, then copies it to `run_db`.
pub async fn prepare(
    root: &Path,
    bin_dir: &Path,
    admin_url: &str,
    seed_db: &str,
    run_db: &str,
    size: &DatasetSize,
) -> anyhow::Result<Prepared> {
    let stamp = stamp(root, size)?;
    let (admin, _task) = connect(admin_url, "postgres").await?;
    let current: Option<String> = admin
        .query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&seed_db],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .flatten();
    let mut seed_secs = 0.0;
    let mut rollup_secs = 0.0;
    if current.as_deref() != Some(stamp.as_str()) {
        eprintln!(
            "bench: seeding {seed_db} ({} test results)",
            size.test_results()
        );
        let started = Instant::now();
        // One statement each: neither may run inside a transaction block.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{seed_db}\" WITH (FORCE)"
            ))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{seed_db}\""))
            .await?;
        {
            let (seed, _task) = connect(admin_url, seed_db).await?;
            seed.batch_execute(&std::fs::read_to_string(
                root.join("migrations/bootstrap.sql"),
            )?)
            .await
            .context("bootstrap.sql")?;
        }
        for (binary, _) in MIGRATED {
            let status = Command::new(bin_dir.join(binary))
                .arg("migrate")
                .env("FAULTLINE__DATABASE__NAME", seed_db)
                .env("FAULTLINE__TELEMETRY__LOG_FILTER", "warn")
                .status()
                .with_context(|| format!("running {binary} migrate"))?;
            if !status.success() {
                bail!("{binary} migrate failed ({status})");
            }
        }
        let (seed, _task) = connect(admin_url, seed_db).await?;
        seed.batch_execute(&size.seed_sql())
            .await
            .context("seeding")?;
        for table in SEEDED_TABLES {
            seed.batch_execute(&format!("VACUUM (ANALYZE) {table}"))
                .await?;
        }
        let rollups_started = Instant::now();
        build_rollups(&seed, seed_db).await?;
        rollup_secs = rollups_started.elapsed().as_secs_f64();
        for table in ROLLUP_TABLES {
            seed.batch_execute(&format!("VACUUM (ANALYZE) analytics.{table}"))
                .await?;
        }
        drop(seed);
        admin
            .batch_execute(&format!("COMMENT ON DATABASE \"{seed_db}\" IS '{stamp}'"))
            .await?;
        seed_secs = started.elapsed().as_secs_f64();
        eprintln!("bench: seeded in {seed_secs:.0} s ({rollup_secs:.0} s of rollups)");
    } else {
        eprintln!("bench: reusing {seed_db} (stamp unchanged)");
    }
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{run_db}\" WITH (FORCE)"
        ))
        .await?;
    // Copied file by file, not block by block through the WAL (the
    // default): the WAL way leaves gigabytes for checkpoints to write
    // while the first section measures (section 3's reads ran at twice
    // their time right after a copy).
    admin
        .batch_execute(&format!(
            "CREATE DATABASE \"{run_db}\" TEMPLATE \"{seed_db}\" STRATEGY = FILE_COPY"
        ))
        .await
        .context("copying the seed database")?;
    let (run, _task) = connect(admin_url, run_db).await?;
    let counts = run
        .query_one(
            "SELECT (SELECT count(*) FROM failure.test_results),
                    (SELECT count(*) FROM failure.failures)",
            &[],
        )
        .await?;
    let results: i64 = counts.try_get(0)?;
    let failures: i64 = counts.try_get(1)?;
    Ok(Prepared {
        seed_secs,
        rollup_secs,
        dataset: Dataset {
            projects: size.projects,
            builds_per_project: size.builds_per_project,
            tests_per_project: size.tests_per_project,
            test_results: u64::try_from(results).unwrap_or(0),
            failures: u64::try_from(failures).unwrap_or(0),
            days: size.days,
        },
    })
}

/// Ids in the copied database that the query benchmark asks for.
#[derive(Debug, Clone)]
pub struct QueryTargets {
    pub project_id: uuid::Uuid,
    pub build_id: uuid::Uuid,
    pub test_id: uuid::Uuid,
}

pub async fn query_targets(admin_url: &str, run_db: &str) -> anyhow::Result<QueryTargets> {
    let (client, _task) = connect(admin_url, run_db).await?;
    let row = client
        .query_one(
            "SELECT p.id, b.id, t.id
               FROM project.projects p
               JOIN LATERAL (SELECT id FROM failure.builds WHERE project_id = p.id
                              ORDER BY created_at DESC LIMIT 1) b ON true
               JOIN LATERAL (SELECT id FROM failure.tests WHERE project_id = p.id
                              ORDER BY id LIMIT 1) t ON true
              WHERE p.slug = 'bench-000'",
            &[],
        )
        .await
        .context("the seeded project bench-000")?;
    Ok(QueryTargets {
        project_id: row.try_get(0)?,
        build_id: row.try_get(1)?,
        test_id: row.try_get(2)?,
    })
}

/// Makes `user_id` owner of every seeded project, in the project service's
/// own table (its triggers record the change for the gateway's feed).
pub async fn grant_memberships(
    admin_url: &str,
    run_db: &str,
    user_id: uuid::Uuid,
) -> anyhow::Result<u64> {
    let (client, _task) = connect(admin_url, run_db).await?;
    let granted = client
        .execute(
            "INSERT INTO project.memberships (project_id, user_id, role)
             SELECT id, $1, 'owner' FROM project.projects WHERE slug LIKE 'bench-%'
             ON CONFLICT DO NOTHING",
            &[&user_id],
        )
        .await?;
    Ok(granted)
}

/// Makes `user_id` owner of the projects `slugs` only.
pub async fn grant_memberships_in(
    admin_url: &str,
    run_db: &str,
    user_id: uuid::Uuid,
    slugs: &[String],
) -> anyhow::Result<u64> {
    let (client, _task) = connect(admin_url, run_db).await?;
    let granted = client
        .execute(
            "INSERT INTO project.memberships (project_id, user_id, role)
             SELECT id, $1, 'owner' FROM project.projects WHERE slug = ANY($2)
             ON CONFLICT DO NOTHING",
            &[&user_id, &slugs],
        )
        .await?;
    Ok(granted)
}

pub async fn admin_client(
    admin_url: &str,
    database: &str,
) -> anyhow::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    connect(admin_url, database).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        let sql = DatasetSize::full().seed_sql();
        assert!(!sql.contains('{'), "unfilled placeholder");
        assert!(sql.contains("generate_series(0, 1000 - 1)"));
    }

    #[test]
    fn the_full_dataset_has_one_million_results_in_the_big_project_and_size_projects_to_ten_million()
     {
        let full = DatasetSize::full();
        assert_eq!(full.big_test_results(), 1_000_000);
        let sizes: Vec<u64> = full
            .size_projects
            .iter()
            .map(|(_, builds, tests)| u64::from(*builds) * u64::from(*tests))
            .collect();
        assert_eq!(sizes, [10_000, 100_000, 1_000_000, 10_000_000]);
        assert_eq!(full.test_results(), 6_000_000 + 11_110_000);
        // Every size project is in the seed, with its shape.
        let sql = full.seed_sql();
        assert!(sql.contains("'bench-size-10m'"));
        assert!(sql.contains("generate_series(0, 5000 - 1) AS c"));
        assert!(!sql.contains('{'), "a placeholder left unfilled");
    }

    #[test]
    fn every_schema_folder_is_migrated_into_the_seed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut folders: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        folders.sort();
        let mut migrated: Vec<String> = MIGRATED.iter().map(|(_, dir)| (*dir).to_owned()).collect();
        migrated.sort();
        assert_eq!(folders, migrated);
    }

    #[test]
    fn slug_regex_covers_exactly_the_seeded_projects() {
        assert_eq!(DatasetSize::full().slug_regex(), "bench-[0-9]{3}");
        assert_eq!(DatasetSize::quick().slug_regex(), "bench-0[0-9]{2}");
    }
}
