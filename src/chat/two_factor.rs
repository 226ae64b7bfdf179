//! Two-factor sign-in: TOTP (RFC 6238: SHA-1, six digits, 30-second steps, one step of clock
//! drift either way), as every authenticator app speaks it, and ten one-time recovery codes.
//!
//! Turning it on takes the password (a setup makes a secret, shown once as an `otpauth://`
//! link and its QR code) and then a code from the app, which proves the app holds the secret;
//! the recovery codes are shown then, once, and kept only as hashes. A code is good once: the
//! step it belongs to is remembered. Turning it off, or making new recovery codes, takes the
//! password again. Guessing codes counts like guessing passwords (`login`).

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use super::guard::Key;
use super::passwords::verify_password;
use super::{Chat, Error, Result, invalid};
use crate::domain::{Session, User, UserId};
use crate::store::StoreError;

const STEP_SECS: u64 = 30;
/// Wrong codes in a row before codes from the app are refused for [`LOCK_MINUTES`]: with at
/// most three good codes in a million, ten guesses a quarter hour is about a 0.3 % chance a
/// day for someone who has the password (recovery codes, 40 bits each, still work).
const MAX_WRONG_CODES: i64 = 10;
const LOCK_MINUTES: i64 = 15;
const RECOVERY_CODES: usize = 10;

/// A setup to confirm with a code: the secret and how to give it to an app.
pub struct TotpSetup {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_url: String,
    /// A PNG of the QR code of `otpauth_url`, base64.
    pub qr_png_base64: String,
}

/// The TOTP of a base32 secret, named for apps by the server and the account.
fn totp(secret: &str, issuer: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("a stored TOTP secret is not base32: {e:?}"))?;
    let issuer = issuer.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        bytes,
        Some(issuer),
        account.to_owned(),
    )
    .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP: {e:?}")))
}

