//! Settings, from lowest to highest precedence: built-in defaults, an optional `natter.toml`,
//! `NATTER_*` environment variables, command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;

/// Everything a running server needs to know.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Directory for the SQLite database (and later uploads).
    pub data_dir: PathBuf,
    /// `sqlite://path` (default `sqlite://<data_dir>/natter.db`) or `postgres://...`.
    pub database_url: Option<String>,
    /// `redis://host:port`, or `rediss://` for TLS: set on every node of a cluster to fan out
    /// between them.
    pub redis_url: Option<String>,
    /// With `rediss://`: the PEM certificate of the authority that signed Redis's certificate
    /// (default: the system's roots).
    pub redis_ca_cert: Option<PathBuf>,
    /// This node's name in the cluster (default: a random one).
    pub node_id: Option<String>,
    /// PEM certificate chain: serve HTTPS and WSS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate (development only).
    pub tls_self_signed: bool,
    /// With TLS: also listen here for plain HTTP that only redirects to `public_url`.
    pub http_redirect_bind: Option<SocketAddr>,
    /// Where browsers reach this server over HTTPS (`https://host[:port]`): the only place
    /// the redirect listener sends them. Required with `http_redirect_bind`.
    pub public_url: Option<PublicUrl>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Origins (besides the server's own) allowed to open cookie-authenticated WebSockets.
    pub allowed_origins: Vec<String>,
    /// Messages per second each user may send (sustained).
    pub send_rate_per_sec: u32,
    /// Messages a user may send in a burst.
    pub send_burst: u32,
    /// Server-wide retention: keep at most this many messages per room.
    pub retention_max_messages: Option<i64>,
    /// Server-wide retention: delete messages older than this many seconds.
    pub retention_max_age_secs: Option<i64>,
    /// How often the retention pruner runs, in seconds.
    pub prune_interval_secs: u64,
    /// Most timeline events one `sync` replays per room before saying `complete: false`.
    pub sync_replay_limit: i64,
    /// How long after sending a message its sender may edit it, in seconds; 0 is any time.
    pub edit_window_secs: u64,
    /// Frames queued for one connection before it is closed as a slow consumer.
    pub outbound_queue: usize,
    /// Seconds between server pings.
    pub ping_interval_secs: u64,
    /// A connection with no incoming frame (pongs count) for this long is closed.
    pub idle_timeout_secs: u64,
    /// Failed logins allowed per account, and per client address (times 4), per window.
    pub login_max_failures: u32,
    /// The window for login and room-key failure counting, in seconds.
    pub login_window_secs: u64,
    /// Accounts one client address may register per hour (0 = unlimited).
    pub register_per_address_per_hour: u32,
    /// Open connections allowed from one client address (0 = unlimited). Trusted proxies
    /// are exempt: the proxy limits its own clients.
    pub max_connections_per_address: u32,
    /// Seconds a client has to send a request's headers, and the longest an idle
    /// keep-alive HTTP connection stays open.
    pub http_header_timeout_secs: u64,
    /// Seconds a request's body may go without a byte arriving before the request fails
    /// (`408 request_timeout`) and its connection closes. Slow uploads are fine; stalled ones
    /// are not.
    pub http_body_timeout_secs: u64,
    /// Writes (messages, edits, reactions, pins) that may wait for the next group commit.
    /// Past it, or while deliveries run late, new ones are refused with `busy` and a retry
    /// hint instead of queueing without bound.
    pub max_queued_writes: usize,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// A connected user idle this long (no frame sent) shows as `away`.
    pub away_after_secs: u64,
    /// A typing indicator ends by itself after this long unless repeated.
    pub typing_ttl_ms: u64,
    /// Most rooms one user may own (direct rooms not counted; server admins exempt); 0 is no
    /// limit. Stops one account squatting thousands of names.
    pub max_rooms_per_user: u32,
    /// Where uploaded files are kept: `s3://bucket/prefix` (with the `s3_*` settings) for a
    /// cluster, else `<data_dir>/files` (or `file:///path`).
    pub files_url: Option<String>,
    /// The S3-compatible server's URL (`http://host:port` for MinIO, Garage, …); default AWS.
    pub s3_endpoint: Option<String>,
    /// The S3 region (default: `AWS_REGION`, else `us-east-1`).
    pub s3_region: Option<String>,
    /// The S3 access key id (default: `AWS_ACCESS_KEY_ID`).
    pub s3_access_key_id: Option<String>,
    /// The S3 secret key (default: `AWS_SECRET_ACCESS_KEY`); better in the environment than
    /// in a file.
    pub s3_secret_access_key: Option<String>,
    /// The largest file one upload may be, in bytes.
    pub max_upload_bytes: u64,
    /// What one user's uploads may add up to, in bytes; 0 is no limit.
    pub upload_quota_per_user_bytes: u64,
    /// What all uploads may add up to, in bytes; 0 is no limit.
    pub upload_quota_total_bytes: u64,
    /// An upload never sent with a message is deleted after this many seconds.
    pub unsent_upload_secs: u64,
    /// Who may create an account: `open`, `invite` (with an admin's invite code) or `closed`;
    /// the admin panel's setting, once changed there, wins.
    pub registration: crate::domain::Registration,
    /// The server's name on the sign-in page (the admin panel's setting wins once set).
    pub server_name: String,
    /// An SMTP server for "forgot password" emails: `smtp://host:port` (STARTTLS when offered),
    /// `smtps://host` (TLS), `smtp://user:password@host:587?tls=required`. Needs `public_url`
    /// (the links' origin, never the request's Host). None: no email is sent.
    pub smtp_url: Option<String>,
    /// The sender of those emails, e.g. `Natter <natter@example.org>`.
    pub smtp_from: Option<String>,
    /// Seal new messages, edits and search words with their room's key (on by default; off
    /// only to measure what it costs). Sealed data is read either way.
    pub encrypt_at_rest: bool,
    /// The master key, 64 hex digits: best in `NATTER_MASTER_KEY`, the same on every node.
    pub master_key: Option<String>,
    /// The master key's file when `master_key` is not set (default `<data_dir>/master.key`,
    /// made on the first start with mode 0600).
    pub master_key_file: Option<PathBuf>,
    /// Where the wrapped room keys are kept: default `sqlite://<data_dir>/keys.db`, or with
    /// PostgreSQL the main database; better a database of its own with short-lived backups.
    pub key_store_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: ([127, 0, 0, 1], 8080).into(),
            data_dir: "data".into(),
            database_url: None,
            redis_url: None,
            redis_ca_cert: None,
            node_id: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            http_redirect_bind: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            send_rate_per_sec: 10,
            send_burst: 20,
            retention_max_messages: None,
            retention_max_age_secs: None,
            prune_interval_secs: 60,
            sync_replay_limit: 2000,
            edit_window_secs: 0,
            outbound_queue: 1024,
            ping_interval_secs: 25,
            idle_timeout_secs: 60,
            login_max_failures: 5,
            login_window_secs: 300,
            register_per_address_per_hour: 30,
            max_connections_per_address: 256,
            http_header_timeout_secs: 10,
            http_body_timeout_secs: 30,
            max_queued_writes: 1024,
            log_format: "text".into(),
            away_after_secs: 300,
            typing_ttl_ms: 6000,
            // Far more than a person runs (communities run from one account included), few
            // enough that a script cannot claim a namespace's worth of names.
            max_rooms_per_user: 100,
            files_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_bytes: 100 * 1024 * 1024,
            upload_quota_per_user_bytes: 10 * 1024 * 1024 * 1024,
            upload_quota_total_bytes: 0,
            unsent_upload_secs: 24 * 3600,
            registration: crate::domain::Registration::Open,
            server_name: "Natter".into(),
            smtp_url: None,
            smtp_from: None,
            encrypt_at_rest: true,
            master_key: None,
            master_key_file: None,
            key_store_url: None,
        }
    }
}

