//! Files encrypted at rest. Each blob has a random key of its own, kept wrapped in the key
//! store (id `blob:<hash>`), and is stored as 64 KiB chunks, each sealed with XChaCha20-
//! Poly1305 (a random nonce; the blob, the chunk's place and whether it is the last bound as
//! associated data, so chunks cannot be reordered, swapped between files or cut off), under a
//! name that is a hash of its content hash keyed by its own key (the file store does not learn
//! which known file it holds, and rotating the master key renames nothing). A range is served by opening only the chunks it touches. When the collector
//! deletes a blob (no upload names it: its messages, rooms or uploader are gone) its key goes
//! too, so copies of it in backups of the file store are unreadable.
//!
//! Blobs stored before encryption (or with it off) have no key and stay plain under their
//! hash; both kinds are read.

use std::io::{Read as _, Write as _};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use super::{Blobs, ByteStream};
use crate::crypto::{Keyring, RoomKey, Sealer};

/// Plain bytes per chunk.
const CHUNK: u64 = 64 * 1024;
/// What sealing adds to a chunk: its nonce and tag.
const OVERHEAD: u64 = 24 + 16;

/// The file store, sealing what it keeps.
pub struct SealedBlobs {
    pub inner: Arc<dyn Blobs>,
    keys: Arc<Keyring>,
}

fn key_id(hash: &str) -> String {
    format!("blob:{hash}")
}

fn chunk_ad(hash: &str, index: u64, last: bool) -> Vec<u8> {
    format!("natter blob v1\0{hash}\0{index}\0{}", u8::from(last)).into_bytes()
}

/// How many chunks a blob of `size` plain bytes has (an empty one has one, empty).
fn chunks_of(size: u64) -> u64 {
    size.div_ceil(CHUNK).max(1)
}

/// Seals the file at `plain` (`size` bytes) into a new file at `sealed`.
fn seal_file(
    sealer: &Sealer,
    hash: &str,
    plain: &Path,
    size: u64,
    sealed: &Path,
) -> anyhow::Result<u64> {
    let mut input = std::fs::File::open(plain).context("opening the upload to seal it")?;
    let mut output = std::fs::File::create(sealed).context("creating the sealed file")?;
    let total = chunks_of(size);
    let mut buf = vec![0u8; CHUNK as usize];
    let mut written = 0;
    for index in 0..total {
        let want = CHUNK.min(size - index * CHUNK) as usize;
        input
            .read_exact(&mut buf[..want])
            .context("reading the upload")?;
        let chunk = sealer.seal(&buf[..want], &chunk_ad(hash, index, index + 1 == total));
        output
            .write_all(&chunk)
            .context("writing the sealed file")?;
        written += chunk.len() as u64;
    }
    output.sync_all().context("syncing the sealed file")?;
    Ok(written)
}

impl SealedBlobs {
    pub fn new(inner: Arc<dyn Blobs>, keys: Arc<Keyring>) -> Self {
        Self { inner, keys }
    }

    /// The name a sealed blob is stored under: its hash, hashed with its own key.
    fn name(key: &RoomKey, hash: &str) -> String {
        hex::encode(key.sealer().name(hash.as_bytes()))
    }

    /// Stores the complete, synced spool file `file` (`size` bytes) as the blob `hash`:
    /// sealed with a key of its own, unless encryption is off.
    pub async fn put_file(&self, hash: &str, file: &Path, size: u64) -> anyhow::Result<()> {
        if !self.keys.enabled {
            return self.inner.put_file(hash, file, size).await;
        }
        // From the key store, not this node's memory: another node may have deleted the file
        // and its key since this one last read it.
        let key = self.keys.fresh_key(&key_id(hash)).await?;
        let sealed = file.with_extension("sealed");
        let (sealer, hash_owned, plain, target) = (
            key.sealer().clone(),
            hash.to_owned(),
            file.to_owned(),
            sealed.clone(),
        );
        let written = tokio::task::spawn_blocking(move || {
            seal_file(&sealer, &hash_owned, &plain, size, &target)
        })
        .await??;
        let stored = self
            .inner
            .put_file(&Self::name(&key, hash), &sealed, written)
            .await;
        // Moved into the store (local files) or copied (S3): either way not needed here.
        let _ = tokio::fs::remove_file(&sealed).await;
        stored
    }

