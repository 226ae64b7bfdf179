//! The limits that keep one client from exhausting the server: memory (avatar bombs, login
//! floods, registration bursts, measured by the server process's own resident memory),
//! descriptors (header deadlines, connections per address), and the throttles on guessing
//! and sign-up. The memory tests run the real `natter` binary, so its RSS is its own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message as WsMessage;

use crate::helpers::{TestApp, png_bomb, spawn_app_with};

/// A `natter serve` process on a fresh SQLite database, stopped when dropped.
struct Server {
    child: Child,
    url: String,
    http: reqwest::Client,
    /// What it has logged so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Self {
        Self::start_limited(env, None)
    }

    /// Starts the server with at most `open_files` descriptors (`ulimit -n`), if given.
    fn start_limited(env: &[(&str, &str)], open_files: Option<u32>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_natter");
        let mut cmd = match open_files {
            None => Command::new(bin),
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" serve"), bin]);
                sh
            }
        };
        cmd.current_dir(dir.path())
            .env("NATTER_DATA_DIR", dir.path().join("data"))
            .env("NATTER_BIND", "127.0.0.1:0")
            .env("NATTER_LOG", "natter=info")
            .env("NATTER_REGISTER_PER_ADDRESS_PER_HOUR", "0")
            .env("NATTER_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .stdout(Stdio::piped());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("server logs its address").unwrap();
            if let Some(at) = line.find("open http://") {
                break line[at + 5..].trim().to_owned();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        let log: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            url,
            http: reqwest::Client::new(),
            log,
            _dir: dir,
        }
    }

    /// The server's resident memory, in MiB (from /proc).
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status");
        kib / 1024.0
    }

    /// Creates a public room as the holder of `token`; its id.
    async fn create_room(&self, token: &str, name: &str) -> String {
        let body = json!({"name": name, "visibility": "public"});
        let (status, body) = self.post("/rooms", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["room"]["id"].as_str().unwrap().to_owned()
    }

    /// The CPU time the server has used, user and system, in seconds.
    fn cpu_secs(&self) -> f64 {
        natter::bench::proc_cpu_secs(self.child.id()).expect("/proc/PID/stat")
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}/api/v1{path}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.json(&body).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, name: &str) -> String {
        let body = json!({"username": name, "password": "correct horse battery"});
        let (status, body) = self.post("/auth/register", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the server's RSS stops falling (memory handed back lazily: jemalloc returns
/// freed pages over about 10 s), at most `limit`: it has not fallen for 3 s.
async fn settled_rss(server: &Server, limit: Duration) -> f64 {
    let started = std::time::Instant::now();
    let mut low = server.rss_mib();
    let mut since_low = std::time::Instant::now();
    while started.elapsed() < limit && since_low.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = server.rss_mib();
        if now < low - 0.5 {
            low = now;
            since_low = std::time::Instant::now();
        }
    }
    server.rss_mib()
}

#[tokio::test]
async fn an_avatar_decompression_bomb_is_refused_without_decoding() {
    // The bomb first: making it takes seconds in a debug build, longer than the server keeps
    // an idle connection open, and the uploads must not go out on connections it has closed.
    let bomb = tokio::task::spawn_blocking(|| png_bomb(8192))
        .await
        .unwrap();
    let server = Server::start(&[]);
    let names: Vec<String> = (0..4).map(|i| format!("bomber{i}")).collect();
    let tokens = join_all(names.iter().map(|n| server.register(n))).await;
    assert!(
        bomb.len() < 5 * 1024 * 1024,
        "the bomb fits the upload limit"
    );
    let before = server.rss_mib();
    // Four at once, from four accounts (the review reached 2.3 GiB this way).
    let uploads = tokens.iter().map(|token| {
        server
            .http
            .put(format!("{}/api/v1/me/avatar", server.url))
            .bearer_auth(token)
            .body(bomb.clone())
            .send()
    });
    for res in join_all(uploads).await {
        let res = res.unwrap_or_else(|e| panic!("upload failed: {e:?}"));
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
    let after = server.rss_mib();
    eprintln!("avatar bombs: RSS {before:.1} MiB before, {after:.1} MiB after");
    assert!(
        after - before < 64.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
}

#[tokio::test]
async fn a_login_flood_with_huge_usernames_keeps_memory_flat() {
    let server = Server::start(&[]);
    let wrong = |name: String| {
        let body = json!({"username": name, "password": "not the password"});
        server.post("/auth/login", None, body)
    };
    // Use up the address's failures, then flood with new 60,000-character names.
    for i in 0..20 {
        let (status, _) = wrong(format!("nobody{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let before = server.rss_mib();
    for round in 0..25 {
        let names = (0..20).map(|i| format!("{round}-{i}-{}", "x".repeat(60_000)));
        for (status, body) in join_all(names.map(wrong)).await {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        }
    }
    let after = settled_rss(&server, Duration::from_secs(3)).await;
    eprintln!("500 flooded logins: RSS {before:.1} MiB before, {after:.1} MiB after");
    // Each kept name cost 61.8 KiB before the fix: 500 of them, 30 MiB.
    assert!(
        after - before < 12.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
}

#[tokio::test]
async fn memory_returns_after_a_registration_burst() {
    let server = Server::start(&[]);
    server.register("warmup").await;
    let idle = settled_rss(&server, Duration::from_secs(3)).await;
    let mut peak = idle;
    for round in 0..10 {
        let names = (0..10).map(|i| format!("burst{round}x{i}"));
        let names: Vec<String> = names.collect();
        join_all(names.iter().map(|n| server.register(n))).await;
        peak = peak.max(server.rss_mib());
    }
    let after = settled_rss(&server, Duration::from_secs(10)).await;
    eprintln!(
        "100 registrations, 10 at a time: RSS {idle:.1} MiB idle, {peak:.1} MiB peak, \
         {after:.1} MiB after"
    );
    // The Argon2 pool keeps one 19 MiB buffer per core (`idle` holds one already), and
    // nothing else stays.
    // (At most 10 hash at once here, so at most 10 buffers.)
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().min(10)) as f64;
    let allowed = (cores - 1.0) * 19.0 + 16.0;
    assert!(
        after - idle < allowed,
        "RSS stayed at {after:.1} MiB after the burst (idle {idle:.1} MiB, {allowed} MiB allowed)"
    );
}

/// Resident memory after bursts of uploads (files and 800x600 images, 20 at a time) and of
/// reconnections (1,000 WebSockets opened and closed, 200 at a time) comes back close to
/// idle: buffers are per request and per socket, not kept.
#[tokio::test]
async fn memory_returns_after_upload_and_reconnect_bursts() {
    let _turn = crate::helpers::HEAVY.lock().await;
    let server = Server::start(&[("NATTER_SEND_RATE_PER_SEC", "100")]);
    let ana = server.register("ana").await;
    server.create_room(&ana, "lobby").await;
    let idle = settled_rss(&server, Duration::from_secs(3)).await;
    let mut peak = idle;
    // New connections each time: none left idle past the server's keep-alive deadline.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let upload = |name: String, bytes: Vec<u8>| {
        let req = http
            .post(format!("{}/api/v1/uploads?filename={name}", server.url))
            .bearer_auth(&ana)
            .body(bytes);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED, "{name}");
        }
    };
    // An 800x600 picture, encoded once (slow in a debug build), then made a little different
    // each time by a byte after its end, so no upload is the copy of another.
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut base = std::io::Cursor::new(Vec::new());
    img.write_to(&mut base, image::ImageFormat::Png).unwrap();
    let base = base.into_inner();
    let picture = |n: u8| {
        let mut bytes = base.clone();
        bytes.push(n);
        bytes
    };
    for round in 0..3u8 {
        let files = (0..20u8).map(|i| {
            // Different bytes each time, so no upload is the copy of another.
            let bytes = vec![round * 20 + i; 2 << 20];
            upload(format!("f{round}-{i}.bin"), bytes)
        });
        join_all(files).await;
        peak = peak.max(server.rss_mib());
        let mut pictures = Vec::new();
        for i in 0..20u8 {
            pictures.push(upload(format!("p{round}-{i}.png"), picture(round * 20 + i)));
        }
        join_all(pictures).await;
        peak = peak.max(server.rss_mib());
    }
    let uploaded = settled_rss(&server, Duration::from_secs(20)).await;
    let url = format!("{}/api/v1/ws", server.url.replace("http://", "ws://"));
    for _ in 0..5 {
        let sockets = (0..200).map(|_| {
            let mut req = url.as_str().into_client_request().unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {ana}").parse().unwrap());
            async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                // Wait for `ready`, then go.
                while let Some(Ok(frame)) = ws.next().await {
                    if frame.is_text() {
                        break;
                    }
                }
            }
        });
        join_all(sockets).await;
        peak = peak.max(server.rss_mib());
    }
    let after = settled_rss(&server, Duration::from_secs(20)).await;
    println!(
        "120 uploads (60 files of 2 MiB, 60 images of 800x600), then 1,000 reconnections: RSS \
         {idle:.1} MiB idle, {peak:.1} MiB at the peak, {uploaded:.1} MiB after the uploads, \
         {after:.1} MiB after the reconnections"
    );
    // The Argon2 buffer of one sign-in is in `idle` already; the image decoder's pool and the
    // allocator's caches may keep a few MiB.
    assert!(
        after - idle < 48.0,
        "RSS stayed at {after:.1} MiB after the bursts (idle {idle:.1} MiB)"
    );
}

/// A request as if from `ip` (the test server trusts 127.0.0.1 as a proxy).
async fn call_from(
    app: &TestApp,
    ip: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut req = reqwest::Client::new()
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), retry)
}