impl Config {
    /// Whether this server terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("natter.db").display()))
    }

    /// The key store's URL in force: a file beside the SQLite database, or PostgreSQL's own.
    pub fn key_store_url(&self) -> String {
        if let Some(url) = &self.key_store_url {
            return url.clone();
        }
        let database = self.database_url();
        if database.starts_with("sqlite:") {
            format!("sqlite://{}", self.data_dir.join("keys.db").display())
        } else {
            database
        }
    }
}

/// Flags (each also readable from a `NATTER_*` variable) that override the file. They are
/// global: `natter --bind ADDR serve` and `natter serve --bind ADDR` mean the same.
/// Each help line ends with the built-in default, which `natter.toml` may have changed.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Settings (also read from NATTER_* variables and natter.toml)")]
pub struct Overrides {
    /// Settings file (TOML); read when present.
    #[arg(
        long,
        global = true,
        env = "NATTER_CONFIG",
        default_value = "natter.toml"
    )]
    pub config: PathBuf,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "NATTER_BIND")]
    pub bind: Option<SocketAddr>,
    /// Directory for the SQLite database and the self-signed certificate [default: data].
    #[arg(long, global = true, env = "NATTER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://...` [default: sqlite://<data_dir>/natter.db].
    #[arg(long, global = true, env = "NATTER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `redis://host:port`, set on every node of a cluster to fan out between them [default:
    /// none, a single node].
    #[arg(long, global = true, env = "NATTER_REDIS_URL")]
    pub redis_url: Option<String>,
    /// With rediss://, the PEM certificate of the authority that signed Redis's certificate
    /// [default: the system's roots].
    #[arg(long, global = true, env = "NATTER_REDIS_CA_CERT")]
    pub redis_ca_cert: Option<PathBuf>,
    /// This node's name in a cluster; unique per node [default: random at each start].
    #[arg(long, global = true, env = "NATTER_NODE_ID")]
    pub node_id: Option<String>,
    /// PEM certificate chain (leaf first): serve HTTPS and WSS, with --tls-key [default: none,
    /// plain HTTP].
    #[arg(long, global = true, env = "NATTER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [default: none].
    #[arg(long, global = true, env = "NATTER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate, development only (alone: true)
    /// [default: false].
    #[arg(long, global = true, env = "NATTER_TLS_SELF_SIGNED", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub tls_self_signed: Option<bool>,
    /// With TLS, also listen here for plain HTTP that only redirects to --public-url
    /// [default: none].
    #[arg(long, global = true, env = "NATTER_HTTP_REDIRECT_BIND")]
    pub http_redirect_bind: Option<SocketAddr>,
    /// The HTTPS origin browsers use, `https://host[:port]` without a path; the only place
    /// --http-redirect-bind redirects to, so required with it [default: none].
    #[arg(long, global = true, env = "NATTER_PUBLIC_URL")]
    pub public_url: Option<PublicUrl>,
    /// Comma-separated addresses of reverse proxies whose X-Forwarded-For and
    /// X-Forwarded-Proto are believed [default: none].
    #[arg(
        long,
        global = true,
        env = "NATTER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Comma-separated origins, besides the server's own, allowed to open cookie-authenticated
    /// WebSockets [default: none].
    #[arg(
        long,
        global = true,
        env = "NATTER_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Option<Vec<String>>,
    /// Messages per second each user may send, sustained [default: 10].
    #[arg(long, global = true, env = "NATTER_SEND_RATE_PER_SEC")]
    pub send_rate_per_sec: Option<u32>,
    /// Messages a user may send in a burst [default: 20].
    #[arg(long, global = true, env = "NATTER_SEND_BURST")]
    pub send_burst: Option<u32>,
    /// Keep at most this many messages per room (rooms may set their own) [default: no limit].
    #[arg(long, global = true, env = "NATTER_RETENTION_MAX_MESSAGES")]
    pub retention_max_messages: Option<i64>,
    /// Delete messages older than this many seconds (rooms may set their own) [default: no
    /// limit].
    #[arg(long, global = true, env = "NATTER_RETENTION_MAX_AGE_SECS")]
    pub retention_max_age_secs: Option<i64>,
    /// How often the retention pruner runs, in seconds [default: 60].
    #[arg(long, global = true, env = "NATTER_PRUNE_INTERVAL_SECS")]
    pub prune_interval_secs: Option<u64>,
    /// Most messages one `sync` replays per room [default: 2000].
    #[arg(long, global = true, env = "NATTER_SYNC_REPLAY_LIMIT")]
    pub sync_replay_limit: Option<i64>,
    /// How long after sending a message its sender may edit it, in seconds; 0 is any time
    /// [default: 0].
    #[arg(long, global = true, env = "NATTER_EDIT_WINDOW_SECS")]
    pub edit_window_secs: Option<u64>,
    /// Frames queued for one connection before it is closed as a slow consumer (at least 16)
    /// [default: 1024].
    #[arg(long, global = true, env = "NATTER_OUTBOUND_QUEUE")]
    pub outbound_queue: Option<usize>,
    /// Seconds between server pings on each WebSocket [default: 25].
    #[arg(long, global = true, env = "NATTER_PING_INTERVAL_SECS")]
    pub ping_interval_secs: Option<u64>,
    /// Close a WebSocket that sent nothing (pongs count) for this many seconds [default: 60].
    #[arg(long, global = true, env = "NATTER_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Failed logins allowed per account (and 4 times this per client address) per window;
    /// also room-key guesses [default: 5].
    #[arg(long, global = true, env = "NATTER_LOGIN_MAX_FAILURES")]
    pub login_max_failures: Option<u32>,
    /// The window for counting failed logins and room-key guesses, in seconds [default: 300].
    #[arg(long, global = true, env = "NATTER_LOGIN_WINDOW_SECS")]
    pub login_window_secs: Option<u64>,
    /// Accounts one client address may register per hour (0 = unlimited) [default: 30].
    #[arg(long, global = true, env = "NATTER_REGISTER_PER_ADDRESS_PER_HOUR")]
    pub register_per_address_per_hour: Option<u32>,
    /// Open connections allowed from one client address (0 = unlimited; trusted proxies are
    /// exempt) [default: 256].
    #[arg(long, global = true, env = "NATTER_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<u32>,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open [default: 10].
    #[arg(long, global = true, env = "NATTER_HTTP_HEADER_TIMEOUT_SECS")]
    pub http_header_timeout_secs: Option<u64>,
    /// Seconds a request's body may go without a byte arriving [default: 30].
    #[arg(long, global = true, env = "NATTER_HTTP_BODY_TIMEOUT_SECS")]
    pub http_body_timeout_secs: Option<u64>,
    /// Writes that may wait for the next group commit; past it they get `busy` [default: 1024].
    #[arg(long, global = true, env = "NATTER_MAX_QUEUED_WRITES")]
    pub max_queued_writes: Option<usize>,
    /// Log format, `text` or `json`; filter with NATTER_LOG [default: text].
    #[arg(long, global = true, env = "NATTER_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// A connected user idle (no frame sent) this many seconds shows as `away` [default: 300].
    #[arg(long, global = true, env = "NATTER_AWAY_AFTER_SECS")]
    pub away_after_secs: Option<u64>,
    /// A typing indicator ends by itself after this many milliseconds unless repeated
    /// [default: 6000].
    #[arg(long, global = true, env = "NATTER_TYPING_TTL_MS")]
    pub typing_ttl_ms: Option<u64>,
    /// Most rooms one user may own (direct rooms not counted, server admins exempt); 0 is no
    /// limit [default: 100].
    #[arg(long, global = true, env = "NATTER_MAX_ROOMS_PER_USER")]
    pub max_rooms_per_user: Option<u32>,
    /// Where uploads are kept: `s3://bucket/prefix` (shared by a cluster's nodes) or
    /// `file:///path` [default: <data_dir>/files].
    #[arg(long, global = true, env = "NATTER_FILES_URL")]
    pub files_url: Option<String>,
    /// The S3-compatible server, e.g. `http://127.0.0.1:9000` [default: AWS].
    #[arg(long, global = true, env = "NATTER_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, global = true, env = "NATTER_S3_REGION")]
    pub s3_region: Option<String>,
    /// The S3 access key id [default: AWS_ACCESS_KEY_ID].
    #[arg(long, global = true, env = "NATTER_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// The S3 secret key; set it in the environment, not on the command line [default:
    /// AWS_SECRET_ACCESS_KEY].
    #[arg(
        long,
        global = true,
        env = "NATTER_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
    /// The largest file one upload may be, in bytes [default: 104857600, 100 MiB].
    #[arg(long, global = true, env = "NATTER_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// What one user's uploads may add up to, in bytes; 0 is no limit [default: 10737418240,
    /// 10 GiB].
    #[arg(long, global = true, env = "NATTER_UPLOAD_QUOTA_PER_USER_BYTES")]
    pub upload_quota_per_user_bytes: Option<u64>,
    /// What all uploads may add up to, in bytes; 0 is no limit [default: 0].
    #[arg(long, global = true, env = "NATTER_UPLOAD_QUOTA_TOTAL_BYTES")]
    pub upload_quota_total_bytes: Option<u64>,
    /// Delete an upload never sent with a message after this many seconds [default: 86400].
    #[arg(long, global = true, env = "NATTER_UNSENT_UPLOAD_SECS")]
    pub unsent_upload_secs: Option<u64>,
    /// Who may create an account: open, invite or closed; the admin panel's setting wins once
    /// changed there [default: open].
    #[arg(long, global = true, env = "NATTER_REGISTRATION")]
    pub registration: Option<crate::domain::Registration>,
    /// The server's name on the sign-in page [default: Natter].
    #[arg(long, global = true, env = "NATTER_SERVER_NAME")]
    pub server_name: Option<String>,
    /// SMTP server for password reset emails (smtp://, smtps://; may hold credentials)
    /// [default: none].
    #[arg(long, global = true, env = "NATTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of password reset emails, e.g. "Natter <natter@example.org>".
    #[arg(long, global = true, env = "NATTER_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Seal messages and search words at rest with per-room keys (true or false) [default:
    /// true].
    #[arg(long, global = true, env = "NATTER_ENCRYPT_AT_REST")]
    pub encrypt_at_rest: Option<bool>,
    /// The master key (64 hex digits); set it in the environment, the same on every node
    /// [default: the file master_key_file].
    #[arg(long, global = true, env = "NATTER_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// The master key's file [default: <data_dir>/master.key, made on the first start].
    #[arg(long, global = true, env = "NATTER_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Where wrapped room keys are kept (sqlite:// or postgres://) [default:
    /// sqlite://<data_dir>/keys.db, or the PostgreSQL database].
    #[arg(
        long,
        global = true,
        env = "NATTER_KEY_STORE_URL",
        hide_env_values = true
    )]
    pub key_store_url: Option<String>,
}

