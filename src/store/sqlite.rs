//! The SQLite store: one file in WAL mode with `synchronous = FULL`. All writes go through a
//! one-connection pool, so SQLite never sees two writers (no `SQLITE_BUSY` upgrade deadlocks)
//! and group commit decides how many messages share an fsync; reads use a separate pool.
//! The queries themselves are shared with PostgreSQL ([`super::sql`]).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::sql::*;
use super::*;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    /// The room keys its texts are sealed with.
    keys: Arc<Keyring>,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn open(url: &str, keys: Arc<Keyring>) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("parsing database_url {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // A batch spread over many rooms dirties a leaf page per room: a 64 MiB page cache
            // (the default is 2 MiB) keeps the busy rooms' pages, and checkpointing every
            // 16,000 WAL pages instead of 1,000 writes a page rewritten by many commits once.
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "16000")
            // Freed space inside a page is zeroed (no extra I/O): a deleted message or an
            // edited text leaves no remnant beside the live rows.
            .pragma("secure_delete", "fast");
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .context("opening the SQLite database")?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .context("migrating the SQLite database")?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .context("opening SQLite readers")?;
        let store = Self { read, write, keys };
        store.fill_room_skeletons().await?;
        store.fill_search_index().await?;
        Ok(store)
    }
}

sql_store!(SqliteStore, Sqlite, SqliteRow, SQLITE);
