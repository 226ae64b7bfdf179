//! Search over the messages a user may read now (the permission check is in the store's query,
//! so pages are never short), with where in each body the words found are.

use super::{Chat, Error, Result, invalid};
use crate::domain::{Message, RoomId, Seq, highlights, search_terms};
use crate::store::SearchQuery;

/// Results in one page when the client does not say, and the most it may ask for.
pub const DEFAULT_RESULTS: i64 = 20;
pub const MAX_RESULTS: i64 = 50;

/// One search result.
pub struct Hit {
    pub message: Message,
    /// Code-point ranges of the words the query found in `message.body`.
    pub highlights: Vec<(usize, usize)>,
}

impl Chat {
    /// Searches; `before` is an earlier page's `next`.
    pub async fn search(
        &self,
        user: &crate::domain::UserId,
        q: &str,
        room: Option<RoomId>,
        before: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(Vec<Hit>, Option<String>)> {
        let terms = search_terms(q)?;
        let limit = limit.unwrap_or(DEFAULT_RESULTS);
        if !(1..=MAX_RESULTS).contains(&limit) {
            return Err(invalid("limit", "must be 1-50"));
        }
        let before = match before {
            None => None,
            Some(b) => Some(
                b.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid("before", "must be a `next` from an earlier page"))?,
            ),
        };
        if let Some(room) = &room {
            // Says not_found or forbidden for a room the caller may not read.
            self.read_floor(user, room).await.map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound("room"),
                other => other,
            })?;
        }
        let query = SearchQuery {
            viewer: user.clone(),
            terms: terms.clone(),
            room,
            before,
            limit,
        };
        let (mut messages, next) = self.store.search(query).await?;
        // Quotes of messages the caller may not read (from before they joined) stay blank.
        let mut floors = std::collections::HashMap::new();
        for m in &mut messages {
            if m.reply_to.is_none() {
                continue;
            }
            if !floors.contains_key(&m.room_id) {
                let floor = self.read_floor(user, &m.room_id).await.unwrap_or(Seq::MAX);
                floors.insert(m.room_id.clone(), floor);
            }
            let floor = floors[&m.room_id];
            crate::store::hide_quotes_below(std::slice::from_mut(m), floor);
        }
        let hits = messages
            .into_iter()
            .map(|message| Hit {
                highlights: highlights(&message.body, &terms),
                message,
            })
            .collect();
        Ok((hits, next.map(|n| n.to_string())))
    }
}
