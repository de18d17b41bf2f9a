//! Table tests of the classification order and of every built-in rule.

use std::collections::HashSet;

use chrono::Utc;
use uuid::Uuid;

use super::builtin::{self, BUILTIN_RULES, is_product_code, is_test_code};
use super::learned::{LEARNED_THRESHOLD, signature_similarity};
use super::rules::{RuleRecord, compile_pattern};
use super::*;
use crate::domain::FailureKind;
use crate::domain::signature::fingerprint::Signature;
use crate::domain::signature::in_app::InAppRules;
use crate::domain::signature::normalize::NormalizeOptions;
use crate::domain::signature::signature_of;

fn signature(message: &str, trace: &str) -> Signature {
    signature_of(
        message,
        trace,
        &InAppRules::default(),
        &NormalizeOptions::default(),
    )
}

fn classify_with(
    rules: &[CompiledRule],
    labelled: &LabelledGroups,
    known_flaky: &HashSet<Uuid>,
    kind: FailureKind,
    message: &str,
    trace: &str,
    flakiness: Flakiness,
) -> Classification {
    let signature = signature(message, trace);
    let facts = FailureFacts::new(kind, None, Some(message), &signature);
    let classifier = Classifier {
        rules,
        labelled,
        known_flaky,
    };
    classifier.classify(Uuid::now_v7(), &facts, flakiness)
}

fn classify(kind: FailureKind, message: &str, trace: &str) -> Classification {
    classify_with(
        &[],
        &LabelledGroups::default(),
        &HashSet::new(),
        kind,
        message,
        trace,
        Flakiness::default(),
    )
}

fn builtin_rule_of(classification: &Classification) -> Option<&str> {
    match &classification.explanation {
        Explanation::BuiltinRule { rule, .. } => Some(rule),
        _ => None,
    }
}

#[test]
fn every_builtin_pattern_compiles() {
    for rule in BUILTIN_RULES {
        if let builtin::Matcher::Text(pattern) = rule.matcher {
            assert!(
                regex::Regex::new(&format!("(?i-u:{pattern})")).is_ok(),
                "{}",
                rule.name
            );
        }
    }
}

