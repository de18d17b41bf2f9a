//! Labels members give: over every other source, and taught at once to
//! similar groups without one.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{case, group_of, jvm_trace, label_path, member, report, upload};
use crate::helpers;

/// A failure thrown through five `com.acme` frames, the last one `last`.
pub(super) fn near_case(name: &str, last: &str) -> String {
    let message = "java.lang.IllegalStateException: order closed";
    let frames = [
        "cart.Cart.add",
        "cart.Cart.put",
        "shop.Shop.buy",
        "shop.Shop.pay",
        last,
    ];
    case(
        "com.acme.Flow",
        name,
        "error",
        message,
        &jvm_trace(message, &frames),
    )
}

#[tokio::test]
async fn one_label_teaches_similar_groups_at_once_and_removing_it_recomputes_them() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let unrelated = {
        let message = "java.lang.IllegalStateException: order closed";
        let frames = ["x.A.a", "x.B.b", "x.C.c", "x.D.d", "x.E.e"];
        case(
            "com.acme.Flow",
            "unrelated",
            "error",
            message,
            &jvm_trace(message, &frames),
        )
    };
    let cases = [
        near_case("labelled", "api.Api.call"),
        near_case("similar", "api.Api.other"),
        unrelated,
    ];
    upload(&app, &ctx, "1", report(&cases)).await;
    let labelled = group_of(&app, &ctx, "labelled").await;
    assert_eq!(
        group_of(&app, &ctx, "similar").await["label"],
        "to_investigate"
    );

    let by = member(&ctx);
    let answer = app
        .put(
            &label_path(&ctx, &labelled),
            &by,
            json!({"label": "product_bug"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (&answer["label"], &answer["label_source"]),
        (&json!("product_bug"), &json!("user"))
    );
    assert_eq!(answer["confidence"], 1.0);
    assert_eq!(answer["explanation"]["decided_by"], "user");
    assert_eq!(
        answer["explanation"]["user_id"],
        by.principal().id.to_string()
    );
    assert_eq!(answer["feedback"][0]["action"], "set");
    assert_eq!(answer["feedback"][0]["old_label"], "to_investigate");
    assert_eq!(answer["feedback"][0]["new_label"], "product_bug");

    let similar = group_of(&app, &ctx, "similar").await;
    assert_eq!(
        (&similar["label"], &similar["label_source"]),
        (&json!("product_bug"), &json!("learned"))
    );
    assert!(
        (similar["confidence"].as_f64().unwrap() - 0.8).abs() < 1e-9,
        "{similar:#}"
    );
    assert_eq!(similar["explanation"]["decided_by"], "learned");
    assert_eq!(similar["explanation"]["group_id"], labelled["id"]);
    assert_eq!(
        group_of(&app, &ctx, "unrelated").await["label"],
        "to_investigate"
    );

    // A new group like it learns the label when it is created.
    upload(
        &app,
        &ctx,
        "2",
        report(&[near_case("newcomer", "api.Api.third")]),
    )
    .await;
    let newcomer = group_of(&app, &ctx, "newcomer").await;
    assert_eq!(
        (&newcomer["label"], &newcomer["label_source"]),
        (&json!("product_bug"), &json!("learned"))
    );
    assert_eq!(newcomer["recent_occurrences"][0]["label"], "product_bug");

    // Changing the label changes what the others learned; removing it
    // takes it back.
    app.put(
        &label_path(&ctx, &labelled),
        &by,
        json!({"label": "no_defect"}),
    )
    .await
    .expect(200);
    assert_eq!(group_of(&app, &ctx, "similar").await["label"], "no_defect");
    let removed = app
        .delete(&label_path(&ctx, &labelled), &by)
        .await
        .expect(200);
    assert_eq!(removed["label"], "to_investigate");
    assert_eq!(removed["label_source"], Value::Null);
    assert_eq!(removed["feedback"].as_array().unwrap().len(), 3);
    assert_eq!(removed["feedback"][0]["action"], "removed");
    assert_eq!(removed["feedback"][0]["old_label"], "no_defect");
    for test in ["similar", "newcomer"] {
        let group = group_of(&app, &ctx, test).await;
        assert_eq!(group["label"], "to_investigate", "{test}");
        assert_eq!(group["explanation"]["decided_by"], "nothing", "{test}");
    }
    assert_eq!(app.count_rows("failure.label_feedback").await, 3);
}

#[tokio::test]
async fn a_user_label_beats_learned_labels_rules_and_flaky_evidence() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let refused = || {
        case(
            "com.acme.ApiTest",
            "calls",
            "error",
            "java.net.ConnectException: Connection refused",
            "",
        )
    };
    upload(
        &app,
        &ctx,
        "1",
        report(&[
            refused(),
            near_case("taught", "api.Api.call"),
            near_case("teacher", "api.Api.other"),
        ]),
    )
    .await;
    let ruled = group_of(&app, &ctx, "calls").await;
    assert_eq!(ruled["label"], "infrastructure");

    // Over a rule.
    let by = member(&ctx);
    app.put(
        &label_path(&ctx, &ruled),
        &by,
        json!({"label": "product_bug"}),
    )
    .await
    .expect(200);
    // Over learned: a group labelled by a user keeps it when a similar
    // group is labelled otherwise.
    let taught = group_of(&app, &ctx, "taught").await;
    app.put(
        &label_path(&ctx, &taught),
        &by,
        json!({"label": "automation_bug"}),
    )
    .await
    .expect(200);
    let teacher = group_of(&app, &ctx, "teacher").await;
    app.put(
        &label_path(&ctx, &teacher),
        &by,
        json!({"label": "infrastructure"}),
    )
    .await
    .expect(200);
    let taught = group_of(&app, &ctx, "taught").await;
    assert_eq!(
        (&taught["label"], &taught["label_source"]),
        (&json!("automation_bug"), &json!("user"))
    );

    // A later failure of the labelled group, even a flaky one, takes the
    // user's label.
    let flaky_run = format!(
        "{}<testcase classname=\"com.acme.ApiTest\" name=\"calls\"/>",
        refused()
    );
    upload(&app, &ctx, "2", report(&[flaky_run])).await;
    let group = group_of(&app, &ctx, "calls").await;
    assert_eq!(
        (&group["label"], &group["label_source"]),
        (&json!("product_bug"), &json!("user"))
    );
    assert_eq!(group["occurrences"], 2);
    assert_eq!(group["affected_tests"], 1);
    let latest = &group["recent_occurrences"][0];
    assert_eq!(
        (&latest["label"], &latest["label_source"]),
        (&json!("product_bug"), &json!("user"))
    );
}
