//! Encryption at rest. Every room has a random 256-bit data key; message bodies, what replies
//! quote, the texts messages had before edits and the search index's words are sealed with it
//! (XChaCha20-Poly1305, a random 192-bit nonce per sealing, the room, `seq` and field bound as
//! associated data, so a ciphertext moved to another message or field does not open). Room
//! keys are kept wrapped by the master key ([`master`]) in a store of their own
//! ([`keystore`]), apart from the data they unlock: destroying a room's key (when the room is
//! deleted) makes every copy of its data unreadable — WAL, free pages, dead tuples, replicas
//! and backups of the database included. The search index holds keyed hashes of words and of
//! their beginnings ([`RoomKey::blind_words`]), never the words. Events crossing Redis are
//! sealed with a key derived from the master key ([`BusSealer`]).
//!
//! What this protects, and what it does not, is the threat model in `docs/security.md`.

pub mod keystore;
pub mod master;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::domain::{Message, RoomId, Seq};
pub use keystore::KeyStore;
pub use master::MasterKey;

/// Bytes of a nonce (XChaCha20's 192 bits: random nonces never repeat in practice).
const NONCE: usize = 24;

/// The longest beginning of a word the search index holds a hash of, in characters: a query's
/// last term longer than this is looked up by its first this-many characters, so it may also
/// find longer words that share them.
pub const PREFIX_CHARS: usize = 12;

/// A sealed value did not open: the wrong key, or bytes changed or moved.
#[derive(Debug, thiserror::Error)]
#[error("encrypted data did not open (wrong key, or changed or moved bytes)")]
pub struct Broken;

/// HMAC-SHA-256 of `parts`, one after the other.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// An AEAD key: seals with a fresh random nonce, which it stores in front of the ciphertext.
#[derive(Clone)]
pub struct Sealer(XChaCha20Poly1305, Arc<Zeroizing<[u8; 32]>>);

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        let names = Zeroizing::new(hmac(key, &[b"natter names v1"]));
        Self(XChaCha20Poly1305::new(key.into()), Arc::new(names))
    }

    /// A name for `what` that only holders of this key can make.
    pub fn name(&self, what: &[u8]) -> [u8; 32] {
        hmac(&self.1[..], &[what])
    }

    pub fn seal(&self, plain: &[u8], ad: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE] = rand::random();
        let mut out = Vec::with_capacity(NONCE + plain.len() + 16);
        out.extend_from_slice(&nonce);
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: ad,
                },
            )
            .expect("sealing cannot fail below 256 GiB");
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], ad: &[u8]) -> Result<Vec<u8>, Broken> {
        if sealed.len() < NONCE + 16 {
            return Err(Broken);
        }
        let (nonce, body) = sealed.split_at(NONCE);
        self.0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: ad })
            .map_err(|_| Broken)
    }
}

/// Which text of a message a ciphertext holds: part of its associated data.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// The current body.
    Body,
    /// What a reply quotes of the message it answers.
    Excerpt,
    /// The text the message had before the edit at this `seq`.
    Before(Seq),
}

/// One data key, unwrapped: a room's, which seals its texts and blinds its search words, or a
/// file's ([`crate::files::sealed`]).
pub struct RoomKey {
    /// What it is the key of: a room's id, or `blob:<hash>`.
    room: String,
    sealer: Sealer,
    /// The HMAC of the search index's tokens, keyed (by a key derived from the data key) once:
    /// each token clones it, sparing the key schedule.
    search: Hmac<Sha256>,
}