impl Overrides {
    /// Reads the file (if present) and applies the overrides on top.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = read_file(&self.config)?;
        macro_rules! over {
            ($($field:ident),*) => { $( if let Some(v) = &self.$field { config.$field = v.clone(); } )* };
        }
        over!(
            bind,
            data_dir,
            allowed_origins,
            send_rate_per_sec,
            send_burst,
            prune_interval_secs,
            sync_replay_limit,
            edit_window_secs,
            outbound_queue,
            ping_interval_secs,
            idle_timeout_secs,
            login_max_failures,
            login_window_secs,
            register_per_address_per_hour,
            max_connections_per_address,
            http_header_timeout_secs,
            http_body_timeout_secs,
            max_queued_writes,
            log_format,
            away_after_secs,
            typing_ttl_ms,
            max_rooms_per_user,
            max_upload_bytes,
            upload_quota_per_user_bytes,
            upload_quota_total_bytes,
            unsent_upload_secs,
            registration,
            server_name,
            encrypt_at_rest
        );
        for (field, value) in [
            (&mut config.files_url, &self.files_url),
            (&mut config.s3_endpoint, &self.s3_endpoint),
            (&mut config.s3_region, &self.s3_region),
            (&mut config.s3_access_key_id, &self.s3_access_key_id),
            (&mut config.s3_secret_access_key, &self.s3_secret_access_key),
            (&mut config.smtp_url, &self.smtp_url),
            (&mut config.smtp_from, &self.smtp_from),
            (&mut config.master_key, &self.master_key),
            (&mut config.key_store_url, &self.key_store_url),
        ] {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        if self.database_url.is_some() {
            config.database_url = self.database_url.clone();
        }
        if self.master_key_file.is_some() {
            config.master_key_file = self.master_key_file.clone();
        }
        if self.tls_cert.is_some() {
            config.tls_cert = self.tls_cert.clone();
        }
        if self.tls_key.is_some() {
            config.tls_key = self.tls_key.clone();
        }
        if let Some(on) = self.tls_self_signed {
            config.tls_self_signed = on;
        }
        if self.http_redirect_bind.is_some() {
            config.http_redirect_bind = self.http_redirect_bind;
        }
        if self.public_url.is_some() {
            config.public_url = self.public_url.clone();
        }
        if let Some(proxies) = &self.trusted_proxies {
            config.trusted_proxies = proxies.clone();
        }
        if self.redis_url.is_some() {
            config.redis_url = self.redis_url.clone();
        }
        if self.redis_ca_cert.is_some() {
            config.redis_ca_cert = self.redis_ca_cert.clone();
        }
        if self.node_id.is_some() {
            config.node_id = self.node_id.clone();
        }
        if self.retention_max_messages.is_some() {
            config.retention_max_messages = self.retention_max_messages;
        }
        if self.retention_max_age_secs.is_some() {
            config.retention_max_age_secs = self.retention_max_age_secs;
        }
        config.validate()?;
        Ok(config)
    }
}

