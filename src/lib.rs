//! Natter: a self-hosted real-time chat server.
//!
//! The map of the crate, in the order a message travels:
//!
//! - [`config`]: settings from defaults, `natter.toml`, `NATTER_*` variables and flags.
//! - [`app`]: wiring ([`app::App::start`]) and serving with graceful shutdown ([`app::serve`]).
//! - [`http`]: the JSON API under `/api/v1` by area (auth, rooms, messages, users), error
//!   mapping, extractors (who is calling, CSRF), security headers, the OpenAPI document.
//! - [`ws`]: the WebSocket endpoint (auth, Origin, buffer sizes). Inside: `conn` starts one
//!   socket; `reader` parses frames and queues sends (acks in order); `writer` alone writes,
//!   one flush per wakeup, with `sync` replay, heartbeat and slow-consumer close; `track`
//!   keeps each room's stream gap-free and duplicate-free by `seq`.
//! - [`protocol`]: the typed WebSocket frames and close codes.
//! - [`chat`]: what users can do (accounts, rooms, messages), checked and carried out; the
//!   group-commit task that commits batches and then publishes them; login and key
//!   throttling; the retention pruner.
//! - [`domain`]: validated values (`Username`, `RoomName`, `MessageBody`, ...), roles and
//!   permission rules, the records shown to clients. No I/O.
//! - [`store`]: the `Store` trait and its SQLite implementation with migrations.
//! - [`bus`]: the `Bus` trait between nodes and its in-process implementation.
//! - [`hub`]: this node's live connections and the fan-out of shared frames to them.
//! - [`tls`]: built-in TLS (PEM files or a self-signed certificate for development).
//! - [`metrics`]: the Prometheus metrics and where each is recorded.
//! - [`admin`]: the `natter admin` commands; [`bench`]: the `natter bench` load tool.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod bench;
pub mod bus;
pub mod chat;
pub mod config;
pub mod domain;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod protocol;
pub mod store;
pub mod tls;
pub mod ws;
