//! The timeline: the group commit's append of messages and changes (duplicates, the
//! membership check, one `seq` per event, mentions, edits kept, tombstones), reading messages
//! and events back, and retention. The SQL is shared by both backends:
//! [`sql_store!`](super::sql_store) expands this area's macro for each one.

/// Writes `impl Timeline for $Store` (and the helpers it needs) for a backend whose pools hold
/// `$Db` connections with `$Row` rows.
macro_rules! sql_timeline {
    ($Store:ident, $Db:ty, $Row:ty) => {
impl $Store {
    /// Earlier copies of the batch's messages (clients retrying a send), by position in
    /// `sends`: `(room, seq, direct)`, one query per chunk.
    async fn earlier_copies(
        tx: &mut Transaction<'_, $Db>,
        sends: &[&NewMessage],
    ) -> StoreResult<std::collections::HashMap<usize, (RoomId, Seq, bool)>> {
        let mut found = std::collections::HashMap::new();
        let mut offset = 0;
        for chunk in chunks(sends) {
            let sql = format!(
                // A join with the values (not `(a, b) in (values …)`, which SQLite answers by
                // scanning the whole index) looks each pair up in `messages_client`.
                "select g.sender_id, g.client_id, g.room_id, g.seq, r.kind from (values {}) as v \
                 join messages g on g.sender_id = v.column1 and g.client_id = v.column2 \
                 join rooms r on r.id = g.room_id",
                Self::DIALECT.values(chunk.len(), &["?", "?"])
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
                let (sender, client_id): (&str, &str) = (r.get("sender_id"), r.get("client_id"));
                let Some(at) = chunk
                    .iter()
                    .position(|m| m.sender.id.as_str() == sender && m.client_id == client_id)
                else {
                    continue;
                };
                let direct = RoomKind::from_db(r.get("kind")).is_conversation();
                let room: RoomId = r.get::<String, _>("room_id").into();
                found.insert(offset + at, (room, r.get("seq"), direct));
            }
            offset += chunk.len();
        }
        Ok(found)
    }

    /// Which of `pairs` (sorted, without repeats) have the user a member now, by position,
    /// read in the append's own transaction after its rooms are locked: an event is stored
    /// only if its author is a member when its `seq` is taken. A ban committed first refuses
    /// it; a ban that comes later (on PostgreSQL it waits for the [`Dialect::lock_members`]
    /// lock) answers after the event is stored.
    async fn members(
        tx: &mut Transaction<'_, $Db>,
        pairs: &[(&RoomId, &UserId)],
        now: i64,
    ) -> StoreResult<Vec<Option<Standing>>> {
        let mut member = vec![None; pairs.len()];
        for chunk in chunks(pairs) {
            let lock_members = Self::DIALECT.lock_members;
            // A mute in force: one without an end, or ending later (`now` is bound last).
            let now_at = chunk.len() * 2 + 1;
            let sql = format!(
                "select m.room_id, m.user_id, m.role, \
                 (select count(*) from mutes x where x.room_id = m.room_id and x.user_id = m.user_id \
                  and (x.until is null or x.until > ${now_at})) as muted \
                 from (values {}) as v \
                 join memberships m on m.room_id = v.column1 and m.user_id = v.column2{lock_members}",
                placeholders(chunk.len(), &["?", "?"])
            );
            let mut query = sqlx::query(&sql);
            for (room, user) in chunk {
                query = query.bind(room.as_str()).bind(user.as_str());
            }
            let rows = query
                .bind(now)
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("checking membership"))?;
            for r in rows {
                let found: (&str, &str) = (r.get("room_id"), r.get("user_id"));
                if let Ok(at) =
                    pairs.binary_search_by(|(room, user)| (room.as_str(), user.as_str()).cmp(&found))
                {
                    member[at] = Some(Standing {
                        role: Role::from_db(r.get("role")),
                        muted: r.get::<i64, _>("muted") > 0,
                    });
                }
            }
        }
        Ok(member)
    }

    /// The `last_seq`, kind, permission table and sealing of each of `rooms` (sorted) that
    /// exists. Where
    /// [`Dialect::lock_rooms`] is set they are also locked (`for update`, in id order) for the
    /// rest of the transaction, so two nodes committing batches at once never deadlock.
    async fn lock_rooms(
        tx: &mut Transaction<'_, $Db>,
        rooms: &[&RoomId],
    ) -> StoreResult<std::collections::HashMap<RoomId, LockedRoom>> {
        let mut found = std::collections::HashMap::new();
        for chunk in chunks(rooms) {
            let sql = format!(
                "select id, last_seq, kind, permissions, seal from rooms where id in ({}){}",
                Self::DIALECT.values(chunk.len(), &["?"]).replace(['(', ')'], ""),
                if Self::DIALECT.lock_rooms { " order by id for update" } else { "" }
            );
            let mut query = sqlx::query(&sql);
            for room in chunk {
                query = query.bind(room.as_str());
            }
            let rows = query
                .fetch_all(&mut **tx)
                .await
                .map_err(fail("finding rooms"))?;
            for r in rows {
                let id: RoomId = r.get::<String, _>("id").into();
                let table = r
                    .get::<Option<&str>, _>("permissions")
                    .map(Permissions::from_stored)
                    .unwrap_or_default();
                let room = LockedRoom {
                    last: r.get("last_seq"),
                    kind: RoomKind::from_db(r.get("kind")),
                    table,
                    sealed: r.get::<Option<&str>, _>("seal").is_some(),
                };
                found.insert(id, room);
            }
        }
        Ok(found)
    }

    /// Sets each room's `last_seq` to its newest event's.
    async fn advance_rooms(
        tx: &mut Transaction<'_, $Db>,
        last: &[(&RoomId, Seq)],
    ) -> StoreResult<()> {
        for chunk in chunks(last) {
            let sql = format!(
                "update rooms set last_seq = v.column2 from (values {}) as v \
                 where rooms.id = v.column1",
                Self::DIALECT.values(chunk.len(), &["?", "cast(? as bigint)"])
            );
            let mut query = sqlx::query(&sql);
            for (room, seq) in chunk {
                query = query.bind(room.as_str()).bind(*seq);
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(fail("advancing seq"))?;
        }
        Ok(())
    }

    /// Writes the mention rows of one message (the sender's own mentions do not count).
    async fn insert_mentions(
        tx: &mut Transaction<'_, $Db>,
        room: &RoomId,
        seq: Seq,
        sender: &UserId,
        mentions: &[Mention],
    ) -> StoreResult<()> {
        let mut counted = std::collections::HashSet::new();
        for mention in mentions.iter().filter(|x| &x.user_id != sender) {
            if counted.insert(&mention.user_id) {
                sqlx::query("insert into mentions (room_id, seq, user_id) values ($1, $2, $3)")
                    .bind(room.as_str())
                    .bind(seq)
                    .bind(mention.user_id.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("inserting mention"))?;
            }
        }
        Ok(())
    }

    /// Inserts new messages (and their mention rows), a chunk per statement.
    async fn insert_messages(
        tx: &mut Transaction<'_, $Db>,
        keys: &RoomKeys,
        fresh: &[&Message],
        terms: &[Option<&Terms>],
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
                 created_at, reply_to, reply_sender_id, reply_excerpt, attachment_count, sealed) \
                 values {}",
                Self::DIALECT.values(chunk.len(), &["?"; 12])
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                let mentions = (!m.mentions.is_empty())
                    .then(|| serde_json::to_string(&m.mentions).expect("mentions serialise"));
                let key = keys.get(&m.room_id);
                let (body, excerpt) = match key {
                    Some(key) => (
                        key.seal_text(m.seq, Field::Body, &m.body),
                        m.reply_to.as_ref().map(|r| key.seal_text(m.seq, Field::Excerpt, &r.excerpt)),
                    ),
                    None => (m.body.clone(), m.reply_to.as_ref().map(|r| r.excerpt.clone())),
                };
                query = query
                    .bind(m.room_id.as_str())
                    .bind(m.seq)
                    .bind(m.sender.id.as_str())
                    .bind(&m.client_id)
                    .bind(body)
                    .bind(mentions)
                    .bind(now)
                    .bind(m.reply_to.as_ref().map(|r| r.seq))
                    .bind(m.reply_to.as_ref().map(|r| r.sender.id.as_str()))
                    .bind(excerpt)
                    .bind(m.attachments.len() as i64)
                    .bind(i64::from(key.is_some()));
            }
            query.execute(&mut **tx).await.map_err(conflict)?;
        }
        for m in fresh.iter().filter(|m| !m.mentions.is_empty()) {
            Self::insert_mentions(tx, &m.room_id, m.seq, &m.sender.id, &m.mentions).await?;
        }
        // Worked out before the commit where they could be (off the writer's thread), as long
        // as the room's key is as it was then.
        let docs: Vec<(&RoomId, Seq, Terms)> = fresh
            .iter()
            .zip(terms)
            .map(|(m, terms)| {
                let key = keys.get(&m.room_id);
                let terms = match terms {
                    Some(t) if t.sealed == key.is_some() => (*t).clone(),
                    _ => index_words(key, &m.body),
                };
                (&m.room_id, m.seq, terms)
            })
            .collect();
        Self::index_messages(tx, &docs).await
    }

    /// Applies one change as the event `seq`: `Ok(None)` when it changes nothing (a reaction
    /// already there, a pin already set). Every check is a read before any write, so a refused
    /// change never aborts the batch's transaction.
    async fn apply_change(
        tx: &mut Transaction<'_, $Db>,
        keys: &RoomKeys,
        c: &NewChange,
        seq: Seq,
        now: i64,
    ) -> StoreResult<Option<EventKind>> {
        let room = c.room_id.as_str();
        let target = sqlx::query(
            "select body, sealed, reply_excerpt, deleted, pinned_at from messages \
             where room_id = $1 and seq = $2",
        )
        .bind(room)
        .bind(c.message_seq)
        .fetch_optional(&mut **tx)
        .await
        .map_err(fail("finding the message"))?;
        let Some(target) = target.filter(|r| r.get::<i64, _>("deleted") == 0) else {
            return Err(StoreError::NotFound);
        };
        let kind = match &c.change {
            Change::Edit { body, mentions } => {
                let key = keys.get(&c.room_id);
                let mut old: String = target.get("body");
                if target.get::<i64, _>("sealed") != 0 {
                    let key = key.ok_or_else(|| anyhow::anyhow!("room {room} has no key"))?;
                    old = key
                        .open_text(c.message_seq, Field::Body, &old)
                        .map_err(|e| anyhow::anyhow!("message {room}-{}: {e}", c.message_seq))?;
                }
                if &old == body {
                    return Ok(None);
                }
                let sealed = |field, text: &str| match key {
                    Some(key) => key.seal_text(c.message_seq, field, text),
                    None => text.to_owned(),
                };
                sqlx::query(
                    "insert into message_edits (room_id, message_seq, seq, body, replaced_at, \
                     sealed) values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(room)
                .bind(c.message_seq)
                .bind(seq)
                .bind(sealed(Field::Before(seq), &old))
                .bind(now)
                .bind(i64::from(key.is_some()))
                .execute(&mut **tx)
                .await
                .map_err(fail("keeping the edited text"))?;
                let json = (!mentions.is_empty())
                    .then(|| serde_json::to_string(mentions).expect("mentions serialise"));
                // A row not sealed yet (from before encryption) has its quote sealed now too.
                let mut excerpt: Option<String> = target.get("reply_excerpt");
                if target.get::<i64, _>("sealed") == 0 {
                    excerpt = excerpt.map(|e| sealed(Field::Excerpt, &e));
                }
                sqlx::query(
                    "update messages set body = $3, mentions = $4, edited_at = $5, sealed = $6, \
                     reply_excerpt = $7 where room_id = $1 and seq = $2",
                )
                .bind(room)
                .bind(c.message_seq)
                .bind(sealed(Field::Body, body))
                .bind(json)
                .bind(now)
                .bind(i64::from(key.is_some()))
                .bind(excerpt)
                .execute(&mut **tx)
                .await
                .map_err(fail("editing"))?;
                sqlx::query("delete from mentions where room_id = $1 and seq = $2")
                    .bind(room)
                    .bind(c.message_seq)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("editing mentions"))?;
                Self::insert_mentions(tx, &c.room_id, c.message_seq, &c.actor, mentions).await?;
                // Found by its new words only.
                Self::reindex(tx, &c.room_id, c.message_seq, index_words(key, body)).await?;
                EventKind::Edited
            }
            Change::Delete {
                reason,
                audit,
                address,
                ..
            } => {
                sqlx::query(
                    "update messages set body = '', mentions = null, deleted = 1, \
                     edited_at = null, reply_to = null, reply_sender_id = null, \
                     reply_excerpt = null, pinned_at = null, reaction_count = 0, \
                     attachment_count = 0 where room_id = $1 and seq = $2",
                )
                .bind(room)
                .bind(c.message_seq)
                .execute(&mut **tx)
                .await
                .map_err(fail("deleting"))?;
                // Replies quote it no more (clients apply the same rule on `message_deleted`).
                sqlx::query(
                    "update messages set reply_excerpt = '' where room_id = $1 and reply_to = $2",
                )
                .bind(room)
                .bind(c.message_seq)
                .execute(&mut **tx)
                .await
                .map_err(fail("erasing quotes"))?;
                // Its files go too (the collector deletes blobs nothing names any more).
                sqlx::query("delete from uploads where room_id = $1 and message_seq = $2")
                    .bind(room)
                    .bind(c.message_seq)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("deleting attachments"))?;
                for table in ["message_edits", "reactions"] {
                    sqlx::query(&format!(
                        "delete from {table} where room_id = $1 and message_seq = $2"
                    ))
                    .bind(room)
                    .bind(c.message_seq)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("erasing"))?;
                }
                sqlx::query("delete from mentions where room_id = $1 and seq = $2")
                    .bind(room)
                    .bind(c.message_seq)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("erasing mentions"))?;
                Self::unindex(&mut *tx, &c.room_id, Some(c.message_seq), 0).await?;
                if *audit {
                    sqlx::query(
                        "insert into audit_log (ts, actor_id, action, room_id, target, reason, \
                         address) values ($1, $2, 'message_deleted', $3, $4, $5, $6)",
                    )
                    .bind(now)
                    .bind(c.actor.as_str())
                    .bind(room)
                    .bind(c.message_seq.to_string())
                    .bind(reason)
                    .bind(address)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("auditing"))?;
                }
                EventKind::Deleted
            }
            Change::React { emoji, add } => {
                let mine: Option<i64> = sqlx::query_scalar(
                    "select cast(1 as bigint) from reactions where room_id = $1 and message_seq = $2 \
                     and emoji = $3 and user_id = $4",
                )
                .bind(room)
                .bind(c.message_seq)
                .bind(emoji)
                .bind(c.actor.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(fail("finding the reaction"))?;
                if mine.is_some() == *add {
                    return Ok(None);
                }
                if *add {
                    let (kinds, this): (i64, i64) = sqlx::query_as(
                        "select count(distinct emoji), \
                         coalesce(sum(case when emoji = $3 then 1 else 0 end), 0) \
                         from reactions where room_id = $1 and message_seq = $2",
                    )
                    .bind(room)
                    .bind(c.message_seq)
                    .bind(emoji)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(fail("counting reactions"))?;
                    if this == 0 && kinds >= crate::domain::MAX_REACTION_KINDS {
                        return Err(StoreError::Conflict("reactions"));
                    }
                    sqlx::query(
                        "insert into reactions (room_id, message_seq, emoji, user_id, created_at) \
                         values ($1, $2, $3, $4, $5)",
                    )
                    .bind(room)
                    .bind(c.message_seq)
                    .bind(emoji)
                    .bind(c.actor.as_str())
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("reacting"))?;
                    Self::count_reactions(tx, c, 1).await?;
                    EventKind::ReactionAdded(emoji.clone())
                } else {
                    sqlx::query(
                        "delete from reactions where room_id = $1 and message_seq = $2 \
                         and emoji = $3 and user_id = $4",
                    )
                    .bind(room)
                    .bind(c.message_seq)
                    .bind(emoji)
                    .bind(c.actor.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("unreacting"))?;
                    Self::count_reactions(tx, c, -1).await?;
                    EventKind::ReactionRemoved(emoji.clone())
                }
            }
            Change::Pin(pin) => {
                if target.get::<Option<i64>, _>("pinned_at").is_some() == *pin {
                    return Ok(None);
                }
                sqlx::query("update messages set pinned_at = $3 where room_id = $1 and seq = $2")
                    .bind(room)
                    .bind(c.message_seq)
                    .bind(pin.then_some(now))
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("pinning"))?;
                if *pin { EventKind::Pinned } else { EventKind::Unpinned }
            }
        };
        sqlx::query(
            "insert into events (room_id, seq, kind, message_seq, user_id, emoji, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(room)
        .bind(seq)
        .bind(kind.as_str())
        .bind(c.message_seq)
        .bind(c.actor.as_str())
        .bind(kind.emoji())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(fail("recording the event"))?;
        Ok(Some(kind))
    }

    /// Inserts the messages waiting in `pending` (positions in `results`).
    async fn flush(
        tx: &mut Transaction<'_, $Db>,
        keys: &RoomKeys,
        batch: &[Entry],
        results: &[Option<StoreResult<Appended>>],
        pending: &mut Vec<usize>,
        now: i64,
    ) -> StoreResult<()> {
        let mut fresh = Vec::with_capacity(pending.len());
        let mut terms = Vec::with_capacity(pending.len());
        for i in pending.drain(..) {
            if let Some(Ok(appended)) = &results[i] {
                fresh.push(appended.message());
                terms.push(match &batch[i] {
                    Entry::Message(m) => m.terms.as_ref(),
                    Entry::Change(_) => None,
                });
            }
        }
        Self::insert_messages(tx, keys, &fresh, &terms, now).await
    }

    /// Keeps a message's reaction count, by which reads know whether to look for reactions.
    async fn count_reactions(
        tx: &mut Transaction<'_, $Db>,
        c: &NewChange,
        by: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "update messages set reaction_count = reaction_count + $3 where room_id = $1 and seq = $2",
        )
        .bind(c.room_id.as_str())
        .bind(c.message_seq)
        .bind(by)
        .execute(&mut **tx)
        .await
        .map_err(fail("counting reactions"))?;
        Ok(())
    }

    /// The messages of `room` with these `seq`s (sorted, without repeats) in their current
    /// state, with their reactions, oldest first; missing ones are left out.
    async fn load_messages(
        conn: &mut <$Db as sqlx::Database>::Connection,
        keys: &Keyring,
        room: &RoomId,
        seqs: &[Seq],
        viewer: Option<&UserId>,
    ) -> StoreResult<Vec<Message>> {
        let mut messages = Vec::with_capacity(seqs.len());
        for chunk in chunks(seqs) {
            let sql = format!(
                "{MESSAGE_SELECT} where g.room_id = $1 and g.seq in ({}) order by g.seq",
                (2..chunk.len() + 2).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
            );
            let mut query = sqlx::query(&sql).bind(room.as_str());
            for seq in chunk {
                query = query.bind(*seq);
            }
            let rows = query
                .fetch_all(&mut *conn)
                .await
                .map_err(fail("messages"))?;
            messages.extend(messages_of(keys, &rows).await?);
        }
        messages.sort_by_key(|m| m.seq);
        Self::add_details(conn, room, &mut messages, viewer).await?;
        Ok(messages)
    }

    /// Fills in the attachments and reactions of `messages` (of one room, in `seq` order).
    async fn add_details(
        conn: &mut <$Db as sqlx::Database>::Connection,
        room: &RoomId,
        messages: &mut [Message],
        viewer: Option<&UserId>,
    ) -> StoreResult<()> {
        Self::add_attachments(conn, messages).await?;
        Self::add_reactions(conn, room, messages, viewer).await
    }

    /// Fills in the reactions of `messages` (of one room, in `seq` order): one query over
    /// their `seq` range, each reaction listing its first reactors (and the viewer).
    async fn add_reactions(
        conn: &mut <$Db as sqlx::Database>::Connection,
        room: &RoomId,
        messages: &mut [Message],
        viewer: Option<&UserId>,
    ) -> StoreResult<()> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(());
        };
        // Most pages have no reaction at all: then there is nothing to read.
        if !messages.iter().any(|m| m.has_reactions) {
            return Ok(());
        }
        let (low, high) = (first.seq, last.seq);
        let rows = sqlx::query(
            "select message_seq, emoji, user_id, n, total from ( \
                select message_seq, emoji, user_id, \
                row_number() over (partition by message_seq, emoji order by created_at, user_id) as n, \
                count(*) over (partition by message_seq, emoji) as total, \
                min(created_at) over (partition by message_seq, emoji) as first_at \
                from reactions where room_id = $1 and message_seq >= $2 and message_seq <= $3 \
             ) x where n <= $4 or user_id = $5 order by message_seq, first_at, emoji, n",
        )
        .bind(room.as_str())
        .bind(low)
        .bind(high)
        .bind(crate::domain::REACTION_USERS as i64)
        .bind(viewer.map_or("", |v| v.as_str()))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("reactions"))?;
        let mut at = 0;
        for r in rows {
            let seq: Seq = r.get("message_seq");
            while at < messages.len() && messages[at].seq < seq {
                at += 1;
            }
            let Some(message) = messages.get_mut(at).filter(|m| m.seq == seq) else {
                continue;
            };
            let emoji: String = r.get("emoji");
            let user: UserId = r.get::<String, _>("user_id").into();
            let n: i64 = r.get("n");
            if message.reactions.last().is_none_or(|x| x.emoji != emoji) {
                message.reactions.push(Reaction {
                    emoji,
                    count: r.get("total"),
                    user_ids: Vec::new(),
                    me: viewer.map(|_| false),
                });
            }
            let reaction = message.reactions.last_mut().expect("just pushed");
            if viewer == Some(&user) {
                reaction.me = Some(true);
            }
            if n <= crate::domain::REACTION_USERS as i64 {
                reaction.user_ids.push(user);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Timeline for $Store {
    async fn last_messages(&self, user: &UserId) -> StoreResult<Vec<Message>> {
        // The newest message (not event) above the member's floor.
        let sql = format!(
            "{MESSAGE_SELECT} where (g.room_id, g.seq) in (select r.id, \
             (select max(x.seq) from messages x where x.room_id = r.id and x.seq > \
              case when r.history = 'joined' then m.joined_seq else 0 end) \
             from rooms r join memberships m on m.room_id = r.id where m.user_id = $1)"
        );
        let rows = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("last messages"))?;
        let mut messages = messages_of(&self.keys, &rows).await?;
        let mut conn = self.read.acquire().await.map_err(fail("last messages"))?;
        Self::add_attachments(&mut conn, &mut messages).await?;
        Ok(messages)
    }

    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(&self, batch: &[Entry]) -> StoreResult<Vec<StoreResult<Appended>>> {
        // A few statements per batch of messages, not per message: the earlier copies of
        // retried sends, the rooms' `last_seq`, one insert per chunk of messages. Changes
        // take a few statements each, in batch order between the messages.
        let now = now_ms();
        // The rooms' keys, before the transaction: a room's first message makes its key.
        let mut batch_rooms: Vec<&RoomId> = batch.iter().map(Entry::room_id).collect();
        batch_rooms.sort_unstable();
        batch_rooms.dedup();
        let keys = self.keys.for_sealing(&batch_rooms).await?;
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("append"))?;
        let sends: Vec<&NewMessage> = batch
            .iter()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m),
                Entry::Change(_) => None,
            })
            .collect();
        let mut earlier = Self::earlier_copies(&mut tx, &sends).await?;
        let mut results: Vec<Option<StoreResult<Appended>>> =
            (0..batch.len()).map(|_| None).collect();
        // Entries to apply, in batch order; a repeat inside the batch gets the first copy's
        // result, an earlier copy its stored message.
        let mut todo = Vec::new();
        let mut first: std::collections::HashMap<(&UserId, &str), usize> = Default::default();
        let mut repeats = Vec::new();
        let mut copies = Vec::new();
        // `k` counts the messages, the positions `earlier_copies` answered by.
        let mut k = 0;
        for (i, e) in batch.iter().enumerate() {
            if let Entry::Message(m) = e {
                k += 1;
                let key = (&m.sender.id, m.client_id.as_str());
                if let Some(&j) = first.get(&key) {
                    repeats.push((i, j));
                    continue;
                }
                first.insert(key, i);
                if let Some(copy) = earlier.remove(&(k - 1)) {
                    copies.push((i, copy));
                    continue;
                }
            }
            todo.push(i);
        }
        fn author(e: &Entry) -> &UserId {
            match e {
                Entry::Message(m) => &m.sender.id,
                Entry::Change(c) => &c.actor,
            }
        }
        let mut rooms: Vec<&RoomId> = todo.iter().map(|&i| batch[i].room_id()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let found = Self::lock_rooms(&mut tx, &rooms).await?;
        let mut pairs: Vec<(&RoomId, &UserId)> =
            todo.iter().map(|&i| (batch[i].room_id(), author(&batch[i]))).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let members = Self::members(&mut tx, &pairs, now).await?;
        let mut next: std::collections::HashMap<&RoomId, (Seq, bool)> = found
            .iter()
            .map(|(id, room)| (id, (room.last, room.kind.is_conversation())))
            .collect();
        // Messages waiting to be inserted (by position), flushed before each change.
        let mut pending: Vec<usize> = Vec::new();
        for i in todo {
            let e = &batch[i];
            let Some(&(last, direct)) = next.get(e.room_id()) else {
                results[i] = Some(Err(StoreError::NotFound));
                continue;
            };
            let standing = pairs
                .binary_search(&(e.room_id(), author(e)))
                .ok()
                .and_then(|at| members[at]);
            let standing = match (standing, e) {
                (Some(standing), _) => standing,
                // A server admin deleting a reported message need not be a member.
                (None, Entry::Change(NewChange {
                    change: Change::Delete { by_server_admin: true, .. },
                    ..
                })) => Standing { role: Role::Owner, muted: false },
                (None, _) => {
                    results[i] = Some(Err(StoreError::NotMember));
                    continue;
                }
            };
            // The room's permission table and mutes, read in this transaction: a mute or a
            // stricter table committed first refuses the event.
            let locked = &found[e.room_id()];
            let refused = standing.refuses(&locked.table, e);
            if let Some(why) = refused.or_else(|| sealed_refuses(e, locked.sealed)) {
                results[i] = Some(Err(StoreError::Refused(why)));
                continue;
            }
            // In a direct room, the other person may have blocked the sender (one indexed
            // lookup, for direct messages only).
            let two = locked.kind == RoomKind::Direct;
            let speaks = match e {
                Entry::Message(_) => true,
                Entry::Change(c) => matches!(c.change, Change::Edit { .. } | Change::React { .. }),
            };
            if two && speaks {
                let blocked: i64 = sqlx::query_scalar(
                    "select count(*) from blocks b join memberships m on m.user_id = b.user_id \
                     where m.room_id = $1 and b.blocked_id = $2",
                )
                .bind(e.room_id().as_str())
                .bind(author(e).as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(fail("blocks"))?;
                if blocked > 0 {
                    results[i] = Some(Err(StoreError::Refused(
                        "this person does not accept messages from you",
                    )));
                    continue;
                }
            }
            let seq = last + 1;
            match e {
                Entry::Message(m) => {
                    // The message it answers may have been deleted since it was looked up:
                    // then it quotes nothing (the deletion erased its text).
                    let mut reply_to = m.reply_to.clone();
                    if let Some(quote) = reply_to.as_mut() {
                        Self::flush(&mut tx, &keys, batch, &results, &mut pending, now).await?;
                        let gone: Option<i64> = sqlx::query_scalar(
                            "select deleted from messages where room_id = $1 and seq = $2",
                        )
                        .bind(m.room_id.as_str())
                        .bind(quote.seq)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(fail("finding the message replied to"))?;
                        if gone != Some(0) {
                            quote.excerpt.clear();
                            quote.deleted = true;
                        }
                    }
                    if !m.attachments.is_empty() {
                        match Self::attach_uploads(&mut tx, &m.room_id, seq, &m.sender.id, &m.attachments).await {
                            Ok(()) => {}
                            Err(e @ StoreError::Conflict(_)) => {
                                results[i] = Some(Err(e));
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    let message = Message {
                        id: message_id(&m.room_id, seq),
                        room_id: m.room_id.clone(),
                        seq,
                        sender: m.sender.clone(),
                        client_id: m.client_id.clone(),
                        body: m.body.clone(),
                        mentions: m.mentions.clone(),
                        ts: time(now),
                        edited_at: None,
                        deleted: false,
                        reactions: Vec::new(),
                        has_reactions: false,
                        reply_to,
                        pinned: false,
                        attachments: m.attachments.clone(),
                        has_attachments: !m.attachments.is_empty(),
                    };
                    results[i] = Some(Ok(Appended {
                        event: TimelineEvent {
                            seq,
                            kind: EventKind::Message,
                            user_id: m.sender.id.clone(),
                            message,
                        },
                        duplicate: false,
                        direct,
                    }));
                    pending.push(i);
                }
                Entry::Change(c) => {
                    Self::flush(&mut tx, &keys, batch, &results, &mut pending, now).await?;
                    let target = std::slice::from_ref(&c.message_seq);
                    // A refusal (found by reads before any write) is this entry's result; any
                    // other failure may have left part of the change, so the batch fails.
                    let state = match Self::apply_change(&mut tx, &keys, c, seq, now).await {
                        Ok(kind) => Self::load_messages(&mut *tx, &self.keys, &c.room_id, target, None)
                            .await?
                            .pop()
                            .map(|message| (kind, message))
                            .ok_or(StoreError::NotFound),
                        Err(e @ (StoreError::NotFound | StoreError::Conflict(_))) => Err(e),
                        Err(e) => return Err(e),
                    };
                    results[i] = Some(state.map(|(kind, message)| Appended {
                        event: TimelineEvent {
                            seq: if kind.is_some() { seq } else { message.seq },
                            kind: kind.clone().unwrap_or(EventKind::Message),
                            user_id: c.actor.clone(),
                            message,
                        },
                        duplicate: kind.is_none(),
                        direct,
                    }));
                    if !matches!(&results[i], Some(Ok(a)) if !a.duplicate) {
                        continue;
                    }
                }
            }
            next.insert(e.room_id(), (seq, direct));
        }
        Self::flush(&mut tx, &keys, batch, &results, &mut pending, now).await?;
        let advanced: Vec<(&RoomId, Seq)> = rooms
            .iter()
            .filter_map(|room| {
                let last = found.get(*room)?.last;
                let (now, _) = next.get(room)?;
                (*now > last).then_some((*room, *now))
            })
            .collect();
        Self::advance_rooms(&mut tx, &advanced).await?;
        for (i, (room, seq, direct)) in copies {
            let message = Self::load_messages(&mut *tx, &self.keys, &room, &[seq], None).await?.pop();
            results[i] = Some(message.ok_or(StoreError::NotFound).map(|message| Appended {
                event: TimelineEvent {
                    seq,
                    kind: EventKind::Message,
                    user_id: message.sender.id.clone(),
                    message,
                },
                duplicate: true,
                direct,
            }));
        }
        tx.commit().await.map_err(fail("append commit"))?;
        for (i, j) in repeats {
            results[i] = Some(match &results[j] {
                Some(Ok(a)) => Ok(Appended {
                    duplicate: true,
                    ..a.clone()
                }),
                Some(Err(StoreError::NotMember)) => Err(StoreError::NotMember),
                Some(Err(StoreError::Refused(why))) => Err(StoreError::Refused(why)),
                _ => Err(StoreError::NotFound),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every entry has a result"))
            .collect())
    }

    async fn message(&self, room: &RoomId, seq: Seq) -> StoreResult<Message> {
        let mut conn = self.read.acquire().await.map_err(fail("message"))?;
        Self::load_messages(&mut conn, &self.keys, room, &[seq], None)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    async fn messages_before(
        &self,
        range: MessageRange,
        before: Option<Seq>,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "{MESSAGE_SELECT} where g.room_id = $1 and g.seq > $2 and g.seq < $3 order by g.seq desc limit $4"
        );
        let mut conn = self.read.acquire().await.map_err(fail("messages"))?;
        let rows = sqlx::query(&sql)
            .bind(range.room_id.as_str())
            .bind(range.floor)
            .bind(before.unwrap_or(Seq::MAX))
            .bind(range.limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("messages"))?;
        let mut messages = messages_of(&self.keys, rows.iter().rev()).await?;
        Self::add_details(&mut conn, &range.room_id, &mut messages, range.viewer.as_ref())
            .await?;
        hide_quotes_below(&mut messages, range.floor);
        Ok(messages)
    }

    async fn messages_after(&self, range: MessageRange, after: Seq) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "{MESSAGE_SELECT} where g.room_id = $1 and g.seq > $2 order by g.seq limit $3"
        );
        let mut conn = self.read.acquire().await.map_err(fail("messages"))?;
        let rows = sqlx::query(&sql)
            .bind(range.room_id.as_str())
            .bind(after.max(range.floor))
            .bind(range.limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("messages"))?;
        let mut messages = messages_of(&self.keys, &rows).await?;
        Self::add_details(&mut conn, &range.room_id, &mut messages, range.viewer.as_ref())
            .await?;
        hide_quotes_below(&mut messages, range.floor);
        Ok(messages)
    }

    async fn events_after(
        &self,
        range: MessageRange,
        after: Seq,
        upto: Seq,
    ) -> StoreResult<(Vec<TimelineEvent>, bool)> {
        // New messages above the floor, and changes to messages above it.
        let mut conn = self.read.acquire().await.map_err(fail("events"))?;
        let rows = sqlx::query(
            "select seq, message_seq, kind, user_id, emoji from ( \
                select g.seq, g.seq as message_seq, 'message' as kind, g.sender_id as user_id, \
                cast(null as text) as emoji from messages g \
                where g.room_id = $1 and g.seq > $2 and g.seq <= $4 \
                union all \
                select e.seq, e.message_seq, e.kind, e.user_id, e.emoji from events e \
                where e.room_id = $1 and e.seq > $3 and e.seq <= $4 and e.message_seq > $5 \
             ) t order by seq desc limit $6",
        )
        .bind(range.room_id.as_str())
        .bind(after.max(range.floor))
        .bind(after)
        .bind(upto)
        .bind(range.floor)
        .bind(range.limit + 1)
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("events"))?;
        let complete = rows.len() as i64 <= range.limit;
        let keep = rows.len().min(range.limit as usize);
        let mut seqs: Vec<Seq> = rows[..keep].iter().map(|r| r.get("message_seq")).collect();
        seqs.sort_unstable();
        seqs.dedup();
        let mut messages = Self::load_messages(&mut conn, &self.keys, &range.room_id, &seqs, None).await?;
        hide_quotes_below(&mut messages, range.floor);
        let events = rows[..keep]
            .iter()
            .rev()
            .filter_map(|r| {
                let kind: String = r.get("kind");
                let kind = if kind == "message" {
                    EventKind::Message
                } else {
                    EventKind::from_db(&kind, r.get("emoji"))?
                };
                let message_seq: Seq = r.get("message_seq");
                let at = messages.binary_search_by_key(&message_seq, |m| m.seq).ok()?;
                Some(TimelineEvent {
                    seq: r.get("seq"),
                    kind,
                    user_id: r.get::<String, _>("user_id").into(),
                    message: messages[at].clone(),
                })
            })
            .collect();
        Ok((events, complete))
    }

    async fn oldest_seq(&self, room: &RoomId, floor: Seq) -> StoreResult<Option<Seq>> {
        sqlx::query_scalar("select min(seq) from messages where room_id = $1 and seq > $2")
            .bind(room.as_str())
            .bind(floor)
            .fetch_one(&self.read)
            .await
            .map_err(fail("messages"))
    }

    async fn edits(&self, room: &RoomId, seq: Seq) -> StoreResult<Vec<EditRecord>> {
        let rows = sqlx::query(
            "select seq, body, sealed, replaced_at from message_edits \
             where room_id = $1 and message_seq = $2 order by seq",
        )
        .bind(room.as_str())
        .bind(seq)
        .fetch_all(&self.read)
        .await
        .map_err(fail("edits"))?;
        let key = if rows.iter().any(|r| r.get::<i64, _>("sealed") != 0) {
            self.keys.room(room, false).await?
        } else {
            None
        };
        rows.iter()
            .map(|r| {
                let mut body: String = r.get("body");
                if r.get::<i64, _>("sealed") != 0 {
                    let key = key.as_ref().ok_or_else(|| anyhow::anyhow!("room {room} has no key"))?;
                    body = key
                        .open_text(seq, Field::Before(r.get("seq")), &body)
                        .map_err(|e| anyhow::anyhow!("an earlier text of {room}-{seq}: {e}"))?;
                }
                Ok(EditRecord {
                    body,
                    replaced_at: time(r.get("replaced_at")),
                })
            })
            .collect()
    }

    async fn pins(&self, range: MessageRange) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "{MESSAGE_SELECT} where g.room_id = $1 and g.pinned_at is not null and g.seq > $2 \
             order by g.pinned_at desc, g.seq desc limit $3"
        );
        let mut conn = self.read.acquire().await.map_err(fail("pins"))?;
        let rows = sqlx::query(&sql)
            .bind(range.room_id.as_str())
            .bind(range.floor)
            .bind(range.limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("pins"))?;
        let mut messages = messages_of(&self.keys, &rows).await?;
        // Reactions are read in `seq` order, then the pin order is restored.
        let order: Vec<Seq> = messages.iter().map(|m| m.seq).collect();
        messages.sort_by_key(|m| m.seq);
        Self::add_details(&mut conn, &range.room_id, &mut messages, range.viewer.as_ref())
            .await?;
        messages.sort_by_key(|m| order.iter().position(|&s| s == m.seq));
        hide_quotes_below(&mut messages, range.floor);
        Ok(messages)
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
        // Message `seq`s are not dense (changes take some), so the newest N are counted.
        let done = sqlx::query(
            "delete from messages where room_id = $1 and seq in ( \
                select seq from messages where room_id = $1 \
                and (seq <= coalesce((select seq from messages where room_id = $1 \
                     order by seq desc limit 1 offset $2), -1) or created_at < $3) \
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
            // What belonged to messages that are gone: mentions must not count as unread, and
            // events, reactions, earlier texts and index entries go with their messages.
            let oldest: Seq = sqlx::query_scalar(
                "select coalesce((select min(seq) from messages where room_id = $1), \
                 (select last_seq + 1 from rooms where id = $1), 0)",
            )
            .bind(room.as_str())
            .fetch_one(&self.write)
            .await
            .map_err(fail("prune"))?;
            let mut conn = self.write.acquire().await.map_err(fail("prune"))?;
            Self::unindex(&mut conn, room, None, oldest).await?;
            drop(conn);
            for (table, column) in [
                ("mentions", "seq"),
                ("events", "message_seq"),
                ("reactions", "message_seq"),
                ("message_edits", "message_seq"),
                ("uploads", "message_seq"),
            ] {
                sqlx::query(&format!(
                    "delete from {table} where room_id = $1 and {column} < \
                     coalesce((select min(seq) from messages where room_id = $1), \
                              (select last_seq + 1 from rooms where id = $1))"
                ))
                .bind(room.as_str())
                .execute(&self.write)
                .await
                .map_err(fail("prune"))?;
            }
        }
        Ok(done.rows_affected())
    }

    async fn seal_earlier(&self, batch: i64) -> StoreResult<u64> {
        if !self.keys.enabled {
            return Ok(0);
        }
        // Nodes sealing at once take different rows (PostgreSQL); SQLite has one writer.
        let lock = if Self::DIALECT.lock_rooms { " for update skip locked" } else { "" };
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("sealing"))?;
        let rows = sqlx::query(&format!(
            "select room_id, seq, body, reply_excerpt from messages where sealed = 0 \
             order by room_id, seq limit $1{lock}"
        ))
        .bind(batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(fail("sealing"))?;
        let edits = sqlx::query(&format!(
            "select room_id, message_seq, seq, body from message_edits where sealed = 0 \
             order by room_id, message_seq, seq limit $1{lock}"
        ))
        .bind(batch)
        .fetch_all(&mut *tx)
        .await
        .map_err(fail("sealing"))?;
        let mut rooms: Vec<RoomId> = rows
            .iter()
            .chain(&edits)
            .map(|r| r.get::<String, _>("room_id").into())
            .collect();
        rooms.sort_unstable();
        rooms.dedup();
        let keys = self.keys.rooms(&rooms.iter().collect::<Vec<_>>(), true).await?;
        let key_of = |room: &RoomId| {
            keys.get(room)
                .cloned()
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("room {room} got no key")))
        };
        for r in &rows {
            let room: RoomId = r.get::<String, _>("room_id").into();
            let seq: Seq = r.get("seq");
            let body: String = r.get("body");
            let key = key_of(&room)?;
            let excerpt: Option<String> = r.get("reply_excerpt");
            sqlx::query(
                "update messages set body = $3, reply_excerpt = $4, sealed = 1 \
                 where room_id = $1 and seq = $2",
            )
            .bind(room.as_str())
            .bind(seq)
            .bind(key.seal_text(seq, Field::Body, &body))
            .bind(excerpt.map(|e| key.seal_text(seq, Field::Excerpt, &e)))
            .execute(&mut *tx)
            .await
            .map_err(fail("sealing"))?;
            // Its index entry is replaced by keyed tokens (a deleted message has none).
            if !body.is_empty() {
                Self::reindex(&mut tx, &room, seq, index_words(Some(&key), &body)).await?;
            }
        }
        for r in &edits {
            let room: RoomId = r.get::<String, _>("room_id").into();
            let (message_seq, seq): (Seq, Seq) = (r.get("message_seq"), r.get("seq"));
            let key = key_of(&room)?;
            sqlx::query(
                "update message_edits set body = $4, sealed = 1 \
                 where room_id = $1 and message_seq = $2 and seq = $3",
            )
            .bind(room.as_str())
            .bind(message_seq)
            .bind(seq)
            .bind(key.seal_text(message_seq, Field::Before(seq), r.get("body")))
            .execute(&mut *tx)
            .await
            .map_err(fail("sealing"))?;
        }
        tx.commit().await.map_err(fail("sealing"))?;
        Ok((rows.len() + edits.len()) as u64)
    }
}
    };
}

pub(crate) use sql_timeline;
