//! Blobs as files under one directory, `ab/abcdef…` (the first two hex digits fan out the
//! directory). A blob arrives as a synced spool file and is renamed into place, then the
//! directory is synced: a crash leaves either no blob or the whole one.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

use super::{Blobs, ByteStream, valid_hash};

pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    pub fn open(root: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the file store {}", root.display()))?;
        Ok(Self { root })
    }

    fn path(&self, hash: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(valid_hash(hash), "not a blob name: {hash:?}");
        Ok(self.root.join(&hash[..2]).join(hash))
    }
}

#[async_trait]
impl Blobs for LocalBlobs {
    async fn put_file(&self, hash: &str, file: &Path, _size: u64) -> anyhow::Result<()> {
        let target = self.path(hash)?;
        let dir = target
            .parent()
            .expect("blob paths have a parent")
            .to_owned();
        tokio::fs::create_dir_all(&dir).await?;
        // Renaming over a blob already there replaces it with the same bytes.
        tokio::fs::rename(file, &target)
            .await
            .with_context(|| format!("moving an upload to {}", target.display()))?;
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all()).await??;
        Ok(())
    }

    async fn get(&self, hash: &str, range: Option<Range<u64>>) -> anyhow::Result<ByteStream> {
        let path = self.path(hash)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let stream = match range {
            Some(r) => {
                file.seek(SeekFrom::Start(r.start)).await?;
                ReaderStream::with_capacity(file.take(r.end - r.start), 64 * 1024).boxed()
            }
            None => ReaderStream::with_capacity(file, 64 * 1024).boxed(),
        };
        Ok(stream)
    }

    async fn delete(&self, hash: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(hash)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }
}
