//! Past capacity the server refuses writes with `busy` and a retry hint, instead of queueing
//! them without bound; nothing refused is stored, and a retry with the same `client_id`
//! stores the message once.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn past_capacity_writes_are_refused_busy_and_retries_store_each_once() {
    // One write may wait for the commit in progress: a burst from several sockets overflows it.
    let app = spawn_app_with(|c| {
        c.max_queued_writes = 1;
        c.send_rate_per_sec = 100_000;
        c.send_burst = 100_000;
    })
    .await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, "busy", None).await;
    let mut sockets = Vec::new();
    for i in 0..8 {
        let user = app.register(&format!("sender{i}")).await;
        let (status, body) = app.join(&user, "busy", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sockets.push(app.ws(&user).await.0);
    }
    const EACH: usize = 40;
    let total = sockets.len() * EACH;

    // Every socket fires its sends without waiting, then reads an answer for each; the
    // refused ones are sent again (same client_id) until everything is acknowledged.
    let mut busy = 0;
    let rounds = sockets.into_iter().enumerate().map(|(i, mut ws)| {
        let room = room.clone();
        async move {
            let mut open: Vec<String> = (0..EACH).map(|n| format!("s{i}-{n}")).collect();
            let mut acked = HashMap::new();
            let mut refused = 0;
            for _round in 0..200 {
                if open.is_empty() {
                    break;
                }
                for id in &open {
                    ws.send_json(
                        json!({"type": "send", "room_id": room, "client_id": id, "body": id}),
                    )
                    .await;
                }
                let mut again = Vec::new();
                let mut answered = 0;
                while answered < open.len() {
                    let event = ws.next_event().await;
                    let id = event["client_id"].as_str().unwrap_or_default().to_owned();
                    match event["type"].as_str() {
                        Some("ack") => {
                            answered += 1;
                            assert!(
                                acked
                                    .insert(id, event["message"]["seq"].as_i64().unwrap())
                                    .is_none()
                            );
                        }
                        Some("error") => {
                            answered += 1;
                            assert_eq!(event["code"], "busy", "{event}");
                            assert_eq!(event["room_id"], room.as_str(), "{event}");
                            assert!(event["retry_after_ms"].as_u64().unwrap() >= 1, "{event}");
                            refused += 1;
                            again.push(id);
                        }
                        _ => {}
                    }
                }
                open = again;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(open.is_empty(), "still refused after 200 rounds: {open:?}");
            (acked, refused)
        }
    });
    let mut seqs = Vec::new();
    for (acked, refused) in futures_util::future::join_all(rounds).await {
        busy += refused;
        seqs.extend(acked.into_values());
    }
    assert!(
        busy > 0,
        "a queue of 1 took {total} concurrent sends without refusing one"
    );
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "acked seqs are 1..{total}"
    );
    assert_eq!(
        count_rows(&app, "select count(*) from messages").await,
        total as i64
    );
    assert_eq!(
        count_rows(&app, "select count(distinct client_id) from messages").await,
        total as i64,
        "no message stored twice"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Both causes: on a loaded machine deliveries may also run late.
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("natter_busy_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        counted >= busy as f64,
        "busy_total counts {counted} of {busy} refusals"
    );

    // Over HTTP: `503 busy` with `Retry-After`, and nothing stored for the refused ones.
    let burst = (0..60).map(|n| {
        let (app, owner, room) = (&app, &owner, &room);
        async move {
            let answer = app
                .http
                .post(app.url(&format!("/rooms/{room}/messages")))
                .bearer_auth(&owner.token)
                .json(&json!({"client_id": format!("h-{n}"), "body": format!("h-{n}")}))
                .send()
                .await
                .unwrap();
            let (status, wait) = (
                answer.status(),
                answer.headers().get("retry-after").cloned(),
            );
            (
                status,
                wait,
                answer.json::<serde_json::Value>().await.unwrap(),
            )
        }
    });
    let mut refused = 0;
    for (status, wait, body) in futures_util::future::join_all(burst).await {
        match status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"]["code"], "busy", "{body}");
                assert_eq!(wait.expect("Retry-After"), "1");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        refused > 0,
        "60 concurrent HTTP sends into a queue of 1, none refused"
    );
    let stored = count_rows(
        &app,
        "select count(*) from messages where client_id like 'h-%'",
    )
    .await;
    assert_eq!(stored, 60 - refused, "a refused send stored nothing");
}
