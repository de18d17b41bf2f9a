//! The internal access API and change feed the gateway authorizes with.

use std::time::Duration;

use serde_json::json;
use tenant_core::Role;
use test_support::{Reply, eventually};
use uuid::Uuid;

use crate::helpers::{ProjectApp, id_of};

async fn key_access(app: &ProjectApp, key_project: &str, role: &str, project: &str) -> Reply {
    app.internal(&format!(
        "/internal/v1/access?api_key_project={key_project}&role={role}&project={project}"
    ))
    .await
}

#[tokio::test]
async fn the_access_api_answers_a_members_role_status_and_plan_limits_by_id_or_slug() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let project = app.create_project(&alice, "web", "Web").await;
    let id = id_of(&project);
    app.add_member(&alice, "web", &bob, Role::Member).await;

    let by_slug = app.access(&bob, "web").await.expect(200);
    let by_id = app.access(&bob, &id).await.expect(200);
    assert_eq!(by_slug, by_id);
    assert_eq!(
        by_slug,
        json!({
            "project_id": id,
            "slug": "web",
            "status": "active",
            "role": "member",
            "plan": "free",
            "limits": project["limits"],
            "as_of_seq": app.latest_change().await,
        })
    );
    assert_eq!(app.access(&alice, "web").await.expect(200)["role"], "owner");
}

#[tokio::test]
async fn the_access_api_is_404_without_a_membership_and_reports_archived_projects() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let eve = app.user("eve@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    for project in ["web", "nothing", "Not A Slug", &Uuid::now_v7().to_string()] {
        app.access(&eve, project)
            .await
            .expect_problem(404, "access.not_found");
    }
    app.access(&alice, "nothing")
        .await
        .expect_problem(404, "access.not_found");

    app.post(&alice, "/v1/projects/web/archive", json!({}))
        .await
        .expect(200);
    let archived = app.access(&alice, "web").await.expect(200);
    assert_eq!(
        archived["status"], "archived",
        "the gateway decides what an archived project allows"
    );
    app.delete(&alice, "/v1/projects/web").await.expect(204);
    app.access(&alice, "web")
        .await
        .expect_problem(404, "access.not_found");
}

#[tokio::test]
async fn an_api_key_reaches_only_its_own_active_project_with_at_most_the_member_role() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let web = id_of(&app.create_project(&alice, "web", "Web").await);
    let api = id_of(&app.create_project(&alice, "api", "API").await);

    let own = key_access(&app, &web, "member", "web").await.expect(200);
    assert_eq!(own["project_id"], web);
    assert_eq!(own["role"], "member");
    assert_eq!(
        key_access(&app, &web, "viewer", &web).await.expect(200)["role"],
        "viewer"
    );
    assert_eq!(
        key_access(&app, &web, "owner", "web").await.expect(200)["role"],
        "member",
        "a key never acts above member"
    );
    key_access(&app, &web, "member", "api")
        .await
        .expect_problem(404, "access.not_found");
    key_access(&app, &web, "member", &api)
        .await
        .expect_problem(404, "access.not_found");

    app.post(&alice, "/v1/projects/web/archive", json!({}))
        .await
        .expect(200);
    key_access(&app, &web, "member", "web")
        .await
        .expect_problem(404, "access.not_found");
}

#[tokio::test]
async fn the_access_api_is_for_services_only_and_needs_one_kind_of_principal() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    app.get(
        &alice,
        &format!("/internal/v1/access?user={}&project=web", alice.id),
    )
    .await
    .expect_problem(403, "context.service_required");
    app.get(&alice, "/internal/v1/access/changes")
        .await
        .expect_problem(403, "context.service_required");

    for query in [
        "project=web".to_owned(),
        format!("user={}&role=member&project=web", alice.id),
        format!(
            "user={}&api_key_project={}&role=member&project=web",
            alice.id,
            Uuid::now_v7()
        ),
        format!("api_key_project={}&project=web", Uuid::now_v7()),
    ] {
        app.internal(&format!("/internal/v1/access?{query}"))
            .await
            .expect_problem(400, "access.invalid_query");
    }
    app.internal("/internal/v1/access?user=not-a-uuid&project=web")
        .await
        .expect_problem(400, "request.invalid_query");
}

