//! What the failure service tells other services, through its outbox
//! (tenant-core's `outbox`): the kinds of event, in one place, and the
//! payloads of the ones it emits. Relayed at least once to the integration
//! gateway and, from a queue of their own, to the analytics service; each
//! keeps each event id once.

use chrono::{DateTime, Utc};
use serde_json::json;
use tenant_core::outbox::OutboxEvent;
use uuid::Uuid;

use super::Build;
use super::flakiness::HealthChanges;

/// A failure group seen for the first time (an upload inserted it).
pub const GROUP_CREATED: &str = "group.created";
/// A resolved group failing again.
pub const GROUP_REGRESSED: &str = "group.regressed";
/// A build reached a finished status.
pub const BUILD_COMPLETED: &str = "build.completed";
/// A test found flaky.
pub const TEST_FLAKY_DETECTED: &str = "test.flaky_detected";
/// A test put in quarantine.
pub const TEST_QUARANTINED: &str = "test.quarantined";
/// A member moved a group to another triage status (analytics counts
/// time to triage and to resolution from these).
pub const GROUP_STATUS_CHANGED: &str = "group.status_changed";
/// A group's label was set or removed by a member (analytics counts
/// failures by label).
pub const GROUP_LABELLED: &str = "group.labelled";

/// Every kind of event the failure service publishes.
pub const EVENT_KINDS: [&str; 7] = [
    GROUP_CREATED,
    GROUP_REGRESSED,
    BUILD_COMPLETED,
    TEST_FLAKY_DETECTED,
    TEST_QUARANTINED,
    GROUP_STATUS_CHANGED,
    GROUP_LABELLED,
];

/// At most this many new group ids are listed in a `build.completed`
/// event (`new_groups` always counts them all).
pub const NEW_GROUP_IDS_LISTED: usize = 100;

/// At most this many characters of a new group's first message travel
/// in `group.created`, so a full batch stays well within the receiver's
/// JSON body limit.
pub const EVENT_MESSAGE_CHARS: usize = 1000;

/// A group an upload inserted, as `group.created` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub id: Uuid,
    pub grouping_version: u32,
    pub exception_type: Option<String>,
    /// The first failure's message, as kept at ingestion (the event
    /// carries its first [`EVENT_MESSAGE_CHARS`] characters).
    pub message: Option<String>,
}

/// `group.created` for each of `groups`, first seen in `build_id` at `at`.
pub fn groups_created(
    project_id: Uuid,
    build_id: Uuid,
    at: DateTime<Utc>,
    groups: &[NewGroup],
) -> Vec<OutboxEvent> {
    groups
        .iter()
        .map(|group| {
            OutboxEvent::new(
                project_id,
                GROUP_CREATED,
                json!({
                    "group_id": group.id,
                    "build_id": build_id,
                    "grouping_version": group.grouping_version,
                    "exception_type": group.exception_type,
                    "message": group
                        .message
                        .as_deref()
                        .map(|message| message.chars().take(EVENT_MESSAGE_CHARS).collect::<String>()),
                    "first_seen_at": at,
                }),
            )
        })
        .collect()
}

/// `group.regressed` for each of `groups`: resolved groups that failed
/// again in `build_id` at `at` and reopened.
pub fn groups_regressed(
    project_id: Uuid,
    build_id: Uuid,
    at: DateTime<Utc>,
    groups: &[Uuid],
) -> Vec<OutboxEvent> {
    groups
        .iter()
        .map(|group_id| {
            OutboxEvent::new(
                project_id,
                GROUP_REGRESSED,
                json!({ "group_id": group_id, "build_id": build_id, "regressed_at": at }),
            )
        })
        .collect()
}

/// `build.completed` for `build`, which just finished, with the groups
/// first seen in it (all of them counted, the first
/// [`NEW_GROUP_IDS_LISTED`] listed).
pub fn build_completed(project_id: Uuid, build: &Build, new_groups: &[Uuid]) -> OutboxEvent {
    let totals = &build.totals;
    let listed: Vec<Uuid> = new_groups
        .iter()
        .take(NEW_GROUP_IDS_LISTED)
        .copied()
        .collect();
    OutboxEvent::new(
        project_id,
        BUILD_COMPLETED,
        json!({
            "build_id": build.id,
            "job_name": build.job_name,
            "external_id": build.external_id,
            "number": build.number,
            "branch": build.branch,
            "commit_sha": build.commit_sha,
            "url": build.url,
            "status": build.status,
            "finished_at": build.finished_at,
            "counts": {
                "tests": totals.tests,
                "passed": totals.passed,
                "failures": totals.failures,
                "errors": totals.errors,
                "skipped": totals.skipped,
                "flaky": totals.flaky,
            },
            "flaky": totals.flaky,
            "new_groups": new_groups.len(),
            "new_group_ids": listed,
        }),
    )
}

/// `test.flaky_detected` for each test newly flagged (with the state it
/// was flagged `flaky` or `broken`) and `test.quarantined` for each test
/// newly quarantined, by the upload of `build_id` or, without one, by a
/// member (`automatic` false).
pub fn health_changed(
    project_id: Uuid,
    build_id: Option<Uuid>,
    changes: &HealthChanges,
    automatic: bool,
) -> Vec<OutboxEvent> {
    let flagged = changes.newly_flagged.iter().map(|(test_id, state)| {
        OutboxEvent::new(
            project_id,
            TEST_FLAKY_DETECTED,
            json!({ "test_id": test_id, "state": state, "build_id": build_id }),
        )
    });
    let quarantined = changes.newly_quarantined.iter().map(|test_id| {
        OutboxEvent::new(
            project_id,
            TEST_QUARANTINED,
            json!({ "test_id": test_id, "automatic": automatic, "build_id": build_id }),
        )
    });
    flagged.chain(quarantined).collect()
}

/// `group.status_changed`: a member moved `group_id` from `old_status`
/// to `new_status` at `at`.
pub fn group_status_changed(
    project_id: Uuid,
    group_id: Uuid,
    old_status: &str,
    new_status: &str,
    at: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(
        project_id,
        GROUP_STATUS_CHANGED,
        json!({
            "group_id": group_id,
            "old_status": old_status,
            "new_status": new_status,
            "changed_at": at,
        }),
    )
}

/// `group.labelled`: `group_id`'s label is now `label` (set by a member,
/// or computed again after a member removed theirs: `user_label` false).
pub fn group_labelled(
    project_id: Uuid,
    group_id: Uuid,
    label: &str,
    user_label: bool,
) -> OutboxEvent {
    OutboxEvent::new(
        project_id,
        GROUP_LABELLED,
        json!({ "group_id": group_id, "label": label, "user_label": user_label }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_first_message_is_cut_in_group_created() {
        let group = NewGroup {
            id: Uuid::now_v7(),
            grouping_version: 1,
            exception_type: None,
            message: Some("é".repeat(EVENT_MESSAGE_CHARS + 5)),
        };
        let events = groups_created(Uuid::now_v7(), Uuid::now_v7(), Utc::now(), &[group]);
        let message = events[0].payload["message"].as_str().unwrap();
        assert_eq!(message.chars().count(), EVENT_MESSAGE_CHARS);
        assert_eq!(events[0].kind, GROUP_CREATED);
    }

    #[test]
    fn event_kinds_are_distinct_dotted_lowercase_names() {
        let mut kinds = EVENT_KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), EVENT_KINDS.len());
        for kind in EVENT_KINDS {
            let (entity, verb) = kind.split_once('.').unwrap();
            assert!(!entity.is_empty() && !verb.is_empty(), "{kind}");
            assert!(
                kind.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{kind}"
            );
        }
    }
}
