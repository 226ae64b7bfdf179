//! Search: keeping the full-text index in step with the timeline (new messages, edits,
//! deletions, retention, deleted rooms) and querying it with the caller's permissions in the
//! query. The index is where the two backends differ most: SQLite keeps a contentless FTS5
//! table beside `search_docs`, PostgreSQL a `tsvector` column with a GIN index in
//! `search_docs` itself ([`Dialect::fts5`]). Both index the folded words the server worked out
//! ([`crate::domain::search_text`]), never the text.

/// How long a PostgreSQL search may gather its hits from the word index before it walks the
/// messages from the newest instead.
pub(in crate::store) const PG_WORD_INDEX_MS: u64 = 25;

/// The longest a PostgreSQL search may then walk the messages from the newest.
pub(in crate::store) const PG_WALK_MS: u64 = 3000;

/// Rooms with keys whose tokens one search statement asks for.
pub(in crate::store) const ROOMS_PER_QUERY: usize = 64;

/// A query's terms in a backend's syntax: each must be found as a word, and the last also
/// finds the words it begins (so typing on narrows the results). Only the last is a prefix
/// because a prefix stands for every word it begins, which both indexes gather in full before
/// they can intersect: a common one costs tens of milliseconds in a million messages, where
/// whole words are walked lazily from the newest. Terms are letters and digits only.
pub(in crate::store) fn matcher(
    terms: &[String],
    word: impl Fn(&str) -> String,
    prefix: impl Fn(&str) -> String,
) -> Vec<String> {
    let last = terms.len().saturating_sub(1);
    terms
        .iter()
        .enumerate()
        .map(|(i, t)| if i == last { prefix(t) } else { word(t) })
        .collect()
}

/// SQLite's full-text table of plain words or of keyed tokens, and its column.
pub(in crate::store) fn fts_table(sealed: bool) -> &'static str {
    if sealed {
        "sealed_search"
    } else {
        "message_search"
    }
}

pub(in crate::store) fn fts_column(sealed: bool) -> &'static str {
    if sealed { "tokens" } else { "words" }
}

