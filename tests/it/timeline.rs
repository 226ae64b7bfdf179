//! The room timeline: edits, deletions, reactions, replies and pins, each an event with its own
//! `seq`, carried live, by `sync` and by gap filling; who may do what; tombstones that erase.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Percent-encodes an emoji for a path.
fn enc(emoji: &str) -> String {
    emoji
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect::<String>()
}

async fn edit(app: &TestApp, user: &User, room: &str, seq: i64, body: &str) -> (StatusCode, Value) {
    app.patch(
        user,
        &format!("/rooms/{room}/messages/{seq}"),
        json!({"body": body}),
    )
    .await
}

async fn delete(
    app: &TestApp,
    user: &User,
    room: &str,
    seq: i64,
    reason: Option<&str>,
) -> StatusCode {
    let body = reason.map(|r| json!({"reason": r}));
    app.call(
        "DELETE",
        &format!("/rooms/{room}/messages/{seq}"),
        Some(&user.token),
        body,
    )
    .await
    .0
}

async fn react(
    app: &TestApp,
    user: &User,
    room: &str,
    seq: i64,
    emoji: &str,
    add: bool,
) -> (StatusCode, Value) {
    let method = if add { "PUT" } else { "DELETE" };
    let path = format!("/rooms/{room}/messages/{seq}/reactions/{}", enc(emoji));
    app.call(method, &path, Some(&user.token), None).await
}

