//! Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, Garage, …) through the
//! `object_store` crate, under `<prefix>/blobs/ab/abcdef…`. S3 makes an object visible only
//! once its upload completes, so a cut upload never leaves a partial blob. Files of more
//! than one part are sent as a multipart upload, a part at a time from the spool file, so
//! memory stays at a few parts whatever the size.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, WriteMultipart};
use tokio::io::AsyncReadExt as _;

use super::{Blobs, ByteStream, valid_hash};
use crate::config::Config;

/// The size of each part of a multipart upload (S3's minimum is 5 MiB).
const PART: usize = 8 * 1024 * 1024;

pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    url: String,
    prefix: String,
}

impl S3Blobs {
    /// `url` is `s3://bucket[/prefix]`; the endpoint, region and credentials come from the
    /// `s3_*` settings, else from the usual `AWS_*` variables.
    pub fn open(url: &str, config: &Config) -> anyhow::Result<Self> {
        let rest = url.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(!bucket.is_empty(), "files_url {url:?} names no bucket");
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // Self-hosted stores rarely serve bucket subdomains.
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &config.s3_region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.s3_access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.s3_secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().context("configuring the S3 file store")?;
        Ok(Self {
            store: Arc::new(store),
            url: url.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    fn path(&self, hash: &str) -> anyhow::Result<ObjectPath> {
        anyhow::ensure!(valid_hash(hash), "not a blob name: {hash:?}");
        let key = format!("blobs/{}/{hash}", &hash[..2]);
        Ok(if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        })
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put_file(&self, hash: &str, file: &Path, size: u64) -> anyhow::Result<()> {
        let path = self.path(hash)?;
        let mut source = tokio::fs::File::open(file).await?;
        if size <= PART as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            source.read_to_end(&mut bytes).await?;
            self.store
                .put(&path, bytes.into())
                .await
                .context("storing a blob")?;
        } else {
            let upload = self.store.put_multipart(&path).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let sent = async {
                let mut buf = vec![0u8; 1024 * 1024];
                loop {
                    let n = source.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    // At most two parts in flight (and one being filled).
                    writer.wait_for_capacity(2).await?;
                    writer.write(&buf[..n]);
                }
                anyhow::Ok(())
            }
            .await;
            match sent {
                Ok(()) => {
                    writer.finish().await.context("completing a blob")?;
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.context("storing a blob"));
                }
            }
        }
        let _ = tokio::fs::remove_file(file).await;
        Ok(())
    }

    async fn get(&self, hash: &str, range: Option<Range<u64>>) -> anyhow::Result<ByteStream> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&self.path(hash)?, options)
            .await
            .context("reading a blob")?;
        Ok(result
            .into_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed())
    }

    async fn delete(&self, hash: &str) -> anyhow::Result<()> {
        match self.store.delete(&self.path(hash)?).await {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self) -> String {
        format!("S3 store {}", self.url)
    }
}
