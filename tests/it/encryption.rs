//! Encryption at rest, proven with a canary: a unique string sent as a message, as its edit,
//! quoted by a reply, searched for, and inside an uploaded file is then looked for in every
//! byte the server keeps — the SQLite files (main, WAL, SHM, the key store), a `pg_dump` of the
//! PostgreSQL database, the file store on disk or in S3 — and found nowhere, while the API
//! still shows and finds it. Then the room is deleted, and a copy of its data taken before
//! (a backup) no longer opens even with the master key in hand: its key is gone.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Every file under `dir` (recursively) that holds `needle`.
pub(crate) fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// The objects under the test's S3 prefix that hold `needle`, and how many objects there are.
pub(crate) async fn s3_objects_holding(
    endpoint: &str,
    url: &str,
    needle: &[u8],
) -> (Vec<String>, usize) {
    let (bucket, prefix) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let http = reqwest::Client::new();
    let listing = http
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .collect();
    let mut found = Vec::new();
    for key in &keys {
        let bytes = http
            .get(format!("{endpoint}/{bucket}/{key}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(key.to_string());
        }
    }
    (found, keys.len())
}

/// A plain-text dump of the PostgreSQL database at `url`.
pub(crate) fn pg_dump(url: &str) -> Vec<u8> {
    let out = std::process::Command::new("pg_dump")
        .arg(url)
        .output()
        .expect("pg_dump runs (Debian's postgresql-client)");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// How many keys the key store holds with ids like `pattern`.
async fn keys_like(app: &TestApp, pattern: &str) -> i64 {
    count_rows_at(
        &app.config.key_store_url(),
        &format!("select count(*) from natter_keys where id like '{pattern}'"),
    )
    .await
}

#[tokio::test]
async fn a_canary_is_nowhere_at_rest_and_unreadable_once_its_room_is_gone() {
    let app = spawn_app_with(|c| c.prune_interval_secs = 1).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "vault", None).await;
    app.join(&bob, "vault", None).await;
    let canary = format!(
        "zq{}canary",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );

    // A message, its edit, a reply quoting it, a file.
    let (status, sent) = app
        .send_http(&ana, &room, "c1", &format!("the {canary}alpha plan"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let seq = sent["message"]["seq"].as_i64().unwrap();
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}/messages/{seq}"),
            json!({"body": format!("the {canary}beta plan")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, reply) = app
        .post(
            &bob,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "c2", "body": "agreed", "reply_to": seq}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file = format!("minutes: {canary}gamma\n").repeat(5000); // several chunks
    let uploaded: Value = app
        .http
        .post(app.url("/uploads?filename=notes.txt"))
        .bearer_auth(&ana.token)
        .body(file.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = uploaded["upload"]["id"].as_str().unwrap().to_owned();
    let (status, with_file) = app
        .post(
            &ana,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "c3", "body": "the notes", "attachments": [upload]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{with_file}");

    // Everything reads and is found as before.
    let (_, page) = app.history(&bob, &room, "").await;
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.contains(&format!("the {canary}beta plan").as_str()),
        "{page}"
    );
    let quoted = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "agreed")
        .unwrap();
    assert_eq!(
        quoted["reply_to"]["excerpt"],
        format!("the {canary}beta plan")
    );
    let (_, edits) = app
        .get(&ana, &format!("/rooms/{room}/messages/{seq}/edits"))
        .await;
    assert_eq!(
        edits["edits"][0]["body"],
        format!("the {canary}alpha plan"),
        "{edits}"
    );
    for (q, hits) in [
        (format!("{canary}beta"), 1),
        (format!("{canary}be"), 1),
        (format!("plan%20{canary}b"), 1),
        (format!("{canary}alpha"), 0),
    ] {
        let (status, found) = app.get(&bob, &format!("/search?q={q}")).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(
            found["results"].as_array().unwrap().len(),
            hits,
            "{q}: {found}"
        );
    }
    let url = uploaded["upload"]["url"].as_str().unwrap();
    let got = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap(), file.as_bytes());
    let part = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&bob.token)
        .header("range", "bytes=70000-140009")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), file.as_bytes()[70000..140010]);

    // The canary is in no byte at rest.
    let needle = canary.as_bytes();
    let on_disk = files_holding(app.dir.path(), needle);
    assert!(on_disk.is_empty(), "the canary is in {on_disk:?}");
    let postgres = app.database_url.starts_with("postgres");
    let dump = postgres.then(|| pg_dump(&app.database_url));
    if let Some(dump) = &dump {
        assert!(
            !dump.windows(needle.len()).any(|w| w == needle),
            "the canary is in pg_dump"
        );
    }
    if files_in_s3() {
        let (holding, objects) = s3_objects_holding(
            app.config.s3_endpoint.as_deref().unwrap(),
            app.config.files_url.as_deref().unwrap(),
            needle,
        )
        .await;
        assert!(objects >= 1, "the file is in S3");
        assert!(
            holding.is_empty(),
            "the canary is in S3 objects {holding:?}"
        );
    }

    // A backup taken now: the sealed body as stored, which the master key and the room's
    // key open.
    let sealed = text_at(
        &app.database_url,
        &format!("select body from messages where room_id = '{room}' and seq = {seq}"),
    )
    .await
    .unwrap();
    let keys = natter::crypto::Keyring::open(&app.config).await.unwrap();
    let room_id = natter::domain::RoomId::from(room.as_str());
    let key = keys
        .room(&room_id, false)
        .await
        .unwrap()
        .expect("the room has a key");
    assert_eq!(
        key.open_text(seq, natter::crypto::Field::Body, &sealed)
            .unwrap(),
        format!("the {canary}beta plan")
    );
    assert_eq!(keys_like(&app, &room).await, 1);
    assert_eq!(keys_like(&app, "blob:%").await, 1);

    // The room is deleted: its key at once, its file's key when the collector deletes the
    // file. The backup stays sealed for good.
    let (status, _) = app.delete(&ana, &format!("/rooms/{room}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(keys_like(&app, &room).await, 0);
    for _ in 0..100 {
        if keys_like(&app, "blob:%").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        keys_like(&app, "blob:%").await,
        0,
        "the file's key is destroyed"
    );
    let keys = natter::crypto::Keyring::open(&app.config).await.unwrap();
    assert!(
        keys.room(&room_id, false).await.unwrap().is_none(),
        "no key opens the backup"
    );
    let on_disk = files_holding(app.dir.path(), needle);
    assert!(on_disk.is_empty(), "the canary is in {on_disk:?}");
    if files_in_s3() {
        let (_, objects) = s3_objects_holding(
            app.config.s3_endpoint.as_deref().unwrap(),
            app.config.files_url.as_deref().unwrap(),
            needle,
        )
        .await;
        assert_eq!(objects, 0, "the sealed file is deleted from S3");
    }
}

/// Messages stored in plain text (by an earlier version, or with encryption off) are sealed in
/// the background after the next start, their search entries replaced, while they stay
/// readable and searchable throughout; plain files stay readable.
#[tokio::test]
async fn plain_messages_are_sealed_in_place_after_an_upgrade() {
    let mut app = spawn_app_with(|c| c.encrypt_at_rest = false).await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "old times", None).await;
    for i in 0..30 {
        let (status, _) = app
            .send_http(&ana, &room, &format!("c{i}"), &format!("plain word{i}"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}/messages/1"),
            json!({"body": "plain edited"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            &ana,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "r", "body": "a reply", "reply_to": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let uploaded: Value = app
        .http
        .post(app.url("/uploads?filename=old.txt"))
        .bearer_auth(&ana.token)
        .body("an old plain file")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        count_rows(&app, "select count(*) from messages where sealed = 0").await,
        31
    );
    assert_eq!(
        count_rows(&app, "select count(*) from message_edits where sealed = 0").await,
        1
    );

    app.shutdown().await;
    let app = app.restart().await;
    for _ in 0..100 {
        let left = count_rows(&app, "select count(*) from messages where sealed = 0").await
            + count_rows(&app, "select count(*) from message_edits where sealed = 0").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        count_rows(&app, "select count(*) from messages where sealed = 0").await,
        0
    );
    assert_eq!(
        count_rows(&app, "select count(*) from message_edits where sealed = 0").await,
        0
    );
    assert_eq!(
        count_rows(
            &app,
            "select count(*) from messages where body like 'plain%'"
        )
        .await,
        0,
        "no plain text left in the rows"
    );
    let (_, page) = app.history(&ana, &room, "?limit=50").await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages[0]["body"], "plain edited");
    assert_eq!(messages[29]["body"], "plain word29");
    assert_eq!(messages[30]["reply_to"]["excerpt"], "plain word1");
    let (_, edits) = app
        .get(&ana, &format!("/rooms/{room}/messages/1/edits"))
        .await;
    assert_eq!(edits["edits"][0]["body"], "plain word0");
    for (q, hits) in [
        ("word7", 1),
        ("plain%20word2", 11),
        ("word0", 0),
        ("edited", 1),
    ] {
        let (_, found) = app.get(&ana, &format!("/search?q={q}")).await;
        assert_eq!(
            found["results"].as_array().unwrap().len(),
            hits,
            "{q}: {found}"
        );
    }
    let url = uploaded["upload"]["url"].as_str().unwrap();
    let file = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.text().await.unwrap(), "an old plain file");
}

/// `natter admin rotate-master-key` wraps every key with a new master key (written over the
/// key file) without touching the data: everything reads after a restart, and the old key no
/// longer opens the key store.
#[tokio::test]
async fn the_master_key_rotates_without_rewriting_messages() {
    let mut app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "rotating", None).await;
    app.send_http(&ana, &room, "c1", "before the rotation")
        .await;
    let uploaded: Value = app
        .http
        .post(app.url("/uploads?filename=kept.txt"))
        .bearer_auth(&ana.token)
        .body("a file that outlives the rotation")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sealed_before = text_at(&app.database_url, "select body from messages").await;
    let key_file = app.dir.path().join("master.key");
    let old = std::fs::read_to_string(&key_file).unwrap();
    app.shutdown().await;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["admin", "rotate-master-key"])
        .env("NATTER_DATA_DIR", app.dir.path())
        .env("NATTER_DATABASE_URL", &app.database_url)
        .env_remove("NATTER_MASTER_KEY")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("rewrapped 2 keys"),
        "the room's and the file's: {said}"
    );
    let new = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(old, new);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is its owner's only");
    }
    let mut with_old = app.config.clone();
    with_old.master_key = Some(old.trim().to_owned());
    let refused = natter::crypto::Keyring::open(&with_old)
        .await
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("another master key"),
        "{refused}"
    );

    let app = app.restart().await;
    assert_eq!(
        text_at(&app.database_url, "select body from messages").await,
        sealed_before,
        "the messages were not rewritten"
    );
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(page["messages"][0]["body"], "before the rotation");
    let (status, _) = app.send_http(&ana, &room, "c2", "after it").await;
    assert_eq!(status, StatusCode::CREATED);
    let url = uploaded["upload"]["url"].as_str().unwrap();
    let file = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        file.text().await.unwrap(),
        "a file that outlives the rotation"
    );
}
