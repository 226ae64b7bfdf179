//! `natter bench` against the real server: every scenario runs, and every delivery is
//! accounted for.

use crate::helpers::*;
use natter::bench::{self, BenchArgs};

/// A server whose send rate limits are raised for benchmarking, as `docs/performance.md` says.
async fn bench_app() -> TestApp {
    spawn_app_with(|c| {
        c.send_rate_per_sec = 10_000;
        c.send_burst = 10_000;
    })
    .await
}

fn args(app: &TestApp, rest: &[&str]) -> BenchArgs {
    let url = format!("http://{}", app.addr);
    let mut all = vec!["--url", &url];
    all.extend_from_slice(rest);
    BenchArgs::parse_args(all).expect("bench arguments")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_counts_every_delivery_and_writes_its_report() {
    let app = bench_app().await;
    let json = app.dir.path().join("bench.json");
    let report = app.dir.path().join("bench.html");
    let accounts = app.dir.path().join("accounts.json");
    let mut run = args(
        &app,
        &[
            "--rooms",
            "2",
            "--members",
            "3",
            "--devices",
            "2",
            "--rate",
            "40",
            "--duration",
            "1",
            // Two loopback source addresses, as for runs past one address's ports.
            "--source-addrs",
            "127.0.0.1,127.0.0.2",
        ],
    );
    run.json = Some(json.clone());
    run.report = Some(report.clone());
    run.accounts = Some(accounts.clone());
    run.server_pid = Some(std::process::id());
    let summary = bench::fanout_run(&run).await.expect("the bench runs");
    assert!(summary.acked >= 30, "{summary:?}");
    assert_eq!(summary.connections, 2 * (1 + 3 * 2));
    assert_eq!(summary.deliveries_expected, summary.acked * 3 * 2);
    assert_eq!(summary.deliveries_received, summary.deliveries_expected);
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
    assert!(summary.deliver_ms.p50 > 0.0 && summary.deliver_ms.max >= summary.deliver_ms.p99);
    assert!(summary.server_memory.peak_kib.is_some());
    let delivered: u64 = summary.timeline.iter().map(|s| s.delivered).sum();
    assert_eq!(delivered, summary.deliveries_received);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["lost"], 0);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("latency distribution"));
    // The rooms are gone afterwards; the saved accounts work for the next run.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&accounts).unwrap()).unwrap();
    assert_eq!(saved["tokens"].as_array().unwrap().len(), 2 * 4);
    let users_before = count_rows(&app, "SELECT COUNT(*) FROM users").await;
    let again = bench::fanout_run(&run).await.expect("a second run");
    assert_eq!((again.lost, again.duplicates), (0, 0));
    assert_eq!(
        count_rows(&app, "SELECT COUNT(*) FROM users").await,
        users_before
    );
    assert_eq!(count_rows(&app, "SELECT COUNT(*) FROM rooms").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_resumes_with_sync_and_loses_nothing() {
    let app = bench_app().await;
    let run = args(
        &app,
        &[
            "--scenario",
            "churn",
            "--rooms",
            "2",
            "--members",
            "4",
            "--rate",
            "60",
            "--duration",
            "3",
            "--reconnect-every",
            "0.4",
        ],
    );
    let summary = bench::fanout_run(&run).await.expect("the bench runs");
    assert!(summary.reconnects >= 8, "{summary:?}");
    assert_eq!(
        summary.deliveries_received, summary.deliveries_expected,
        "{summary:?}"
    );
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
    let resync = summary.resync_ms.expect("resync times");
    assert!(resync.count > 0, "{resync:?}");
}

/// Edits and reactions mixed into a churning fan-out: every change reaches every receiver once,
/// live or by `sync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_mixed_into_a_churning_fan_out_arrive_exactly_once() {
    let app = bench_app().await;
    let run = args(
        &app,
        &[
            "--scenario",
            "churn",
            "--rooms",
            "2",
            "--members",
            "4",
            "--rate",
            "60",
            "--duration",
            "3",
            "--reconnect-every",
            "0.5",
            "--changes",
            "0.25",
        ],
    );
    let summary = bench::fanout_run(&run).await.expect("the bench runs");
    assert!(summary.acked >= 150, "{summary:?}");
    assert!(summary.changes >= 30, "a quarter of the sends: {summary:?}");
    assert_eq!(
        summary.deliveries_received, summary.deliveries_expected,
        "{summary:?}"
    );
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_held_and_counted() {
    let app = bench_app().await;
    let mut run = args(
        &app,
        &[
            "--scenario",
            "idle",
            "--connections",
            "40",
            "--duration",
            "1",
        ],
    );
    run.server_pid = Some(std::process::id());
    let summary = bench::idle_run(&run).await.expect("the bench runs");
    assert_eq!(summary.connections, 40);
    assert!(summary.kib_per_connection.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_fills_a_room_once_and_times_reads() {
    let app = bench_app().await;
    let accounts = app.dir.path().join("accounts.json");
    let report = app.dir.path().join("history.html");
    let mut run = args(
        &app,
        &[
            "--scenario",
            "history",
            "--messages",
            "300",
            "--reads",
            "20",
            "--room",
            "Archive",
        ],
    );
    run.accounts = Some(accounts);
    run.report = Some(report.clone());
    let first = bench::history_run(&run).await.expect("the bench runs");
    assert_eq!((first.messages_in_room, first.filled), (300, 300));
    assert!(first.stored_per_sec.unwrap() > 0.0);
    assert_eq!(first.newest_page_ms.count, 20);
    assert_eq!(first.page_back_ms.count, 20);
    assert!(std::fs::read_to_string(&report).unwrap().contains("<svg"));
    // Asking for more tops the room up; the same size again sends nothing.
    run.messages = 350;
    let second = bench::history_run(&run).await.expect("a second run");
    assert_eq!((second.messages_in_room, second.filled), (350, 50));
    let third = bench::history_run(&run).await.expect("a third run");
    assert_eq!((third.filled, third.stored_per_sec.is_none()), (0, true));
    assert_eq!(count_rows(&app, "SELECT COUNT(*) FROM messages").await, 350);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_tls_trusting_the_servers_own_certificate() {
    let app = spawn_app_with(|c| {
        c.tls_self_signed = true;
        c.send_rate_per_sec = 10_000;
        c.send_burst = 10_000;
    })
    .await;
    let url = format!("https://127.0.0.1:{}", app.addr.port());
    let cert = app.dir.path().join("tls/self-signed.crt");
    let cert = cert.to_str().unwrap();
    let base = [
        "--url",
        &url,
        "--rooms",
        "1",
        "--members",
        "3",
        "--rate",
        "20",
    ];
    // Without the certificate the public roots do not vouch for it.
    let untrusted = BenchArgs::parse_args(base.iter().chain(&["--duration", "1"])).unwrap();
    assert!(bench::fanout_run(&untrusted).await.is_err());
    let run =
        BenchArgs::parse_args(base.iter().chain(&["--duration", "1", "--ca-cert", cert])).unwrap();
    let summary = bench::fanout_run(&run)
        .await
        .expect("the bench runs over TLS");
    assert!(summary.acked >= 10, "{summary:?}");
    assert_eq!(summary.deliveries_received, summary.deliveries_expected);
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_scenario_measures_throughput_thumbnails_memory_and_serving() {
    let app = spawn_app_with(|c| c.upload_quota_per_user_bytes = 0).await;
    let mut run = args(
        &app,
        &[
            "--scenario",
            "upload",
            "--uploaders",
            "2",
            "--upload-sizes",
            "1,2",
            "--upload-mib-each",
            "4",
            "--images",
            "1",
            "--big-upload-mib",
            "8",
            "--readers",
            "4",
            "--duration",
            "1",
        ],
    );
    run.server_pid = Some(std::process::id());
    let summary = bench::upload_run(&run).await.expect("the bench runs");
    assert_eq!(summary.throughput.len(), 2);
    // 4 MiB per uploader and size: 4 files of 1 MiB, 2 of 2 MiB, each.
    assert_eq!(summary.throughput[0].files, 2 * 4);
    assert_eq!(summary.throughput[1].files, 2 * 2);
    assert!(summary.throughput.iter().all(|t| t.mib_per_sec > 0.0));
    assert!(summary.images.image_upload_ms.count == 1 && summary.images.jpeg_bytes > 1_000_000);
    let big = summary.big_upload.as_ref().expect("a big upload");
    assert!(big.rss_max_kib.is_some_and(|k| k > 0));
    assert!(summary.serving.requests > 0, "{:?}", summary.serving);
    // Everything it uploaded is discarded at the end.
    assert_eq!(
        count_rows(&app, "select count(*) from uploads where room_id is null").await,
        0
    );
}

/// `--sealed`: the rooms are sealed, the bodies (and edits) shaped as sealed ones, which the
/// server accepts and delivers; their send times still come back out of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_rooms_fan_out_with_timed_deliveries() {
    let app = bench_app().await;
    let run = args(
        &app,
        &[
            "--rooms",
            "2",
            "--members",
            "3",
            "--rate",
            "40",
            "--duration",
            "2",
            "--sealed",
            "--changes",
            "0.25",
        ],
    );
    let summary = bench::fanout_run(&run).await.expect("the bench runs");
    assert!(summary.changes > 0, "{summary:?}");
    assert_eq!(
        summary.deliveries_received, summary.deliveries_expected,
        "{summary:?}"
    );
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
    assert!(
        summary.deliver_ms.count > 0,
        "timed from the sealed bodies: {summary:?}"
    );
}