/// The step `code` is the code of at `unix_secs` (allowing one step of drift either way).
pub fn matching_step(totp: &TOTP, code: &str, unix_secs: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix_secs / STEP_SECS;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&step| {
            let expected = totp.generate(step * STEP_SECS);
            // Constant time: how long a wrong guess takes says nothing of the code.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
        .map(|step| step as i64)
}

/// A recovery code as typed: lower case, without spaces or dashes.
fn normalised(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn code_hash(code: &str) -> String {
    super::accounts::token_hash(&format!("natter-recovery:{}", normalised(code)))
}

/// Ten fresh recovery codes (`xxxx-xxxx`, 40 random bits each) and their hashes.
fn recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut raw = [0u8; 5];
            rand::rng().fill_bytes(&mut raw);
            let text = hex::encode(raw);
            format!("{}-{}", &text[..5], &text[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| code_hash(c)).collect();
    (codes, hashes)
}

fn unix_now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

impl Chat {
    /// Checks the password of the signed-in user (guesses limited per session, like changing
    /// the password).
    async fn confirm_password(&self, session: &Session, user: &User, password: &str) -> Result<()> {
        self.confirm_password_keyed(user, Key::Session(session.id.to_string()), password)
            .await
    }

    /// Checks the user's password, its guesses counted under `key`.
    pub(super) async fn confirm_password_keyed(
        &self,
        user: &User,
        key: Key,
        password: &str,
    ) -> Result<()> {
        self.login_guard
            .attempt(&key, self.config.login_max_failures)
            .map_err(Error::RateLimited)?;
        let (_, hash) = self
            .store
            .user_credentials(&user.username.to_ascii_lowercase())
            .await?;
        if !verify_password(password, &hash).await? {
            return Err(Error::Forbidden("the password is wrong"));
        }
        self.login_guard.succeeded(&key);
        Ok(())
    }

    /// Starts turning two-factor on: a fresh secret, kept until a code confirms it.
    pub async fn totp_setup(
        &self,
        session: &Session,
        user: &User,
        password: &str,
    ) -> Result<TotpSetup> {
        self.confirm_password(session, user, password).await?;
        let secret = match Secret::generate_secret().to_encoded() {
            Secret::Encoded(text) => text,
            Secret::Raw(_) => unreachable!("to_encoded encodes"),
        };
        self.store
            .set_totp_secret(&user.id, &secret)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict("two-factor sign-in is on already"),
                other => other.into(),
            })?;
        let name = self.settings().settings.server_name.clone();
        let totp = totp(&secret, &name, &user.username)?;
        let qr_png_base64 = totp
            .get_qr_base64()
            .map_err(|e| anyhow::anyhow!("drawing the QR code: {e}"))?;
        Ok(TotpSetup {
            otpauth_url: totp.get_url(),
            secret,
            qr_png_base64,
        })
    }

    /// Turns two-factor on once `code` shows the app holds the secret; returns the recovery
    /// codes (shown this once).
    pub async fn totp_enable(&self, user: &User, code: &str) -> Result<Vec<String>> {
        let state = self.store.totp(&user.id).await?;
        if state.enabled {
            return Err(Error::Conflict("two-factor sign-in is on already"));
        }
        let secret = state
            .secret
            .ok_or(Error::Conflict("start the setup first"))?;
        let name = self.settings().settings.server_name.clone();
        let totp = totp(&secret, &name, &user.username)?;
        let step = matching_step(&totp, code, unix_now())
            .ok_or_else(|| invalid("code", "the code does not match: check the app's clock"))?;
        let (codes, hashes) = recovery_codes();
        self.store
            .enable_totp(&user.id, step, &hashes)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict("two-factor sign-in is on already"),
                other => other.into(),
            })?;
        Ok(codes)
    }

    /// Turns two-factor off (password needed).
    pub async fn totp_disable(&self, session: &Session, user: &User, password: &str) -> Result<()> {
        self.confirm_password(session, user, password).await?;
        Ok(self.store.disable_totp(&user.id).await?)
    }

    /// New recovery codes in place of the old ones (password needed); shown this once.
    pub async fn new_recovery_codes(
        &self,
        session: &Session,
        user: &User,
        password: &str,
    ) -> Result<Vec<String>> {
        self.confirm_password(session, user, password).await?;
        if !self.store.totp(&user.id).await?.enabled {
            return Err(Error::Conflict("two-factor sign-in is off"));
        }
        let (codes, hashes) = recovery_codes();
        self.store.replace_recovery_codes(&user.id, &hashes).await?;
        Ok(codes)
    }

    /// How many recovery codes the user has left (`None`: two-factor is off).
    pub async fn recovery_codes_left(&self, user: &UserId) -> Result<Option<i64>> {
        let state = self.store.totp(user).await?;
        Ok(state.enabled.then_some(state.codes_left))
    }

    /// The second factor at sign-in: a code from the app (good once) or a recovery code.
    /// `SecondFactor` when none was given or it does not match.
    pub(super) async fn check_second_factor(&self, user: &User, code: Option<&str>) -> Result<()> {
        let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
            return Err(Error::SecondFactor(
                "enter the code from your authenticator app",
            ));
        };
        let state = self.store.totp(&user.id).await?;
        let Some(secret) = state.secret.filter(|_| state.enabled) else {
            return Ok(());
        };
        let name = self.settings().settings.server_name.clone();
        let totp = totp(&secret, &name, &user.username)?;
        if normalised(code).len() == 6 {
            // Counted before it is checked, in one statement, so attempts in parallel cannot
            // all slip in before the lock; a good code clears the count.
            let until = chrono::Utc::now() + chrono::TimeDelta::minutes(LOCK_MINUTES);
            if !self
                .store
                .totp_attempt(&user.id, MAX_WRONG_CODES, until)
                .await?
            {
                return Err(Error::SecondFactor(
                    "too many wrong codes: wait a quarter of an hour, or use a recovery code",
                ));
            }
        }
        if let Some(step) = matching_step(&totp, code, unix_now()) {
            if step > state.last_step && self.store.use_totp_step(&user.id, step).await? {
                return Ok(());
            }
            return Err(Error::SecondFactor(
                "that code was used already: wait for the next one",
            ));
        }
        if normalised(code).len() == 10
            && self
                .store
                .use_recovery_code(&user.id, &code_hash(code))
                .await?
        {
            return Ok(());
        }
        Err(Error::SecondFactor("the code is wrong"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 secret and test times, at six digits (the last six of its eight).
    #[test]
    fn codes_match_rfc_6238_at_the_given_times() {
        let secret = b"12345678901234567890".to_vec();
        let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, secret, None, "a".into()).unwrap();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(totp.generate(time), code, "at {time}");
            assert_eq!(matching_step(&totp, code, time), Some((time / 30) as i64));
        }
        // One step of drift either way, not two.
        let at = 1_234_567_890;
        assert!(matching_step(&totp, &totp.generate(at - 30), at).is_some());
        assert!(matching_step(&totp, &totp.generate(at + 30), at).is_some());
        assert!(matching_step(&totp, &totp.generate(at - 60), at).is_none());
        assert!(matching_step(&totp, &totp.generate(at + 60), at).is_none());
        for bad in ["", "12345", "1234567", "abcdef", "28708 "] {
            assert!(matching_step(&totp, bad, 59).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_are_random_and_read_however_typed() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(code_hash(&codes[0]), hashes[0]);
        let typed = format!(" {} ", codes[0].to_uppercase().replace('-', " "));
        assert_eq!(code_hash(&typed), hashes[0]);
    }
}
