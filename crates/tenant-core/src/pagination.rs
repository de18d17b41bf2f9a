//! Keyset pagination with opaque cursors.
//!
//! A cursor is the sort key of the last item a client saw, serialized and
//! base64url-encoded. Clients treat it as opaque; a cursor that does not
//! decode into the expected key is a 400, never a silently empty page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Problem;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Query parameters every list endpoint accepts.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A validated page request: `limit` within bounds and the decoded key to
/// continue after.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    pub limit: u32,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    pub fn from_params(params: &PageParams) -> Result<Self, Problem> {
        let limit = match params.limit {
            Some(0) => {
                return Err(Problem::bad_request(
                    "pagination.invalid_limit",
                    "limit must be at least 1",
                ));
            }
            Some(limit) => limit.min(MAX_LIMIT),
            None => DEFAULT_LIMIT,
        };
        let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the limit, to know whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of results and the cursor for the next, if there is one.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order; `key`
    /// extracts the sort key of an item.
    pub fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        request_limit: u32,
        key: impl Fn(&T) -> K,
    ) -> Self {
        let limit = usize::try_from(request_limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Serializing plain keys (ids, timestamps) cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, Problem> {
    let invalid = || {
        Problem::bad_request(
            "pagination.invalid_cursor",
            "the cursor is not one this API issued",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    type Key = (chrono::DateTime<chrono::Utc>, Uuid);

    #[test]
    fn a_cursor_round_trips_to_the_same_key() {
        let key: Key = (chrono::Utc::now(), Uuid::now_v7());
        let decoded: Key = decode_cursor(&encode_cursor(&key)).unwrap();
        assert_eq!(decoded, key);
    }

    #[test]
    fn a_forged_cursor_is_a_bad_request() {
        for cursor in ["not base64!", "e30", &URL_SAFE_NO_PAD.encode(b"[1,2]")] {
            let params = PageParams {
                limit: None,
                cursor: Some(cursor.to_owned()),
            };
            let error = PageRequest::<Key>::from_params(&params).unwrap_err();
            assert_eq!(error.code(), "pagination.invalid_cursor", "cursor {cursor}");
            assert_eq!(error.status().as_u16(), 400);
        }
    }

    #[test]
    fn limit_is_capped_and_zero_is_refused() {
        let capped = PageRequest::<Key>::from_params(&PageParams {
            limit: Some(10_000),
            cursor: None,
        })
        .unwrap();
        assert_eq!(capped.limit, MAX_LIMIT);
        assert_eq!(capped.fetch_limit(), i64::from(MAX_LIMIT) + 1);

        let default = PageRequest::<Key>::from_params(&PageParams::default()).unwrap();
        assert_eq!(default.limit, DEFAULT_LIMIT);

        let zero = PageRequest::<Key>::from_params(&PageParams {
            limit: Some(0),
            cursor: None,
        });
        assert_eq!(zero.unwrap_err().code(), "pagination.invalid_limit");
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_more_rows_exist() {
        let full = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(full.items, vec![1, 2]);
        assert_eq!(
            decode_cursor::<i32>(full.next_cursor.as_deref().unwrap()).unwrap(),
            2
        );

        let last = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert_eq!(last.items, vec![1, 2]);
        assert!(last.next_cursor.is_none());
    }
}
