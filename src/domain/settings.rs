//! The server settings an admin changes while the server runs (`PATCH /admin/settings`): who
//! may register, the server's name and welcome text, upload and send limits, the default
//! retention. The configuration gives each its starting value; a value an admin set is kept
//! in the database (one row per name) and wins over the configuration from then on.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone.
    #[default]
    Open,
    /// Only with an invite code from an admin.
    Invite,
    /// Nobody (admins create accounts with `natter admin create-user`).
    Closed,
}

impl Registration {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "invite" => Some(Self::Invite),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

impl std::str::FromStr for Registration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text).ok_or_else(|| format!("{text:?}: expected open, invite or closed"))
    }
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerSettings {
    pub registration: Registration,
    /// Shown on the sign-in page and in the page title; at most 64 characters.
    pub server_name: String,
    /// Shown on the sign-in page; at most 2,000 characters (plain text).
    pub welcome_text: String,
    /// The largest file one upload may be, in bytes (at least 1).
    pub max_upload_bytes: u64,
    /// What one user's uploads may add up to, in bytes; 0 is no limit.
    pub upload_quota_per_user_bytes: u64,
    /// Messages a user may send per second, after a burst of `send_burst` (each at least 1).
    pub send_rate_per_sec: u32,
    pub send_burst: u32,
    /// The retention of rooms that set none: keep at most this many messages, or messages
    /// younger than this many seconds (null: no limit of that kind).
    pub retention_max_messages: Option<i64>,
    pub retention_max_age_secs: Option<i64>,
    /// Admins must turn on two-factor sign-in before they may use the admin API.
    pub require_totp_for_admins: bool,
}

const MAX_NAME_CHARS: usize = 64;
const MAX_WELCOME_CHARS: usize = 2000;

impl ServerSettings {
    /// Sets one setting from its stored or sent JSON value, checking it.
    pub fn set(&mut self, name: &str, value: &serde_json::Value) -> Result<(), ValidationError> {
        fn field<T: serde::de::DeserializeOwned>(
            name: &'static str,
            value: &serde_json::Value,
            what: &str,
        ) -> Result<T, ValidationError> {
            T::deserialize(value).map_err(|_| ValidationError::invalid(name, what))
        }
        let at_least_one = |name: &'static str, n: u64| {
            if n == 0 {
                Err(ValidationError::invalid(name, "must be at least 1"))
            } else {
                Ok(n)
            }
        };
        let limit = |name: &'static str| -> Result<Option<i64>, ValidationError> {
            match field::<Option<i64>>(name, value, "must be a whole number or null")? {
                Some(n) if n < 1 => Err(ValidationError::invalid(name, "must be at least 1")),
                other => Ok(other),
            }
        };
        match name {
            "registration" => {
                let text: String = field("registration", value, "must be open, invite or closed")?;
                self.registration = Registration::parse(&text).ok_or_else(|| {
                    ValidationError::invalid("registration", "must be open, invite or closed")
                })?;
            }
            "server_name" => {
                let text: String = field("server_name", value, "must be text")?;
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_NAME_CHARS {
                    return Err(ValidationError::invalid(
                        "server_name",
                        "must be 1 to 64 characters",
                    ));
                }
                if text.chars().any(char::is_control) {
                    return Err(ValidationError::invalid(
                        "server_name",
                        "must not hold control characters",
                    ));
                }
                self.server_name = text.to_owned();
            }
            "welcome_text" => {
                let text: String = field("welcome_text", value, "must be text")?;
                if text.chars().count() > MAX_WELCOME_CHARS {
                    return Err(ValidationError::invalid(
                        "welcome_text",
                        "must be at most 2000 characters",
                    ));
                }
                self.welcome_text = text.trim().to_owned();
            }
            "max_upload_bytes" => {
                let n: u64 = field("max_upload_bytes", value, "must be a whole number")?;
                self.max_upload_bytes = at_least_one("max_upload_bytes", n)?;
            }
            "upload_quota_per_user_bytes" => {
                self.upload_quota_per_user_bytes = field(
                    "upload_quota_per_user_bytes",
                    value,
                    "must be a whole number",
                )?;
            }
            "send_rate_per_sec" | "send_burst" => {
                let field_name = if name == "send_rate_per_sec" {
                    "send_rate_per_sec"
                } else {
                    "send_burst"
                };
                let n: u32 = field(field_name, value, "must be a whole number")?;
                let n = at_least_one(field_name, n.into())? as u32;
                if name == "send_rate_per_sec" {
                    self.send_rate_per_sec = n;
                } else {
                    self.send_burst = n;
                }
            }
            "retention_max_messages" => {
                self.retention_max_messages = limit("retention_max_messages")?;
            }
            "retention_max_age_secs" => {
                self.retention_max_age_secs = limit("retention_max_age_secs")?;
            }
            "require_totp_for_admins" => {
                self.require_totp_for_admins =
                    field("require_totp_for_admins", value, "must be true or false")?;
            }
            _ => return Err(ValidationError::invalid("settings", "no such setting")),
        }
        Ok(())
    }

    /// Each setting as its name and JSON value.
    pub fn entries(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> ServerSettings {
        ServerSettings {
            registration: Registration::Open,
            server_name: "Natter".into(),
            welcome_text: String::new(),
            max_upload_bytes: 100,
            upload_quota_per_user_bytes: 0,
            send_rate_per_sec: 10,
            send_burst: 20,
            retention_max_messages: None,
            retention_max_age_secs: None,
            require_totp_for_admins: false,
        }
    }

    #[test]
    fn each_setting_is_checked() {
        let mut s = defaults();
        s.set("registration", &json!("invite")).unwrap();
        assert_eq!(s.registration, Registration::Invite);
        assert_eq!(
            s.set("registration", &json!("maybe")).unwrap_err().field,
            "registration"
        );
        s.set("server_name", &json!("  Home  ")).unwrap();
        assert_eq!(s.server_name, "Home");
        for bad in [json!(""), json!("x".repeat(65)), json!("a\u{7}b"), json!(3)] {
            assert!(s.set("server_name", &bad).is_err(), "{bad}");
        }
        assert!(s.set("welcome_text", &json!("w".repeat(2001))).is_err());
        s.set("welcome_text", &json!("Hello")).unwrap();
        assert!(s.set("max_upload_bytes", &json!(0)).is_err());
        assert!(s.set("max_upload_bytes", &json!(-1)).is_err());
        s.set("max_upload_bytes", &json!(5)).unwrap();
        s.set("upload_quota_per_user_bytes", &json!(0)).unwrap();
        assert!(s.set("send_rate_per_sec", &json!(0)).is_err());
        assert!(s.set("send_burst", &json!(1u64 << 40)).is_err());
        s.set("send_burst", &json!(3)).unwrap();
        assert_eq!(s.send_burst, 3);
        s.set("retention_max_messages", &json!(100)).unwrap();
        assert_eq!(s.retention_max_messages, Some(100));
        s.set("retention_max_messages", &json!(null)).unwrap();
        assert_eq!(s.retention_max_messages, None);
        assert!(s.set("retention_max_age_secs", &json!(0)).is_err());
        assert!(s.set("is_admin", &json!(true)).is_err());
    }

    #[test]
    fn entries_name_every_setting_and_read_back() {
        let mut s = defaults();
        s.welcome_text = "hi".into();
        let entries = s.entries();
        assert_eq!(entries.len(), 10);
        let mut back = defaults();
        for (name, value) in &entries {
            back.set(name, value).unwrap();
        }
        assert_eq!(back, s);
    }
}