/// An HTTPS origin, `https://host[:port]`: no path, query, fragment or user. Kept as the
/// origin's text, with the host lower-cased and the default port 443 left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?}: {e}"))?;
        let only_origin = url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
            && url.host().is_some();
        if url.scheme() != "https" || !only_origin {
            return Err(format!(
                "{text:?} is not an HTTPS origin: write https://host or https://host:port, \
                 without a path"
            ));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    /// The origin, without a trailing slash: append a path that starts with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn read_file(path: &Path) -> anyhow::Result<Config> {
    match std::fs::read_to_string(path) {
        Ok(text) => Config::from_toml(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

impl Config {
    /// The settings a `natter.toml` holds (unchecked: [`Config::validate`] runs after the
    /// overrides). Any text gets settings or an error, never a panic
    /// (`fuzz/fuzz_targets/config.rs`).
    pub fn from_toml(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// Checks settings that parsed but cannot work together or at all.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.send_rate_per_sec > 0,
            "send_rate_per_sec must be at least 1"
        );
        anyhow::ensure!(self.send_burst > 0, "send_burst must be at least 1");
        anyhow::ensure!(
            self.max_upload_bytes > 0,
            "max_upload_bytes must be at least 1"
        );
        anyhow::ensure!(
            self.unsent_upload_secs <= 10 * 365 * 24 * 3600,
            "unsent_upload_secs must be at most ten years"
        );
        anyhow::ensure!(
            self.outbound_queue >= 16,
            "outbound_queue must be at least 16"
        );
        anyhow::ensure!(
            self.sync_replay_limit > 0,
            "sync_replay_limit must be at least 1"
        );
        anyhow::ensure!(
            self.login_max_failures > 0,
            "login_max_failures must be at least 1"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.http_header_timeout_secs),
            "http_header_timeout_secs must be 1-3600"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.http_body_timeout_secs),
            "http_body_timeout_secs must be 1-3600"
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.max_queued_writes),
            "max_queued_writes must be 1-1000000"
        );
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be text or json"
        );
        anyhow::ensure!(
            self.typing_ttl_ms >= 100,
            "typing_ttl_ms must be at least 100"
        );
        anyhow::ensure!(
            self.smtp_url.is_none() || self.public_url.is_some(),
            "smtp_url needs public_url: the origin of the links in the emails"
        );
        anyhow::ensure!(
            self.smtp_url.is_none() || self.smtp_from.is_some(),
            "smtp_url needs smtp_from: the sender of the emails"
        );
        anyhow::ensure!(
            self.http_redirect_bind.is_none() || self.tls(),
            "http_redirect_bind redirects to HTTPS: it needs tls_cert/tls_key or tls_self_signed"
        );
        // Without it the only origin at hand would be the request's Host header, which the
        // client chooses: an open redirect.
        anyhow::ensure!(
            self.http_redirect_bind.is_none() || self.public_url.is_some(),
            "http_redirect_bind needs public_url (e.g. https://chat.example.org): the origin \
             browsers use, and the only place the plain-HTTP listener redirects to"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\nsend_burst = 50\n").unwrap();
        let overrides = Overrides {
            config: path,
            send_burst: Some(70),
            ..Default::default()
        };
        let config = overrides.load().unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.send_burst, 70);
        assert_eq!(config.send_rate_per_sec, 10);
        assert_eq!(config.max_rooms_per_user, 100);
    }

    #[test]
    fn room_cap_from_file_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "max_rooms_per_user = 0\n").unwrap();
        let from_file = Overrides {
            config: path.clone(),
            ..Default::default()
        };
        assert_eq!(from_file.load().unwrap().max_rooms_per_user, 0);
        let from_flag = Overrides {
            config: path,
            max_rooms_per_user: Some(5),
            ..Default::default()
        };
        assert_eq!(from_flag.load().unwrap().max_rooms_per_user, 5);
    }

    #[test]
    fn public_url_is_an_https_origin() {
        for (text, origin) in [
            ("https://chat.example.org", "https://chat.example.org"),
            ("https://Chat.Example.org/", "https://chat.example.org"),
            ("https://chat.example.org:443", "https://chat.example.org"),
            ("https://localhost:8443", "https://localhost:8443"),
            ("https://[::1]:8443", "https://[::1]:8443"),
        ] {
            assert_eq!(PublicUrl::parse(text).unwrap().as_str(), origin, "{text}");
        }
        for text in [
            "http://chat.example.org",
            "https://chat.example.org/chat",
            "https://chat.example.org/?x=1",
            "https://chat.example.org/#top",
            "https://user@chat.example.org",
            "https://chat.example.org:99999",
            "chat.example.org",
            "",
        ] {
            assert!(PublicUrl::parse(text).is_err(), "{text} is refused");
        }
    }

    #[test]
    fn the_redirect_listener_needs_public_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        let redirect = "tls_self_signed = true\nhttp_redirect_bind = \"127.0.0.1:8081\"\n";
        std::fs::write(&path, redirect).unwrap();
        let overrides = Overrides {
            config: path.clone(),
            ..Default::default()
        };
        let refused = overrides.load().unwrap_err().to_string();
        assert!(refused.contains("public_url"), "{refused}");
        std::fs::write(
            &path,
            format!("{redirect}public_url = \"https://localhost\"\n"),
        )
        .unwrap();
        assert_eq!(
            overrides.load().unwrap().public_url.unwrap().as_str(),
            "https://localhost"
        );
        std::fs::write(&path, "public_url = \"https://localhost/app\"\n").unwrap();
        assert!(
            overrides.load().is_err(),
            "a path is refused in the file too"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natter.toml");
        std::fs::write(&path, "bnd = \"0.0.0.0:9000\"\n").unwrap();
        assert!(
            Overrides {
                config: path,
                ..Default::default()
            }
            .load()
            .is_err()
        );
    }
}
