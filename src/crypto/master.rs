//! The master key: 256 random bits that wrap every room key and seal what crosses Redis.
//! It lives outside the database: in `NATTER_MASTER_KEY` (64 hex digits; a cluster gives every
//! node the same), or in a file (`master_key_file`, default `<data_dir>/master.key`) made on
//! the first start with mode 0600. Losing it loses every message; `docs/security.md` says how
//! to back it up and rotate it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::config::Config;

pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(Zeroizing::new(rand::random()))
    }

    /// The key written as 64 hex digits (the form of the file and of `NATTER_MASTER_KEY`).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut key[..])
            .map_err(|_| anyhow::anyhow!("a master key is 64 hex digits (256 bits)"))?;
        Ok(Self(key))
    }

    /// A key for one purpose, derived from this one.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        super::hmac(&self.0[..], &[label])
    }

    /// A name for this key that says nothing about it: the key store records it, so a node
    /// started with another key refuses to start instead of making keys nobody else can open.
    pub fn id(&self) -> String {
        hex::encode(&self.derive(b"natter master key id v1")[..8])
    }

    /// Where the key file is for `config`.
    pub fn file_of(config: &Config) -> PathBuf {
        config
            .master_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("master.key"))
    }

    /// The key `config` names: `master_key` (the variable), else the key file, made now when
    /// missing (`made` says so).
    pub fn load(config: &Config) -> anyhow::Result<(Self, bool)> {
        if let Some(text) = &config.master_key {
            return Ok((Self::parse(text).context("NATTER_MASTER_KEY")?, false));
        }
        let path = Self::file_of(config);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable(&path);
                let key = Self::parse(&text).with_context(|| format!("{}", path.display()))?;
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                match key.write_new(&path) {
                    Ok(()) => Ok((key, true)),
                    // Another process opening the same data directory made it first.
                    Err(_) if path.exists() => Self::load(config),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e).with_context(|| format!("reading the master key {}", path.display())),
        }
    }

    /// Writes the key to a file that must not exist yet, readable by its owner only.
    pub fn write_new(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .with_context(|| format!("creating the master key {}", path.display()))?;
        file.write_all(format!("{}\n", self.to_hex().as_str()).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the master key {}", path.display()))?;
        sync_dir(path)
    }
}

/// Makes a file's creation or renaming in its directory durable.
pub fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

#[cfg(unix)]
fn warn_if_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the master key file is readable by others than its owner: chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable(_: &Path) {}
