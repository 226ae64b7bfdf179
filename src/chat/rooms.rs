//! Rooms: create, find, join with or without a key, leave, settings, roles, bans, delete,
//! and direct rooms between two users. Room keys are secrets like passwords: the same slow
//! hash protects them at rest, and wrong guesses are throttled per user at the room, per
//! room and per client address.

use std::net::IpAddr;

use serde::Deserialize;
use utoipa::ToSchema;

use super::guard::{self, Key};
use super::passwords::{hash_password, verify_password};
use super::{Chat, Error, Result, invalid};
use crate::bus::{BusEvent, Frame, JoinPoint, RoomChange, UserChange};
use crate::domain::{
    HistoryVisibility, Membership, Message, NotifyLevel, Retention, Role, Room, RoomId, RoomKey,
    RoomKind, RoomName, Sender, Seq, Topic, Unread, User, UserId, Visibility, can_ban,
    can_change_settings, can_delete_room, can_set_role,
};
use crate::protocol::ServerEvent;
use crate::store::{NewRoom, RoomSettings, StoreError};

/// Most rooms a search returns.
const SEARCH_LIMIT: i64 = 100;

/// `POST /rooms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomRequest {
    pub name: String,
    pub visibility: Visibility,
    /// Required for private rooms, refused for public ones (and for sealed ones).
    pub key: Option<String>,
    /// Makes a sealed room (end to end, with `visibility: private`): its seal and the
    /// owner's join proof, derived in the browser from the passphrase (`docs/protocol.md`).
    pub seal: Option<crate::domain::SealRequest>,
    pub topic: Option<String>,
    pub history: Option<HistoryVisibility>,
    pub retention: Option<Retention>,
}

/// `PATCH /rooms/{id}`: each field present is changed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    pub topic: Option<String>,
    /// A new key (private rooms).
    pub key: Option<String>,
    pub visibility: Option<Visibility>,
    pub history: Option<HistoryVisibility>,
    pub retention: Option<Retention>,
    /// Changes to the permission table: action → the lowest role that may take it
    /// (moderation actions no lower than `moderator`).
    #[schema(value_type = Option<std::collections::BTreeMap<String, Role>>)]
    pub permissions: Option<crate::domain::Permissions>,
}

/// The settings a patch names, for the audit log ("topic, permissions").
fn changed_settings(patch: &RoomPatch) -> String {
    let named = [
        ("topic", patch.topic.is_some()),
        ("key", patch.key.is_some()),
        ("visibility", patch.visibility.is_some()),
        ("history", patch.history.is_some()),
        ("retention", patch.retention.is_some()),
        ("permissions", patch.permissions.is_some()),
    ];
    named
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_retention(r: &Retention) -> Result<()> {
    if r.max_messages.is_some_and(|n| n < 1) {
        return Err(invalid("retention", "max_messages must be at least 1"));
    }
    if r.max_age_secs.is_some_and(|n| n < 1) {
        return Err(invalid("retention", "max_age_secs must be at least 1"));
    }
    Ok(())
}

/// What a search looks for: `q` trimmed. Control characters are refused: no name holds one,
/// and PostgreSQL cannot even compare a string with NUL.
fn search_text(q: &str) -> Result<&str> {
    if q.chars().any(char::is_control) {
        return Err(invalid("q", "must not contain control characters"));
    }
    Ok(q.trim())
}

fn not_found(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => Error::NotFound("room"),
        other => other.into(),
    }
}

impl Chat {
    /// The caller's membership, or why they have none (`not_found` when the room does not
    /// exist or is private to others, `forbidden` when banned or not a member).
    pub async fn member_of(&self, room_id: &RoomId, user: &UserId) -> Result<(Room, Membership)> {
        let room = self.store.room(room_id).await.map_err(not_found)?;
        match self.store.membership(room_id, user).await? {
            Some(m) => Ok((room, m)),
            None if self.store.is_banned(room_id, user).await? => {
                Err(Error::Forbidden("you are banned from this room"))
            }
            None if room.kind == RoomKind::Public => {
                Err(Error::Forbidden("not a member of this room"))
            }
            None => Err(Error::NotFound("room")),
        }
    }

