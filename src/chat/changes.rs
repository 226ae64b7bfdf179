//! Changes to sent messages: edits (by the sender), deletions (by the sender, or a moderator
//! and up), reactions (members) and pins (moderators and up). Each is checked here against the
//! rules, then goes through the group commit like a message: it takes the room's next `seq`
//! and is published as a timeline event, so `sync` and gap filling carry it.

use super::{Chat, Error, Result, invalid};
use crate::domain::{
    Message, MessageBody, ReactionEmoji, RoomId, Seq, UserId, can_delete_message, can_moderate,
};
use crate::store::{Appended, Change, EditRecord, Entry, MessageRange, NewChange, StoreError};

/// The longest reason a deletion may give, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The most pinned messages `GET …/pins` lists.
pub const MAX_PINS: i64 = 100;

impl Chat {
    /// Commits a change; `None` when it changed nothing (a reaction already there).
    async fn change(
        &self,
        actor: &UserId,
        room_id: &RoomId,
        message_seq: Seq,
        change: Change,
    ) -> Result<Option<Appended>> {
        let entry = Entry::Change(NewChange {
            room_id: room_id.clone(),
            actor: actor.clone(),
            message_seq,
            change,
        });
        match self.committer.try_append(entry).await? {
            Ok(a) => Ok((!a.duplicate).then_some(a)),
            Err(StoreError::NotFound) => Err(Error::NotFound("message")),
            Err(StoreError::Conflict("reactions")) => Err(Error::Conflict(
                "a message takes at most 20 different reactions",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Edits the caller's own message (within the edit window, when one is set); returns it
    /// in its new state.
    pub async fn edit(
        &self,
        user: &UserId,
        room_id: &RoomId,
        seq: Seq,
        body: String,
    ) -> Result<Message> {
        let (room, m) = self.member_of(room_id, user).await?;
        let body = match (room.seal.is_some(), crate::domain::is_sealed_body(&body)) {
            (true, true) => body,
            (false, false) => MessageBody::parse(body)?.into_inner(),
            (true, false) => return Err(Error::Forbidden(crate::domain::SEALED_ONLY)),
            (false, true) => return Err(Error::Forbidden(crate::domain::NOT_SEALED)),
        };
        let message = self.readable_message(room_id, seq, &room, &m).await?;
        if &message.sender.id != user {
            return Err(Error::Forbidden("only the sender edits a message"));
        }
        let window = self.config.edit_window_secs;
        if window > 0 && (chrono::Utc::now() - message.ts).num_seconds() > window as i64 {
            return Err(Error::Forbidden("the time to edit this message has passed"));
        }
        self.committer.admit()?;
        self.charge_sender(user)?;
        let mentions = self.resolve_mentions(room_id, &body).await?;
        let change = Change::Edit { body, mentions };
        Ok(match self.change(user, room_id, seq, change).await? {
            Some(appended) => appended.event.message,
            None => message, // the same text again
        })
    }

    /// Deletes a message: the caller's own, or as a moderator and up one whose sender ranks
    /// below (written to the audit log with the reason).
    pub async fn delete_message(
        &self,
        user: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        seq: Seq,
        reason: Option<String>,
    ) -> Result<()> {
        let reason = reason.unwrap_or_default();
        if reason.chars().count() > MAX_REASON_CHARS || reason.contains('\0') {
            return Err(invalid(
                "reason",
                "must be at most 500 characters, without NUL",
            ));
        }
        let (room, m) = self.member_of(room_id, user).await?;
        let message = self.readable_message(room_id, seq, &room, &m).await?;
        let own = &message.sender.id == user;
        let sender_role = match own {
            true => None,
            false => self
                .store
                .membership(room_id, &message.sender.id)
                .await?
                .map(|s| s.role),
        };
        if !can_delete_message(&room.permissions, m.role, own, sender_role) {
            return Err(Error::Forbidden(
                "only the sender, or a moderator above them, deletes a message",
            ));
        }
        let change = Change::Delete {
            reason,
            audit: !own,
            address: address.to_string(),
            by_server_admin: false,
        };
        self.change(user, room_id, seq, change).await?;
        Ok(())
    }

    /// Adds (`add`) or removes the caller's reaction; repeating either changes nothing.
    pub async fn react(
        &self,
        user: &UserId,
        room_id: &RoomId,
        seq: Seq,
        emoji: &str,
        add: bool,
    ) -> Result<()> {
        let emoji = ReactionEmoji::parse(emoji)?.into_inner();
        let (room, m) = self.member_of(room_id, user).await?;
        self.readable_message(room_id, seq, &room, &m).await?;
        self.committer.admit()?;
        self.charge_sender(user)?;
        self.change(user, room_id, seq, Change::React { emoji, add })
            .await?;
        Ok(())
    }

    /// Pins or unpins a message (moderators and up).
    pub async fn pin(
        &self,
        user: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        seq: Seq,
        pin: bool,
    ) -> Result<()> {
        let (room, m) = self.member_of(room_id, user).await?;
        if !can_moderate(&room.permissions, m.role) {
            return Err(Error::Forbidden("only moderators and up pin messages"));
        }
        self.readable_message(room_id, seq, &room, &m).await?;
        self.change(user, room_id, seq, Change::Pin(pin)).await?;
        let action = if pin {
            "message_pinned"
        } else {
            "message_unpinned"
        };
        self.audited(user, address, action, Some(room_id), seq.to_string(), "")
            .await;
        Ok(())
    }

    /// The room's pinned messages the caller may read, the most recently pinned first.
    pub async fn pins(&self, user: &UserId, room_id: &RoomId) -> Result<Vec<Message>> {
        let floor = self.read_floor(user, room_id).await?;
        let range = MessageRange {
            room_id: room_id.clone(),
            floor,
            limit: MAX_PINS,
            viewer: Some(user.clone()),
        };
        Ok(self.store.pins(range).await?)
    }

    /// The earlier texts of an edited message: for those who may delete others' messages
    /// (moderators and up by default, never lower).
    pub async fn edits(
        &self,
        user: &UserId,
        room_id: &RoomId,
        seq: Seq,
    ) -> Result<Vec<EditRecord>> {
        let (room, m) = self.member_of(room_id, user).await?;
        if !crate::domain::allowed(
            &room.permissions,
            m.role,
            crate::domain::Action::DeleteOthers,
            None,
        ) {
            return Err(Error::Forbidden(
                "only moderators and up read earlier texts",
            ));
        }
        if seq <= m.visible_from(room.history) {
            return Err(Error::NotFound("message"));
        }
        Ok(self.store.edits(room_id, seq).await?)
    }
}
