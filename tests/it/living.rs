//! Living rooms: presence, typing, unread and mention counts, notifications, read receipts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Two users in one room, returning the room id.
async fn pair(app: &TestApp) -> (User, User, String) {
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Lounge", None).await;
    app.join(&bob, "lounge", None).await;
    (ana, bob, room)
}

/// Reads events until the message with this body; returns the events before it.
async fn until_message(ws: &mut Ws, body: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = ws.next_event().await;
        if event["type"] == "message" && event["message"]["body"] == body {
            return seen;
        }
        seen.push(event);
    }
}

fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

#[tokio::test]
async fn presence_changes_only_on_first_open_and_last_close() {
    let app = spawn_app().await;
    let (ana, bob, room) = pair(&app).await;
    let (mut bob_ws, _) = app.ws(&bob).await;

    let (tab1, _) = app.ws(&ana).await;
    let (tab2, _) = app.ws(&ana).await;
    let (tab3, _) = app.ws(&ana).await;
    let (_, members) = app.get(&bob, &format!("/rooms/{room}/members")).await;
    let ana_entry = member_entry(&members, &ana.id);
    assert_eq!(
        (
            ana_entry["presence"].as_str(),
            ana_entry["online"].as_bool()
        ),
        (Some("online"), Some(true))
    );

    drop(tab1);
    drop(tab2);
    // Still online with one tab left; closing it is the change.
    drop(tab3);
    let mut presence = Vec::new();
    loop {
        let event = bob_ws.presence_about(&ana.id).await;
        assert_eq!(event["room_id"], room.as_str());
        presence.push(event["status"].as_str().unwrap().to_owned());
        if event["status"] == "offline" {
            assert!(event["last_seen"].is_string(), "{event}");
            break;
        }
    }
    assert_eq!(presence, ["online", "offline"]);
    let (_, user) = app.get(&bob, &format!("/users/{}", ana.id)).await;
    assert_eq!(user["presence"], "offline");
    assert!(user["last_seen"].is_string());
}

#[tokio::test]
async fn invisible_users_never_show_online() {
    let app = spawn_app().await;
    let (ana, bob, room) = pair(&app).await;
    let (status, me) = app
        .patch(&ana, "/me", json!({"presence": "invisible"}))
        .await;
    assert_eq!(
        (status, me["presence"].as_str()),
        (StatusCode::OK, Some("invisible"))
    );
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    ana_ws.send_message(&room, "m1", "boo").await;
    let before = until_message(&mut bob_ws, "boo").await;
    let about_ana = of_type(&before, "presence")
        .into_iter()
        .filter(|e| e["user_id"] == ana.id.as_str())
        .count();
    assert_eq!(about_ana, 0, "no presence while invisible: {before:?}");
    let (_, members) = app.get(&bob, &format!("/rooms/{room}/members")).await;
    let entry = member_entry(&members, &ana.id);
    assert_eq!(
        (entry["presence"].as_str(), entry["online"].as_bool()),
        (Some("offline"), Some(false))
    );

    // Choosing "auto" over the socket shows her; going invisible again hides her.
    ana_ws
        .send_json(json!({"type": "presence", "mode": "auto"}))
        .await;
    assert_eq!(bob_ws.presence_about(&ana.id).await["status"], "online");
    ana_ws
        .send_json(json!({"type": "presence", "mode": "invisible"}))
        .await;
    assert_eq!(bob_ws.presence_about(&ana.id).await["status"], "offline");
    let (_, me) = app.get(&ana, "/me").await;
    assert_eq!(me["presence"], "invisible", "the choice is kept");
}

#[tokio::test]
async fn idle_users_turn_away_and_come_back() {
    let app = spawn_app_with(|c| c.away_after_secs = 1).await;
    let (ana, bob, room) = pair(&app).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    assert_eq!(bob_ws.presence_about(&ana.id).await["status"], "online");
    assert_eq!(
        bob_ws.presence_about(&ana.id).await["status"],
        "away",
        "after a second of nothing"
    );
    ana_ws
        .send_json(json!({"type": "typing", "room_id": room}))
        .await;
    assert_eq!(
        bob_ws.presence_about(&ana.id).await["status"],
        "online",
        "back when active"
    );
    ana_ws
        .send_json(json!({"type": "presence", "mode": "away"}))
        .await;
    assert_eq!(
        bob_ws.presence_about(&ana.id).await["status"],
        "away",
        "chosen"
    );
}

