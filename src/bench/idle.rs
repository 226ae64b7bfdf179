//! The idle scenario: many authenticated connections that only answer pings, to measure what
//! one connection costs the server. A few accounts share the connections (each WebSocket is
//! its own connection whatever its token), so no time goes into registering thousands of
//! users.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::{BenchArgs, connect, register};

/// Accounts the connections are spread over.
const ACCOUNTS: usize = 10;

#[derive(Debug, Serialize)]
pub struct IdleSummary {
    pub connections: usize,
    pub held_secs: u64,
    /// Server resident memory before and while holding the connections (KiB), when its pid was given.
    pub rss_before_kib: Option<u64>,
    pub rss_held_kib: Option<u64>,
    pub kib_per_connection: Option<f64>,
}

/// `VmRSS` of a local process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub async fn run(args: &BenchArgs, connections: usize) -> anyhow::Result<IdleSummary> {
    let http = reqwest::Client::new();
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    let url = &args.urls[0];
    let mut tokens = Vec::new();
    for i in 0..ACCOUNTS {
        tokens.push(register(&http, url, &format!("i{tag}-{i}")).await?);
    }
    let before = args.server_pid.and_then(rss_kib);
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(connections);
    for i in 0..connections {
        sockets.push(connect(url, &tokens[i % ACCOUNTS]).await?);
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "  {} connections open ({:.1} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Hold them, reading (so pings are answered) until the time is up.
    let until = Instant::now() + Duration::from_secs(args.duration);
    let mut held = Vec::with_capacity(sockets.len());
    for ws in sockets {
        held.push(tokio::spawn(async move {
            let mut ws = ws;
            while let Ok(Some(Ok(_))) = tokio::time::timeout_at(until.into(), ws.next()).await {}
            ws
        }));
    }
    tokio::time::sleep_until(until.into()).await;
    let during = args.server_pid.and_then(rss_kib);
    let mut still_open = 0;
    for task in held {
        if task.await.is_ok() {
            still_open += 1;
        }
    }
    let per = match (before, during) {
        (Some(b), Some(d)) if connections > 0 => {
            Some(d.saturating_sub(b) as f64 / connections as f64)
        }
        _ => None,
    };
    let summary = IdleSummary {
        connections: still_open,
        held_secs: args.duration,
        rss_before_kib: before,
        rss_held_kib: during,
        kib_per_connection: per,
    };
    let text = serde_json::to_string_pretty(&summary)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text)?;
    }
    Ok(summary)
}
