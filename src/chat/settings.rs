//! The server settings in force on this node ([`ServerSettings`]: the configuration's values
//! with what admins set on top), changing them, and the one-time setup link of a server that
//! has no admin yet.
//!
//! Every node keeps its own copy; a change is written to the database first and then announced
//! on the bus (`BusEvent::Settings`), on which every node (this one included) reads the
//! settings again.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;

use super::{Chat, Error, Result};
use crate::bus::BusEvent;
use crate::config::Config;
use crate::domain::{ServerSettings, User, UserId, ValidationError};

/// The settings in force and the send limiter built from them.
pub struct Live {
    inner: RwLock<Arc<Current>>,
}

pub struct Current {
    pub settings: ServerSettings,
    /// Sends per user, at `send_rate_per_sec` after a burst of `send_burst`.
    pub send_limiter: Arc<DefaultKeyedRateLimiter<UserId>>,
}

fn limiter(s: &ServerSettings) -> Arc<DefaultKeyedRateLimiter<UserId>> {
    let rate = std::num::NonZeroU32::new(s.send_rate_per_sec).unwrap_or(std::num::NonZeroU32::MIN);
    let burst = std::num::NonZeroU32::new(s.send_burst).unwrap_or(std::num::NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// The settings as the configuration gives them.
pub fn from_config(config: &Config) -> ServerSettings {
    ServerSettings {
        registration: config.registration,
        server_name: config.server_name.clone(),
        welcome_text: String::new(),
        max_upload_bytes: config.max_upload_bytes,
        upload_quota_per_user_bytes: config.upload_quota_per_user_bytes,
        send_rate_per_sec: config.send_rate_per_sec,
        send_burst: config.send_burst,
        retention_max_messages: config.retention_max_messages,
        retention_max_age_secs: config.retention_max_age_secs,
        require_totp_for_admins: false,
    }
}

impl Live {
    pub fn new(settings: ServerSettings) -> Self {
        let send_limiter = limiter(&settings);
        Self {
            inner: RwLock::new(Arc::new(Current {
                settings,
                send_limiter,
            })),
        }
    }

    pub fn current(&self) -> Arc<Current> {
        self.inner.read().expect("settings lock").clone()
    }

    /// Puts `settings` in force; the send limiter (and what it counted) is kept unless the
    /// rates changed.
    fn replace(&self, settings: ServerSettings) {
        let mut inner = self.inner.write().expect("settings lock");
        let same_rates = inner.settings.send_rate_per_sec == settings.send_rate_per_sec
            && inner.settings.send_burst == settings.send_burst;
        let send_limiter = if same_rates {
            inner.send_limiter.clone()
        } else {
            limiter(&settings)
        };
        *inner = Arc::new(Current {
            settings,
            send_limiter,
        });
    }
}

impl Chat {
    /// The settings in force.
    pub fn settings(&self) -> Arc<Current> {
        self.live.current()
    }

    /// Reads the settings admins set from the database and puts them in force over the
    /// configuration's. A stored value this version cannot read is skipped with a warning.
    pub async fn load_settings(&self) -> Result<()> {
        let mut settings = from_config(&self.config);
        for (name, text) in self.store.settings().await? {
            let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            if let Err(e) = settings.set(&name, &value) {
                tracing::warn!(setting = %name, error = %e, "a stored setting is ignored");
            }
        }
        self.live.replace(settings);
        Ok(())
    }

    /// Changes settings (an admin's `PATCH /admin/settings`): every value is checked before
    /// any is stored; each one changed is written to the audit log. Returns the settings then
    /// in force.
    pub async fn update_settings(
        &self,
        actor: &User,
        address: IpAddr,
        patch: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<Current>> {
        self.require_admin(actor)?;
        let before = self.settings().settings.clone();
        let mut after = before.clone();
        for (name, value) in patch {
            after.set(name, value).map_err(|e| match e.field {
                "settings" => Error::Invalid(ValidationError::invalid(
                    "settings",
                    format!("{name:?} is not a setting"),
                )),
                _ => Error::Invalid(e),
            })?;
        }
        let old = before.entries();
        let changed: Vec<(String, serde_json::Value)> = after
            .entries()
            .into_iter()
            .filter(|(name, value)| old.get(name) != Some(value))
            .collect();
        if changed.is_empty() {
            return Ok(self.settings());
        }
        let rows: Vec<(String, String)> = changed
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect();
        self.store.put_settings(&rows).await?;
        self.live.replace(after);
        self.bus.publish(BusEvent::Settings);
        for (name, value) in rows {
            let reason = format!(
                "{} → {value}",
                old.get(&name).map_or_else(String::new, |v| v.to_string())
            );
            self.audited(&actor.id, address, "settings_changed", None, name, &reason)
                .await;
        }
        Ok(self.settings())
    }

    /// While the server has no admin: the one-time setup token, the same on every node (the
    /// first node to start makes it). `None` once an admin exists.
    pub async fn setup_token(&self) -> Result<Option<String>> {
        let mut raw = [0u8; 24];
        rand::rng().fill_bytes(&mut raw);
        Ok(self.store.setup_token(&hex::encode(raw)).await?)
    }
}

impl Chat {
    /// `Forbidden` unless `user` is a server admin (with two-factor sign-in on, when the
    /// settings require it of admins).
    pub fn require_admin(&self, user: &User) -> Result<()> {
        if !user.is_admin || user.deactivated {
            return Err(Error::Forbidden("only server admins may do this"));
        }
        if self.settings().settings.require_totp_for_admins && !user.totp_enabled {
            return Err(Error::Forbidden(
                "this server requires admins to turn on two-factor sign-in first",
            ));
        }
        Ok(())
    }
}
