//! Roles in a room and who may do what to whom.
//!
//! Ranks: owner > admin > moderator > member. Nobody acts on someone of equal or higher rank.
//! Each room has a permission table ([`Permissions`]): for each [`Action`], the lowest role
//! that may take it. By default members post, react, upload and reply; moderators delete
//! members' messages, pin, kick, mute, invite and mention `@room`; admins also ban and change
//! settings; roles are set only below one's own (the owner also sets admins) and only the
//! owner deletes the room. An announcement room is one where only moderators and up post.

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

/// What a room's permission table governs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Post,
    React,
    Upload,
    Reply,
    Pin,
    Invite,
    MentionRoom,
    DeleteOthers,
    Kick,
    Mute,
    Ban,
    ChangeSettings,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Self::Post,
        Self::React,
        Self::Upload,
        Self::Reply,
        Self::Pin,
        Self::Invite,
        Self::MentionRoom,
        Self::DeleteOthers,
        Self::Kick,
        Self::Mute,
        Self::Ban,
        Self::ChangeSettings,
    ];

    /// Acts on another member (who must then rank below the actor).
    pub fn has_target(self) -> bool {
        matches!(
            self,
            Self::DeleteOthers | Self::Kick | Self::Mute | Self::Ban
        )
    }

    /// The lowest role a table may give it: moderation stays with moderators and up.
    pub fn floor(self) -> Role {
        match self {
            Self::DeleteOthers | Self::Kick | Self::Mute | Self::Ban | Self::ChangeSettings => {
                Role::Moderator
            }
            _ => Role::Member,
        }
    }

    /// Who may by default.
    pub fn default_role(self) -> Role {
        match self {
            Self::Post | Self::React | Self::Upload | Self::Reply => Role::Member,
            Self::Pin
            | Self::Invite
            | Self::MentionRoom
            | Self::DeleteOthers
            | Self::Kick
            | Self::Mute => Role::Moderator,
            Self::Ban | Self::ChangeSettings => Role::Admin,
        }
    }
}

/// A room's permission table: for each action, the lowest role that may take it. Kept as a
/// JSON object of the actions that differ from the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Permissions(pub std::collections::BTreeMap<Action, Role>);

impl Permissions {
    /// The lowest role that may take `action` here.
    pub fn min(&self, action: Action) -> Role {
        self.0
            .get(&action)
            .copied()
            .unwrap_or_else(|| action.default_role())
            .max(action.floor())
    }

    /// The whole table, every action named (as clients are shown it).
    pub fn full(&self) -> Self {
        Self(Action::ALL.iter().map(|&a| (a, self.min(a))).collect())
    }

    /// The table with `changes` applied, each clamped to its action's floor, keeping only
    /// what differs from the defaults.
    pub fn with(&self, changes: &Permissions) -> Self {
        let mut out = std::collections::BTreeMap::new();
        for a in Action::ALL {
            let role = changes.0.get(&a).copied().unwrap_or_else(|| self.min(a));
            let role = role.max(a.floor());
            if role != a.default_role() {
                out.insert(a, role);
            }
        }
        Self(out)
    }

    /// A stored table, read leniently: an action or role this build does not know is skipped
    /// (with a warning), never the whole table.
    pub fn from_stored(json: &str) -> Self {
        let raw: std::collections::BTreeMap<String, String> = match serde_json::from_str(json) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(error = %e, "a room's permission table could not be read");
                return Self::default();
            }
        };
        let mut out = std::collections::BTreeMap::new();
        for (action, role) in raw {
            let parsed = (
                serde_json::from_value::<Action>(serde_json::Value::String(action.clone())),
                serde_json::from_value::<Role>(serde_json::Value::String(role.clone())),
            );
            match parsed {
                (Ok(a), Ok(r)) => {
                    out.insert(a, r);
                }
                _ => tracing::warn!(action, role, "an unknown permission entry is skipped"),
            }
        }
        Self(out)
    }

    /// An announcement room: only moderators and up post and reply.
    pub fn announcements() -> Self {
        Self::default().with(&Self(
            [
                (Action::Post, Role::Moderator),
                (Action::Reply, Role::Moderator),
            ]
            .into(),
        ))
    }
}

