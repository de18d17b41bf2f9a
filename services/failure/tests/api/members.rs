//! The real project service, for the failure service's membership checks
//! (`GET /internal/v1/access`): spawned on a database of its own, with the
//! project and its members written there as the project service stores
//! them.

use test_support::TestApp;
use uuid::Uuid;

/// A running project service that knows `project_id` with `members`
/// (role `member`); the failure service is pointed at its URL.
pub async fn project_service(project_id: Uuid, members: &[Uuid]) -> TestApp {
    let project = TestApp::spawn(
        &project_service::SPEC,
        project_service::build,
        // Nothing here reports access changes to an auth service.
        &[(
            "service.key_creator_relay_interval_ms",
            "3600000".to_owned(),
        )],
    )
    .await;
    let admin = project.database().admin_client().await;
    let slug = format!("p-{}", &project_id.simple().to_string()[..12]);
    admin
        .execute(
            "INSERT INTO project.projects (id, slug, name) VALUES ($1, $2, $2)",
            &[&project_id, &slug],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO project.memberships (project_id, user_id, role)
             SELECT $1, unnest($2::uuid[]), 'member'",
            &[&project_id, &members],
        )
        .await
        .unwrap();
    project
}
