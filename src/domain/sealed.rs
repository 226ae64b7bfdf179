//! Sealed rooms: rooms whose message bodies and files are encrypted in the members' browsers
//! with a key derived from a passphrase the server never sees (`docs/protocol.md`, "Sealed
//! rooms"; `docs/security.md` for the threat model). The server keeps what members need to
//! derive that key (the [`Seal`]: the KDF, its cost, the salt, and a check value sealed with
//! the content key), verifies a **join proof** (a second key derived from the passphrase)
//! instead of a room key, and accepts only sealed bodies ([`is_sealed_body`]) and sealed
//! files ([`SEALED_CONTENT_TYPE`]) in such a room.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ValidationError;

/// What every sealed body starts with; the rest is base64url (no padding) of the 12-byte
/// AES-GCM nonce followed by the ciphertext and its 16-byte tag.
pub const SEALED_PREFIX: &str = "sealed:v1:";
/// The only key derivation the web client uses (WebCrypto has no memory-hard KDF).
pub const SEAL_KDF: &str = "pbkdf2-sha256";
/// The fewest PBKDF2 iterations a room may ask for (OWASP's figure for PBKDF2-HMAC-SHA256).
pub const MIN_SEAL_ITERATIONS: u32 = 600_000;
/// The most: every member's browser pays them on each new device.
pub const MAX_SEAL_ITERATIONS: u32 = 10_000_000;
/// The longest sealed body: 4,000 characters of up to 4 bytes each, with the files' keys and
/// the quoted excerpt, in JSON, in base64 (well under a WebSocket frame).
pub const MAX_SEALED_BODY_CHARS: usize = 40_000;
/// The type a sealed file is stored and served as (its real type is inside the message).
pub const SEALED_CONTENT_TYPE: &str = "application/x-natter-sealed";
/// Why a sealed room refuses a plain body or file.
pub const SEALED_ONLY: &str = "this room is sealed: bodies and files must be encrypted in the browser (see docs/protocol.md, sealed rooms)";
/// Why any other room refuses a body of the sealed shape.
pub const NOT_SEALED: &str = "a sealed body belongs in a sealed room (this room is not sealed)";
/// The shortest sealed body: the prefix, a 12-byte nonce and a 16-byte tag.
const MIN_SEALED_BYTES: usize = 12 + 16;

/// What a sealed room's members need to derive its keys, shown to members in `room.seal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Seal {
    /// Always `pbkdf2-sha256`.
    pub kdf: String,
    pub iterations: u32,
    /// 16 to 64 random bytes, base64url without padding.
    pub salt: String,
    /// A fixed text sealed with the content key (base64url): a member's browser tells a right
    /// passphrase from a wrong one by opening it, without asking the server. Shown to members
    /// only (to anyone else it would allow guessing the passphrase offline).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub check: String,
}

impl Seal {
    /// The seal without its check value, for someone who is not a member yet.
    pub fn public(&self) -> Seal {
        Seal {
            check: String::new(),
            ..self.clone()
        }
    }

    /// As stored in `rooms.seal`.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_stored(text: &str) -> Option<Seal> {
        serde_json::from_str(text).ok()
    }
}

/// `seal` in `POST /rooms`: the room's seal and the first join proof (the owner's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SealRequest {
    /// `pbkdf2-sha256` (the default).
    pub kdf: Option<String>,
    pub iterations: u32,
    pub salt: String,
    pub check: String,
    /// The join proof derived from the passphrase (32 bytes, base64url).
    pub proof: String,
}

