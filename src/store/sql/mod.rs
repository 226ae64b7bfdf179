//! The SQL shared by the SQLite and PostgreSQL stores. Both speak the same queries (`$N`
//! placeholders, bigint times in unix milliseconds, 0/1 integer flags); the few words that
//! differ are a [`Dialect`] ([`SQLITE`], [`POSTGRES`]). Each backend module expands
//! [`sql_store!`] with its types and dialect; that writes the row mapping and, one macro per
//! area, the `Store` implementation for that backend's native driver:
//!
//! | area | file | trait |
//! |---|---|---|
//! | users, profiles, avatars, sessions | `accounts.rs` | [`Accounts`](super::Accounts) |
//! | rooms, memberships, bans, read markers, receipts | `rooms.rs` | [`Rooms`](super::Rooms) |
//! | appending and reading messages and changes, retention | `timeline.rs` | [`Timeline`](super::Timeline) |
//! | the full-text index and searching it | `search.rs` | [`Search`](super::Search) |
//! | uploads, their blobs, attachments, quotas | `uploads.rs` | [`Uploads`](super::Uploads) |
//! | settings, setup, invites, reports, accounts for admins, the audit log | `admin.rs` | [`Admin`](super::Admin) |
//! | two-factor secrets, recovery codes, password reset links | `security.rs` | [`Security`](super::Security) |

use chrono::{DateTime, Utc};

use super::{StoreError, StoreResult};

mod accounts;
mod admin;
mod rooms;
mod search;
mod security;
mod timeline;
mod uploads;

pub(super) use accounts::sql_accounts;
pub(super) use admin::sql_admin;
pub(super) use rooms::sql_rooms;
pub(super) use search::{
    PG_WALK_MS, PG_WORD_INDEX_MS, ROOMS_PER_QUERY, fts_column, fts_table, matcher, sql_search,
};
pub(super) use security::sql_security;
pub(super) use timeline::sql_timeline;
pub(super) use uploads::sql_uploads;

/// The few words where the two backends' SQL differs.
pub(super) struct Dialect {
    /// The two-argument maximum and minimum: `greatest`/`least`, SQLite's scalar `max`/`min`.
    pub greatest: &'static str,
    pub least: &'static str,
    /// The position of a substring (0 when absent): `strpos`, SQLite's `instr`.
    pub strpos: &'static str,
    /// How a write transaction begins.
    pub begin: &'static str,
    /// Whether an append locks its rooms (in id order) before taking their `seq`s.
    pub lock_rooms: bool,
    /// The clause an append's membership check ends with, to lock the rows it read.
    pub lock_members: &'static str,
    /// Search uses SQLite's FTS5 (else PostgreSQL's `tsvector`): the one area whose statements
    /// differ, not just a word (`sql/search.rs`).
    pub fts5: bool,
    /// Whether a statement whose only parameters are a multi-row `values` list binds them as
    /// plain `?` ([`Dialect::values`]). In SQLite `$1` is a *named* parameter, and binding the
    /// n-th one looks its name up in a list (`sqlite3_bind_parameter_name`, a linear scan), so
    /// a 768-parameter insert cost ~300,000 steps to bind: 4 % of the server's CPU in the
    /// 100-room fan-out (docs/performance.md, issue 15).
    pub positional: bool,
}

impl Dialect {
    /// [`placeholders`] for a statement that has no other parameters: plain `?` where the
    /// dialect binds those in order ([`Dialect::positional`]), else numbered.
    pub(super) fn values(&self, rows: usize, template: &[&str]) -> String {
        if !self.positional {
            return placeholders(rows, template);
        }
        vec![format!("({})", template.join(", ")); rows].join(", ")
    }
}

/// SQLite: one writer at a time already (a one-connection pool), so no row locks to order and
/// none on memberships (a ban's write waits for the whole append). Write transactions take
/// the write lock at once, so a second writer (another process on the same file) waits for
/// `busy_timeout` instead of failing on a lock upgrade.
pub(super) const SQLITE: Dialect = Dialect {
    greatest: "max",
    least: "min",
    strpos: "instr",
    begin: "begin immediate",
    lock_rooms: false,
    lock_members: "",
    fts5: true,
    positional: true,
};

/// PostgreSQL: appends lock their rooms in id order first (`select … for update`), so nodes
/// never deadlock, and key-share-lock the senders' memberships, so a ban, leave or room delete
/// (which deletes the row) waits for the append that read it, while updates of the row (read
/// markers, roles, notification levels) do not.
pub(super) const POSTGRES: Dialect = Dialect {
    greatest: "greatest",
    least: "least",
    strpos: "strpos",
    begin: "begin",
    lock_rooms: true,
    lock_members: " for key share of m",
    fts5: false,
    positional: false,
};

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(super) fn now_ms() -> i64 {
    ms(Utc::now())
}

