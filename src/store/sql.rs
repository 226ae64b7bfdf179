//! The SQL shared by the SQLite and PostgreSQL stores. Both speak the same queries (`$N`
//! placeholders, bigint times in unix milliseconds, 0/1 integer flags); the few words that
//! differ (`GREATEST`, `LEAST`, `STRPOS`, `BEGIN`, whether appends lock rooms first: `LOCK_ROOMS`, and how they lock memberships: `LOCK_MEMBERS`) are constants each backend module defines before
//! expanding [`sql_store!`], which writes the row mapping and the whole `Store`
//! implementation for that backend's native driver.

use chrono::{DateTime, Utc};

use super::{StoreError, StoreResult};

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
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

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
    u.status_text, u.status_emoji, u.avatar, u.presence_mode, u.send_receipts, u.locale";
pub(super) const ROOM_COLS: &str = "r.id, r.name, r.kind, r.topic, r.owner_id, r.history, \
    r.retention_max_messages, r.retention_max_age_secs, r.last_seq, r.created_at, r.direct_key";
pub(super) const MEMBER_COLS: &str =
    "m.room_id, m.user_id, m.role, m.joined_seq, m.read_seq, m.notify";
/// A member's unread counts, for a query over `memberships m`. A member's read marker starts
/// at their join point, so it is never below what history visibility lets them read. Only the
/// 10,000 messages after the marker are counted (`seq`s are dense), so a connect costs
/// the same for someone 1,000,000 messages behind as for someone 10,000 behind.
pub(super) const UNREAD_COLS: &str = "(select count(*) from messages g where g.room_id = m.room_id \
    and g.seq > m.read_seq and g.seq <= m.read_seq + 10000 and g.sender_id != m.user_id) \
    as unread_messages, \
    (select count(*) from mentions x where x.room_id = m.room_id and x.user_id = m.user_id \
    and x.seq > m.read_seq) as unread_mentions";
pub(super) const MESSAGE_SELECT: &str = "select g.room_id, g.seq, g.client_id, g.body, g.created_at, \
    g.mentions, u.id as sender_id, u.username, u.display_name, u.avatar \
    from messages g join users u on u.id = g.sender_id";

