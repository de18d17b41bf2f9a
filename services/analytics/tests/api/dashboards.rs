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
use uuid::Uuid;

use crate::helpers::{Case, DEADLINE, Platform, Project, Relay, fail, flaky, pass, skip, test_id};

const ILLEGAL_STATE: &str = "java.lang.IllegalStateException";
const TIMEOUT: &str = "java.net.SocketTimeoutException";
const IO: &str = "java.io.IOException";

fn b1() -> Vec<Case> {
    vec![
        pass("checkout").taking(100),
        fail("search", ILLEGAL_STATE),
        pass("login").taking(300),
        skip("export").taking(0),
    ]
}

fn b2() -> Vec<Case> {
    vec![
        pass("checkout").taking(200),
        fail("search", ILLEGAL_STATE),
        flaky("login", TIMEOUT).taking(500),
        fail("export", IO),
    ]
}

fn b3() -> Vec<Case> {
    vec![pass("checkout").taking(400), pass("login").taking(700)]
}

/// The history above in a fresh project; returns the project and the
/// three build ids.
async fn history(platform: &Platform) -> (Project, [Uuid; 3]) {
    let project = platform.new_project().await;
    let first = platform
        .build(&project, "ci", "main", &b1(), "failed")
        .await;
    let second = platform
        .build(&project, "ci", "main", &b2(), "failed")
        .await;
    let third = platform
        .build(&project, "nightly", "dev", &b3(), "passed")
        .await;
    platform.wait_for_builds(&project, 3).await;
    platform.wait_for_delivery().await;
    (project, [first, second, third])
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
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (project, [first, second, third]) = history(&platform).await;

    let summary = platform
        .dashboard(&project, "summary", "limit=2")
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

    let ci = platform
        .dashboard(&project, "summary", "job=ci")
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
    let dev = platform
        .dashboard(&project, "summary", "branch=dev")
        .await
        .expect(200);
    assert_eq!([&dev["period"]["builds"], &dev["period"]["tests"]], [1, 2]);
    let none = platform
        .dashboard(&project, "summary", "branch=release&job=ci")
        .await
        .expect(200);
    assert_eq!(none["period"]["builds"], 0);
    assert!(none["period"]["pass_rate"].is_null());
}

#[tokio::test]
async fn trends_fill_every_day_and_count_failures_by_their_groups_label() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (project, _) = history(&platform).await;
    let trends = platform
        .dashboard(&project, "trends", "period=7")
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

    let group = platform.group_of(&project, ILLEGAL_STATE).await;
    platform.label(&project, group, "product_bug").await;
    let today = test_support::eventually("the label to reach the trends", DEADLINE, || async {
        let trends = platform
            .dashboard(&project, "trends", "period=7")
            .await
            .expect(200);
        let today = trends["days"][6].clone();
        (today["failures_by_label"]["product_bug"] == 2).then_some(today)
    })
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
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (project, _) = history(&platform).await;
    let rankings = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(
        ranked(&rankings, "top_failing_tests"),
        [("search".to_owned(), 2.0), ("export".to_owned(), 1.0)]
    );
    assert_eq!(
        ranked(&rankings, "flakiest_tests"),
        [("login".to_owned(), 1.0)]
    );
    let slowest = rankings["slowest_tests"].as_array().unwrap();
    let login = &slowest[0];
    assert_eq!(login["test_id"], test_id(project.id, "login").to_string());
    // Durations 300, 500, 700 fall in the buckets [250, 320), [500, 630)
    // and [630, 800). Ranks 0.5 * 2 = 1 and 0.95 * 2 = 1.9 both fall in
    // [500, 630), which holds one run after one: p50 is 500 + 130 *
    // (1 - 1 + 0.5) / 1 = 565 and p95 500 + 130 * min(1, 1.4) = 630 (the
    // exact figures, 500 and 680, are within the buckets' width).
    assert!(close(rate(&login["p50_ms"]), 565.0) && close(rate(&login["p95_ms"]), 630.0));
    let checkout = &slowest[1];
    assert_eq!(checkout["name"], "checkout");
    // 100, 200, 400: ranks 1 and 1.9 fall in [200, 250), so p50 is 225
    // and p95 250 (exactly 200 and 380).
    assert!(close(rate(&checkout["p50_ms"]), 225.0) && close(rate(&checkout["p95_ms"]), 250.0));
    assert_eq!(slowest.len(), 4);
    assert_eq!(login["trend"], "unknown", "no runs in the previous period");

    let illegal_state = platform.group_of(&project, ILLEGAL_STATE).await;
    let io = platform.group_of(&project, IO).await;
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
        let weeks = platform
            .dashboard(&project, "rankings", &query)
            .await
            .expect(200);
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

    let nightly = platform
        .dashboard(&project, "rankings", "job=nightly")
        .await
        .expect(200);
    assert_eq!(nightly["top_failing_tests"], serde_json::json!([]));
    assert_eq!(nightly["slowest_tests"][0]["name"], "login");
}

