//! Moderation in a room beyond bans: kicking (removing without a ban), timed mutes, and the
//! audit log every moderator and admin action is written to (with the actor's address).
//! Who may is the room's permission table (`domain::rules`).

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::{Chat, Error, Result, invalid};
use crate::bus::RoomChange;
use crate::domain::{Action, RoomId, UserId, allowed};
use crate::protocol::ServerEvent;
use crate::store::AuditEntry;

/// The longest a timed mute may run (a mute without an end is also possible).
const MAX_MUTE_DAYS: i64 = 366;

impl Chat {
    /// Writes an audit entry. The action is done by then; a failure to write the entry is
    /// logged as an error (with the entry) rather than failing the request, so the action's
    /// events still go out.
    pub(super) async fn audited(
        &self,
        actor: &UserId,
        address: IpAddr,
        action: &'static str,
        room: Option<&RoomId>,
        target: String,
        reason: &str,
    ) {
        let entry = AuditEntry {
            actor: actor.clone(),
            action,
            room: room.cloned(),
            target,
            reason: reason.to_owned(),
            address: address.to_string(),
        };
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(error = %e, ?entry, "an audit entry could not be written");
        }
    }

    /// The actor's role where `target` must rank below them for `action`.
    async fn may_act_on(
        &self,
        actor: &UserId,
        room_id: &RoomId,
        target: &UserId,
        action: Action,
    ) -> Result<()> {
        let (room, m) = self.member_of(room_id, actor).await?;
        let target_role = self
            .store
            .membership(room_id, target)
            .await?
            .map(|t| t.role);
        if room.kind.is_conversation()
            || actor == target
            || !allowed(&room.permissions, m.role, action, target_role)
        {
            return Err(Error::Forbidden(match action {
                Action::Kick => "you may not kick this member",
                _ => "you may not mute this member",
            }));
        }
        Ok(())
    }

    /// Removes a member without banning them (they may join again); the room is told with
    /// `member_left` and `"kicked": true`.
    pub async fn kick(
        &self,
        actor: &UserId,
        address: IpAddr,
        room_id: &RoomId,
        target: &UserId,
        reason: &str,
    ) -> Result<()> {
        check_reason(reason)?;
        self.may_act_on(actor, room_id, target, Action::Kick)
            .await?;
        if !self.store.remove_member(room_id, target).await? {
            return Err(Error::NotFound("member"));
        }
        self.audited(
            actor,
            address,
            "member_kicked",
            Some(room_id),
            target.to_string(),
            reason,
        )
        .await;
        let event = ServerEvent::MemberKicked {
            room_id,
            user_id: target,
            kicked: true,
        };
        self.publish_room(room_id, event, Some(RoomChange::Removed(target.clone())));
        Ok(())
    }

    /// Mutes a member until `until` (`None`: until unmuted): their sends, edits and
    /// reactions get `forbidden` meanwhile.
    pub async fn mute(
        &self,
        actor: &UserId,
        address: IpAddr,
        room_id: &RoomId,
        target: &UserId,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        if let Some(until) = until {
            let now = Utc::now();
            if until <= now {
                return Err(invalid("until", "must be in the future"));
            }
            if until > now + chrono::Duration::days(MAX_MUTE_DAYS) {
                return Err(invalid("until", "must be within a year"));
            }
        }
        self.may_act_on(actor, room_id, target, Action::Mute)
            .await?;
        if self.store.membership(room_id, target).await?.is_none() {
            return Err(Error::NotFound("member"));
        }
        self.store.mute(room_id, target, until, actor).await?;
        let reason = until
            .map(|u| format!("until {}", u.to_rfc3339()))
            .unwrap_or_default();
        self.audited(
            actor,
            address,
            "member_muted",
            Some(room_id),
            target.to_string(),
            &reason,
        )
        .await;
        Ok(())
    }

    pub async fn unmute(
        &self,
        actor: &UserId,
        address: IpAddr,
        room_id: &RoomId,
        target: &UserId,
    ) -> Result<()> {
        self.may_act_on(actor, room_id, target, Action::Mute)
            .await?;
        if !self.store.unmute(room_id, target).await? {
            return Err(Error::NotFound("mute"));
        }
        self.audited(
            actor,
            address,
            "member_unmuted",
            Some(room_id),
            target.to_string(),
            "",
        )
        .await;
        Ok(())
    }

    /// The room's mutes in force (moderators and up, as may mute).
    pub async fn mutes(
        &self,
        actor: &UserId,
        room_id: &RoomId,
    ) -> Result<Vec<(UserId, Option<DateTime<Utc>>)>> {
        let (room, m) = self.member_of(room_id, actor).await?;
        if !allowed(&room.permissions, m.role, Action::Mute, None) {
            return Err(Error::Forbidden("only those who may mute see mutes"));
        }
        Ok(self.store.mutes(room_id).await?)
    }
}

/// A reason shown to people: at most 256 characters, no control characters.
pub(super) fn check_reason(reason: &str) -> Result<()> {
    if reason.chars().count() > 256 {
        return Err(invalid("reason", "must be at most 256 characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err(invalid("reason", "must not contain control characters"));
    }
    Ok(())
}
