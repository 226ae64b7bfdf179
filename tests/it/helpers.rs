//! `spawn_app()` and the clients tests use: [`TestApp`] with one method per API call, and
//! [`Ws`], a WebSocket client that reads JSON events.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter::app::{App, serve};
use natter::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The frames of `docs/ws.schema.json` (`client_frame` or `server_event`), its references to
/// the HTTP API's objects resolved in the OpenAPI document, as a client would resolve them.
pub fn frame_validator(which: &str) -> jsonschema::Validator {
    const BASE: &str = "https://natter.test/api/";
    /// Hands out the OpenAPI document for `openapi.json` beside the schema; nothing else.
    struct Beside(Value);
    impl jsonschema::Retrieve for Beside {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            match uri.as_str() == format!("{BASE}openapi.json") {
                true => Ok(self.0.clone()),
                false => Err(format!("{uri} is not beside the schema").into()),
            }
        }
    }
    let mut schema: Value = serde_json::from_str(natter::http::openapi::WS_SCHEMA).unwrap();
    schema.as_object_mut().unwrap().remove("anyOf");
    schema["$ref"] = json!(format!("#/$defs/{which}"));
    let openapi = serde_json::from_str(natter::http::openapi::document_text()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .with_base_uri(format!("{BASE}ws.schema.json"))
        .with_retriever(Beside(openapi))
        .build(&schema)
        .expect("docs/ws.schema.json compiles")
}

/// Fails the test if a frame from the server is not as `docs/ws.schema.json` describes it:
/// every event any test reads through [`Ws`] is checked.
pub fn check_frame(event: &Value) {
    static SERVER: std::sync::LazyLock<jsonschema::Validator> =
        std::sync::LazyLock::new(|| frame_validator("server_event"));
    let errors: Vec<String> = SERVER
        .iter_errors(event)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "a server frame breaks docs/ws.schema.json: {errors:?}\n{event}"
    );
}

/// How long a test waits for an event before failing.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The test's own database: a SQLite file in `dir`, or a fresh PostgreSQL database when
    /// `NATTER_TEST_BACKEND=postgres`.
    pub database_url: String,
    /// The settings it was started with.
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Taken by the tests that load the whole machine (thousands of connections, bursts of image
/// decoding) and by the browser suites, whose waits those would stretch past their deadlines:
/// they take turns instead of running alongside each other. (A browser wait timed out once in
/// CI while the upload burst ran.)
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Says on stderr that `test` did not run and why (`SKIPPED <test>: <why>`). When
/// `NATTER_TEST_REQUIRE_ALL=1` (`.ci/run` sets it) a skip is a failure instead: the test
/// panics, so a missing service or program can never pass for a tested one.
pub fn skip(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}");
    if std::env::var("NATTER_TEST_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{line} (NATTER_TEST_REQUIRE_ALL=1: every test must run)");
    }
    eprintln!("\n*** {line} ***\n");
}

/// The values of the variables `test` needs, or `None` after [`skip`]ping it (naming the
/// missing ones).
pub fn require_env<const N: usize>(test: &str, names: [&str; N]) -> Option<[String; N]> {
    let values = names.map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Some(values.map(Option::unwrap));
    }
    skip(
        test,
        &format!("set {} (.ci/run does)", missing.join(" and ")),
    );
    None
}

/// A fresh database for one test: a SQLite file in `dir`, or, when the suite runs on
/// PostgreSQL (`NATTER_TEST_BACKEND=postgres`), a new database on `NATTER_TEST_POSTGRES_URL`.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    if std::env::var("NATTER_TEST_BACKEND").as_deref() != Ok("postgres") {
        return format!("sqlite://{}", dir.join("natter.db").display());
    }
    let admin = std::env::var("NATTER_TEST_POSTGRES_URL")
        .expect("NATTER_TEST_BACKEND=postgres needs NATTER_TEST_POSTGRES_URL");
    let name = format!("natter_test_{}", uuid::Uuid::now_v7().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("create database {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Starts the server with settings adjusted by `tune`, on a fresh database.
pub async fn spawn_app_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        database_url: Some(fresh_database(dir.path()).await),
        ..Config::default()
    };
    // Tests send faster than people; the rate-limit test sets its own limits.
    config.send_rate_per_sec = 10_000;
    config.send_burst = 10_000;
    // Every test client comes from 127.0.0.1: the per-address limits would count them all as
    // one client. The tests of those limits set their own.
    config.register_per_address_per_hour = 0;
    config.max_connections_per_address = 0;
    use_test_files(&mut config);
    tune(&mut config);
    start(dir, config).await
}