impl RoomKey {
    fn new(room: String, key: &[u8; 32]) -> Self {
        Self {
            sealer: Sealer::new(key),
            search: <Hmac<Sha256> as Mac>::new_from_slice(&hmac(key, &[b"natter search v1"]))
                .expect("HMAC takes any key length"),
            room,
        }
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    fn ad(&self, seq: Seq, field: Field) -> Vec<u8> {
        let field = match field {
            Field::Body => "body".to_owned(),
            Field::Excerpt => "excerpt".to_owned(),
            Field::Before(edit) => format!("before:{edit}"),
        };
        format!("natter v1\0{}\0{seq}\0{field}", self.room).into_bytes()
    }

    /// `text` sealed as the `field` of message `seq`, as storable text (base64). The empty
    /// text stays empty (a deleted message, a quote erased).
    pub fn seal_text(&self, seq: Seq, field: Field, text: &str) -> String {
        if text.is_empty() {
            return String::new();
        }
        B64.encode(self.sealer.seal(text.as_bytes(), &self.ad(seq, field)))
    }

    /// The text [`Self::seal_text`] sealed.
    pub fn open_text(&self, seq: Seq, field: Field, stored: &str) -> Result<String, Broken> {
        if stored.is_empty() {
            return Ok(String::new());
        }
        let sealed = B64.decode(stored).map_err(|_| Broken)?;
        let plain = self.sealer.open(&sealed, &self.ad(seq, field))?;
        String::from_utf8(plain).map_err(|_| Broken)
    }

    /// A search token: 64 bits of the keyed hash, written in the letters `a`-`p` (which both
    /// FTS5's and PostgreSQL's parsers keep as one word).
    fn token(&self, kind: u8, text: &str) -> String {
        let mut mac = self.search.clone();
        mac.update(&[kind]);
        mac.update(text.as_bytes());
        let hash = mac.finalize().into_bytes();
        hash[..8]
            .iter()
            .flat_map(|b| [b >> 4, b & 15])
            .map(|n| char::from(b'a' + n))
            .collect()
    }

    /// What the index holds for folded `words` (space-separated, from
    /// [`crate::domain::search_text`]): a token per distinct word, and one per distinct
    /// beginning of 2 to [`PREFIX_CHARS`] characters shorter than its word, space-separated.
    pub fn blind_words(&self, words: &str) -> String {
        // Each distinct word and beginning once (sorted, then hashed).
        let mut parts: Vec<(u8, &str)> = Vec::new();
        for word in words.split(' ').filter(|w| !w.is_empty()) {
            parts.push((b'w', word));
            // Beginnings of 2 to 12 characters shorter than the word (the word itself has
            // its own token; a one-character beginning would find nearly everything).
            for (n, (at, c)) in word.char_indices().enumerate().take(PREFIX_CHARS) {
                let end = at + c.len_utf8();
                if n >= 1 && end < word.len() {
                    parts.push((b'p', &word[..end]));
                }
            }
        }
        parts.sort_unstable();
        parts.dedup();
        let mut text = String::with_capacity(parts.len() * 17);
        for (kind, part) in parts {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&self.token(kind, part));
        }
        text
    }

    /// The tokens a query term is looked up by, any of which may match: the word's, and for
    /// the last term (`prefix`) that of the words it begins (of its first 12 characters when
    /// longer; a one-character last term finds only that word).
    pub fn blind_term(&self, term: &str, prefix: bool) -> Vec<String> {
        let mut tokens = vec![self.token(b'w', term)];
        if prefix && term.chars().nth(1).is_some() {
            let end = term
                .char_indices()
                .nth(PREFIX_CHARS)
                .map_or(term.len(), |(at, _)| at);
            tokens.push(self.token(b'p', &term[..end]));
        }
        tokens
    }
}

/// Seals and opens the events nodes publish to each other through Redis.
pub struct BusSealer(Sealer);

impl BusSealer {
    /// Seals an event for `channel` (bound: it opens on no other channel).
    pub fn seal(&self, channel: &str, payload: &[u8]) -> Vec<u8> {
        self.0.seal(payload, &Self::ad(channel))
    }

    pub fn open(&self, channel: &str, sealed: &[u8]) -> Result<Vec<u8>, Broken> {
        self.0.open(sealed, &Self::ad(channel))
    }

    fn ad(channel: &str) -> Vec<u8> {
        format!("natter bus v1\0{channel}").into_bytes()
    }
}

/// The room keys of this node: made, unwrapped once and kept in memory, destroyed.
pub struct Keyring {
    /// Whether new texts are sealed (`encrypt_at_rest`); sealed texts are opened either way.
    pub enabled: bool,
    master: MasterKey,
    wrap: Sealer,
    store: KeyStore,
    /// Keys by id: a room's id, or `blob:<hash>`.
    cache: RwLock<HashMap<String, Arc<RoomKey>>>,
    /// With encryption off: rooms known to have no key.
    absent: RwLock<std::collections::HashSet<RoomId>>,
}

impl Keyring {
    /// The keyring `config` names: its master key (made on the first start when it is a
    /// file) and its key store.
    pub async fn open(config: &Config) -> anyhow::Result<Arc<Self>> {
        // The first connection of the process (the key store's, then the database's, Redis's
        // and S3's) is rustls: with two crypto providers in the build (ring here, aws-lc-rs for
        // the S3 client), the process says which one it uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (master, made) = MasterKey::load(config)?;
        if made {
            tracing::warn!(
                path = %MasterKey::file_of(config).display(),
                "made a new master key: back it up apart from the database (docs/security.md)"
            );
        }
        let store = KeyStore::open(&config.key_store_url(), &master).await?;
        Ok(Arc::new(Self::new(master, store, config.encrypt_at_rest)))
    }

    pub fn new(master: MasterKey, store: KeyStore, enabled: bool) -> Self {
        Self {
            enabled,
            wrap: Self::wrapper(&master),
            master,
            store,
            cache: RwLock::default(),
            absent: RwLock::default(),
        }
    }

