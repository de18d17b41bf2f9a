use super::*;

fn rule(kind: RuleKind, threshold: f64) -> GateRule {
    GateRule {
        id: Uuid::now_v7(),
        name: kind.as_str().to_owned(),
        kind,
        branch_pattern: "*".to_owned(),
        threshold,
        enabled: true,
        created_by: Uuid::now_v7(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn failing(name: &str, label: &str, group: Uuid) -> FailingResult {
    FailingResult {
        test_id: Uuid::now_v7(),
        test: name.to_owned(),
        failure_id: Some(Uuid::now_v7()),
        group_id: Some(group),
        label: label.to_owned(),
        group_muted: false,
        quarantined: false,
    }
}

/// Ten tests: six passed, one skipped, three failing (one of them
/// quarantined, one in a muted group); `a` a product bug in a new group.
fn facts() -> BuildFacts {
    let new_group = Uuid::now_v7();
    let a = failing("S › C › a", PRODUCT_BUG, new_group);
    let mut b = failing("S › C › b", PRODUCT_BUG, Uuid::now_v7());
    b.quarantined = true;
    let mut c = failing("S › C › c", "to_investigate", new_group);
    c.group_muted = true;
    BuildFacts {
        totals: BuildTotals {
            tests: 10,
            passed: 6,
            failures: 2,
            errors: 1,
            skipped: 1,
            flaky: 0,
        },
        newly_failing: [a.test_id, b.test_id].into_iter().collect(),
        failing: vec![a, b, c],
        quarantined_passing: 1,
        new_groups: vec![new_group],
        baseline_build_id: Some(Uuid::now_v7()),
    }
}

fn one(kind: RuleKind, threshold: f64) -> RuleResult {
    let answer = evaluate(
        Uuid::now_v7(),
        &[rule(kind, threshold)],
        &facts(),
        Utc::now(),
    );
    answer.rules.into_iter().next().unwrap()
}

#[test]
fn quarantined_and_muted_failures_do_not_count() {
    let result = one(RuleKind::MaxFailures, 0.0);
    assert_eq!(result.actual, Amount::Count(1));
    assert_eq!(result.status, RuleStatus::Failed);
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].test, "S › C › a");
    assert_eq!(result.summary, "1 failure, at most 0 allowed");
    assert_eq!(one(RuleKind::MaxFailures, 1.0).status, RuleStatus::Passed);
}

#[test]
fn the_pass_rate_leaves_quarantined_and_muted_results_out() {
    // 5 counted passes (6 less a quarantined one) of 6 counted results.
    let result = one(RuleKind::MinPassRate, 90.0);
    assert_eq!(result.actual, Amount::Percent(83.33));
    assert_eq!(result.status, RuleStatus::Failed);
    assert_eq!(
        result.summary,
        "pass rate 83.33% (5 of 6), at least 90% required"
    );
    assert_eq!(one(RuleKind::MinPassRate, 80.0).status, RuleStatus::Passed);
}

#[test]
fn new_groups_product_bugs_and_newly_failing_count_only_counted_failures() {
    let groups = one(RuleKind::NoNewGroups, 0.0);
    assert_eq!(
        (groups.actual, groups.status),
        (Amount::Count(1), RuleStatus::Failed)
    );
    let bugs = one(RuleKind::NoProductBugs, 0.0);
    assert_eq!(bugs.actual, Amount::Count(1));
    let newly = one(RuleKind::MaxNewlyFailing, 1.0);
    assert_eq!(
        (newly.actual, newly.status),
        (Amount::Count(1), RuleStatus::Passed)
    );
    assert!(newly.failures.is_empty());
}

#[test]
fn min_tests_counts_every_test_that_ran() {
    let result = one(RuleKind::MinTests, 10.0);
    assert_eq!(result.actual, Amount::Count(9));
    assert_eq!(result.status, RuleStatus::Failed);
    assert_eq!(one(RuleKind::MinTests, 9.0).status, RuleStatus::Passed);
}

#[test]
fn a_gate_without_rules_passes_and_one_failed_rule_fails_it() {
    let answer = evaluate(Uuid::now_v7(), &[], &facts(), Utc::now());
    assert_eq!((answer.status, answer.rules.len()), (GateStatus::Passed, 0));
    let rules = [
        rule(RuleKind::MinTests, 1.0),
        rule(RuleKind::MaxFailures, 0.0),
    ];
    let answer = evaluate(Uuid::now_v7(), &rules, &facts(), Utc::now());
    assert_eq!(answer.status, GateStatus::Failed);
    assert_eq!(answer.rules[0].status, RuleStatus::Passed);
}

#[test]
fn amounts_are_plain_json_numbers() {
    let json = serde_json::to_string(&[Amount::Count(3), Amount::Percent(97.5)]).unwrap();
    assert_eq!(json, "[3,97.5]");
    let back: Vec<Amount> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, [Amount::Count(3), Amount::Percent(97.5)]);
}
