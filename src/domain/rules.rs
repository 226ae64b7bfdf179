//! Roles in a room and who may do what to whom.
//!
//! Ranks: owner > admin > member. The owner alone promotes, demotes and deletes; owner and
//! admins change settings and ban, but never someone of equal or higher rank.

use serde::{Deserialize, Serialize};

/// A member's role in a room, ordered by rank (`Member < Admin < Owner`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
    pub fn from_db(s: &str) -> Self {
        match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            _ => Self::Member,
        }
    }
}

/// Topic, key, visibility, history visibility, retention.
pub fn can_change_settings(actor: Role) -> bool {
    actor >= Role::Admin
}

/// Banning or unbanning `target`, whose role is `None` when they are not (or no longer) a member.
pub fn can_ban(actor: Role, target: Option<Role>) -> bool {
    actor >= Role::Admin && target.is_none_or(|t| actor > t)
}

/// Promoting or demoting between member and admin.
pub fn can_set_role(actor: Role, target: Role, new_role: Role) -> bool {
    actor == Role::Owner && target != Role::Owner && new_role != Role::Owner
}

pub fn can_delete_room(actor: Role) -> bool {
    actor == Role::Owner
}

#[cfg(test)]
mod tests {
    use super::Role::*;
    use super::*;

    #[test]
    fn ranks_are_ordered() {
        assert!(Owner > Admin && Admin > Member);
    }

    #[test]
    fn ban_only_below_own_rank() {
        assert!(can_ban(Owner, Some(Admin)));
        assert!(can_ban(Owner, Some(Member)));
        assert!(can_ban(Admin, Some(Member)));
        assert!(can_ban(Admin, None));
        assert!(!can_ban(Admin, Some(Admin)));
        assert!(!can_ban(Admin, Some(Owner)));
        assert!(!can_ban(Member, Some(Member)));
        assert!(!can_ban(Member, None));
        assert!(!can_ban(Owner, Some(Owner)));
    }

    #[test]
    fn only_owner_manages_roles_and_deletes() {
        assert!(can_set_role(Owner, Member, Admin));
        assert!(can_set_role(Owner, Admin, Member));
        assert!(!can_set_role(Admin, Member, Admin));
        assert!(!can_set_role(Owner, Member, Owner));
        assert!(can_delete_room(Owner));
        assert!(!can_delete_room(Admin));
        assert!(can_change_settings(Admin));
        assert!(!can_change_settings(Member));
    }
}
