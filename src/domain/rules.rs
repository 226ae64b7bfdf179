//! Roles in a room and who may do what to whom.
//!
//! Ranks: owner > admin > moderator > member. Nobody acts on someone of equal or higher rank.
//! Moderators delete members' messages and pin; admins also ban, change settings and set
//! roles below admin; the owner also sets admins and deletes the room.

use serde::{Deserialize, Serialize};

/// A member's role in a room, ordered by rank (`Member < Moderator < Admin < Owner`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Moderator,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Member, Self::Moderator, Self::Admin, Self::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
    pub fn from_db(s: &str) -> Self {
        match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "moderator" => Self::Moderator,
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

/// Giving `target` the role `new_role`: admins set roles below admin on those below them; the
/// owner also makes and unmakes admins. Nobody makes an owner.
pub fn can_set_role(actor: Role, target: Role, new_role: Role) -> bool {
    actor >= Role::Admin && actor > target && actor > new_role
}

pub fn can_delete_room(actor: Role) -> bool {
    actor == Role::Owner
}

/// Deleting a message: one's own always; another's as a moderator and up, when its sender
/// (`None`: no longer a member) ranks below.
pub fn can_delete_message(actor: Role, own: bool, sender: Option<Role>) -> bool {
    own || (actor >= Role::Moderator && sender.is_none_or(|s| actor > s))
}

/// Pinning and unpinning messages; reading the earlier texts of edited messages.
pub fn can_moderate(actor: Role) -> bool {
    actor >= Role::Moderator
}

#[cfg(test)]
mod tests {
    use super::Role::*;
    use super::*;

    #[test]
    fn ranks_are_ordered() {
        assert!(Owner > Admin && Admin > Moderator && Moderator > Member);
        for r in Role::ALL {
            assert_eq!(Role::from_db(r.as_str()), r);
        }
    }

    #[test]
    fn ban_only_below_own_rank() {
        assert!(can_ban(Owner, Some(Admin)));
        assert!(can_ban(Owner, Some(Member)));
        assert!(can_ban(Admin, Some(Member)));
        assert!(can_ban(Admin, Some(Moderator)));
        assert!(can_ban(Admin, None));
        assert!(!can_ban(Admin, Some(Admin)));
        assert!(!can_ban(Admin, Some(Owner)));
        assert!(!can_ban(Moderator, Some(Member)));
        assert!(!can_ban(Member, Some(Member)));
        assert!(!can_ban(Member, None));
        assert!(!can_ban(Owner, Some(Owner)));
    }

    /// Every actor × target × new role.
    #[test]
    fn roles_are_set_only_below_ones_own() {
        for actor in Role::ALL {
            for target in Role::ALL {
                for new in Role::ALL {
                    let expected = match actor {
                        Owner => target != Owner && new != Owner,
                        Admin => target < Admin && new < Admin,
                        Moderator | Member => false,
                    };
                    assert_eq!(
                        can_set_role(actor, target, new),
                        expected,
                        "{actor:?} sets {target:?} to {new:?}"
                    );
                }
            }
        }
        assert!(can_delete_room(Owner));
        assert!(!can_delete_room(Admin));
        assert!(can_change_settings(Admin));
        assert!(!can_change_settings(Moderator));
    }

    /// Every actor × sender (or a sender who left), own message or not.
    #[test]
    fn messages_are_deleted_by_their_sender_or_a_higher_moderator() {
        let senders = [
            None,
            Some(Member),
            Some(Moderator),
            Some(Admin),
            Some(Owner),
        ];
        for actor in Role::ALL {
            assert!(can_delete_message(actor, true, Some(actor)));
            for sender in senders {
                let expected = actor >= Moderator && sender.is_none_or(|s| s < actor);
                assert_eq!(
                    can_delete_message(actor, false, sender),
                    expected,
                    "{actor:?} deletes a message of {sender:?}"
                );
            }
            assert_eq!(can_moderate(actor), actor >= Moderator);
        }
    }
}
