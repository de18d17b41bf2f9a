//! Flaky and broken tests, end to end through uploads of JUnit XML over
//! several builds: each monitor hit and missed by a constructed history,
//! infrastructure outages ignored, recovery. Quarantine is in
//! [`crate::quarantine`].

use serde_json::{Value, json};
use tenant_core::TenantContext;
use test_support::TestApp;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

/// How a test ends in one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    Pass,
    Fail,
    /// Failed, then passed when Surefire reran it (`flakyFailure`).
    PassOnRerun,
    /// Failed, and failed again when rerun (`rerunFailure`).
    FailOnRerun,
}

pub(crate) use Run::{Fail, FailOnRerun, Pass, PassOnRerun};

pub(crate) fn testcase(name: &str, run: Run) -> String {
    let open = format!("<testcase classname=\"com.acme.ShopTest\" name=\"{name}\" time=\"0.1\">");
    let failure = format!(
        "<failure message=\"expected 200 but was 500\" type=\"java.lang.AssertionError\">\
         java.lang.AssertionError: expected 200 but was 500\n\
         \tat com.acme.ShopTest.{name}(ShopTest.java:41)\n</failure>"
    );
    let attempt = |element: &str| {
        format!(
            "<{element} message=\"Read timed out after 5000 ms\" type=\"java.net.SocketTimeoutException\">\
             <stackTrace>java.net.SocketTimeoutException: Read timed out after 5000 ms\n\
             \tat com.acme.http.Client.get(Client.java:88)\n\
             \tat com.acme.ShopTest.fetch(ShopTest.java:40)\n</stackTrace>\
             <system-err>retrying</system-err></{element}>"
        )
    };
    let body = match run {
        Pass => String::new(),
        Fail => failure,
        PassOnRerun => attempt("flakyFailure"),
        FailOnRerun => format!("{failure}{}", attempt("rerunFailure")),
    };
    format!("{open}{body}</testcase>")
}

pub(crate) fn report(cases: &[(&str, Run)]) -> Body {
    let cases: String = cases
        .iter()
        .map(|(name, run)| testcase(name, *run))
        .collect();
    Body::xml(format!("<testsuite name=\"shop\">{cases}</testsuite>"))
}

pub(crate) fn test_id_of(ctx: &TenantContext, name: &str) -> Uuid {
    failure_service::domain::test_id(project_of(ctx), "shop", "com.acme.ShopTest", name)
}

/// Registers a build on `main` (optionally on `commit`), uploads `cases`
/// to it and returns its id.
pub(crate) async fn build_with(
    app: &TestApp,
    ctx: &TenantContext,
    external_id: &str,
    commit: Option<&str>,
    cases: &[(&str, Run)],
) -> Uuid {
    let path = format!("/v1/projects/{}/builds", project_of(ctx));
    let mut body = json!({"job_name": "ci", "external_id": external_id, "branch": "main"});
    if let Some(commit) = commit {
        body["commit_sha"] = json!(commit);
    }
    let reply = app.post(&path, ctx, body).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let build: Uuid = reply.body["id"].as_str().unwrap().parse().unwrap();
    let reply = app.upload(ctx, build, report(cases), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    build
}

/// Builds `first..first + runs.len()`, one per run of `name`, each on its
/// own commit.
pub(crate) async fn history(
    app: &TestApp,
    ctx: &TenantContext,
    first: usize,
    name: &str,
    runs: &[Run],
) {
    for (n, run) in runs.iter().enumerate() {
        let number = first + n;
        let commit = format!("{number:08x}");
        build_with(
            app,
            ctx,
            &format!("b{number}"),
            Some(&commit),
            &[(name, *run)],
        )
        .await;
    }
}

pub(crate) fn alternating(n: usize) -> Vec<Run> {
    (0..n)
        .map(|i| if i % 2 == 0 { Pass } else { Fail })
        .collect()
}

pub(crate) async fn flaky_tests(app: &TestApp, ctx: &TenantContext, query: &str) -> Value {
    let path = format!("/v1/projects/{}/flaky-tests{query}", project_of(ctx));
    app.get(&path, &helpers::viewer(project_of(ctx)))
        .await
        .expect(200)
}

/// The flagged test `name` in the flaky-tests list, if it is there.
pub(crate) async fn flagged(app: &TestApp, ctx: &TenantContext, name: &str) -> Option<Value> {
    let list = flaky_tests(app, ctx, "").await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["test"]["name"] == name)
        .cloned()
}

