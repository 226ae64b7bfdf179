//! `natter bench`: drives a running server (one node or several, TLS or not) the way real
//! clients do. It registers users and creates rooms through the API, opens WebSockets, sends,
//! and checks every delivery by `seq`: loss and duplicates are counted, latencies go into HDR
//! histograms. Scenarios:
//!
//! - [`fanout`]: R rooms × M members, one sender per room, a total rate. One big room and a hot
//!   room are fan-outs with one room. With `--scenario churn` the receivers also disconnect
//!   and come back with `sync`, and every message must still arrive exactly once. With
//!   `--changes F`, that share of the sends are changes to earlier messages instead (edits and
//!   reactions, over HTTP): timeline events every receiver must get exactly once too.
//! - [`idle`]: N authenticated connections held open, to measure what one costs the server.
//! - [`history`]: fills one room (timing the durable write rate), then times history reads.
//! - [`upload`]: upload throughput, thumbnail time, memory during a 1 GiB upload, and a 1 MiB
//!   image served to concurrent readers.
//!
//! Senders stamp each body with the send time on this process's monotonic clock, so a
//! receiver's latency needs no clock sync. [`report`] writes the HTML report.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt;
use futures_util::stream;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub mod baseline;
mod fanout;
mod history;
mod idle;
pub mod report;
mod upload;

pub use fanout::{FanoutSummary, Second, run as fanout_run};
pub use history::{HistorySummary, run as history_run};
pub use idle::{IdleSummary, run as idle_run};
pub use upload::{UploadSummary, run as upload_run};

/// Which load to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// R rooms × M members, one sender per room, at a total rate.
    Fanout,
    /// A fan-out whose receivers keep disconnecting and resuming with `sync`.
    Churn,
    /// Authenticated connections that only answer pings.
    Idle,
    /// Fill one room, then time history reads.
    History,
    /// Upload throughput, thumbnails, memory during a large upload, serving a file.
    Upload,
}

/// What to run (`natter bench --help`).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "bench")]
pub struct BenchArgs {
    /// Which load to apply.
    #[arg(long, value_enum, default_value_t = Scenario::Fanout)]
    pub scenario: Scenario,
    /// Server base URL (http or https). Repeat it for a cluster: senders then use the first
    /// node and receivers the others, so every delivery crosses nodes.
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    pub urls: Vec<String>,
    /// Fan-out and churn: rooms, each with one sender.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Fan-out and churn: receiving members per room.
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Fan-out and churn: connections per receiving member (devices); each must get every
    /// message.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Messages per second over all rooms (fan-out, churn).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Fan-out and churn: the share (0-0.5) of sends that are instead a change to the
    /// sender's latest message, over HTTP: alternately an edit and a reaction.
    #[arg(long, default_value_t = 0.0)]
    pub changes: f64,
    /// Fan-out and churn: make the rooms sealed (end to end) and send bodies shaped as a
    /// browser seals a 100-character message (the server cannot tell them from real ones).
    #[arg(long)]
    pub sealed: bool,
    /// Seconds of sending (fan-out, churn) or of holding (idle).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Idle: connections to hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Churn: mean seconds a receiver stays connected before it drops and resumes.
    #[arg(long, default_value_t = 2.0)]
    pub reconnect_every: f64,
    /// History: messages the room should hold (only the missing ones are sent).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// History: the room's name (reused when it exists, so a second run skips the fill).
    #[arg(long, default_value = "bench-history")]
    pub room: String,
    /// History: timed reads of each kind.
    #[arg(long, default_value_t = 1000)]
    pub reads: usize,
    /// Upload: concurrent uploaders in the throughput phase.
    #[arg(long, default_value_t = 4)]
    pub uploaders: usize,
    /// Upload: the file sizes of the throughput phase, in MiB.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 50])]
    pub upload_sizes: Vec<u64>,
    /// Upload: MiB each uploader sends per size in the throughput phase (at least one file).
    #[arg(long, default_value_t = 64)]
    pub upload_mib_each: u64,
    /// Upload: how many times the 12-megapixel photo is uploaded.
    #[arg(long, default_value_t = 20)]
    pub images: usize,
    /// Upload: the size of the one large upload, in MiB (0: none). The server must accept
    /// it (`NATTER_MAX_UPLOAD_BYTES`; scripts/perf raises it).
    #[arg(long, default_value_t = 1024)]
    pub big_upload_mib: u64,
    /// Upload: concurrent readers of the served image (for `--duration` seconds).
    #[arg(long, default_value_t = 100)]
    pub readers: usize,
    /// Local addresses to open connections from, in turn (e.g. 127.0.0.2,127.0.0.3): each
    /// has its own ~28,000 ephemeral ports towards one server address.
    #[arg(long, value_delimiter = ',')]
    pub source_addrs: Vec<IpAddr>,
    /// Keep the registered accounts in this file and reuse them on the next run (Argon2id
    /// makes registering thousands of users take minutes).
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Trust this certificate (PEM) instead of the public roots, for an `https://` server with
    /// a private or self-signed certificate (`--tls-self-signed` keeps its certificate in
    /// `<data_dir>/tls/self-signed.crt`).
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// The server's process id, to read its memory from `/proc` (local servers).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the summary as JSON here (it is also printed).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an HTML report with latency plots here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

impl BenchArgs {
    /// The arguments as `natter bench` would parse them (for tests and scripts).
    pub fn parse_args<I: IntoIterator<Item = S>, S: Into<std::ffi::OsString> + Clone>(
        args: I,
    ) -> anyhow::Result<Self> {
        use clap::Parser as _;
        let all = std::iter::once("bench".into()).chain(args.into_iter().map(Into::into));
        Ok(Self::try_parse_from(all)?)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A histogram of microseconds, 1 µs to 10 min, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// The latency spectrum of a histogram for the report: (percentile, ms) points.
pub(crate) fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points = Vec::new();
    // Percentiles 0, 50, 75, 87.5, ... up to 99.9999, as HdrHistogram plots them.
    let mut q = 0.0f64;
    while q < 0.999_999 {
        points.push((q * 100.0, ms(h.value_at_quantile(q))));
        q = 1.0 - (1.0 - q) / 2.0_f64.sqrt();
    }
    points.push((100.0, ms(h.max())));
    points
}

/// Runs the scenario the arguments choose, printing progress to stderr and the summary to
/// stdout (and to `--json`, and the report to `--report`).
pub async fn main(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Fanout | Scenario::Churn => fanout::run(&args).await.map(drop),
        Scenario::Idle => idle::run(&args).await.map(drop),
        Scenario::History => history::run(&args).await.map(drop),
        Scenario::Upload => upload::run(&args).await.map(drop),
    }
}

/// Prints a summary and writes it where asked.
fn publish(args: &BenchArgs, summary: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `VmRSS` (resident) or `VmHWM` (peak resident) of a local process, in KiB.
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time a process has used, user and system, in seconds (from `/proc/PID/stat`).
pub fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis; utime and stime are 14 and 15,
    // in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The server's memory and the CPU time it used during the run, when its pid was given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerMemory {
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub peak_kib: Option<u64>,
    /// CPU seconds (user and system) the server used between the two readings.
    pub cpu_secs: Option<f64>,
    #[serde(skip)]
    clock: Option<PhaseClock>,
}

impl ServerMemory {
    fn before(pid: Option<u32>) -> Self {
        Self {
            rss_before_kib: pid.and_then(|p| proc_kib(p, "VmRSS:")),
            clock: Some(PhaseClock::start(pid)),
            ..Self::default()
        }
    }