    /// Creates a room owned by `owner`.
    #[tracing::instrument(skip_all, fields(owner = %owner.id))]
    pub async fn create_room(&self, owner: &User, req: NewRoomRequest) -> Result<Room> {
        let name = RoomName::parse(&req.name)?;
        let topic = Topic::parse(req.topic.as_deref().unwrap_or(""))?.into_inner();
        let retention = req.retention.unwrap_or_default();
        check_retention(&retention)?;
        self.check_room_cap(owner).await?;
        let (kind, key_hash, seal) = match (req.visibility, req.key, req.seal) {
            (Visibility::Public, None, None) => (RoomKind::Public, None, None),
            (Visibility::Public, Some(_), _) => {
                return Err(invalid("key", "public rooms have no key"));
            }
            (Visibility::Public, None, Some(_)) => {
                return Err(invalid("seal", "a sealed room is private"));
            }
            (Visibility::Private, Some(_), Some(_)) => {
                return Err(invalid(
                    "key",
                    "a sealed room has a passphrase instead, which never leaves the browser",
                ));
            }
            (Visibility::Private, None, None) => {
                return Err(invalid("key", "private rooms need a key"));
            }
            (Visibility::Private, Some(k), None) => (
                RoomKind::Private,
                Some(hash_password(RoomKey::parse(&k)?.expose()).await?),
                None,
            ),
            (Visibility::Private, None, Some(seal)) => {
                let (seal, proof) = seal.parse()?;
                let hash = hash_password(proof.expose()).await?;
                (RoomKind::Private, Some(hash), Some(seal))
            }
        };
        let new = NewRoom {
            id: RoomId::generate(),
            name: name.as_str().to_owned(),
            name_key: Some(name.key()),
            skeletons: name.skeletons(),
            kind,
            topic,
            owner_id: owner.id.clone(),
            key_hash,
            history: req.history.unwrap_or_default(),
            retention,
            direct: None,
            group: Vec::new(),
            seal,
        };
        let room = match self.store.create_room(new).await {
            Ok(room) => room,
            // Either the name (ignoring case) or one of its skeletons is taken: say which.
            Err(StoreError::Conflict(_)) => {
                return Err(match self.store.room_by_name(&name.key()).await {
                    Ok(_) => Error::Conflict("a room with that name exists"),
                    Err(StoreError::NotFound) => {
                        Error::Conflict("a room with a similar-looking name exists")
                    }
                    Err(other) => other.into(),
                });
            }
            Err(other) => return Err(other.into()),
        };
        let m = self
            .store
            .membership(&room.id, &owner.id)
            .await?
            .ok_or(Error::NotFound("room"))?;
        let room = room.for_member(&m, Unread::default());
        self.announce_join(&room, owner, m.joined_seq);
        Ok(room)
    }

    /// Checks a private room's key. Guesses are counted before the check (a right key is
    /// taken back) per user at the room (`login_max_failures` per window), per room from all
    /// users together and per client address (x4 each), so neither new accounts nor new
    /// addresses buy more guesses at one room.
    async fn try_key(
        &self,
        user: &User,
        room: &RoomId,
        ip: IpAddr,
        key: &str,
        hash: Option<&str>,
    ) -> Result<bool> {
        let limit = self.config.login_max_failures;
        let counted = [
            (Key::Address(guard::address(ip)), limit.saturating_mul(4)),
            (Key::Room(room.to_string()), limit.saturating_mul(4)),
            (Key::UserRoom(user.id.to_string(), room.to_string()), limit),
        ];
        for (at, (key, limit)) in counted.iter().enumerate() {
            if let Err(wait) = self.key_guard.attempt(key, *limit) {
                for (earlier, _) in &counted[..at] {
                    self.key_guard.succeeded(earlier);
                }
                return Err(Error::RateLimited(wait));
            }
        }
        let ok = match hash {
            Some(hash) => verify_password(key, hash).await?,
            None => false,
        };
        if ok {
            for (key, _) in &counted {
                self.key_guard.succeeded(key);
            }
        }
        Ok(ok)
    }

