//! Every dashboard on a small history made through the failure service's
//! API, whose answers are worked out by hand below.
//!
//! Three builds today, in this order:
//!
//! | build | job, branch | checkout | search | login | export |
//! |---|---|---|---|---|---|
//! | B1 | ci, main | pass 100 ms | fails (IllegalState) | pass 300 ms | skipped |
//! | B2 | ci, main | pass 200 ms | fails (IllegalState) | flaky (SocketTimeout) 500 ms | fails (IOException) |
//! | B3 | nightly, dev | pass 400 ms | | pass 700 ms | |
//!
//! Failing cases take 10 ms. So: 10 results, 5 passed, 3 failed, 1
//! skipped, 1 flaky; pass rate (5 + 1) / 9. Groups: IllegalState new in
//! B1 and met again in B2, SocketTimeout (the flaky retry) and IOException
//! new in B2.

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;
use tenant_core::TenantContext;
use uuid::Uuid;

use crate::helpers::{Case, Outcome, Stack, case, fail, member, pass, project_of, test_id, viewer};

const ILLEGAL_STATE: &str = "java.lang.IllegalStateException";
const TIMEOUT: &str = "java.net.SocketTimeoutException";
const IO: &str = "java.io.IOException";

fn b1() -> Vec<Case> {
    vec![
        pass("checkout", 100),
        fail("search", ILLEGAL_STATE),
        pass("login", 300),
        case("export", Outcome::Skip, 0),
    ]
}

fn b2() -> Vec<Case> {
    vec![
        pass("checkout", 200),
        fail("search", ILLEGAL_STATE),
        case("login", Outcome::Flaky(TIMEOUT.to_owned()), 500),
        fail("export", IO),
    ]
}

fn b3() -> Vec<Case> {
    vec![pass("checkout", 400), pass("login", 700)]
}

/// The history above in a fresh project; returns the member context and
/// the three build ids.
async fn history(stack: &Stack) -> (TenantContext, [Uuid; 3]) {
    let ctx = member(Uuid::now_v7());
    let first = stack.build(&ctx, "ci", "main", &b1(), "failed").await;
    let second = stack.build(&ctx, "ci", "main", &b2(), "failed").await;
    let third = stack.build(&ctx, "nightly", "dev", &b3(), "passed").await;
    stack.wait_for_builds(&ctx, 3).await;
    stack.wait_for_delivery().await;
    (ctx, [first, second, third])
}

fn rate(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a rate: {value}"))
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-9
}

