//! Invite links into a room: members whose role the room's table lets `invite` make links
//! with an expiry and a number of uses, list and revoke them; anyone signed in who holds a
//! link's code joins the room with it (a private room's key is then not needed). A code is 128
//! random bits, kept only as a hash and shown once; a ban still keeps its holder out.

use std::net::IpAddr;

use super::admin::NewCode;
use super::{Chat, Error, Result};
use crate::domain::{Action, Invite, Role, Room, RoomId, Unread, User, UserId, allowed};
use crate::store::StoreError;

impl Chat {
    /// The caller's room, if its table lets them invite.
    async fn may_invite(&self, user: &UserId, room_id: &RoomId) -> Result<Room> {
        let (room, m) = self.member_of(room_id, user).await?;
        if room.kind.is_conversation() || !allowed(&room.permissions, m.role, Action::Invite, None)
        {
            return Err(Error::Forbidden(
                "your role may not invite people to this room",
            ));
        }
        Ok(room)
    }

    /// Makes an invite link into the room.
    pub async fn create_room_invite(
        &self,
        user: &UserId,
        room_id: &RoomId,
        expires_in_secs: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<NewCode> {
        self.may_invite(user, room_id).await?;
        self.make_invite(user, Some(room_id), expires_in_secs, max_uses)
            .await
    }

    /// The room's invite links (without their codes), newest first.
    pub async fn room_invites(&self, user: &UserId, room_id: &RoomId) -> Result<Vec<Invite>> {
        self.may_invite(user, room_id).await?;
        Ok(self.store.invites(Some(room_id)).await?)
    }

    /// Revokes one of the room's links; audited.
    pub async fn revoke_room_invite(
        &self,
        user: &UserId,
        address: IpAddr,
        room_id: &RoomId,
        id: &str,
    ) -> Result<()> {
        self.may_invite(user, room_id).await?;
        self.store
            .revoke_invite(id, Some(room_id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound("invite"),
                other => other.into(),
            })?;
        self.audited(
            user,
            address,
            "invite_revoked",
            Some(room_id),
            id.to_owned(),
            "",
        )
        .await;
        Ok(())
    }

    /// Joins the room an invite link leads to, counting a use (none for a member already in
    /// it). A ban still keeps the holder out.
    pub async fn join_by_invite(&self, user: &User, code: &str) -> Result<Room> {
        let hash = super::accounts::token_hash(code.trim());
        let bad = |e: StoreError| match e {
            StoreError::NotFound => super::invalid(
                "invite",
                "this invite is unknown, used up, expired or revoked",
            ),
            other => other.into(),
        };
        let room_id = self.store.room_of_invite(&hash).await.map_err(bad)?;
        let room = self
            .store
            .room(&room_id)
            .await
            .map_err(|_| Error::NotFound("room"))?;
        if let Some(m) = self.store.membership(&room.id, &user.id).await? {
            let unread = self.store.unread(&room.id, &user.id).await?;
            return Ok(room.for_member(&m, unread));
        }
        if self.store.is_banned(&room.id, &user.id).await? {
            return Err(Error::Forbidden("you are banned from this room"));
        }
        // Counted only now, and only while still good (another holder may have used the last).
        self.store.use_room_invite(&hash).await.map_err(bad)?;
        let m = self
            .store
            .add_member(&room.id, &user.id, Role::Member)
            .await?;
        let room = room.for_member(&m, Unread::default());
        self.announce_join(&room, user, m.joined_seq);
        Ok(room)
    }
}
