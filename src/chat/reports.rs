//! Reports of messages: a member reports a message they can read to the room's moderators
//! (those whose role may delete others' messages) and the server's admins, who are told at
//! once (`report_filed`); either closes it by dismissing it, deleting the message, banning
//! its sender from the room or (admins) deactivating the sender's account. Closing a report
//! closes every open report of the same message, and is written to the audit log.

use std::net::IpAddr;

use super::guard::Key;
use super::{Chat, Error, Result, invalid};
use crate::domain::{
    AccountSummary, Action, Report, Resolution, RoomId, Seq, User, UserId, allowed,
};
use crate::protocol::ServerEvent;
use crate::store::{Change, Entry, NewChange, NewReport, StoreError};

/// The longest reason a report may give, in characters.
const MAX_REASON_CHARS: usize = 500;
/// Reports one person may file per `login_window_secs` (default 5 minutes).
const MAX_REPORTS_PER_WINDOW: u32 = 20;

impl Chat {
    /// Files a report of message `seq` in the room. The reporter must be able to read it,
    /// and may not report their own message or the same message twice.
    pub async fn report_message(
        &self,
        reporter: &UserId,
        room_id: &RoomId,
        seq: Seq,
        reason: &str,
    ) -> Result<Report> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(invalid("reason", "must be 1 to 500 characters"));
        }
        if reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid("reason", "must not contain control characters"));
        }
        let (room, m) = self.member_of(room_id, reporter).await?;
        let message = self.readable_message(room_id, seq, &room, &m).await?;
        // Each report reaches every moderator and admin: a few a minute per person at most.
        self.key_guard
            .attempt(
                &Key::Account(format!("report:{reporter}")),
                MAX_REPORTS_PER_WINDOW,
            )
            .map_err(Error::RateLimited)?;
        if &message.sender.id == reporter {
            return Err(Error::Forbidden("you cannot report your own message"));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let new = NewReport {
            id: id.clone(),
            room_id: room_id.clone(),
            seq,
            reporter: reporter.clone(),
            reason: reason.to_owned(),
        };
        self.store.create_report(&new).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("you reported this message already"),
            other => other.into(),
        })?;
        let report = self.store.report(&id).await?;
        // Told: the room's moderators and the server's admins (each once).
        let mut told: Vec<UserId> = self.store.admin_ids().await?;
        for (user, member) in self.store.members(room_id).await? {
            if allowed(&room.permissions, member.role, Action::DeleteOthers, None) {
                told.push(user.id);
            }
        }
        told.sort_unstable();
        told.dedup();
        for user in told.iter().filter(|u| *u != reporter) {
            self.publish_user(user, ServerEvent::ReportFiled { report: &report });
        }
        Ok(report)
    }

    /// Whether `user` handles the room's reports, and how: `true` as a server admin (whatever
    /// their place in the room), `false` as a member whose role may delete others' messages
    /// there; `Forbidden` otherwise.
    async fn handles_reports(&self, user: &User, room_id: &RoomId) -> Result<bool> {
        if self.require_admin(user).is_ok() {
            return Ok(true);
        }
        match self.member_of(room_id, &user.id).await {
            Ok((room, m)) if allowed(&room.permissions, m.role, Action::DeleteOthers, None) => {
                Ok(false)
            }
            _ => Err(Error::Forbidden(
                "only the room's moderators and server admins see its reports",
            )),
        }
    }

    /// Reports, newest first: of one room (its moderators, or admins) or of every room
    /// (admins); open ones only unless `all`.
    pub async fn reports(
        &self,
        user: &User,
        room: Option<&RoomId>,
        all: bool,
    ) -> Result<Vec<Report>> {
        match room {
            Some(room_id) => {
                self.handles_reports(user, room_id).await?;
            }
            None => self.require_admin(user)?,
        }
        Ok(self
            .store
            .reports(!all, room, super::admin::MAX_LISTED)
            .await?)
    }

    /// Closes a report (and the other open reports of the same message), carrying out the
    /// `resolution` first: deleting the message, banning its sender from the room, or
    /// deactivating the sender's account (admins only).
    pub async fn resolve_report(
        &self,
        user: &User,
        address: IpAddr,
        id: &str,
        resolution: Resolution,
    ) -> Result<Report> {
        let report = self.store.report(id).await.map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("report"),
            other => other.into(),
        })?;
        let as_admin = self.handles_reports(user, &report.room_id).await?;
        if report.resolved_at.is_some() {
            return Err(Error::Conflict("this report is closed already"));
        }
        let reason = format!("report: {}", report.reason);
        let reason: String = reason
            .chars()
            .take(256)
            .filter(|c| !c.is_control())
            .collect();
        let sender = report.message.as_ref().map(|m| m.sender.id.clone());
        match (resolution, &sender) {
            (Resolution::Dismissed, _) => {}
            (_, None) => {
                return Err(Error::Conflict(
                    "the message is gone: the report can only be dismissed",
                ));
            }
            (Resolution::MessageDeleted, Some(_)) => {
                if !as_admin {
                    self.delete_message(
                        &user.id,
                        address,
                        &report.room_id,
                        report.seq,
                        Some(reason.clone()),
                    )
                    .await?;
                } else {
                    let entry = Entry::Change(NewChange {
                        room_id: report.room_id.clone(),
                        actor: user.id.clone(),
                        message_seq: report.seq,
                        change: Change::Delete {
                            reason: reason.clone(),
                            audit: true,
                            address: address.to_string(),
                            by_server_admin: true,
                        },
                    });
                    match self.committer.append(entry).await {
                        Ok(_) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            (Resolution::Banned, Some(target)) => {
                if !as_admin {
                    self.ban(&user.id, address, &report.room_id, target, &reason)
                        .await?;
                } else {
                    let room = self.store.room(&report.room_id).await?;
                    if room.kind.is_conversation() {
                        return Err(Error::Forbidden(
                            "nobody is banned from a direct conversation: delete the message or deactivate the sender",
                        ));
                    }
                    if &room.owner_id == target || &user.id == target {
                        return Err(Error::Forbidden(
                            "the room's owner cannot be banned from it",
                        ));
                    }
                    self.carry_out_ban(&user.id, address, &report.room_id, target, &reason)
                        .await?;
                }
            }
            (Resolution::Deactivated, Some(target)) => {
                self.require_admin(user)?;
                let patch = super::admin::AccountPatch {
                    deactivated: Some(true),
                    is_admin: None,
                };
                let _: AccountSummary = self
                    .admin_update_account(user, address, target, patch)
                    .await?;
            }
        }
        self.store
            .resolve_report(id, &user.id, resolution.as_str())
            .await?;
        self.audited(
            &user.id,
            address,
            "report_resolved",
            Some(&report.room_id),
            report.seq.to_string(),
            resolution.as_str(),
        )
        .await;
        Ok(self.store.report(id).await?)
    }
}
