//! Where the wrapped room keys are kept: apart from the data they unlock, so that deleting a
//! key leaves nothing to unwrap in the database's WAL, free pages, dead tuples or backups.
//! With SQLite, a file of its own (`<data_dir>/keys.db`) that overwrites deleted rows
//! (`secure_delete`) and empties its WAL after each deletion. With PostgreSQL, `key_store_url`
//! names a database every node reaches; its backups should be kept briefly (a deleted room is
//! readable from a backup holding its key for as long as that backup lives); by default it is
//! the main database (table `natter_keys`), which is simpler and loses that property for
//! backups — `docs/security.md` says which to choose.

use std::collections::HashMap;
use std::str::FromStr;

use anyhow::Context as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};

use super::MasterKey;
use crate::domain::RoomId;

#[derive(Clone)]
pub enum KeyStore {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same statement (`$N` placeholders) on either backend.
macro_rules! on_either {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            KeyStore::Sqlite($pool) => $body,
            KeyStore::Postgres($pool) => $body,
        }
    };
}

impl KeyStore {
    /// Opens (creating) the key store at `url` and checks that `master` is the key its room
    /// keys were wrapped with (recording it when the store is new).
    pub async fn open(url: &str, master: &MasterKey) -> anyhow::Result<Self> {
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("parsing key_store_url {url:?}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(10))
                .pragma("secure_delete", "on");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("opening the key store")?;
            sqlx::query(
                "create table if not exists natter_keys (id text primary key, \
                 wrapped blob not null, created_at bigint not null)",
            )
            .execute(&pool)
            .await
            .context("creating the key store")?;
            Self::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .connect(url)
                .await
                .context("connecting to the key store")?;
            sqlx::query(
                "create table if not exists natter_keys (id text primary key, \
                 wrapped bytea not null, created_at bigint not null)",
            )
            .execute(&pool)
            .await
            .context("creating the key store")?;
            Self::Postgres(pool)
        } else {
            anyhow::bail!(
                "unsupported key_store_url {url:?} (expected sqlite:... or postgres://...)"
            );
        };
        on_either!(&store, |pool| {
            // One row (`one` is always 1): nodes starting at once record one key.
            sqlx::query(
                "create table if not exists natter_key_master \
                 (one integer primary key check (one = 1), id text not null)",
            )
            .execute(pool)
            .await
            .context("creating the key store")?;
            sqlx::query(
                "insert into natter_key_master (one, id) values (1, $1) on conflict (one) do nothing",
            )
            .bind(master.id())
            .execute(pool)
            .await
            .context("recording the master key")?;
        });
        let recorded = store.master_id().await?;
        anyhow::ensure!(
            recorded == master.id(),
            "the room keys in the key store were wrapped by another master key (id {recorded}, \
             this one is {}): give this node the master key the others use \
             (NATTER_MASTER_KEY or master_key_file; after an interrupted \
             `natter admin rotate-master-key`, the new key is in master.key.new)",
            master.id()
        );
        Ok(store)
    }

    async fn master_id(&self) -> anyhow::Result<String> {
        on_either!(self, |pool| sqlx::query_scalar(
            "select id from natter_key_master"
        )
        .fetch_one(pool)
        .await
        .context("reading the key store"))
    }

    /// The wrapped keys of those of `rooms` that have one.
    pub async fn get(&self, rooms: &[&str]) -> anyhow::Result<HashMap<String, Vec<u8>>> {
        let mut found = HashMap::new();
        for chunk in rooms.chunks(256) {
            macro_rules! fetch {
                ($Db:ty, $pool:expr) => {{
                    let mut q = QueryBuilder::<$Db>::new(
                        "select id, wrapped from natter_keys where id in (",
                    );
                    let mut ids = q.separated(", ");
                    for room in chunk {
                        ids.push_bind(*room);
                    }
                    q.push(")");
                    for row in q
                        .build()
                        .fetch_all($pool)
                        .await
                        .context("reading room keys")?
                    {
                        found.insert(row.get("id"), row.get("wrapped"));
                    }
                }};
            }
            match self {
                Self::Sqlite(pool) => fetch!(Sqlite, pool),
                Self::Postgres(pool) => fetch!(Postgres, pool),
            }
        }
        Ok(found)
    }

