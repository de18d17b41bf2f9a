//! One tenant's objects, made through the public API as its users and CI
//! make them: members of every role, an API key, a build with uploaded
//! results (so failures, a failure group and a test), a comment, a regroup
//! job, a classification rule, a quality gate rule and a quarantined test.
//! Every text field carries the tenant's marker, so any answer that shows
//! another tenant's data is caught by a plain substring search.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::FullPlatform;
use crate::gateway_helpers::{User, api_key_request};

/// A seeded project and who may act on it.
#[derive(Debug)]
pub struct Tenant {
    pub owner: User,
    /// Admin, member and viewer users (only for the tenant the matrix
    /// attacks from; the other has a member so it has a member id).
    pub admin: User,
    pub member: User,
    pub viewer: User,
    /// A member API key.
    pub key: String,
    /// Path parameter values naming this tenant's objects, by parameter
    /// name; `upstream:name` where two upstreams use one name.
    pub params: BTreeMap<String, String>,
    /// Strings no other tenant may ever see: ids, names, messages.
    pub markers: Vec<String>,
}

impl Tenant {
    /// The value for path parameter `name` of a route served by `upstream`.
    pub fn param(&self, upstream: &str, name: &str) -> Option<&str> {
        self.params
            .get(&format!("{upstream}:{name}"))
            .or_else(|| self.params.get(name))
            .map(String::as_str)
    }
}

/// A JUnit report whose failure message and test names carry `marker`.
fn junit(marker: &str) -> String {
    format!(
        r#"<testsuite name="{marker}-suite" tests="2" failures="1">
<testcase classname="{marker}.Checkout" name="{marker}_passes"/>
<testcase classname="{marker}.Checkout" name="{marker}_fails"><failure message="{marker} boom" type="{marker}Error">{marker} trace</failure></testcase>
</testsuite>"#
    )
}

fn id_of(value: &Value, what: &str) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{what} has no id: {value}"))
        .to_owned()
}

/// Seeds a tenant named by `prefix` (lower-case letters), its plan raised
/// by `platform_admin` so the matrix is not rate limited.
pub async fn seed_tenant(full: &FullPlatform, platform_admin: &User, prefix: &str) -> Tenant {
    let platform = &full.platform;
    let marker = format!("{prefix}{}", &Uuid::new_v4().simple().to_string()[..10]);
    let user = |role: &str| format!("{marker}-{role}@example.com");
    let owner = platform.sign_up_and_log_in(&user("owner")).await;
    let admin = platform.sign_up_and_log_in(&user("admin")).await;
    let member = platform.sign_up_and_log_in(&user("member")).await;
    let viewer = platform.sign_up_and_log_in(&user("viewer")).await;
    let slug = marker.clone();
    let project = platform.create_project(&owner, &slug).await;
    let project_id = id_of(&project, "project");
    let token = Some(owner.access_token.as_str());
    full.raise_plan(platform_admin, &slug).await;
    for (who, role) in [(&admin, "admin"), (&member, "member"), (&viewer, "viewer")] {
        platform.add_member(&owner, &slug, who, role).await;
    }

    let mut key_request = api_key_request("member");
    key_request["name"] = json!(format!("{marker} key"));
    let key = full
        .send(
            Method::POST,
            &format!("/api/v1/projects/{slug}/api-keys"),
            token,
            Some(key_request),
        )
        .await
        .expect(201);
    let key_id = id_of(&key, "API key");
    let key = key["key"].as_str().unwrap().to_owned();

    let base = format!("/api/v1/projects/{slug}");
    let build = full
        .send(
            Method::POST,
            &format!("{base}/builds"),
            Some(&key),
            Some(json!({"job_name": format!("{marker}-ci"), "external_id": marker, "branch": format!("{marker}-branch")})),
        )
        .await
        .expect(201);
    let build = id_of(&build, "build");
    full.send_raw(
        Method::POST,
        &format!("{base}/builds/{build}/results"),
        Some(&key),
        Some(("application/xml", junit(&marker).into_bytes())),
    )
    .await
    .expect(201);
    let failures = full
        .send(Method::GET, &format!("{base}/failures"), token, None)
        .await
        .expect(200);
    let failure = &failures["items"][0];
    let (failure_id, group, test) = (
        id_of(failure, "failure"),
        failure["group_id"].as_str().unwrap().to_owned(),
        failure["test"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("a failure without a test id: {failure}"))
            .to_owned(),
    );
    let v2 = format!("/api/v2/projects/{slug}");
    let comment = full
        .send(
            Method::POST,
            &format!("{v2}/failures/{group}/comments"),
            token,
            Some(json!({"body": format!("{marker} comment")})),
        )
        .await
        .expect(201);
    let job = full
        .send(
            Method::POST,
            &format!("{v2}/regroup"),
            token,
            Some(json!({})),
        )
        .await;
    assert!(job.status.is_success(), "regroup: {}", job.text);
    let job_id = id_of(&job.body, "regroup job");
    // The job moves failures between groups: the matrix starts after it.
    test_support::app::eventually(
        "the regroup job to finish",
        Duration::from_secs(20),
        || async {
            let job = full
                .send(Method::GET, &format!("{v2}/jobs/{job_id}"), token, None)
                .await;
            (job.text.contains("succeeded") || job.text.contains("\"failed\"")).then_some(())
        },
    )
    .await;
    let rule = full
        .send(
            Method::POST,
            &format!("{base}/classification-rules"),
            token,
            Some(json!({"name": format!("{marker} rule"), "field": "message", "pattern": format!("{marker}-matches-nothing"), "label": "flaky"})),
        )
        .await
        .expect(201);
    let gate_rule = full
        .send(
            Method::POST,
            &format!("{base}/quality-gate-rules"),
            token,
            Some(json!({"name": format!("{marker} gate"), "kind": "max_failures", "threshold": 0, "branch_pattern": "*"})),
        )
        .await
        .expect(201);
    let quarantined = full
        .send(
            Method::PUT,
            &format!("{base}/quarantine/{test}"),
            token,
            Some(json!({"reason": format!("{marker} quarantined")})),
        )
        .await;
    assert!(quarantined.status.is_success(), "{}", quarantined.text);

    let (connection, integration_rule, delivery) =
        seed_integrations(full, &slug, &project_id, &marker, token).await;

    let params: BTreeMap<String, String> = [
        ("project", slug.clone()),
        ("project_ref", slug.clone()),
        ("user_id", member.id.clone()),
        ("member", member.id.clone()),
        ("key_id", key_id),
        ("build", build),
        ("failure", failure_id),
        ("group", group),
        ("test", test),
        ("comment", id_of(&comment, "comment")),
        ("job", job_id),
        ("failure:rule", id_of(&rule, "classification rule")),
        ("analytics:rule", id_of(&gate_rule, "quality gate rule")),
        ("connection", connection),
        ("integration:rule", integration_rule),
        ("delivery", delivery),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let mut markers = vec![marker.clone(), project_id];
    markers.extend(
        [&owner, &admin, &member, &viewer]
            .iter()
            .map(|user| user.id.clone()),
    );
    markers.extend(
        params
            .iter()
            .filter(|(name, _)| name.as_str() != "project")
            .map(|(_, value)| value.clone()),
    );
    markers.sort_unstable();
    markers.dedup();
    Tenant {
        owner,
        admin,
        member,
        viewer,
        key,
        params,
        markers,
    }
}

/// A receiver that refuses every delivery with 401, which dead-letters it
/// at once: the seeded delivery then stays as it is while the matrix runs.
async fn refusing_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/{}",
        listener.local_addr().unwrap(),
        Uuid::new_v4()
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut request = [0_u8; 8192];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    url
}