    fn after(mut self, pid: Option<u32>) -> Self {
        self.rss_after_kib = pid.and_then(|p| proc_kib(p, "VmRSS:"));
        self.peak_kib = pid.and_then(|p| proc_kib(p, "VmHWM:"));
        self.cpu_secs = self.clock.as_ref().and_then(|c| c.stop().server_cpu_secs);
        self
    }
}

/// A stretch of a run: how long it took, and the server's CPU time over it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Phase {
    pub secs: f64,
    pub server_cpu_secs: Option<f64>,
}

/// Times a [`Phase`] from its start.
#[derive(Debug, Clone)]
pub struct PhaseClock {
    at: Instant,
    cpu: Option<f64>,
    pid: Option<u32>,
}

impl PhaseClock {
    pub fn start(pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            cpu: pid.and_then(proc_cpu_secs),
            pid,
        }
    }

    pub fn stop(&self) -> Phase {
        Phase {
            secs: self.at.elapsed().as_secs_f64(),
            server_cpu_secs: self
                .pid
                .and_then(proc_cpu_secs)
                .zip(self.cpu)
                .map(|(after, before)| after - before),
        }
    }
}

/// The HTTP side: a client and the server's URL.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
}

impl Api {
    fn new(args: &BenchArgs) -> anyhow::Result<Self> {
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(60));
        if let Some(pem) = ca_cert(args)? {
            http = http
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        Ok(Self {
            http: http.build()?,
        })
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{url}/api/v1{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            anyhow::bail!("{method} {path}: {status} {text}");
        }
        Ok(res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, url: &str, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, url, token, path, Some(body))
            .await
    }

