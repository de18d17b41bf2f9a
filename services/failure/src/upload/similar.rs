//! The similarity merge of a batch's failures, against the project's
//! stored groups ([`crate::domain::join_similar_groups`]): shared by
//! uploads and regroup jobs.

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::signature::GROUPING_VERSION;
use crate::domain::{
    FailureRow, MAX_SIMILARITY_CANDIDATES, SimilarGroups, is_message_only, join_similar_groups,
};
use crate::repository::groups::{existing_group_ids, similarity_candidates};

/// Moves the batch's message-only failures whose own group does not exist
/// yet into a similar group. One statement per batch that has such
/// failures (which of their groups exist), and once per upload a second
/// loading the candidates; none for a batch whose failures all have
/// traces. Returns how many failures joined another group.
pub async fn join_similar_in_batch<'a>(
    tx: &TenantTx,
    project_id: Uuid,
    groups: &mut SimilarGroups,
    failures: impl IntoIterator<Item = &'a mut FailureRow>,
) -> Result<usize, DbError> {
    let mut message_only: Vec<&mut FailureRow> = failures
        .into_iter()
        .filter(|failure| is_message_only(failure))
        .collect();
    if message_only.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<Uuid> = message_only.iter().map(|f| f.group_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let existing = existing_group_ids(tx, project_id, &ids).await?;
    if existing.len() == ids.len() {
        return Ok(0);
    }
    if !groups.is_loaded() {
        groups.load(
            similarity_candidates(tx, project_id, GROUPING_VERSION, MAX_SIMILARITY_CANDIDATES)
                .await?,
        );
    }
    Ok(join_similar_groups(
        message_only.iter_mut().map(|f| &mut **f),
        &existing,
        groups,
    ))
}
