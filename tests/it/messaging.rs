//! Real-time messaging: live delivery, acks, idempotent retries, rate limits, read markers,
//! typing, resume with `sync`, and slow consumers.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn two_users_chat_in_real_time() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "General", None).await;
    app.join(&bob, "general", None).await;
    let (mut ana_ws, ready) = app.ws(&ana).await;
    assert_eq!(ready["user"]["username"], "ana");
    assert_eq!(ready["rooms"][0]["id"], room.as_str());
    let (mut ana_tab2, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;

    let acked = ana_ws.send_message(&room, "c-1", "hi bob").await;
    assert_eq!(acked["seq"], 1);
    assert_eq!(acked["sender"]["username"], "ana");
    let got = bob_ws.next_of("message").await["message"].clone();
    assert_eq!(got, acked, "the receiver sees exactly the stored message");
    assert_eq!(
        ana_tab2.next_of("message").await["message"],
        acked,
        "the sender's other tabs too"
    );

    let reply = bob_ws.send_message(&room, "c-1", "hi ana").await;
    assert_eq!(reply["seq"], 2, "client ids are per sender");
    // Ana's socket also gets her own message, before or after its ack (either order is
    // allowed): if it is still to come, it comes before Bob's reply.
    let mut next = ana_ws.next_of("message").await["message"].clone();
    if next == acked {
        next = ana_ws.next_of("message").await["message"].clone();
    }
    assert_eq!(next["body"], "hi ana");

    // A bot's HTTP send reaches sockets the same way.
    let (status, body) = app.send_http(&bob, &room, "http-1", "from a script").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"]["seq"], 3);
    assert_eq!(
        ana_ws.next_of("message").await["message"]["body"],
        "from a script"
    );

    let (_, rooms) = app.get(&ana, "/rooms").await;
    assert_eq!(rooms["rooms"][0]["last_seq"], 3);
}

#[tokio::test]
async fn a_retried_send_returns_the_original() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Retry", None).await;
    app.join(&bob, "retry", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;

    let first = ana_ws.send_message(&room, "same-id", "once").await;
    let again = ana_ws.send_message(&room, "same-id", "once").await;
    assert_eq!(first, again);
    let (_, over_http) = app.send_http(&ana, &room, "same-id", "once").await;
    assert_eq!(over_http["message"], first);

    ana_ws.send_message(&room, "next-id", "twice").await;
    // Bob sees "once" a single time, then "twice".
    assert_eq!(bob_ws.next_of("message").await["message"]["body"], "once");
    assert_eq!(bob_ws.next_of("message").await["message"]["body"], "twice");
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(seqs(&page["messages"]), [1, 2]);
}

#[tokio::test]
async fn sends_over_the_rate_limit_are_refused_and_not_stored() {
    let app = spawn_app_with(|c| {
        c.send_rate_per_sec = 1;
        c.send_burst = 5;
    })
    .await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Calm", None).await;
    let (mut ws, _) = app.ws(&ana).await;
    for i in 0..8 {
        ws.send_json(
            json!({"type": "send", "room_id": room, "client_id": format!("c{i}"), "body": "spam"}),
        )
        .await;
    }
    let (mut acks, mut limited) = (0, 0);
    while acks + limited < 8 {
        let event = ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "ack" => acks += 1,
            "error" => {
                assert_eq!(event["code"], "rate_limited", "{event}");
                assert!(event["client_id"].is_string());
                limited += 1;
            }
            _ => {}
        }
    }
    assert!(acks >= 5 && limited >= 1, "acks {acks}, limited {limited}");
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        acks,
        "refused sends are not stored"
    );
}