/// A Slack connection, a rule sending it `build.completed`, and one
/// delivery (dead), made by relaying an event as the failure service does.
async fn seed_integrations(
    full: &FullPlatform,
    slug: &str,
    project_id: &str,
    marker: &str,
    token: Option<&str>,
) -> (String, String, String) {
    let base = format!("/api/v1/projects/{slug}/integrations");
    let connection = full
        .send(
            Method::POST,
            &format!("{base}/connections"),
            token,
            Some(json!({"kind": "slack", "name": format!("{marker} slack"), "webhook_url": refusing_receiver().await})),
        )
        .await
        .expect(201);
    let connection = id_of(&connection, "connection");
    let rule = full
        .send(
            Method::POST,
            &format!("{base}/rules"),
            token,
            Some(json!({"connection_id": connection, "events": ["build.completed"]})),
        )
        .await
        .expect(201);
    let project: Uuid = project_id.parse().unwrap();
    let relay = tenant_core::TenantContext::new(
        tenant_core::context::Principal {
            id: Uuid::now_v7(),
            kind: tenant_core::context::PrincipalKind::Service,
        },
        Some(tenant_core::context::ProjectAccess {
            project_id: project,
            role: tenant_core::Role::Member,
        }),
        "seed",
    );
    let event = json!({
        "id": Uuid::now_v7(),
        "project_id": project,
        "kind": "build.completed",
        "occurred_at": "2026-11-26T10:00:00Z",
        "payload": {
            "build_id": Uuid::now_v7(), "job_name": format!("{marker}-ci"), "number": 7,
            "branch": format!("{marker}-branch"), "status": "failed",
            "url": "https://ci.example.com/7",
            "counts": {"tests": 2, "passed": 1, "failures": 1, "errors": 0, "skipped": 0, "flaky": 0},
        },
    });
    full.integration
        .service
        .post(
            "/internal/v1/events",
            &relay,
            json!({"source": "failure-service", "events": [event]}),
        )
        .await
        .expect(200);
    let delivery = test_support::app::eventually(
        "the seeded delivery to be dead-lettered",
        Duration::from_secs(20),
        || async {
            let page = full
                .send(Method::GET, &format!("{base}/deliveries"), token, None)
                .await;
            let item = page.body["items"].get(0)?.clone();
            (item["status"] == "dead").then(|| id_of(&item, "delivery"))
        },
    )
    .await;
    (connection, id_of(&rule, "integration rule"), delivery)
}