    /// The sealer of events between nodes (every node holds the same master key).
    pub fn bus(&self) -> BusSealer {
        BusSealer(Sealer::new(&self.master.derive(b"natter bus v1")))
    }

    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// The sealer that wraps data keys under `master`.
    fn wrapper(master: &MasterKey) -> Sealer {
        Sealer::new(&master.derive(b"natter wrap v1"))
    }

    fn wrap_ad(id: &str) -> Vec<u8> {
        format!("natter data key v1\0{id}").into_bytes()
    }

    fn unwrap(&self, room: &str, wrapped: &[u8]) -> anyhow::Result<Arc<RoomKey>> {
        let key = Zeroizing::new(self.wrap.open(wrapped, &Self::wrap_ad(room)).map_err(|_| {
            anyhow::anyhow!("the key of room {room} does not open with this master key")
        })?);
        let key: &[u8; 32] = key[..]
            .try_into()
            .map_err(|_| anyhow::anyhow!("the key of room {room} is not 32 bytes"))?;
        Ok(Arc::new(RoomKey::new(room.to_owned(), key)))
    }

    fn cached(&self, id: &str) -> Option<Arc<RoomKey>> {
        self.cache.read().expect("key cache").get(id).cloned()
    }

    /// The keys of `rooms` that have one; with `make`, a room without one gets one first (a
    /// key made at the same moment on another node wins: the stored one is used).
    pub async fn rooms(
        &self,
        rooms: &[&RoomId],
        make: bool,
    ) -> anyhow::Result<HashMap<RoomId, Arc<RoomKey>>> {
        let ids: Vec<&str> = rooms.iter().map(|r| r.as_str()).collect();
        let mut keys = self.keys(&ids, make).await?;
        Ok(rooms
            .iter()
            .filter_map(|&r| Some((r.clone(), keys.remove(r.as_str())?)))
            .collect())
    }

    /// A key made if missing, asked of the key store even when this node holds it (it may
    /// have been destroyed by another node since).
    pub async fn fresh_key(&self, id: &str) -> anyhow::Result<Arc<RoomKey>> {
        self.cache.write().expect("key cache").remove(id);
        self.key(id, true)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no key was made for {id}"))
    }

    /// One key by its id (a room's id, or `blob:<hash>`), if there is one (made first with
    /// `make`).
    pub async fn key(&self, id: &str, make: bool) -> anyhow::Result<Option<Arc<RoomKey>>> {
        Ok(self.keys(&[id], make).await?.remove(id))
    }