pub(crate) async fn build(app: &TestApp, ctx: &TenantContext, build: Uuid) -> Value {
    let path = format!("/v1/projects/{}/builds/{build}", project_of(ctx));
    app.get(&path, ctx).await.expect(200)
}

#[tokio::test]
async fn a_test_that_passed_on_a_surefire_rerun_is_flaky_at_once_and_its_rerun_failures_are_stored_in_groups()
 {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    build_with(
        &app,
        &ctx,
        "1",
        None,
        &[
            ("checkout", PassOnRerun),
            ("refund", FailOnRerun),
            ("browse", Pass),
        ],
    )
    .await;

    let item = flagged(&app, &ctx, "checkout")
        .await
        .expect("checkout is flagged");
    assert_eq!(item["state"], "flaky");
    assert_eq!(item["evidence"]["retries_passed"], 1);
    assert_eq!(item["quarantined"], false);
    assert_eq!(item["test"]["id"], test_id_of(&ctx, "checkout").to_string());
    assert_eq!(item["test"]["suite"], "shop");
    assert_eq!(item["test"]["classname"], "com.acme.ShopTest");
    // One failed run is no evidence of flakiness: the minimum sample is 10.
    assert!(flagged(&app, &ctx, "refund").await.is_none());

    let path = format!("/v1/projects/{}/failures", project_of(&ctx));
    let failures = app.get(&path, &ctx).await.expect(200);
    let mut stored: Vec<(String, i64, String)> = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["group_id"].is_string(), "a failure without a group: {f}");
            (
                f["test"]["name"].as_str().unwrap().to_owned(),
                f["attempt"].as_i64().unwrap(),
                f["error_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            (
                "checkout".to_owned(),
                1,
                "java.net.SocketTimeoutException".to_owned()
            ),
            (
                "refund".to_owned(),
                0,
                "java.lang.AssertionError".to_owned()
            ),
            (
                "refund".to_owned(),
                1,
                "java.net.SocketTimeoutException".to_owned()
            ),
        ]
    );
    // The two timeouts are one problem: one group.
    let groups: std::collections::BTreeSet<&str> = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["attempt"] == 1)
        .map(|f| f["group_id"].as_str().unwrap())
        .collect();
    assert_eq!(groups.len(), 1);
    let timeout = failures["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["test"]["name"] == "checkout")
        .unwrap();
    let path = format!(
        "/v1/projects/{}/failures/{}",
        project_of(&ctx),
        timeout["id"].as_str().unwrap()
    );
    let details = app.get(&path, &ctx).await.expect(200);
    assert!(
        details["stack_trace"]
            .as_str()
            .unwrap()
            .contains("com.acme.http.Client.get"),
        "{details}"
    );
    assert_eq!(app.count_rows("failure.failure_groups").await, 2);
}

#[tokio::test]
async fn a_pass_and_a_failure_on_one_commit_across_builds_flag_a_test_flaky_and_on_two_commits_do_not()
 {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    build_with(
        &app,
        &ctx,
        "1",
        Some("aaaa1111"),
        &[("pay", Fail), ("ship", Fail)],
    )
    .await;
    build_with(&app, &ctx, "2", Some("aaaa1111"), &[("pay", Pass)]).await;
    build_with(&app, &ctx, "3", Some("bbbb2222"), &[("ship", Pass)]).await;

    let pay = flagged(&app, &ctx, "pay").await.expect("pay is flagged");
    assert_eq!(pay["state"], "flaky");
    assert_eq!(pay["evidence"]["same_commit_contradictions"], 1);
    assert_eq!(pay["evidence"]["window_results"], 2);
    assert!(pay["evidence"]["first_seen_at"].is_string());
    assert!(
        flagged(&app, &ctx, "ship").await.is_none(),
        "two commits contradict nothing"
    );
}

