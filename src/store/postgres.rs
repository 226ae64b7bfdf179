//! The PostgreSQL store, for clusters: every node shares one database. Sequence numbers stay
//! gap-free per room with many nodes writing because each append takes the room's row lock
//! (`update rooms set last_seq = last_seq + 1 ... returning`) inside the batch transaction,
//! and batches lock rooms in id order so nodes never deadlock. The queries are shared with
//! SQLite ([`super::sql`]).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::sql::*;
use super::*;

pub struct PgStore {
    /// One pool serves reads and writes (PostgreSQL has no single-writer rule).
    read: PgPool,
    write: PgPool,
    /// The room keys its texts are sealed with.
    keys: Arc<Keyring>,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and applies the PostgreSQL migrations.
    pub async fn open(url: &str, keys: Arc<Keyring>) -> anyhow::Result<Self> {
        // Every statement is planned for its own values: sqlx keeps statements prepared for a
        // connection's life, and PostgreSQL's generic plan for one, made while the tables were
        // small, stays a sequential scan as they grow (measured: the group commit's look-up of
        // retried sends fell to ~300 messages/s at 700,000 messages).
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("parsing database_url {url:?}"))?
            .options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        let store = Self {
            read: pool.clone(),
            write: pool,
            keys,
        };
        store.fill_room_skeletons().await?;
        store.fill_search_index().await?;
        Ok(store)
    }
}

sql_store!(PgStore, Postgres, PgRow, POSTGRES);