/// When the suite runs with `NATTER_TEST_FILES=s3` (scripts/test sets it for the PostgreSQL
/// run), every test keeps its files on the S3-compatible server at `NATTER_TEST_S3_ENDPOINT`
/// (bucket `NATTER_TEST_S3_BUCKET`, default `natter-test`) under a prefix of its own.
/// Otherwise on the local disk, in the test's data directory.
pub fn use_test_files(config: &mut Config) {
    if !files_in_s3() {
        return;
    }
    let endpoint = std::env::var("NATTER_TEST_S3_ENDPOINT")
        .expect("NATTER_TEST_FILES=s3 needs NATTER_TEST_S3_ENDPOINT");
    config.files_url = Some(s3_files_url(&uuid::Uuid::now_v7().simple().to_string()));
    config.s3_endpoint = Some(endpoint);
    config.s3_region = Some("us-east-1".into());
    config.s3_access_key_id = Some("test".into());
    config.s3_secret_access_key = Some("test".into());
}

/// The test bucket's `files_url` with this prefix.
pub fn s3_files_url(prefix: &str) -> String {
    let bucket = std::env::var("NATTER_TEST_S3_BUCKET").unwrap_or_else(|_| "natter-test".into());
    format!("s3://{bucket}/{prefix}")
}

/// Whether the tests' files are in S3 (else in each test's data directory).
pub fn files_in_s3() -> bool {
    std::env::var("NATTER_TEST_FILES").as_deref() == Ok("s3")
}

async fn start(dir: tempfile::TempDir, mut config: Config) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.bind = addr;
    let database_url = config.database_url();
    let started = config.clone();
    let app = App::start(config).await.expect("app starts");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    TestApp {
        addr,
        http,
        dir,
        database_url,
        config: started,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Starts a new server on the same database (after `shutdown`).
    pub async fn restart(self) -> TestApp {
        let dir = self.dir;
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            database_url: Some(self.database_url),
            register_per_address_per_hour: 0,
            max_connections_per_address: 0,
            ..Config::default()
        };
        // The same file store.
        config.files_url = self.config.files_url;
        config.s3_endpoint = self.config.s3_endpoint;
        config.s3_region = self.config.s3_region;
        config.s3_access_key_id = self.config.s3_access_key_id;
        config.s3_secret_access_key = self.config.s3_secret_access_key;
        start(dir, config).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(&user.token), None).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(&user.token), Some(body)).await
    }

    pub async fn delete(&self, user: &User, path: &str) -> (StatusCode, Value) {
        self.call("DELETE", path, Some(&user.token), None).await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, Some(&user.token), Some(body))
            .await
    }

    pub async fn register(&self, name: &str) -> User {
        let (status, body) = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": name, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        User {
            id: body["user"]["id"].as_str().unwrap().into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    /// Another session of the same account (a second device), signed in with the password
    /// `register` uses.
    pub async fn sign_in_again(&self, user: &User, name: &str) -> User {
        let body = json!({"username": name, "password": "correct horse battery"});
        let (status, answer) = self.call("POST", "/auth/login", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "login {name}: {answer}");
        User {
            token: answer["token"].as_str().unwrap().into(),
            ..user.clone()
        }
    }

    /// Creates a public room (or private with `key`) owned by `owner`; returns its id.
    pub async fn create_room(&self, owner: &User, name: &str, key: Option<&str>) -> String {
        let body = match key {
            Some(k) => json!({"name": name, "visibility": "private", "key": k}),
            None => json!({"name": name, "visibility": "public"}),
        };
        let (status, body) = self.post(owner, "/rooms", body).await;
        assert_eq!(status, StatusCode::CREATED, "create room: {body}");
        body["room"]["id"].as_str().unwrap().into()
    }

    pub async fn join(&self, user: &User, name: &str, key: Option<&str>) -> (StatusCode, Value) {
        self.post(user, "/rooms/join", json!({"name": name, "key": key}))
            .await
    }

    pub async fn send_http(
        &self,
        user: &User,
        room: &str,
        client_id: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        self.post(
            user,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": client_id, "body": body}),
        )
        .await
    }

    pub async fn history(&self, user: &User, room: &str, query: &str) -> (StatusCode, Value) {
        self.get(user, &format!("/rooms/{room}/messages{query}"))
            .await
    }

    /// Opens a WebSocket with a bearer token and reads the `ready` event.
    pub async fn ws(&self, user: &User) -> (Ws, Value) {
        let mut req = format!("ws://{}/api/v1/ws", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", user.token).parse().unwrap(),
        );
        let mut ws = Ws::connect(req).await.expect("websocket opens");
        let ready = ws.next_event().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (ws, ready)
    }
}