#[tokio::test]
async fn typing_is_throttled_expires_and_ends_with_a_message() {
    let app = spawn_app_with(|c| c.typing_ttl_ms = 400).await;
    let (ana, bob, room) = pair(&app).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;

    for _ in 0..5 {
        ana_ws
            .send_json(json!({"type": "typing", "room_id": room}))
            .await;
    }
    let typing = bob_ws.next_of("typing").await;
    assert_eq!(
        (typing["user_id"].as_str(), typing["active"].as_bool()),
        (Some(ana.id.as_str()), Some(true))
    );
    assert_eq!(typing["expires_in_ms"], 400);
    assert_eq!(typing["user"]["username"], "ana");
    // Not repeated: it ends by itself, and the burst was relayed once.
    let ended = bob_ws.next_of("typing").await;
    assert_eq!(ended["active"], false);

    ana_ws
        .send_json(json!({"type": "typing", "room_id": room}))
        .await;
    assert_eq!(bob_ws.next_of("typing").await["active"], true);
    ana_ws.send_message(&room, "m", "done typing").await;
    let events = until_message(&mut bob_ws, "done typing").await;
    assert!(of_type(&events, "typing").is_empty());
    let stop = bob_ws.next_of("typing").await;
    assert_eq!(stop["active"], false, "the message ended it");
}

#[tokio::test]
async fn unread_counts_mentions_and_structured_mentions() {
    let app = spawn_app().await;
    let (ana, bob, room) = pair(&app).await;
    app.register("carol").await; // a user, but not in the room
    app.send_http(&ana, &room, "1", "hello all").await;
    let (_, mention) = app
        .send_http(&ana, &room, "2", "héllo @Bob, see this")
        .await;
    app.send_http(
        &ana,
        &room,
        "3",
        "@carol is not here, ana@example.com is no mention",
    )
    .await;
    app.send_http(&bob, &room, "4", "my own message").await;

    let mentions = &mention["message"]["mentions"];
    assert_eq!(mentions.as_array().unwrap().len(), 1, "{mention}");
    assert_eq!(mentions[0]["user_id"], bob.id.as_str());
    assert_eq!(mentions[0]["username"], "bob");
    assert_eq!(
        (mentions[0]["start"].as_u64(), mentions[0]["end"].as_u64()),
        (Some(6), Some(10)),
        "code points of @Bob"
    );
    let (_, page) = app.history(&bob, &room, "").await;
    assert_eq!(
        page["messages"][1]["mentions"], *mentions,
        "stored with the message"
    );
    assert_eq!(page["messages"][2]["mentions"], json!([]));

    let (_, rooms) = app.get(&bob, "/rooms").await;
    let r = &rooms["rooms"][0];
    assert_eq!(
        (r["unread"].as_i64(), r["unread_mentions"].as_i64()),
        (Some(3), Some(1)),
        "own messages do not count"
    );
    let (_, rooms) = app.get(&ana, "/rooms").await;
    assert_eq!(rooms["rooms"][0]["unread"], 1);

    app.post(&bob, &format!("/rooms/{room}/read"), json!({"seq": 2}))
        .await;
    let (_, one) = app.get(&bob, &format!("/rooms/{room}")).await;
    assert_eq!(
        (
            one["room"]["unread"].as_i64(),
            one["room"]["unread_mentions"].as_i64()
        ),
        (Some(1), Some(0))
    );
    let (_ws, ready) = app.ws(&bob).await;
    assert_eq!(
        ready["rooms"][0]["unread"], 1,
        "ready carries the counts too"
    );
}

