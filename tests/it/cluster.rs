//! The cluster: real `natter serve` processes on different ports sharing PostgreSQL and
//! Redis. Needs `NATTER_TEST_POSTGRES_URL` and `NATTER_TEST_REDIS_URL` (`.ci/run` sets them);
//! without them these tests print `SKIPPED`, and fail under `NATTER_TEST_REQUIRE_ALL=1`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

/// The cluster's shared services, or `None` when they are not configured and `test` is
/// skipped (a failure under `NATTER_TEST_REQUIRE_ALL=1`).
pub(crate) fn services(test: &str) -> Option<(String, String)> {
    let [pg, redis] = require_env(test, ["NATTER_TEST_POSTGRES_URL", "NATTER_TEST_REDIS_URL"])?;
    Some((pg, redis))
}

/// The master key the nodes of the test clusters share.
pub(crate) const TEST_MASTER_KEY: &str =
    "7e57c1a5e7e57c1a5e7e57c1a5e7e57c1a5e7e57c1a5e7e57c1a5e7e57c1a5e0";

/// One `natter serve` process; killed when dropped.
pub(crate) struct Node {
    child: Child,
    pub(crate) url: String,
    /// Its data directory (its SQLite files, its files when they are on disk, its spool).
    pub(crate) dir: std::path::PathBuf,
    /// Where its files are when they are in S3 (`s3://bucket/prefix`).
    pub(crate) files_url: Option<String>,
    /// Every line it has logged since it said where it listens.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// How to start a [`Node`] beyond the cluster's defaults.
pub(crate) struct NodeSetup<'a> {
    /// `None`: SQLite in its data directory.
    pub(crate) database_url: Option<&'a str>,
    /// `None`: a single node, with no bus.
    pub(crate) redis_url: Option<&'a str>,
    pub(crate) name: &'a str,
    pub(crate) port: u16,
    /// Files in the test S3 server (under a prefix named after the database), else on disk.
    pub(crate) s3: bool,
    /// `NATTER_LOG`.
    pub(crate) log: &'a str,
    /// Its data directory, to start again over one a killed node left (default: a new one).
    pub(crate) dir: Option<std::path::PathBuf>,
}

impl Node {
    pub(crate) fn start(database_url: &str, redis_url: &str, name: &str, port: u16) -> Node {
        Node::start_with(NodeSetup {
            database_url: Some(database_url),
            redis_url: Some(redis_url),
            name,
            port,
            s3: std::env::var("NATTER_TEST_S3_ENDPOINT").is_ok(),
            log: "natter=info",
            dir: None,
        })
    }

