//! Build comparison on two builds whose sets are known by hand: by default
//! against the last good build on the branch, or against any build named.

use serde_json::{Value, json};

use crate::helpers::{Platform, Relay, error, fail, pass, skip, title};

fn tests_of(body: &Value, set: &str) -> Vec<String> {
    body[set]
        .as_array()
        .unwrap_or_else(|| panic!("no {set} in {body}"))
        .iter()
        .map(|change| change["test"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_build_is_compared_with_its_baseline_or_the_build_named() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    let before = platform
        .build(
            &project,
            "ci",
            "main",
            &[
                pass("a"),
                fail("b", "B"),
                fail("c", "C"),
                pass("d"),
                pass("e"),
                skip("g"),
            ],
            "passed",
        )
        .await;
    let after = platform
        .build(
            &project,
            "ci",
            "main",
            &[
                fail("a", "A"),
                pass("b"),
                fail("c", "C"),
                skip("d"),
                pass("e"),
                skip("g"),
                error("f", "F"),
            ],
            "failed",
        )
        .await;

    let body = platform.comparison(&project, after, None).await.expect(200);
    assert_eq!(body["with_build_id"], before.to_string());
    assert_eq!(body["compared_with"], "last_good");
    assert_eq!(tests_of(&body, "newly_failing"), [title("a"), title("f")]);
    assert_eq!(tests_of(&body, "fixed"), [title("b")]);
    assert_eq!(tests_of(&body, "still_failing"), [title("c")]);
    assert_eq!(tests_of(&body, "newly_skipped"), [title("d")]);
    assert_eq!(body["newly_failing"][0]["status"], "failed");
    assert_eq!(body["newly_failing"][0]["other_status"], "passed");
    assert_eq!(body["newly_failing"][1]["other_status"], Value::Null);
    assert_eq!(
        body["counts"],
        json!({"newly_failing": 2, "fixed": 1, "still_failing": 1, "newly_skipped": 1, "new_groups": 2})
    );
    let (_, group_a, _) = platform.failure_of(&project, after, "a").await;
    let (_, group_f, _) = platform.failure_of(&project, after, "f").await;
    let mut groups: Vec<String> = body["new_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group_id"].as_str().unwrap().to_owned())
        .collect();
    groups.sort();
    let mut expected = vec![group_a.to_string(), group_f.to_string()];
    expected.sort();
    assert_eq!(groups, expected);

    // The other way round, naming the build.
    let body = platform
        .comparison(&project, before, Some(after))
        .await
        .expect(200);
    assert_eq!(body["compared_with"], "given");
    assert_eq!(tests_of(&body, "newly_failing"), [title("b")]);
    assert_eq!(tests_of(&body, "fixed"), [title("a")]);
    assert_eq!(tests_of(&body, "still_failing"), [title("c")]);
    assert_eq!(tests_of(&body, "newly_skipped"), Vec::<String>::new());
    assert_eq!(body["counts"]["new_groups"], 1);

    // The first build has no baseline: everything failing is new.
    let body = platform
        .comparison(&project, before, None)
        .await
        .expect(200);
    assert_eq!(body["with_build_id"], Value::Null);
    assert_eq!(tests_of(&body, "newly_failing"), [title("b"), title("c")]);
}
