//! Password (and room key) hashing: Argon2id, m = 19 MiB, t = 2, p = 1, in PHC strings.
//!
//! Memory is the point of Argon2 and the cost of a burst: each computation needs 19 MiB of
//! working blocks. Allocated per call, those blocks stayed resident after every burst
//! (measured: 100 registrations left the server at 771 MiB from 29 MiB idle, on glibc; 868
//! MiB with mimalloc, whose idle blocking threads never purge). So at most one computation
//! per core runs at a time ([`HASHING`]), each on a block buffer taken from a pool of that
//! many, allocated on first use and reused for the life of the process: resident memory after
//! any burst is idle + cores x 19 MiB, and the same at its peak.

use std::sync::{Arc, LazyLock, Mutex};

use anyhow::Context as _;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// Argon2id computations allowed at once: one per core. A burst of sign-ins or registrations
/// then queues instead of taking every core from message delivery.
/// The permit moves into the blocking job and ends with it, not with the request: a client
/// that hangs up cannot start another computation while its own still runs.
static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(cores())));

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Block buffers of finished computations, at most one per [`HASHING`] permit.
static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `job` on the blocking pool once a [`HASHING`] permit is free, holding it until the
/// job ends.
async fn hashing<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> anyhow::Result<R> {
    let turn = HASHING
        .clone()
        .acquire_owned()
        .await
        .context("password hashing queue")?;
    tokio::task::spawn_blocking(move || {
        let result = job();
        drop(turn);
        result
    })
    .await
    .context("password hashing task")
}

/// The parameters of new hashes (OWASP's recommendation for Argon2id).
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params")
}

/// Runs one Argon2 computation with pooled working memory of at least `blocks` blocks.
fn with_blocks<R>(blocks: usize, compute: impl FnOnce(&mut [Block]) -> R) -> R {
    // std Mutex: held only to take or return a buffer.
    let pooled = POOL.lock().expect("argon2 pool").pop();
    let mut memory = match pooled {
        Some(memory) if memory.len() >= blocks => memory,
        // Stored hashes with larger parameters (none are made today) get a buffer that size.
        _ => vec![Block::default(); blocks],
    };
    let result = compute(&mut memory[..blocks]);
    let mut pool = POOL.lock().expect("argon2 pool");
    if pool.len() < cores() {
        pool.push(memory);
    }
    result
}

/// Hashes a password (slow on purpose; runs on the blocking pool, one per core at a time).
pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    hashing(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    fn fail(e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("hashing password: {e}")
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let params = params();
    let blocks = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(fail)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(blocks, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
    })
    .map_err(fail)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(fail)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(fail)?),
    };
    Ok(hash.to_string())
}

/// Checks a password against a stored hash (on the blocking pool, one per core at a time).
pub async fn verify_password(password: &str, hash: &str) -> anyhow::Result<bool> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    hashing(move || verify_now(&password, &hash)).await?
}

fn verify_now(password: &str, hash: &str) -> anyhow::Result<bool> {
    fn stored(e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("stored hash: {e}")
    }
    let parsed = PasswordHash::new(hash).map_err(stored)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored hash without salt or output");
    };
    let params = Params::try_from(&parsed).map_err(stored)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(stored)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(stored)?
        .unwrap_or_default();
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(stored)?;
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    with_blocks(blocks, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
    })
    .map_err(stored)?;
    // `Output` compares in constant time.
    Ok(Output::new(&out).map_err(stored)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[test]
    fn hashes_are_standard_phc_strings() {
        let hash = hash_now("a long passphrase").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // The argon2 crate's own verifier agrees, and ours agrees with hashes it made.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"a long passphrase", &parsed)
                .is_ok()
        );
        assert!(verify_now("a long passphrase", &hash).unwrap());
        assert!(!verify_now("a wrong passphrase", &hash).unwrap());
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let weaker = Params::new(4096, 3, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, weaker);
        let hash = argon
            .hash_password(b"secret words", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("secret words", &hash).unwrap());
        assert!(!verify_now("other words", &hash).unwrap());
    }
}