#[test]
fn each_builtin_rule_kind_matches_what_it_names_and_nothing_else() {
    use FailureKind::{Error, Failure};
    let jvm_test_npe = "java.lang.NullPointerException: cart is null\n\
        \tat com.acme.CartTest.adds(CartTest.java:12)\n\
        \tat org.junit.runners.ParentRunner.run(ParentRunner.java:1)\n";
    let jvm_product_assert = "java.lang.AssertionError: total must be positive\n\
        \tat com.acme.cart.Cart.total(Cart.java:88)\n\
        \tat com.acme.CartTest.adds(CartTest.java:12)\n";
    let jvm_test_assert = "org.opentest4j.AssertionFailedError: expected: <1> but was: <2>\n\
        \tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)\n\
        \tat com.acme.CartTest.adds(CartTest.java:12)\n";
    let cases: &[(FailureKind, &str, &str, Label, Option<&str>)] = &[
        (
            Error,
            "java.net.ConnectException: Connection refused (Connection refused)",
            "",
            Label::Infrastructure,
            Some("connection_refused_or_reset"),
        ),
        (
            Error,
            "read ECONNRESET",
            "",
            Label::Infrastructure,
            Some("connection_refused_or_reset"),
        ),
        (
            Error,
            "java.net.UnknownHostException: db.internal",
            "",
            Label::Infrastructure,
            Some("dns_failure"),
        ),
        (
            Error,
            "getaddrinfo ENOTFOUND api.example.com",
            "",
            Label::Infrastructure,
            Some("connection_refused_or_reset")
                .filter(|_| false)
                .or(Some("dns_failure")),
        ),
        (
            Error,
            "java.net.SocketTimeoutException: Read timed out",
            "",
            Label::Infrastructure,
            Some("timeout_to_service"),
        ),
        (
            Error,
            "context deadline exceeded",
            "",
            Label::Infrastructure,
            Some("timeout_to_service"),
        ),
        (
            Error,
            "java.lang.OutOfMemoryError: Java heap space",
            "",
            Label::Infrastructure,
            Some("out_of_memory"),
        ),
        (
            Error,
            "OSError: [Errno 28] No space left on device",
            "",
            Label::Infrastructure,
            Some("disk_full"),
        ),
        (
            Failure,
            "Request failed with status code 503",
            "",
            Label::Infrastructure,
            Some("http_gateway_error"),
        ),
        (
            Failure,
            "HTTP 502 Bad Gateway from checkout",
            "",
            Label::Infrastructure,
            Some("http_gateway_error"),
        ),
        (
            Error,
            "Error response from daemon: OCI runtime create failed",
            "",
            Label::Infrastructure,
            Some("runner_or_container_error"),
        ),
        (
            Error,
            "The runner has received a shutdown signal",
            "",
            Label::Infrastructure,
            Some("runner_or_container_error"),
        ),
        (
            Error,
            "org.openqa.selenium.NoSuchElementException: no such element: Unable to locate element: {\"css\":\"#buy\"}",
            "",
            Label::AutomationBug,
            Some("element_not_found"),
        ),
        (
            Error,
            "TimeoutError: locator.click: Timeout 30000ms exceeded waiting for locator('#buy')",
            "",
            Label::AutomationBug,
            Some("element_not_found"),
        ),
        (
            Error,
            "org.openqa.selenium.StaleElementReferenceException: stale element reference: element is not attached to the page document",
            "",
            Label::AutomationBug,
            Some("stale_element"),
        ),
        (
            Error,
            "failed on setup with \"fixture 'db' not found\"",
            "",
            Label::AutomationBug,
            Some("fixture_setup_teardown_error"),
        ),
        (
            Error,
            "Error: \"before each\" hook for \"adds\": boom",
            "",
            Label::AutomationBug,
            Some("fixture_setup_teardown_error"),
        ),
        (
            Error,
            "java.lang.NullPointerException: cart is null",
            jvm_test_npe,
            Label::AutomationBug,
            Some("error_in_test_code"),
        ),
        (
            Failure,
            "java.lang.AssertionError: total must be positive",
            jvm_product_assert,
            Label::ProductBug,
            Some("assertion_in_product_code"),
        ),
        // An assertion in the test itself, a 403 and a 404 are not decided
        // by a built-in rule.
        (
            Failure,
            "org.opentest4j.AssertionFailedError: expected: <1> but was: <2>",
            jvm_test_assert,
            Label::ToInvestigate,
            None,
        ),
        (
            Failure,
            "expected status 403 but was 404",
            "",
            Label::ToInvestigate,
            None,
        ),
        (
            Failure,
            "the total is 5 but 7 was expected",
            "",
            Label::ToInvestigate,
            None,
        ),
    ];
    for (kind, message, trace, label, rule) in cases {
        let classification = classify(*kind, message, trace);
        assert_eq!(classification.label, *label, "{message}");
        assert_eq!(builtin_rule_of(&classification), *rule, "{message}");
        match rule {
            Some(_) => {
                assert_eq!(classification.source, Some(LabelSource::Rule));
                assert!(classification.confidence > 0.0 && classification.confidence < 1.0);
            }
            None => {
                assert_eq!(classification.explanation, Explanation::Nothing);
                assert_eq!(classification.confidence, 0.0);
            }
        }
    }
}

#[test]
fn a_builtin_explanation_names_the_field_and_the_matched_text() {
    let classification = classify(FailureKind::Error, "upstream: Connection reset by peer", "");
    assert_eq!(
        classification.explanation,
        Explanation::BuiltinRule {
            rule: "connection_refused_or_reset".into(),
            field: "message".into(),
            matched: "Connection reset".into(),
        }
    );
}

#[test]
fn test_and_product_code_are_told_apart_by_naming_conventions() {
    for key in [
        "com.acme.CartTest::adds",
        "com.acme.CartIT::adds",
        "test_cart.py::test_adds",
        "cart_test.go::TestAdds",
        "cart.test.ts::<anonymous>",
        "shop::cart::tests::adds",
        "Acme.Tests.CartTests::Adds",
    ] {
        assert!(is_test_code(key), "{key}");
        assert!(!is_product_code(key), "{key}");
    }
    for key in [
        "com.acme.cart.Cart::total",
        "cart.py::add_item",
        "shop::cart::Cart::add",
    ] {
        assert!(!is_test_code(key), "{key}");
        assert!(is_product_code(key), "{key}");
    }
    assert!(!is_product_code("java.util.ArrayList::get"));
}

