//! Messages: sending (checked, rate-limited, then group-committed), history paging under the
//! room's history visibility, replay of the timeline for `sync` and gap filling, read markers
//! and typing. Changes to sent messages are in `changes`.

use std::future::Future;
use std::sync::Arc;

use super::{Chat, Error, Result, invalid};
use crate::domain::{
    ClientId, HistoryVisibility, Mention, Message, MessageBody, ReplyTo, RoomId, RoomKind, Sender,
    Seq, TimelineEvent, UserId,
};
use crate::protocol::ServerEvent;
use crate::store::{Entry, MessageRange, NewMessage};

/// Most messages one history page holds.
pub const MAX_PAGE: i64 = 200;
/// Messages in a history page when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// Where a history page is taken from.
#[derive(Debug, Clone, Copy, Default)]
pub enum PageAt {
    /// The newest messages.
    #[default]
    Newest,
    /// The newest messages with a smaller `seq`.
    Before(Seq),
    /// The oldest messages with a greater `seq`.
    After(Seq),
    /// The page centred on this message.
    Around(Seq),
}

/// One page of history, oldest first.
pub struct Page {
    pub messages: Vec<Message>,
    /// The page reaches the oldest message the caller may read.
    pub history_start: bool,
}

/// A reply's target as the sender asked for it: resolved before the commit.
pub type ReplySeq = Option<Seq>;

/// The most files one message holds.
pub const MAX_ATTACHMENTS: usize = 10;

/// A checked send, with what is resolved before its commit: the message it answers and the
/// ids of the uploads it carries.
pub type Prepared = (NewMessage, ReplySeq, Vec<String>);