#[tokio::test]
async fn the_summary_counts_builds_results_and_groups_and_filters_by_job_and_branch() {
    let stack = Stack::start().await;
    let (ctx, [first, second, third]) = history(&stack).await;
    let reader = viewer(project_of(&ctx));

    let summary = stack
        .dashboard(&reader, "summary", "limit=2")
        .await
        .expect(200);
    let period = &summary["period"];
    assert_eq!(
        [
            &period["builds"],
            &period["tests"],
            &period["passed"],
            &period["failed"]
        ],
        [3, 10, 5, 3]
    );
    assert_eq!(
        [&period["skipped"], &period["flaky"], &period["new_groups"]],
        [1, 1, 3]
    );
    assert!(close(rate(&period["pass_rate"]), 6.0 / 9.0), "{period}");
    assert_eq!(
        summary["direction"], "unknown",
        "nothing in the previous period"
    );
    assert_eq!(summary["open_groups"], 3);
    let builds: Vec<&Value> = summary["builds"].as_array().unwrap().iter().collect();
    let ids: Vec<String> = builds
        .iter()
        .map(|b| b["build_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [third.to_string(), second.to_string()],
        "newest first, `limit` of them"
    );
    assert!(close(rate(&builds[0]["pass_rate"]), 1.0));
    assert!(
        close(rate(&builds[1]["pass_rate"]), 0.5),
        "B2: (1 passed + 1 flaky) / 4"
    );
    assert_eq!([&builds[1]["failed"], &builds[1]["new_groups"]], [2, 2]);

    let ci = stack
        .dashboard(&reader, "summary", "job=ci")
        .await
        .expect(200);
    assert_eq!(ci["period"]["builds"], 2);
    assert!(close(rate(&ci["period"]["pass_rate"]), 4.0 / 7.0));
    let last = ci["builds"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["build_id"], first.to_string());
    assert!(
        close(rate(&last["pass_rate"]), 2.0 / 3.0),
        "B1: 2 passed of 3 run"
    );
    let dev = stack
        .dashboard(&reader, "summary", "branch=dev")
        .await
        .expect(200);
    assert_eq!([&dev["period"]["builds"], &dev["period"]["tests"]], [1, 2]);
    let none = stack
        .dashboard(&reader, "summary", "branch=release&job=ci")
        .await
        .expect(200);
    assert_eq!(none["period"]["builds"], 0);
    assert!(none["period"]["pass_rate"].is_null());
}

#[tokio::test]
async fn trends_fill_every_day_and_count_failures_by_their_groups_label() {
    let stack = Stack::start().await;
    let (ctx, _) = history(&stack).await;
    let trends = stack
        .dashboard(&ctx, "trends", "period=7")
        .await
        .expect(200);
    let days = trends["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    for day in &days[..6] {
        assert_eq!(day["builds"], 0, "{day}");
        assert!(day["pass_rate"].is_null());
    }
    let today = &days[6];
    assert_eq!(today["day"], Utc::now().date_naive().to_string());
    assert_eq!(
        [&today["builds"], &today["failed"], &today["flaky"]],
        [3, 3, 1]
    );
    assert_eq!([&today["new_groups"], &today["recurring_groups"]], [3, 1]);
    assert_eq!(today["duration_ms"], 410 + 720 + 1100);
    let labelled: i64 = today["failures_by_label"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(labelled, 3, "failing outcomes only, not the flaky retry");

    let group = stack.group_of(&ctx, ILLEGAL_STATE).await;
    stack.label(&ctx, group, "product_bug").await;
    let today = test_support::eventually(
        "the label to reach the trends",
        crate::helpers::DEADLINE,
        || async {
            let trends = stack
                .dashboard(&ctx, "trends", "period=7")
                .await
                .expect(200);
            let today = trends["days"][6].clone();
            (today["failures_by_label"]["product_bug"] == 2).then_some(today)
        },
    )
    .await;
    let others: i64 = today["failures_by_label"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(label, _)| *label != "product_bug")
        .map(|(_, n)| n.as_i64().unwrap())
        .sum();
    assert_eq!(others, 1, "{today}");
}

#[tokio::test]
async fn rankings_order_tests_and_groups_by_hand_counted_figures() {
    let stack = Stack::start().await;
    let (ctx, _) = history(&stack).await;
    let project = project_of(&ctx);
    let rankings = stack.dashboard(&ctx, "rankings", "").await.expect(200);
    let ranked = |list: &str| -> Vec<(String, f64)> {
        rankings[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        ranked("top_failing_tests"),
        [("search".to_owned(), 2.0), ("export".to_owned(), 1.0)]
    );
    assert_eq!(ranked("flakiest_tests"), [("login".to_owned(), 1.0)]);
    let slowest = rankings["slowest_tests"].as_array().unwrap();
    let login = &slowest[0];
    assert_eq!(login["test_id"], test_id(project, "login").to_string());
    // Durations 300, 500, 700: p50 500, p95 500 + 0.9 * 200 (interpolated).
    assert!(close(rate(&login["p50_ms"]), 500.0) && close(rate(&login["p95_ms"]), 680.0));
    let checkout = &slowest[1];
    assert_eq!(checkout["name"], "checkout");
    assert!(close(rate(&checkout["p50_ms"]), 200.0) && close(rate(&checkout["p95_ms"]), 380.0));
    assert_eq!(slowest.len(), 4);
    assert_eq!(login["trend"], "unknown", "no runs in the previous period");

    let illegal_state = stack.group_of(&ctx, ILLEGAL_STATE).await;
    let io = stack.group_of(&ctx, IO).await;
    let groups: Vec<(String, i64)> = rankings["top_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group_id"].as_str().unwrap().to_owned(),
                g["failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [(illegal_state.to_string(), 2), (io.to_string(), 1)]
    );

    // Whole weeks are read from the weekly rollups, other days from the
    // daily ones: the same answers for this week alone, the four weeks
    // ending with it, the last seven days and today alone.
    let today = Utc::now().date_naive();
    let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
    let sunday = monday + chrono::Days::new(6);
    for query in [
        format!("from={monday}&to={sunday}"),
        format!("from={}&to={sunday}", monday - chrono::Days::new(21)),
        "period=7".to_owned(),
        format!("from={today}&to={today}"),
    ] {
        let weeks = stack.dashboard(&ctx, "rankings", &query).await.expect(200);
        for list in ["top_failing_tests", "flakiest_tests", "slowest_tests"] {
            let values = |body: &Value| -> Vec<(Value, Value, Value)> {
                body[list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        (
                            t["test_id"].clone(),
                            t["value"].clone(),
                            t["p50_ms"].clone(),
                        )
                    })
                    .collect()
            };
            assert_eq!(values(&weeks), values(&rankings), "{list} for {query}");
        }
    }

    let nightly = stack
        .dashboard(&ctx, "rankings", "job=nightly")
        .await
        .expect(200);
    assert_eq!(nightly["top_failing_tests"], serde_json::json!([]));
    assert_eq!(nightly["slowest_tests"][0]["name"], "login");
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn time_to_resolution_and_to_triage_are_exact_to_the_microsecond() {
    let stack = Stack::start().await;
    let (ctx, _) = history(&stack).await;
    let group = stack.group_of(&ctx, ILLEGAL_STATE).await;
    stack.set_status(&ctx, group, "triaged").await;
    stack.set_status(&ctx, group, "resolved").await;
    let project = project_of(&ctx);
    let details = stack
        .failure
        .get(&format!("/v2/projects/{project}/failures/{group}"), &ctx)
        .await
        .expect(200);
    let activity = stack
        .failure
        .get(
            &format!("/v2/projects/{project}/failures/{group}/activity"),
            &ctx,
        )
        .await
        .expect(200);
    let changes = activity["items"].as_array().unwrap();
    let when = |status: &str| {
        at(&changes.iter().find(|a| a["new_value"] == status).unwrap()["created_at"])
    };
    let first_seen = at(&details["first_seen_at"]);
    let to_resolution = (when("resolved") - first_seen).as_seconds_f64();
    let to_triage = (when("triaged") - first_seen).as_seconds_f64();

    let mttr = test_support::eventually(
        "the resolution to reach analytics",
        crate::helpers::DEADLINE,
        || async {
            let mttr = stack.dashboard(&ctx, "mttr", "").await.expect(200);
            (mttr["resolved_groups"] == 1).then_some(mttr)
        },
    )
    .await;
    assert!(
        (rate(&mttr["mean_time_to_resolution_secs"]) - to_resolution).abs() < 1e-6,
        "{mttr}"
    );
    assert_eq!(mttr["triaged_groups"], 1);
    assert!(
        (rate(&mttr["mean_time_to_triage_secs"]) - to_triage).abs() < 1e-6,
        "{mttr}"
    );
    assert_eq!(mttr["groups"][0]["group_id"], group.to_string());
    let summary = stack.dashboard(&ctx, "summary", "").await.expect(200);
    assert_eq!(
        summary["open_groups"], 2,
        "the resolved group is no longer open"
    );
    let elsewhere = stack
        .dashboard(&ctx, "mttr", "branch=dev")
        .await
        .expect(200);
    assert_eq!(
        elsewhere["resolved_groups"], 0,
        "the group never failed on dev"
    );
}

#[tokio::test]
async fn bad_filters_are_problems_not_answers() {
    let stack = Stack::start().await;
    let ctx = viewer(Uuid::now_v7());
    for (query, code) in [
        ("from=2026-03-09&to=2026-03-01", "filter.invalid"),
        ("period=8", "filter.invalid"),
        ("period=7&from=2026-03-01", "filter.invalid"),
        ("from=2020-01-01&to=2026-01-01", "filter.invalid"),
        ("limit=0", "filter.invalid"),
        ("from=1899-12-31&to=1900-01-01", "filter.invalid"),
        ("branch=a%00b", "filter.invalid"),
        ("job=", "filter.invalid"),
        ("limit=101", "filter.invalid"),
        ("from=yesterday", "request.invalid_query"),
        (
            "project_id=00000000-0000-0000-0000-000000000000",
            "request.invalid_query",
        ),
    ] {
        for what in ["summary", "trends", "rankings"] {
            stack
                .dashboard(&ctx, what, query)
                .await
                .expect_problem(400, code);
        }
    }
}
