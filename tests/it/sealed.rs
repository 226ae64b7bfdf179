//! Sealed rooms (end to end) as the server sees them: a seal and a join proof instead of a
//! key, bodies and files that must arrive sealed, nothing indexed, no excerpt cut, settings
//! that cannot unseal the room. The browser's side (WebCrypto) is in `browser::sealed_rooms…`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A body shaped as the browser seals one (the server cannot tell real ciphertext apart).
fn sealed_body(fill: u8) -> String {
    format!("sealed:v1:{}", b64(&[fill; 60]))
}

fn seal_request(proof: &str) -> Value {
    json!({
        "iterations": 600000,
        "salt": b64(&[9; 16]),
        "check": b64(&[4; 44]),
        "proof": proof,
    })
}

#[tokio::test]
async fn a_sealed_room_takes_a_proof_and_only_sealed_bodies_and_files() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let proof = b64(&[7; 32]);

    // Made with a seal; the owner sees it whole.
    let (status, body) = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "Vault", "visibility": "private", "seal": seal_request(&proof)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let room = body["room"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["room"]["kind"], "private");
    assert_eq!(body["room"]["seal"]["kdf"], "pbkdf2-sha256");
    assert_eq!(body["room"]["seal"]["check"], b64(&[4; 44]));

    // Bad seals are refused field by field; a seal and a key together too.
    for (seal, field) in [
        (
            json!({"iterations": 1000, "salt": b64(&[9; 16]), "check": b64(&[4; 44]), "proof": proof}),
            "seal.iterations",
        ),
        (
            json!({"iterations": 600000, "salt": "short", "check": b64(&[4; 44]), "proof": proof}),
            "seal.salt",
        ),
        (seal_request("the passphrase itself"), "seal.proof"),
    ] {
        let (status, body) = app
            .post(
                &ana,
                "/rooms",
                json!({"name": "Bad", "visibility": "private", "seal": seal}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["fields"][field].is_string(), "{body}");
    }
    let (status, _) = app
        .post(&ana, "/rooms", json!({"name": "Bad", "visibility": "private", "key": "abcd", "seal": seal_request(&proof)}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "Bad", "visibility": "public", "seal": seal_request(&proof)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Someone about to join learns how to derive the proof, not the check value.
    let (status, body) = app.get(&bob, "/rooms/seal?name=vault").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["seal"]["salt"], b64(&[9; 16]));
    assert_eq!(body["seal"]["iterations"], 600000);
    assert!(body["seal"].get("check").is_none(), "{body}");
    let public = app.create_room(&ana, "Lobby", None).await;
    let (status, body) = app.get(&bob, "/rooms/seal?name=Lobby").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["seal"], Value::Null, "only sealed rooms have a seal");
    let (status, _) = app.get(&bob, "/rooms/seal?name=Nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A key (a client that would send the passphrase) is refused; no proof, a wrong one,
    // then the right one.
    let (status, body) = app.join(&bob, "Vault", Some("passphrase")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .post(&bob, "/rooms/join", json!({"name": "Vault"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(
            &bob,
            "/rooms/join",
            json!({"name": "Vault", "proof": b64(&[8; 32])}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["message"], "wrong passphrase");
    let (status, body) = app
        .post(
            &bob,
            "/rooms/join",
            json!({"name": "Vault", "proof": proof}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["room"]["seal"]["check"],
        b64(&[4; 44]),
        "members get the check"
    );

    // Plain text is refused over HTTP and WebSocket, with the reason; sealed bodies pass.
    let (status, body) = app.send_http(&ana, &room, "p1", "plain words").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sealed"),
        "{body}"
    );
    let (mut ws, _) = app.ws(&ana).await;
    ws.send_json(json!({"type": "send", "room_id": room, "client_id": "p2", "body": "plain"}))
        .await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert_eq!(refused["client_id"], "p2");
    let first = ws.send_message(&room, "s1", &sealed_body(1)).await;
    let seq = first["seq"].as_i64().unwrap();
    assert_eq!(first["body"], sealed_body(1), "kept exactly as sent");

    // A reply quotes nothing the server could cut (the browser seals its own quote).
    let reply = ws
        .send_message_with(json!({"type": "send", "room_id": room, "client_id": "s2",
            "body": sealed_body(2), "reply_to": seq}))
        .await;
    assert_eq!(reply["reply_to"]["seq"], seq);
    assert_eq!(reply["reply_to"]["excerpt"], "");

    // Edits: plain refused, sealed taken.
    let path = format!("/rooms/{room}/messages/{seq}");
    let (status, _) = app.patch(&ana, &path, json!({"body": "plain edit"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .patch(&ana, &path, json!({"body": sealed_body(3)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["body"], sealed_body(3));

    // Files: a plain upload cannot go in; a sealed one is kept as it is, nameless and typed
    // as sealed, with no thumbnail, and served back byte for byte.
    let (status, plain) = upload(&app, &ana, "notes.txt", b"plain file words".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(&ana, &format!("/rooms/{room}/messages"),
            json!({"client_id": "f1", "body": sealed_body(4), "attachments": [plain["upload"]["id"]]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let png = png_bomb(8);
    let res = app
        .http
        .post(app.url("/uploads?filename=photo.png&sealed=true"))
        .bearer_auth(&ana.token)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let sealed: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{sealed}");
    let sealed = &sealed["upload"];
    assert_eq!(sealed["content_type"], "application/x-natter-sealed");
    assert_eq!(sealed["filename"], "sealed");
    assert!(
        sealed.get("thumbnail_url").is_none_or(Value::is_null),
        "{sealed}"
    );
    assert!(
        sealed.get("width").is_none_or(Value::is_null),
        "never decoded: {sealed}"
    );
    let (status, body) = app
        .post(
            &ana,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "f2", "body": sealed_body(5), "attachments": [sealed["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = sealed["url"].as_str().unwrap();
    let served = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), png);

    // Nothing of a sealed body is indexed.
    let envelope = sealed_body(3);
    let piece = &envelope["sealed:v1:".len()..][..12];
    let (status, found) = app.get(&ana, &format!("/search?q={piece}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["results"], json!([]), "{found}");
    let (status, found) = app.get(&ana, "/search?q=sealed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["results"], json!([]), "{found}");

    // The room cannot be unsealed: no key, never public. Its topic can change.
    let settings = format!("/rooms/{room}");
    let (status, _) = app
        .patch(&ana, &settings, json!({"key": "a new key"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .patch(&ana, &settings, json!({"visibility": "public"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app.patch(&ana, &settings, json!({"topic": "quiet"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["seal"]["salt"], b64(&[9; 16]));

    // A body of the sealed shape belongs in a sealed room only (it skips the text limits).
    let (status, body) = app.send_http(&ana, &public, "o1", &sealed_body(6)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let plain = app.send_http(&ana, &public, "o2", "plain").await.1;
    let seq = plain["message"]["seq"].as_i64().unwrap();
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{public}/messages/{seq}"),
            json!({"body": sealed_body(7)}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// How many of a running process's readable memory regions hold `needle`, and how many bytes
/// were read (through `/proc/<pid>/mem`, which a parent may read of its child).
fn memory_holding(pid: u32, needle: &[u8]) -> (usize, usize) {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("the process's maps");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("the process's memory");
    let (mut holding, mut read) = (0, 0);
    let mut chunk = vec![0u8; 1 << 20];
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        // Read in chunks that overlap by the needle's length, so no match is cut in two.
        let mut at = start;
        let mut found = false;
        while at < end && !found {
            let want = chunk.len().min((end - at) as usize);
            if mem.seek(SeekFrom::Start(at)).is_err() {
                break;
            }
            let Ok(n) = mem.read(&mut chunk[..want]) else {
                break;
            };
            if n == 0 {
                break;
            }
            read += n;
            found = chunk[..n].windows(needle.len()).any(|w| w == needle);
            at += (n.saturating_sub(needle.len()).max(1)) as u64;
        }
        holding += usize::from(found);
    }
    (holding, read)
}

/// A sealed room driven through the web client (e2e/sealed.test.mjs: a message, its edit, a
/// reply, a reaction, a file named after the canary and holding it, an image, search, a
/// reload, a new device) leaves the servers nothing readable: the canary is in none of their
/// files (SQLite main, WAL, SHM, key store, file store, spool), not in a `pg_dump`, not in S3,
/// not in what crossed Redis (`MONITOR`), not in their logs at debug level, not in their
/// metrics, and not anywhere in their processes' memory. On PostgreSQL the two people use two
/// nodes of a cluster (Redis between them, files in S3); on SQLite, one node.
#[tokio::test]
async fn a_sealed_room_in_the_browser_leaves_the_servers_only_ciphertext() {
    use crate::cluster::{
        Monitor, Node, NodeSetup, PrivateRedis, free_port, services, with_postgres,
    };
    let _turn = crate::helpers::HEAVY.lock().await;
    use crate::encryption::{files_holding, pg_dump, s3_objects_holding};
    let test = "sealed::a_sealed_room_in_the_browser_leaves_the_servers_only_ciphertext";
    let chromium = crate::browser::chromium();
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let canary = format!("zq{}canary", &unique[20..]);
    let room = format!("Vault {}", &unique[24..]);
    let on_postgres = std::env::var("NATTER_TEST_BACKEND").as_deref() == Ok("postgres");
    let mut redis = None;
    let mut monitor = None;
    let mut database = None;
    let nodes = if on_postgres {
        let Some((pg, _)) = services(test) else {
            return;
        };
        let Some(private) = PrivateRedis::start(test) else {
            return;
        };
        monitor = Some(Monitor::start(&private));
        let db = with_postgres(&pg).await;
        let start = |name| {
            Node::start_with(NodeSetup {
                database_url: Some(&db),
                redis_url: Some(&private.url),
                name,
                port: free_port(),
                s3: files_in_s3(),
                log: "debug",
                dir: None,
            })
        };
        let nodes = vec![start("n1"), start("n2")];
        database = Some(db.clone());
        redis = Some(private);
        nodes
    } else {
        vec![Node::start_with(NodeSetup {
            database_url: None,
            redis_url: None,
            name: "n1",
            port: free_port(),
            s3: false,
            log: "debug",
            dir: None,
        })]
    };
    let env = [
        ("NATTER_URL", nodes[0].url.as_str()),
        ("NATTER_URL2", nodes[nodes.len() - 1].url.as_str()),
        ("NATTER_CANARY", canary.as_str()),
        ("NATTER_ROOM", room.as_str()),
        ("NATTER_SCREENSHOTS", "docs/screenshots"),
        ("CHROMIUM", chromium.as_str()),
    ];
    let report = crate::browser::node_test(&["e2e/sealed.test.mjs"], &env).await;
    assert!(report.contains("# fail 0"), "{report}");

    let needle = canary.as_bytes();
    for node in &nodes {
        // Files: the SQLite database and its WAL, SHM and key store, files kept on disk, the
        // spool. The room's name (not sealed: metadata) shows the scan reads them.
        let holding = files_holding(&node.dir, needle);
        assert!(holding.is_empty(), "the canary is in {holding:?}");
        if !on_postgres {
            assert!(
                !files_holding(&node.dir, room.as_bytes()).is_empty(),
                "the scan finds what the server does keep"
            );
        }
        // Logs, at debug level.
        let log = node.log_text();
        assert!(log.lines().count() > 10, "the node logged: {log}");
        assert!(!log.contains(&canary), "the canary is in the log");
        // Metrics.
        let metrics = reqwest::get(format!("{}/metrics", node.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("natter_"), "{metrics}");
        assert!(!metrics.contains(&canary), "the canary is in the metrics");
        // Memory: every readable page of the running server. Its environment (the master
        // key's variable) shows the scan reads it.
        let (holding, read) = memory_holding(node.pid(), needle);
        let (control, _) = memory_holding(node.pid(), TEST_MASTER_KEY_VAR.as_bytes());
        assert!(
            control > 0 && read > 1 << 20,
            "the memory scan read {read} bytes"
        );
        assert_eq!(holding, 0, "the canary is in the server's memory");
        // Files in S3.
        if let Some(files_url) = &node.files_url {
            let endpoint = std::env::var("NATTER_TEST_S3_ENDPOINT").unwrap();
            let (holding, objects) = s3_objects_holding(&endpoint, files_url, needle).await;
            assert!(objects >= 2, "the two files are in S3 ({objects} objects)");
            assert!(
                holding.is_empty(),
                "the canary is in S3 objects {holding:?}"
            );
        }
    }
    if let Some(db) = &database {
        let dump = pg_dump(db);
        assert!(dump.windows(room.len()).any(|w| w == room.as_bytes()));
        assert!(
            !dump.windows(needle.len()).any(|w| w == needle),
            "the canary is in pg_dump"
        );
    }
    if let Some(monitor) = monitor {
        let seen = monitor.stop();
        assert!(
            seen.to_lowercase().contains("\"publish\""),
            "MONITOR saw the events"
        );
        assert!(!seen.contains(&canary), "the canary crossed Redis");
    }
    drop(redis);
}

/// What the nodes' environment holds (they all get the test master key this way).
const TEST_MASTER_KEY_VAR: &str = "NATTER_MASTER_KEY=7e57c1a5e7e57c1a5e";
