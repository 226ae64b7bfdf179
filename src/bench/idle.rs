//! The idle scenario: many authenticated connections that only answer pings, to measure what
//! one connection costs the server. A few accounts share the connections (each WebSocket is
//! its own connection whatever its token, as with a user's devices), so no time goes into
//! registering thousands of users.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use super::{Api, BenchArgs, Dialer, ServerMemory, proc_kib, publish};

/// Accounts the connections are spread over.
const ACCOUNTS: usize = 10;

#[derive(Debug, Serialize)]
pub struct IdleSummary {
    /// Connections still open when the time was up.
    pub connections: usize,
    pub held_secs: u64,
    pub open_secs: f64,
    /// Server resident memory while holding the connections (before: `server_memory`), when
    /// its pid was given.
    pub rss_held_kib: Option<u64>,
    pub kib_per_connection: Option<f64>,
    pub server_memory: ServerMemory,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<IdleSummary> {
    let api = Api::new(args)?;
    let tokens = api.accounts(args, ACCOUNTS).await?;
    let dialer = Dialer::new(args)?;
    let url = &args.urls[0];
    let memory = ServerMemory::before(args.server_pid);
    let connections = args.connections;
    eprintln!("bench: opening {connections} connections");
    let started = Instant::now();
    let opened = AtomicU64::new(0);
    let sockets: Vec<_> = stream::iter(0..connections)
        .map(|i| {
            let (dialer, tokens, opened) = (&dialer, &tokens, &opened);
            async move {
                let (ws, _) = dialer.connect(url, &tokens[i % ACCOUNTS]).await?;
                let n = opened.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1000 == 0 {
                    eprintln!("  {n} open ({:.1} s)", started.elapsed().as_secs_f64());
                }
                anyhow::Ok(ws)
            }
        })
        .buffered(16)
        .try_collect()
        .await?;
    let open_secs = started.elapsed().as_secs_f64();
    // Hold them, reading (so pings are answered) until the time is up.
    let until = Instant::now() + Duration::from_secs(args.duration);
    let mut held = Vec::with_capacity(sockets.len());
    for mut ws in sockets {
        held.push(tokio::spawn(async move {
            loop {
                match tokio::time::timeout_at(until.into(), ws.next()).await {
                    Ok(Some(Ok(_))) => continue,
                    Ok(_) => return false, // closed by the server
                    Err(_) => return true,
                }
            }
        }));
    }
    tokio::time::sleep_until(until.into()).await;
    let during = args.server_pid.and_then(|p| proc_kib(p, "VmRSS:"));
    let mut still_open = 0;
    for task in held {
        if task.await.unwrap_or(false) {
            still_open += 1;
        }
    }
    let before = memory.rss_before_kib;
    let per = match (before, during) {
        (Some(b), Some(d)) if connections > 0 => {
            Some(d.saturating_sub(b) as f64 / connections as f64)
        }
        _ => None,
    };
    let summary = IdleSummary {
        connections: still_open,
        held_secs: args.duration,
        open_secs,
        rss_held_kib: during,
        kib_per_connection: per,
        server_memory: memory.after(args.server_pid),
    };
    publish(args, &summary)?;
    Ok(summary)
}