async fn register_from(app: &TestApp, ip: &str, name: &str) -> (StatusCode, Value, Option<String>) {
    let body = json!({"username": name, "password": "correct horse battery"});
    call_from(app, ip, "/auth/register", None, body).await
}

async fn login_from(app: &TestApp, ip: &str, name: &str, password: &str) -> StatusCode {
    let body = json!({"username": name, "password": password});
    call_from(app, ip, "/auth/login", None, body).await.0
}

fn behind_a_proxy(config: &mut natter::config::Config) {
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

#[tokio::test]
async fn registration_is_throttled_per_address() {
    let app = spawn_app_with(|c| {
        behind_a_proxy(c);
        c.register_per_address_per_hour = 3;
    })
    .await;
    for i in 0..3 {
        let (status, body, _) = register_from(&app, "10.0.0.1", &format!("office{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body, retry) = register_from(&app, "10.0.0.1", "bot").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    // One more every 20 minutes.
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1000..=1200).contains(&retry), "{retry}");
    // IPv6 clients count by /64: a new address in the same /64 is the same client.
    for i in 0..3 {
        let ip = format!("2001:db8:0:1::{i}");
        assert_eq!(
            register_from(&app, &ip, &format!("six{i}")).await.0,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        register_from(&app, "2001:db8:0:1:ffff::9", "sixbot")
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another address is not affected.
    let (status, _, _) = register_from(&app, "10.0.0.2", "neighbour").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_strangers_failures_do_not_lock_the_owner_out() {
    let app = spawn_app_with(|c| {
        behind_a_proxy(c);
        c.login_max_failures = 3;
    })
    .await;
    for name in ["ana", "bob"] {
        register_from(&app, "10.0.0.1", name).await;
    }
    // A stranger uses up their guesses at ana's account...
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, "10.6.6.6", "ana", "wrong password!").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, "10.6.6.6", "ana", "correct horse battery").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser's own address is throttled at that account"
    );
    // ...and another spreads guesses over many accounts until their address is throttled.
    for i in 0..12 {
        login_from(&app, "10.7.7.7", &format!("user{i}"), "wrong password!").await;
    }
    assert_eq!(
        login_from(&app, "10.7.7.7", "bob", "correct horse battery").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owners, from their own address, still get in.
    assert_eq!(
        login_from(&app, "10.0.0.1", "ana", "correct horse battery").await,
        StatusCode::OK
    );
    assert_eq!(
        login_from(&app, "10.0.0.1", "bob", "correct horse battery").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn room_keys_are_not_guessed_by_rotating_accounts_or_addresses() {
    let app = spawn_app_with(|c| {
        behind_a_proxy(c);
        c.login_max_failures = 2;
    })
    .await;
    let owner = app.register("owner").await;
    app.create_room(&owner, "vault", Some("4821")).await;
    // 2 guesses per account (a new account each time) from a new address each time: the room
    // allows 2 x 4 = 8 wrong guesses in all, then nobody may guess for the window.
    let mut refused = 0;
    for i in 0..12 {
        let ip = format!("10.1.0.{i}");
        let (_, body, _) = register_from(&app, &ip, &format!("guesser{i}")).await;
        let token = body["token"].as_str().unwrap().to_owned();
        for guess in 0..2 {
            let key = format!("{:04}", i * 2 + guess);
            let body = json!({"name": "vault", "key": key});
            let (status, body, _) = call_from(&app, &ip, "/rooms/join", Some(&token), body).await;
            match status {
                StatusCode::FORBIDDEN => assert_eq!(body["error"]["code"], "forbidden"),
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("{other}: {body}"),
            }
        }
    }
    assert_eq!(refused, 24 - 8, "only 8 guesses at the room were checked");
    // One address guessing at many rooms is throttled too (one guess per room, so only the
    // address's limit applies).
    for i in 0..9 {
        app.create_room(&owner, &format!("safe{i}"), Some("a secret key"))
            .await;
    }
    let (_, body, _) = register_from(&app, "10.2.0.1", "roamer").await;
    let token = body["token"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for i in 0..9 {
        let body = json!({"name": format!("safe{i}"), "key": "a guess"});
        statuses.push(
            call_from(&app, "10.2.0.1", "/rooms/join", Some(&token), body)
                .await
                .0,
        );
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// Reads from `tcp` until the server closes it; `false` if it is still open after `wait`.
async fn closed_within(tcp: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(wait, read).await.is_ok()
}

#[tokio::test]
async fn half_sent_requests_and_idle_connections_are_closed() {
    let app = spawn_app_with(|c| c.http_header_timeout_secs = 1).await;
    // Headers begun and never finished (the review held 1,100 of these open forever).
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A keep-alive connection that answered one request and then sits idle.
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "a half-sent request stays open"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "an idle connection stays open"
    );
    // WebSockets are not HTTP requests: an open socket outlives the header deadline.
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "lobby", None).await;
    let (mut ws, _) = app.ws(&ana).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ws.send_json(json!({"type": "send", "room_id": room, "client_id": "c1", "body": "still here"}))
        .await;
    while ws.next_event().await["type"] != "ack" {}
}

/// Sends `head`, then `body` a byte every `every`, and reads the answer until the server
/// closes the connection (or 10 s pass).
async fn dribble(addr: std::net::SocketAddr, head: String, body: &[u8], every: Duration) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    for byte in body {
        tokio::time::sleep(every).await;
        if tcp.write_all(&[*byte]).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_a_slow_one_gets_through() {
    let app = spawn_app_with(|c| c.http_body_timeout_secs = 1).await;
    let ana = app.register("ana").await;
    let login = br#"{"username":"ana","password":"wrong password here"}"#;
    let head = |path: &str, len: usize, extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\n{extra}\r\n"
        )
    };
    // Slow but steady: a byte every 50 ms, 2.6 s in all, longer than the 1 s deadline.
    let answer = dribble(
        app.addr,
        head("/api/v1/auth/login", login.len(), ""),
        login,
        Duration::from_millis(50),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // Stalled: half the body, then nothing.
    let answer = dribble(
        app.addr,
        head("/api/v1/auth/login", login.len(), ""),
        &login[..20],
        Duration::ZERO,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    // An upload that stalls, the same.
    let auth = format!("Authorization: Bearer {}\r\n", ana.token);
    let answer = dribble(
        app.addr,
        head("/api/v1/uploads?filename=a.bin", 1000, &auth),
        &[7u8; 100],
        Duration::ZERO,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    // And an avatar (read whole, within its own 60 s, but not past a stall).
    let avatar = head("/api/v1/me/avatar", 1000, &auth).replacen("POST", "PUT", 1);
    let answer = dribble(app.addr, avatar, &[7u8; 100], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let app = spawn_app_with(|c| c.max_connections_per_address = 3).await;
    // Registered over a connection that closes right after (no idle keep-alive holds a slot).
    let (_, body, _) = register_from(&app, "127.0.0.1", "ana").await;
    let ana = crate::helpers::User {
        id: body["user"]["id"].as_str().unwrap().into(),
        token: body["token"].as_str().unwrap().into(),
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two sockets and one half-sent request hold the three slots of 127.0.0.1.
    let (ws1, _) = app.ws(&ana).await;
    let (_ws2, _) = app.ws(&ana).await;
    let mut held = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    held.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), fourth.read_to_end(&mut answer)).await;
    assert!(
        answer.is_empty(),
        "a fourth connection was served: {}",
        String::from_utf8_lossy(&answer)
    );
    // A socket that closes gives its slot back.
    drop(ws1);
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::new();
    let res = fresh
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn running_out_of_descriptors_is_logged_once_and_survived() {
    let server = Server::start_limited(&[], Some(64));
    let addr = server.url.trim_start_matches("http://").to_owned();
    // Half-sent requests until the server cannot accept more (its limit is 64 files).
    let mut held = Vec::new();
    for _ in 0..120 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = tcp.write_all(b"GET / HTTP/1.1\r\n").await;
        held.push(tcp);
    }
    let warned = |log: &[String]| {
        log.iter()
            .filter(|l| l.contains("cannot accept connections"))
            .count()
    };
    let started = std::time::Instant::now();
    while warned(&server.log.lock().unwrap()) == 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Out of descriptors, it waits instead of spinning on accept: well under one core.
    let before = server.cpu_secs();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = server.cpu_secs() - before;
    println!(
        "CPU used in 2 s at the descriptor limit: {:.0} ms",
        used * 1000.0
    );
    assert!(
        used < 1.0,
        "a busy loop at the descriptor limit: {used} s of CPU in 2 s"
    );
    let log = server.log.lock().unwrap().clone();
    assert_eq!(
        warned(&log),
        1,
        "one warning, not one per attempt: {log:#?}"
    );
    assert!(
        log.iter().any(|l| l.contains("Too many open files")),
        "{log:#?}"
    );
    // Once the held connections go, the server serves again.
    drop(held);
    let res = server
        .http
        .get(format!("{}/healthz", server.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn guesses_at_one_account_from_many_addresses_are_paced_but_the_owner_gets_in() {
    let app = spawn_app_with(|c| {
        behind_a_proxy(c);
        c.login_max_failures = 1;
    })
    .await;
    register_from(&app, "10.0.0.1", "ana").await;
    // Ana signed in from home before the attack.
    assert_eq!(
        login_from(&app, "10.0.0.1", "ana", "correct horse battery").await,
        StatusCode::OK
    );
    // 30 addresses guess at once: past 2 failures the account takes one guess a second, and
    // a guess whose turn is more than 10 s away is told to come back.
    let guesses = (0..30).map(|i| {
        let app = &app;
        async move { login_from(app, &format!("10.9.0.{i}"), "ana", "guess!guess!").await }
    });
    let attack = join_all(guesses);
    let owner = async {
        // Both while the guesses queue (the queue is ~28 s long; a turn 10 s off is refused).
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::join!(
            login_from(&app, "10.0.0.1", "ana", "correct horse battery"),
            login_from(&app, "10.0.0.2", "ana", "correct horse battery"),
        )
    };
    let (statuses, (at_home, elsewhere)) = tokio::join!(attack, owner);
    assert_eq!(
        at_home,
        StatusCode::OK,
        "the owner's own address is not paced"
    );
    assert_eq!(
        elsewhere,
        StatusCode::TOO_MANY_REQUESTS,
        "a new address waits its turn like the guessers"
    );
    let paced = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(paced + checked, 30, "{statuses:?}");
    // Two unpaced, then at most one a second for ~10 s.
    assert!(
        (3..=14).contains(&checked),
        "{checked} guesses checked: {statuses:?}"
    );
}

/// A connection to the server from `ip` (any 127.0.0.0/8 address is this machine), so that
/// many of them share out the per-address cap as clients behind different addresses would.
async fn connect_from(
    ip: std::net::Ipv4Addr,
    addr: &str,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((ip, 0).into())?;
    socket.connect(addr.parse().unwrap()).await
}

/// What one hostile connection did, and whether the server closed it in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Hostile {
    /// Headers dribbled a line every 500 ms, never finished.
    Dribbled,
    /// Headers sent, then 1 byte of a 4,096-byte body, never the rest.
    BodyUnfinished,
    /// A WebSocket upgrade request cut off before its end.
    UpgradeUnfinished,
    /// An accepted WebSocket that never sends a frame (not even a pong).
    SilentSocket,
}

/// Opens one hostile connection of `kind` and holds it until the server closes it; how long
/// that took, or `None` when it was still open after `wait` (or answered wrongly).
async fn hostile(
    kind: Hostile,
    ip: std::net::Ipv4Addr,
    addr: String,
    token: String,
    wait: Duration,
    floor: Duration,
) -> Option<Duration> {
    let mut tcp = connect_from(ip, &addr).await.ok()?;
    let opening = match kind {
        Hostile::Dribbled => "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n".to_owned(),
        Hostile::BodyUnfinished => "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
            .to_owned(),
        Hostile::UpgradeUnfinished => {
            "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n".to_owned()
        }
        Hostile::SilentSocket => format!(
            "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        ),
    };
    let opened = std::time::Instant::now();
    tcp.write_all(opening.as_bytes()).await.ok()?;
    let (mut read, mut write) = tcp.into_split();
    let dribble = async {
        if kind == Hostile::Dribbled {
            for i in 0.. {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if write
                    .write_all(format!("X-{i}: a\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        std::future::pending::<()>().await
    };
    let closed = async {
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => seen.extend_from_slice(&buf[..n.min(4096 - seen.len().min(4096))]),
            }
        }
    };
    tokio::select! {
        () = dribble => None,
        seen = tokio::time::timeout(wait, closed) => {
            let seen = seen.ok()?;
            let seen = String::from_utf8_lossy(&seen);
            let answered = match kind {
                // A stalled body is answered, then the connection closed.
                Hostile::BodyUnfinished => seen.starts_with("HTTP/1.1 408"),
                Hostile::SilentSocket => seen.starts_with("HTTP/1.1 101"),
                _ => true,
            };
            // Not refused at once: held until the deadline, then closed.
            let took = opened.elapsed();
            let held = took + Duration::from_millis(500) >= floor;
            (answered && held).then_some(took)
        },
    }
}

/// The slow and hostile clients of issue 15: 1,000 connections that dribble or never finish
/// their request (headers, a body, a WebSocket upgrade) and 1,000 accepted WebSockets that
/// never answer, spread over 20 addresses (under the per-address cap), each opened again as
/// soon as it is closed, while two people talk for 10 s. The server closes every hostile one
/// within its deadlines (headers and bodies 2 s here, silent sockets 3 s; 5 s of slack for a
/// loaded machine), and every message between the two arrives; their latency is printed
/// (docs/testing.md has the figures). NATTER_HOSTILE_CLIENTS sets how many of each half,
/// NATTER_HOSTILE_SECS how long the two talk (the long run: 60).
#[tokio::test]
async fn slow_and_half_open_clients_are_closed_while_others_are_served() {
    let _turn = crate::helpers::HEAVY.lock().await;
    let setting = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let per_half = setting("NATTER_HOSTILE_CLIENTS", 1000);
    let messages = 20 * setting("NATTER_HOSTILE_SECS", 10);
    // This process holds the hostile ends, the server (which inherits the limit) the others,
    // beside what the tests running alongside hold.
    let open_files = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    if open_files < 4 * per_half + 2048 {
        crate::helpers::skip(
            "limits::slow_and_half_open_clients_are_closed_while_others_are_served",
            &format!(
                "`ulimit -n` is {open_files}; it needs {}",
                4 * per_half + 2048
            ),
        );
        return;
    }
    let server = Server::start(&[
        ("NATTER_HTTP_HEADER_TIMEOUT_SECS", "2"),
        ("NATTER_HTTP_BODY_TIMEOUT_SECS", "2"),
        ("NATTER_PING_INTERVAL_SECS", "1"),
        ("NATTER_IDLE_TIMEOUT_SECS", "3"),
        ("NATTER_MAX_CONNECTIONS_PER_ADDRESS", "256"),
        ("NATTER_SEND_RATE_PER_SEC", "100"),
    ]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let ana = server.register("ana").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&ana, "lobby").await;
    let (status, body) = server
        .post("/rooms/join", Some(&bob), json!({"name": "lobby"}))
        .await;
    assert!(status.is_success(), "{body}");
    let silent = server.register("silent").await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kinds = [
        (Hostile::Dribbled, per_half / 3),
        (Hostile::BodyUnfinished, per_half / 3),
        (Hostile::UpgradeUnfinished, per_half - 2 * (per_half / 3)),
        (Hostile::SilentSocket, per_half),
    ];
    let started = std::time::Instant::now();
    let mut held = Vec::new();
    let mut n = 0usize;
    for (kind, count) in kinds {
        for _ in 0..count {
            // 100 connections per address, from 127.0.0.2 on.
            let ip = std::net::Ipv4Addr::new(127, 0, 0, 2 + (n / 100) as u8);
            n += 1;
            let (addr, token, stop) = (addr.clone(), silent.clone(), stop.clone());
            // Each one comes back as soon as it is closed, as an attacker would, until the
            // two people are done: (connections, closed in time, the slowest close).
            let task = async move {
                let deadline = match kind {
                    Hostile::SilentSocket => Duration::from_secs(3),
                    _ => Duration::from_secs(2),
                };
                let (mut opened, mut in_time, mut slowest) = (0, 0, Duration::ZERO);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    opened += 1;
                    let wait = deadline + Duration::from_secs(5);
                    let closed = hostile(kind, ip, addr.clone(), token.clone(), wait, deadline);
                    if let Some(took) = closed.await {
                        in_time += 1;
                        slowest = slowest.max(took);
                    }
                }
                (opened, in_time, slowest)
            };
            held.push((kind, tokio::spawn(task)));
        }
    }

    // Meanwhile ana sends 200 messages, 20 a second; bob must get each one.
    let url = format!("ws://{addr}/api/v1/ws");
    let open = |token: String| {
        let url = url.clone();
        async move {
            let mut req = url.into_client_request().unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            ws
        }
    };
    let (mut ana_ws, mut bob_ws) = (open(ana.clone()).await, open(bob.clone()).await);
    let mut latencies = Vec::new();
    for i in 0..messages {
        let sent = std::time::Instant::now();
        let frame = json!({"type": "send", "room_id": room, "client_id": format!("c{i}"), "body": format!("m{i}")});
        ana_ws
            .send(WsMessage::text(frame.to_string()))
            .await
            .unwrap();
        let wanted = format!("m{i}");
        let heard = async {
            loop {
                let frame = bob_ws
                    .next()
                    .await
                    .expect("bob's socket stays open")
                    .unwrap();
                let WsMessage::Text(text) = frame else {
                    continue;
                };
                let event: Value = serde_json::from_str(&text).unwrap();
                if event["type"] == "message" && event["message"]["body"] == wanted.as_str() {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), heard)
            .await
            .unwrap_or_else(|_| panic!("bob did not get message {i} within 30 s"));
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // Per kind: connections made, how many of them closed in time, the slowest close.
    let mut closed = std::collections::HashMap::<Hostile, (usize, usize, Duration)>::new();
    for (kind, task) in held {
        let (opened, in_time, slowest) = task.await.unwrap();
        let entry = closed.entry(kind).or_default();
        entry.0 += opened;
        entry.1 += in_time;
        entry.2 = entry.2.max(slowest);
    }
    println!(
        "{} hostile connections at a time; {messages} messages between two others: delivery p50 \
         {:?}, p99 {:?}, \
         max {:?}; (count, closed in time, slowest close): {closed:?}; server RSS {:.1} MiB; \
         {:?} in all",
        2 * per_half,
        pct(0.5),
        pct(0.99),
        latencies.last().unwrap(),
        server.rss_mib(),
        started.elapsed()
    );
    for (kind, (all, done, _)) in &closed {
        assert_eq!(done, all, "{kind:?}: only {done} of {all} closed in time");
    }
    // And the server still serves.
    let res = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