#[tokio::test]
async fn read_markers_move_forward_and_sync_to_other_devices() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Unread", None).await;
    app.join(&bob, "unread", None).await;
    for i in 0..5 {
        app.send_http(&ana, &room, &format!("m{i}"), "news").await;
    }
    let (_, rooms) = app.get(&bob, "/rooms").await;
    assert_eq!(
        (
            rooms["rooms"][0]["unread"].as_i64(),
            rooms["rooms"][0]["read_seq"].as_i64()
        ),
        (Some(5), Some(0))
    );

    let (mut phone, _) = app.ws(&bob).await;
    let (mut desk, _) = app.ws(&bob).await;
    phone
        .send_json(json!({"type": "read", "room_id": room, "seq": 3}))
        .await;
    let read = desk.next_of("read").await;
    assert_eq!(
        (read["room_id"].as_str(), read["seq"].as_i64()),
        (Some(room.as_str()), Some(3))
    );

    let (_, marker) = app
        .post(&bob, &format!("/rooms/{room}/read"), json!({"seq": 1}))
        .await;
    assert_eq!(marker["seq"], 3, "never moves back");
    let (_, marker) = app
        .post(&bob, &format!("/rooms/{room}/read"), json!({"seq": 99}))
        .await;
    assert_eq!(marker["seq"], 5, "never past the newest message");
    let (_, rooms) = app.get(&bob, "/rooms").await;
    assert_eq!(rooms["rooms"][0]["unread"], 0);
}

#[tokio::test]
async fn typing_is_relayed_to_the_room() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Typing", None).await;
    app.join(&bob, "typing", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    ana_ws
        .send_json(json!({"type": "typing", "room_id": room}))
        .await;
    let typing = bob_ws.next_of("typing").await;
    assert_eq!(
        (typing["room_id"].as_str(), typing["user_id"].as_str()),
        (Some(room.as_str()), Some(ana.id.as_str()))
    );
}

#[tokio::test]
async fn resume_after_a_disconnect_replays_exactly_what_was_missed() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Busy", None).await;
    app.join(&bob, "busy", None).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let seen = ana_ws.send_message(&room, "before", "seen live").await["seq"]
        .as_i64()
        .unwrap();
    assert_eq!(bob_ws.next_of("message").await["message"]["seq"], seen);
    drop(bob_ws);

    // 1,000 messages while bob is away, pipelined on one socket.
    for i in 0..1000 {
        ana_ws.send_json(json!({"type": "send", "room_id": room, "client_id": format!("m{i}"), "body": format!("missed {i}")})).await;
    }
    let mut acked = 0;
    while acked < 1000 {
        if ana_ws.next_event().await["type"] == "ack" {
            acked += 1;
        }
    }

    let (mut bob_ws, ready) = app.ws(&bob).await;
    assert_eq!(ready["rooms"][0]["last_seq"], seen + 1000);
    bob_ws
        .send_json(json!({"type": "sync", "since": {room.clone(): seen}}))
        .await;
    // A message sent during the replay arrives once too: live, before or after the replay
    // (the protocol lets a live message overtake the replay of older ones).
    ana_ws.send_message(&room, "during", "live again").await;
    let mut got = Vec::new();
    let mut synced = false;
    while !(synced && got.contains(&(seen + 1001))) {
        let event = bob_ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "message" => got.push(event["message"]["seq"].as_i64().unwrap()),
            "synced" => {
                assert_eq!(event["room_id"], room.as_str());
                assert_eq!(event["complete"], true);
                synced = true;
            }
            _ => {}
        }
    }
    let replayed: Vec<i64> = got.iter().copied().filter(|s| *s != seen + 1001).collect();
    assert_eq!(
        replayed,
        (seen + 1..=seen + 1000).collect::<Vec<_>>(),
        "the 1,000 missed, once each, in order"
    );
    assert_eq!(
        got.iter().filter(|s| **s == seen + 1001).count(),
        1,
        "the live one once"
    );
}

