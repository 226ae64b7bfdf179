//! Built-in TLS with rustls: certificates from PEM files (`tls_cert`, `tls_key`) or, for
//! development, a self-signed one generated once into `<data_dir>/tls/`. TLS 1.2 and 1.3
//! only, HTTP/1.1 (WebSocket upgrades included).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// The server's TLS settings, or `None` when it serves plain HTTP.
pub fn server_config(config: &Config) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
        (Some(cert), Some(key), _) => (cert.clone(), key.clone()),
        (None, None, true) => self_signed(&config.data_dir)?,
        (None, None, false) => return Ok(None),
        _ => anyhow::bail!("tls_cert and tls_key go together"),
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .with_context(|| format!("reading certificates from {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing certificates in {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .with_context(|| format!("reading the private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not match")?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(tls)))
}

/// A certificate for `localhost` and `127.0.0.1`, made on first use and kept.
fn self_signed(data_dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    if !cert.exists() || !key.exists() {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .context("generating a self-signed certificate")?;
        std::fs::write(&cert, made.cert.pem())?;
        std::fs::write(&key, made.signing_key.serialize_pem())?;
        tracing::warn!(cert = %cert.display(), "generated a self-signed certificate (for development only)");
    }
    Ok((cert, key))
}
