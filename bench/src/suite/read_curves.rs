//! How read cost grows: the failures list and the groups list at the query
//! rate, by the size of the project read (the seeded `bench-size-*`
//! projects) and by the number of projects in the database (one seeded
//! project read while small projects are added around it). Runs last: the
//! projects it adds would change what the other sections read.

use anyhow::Context;
use tenant_core::context::{ProjectAccess, Role};
use uuid::Uuid;

use crate::oha::Load;
use crate::seed;

use super::*;

/// The project the project-count curve reads: one of the seeded ones.
const COUNT_CURVE_PROJECT: &str = "bench-000";

/// What each added project holds: one build of this many tests, one of
/// them failing.
const ADDED_PROJECT_TESTS: u32 = 10;

impl Ctx {
    pub(super) async fn read_curves(&self) -> anyhow::Result<CurveResults> {
        let (admin, _task) = seed::admin_client(&self.config.admin_url, &self.run_db).await?;
        let mut curves = CurveResults {
            rate: self.plan.query_rate,
            ..CurveResults::default()
        };
        for (label, _, _) in self.plan.dataset.size_projects {
            let point = self
                .read_point(&admin, &format!("bench-size-{label}"))
                .await?;
            curves.project_size.push(point);
        }
        curves
            .project_count
            .push(self.read_point(&admin, COUNT_CURVE_PROJECT).await?);
        for &target in self.plan.project_counts {
            add_projects(&admin, target).await?;
            curves
                .project_count
                .push(self.read_point(&admin, COUNT_CURVE_PROJECT).await?);
        }
        Ok(curves)
    }

    /// Both lists of `slug`, `plan.runs` times each after a warm-up.
    async fn read_point(
        &self,
        admin: &tokio_postgres::Client,
        slug: &str,
    ) -> anyhow::Result<ReadPoint> {
        let row = admin
            .query_one(
                "SELECT p.id,
                        (SELECT count(*) FROM failure.test_results r WHERE r.project_id = p.id),
                        (SELECT count(*) FROM failure.failures f WHERE f.project_id = p.id),
                        (SELECT count(*) FROM project.projects),
                        (SELECT count(*) FROM failure.test_results)
                   FROM project.projects p WHERE p.slug = $1",
                &[&slug],
            )
            .await
            .with_context(|| format!("project {slug}"))?;
        let project_id: Uuid = row.try_get(0)?;
        let count =
            |i: usize| -> anyhow::Result<u64> { Ok(u64::try_from(row.try_get::<_, i64>(i)?)?) };
        let mut point = ReadPoint {
            project: slug.to_owned(),
            results: count(1)?,
            failures: count(2)?,
            projects: count(3)?,
            total_results: count(4)?,
            failures_list: Vec::new(),
            groups_list: Vec::new(),
        };
        for (name, version, runs) in [
            ("failures_list", "v1", &mut point.failures_list),
            ("groups_list", "v2", &mut point.groups_list),
        ] {
            let path = format!("/{version}/projects/{project_id}/failures?limit=50");
            let tag = format!("curve-{slug}-{}-{name}", point.projects);
            for run in 0..=self.plan.runs {
                let secs = if run == 0 { 2 } else { self.plan.secs };
                let load = self.failure_read(project_id, &path, secs)?;
                let result = self
                    .oha()?
                    .run(&load, &self.raw(&format!("{tag}-{run}")))
                    .await?;
                if result.non_2xx > 0 {
                    anyhow::bail!("{name} of {slug}: {} answers were not 2xx", result.non_2xx);
                }
                // Run 0 warms caches and connections and is not kept.
                if run > 0 {
                    runs.push(result);
                }
            }
            eprintln!(
                "bench:   {name} of {slug} ({} results, {} projects): p99 {:.2} ms",
                point.results,
                point.projects,
                runs.iter().map(|r| r.p99_ms).fold(f64::NAN, f64::max)
            );
        }
        Ok(point)
    }

    /// A fixed-rate read of the failure service as the gateway forwards
    /// it: an internal context token for a viewer of `project_id`.
    pub(super) fn failure_read(
        &self,
        project_id: Uuid,
        path: &str,
        secs: u64,
    ) -> anyhow::Result<Load> {
        let token = self.context_token(
            "failure-service",
            Some(ProjectAccess {
                project_id,
                role: Role::Viewer,
            }),
        )?;
        Ok(Load {
            url: format!(
                "http://127.0.0.1:{}{path}",
                self.platform.service("failure")?.port
            ),
            rand_regex: false,
            headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
            connections: self.plan.connections,
            secs,
            rate: Some(self.plan.query_rate),
        })
    }
}

/// Adds small projects (`bench-count-*`: one build, [`ADDED_PROJECT_TESTS`]
/// results, one failure in one group) until the database holds `target`
/// projects, then analyses the tables as autovacuum would.
async fn add_projects(admin: &tokio_postgres::Client, target: u64) -> anyhow::Result<()> {
    let existing: i64 = admin
        .query_one("SELECT count(*) FROM project.projects", &[])
        .await?
        .try_get(0)?;
    let target = i64::try_from(target)?;
    if target <= existing {
        return Ok(());
    }
    eprintln!("bench:   adding {} projects", target - existing);
    let sql = ADD_PROJECTS_SQL
        .replace("{from}", &existing.to_string())
        .replace("{to}", &(target - 1).to_string())
        .replace("{tests}", &ADDED_PROJECT_TESTS.to_string());
    admin.batch_execute(&sql).await.context("adding projects")?;
    for table in seed::SEEDED_TABLES {
        admin.batch_execute(&format!("ANALYZE {table}")).await?;
    }
    Ok(())
}

const ADD_PROJECTS_SQL: &str = include_str!("../../sql/add_projects.sql");
