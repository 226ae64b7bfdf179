//! Messages: sending (checked, rate-limited, then group-committed), history paging under the
//! room's history visibility, replay for `sync`, read markers and typing.

use std::future::Future;
use std::sync::Arc;

use super::{Chat, Error, Result, invalid};
use crate::domain::{
    ClientId, HistoryVisibility, Message, MessageBody, RoomId, RoomKind, Sender, Seq, UserId,
};
use crate::protocol::ServerEvent;
use crate::store::{MessageRange, NewMessage};

/// Most messages one history page holds.
pub const MAX_PAGE: i64 = 200;
/// Messages in a history page when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// One page of history, oldest first.
pub struct Page {
    pub messages: Vec<Message>,
    /// The page reaches the oldest message the caller may read.
    pub history_start: bool,
}

impl Chat {
    /// Validates a send and charges the sender's rate limit. Membership is checked by the
    /// caller (the WebSocket knows it from its subscriptions; HTTP asks the store).
    pub fn prepare_send(
        &self,
        sender: Sender,
        room_id: RoomId,
        client_id: String,
        body: String,
    ) -> Result<NewMessage> {
        let client_id = ClientId::parse(client_id)?;
        let body = MessageBody::parse(body)?;
        if let Err(not_until) = self.send_limiter.check_key(&sender.id) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Err(Error::RateLimited(wait));
        }
        Ok(NewMessage {
            room_id,
            sender,
            client_id: client_id.into_inner(),
            body: body.into_inner(),
            mentions: Vec::new(),
        })
    }

    /// Finds who a message mentions: the `@name`s that are members of its room, looked up
    /// on the read side before the commit (one query for up to 64 distinct names; a body
    /// without `@` costs nothing), so the write transaction never parses a body. Someone who
    /// joins between this and the commit is not mentioned; someone who leaves is, harmlessly
    /// (unread counts need a membership).
    async fn resolve_mentions(&self, message: &mut NewMessage) -> Result<()> {
        // The body is scanned once: its candidates, their names case-folded, are both what
        // to look up and what to resolve.
        let mut candidates = crate::domain::mention_candidates(&message.body);
        if candidates.is_empty() {
            return Ok(());
        }
        for (_, _, name) in &mut candidates {
            name.make_ascii_lowercase();
        }
        let keys: Vec<String> = candidates.iter().map(|(_, _, key)| key.clone()).collect();
        let members = self
            .store
            .members_named(&message.room_id, &keys)
            .await?
            .into_iter()
            .map(|(key, id, username)| (key, (id, username)))
            .collect();
        message.mentions = crate::domain::resolve_mentions(candidates, &members);
        Ok(())
    }

    /// Queues a prepared message for the next group commit. The returned future resolves to
    /// the stored message (the original one for a retried `client_id`) once it is durable;
    /// the commit task has published it to the room by then.
    pub async fn commit(
        &self,
        mut message: NewMessage,
    ) -> impl Future<Output = Result<Message>> + Send + use<> {
        let done = match self.resolve_mentions(&mut message).await {
            Ok(()) => Ok(self.committer.submit(message).await),
            Err(e) => Err(e),
        };
        async move {
            match done?.await {
                Ok(Ok(appended)) => Ok(appended.message),
                Ok(Err(e)) => Err(match e {
                    crate::store::StoreError::NotFound => Error::NotFound("room"),
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
    ) -> Result<Message> {
        let prepared = self.prepare_send(sender, room_id, client_id, body)?;
        self.member_of(&prepared.room_id, &prepared.sender.id)
            .await?;
        let message = self.commit(prepared).await.await?;
        self.message_sent(&message.room_id, &message.sender.id);
        Ok(message)
    }

    /// The message floor the user reads above, for a room: 0 for shared history, the join
    /// point for `joined`. Non-members may read public rooms with shared history.
    async fn read_floor(&self, user: &UserId, room_id: &RoomId) -> Result<Seq> {
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

    /// A page of history before `before` (the newest page when `None`).
    pub async fn history(
        &self,
        user: &UserId,
        room_id: &RoomId,
        before: Option<Seq>,
        limit: Option<i64>,
    ) -> Result<Page> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", "must be 1-200"));
        }
        if before.is_some_and(|b| b < 1) {
            return Err(invalid("before", "must be at least 1"));
        }
        let floor = self.read_floor(user, room_id).await?;
        let range = MessageRange {
            room_id: room_id.clone(),
            floor,
            limit,
        };
        let messages = self.store.messages_before(range, before).await?;
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

    /// What a member missed after `since`: up to the replay limit of the newest messages, and
    /// whether that is all of them.
    pub async fn replay(
        &self,
        user: &UserId,
        room_id: &RoomId,
        since: Seq,
    ) -> Result<(Vec<Message>, bool)> {
        let (room, m) = self.member_of(room_id, user).await?;
        let floor = m.visible_from(room.history);
        let range = MessageRange {
            room_id: room_id.clone(),
            floor,
            limit: self.config.sync_replay_limit,
        };
        Ok(self.store.messages_after(range, since).await?)
    }

    /// Messages with `seq` in `after+1 ..= upto` that a connection missed (gap filling).
    pub async fn fill_gap(
        &self,
        user: &UserId,
        room_id: &RoomId,
        after: Seq,
        upto: Seq,
    ) -> Result<Vec<Message>> {
        let (room, m) = self.member_of(room_id, user).await?;
        let floor = m.visible_from(room.history);
        let range = MessageRange {
            room_id: room_id.clone(),
            floor: floor.max(after),
            limit: MAX_PAGE * 10,
        };
        Ok(self.store.messages_before(range, Some(upto + 1)).await?)
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
