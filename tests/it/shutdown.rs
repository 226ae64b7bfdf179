//! Graceful shutdown: sockets are told "going away", and nothing acknowledged is lost.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn graceful_shutdown_loses_nothing_acknowledged() {
    let mut app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Durable", None).await;
    let (mut ws, _) = app.ws(&ana).await;
    for i in 0..300 {
        ws.send_json(json!({"type": "send", "room_id": room, "client_id": format!("m{i}"), "body": format!("n{i}")})).await;
    }
    // Take acks as they come while the server goes down under us.
    let mut acked = Vec::new();
    while acked.len() < 100 {
        let event = ws.next_event().await;
        if event["type"] == "ack" {
            acked.push(event["message"]["seq"].as_i64().unwrap());
        }
    }
    let stopping = tokio::spawn(async move {
        app.shutdown().await;
        app
    });
    let code = loop {
        match ws.next_frame().await {
            Ok(event) if event["type"] == "ack" => {
                acked.push(event["message"]["seq"].as_i64().unwrap())
            }
            Ok(_) => {}
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(1001), "going away");
    let app = stopping.await.unwrap();

    let app = app.restart().await;
    let ana = app.sign_in_again(&ana, "ana").await;
    let (_, page) = app.history(&ana, &room, "?limit=200").await;
    let mut stored = seqs(&page["messages"]);
    let (_, older) = app
        .history(&ana, &room, &format!("?before={}&limit=200", stored[0]))
        .await;
    stored.splice(0..0, seqs(&older["messages"]));
    for seq in &acked {
        assert!(
            stored.contains(seq),
            "acknowledged message {seq} survived the shutdown"
        );
    }
    assert_eq!(
        stored,
        (1..=stored.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
}
