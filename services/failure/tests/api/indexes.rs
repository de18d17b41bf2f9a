//! Counts other services make over a whole project are answered by an
//! index of their own, not by reading the table.

use failure_service::SPEC;
use uuid::Uuid;

use crate::helpers;

/// The analytics service's count of a project's open and triaged groups
/// (its project rollup, after every batch of events) reads the partial
/// index of those groups only: the table carries each group's message and
/// stack trace, and reading it all on every upload cost more than the
/// upload's own statements.
#[tokio::test]
async fn a_projects_open_groups_are_counted_from_their_own_index() {
    let (database, _) = helpers::migrated_through(&SPEC).await;
    let admin = database.admin_client().await;
    // The planner is kept off a sequential scan, as a large table keeps it
    // off one; what is left is whatever index can answer.
    admin
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let plan: Vec<String> = admin
        .query(
            "EXPLAIN SELECT count(*) FROM failure.analytics_groups
              WHERE project_id = $1 AND status IN ('open', 'triaged')",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.contains("Index Only Scan using failure_groups_open_idx"),
        "{plan}"
    );
}
