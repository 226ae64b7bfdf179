//! Prometheus metrics, served at `GET /metrics`. Each name below says what it counts and the
//! module that records it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Gauge: open WebSocket connections on this node (`hub`).
pub const CONNECTIONS: &str = "natter_connections";
/// Counter: messages committed by this node (`chat::commit`).
pub const MESSAGES_STORED: &str = "natter_messages_stored_total";
/// Counter: message events written to sockets on this node (`ws::writer`).
pub const DELIVERIES: &str = "natter_deliveries_total";
/// Histogram: seconds from commit to the write to a socket (`ws::writer`).
pub const SEND_TO_DELIVER: &str = "natter_send_to_deliver_seconds";
/// Counter: connections closed because their outbound queue was full (`hub`).
pub const SLOW_CONSUMERS: &str = "natter_slow_consumers_closed_total";
/// Histogram: messages per group commit (`chat::commit`).
pub const BATCH_SIZE: &str = "natter_store_batch_size";
/// Histogram: seconds per group commit (`chat::commit`).
pub const COMMIT_SECONDS: &str = "natter_store_commit_seconds";
/// Counter: times the Redis subscription was re-established (`bus::redis`).
pub const BUS_RECONNECTS: &str = "natter_bus_reconnects_total";
/// Counter: `accept` failures, chiefly the open-file limit reached (`listen`).
pub const ACCEPT_ERRORS: &str = "natter_accept_errors_total";
/// Counter: connections refused by `max_connections_per_address` (`listen`).
pub const CONNECTIONS_REFUSED: &str = "natter_connections_refused_total";
/// Counter: writes refused with `busy`, by `cause`: `queue` (the group-commit queue was full)
/// or `deliveries` (deliveries ran late) (`chat::commit`).
pub const BUSY: &str = "natter_busy_total";

/// The messages this process has committed (what `MESSAGES_STORED` counts), for the admin
/// dashboard's message rate.
pub static STORED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY: [f64; 12] = [
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Installs the process-wide recorder (once); `None` if another recorder was installed.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SEND_TO_DELIVER.into()), &LATENCY)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), &LATENCY)
                })
                .and_then(|b| {
                    let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
                    b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), &sizes)
                })
                .ok()?;
            builder.install_recorder().ok()
        })
        .as_ref()
}

/// Unix time in microseconds (stamped on messages at commit to measure delivery latency).
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