/// Gives `user` the `role` in `room`, as `by` (who must be allowed).
pub async fn set_role(app: &TestApp, by: &User, room: &str, user: &User, role: &str) {
    let (status, body) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/members/{}/role", user.id),
            Some(&by.token),
            Some(json!({"role": role})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// A valid PNG of `side` x `side` black 16-bit RGBA pixels: little on the wire, `side`² x 8
/// bytes decoded (512 MiB at 8192).
pub fn png_bomb(side: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; side as usize * 8];
    for _ in 0..side {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    png
}

/// Runs a `count(*)` query straight on the app's database.
pub async fn count_rows(app: &TestApp, sql: &str) -> i64 {
    count_rows_at(&app.database_url, sql).await
}

/// Runs a `count(*)` query straight on the database at `database_url`.
pub async fn count_rows_at(database_url: &str, sql: &str) -> i64 {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// Runs a query for one text value straight on the database at `database_url` (`None`: no
/// row).
pub async fn text_at(database_url: &str, sql: &str) -> Option<String> {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        let text = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        text
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        let text = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        text
    }
}

/// Runs a statement straight on the app's database (for what the API cannot do, such as
/// making a server admin).
pub async fn run_sql(app: &TestApp, sql: &str) {
    if app.database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// One user's entry in a `GET /rooms/{id}/members` answer.
pub fn member_entry(members: &Value, user_id: &str) -> Value {
    let list = members["members"].as_array().expect("a member list");
    list.iter()
        .find(|m| m["user"]["id"] == user_id)
        .expect("the user is listed")
        .clone()
}

/// The seqs of the messages in a JSON array.
pub fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Self { stream })
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_raw(WsMessage::text(value.to_string())).await;
    }

    pub async fn send_raw(&mut self, message: WsMessage) {
        self.stream.send(message).await.expect("websocket send");
    }

    /// The next JSON event (pings and pongs skipped); panics on close or timeout.
    pub async fn next_event(&mut self) -> Value {
        match self.next_frame().await {
            Ok(v) => v,
            Err(code) => panic!("socket closed ({code:?}) while an event was expected"),
        }
    }

    /// The next JSON event, or the close code if the socket closed.
    pub async fn next_frame(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for an event");
            match next {
                Some(Ok(WsMessage::Text(t))) => {
                    let event = serde_json::from_str(&t).expect("events are JSON");
                    check_frame(&event);
                    return Ok(event);
                }
                Some(Ok(WsMessage::Close(frame))) => return Err(frame.map(|f| f.code.into())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Skips events until one of type `ty`.
    pub async fn next_of(&mut self, ty: &str) -> Value {
        loop {
            let event = self.next_event().await;
            if event["type"] == ty {
                return event;
            }
        }
    }

    /// The next `presence` event about the user with this id.
    pub async fn presence_about(&mut self, user_id: &str) -> Value {
        loop {
            let event = self.next_of("presence").await;
            if event["user_id"] == user_id {
                return event;
            }
        }
    }

    /// Reads until the socket closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Err(code) = self.next_frame().await {
                return code;
            }
        }
    }

    /// Sends a message and waits for its ack; returns the acked message.
    pub async fn send_message(&mut self, room: &str, client_id: &str, body: &str) -> Value {
        self.send_message_with(json!({"room_id": room, "client_id": client_id, "body": body}))
            .await
    }

    /// Sends a `send` frame with these fields and waits for its ack; returns the message.
    pub async fn send_message_with(&mut self, mut fields: Value) -> Value {
        fields["type"] = json!("send");
        let client_id = fields["client_id"].as_str().unwrap().to_owned();
        self.send_json(fields).await;
        loop {
            let event = self.next_event().await;
            match event["type"].as_str() {
                Some("ack") if event["client_id"] == client_id => return event["message"].clone(),
                Some("error") if event["client_id"] == client_id => panic!("send refused: {event}"),
                _ => continue,
            }
        }
    }
}

/// `POST /uploads?filename=NAME` with `bytes` as the body.
pub async fn upload(app: &TestApp, user: &User, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url(&format!("/uploads?filename={}", escape(name))))
        .bearer_auth(&user.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Percent-encodes all but unreserved characters (for a query's value).
pub fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
