//! Room levels and moderation: the permission table (an announcement room), kicking, timed
//! mutes, and the audit entries every moderator and admin action writes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A room with an owner, an admin, a moderator and two members.
async fn crew(app: &TestApp) -> (String, [User; 5]) {
    let owner = app.register("owner").await;
    let admin = app.register("admin").await;
    let moder = app.register("moder").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&owner, "Crew", None).await;
    for u in [&admin, &moder, &ana, &bob] {
        let (status, _) = app.join(u, "Crew", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    set_role(app, &owner, &room, &admin, "admin").await;
    set_role(app, &owner, &room, &moder, "moderator").await;
    (room, [owner, admin, moder, ana, bob])
}

async fn audit(app: &TestApp, action: &str) -> i64 {
    count_rows(
        app,
        &format!(
            "select count(*) from audit_log where action = '{action}' and address = '127.0.0.1'"
        ),
    )
    .await
}

#[tokio::test]
async fn an_announcement_room_lets_only_moderators_post_and_members_react() {
    let app = spawn_app().await;
    let (room, [owner, admin, moder, ana, _]) = crew(&app).await;
    let (_, sent) = app.send_http(&ana, &room, "a0", "before").await;
    let seq = sent["message"]["seq"].as_i64().unwrap();
    // The table: every action named, with its lowest role.
    let (_, r) = app.get(&ana, &format!("/rooms/{room}")).await;
    assert_eq!(r["room"]["permissions"]["post"], "member");
    assert_eq!(r["room"]["permissions"]["ban"], "admin");
    assert_eq!(r["room"]["permissions"].as_object().unwrap().len(), 12);
    // A moderator may not change settings by default; an admin may.
    let patch = json!({"permissions": {"post": "moderator", "reply": "moderator"}});
    let (status, _) = app
        .patch(&moder, &format!("/rooms/{room}"), patch.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.patch(&admin, &format!("/rooms/{room}"), patch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["permissions"]["post"], "moderator");
    // Members no longer post (over HTTP and WS) or edit, but still react.
    let (status, body) = app.send_http(&ana, &room, "a1", "hello?").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["error"]["message"],
        "your role may not post in this room"
    );
    let (mut ws, _) = app.ws(&ana).await;
    ws.send_json(json!({"type": "send", "room_id": room, "client_id": "w1", "body": "hi"}))
        .await;
    let error = ws.next_of("error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("forbidden"), Some("w1"))
    );
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}/messages/{seq}"),
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/messages/{seq}/reactions/%F0%9F%91%8D"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for u in [&moder, &owner] {
        let (status, body) = app
            .send_http(u, &room, &format!("m-{}", u.id), "news")
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Moderation stays with moderators and up whatever the table says.
    let (status, body) = app
        .patch(
            &owner,
            &format!("/rooms/{room}"),
            json!({"permissions": {"kick": "member"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["permissions"]["kick"], "moderator");
    // Sending files and replying have entries of their own.
    let (status, _) = app
        .patch(
            &owner,
            &format!("/rooms/{room}"),
            json!({"permissions": {"post": "member", "reply": "member", "upload": "moderator"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let up = app
        .http
        .post(app.url("/uploads?filename=a.txt"))
        .bearer_auth(&ana.token)
        .body("a file")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let body = json!({"client_id": "f1", "body": "", "attachments": [up["upload"]["id"]]});
    let (status, answer) = app
        .post(&ana, &format!("/rooms/{room}/messages"), body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "you may not send files in this room"
    );
    let body = json!({"client_id": "r1", "body": "a reply", "reply_to": seq});
    assert_eq!(
        app.post(&ana, &format!("/rooms/{room}/messages"), body.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, _) = app
        .patch(
            &owner,
            &format!("/rooms/{room}"),
            json!({"permissions": {"reply": "moderator"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({"client_id": "r2", "body": "a reply", "reply_to": seq});
    let (status, answer) = app
        .post(&ana, &format!("/rooms/{room}/messages"), body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    // An admin changes the table only below their rank: not who bans (admins), not who
    // changes settings.
    for change in [
        json!({"ban": "owner"}),
        json!({"change_settings": "moderator"}),
    ] {
        let (status, _) = app
            .patch(
                &admin,
                &format!("/rooms/{room}"),
                json!({"permissions": change}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{change}");
    }
    assert_eq!(audit(&app, "room_settings_changed").await, 4);
}

#[tokio::test]
async fn kicking_removes_without_a_ban_and_only_below_ones_rank() {
    let app = spawn_app().await;
    let (room, [owner, admin, moder, ana, bob]) = crew(&app).await;
    let (mut watch, _) = app.ws(&bob).await;
    let kick = |by: &User, who: &User| {
        let path = format!("/rooms/{room}/members/{}", who.id);
        let token = by.token.clone();
        let app = &app;
        async move {
            app.call(
                "DELETE",
                &path,
                Some(&token),
                Some(json!({"reason": "cool off"})),
            )
            .await
            .0
        }
    };
    // A member may not; a moderator may not kick an equal or higher rank.
    assert_eq!(kick(&bob, &ana).await, StatusCode::FORBIDDEN);
    assert_eq!(kick(&moder, &admin).await, StatusCode::FORBIDDEN);
    assert_eq!(kick(&admin, &owner).await, StatusCode::FORBIDDEN);
    assert_eq!(kick(&moder, &ana).await, StatusCode::NO_CONTENT);
    let left = watch.next_of("member_left").await;
    assert_eq!(
        left,
        json!({"type": "member_left", "room_id": room, "user_id": ana.id, "kicked": true})
    );
    assert_eq!(
        kick(&moder, &ana).await,
        StatusCode::NOT_FOUND,
        "no longer a member"
    );
    // Not a ban: she may come back.
    let (status, _) = app.join(&ana, "Crew", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit(&app, "member_kicked").await, 1);
    let reason: Value = json!(
        count_rows(
            &app,
            "select count(*) from audit_log where action = 'member_kicked' and reason = 'cool off'"
        )
        .await
    );
    assert_eq!(reason, json!(1));
}

#[tokio::test]
async fn a_muted_member_cannot_send_edit_or_react_until_the_mute_ends() {
    let app = spawn_app().await;
    let (room, [_owner, admin, moder, ana, _bob]) = crew(&app).await;
    let (_, sent) = app.send_http(&ana, &room, "a0", "before").await;
    let seq = sent["message"]["seq"].as_i64().unwrap();
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    // Not on an equal or higher rank; not in the past.
    let (status, _) = app
        .post(
            &moder,
            &format!("/rooms/{room}/mutes"),
            json!({"user_id": admin.id}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &moder,
            &format!("/rooms/{room}/mutes"),
            json!({"user_id": ana.id, "until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(
            &moder,
            &format!("/rooms/{room}/mutes"),
            json!({"user_id": ana.id, "until": until}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, list) = app.get(&moder, &format!("/rooms/{room}/mutes")).await;
    assert_eq!(list["mutes"][0]["user_id"], ana.id.as_str());
    let (status, body) = app.send_http(&ana, &room, "a1", "muted?").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["message"], "you are muted in this room");
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}/messages/{seq}"),
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            "PUT",
            &format!("/rooms/{room}/messages/{seq}/reactions/%F0%9F%91%8D"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A mute whose time is over no longer holds (its end moved into the past).
    run_sql(&app, "update mutes set until = 1").await;
    let (status, body) = app.send_http(&ana, &room, "a2", "free again").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Without an end, until unmuted.
    let (status, _) = app
        .post(
            &moder,
            &format!("/rooms/{room}/mutes"),
            json!({"user_id": ana.id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.send_http(&ana, &room, "a3", "x").await.0,
        StatusCode::FORBIDDEN
    );
    let path = format!("/rooms/{room}/mutes/{}", ana.id);
    assert_eq!(app.delete(&moder, &path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&moder, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.send_http(&ana, &room, "a4", "x").await.0,
        StatusCode::CREATED
    );
    assert_eq!(audit(&app, "member_muted").await, 2);
    assert_eq!(audit(&app, "member_unmuted").await, 1);
}

#[tokio::test]
async fn bans_roles_settings_deletions_and_pins_are_audited_with_the_actors_address() {
    let app = spawn_app().await;
    let (room, [owner, admin, moder, ana, _bob]) = crew(&app).await;
    // A moderator pins and unpins, and deletes a member's message.
    let (_, sent) = app.send_http(&ana, &room, "a1", "off topic").await;
    let seq = sent["message"]["seq"].as_i64().unwrap();
    let pin = format!("/rooms/{room}/pins/{seq}");
    assert_eq!(
        app.call("PUT", &pin, Some(&moder.token), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.delete(&moder, &pin).await.0, StatusCode::NO_CONTENT);
    let path = format!("/rooms/{room}/messages/{seq}");
    let (status, _) = app
        .call(
            "DELETE",
            &path,
            Some(&moder.token),
            Some(json!({"reason": "off topic"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for action in ["message_pinned", "message_unpinned", "message_deleted"] {
        assert_eq!(audit(&app, action).await, 1, "{action}");
    }
    // The crew's two role changes.
    assert_eq!(audit(&app, "role_changed").await, 2);
    let (status, _) = app
        .post(
            &admin,
            &format!("/rooms/{room}/bans"),
            json!({"user_id": ana.id, "reason": "spam"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let path = format!("/rooms/{room}/bans/{}", ana.id);
    assert_eq!(app.delete(&admin, &path).await.0, StatusCode::NO_CONTENT);
    let (status, _) = app
        .patch(&owner, &format!("/rooms/{room}"), json!({"topic": "new"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit(&app, "member_banned").await, 1);
    assert_eq!(audit(&app, "member_unbanned").await, 1);
    assert_eq!(
        count_rows(&app, "select count(*) from audit_log where action = 'room_settings_changed' and target = 'topic'").await,
        1
    );
}

#[tokio::test]
async fn invite_links_let_people_into_a_private_room_without_its_key() {
    async fn join(app: &TestApp, user: &User, code: &str) -> (StatusCode, Value) {
        app.post(user, "/rooms/join", json!({"invite": code})).await
    }
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let ana = app.register("ana").await;
    let [bob, cleo, dan, eve] = [
        app.register("bob").await,
        app.register("cleo").await,
        app.register("dan").await,
        app.register("eve").await,
    ];
    let room = app
        .create_room(&owner, "Hideout", Some("secret key 1"))
        .await;
    app.join(&ana, "Hideout", Some("secret key 1")).await;
    let invites = format!("/rooms/{room}/invites");
    // Moderators and up by default.
    let (status, _) = app.post(&ana, &invites, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, made) = app
        .post(
            &owner,
            &invites,
            json!({"max_uses": 2, "expires_in_secs": 3600}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let code = made["invite"]["code"].as_str().unwrap().to_owned();
    assert!(
        made["invite"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?join={code}"))
    );
    assert_eq!(made["invite"]["room_id"], room);
    let (status, body) = join(&app, &bob, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["id"], room);
    assert_eq!(body["room"]["role"], "member");
    // Joining again uses nothing.
    let (status, _) = join(&app, &bob, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = join(&app, &cleo, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = join(&app, &dan, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used up: {body}");
    assert!(body["error"]["fields"]["invite"].is_string());
    let (_, list) = app.get(&owner, &invites).await;
    assert_eq!(list["invites"][0]["uses"], 2);
    assert!(list["invites"][0].get("code").is_none());
    // A ban still keeps its holder out; a revoked link lets nobody in.
    let (_, made) = app.post(&owner, &invites, json!({})).await;
    let (code, id) = (
        made["invite"]["code"].as_str().unwrap().to_owned(),
        made["invite"]["id"].as_str().unwrap().to_owned(),
    );
    app.post(
        &owner,
        &format!("/rooms/{room}/bans"),
        json!({"user_id": eve.id}),
    )
    .await;
    let (status, _) = join(&app, &eve, &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&owner, &format!("{invites}/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = join(&app, &dan, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The table decides who invites.
    let (status, _) = app
        .patch(
            &owner,
            &format!("/rooms/{room}"),
            json!({"permissions": {"invite": "member"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, made) = app.post(&ana, &invites, json!({"max_uses": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, _) = join(&app, &dan, made["invite"]["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    // Neither a name nor an invite; a direct room takes no invites.
    let (status, _) = app.post(&dan, "/rooms/join", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, dm) = app.post(&ana, "/dms", json!({"user_id": bob.id})).await;
    let dm = dm["room"]["id"].as_str().unwrap();
    let (status, _) = app
        .post(&ana, &format!("/rooms/{dm}/invites"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(audit(&app, "invite_revoked").await, 1);
}

#[tokio::test]
async fn a_blocked_person_cannot_write_to_the_blocker_directly() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let (_, dm) = app.post(&ana, "/dms", json!({"user_id": bob.id})).await;
    let dm = dm["room"]["id"].as_str().unwrap().to_owned();
    let room = app.create_room(&ana, "Town", None).await;
    app.join(&bob, "Town", None).await;
    let (status, _) = app
        .call(
            "PUT",
            &format!("/me/blocks/{}", ana.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not yourself");
    let (status, _) = app
        .call("PUT", "/me/blocks/nobody", Some(&ana.token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            "PUT",
            &format!("/me/blocks/{}", bob.id),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.get(&ana, "/me/blocks").await;
    assert_eq!(list["users"][0]["id"], bob.id);
    // Bob can neither open a direct room with ana nor write in theirs (HTTP or WebSocket)...
    let (status, _) = app.post(&bob, "/dms", json!({"user_id": ana.id})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.send_http(&bob, &dm, "b1", "hello?").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (mut ws, _) = app.ws(&bob).await;
    ws.send_json(json!({"type": "send", "room_id": dm, "client_id": "b2", "body": "hello??"}))
        .await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(refused["client_id"], "b2");
    // ...but still speaks in shared rooms (ana's client collapses it), and ana may write to him.
    let (status, _) = app.send_http(&bob, &room, "b3", "in public").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, said) = app.send_http(&ana, &dm, "a1", "I said no").await;
    assert_eq!(status, StatusCode::CREATED);
    // Nor react or edit there.
    let seq = said["message"]["seq"].as_i64().unwrap();
    let (status, body) = app
        .call(
            "PUT",
            &format!("/rooms/{dm}/messages/{seq}/reactions/%F0%9F%91%8D"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Unblocked, he writes again.
    let (status, _) = app.delete(&ana, &format!("/me/blocks/{}", bob.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.send_http(&bob, &dm, "b4", "sorry").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn group_conversations_hold_three_to_nine_people() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cleo = app.register("cleo").await;
    let mut many = Vec::new();
    for i in 0..8 {
        many.push(app.register(&format!("user{i}")).await.id);
    }
    let (mut bob_ws, _) = app.ws(&bob).await;
    for (ids, want) in [
        (json!([bob.id]), StatusCode::BAD_REQUEST),
        (json!([bob.id, ana.id]), StatusCode::BAD_REQUEST),
        (
            json!(many.iter().chain([&bob.id]).collect::<Vec<_>>()),
            StatusCode::BAD_REQUEST,
        ),
        (json!([bob.id, "nobody"]), StatusCode::NOT_FOUND),
    ] {
        let (status, body) = app.post(&ana, "/dms", json!({"user_ids": ids})).await;
        assert_eq!(status, want, "{ids}: {body}");
    }
    let (status, _) = app
        .post(
            &ana,
            "/dms",
            json!({"user_id": bob.id, "user_ids": [bob.id, cleo.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(&ana, "/dms", json!({"user_ids": [bob.id, cleo.id]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let group = body["room"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["room"]["kind"], "group");
    assert_eq!(body["room"]["name"], "ana, bob, cleo");
    assert_eq!(body["room"]["notify"], "all");
    let joined = bob_ws.next_of("room_updated").await;
    assert_eq!(joined["room"]["id"], group);
    // Every message notifies, as in a direct room.
    app.send_http(&cleo, &group, "c1", "hello both").await;
    let got = bob_ws.next_of("message").await;
    assert_eq!(got["message"]["body"], "hello both");
    let notify = bob_ws.next_of("notify").await;
    assert_eq!(notify["reason"], "direct");
    // No settings, invites or moderation; nobody finds it by name.
    let (status, _) = app
        .patch(&ana, &format!("/rooms/{group}"), json!({"topic": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&ana, &format!("/rooms/{group}/invites"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .delete(&ana, &format!("/rooms/{group}/members/{}", bob.id))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The starter has no more rights than the others.
    assert_eq!(body["room"]["role"], "member");
    let (status, _) = app.delete(&ana, &format!("/rooms/{group}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let outsider = app.register("outsider").await;
    let (status, _) = app.get(&outsider, &format!("/rooms/{group}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Someone who blocks the starter is not added.
    app.call(
        "PUT",
        &format!("/me/blocks/{}", ana.id),
        Some(&outsider.token),
        None,
    )
    .await;
    let (status, _) = app
        .post(&ana, "/dms", json!({"user_ids": [bob.id, outsider.id]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Anyone leaves, the starter too; the last one out deletes it.
    for user in [&bob, &ana] {
        let (status, body) = app
            .post(user, &format!("/rooms/{group}/leave"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, _) = app
        .post(&cleo, &format!("/rooms/{group}/leave"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&cleo, &format!("/rooms/{group}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