/// Whether `actor` may take `action` in a room with `table`, on `target` (for actions that
/// have one: `None` when the target is not, or no longer, a member), who must rank below.
pub fn allowed(table: &Permissions, actor: Role, action: Action, target: Option<Role>) -> bool {
    actor >= table.min(action) && (!action.has_target() || target.is_none_or(|t| actor > t))
}

/// Whether `actor` may change the table from `old` to `new`: the owner may change anything;
/// others only entries now held below their own rank, and to at most their own rank (so no
/// one takes a power from an equal or a superior, or gives one above themselves), and never
/// who changes settings.
pub fn can_change_table(actor: Role, old: &Permissions, new: &Permissions) -> bool {
    actor == Role::Owner
        || Action::ALL.iter().all(|&a| {
            let (before, after) = (old.min(a), new.min(a));
            before == after || (a != Action::ChangeSettings && before < actor && after <= actor)
        })
}

/// Topic, key, visibility, history visibility, retention, the permission table.
pub fn can_change_settings(table: &Permissions, actor: Role) -> bool {
    allowed(table, actor, Action::ChangeSettings, None)
}

/// Banning or unbanning `target`, whose role is `None` when they are not (or no longer) a member.
pub fn can_ban(table: &Permissions, actor: Role, target: Option<Role>) -> bool {
    allowed(table, actor, Action::Ban, target)
}

/// Giving `target` the role `new_role`: admins set roles below admin on those below them; the
/// owner also makes and unmakes admins. Nobody makes an owner.
pub fn can_set_role(actor: Role, target: Role, new_role: Role) -> bool {
    actor >= Role::Admin && actor > target && actor > new_role
}

pub fn can_delete_room(actor: Role) -> bool {
    actor == Role::Owner
}

/// Deleting a message: one's own always; another's with `DeleteOthers`, when its sender
/// (`None`: no longer a member) ranks below.
pub fn can_delete_message(
    table: &Permissions,
    actor: Role,
    own: bool,
    sender: Option<Role>,
) -> bool {
    own || allowed(table, actor, Action::DeleteOthers, sender)
}