    pub(crate) fn start_with(setup: NodeSetup) -> Node {
        let dir = setup
            .dir
            .clone()
            .unwrap_or_else(|| tempfile::tempdir().unwrap().keep());
        let mut command = Command::new(env!("CARGO_BIN_EXE_natter"));
        command
            .env_remove("NATTER_DATABASE_URL")
            .env_remove("NATTER_REDIS_URL");
        // With an S3-compatible server, the nodes share their files there (under a prefix
        // named after their database); else each keeps its own on disk.
        let mut files_url = None;
        if setup.s3 {
            let endpoint = std::env::var("NATTER_TEST_S3_ENDPOINT")
                .expect("files in S3 need NATTER_TEST_S3_ENDPOINT");
            let prefix = setup
                .database_url
                .and_then(|url| url.rsplit('/').next())
                .unwrap_or("cluster");
            let url = s3_files_url(prefix);
            command
                .env("NATTER_FILES_URL", &url)
                .env("NATTER_S3_ENDPOINT", endpoint)
                .env("NATTER_S3_REGION", "us-east-1")
                .env("NATTER_S3_ACCESS_KEY_ID", "test")
                .env("NATTER_S3_SECRET_ACCESS_KEY", "test");
            files_url = Some(url);
        }
        if let Some(url) = setup.database_url {
            command.env("NATTER_DATABASE_URL", url);
        }
        if let Some(url) = setup.redis_url {
            command.env("NATTER_REDIS_URL", url);
        }
        let mut child = command
            .args(["--bind", &format!("127.0.0.1:{}", setup.port), "serve"])
            .env("NATTER_DATA_DIR", &dir)
            .env("NATTER_NODE_ID", setup.name)
            // Every node of a cluster holds the same master key (a test's own, not a secret).
            .env("NATTER_MASTER_KEY", TEST_MASTER_KEY)
            .env("NATTER_SEND_RATE_PER_SEC", "10000")
            .env("NATTER_SEND_BURST", "10000")
            .env("NATTER_REGISTER_PER_ADDRESS_PER_HOUR", "0")
            .env("NATTER_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .env("NATTER_LOG", setup.log)
            .env("NATTER_TRUSTED_PROXIES", "127.0.0.1")
            .env_remove("NATTER_BIND")
            .stdout(Stdio::piped())
            .spawn()
            .expect("natter starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("the node logs its address").unwrap();
            if let Some(at) = line.find("open http://") {
                break line[at + 5..].trim().to_owned();
            }
        };
        // Keep draining the log (shown with failures) so the node never blocks on a full pipe.
        let tag = setup.name.to_owned();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        Node {
            child,
            url,
            dir,
            files_url,
            log,
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has logged so far.
    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The first line of the node's log that holds `text` (waiting up to [`WAIT`] for it).
    pub(crate) async fn logged(&self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the node never logged {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no close frames.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client of one node.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    pub(crate) token: String,
    id: String,
}

impl Client {
    pub(crate) async fn register(node: &Node, name: &str) -> Client {
        let http = reqwest::Client::new();
        let res: Value = http
            .post(format!("{}/api/v1/auth/register", node.url))
            .json(&json!({"username": name, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Client {
            http,
            base: node.url.clone(),
            token: res["token"].as_str().unwrap().into(),
            id: res["user"]["id"].as_str().unwrap().into(),
        }
    }

    /// The same account, talking to another node (by reference, for a list of them).
    fn clone_on(&self, node: &Node) -> Client {
        self.on(node)
    }

    /// The same account, talking to another node.
    fn on(&self, node: &Node) -> Client {
        Client {
            http: self.http.clone(),
            base: node.url.clone(),
            token: self.token.clone(),
            id: self.id.clone(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1{path}", self.base),
            )
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn ws(&self) -> Ws {
        let url = format!("{}/api/v1/ws", self.base.replace("http://", "ws://"));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        let mut ws = Ws::connect(req).await.expect("websocket opens");
        assert_eq!(ws.next_event().await["type"], "ready");
        ws
    }
}

async fn room(owner: &Client, name: &str, members: &[&Client]) -> String {
    let (_, body) = owner
        .call(
            "POST",
            "/rooms",
            Some(json!({"name": name, "visibility": "public"})),
        )
        .await;
    let id = body["room"]["id"].as_str().unwrap().to_owned();
    for m in members {
        assert_eq!(
            m.call("POST", "/rooms/join", Some(json!({"name": name})))
                .await
                .0,
            StatusCode::OK
        );
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_chat_bans_deletes_and_sign_outs() {
    let Some((pg, redis)) = services("cluster::nodes_share_chat_bans_deletes_and_sign_outs") else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, "n1", free_port());
    let n2 = Node::start(&db, &redis, "n2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let id = room(&ana, "Across", &[&bob]).await;
    let mut ana_ws = ana.ws().await;
    let mut bob_ws = bob.ws().await;

    let sent = ana_ws.send_message(&id, "c1", "hello from node one").await;
    let got = bob_ws.next_of("message").await;
    assert_eq!(got["message"], sent, "delivered across nodes");
    let reply = bob_ws.send_message(&id, "c2", "hello from node two").await;
    loop {
        let got = ana_ws.next_of("message").await;
        if got["message"]["seq"] == reply["seq"] {
            assert_eq!(got["message"], reply);
            break;
        }
    }

    // A direct room opened on node one reaches bob's socket on node two at once.
    let (_, dm) = ana
        .call("POST", "/dms", Some(json!({"user_id": bob.id})))
        .await;
    let dm = dm["room"]["id"].as_str().unwrap().to_owned();
    loop {
        let e = bob_ws.next_of("room_updated").await;
        if e["room_id"] == dm.as_str() {
            break;
        }
    }
    let psst = ana_ws.send_message(&dm, "dm1", "psst across nodes").await;
    loop {
        let e = bob_ws.next_of("message").await;
        if e["message"]["room_id"] == dm.as_str() {
            assert_eq!(e["message"], psst);
            break;
        }
    }

    // A password change on node one signs out ana's session on node two at once.
    let login: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", n2.url))
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ana_phone = Client {
        token: login["token"].as_str().unwrap().into(),
        ..ana.on(&n2)
    };
    let mut phone_ws = ana_phone.ws().await;
    let change =
        json!({"current_password": "correct horse battery", "new_password": "another long phrase"});
    assert_eq!(
        ana.call("POST", "/me/password", Some(change)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(phone_ws.closed().await, Some(4001));

    // A ban on node one removes bob, connected to node two.
    let (status, _) = ana
        .call(
            "POST",
            &format!("/rooms/{id}/bans"),
            Some(json!({"user_id": bob.id})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        bob_ws.next_of("member_banned").await["user_id"],
        bob.id.as_str()
    );

    // A delete on node one reaches members on node two.
    let cat = Client::register(&n2, "cat").await;
    let other = room(&ana, "Doomed", &[&cat]).await;
    let mut cat_ws = cat.ws().await;
    assert_eq!(
        ana.call("DELETE", &format!("/rooms/{other}"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        cat_ws.next_of("room_deleted").await["room_id"],
        other.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_nothing_its_clients_resume_elsewhere() {
    let Some((pg, redis)) =
        services("cluster::a_killed_node_loses_nothing_its_clients_resume_elsewhere")
    else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, "k1", free_port());
    let mut n2 = Node::start(&db, &redis, "k2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let id = room(&ana, "Sturdy", &[&bob]).await;
    let mut ana_ws = ana.ws().await;
    let mut bob_ws = bob.ws().await;
    let mut last = 0;
    for i in 0..20 {
        let m = ana_ws.send_message(&id, &format!("a{i}"), "before").await;
        assert_eq!(bob_ws.next_of("message").await["message"]["seq"], m["seq"]);
        last = m["seq"].as_i64().unwrap();
    }
    n2.kill(); // SIGKILL
    assert_eq!(
        bob_ws.closed().await,
        None,
        "a killed node sends no close frame"
    );
    for i in 0..30 {
        ana_ws
            .send_message(&id, &format!("b{i}"), "while bob's node is down")
            .await;
    }
    // Bob's client moves to node one and resumes.
    let mut bob_ws = bob.on(&n1).ws().await;
    bob_ws
        .send_json(json!({"type": "sync", "since": {id.clone(): last}}))
        .await;
    let mut seqs = Vec::new();
    loop {
        let event = bob_ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "message" => seqs.push(event["message"]["seq"].as_i64().unwrap()),
            "synced" => break,
            _ => {}
        }
    }
    assert_eq!(
        seqs,
        (last + 1..=last + 30).collect::<Vec<_>>(),
        "exactly what was missed, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_loses_no_acknowledged_message() {
    let test = "cluster::a_redis_outage_loses_no_acknowledged_message";
    let Some((pg, _)) = services(test) else {
        return;
    };
    let Some(mut redis) = PrivateRedis::start(test) else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis.url, "r1", free_port());
    let n2 = Node::start(&db, &redis.url, "r2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let id = room(&ana, "Weather", &[&bob]).await;
    let mut ana_ws = ana.ws().await;
    let mut bob_ws = bob.ws().await;
    let first = ana_ws.send_message(&id, "m0", "before the outage").await;
    assert_eq!(bob_ws.next_of("message").await["message"], first);

    redis.stop();
    let mut acked = Vec::new();
    for i in 1..=20 {
        acked.push(
            ana_ws
                .send_message(&id, &format!("m{i}"), "during the outage")
                .await["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.start_again();
    // Node two resubscribes and asks its clients to resync (1012); bob resumes.
    let mut seen = vec![first["seq"].as_i64().unwrap()];
    let code = loop {
        match bob_ws.next_frame().await {
            Ok(event) if event["type"] == "message" => {
                seen.push(event["message"]["seq"].as_i64().unwrap())
            }
            Ok(_) => {}
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(1012));
    let mut bob_ws = bob.ws().await;
    let since = *seen.iter().max().unwrap();
    bob_ws
        .send_json(json!({"type": "sync", "since": {id.clone(): since}}))
        .await;
    loop {
        let event = bob_ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "message" => seen.push(event["message"]["seq"].as_i64().unwrap()),
            "synced" => break,
            _ => {}
        }
    }
    for seq in acked {
        assert!(
            seen.contains(&seq),
            "acknowledged message {seq} reached bob"
        );
    }
    // Ana's node asked her client to resync too.
    assert_eq!(ana_ws.closed().await, Some(1012));
    let mut ana_ws = ana.ws().await;
    let after = ana_ws.send_message(&id, "late", "after the outage").await;
    assert_eq!(
        bob_ws.next_of("message").await["message"],
        after,
        "live again"
    );
}

/// A fresh PostgreSQL database for one test.
pub(crate) async fn with_postgres(admin: &str) -> String {
    let name = format!("natter_test_{}", uuid::Uuid::now_v7().simple());
    let pool = sqlx::PgPool::connect(admin)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("create database {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}

/// A Redis server of this test's own (so stopping it disturbs no other test).
pub(crate) struct PrivateRedis {
    child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) url: String,
}

impl PrivateRedis {
    /// `None` (after skipping `test`) when there is no `redis-server` to run.
    pub(crate) fn start(test: &str) -> Option<PrivateRedis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            skip(test, "no redis-server binary to run a private Redis");
            return None;
        }
        let port = free_port();
        let mut redis = PrivateRedis {
            child: None,
            port,
            url: format!("redis://127.0.0.1:{port}"),
        };
        redis.start_again();
        Some(redis)
    }

    fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `redis-cli MONITOR` on a private Redis: every command it runs, `PUBLISH`es with their
/// payloads included.
pub(crate) struct Monitor {
    child: Child,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Monitor {
    pub(crate) fn start(redis: &PrivateRedis) -> Monitor {
        let mut child = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli runs");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = seen.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Monitor { child, seen }
    }

    /// Stops watching; what was seen.
    pub(crate) fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.lock().unwrap().clone()
    }
}

/// The `natter_connections` gauge of one node.
async fn connections(node: &Node) -> f64 {
    let text = reqwest::get(format!("{}/metrics", node.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("natter_connections "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_spans_nodes() {
    let Some((pg, redis)) = services("cluster::presence_spans_nodes") else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, &format!("p1-{}", free_port()), free_port());
    let n2 = Node::start(&db, &redis, &format!("p2-{}", free_port()), free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n1, "bob").await;
    let id = room(&ana, "Everywhere", &[&bob]).await;
    let mut bob_ws = bob.ws().await;
    let about_ana = |e: &Value| e["type"] == "presence" && e["user_id"] == ana.id.as_str();

    let tab1 = ana.ws().await;
    assert_eq!(bob_ws.presence_about(&ana.id).await["status"], "online");
    let mut tab2 = ana.on(&n2).ws().await;
    drop(tab1);
    while connections(&n1).await > 1.0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Ana still has a tab on node two: nobody is told she left.
    let barrier = tab2.send_message(&id, "b", "still here").await;
    loop {
        let e = bob_ws.next_event().await;
        assert!(
            !about_ana(&e),
            "no presence change while a tab is open elsewhere: {e}"
        );
        if e["type"] == "message" && e["message"]["seq"] == barrier["seq"] {
            break;
        }
    }
    let (_, members) = bob.call("GET", &format!("/rooms/{id}/members"), None).await;
    let entry = member_entry(&members, &ana.id);
    assert_eq!(
        entry["presence"], "online",
        "node one knows she is on node two"
    );
    drop(tab2);
    assert_eq!(
        bob_ws.presence_about(&ana.id).await["status"],
        "offline",
        "the last tab closed"
    );
}

/// Messages and changes made through both nodes at once: a socket on each node stays
/// connected, a third resumes with `sync` on alternating nodes; all end in the stored state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_both_nodes_converge_live_and_by_sync() {
    use crate::timeline::{Mirror, without_me};
    let Some((pg, redis)) =
        services("cluster::changes_made_on_both_nodes_converge_live_and_by_sync")
    else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, "n1", free_port());
    let n2 = Node::start(&db, &redis, "n2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let cat = Client::register(&n2, "cat").await;
    let id = room(&ana, "Changes", &[&bob, &cat]).await;
    let mut ana_ws = ana.ws().await;
    let mut bob_ws = bob.ws().await;
    let (mut ana_view, mut bob_view, mut cat_view) =
        (Mirror::default(), Mirror::default(), Mirror::default());
    let on = [ana.clone_on(&n1), ana.clone_on(&n2)];
    let mut seqs: Vec<i64> = Vec::new();
    let mut cat_ws: Option<Ws> = None;
    for step in 0..60usize {
        let via = &on[step % 2];
        let target = seqs.get(step * 7 % seqs.len().max(1)).copied();
        let path = |s: i64| format!("/rooms/{id}/messages/{s}");
        match (step % 6, target) {
            (0 | 1, _) | (_, None) => {
                let body = json!({"client_id": format!("m{step}"), "body": format!("step {step}"), "reply_to": target.filter(|_| step % 4 == 0)});
                let (status, answer) = via
                    .call("POST", &format!("/rooms/{id}/messages"), Some(body))
                    .await;
                if status == StatusCode::CREATED {
                    seqs.push(answer["message"]["seq"].as_i64().unwrap());
                }
            }
            (2, Some(s)) => {
                via.call(
                    "PATCH",
                    &path(s),
                    Some(json!({"body": format!("edited {step}")})),
                )
                .await;
            }
            (3, Some(s)) => {
                via.call("PUT", &format!("{}/reactions/%F0%9F%91%8D", path(s)), None)
                    .await;
            }
            (4, Some(s)) => {
                via.call("PUT", &format!("/rooms/{id}/pins/{s}"), None)
                    .await;
            }
            (_, Some(s)) => {
                if step % 12 == 5 {
                    via.call("DELETE", &path(s), None).await;
                } else {
                    via.call(
                        "DELETE",
                        &format!("{}/reactions/%F0%9F%91%8D", path(s)),
                        None,
                    )
                    .await;
                }
            }
        }
        // Cat comes and goes, on alternating nodes.
        if step % 9 == 4 {
            match cat_ws.take() {
                Some(mut ws) => {
                    while let Ok(Ok(e)) =
                        tokio::time::timeout(std::time::Duration::from_millis(150), ws.next_frame())
                            .await
                    {
                        cat_view.apply(&e);
                    }
                }
                None => {
                    let mut ws = cat
                        .clone_on(if step % 2 == 0 { &n1 } else { &n2 })
                        .ws()
                        .await;
                    ws.send_json(json!({"type": "sync", "since": {id.clone(): cat_view.last_seq}}))
                        .await;
                    cat_ws = Some(ws);
                }
            }
        }
    }
    let mut ws = match cat_ws.take() {
        Some(ws) => ws,
        None => cat.ws().await,
    };
    ws.send_json(json!({"type": "sync", "since": {id.clone(): cat_view.last_seq}}))
        .await;
    let (_, room) = ana.call("GET", &format!("/rooms/{id}"), None).await;
    let last = room["room"]["last_seq"].as_i64().unwrap();
    for (view, socket) in [
        (&mut ana_view, &mut ana_ws),
        (&mut bob_view, &mut bob_ws),
        (&mut cat_view, &mut ws),
    ] {
        while view.last_seq < last {
            let e = socket.next_event().await;
            view.apply(&e);
        }
    }
    let (_, page) = bob
        .call("GET", &format!("/rooms/{id}/messages?limit=200"), None)
        .await;
    let truth: std::collections::BTreeMap<i64, Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["seq"].as_i64().unwrap(), without_me(m.clone())))
        .collect();
    assert!(truth.len() >= 15, "{}", truth.len());
    assert_eq!(ana_view.messages, truth, "the socket on node one");
    assert_eq!(bob_view.messages, truth, "the socket on node two");
    assert_eq!(cat_view.messages, truth, "the socket that resumed");
}

/// Files in a cluster: each node keeps them in the shared S3-compatible store, so a file
/// uploaded through one node is sent, served (with ranges) and collected through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serve_each_others_uploads() {
    let test = "cluster::two_nodes_serve_each_others_uploads";
    let Some((pg, redis)) = services(test) else {
        return;
    };
    if require_env(test, ["NATTER_TEST_S3_ENDPOINT"]).is_none() {
        return;
    }
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, "n1", free_port());
    let n2 = Node::start(&db, &redis, "n2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let id = room(&ana, "Files", &[&bob]).await;
    // 12 MiB: more than one part of a multipart upload.
    let data: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let res = ana
        .http
        .post(format!("{}/api/v1/uploads?filename=big.bin", ana.base))
        .bearer_auth(&ana.token)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let up: Value = res.json().await.unwrap();
    let upload_id = up["upload"]["id"].as_str().unwrap().to_owned();
    let url = up["upload"]["url"].as_str().unwrap().to_owned();
    // Sent through the other node.
    let (status, body) = ana
        .on(&n2)
        .call(
            "POST",
            &format!("/rooms/{id}/messages"),
            Some(json!({"client_id": "f1", "body": "the file", "attachments": [upload_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Bob reads it through both nodes, whole and by range.
    for node in [&n1, &n2] {
        let res = bob
            .http
            .get(format!("{}{url}", node.url))
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.bytes().await.unwrap().as_ref() == data.as_slice());
        let res = bob
            .http
            .get(format!("{}{url}", node.url))
            .bearer_auth(&bob.token)
            .header("range", "bytes=10000000-10000099")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            &data[10_000_000..10_000_100]
        );
    }
}

/// Administration across nodes: both nodes log the same setup link, which makes the admin
/// once; a deactivation on one node closes the user's socket on the other at once; a settings
/// change on one node is in force on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_act_across_nodes() {
    let Some((pg, redis)) = services("cluster::admins_act_across_nodes") else {
        return;
    };
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis, "n1", free_port());
    let n2 = Node::start(&db, &redis, "n2", free_port());
    let token_in = |line: String| {
        let at = line.find("?setup=").expect("a setup link") + 7;
        line[at..at + 48].to_owned()
    };
    let token = token_in(n1.logged("?setup=").await);
    assert_eq!(
        token_in(n2.logged("?setup=").await),
        token,
        "one token for the cluster"
    );
    let http = reqwest::Client::new();
    let register = |node: &Node, name: &str, setup: &str| {
        let body = json!({"username": name, "password": "correct horse battery", "setup": setup});
        http.post(format!("{}/api/v1/auth/register", node.url))
            .json(&body)
            .send()
    };
    let res = register(&n2, "root", &token).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    assert_eq!(made["user"]["is_admin"], true);
    let res = register(&n1, "root2", &token).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "used once, on any node"
    );
    let root = Client {
        http: http.clone(),
        base: n1.url.clone(),
        token: made["token"].as_str().unwrap().into(),
        id: made["user"]["id"].as_str().unwrap().into(),
    };

    let ana = Client::register(&n1, "ana").await;
    let mut ana_ws = ana.on(&n2).ws().await;
    let (status, body) = root
        .call(
            "PATCH",
            &format!("/admin/users/{}", ana.id),
            Some(json!({"deactivated": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ana_ws.closed().await,
        Some(4001),
        "closed on the other node"
    );

    let (status, _) = root
        .call(
            "PATCH",
            "/admin/settings",
            Some(json!({"server_name": "Cluster"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info: Value = http
            .get(format!("{}/api/v1/server", n2.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if info["name"] == "Cluster" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node two never took the new name"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What crosses Redis between the nodes is sealed: a canary sent, edited and delivered across
/// nodes appears nowhere in Redis's `MONITOR` (which shows every command, `PUBLISH`es with
/// their payloads included).
#[tokio::test]
async fn nothing_readable_crosses_redis() {
    let test = "cluster::nothing_readable_crosses_redis";
    let Some((pg, _)) = services(test) else {
        return;
    };
    let Some(redis) = PrivateRedis::start(test) else {
        return;
    };
    let monitor = Monitor::start(&redis);
    let db = with_postgres(&pg).await;
    let n1 = Node::start(&db, &redis.url, "n1", free_port());
    let n2 = Node::start(&db, &redis.url, "n2", free_port());
    let ana = Client::register(&n1, "ana").await;
    let bob = Client::register(&n2, "bob").await;
    let id = room(&ana, "Sealed bus", &[&bob]).await;
    let mut ana_ws = ana.ws().await;
    let mut bob_ws = bob.ws().await;
    let canary = format!(
        "zq{}canary",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );

    let sent = ana_ws
        .send_message(&id, "c1", &format!("the {canary} plan"))
        .await;
    assert_eq!(
        bob_ws.next_of("message").await["message"],
        sent,
        "it crossed Redis"
    );
    let seq = sent["seq"].as_i64().unwrap();
    let (status, _) = ana
        .call(
            "PATCH",
            &format!("/rooms/{id}/messages/{seq}"),
            Some(json!({"body": format!("the {canary} plan, amended")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let edited = bob_ws.next_of("message_edited").await;
    assert_eq!(
        edited["message"]["body"],
        format!("the {canary} plan, amended")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = monitor.stop();
    assert!(
        seen.to_lowercase().contains("\"publish\""),
        "MONITOR saw the events: {seen}"
    );
    assert!(
        !seen.contains(&canary),
        "the canary crossed Redis readably: {seen}"
    );
}