/// Writes the row mappers and `impl Store` for `$Store`, a struct with `read` and `write`
/// pools of database `$Db` whose rows are `$Row`. The expanding module defines the dialect
/// constants `GREATEST`, `LEAST`, `STRPOS`, `BEGIN`, `LOCK_ROOMS` and `LOCK_MEMBERS`.
macro_rules! sql_store {
    ($Store:ident, $Db:ty, $Row:ty) => {
fn user_row(r: &$Row) -> User {
    User {
        id: r.get::<String, _>("id").into(),
        username: r.get("username"),
        display_name: r.get("display_name"),
        is_admin: r.get::<i64, _>("is_admin") != 0,
        created_at: time(r.get("created_at")),
        status_text: r.get("status_text"),
        status_emoji: r.get("status_emoji"),
        avatar_url: avatar_url(r.get("avatar"), r.get("username")),
        presence_mode: PresenceMode::from_db(r.get("presence_mode")),
        send_receipts: r.get::<i64, _>("send_receipts") != 0,
        locale: r.get("locale"),
    }
}

fn room_row(r: &$Row) -> Room {
    let direct: Option<String> = r.get("direct_key");
    Room {
        id: r.get::<String, _>("id").into(),
        name: r.get("name"),
        kind: RoomKind::from_db(r.get("kind")),
        topic: r.get("topic"),
        owner_id: r.get::<String, _>("owner_id").into(),
        history: HistoryVisibility::from_db(r.get("history")),
        retention: Retention {
            max_messages: r.get("retention_max_messages"),
            max_age_secs: r.get("retention_max_age_secs"),
        },
        last_seq: r.get("last_seq"),
        created_at: time(r.get("created_at")),
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
    }
}

impl $Store {
    /// Gives the rooms from before `room_skeletons` existed their name's skeletons, oldest room
    /// first, in one transaction; run at every open, it then finds only rooms that got none.
    /// A skeleton another room already holds is left to that room (the older name stays the
    /// one its look-alikes meet), and such rooms are logged. Another node creating a
    /// look-alike room meanwhile (PostgreSQL) rolls this back until the next start.
    pub(super) async fn fill_room_skeletons(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let mut tx = self
            .write
            .begin_with(BEGIN)
            .await
            .context("filling room skeletons")?;
        let rooms: Vec<(String, String)> = sqlx::query_as(
            "select r.id, r.name from rooms r where r.name_key is not null and not exists \
             (select 1 from room_skeletons s where s.room_id = r.id) order by r.created_at, r.id",
        )
        .fetch_all(&mut *tx)
        .await
        .context("finding rooms without skeletons")?;
        if rooms.is_empty() {
            return Ok(());
        }
        let mut shared = Vec::new();
        for (id, name) in &rooms {
            for skeleton in crate::domain::name_skeletons(name) {
                let done = sqlx::query(
                    "insert into room_skeletons (skeleton, room_id) \
                     select cast($1 as text), cast($2 as text) where not exists \
                     (select 1 from room_skeletons s where s.skeleton = $1)",
                )
                .bind(&skeleton)
                .bind(id)
                .execute(&mut *tx)
                .await;
                match done {
                    Ok(done) if done.rows_affected() == 0 => shared.push(name.as_str()),
                    Ok(_) => {}
                    Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                        tracing::warn!("a look-alike room appeared while filling room skeletons; trying again at the next start");
                        return Ok(());
                    }
                    Err(e) => return Err(e).context("filling room skeletons"),
                }
            }
        }
        tx.commit().await.context("filling room skeletons")?;
        tracing::info!(rooms = rooms.len(), "filled room name skeletons");
        shared.dedup();
        if !shared.is_empty() {
            tracing::warn!(
                rooms = ?shared,
                "rooms whose names look like an older room's: the older room holds the shared skeleton"
            );
        }
        Ok(())
    }

    /// A user read back on the write connection, right after changing it.
    async fn user_written(&self, id: &UserId) -> StoreResult<User> {
        let sql = format!("select {USER_COLS} from users u where u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.write)
            .await;
        Ok(user_row(&row.map_err(fail("user"))?))
    }

    /// Earlier copies of the batch's messages (clients retrying a send), by position in the
    /// batch (the first position of a `(sender, client_id)`): one query per chunk.
    async fn earlier_copies(
        tx: &mut Transaction<'_, $Db>,
        batch: &[NewMessage],
    ) -> StoreResult<std::collections::HashMap<usize, Appended>> {
        let mut found = std::collections::HashMap::new();
        let mut offset = 0;
        for chunk in chunks(batch) {
            let sql = format!(
                // A join with the values (not `(a, b) in (values …)`, which SQLite answers by
                // scanning the whole index) looks each pair up in `messages_client`.
                "select g.sender_id, g.client_id, g.room_id, g.seq, g.body, g.mentions, \
                 g.created_at, r.kind from (values {}) as v \
                 join messages g on g.sender_id = v.column1 and g.client_id = v.column2 \
                 join rooms r on r.id = g.room_id",
                placeholders(chunk.len(), &["?", "?"])
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                query = query.bind(m.sender.id.as_str()).bind(&m.client_id);
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("looking up client_id"))?;
            for r in rows {
                let sender_id: &str = r.get("sender_id");
                let client_id: String = r.get("client_id");
                let Some(at) = chunk
                    .iter()
                    .position(|m| m.sender.id.as_str() == sender_id && m.client_id == client_id)
                else {
                    continue;
                };
                let m = &chunk[at];
                let room_id: RoomId = r.get::<String, _>("room_id").into();
                let seq = r.get("seq");
                let message = Message {
                    id: message_id(&room_id, seq),
                    room_id,
                    seq,
                    sender: m.sender.clone(),
                    client_id,
                    body: r.get("body"),
                    mentions: mentions_from(r.get("mentions")),
                    ts: time(r.get("created_at")),
                };
                let direct = RoomKind::from_db(r.get("kind")) == RoomKind::Direct;
                let appended = Appended {
                    message,
                    duplicate: true,
                    direct,
                };
                found.insert(offset + at, appended);
            }
            offset += chunk.len();
        }
        Ok(found)
    }

    /// Which of `pairs` (sorted, without repeats) have the sender a member now, by position,
    /// read in the append's own transaction after its rooms are locked: a message is stored
    /// only if its sender is a member when its `seq` is taken. A ban committed first refuses
    /// it; a ban that comes later (on PostgreSQL it waits for the [`LOCK_MEMBERS`] lock)
    /// answers after the message is stored.
    async fn members(
        tx: &mut Transaction<'_, $Db>,
        pairs: &[(&RoomId, &UserId)],
    ) -> StoreResult<Vec<bool>> {
        let mut member = vec![false; pairs.len()];
        for chunk in chunks(pairs) {
            let sql = format!(
                "select m.room_id, m.user_id from (values {}) as v \
                 join memberships m on m.room_id = v.column1 and m.user_id = v.column2{LOCK_MEMBERS}",
                placeholders(chunk.len(), &["?", "?"])
            );
            let mut query = sqlx::query(&sql);
            for (room, user) in chunk {
                query = query.bind(room.as_str()).bind(user.as_str());
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("checking membership"))?;
            for r in rows {
                let found: (&str, &str) = (r.get("room_id"), r.get("user_id"));
                if let Ok(at) =
                    pairs.binary_search_by(|(room, user)| (room.as_str(), user.as_str()).cmp(&found))
                {
                    member[at] = true;
                }
            }
        }
        Ok(member)
    }

    /// Which of `rooms` exist; with `lock` they are also locked (`for update`, in the order
    /// given: id order) for the rest of the transaction, so two nodes committing batches at
    /// once can never deadlock on each other's rooms.
    async fn rooms_among(
        tx: &mut Transaction<'_, $Db>,
        rooms: &[&RoomId],
        lock: bool,
    ) -> StoreResult<std::collections::HashSet<String>> {
        let mut existing = std::collections::HashSet::new();
        for chunk in chunks(rooms) {
            let sql = format!(
                "select id from rooms where id in ({}){}",
                placeholders(chunk.len(), &["?"]).replace(['(', ')'], ""),
                if lock { " order by id for update" } else { "" }
            );
            let mut query = sqlx::query(&sql);
            for room in chunk {
                query = query.bind(room.as_str());
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("finding rooms"))?;
            existing.extend(rows.into_iter().map(|r| r.get::<String, _>("id")));
        }
        Ok(existing)
    }

    /// Advances each room's `last_seq` by its number of new messages (`counts`, in room id
    /// order) and returns the new `last_seq` and kind of each room that exists (locked first
    /// by [`Self::rooms_among`] where [`LOCK_ROOMS`] is set).
    async fn advance_rooms(
        tx: &mut Transaction<'_, $Db>,
        counts: &[(&RoomId, i64)],
    ) -> StoreResult<std::collections::HashMap<RoomId, (Seq, RoomKind)>> {
        let mut rooms = std::collections::HashMap::new();
        for chunk in chunks(counts) {
            let sql = format!(
                "update rooms set last_seq = last_seq + v.column2 from (values {}) as v \
                 where rooms.id = v.column1 returning id, last_seq, kind",
                placeholders(chunk.len(), &["?", "cast(? as bigint)"])
            );
            let mut query = sqlx::query(&sql);
            for (room, n) in chunk {
                query = query.bind(room.as_str()).bind(*n);
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("advancing seq"))?;
            for r in rows {
                let id: RoomId = r.get::<String, _>("id").into();
                rooms.insert(id, (r.get("last_seq"), RoomKind::from_db(r.get("kind"))));
            }
        }
        Ok(rooms)
    }

    /// Inserts the new messages (and their mention rows), a chunk per statement.
    async fn insert_messages(
        tx: &mut Transaction<'_, $Db>,
        fresh: &[&Message],
        now: i64,
    ) -> StoreResult<()> {
        let conflict = |e| match fail("inserting message")(e) {
            StoreError::Conflict(what) => {
                StoreError::Other(anyhow::anyhow!("append conflict on {what}"))
            }
            other => other,
        };
        for chunk in chunks(fresh) {
            let sql = format!(
                "insert into messages (room_id, seq, sender_id, client_id, body, mentions, \
                 created_at) values {}",
                placeholders(chunk.len(), &["?"; 7])
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                let mentions = (!m.mentions.is_empty())
                    .then(|| serde_json::to_string(&m.mentions).expect("mentions serialise"));
                query = query
                    .bind(m.room_id.as_str())
                    .bind(m.seq)
                    .bind(m.sender.id.as_str())
                    .bind(&m.client_id)
                    .bind(&m.body)
                    .bind(mentions)
                    .bind(now);
            }
            query.execute(&mut **tx).await.map_err(conflict)?;
        }
        for m in fresh.iter().filter(|m| !m.mentions.is_empty()) {
            let mut counted = std::collections::HashSet::new();
            for mention in m.mentions.iter().filter(|x| x.user_id != m.sender.id) {
                if counted.insert(&mention.user_id) {
                    sqlx::query("insert into mentions (room_id, seq, user_id) values ($1, $2, $3)")
                        .bind(m.room_id.as_str())
                        .bind(m.seq)
                        .bind(mention.user_id.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(fail("inserting mention"))?;
                }
            }
        }
        Ok(())
    }

    /// The `@username`s in a body that name members of the room.
    async fn resolve_mentions(
        tx: &mut Transaction<'_, $Db>,
        room: &RoomId,
        body: &str,
    ) -> StoreResult<Vec<Mention>> {
        let candidates = mention_candidates(body);
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = candidates
            .iter()
            .map(|(_, _, n)| n.to_ascii_lowercase())
            .collect();
        // One placeholder per candidate name ($2, $3, ...): the names are bound, never spliced.
        let slots: Vec<String> = (2..keys.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select u.id, u.username, u.username_key from memberships m join users u on u.id = m.user_id \
             where m.room_id = $1 and u.username_key in ({})",
            slots.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(room.as_str());
        for key in &keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(&mut **tx).await.map_err(fail("resolving mentions"))?;
        let members: std::collections::HashMap<String, (UserId, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.get("username_key"),
                    (r.get::<String, _>("id").into(), r.get("username")),
                )
            })
            .collect();
        Ok(candidates
            .into_iter()
            .zip(keys)
            .filter_map(|((start, end, _), key)| {
                let (user_id, username) = members.get(&key)?.clone();
                Some(Mention {
                    user_id,
                    username,
                    start,
                    end,
                })
            })
            .collect())
    }
}

#[async_trait]
impl Store for $Store {
    #[tracing::instrument(skip_all)]
    async fn create_user(&self, u: NewUser) -> StoreResult<User> {
        let now = now_ms();
        sqlx::query(
            "insert into users (id, username, username_key, display_name, password_hash, is_admin, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id.as_str())
        .bind(&u.username)
        .bind(&u.username_key)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(i64::from(u.is_admin))
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(fail("username"))?;
        Ok(User {
            avatar_url: avatar_url(None, &u.username),
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_admin: u.is_admin,
            created_at: time(now),
            status_text: String::new(),
            status_emoji: String::new(),
            presence_mode: PresenceMode::Auto,
            send_receipts: true,
            locale: String::new(),
        })
    }

    async fn user(&self, id: &UserId) -> StoreResult<User> {
        let sql = format!("select {USER_COLS} from users u where u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await;
        Ok(user_row(&row.map_err(fail("user"))?))
    }

    async fn user_credentials(&self, key: &str) -> StoreResult<(User, String)> {
        let sql =
            format!("select {USER_COLS}, u.password_hash from users u where u.username_key = $1");
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_one(&self.read)
            .await
            .map_err(fail("user"))?;
        Ok((user_row(&row), row.get("password_hash")))
    }

    async fn set_password_hash(&self, id: &UserId, hash: &str) -> StoreResult<()> {
        let done = sqlx::query("update users set password_hash = $1 where id = $2")
            .bind(hash)
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("password"))?;
        found(done.rows_affected())
    }

    async fn search_users(&self, q: &str, limit: i64) -> StoreResult<Vec<User>> {
        let sql = format!(
            "select {USER_COLS} from users u \
             where {STRPOS}(u.username_key, $1) > 0 or {STRPOS}(lower(u.display_name), $1) > 0 \
             order by u.username_key limit $2"
        );
        let rows = sqlx::query(&sql)
            .bind(q.to_lowercase())
            .bind(limit)
            .fetch_all(&self.read)
            .await
            .map_err(fail("users"))?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn create_session(&self, s: &Session, token_hash: &str) -> StoreResult<()> {
        sqlx::query(
            "insert into sessions (id, user_id, token_hash, user_agent, created_at, last_seen) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.as_str())
        .bind(s.user_id.as_str())
        .bind(token_hash)
        .bind(&s.user_agent)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen))
        .execute(&self.write)
        .await
        .map_err(fail("session"))?;
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<(Session, User)> {
        let sql = format!(
            "select {USER_COLS}, s.id as session_id, s.user_agent, s.created_at as s_created, s.last_seen \
             from sessions s join users u on u.id = s.user_id where s.token_hash = $1"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_one(&self.read)
            .await
            .map_err(fail("session"))?;
        let user = user_row(&row);
        let session = Session {
            id: row.get::<String, _>("session_id").into(),
            user_id: user.id.clone(),
            user_agent: row.get("user_agent"),
            created_at: time(row.get("s_created")),
            last_seen: time(row.get("last_seen")),
        };
        Ok((session, user))
    }

    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("update sessions set last_seen = $1 where id = $2")
            .bind(ms(at))
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("session"))?;
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> StoreResult<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("session"))?;
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(
            "select id, user_agent, created_at, last_seen from sessions where user_id = $1 \
             order by last_seen desc",
        )
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(fail("sessions"))?;
        Ok(rows
            .iter()
            .map(|r| Session {
                id: r.get::<String, _>("id").into(),
                user_id: user.clone(),
                user_agent: r.get("user_agent"),
                created_at: time(r.get("created_at")),
                last_seen: time(r.get("last_seen")),
            })
            .collect())
    }

    async fn delete_other_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "delete from sessions where user_id = $1 and id <> coalesce($2, '') returning id",
        )
        .bind(user.as_str())
        .bind(keep.map(SessionId::as_str))
        .fetch_all(&self.write)
        .await
        .map_err(fail("sessions"))?;
        Ok(ids.into_iter().map(SessionId::from).collect())
    }

    async fn create_room(&self, r: NewRoom) -> StoreResult<Room> {
        let now = now_ms();
        let mut tx = self.write.begin_with(BEGIN).await.map_err(fail("room"))?;
        let direct_key = r.direct.as_ref().map(|[a, b]| format!("{a}:{b}"));
        sqlx::query(
            "insert into rooms (id, name, name_key, kind, topic, owner_id, key_hash, history, \
             retention_max_messages, retention_max_age_secs, direct_key, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(r.id.as_str())
        .bind(&r.name)
        .bind(&r.name_key)
        .bind(r.kind.as_str())
        .bind(&r.topic)
        .bind(r.owner_id.as_str())
        .bind(&r.key_hash)
        .bind(r.history.as_str())
        .bind(r.retention.max_messages)
        .bind(r.retention.max_age_secs)
        .bind(&direct_key)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(fail("room name"))?;
        if !r.skeletons.is_empty() {
            let sql = format!(
                "insert into room_skeletons (skeleton, room_id) values {}",
                placeholders(r.skeletons.len(), &["?", "?"])
            );
            let mut query = sqlx::query(&sql);
            for skeleton in &r.skeletons {
                query = query.bind(skeleton).bind(r.id.as_str());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(fail("room name"))?;
        }
        let mut members = vec![(r.owner_id.clone(), Role::Owner)];
        if let Some([a, b]) = &r.direct {
            members = vec![(a.clone(), Role::Member), (b.clone(), Role::Member)];
        }
        for (user, role) in members {
            sqlx::query(
                "insert into memberships (room_id, user_id, role, joined_seq, read_seq, joined_at) \
                 values ($1, $2, $3, 0, 0, $4)",
            )
            .bind(r.id.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(fail("membership"))?;
        }
        tx.commit().await.map_err(fail("room"))?;
        self.room(&r.id).await
    }

    async fn room(&self, id: &RoomId) -> StoreResult<Room> {
        let sql = format!("select {ROOM_COLS} from rooms r where r.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await;
        Ok(room_row(&row.map_err(fail("room"))?))
    }

    async fn room_by_name(&self, key: &str) -> StoreResult<(Room, Option<String>)> {
        let sql = format!("select {ROOM_COLS}, r.key_hash from rooms r where r.name_key = $1");
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_one(&self.read)
            .await
            .map_err(fail("room"))?;
        Ok((room_row(&row), row.get("key_hash")))
    }

    async fn direct_room(&self, [a, b]: &[UserId; 2]) -> StoreResult<Room> {
        let sql = format!("select {ROOM_COLS} from rooms r where r.direct_key = $1");
        let row = sqlx::query(&sql)
            .bind(format!("{a}:{b}"))
            .fetch_one(&self.read)
            .await
            .map_err(fail("room"))?;
        Ok(room_row(&row))
    }

    async fn update_room(&self, id: &RoomId, s: RoomSettings) -> StoreResult<Room> {
        let done = sqlx::query(
            "update rooms set topic = $1, kind = $2, key_hash = $3, history = $4, \
             retention_max_messages = $5, retention_max_age_secs = $6 where id = $7",
        )
        .bind(&s.topic)
        .bind(s.kind.as_str())
        .bind(&s.key_hash)
        .bind(s.history.as_str())
        .bind(s.retention.max_messages)
        .bind(s.retention.max_age_secs)
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("room"))?;
        found(done.rows_affected())?;
        self.room(id).await
    }

    async fn delete_room(&self, id: &RoomId) -> StoreResult<()> {
        // Memberships, bans and messages go by `on delete cascade`.
        sqlx::query("delete from rooms where id = $1")
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("room"))?;
        Ok(())
    }

    async fn rooms_owned(&self, user: &UserId) -> StoreResult<i64> {
        sqlx::query_scalar("select count(*) from rooms where owner_id = $1 and kind <> 'direct'")
            .bind(user.as_str())
            .fetch_one(&self.read)
            .await
            .map_err(fail("rooms owned"))
    }

    async fn public_rooms(&self, q: &str, limit: i64) -> StoreResult<Vec<Room>> {
        let sql = format!(
            "select {ROOM_COLS} from rooms r where r.kind = 'public' and {STRPOS}(r.name_key, $1) > 0 \
             order by r.name_key limit $2"
        );
        let rows = sqlx::query(&sql)
            .bind(q.to_lowercase())
            .bind(limit)
            .fetch_all(&self.read)
            .await
            .map_err(fail("rooms"))?;
        Ok(rows.iter().map(room_row).collect())
    }

    async fn rooms_of(&self, user: &UserId) -> StoreResult<Vec<(Room, Membership, Unread)>> {
        let sql = format!(
            "select {ROOM_COLS}, {MEMBER_COLS}, {UNREAD_COLS} from memberships m \
             join rooms r on r.id = m.room_id where m.user_id = $1 order by r.created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("rooms"))?;
        Ok(rows
            .iter()
            .map(|r| (room_row(r), member_row(r), unread_row(r)))
            .collect())
    }

    async fn unread(&self, room: &RoomId, user: &UserId) -> StoreResult<Unread> {
        let sql = format!(
            "select {UNREAD_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(fail("unread"))?;
        Ok(row.as_ref().map(unread_row).unwrap_or_default())
    }

    async fn room_ids_of(&self, user: &UserId) -> StoreResult<Vec<RoomId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("select room_id from memberships where user_id = $1")
                .bind(user.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(fail("rooms"))?;
        Ok(ids.into_iter().map(RoomId::from).collect())
    }

    async fn all_rooms_retention(&self) -> StoreResult<Vec<(RoomId, Retention)>> {
        let rows =
            sqlx::query("select id, retention_max_messages, retention_max_age_secs from rooms")
                .fetch_all(&self.read)
                .await
                .map_err(fail("rooms"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let retention = Retention {
                    max_messages: r.get(1),
                    max_age_secs: r.get(2),
                };
                (r.get::<String, _>(0).into(), retention)
            })
            .collect())
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> StoreResult<Option<Membership>> {
        let sql = format!(
            "select {MEMBER_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(fail("membership"))?;
        Ok(row.as_ref().map(member_row))
    }

    async fn add_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: Role,
    ) -> StoreResult<Membership> {
        sqlx::query(
            "insert into memberships (room_id, user_id, role, joined_seq, read_seq, joined_at) \
             select id, $1, $2, last_seq, last_seq, $3 from rooms where id = $4 \
             on conflict do nothing",
        )
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(now_ms())
        .bind(room.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("membership"))?;
        let sql = format!(
            "select {MEMBER_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_one(&self.write)
            .await
            .map_err(fail("membership"))?;
        Ok(member_row(&row))
    }

    async fn remove_member(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let done = sqlx::query("delete from memberships where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("membership"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_role(&self, room: &RoomId, user: &UserId, role: Role) -> StoreResult<()> {
        let done = sqlx::query("update memberships set role = $1 where room_id = $2 and user_id = $3")
            .bind(role.as_str())
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("membership"))?;
        found(done.rows_affected())
    }

    async fn members(&self, room: &RoomId) -> StoreResult<Vec<(User, Membership)>> {
        let sql = format!(
            "select {USER_COLS}, {MEMBER_COLS} from memberships m join users u on u.id = m.user_id \
             where m.room_id = $1 order by u.username_key"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("members"))?;
        Ok(rows.iter().map(|r| (user_row(r), member_row(r))).collect())
    }

    async fn ban(
        &self,
        room: &RoomId,
        user: &UserId,
        by: &UserId,
        reason: &str,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin_with(BEGIN).await.map_err(fail("ban"))?;
        sqlx::query(
            "insert into bans (room_id, user_id, banned_by, reason, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (room_id, user_id) do update set banned_by = excluded.banned_by, reason = excluded.reason",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(by.as_str())
        .bind(reason)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(fail("ban"))?;
        sqlx::query("delete from memberships where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("ban"))?;
        tx.commit().await.map_err(fail("ban"))
    }

    async fn unban(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let done = sqlx::query("delete from bans where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("ban"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_banned(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let found: i64 =
            sqlx::query_scalar("select count(*) from bans where room_id = $1 and user_id = $2")
                .bind(room.as_str())
                .bind(user.as_str())
                .fetch_one(&self.read)
                .await
                .map_err(fail("ban"))?;
        Ok(found > 0)
    }

    async fn bans(&self, room: &RoomId) -> StoreResult<Vec<(User, String, DateTime<Utc>)>> {
        let sql = format!(
            "select {USER_COLS}, b.reason, b.created_at as banned_at from bans b \
             join users u on u.id = b.user_id where b.room_id = $1 order by b.created_at desc"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("bans"))?;
        Ok(rows
            .iter()
            .map(|r| (user_row(r), r.get("reason"), time(r.get("banned_at"))))
            .collect())
    }

    async fn last_messages(&self, user: &UserId) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "{MESSAGE_SELECT} where (g.room_id, g.seq) in (select r.id, r.last_seq from rooms r \
             join memberships m on m.room_id = r.id where m.user_id = $1)"
        );
        let rows = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("last messages"))?;
        Ok(rows.iter().map(message_row).collect())
    }

    async fn mark_read(&self, room: &RoomId, user: &UserId, seq: Seq) -> StoreResult<Seq> {
        let sql = format!(
            "update memberships set read_seq = {GREATEST}(read_seq, {LEAST}($1, \
             (select last_seq from rooms where id = $2))) \
             where room_id = $3 and user_id = $4 returning read_seq"
        );
        sqlx::query_scalar(&sql)
        .bind(seq)
        .bind(room.as_str())
        .bind(room.as_str())
        .bind(user.as_str())
        .fetch_one(&self.write)
        .await
        .map_err(fail("read marker"))
    }

    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(&self, batch: &[NewMessage]) -> StoreResult<Vec<StoreResult<Appended>>> {
        // A few statements per batch, not per message: the earlier copies of retried sends,
        // one `last_seq` update per chunk of rooms, one insert per chunk of messages.
        let now = now_ms();
        let mut tx = self.write.begin_with(BEGIN).await.map_err(fail("append"))?;
        let mut earlier = Self::earlier_copies(&mut tx, batch).await?;
        let mut results: Vec<Option<StoreResult<Appended>>> =
            (0..batch.len()).map(|_| None).collect();
        // New messages by room (rooms in id order, each room's messages in batch order); a
        // repeat inside the batch gets the first copy's result.
        let mut fresh: std::collections::BTreeMap<&RoomId, Vec<usize>> = Default::default();
        let mut first: std::collections::HashMap<(&UserId, &str), usize> = Default::default();
        let mut repeats = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            if let Some(&j) = first.get(&(&m.sender.id, m.client_id.as_str())) {
                repeats.push((i, j));
                continue;
            }
            first.insert((&m.sender.id, m.client_id.as_str()), i);
            match earlier.remove(&i) {
                Some(copy) => results[i] = Some(Ok(copy)),
                None => fresh.entry(&m.room_id).or_default().push(i),
            }
        }
        if LOCK_ROOMS {
            let rooms: Vec<&RoomId> = fresh.keys().copied().collect();
            Self::rooms_among(&mut tx, &rooms, true).await?;
        }
        let mut pairs: Vec<(&RoomId, &UserId)> = fresh
            .iter()
            .flat_map(|(room, new)| new.iter().map(|&i| (*room, &batch[i].sender.id)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let members = Self::members(&mut tx, &pairs).await?;
        let mut refused = Vec::new();
        for new in fresh.values_mut() {
            new.retain(|&i| {
                let m = &batch[i];
                let member = pairs
                    .binary_search(&(&m.room_id, &m.sender.id))
                    .is_ok_and(|at| members[at]);
                if !member {
                    refused.push(i);
                }
                member
            });
        }
        fresh.retain(|_, new| !new.is_empty());
        if !refused.is_empty() {
            // Rare (a ban, leave or delete racing a send): tell a missing room from a
            // membership that ended.
            let mut gone: Vec<&RoomId> = refused.iter().map(|&i| &batch[i].room_id).collect();
            gone.sort_unstable();
            gone.dedup();
            let existing = Self::rooms_among(&mut tx, &gone, false).await?;
            for i in refused {
                results[i] = Some(Err(if existing.contains(batch[i].room_id.as_str()) {
                    StoreError::NotMember
                } else {
                    StoreError::NotFound
                }));
            }
        }
        let counts: Vec<(&RoomId, i64)> =
            fresh.iter().map(|(room, new)| (*room, new.len() as i64)).collect();
        let rooms = Self::advance_rooms(&mut tx, &counts).await?;
        for (room, new) in &fresh {
            let Some(&(last_seq, kind)) = rooms.get(*room) else {
                for &i in new {
                    results[i] = Some(Err(StoreError::NotFound));
                }
                continue;
            };
            let first_seq = last_seq - new.len() as i64 + 1;
            for (k, &i) in new.iter().enumerate() {
                let m = &batch[i];
                let seq = first_seq + k as i64;
                let mentions = Self::resolve_mentions(&mut tx, &m.room_id, &m.body).await?;
                let message = Message {
                    id: message_id(&m.room_id, seq),
                    room_id: m.room_id.clone(),
                    seq,
                    sender: m.sender.clone(),
                    client_id: m.client_id.clone(),
                    body: m.body.clone(),
                    mentions,
                    ts: time(now),
                };
                let direct = kind == RoomKind::Direct;
                results[i] = Some(Ok(Appended {
                    message,
                    duplicate: false,
                    direct,
                }));
            }
        }
        let stored: Vec<&Message> = results
            .iter()
            .flatten()
            .filter_map(|r| r.as_ref().ok())
            .filter(|a| !a.duplicate)
            .map(|a| &a.message)
            .collect();
        Self::insert_messages(&mut tx, &stored, now).await?;
        tx.commit().await.map_err(fail("append commit"))?;
        for (i, j) in repeats {
            results[i] = Some(match &results[j] {
                Some(Ok(a)) => Ok(Appended {
                    duplicate: true,
                    ..a.clone()
                }),
                Some(Err(StoreError::NotMember)) => Err(StoreError::NotMember),
                _ => Err(StoreError::NotFound),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every message has a result"))
            .collect())
    }

    async fn messages_before(
        &self,
        range: MessageRange,
        before: Option<Seq>,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "{MESSAGE_SELECT} where g.room_id = $1 and g.seq > $2 and g.seq < $3 order by g.seq desc limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(range.room_id.as_str())
            .bind(range.floor)
            .bind(before.unwrap_or(Seq::MAX))
            .bind(range.limit)
            .fetch_all(&self.read)
            .await
            .map_err(fail("messages"))?;
        Ok(rows.iter().rev().map(message_row).collect())
    }

    async fn messages_after(
        &self,
        range: MessageRange,
        after: Seq,
    ) -> StoreResult<(Vec<Message>, bool)> {
        let sql = format!(
            "{MESSAGE_SELECT} where g.room_id = $1 and g.seq > $2 order by g.seq desc limit $3"
        );
        let rows = sqlx::query(&sql)
            .bind(range.room_id.as_str())
            .bind(after.max(range.floor))
            .bind(range.limit + 1)
            .fetch_all(&self.read)
            .await
            .map_err(fail("messages"))?;
        let complete = rows.len() as i64 <= range.limit;
        let keep = rows.len().min(range.limit as usize);
        Ok((
            rows[..keep].iter().rev().map(message_row).collect(),
            complete,
        ))
    }

    async fn oldest_seq(&self, room: &RoomId, floor: Seq) -> StoreResult<Option<Seq>> {
        sqlx::query_scalar("select min(seq) from messages where room_id = $1 and seq > $2")
            .bind(room.as_str())
            .bind(floor)
            .fetch_one(&self.read)
            .await
            .map_err(fail("messages"))
    }

    async fn prune(
        &self,
        room: &RoomId,
        keep: Retention,
        now: DateTime<Utc>,
        batch: i64,
    ) -> StoreResult<u64> {
        let cutoff = keep
            .max_age_secs
            .map_or(i64::MIN, |s| ms(now) - s.saturating_mul(1000));
        let done = sqlx::query(
            "delete from messages where room_id = $1 and seq in ( \
                select seq from messages where room_id = $1 \
                and (seq <= (select last_seq from rooms where id = $1) - $2 or created_at < $3) \
                order by seq limit $4)",
        )
        .bind(room.as_str())
        .bind(keep.max_messages.unwrap_or(i64::MAX / 2))
        .bind(cutoff)
        .bind(batch)
        .execute(&self.write)
        .await
        .map_err(fail("prune"))?;
        if done.rows_affected() > 0 {
            // Mentions of messages that are gone must not count as unread.
            sqlx::query(
                "delete from mentions where room_id = $1 and seq < \
                 coalesce((select min(seq) from messages where room_id = $1), \
                          (select last_seq + 1 from rooms where id = $1))",
            )
            .bind(room.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("prune mentions"))?;
        }
        Ok(done.rows_affected())
    }

    async fn update_profile(&self, id: &UserId, p: &Profile) -> StoreResult<User> {
        let done = sqlx::query(
            "update users set display_name = $1, status_text = $2, status_emoji = $3, \
             presence_mode = $4, send_receipts = $5, locale = $6 where id = $7",
        )
        .bind(&p.display_name)
        .bind(&p.status_text)
        .bind(&p.status_emoji)
        .bind(p.presence_mode.as_str())
        .bind(i64::from(p.send_receipts))
        .bind(&p.locale)
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("profile"))?;
        found(done.rows_affected())?;
        self.user_written(id).await
    }

    async fn set_avatar(
        &self,
        id: &UserId,
        avatar: Option<(&str, &[(u32, Vec<u8>)])>,
    ) -> StoreResult<User> {
        let mut tx = self.write.begin_with(BEGIN).await.map_err(fail("avatar"))?;
        if let Some((hash, sizes)) = avatar {
            for (size, bytes) in sizes {
                sqlx::query("insert into avatars (hash, size, bytes) values ($1, $2, $3) on conflict do nothing")
                    .bind(hash)
                    .bind(i64::from(*size))
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail("avatar"))?;
            }
        }
        sqlx::query("update users set avatar = $1 where id = $2")
            .bind(avatar.map(|(hash, _)| hash))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("avatar"))?;
        tx.commit().await.map_err(fail("avatar"))?;
        self.user_written(id).await
    }

    async fn avatar(&self, hash: &str, size: u32) -> StoreResult<Vec<u8>> {
        sqlx::query_scalar("select bytes from avatars where hash = $1 and size = $2")
            .bind(hash)
            .bind(i64::from(size))
            .fetch_one(&self.read)
            .await
            .map_err(fail("avatar"))
    }

    async fn last_seen(&self, id: &UserId) -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<i64> = sqlx::query_scalar("select last_seen_at from users where id = $1")
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await
            .map_err(fail("user"))?;
        Ok(at.map(time))
    }

    async fn set_last_seen(&self, id: &UserId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("update users set last_seen_at = $1 where id = $2")
            .bind(ms(at))
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("user"))?;
        Ok(())
    }

    async fn set_notify(
        &self,
        room: &RoomId,
        user: &UserId,
        level: Option<NotifyLevel>,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("update memberships set notify = $1 where room_id = $2 and user_id = $3")
                .bind(level.map(NotifyLevel::as_str))
                .bind(room.as_str())
                .bind(user.as_str())
                .execute(&self.write)
                .await
                .map_err(fail("membership"))?;
        found(done.rows_affected())
    }

    async fn receipts(&self, room: &RoomId) -> StoreResult<Vec<(UserId, Seq)>> {
        let rows = sqlx::query(
            "select m.user_id, m.read_seq from memberships m join users u on u.id = m.user_id \
             where m.room_id = $1 and u.send_receipts <> 0 order by m.read_seq desc, u.username_key",
        )
        .bind(room.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(fail("receipts"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0).into(), r.get(1)))
            .collect())
    }

    async fn ping(&self) -> bool {
        sqlx::query("select 1").execute(&self.read).await.is_ok()
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

    };
}

pub(super) use sql_store;
