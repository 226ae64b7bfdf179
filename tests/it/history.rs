//! History: paging with no gap or duplicate, history visibility, retention.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn paging_back_covers_everything_once() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Archive", None).await;
    for i in 1..=120 {
        app.send_http(&ana, &room, &format!("m{i}"), &format!("message {i}"))
            .await;
    }
    let (status, newest) = app.history(&ana, &room, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seqs(&newest["messages"]),
        (71..=120).collect::<Vec<_>>(),
        "default page: newest 50, oldest first"
    );
    assert_eq!(newest["history_start"], false);

    let mut all = Vec::new();
    let mut before = None;
    loop {
        let query = match before {
            Some(b) => format!("?before={b}&limit=33"),
            None => "?limit=33".into(),
        };
        let (_, page) = app.history(&ana, &room, &query).await;
        let mut got = seqs(&page["messages"]);
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "each page is contiguous: {got:?}"
        );
        before = got.first().copied();
        got.extend(all);
        all = got;
        if page["history_start"] == true {
            break;
        }
    }
    assert_eq!(
        all,
        (1..=120).collect::<Vec<_>>(),
        "no gap and no duplicate across pages"
    );
    assert_eq!(
        app.history(&ana, &room, "?before=1").await.1["messages"],
        json!([])
    );

    for bad in [
        "?limit=0",
        "?limit=201",
        "?before=0",
        "?limit=abc",
        "?before=-3",
    ] {
        let (status, body) = app.history(&ana, &room, bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_input")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn history_visibility_shared_and_joined() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let shared = app.create_room(&ana, "Shared", None).await;
    let (_, body) = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "Joined", "visibility": "private", "key": "k3y!", "history": "joined"}),
        )
        .await;
    let joined = body["room"]["id"].as_str().unwrap().to_owned();
    for room in [&shared, &joined] {
        for i in 0..3 {
            app.send_http(&ana, room, &format!("{room}-old{i}"), "before bob")
                .await;
        }
    }
    app.join(&bob, "shared", None).await;
    app.join(&bob, "joined", Some("k3y!")).await;
    for room in [&shared, &joined] {
        app.send_http(&ana, room, &format!("{room}-new"), "after bob")
            .await;
    }

    let (_, page) = app.history(&bob, &shared, "").await;
    assert_eq!(seqs(&page["messages"]), [1, 2, 3, 4]);
    let (_, page) = app.history(&bob, &joined, "").await;
    assert_eq!(seqs(&page["messages"]), [4], "only what came after joining");
    assert_eq!(page["history_start"], true);
    let (_, page) = app.history(&ana, &joined, "").await;
    assert_eq!(
        seqs(&page["messages"]),
        [1, 2, 3, 4],
        "the owner was there from the start"
    );

    // A replay honours the same rule.
    let (mut ws, _) = app.ws(&bob).await;
    ws.send_json(json!({"type": "sync", "since": {joined.clone(): 0}}))
        .await;
    let first = ws.next_of("message").await;
    assert_eq!(first["message"]["seq"], 4);
    assert_eq!(ws.next_event().await["type"], "synced");

    // Anyone signed in may read a public room with shared history; no one reads others' private rooms.
    let eve = app.register("eve").await;
    assert_eq!(app.history(&eve, &shared, "").await.0, StatusCode::OK);
    assert_eq!(
        app.history(&eve, &joined, "").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn retention_prunes_old_messages_in_the_background() {
    let app = spawn_app_with(|c| {
        c.prune_interval_secs = 1;
        c.retention_max_messages = Some(1000);
    })
    .await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Bounded", None).await;
    let untouched = app.create_room(&ana, "Roomy", None).await;
    for i in 1..=30 {
        app.send_http(&ana, &room, &format!("m{i}"), "x").await;
        app.send_http(&ana, &untouched, &format!("u{i}"), "x").await;
    }
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/rooms/{room}"),
            Some(&ana.token),
            Some(json!({"retention": {"max_messages": 10}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut page = serde_json::Value::Null;
    for _ in 0..100 {
        page = app.history(&ana, &room, "?limit=200").await.1;
        if page["messages"].as_array().unwrap().len() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seqs(&page["messages"]),
        (21..=30).collect::<Vec<_>>(),
        "the newest 10 are kept"
    );
    assert_eq!(
        page["history_start"], true,
        "the oldest kept message is the start"
    );
    let (_, other) = app.history(&ana, &untouched, "?limit=200").await;
    assert_eq!(
        other["messages"].as_array().unwrap().len(),
        30,
        "under the server default of 1000"
    );

    // New messages still get the next seq after pruning.
    let (_, sent) = app.send_http(&ana, &room, "after", "x").await;
    assert_eq!(sent["message"]["seq"], 31);
}

#[tokio::test]
async fn retention_by_age() {
    let app = spawn_app_with(|c| c.prune_interval_secs = 1).await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Ephemeral", None).await;
    for i in 0..5 {
        app.send_http(&ana, &room, &format!("m{i}"), "x").await;
    }
    app.call(
        "PATCH",
        &format!("/rooms/{room}"),
        Some(&ana.token),
        Some(json!({"retention": {"max_age_secs": 1}})),
    )
    .await;
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = app.history(&ana, &room, "").await.1["messages"]
            .as_array()
            .unwrap()
            .len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "messages older than a second are gone");
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(page["history_start"], true);
}
