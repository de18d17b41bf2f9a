//! Row level security below the API: what the runtime role sees and may
//! write when a query forgets its filter.

use project_service::repository::projects::{self, LIST_FOR_MEMBER, ListFilter};
use tenant_core::{PrincipalKind, Role, TenantContext};
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{ProjectApp, id_of};

fn in_project(user: Uuid, project: &str) -> TenantContext {
    contexts::in_project(
        user,
        PrincipalKind::User,
        Uuid::parse_str(project).unwrap(),
        Role::Owner,
    )
}

#[tokio::test]
async fn listing_projects_shows_only_the_callers_memberships_even_without_the_user_filter() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let a = id_of(&app.create_project(&alice, "proj-a", "A").await);
    let b = id_of(&app.create_project(&bob, "proj-b", "B").await);
    app.create_project(&bob, "proj-c", "C").await;
    app.add_member(&bob, "proj-b", &alice, Role::Viewer).await;

    // The repository's own listing query with its user filter removed.
    let unfiltered = LIST_FOR_MEMBER.replace("m.user_id = $1", "$1::uuid IS NOT NULL");
    assert_ne!(unfiltered, LIST_FOR_MEMBER, "the filter was not removed");

    let db = app.db().await;
    let tx = db.user_tx(alice.id).await.unwrap();
    let rows = projects::list_with(
        &tx,
        &unfiltered,
        alice.id,
        &ListFilter::default(),
        None,
        100,
    )
    .await
    .unwrap();
    let seen: Vec<(String, Role)> = rows
        .into_iter()
        .map(|(project, role)| (project.id.to_string(), role))
        .collect();
    assert_eq!(seen, [(a.clone(), Role::Owner), (b.clone(), Role::Viewer)]);

    let own_rows: i64 = tx
        .query_one("SELECT count(*) FROM project.memberships", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(own_rows, 2, "alice's own memberships, nobody else's");
    tx.rollback().await.unwrap();

    // Inside a project only that project's memberships show, not the
    // caller's memberships elsewhere.
    let tx = db.tenant_tx(&in_project(alice.id, &b)).await.unwrap();
    let in_b: Vec<Uuid> = tx
        .query("SELECT project_id FROM project.memberships", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(in_b.len(), 2);
    assert!(in_b.iter().all(|id| id.to_string() == b));
    tx.rollback().await.unwrap();

    // No user and no project: nothing at all, feed included.
    let tx = db.unscoped_tx().await.unwrap();
    for table in ["project.memberships", "project.access_changes"] {
        let visible: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(visible, 0, "{table}");
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn writes_are_confined_to_the_transactions_project() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let a = id_of(&app.create_project(&alice, "proj-a", "A").await);
    let b = id_of(&app.create_project(&alice, "proj-b", "B").await);
    let b_id = Uuid::parse_str(&b).unwrap();
    let db = app.db().await;

    let tx = db.tenant_tx(&in_project(alice.id, &a)).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO project.memberships (project_id, user_id, role) VALUES ($1, $2, 'owner')",
            &[&b_id, &Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert!(error.is_tenant_violation(), "{error:?}");
    drop(tx);

    // A user's own rows are readable outside a project, never writable.
    let tx = db.user_tx(alice.id).await.unwrap();
    let demoted = tx
        .execute(
            "UPDATE project.memberships SET role = 'viewer' WHERE user_id = $1",
            &[&alice.id],
        )
        .await
        .unwrap();
    assert_eq!(demoted, 0);
    drop(tx);

    // A project's status changes only inside its own scope: the access
    // change it records would otherwise belong to no project.
    let tx = db.unscoped_tx().await.unwrap();
    let error = tx
        .execute(
            "UPDATE project.projects SET status = 'archived' WHERE id = $1",
            &[&b_id],
        )
        .await
        .unwrap_err();
    assert!(error.is_tenant_violation(), "{error:?}");
}
