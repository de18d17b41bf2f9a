//! Events relayed from the failure service's outbox, as the inbox accepts
//! them, and what each one asks the rollups to compute again.
//!
//! An event is a hint, not a delta: it names the build, group or project
//! state that changed, and the rollups of that slice are computed again
//! from the failure service's views. So applying an event twice, late, or
//! before an older one gives the same rollups as applying each once in
//! order (the property test in `tests/api/rollup_properties.rs`).

use std::collections::BTreeSet;

use serde_json::Value;
use tenant_core::outbox::OutboxEvent;
use uuid::Uuid;

/// A build reached a finished status (handled in `routes::events`,
/// `builds_completed`).
pub const BUILD_COMPLETED: &str = "build.completed";
pub const GROUP_CREATED: &str = "group.created";
pub const GROUP_REGRESSED: &str = "group.regressed";
pub const GROUP_STATUS_CHANGED: &str = "group.status_changed";
pub const GROUP_LABELLED: &str = "group.labelled";
pub const TEST_FLAKY_DETECTED: &str = "test.flaky_detected";
pub const TEST_QUARANTINED: &str = "test.quarantined";

/// What a set of events asks to compute again, each thing once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Builds whose slice is computed again.
    pub builds: BTreeSet<Uuid>,
    /// Groups whose row is computed again.
    pub groups: BTreeSet<Uuid>,
    /// Groups whose failures' slices are computed again (their label
    /// changed, so every slice they failed in counts differently).
    pub relabelled_groups: BTreeSet<Uuid>,
    /// The project's current counts (open groups, flaky, quarantined).
    pub project: bool,
    /// Builds that just finished (`routes::events::builds_completed`).
    pub completed_builds: BTreeSet<Uuid>,
}

impl Refresh {
    /// What `events` ask for; kinds this service does not use are ignored.
    pub fn of(events: &[OutboxEvent]) -> Self {
        let mut refresh = Self::default();
        for event in events {
            let build = uuid_field(&event.payload, "build_id");
            let group = uuid_field(&event.payload, "group_id");
            match event.kind.as_str() {
                BUILD_COMPLETED => {
                    refresh.builds.extend(build);
                    refresh.completed_builds.extend(build);
                    refresh.project = true;
                }
                GROUP_CREATED | GROUP_REGRESSED => {
                    refresh.builds.extend(build);
                    refresh.groups.extend(group);
                    refresh.project = true;
                }
                GROUP_STATUS_CHANGED => {
                    refresh.groups.extend(group);
                    refresh.project = true;
                }
                GROUP_LABELLED => {
                    refresh.groups.extend(group);
                    refresh.relabelled_groups.extend(group);
                }
                TEST_FLAKY_DETECTED | TEST_QUARANTINED => {
                    refresh.builds.extend(build);
                    refresh.project = true;
                }
                _ => {}
            }
        }
        refresh
    }

    pub fn is_empty(&self) -> bool {
        self.builds.is_empty()
            && self.groups.is_empty()
            && self.relabelled_groups.is_empty()
            && !self.project
    }
}

fn uuid_field(payload: &Value, name: &str) -> Option<Uuid> {
    payload.get(name)?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_name_what_to_compute_again_once_each() {
        let project = Uuid::now_v7();
        let build = Uuid::now_v7();
        let group = Uuid::now_v7();
        let events = [
            OutboxEvent::new(project, BUILD_COMPLETED, json!({ "build_id": build })),
            OutboxEvent::new(project, BUILD_COMPLETED, json!({ "build_id": build })),
            OutboxEvent::new(project, GROUP_LABELLED, json!({ "group_id": group })),
            OutboxEvent::new(
                project,
                "other.thing",
                json!({ "build_id": Uuid::now_v7() }),
            ),
        ];
        let refresh = Refresh::of(&events);
        assert_eq!(refresh.builds.into_iter().collect::<Vec<_>>(), vec![build]);
        assert_eq!(refresh.relabelled_groups.len(), 1);
        assert!(refresh.project);
    }
}