/// `NotFound` when a write touched no row.
pub(super) fn found(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Maps sqlx errors into the store's few kinds; `what` names the constraint for `Conflict`.
pub(super) fn fail(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(ref d) if d.is_unique_violation() => StoreError::Conflict(what),
        other => StoreError::Other(anyhow::Error::new(other).context(what)),
    }
}

/// Statements over many rows are issued in chunks of these sizes (largest first), so that
/// only four shapes of each statement are ever prepared and cached.
pub(super) const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// Splits `items` into chunks of the sizes in [`CHUNKS`].
pub(super) fn chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let n = *CHUNKS.iter().find(|&&n| n <= items.len())?;
        let (chunk, rest) = items.split_at(n);
        items = rest;
        Some(chunk)
    })
}

/// `(t1, t2), (t1, t2), …`: `rows` copies of the row template, each `?` replaced by the next
/// numbered placeholder (`$1`, `$2`, …). Values are always bound, never spliced.
pub(super) fn placeholders(rows: usize, template: &[&str]) -> String {
    let mut n = 0;
    let row = |_| {
        let cols: Vec<String> = template
            .iter()
            .map(|t| {
                n += 1;
                t.replace('?', &format!("${n}"))
            })
            .collect();
        format!("({})", cols.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

pub(super) const USER_COLS: &str = "u.id, u.username, u.display_name, u.is_admin, u.created_at, \
    u.status_text, u.status_emoji, u.avatar, u.presence_mode, u.send_receipts, u.locale, u.deactivated_at, \
    u.one_device, u.email, u.totp_enabled_at";
pub(super) const ROOM_COLS: &str = "r.id, r.name, r.kind, r.topic, r.owner_id, r.history, \
    r.retention_max_messages, r.retention_max_age_secs, r.last_seq, r.created_at, r.direct_key, \
    r.permissions, r.seal";
pub(super) const MEMBER_COLS: &str =
    "m.room_id, m.user_id, m.role, m.joined_seq, m.read_seq, m.notify";
/// A member's unread counts, for a query over `memberships m`. A member's read marker starts
/// at their join point, so it is never below what history visibility lets them read. Only the
/// 10,000 messages after the marker are counted (`seq`s are dense), so a connect costs
/// the same for someone 1,000,000 messages behind as for someone 10,000 behind.
pub(super) const UNREAD_COLS: &str = "(select count(*) from messages g where g.room_id = m.room_id \
    and g.seq > m.read_seq and g.seq <= m.read_seq + 10000 and g.sender_id != m.user_id \
    and g.deleted = 0) as unread_messages, \
    (select count(*) from mentions x where x.room_id = m.room_id and x.user_id = m.user_id \
    and x.seq > m.read_seq) as unread_mentions";
/// A message in its current state, with what it quotes of the message it answers.
pub(super) const MESSAGE_SELECT: &str = "select g.room_id, g.seq, g.client_id, g.body, g.created_at, \
    g.mentions, g.edited_at, g.deleted, g.pinned_at, g.reply_to, g.reply_excerpt, g.reaction_count, \
    g.attachment_count, g.sealed, \
    u.id as sender_id, u.username, u.display_name, u.avatar, \
    o.deleted as reply_deleted, ou.id as reply_sender_id, \
    ou.username as reply_username, ou.display_name as reply_display_name, ou.avatar as reply_avatar \
    from messages g join users u on u.id = g.sender_id \
    left join users ou on ou.id = g.reply_sender_id \
    left join messages o on o.room_id = g.room_id and o.seq = g.reply_to";

/// Writes the row mappers and `impl Store` (with its area traits) for `$Store`, a struct with
/// `read` and `write` pools of database `$Db` whose rows are `$Row`, speaking `$dialect`.
macro_rules! sql_store {
    ($Store:ident, $Db:ty, $Row:ty, $dialect:expr) => {
        fn user_row(r: &$Row) -> User {
            User {
                id: r.get::<String, _>("id").into(),
                username: r.get("username"),
                display_name: r.get("display_name"),
                is_admin: r.get::<i64, _>("is_admin") != 0,
                deactivated: r.get::<Option<i64>, _>("deactivated_at").is_some(),
                created_at: time(r.get("created_at")),
                status_text: r.get("status_text"),
                status_emoji: r.get("status_emoji"),
                avatar_url: avatar_url(r.get("avatar"), r.get("username")),
                presence_mode: PresenceMode::from_db(r.get("presence_mode")),
                send_receipts: r.get::<i64, _>("send_receipts") != 0,
                locale: r.get("locale"),
                one_device: r.get::<i64, _>("one_device") != 0,
                email: r.get("email"),
                totp_enabled: r.get::<Option<i64>, _>("totp_enabled_at").is_some(),
            }
        }

        fn room_row(r: &$Row) -> Room {
            let direct: Option<String> = r.get("direct_key");
            let kind = RoomKind::from_db(r.get("kind"));
            Room {
                id: r.get::<String, _>("id").into(),
                name: r.get("name"),
                kind,
                topic: r.get("topic"),
                owner_id: r.get::<String, _>("owner_id").into(),
                history: HistoryVisibility::from_db(r.get("history")),
                retention: Retention {
                    max_messages: r.get("retention_max_messages"),
                    max_age_secs: r.get("retention_max_age_secs"),
                },
                permissions: r
                    .get::<Option<&str>, _>("permissions")
                    .map(Permissions::from_stored)
                    .unwrap_or_default(),
                last_seq: r.get("last_seq"),
                created_at: time(r.get("created_at")),
                seal: r
                    .get::<Option<&str>, _>("seal")
                    .and_then(crate::domain::Seal::from_stored),
                direct_user_ids: direct.and_then(|k| {
                    let (a, b) = k.split_once(':')?;
                    Some([a.into(), b.into()])
                }),
                role: None,
                read_seq: None,
                unread: None,
                unread_mentions: None,
                notify: None,
                last_message: None,
                floor: 0,
            }
        }

        fn member_row(r: &$Row) -> Membership {
            Membership {
                room_id: r.get::<String, _>("room_id").into(),
                user_id: r.get::<String, _>("user_id").into(),
                role: Role::from_db(r.get("role")),
                joined_seq: r.get("joined_seq"),
                read_seq: r.get("read_seq"),
                notify: r
                    .get::<Option<&str>, _>("notify")
                    .and_then(NotifyLevel::from_db),
            }
        }

        fn unread_row(r: &$Row) -> Unread {
            Unread {
                messages: r.get("unread_messages"),
                mentions: r.get("unread_mentions"),
            }
        }

        /// Mentions are kept as a JSON array beside the message.
        fn mentions_from(json: Option<&str>) -> Vec<Mention> {
            json.and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default()
        }

        fn message_row(r: &$Row) -> Message {
            let room_id: RoomId = r.get::<String, _>("room_id").into();
            let seq: Seq = r.get("seq");
            let reply_to = r
                .get::<Option<String>, _>("reply_sender_id")
                .map(|sender_id| {
                    let deleted = r.get::<Option<i64>, _>("reply_deleted") == Some(1);
                    let excerpt: Option<String> = r.get("reply_excerpt");
                    ReplyTo {
                        seq: r.get::<Option<i64>, _>("reply_to").unwrap_or_default(),
                        sender: Sender {
                            id: sender_id.into(),
                            username: r.get("reply_username"),
                            display_name: r.get("reply_display_name"),
                            avatar_url: avatar_url(r.get("reply_avatar"), r.get("reply_username")),
                        },
                        excerpt: if deleted {
                            String::new()
                        } else {
                            excerpt.unwrap_or_default()
                        },
                        deleted,
                    }
                });
            Message {
                id: message_id(&room_id, seq),
                room_id,
                seq,
                sender: Sender {
                    id: r.get::<String, _>("sender_id").into(),
                    username: r.get("username"),
                    display_name: r.get("display_name"),
                    avatar_url: avatar_url(r.get("avatar"), r.get("username")),
                },
                client_id: r.get("client_id"),
                body: r.get("body"),
                mentions: mentions_from(r.get("mentions")),
                ts: time(r.get("created_at")),
                edited_at: r.get::<Option<i64>, _>("edited_at").map(time),
                deleted: r.get::<i64, _>("deleted") != 0,
                // Filled in by a second read, only where there are any.
                reactions: Vec::new(),
                has_reactions: r.get::<i64, _>("reaction_count") > 0,
                reply_to,
                pinned: r.get::<Option<i64>, _>("pinned_at").is_some(),
                attachments: Vec::new(),
                has_attachments: r.get::<i64, _>("attachment_count") > 0,
            }
        }

        impl $Store {
            /// The words of this backend's SQL that differ from the other's.
            const DIALECT: Dialect = $dialect;
        }

        /// Messages from their rows ([`MESSAGE_SELECT`]), sealed texts opened.
        async fn messages_of<'r>(
            keys: &Keyring,
            rows: impl IntoIterator<Item = &'r $Row>,
        ) -> StoreResult<Vec<Message>> {
            let mut messages = Vec::new();
            for r in rows {
                let mut m = message_row(r);
                if r.get::<i64, _>("sealed") != 0 {
                    keys.open_message(&mut m).await?;
                }
                messages.push(m);
            }
            Ok(messages)
        }

        sql_accounts!($Store, $Db, $Row);
        sql_rooms!($Store, $Db, $Row);
        sql_timeline!($Store, $Db, $Row);
        sql_search!($Store, $Db, $Row);
        sql_uploads!($Store, $Db, $Row);
        sql_admin!($Store, $Db, $Row);
        sql_security!($Store, $Db, $Row);

        #[async_trait]
        impl Store for $Store {
            async fn ping(&self) -> bool {
                sqlx::query("select 1").execute(&self.read).await.is_ok()
            }

            async fn close(&self) {
                self.write.close().await;
                self.read.close().await;
                self.keys.store().close().await;
            }

            fn keyring(&self) -> &Arc<Keyring> {
                &self.keys
            }
        }
    };
}

pub(super) use sql_store;