/// The names and values of one of `rankings`' test lists.
fn ranked(rankings: &Value, list: &str) -> Vec<(String, f64)> {
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
}

/// Two more builds of `ci` on `main` in which only `export` fails.
async fn export_fails_twice_more(platform: &Platform, project: &Project) {
    for _ in 0..2 {
        let cases = [pass("search"), fail("export", IO)];
        platform
            .build(project, "ci", "main", &cases, "failed")
            .await;
    }
    platform.wait_for_builds(project, 5).await;
    platform.wait_for_delivery().await;
}

fn export_then_search() -> Vec<(String, f64)> {
    vec![("export".to_owned(), 3.0), ("search".to_owned(), 2.0)]
}

#[tokio::test]
async fn rankings_read_before_a_build_count_it_once_its_rollups_change() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (project, _) = history(&platform).await;
    let before = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(
        ranked(&before, "top_failing_tests"),
        [("search".to_owned(), 2.0), ("export".to_owned(), 1.0)]
    );
    export_fails_twice_more(&platform, &project).await;
    // The kept rankings were read at an older rollup version: this
    // request waits for them to be computed again.
    let after = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(ranked(&after, "top_failing_tests"), export_then_search());
}

#[tokio::test]
async fn past_the_fresh_wait_the_kept_rankings_answer_while_new_ones_are_computed() {
    let platform = Platform::start_with(
        Relay::ToAnalytics,
        &[("service.rankings_fresh_wait_ms", "0".to_owned())],
    )
    .await;
    let (project, _) = history(&platform).await;
    let before = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    export_fails_twice_more(&platform, &project).await;
    let kept = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(
        ranked(&kept, "top_failing_tests"),
        ranked(&before, "top_failing_tests"),
        "answered at once with the rankings kept from before"
    );
    assert_eq!(kept["top_groups"], before["top_groups"]);
    test_support::eventually("the rankings to be computed again", DEADLINE, || async {
        let now = platform
            .dashboard(&project, "rankings", "")
            .await
            .expect(200);
        (ranked(&now, "top_failing_tests") == export_then_search()).then_some(())
    })
    .await;
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn time_to_resolution_and_to_triage_are_exact_to_the_microsecond() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (project, _) = history(&platform).await;
    let group = platform.group_of(&project, ILLEGAL_STATE).await;
    platform.set_status(&project, group, "triaged").await;
    platform.set_status(&project, group, "resolved").await;
    let project_id = project.id;
    let details = platform
        .failure
        .get(
            &format!("/v2/projects/{project_id}/failures/{group}"),
            &project.viewer,
        )
        .await
        .expect(200);
    let activity = platform
        .failure
        .get(
            &format!("/v2/projects/{project_id}/failures/{group}/activity"),
            &project.viewer,
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

    let mttr = test_support::eventually("the resolution to reach analytics", DEADLINE, || async {
        let mttr = platform.dashboard(&project, "mttr", "").await.expect(200);
        (mttr["resolved_groups"] == 1).then_some(mttr)
    })
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
    let summary = platform
        .dashboard(&project, "summary", "")
        .await
        .expect(200);
    assert_eq!(
        summary["open_groups"], 2,
        "the resolved group is no longer open"
    );
    let elsewhere = platform
        .dashboard(&project, "mttr", "branch=dev")
        .await
        .expect(200);
    assert_eq!(
        elsewhere["resolved_groups"], 0,
        "the group never failed on dev"
    );
}

#[tokio::test]
async fn bad_filters_are_problems_not_answers() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = platform.new_project().await;
    for (query, code) in [
        ("from=2026-03-09&to=2026-03-01", "filter.inconsistent_range"),
        ("period=8", "filter.invalid"),
        ("period=7&from=2026-03-01", "filter.inconsistent_range"),
        ("from=2020-01-01&to=2026-01-01", "filter.inconsistent_range"),
        ("limit=0", "filter.invalid"),
        ("from=0000-12-31&to=0001-01-01", "filter.invalid"),
        ("branch=a%00b", "filter.invalid"),
        ("job=", "filter.invalid"),
        ("limit=501", "filter.invalid"),
        ("from=yesterday", "request.invalid_query"),
        (
            "project_id=00000000-0000-0000-0000-000000000000",
            "request.invalid_query",
        ),
    ] {
        for what in ["summary", "trends", "rankings"] {
            platform
                .dashboard(&project, what, query)
                .await
                .expect_problem(400, code);
        }
    }
}