    /// The plain bytes of `range` of the blob `hash` of `size` bytes (all when `None`).
    pub async fn get(
        &self,
        hash: &str,
        size: u64,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<ByteStream> {
        let Some(key) = self.keys.key(&key_id(hash), false).await? else {
            return self.inner.get(hash, range).await;
        };
        let want = range.map_or(0..size, |r| r.start.min(size)..r.end.min(size));
        if want.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let total = chunks_of(size);
        let first = want.start / CHUNK;
        let last = ((want.end - 1) / CHUNK).min(total - 1);
        let sealed_size = size + total * OVERHEAD;
        let from = first * (CHUNK + OVERHEAD);
        let to = ((last + 1) * (CHUNK + OVERHEAD)).min(sealed_size);
        let inner = match self
            .inner
            .get(&Self::name(&key, hash), Some(from..to))
            .await
        {
            Ok(inner) => inner,
            // Stored plain before encryption, and being stored again sealed right now (the
            // key is made first): the plain copy is still there until the sealed one is.
            Err(e) => match self.inner.get(hash, Some(want.clone())).await {
                Ok(plain) => return Ok(plain),
                Err(_) => return Err(e),
            },
        };
        let sealer = key.sealer().clone();
        let hash = hash.to_owned();
        // State: the sealed bytes, what has arrived of the next chunk, and its index.
        let state = (inner, BytesMut::new(), first, false);
        let stream =
            futures_util::stream::unfold(state, move |(mut inner, mut buf, index, done)| {
                let (sealer, hash, want) = (sealer.clone(), hash.clone(), want.clone());
                async move {
                    if done || index > last {
                        return None;
                    }
                    let is_last = index + 1 == total;
                    let need = if is_last {
                        (size - index * CHUNK + OVERHEAD) as usize
                    } else {
                        (CHUNK + OVERHEAD) as usize
                    };
                    while buf.len() < need {
                        match inner.next().await {
                            Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                            Some(Err(e)) => return Some((Err(e), (inner, buf, index, true))),
                            None => {
                                let e = std::io::Error::other("a sealed file ended early");
                                return Some((Err(e), (inner, buf, index, true)));
                            }
                        }
                    }
                    let chunk = buf.split_to(need);
                    let plain = match sealer.open(&chunk, &chunk_ad(&hash, index, is_last)) {
                        Ok(plain) => plain,
                        Err(e) => {
                            let e = std::io::Error::other(format!(
                                "blob {} chunk {index}: {e}",
                                &*hash
                            ));
                            return Some((Err(e), (inner, buf, index, true)));
                        }
                    };
                    // The part of this chunk inside the range asked for.
                    let start = index * CHUNK;
                    let lo = want.start.saturating_sub(start) as usize;
                    let hi = ((want.end - start) as usize).min(plain.len());
                    let part = Bytes::copy_from_slice(&plain[lo..hi]);
                    Some((Ok(part), (inner, buf, index + 1, false)))
                }
            });
        Ok(stream.boxed())
    }

    /// Deletes the blob `hash` (sealed or plain) and destroys its key.
    pub async fn delete(&self, hash: &str) -> anyhow::Result<()> {
        if let Some(key) = self.keys.key(&key_id(hash), false).await? {
            self.inner.delete(&Self::name(&key, hash)).await?;
        }
        self.inner.delete(hash).await?;
        self.keys.erase_key(&key_id(hash)).await
    }

    pub fn describe(&self) -> String {
        self.inner.describe()
    }
}