#[tokio::test]
async fn the_change_feed_reports_membership_and_project_changes_in_order() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let admin = app.platform_admin("root@example.com").await;
    let start = app.changes("").await;
    assert_eq!(start["changes"], json!([]));
    let after = start["latest"].as_i64().unwrap();

    let web = id_of(&app.create_project(&alice, "web", "Web").await);
    app.add_member(&alice, "web", &bob, Role::Viewer).await;
    let bob_path = format!("/v1/projects/web/members/{}", bob.id);
    app.patch(&alice, &bob_path, json!({ "role": "member" }))
        .await
        .expect(200);
    // Not a change of access: no entry.
    app.patch(&alice, "/v1/projects/web", json!({ "name": "Web shop" }))
        .await
        .expect(200);
    app.patch(&alice, &bob_path, json!({ "role": "member" }))
        .await
        .expect(200);
    app.post(&alice, "/v1/projects/web/archive", json!({}))
        .await
        .expect(200);
    app.put(&admin, "/v1/projects/web/plan", json!({ "plan": "team" }))
        .await
        .expect(200);
    app.delete(&alice, &bob_path).await.expect(204);

    let feed = app.changes(&format!("?after={after}")).await;
    let entries: Vec<(String, Option<String>)> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            assert_eq!(change["project_id"], web);
            (
                change["kind"].as_str().unwrap().to_owned(),
                change["user_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let alice_id = Some(alice.id.to_string());
    let bob_id = Some(bob.id.to_string());
    assert_eq!(
        entries,
        [
            ("membership".to_owned(), alice_id),
            ("membership".to_owned(), bob_id.clone()),
            ("membership".to_owned(), bob_id.clone()),
            ("project".to_owned(), None),
            ("project".to_owned(), None),
            ("membership".to_owned(), bob_id),
        ]
    );
    let seqs: Vec<i64> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert_eq!(feed["latest"].as_i64().unwrap(), *seqs.last().unwrap());
    assert_eq!(feed["reset"], false);

    let tail = app.changes(&format!("?after={}&limit=2", seqs[2])).await;
    assert_eq!(tail["changes"].as_array().unwrap().len(), 2);
    assert_eq!(tail["changes"][0]["seq"].as_i64().unwrap(), seqs[3]);
    assert_eq!(tail["has_more"], true);
    let caught_up = app.changes(&format!("?after={}", seqs[5])).await;
    assert_eq!(caught_up["changes"], json!([]));
    assert_eq!(caught_up["has_more"], false);
}

/// Where the relay of membership changes to the auth service stands.
async fn relay_position(app: &ProjectApp) -> i64 {
    app.admin()
        .await
        .query_one(
            "SELECT position FROM project.access_feed_cursors WHERE consumer = 'auth-key-creators'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_poller_behind_the_pruned_feed_or_ahead_of_it_is_told_to_reset() {
    let app = ProjectApp::spawn_with(&[
        ("service.access_changes_retained", "3".to_owned()),
        ("service.key_creator_relay_interval_ms", "50".to_owned()),
    ])
    .await;
    let alice = app.user("alice@example.com").await;
    for n in 0..6 {
        app.create_project(&alice, &format!("p{n}"), "P").await;
    }
    // Pruning waits for the relay to the auth service.
    eventually(
        "the relay to deliver the changes",
        Duration::from_secs(10),
        || async { (relay_position(&app).await >= 6).then_some(()) },
    )
    .await;
    // The first poll prunes down to the newest three changes.
    let latest = app.changes("?after=0").await["latest"].as_i64().unwrap();
    assert_eq!(latest, 6);

    let behind = app.changes("?after=1").await;
    assert_eq!(behind["reset"], true);
    assert_eq!(behind["changes"], json!([]));
    let current = app.changes("?after=3").await;
    assert_eq!(current["reset"], false);
    assert_eq!(current["changes"].as_array().unwrap().len(), 3);
    let ahead = app.changes("?after=99").await;
    assert_eq!(ahead["reset"], true);
    app.internal("/internal/v1/access/changes?after=-1")
        .await
        .expect_problem(400, "access.invalid_query");
}

/// The relay to the auth service cannot deliver (where it sends, a socket
/// takes connections and never answers): pruning keeps every change it
/// has not delivered, however few the retention allows, so the auth
/// service learns of each later.
#[tokio::test]
async fn the_feed_keeps_changes_the_relay_to_the_auth_service_has_not_delivered() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", silent.local_addr().unwrap());
    let app = ProjectApp::spawn_with(&[
        ("service.access_changes_retained", "3".to_owned()),
        ("service.key_creator_relay_interval_ms", "50".to_owned()),
        ("service.auth_url", nowhere),
        ("service.auth_timeout_ms", "200".to_owned()),
    ])
    .await;
    let alice = app.user("alice@example.com").await;
    for n in 0..6 {
        app.create_project(&alice, &format!("q{n}"), "Q").await;
    }
    // Polls prune; twice, so the second sees the first one's pruning.
    app.changes("?after=0").await;
    let kept = app.changes("?after=0").await;
    assert_eq!(kept["reset"], false);
    assert_eq!(kept["changes"].as_array().unwrap().len(), 6);
    assert_eq!(relay_position(&app).await, 0);
    drop(silent);
}

#[tokio::test]
async fn the_access_check_is_one_query_on_indexes_only() {
    let app = ProjectApp::spawn().await;
    let admin = app.admin().await;
    // Enough rows that the planner prefers indexes where they exist
    // (inserted as the superuser, without signalling each as a change).
    admin
        .batch_execute(
            "ALTER TABLE project.memberships DISABLE TRIGGER memberships_access_changed;
             INSERT INTO project.projects (id, slug, name)
                  SELECT gen_random_uuid(), 'bulk-' || n, 'Bulk ' || n FROM generate_series(1, 5000) n;
             INSERT INTO project.memberships (project_id, user_id, role)
                  SELECT p.id, gen_random_uuid(), 'member' FROM project.projects p, generate_series(1, 4);
             ALTER TABLE project.memberships ENABLE TRIGGER memberships_access_changed;
             ANALYZE project.projects; ANALYZE project.memberships;",
        )
        .await
        .unwrap();
    let user = Uuid::now_v7();
    for (sql, project) in [
        (
            project_service::repository::access::USER_ACCESS_BY_SLUG,
            "'bulk-42'".to_owned(),
        ),
        (
            project_service::repository::access::USER_ACCESS_BY_ID,
            format!("'{}'::uuid", Uuid::now_v7()),
        ),
    ] {
        let explain = format!(
            "EXPLAIN {}",
            sql.replace("$1", &format!("'{user}'::uuid"))
                .replace("$2", &project)
        );
        admin
            .batch_execute(&format!(
                "SET ROLE project_app; SELECT set_config('app.user_id', '{user}', false);"
            ))
            .await
            .unwrap();
        let rows = admin.query(&explain, &[]).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        let plan = plan.join("\n");
        // The one-row change counter is read whole; nothing else may be.
        let scans: Vec<&str> = plan
            .lines()
            .filter(|line| line.contains("Seq Scan") && !line.contains("access_change_counter"))
            .collect();
        assert!(scans.is_empty(), "{plan}");
        assert!(plan.contains("Index"), "{plan}");
        admin.batch_execute("RESET ROLE").await.unwrap();
    }
}

#[tokio::test]
async fn a_users_projects_are_listed_for_services_without_deleted_or_foreign_ones() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let web = id_of(&app.create_project(&alice, "web", "Web").await);
    let api = id_of(&app.create_project(&alice, "api", "Api").await);
    let ops = id_of(&app.create_project(&bob, "ops", "Ops").await);
    app.add_member(&bob, "ops", &alice, Role::Viewer).await;
    app.delete(&alice, "/v1/projects/api").await;

    let listed = |user: Uuid| {
        let app = &app;
        async move {
            let body = app
                .internal(&format!("/internal/v1/users/{user}/projects"))
                .await
                .expect(200);
            let mut ids: Vec<String> = body["project_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut expected = vec![web.clone(), ops.clone()];
    expected.sort();
    assert_eq!(listed(alice.id).await, expected, "{api} was deleted");
    assert_eq!(listed(bob.id).await, vec![ops]);
    assert!(listed(Uuid::now_v7()).await.is_empty());
    app.get(&alice, &format!("/internal/v1/users/{}/projects", alice.id))
        .await
        .expect_problem(403, "context.service_required");
}