#[tokio::test]
async fn the_failure_rate_monitor_flags_mixed_outcomes_only_from_its_minimum_sample_of_ten() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    history(&app, &ctx, 0, "search", &alternating(9)).await;
    assert!(
        flagged(&app, &ctx, "search").await.is_none(),
        "9 results are under the minimum sample"
    );

    history(&app, &ctx, 9, "search", &[Fail]).await;
    let item = flagged(&app, &ctx, "search")
        .await
        .expect("flagged at 10 results");
    assert_eq!(item["state"], "flaky");
    assert_eq!(item["evidence"]["window_results"], 10);
    assert_eq!(item["evidence"]["transitions"], 9);
    assert_eq!(item["evidence"]["failure_rate"], 0.5);
    assert_eq!(item["evidence"]["retries_passed"], 0);
    assert_eq!(item["evidence"]["same_commit_contradictions"], 0);
}

#[tokio::test]
async fn a_regression_is_reported_broken_not_flaky_and_ranked_first() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let passes = vec![Pass; 6];
    history(&app, &ctx, 0, "login", &[passes, vec![Fail; 4]].concat()).await;
    assert!(
        flagged(&app, &ctx, "login").await.is_none(),
        "four failures in a row are not yet a regression"
    );
    history(&app, &ctx, 10, "login", &[Fail]).await;
    let item = flagged(&app, &ctx, "login")
        .await
        .expect("login is flagged");
    assert_eq!(item["state"], "broken");
    assert_eq!(item["evidence"]["transitions"], 1);

    // A flaky test beside it: broken ranks first, pages follow the ranking.
    build_with(&app, &ctx, "other", None, &[("logout", PassOnRerun)]).await;
    let first = flaky_tests(&app, &ctx, "?limit=1").await;
    assert_eq!(first["items"][0]["test"]["name"], "login");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = flaky_tests(&app, &ctx, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["test"]["name"], "logout");
    assert!(second["next_cursor"].is_null());
    let only_flaky = flaky_tests(&app, &ctx, "?state=flaky").await;
    assert_eq!(only_flaky["items"].as_array().unwrap().len(), 1);
    assert_eq!(only_flaky["items"][0]["test"]["name"], "logout");
    let only_broken = flaky_tests(&app, &ctx, "?state=broken").await;
    assert_eq!(only_broken["items"][0]["test"]["name"], "login");
    let path = format!(
        "/v1/projects/{}/flaky-tests?state=healthy",
        project_of(&ctx)
    );
    app.get(&path, &ctx)
        .await
        .expect_problem(400, "request.invalid_query");
}

