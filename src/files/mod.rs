//! Where uploaded files live: content-addressed blobs (named by the hex SHA-256 of their
//! bytes) behind [`Blobs`], on this machine's disk ([`local`]) or in an S3-compatible object
//! store shared by the nodes of a cluster ([`s3`]), chosen by `files_url` like the database.
//! Which blobs exist, and which uploads name them, is the store's business; this module only
//! moves bytes.

pub mod local;
pub mod s3;
pub mod sealed;

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::config::Config;

/// The bytes of a blob, as they arrive.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// A place to keep blobs. A blob is visible under its name only once it is whole.
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Stores `file` (complete and synced, in this node's spool directory, which it may move
    /// or consume) as the blob `hash` of `size` bytes.
    async fn put_file(&self, hash: &str, file: &Path, size: u64) -> anyhow::Result<()>;
    /// The bytes of `range` of the blob (all of it when `None`).
    async fn get(&self, hash: &str, range: Option<Range<u64>>) -> anyhow::Result<ByteStream>;
    /// Deletes the blob; deleting one that is not there is not an error.
    async fn delete(&self, hash: &str) -> anyhow::Result<()>;
    /// Where the blobs are, for the log.
    fn describe(&self) -> String;
}

/// Opens the file store `config.files_url` names (default: `<data_dir>/files`).
pub fn open(config: &Config) -> anyhow::Result<Arc<dyn Blobs>> {
    match config.files_url.as_deref() {
        None => Ok(Arc::new(local::LocalBlobs::open(
            config.data_dir.join("files"),
        )?)),
        Some(url) if url.starts_with("s3://") => Ok(Arc::new(s3::S3Blobs::open(url, config)?)),
        Some(url) if url.starts_with("file://") => Ok(Arc::new(local::LocalBlobs::open(
            url.trim_start_matches("file://").into(),
        )?)),
        Some(url) => {
            anyhow::bail!(
                "unsupported files_url {url:?} (expected s3://bucket/prefix or file:///path)"
            )
        }
    }
}

/// Whether `hash` is a blob name (64 lowercase hex digits), so it can never walk a path.
pub fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
