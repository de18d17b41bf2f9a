//! What the service does before it has routes of its own: it starts ready
//! with its schema migrated and answers unknown routes with a problem.

use std::time::Duration;

use integration_gateway::{MIGRATIONS, SPEC};
use test_support::Reply;

use crate::helpers::spawn;

#[tokio::test]
async fn it_starts_ready_with_every_migration_applied() {
    let app = spawn(&[]).await;
    let ready = test_support::wait_for_status(
        &app.http,
        &app.service.admin_url("/readyz"),
        200,
        Duration::from_secs(10),
    )
    .await;
    assert!(ready, "{} never became ready", SPEC.name);
    let schema = SPEC.schema.expect("the service keeps data");
    let applied = app.database().applied_migration_version(schema).await;
    assert_eq!(Some(applied), MIGRATIONS.last().map(|m| m.version));
    assert_eq!(app.metric("integration_db_statements_total").await, 0.0);
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_not_a_bare_404() {
    let app = spawn(&[]).await;
    let reply = Reply::from_request(app.request(reqwest::Method::GET, "/v1/nothing-here")).await;
    reply.expect_problem(404, "route.not_found");
}