    /// Stores new wrapped keys; a room that has one already keeps it.
    pub async fn insert(&self, keys: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
        let now = chrono::Utc::now().timestamp_millis();
        on_either!(self, |pool| {
            let mut tx = pool.begin().await.context("storing room keys")?;
            for (room, wrapped) in keys {
                sqlx::query(
                    "insert into natter_keys (id, wrapped, created_at) values ($1, $2, $3) \
                     on conflict (id) do nothing",
                )
                .bind(*room)
                .bind(wrapped)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context("storing a room key")?;
            }
            tx.commit().await.context("storing room keys")
        })
    }

    /// Deletes a room's key, and (SQLite) empties the WAL that held the deletion, so neither
    /// the file nor its WAL holds the key any more.
    pub async fn delete(&self, id: &str) -> anyhow::Result<()> {
        on_either!(self, |pool| {
            sqlx::query("delete from natter_keys where id = $1")
                .bind(id)
                .execute(pool)
                .await
                .context("deleting a room key")?;
        });
        if let Self::Sqlite(pool) = self {
            sqlx::query("pragma wal_checkpoint(truncate)")
                .execute(pool)
                .await
                .context("checkpointing the key store")?;
        }
        Ok(())
    }

    /// Every room that has a key (not the files' keys).
    pub async fn ids(&self) -> anyhow::Result<Vec<RoomId>> {
        let ids: Vec<String> = on_either!(self, |pool| sqlx::query_scalar(
            "select id from natter_keys where id not like 'blob:%' order by id"
        )
        .fetch_all(pool)
        .await
        .context("listing room keys"))?;
        Ok(ids.into_iter().map(RoomId::from).collect())
    }

    /// Replaces every wrapped key by `rewrap(room, wrapped)` and records `new` as the master
    /// key, in one transaction: a failure leaves the old wrapping in place.
    pub async fn rewrap(
        &self,
        new: &MasterKey,
        rewrap: impl Fn(&str, &[u8]) -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<usize> {
        let count = on_either!(self, |pool| {
            let mut tx = pool.begin().await.context("rotating the master key")?;
            if matches!(self, Self::Postgres(_)) {
                // A node still running (it should not be) cannot add a key unrewrapped.
                sqlx::query("lock table natter_keys in exclusive mode")
                    .execute(&mut *tx)
                    .await
                    .context("locking the key store")?;
            }
            let rows = sqlx::query("select id, wrapped from natter_keys")
                .fetch_all(&mut *tx)
                .await
                .context("reading room keys")?;
            for row in &rows {
                let id: String = row.get("id");
                let wrapped = rewrap(&id, row.get::<&[u8], _>("wrapped"))?;
                sqlx::query("update natter_keys set wrapped = $2 where id = $1")
                    .bind(&id)
                    .bind(wrapped)
                    .execute(&mut *tx)
                    .await
                    .context("rewrapping a room key")?;
            }
            sqlx::query("update natter_key_master set id = $1")
                .bind(new.id())
                .execute(&mut *tx)
                .await
                .context("recording the new master key")?;
            tx.commit().await.context("rotating the master key")?;
            Ok::<_, anyhow::Error>(rows.len())
        })?;
        // The old wrappings leave the WAL too.
        if let Self::Sqlite(pool) = self {
            sqlx::query("pragma wal_checkpoint(truncate)")
                .execute(pool)
                .await
                .context("checkpointing the key store")?;
        }
        Ok(count)
    }

    pub async fn close(&self) {
        on_either!(self, |pool| pool.close().await)
    }
}
