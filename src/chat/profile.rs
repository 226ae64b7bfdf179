//! Profiles and presence as others see them: profile changes, avatars, the user's presence
//! choice, notification levels, read receipts, and the background task that expires typing
//! indicators and notices idle users.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use super::{Chat, Error, Result, avatar};
use crate::bus::{BusEvent, UserChange};
use crate::domain::{
    DisplayName, Locale, NotifyLevel, PresenceMode, PresenceStatus, RoomId, Sender, Seq,
    StatusEmoji, StatusText, User, UserId,
};
use crate::protocol::ServerEvent;
use crate::store::Profile;

/// `PATCH /me`: each field present is changed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub status_text: Option<String>,
    pub status_emoji: Option<String>,
    /// `auto` (online while connected, away when idle), `away`, or `invisible`.
    pub presence: Option<PresenceMode>,
    /// Whether others may see how far you have read.
    pub send_receipts: Option<bool>,
    /// The web client's language: `en`, `es`, `de`, `fr` or `ar`; empty to follow the
    /// browser's.
    pub locale: Option<String>,
    /// `true`: each new sign-in signs out every other session of the account.
    pub one_device: Option<bool>,
    /// Where password reset links are sent (when the server sends email); empty for none.
    /// Changing it takes `current_password`: whoever holds a session must not be able to send
    /// the account's reset links to themself.
    pub email: Option<String>,
    /// Your password, needed only to change `email`.
    pub current_password: Option<String>,
}

/// Avatar decodes running at once: one (each may allocate up to
/// `avatar::MAX_DECODE_ESTIMATE` for about a second; uploads are rare).
static DECODING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(1)));

/// Avatar uploads decoding or waiting to, at most.
static AVATAR_QUEUE: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(8)));

/// Users with an avatar upload in progress: one each, so one account cannot fill the queue.
// std Mutex: held for one set update, never across an await.
static UPLOADING: LazyLock<Mutex<HashSet<UserId>>> = LazyLock::new(Mutex::default);

/// An upload's places in line ([`Chat::start_avatar_upload`]), given up when dropped.
pub struct AvatarUpload {
    mine: Uploading,
    queued: tokio::sync::OwnedSemaphorePermit,
}

/// A user's place among [`UPLOADING`], given up when dropped.
struct Uploading(UserId);

impl Uploading {
    fn start(user: &UserId) -> Option<Self> {
        let mut uploading = UPLOADING.lock().expect("uploading lock");
        uploading.insert(user.clone()).then(|| Self(user.clone()))
    }
}

impl Drop for Uploading {
    fn drop(&mut self) {
        UPLOADING.lock().expect("uploading lock").remove(&self.0);
    }
}

impl Chat {
    /// Changes the caller's profile and settings; rooms they are in hear of it.
    pub async fn update_profile(&self, user: &User, patch: ProfilePatch) -> Result<User> {
        let profile = Profile {
            display_name: match patch.display_name {
                Some(d) => DisplayName::parse(&d)?.into_inner(),
                None => user.display_name.clone(),
            },
            status_text: match patch.status_text {
                Some(t) => StatusText::parse(&t)?.into_inner(),
                None => user.status_text.clone(),
            },
            status_emoji: match patch.status_emoji {
                Some(e) => StatusEmoji::parse(&e)?.into_inner(),
                None => user.status_emoji.clone(),
            },
            presence_mode: patch.presence.unwrap_or(user.presence_mode),
            send_receipts: patch.send_receipts.unwrap_or(user.send_receipts),
            locale: match patch.locale {
                Some(l) => Locale::parse(&l)?.into_inner(),
                None => user.locale.clone(),
            },
            one_device: patch.one_device.unwrap_or(user.one_device),
            email: match patch.email {
                Some(e) => parse_email(&e)?,
                None => user.email.clone(),
            },
        };
        if profile.email != user.email {
            let Some(password) = patch.current_password.as_deref() else {
                return Err(super::invalid(
                    "current_password",
                    "changing the email address takes your password",
                ));
            };
            let key = super::guard::Key::Account(format!("email:{}", user.id));
            self.confirm_password_keyed(user, key, password).await?;
        }
        let updated = self.store.update_profile(&user.id, &profile).await?;
        if profile.email != user.email && !user.email.is_empty() {
            self.mail_email_changed(user, &profile.email);
        }
        let visible = (
            &updated.display_name,
            &updated.status_text,
            &updated.status_emoji,
        );
        if visible != (&user.display_name, &user.status_text, &user.status_emoji) {
            self.announce_profile(&updated).await?;
        }
        if profile.presence_mode != user.presence_mode {
            if let Some(status) = self.presence.set_mode(&user.id, profile.presence_mode) {
                self.announce_presence(&user.id, status).await?;
            }
        }
        Ok(updated)
    }

