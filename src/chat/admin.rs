//! Server administration, for server admins only: accounts (deactivate, reactivate, make or
//! unmake admin, sign out everywhere), every room (deleting one), server invites, the audit
//! log and the dashboard's totals. Every action is written to the audit log with the admin's
//! address. Reports are in `reports`; the settings in `settings`.

use futures_util::StreamExt as _;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

use super::{Chat, Error, Result, invalid};
use crate::bus::RoomChange;
use crate::domain::{
    AccountSummary, AuditFilter, AuditRecord, Invite, Room, RoomId, Totals, User, UserId,
};
use crate::protocol::ServerEvent;
use crate::store::{NewInvite, StoreError};

/// The most rows one admin listing returns.
pub const MAX_LISTED: i64 = 200;
/// The longest an invite may stay good.
const MAX_INVITE_DAYS: i64 = 365;

/// What changing an account means.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccountPatch {
    pub deactivated: Option<bool>,
    pub is_admin: Option<bool>,
}

/// An invite just made: the record and the code, shown this once.
pub struct NewCode {
    pub invite: Invite,
    pub code: String,
}

/// A fresh invite code: 128 random bits, hex.
pub(super) fn invite_code() -> String {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// When an invite made now with these limits stops being good.
pub(super) fn invite_expiry(
    expires_in_secs: Option<i64>,
    max_uses: Option<i64>,
) -> Result<Option<DateTime<Utc>>> {
    if let Some(n) = max_uses {
        if !(1..=10_000).contains(&n) {
            return Err(invalid("max_uses", "must be 1 to 10000"));
        }
    }
    match expires_in_secs {
        None => Ok(None),
        Some(s) if (60..=MAX_INVITE_DAYS * 86_400).contains(&s) => {
            Ok(Some(Utc::now() + TimeDelta::seconds(s)))
        }
        Some(_) => Err(invalid(
            "expires_in_secs",
            "must be between 60 seconds and 365 days",
        )),
    }
}

impl Chat {
    /// Accounts whose username or display name holds `q`, deactivated ones included.
    pub async fn admin_accounts(&self, admin: &User, q: &str) -> Result<Vec<AccountSummary>> {
        self.require_admin(admin)?;
        Ok(self.store.accounts(q.trim(), MAX_LISTED).await?)
    }

    /// One account with its counts and its sessions.
    pub async fn admin_account(
        &self,
        admin: &User,
        id: &UserId,
    ) -> Result<(AccountSummary, Vec<crate::domain::Session>)> {
        self.require_admin(admin)?;
        let account = self.store.account(id).await.map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("user"),
            other => other.into(),
        })?;
        let sessions = self.store.sessions_of(id).await?;
        Ok((account, sessions))
    }

    /// Deactivates or reactivates an account, makes or unmakes an admin. Deactivating signs
    /// the user out everywhere at once (their sockets close on every node). The last active
    /// admin can be neither deactivated nor unmade (`conflict`).
    pub async fn admin_update_account(
        &self,
        admin: &User,
        address: IpAddr,
        id: &UserId,
        patch: AccountPatch,
    ) -> Result<AccountSummary> {
        self.require_admin(admin)?;
        let before = self.store.account(id).await.map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("user"),
            other => other.into(),
        })?;
        let last_admin = |e: StoreError| match e {
            StoreError::Conflict("last admin") => {
                Error::Conflict("the server must keep at least one active admin")
            }
            other => other.into(),
        };
        if let Some(on) = patch.deactivated {
            if on != before.user.deactivated {
                let ended = self
                    .store
                    .set_deactivated(id, on)
                    .await
                    .map_err(last_admin)?;
                self.close_sessions(id, ended);
                let action = if on {
                    "user_deactivated"
                } else {
                    "user_reactivated"
                };
                self.audited(&admin.id, address, action, None, id.to_string(), "")
                    .await;
            }
        }
        if let Some(on) = patch.is_admin {
            if on != before.user.is_admin {
                self.store.set_admin(id, on).await.map_err(last_admin)?;
                let action = if on { "admin_granted" } else { "admin_revoked" };
                self.audited(&admin.id, address, action, None, id.to_string(), "")
                    .await;
            }
        }
        Ok(self.store.account(id).await?)
    }

    /// Signs the user out of every session (their sockets close on every node).
    pub async fn admin_sign_out(&self, admin: &User, address: IpAddr, id: &UserId) -> Result<()> {
        self.require_admin(admin)?;
        self.store
            .user(id)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        let ended = self.store.delete_other_sessions(id, None).await?;
        self.close_sessions(id, ended);
        self.audited(
            &admin.id,
            address,
            "user_signed_out",
            None,
            id.to_string(),
            "",
        )
        .await;
        Ok(())
    }

    /// Deletes an account. What stays is a placeholder its messages name ("Deleted user"): with
    /// `with_content` its messages are deleted first (tombstones, through the timeline like a
    /// moderator's deletions, so every client sees them go), else they stay, anonymised. Rooms
    /// it owned pass to their highest-ranking member (earliest joined among equals), or are
    /// deleted when nobody is left. Irreversible; audited as `user_deleted`.
    pub async fn admin_delete_user(
        &self,
        admin: &User,
        address: IpAddr,
        id: &UserId,
        with_content: bool,
    ) -> Result<()> {
        self.require_admin(admin)?;
        if &admin.id == id {
            return Err(Error::Forbidden("you cannot delete your own account here"));
        }
        let target = self
            .store
            .user(id)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        if target.is_admin {
            self.store.set_admin(id, false).await.map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Conflict("the server must keep at least one active admin")
                }
                other => other.into(),
            })?;
        }
        // Deactivated first: no new session or message of theirs while this runs.
        let ended = self.store.set_deactivated(id, true).await?;
        self.close_sessions(id, ended);
        for (room, _, _) in self.store.rooms_of(id).await? {
            // With their content, their direct conversations go whole, and with them the
            // rooms' keys: what of them lingers in backups can no longer be read.
            if with_content && room.kind == crate::domain::RoomKind::Direct {
                self.store.delete_room(&room.id).await?;
                let event = ServerEvent::RoomDeleted { room_id: &room.id };
                self.publish_room(&room.id, event, Some(RoomChange::Deleted));
                continue;
            }
            if &room.owner_id != id || room.kind.is_conversation() {
                continue;
            }
            let heir = self
                .store
                .members(&room.id)
                .await?
                .into_iter()
                .filter(|(u, _)| &u.id != id && !u.deactivated)
                .max_by_key(|(_, m)| (m.role, std::cmp::Reverse(m.joined_seq)));
            match heir {
                Some((heir, _)) => {
                    // The heir may have left meanwhile: the room then keeps its placeholder
                    // owner, and admins can delete it.
                    if self.store.transfer_room(&room.id, &heir.id).await.is_err() {
                        continue;
                    }
                    let event = ServerEvent::RoleChanged {
                        room_id: &room.id,
                        user_id: &heir.id,
                        role: crate::domain::Role::Owner,
                    };
                    self.publish_room(&room.id, event, None);
                }
                None => {
                    self.store.delete_room(&room.id).await?;
                    let event = ServerEvent::RoomDeleted { room_id: &room.id };
                    self.publish_room(&room.id, event, Some(RoomChange::Deleted));
                }
            }
        }
        if with_content {
            loop {
                let batch = self.store.live_messages_of(id, 256).await?;
                if batch.is_empty() {
                    break;
                }
                let deletions = batch.into_iter().map(|(room_id, seq)| {
                    self.committer
                        .append(crate::store::Entry::Change(crate::store::NewChange {
                            room_id,
                            actor: admin.id.clone(),
                            message_seq: seq,
                            change: crate::store::Change::Delete {
                                reason: "account deleted".into(),
                                audit: false,
                                address: address.to_string(),
                                by_server_admin: true,
                            },
                        }))
                });
                // A few at a time: these wait for room in the commit queue, and 256 waiting
                // at once would take every slot that frees before users' writes could.
                let done: Vec<_> = futures_util::stream::iter(deletions)
                    .buffer_unordered(16)
                    .collect()
                    .await;
                for done in done {
                    match done {
                        Ok(_) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let mut raw = [0u8; 8];
        rand::rng().fill_bytes(&mut raw);
        let placeholder = format!("deleted-{}", hex::encode(raw));
        let (ended, left) = self.store.anonymise_user(id, &placeholder).await?;
        self.close_sessions(id, ended);
        for room_id in &left {
            let event = ServerEvent::MemberLeft {
                room_id,
                user_id: id,
            };
            self.publish_room(room_id, event, Some(RoomChange::Removed(id.clone())));
            let group = self.store.room(room_id).await.map(|r| r.kind);
            if group.is_ok_and(|k| k == crate::domain::RoomKind::Group) {
                self.drop_group_if_empty(room_id).await?;
            }
        }
        let how = if with_content {
            "with their messages"
        } else {
            "messages kept, anonymised"
        };
        self.audited(
            &admin.id,
            address,
            "user_deleted",
            None,
            id.to_string(),
            how,
        )
        .await;
        Ok(())
    }

    /// Every room whose name holds `q` (private and direct ones too), with member counts.
    pub async fn admin_rooms(&self, admin: &User, q: &str) -> Result<Vec<(Room, i64)>> {
        self.require_admin(admin)?;
        Ok(self.store.all_rooms(q.trim(), MAX_LISTED).await?)
    }

    /// Any room's members with their roles (for admins; reading who is in a room is not
    /// reading it).
    pub async fn admin_room_members(
        &self,
        admin: &User,
        room_id: &RoomId,
    ) -> Result<Vec<(User, crate::domain::Membership)>> {
        self.require_admin(admin)?;
        self.store
            .room(room_id)
            .await
            .map_err(|_| Error::NotFound("room"))?;
        Ok(self.store.members(room_id).await?)
    }

    /// Deletes any room, as its owner could.
    pub async fn admin_delete_room(
        &self,
        admin: &User,
        address: IpAddr,
        room_id: &RoomId,
        reason: &str,
    ) -> Result<()> {
        self.require_admin(admin)?;
        super::moderation::check_reason(reason)?;
        let room = self
            .store
            .room(room_id)
            .await
            .map_err(|_| Error::NotFound("room"))?;
        self.store.delete_room(room_id).await?;
        self.audited(
            &admin.id,
            address,
            "room_deleted",
            Some(room_id),
            room.name,
            reason,
        )
        .await;
        self.publish_room(
            room_id,
            ServerEvent::RoomDeleted { room_id },
            Some(RoomChange::Deleted),
        );
        Ok(())
    }

    /// Makes an invitation to register (while registration is `invite`, only these let
    /// people in).
    pub async fn admin_invite(
        &self,
        admin: &User,
        address: IpAddr,
        expires_in_secs: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<NewCode> {
        self.require_admin(admin)?;
        let made = self
            .make_invite(&admin.id, None, expires_in_secs, max_uses)
            .await?;
        let id = made.invite.id.clone();
        self.audited(&admin.id, address, "invite_created", None, id, "")
            .await;
        Ok(made)
    }

    /// Makes an invite (to register, or into `room`) with these limits; its code is returned
    /// this once, only its hash kept.
    pub(super) async fn make_invite(
        &self,
        creator: &UserId,
        room: Option<&RoomId>,
        expires_in_secs: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<NewCode> {
        let expires_at = invite_expiry(expires_in_secs, max_uses)?;
        let code = invite_code();
        let invite = self
            .store
            .create_invite(&NewInvite {
                id: uuid::Uuid::now_v7().simple().to_string(),
                code_hash: super::accounts::token_hash(&code),
                room_id: room.cloned(),
                created_by: creator.clone(),
                expires_at,
                max_uses,
            })
            .await?;
        Ok(NewCode { invite, code })
    }

    pub async fn admin_invites(&self, admin: &User) -> Result<Vec<Invite>> {
        self.require_admin(admin)?;
        Ok(self.store.invites(None).await?)
    }

    pub async fn admin_revoke_invite(&self, admin: &User, address: IpAddr, id: &str) -> Result<()> {
        self.require_admin(admin)?;
        self.store
            .revoke_invite(id, None)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound("invite"),
                other => other.into(),
            })?;
        self.audited(
            &admin.id,
            address,
            "invite_revoked",
            None,
            id.to_owned(),
            "",
        )
        .await;
        Ok(())
    }

    /// Reads a page of any room's messages (newest first, or before `before`) as a server
    /// admin, without being a member. Every read is written to the audit log, which the room's
    /// owner and admins see (`GET /rooms/{id}/audit`).
    pub async fn admin_read_room(
        &self,
        admin: &User,
        address: IpAddr,
        room_id: &RoomId,
        before: Option<crate::domain::Seq>,
        limit: i64,
    ) -> Result<super::messages::Page> {
        self.require_admin(admin)?;
        if !(1..=200).contains(&limit) {
            return Err(invalid("limit", "must be 1-200"));
        }
        self.store
            .room(room_id)
            .await
            .map_err(|_| Error::NotFound("room"))?;
        let range = crate::store::MessageRange {
            room_id: room_id.clone(),
            floor: 0,
            limit,
            viewer: None,
        };
        // Recorded before anything is read: a read the log cannot hold does not happen.
        let target = before.map_or_else(|| "newest".to_owned(), |s| format!("before {s}"));
        self.store
            .audit(&crate::store::AuditEntry {
                actor: admin.id.clone(),
                action: "room_read_by_admin",
                room: Some(room_id.clone()),
                target,
                reason: String::new(),
                address: address.to_string(),
            })
            .await?;
        let messages = self.store.messages_before(range, before).await?;
        let history_start = match (messages.first(), self.store.oldest_seq(room_id, 0).await?) {
            (Some(first), Some(oldest)) => first.seq <= oldest,
            _ => true,
        };
        Ok(super::messages::Page {
            messages,
            history_start,
        })
    }

    /// The audit log, newest first, narrowed by `filter`.
    pub async fn audit_log(
        &self,
        admin: &User,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditRecord>> {
        self.require_admin(admin)?;
        filter.limit = filter.limit.clamp(1, 10_000);
        Ok(self.store.audit_log(&filter).await?)
    }

    /// The room's own audit entries (moderation in it, and admins reading it), for its owner
    /// and admins.
    pub async fn room_audit_log(
        &self,
        user: &UserId,
        room_id: &RoomId,
        before: Option<i64>,
    ) -> Result<Vec<AuditRecord>> {
        let (room, m) = self.member_of(room_id, user).await?;
        if !crate::domain::can_change_settings(&room.permissions, m.role) {
            return Err(Error::Forbidden(
                "only the room's owner and admins see its log",
            ));
        }
        let filter = AuditFilter {
            room: Some(room_id.clone()),
            before,
            limit: 100,
            ..AuditFilter::default()
        };
        // Who acted, not from where: addresses are for server admins.
        let mut entries = self.store.audit_log(&filter).await?;
        for e in &mut entries {
            e.address.clear();
        }
        Ok(entries)
    }

    /// The dashboard's counts.
    pub async fn totals(&self, admin: &User) -> Result<Totals> {
        self.require_admin(admin)?;
        Ok(self.store.totals().await?)
    }
}