/// Pinning and unpinning messages; reading the earlier texts of edited messages.
pub fn can_moderate(table: &Permissions, actor: Role) -> bool {
    allowed(table, actor, Action::Pin, None)
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

    fn d() -> Permissions {
        Permissions::default()
    }

    #[test]
    fn ban_only_below_own_rank() {
        assert!(can_ban(&d(), Owner, Some(Admin)));
        assert!(can_ban(&d(), Owner, Some(Member)));
        assert!(can_ban(&d(), Admin, Some(Member)));
        assert!(can_ban(&d(), Admin, Some(Moderator)));
        assert!(can_ban(&d(), Admin, None));
        assert!(!can_ban(&d(), Admin, Some(Admin)));
        assert!(!can_ban(&d(), Admin, Some(Owner)));
        assert!(!can_ban(&d(), Moderator, Some(Member)));
        assert!(!can_ban(&d(), Member, Some(Member)));
        assert!(!can_ban(&d(), Member, None));
        assert!(!can_ban(&d(), Owner, Some(Owner)));
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
        assert!(can_change_settings(&d(), Admin));
        assert!(!can_change_settings(&d(), Moderator));
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
            assert!(can_delete_message(&d(), actor, true, Some(actor)));
            for sender in senders {
                let expected = actor >= Moderator && sender.is_none_or(|s| s < actor);
                assert_eq!(
                    can_delete_message(&d(), actor, false, sender),
                    expected,
                    "{actor:?} deletes a message of {sender:?}"
                );
            }
            assert_eq!(can_moderate(&d(), actor), actor >= Moderator);
        }
    }

    /// Every table choice × role × action × target: what a table says, clamped to floors,
    /// and never on an equal or higher rank.
    #[test]
    fn the_permission_table_is_followed_for_every_role_action_and_target() {
        let targets = [
            None,
            Some(Member),
            Some(Moderator),
            Some(Admin),
            Some(Owner),
        ];
        for action in Action::ALL {
            for set_to in Role::ALL {
                let table = Permissions::default()
                    .with(&Permissions([(action, set_to)].into_iter().collect()));
                let min = set_to.max(action.floor());
                assert_eq!(table.min(action), min, "{action:?} set to {set_to:?}");
                // The other actions keep their defaults.
                for other in Action::ALL.into_iter().filter(|&o| o != action) {
                    assert_eq!(table.min(other), other.default_role().max(other.floor()));
                }
                for actor in Role::ALL {
                    for target in targets {
                        let expected = actor >= min
                            && (!action.has_target() || target.is_none_or(|t| t < actor));
                        assert_eq!(
                            allowed(&table, actor, action, target),
                            expected,
                            "{actor:?} {action:?} {target:?} with {action:?} ≥ {set_to:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn defaults_announcements_and_the_stored_form() {
        let d = Permissions::default();
        for (action, role) in [
            (Action::Post, Member),
            (Action::React, Member),
            (Action::Upload, Member),
            (Action::Reply, Member),
            (Action::Pin, Moderator),
            (Action::Invite, Moderator),
            (Action::MentionRoom, Moderator),
            (Action::DeleteOthers, Moderator),
            (Action::Kick, Moderator),
            (Action::Mute, Moderator),
            (Action::Ban, Admin),
            (Action::ChangeSettings, Admin),
        ] {
            assert_eq!(d.min(action), role, "{action:?}");
        }
        let a = Permissions::announcements();
        assert!(!allowed(&a, Member, Action::Post, None));
        assert!(allowed(&a, Moderator, Action::Post, None));
        assert!(allowed(&a, Member, Action::React, None));
        // Only what differs is kept; a member cannot be given moderation.
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"post":"moderator","reply":"moderator"}"#
        );
        let lax = d.with(&Permissions(
            [(Action::Ban, Member), (Action::Post, Member)].into(),
        ));
        assert_eq!(lax.min(Action::Ban), Moderator);
        assert_eq!(lax, Permissions([(Action::Ban, Moderator)].into()));
        assert_eq!(d.full().0.len(), Action::ALL.len());
    }

    #[test]
    fn the_table_is_changed_only_below_ones_own_rank() {
        let d = Permissions::default();
        let set = |a, r| d.with(&Permissions([(a, r)].into()));
        for actor in Role::ALL {
            for a in Action::ALL {
                for r in Role::ALL {
                    let new = set(a, r);
                    let (before, after) = (d.min(a), new.min(a));
                    let expected = actor == Owner
                        || before == after
                        || (a != Action::ChangeSettings && before < actor && after <= actor);
                    assert_eq!(
                        can_change_table(actor, &d, &new),
                        expected,
                        "{actor:?} sets {a:?} to {r:?}"
                    );
                }
            }
        }
        // An admin cannot take banning from other admins, nor hand out who changes settings.
        assert!(!can_change_table(Admin, &d, &set(Action::Ban, Owner)));
        assert!(!can_change_table(
            Admin,
            &d,
            &set(Action::ChangeSettings, Moderator)
        ));
        assert!(can_change_table(Admin, &d, &set(Action::Post, Moderator)));
        assert!(can_change_table(
            Owner,
            &d,
            &set(Action::ChangeSettings, Owner)
        ));
    }

    #[test]
    fn a_stored_table_skips_what_it_does_not_know() {
        let t =
            Permissions::from_stored(r#"{"post":"moderator","teleport":"member","ban":"emperor"}"#);
        assert_eq!(t, Permissions([(Action::Post, Moderator)].into()));
        assert_eq!(Permissions::from_stored("not json"), Permissions::default());
    }
}
