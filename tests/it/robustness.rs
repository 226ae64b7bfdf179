//! Bad input of every kind gets a clear error with a stable code; the connection stays usable
//! where it can; limits close sockets with documented codes; headers and documents are there.

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::helpers::*;

#[tokio::test]
async fn websocket_errors_have_codes_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Errors", None).await;
    let bobs = app.create_room(&bob, "Bobs", Some("bob's key")).await;
    let bobs_public = app.create_room(&bob, "Bobs public", None).await;
    let (mut ws, _) = app.ws(&ana).await;

    let cases: Vec<(WsMessage, &str, Option<&str>)> = vec![
        (WsMessage::text("{not json"), "invalid_input", None),
        (WsMessage::text("[1,2]"), "invalid_input", None),
        (WsMessage::text(r#"{"room_id":"x"}"#), "invalid_input", None),
        (WsMessage::text(r#"{"type":"shout"}"#), "unknown_type", None),
        (
            WsMessage::text(r#"{"type":"send","room_id":"x"}"#),
            "invalid_input",
            None,
        ),
        (
            WsMessage::text(r#"{"type":"send","room_id":5,"client_id":"c1","body":"b"}"#),
            "invalid_input",
            Some("c1"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":"nope","client_id":"c2","body":"hi"}).to_string(),
            ),
            "not_found",
            Some("c2"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":bobs,"client_id":"c3","body":"hi"}).to_string(),
            ),
            "not_found",
            Some("c3"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":bobs_public,"client_id":"c3b","body":"hi"})
                    .to_string(),
            ),
            "forbidden",
            Some("c3b"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":room,"client_id":"c4","body":""}).to_string(),
            ),
            "invalid_input",
            Some("c4"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":room,"client_id":"c5","body":"x".repeat(4001)})
                    .to_string(),
            ),
            "payload_too_large",
            Some("c5"),
        ),
        (
            WsMessage::text(
                json!({"type":"send","room_id":room,"client_id":"","body":"hi"}).to_string(),
            ),
            "invalid_input",
            Some(""),
        ),
        (
            WsMessage::text(json!({"type":"read","room_id":room,"seq":"one"}).to_string()),
            "invalid_input",
            None,
        ),
        (
            WsMessage::text(json!({"type":"typing","room_id":bobs}).to_string()),
            "not_found",
            None,
        ),
        (
            WsMessage::text(json!({"type":"sync","since":{"nope": 0}}).to_string()),
            "not_found",
            None,
        ),
        (WsMessage::binary(vec![1u8, 2, 3]), "invalid_input", None),
    ];
    for (frame, code, client_id) in cases {
        let shown = format!("{frame:?}").chars().take(80).collect::<String>();
        ws.send_raw(frame).await;
        let error = ws.next_of("error").await;
        assert_eq!(error["code"], code, "{shown} -> {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        if let Some(id) = client_id {
            assert_eq!(error["client_id"], id, "{shown}");
        }
    }
    // After all that, the socket still works.
    let ok = ws.send_message(&room, "fine", "still here").await;
    assert_eq!(ok["seq"], 1);
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(seqs(&page["messages"]), [1], "nothing bad was stored");
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    ws.send_raw(WsMessage::text("x".repeat(64 * 1024 + 1)))
        .await;
    assert_eq!(ws.closed().await, Some(1009));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    // A text frame carrying bytes that are not UTF-8 (tungstenite masks it as a client must).
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send_raw(WsMessage::Frame(bad)).await;
    assert_eq!(
        ws.closed().await,
        Some(1007),
        "invalid payload data, not 1001 (which asks clients to come back)"
    );
}

#[tokio::test]
async fn a_frame_that_breaks_the_websocket_protocol_closes_with_1002() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    // Data opcode 3 is reserved.
    let bad = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Reserved(3)), true);
    ws.send_raw(WsMessage::Frame(bad)).await;
    assert_eq!(ws.closed().await, Some(1002));
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let app = spawn_app_with(|c| {
        c.idle_timeout_secs = 1;
        c.ping_interval_secs = 1;
    })
    .await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    // This client does not read, so it answers no pings: the server gives up on it.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(ws.closed().await, Some(4009));
}

#[tokio::test]
async fn http_errors_are_json_with_stable_codes() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Http", None).await;

    let res = app
        .http
        .post(app.url("/rooms"))
        .bearer_auth(&ana.token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");

    let res = app
        .http
        .post(app.url("/rooms"))
        .bearer_auth(&ana.token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "no JSON content type"
    );

    let huge = json!({"client_id": "big", "body": "x".repeat(70 * 1024)});
    let (status, body) = app
        .post(&ana, &format!("/rooms/{room}/messages"), huge)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let long = json!({"client_id": "long", "body": "é".repeat(4001)});
    let (status, body) = app
        .post(&ana, &format!("/rooms/{room}/messages"), long)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    assert_eq!(
        app.send_http(&ana, &room, "ok", &"é".repeat(4000)).await.0,
        StatusCode::CREATED
    );

    let (status, body) = app.get(&ana, "/no/such/thing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app.get(&ana, "/rooms/nope/messages").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app
        .call("DELETE", "/rooms/nope/bans/x", Some(&ana.token), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let res = app
        .http
        .delete(app.url("/rooms/public"))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let res = app
        .http
        .get(format!("http://{}/api/v2/rooms", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.get(&ana, "/ws").await;
    assert!(
        status.is_client_error(),
        "a plain GET of the socket endpoint"
    );
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");

    // SQL-looking input is only ever data.
    let (status, body) = app.get(&ana, "/rooms/public?q=%27%20or%201%3D1%20--").await;
    assert_eq!(
        (status, body["rooms"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
}

/// PostgreSQL can neither store nor compare a string with NUL; schemathesis found the 500s
/// that followed. Such input is refused where it enters, on either backend.
#[tokio::test]
async fn nul_characters_are_refused_not_server_errors() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Nul", None).await;
    let body = json!({"client_id": "c-1", "body": "a\u{0}b"});
    let ban = json!({"user_id": bob.id, "reason": "a\u{0}b"});
    let cases = [
        ("POST", format!("/rooms/{room}/messages"), Some(body)),
        ("POST", format!("/rooms/{room}/bans"), Some(ban)),
        ("POST", "/dms".into(), Some(json!({"user_id": "U\u{0}"}))),
        ("GET", "/rooms/R%00/messages".into(), None),
        ("GET", "/users?q=a%00".into(), None),
        ("GET", "/rooms/public?q=a%00".into(), None),
    ];
    for (method, path, body) in cases {
        let (status, answer) = app.call(method, &path, Some(&ana.token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input", "{method} {path}");
    }
    let login = json!({"username": "a\u{0}b", "password": "correct horse battery"});
    let (status, _) = app.call("POST", "/auth/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let avatar = format!("http://{}/avatars/a%00/256.png", app.addr);
    let res = app.http.get(avatar).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.send_http(&ana, &room, "c-2", "fine").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = spawn_app().await;
    for path in ["/", "/healthz", "/api/v1/me", "/api/openapi.json", "/nope"] {
        let res = app
            .http
            .get(format!("http://{}{path}", app.addr))
            .send()
            .await
            .unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test]
async fn health_and_openapi_document() {
    let app = spawn_app().await;
    let health: serde_json::Value = app
        .http
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let doc: serde_json::Value = app
        .http
        .get(format!("http://{}/api/openapi.json", app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/rooms",
        "/api/v1/rooms/public",
        "/api/v1/rooms/join",
        "/api/v1/rooms/{id}",
        "/api/v1/rooms/{id}/leave",
        "/api/v1/rooms/{id}/members",
        "/api/v1/rooms/{id}/bans",
        "/api/v1/rooms/{id}/bans/{user_id}",
        "/api/v1/rooms/{id}/messages",
        "/api/v1/dms",
        "/api/v1/users",
        "/api/v1/ws",
        "/api/v1/me/avatar",
        "/api/v1/me/sessions",
        "/api/v1/rooms/{id}/receipts",
        "/api/v1/rooms/{id}/notify",
        "/api/v1/rooms/{id}/read",
        "/api/v1/users/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn readiness_and_metrics() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Counted", None).await;
    let (mut ws, _) = app.ws(&ana).await;
    ws.send_json(json!({"type": "send", "room_id": room, "client_id": "m1", "body": "count me"}))
        .await;
    let (mut acked, mut delivered) = (false, false);
    while !(acked && delivered) {
        match ws.next_event().await["type"].as_str() {
            Some("ack") => acked = true,
            Some("message") => delivered = true,
            _ => {}
        }
    }
    let ready: serde_json::Value = app
        .http
        .get(format!("http://{}/readyz", app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["database"].as_bool()),
        (Some("ready"), Some(true))
    );
    let text = app
        .http
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "natter_connections",
        "natter_messages_stored_total",
        "natter_deliveries_total",
        "natter_send_to_deliver_seconds_bucket",
        "natter_store_batch_size_bucket",
        "natter_store_commit_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} in /metrics");
    }
}

#[tokio::test]
async fn the_web_client_is_served_compressed_and_revalidated() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/", app.addr);
    let plain = http.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_len = plain.bytes().await.unwrap().len();
    for encoding in ["br", "gzip"] {
        let res = http
            .get(&url)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-encoding"], encoding);
        assert_eq!(
            res.headers()["etag"].to_str().unwrap(),
            etag,
            "one weak tag for all"
        );
        let len = res.bytes().await.unwrap().len();
        assert!(
            len < plain_len,
            "{encoding}: {len} bytes, plain {plain_len}"
        );
    }
    // A cached copy, compressed or not, revalidates with the same tag.
    let again = http
        .get(&url)
        .header("accept-encoding", "br")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}
