//! The retention pruner: a background task that deletes messages outside each room's limits
//! (or the server defaults) in small batches, pausing between batches so sends never wait
//! long behind it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::Chat;
use crate::domain::Retention;

/// Messages deleted per statement.
const BATCH: i64 = 500;
/// Pause between batches, leaving the write lock to sends.
const PAUSE: Duration = Duration::from_millis(20);

/// Runs until the process ends.
pub async fn run(chat: Arc<Chat>) {
    let every = Duration::from_secs(chat.config.prune_interval_secs.max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = prune_once(&chat).await {
            tracing::warn!(error = %e, "retention pass failed");
        }
    }
}

/// One pass over every room; returns how many messages were deleted.
pub async fn prune_once(chat: &Chat) -> anyhow::Result<u64> {
    let settings = chat.settings();
    let defaults = Retention {
        max_messages: settings.settings.retention_max_messages,
        max_age_secs: settings.settings.retention_max_age_secs,
    };
    let mut total = 0;
    for (room, own) in chat.store.all_rooms_retention().await? {
        let limits = Retention {
            max_messages: own.max_messages.or(defaults.max_messages),
            max_age_secs: own.max_age_secs.or(defaults.max_age_secs),
        };
        if limits == Retention::default() {
            continue;
        }
        loop {
            let deleted = chat.store.prune(&room, limits, Utc::now(), BATCH).await?;
            total += deleted;
            if deleted < BATCH as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "retention pruned messages");
    }
    Ok(total)
}