#[tokio::test]
async fn a_long_absence_replays_the_newest_part_and_says_so() {
    let app = spawn_app_with(|c| c.sync_replay_limit = 10).await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Long", None).await;
    for i in 0..25 {
        app.send_http(&ana, &room, &format!("m{i}"), "x").await;
    }
    let (mut ws, _) = app.ws(&ana).await;
    ws.send_json(json!({"type": "sync", "since": {room.clone(): 0}}))
        .await;
    let mut got = Vec::new();
    let synced = loop {
        let event = ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "message" => got.push(event["message"]["seq"].as_i64().unwrap()),
            "synced" => break event,
            _ => {}
        }
    };
    assert_eq!(got, (16..=25).collect::<Vec<_>>());
    assert_eq!(
        (synced["complete"].as_bool(), synced["last_seq"].as_i64()),
        (Some(false), Some(25))
    );
    let (_, older) = app.history(&ana, &room, "?before=16&limit=200").await;
    assert_eq!(
        seqs(&older["messages"]),
        (1..=15).collect::<Vec<_>>(),
        "the rest by paging back"
    );
}

#[tokio::test]
async fn a_slow_consumer_is_closed_and_resumes_without_loss() {
    let app = spawn_app_with(|c| {
        c.outbound_queue = 256;
        c.sync_replay_limit = 10_000;
    })
    .await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Firehose", None).await;
    app.join(&bob, "firehose", None).await;
    let (mut slow, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    // Bob reads nothing while large messages pour in, until his socket buffers and queue fill.
    let body = "x".repeat(4000);
    let total = 3000;
    for chunk in 0..total / 100 {
        for i in 0..100 {
            let client_id = format!("m{chunk}-{i}");
            ana_ws
                .send_json(
                    json!({"type": "send", "room_id": room, "client_id": client_id, "body": body}),
                )
                .await;
        }
        let mut acked = 0;
        while acked < 100 {
            if ana_ws.next_event().await["type"] == "ack" {
                acked += 1;
            }
        }
    }
    let mut last_seen = 0;
    let code = loop {
        match slow.next_frame().await {
            Ok(event) if event["type"] == "message" => {
                last_seen = event["message"]["seq"].as_i64().unwrap()
            }
            Ok(_) => {}
            Err(code) => break code,
        }
    };
    // The close frame waits behind everything the socket could not take; a peer that reads
    // nothing for longer than the write timeout (a slow debug run) gets the connection dropped
    // without it, which the server still counts as closing a slow consumer.
    let counted = reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .any(|l| l.starts_with("natter_slow_consumers_closed_total") && !l.ends_with(" 0"));
    assert!(
        code == Some(4008) || (code.is_none() && counted),
        "closed as a slow consumer: {code:?}, counted: {counted}"
    );
    assert!(
        last_seen < total,
        "the close came before everything was delivered"
    );

    let (mut bob_ws, _) = app.ws(&bob).await;
    bob_ws
        .send_json(json!({"type": "sync", "since": {room.clone(): last_seen}}))
        .await;
    let mut next = last_seen + 1;
    loop {
        let event = bob_ws.next_event().await;
        match event["type"].as_str().unwrap() {
            "message" => {
                assert_eq!(event["message"]["seq"], next);
                next += 1;
            }
            "synced" => break,
            _ => {}
        }
    }
    assert_eq!(next, total + 1, "resumed with no gap");
}

#[tokio::test]
async fn joining_while_messages_flow_delivers_everything_after_the_join() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Flowing", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    for i in 0..300 {
        ana_ws
            .send_json(
                json!({"type": "send", "room_id": room, "client_id": format!("m{i}"), "body": "x"}),
            )
            .await;
    }
    let (status, joined) = app.join(&bob, "flowing", None).await;
    assert_eq!(status, StatusCode::OK);
    let from = joined["room"]["read_seq"].as_i64().unwrap();
    let mut next = from + 1;
    while next <= 300 {
        let event = bob_ws.next_event().await;
        if event["type"] == "message" {
            assert_eq!(
                event["message"]["seq"], next,
                "contiguous from the join point {from}"
            );
            next += 1;
        }
    }
    let error_probe = json!({"type": "send", "room_id": "nope", "client_id": "p", "body": "x"});
    bob_ws.send_json(error_probe).await;
    let error = bob_ws.next_of("error").await;
    assert_eq!(
        (error["room_id"].as_str(), error["client_id"].as_str()),
        (Some("nope"), Some("p"))
    );
}
