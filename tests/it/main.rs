//! One integration-test binary: every test starts the real server on port 0 with a fresh
//! SQLite file and drives it over HTTP and WebSocket as a client would.

mod accounts;
mod admin;
mod bench;
mod binary;
mod browser;
mod churn;
mod cluster;
mod durability;
mod encryption;
mod harness;
mod helpers;
mod history;
mod limits;
mod links;
mod living;
mod messaging;
mod moderation;
mod names;
mod openapi;
mod overload;
mod profiles;
mod proxy;
mod robustness;
mod rooms;
mod sealed;
mod search;
mod security;
mod shutdown;
mod store;
mod timeline;
mod tls;
mod uploads;