    /// Takes the caller's place for an avatar upload, before its body is read: each user has
    /// one upload in progress at most ([`UPLOADING`]) and at most [`AVATAR_QUEUE`] uploads
    /// are read, wait or decode at once; past either limit the upload is refused with
    /// `RateLimited` (retry in a second), so a burst of uploads bounds memory instead of
    /// buffering and decoding everything at once.
    pub fn start_avatar_upload(&self, user: &UserId) -> Result<AvatarUpload> {
        let mine = Uploading::start(user).ok_or(Error::RateLimited(Duration::from_secs(1)))?;
        let queued = AVATAR_QUEUE
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::RateLimited(Duration::from_secs(1)))?;
        Ok(AvatarUpload { mine, queued })
    }

    /// Replaces the caller's avatar with an uploaded image. One image is decoded at a time
    /// ([`DECODING`]). The places taken move into the decoding job: a client that hangs up
    /// does not free them while its image decodes.
    pub async fn upload_avatar(
        &self,
        user: &UserId,
        upload: AvatarUpload,
        bytes: bytes::Bytes,
    ) -> Result<User> {
        let AvatarUpload { mine, queued } = upload;
        let turn = DECODING
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| anyhow::anyhow!("avatar queue: {e}"))?;
        let thumbs = tokio::task::spawn_blocking(move || {
            let thumbs = avatar::thumbnails(&bytes);
            drop((turn, queued, mine));
            thumbs
        })
        .await
        .map_err(|e| anyhow::anyhow!("avatar task: {e}"))??;
        let updated = self
            .store
            .set_avatar(user, Some((&thumbs.hash, &thumbs.sizes)))
            .await?;
        self.announce_profile(&updated).await?;
        Ok(updated)
    }

    /// Goes back to the generated avatar.
    pub async fn remove_avatar(&self, user: &UserId) -> Result<User> {
        let updated = self.store.set_avatar(user, None).await?;
        self.announce_profile(&updated).await?;
        Ok(updated)
    }

    /// Tells the user's rooms and devices of the new profile.
    async fn announce_profile(&self, user: &User) -> Result<()> {
        let change = UserChange::Profile(Arc::new(Sender::from(user)));
        self.bus.publish(BusEvent::User {
            user_id: user.id.clone(),
            frame: None,
            change: Some(change),
        });
        for room_id in self.store.room_ids_of(&user.id).await? {
            self.publish_room(
                &room_id,
                ServerEvent::UserUpdated {
                    room_id: Some(&room_id),
                    user,
                },
                None,
            );
        }
        self.publish_user(
            &user.id,
            ServerEvent::UserUpdated {
                room_id: None,
                user,
            },
        );
        Ok(())
    }

    /// A connection opened: others may now see the user online.
    pub async fn user_connected(&self, user: &User) -> Result<()> {
        if let Some(status) = self.presence.connected(&user.id, user.presence_mode) {
            self.announce_presence(&user.id, status).await?;
        }
        Ok(())
    }

    /// A connection closed: after the last one, others see the user offline.
    pub async fn user_disconnected(&self, user: &UserId) -> Result<()> {
        if let Some(status) = self.presence.disconnected(user) {
            self.announce_presence(user, status).await?;
        }
        Ok(())
    }

    /// The user did something: an idle user is back.
    pub async fn user_active(&self, user: &UserId) -> Result<()> {
        if let Some(status) = self.presence.active(user) {
            self.announce_presence(user, status).await?;
        }
        Ok(())
    }

    /// The user chose how others see them (kept for their next connections too).
    pub async fn set_presence(&self, user: &UserId, mode: PresenceMode) -> Result<()> {
        let current = self.store.user(user).await?;
        let patch = ProfilePatch {
            presence: Some(mode),
            ..ProfilePatch::default()
        };
        self.update_profile(&current, patch).await?;
        Ok(())
    }

    /// What others see of the user, and since when they were last connected.
    pub async fn presence_of(
        &self,
        user: &UserId,
    ) -> Result<(PresenceStatus, Option<DateTime<Utc>>)> {
        let status = match &self.board {
            Some(board) => board.status(user).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cluster presence unavailable; answering from this node");
                self.presence.status(user)
            }),
            None => self.presence.status(user),
        };
        let last_seen = if status == PresenceStatus::Offline {
            self.store.last_seen(user).await?
        } else {
            None
        };
        Ok((status, last_seen))
    }

    /// Sends a `presence` event to each of the user's rooms. Going offline records the time
    /// as last seen, unless the user is invisible (which would give them away).
    async fn announce_presence(&self, user: &UserId, local: PresenceStatus) -> Result<()> {
        // In a cluster, others see the best status over all nodes: speak only when that moves.
        let status = match &self.board {
            Some(board) => match board.record(user, local).await {
                Ok((before, after)) if before == after => return Ok(()),
                Ok((_, after)) => after,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster presence unavailable; announcing this node's view");
                    local
                }
            },
            None => local,
        };
        let mut last_seen = None;
        if status == PresenceStatus::Offline {
            if self.store.user(user).await?.presence_mode == PresenceMode::Invisible {
                last_seen = self.store.last_seen(user).await?;
            } else {
                let now = Utc::now();
                self.store.set_last_seen(user, now).await?;
                last_seen = Some(now);
            }
        }
        for room_id in self.store.room_ids_of(user).await? {
            let event = ServerEvent::Presence {
                room_id: &room_id,
                user_id: user,
                status,
                last_seen,
            };
            self.publish_room(&room_id, event, None);
        }
        Ok(())
    }

    /// Sets the caller's notification level in a room (`None`: back to the default).
    pub async fn set_notify(
        &self,
        user: &UserId,
        room_id: &RoomId,
        level: Option<NotifyLevel>,
    ) -> Result<crate::domain::Room> {
        let (room, _) = self.member_of(room_id, user).await?;
        self.store.set_notify(room_id, user, level).await?;
        let (_, m) = self.member_of(room_id, user).await?;
        let room = room.for_member(&m, self.store.unread(room_id, user).await?);
        let effective = room.notify.expect("member view has a level");
        let change = UserChange::Notify(room_id.clone(), effective);
        let frame = crate::bus::Frame::new(
            ServerEvent::RoomUpdated {
                room_id,
                room: &room,
            }
            .to_text(),
        );
        self.bus.publish(BusEvent::User {
            user_id: user.clone(),
            frame: Some(frame),
            change: Some(change),
        });
        Ok(room)
    }

    /// How far each member who shares receipts has read.
    pub async fn receipts(&self, user: &UserId, room_id: &RoomId) -> Result<Vec<(UserId, Seq)>> {
        self.member_of(room_id, user).await?;
        Ok(self.store.receipts(room_id).await?)
    }
}

/// Expires typing indicators and notices idle users, until the process ends.
pub async fn run_liveness(chat: Arc<Chat>) {
    let tick = (chat.typing.ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        for (room_id, user) in chat.typing.expired() {
            chat.publish_typing(&room_id, &user, false);
        }
        for (user, status) in chat.presence.sweep() {
            if let Err(e) = chat.announce_presence(&user, status).await {
                tracing::warn!(error = %e, "announcing presence");
            }
        }
    }
}

/// An email address as given (trimmed; empty for none), checked by `lettre`'s rules.
fn parse_email(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    if text.len() > 254 || text.parse::<lettre::Address>().is_err() {
        return Err(super::invalid("email", "is not an email address"));
    }
    Ok(text.to_owned())
}