    async fn get(&self, url: &str, token: &str, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, url, token, path, None)
            .await
    }

    async fn register(&self, url: &str, name: &str) -> anyhow::Result<String> {
        let body = json!({"username": name, "password": "bench password 1234"});
        let res = self
            .http
            .post(format!("{url}/api/v1/auth/register"))
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            anyhow::bail!(
                "registering {name}: the server throttles registrations per address; start it \
                 with NATTER_REGISTER_PER_ADDRESS_PER_HOUR=0 and NATTER_MAX_CONNECTIONS_PER_ADDRESS=0 \
                 for a load test (scripts/perf does)"
            );
        }
        if !status.is_success() {
            anyhow::bail!("registering {name}: {status} {}", res.text().await?);
        }
        let answer: Value = res.json().await?;
        Ok(answer["token"].as_str().context("token")?.to_owned())
    }

    /// `n` signed-in accounts: from the `--accounts` file where it has them for this server,
    /// the rest registered now (and saved there).
    async fn accounts(&self, args: &BenchArgs, n: usize) -> anyhow::Result<Vec<String>> {
        #[derive(Serialize, Deserialize, Default)]
        struct Saved {
            url: String,
            tokens: Vec<String>,
        }
        let url = &args.urls[0];
        let mut saved: Saved = args
            .accounts
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .filter(|s: &Saved| &s.url == url)
            .unwrap_or_default();
        if let Some(first) = saved.tokens.first()
            && self.get(url, first, "/me").await.is_err()
        {
            saved.tokens.clear(); // another database behind the same URL
        }
        if saved.tokens.len() < n {
            let missing = n - saved.tokens.len();
            eprintln!("bench: registering {missing} users (Argon2id: this takes a while)");
            let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
            let started = Instant::now();
            let done = AtomicUsize::new(0);
            let names: Vec<String> = (0..missing).map(|i| format!("b{tag}-{i}")).collect();
            let fresh: Vec<String> = stream::iter(names.iter().enumerate())
                .map(|(i, name)| {
                    let done = &done;
                    async move {
                        let token = self.register(&args.urls[i % args.urls.len()], name).await;
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if d % 500 == 0 {
                            eprintln!(
                                "  {d}/{missing} registered ({:.0} s)",
                                started.elapsed().as_secs_f64()
                            );
                        }
                        token
                    }
                })
                .buffered(8)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<anyhow::Result<_>>()?;
            saved.tokens.extend(fresh);
            saved.url.clone_from(url);
            if let Some(path) = &args.accounts {
                std::fs::write(path, serde_json::to_string(&saved)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        saved.tokens.truncate(n);
        Ok(saved.tokens)
    }
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The `--ca-cert` file's contents, if one was given.
fn ca_cert(args: &BenchArgs) -> anyhow::Result<Option<Vec<u8>>> {
    args.ca_cert
        .as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

/// Opens WebSockets, spreading them over the `--source-addrs`.
pub(crate) struct Dialer {
    sources: Vec<IpAddr>,
    next: AtomicUsize,
    /// TLS that trusts `--ca-cert` only (otherwise the public roots).
    tls: Option<tokio_tungstenite::Connector>,
}

impl Dialer {
    fn new(args: &BenchArgs) -> anyhow::Result<Self> {
        let tls = match ca_cert(args)? {
            None => None,
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                    roots.add(cert.context("parsing --ca-cert")?)?;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Some(tokio_tungstenite::Connector::Rustls(Arc::new(config)))
            }
        };
        Ok(Self {
            sources: args.source_addrs.clone(),
            next: AtomicUsize::new(0),
            tls,
        })
    }

    /// Opens a WebSocket with a bearer token and waits for `ready`, which it returns: live
    /// messages start after the `last_seq`s it reports, so a client counting deliveries must
    /// have it before the first send.
    pub async fn connect(&self, url: &str, token: &str) -> anyhow::Result<(Socket, Value)> {
        let ws_url = format!("{}/api/v1/ws", url.replacen("http", "ws", 1));
        let parsed = reqwest::Url::parse(&ws_url)?;
        let host = parsed.host_str().context("a host in the URL")?;
        let port = parsed.port_or_known_default().context("a port")?;
        let to: SocketAddr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .context("resolving the server")?;
        let tcp = match self.sources.len() {
            0 => tokio::net::TcpStream::connect(to).await,
            n => {
                let from = self.sources[self.next.fetch_add(1, Ordering::Relaxed) % n];
                let socket = match from {
                    IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.bind(SocketAddr::new(from, 0))?;
                socket.connect(to).await
            }
        }
        .with_context(|| format!("connecting to {to}"))?;
        tcp.set_nodelay(true)?;
        let mut req = ws_url.into_client_request()?;
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        // Small buffers: the default read buffer is 128 KiB, which over thousands of sockets
        // would cost the machine the server shares gigabytes.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_tls_with_config(
            req,
            tcp,
            Some(config),
            self.tls.clone(),
        )
        .await
        .context("opening a WebSocket")?;
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Text(text))) if text.as_str().contains("\"type\":\"ready\"") => {
                    return Ok((ws, serde_json::from_str(&text)?));
                }
                Some(Ok(_)) => continue,
                _ => anyhow::bail!("the socket closed before `ready`"),
            }
        }
    }
}

/// The `last_seq` that a `ready` event reports for a room (0 if absent).
fn last_seq_of(ready: &Value, room: &str) -> i64 {
    ready["rooms"]
        .as_array()
        .and_then(|rooms| rooms.iter().find(|r| r["id"] == room))
        .and_then(|r| r["last_seq"].as_i64())
        .unwrap_or(0)
}

/// Microseconds since `epoch`.
fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Prints a progress line every second until dropped.
struct Progress(tokio::task::JoinHandle<()>);

impl Progress {
    fn every_second(mut line: impl FnMut() -> String + Send + 'static) -> Self {
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("  {}", line());
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
    }
}
