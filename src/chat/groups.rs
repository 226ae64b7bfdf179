//! Group conversations: a direct conversation of 3 to 9 people, started by one of them with
//! the others named. No name to find it by (it is called after its people), no settings,
//! moderation or invites, and no owner: everyone in it is a member (`owner_id` only records
//! who started it). Every message notifies by default, as in a direct room; anyone may leave,
//! and the last one out deletes it. Nobody who blocks the starter is added, and one person
//! starts at most 20 groups per `login_window_secs`.

use super::{Chat, Error, Result, invalid};
use crate::domain::{HistoryVisibility, Retention, Room, RoomId, RoomKind, Unread, User, UserId};
use crate::store::NewRoom;

/// The most people a group conversation holds, its starter included.
pub const MAX_GROUP: usize = 9;

impl Chat {
    /// Starts a group conversation of `me` and `others` (2 to 8 other people).
    pub async fn open_group(&self, me: &User, others: &[UserId]) -> Result<Room> {
        self.key_guard
            .attempt(&super::guard::Key::Account(format!("groups:{}", me.id)), 20)
            .map_err(Error::RateLimited)?;
        let mut ids: Vec<UserId> = others.iter().filter(|u| *u != &me.id).cloned().collect();
        ids.sort();
        ids.dedup();
        if ids.len() < 2 || ids.len() > MAX_GROUP - 1 {
            return Err(invalid(
                "user_ids",
                "a group conversation has 3 to 9 people: name 2 to 8 others",
            ));
        }
        let mut people = vec![me.clone()];
        for id in &ids {
            let user = self
                .store
                .user(id)
                .await
                .map_err(|_| Error::NotFound("user"))?;
            if user.deactivated || self.store.blocks(id, &me.id).await? {
                return Err(Error::Forbidden(
                    "one of them does not accept direct messages from you",
                ));
            }
            people.push(user);
        }
        let mut names: Vec<&str> = people.iter().map(|u| u.username.as_str()).collect();
        names.sort_unstable();
        let new = NewRoom {
            id: RoomId::generate(),
            name: names.join(", "),
            name_key: None,
            skeletons: Vec::new(),
            kind: RoomKind::Group,
            topic: String::new(),
            owner_id: me.id.clone(),
            key_hash: None,
            history: HistoryVisibility::Shared,
            retention: Retention::default(),
            direct: None,
            group: ids,
            seal: None,
        };
        let room = self.store.create_room(new).await?;
        for user in &people {
            self.announce_new_member(&room, user);
        }
        let m = self
            .store
            .membership(&room.id, &me.id)
            .await?
            .ok_or(Error::NotFound("room"))?;
        Ok(room.for_member(&m, Unread::default()))
    }
}