#[tokio::test]
async fn notification_levels_all_mentions_muted() {
    let app = spawn_app().await;
    let (ana, bob, room) = pair(&app).await;
    let (_, one) = app.get(&bob, &format!("/rooms/{room}")).await;
    assert_eq!(one["room"]["notify"], "mentions", "the default for rooms");
    let (mut bob_ws, _) = app.ws(&bob).await;

    // mentions (default): a plain message does not notify, a mention does.
    app.send_http(&ana, &room, "a1", "plain").await;
    app.send_http(&ana, &room, "a2", "hey @bob").await;
    let events = until_message(&mut bob_ws, "hey @bob").await;
    assert!(of_type(&events, "notify").is_empty(), "{events:?}");
    let notify = bob_ws.next_event().await;
    assert_eq!(
        (notify["type"].as_str(), notify["reason"].as_str()),
        (Some("notify"), Some("mention"))
    );
    assert_eq!(notify["seq"], 2);

    // all: every message from someone else.
    let (status, body) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/notify"),
            Some(&bob.token),
            Some(json!({"level": "all"})),
        )
        .await;
    assert_eq!(
        (status, body["room"]["notify"].as_str()),
        (StatusCode::OK, Some("all"))
    );
    app.send_http(&ana, &room, "b1", "plain again").await;
    until_message(&mut bob_ws, "plain again").await;
    let notify = bob_ws.next_event().await;
    assert_eq!(
        (notify["type"].as_str(), notify["reason"].as_str()),
        (Some("notify"), Some("message"))
    );
    app.send_http(&bob, &room, "b2", "mine").await;
    app.send_http(&ana, &room, "b3", "after mine").await;
    let events = until_message(&mut bob_ws, "after mine").await;
    assert!(
        of_type(&events, "notify").is_empty(),
        "no notification for my own message"
    );
    assert_eq!(
        bob_ws.next_event().await["seq"],
        5,
        "the notification of 'after mine'"
    );

    // muted: not even mentions.
    app.call(
        "PUT",
        &format!("/rooms/{room}/notify"),
        Some(&bob.token),
        Some(json!({"level": "muted"})),
    )
    .await;
    app.send_http(&ana, &room, "c1", "@bob wake up").await;
    app.send_http(&ana, &room, "c2", "barrier").await;
    let events = until_message(&mut bob_ws, "barrier").await;
    assert!(of_type(&events, "notify").is_empty(), "{events:?}");

    // Direct messages notify by default.
    let dm = app.post(&ana, "/dms", json!({"user_id": bob.id})).await.1["room"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send_http(&ana, &dm, "d1", "psst").await;
    until_message(&mut bob_ws, "psst").await;
    let notify = bob_ws.next_event().await;
    assert_eq!(
        (notify["reason"].as_str(), notify["room_id"].as_str()),
        (Some("direct"), Some(dm.as_str()))
    );
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/notify"),
            Some(&bob.token),
            Some(json!({"level": "loud"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn read_receipts_can_be_seen_and_turned_off() {
    let app = spawn_app().await;
    let (ana, bob, room) = pair(&app).await;
    for i in 0..3 {
        app.send_http(&ana, &room, &format!("m{i}"), "news").await;
    }
    let (mut ana_ws, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    bob_ws
        .send_json(json!({"type": "read", "room_id": room, "seq": 2}))
        .await;
    let receipt = ana_ws.next_of("receipt").await;
    assert_eq!(
        (receipt["user_id"].as_str(), receipt["seq"].as_i64()),
        (Some(bob.id.as_str()), Some(2))
    );
    let (_, list) = app.get(&ana, &format!("/rooms/{room}/receipts")).await;
    let bob_receipt = list["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == bob.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(bob_receipt["read_seq"], 2);

    app.patch(&bob, "/me", json!({"send_receipts": false}))
        .await;
    bob_ws
        .send_json(json!({"type": "read", "room_id": room, "seq": 3}))
        .await;
    while bob_ws.next_of("read").await["seq"] != 3 {} // his own devices still learn it
    app.send_http(&bob, &room, "barrier", "barrier").await;
    let events = until_message(&mut ana_ws, "barrier").await;
    assert!(of_type(&events, "receipt").is_empty(), "{events:?}");
    let (_, list) = app.get(&ana, &format!("/rooms/{room}/receipts")).await;
    assert!(
        list["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["user_id"] != bob.id.as_str())
    );
    let eve = app.register("eve").await;
    assert_eq!(
        app.get(&eve, &format!("/rooms/{room}/receipts")).await.0,
        StatusCode::FORBIDDEN
    );
}