/// Writes `impl Search for $Store` and the index upkeep the timeline calls, for a backend whose
/// pools hold `$Db` connections with `$Row` rows.
macro_rules! sql_search {
    ($Store:ident, $Db:ty, $Row:ty) => {
impl $Store {
    /// Indexes messages (those with any word), a chunk per statement.
    async fn index_messages(
        tx: &mut Transaction<'_, $Db>,
        docs: &[(&RoomId, Seq, Terms)],
    ) -> StoreResult<()> {
        let docs: Vec<&(&RoomId, Seq, Terms)> =
            docs.iter().filter(|(_, _, terms)| !terms.text.is_empty()).collect();
        for chunk in chunks(&docs) {
            if Self::DIALECT.fts5 {
                let sql = format!(
                    "insert into search_docs (room_id, seq) values {} returning doc, room_id, seq",
                    Self::DIALECT.values(chunk.len(), &["?", "?"])
                );
                let mut query = sqlx::query(&sql);
                for (room, seq, _) in chunk {
                    query = query.bind(room.as_str()).bind(*seq);
                }
                let rows = query
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(fail("indexing"))?;
                let entries: Vec<(i64, &Terms)> = rows
                    .iter()
                    .filter_map(|r| {
                        let (room, seq): (&str, Seq) = (r.get("room_id"), r.get("seq"));
                        let (_, _, terms) =
                            chunk.iter().find(|(rm, s, _)| rm.as_str() == room && *s == seq)?;
                        Some((r.get::<i64, _>("doc"), terms))
                    })
                    .collect();
                // Plain words and keyed tokens go to their own tables.
                for sealed in [false, true] {
                    let part: Vec<&(i64, &Terms)> =
                        entries.iter().filter(|(_, t)| t.sealed == sealed).collect();
                    if part.is_empty() {
                        continue;
                    }
                    let sql = format!(
                        "insert into {} (rowid, {}) values {}",
                        fts_table(sealed),
                        fts_column(sealed),
                        Self::DIALECT.values(part.len(), &["?", "?"])
                    );
                    let mut query = sqlx::query(&sql);
                    for (doc, terms) in part {
                        query = query.bind(*doc).bind(terms.text.as_str());
                    }
                    query.execute(&mut **tx).await.map_err(fail("indexing"))?;
                }
            } else {
                let sql = format!(
                    "insert into search_docs (room_id, seq, words) values {}",
                    Self::DIALECT.values(chunk.len(), &["?", "?", "to_tsvector('simple', ?)"])
                );
                let mut query = sqlx::query(&sql);
                for (room, seq, terms) in chunk {
                    query = query.bind(room.as_str()).bind(*seq).bind(terms.text.as_str());
                }
                query.execute(&mut **tx).await.map_err(fail("indexing"))?;
            }
        }
        Ok(())
    }

    /// Takes messages of a room out of the index: one (`Some(seq)`), or every one below
    /// `below` (retention), or all (a deleted room).
    async fn unindex(
        conn: &mut <$Db as sqlx::Database>::Connection,
        room: &RoomId,
        one: Option<Seq>,
        below: Seq,
    ) -> StoreResult<()> {
        let which = match one {
            Some(_) => "room_id = $1 and seq = $2",
            None => "room_id = $1 and seq < $2",
        };
        let seq = one.unwrap_or(below);
        if Self::DIALECT.fts5 {
            for table in [fts_table(false), fts_table(true)] {
                sqlx::query(&format!(
                    "delete from {table} where rowid in (select doc from search_docs where {which})"
                ))
                .bind(room.as_str())
                .bind(seq)
                .execute(&mut *conn)
                .await
                .map_err(fail("unindexing"))?;
            }
        }
        sqlx::query(&format!("delete from search_docs where {which}"))
            .bind(room.as_str())
            .bind(seq)
            .execute(&mut *conn)
            .await
            .map_err(fail("unindexing"))?;
        Ok(())
    }

    /// Indexes an edited message's new words under its old place in the index (so an edit
    /// does not make it "newer" in results), or takes it out when it has no word left.
    async fn reindex(
        tx: &mut Transaction<'_, $Db>,
        room: &RoomId,
        seq: Seq,
        terms: Terms,
    ) -> StoreResult<()> {
        if terms.text.is_empty() {
            return Self::unindex(&mut *tx, room, Some(seq), 0).await;
        }
        let doc: Option<i64> =
            sqlx::query_scalar("select doc from search_docs where room_id = $1 and seq = $2")
                .bind(room.as_str())
                .bind(seq)
                .fetch_optional(&mut **tx)
                .await
                .map_err(fail("reindexing"))?;
        let Some(doc) = doc else {
            return Self::index_messages(tx, &[(room, seq, terms)]).await;
        };
        if Self::DIALECT.fts5 {
            let insert = format!(
                "insert into {} (rowid, {}) values ($1, $2)",
                fts_table(terms.sealed),
                fts_column(terms.sealed)
            );
            for sql in [
                "delete from message_search where rowid = $1",
                "delete from sealed_search where rowid = $1",
                insert.as_str(),
            ] {
                sqlx::query(sql)
                    .bind(doc)
                    .bind(&terms.text)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("reindexing"))?;
            }
        } else {
            sqlx::query("update search_docs set words = to_tsvector('simple', $2) where doc = $1")
                .bind(doc)
                .bind(&terms.text)
                .execute(&mut **tx)
                .await
                .map_err(fail("reindexing"))?;
        }
        Ok(())
    }

    /// One search statement's hits, `(doc, room, seq)`, newest first.
    async fn search_rows(
        &self,
        conn: &mut <$Db as sqlx::Database>::Connection,
        sql: &str,
        matcher: &str,
        q: &SearchQuery,
    ) -> StoreResult<Vec<(i64, RoomId, Seq)>> {
        // The statement with its values (a macro, not a closure: the query borrows them).
        macro_rules! query {
            () => {{
                let mut query = sqlx::query(sql)
                    .bind(matcher)
                    .bind(q.before.unwrap_or(i64::MAX))
                    .bind(q.limit + 1)
                    .bind(q.viewer.as_str());
                if let Some(room) = &q.room {
                    query = query.bind(room.as_str());
                }
                query
            }};
        }
        let rows = if Self::DIALECT.fts5 {
            query!().fetch_all(&mut *conn).await.map_err(fail("search"))?
        } else {
            // PostgreSQL cannot tell how many documents a prefix matches, so it may walk the
            // whole `doc` index looking for a rare word (0.5-2.7 s in a million messages).
            // The word index first, then: quick for rare words; a common word's thousands of
            // hits take longer than `PG_WORD_INDEX_MS` to gather and sort, so the search gives
            // up on it and walks `doc` from the newest instead, which finds a common word's
            // newest hits at once (within `PG_WALK_MS`).
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail("search"))?;
            sqlx::query(
                "select set_config('enable_indexscan', 'off', true), \
                 set_config('statement_timeout', $1, true)",
            )
            .bind(PG_WORD_INDEX_MS.to_string())
            .execute(&mut *tx)
            .await
            .map_err(fail("search"))?;
            match query!().fetch_all(&mut *tx).await {
                Ok(rows) => {
                    tx.commit().await.map_err(fail("search"))?;
                    rows
                }
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("57014") => {
                    drop(tx);
                    let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(fail("search"))?;
                    sqlx::query(
                        "select set_config('enable_bitmapscan', 'off', true), \
                         set_config('statement_timeout', $1, true)",
                    )
                    .bind(PG_WALK_MS.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(fail("search"))?;
                    let rows = query!().fetch_all(&mut *tx).await.map_err(fail("search"))?;
                    tx.commit().await.map_err(fail("search"))?;
                    rows
                }
                Err(e) => return Err(fail("search")(e)),
            }
        };
        Ok(rows
            .iter()
            .map(|r| (r.get("doc"), r.get::<String, _>("room_id").into(), r.get("seq")))
            .collect())
    }

    /// Indexes the messages kept from before search existed, a thousand per transaction; once
    /// done (it resumes after an interruption), later starts skip it.
    pub(super) async fn fill_search_index(&self) -> anyhow::Result<()> {
        let backfilled: i64 = sqlx::query_scalar("select backfilled from search_state")
            .fetch_one(&self.write)
            .await
            .context("reading the search index state")?;
        if backfilled != 0 {
            return Ok(());
        }
        let mut done = 0u64;
        loop {
            let rows = sqlx::query(
                "select g.room_id, g.seq, g.body from messages g where g.deleted = 0 \
                 and g.sealed = 0 and not exists \
                 (select 1 from search_docs d where d.room_id = g.room_id and d.seq = g.seq) \
                 and g.body <> '' order by g.room_id, g.seq limit 1000",
            )
            .fetch_all(&self.write)
            .await
            .context("finding messages to index")?;
            if rows.is_empty() {
                sqlx::query("update search_state set backfilled = 1")
                    .execute(&self.write)
                    .await
                    .context("indexing")?;
                break;
            }
            let items: Vec<(RoomId, Seq, String)> = rows
                .iter()
                .map(|r| {
                    let body: String = r.get("body");
                    (r.get::<String, _>("room_id").into(), r.get("seq"), search_text(&body))
                })
                .collect();
            let mut tx = self.write.begin().await.context("indexing")?;
            // Messages with no word get an empty entry, so they are not looked at again.
            for (room, seq, words) in &items {
                if words.is_empty() {
                    let filler = if Self::DIALECT.fts5 {
                        "insert into search_docs (room_id, seq) values ($1, $2)"
                    } else {
                        "insert into search_docs (room_id, seq, words) values ($1, $2, ''::tsvector)"
                    };
                    sqlx::query(filler)
                        .bind(room.as_str())
                        .bind(*seq)
                        .execute(&mut *tx)
                        .await
                        .context("indexing")?;
                }
            }
            let docs: Vec<(&RoomId, Seq, Terms)> = items
                .iter()
                .map(|(r, s, w)| (r, *s, Terms { text: w.clone(), sealed: false }))
                .collect();
            Self::index_messages(&mut tx, &docs).await?;
            tx.commit().await.context("indexing")?;
            done += items.len() as u64;
            tracing::info!(messages = done, "indexing earlier messages for search");
        }
        Ok(())
    }
}

#[async_trait]
impl Search for $Store {
    async fn compact_index(&self) -> StoreResult<()> {
        if Self::DIALECT.fts5 {
            for table in [fts_table(false), fts_table(true)] {
                sqlx::query(&format!("insert into {table} ({table}) values ('optimize')"))
                    .execute(&self.write)
                    .await
                    .map_err(fail("compacting the index"))?;
            }
        }
        Ok(())
    }

    async fn search(&self, q: SearchQuery) -> StoreResult<(Vec<Message>, Option<i64>)> {
        // Permissions are part of the query, so a page is never short because of them: a
        // member reads above their floor; anyone not banned reads public rooms with shared
        // history.
        let allowed = "(exists (select 1 from memberships m join rooms r on r.id = m.room_id \
              where m.room_id = d.room_id and m.user_id = $4 \
              and (r.history = 'shared' or d.seq > m.joined_seq)) \
            or exists (select 1 from rooms r where r.id = d.room_id and r.kind = 'public' \
              and r.history = 'shared' and not exists \
              (select 1 from bans b where b.room_id = r.id and b.user_id = $4)))";
        let in_room = if q.room.is_some() { "and d.room_id = $5" } else { "" };
        // Rooms with a key hold keyed tokens, one set per room: the query is the terms as
        // words (rooms without a key, messages not yet sealed) or, for each room the caller
        // may search that has a key, as that room's tokens.
        let rooms: Vec<RoomId> = match &q.room {
            Some(room) => vec![room.clone()],
            None => sqlx::query_scalar::<_, String>(
                "select room_id from memberships where user_id = $1 union \
                 select id from rooms where kind = 'public' and history = 'shared'",
            )
            .bind(q.viewer.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("search"))?
            .into_iter()
            .map(RoomId::from)
            .collect::<Vec<RoomId>>(),
        };
        let keys = self.keys.rooms(&rooms.iter().collect::<Vec<_>>(), false).await?;
        let last = q.terms.len().saturating_sub(1);
        let blind = |key: &RoomKey| -> Vec<Vec<String>> {
            q.terms.iter().enumerate().map(|(i, t)| key.blind_term(t, i == last)).collect()
        };
        // SQLite: the plain words in `message_search`, the keyed tokens in `sealed_search`, a
        // statement each; PostgreSQL: both in `search_docs.words`, one statement.
        let fts = |table: &str| {
            format!(
                "select d.doc, d.room_id, d.seq from {table} s \
                 join search_docs d on d.doc = s.rowid \
                 where {table} match $1 and s.rowid < $2 {in_room} and {allowed} \
                 order by s.rowid desc limit $3"
            )
        };
        let (plain_sql, sealed_sql, plain, and, or) = if Self::DIALECT.fts5 {
            (
                fts(fts_table(false)),
                fts(fts_table(true)),
                matcher(&q.terms, |t| format!("\"{t}\""), |t| format!("\"{t}\"*")),
                " AND ",
                " OR ",
            )
        } else {
            let sql = format!(
                "select d.doc, d.room_id, d.seq from search_docs d \
                 where d.words @@ to_tsquery('simple', $1) and d.doc < $2 {in_room} \
                 and {allowed} order by d.doc desc limit $3"
            );
            (
                sql.clone(),
                sql,
                matcher(&q.terms, str::to_owned, |t| format!("{t}:*")),
                " & ",
                " | ",
            )
        };
        // One statement per `ROOMS_PER_QUERY` rooms with keys, so that a server with thousands
        // of public rooms makes several modest queries rather than one enormous one; their
        // hits are merged by `doc`.
        let group = |g: &[String]| format!("({})", g.join(and));
        // Each term one of its tokens: `(w OR p) AND ...`.
        let keyed: Vec<Vec<String>> = keys
            .values()
            .map(|k| {
                blind(k)
                    .into_iter()
                    .map(|alternatives| format!("({})", alternatives.join(or)))
                    .collect()
            })
            .collect();
        let mut matchers: Vec<(&str, String)> = keyed
            .chunks(ROOMS_PER_QUERY)
            .map(|chunk| {
                let groups: Vec<String> = chunk.iter().map(|g| group(g)).collect();
                (sealed_sql.as_str(), groups.join(or))
            })
            .collect();
        // The plain words: rooms without a key, and messages not sealed yet.
        if Self::DIALECT.fts5 || matchers.is_empty() {
            matchers.push((plain_sql.as_str(), group(&plain)));
        } else {
            for (_, m) in matchers.iter_mut() {
                *m = format!("{}{or}{m}", group(&plain));
            }
        }
        let mut conn = self.read.acquire().await.map_err(fail("search"))?;
        let mut rows = Vec::new();
        for (sql, matcher) in &matchers {
            rows.extend(self.search_rows(&mut conn, sql, matcher, &q).await?);
        }
        rows.sort_unstable_by_key(|(doc, _, _)| std::cmp::Reverse(*doc));
        rows.dedup_by_key(|(doc, _, _)| *doc);
        rows.truncate(q.limit as usize + 1);
        let more = rows.len() as i64 > q.limit;
        let hits: Vec<(i64, RoomId, Seq)> = rows.into_iter().take(q.limit as usize).collect();
        let mut by_room: std::collections::BTreeMap<&RoomId, Vec<Seq>> = Default::default();
        for (_, room, seq) in &hits {
            by_room.entry(room).or_default().push(*seq);
        }
        let mut found = std::collections::HashMap::new();
        for (room, mut seqs) in by_room {
            seqs.sort_unstable();
            for m in Self::load_messages(&mut conn, &self.keys, room, &seqs, Some(&q.viewer)).await? {
                found.insert((m.room_id.clone(), m.seq), m);
            }
        }
        let next = if more { hits.last().map(|(doc, _, _)| *doc) } else { None };
        // A last term longer than the index's longest beginning was looked up by its start:
        // the words that only share that start are left out here (the page may be short).
        let long = q.terms.last().is_some_and(|t| t.chars().count() > PREFIX_CHARS);
        let messages = hits
            .into_iter()
            .filter_map(|(_, room, seq)| found.remove(&(room, seq)))
            .filter(|m| !long || matches(&m.body, &q.terms))
            .collect();
        Ok((messages, next))
    }
}
    };
}

pub(crate) use sql_search;
