//! How much of everything each mode measures.

use crate::seed::DatasetSize;

/// How much of everything: the full suite or the quick development pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) runs: usize,
    pub(super) secs: u64,
    pub(super) connections: u32,
    pub(super) query_rate: f64,
    pub(super) rls_executions: usize,
    pub(super) sustained_secs: u64,
    /// Testcases of the single uploads: the ingest curve's points.
    pub(super) single_sizes: &'static [u64],
    pub(super) large_bytes: u64,
    pub(super) dataset: DatasetSize,
    /// Requests per second on each analytics endpoint (the goal's rate).
    pub(super) analytics_rate: f64,
    /// Builds whose rollup lag is measured.
    pub(super) lag_builds: u32,
    /// Page loads per second on each web page.
    pub(super) page_rate: f64,
    /// Distinct tokens, and distinct projects, at each point of the
    /// gateway's cache curves.
    pub(super) cache_points: &'static [usize],
    /// Projects in the database at each point of the project-count curve
    /// after the first (the seeded count).
    pub(super) project_counts: &'static [u64],
}

impl Plan {
    pub(super) fn for_mode(quick: bool) -> Self {
        if quick {
            Self {
                runs: 1,
                secs: 3,
                connections: 32,
                query_rate: 100.0,
                rls_executions: 50,
                sustained_secs: 6,
                single_sizes: &[1_000, 10_000, 100_000],
                large_bytes: 32 << 20,
                dataset: DatasetSize::quick(),
                analytics_rate: 100.0,
                lag_builds: 10,
                page_rate: 10.0,
                cache_points: &[1, 100, 1_000],
                project_counts: &[1_000, 10_000],
            }
        } else {
            Self {
                runs: 3,
                secs: 6,
                connections: 32,
                query_rate: 200.0,
                rls_executions: 300,
                sustained_secs: 20,
                single_sizes: &[1_000, 10_000, 100_000, 1_000_000],
                // Just under the 256 MiB upload limit.
                large_bytes: 250 << 20,
                dataset: DatasetSize::full(),
                analytics_rate: 100.0,
                lag_builds: 100,
                page_rate: 10.0,
                cache_points: &[1, 10_000, 100_000, 200_000],
                project_counts: &[10_000, 100_000],
            }
        }
    }
}
