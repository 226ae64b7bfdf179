//! The timeline: appending messages (the group commit's transaction: duplicates, the
//! membership check, gap-free `seq`s, writing mentions), reading them back, and retention. The SQL
//! is shared by both backends: [`sql_store!`](super::sql_store) expands this area's macro
//! for each one.

/// Writes `impl Timeline for $Store` (and the helpers it needs) for a backend whose pools hold
/// `$Db` connections with `$Row` rows.
macro_rules! sql_timeline {
    ($Store:ident, $Db:ty, $Row:ty) => {
impl $Store {
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
    /// it; a ban that comes later (on PostgreSQL it waits for the [`Dialect::lock_members`] lock)
    /// answers after the message is stored.
    async fn members(
        tx: &mut Transaction<'_, $Db>,
        pairs: &[(&RoomId, &UserId)],
    ) -> StoreResult<Vec<bool>> {
        let mut member = vec![false; pairs.len()];
        for chunk in chunks(pairs) {
            let lock_members = Self::DIALECT.lock_members;
            let sql = format!(
                "select m.room_id, m.user_id from (values {}) as v \
                 join memberships m on m.room_id = v.column1 and m.user_id = v.column2{lock_members}",
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
    /// by [`Self::rooms_among`] where [`Dialect::lock_rooms`] is set).
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
}

#[async_trait]
impl Timeline for $Store {
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

    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(&self, batch: &[NewMessage]) -> StoreResult<Vec<StoreResult<Appended>>> {
        // A few statements per batch, not per message: the earlier copies of retried sends,
        // one `last_seq` update per chunk of rooms, one insert per chunk of messages.
        let now = now_ms();
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("append"))?;
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
        if Self::DIALECT.lock_rooms {
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
                let message = Message {
                    id: message_id(&m.room_id, seq),
                    room_id: m.room_id.clone(),
                    seq,
                    sender: m.sender.clone(),
                    client_id: m.client_id.clone(),
                    body: m.body.clone(),
                    mentions: m.mentions.clone(),
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
}
    };
}

pub(crate) use sql_timeline;
