//! Server administration: the setup link that makes the first admin, registration modes and
//! invites, deactivation (sockets closed, sign-in refused), reports to moderators and admins,
//! admins reading any room (which its owner sees), settings taking effect, and the audit log
//! with its filters and exports.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Makes `user` a server admin (what the setup link or `natter admin` does for the first).
pub async fn make_admin(app: &TestApp, user: &User) {
    run_sql(
        app,
        &format!("update users set is_admin = 1 where id = '{}'", user.id),
    )
    .await;
}

/// The setup token as the server logs it (it keeps it in its settings table).
async fn setup_token(app: &TestApp) -> Option<String> {
    text_at(
        &app.database_url,
        "select value from settings where name = 'setup_token'",
    )
    .await
}

async fn register_with(app: &TestApp, name: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({"username": name, "password": "correct horse battery"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.call("POST", "/auth/register", None, Some(body)).await
}

/// Closes the newest open report as `admin`, with `resolution`.
async fn resolve_newest(app: &TestApp, admin: &User, resolution: &str) -> (StatusCode, Value) {
    let (_, open) = app.get(admin, "/admin/reports").await;
    let id = open["reports"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/reports/{id}/resolve");
    app.post(admin, &path, json!({"resolution": resolution}))
        .await
}

async fn audit_actions(app: &TestApp, admin: &User, query: &str) -> Vec<String> {
    let (status, body) = app.get(admin, &format!("/admin/audit{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_setup_link_makes_the_first_admin_once() {
    let app = spawn_app().await;
    let (status, server) = app.call("GET", "/server", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server["needs_setup"], true);
    assert_eq!(server["registration"], "open");
    // The server made (and logged) its token at start.
    let token = setup_token(&app)
        .await
        .expect("a fresh server has a setup token");
    assert_eq!(token.len(), 48);
    // Someone racing with a guess gets nothing; the registration does not happen either.
    let (status, body) = register_with(&app, "racer", json!({"setup": "0".repeat(48)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["setup"].is_string(), "{body}");
    // An ordinary registration is no admin.
    let plain = app.register("plain").await;
    let (_, me) = app.get(&plain, "/me").await;
    assert_eq!(me["user"]["is_admin"], false);
    let (status, _) = app.get(&plain, "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The token makes an admin, once, even while registration is closed.
    let (status, body) = register_with(&app, "root", json!({"setup": token})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["is_admin"], true);
    let root = User {
        id: body["user"]["id"].as_str().unwrap().into(),
        token: body["token"].as_str().unwrap().into(),
    };
    let (status, _) = app.get(&root, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = register_with(&app, "second", json!({"setup": token})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(setup_token(&app).await, None);
    let (_, server) = app.call("GET", "/server", None, None).await;
    assert_eq!(server["needs_setup"], false);
}

#[tokio::test]
async fn registration_can_be_invite_only_or_closed() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let ana = app.register("ana").await;
    // Only admins change settings; every value is checked first.
    let (status, _) = app
        .patch(&ana, "/admin/settings", json!({"registration": "closed"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bad = json!({"registration": "invite", "server_name": ""});
    let (status, body) = app.patch(&root, "/admin/settings", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["server_name"].is_string(), "{body}");
    let (status, body) = app
        .patch(&root, "/admin/settings", json!({"no_such": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, server) = app.call("GET", "/server", None, None).await;
    assert_eq!(server["registration"], "open", "nothing was kept");

    let change = json!({"registration": "invite", "server_name": "Home", "welcome_text": "Hi!"});
    let (status, body) = app.patch(&root, "/admin/settings", change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"], "invite");
    let (_, server) = app.call("GET", "/server", None, None).await;
    assert_eq!(server["name"], "Home");
    assert_eq!(server["welcome_text"], "Hi!");
    let (status, body) = register_with(&app, "nobody", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["invite"].is_string(), "{body}");

    // An invite for one registration.
    let (status, _) = app.post(&ana, "/admin/invites", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, made) = app
        .post(&root, "/admin/invites", json!({"max_uses": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let code = made["invite"]["code"].as_str().unwrap().to_owned();
    assert!(made["invite"]["url"].as_str().unwrap().ends_with(&code));
    let (status, body) = register_with(&app, "guest", json!({"invite": "nope"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = register_with(&app, "guest", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = register_with(&app, "guest2", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used up");
    // A taken name does not use up an invite.
    let (_, made) = app
        .post(
            &root,
            "/admin/invites",
            json!({"max_uses": 1, "expires_in_secs": 3600}),
        )
        .await;
    let code = made["invite"]["code"].as_str().unwrap().to_owned();
    let (status, _) = register_with(&app, "guest", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = register_with(&app, "guest3", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::CREATED);
    // Revoked and expired invites let nobody in.
    let (_, made) = app.post(&root, "/admin/invites", json!({})).await;
    let (code, id) = (
        made["invite"]["code"].as_str().unwrap().to_owned(),
        made["invite"]["id"].as_str().unwrap().to_owned(),
    );
    let (status, _) = app.delete(&root, &format!("/admin/invites/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = register_with(&app, "guest4", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, made) = app.post(&root, "/admin/invites", json!({})).await;
    let code = made["invite"]["code"].as_str().unwrap().to_owned();
    run_sql(
        &app,
        "update invites set expires_at = 1 where revoked_at is null",
    )
    .await;
    let (status, _) = register_with(&app, "guest5", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, list) = app.get(&root, "/admin/invites").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["invites"].as_array().unwrap().len(), 4);
    assert!(
        list["invites"][0].get("code").is_none(),
        "codes are shown once"
    );
    let (status, body) = app
        .post(&root, "/admin/invites", json!({"max_uses": 0}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Closed: nobody, invite or not.
    let (_, made) = app.post(&root, "/admin/invites", json!({})).await;
    let code = made["invite"]["code"].as_str().unwrap().to_owned();
    app.patch(&root, "/admin/settings", json!({"registration": "closed"}))
        .await;
    let (status, body) = register_with(&app, "late", json!({"invite": code})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Existing accounts still sign in.
    app.sign_in_again(&ana, "ana").await;

    let actions = audit_actions(&app, &root, "?action=settings_changed").await;
    assert_eq!(
        actions.len(),
        4,
        "registration twice, the name, the welcome text"
    );
    let invites = audit_actions(&app, &root, "?action=invite_created").await;
    assert_eq!(invites.len(), 5);
    let revoked = audit_actions(&app, &root, "?action=invite_revoked").await;
    assert_eq!(revoked.len(), 1);
}

#[tokio::test]
async fn deactivation_signs_out_everywhere_and_refuses_sign_in() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let ana = app.register("ana").await;
    let phone = app.sign_in_again(&ana, "ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    let (mut ws2, _) = app.ws(&phone).await;
    let (status, _) = app
        .patch(
            &ana,
            &format!("/admin/users/{}", root.id),
            json!({"deactivated": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, detail) = app.get(&root, &format!("/admin/users/{}", ana.id)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(detail["sessions"][0]["address"], "127.0.0.1");
    let (status, body) = app
        .patch(
            &root,
            &format!("/admin/users/{}", ana.id),
            json!({"deactivated": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["user"]["deactivated_at"].is_string(), "{body}");
    assert_eq!(body["user"]["deactivated"], true);
    assert_eq!(body["user"]["sessions"], 0);
    // Both sockets close at once; both tokens are dead.
    assert_eq!(ws.closed().await, Some(4001));
    assert_eq!(ws2.closed().await, Some(4001));
    let (status, _) = app.get(&phone, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The right password says so; a wrong one does not tell.
    let body = json!({"username": "ana", "password": "correct horse battery"});
    let (status, answer) = app.call("POST", "/auth/login", None, Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "account_deactivated");
    let body = json!({"username": "ana", "password": "wrong horse battery"});
    let (status, _) = app.call("POST", "/auth/login", None, Some(body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // People no longer find the account; admins do.
    let (_, found) = app.get(&root, "/users?q=ana").await;
    assert_eq!(found["users"].as_array().unwrap().len(), 0);
    let (_, listed) = app.get(&root, "/admin/users?q=ana").await;
    assert_eq!(listed["users"][0]["deactivated"], true);

    // Reactivated, the account signs in again.
    let (status, _) = app
        .patch(
            &root,
            &format!("/admin/users/{}", ana.id),
            json!({"deactivated": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ana = app.sign_in_again(&ana, "ana").await;
    // Sign out everywhere.
    let (mut ws, _) = app.ws(&ana).await;
    let (status, _) = app
        .post(
            &root,
            &format!("/admin/users/{}/sign-out", ana.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(ws.closed().await, Some(4001));

    // The last admin can be neither deactivated nor unmade; with a second one, they can.
    for change in [json!({"deactivated": true}), json!({"is_admin": false})] {
        let (status, body) = app
            .patch(&root, &format!("/admin/users/{}", root.id), change)
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    let ana = app.sign_in_again(&ana, "ana").await;
    let (status, body) = app
        .patch(
            &root,
            &format!("/admin/users/{}", ana.id),
            json!({"is_admin": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["is_admin"], true);
    let (status, _) = app.get(&ana, "/admin/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .patch(
            &ana,
            &format!("/admin/users/{}", root.id),
            json!({"is_admin": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, log) = app.get(&ana, "/admin/audit").await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "admin_revoked",
            "admin_granted",
            "user_signed_out",
            "user_reactivated",
            "user_deactivated"
        ]
    );
    assert_eq!(log["entries"][4]["target"], ana.id);
    assert_eq!(log["entries"][4]["target_username"], "ana");
    assert_eq!(log["entries"][4]["actor"], root.id);
    assert_eq!(log["entries"][4]["actor_username"], "root");
    assert_eq!(log["entries"][4]["address"], "127.0.0.1");
}

#[tokio::test]
async fn reports_reach_the_rooms_moderators_and_the_admins() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let owner = app.register("owner").await;
    let moder = app.register("moder").await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&owner, "Town", None).await;
    for u in [&moder, &ana, &bob] {
        app.join(u, "Town", None).await;
    }
    set_role(&app, &owner, &room, &moder, "moderator").await;
    let (mut mod_ws, _) = app.ws(&moder).await;
    let (mut root_ws, _) = app.ws(&root).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (_, sent) = app.send_http(&bob, &room, "b1", "buy cheap pills").await;
    let seq = sent["message"]["seq"].as_i64().unwrap();
    let (_, sent) = app.send_http(&bob, &room, "b2", "and more").await;
    let seq2 = sent["message"]["seq"].as_i64().unwrap();
    let report = |seq: i64| format!("/rooms/{room}/messages/{seq}/report");

    // Bad reports.
    let (status, _) = app.post(&ana, &report(seq), json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post(&bob, &report(seq), json!({"reason": "mine"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.post(&ana, &report(999), json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let outsider = app.register("outsider").await;
    let (status, _) = app
        .post(&outsider, &report(seq), json!({"reason": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = app
        .post(&ana, &report(seq), json!({"reason": "spam"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app
        .post(&ana, &report(seq), json!({"reason": "again"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.post(&owner, &report(seq), json!({"reason": "spam too"}))
        .await;
    // The moderator and the admin hear of it at once; the reported sender does not.
    for ws in [&mut mod_ws, &mut root_ws] {
        let filed = ws.next_of("report_filed").await;
        assert_eq!(filed["report"]["reason"], "spam");
        assert_eq!(filed["report"]["seq"], seq);
        assert_eq!(filed["report"]["message"]["body"], "buy cheap pills");
        assert_eq!(filed["report"]["reporter"]["username"], "ana");
    }
    bob_ws
        .send_json(json!({"type": "typing", "room_id": room}))
        .await;
    let next = bob_ws.next_event().await;
    assert_ne!(next["type"], "report_filed", "{next}");

    // Who sees the room's reports.
    let (status, _) = app.get(&ana, &format!("/rooms/{room}/reports")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = app.get(&moder, &format!("/rooms/{room}/reports")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["reports"].as_array().unwrap().len(), 2);
    let (_, all) = app.get(&root, "/admin/reports").await;
    assert_eq!(all["reports"].as_array().unwrap().len(), 2);
    let id = list["reports"][0]["id"].as_str().unwrap().to_owned();

    // A member cannot close it; the moderator deletes the message, closing both reports.
    let resolve = format!("/reports/{id}/resolve");
    let (status, _) = app
        .post(&ana, &resolve, json!({"resolution": "dismissed"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&moder, &resolve, json!({"resolution": "deactivated"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only admins deactivate");
    let (status, body) = app
        .post(&moder, &resolve, json!({"resolution": "message_deleted"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"]["resolution"], "message_deleted");
    assert_eq!(body["report"]["message"], Value::Null);
    let deleted = bob_ws.next_of("message_deleted").await;
    assert_eq!(deleted["message_seq"], seq);
    let (_, open) = app.get(&root, "/admin/reports").await;
    assert_eq!(open["reports"].as_array().unwrap().len(), 0);
    let (_, all) = app.get(&root, "/admin/reports?all=true").await;
    assert_eq!(all["reports"].as_array().unwrap().len(), 2);
    let (status, _) = app
        .post(&moder, &resolve, json!({"resolution": "dismissed"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "closed already");

    // The admin, not a member of the room, bans the sender over another report.
    app.post(&ana, &report(seq2), json!({"reason": "still"}))
        .await;
    let (status, body) = resolve_newest(&app, &root, "banned").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let banned = bob_ws.next_of("member_banned").await;
    assert_eq!(banned["user_id"], bob.id);
    let (status, _) = app.join(&bob, "Town", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Deleting as an admin who is no member, and deactivating the sender.
    let carl = app.register("carl").await;
    app.join(&carl, "Town", None).await;
    let (_, sent) = app.send_http(&carl, &room, "c1", "more spam").await;
    let seq3 = sent["message"]["seq"].as_i64().unwrap();
    app.post(&ana, &report(seq3), json!({"reason": "spam"}))
        .await;
    let (status, body) = resolve_newest(&app, &root, "message_deleted").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = app.history(&ana, &room, "").await;
    let last = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["deleted"], true, "{last}");
    let (status, _) = app.post(&ana, &report(seq3), json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a deleted message");
    let (_, sent) = app.send_http(&carl, &room, "c2", "spam again").await;
    let seq4 = sent["message"]["seq"].as_i64().unwrap();
    app.post(&ana, &report(seq4), json!({"reason": "spam"}))
        .await;
    let (status, body) = resolve_newest(&app, &root, "deactivated").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get(&carl, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An admin's ban never removes the room's owner.
    let (_, sent) = app.send_http(&owner, &room, "o1", "owner's words").await;
    let seq5 = sent["message"]["seq"].as_i64().unwrap();
    app.post(&ana, &report(seq5), json!({"reason": "rude"}))
        .await;
    let (status, _) = resolve_newest(&app, &root, "banned").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let resolved = audit_actions(&app, &root, "?action=report_resolved").await;
    assert_eq!(resolved.len(), 4);
    let deletions = audit_actions(&app, &root, "?action=message_deleted").await;
    assert_eq!(deletions.len(), 2, "{deletions:?}");
}

#[tokio::test]
async fn admins_read_any_room_and_its_owner_sees_that_they_did() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let owner = app.register("owner").await;
    let ana = app.register("ana").await;
    let room = app
        .create_room(&owner, "Hideout", Some("secret key 1"))
        .await;
    app.join(&ana, "Hideout", Some("secret key 1")).await;
    app.send_http(&owner, &room, "o1", "only us").await;

    let (status, _) = app.get(&ana, "/admin/rooms").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, rooms) = app.get(&root, "/admin/rooms?q=hide").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rooms["rooms"][0]["id"], room);
    assert_eq!(rooms["rooms"][0]["kind"], "private");
    assert_eq!(rooms["rooms"][0]["member_count"], 2);
    let (status, _) = app
        .get(&ana, &format!("/admin/rooms/{room}/messages"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, members) = app
        .get(&root, &format!("/admin/rooms/{room}/members"))
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    let (status, _) = app.get(&ana, &format!("/admin/rooms/{room}/members")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = app
        .get(&root, &format!("/admin/rooms/{room}/messages"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["messages"][0]["body"], "only us");
    assert_eq!(page["history_start"], true);

    // The owner sees the read in the room's log; a member may not read the log.
    let (status, _) = app.get(&ana, &format!("/rooms/{room}/audit")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, log) = app.get(&owner, &format!("/rooms/{room}/audit")).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["entries"][0]["action"], "room_read_by_admin");
    assert_eq!(log["entries"][0]["actor_username"], "root");
    assert_eq!(
        log["entries"][0]["address"], "",
        "addresses are for server admins"
    );

    // Deleting the room keeps its log; so does deleting the actor.
    let mut ws = app.ws(&ana).await.0;
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/admin/rooms/{room}"),
            Some(&root.token),
            Some(json!({"reason": "abandoned"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = ws.next_of("room_deleted").await;
    assert_eq!(gone["room_id"], room);
    let (_, log) = app
        .get(&root, &format!("/admin/audit?room_id={room}"))
        .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["room_deleted", "room_read_by_admin"]);
    assert_eq!(log["entries"][0]["reason"], "abandoned");
}

#[tokio::test]
async fn the_audit_log_filters_and_exports() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let ana = app.register("ana").await;
    for name in ["One", "Two", "Three"] {
        app.patch(&root, "/admin/settings", json!({"server_name": name}))
            .await;
    }
    app.patch(
        &root,
        &format!("/admin/users/{}", ana.id),
        json!({"deactivated": true}),
    )
    .await;
    let (status, _) = app.get(&ana, "/admin/audit").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "deactivated");

    let (_, all) = app.get(&root, "/admin/audit").await;
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[1]["reason"], "\"Two\" → \"Three\"");
    let newest = entries[0]["id"].as_i64().unwrap();
    // Paging back, by actor, by target, by time.
    let (_, older) = app
        .get(&root, &format!("/admin/audit?before={newest}&limit=2"))
        .await;
    assert_eq!(older["entries"].as_array().unwrap().len(), 2);
    assert_eq!(older["entries"][0]["id"], newest - 1);
    let (_, mine) = app
        .get(&root, &format!("/admin/audit?actor={}", root.id))
        .await;
    assert_eq!(mine["entries"].as_array().unwrap().len(), 4);
    let (_, named) = app.get(&root, "/admin/audit?target=server_name").await;
    assert_eq!(named["entries"].as_array().unwrap().len(), 3);
    let (_, future) = app
        .get(&root, "/admin/audit?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(future["entries"].as_array().unwrap().len(), 0);
    let (status, _) = app.get(&root, "/admin/audit?format=xml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // CSV and JSON downloads.
    let res = app
        .http
        .get(app.url("/admin/audit?format=csv&action=settings_changed"))
        .bearer_auth(&root.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,ts,actor,actor_username,action,room_id,target,target_username,reason,address"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].contains("\"settings_changed\""));
    assert!(
        lines[1].contains("\"\"\"Two\"\" → \"\"Three\"\"\""),
        "{}",
        lines[1]
    );
    let res = app
        .http
        .get(app.url("/admin/audit?format=json"))
        .bearer_auth(&root.token)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".json")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["entries"].as_array().unwrap().len(), 4);

    // The dashboard.
    let (status, dash) = app.get(&root, "/admin/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["totals"]["users"], 2);
    assert_eq!(dash["totals"]["deactivated_users"], 1);
    assert_eq!(dash["totals"]["admins"], 1);
    assert!(dash["uptime_secs"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn settings_take_effect_at_once_and_survive_a_restart() {
    let mut app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let change = json!({"max_upload_bytes": 1000, "send_rate_per_sec": 1, "send_burst": 2,
        "retention_max_messages": 5});
    let (status, body) = app.patch(&root, "/admin/settings", change).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The upload limit: for uploads, and told to clients in `ready`.
    let (_, ready) = app.ws(&root).await;
    assert_eq!(ready["limits"]["max_upload_bytes"], 1000);
    let res = app
        .http
        .post(app.url("/uploads?filename=big.txt"))
        .bearer_auth(&root.token)
        .body(vec![b'a'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The send rate: a burst of two, then refused.
    let room = app.create_room(&root, "Fast", None).await;
    let mut codes = Vec::new();
    for i in 0..4 {
        let (status, _) = app.send_http(&root, &room, &format!("c{i}"), "hi").await;
        codes.push(status);
    }
    assert_eq!(codes[..2], [StatusCode::CREATED, StatusCode::CREATED]);
    assert_eq!(codes[3], StatusCode::TOO_MANY_REQUESTS);
    // Kept in the database: a restart keeps them.
    app.shutdown().await;
    let app = app.restart().await;
    let (status, body) = app.get(&root, "/admin/settings").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["max_upload_bytes"], 1000);
    assert_eq!(body["retention_max_messages"], 5);
    let (status, body) = app
        .patch(
            &root,
            "/admin/settings",
            json!({"retention_max_messages": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retention_max_messages"], Value::Null);
}

#[tokio::test]
async fn deleting_an_account_keeps_or_deletes_its_messages_and_hands_on_its_rooms() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let [ana, bob, cleo] = [
        app.register("ana").await,
        app.register("bob").await,
        app.register("cleo").await,
    ];
    // Ana owns two rooms: one with members (bob a moderator), one she is alone in.
    let busy = app.create_room(&ana, "Busy", None).await;
    let lonely = app.create_room(&ana, "Lonely", None).await;
    app.join(&bob, "Busy", None).await;
    app.join(&cleo, "Busy", None).await;
    set_role(&app, &ana, &busy, &bob, "moderator").await;
    app.send_http(&ana, &busy, "a1", "ana was here").await;
    app.send_http(&cleo, &busy, "c1", "cleo was here").await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;

    let (status, _) = app
        .delete(&root, &format!("/admin/users/{}?messages=delete", root.id))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not yourself");
    let (status, _) = app
        .delete(&root, &format!("/admin/users/{}?messages=maybe", ana.id))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .delete(&bob, &format!("/admin/users/{}?messages=keep", ana.id))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Kept, anonymised.
    let (status, body) = app
        .delete(&root, &format!("/admin/users/{}?messages=keep", ana.id))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(ana_ws.closed().await, Some(4001));
    let changed = bob_ws.next_of("role_changed").await;
    assert_eq!(changed["user_id"], bob.id);
    assert_eq!(changed["role"], "owner");
    let left = bob_ws.next_of("member_left").await;
    assert_eq!(left["user_id"], ana.id);
    let (_, room) = app.get(&bob, &format!("/rooms/{busy}")).await;
    assert_eq!(room["room"]["owner_id"], bob.id);
    let (status, rooms) = app.get(&root, "/admin/rooms?q=lonely").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rooms["rooms"].as_array().unwrap().len(),
        0,
        "{lonely} was deleted"
    );
    let (_, page) = app.history(&bob, &busy, "").await;
    let first = &page["messages"][0];
    assert_eq!(first["body"], "ana was here");
    assert_eq!(first["sender"]["display_name"], "Deleted user");
    assert!(
        first["sender"]["username"]
            .as_str()
            .unwrap()
            .starts_with("deleted-")
    );
    let body = json!({"username": "ana", "password": "correct horse battery"});
    let (status, _) = app.call("POST", "/auth/login", None, Some(body)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the name is free, the account gone"
    );
    // The name can be taken again.
    app.register("ana").await;

    // With content: cleo's messages become tombstones everyone is told about, and her direct
    // conversations go whole, their keys destroyed.
    let (_, dm) = app.post(&cleo, "/dms", json!({"user_id": bob.id})).await;
    let dm = dm["room"]["id"].as_str().unwrap().to_owned();
    app.send_http(&cleo, &dm, "d1", "between us").await;
    let key_of_dm = format!("select count(*) from natter_keys where id = '{dm}'");
    assert_eq!(
        count_rows_at(&app.config.key_store_url(), &key_of_dm).await,
        1
    );
    let (status, _) = app
        .delete(&root, &format!("/admin/users/{}?messages=delete", cleo.id))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&bob, &format!("/rooms/{dm}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        count_rows_at(&app.config.key_store_url(), &key_of_dm).await,
        0
    );
    let deleted = bob_ws.next_of("message_deleted").await;
    assert_eq!(deleted["message"]["deleted"], true);
    let (_, page) = app.history(&bob, &busy, "").await;
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["ana was here", ""]);
    let (_, log) = app.get(&root, "/admin/audit?action=user_deleted").await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
    assert_eq!(log["entries"][0]["reason"], "with their messages");
}