fn rule(position: i32, name: &str, field: RuleField, pattern: &str, label: Label) -> RuleRecord {
    RuleRecord {
        id: Uuid::now_v7(),
        position,
        name: name.into(),
        field,
        pattern: pattern.into(),
        label,
        enabled: true,
        created_by: Uuid::now_v7(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn project_rules_come_in_order_before_builtin_rules_and_disabled_ones_are_skipped() {
    let mut disabled = rule(0, "off", RuleField::Message, "refused", Label::NoDefect);
    disabled.enabled = false;
    let records = vec![
        rule(
            2,
            "later",
            RuleField::Message,
            "refused",
            Label::AutomationBug,
        ),
        rule(
            1,
            "staging db",
            RuleField::Message,
            r"(?i)connection refused.*5432",
            Label::ProductBug,
        ),
        rule(
            3,
            "frames",
            RuleField::Frames,
            r"^com\.acme\.legacy\.",
            Label::NoDefect,
        ),
        rule(
            4,
            "types",
            RuleField::ExceptionType,
            r"(?i)sql",
            Label::Infrastructure,
        ),
        disabled,
    ];
    let rules = CompiledRule::compile_all(&records);
    assert_eq!(rules.len(), 4);
    let run = |message: &str, trace: &str| {
        classify_with(
            &rules,
            &LabelledGroups::default(),
            &HashSet::new(),
            FailureKind::Error,
            message,
            trace,
            Flakiness::default(),
        )
    };
    let first = run("Connection refused: localhost:5432", "");
    assert_eq!(first.label, Label::ProductBug);
    assert_eq!(first.confidence, PROJECT_RULE_CONFIDENCE);
    match &first.explanation {
        Explanation::ProjectRule {
            rule_name,
            field,
            matched,
            ..
        } => {
            assert_eq!(rule_name, "staging db");
            assert_eq!(*field, RuleField::Message);
            assert_eq!(matched, "Connection refused: localhost:5432");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run("connection refused", "").label, Label::AutomationBug);
    let legacy = run(
        "java.lang.IllegalStateException: x",
        "java.lang.IllegalStateException: x\n\tat com.acme.legacy.Old.run(Old.java:1)\n",
    );
    assert_eq!(legacy.label, Label::NoDefect);
    let typed = run(
        "java.sql.SQLException: boom",
        "java.sql.SQLException: boom\n\tat com.acme.Db.query(Db.java:1)\n",
    );
    assert_eq!(typed.label, Label::Infrastructure);
    assert!(matches!(typed.explanation, Explanation::ProjectRule { .. }));
}

#[test]
fn bad_and_oversized_patterns_are_refused() {
    assert!(compile_pattern("(unclosed").is_err());
    assert!(compile_pattern("").is_err());
    assert!(compile_pattern(&"a".repeat(1001)).is_err());
    assert!(compile_pattern(r"\w{1000}\w{1000}\w{1000}").is_err());
    assert!(compile_pattern(r"(?i)connection refused \d+").is_ok());
}

fn labelled(label: Label, message: &str, trace: &str) -> LabelledGroup {
    LabelledGroup {
        id: Uuid::now_v7(),
        label,
        signature: signature(message, trace),
        classification: Classification::by_user(label, Uuid::now_v7(), Utc::now()),
    }
}

#[test]
fn the_most_similar_user_labelled_group_lends_its_label_with_the_similarity_as_confidence() {
    let trace = |frames: &[&str]| {
        let mut text = "java.lang.IllegalStateException: closed\n".to_owned();
        for frame in frames {
            text.push_str(&format!("\tat com.acme.{frame}(X.java:1)\n"));
        }
        text
    };
    let near = labelled(
        Label::ProductBug,
        "java.lang.IllegalStateException: closed",
        &trace(&["Cart.add", "Cart.put", "Shop.buy", "Shop.pay", "Api.call"]),
    );
    let far = labelled(
        Label::NoDefect,
        "java.lang.IllegalStateException: closed",
        &trace(&["Other.a", "Other.b", "Shop.buy", "Shop.pay", "Api.call"]),
    );
    let near_id = near.id;
    let groups = LabelledGroups::new([near, far]);
    let result = classify_with(
        &[],
        &groups,
        &HashSet::new(),
        FailureKind::Error,
        "java.lang.IllegalStateException: closed",
        &trace(&["Cart.add", "Cart.put", "Shop.buy", "Shop.pay", "Api.other"]),
        Flakiness::default(),
    );
    assert_eq!(result.label, Label::ProductBug);
    assert_eq!(result.source, Some(LabelSource::Learned));
    assert!(
        (result.confidence - 0.8).abs() < 1e-9,
        "{}",
        result.confidence
    );
    assert!(matches!(
        result.explanation,
        Explanation::Learned { group_id, .. } if group_id == near_id
    ));

    // Below the threshold, or another exception type: not learned.
    let unrelated = classify_with(
        &[],
        &groups,
        &HashSet::new(),
        FailureKind::Error,
        "java.lang.IllegalStateException: closed",
        &trace(&["A.a", "B.b", "C.c", "Shop.pay", "Api.call"]),
        Flakiness::default(),
    );
    assert_ne!(unrelated.source, Some(LabelSource::Learned));
    let a = signature("timeout while reading response", "");
    let b = signature("timeout while writing response", "");
    assert!(signature_similarity(&a, &b).score < LEARNED_THRESHOLD);
    let c = signature("java.io.IOException: x", "");
    let d = signature("java.lang.IllegalStateException: x", "");
    assert_eq!(signature_similarity(&c, &d).score, 0.0);
}

#[test]
fn user_labels_beat_flaky_evidence_which_beats_learned_labels_and_rules() {
    let message = "java.net.ConnectException: Connection refused";
    let group = labelled(Label::NoDefect, message, "");
    let group_id = group.id;
    let user_classification = group.classification.clone();
    let groups = LabelledGroups::new([group]);
    let test = Uuid::now_v7();
    let signature = signature(message, "");
    let facts = FailureFacts::new(FailureKind::Error, None, Some(message), &signature);
    let known = HashSet::from([test]);
    let none = HashSet::new();
    let classifier = |known_flaky| Classifier {
        rules: &[],
        labelled: &groups,
        known_flaky,
    };
    let retried = Flakiness {
        test_id: Some(test),
        passed_on_retry: true,
    };
    let plain = Flakiness {
        test_id: Some(test),
        passed_on_retry: false,
    };

    // The labelled group itself: the user's label, whatever the evidence.
    let own = classifier(&none).classify(group_id, &facts, retried);
    assert_eq!(own, user_classification);

    // Another group with the same text: flaky evidence first.
    let other = Uuid::now_v7();
    let flaky = classifier(&none).classify(other, &facts, retried);
    assert_eq!(
        (flaky.label, flaky.source),
        (Label::Flaky, Some(LabelSource::Flaky))
    );
    assert_eq!(flaky.confidence, 1.0);
    let known_flaky = classifier(&known).classify(other, &facts, plain);
    assert_eq!(known_flaky.label, Label::Flaky);
    assert_eq!(known_flaky.confidence, KNOWN_FLAKY_CONFIDENCE);
    assert_eq!(
        known_flaky.explanation,
        Explanation::Flaky {
            evidence: "known_flaky_test".into(),
            test_id: Some(test)
        }
    );

    // Without evidence: the learned label beats the built-in rule.
    let learned = classifier(&none).classify(other, &facts, plain);
    assert_eq!(
        (learned.label, learned.source),
        (Label::NoDefect, Some(LabelSource::Learned))
    );
    assert_eq!(learned.confidence, 1.0);

    // Without labelled groups: the built-in rule.
    let empty = LabelledGroups::default();
    let ruled = Classifier {
        rules: &[],
        labelled: &empty,
        known_flaky: &none,
    }
    .classify(other, &facts, plain);
    assert_eq!(ruled.label, Label::Infrastructure);
}

#[test]
fn labels_and_sources_read_back_what_they_write() {
    for label in Label::ALL {
        assert_eq!(label.as_str().parse::<Label>(), Ok(label));
    }
    for source in [
        LabelSource::User,
        LabelSource::Learned,
        LabelSource::Rule,
        LabelSource::Flaky,
    ] {
        assert_eq!(source.as_str().parse::<LabelSource>(), Ok(source));
    }
    let explanation = serde_json::to_value(Explanation::Nothing).unwrap();
    assert_eq!(explanation, serde_json::json!({"decided_by": "nothing"}));
}