impl Chat {
    /// Validates a send and charges the sender's rate limit. Membership is checked by the
    /// caller (the WebSocket knows it from its subscriptions; HTTP asks the store).
    pub fn prepare_send(
        &self,
        sender: Sender,
        room_id: RoomId,
        client_id: String,
        body: String,
        reply_to: ReplySeq,
        attachments: Vec<String>,
    ) -> Result<Prepared> {
        let client_id = ClientId::parse(client_id)?;
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(invalid("attachments", "at most 10 files per message"));
        }
        let distinct: std::collections::HashSet<&String> = attachments.iter().collect();
        if distinct.len() != attachments.len() {
            return Err(invalid("attachments", "the same file twice"));
        }
        // With files, the text is an optional caption. A sealed room's body (ciphertext from
        // the browser) has a shape of its own and a larger limit; the commit checks that a
        // sealed room gets nothing else, and that no other room gets one.
        let body = if crate::domain::is_sealed_body(&body) {
            body
        } else if attachments.is_empty() || !body.trim().is_empty() {
            MessageBody::parse(body)?.into_inner()
        } else {
            String::new()
        };
        if reply_to.is_some_and(|s| s < 1) {
            return Err(invalid("reply_to", "must be a message's seq"));
        }
        // Refused before it is charged: a `busy` send costs none of the user's send rate.
        self.committer.admit()?;
        self.charge_sender(&sender.id)?;
        let message = NewMessage {
            room_id,
            sender,
            client_id: client_id.into_inner(),
            body,
            mentions: Vec::new(),
            reply_to: None,
            attachments: Vec::new(),
            terms: None,
        };
        Ok((message, reply_to, attachments))
    }

    /// Charges one event (a message, an edit, a reaction) to the user's send rate.
    pub(super) fn charge_sender(&self, user: &UserId) -> Result<()> {
        if let Err(not_until) = self.settings().send_limiter.check_key(user) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Err(Error::RateLimited(wait));
        }
        Ok(())
    }

    /// Finds who a body mentions: the `@name`s that are members of its room, looked up on
    /// the read side before the commit (one query for up to 64 distinct names; a body without
    /// `@` costs nothing), so the write transaction never parses a body. Someone who joins
    /// between this and the commit is not mentioned; someone who leaves is, harmlessly (unread
    /// counts need a membership).
    pub(super) async fn resolve_mentions(&self, room: &RoomId, body: &str) -> Result<Vec<Mention>> {
        // The body is scanned once: its candidates, their names case-folded, are both what
        // to look up and what to resolve.
        let mut candidates = crate::domain::mention_candidates(body);
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        for (_, _, name) in &mut candidates {
            name.make_ascii_lowercase();
        }
        let keys: Vec<String> = candidates.iter().map(|(_, _, key)| key.clone()).collect();
        let members = self
            .store
            .members_named(room, &keys)
            .await?
            .into_iter()
            .map(|(key, id, username)| (key, (id, username)))
            .collect();
        Ok(crate::domain::resolve_mentions(candidates, &members))
    }

    /// What a reply quotes of the message it answers, which the sender must be able to read
    /// and which must not be deleted.
    async fn resolve_reply(&self, message: &NewMessage, seq: Seq) -> Result<ReplyTo> {
        let (room, m) = self.member_of(&message.room_id, &message.sender.id).await?;
        let original = self
            .readable_message(&message.room_id, seq, &room, &m)
            .await?;
        // Where members read only what came after they joined, some may not read the original:
        // the quote then names it without its text (clients show their own copy, if any).
        // In a sealed room the server cannot cut an excerpt: the reply carries its own quote
        // inside its sealed body.
        let excerpt = match room.history {
            _ if room.seal.is_some() => String::new(),
            HistoryVisibility::Shared => ReplyTo::excerpt(&original.body),
            HistoryVisibility::Joined => String::new(),
        };
        Ok(ReplyTo {
            seq,
            excerpt,
            sender: original.sender,
            deleted: false,
        })
    }

    /// A message the member may read that is not deleted (`not_found` otherwise).
    pub(super) async fn readable_message(
        &self,
        room_id: &RoomId,
        seq: Seq,
        room: &crate::domain::Room,
        m: &crate::domain::Membership,
    ) -> Result<Message> {
        if seq <= m.visible_from(room.history) {
            return Err(Error::NotFound("message"));
        }
        match self.store.message(room_id, seq).await {
            Ok(message) if !message.deleted => Ok(message),
            Ok(_) | Err(crate::store::StoreError::NotFound) => Err(Error::NotFound("message")),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues a prepared message for the next group commit, its mentions and reply resolved
    /// first. The returned future resolves to the stored message (the original one for a
    /// retried `client_id`) once it is durable; the commit task has published it to the room
    /// by then.
    pub async fn commit(
        &self,
        (mut message, reply_to, attachments): Prepared,
    ) -> impl Future<Output = Result<Message>> + Send + use<> {
        let resolved = async {
            if !attachments.is_empty() {
                message.attachments = self
                    .unsent_uploads(&message.sender.id, &attachments)
                    .await?;
            }
            message.mentions = self
                .resolve_mentions(&message.room_id, &message.body)
                .await?;
            if let Some(seq) = reply_to {
                message.reply_to = Some(self.resolve_reply(&message, seq).await?);
            }
            let terms =
                crate::store::index_terms(self.store.keyring(), &message.room_id, &message.body);
            message.terms = Some(terms.await.map_err(Error::Internal)?);
            Ok::<_, Error>(())
        };
        let done = match resolved.await {
            Ok(()) => self.committer.submit(Entry::Message(message)),
            Err(e) => Err(e),
        };
        async move {
            match done?.await {
                Ok(Ok(appended)) => Ok(appended.event.message),
                Ok(Err(e)) => Err(match e {
                    crate::store::StoreError::NotFound => Error::NotFound("room"),
                    crate::store::StoreError::Conflict("attachments") => {
                        Error::Conflict("a file was already sent, or is gone")
                    }
                    other => other.into(),
                }),
                Err(_) => Err(Error::Internal(anyhow::anyhow!("committer stopped"))),
            }
        }
    }

    /// Sends a message (the HTTP path): checks membership, then waits for the commit.
    pub async fn send(
        &self,
        sender: Sender,
        room_id: RoomId,
        client_id: String,
        body: String,
        reply_to: ReplySeq,
        attachments: Vec<String>,
    ) -> Result<Message> {
        let prepared =
            self.prepare_send(sender, room_id, client_id, body, reply_to, attachments)?;
        self.member_of(&prepared.0.room_id, &prepared.0.sender.id)
            .await?;
        let message = self.commit(prepared).await.await?;
        self.message_sent(&message.room_id, &message.sender.id);
        Ok(message)
    }

    /// The message floor the user reads above, for a room: 0 for shared history, the join
    /// point for `joined`. Non-members may read public rooms with shared history.
    pub(super) async fn read_floor(&self, user: &UserId, room_id: &RoomId) -> Result<Seq> {
        match self.member_of(room_id, user).await {
            Ok((room, m)) => Ok(m.visible_from(room.history)),
            Err(Error::Forbidden(why)) => {
                let room = self.store.room(room_id).await?;
                let banned = self.store.is_banned(room_id, user).await?;
                if room.kind == RoomKind::Public
                    && room.history == HistoryVisibility::Shared
                    && !banned
                {
                    Ok(0)
                } else {
                    Err(Error::Forbidden(why))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A page of history (the newest page, or before, after or around a `seq`).
    pub async fn history(
        &self,
        user: &UserId,
        room_id: &RoomId,
        at: PageAt,
        limit: Option<i64>,
    ) -> Result<Page> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", "must be 1-200"));
        }
        match at {
            PageAt::Before(s) | PageAt::Around(s) if s < 1 => {
                return Err(invalid(
                    if matches!(at, PageAt::Before(_)) {
                        "before"
                    } else {
                        "around"
                    },
                    "must be at least 1",
                ));
            }
            PageAt::After(s) if s < 0 => return Err(invalid("after", "must not be negative")),
            _ => {}
        }
        let floor = self.read_floor(user, room_id).await?;
        let range = |limit| MessageRange {
            room_id: room_id.clone(),
            floor,
            limit,
            viewer: Some(user.clone()),
        };
        let messages = match at {
            PageAt::Newest => self.store.messages_before(range(limit), None).await?,
            PageAt::Before(s) => self.store.messages_before(range(limit), Some(s)).await?,
            PageAt::After(s) => self.store.messages_after(range(limit), s).await?,
            PageAt::Around(s) => {
                // The message and up to half a page on each side (more after it when the
                // start of history leaves less before it).
                let mut page = self
                    .store
                    .messages_before(range(limit / 2 + 1), Some(s.saturating_add(1)))
                    .await?;
                let later = limit - page.len() as i64;
                if later > 0 {
                    page.extend(self.store.messages_after(range(later), s).await?);
                }
                page
            }
        };
        let history_start = match (
            messages.first(),
            self.store.oldest_seq(room_id, floor).await?,
        ) {
            (Some(first), Some(oldest)) => first.seq <= oldest,
            _ => true,
        };
        Ok(Page {
            messages,
            history_start,
        })
    }

    /// What a member missed after `since`: up to the replay limit of the newest timeline
    /// events, and whether that is all of them.
    pub async fn replay(
        &self,
        user: &UserId,
        room_id: &RoomId,
        since: Seq,
    ) -> Result<(Vec<TimelineEvent>, bool)> {
        let (room, m) = self.member_of(room_id, user).await?;
        let range = MessageRange {
            room_id: room_id.clone(),
            floor: m.visible_from(room.history),
            limit: self.config.sync_replay_limit,
            viewer: None,
        };
        Ok(self.store.events_after(range, since, Seq::MAX).await?)
    }

    /// Timeline events with `seq` in `after+1 ..= upto` that a connection missed (gap
    /// filling).
    pub async fn fill_gap(
        &self,
        user: &UserId,
        room_id: &RoomId,
        after: Seq,
        upto: Seq,
    ) -> Result<Vec<TimelineEvent>> {
        let (room, m) = self.member_of(room_id, user).await?;
        let range = MessageRange {
            room_id: room_id.clone(),
            floor: m.visible_from(room.history),
            limit: MAX_PAGE * 10,
            viewer: None,
        };
        Ok(self.store.events_after(range, after, upto).await?.0)
    }

    /// Moves the read marker forward; the user's connections learn the new marker.
    pub async fn mark_read(&self, user: &UserId, room_id: &RoomId, seq: Seq) -> Result<Seq> {
        if seq < 0 {
            return Err(invalid("seq", "must not be negative"));
        }
        self.member_of(room_id, user).await?;
        let now = self.store.mark_read(room_id, user, seq).await?;
        self.publish_user(user, ServerEvent::Read { room_id, seq: now });
        if self.store.user(user).await?.send_receipts {
            self.publish_room(
                room_id,
                ServerEvent::Receipt {
                    room_id,
                    user_id: user,
                    seq: now,
                },
                None,
            );
        }
        Ok(now)
    }

    /// The user is typing (membership checked by the caller): the room hears of it unless
    /// it heard very recently.
    pub fn typing(&self, user: &Arc<Sender>, room_id: &RoomId) {
        // Typing would give an invisible user away.
        if !self.presence.is_invisible(&user.id) && self.typing.start(room_id, user) {
            self.publish_typing(room_id, user, true);
        }
    }

    /// A message from the user ends their typing indicator.
    pub fn message_sent(&self, room_id: &RoomId, user: &UserId) {
        if let Some(sender) = self.typing.stop(room_id, user) {
            self.publish_typing(room_id, &sender, false);
        }
    }

    pub(crate) fn publish_typing(&self, room_id: &RoomId, user: &Sender, active: bool) {
        let expires_in_ms = active.then_some(self.typing.ttl.as_millis() as u64);
        let event = ServerEvent::Typing {
            room_id,
            user_id: &user.id,
            user,
            active,
            expires_in_ms,
        };
        self.publish_room(room_id, event, None);
    }
}
