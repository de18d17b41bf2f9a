//! Labels members give, and what they set off: a group's label drives the
//! `learned` label of the groups similar to it, at once and in the same
//! transaction; removing or changing it recomputes them.

use std::collections::HashSet;

use chrono::Utc;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::classification::{
    Classification, Classifier, Label, LabelSource, LabelledGroups, combine,
};
use crate::repository::failures;
use crate::repository::groups::{self, StoredGroup};
use crate::repository::label_feedback::{self, Feedback};

/// How many groups one label change may relabel: the most recently seen
/// groups of the labelled group's exception type without a user label.
/// Older ones keep their label until they are labelled or regrouped.
pub const MAX_RELABELLED_GROUPS: i64 = 10_000;

/// Sets (`Some`) or removes (`None`) the user label of a group, logs it,
/// and recomputes the labels of the groups it may teach. `false` when
/// there is no such group.
pub async fn label_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    actor_id: Uuid,
    label: Option<Label>,
) -> Result<bool, DbError> {
    let Some(group) = groups::get_stored_group(tx, project_id, group_id).await? else {
        return Ok(false);
    };
    let locked = groups::lock_group_and_learners(
        tx,
        project_id,
        group_id,
        group.signature.exception_type.as_deref(),
        MAX_RELABELLED_GROUPS,
    )
    .await?;
    let Some(group) = locked.iter().find(|g| g.id == group_id).cloned() else {
        return Ok(false);
    };
    let before = group.current.clone();
    if label.is_none() && before.source != Some(LabelSource::User) {
        // Nothing to remove; the label stands as computed.
        return Ok(true);
    }
    if let Some(label) = label {
        let user = Classification::by_user(label, actor_id, Utc::now());
        groups::set_group_classifications(tx, project_id, &[(group_id, user)]).await?;
    } else {
        // Taught by the others only from here on: the recomputation below
        // includes the group itself.
        groups::set_group_classifications(tx, project_id, &[(group_id, group.own.clone())]).await?;
    }
    let learners: Vec<StoredGroup> = locked
        .into_iter()
        .filter(|g| g.id != group_id || label.is_none())
        .collect();
    let after = relearn(tx, project_id, &learners).await?;
    let new = match label {
        Some(label) => (label, Some(LabelSource::User)),
        None => after
            .iter()
            .find(|(id, _)| *id == group_id)
            .map(|(_, c)| (c.label, c.source))
            .unwrap_or((group.own.label, group.own.source)),
    };
    label_feedback::record_feedback(
        tx,
        project_id,
        &Feedback {
            group_id: Some(group_id),
            failure_id: None,
            actor_id,
            action: if label.is_some() { "set" } else { "removed" },
            old_label: Some(before.label),
            old_source: before.source,
            new_label: new.0,
            new_source: new.1,
        },
    )
    .await?;
    Ok(true)
}

/// Recomputes the label of each of `learners` (groups without a user
/// label) from the project's user-labelled groups as they are now, and
/// writes the ones that changed in one statement. Returns every learner's
/// label.
async fn relearn(
    tx: &TenantTx,
    project_id: Uuid,
    learners: &[StoredGroup],
) -> Result<Vec<(Uuid, Classification)>, DbError> {
    let labelled = LabelledGroups::new(groups::user_labelled_groups(tx, project_id).await?);
    let known_flaky = HashSet::new();
    let classifier = Classifier {
        rules: &[],
        labelled: &labelled,
        known_flaky: &known_flaky,
    };
    let mut all = Vec::with_capacity(learners.len());
    let mut changed = Vec::new();
    for group in learners {
        let learned = classifier.learned(group.id, &group.signature);
        let now = combine(None, group.own.clone(), learned);
        if now != group.current {
            changed.push((group.id, now.clone()));
        }
        all.push((group.id, now));
    }
    groups::set_group_classifications(tx, project_id, &changed).await?;
    Ok(all)
}

/// Sets a failure's own label to a member's and logs it; `false` when
/// there is no such failure.
pub async fn label_failure(
    tx: &TenantTx,
    project_id: Uuid,
    failure_id: Uuid,
    actor_id: Uuid,
    label: Label,
) -> Result<bool, DbError> {
    let user = Classification::by_user(label, actor_id, Utc::now());
    let Some((old_label, old_source)) =
        failures::set_failure_label(tx, project_id, failure_id, &user).await?
    else {
        return Ok(false);
    };
    label_feedback::record_feedback(
        tx,
        project_id,
        &Feedback {
            group_id: None,
            failure_id: Some(failure_id),
            actor_id,
            action: "set",
            old_label: Some(old_label),
            old_source,
            new_label: label,
            new_source: Some(LabelSource::User),
        },
    )
    .await?;
    Ok(true)
}
