//! `natter admin`: account chores run against the database directly. Passwords come from a
//! prompt (or standard input when it is not a terminal), never from the command line.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::Context as _;

use crate::bus::LocalBus;
use crate::chat::Chat;
use crate::config::Config;
use crate::hub::Hub;

/// Reads a password from the terminal (twice) or one line of standard input.
pub fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn chat(config: Config) -> anyhow::Result<Chat> {
    let store = crate::store::open(&config).await?;
    let bus = Arc::new(LocalBus::new(Arc::new(Hub::new(16))));
    let files = crate::chat::uploads::Files::open(&config, false, store.keyring().clone())?;
    Ok(Chat::new(store, bus, Arc::new(config), files).0)
}

pub async fn create_user(config: Config, name: &str, admin: bool) -> anyhow::Result<()> {
    let password = read_password()?;
    let chat = chat(config).await?;
    let user = chat
        .create_user(name, &password, None, admin)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created user {} ({}){}",
        user.username,
        user.id,
        if admin { " as admin" } else { "" }
    );
    chat.store.close().await;
    Ok(())
}

pub async fn reset_password(config: Config, name: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    let chat = chat(config).await?;
    chat.reset_password(name, &password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("password of {name} reset; all of its sessions are signed out");
    chat.store.close().await;
    Ok(())
}

/// The one-time setup link of a server without an admin (relative to the server's origin).
async fn setup_path(chat: &Chat) -> anyhow::Result<Option<String>> {
    let token = chat
        .setup_token()
        .await
        .map_err(|e| anyhow::anyhow!("reading the setup token: {e}"))?;
    Ok(token.map(|t| format!("/?setup={t}")))
}

/// Logs the setup link (the token `App::start` made) when the server has no admin yet, so
/// that the operator (who reads the log) and nobody racing them claims a fresh server.
pub fn announce_setup(token: Option<&str>, origin: &str) {
    if let Some(token) = token {
        tracing::warn!(
            "This server has no admin yet. Open {origin}/?setup={token} to create the admin \
             account (the link works once; `natter admin setup-link` prints it again)."
        );
    }
}

/// `natter admin setup-link`: prints the setup link's path, or says an admin exists.
pub async fn setup_link(config: Config) -> anyhow::Result<()> {
    let chat = chat(config).await?;
    match setup_path(&chat).await? {
        Some(path) => println!("open {path} on this server to create the admin account"),
        None => println!("this server has an admin already: no setup link"),
    }
    chat.store.close().await;
    Ok(())
}

/// Wraps every key again with a new master key. With a key file: the new key is written
/// beside it (`.new`, mode 0600) first, the key store rewrapped in one transaction, then the
/// file replaced; a failure between leaves both keys on disk and says which to use. With
/// `NATTER_MASTER_KEY`: the new key is printed first, for the operator to set on every node.
pub async fn rotate_master_key(config: Config) -> anyhow::Result<()> {
    use crate::crypto::{Keyring, MasterKey};
    let keys = Keyring::open(&config).await?;
    let new = MasterKey::generate();
    let file = config
        .master_key
        .is_none()
        .then(|| MasterKey::file_of(&config));
    let staged = file.as_ref().map(|f| {
        let mut name = f.clone().into_os_string();
        name.push(".new");
        std::path::PathBuf::from(name)
    });
    match &staged {
        Some(path) => new.write_new(path).with_context(|| {
            format!(
                "{} exists: an earlier rotation did not finish",
                path.display()
            )
        })?,
        None => {
            println!("new master key (set NATTER_MASTER_KEY to it on every node):");
            println!("{}", new.to_hex().as_str());
        }
    }
    let count = keys.rotate(&new).await?;
    keys.store().close().await;
    if let (Some(file), Some(staged)) = (&file, &staged) {
        std::fs::rename(staged, file)
            .map_err(anyhow::Error::from)
            .and_then(|()| crate::crypto::master::sync_dir(file))
            .with_context(|| {
                format!(
                    "the keys are wrapped with the new key in {}: move it over {}",
                    staged.display(),
                    file.display()
                )
            })?;
        println!(
            "rewrapped {count} keys; the new master key is in {}",
            file.display()
        );
    } else {
        println!("rewrapped {count} keys with the new master key");
    }
    println!("the old key opens nothing in the key store any more: back up the new one");
    Ok(())
}