    /// Refuses another room to a user who owns `max_rooms_per_user` already (direct rooms are
    /// not counted; server admins and a cap of 0 have no limit). Counted before the insert, so
    /// requests racing each other may pass the cap by a few: it stops squatting by the
    /// thousand, it is not an exact quota.
    async fn check_room_cap(&self, owner: &User) -> Result<()> {
        let cap = self.config.max_rooms_per_user;
        if cap == 0 || owner.is_admin {
            return Ok(());
        }
        if self.store.rooms_owned(&owner.id).await? >= i64::from(cap) {
            return Err(Error::Forbidden(
                "you own as many rooms as this server allows (max_rooms_per_user); delete one first",
            ));
        }
        Ok(())
    }

    /// Joins a public room, or a private one with its key, or a sealed one with the proof
    /// derived from its passphrase. Idempotent for members.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn join(
        &self,
        user: &User,
        name: &str,
        key: Option<&str>,
        proof: Option<&str>,
        ip: IpAddr,
    ) -> Result<Room> {
        let (room, key_hash) = self
            .store
            .room_by_name(&RoomName::lookup_key(name)?)
            .await
            .map_err(not_found)?;
        if let Some(m) = self.store.membership(&room.id, &user.id).await? {
            let unread = self.store.unread(&room.id, &user.id).await?;
            return Ok(room.for_member(&m, unread));
        }
        if self.store.is_banned(&room.id, &user.id).await? {
            return Err(Error::Forbidden("you are banned from this room"));
        }
        if room.seal.is_some() {
            if key.is_some() {
                return Err(invalid(
                    "key",
                    "this room is sealed: send the proof derived from its passphrase, never the passphrase",
                ));
            }
            let Some(proof) = proof else {
                return Err(Error::Forbidden(
                    "this room is sealed: it needs the proof derived from its passphrase",
                ));
            };
            let proof = crate::domain::JoinProof::parse(proof)?;
            let ok = self
                .try_key(user, &room.id, ip, proof.expose(), key_hash.as_deref())
                .await?;
            if !ok {
                return Err(Error::Forbidden("wrong passphrase"));
            }
        } else if room.kind == RoomKind::Private {
            let Some(key) = key else {
                return Err(Error::Forbidden("this room needs a key"));
            };
            let ok = self
                .try_key(user, &room.id, ip, key, key_hash.as_deref())
                .await?;
            if !ok {
                return Err(Error::Forbidden("wrong key"));
            }
        }
        let m = self
            .store
            .add_member(&room.id, &user.id, Role::Member)
            .await
            .map_err(not_found)?;
        let room = room.for_member(&m, Unread::default());
        self.announce_join(&room, user, m.joined_seq);
        Ok(room)
    }

    /// What someone about to join a room by name needs to know first: its seal if it is
    /// sealed (without the check value, which would let them test guesses offline), so a
    /// client derives the join proof and never sends the passphrase; `None` for other rooms.
    pub async fn room_seal(&self, name: &str) -> Result<Option<crate::domain::Seal>> {
        let (room, _) = self
            .store
            .room_by_name(&RoomName::lookup_key(name)?)
            .await
            .map_err(not_found)?;
        Ok(room.seal.map(|seal| seal.public()))
    }

    /// Subscribes the joiner's connections and tells the room (and the joiner's devices).
    /// `from` is the room's `last_seq` when the membership began: the joiner's sockets
    /// receive every message after it.
    /// Announces a member of a conversation just created (a `member` from its start).
    pub(super) fn announce_new_member(&self, room: &Room, user: &User) {
        let m = Membership {
            room_id: room.id.clone(),
            user_id: user.id.clone(),
            role: Role::Member,
            joined_seq: 0,
            read_seq: 0,
            notify: None,
        };
        let shown = room.clone().for_member(&m, Unread::default());
        self.announce_join(&shown, user, 0);
    }

    pub(super) fn announce_join(&self, room: &Room, user: &User, from: Seq) {
        let level = room
            .notify
            .unwrap_or(NotifyLevel::default_for(room.kind.is_conversation()));
        let point = JoinPoint {
            from,
            floor: match room.history {
                HistoryVisibility::Joined => from,
                HistoryVisibility::Shared => 0,
            },
            level,
            direct: room.kind.is_conversation(),
        };
        // The joiner's channel reaches every node holding one of their sockets (a node hears
        // a room's channel only once it has listeners in that room): those sockets learn of
        // the room and start receiving it. Then the room hears of the new member.
        let text = ServerEvent::RoomUpdated {
            room_id: &room.id,
            room,
        }
        .to_text();
        self.bus.publish(BusEvent::User {
            user_id: user.id.clone(),
            frame: Some(Frame::new(text)),
            change: Some(UserChange::Joined(room.id.clone(), point)),
        });
        let sender = Sender::from(user);
        let event = ServerEvent::MemberJoined {
            room_id: &room.id,
            user_id: &user.id,
            user: &sender,
        };
        self.publish_room(&room.id, event, None);
    }

    /// Leaves a room. The owner cannot leave (they delete it instead); nor can a direct room
    /// be left. Anyone may leave a group conversation (the last one out deletes it).
    pub async fn leave(&self, user: &UserId, room_id: &RoomId) -> Result<()> {
        let (room, m) = self.member_of(room_id, user).await?;
        if room.kind == RoomKind::Direct {
            return Err(Error::Conflict("direct rooms cannot be left"));
        }
        if m.role == Role::Owner {
            return Err(Error::Conflict(
                "the owner cannot leave; delete the room instead",
            ));
        }
        self.store.remove_member(room_id, user).await?;
        let event = ServerEvent::MemberLeft {
            room_id,
            user_id: user,
        };
        self.publish_room(room_id, event, Some(RoomChange::Removed(user.clone())));
        if room.kind == RoomKind::Group {
            self.drop_group_if_empty(room_id).await?;
        }
        Ok(())
    }

    /// Deletes a group conversation nobody is in any more. Checked after each removal, so of
    /// two last members leaving at once, at least one sees it empty; deleting twice is harmless.
    pub(super) async fn drop_group_if_empty(&self, room_id: &RoomId) -> Result<()> {
        if !self.store.members(room_id).await?.is_empty() {
            return Ok(());
        }
        match self.store.delete_room(room_id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let event = ServerEvent::RoomDeleted { room_id };
        self.publish_room(room_id, event, Some(RoomChange::Deleted));
        Ok(())
    }

    /// Changes settings (owner and admins).
    pub async fn update_room(
        &self,
        user: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        patch: RoomPatch,
    ) -> Result<Room> {
        let changed = changed_settings(&patch);
        let (room, m) = self.member_of(room_id, user).await?;
        if room.kind.is_conversation() || !can_change_settings(&room.permissions, m.role) {
            return Err(Error::Forbidden(
                "only the owner and admins change settings",
            ));
        }
        let (_, old_key) = self
            .store
            .room_by_name(&room.name.to_lowercase())
            .await
            .map_err(not_found)?;
        let topic = match patch.topic {
            Some(t) => Topic::parse(&t)?.into_inner(),
            None => room.topic.clone(),
        };
        let retention = patch.retention.unwrap_or(room.retention);
        check_retention(&retention)?;
        if room.seal.is_some()
            && (patch.key.is_some() || patch.visibility == Some(Visibility::Public))
        {
            return Err(invalid(
                "key",
                "a sealed room stays private and keeps its passphrase (make a new room to change it)",
            ));
        }
        let visibility = patch.visibility.unwrap_or(match room.kind {
            RoomKind::Private => Visibility::Private,
            _ => Visibility::Public,
        });
        let (kind, key_hash) = match (visibility, patch.key) {
            (Visibility::Public, None) => (RoomKind::Public, None),
            (Visibility::Public, Some(_)) => {
                return Err(invalid("key", "public rooms have no key"));
            }
            (Visibility::Private, Some(k)) => (
                RoomKind::Private,
                Some(hash_password(RoomKey::parse(&k)?.expose()).await?),
            ),
            (Visibility::Private, None) if old_key.is_some() => (RoomKind::Private, old_key),
            (Visibility::Private, None) => {
                return Err(invalid("key", "a private room needs a key"));
            }
        };
        let history = patch.history.unwrap_or(room.history);
        // Members' sockets hold back changes to messages they may not read: a new history
        // setting moves that line.
        let floors_move = history != room.history;
        let permissions = match &patch.permissions {
            Some(changes) => room.permissions.with(changes),
            None => room.permissions.clone(),
        };
        if !crate::domain::can_change_table(m.role, &room.permissions, &permissions) {
            return Err(Error::Forbidden(
                "the table is changed only below your own rank (and only the owner sets who changes settings)",
            ));
        }
        let settings = RoomSettings {
            topic,
            kind,
            key_hash,
            history,
            retention,
            permissions,
        };
        let room = self
            .store
            .update_room(room_id, settings)
            .await
            .map_err(not_found)?;
        self.audited(
            user,
            address,
            "room_settings_changed",
            Some(room_id),
            changed,
            "",
        )
        .await;
        self.publish_room(
            room_id,
            ServerEvent::RoomUpdated {
                room_id,
                room: &room,
            },
            floors_move.then_some(RoomChange::HistoryChanged),
        );
        let unread = self.store.unread(room_id, user).await?;
        Ok(room.for_member(&m, unread))
    }

    /// Deletes the room with everything in it (owner only); every member is told at once.
    pub async fn delete_room(&self, user: &UserId, room_id: &RoomId) -> Result<()> {
        let (_, m) = self.member_of(room_id, user).await?;
        if !can_delete_room(m.role) {
            return Err(Error::Forbidden("only the owner deletes the room"));
        }
        self.store.delete_room(room_id).await?;
        self.publish_room(
            room_id,
            ServerEvent::RoomDeleted { room_id },
            Some(RoomChange::Deleted),
        );
        Ok(())
    }

    /// The room's members, for any member (and anyone, for a public room).
    pub async fn members(
        &self,
        user: &UserId,
        room_id: &RoomId,
    ) -> Result<Vec<(User, Membership)>> {
        match self.member_of(room_id, user).await {
            Ok(_) => {}
            Err(Error::Forbidden(_)) if !self.store.is_banned(room_id, user).await? => {}
            Err(e) => return Err(e),
        }
        Ok(self.store.members(room_id).await?)
    }

    /// Bans `target`: removed at once, their sockets told, no rejoin until unbanned.
    pub async fn ban(
        &self,
        actor: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        target: &UserId,
        reason: &str,
    ) -> Result<()> {
        let (room, m) = self.member_of(room_id, actor).await?;
        super::moderation::check_reason(reason)?;
        self.store
            .user(target)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        let target_role = self
            .store
            .membership(room_id, target)
            .await?
            .map(|t| t.role);
        if room.kind.is_conversation()
            || actor == target
            || !can_ban(&room.permissions, m.role, target_role)
        {
            return Err(Error::Forbidden("you may not ban this user"));
        }
        self.carry_out_ban(actor, address, room_id, target, reason)
            .await
    }

    /// Bans `target` from the room (checked before), writes the audit entry and tells the
    /// room.
    pub(super) async fn carry_out_ban(
        &self,
        actor: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        target: &UserId,
        reason: &str,
    ) -> Result<()> {
        self.store.ban(room_id, target, actor, reason).await?;
        self.audited(
            actor,
            address,
            "member_banned",
            Some(room_id),
            target.to_string(),
            reason,
        )
        .await;
        let event = ServerEvent::MemberBanned {
            room_id,
            user_id: target,
            reason,
        };
        self.publish_room(room_id, event, Some(RoomChange::Removed(target.clone())));
        Ok(())
    }

    pub async fn unban(
        &self,
        actor: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        target: &UserId,
    ) -> Result<()> {
        let (room, m) = self.member_of(room_id, actor).await?;
        if !can_ban(&room.permissions, m.role, None) {
            return Err(Error::Forbidden("only the owner and admins unban"));
        }
        if !self.store.unban(room_id, target).await? {
            return Err(Error::NotFound("ban"));
        }
        self.audited(
            actor,
            address,
            "member_unbanned",
            Some(room_id),
            target.to_string(),
            "",
        )
        .await;
        Ok(())
    }

    /// The room's bans (owner and admins).
    pub async fn bans(
        &self,
        actor: &UserId,
        room_id: &RoomId,
    ) -> Result<Vec<(User, String, chrono::DateTime<chrono::Utc>)>> {
        let (room, m) = self.member_of(room_id, actor).await?;
        if !can_ban(&room.permissions, m.role, None) {
            return Err(Error::Forbidden("only the owner and admins see bans"));
        }
        Ok(self.store.bans(room_id).await?)
    }

    /// Sets a member's role: admins set roles below admin on those below them, the owner also
    /// makes and unmakes admins.
    pub async fn set_role(
        &self,
        actor: &UserId,
        address: std::net::IpAddr,
        room_id: &RoomId,
        target: &UserId,
        role: Role,
    ) -> Result<()> {
        let (_, m) = self.member_of(room_id, actor).await?;
        let Some(t) = self.store.membership(room_id, target).await? else {
            return Err(Error::NotFound("member"));
        };
        if !can_set_role(m.role, t.role, role) {
            return Err(Error::Forbidden(
                "roles are set only below one's own (admins: moderator or member; the owner: admin too)",
            ));
        }
        self.store.set_role(room_id, target, role).await?;
        // A mute set by someone below the new role could no longer be lifted by them.
        if role > Role::Member {
            self.store.unmute(room_id, target).await?;
        }
        self.audited(
            actor,
            address,
            "role_changed",
            Some(room_id),
            target.to_string(),
            role.as_str(),
        )
        .await;
        self.publish_room(
            room_id,
            ServerEvent::RoleChanged {
                room_id,
                user_id: target,
                role,
            },
            None,
        );
        Ok(())
    }

    /// The caller's rooms, each with its unread count.
    pub async fn my_rooms(&self, user: &UserId) -> Result<Vec<Room>> {
        let rooms = self.store.rooms_of(user).await?;
        let mut last: std::collections::HashMap<RoomId, Message> = self
            .store
            .last_messages(user)
            .await?
            .into_iter()
            .map(|m| (m.room_id.clone(), m))
            .collect();
        Ok(rooms
            .into_iter()
            .map(|(r, m, u)| {
                let floor = m.visible_from(r.history);
                let mut room = r.for_member(&m, u);
                room.last_message = last
                    .remove(&room.id)
                    .filter(|msg| msg.seq > floor)
                    .map(Box::new);
                room
            })
            .collect())
    }

    pub async fn public_rooms(&self, q: &str) -> Result<Vec<Room>> {
        Ok(self
            .store
            .public_rooms(search_text(q)?, SEARCH_LIMIT)
            .await?)
    }

    pub async fn search_users(&self, q: &str) -> Result<Vec<User>> {
        Ok(self
            .store
            .search_users(search_text(q)?, SEARCH_LIMIT)
            .await?)
    }

    /// The direct room of the two users, created on first use.
    pub async fn open_direct(&self, me: &User, other: &UserId) -> Result<Room> {
        if &me.id == other {
            return Err(invalid("user_id", "a direct room needs another user"));
        }
        let other = self
            .store
            .user(other)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        if other.deactivated || self.store.blocks(&other.id, &me.id).await? {
            return Err(Error::Forbidden(
                "this person does not accept direct messages from you",
            ));
        }
        let mut pair = [me.id.clone(), other.id.clone()];
        pair.sort();
        let room = match self.store.direct_room(&pair).await {
            Ok(room) => room,
            Err(StoreError::NotFound) => {
                let mut names = [me.username.as_str(), other.username.as_str()];
                names.sort();
                let new = NewRoom {
                    id: RoomId::generate(),
                    name: names.join(", "),
                    name_key: None,
                    skeletons: Vec::new(),
                    kind: RoomKind::Direct,
                    topic: String::new(),
                    owner_id: me.id.clone(),
                    key_hash: None,
                    history: HistoryVisibility::Shared,
                    retention: Retention::default(),
                    direct: Some(pair.clone()),
                    group: Vec::new(),
                    seal: None,
                };
                match self.store.create_room(new).await {
                    Ok(room) => {
                        for user in [me, &other] {
                            self.announce_new_member(&room, user);
                        }
                        room
                    }
                    // Both opened it at once: the other request created it.
                    Err(StoreError::Conflict(_)) => self.store.direct_room(&pair).await?,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let m = self
            .store
            .membership(&room.id, &me.id)
            .await?
            .ok_or(Error::NotFound("room"))?;
        let unread = self.store.unread(&room.id, &me.id).await?;
        Ok(room.for_member(&m, unread))
    }
}
