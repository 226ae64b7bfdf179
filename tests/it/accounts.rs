//! Accounts: register, log in and out, password rules, throttling, sessions and sockets,
//! CSRF and Origin rules for cookie sessions.

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

#[tokio::test]
async fn register_login_me_logout() {
    let app = spawn_app().await;
    let ana = app.register("Ana").await;

    let (status, me) = app.get(&ana, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["username"], "Ana");
    assert_eq!(me["user"]["display_name"], "Ana");

    let (status, body) = app
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "ana", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "login ignores case of the username: {body}"
    );
    let second = body["token"].as_str().unwrap().to_owned();
    assert_ne!(second, ana.token, "each login is a new session");

    let (status, _) = app.call("POST", "/auth/logout", Some(&second), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.call("GET", "/me", Some(&second), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = app.get(&ana, "/me").await;
    assert_eq!(status, StatusCode::OK, "the other session lives on");
}

#[tokio::test]
async fn registration_rules() {
    let app = spawn_app().await;
    app.register("taken").await;
    let cases = [
        (
            json!({"username": "ab", "password": "correct horse battery"}),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            json!({"username": "has space", "password": "correct horse battery"}),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            json!({"username": "bob", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            json!({"username": "bob", "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            json!({"username": "bob", "password": "iloveyou"}),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            json!({"username": "bob", "password": "x".repeat(129)}),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            json!({"username": "TAKEN", "password": "correct horse battery"}),
            StatusCode::CONFLICT,
            "",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = app
            .call("POST", "/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} -> {answer}");
        if !field.is_empty() {
            assert_eq!(answer["error"]["code"], "invalid_input");
            assert!(answer["error"]["fields"][field].is_string(), "{answer}");
        } else {
            assert_eq!(answer["error"]["code"], "conflict");
        }
    }
    let (status, body) = app
        .call("POST", "/auth/register", None, Some(json!({"username": "bob", "password": "correct horse battery", "display_name": "  Bob B.  "})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["user"]["display_name"], "Bob B.");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let app = spawn_app_with(|c| c.login_max_failures = 3).await;
    app.register("ana").await;
    let login = |password: &'static str| {
        app.call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "ana", "password": password})),
        )
    };
    // Successful logins are not counted.
    for _ in 0..4 {
        assert_eq!(login("correct horse battery").await.0, StatusCode::OK);
    }
    for _ in 0..3 {
        let (status, body) = login("wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let res = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address() {
    let app = spawn_app_with(|c| c.login_max_failures = 2).await;
    // 2 x 4 = 8 failures from one address across different accounts.
    for i in 0..8 {
        let body = json!({"username": format!("nobody{i}"), "password": "wrong password!"});
        assert_eq!(
            app.call("POST", "/auth/login", None, Some(body)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let body = json!({"username": "someone", "password": "wrong password!"});
    assert_eq!(
        app.call("POST", "/auth/login", None, Some(body)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn logout_closes_that_sessions_sockets_only() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let phone = app.sign_in_again(&ana, "ana").await;
    let (mut desk_ws, _) = app.ws(&ana).await;
    let (mut phone_ws, _) = app.ws(&phone).await;

    app.call("POST", "/auth/logout", Some(&phone.token), None)
        .await;
    assert_eq!(phone_ws.closed().await, Some(4001));

    let room = app.create_room(&ana, "still here", None).await;
    let joined = desk_ws.next_of("member_joined").await;
    assert_eq!(
        joined["room_id"],
        room.as_str(),
        "the desktop socket stays open"
    );
}

#[tokio::test]
async fn password_change_signs_out_other_sessions() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let other = app.sign_in_again(&ana, "ana").await;
    let (mut other_ws, _) = app.ws(&other).await;

    let (status, body) = app
        .post(
            &ana,
            "/me/password",
            json!({"current_password": "wrong one!", "new_password": "a new long phrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post(
            &ana,
            "/me/password",
            json!({"current_password": "correct horse battery", "new_password": "qwertyuiop"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );

    let (status, _) = app
        .post(&ana, "/me/password", json!({"current_password": "correct horse battery", "new_password": "a new long phrase"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(other_ws.closed().await, Some(4001));
    assert_eq!(app.get(&other, "/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&ana, "/me").await.0,
        StatusCode::OK,
        "the session that changed it stays"
    );
    let old = json!({"username": "ana", "password": "correct horse battery"});
    assert_eq!(
        app.call("POST", "/auth/login", None, Some(old)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let new = json!({"username": "ana", "password": "a new long phrase"});
    assert_eq!(
        app.call("POST", "/auth/login", None, Some(new)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cookie_sessions_need_csrf_token_and_allowed_origin() {
    let app = spawn_app_with(|c| c.allowed_origins = vec!["https://chat.example".into()]).await;
    // The client keeps the cookies set by register.
    let res = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("natter_session="))
        .unwrap();
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let me = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK, "reads need no CSRF token");
    let room = json!({"name": "csrf", "visibility": "public"});
    let res = app
        .http
        .post(app.url("/rooms"))
        .json(&room)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "state change without the token"
    );
    let res = app
        .http
        .post(app.url("/rooms"))
        .header("x-csrf-token", "nope")
        .json(&room)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "state change with a wrong token"
    );
    let res = app
        .http
        .post(app.url("/rooms"))
        .header("x-csrf-token", &csrf)
        .json(&room)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let token = session_cookie
        .trim_start_matches("natter_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let open = |origin: Option<&'static str>| {
        let mut req = format!("ws://{}/api/v1/ws", app.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("cookie", format!("natter_session={token}").parse().unwrap());
        if let Some(origin) = origin {
            req.headers_mut().insert("origin", origin.parse().unwrap());
        }
        Ws::connect(req)
    };
    assert!(open(None).await.is_err(), "cookie upgrade without Origin");
    assert!(
        open(Some("https://evil.example")).await.is_err(),
        "cookie upgrade from another origin"
    );
    assert!(
        open(Some("https://chat.example")).await.is_ok(),
        "a configured origin"
    );
    let own: &'static str = Box::leak(format!("http://{}", app.addr).into_boxed_str());
    let mut ws = open(Some(own)).await.expect("the server's own origin");
    assert_eq!(ws.next_event().await["type"], "ready");
}

#[tokio::test]
async fn unauthenticated_calls_are_refused() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/rooms"),
        ("POST", "/rooms/join"),
        ("GET", "/users"),
    ] {
        let (status, body) = app
            .call(method, path, Some("not-a-token"), Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let mut req = format!("ws://{}/api/v1/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert!(Ws::connect(req).await.is_err());
}

#[tokio::test]
async fn users_are_searchable() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    app.register("anabel").await;
    app.register("bob").await;
    let (status, body) = app.get(&ana, "/users?q=AN").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ana", "anabel"]);
    let (status, body) = app.get(&ana, &format!("/users/{}", ana.id)).await;
    assert_eq!(
        (status, body["user"]["username"].as_str()),
        (StatusCode::OK, Some("ana"))
    );
    assert_eq!(
        app.get(&ana, "/users/nobody").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sessions_are_listed_and_revocable() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let res = app
        .http
        .post(app.url("/auth/login"))
        .header("user-agent", "NatterPhone/1.0")
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let phone_token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = User {
        token: phone_token,
        ..ana.clone()
    };
    let (mut phone_ws, _) = app.ws(&phone).await;

    let (status, body) = app.get(&ana, "/me/sessions").await;
    assert_eq!(status, StatusCode::OK);
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<bool> = sessions
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);
    let phone_session = sessions
        .iter()
        .find(|s| s["user_agent"] == "NatterPhone/1.0")
        .expect("user agent kept");
    let id = phone_session["id"].as_str().unwrap();

    let (status, _) = app
        .call(
            "DELETE",
            &format!("/me/sessions/{id}"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not bob's session");
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/me/sessions/{id}"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(phone_ws.closed().await, Some(4001));
    assert_eq!(app.get(&phone, "/me").await.0, StatusCode::UNAUTHORIZED);
}
