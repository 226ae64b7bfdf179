//! Sealing what was stored before encryption at rest (an upgraded server, or one that ran
//! with it off): a background task that seals a batch at a time, pausing between batches so
//! sends never wait long behind it, and resumes where it stopped after a restart (the rows
//! still to do are those marked unsealed). Then it destroys keys whose room is gone (a room
//! deleted by a node that stopped between deleting the room and its key).

use std::sync::Arc;
use std::time::Duration;

use crate::store::{Store, StoreError};

/// Messages (and as many earlier texts) sealed per transaction.
const BATCH: i64 = 500;
/// Pause between batches, leaving the write lock to sends.
const PAUSE: Duration = Duration::from_millis(20);

/// Runs until everything is sealed and stray keys are gone.
pub async fn run(store: Arc<dyn Store>) {
    if let Err(e) = seal_all(&*store).await {
        tracing::warn!(error = %e, "sealing earlier messages stopped: the next start resumes");
    }
    if let Err(e) = sweep_keys(&*store).await {
        tracing::warn!(error = %e, "destroying keys of deleted rooms");
    }
}

/// Seals every unsealed message and earlier text; returns how many.
pub async fn seal_all(store: &dyn Store) -> anyhow::Result<u64> {
    let mut total = 0;
    loop {
        let done = store.seal_earlier(BATCH).await?;
        if done == 0 {
            break;
        }
        total += done;
        if total % 10_000 < done {
            tracing::info!(
                sealed = total,
                "sealing messages stored before encryption at rest"
            );
        }
        tokio::time::sleep(PAUSE).await;
    }
    if total > 0 {
        // The plain words replaced leave the index's segments too.
        store.compact_index().await?;
        tracing::info!(
            sealed = total,
            "every message is sealed with its room's key"
        );
    }
    Ok(total)
}

/// Destroys the keys of rooms that no longer exist; returns how many.
pub async fn sweep_keys(store: &dyn Store) -> anyhow::Result<usize> {
    let keys = store.keyring();
    let mut gone = 0;
    for room in keys.store().ids().await? {
        match store.room(&room).await {
            Err(StoreError::NotFound) => {
                keys.erase(&room).await?;
                gone += 1;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
    }
    Ok(gone)
}
