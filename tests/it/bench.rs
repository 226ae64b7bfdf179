//! `natter bench` against the real server: every delivery accounted for.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_counts_every_delivery() {
    let app = spawn_app().await;
    let args = natter::bench::BenchArgs {
        urls: vec![format!("http://{}", app.addr)],
        rooms: 2,
        members: 3,
        rate: 40.0,
        duration: 1,
        json: Some(app.dir.path().join("bench.json")),
        idle: None,
        server_pid: None,
    };
    let summary = natter::bench::run(args).await.expect("the bench runs");
    assert!(summary.acked >= 30, "{summary:?}");
    assert_eq!(summary.deliveries_expected, summary.acked * 3);
    assert_eq!(summary.deliveries_received, summary.deliveries_expected);
    assert_eq!((summary.lost, summary.duplicates), (0, 0));
    assert!(summary.deliver_ms.p50 > 0.0 && summary.deliver_ms.max >= summary.deliver_ms.p99);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.dir.path().join("bench.json")).unwrap())
            .unwrap();
    assert_eq!(written["lost"], 0);
}
