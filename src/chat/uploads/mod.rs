//! Files: receiving an upload (streamed to a spool file within the size limit and quotas,
//! its type read from the bytes, images and videos described and thumbnailed, stored under
//! the hash of its bytes), who may read it, its bytes, and the collector that deletes
//! uploads never sent and the blobs nothing names any more.

pub mod media;
pub mod metadata;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Semaphore;

use super::{Chat, Error, Result, invalid};
use crate::config::Config;
use crate::crypto::Keyring;
use crate::domain::{Upload, UserId};
use crate::files::ByteStream;
use crate::files::sealed::SealedBlobs;
use crate::store::{NewUpload, StoreError, StoredUpload};
use media::Kind;

/// The first bytes kept to read the type from.
const HEAD: usize = 8192;
/// Blobs and unsent uploads the collector deletes per pass.
const COLLECT_BATCH: i64 = 200;

/// The file store and what uploading needs beside it.
pub struct Files {
    /// The file store, sealing each file with a key of its own.
    pub blobs: Arc<SealedBlobs>,
    /// Where uploads arrive: `<data_dir>/spool`, emptied at start (what a crash or a cut
    /// connection left there was never visible).
    spool: PathBuf,
    /// Images are read and decoded one at a time (each may take a few hundred MiB).
    images: Arc<Semaphore>,
    /// `ffprobe`/`ffmpeg` runs at once.
    tools: Semaphore,
}

impl Files {
    /// Opens the file store; the server (`serving`) also empties the spool, which a crash or
    /// cut connections may have left files in.
    pub fn open(config: &Config, serving: bool, keys: Arc<Keyring>) -> anyhow::Result<Self> {
        let blobs = Arc::new(SealedBlobs::new(crate::files::open(config)?, keys));
        let spool = config.data_dir.join("spool");
        if serving {
            match std::fs::remove_dir_all(&spool) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("emptying {}", spool.display()));
                }
                _ => {}
            }
        }
        std::fs::create_dir_all(&spool).with_context(|| format!("creating {}", spool.display()))?;
        tracing::info!(store = %blobs.describe(), "uploads");
        Ok(Self {
            blobs,
            spool,
            images: Arc::new(Semaphore::new(1)),
            tools: Semaphore::new(2),
        })
    }

    /// A new, empty spool file (deleted when dropped unless moved into the store).
    fn spool_file(&self) -> Result<(TempPath, tokio::fs::File)> {
        let file = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&self.spool)
            .context("creating a spool file")?;
        let (file, path) = file.into_parts();
        Ok((path, tokio::fs::File::from_std(file)))
    }

    /// Writes bytes made here (a thumbnail, an image without its metadata) to a synced spool
    /// file: its path, hash and size.
    async fn spool_bytes(&self, bytes: &[u8]) -> Result<Spooled> {
        let (path, mut file) = self.spool_file()?;
        file.write_all(bytes).await.context("spooling")?;
        file.sync_all().await.context("spooling")?;
        Ok(Spooled {
            path,
            hash: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        })
    }

    /// Stores a spooled file as its blob.
    async fn put(&self, spooled: &Spooled) -> Result<()> {
        self.blobs
            .put_file(&spooled.hash, &spooled.path, spooled.size)
            .await
            .map_err(Error::Internal)
    }
}

/// A complete file in the spool.
struct Spooled {
    path: TempPath,
    hash: String,
    size: u64,
}

impl Chat {
    /// What the user may still upload: the least of the file limit and what is left of their
    /// quota and the server's; the error to give past it.
    async fn upload_room(&self, user: &UserId) -> Result<(u64, Error)> {
        let settings = self.settings();
        let mut room = (
            settings.settings.max_upload_bytes,
            Error::TooLarge("the file is larger than this server accepts"),
        );
        let quotas = [
            (settings.settings.upload_quota_per_user_bytes, Some(user)),
            (self.config.upload_quota_total_bytes, None),
        ];
        for (quota, whose) in quotas.into_iter().filter(|(q, _)| *q > 0) {
            let used = self.store.upload_usage(whose).await?.max(0) as u64;
            let left = quota.saturating_sub(used);
            if left < room.0 {
                room = (
                    left,
                    Error::QuotaExceeded(if whose.is_some() {
                        "your files take all the space you have on this server"
                    } else {
                        "this server has no space left for files"
                    }),
                );
            }
        }
        Ok(room)
    }

