//! Rooms: creation rules, public join by name, private keys, roles and bans, delete, DMs.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn names(rooms: &Value) -> Vec<String> {
    rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_rooms_with_unicode_names_unique_ignoring_case() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (status, body) = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "  Café ☕  ", "visibility": "public", "topic": "coffee"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["room"]["name"], "Café ☕");
    assert_eq!(body["room"]["owner_id"], ana.id.as_str());
    assert_eq!(body["room"]["role"], "owner");
    assert_eq!(body["room"]["kind"], "public");
    assert_eq!(body["room"]["history"], "shared");

    let (status, body) = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "CAFÉ ☕", "visibility": "public"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    for bad in [
        json!({"name": "   ", "visibility": "public"}),
        json!({"name": "x".repeat(65), "visibility": "public"}),
        json!({"name": "p", "visibility": "private"}),
        json!({"name": "q", "visibility": "public", "key": "abcd"}),
        json!({"name": "r", "visibility": "secret"}),
        json!({"visibility": "public"}),
    ] {
        let (status, body) = app.post(&ana, "/rooms", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
}

#[tokio::test]
async fn public_rooms_are_listed_searched_and_joined_by_name() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    app.create_room(&ana, "Rust Lovers", None).await;
    app.create_room(&ana, "rustaceans", None).await;
    app.create_room(&ana, "Secret Rust", Some("open sesame"))
        .await;
    app.create_room(&ana, "gardening", None).await;

    let (_, all) = app.get(&bob, "/rooms/public").await;
    assert_eq!(
        names(&all),
        ["gardening", "Rust Lovers", "rustaceans"],
        "private rooms are not listed"
    );
    let (_, found) = app.get(&bob, "/rooms/public?q=RUST").await;
    assert_eq!(names(&found), ["Rust Lovers", "rustaceans"]);

    let (status, body) = app.join(&bob, "rust lovers", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["name"], "Rust Lovers");
    assert_eq!(body["room"]["role"], "member");
    let (status, again) = app.join(&bob, "Rust Lovers", None).await;
    assert_eq!(status, StatusCode::OK, "joining twice is fine");
    assert_eq!(again["room"]["id"], body["room"]["id"]);
    let (_, mine) = app.get(&bob, "/rooms").await;
    assert_eq!(names(&mine), ["Rust Lovers"]);
    assert_eq!(
        app.join(&bob, "no such room", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn private_rooms_need_the_key_and_guesses_are_throttled() {
    let app = spawn_app_with(|c| c.login_max_failures = 3).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let room = app.create_room(&ana, "Vault", Some("open sesame")).await;

    let (status, body) = app.join(&bob, "vault", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = app.join(&bob, "vault", Some("open sesame!")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "wrong key");
    let (status, body) = app.join(&bob, "vault", Some("open sesame")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["kind"], "private");

    // A non-member learns nothing about a private room.
    assert_eq!(app.history(&eve, &room, "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&eve, &format!("/rooms/{room}/members")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send_http(&eve, &room, "c1", "hi").await.0,
        StatusCode::NOT_FOUND
    );

    for _ in 0..3 {
        assert_eq!(
            app.join(&eve, "vault", Some("guess 1234")).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let (status, body) = app.join(&eve, "vault", Some("open sesame")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
}

#[tokio::test]
async fn settings_are_for_owner_and_admins() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.create_room(&ana, "Club", None).await;
    app.join(&bob, "club", None).await;
    app.join(&cat, "club", None).await;
    let (mut cat_ws, _) = app.ws(&cat).await;

    let path = format!("/rooms/{room}");
    let (status, _) = app.patch(&bob, &path, json!({"topic": "mine now"})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "members do not change settings"
    );

    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/members/{}/role", bob.id),
            Some(&cat.token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner promotes");
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/members/{}/role", bob.id),
            Some(&ana.token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let changed = cat_ws.next_of("role_changed").await;
    assert_eq!(
        (changed["user_id"].as_str(), changed["role"].as_str()),
        (Some(bob.id.as_str()), Some("admin"))
    );

    let (status, body) = app.patch(&bob, &path, json!({"topic": "Be kind", "history": "joined", "retention": {"max_messages": 100, "max_age_secs": null}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["topic"], "Be kind");
    assert_eq!(body["room"]["history"], "joined");
    assert_eq!(body["room"]["retention"]["max_messages"], 100);
    let updated = cat_ws.next_of("room_updated").await;
    assert_eq!(updated["room"]["topic"], "Be kind");

    let (status, _) = app
        .patch(&ana, &path, json!({"visibility": "private"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "private needs a key");
    let (status, body) = app
        .patch(
            &ana,
            &path,
            json!({"visibility": "private", "key": "members only"}),
        )
        .await;
    assert_eq!(
        (status, body["room"]["kind"].as_str()),
        (StatusCode::OK, Some("private"))
    );
    let (_, listed) = app.get(&ana, "/rooms/public").await;
    assert!(names(&listed).is_empty(), "no longer listed");
    let (status, _) = app
        .patch(&ana, &path, json!({"retention": {"max_messages": 0}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.patch(&ana, &path, json!({"colour": "red"})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
}

#[tokio::test]
async fn who_may_ban_whom() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let admin = app.register("admin").await;
    let admin2 = app.register("admin2").await;
    let member = app.register("member").await;
    let member2 = app.register("member2").await;
    let room = app.create_room(&owner, "Ranks", None).await;
    for u in [&admin, &admin2, &member, &member2] {
        app.join(u, "ranks", None).await;
    }
    for a in [&admin, &admin2] {
        let path = format!("/rooms/{room}/members/{}/role", a.id);
        assert_eq!(
            app.call(
                "PUT",
                &path,
                Some(&owner.token),
                Some(json!({"role": "admin"}))
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        ban(&app, &room, &member, &member2).await,
        StatusCode::FORBIDDEN,
        "member bans member"
    );
    assert_eq!(
        ban(&app, &room, &member, &admin).await,
        StatusCode::FORBIDDEN,
        "member bans admin"
    );
    assert_eq!(
        ban(&app, &room, &admin, &admin2).await,
        StatusCode::FORBIDDEN,
        "admin bans admin"
    );
    assert_eq!(
        ban(&app, &room, &admin, &owner).await,
        StatusCode::FORBIDDEN,
        "admin bans owner"
    );
    assert_eq!(
        ban(&app, &room, &owner, &owner).await,
        StatusCode::FORBIDDEN,
        "owner bans self"
    );
    assert_eq!(
        ban(&app, &room, &admin, &member).await,
        StatusCode::NO_CONTENT,
        "admin bans member"
    );
    assert_eq!(
        ban(&app, &room, &owner, &admin2).await,
        StatusCode::NO_CONTENT,
        "owner bans admin"
    );

    assert_eq!(
        unban(&app, &room, &member2, &member).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        unban(&app, &room, &admin, &member).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        unban(&app, &room, &admin, &member).await,
        StatusCode::NOT_FOUND,
        "no ban left"
    );
    assert_eq!(
        app.join(&member, "ranks", None).await.0,
        StatusCode::OK,
        "unbanned users rejoin"
    );
    let (_, body) = app.get(&owner, &format!("/rooms/{room}/members")).await;
    let roles: Vec<(String, String)> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("admin".into(), "admin".into()),
            ("member".into(), "member".into()),
            ("member2".into(), "member".into()),
            ("owner".into(), "owner".into())
        ]
    );
}

async fn ban(app: &TestApp, room: &str, actor: &User, target: &User) -> StatusCode {
    app.post(
        actor,
        &format!("/rooms/{room}/bans"),
        json!({"user_id": target.id, "reason": "test"}),
    )
    .await
    .0
}

async fn unban(app: &TestApp, room: &str, actor: &User, target: &User) -> StatusCode {
    app.call(
        "DELETE",
        &format!("/rooms/{room}/bans/{}", target.id),
        Some(&actor.token),
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn a_ban_takes_effect_on_an_open_socket() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Strict", Some("the key!")).await;
    app.join(&bob, "strict", Some("the key!")).await;
    let dm = app.post(&ana, "/dms", json!({"user_id": bob.id})).await.1["room"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;

    ana_ws.send_message(&room, "before", "hello bob").await;
    assert_eq!(
        bob_ws.next_of("message").await["message"]["body"],
        "hello bob"
    );

    let (status, _) = app
        .post(
            &ana,
            &format!("/rooms/{room}/bans"),
            json!({"user_id": bob.id, "reason": "spam"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let banned = bob_ws.next_of("member_banned").await;
    assert_eq!(
        (banned["room_id"].as_str(), banned["user_id"].as_str()),
        (Some(room.as_str()), Some(bob.id.as_str()))
    );
    assert_eq!(banned["reason"], "spam");

    // Nothing more from the room reaches bob: the DM sent afterwards is the next message he sees.
    ana_ws.send_message(&room, "after", "secret plans").await;
    ana_ws.send_message(&dm, "barrier", "are you there?").await;
    let next = bob_ws.next_of("message").await;
    assert_eq!(next["message"]["body"], "are you there?");

    // He cannot send, read, or rejoin, with or without the key.
    bob_ws
        .send_json(json!({"type": "send", "room_id": room, "client_id": "x", "body": "let me in"}))
        .await;
    let error = bob_ws.next_of("error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("forbidden"), Some("x"))
    );
    assert_eq!(app.history(&bob, &room, "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.join(&bob, "strict", Some("the key!")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.join(&bob, "strict", None).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, mine) = app.get(&bob, "/rooms").await;
    assert!(!names(&mine).contains(&"Strict".to_owned()));
}

#[tokio::test]
async fn leaving_a_room() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Lobby", None).await;
    app.join(&bob, "lobby", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    assert_eq!(
        app.post(&bob, &format!("/rooms/{room}/leave"), json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let left = ana_ws.next_of("member_left").await;
    assert_eq!(left["user_id"], bob.id.as_str());
    assert_eq!(
        app.post(&ana, &format!("/rooms/{room}/leave"), json!({}))
            .await
            .0,
        StatusCode::CONFLICT,
        "the owner cannot leave"
    );
    let (status, body) = app.send_http(&bob, &room, "c", "hi").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
}

#[tokio::test]
async fn deleting_a_room_takes_everything_and_tells_everyone() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Doomed", None).await;
    app.join(&bob, "doomed", None).await;
    for i in 0..5 {
        app.send_http(&bob, &room, &format!("m{i}"), "soon gone")
            .await;
    }
    let (mut bob_ws, _) = app.ws(&bob).await;

    assert_eq!(
        app.call("DELETE", &format!("/rooms/{room}"), Some(&bob.token), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call("DELETE", &format!("/rooms/{room}"), Some(&ana.token), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let deleted = bob_ws.next_of("room_deleted").await;
    assert_eq!(deleted["room_id"], room.as_str());

    assert_eq!(app.history(&ana, &room, "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&bob, &format!("/rooms/{room}/members")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, mine) = app.get(&bob, "/rooms").await;
    assert!(names(&mine).is_empty());
    // The retried client ids are free again with the room gone, and so is the name.
    app.create_room(&ana, "Doomed", None).await;
    let count = count_rows(&app, "select count(*) from messages").await;
    assert_eq!(count, 0, "messages went with the room");
}

#[tokio::test]
async fn direct_rooms_are_created_once_and_private() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let (mut bob_ws, _) = app.ws(&bob).await;

    let (status, first) = app.post(&ana, "/dms", json!({"user_id": bob.id})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["room"]["kind"], "direct");
    let (_, again) = app.post(&ana, "/dms", json!({"user_id": bob.id})).await;
    let (_, other_side) = app.post(&bob, "/dms", json!({"user_id": ana.id})).await;
    let id = first["room"]["id"].as_str().unwrap();
    assert_eq!(again["room"]["id"], id);
    assert_eq!(other_side["room"]["id"], id);

    // Bob's open socket was subscribed when the room was made.
    app.send_http(&ana, id, "dm1", "psst").await;
    let got = bob_ws.next_of("message").await;
    assert_eq!(
        (
            got["message"]["room_id"].as_str(),
            got["message"]["body"].as_str()
        ),
        (Some(id), Some("psst"))
    );

    assert_eq!(app.history(&eve, id, "").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.send_http(&eve, id, "x", "hi").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&ana, "/dms", json!({"user_id": ana.id})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post(&ana, "/dms", json!({"user_id": "nobody"})).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, public) = app.get(&eve, "/rooms/public").await;
    assert!(names(&public).is_empty(), "direct rooms are never listed");
}

/// A banned user flooding sends while the ban lands: every message of theirs that is stored
/// was stored before the ban answered (the review saw 3 stored and broadcast 2 ms after it).
#[tokio::test]
async fn no_message_from_a_banned_user_is_stored_after_the_ban() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    const SENDS: usize = 3000;
    // The flooding socket reads its acks and echoes only as fast as this test does.
    let app = spawn_app_with(|c| c.outbound_queue = 4 * SENDS).await;
    let ana = app.register("ana").await;
    let eve = app.register("eve").await;
    let room = app.create_room(&ana, "busy", None).await;
    assert_eq!(app.join(&eve, "busy", None).await.0, StatusCode::OK);
    let mut req = format!("ws://{}/api/v1/ws", app.addr)
        .into_client_request()
        .unwrap();
    let bearer = format!("Bearer {}", eve.token).parse().unwrap();
    req.headers_mut().insert("authorization", bearer);
    let (socket, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut sink, mut stream) = socket.split();
    let mut next = async || loop {
        match stream.next().await {
            Some(Ok(WsMessage::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    };
    assert_eq!(next().await["type"], "ready");
    // Eve keeps sending while the ban lands...
    let room_id = room.clone();
    let flood = tokio::spawn(async move {
        for i in 0..SENDS {
            let frame = json!({"type": "send", "room_id": room_id, "client_id": format!("f{i}"), "body": "spam"});
            sink.send(WsMessage::text(frame.to_string())).await.unwrap();
        }
        sink
    });
    // ...right after the first of her messages is stored.
    let mut answered = 0;
    while answered == 0 {
        let event = next().await;
        answered += usize::from(event["type"] == "ack");
    }
    let (status, body) = app
        .post(
            &ana,
            &format!("/rooms/{room}/bans"),
            json!({"user_id": eve.id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let at_ban = app.history(&ana, &room, "?limit=1").await.1["messages"][0]["seq"]
        .as_i64()
        .unwrap();
    // Every send is answered, with an ack or an error.
    let _sink = flood.await.unwrap();
    while answered < SENDS {
        let event = next().await;
        if event["type"] == "ack" || event["client_id"].is_string() {
            answered += 1;
        }
    }
    let (_, page) = app.history(&ana, &room, "?limit=1").await;
    let last = page["messages"][0]["seq"].as_i64().unwrap();
    assert!(
        at_ban < SENDS as i64,
        "the ban came after the whole flood: nothing was tested"
    );
    assert_eq!(
        last,
        at_ban,
        "{} messages of the banned user were stored after the ban answered",
        last - at_ban
    );
}