impl SealRequest {
    /// The seal to keep and the proof to hash, checked.
    pub fn parse(self) -> Result<(Seal, JoinProof), ValidationError> {
        let kdf = self.kdf.unwrap_or_else(|| SEAL_KDF.to_owned());
        if kdf != SEAL_KDF {
            return Err(ValidationError::invalid(
                "seal.kdf",
                "must be pbkdf2-sha256",
            ));
        }
        if !(MIN_SEAL_ITERATIONS..=MAX_SEAL_ITERATIONS).contains(&self.iterations) {
            return Err(ValidationError::invalid(
                "seal.iterations",
                "must be 600000 to 10000000",
            ));
        }
        let salt = decoded("seal.salt", &self.salt)?;
        if !(16..=64).contains(&salt.len()) {
            return Err(ValidationError::invalid(
                "seal.salt",
                "must be 16 to 64 bytes",
            ));
        }
        let check = decoded("seal.check", &self.check)?;
        if !(MIN_SEALED_BYTES..=256).contains(&check.len()) {
            return Err(ValidationError::invalid(
                "seal.check",
                "must be 28 to 256 bytes (a sealed value)",
            ));
        }
        let proof = JoinProof::parse(&self.proof).map_err(|mut e| {
            e.field = "seal.proof";
            e
        })?;
        Ok((
            Seal {
                kdf,
                iterations: self.iterations,
                salt: self.salt,
                check: self.check,
            },
            proof,
        ))
    }
}

/// A join proof: 32 bytes derived from a sealed room's passphrase, as base64url. The server
/// keeps only its Argon2 hash, as it does a private room's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinProof(String);

impl JoinProof {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match decoded("proof", raw) {
            Ok(bytes) if bytes.len() == 32 => Ok(Self(raw.to_owned())),
            _ => Err(ValidationError::invalid(
                "proof",
                "must be 32 bytes in base64url (derived from the passphrase, never the passphrase)",
            )),
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn decoded(field: &'static str, text: &str) -> Result<Vec<u8>, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ValidationError::invalid(field, "must be base64url without padding"))
}

/// Whether a body has the shape of a sealed body: the prefix, then base64url of at least a
/// nonce and a tag, within [`MAX_SEALED_BODY_CHARS`]. Its contents are the members' business.
pub fn is_sealed_body(body: &str) -> bool {
    let Some(data) = body.strip_prefix(SEALED_PREFIX) else {
        return false;
    };
    body.len() <= MAX_SEALED_BODY_CHARS
        && data.len() >= (MIN_SEALED_BYTES * 4).div_ceil(3)
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn sealed_bodies_have_one_shape() {
        let body = format!("{SEALED_PREFIX}{}", b64(&[7; 40]));
        assert!(is_sealed_body(&body));
        assert!(!is_sealed_body("hello"));
        assert!(!is_sealed_body(&format!(
            "{SEALED_PREFIX}{}",
            b64(&[7; 20])
        )));
        assert!(!is_sealed_body(&format!(
            "{SEALED_PREFIX}abc def{}",
            b64(&[7; 40])
        )));
        assert!(!is_sealed_body(&format!(
            "{SEALED_PREFIX}{}=",
            b64(&[7; 40])
        )));
        let long = format!("{SEALED_PREFIX}{}", "A".repeat(MAX_SEALED_BODY_CHARS));
        assert!(!is_sealed_body(&long));
    }

    #[test]
    fn seal_requests_are_checked() {
        let good = || SealRequest {
            kdf: None,
            iterations: MIN_SEAL_ITERATIONS,
            salt: b64(&[1; 16]),
            check: b64(&[2; 40]),
            proof: b64(&[3; 32]),
        };
        let (seal, proof) = good().parse().unwrap();
        assert_eq!(seal.kdf, SEAL_KDF);
        assert_eq!(proof.expose(), b64(&[3; 32]));
        assert_eq!(Seal::from_stored(&seal.to_stored()), Some(seal.clone()));
        assert!(seal.public().check.is_empty());
        let field = |r: SealRequest| r.parse().unwrap_err().field;
        assert_eq!(
            field(SealRequest {
                iterations: 1000,
                ..good()
            }),
            "seal.iterations"
        );
        assert_eq!(
            field(SealRequest {
                salt: b64(&[1; 8]),
                ..good()
            }),
            "seal.salt"
        );
        assert_eq!(
            field(SealRequest {
                check: "no!".into(),
                ..good()
            }),
            "seal.check"
        );
        assert_eq!(
            field(SealRequest {
                proof: "my passphrase".into(),
                ..good()
            }),
            "seal.proof"
        );
        assert_eq!(
            field(SealRequest {
                kdf: Some("argon2id".into()),
                ..good()
            }),
            "seal.kdf"
        );
    }
}