    /// Receives an upload: the body is streamed to a spool file (never held whole), refused
    /// as soon as it passes the limit, then read for its type, described, and stored under
    /// the hash of its bytes. A cut connection or a refusal leaves nothing behind. A `sealed`
    /// upload (a file encrypted in the browser for a sealed room) is stored as it is, typed
    /// [`SEALED_CONTENT_TYPE`](crate::domain::SEALED_CONTENT_TYPE), nameless, never decoded.
    pub async fn upload<S>(
        self: &Arc<Self>,
        user: &UserId,
        filename: &str,
        sealed: bool,
        declared: Option<u64>,
        mut body: S,
    ) -> Result<Upload>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Unpin,
    {
        let filename = match sealed {
            true => "sealed".to_owned(),
            false => crate::domain::display_filename(filename),
        };
        let (limit, over) = self.upload_room(user).await?;
        if declared.is_some_and(|n| n > limit) {
            return Err(over);
        }
        let (path, mut file) = self.files.spool_file()?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::with_capacity(HEAD);
        // A body that stalls fails at the listener's deadline (`http_body_timeout_secs`),
        // which the HTTP layer passes on as `TimedOut`.
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::debug!(error = %e, "upload cut off");
                match e.kind() {
                    std::io::ErrorKind::TimedOut => Error::TimedOut("the upload stopped arriving"),
                    _ => invalid("body", "the upload was cut off"),
                }
            })?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(over);
            }
            hasher.update(&chunk);
            let want = (HEAD - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..want]);
            file.write_all(&chunk).await.context("spooling an upload")?;
        }
        if size == 0 {
            return Err(invalid("body", "the file is empty"));
        }
        file.sync_all().await.context("spooling an upload")?;
        drop(file);
        let blob = Spooled {
            path,
            hash: hex::encode(hasher.finalize()),
            size,
        };
        // The rest runs on its own: a client that hangs up now neither stops an image's decode
        // halfway (its turn would be freed while the decode goes on) nor leaves a half-stored
        // upload behind. What it stores is then never sent, and collected after a day.
        let chat = self.clone();
        let user = user.clone();
        let head = if sealed { None } else { Some(head) };
        tokio::spawn(async move { chat.describe_and_store(user, filename, blob, head).await })
            .await
            .map_err(|e| {
                if e.is_panic() {
                    // A decoder that panicked on odd bytes: the file is at fault.
                    Error::Unsupported("the file could not be read")
                } else {
                    Error::Internal(anyhow::anyhow!("upload task: {e}"))
                }
            })?
    }

    /// Reads what a complete upload is, makes its thumbnail (and its image's copy without
    /// metadata), records it and stores its blobs. Without a `head` to read, the file is
    /// sealed: only recorded and stored.
    async fn describe_and_store(
        &self,
        user: UserId,
        filename: String,
        mut blob: Spooled,
        head: Option<Vec<u8>>,
    ) -> Result<Upload> {
        let (mut content_type, kind) = match &head {
            Some(head) => media::sniff(head),
            None => (crate::domain::SEALED_CONTENT_TYPE.to_owned(), Kind::Other),
        };
        let mut described = Described::default();
        match kind {
            Kind::Image => {
                if blob.size > media::MAX_IMAGE_BYTES {
                    return Err(Error::TooLarge(
                        "an image may be at most 64 MiB (send it in a zip file instead)",
                    ));
                }
                // One image in memory at a time: the turn is taken before the file is read.
                let turn = self
                    .files
                    .images
                    .clone()
                    .acquire_owned()
                    .await
                    .context("image queue")?;
                let bytes = tokio::fs::read(&blob.path)
                    .await
                    .context("reading an upload")?;
                let info = tokio::task::spawn_blocking(move || {
                    let info = media::image(&bytes);
                    drop(turn);
                    info
                })
                .await
                .map_err(|e| {
                    if e.is_panic() {
                        Error::Unsupported("the image could not be read")
                    } else {
                        Error::Internal(anyhow::anyhow!("image task: {e}"))
                    }
                })??;
                if let Some(clean) = &info.clean {
                    blob = self.files.spool_bytes(clean).await?;
                }
                described.width = Some(info.width.into());
                described.height = Some(info.height.into());
                described.thumb = Some(info.thumb);
            }
            Kind::Video | Kind::Audio if media::tools_available().await => {
                let turn = self.files.tools.acquire().await.context("media queue")?;
                if let Some(av) = media::probe(&blob.path).await {
                    described.duration_ms = av.duration_ms;
                    if av.has_video {
                        described.width = av.width;
                        described.height = av.height;
                        described.thumb = media::poster(&blob.path, av.duration_ms).await;
                    } else if let Some(audio) = content_type.strip_prefix("video/") {
                        // Sound alone in a video container (a recorded voice message).
                        content_type = format!("audio/{audio}");
                    }
                }
                drop(turn);
            }
            _ => {}
        }
        let thumb = match &described.thumb {
            Some(bytes) => Some(self.files.spool_bytes(bytes).await?),
            None => None,
        };
        let new = NewUpload {
            id: hex::encode(rand::random::<[u8; 16]>()),
            uploader: user,
            blob: blob.hash.clone(),
            size: blob.size as i64,
            filename,
            content_type,
            width: described.width,
            height: described.height,
            duration_ms: described.duration_ms,
            thumb: thumb.as_ref().map(|t| (t.hash.clone(), t.size as i64)),
        };
        // The blobs are claimed first, then written: the collector, which deletes a blob
        // while holding its row, cannot delete them under this upload.
        let quota = i64::try_from(self.settings().settings.upload_quota_per_user_bytes)
            .ok()
            .filter(|q| *q > 0);
        let upload = match self.store.create_upload(&new, quota).await {
            Err(StoreError::Conflict("quota")) => {
                return Err(Error::QuotaExceeded(
                    "your files take all the space you have on this server",
                ));
            }
            other => other?,
        };
        let stored = async {
            self.files.put(&blob).await?;
            if let Some(thumb) = &thumb {
                self.files.put(thumb).await?;
            }
            Ok::<_, Error>(())
        };
        if let Err(e) = stored.await {
            let _ = self
                .store
                .delete_unsent_upload(&new.id, &new.uploader)
                .await;
            return Err(e);
        }
        Ok(upload)
    }

    /// An upload the user may read: their own, or one held by a message they may read now
    /// (membership, bans and `joined` history as for the message). Anything else is
    /// `not_found`, so ids cannot be probed.
    pub async fn readable_upload(&self, user: &UserId, id: &str) -> Result<StoredUpload> {
        let stored = match self.store.upload(id).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound) => return Err(Error::NotFound("upload")),
            Err(e) => return Err(e.into()),
        };
        if &stored.uploader == user {
            return Ok(stored);
        }
        let Some((room, seq)) = &stored.attached else {
            return Err(Error::NotFound("upload"));
        };
        match self.read_floor(user, room).await {
            Ok(floor) if *seq > floor => Ok(stored),
            Ok(_) | Err(Error::Forbidden(_) | Error::NotFound(_)) => Err(Error::NotFound("upload")),
            Err(e) => Err(e),
        }
    }

    /// Deletes one of the user's uploads that was never sent (a cancelled attachment).
    pub async fn discard_upload(&self, user: &UserId, id: &str) -> Result<()> {
        match self.store.delete_unsent_upload(id, user).await {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(Error::NotFound("upload")),
            Err(e) => Err(e.into()),
        }
    }

    /// The sender's own uploads, in the order given. Whether each is still unsent is the
    /// commit's to check: a retried send (its `client_id` stored before) must get the original
    /// message back, not a refusal because its files are now sent.
    pub(super) async fn unsent_uploads(
        &self,
        sender: &UserId,
        ids: &[String],
    ) -> Result<Vec<Upload>> {
        let mut uploads = Vec::with_capacity(ids.len());
        for id in ids {
            let stored = match self.store.upload(id).await {
                Ok(s) if &s.uploader == sender => s,
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(invalid("attachments", "not an upload of yours"));
                }
                Err(e) => return Err(e.into()),
            };
            uploads.push(stored.upload);
        }
        Ok(uploads)
    }

    /// The bytes of a blob of `size` bytes (a range of them when asked).
    pub async fn blob(
        &self,
        hash: &str,
        size: u64,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream> {
        self.files
            .blobs
            .get(hash, size, range)
            .await
            .map_err(Error::Internal)
    }

    /// One pass of the collector: uploads never sent within `unsent_upload_secs`, then the
    /// blobs no upload names (those of deleted, pruned and never-sent uploads), then avatars
    /// no user shows any more. Returns how many blobs went.
    pub async fn collect_files(&self) -> anyhow::Result<u64> {
        let age = chrono::Duration::try_seconds(self.config.unsent_upload_secs as i64)
            .unwrap_or(chrono::Duration::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        while self
            .store
            .drop_unsent_uploads(cutoff, COLLECT_BATCH)
            .await?
            == COLLECT_BATCH as u64
        {}
        let mut dropped = 0;
        loop {
            let orphans = self.store.orphan_blobs(COLLECT_BATCH).await?;
            let mut progress = false;
            for hash in &orphans {
                let blobs = self.files.blobs.clone();
                let unlink = Box::pin(async move { blobs.delete(hash).await });
                if self.store.drop_blob(hash, unlink).await? {
                    dropped += 1;
                    progress = true;
                }
            }
            if orphans.len() < COLLECT_BATCH as usize || !progress {
                break;
            }
        }
        let avatars = self.store.drop_unused_avatars().await?;
        if dropped > 0 || avatars > 0 {
            tracing::info!(blobs = dropped, avatars, "collected unused files");
        }
        Ok(dropped)
    }
}

/// What was learnt of a file beyond its type.
#[derive(Default)]
struct Described {
    width: Option<i64>,
    height: Option<i64>,
    duration_ms: Option<i64>,
    thumb: Option<Vec<u8>>,
}

/// Runs [`Chat::collect_files`] every `prune_interval_secs` until the process ends.
pub async fn run_collector(chat: Arc<Chat>) {
    let every = Duration::from_secs(chat.config.prune_interval_secs.max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = chat.collect_files().await {
            tracing::warn!(error = %e, "file collection failed");
        }
    }
}