    /// The keys with these ids that exist (made first with `make`).
    async fn keys(
        &self,
        rooms: &[&str],
        make: bool,
    ) -> anyhow::Result<HashMap<String, Arc<RoomKey>>> {
        let mut found = HashMap::with_capacity(rooms.len());
        let mut missing = Vec::new();
        for &room in rooms {
            match self.cached(room) {
                Some(key) => {
                    found.insert(room.to_owned(), key);
                }
                None => missing.push(room),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let mut stored = self.store.get(&missing).await?;
        if make {
            let fresh: Vec<(&str, Vec<u8>)> = missing
                .iter()
                .filter(|r| !stored.contains_key(**r))
                .map(|&room| {
                    let key = Zeroizing::new(rand::random::<[u8; 32]>());
                    (room, self.wrap.seal(&key[..], &Self::wrap_ad(room)))
                })
                .collect();
            if !fresh.is_empty() {
                self.store.insert(&fresh).await?;
                let made: Vec<&str> = fresh.iter().map(|(r, _)| *r).collect();
                stored.extend(self.store.get(&made).await?);
            }
        }
        let mut cache = self.cache.write().expect("key cache");
        for room in missing {
            if let Some(wrapped) = stored.get(room) {
                let key = self.unwrap(room, wrapped)?;
                cache.insert(room.to_owned(), key.clone());
                found.insert(room.to_owned(), key);
            }
        }
        Ok(found)
    }

    /// One room's key, if it has one (made first with `make`).
    pub async fn room(&self, room: &RoomId, make: bool) -> anyhow::Result<Option<Arc<RoomKey>>> {
        Ok(self.rooms(&[room], make).await?.remove(room))
    }

    /// The keys for sealing new texts in `rooms`: none when encryption is off.
    pub async fn for_sealing(
        &self,
        rooms: &[&RoomId],
    ) -> anyhow::Result<HashMap<RoomId, Arc<RoomKey>>> {
        if self.enabled {
            return self.rooms(rooms, true).await;
        }
        // Off: rooms that have a key keep sealing with it (turning encryption off does not
        // unseal a room); those found without one are remembered, so the message path asks
        // the key store about each room once.
        let unknown: Vec<&RoomId> = {
            let absent = self.absent.read().expect("key cache");
            rooms
                .iter()
                .copied()
                .filter(|r| !absent.contains(*r))
                .collect()
        };
        let found = self.rooms(&unknown, false).await?;
        let mut absent = self.absent.write().expect("key cache");
        absent.extend(
            unknown
                .into_iter()
                .filter(|r| !found.contains_key(*r))
                .cloned(),
        );
        Ok(found)
    }

    /// Opens a message read from the database whose texts are sealed.
    pub async fn open_message(&self, m: &mut Message) -> anyhow::Result<()> {
        let key = self.room(&m.room_id, false).await?.ok_or_else(|| {
            anyhow::anyhow!("room {} holds sealed messages but has no key", m.room_id)
        })?;
        let broken = |_| anyhow::anyhow!("message {} did not open", m.id);
        m.body = key.open_text(m.seq, Field::Body, &m.body).map_err(broken)?;
        if let Some(quote) = m.reply_to.as_mut() {
            quote.excerpt = key
                .open_text(m.seq, Field::Excerpt, &quote.excerpt)
                .map_err(broken)?;
        }
        Ok(())
    }

    /// Destroys a room's key: whatever of its data lingers anywhere is unreadable from now.
    pub async fn erase(&self, room: &RoomId) -> anyhow::Result<()> {
        self.erase_key(room.as_str()).await
    }

    /// Destroys a key by its id.
    pub async fn erase_key(&self, id: &str) -> anyhow::Result<()> {
        self.cache.write().expect("key cache").remove(id);
        self.store.delete(id).await
    }

    /// Wraps every room key again under `new` (the data they seal is not touched), in one
    /// transaction of the key store, and records `new` as the master key.
    pub async fn rotate(&self, new: &MasterKey) -> anyhow::Result<usize> {
        let rewrap = Self::wrapper(new);
        self.store
            .rewrap(new, |room: &str, wrapped: &[u8]| {
                let key = Zeroizing::new(
                    self.wrap
                        .open(wrapped, &Self::wrap_ad(room))
                        .map_err(|_| anyhow::anyhow!("the key of room {room} does not open"))?,
                );
                Ok(rewrap.seal(&key[..], &Self::wrap_ad(room)))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(room: &str) -> RoomKey {
        RoomKey::new(room.to_owned(), &[7; 32])
    }

    #[test]
    fn texts_open_only_where_they_were_sealed() {
        let k = key("r1");
        let sealed = k.seal_text(5, Field::Body, "hello");
        assert_ne!(
            sealed,
            k.seal_text(5, Field::Body, "hello"),
            "a fresh nonce each time"
        );
        assert!(!sealed.contains("hello"));
        assert_eq!(k.open_text(5, Field::Body, &sealed).unwrap(), "hello");
        assert!(k.open_text(6, Field::Body, &sealed).is_err(), "another seq");
        assert!(
            k.open_text(5, Field::Excerpt, &sealed).is_err(),
            "another field"
        );
        assert!(
            key("r2").open_text(5, Field::Body, &sealed).is_err(),
            "another room"
        );
        let other = RoomKey::new("r1".to_owned(), &[8; 32]);
        assert!(
            other.open_text(5, Field::Body, &sealed).is_err(),
            "another key"
        );
        assert_eq!(k.seal_text(5, Field::Body, ""), "");
        assert_eq!(k.open_text(5, Field::Body, "").unwrap(), "");
    }

    #[test]
    fn blind_tokens_find_words_and_beginnings() {
        let k = key("r1");
        let index = k.blind_words("deployment of the deploy");
        let tokens: Vec<&str> = index.split(' ').collect();
        let found = |term: &str, prefix: bool| {
            k.blind_term(term, prefix)
                .iter()
                .any(|t| tokens.contains(&t.as_str()))
        };
        assert!(found("deploy", false));
        assert!(found("deplo", true), "a beginning");
        assert!(found("deploy", true), "a beginning that is also a word");
        assert!(found("deployment", true), "the whole word as the last term");
        assert!(!found("deplo", false), "no such word");
        assert!(!found("ploy", true));
        assert!(
            found("of", true) && !found("o", true),
            "one letter finds only that word"
        );
        assert_eq!(
            tokens.len(),
            4 + 9,
            "4 words, then the beginnings of 2..len-1 characters"
        );
        assert!(
            tokens
                .iter()
                .all(|t| t.len() == 16 && t.bytes().all(|b| (b'a'..=b'p').contains(&b)))
        );
        // repeated words and shared beginnings once each
        assert_eq!(
            tokens.len(),
            tokens
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
        );
        // another room's key makes other tokens
        assert_ne!(
            key("r2").blind_term("deploy", false),
            RoomKey::new("r2".to_owned(), &[9; 32]).blind_term("deploy", false)
        );
        // long terms are looked up by their first PREFIX_CHARS characters
        let long = k.blind_words("internationalization");
        assert!(long.contains(&k.blind_term("internationaliz", true)[1]));
    }
}
