//! Natter: a self-hosted real-time chat server.
//!
//! The map of the crate, in the order a message travels:
//!
//! - [`config`]: settings from defaults, `natter.toml`, `NATTER_*` variables and flags.
//! - [`app`]: wiring ([`app::App::start`]) and serving with graceful shutdown ([`app::serve`]).
//! - [`listen`]: accepting connections: per-address caps, TLS handshake and header deadlines,
//!   HTTP/1.1 with upgrades, a warning when the descriptor limit is reached.
//! - [`http`]: the JSON API under `/api/v1` by area (auth, rooms, messages, changes to
//!   messages, search, uploads and serving files, users, moderation and reports, room invite
//!   links, sign-in security (`security`: two-factor, reset links), server administration
//!   (`admin`)), error mapping, extractors (who is calling, CSRF), security headers, the
//!   OpenAPI document and the WebSocket frames' JSON Schema (`openapi`, from
//!   `docs/ws.schema.json`).
//! - [`ws`]: the WebSocket endpoint (auth, Origin, buffer sizes). Inside: `conn` starts one
//!   socket; `reader` parses frames and queues sends (acks in order); `writer` alone writes,
//!   one flush per wakeup, with `sync` replay, heartbeat and slow-consumer close; `track`
//!   keeps each room's timeline gap-free and duplicate-free by `seq`, and holds back changes
//!   to messages a member may not read.
//! - [`protocol`]: the typed WebSocket frames and close codes.
//! - [`chat`]: what users can do (accounts, rooms, messages, changes to messages in
//!   `changes`: edit, delete, react, pin; `search`), checked and carried out; the group-commit
//!   task (on a thread of its own) that commits batches of timeline events (messages and
//!   changes, each with the room's next `seq`) and then publishes them, refusing new writes
//!   with `busy` when its queue is full or deliveries run late (`pressure`);
//!   Argon2 hashing on pooled memory (`passwords`); login, registration and key throttling and
//!   sign-in pacing (`guard`); image decoding within limits (`avatar`); files (`uploads`:
//!   receiving an upload into the spool, who may read it, the collector; `uploads::media`: the
//!   type from the bytes, thumbnails, metadata stripping, ffprobe/ffmpeg); the retention pruner;
//!   moderation (`moderation`: kicks, mutes, the audit log; `reports`; `invites`: room invite
//!   links; `blocks`; `groups`: group conversations); server administration (`admin`:
//!   accounts, deletion, rooms, server invites; `settings`: the settings in force on every node
//!   and the setup link); sign-in security (`two_factor`: TOTP and recovery codes; `recovery`:
//!   reset links and email).
//!   Every limit and throttle is described for operators in `docs/security.md`.
//! - [`domain`]: validated values (`Username`, `RoomName`, `MessageBody`, ...), the hidden
//!   characters names may not hold and the skeletons look-alike room names share (`spoofing`),
//!   roles and permission rules (`rules`), how search folds words (`search`), the records
//!   shown to clients and the timeline events, the server settings (`settings`), the records
//!   of administration (`admin`), device names from User-Agents (`device`), sealed rooms'
//!   seals, join proofs and the shape of a sealed body (`sealed`). No I/O.
//! - [`store`]: the `Store` trait and its areas (`Accounts`, `Rooms`, `Timeline`, `Search`,
//!   `Uploads`, `Admin`, `Security`); one set of SQL per area (`store/sql/accounts.rs`,
//!   `rooms.rs`, `timeline.rs`, `search.rs`, `uploads.rs`, `admin.rs`, `security.rs`) expanded
//!   for SQLite and PostgreSQL with each one's `Dialect`, each backend with its migrations.
//! - [`crypto`]: encryption at rest: the master key (`master`), the key store of wrapped room
//!   and file keys kept apart from the database (`keystore`), the keyring that makes, caches
//!   and destroys them, sealing texts with a room's key and blinding its search words, sealing
//!   the bus. The store seals and opens texts with it (`store/sql/timeline.rs`, `search.rs`);
//!   `chat::sealing` seals what was stored in plain text and destroys stray keys. (Sealed
//!   rooms, encrypted end to end, are the browser's business: `assets/js/core/sealed.js`;
//!   the server keeps their seal, checks join proofs in `chat::rooms` and refuses plain bodies
//!   and files in them in the append, `store::sealed_refuses`.)
//! - [`files`]: where uploaded files' bytes live: content-addressed blobs on the local disk or
//!   in an S3-compatible store (`object_store`), behind the `Blobs` trait; `files::sealed`
//!   seals each in chunks with a key of its own.
//! - [`bus`]: the `Bus` trait between nodes, in-process or over Redis.
//! - [`hub`]: this node's live connections and the fan-out of shared frames to them.
//! - [`tls`]: built-in TLS (PEM files or a self-signed certificate for development).
//! - [`metrics`]: the Prometheus metrics and where each is recorded.
//! - [`admin`]: the `natter admin` commands, and the setup link `natter serve` logs.
//! - [`bench`]: the `natter bench` load tool: scenarios `fanout` (and churn, and `--changes`
//!   mixing edits and reactions in), `idle`, `history` (with searches), `upload`; the HTML report in
//!   `bench::report`; `bench::baseline` is `natter bench-baseline`, a bare broadcast server to
//!   measure against. `scripts/perf` runs one against a fresh
//!   release server; `docs/performance.md` has the figures.
//!
//! Outside the crate: `tests/it/` drives the real server (one file per area), `e2e/` the
//! page in Chromium, `fuzz/` feeds untrusted input to the parsers with cargo fuzz, and
//! `docs/testing.md` lists every check of the proof suite with its figures.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod bench;
pub mod bus;
pub mod chat;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod files;
pub mod http;
pub mod hub;
pub mod listen;
pub mod metrics;
pub mod protocol;
pub mod store;
pub mod tls;
pub mod ws;