async fn pin(app: &TestApp, user: &User, room: &str, seq: i64, on: bool) -> StatusCode {
    let method = if on { "PUT" } else { "DELETE" };
    app.call(
        method,
        &format!("/rooms/{room}/pins/{seq}"),
        Some(&user.token),
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn edits_reactions_pins_and_deletes_are_events_with_their_own_seq() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Timeline", None).await;
    app.join(&bob, "timeline", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let (mut bob_ws, _) = app.ws(&bob).await;

    let first = bob_ws.send_message(&room, "c1", "helo @ana").await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["edited_at"], Value::Null);
    assert_eq!(first["deleted"], false);
    assert_eq!(first["reactions"], json!([]));
    assert_eq!(first["pinned"], false);

    // An edit: the sender only; the room hears it with the next seq.
    let (status, _) = edit(&app, &ana, &room, 1, "not mine").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the sender edits");
    let (status, edited) = edit(&app, &bob, &room, 1, "hello @ana").await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"]["body"], "hello @ana");
    assert!(edited["message"]["edited_at"].is_string());
    let event = ana_ws.next_of("message_edited").await;
    assert_eq!(
        (event["seq"].as_i64(), event["message_seq"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(event["message"]["body"], "hello @ana");
    assert_eq!(event["user_id"], bob.id.as_str());
    assert_eq!(event["room_id"], room.as_str());

    // Reactions: one emoji, idempotent, counted, "me" over HTTP only.
    let (status, _) = react(&app, &ana, &room, 1, "👍", true).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = react(&app, &ana, &room, 1, "👍", true).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "reacting again changes nothing"
    );
    react(&app, &bob, &room, 1, "👍", true).await;
    let event = ana_ws.next_of("reaction_added").await;
    assert_eq!(
        (event["seq"].as_i64(), event["emoji"].as_str()),
        (Some(3), Some("👍"))
    );
    assert_eq!(event["message"]["reactions"][0]["count"], 1);
    assert!(
        event["message"]["reactions"][0].get("me").is_none(),
        "events carry no me"
    );
    let event = ana_ws.next_of("reaction_added").await;
    assert_eq!(event["seq"], 4, "the repeat took no seq");
    for bad in ["x", "👍👍", ":+1:", "%20"] {
        let (status, body) = react(&app, &ana, &room, 1, bad, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
    let (status, _) = react(&app, &ana, &room, 99, "👍", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = app.history(&ana, &room, "").await;
    let reaction = &page["messages"][0]["reactions"][0];
    assert_eq!(reaction["count"], 2);
    assert_eq!(reaction["me"], true);
    assert_eq!(reaction["user_ids"], json!([ana.id, bob.id]));

    // Pins: moderators and up.
    assert_eq!(pin(&app, &bob, &room, 1, true).await, StatusCode::FORBIDDEN);
    assert_eq!(
        pin(&app, &ana, &room, 1, true).await,
        StatusCode::NO_CONTENT
    );
    let event = bob_ws.next_of("message_pinned").await;
    assert_eq!(event["seq"], 5);
    assert_eq!(event["message"]["pinned"], true);
    let (_, pins) = app.get(&bob, &format!("/rooms/{room}/pins")).await;
    assert_eq!(seqs(&pins["messages"]), [1]);

    // A reply quotes the start of the original.
    let reply = ana_ws
        .send_message_with(
            json!({"room_id": room, "client_id": "r1", "body": "yes", "reply_to": 1}),
        )
        .await;
    assert_eq!(reply["seq"], 6);
    assert_eq!(reply["reply_to"]["seq"], 1);
    assert_eq!(reply["reply_to"]["excerpt"], "hello @ana");
    assert_eq!(reply["reply_to"]["sender"]["id"], bob.id.as_str());

    // Unread counts new messages only: bob's message counts once for ana (its edit, the
    // reactions and the pin not at all).
    let (_, rooms) = app.get(&ana, "/rooms").await;
    let mine = &rooms["rooms"][0];
    assert_eq!(mine["last_seq"], 6);
    assert_eq!(mine["unread"], 1, "{mine}");
    assert_eq!(
        mine["unread_mentions"], 1,
        "the edit kept the mention, counted once: {mine}"
    );
    let (_, rooms) = app.get(&bob, "/rooms").await;
    assert_eq!(rooms["rooms"][0]["unread"], 1, "bob sees ana's reply only");

    // Deleting: a tombstone keeps seq and sender; everything else goes.
    assert_eq!(
        delete(&app, &ana, &room, 1, Some("spam")).await,
        StatusCode::NO_CONTENT
    );
    let event = bob_ws.next_of("message_deleted").await;
    assert_eq!(
        (event["seq"].as_i64(), event["message_seq"].as_i64()),
        (Some(7), Some(1))
    );
    let tomb = &event["message"];
    assert_eq!(tomb["deleted"], true);
    assert_eq!(tomb["body"], "");
    assert_eq!(tomb["reactions"], json!([]));
    assert_eq!(tomb["pinned"], false);
    assert_eq!(tomb["sender"]["id"], bob.id.as_str());
    let erased = |table: &str| {
        format!("select count(*) from {table} where room_id = '{room}' and message_seq = 1")
    };
    for table in ["message_edits", "reactions"] {
        assert_eq!(count_rows(&app, &erased(table)).await, 0, "{table} erased");
    }
    assert_eq!(
        count_rows(
            &app,
            &format!(
                "select count(*) from messages where room_id = '{room}' and body like '%hel%'"
            )
        )
        .await,
        0,
        "the text is gone from storage"
    );
    assert_eq!(
        count_rows(
            &app,
            "select count(*) from audit_log where action = 'message_deleted' and reason = 'spam'"
        )
        .await,
        1,
        "a moderator's deletion is audited"
    );
    // The reply now quotes a deleted message.
    let (_, page) = app.history(&bob, &room, "").await;
    assert_eq!(page["messages"][1]["reply_to"]["deleted"], true);
    assert_eq!(page["messages"][1]["reply_to"]["excerpt"], "");
    // A tombstone takes nothing more.
    assert_eq!(
        edit(&app, &bob, &room, 1, "again").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        react(&app, &bob, &room, 1, "👍", true).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(pin(&app, &ana, &room, 1, true).await, StatusCode::NOT_FOUND);
    assert_eq!(
        delete(&app, &ana, &room, 1, None).await,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .post(
            &bob,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "r2", "body": "re", "reply_to": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, pins) = app.get(&bob, &format!("/rooms/{room}/pins")).await;
    assert_eq!(pins["messages"], json!([]), "a tombstone is unpinned");
}

#[tokio::test]
async fn who_may_delete_pin_and_read_earlier_texts() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let admin = app.register("admin").await;
    let moder = app.register("moder").await;
    let member = app.register("member").await;
    let other = app.register("other").await;
    let room = app.create_room(&owner, "Ranks", None).await;
    for u in [&admin, &moder, &member, &other] {
        app.join(u, "ranks", None).await;
    }
    set_role(&app, &owner, &room, &admin, "admin").await;
    set_role(&app, &admin, &room, &moder, "moderator").await;
    // An admin may not make admins; a moderator sets no roles.
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/members/{}/role", member.id),
            Some(&admin.token),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/members/{}/role", member.id),
            Some(&moder.token),
            Some(json!({"role": "moderator"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let say = |user: &User, id: &str| {
        let (app, user, room, id) = (&app, user.clone(), room.clone(), id.to_owned());
        async move {
            let (status, body) = app
                .send_http(&user, &room, &id, &format!("text {id}"))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["message"]["seq"].as_i64().unwrap()
        }
    };
    let by_member = say(&member, "m").await;
    let by_admin = say(&admin, "a").await;
    let by_moder = say(&moder, "d").await;

    assert_eq!(
        delete(&app, &other, &room, by_member, None).await,
        StatusCode::FORBIDDEN,
        "a member deletes only their own"
    );
    assert_eq!(
        delete(&app, &moder, &room, by_admin, None).await,
        StatusCode::FORBIDDEN,
        "a moderator cannot act on an admin"
    );
    assert_eq!(
        pin(&app, &member, &room, by_member, true).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        pin(&app, &moder, &room, by_admin, true).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        pin(&app, &moder, &room, by_admin, false).await,
        StatusCode::NO_CONTENT
    );

    edit(&app, &member, &room, by_member, "text m, fixed").await;
    let path = format!("/rooms/{room}/messages/{by_member}/edits");
    assert_eq!(
        app.get(&member, &path).await.0,
        StatusCode::FORBIDDEN,
        "earlier texts are for moderators"
    );
    let (status, edits) = app.get(&moder, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edits["edits"][0]["body"], "text m");

    assert_eq!(
        delete(&app, &moder, &room, by_member, Some("rude")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&moder, &path).await.1["edits"],
        json!([]),
        "edits are erased with the message"
    );
    assert_eq!(
        delete(&app, &admin, &room, by_moder, None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&app, &admin, &room, by_admin, None).await,
        StatusCode::NO_CONTENT,
        "one's own"
    );
    // Nobody acts on the owner.
    let by_owner = say(&owner, "o").await;
    assert_eq!(
        delete(&app, &admin, &room, by_owner, None).await,
        StatusCode::FORBIDDEN
    );
    // Bad input gets clear errors.
    let (status, body) = app
        .call(
            "DELETE",
            &format!("/rooms/{room}/messages/{by_owner}"),
            Some(&owner.token),
            Some(json!({"reason": "x".repeat(501)})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = edit(&app, &owner, &room, by_owner, "   ").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );
}

#[tokio::test]
async fn a_message_takes_at_most_twenty_different_reactions() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Faces", None).await;
    app.send_http(&ana, &room, "m", "react to me").await;
    let faces = [
        "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "🫠", "😉", "😊", "😇", "🥰",
        "😍", "🤩", "😘", "😗", "☺️",
    ];
    for face in faces {
        assert_eq!(
            react(&app, &ana, &room, 1, face, true).await.0,
            StatusCode::NO_CONTENT,
            "{face}"
        );
    }
    let (status, body) = react(&app, &ana, &room, 1, "😚", true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    // Unqualified and qualified forms are one reaction.
    assert_eq!(
        react(&app, &ana, &room, 1, "☺", false).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        react(&app, &ana, &room, 1, "😚", true).await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn changes_to_history_from_before_joining_stay_hidden() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Private past", None).await;
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}"),
            json!({"history": "joined"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.send_http(&ana, &room, "old", "before bob").await;
    app.join(&bob, "Private past", None).await;
    let (mut bob_ws, ready) = app.ws(&bob).await;
    let since = ready["rooms"][0]["last_seq"].as_i64().unwrap();
    edit(&app, &ana, &room, 1, "secret edit").await;
    react(&app, &ana, &room, 1, "👍", true).await;
    app.send_http(&ana, &room, "new", "after bob").await;
    // Live: the two changes take their seqs unseen; the new message arrives.
    loop {
        let e = bob_ws.next_event().await;
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(!e["type"].as_str().unwrap().starts_with("reaction"), "{e}");
        if e["type"] == "message" {
            assert_eq!(e["message"]["body"], "after bob");
            break;
        }
    }
    // By sync: the same.
    let (mut again, _) = app.ws(&bob).await;
    again
        .send_json(json!({"type": "sync", "since": {room.clone(): since}}))
        .await;
    let mut seen = Vec::new();
    loop {
        let e = again.next_event().await;
        if e["type"] == "synced" {
            assert_eq!(e["last_seq"], 4);
            break;
        }
        seen.push(e);
    }
    assert!(
        seen.iter().all(|e| !e.to_string().contains("secret")),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 1, "{seen:?}");
    // A reply to the old message names it but quotes none of its text, live and in history.
    let (status, _) = app
        .post(
            &ana,
            &format!("/rooms/{room}/messages"),
            json!({"client_id": "re", "body": "see above", "reply_to": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let live = again.next_of("message").await;
    assert_eq!(live["message"]["reply_to"]["seq"], 1);
    assert_eq!(live["message"]["reply_to"]["excerpt"], "");
    let (_, page) = app.history(&bob, &room, "").await;
    assert!(!page.to_string().contains("secret"), "{page}");
    let (_, search) = app.get(&bob, "/search?q=above").await;
    assert_eq!(search["results"][0]["message"]["reply_to"]["excerpt"], "");
}

#[tokio::test]
async fn history_pages_after_and_around_a_message() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Pages", None).await;
    for i in 1..=30 {
        app.send_http(&ana, &room, &format!("m{i}"), &format!("message {i}"))
            .await;
        if i % 3 == 0 {
            react(
                &app,
                &ana,
                &room,
                app_last_seq(&app, &ana, &room).await,
                "👍",
                true,
            )
            .await;
        }
    }
    let (_, all) = app.history(&ana, &room, "?limit=200").await;
    let every = seqs(&all["messages"]);
    assert_eq!(
        every.len(),
        30,
        "history holds messages, never change events"
    );
    let target = every[15];
    let (status, page) = app
        .history(&ana, &room, &format!("?around={target}&limit=10"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = seqs(&page["messages"]);
    assert_eq!(got.len(), 10);
    assert!(got.contains(&target));
    assert_eq!(got, every[10..20], "centred: {got:?}");
    let (_, page) = app
        .history(&ana, &room, &format!("?after={}&limit=5", every[3]))
        .await;
    assert_eq!(seqs(&page["messages"]), every[4..9]);
    let (_, page) = app
        .history(&ana, &room, &format!("?around={}&limit=10", every[1]))
        .await;
    assert_eq!(
        seqs(&page["messages"]),
        every[..10],
        "near the start: more after"
    );
    assert_eq!(page["history_start"], true);
    let (status, _) = app.history(&ana, &room, "?after=3&before=9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, page) = app
        .history(&ana, &room, &format!("?around={}", i64::MAX))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the largest seq is no overflow: {page}"
    );
}

async fn app_last_seq(app: &TestApp, user: &User, room: &str) -> i64 {
    app.get(user, &format!("/rooms/{room}")).await.1["room"]["last_seq"]
        .as_i64()
        .unwrap()
}

/// What a client holds of a room: messages by `seq`, as the events left them (`me` aside,
/// which only HTTP answers carry).
#[derive(Default, Debug)]
pub(crate) struct Mirror {
    pub(crate) messages: BTreeMap<i64, Value>,
    pub(crate) last_seq: i64,
}

impl Mirror {
    /// Applies a timeline event; returns whether it was one.
    pub(crate) fn apply(&mut self, event: &Value) -> bool {
        if event["type"] == "message_deleted" {
            // Replies quote a deleted message no more.
            let gone = event["message_seq"].as_i64();
            for m in self.messages.values_mut() {
                if m["reply_to"]["seq"].as_i64() == gone && gone.is_some() {
                    m["reply_to"]["excerpt"] = json!("");
                    m["reply_to"]["deleted"] = json!(true);
                }
            }
        }
        let kind = event["type"].as_str().unwrap_or_default();
        let is_timeline = matches!(
            kind,
            "message"
                | "message_edited"
                | "message_deleted"
                | "reaction_added"
                | "reaction_removed"
                | "message_pinned"
                | "message_unpinned"
        );
        if !is_timeline {
            if kind == "synced" {
                self.last_seq = self.last_seq.max(event["last_seq"].as_i64().unwrap());
            }
            return false;
        }
        let message = event["message"].clone();
        let seq = event["seq"].as_i64().or(message["seq"].as_i64()).unwrap();
        self.last_seq = self.last_seq.max(seq);
        self.messages
            .insert(message["seq"].as_i64().unwrap(), without_me(message));
        true
    }
}

pub(crate) fn without_me(mut message: Value) -> Value {
    if let Some(reactions) = message["reactions"].as_array_mut() {
        for r in reactions {
            r.as_object_mut().unwrap().remove("me");
        }
    }
    message
}

async fn stored(app: &TestApp, user: &User, room: &str) -> BTreeMap<i64, Value> {
    let (_, page) = app.history(user, room, "?limit=200").await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["seq"].as_i64().unwrap(), without_me(m.clone())))
        .collect()
}

/// One client stays connected, another user makes ~100 random changes, a third client
/// disconnects and resumes with `sync` several times: all three end in the stored state.
#[tokio::test]
async fn a_random_mix_of_changes_converges_live_and_by_sync() {
    let app = spawn_app_with(|c| {
        c.send_rate_per_sec = 10_000;
        c.send_burst = 10_000;
    })
    .await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = app.create_room(&bob, "Churn", None).await;
    app.join(&ana, "churn", None).await;
    app.join(&cat, "churn", None).await;
    let (mut ana_ws, _) = app.ws(&ana).await;
    let mut ana_view = Mirror::default();
    let mut cat_view = Mirror::default();
    let (mut cat_ws, ready) = app.ws(&cat).await;
    cat_view.last_seq = ready["rooms"][0]["last_seq"].as_i64().unwrap();
    let mut cat_online = true;

    let seed: u64 = std::env::var("NATTER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("a_random_mix_of_changes_converges_live_and_by_sync: NATTER_TEST_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let emojis = ["👍", "❤️", "😂", "🎉"];
    let mut sent: Vec<i64> = Vec::new();
    for step in 0..100 {
        let target = if sent.is_empty() {
            None
        } else {
            Some(sent[rng.random_range(0..sent.len())])
        };
        match (rng.random_range(0..10), target) {
            (0..=3, _) | (_, None) => {
                let reply = target.filter(|_| rng.random_bool(0.3));
                let body = json!({"client_id": format!("s{step}"), "body": format!("**step** {step}"), "reply_to": reply});
                let (status, answer) = app
                    .post(&bob, &format!("/rooms/{room}/messages"), body)
                    .await;
                if status == StatusCode::CREATED {
                    sent.push(answer["message"]["seq"].as_i64().unwrap());
                }
            }
            (4, Some(seq)) => {
                edit(&app, &bob, &room, seq, &format!("edited at {step}")).await;
            }
            (5, Some(seq)) => {
                delete(&app, &bob, &room, seq, None).await;
            }
            (6..=7, Some(seq)) => {
                let emoji = emojis[rng.random_range(0..emojis.len())];
                react(&app, &bob, &room, seq, emoji, rng.random_bool(0.7)).await;
            }
            (_, Some(seq)) => {
                pin(&app, &bob, &room, seq, rng.random_bool(0.6)).await;
            }
        }
        // Cat comes and goes.
        if rng.random_bool(0.08) {
            if cat_online {
                drain(&mut cat_ws, &mut cat_view).await;
                drop(cat_ws);
                let (ws, _) = app.ws(&cat).await;
                cat_ws = ws; // reconnected below with sync
                cat_online = false;
            } else {
                cat_ws
                    .send_json(json!({"type": "sync", "since": {room.clone(): cat_view.last_seq}}))
                    .await;
                cat_online = true;
            }
        }
    }
    if !cat_online {
        cat_ws
            .send_json(json!({"type": "sync", "since": {room.clone(): cat_view.last_seq}}))
            .await;
    }
    let last = app_last_seq(&app, &bob, &room).await;
    while ana_view.last_seq < last {
        let e = ana_ws.next_event().await;
        ana_view.apply(&e);
    }
    while cat_view.last_seq < last {
        let e = cat_ws.next_event().await;
        cat_view.apply(&e);
    }
    let truth = stored(&app, &bob, &room).await;
    assert_eq!(
        ana_view.messages, truth,
        "the connected client (seed {seed})"
    );
    assert_eq!(
        cat_view.messages, truth,
        "the reconnecting client (seed {seed})"
    );
}

/// Reads what has arrived until a short quiet spell.
async fn drain(ws: &mut Ws, view: &mut Mirror) {
    while let Ok(Ok(e)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), ws.next_frame()).await
    {
        view.apply(&e);
    }
}

/// With an edit window set, a message can be edited within it and not after.
#[tokio::test]
async fn the_edit_window_closes() {
    let app = spawn_app_with(|c| c.edit_window_secs = 1).await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Window", None).await;
    app.send_http(&ana, &room, "w", "first").await;
    let (status, _) = edit(&app, &ana, &room, 1, "first, fixed").await;
    assert_eq!(status, StatusCode::OK, "inside the window");
    // Whole seconds count: more than one has passed after two.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = edit(&app, &ana, &room, 1, "too late").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
}