#[tokio::test]
async fn an_upload_in_which_most_tests_failed_is_an_outage_and_evidence_for_nothing() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    history(&app, &ctx, 0, "cart", &[Pass; 5]).await;

    // The database was down: 10 of 10 tests failed, `cart` among them.
    let others: Vec<String> = (0..9).map(|n| format!("other{n}")).collect();
    let mut outage: Vec<(&str, Run)> = others.iter().map(|n| (n.as_str(), Fail)).collect();
    outage.push(("cart", Fail));
    let dead = build_with(&app, &ctx, "outage", Some("dead0000"), &outage).await;
    assert_eq!(build(&app, &ctx, dead).await["infrastructure_outage"], true);

    // 4 passes and a real failure: 10 results and one transition, healthy.
    // Counting the outage's failure would make it 11 results, 2 failures
    // and 3 transitions: flaky.
    history(&app, &ctx, 10, "cart", &[Pass, Pass, Pass, Pass, Fail]).await;
    assert!(flagged(&app, &ctx, "cart").await.is_none());
    let admin_db = app.database().admin_client().await;
    let row = admin_db
        .query_one(
            "SELECT state, window_results, transitions FROM failure.test_health WHERE test_id = $1",
            &[&test_id_of(&ctx, "cart")],
        )
        .await
        .unwrap();
    let state: String = row.try_get("state").unwrap();
    let window: i32 = row.try_get("window_results").unwrap();
    let transitions: i32 = row.try_get("transitions").unwrap();
    assert_eq!((state.as_str(), window, transitions), ("healthy", 10, 1));
    assert!(
        flagged(&app, &ctx, "other0").await.is_none(),
        "the outage flagged nothing"
    );

    // Without the outage (8 of 10 failed is not more than 80%), the same
    // failures count.
    let mut mostly: Vec<(&str, Run)> = others[..8].iter().map(|n| (n.as_str(), Fail)).collect();
    mostly.push(("cart", Pass));
    mostly.push(("fine", Pass));
    let counted = build_with(&app, &ctx, "busy", None, &mostly).await;
    assert_eq!(
        build(&app, &ctx, counted).await["infrastructure_outage"],
        false
    );
}

#[tokio::test]
async fn a_flaky_test_recovers_after_ten_passes_in_a_row() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    history(&app, &ctx, 0, "upload", &[PassOnRerun]).await;
    history(&app, &ctx, 1, "upload", &[Pass; 9]).await;
    let item = flagged(&app, &ctx, "upload")
        .await
        .expect("9 passes are not enough");
    assert_eq!(item["state"], "flaky");

    history(&app, &ctx, 10, "upload", &[Pass]).await;
    assert!(flagged(&app, &ctx, "upload").await.is_none(), "recovered");

    // Recovery cleared the evidence: one failure after it flags nothing.
    history(&app, &ctx, 11, "upload", &[Fail]).await;
    assert!(flagged(&app, &ctx, "upload").await.is_none());
}

#[tokio::test]
async fn builds_of_other_branches_judge_nothing() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let path = format!("/v1/projects/{}/builds", project_of(&ctx));
    let body = json!({"job_name": "ci", "external_id": "f1", "branch": "feature/x"});
    let build: Uuid = app.post(&path, &ctx, body).await.expect(201)["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let reply = app
        .upload(&ctx, build, report(&[("draft", PassOnRerun)]), None)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(flagged(&app, &ctx, "draft").await.is_none());
    assert_eq!(app.count_rows("failure.test_health").await, 0);
}

#[tokio::test]
async fn judging_three_hundred_flaky_tests_takes_as_many_statements_as_judging_one() {
    let app = helpers::spawn().await;
    let mut per_upload = Vec::new();
    for tests in [1, 300] {
        let ctx = helpers::uploader(Uuid::now_v7());
        let settings = format!("/v1/projects/{}/settings/flaky-tests", project_of(&ctx));
        let admin = test_support::contexts::user(project_of(&ctx), tenant_core::Role::Admin);
        app.put(&settings, &admin, json!({"auto_quarantine": true}))
            .await
            .expect(200);
        let names: Vec<String> = (0..tests).map(|n| format!("t{n}")).collect();
        let mut cases: Vec<(&str, Run)> = names.iter().map(|n| (n.as_str(), PassOnRerun)).collect();
        cases.push(("steady", Pass));
        let build = app.create_build(&ctx, "1").await;
        let before = app.statements().await;
        let reply = app.upload(&ctx, build, report(&cases), None).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        per_upload.push(app.statements().await - before);
        let list = flaky_tests(&app, &ctx, "?limit=500&quarantined=true").await;
        assert_eq!(list["items"].as_array().unwrap().len(), tests);
    }
    assert_eq!(per_upload[0], per_upload[1], "statements per upload");
}
