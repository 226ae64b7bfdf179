//! Blocking: a user blocks another so that the other cannot open a direct room with them or
//! send in one they share (checked by the append, in the transaction that would store the
//! message), and so that the blocker's web client collapses the other's messages in shared
//! rooms. The blocked person is not told.

use super::{Chat, Error, Result, invalid};
use crate::domain::{User, UserId};

impl Chat {
    /// Blocks (`on`) or unblocks `other`.
    pub async fn set_block(&self, user: &UserId, other: &UserId, on: bool) -> Result<()> {
        if user == other {
            return Err(invalid("user_id", "you cannot block yourself"));
        }
        self.store
            .user(other)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        self.store.set_block(user, other, on).await?;
        Ok(())
    }

    /// The users `user` blocks, most recent first.
    pub async fn blocked(&self, user: &UserId) -> Result<Vec<User>> {
        Ok(self.store.blocked_by(user).await?)
    }
}
