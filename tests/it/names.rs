//! Claiming names: hidden characters refused in room and display names, look-alike room names
//! taken as one name, and the cap on the rooms one user may own.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn error(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn hidden_characters_are_refused_in_room_and_display_names() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    for name in [
        "\u{202E}moc.elgoog",
        "Gen\u{200B}eral",
        "\u{200B}\u{200B}",
        "\u{FEFF}",
        "\u{3164}",
        "\u{2066}ana\u{2069}",
    ] {
        let room = app
            .post(
                &ana,
                "/rooms",
                json!({"name": name, "visibility": "public"}),
            )
            .await;
        assert_eq!(
            error(&room),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{name:?}"
        );
        let why = room.1["error"]["fields"]["name"].as_str().unwrap();
        assert!(why.contains("invisible or text-direction"), "{why}");

        let profile = app.patch(&ana, "/me", json!({"display_name": name})).await;
        assert_eq!(
            error(&profile),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{name:?}"
        );
        assert!(profile.1["error"]["fields"]["display_name"].is_string());

        let body =
            json!({"username": "bob", "password": "correct horse battery", "display_name": name});
        let register = app.call("POST", "/auth/register", None, Some(body)).await;
        assert_eq!(
            error(&register),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{name:?}"
        );
    }

    // Joiners inside emoji sequences are part of the emoji.
    let (status, body) = app
        .patch(&ana, "/me", json!({"display_name": "Ana 👩🏽\u{200D}💻"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["display_name"], "Ana 👩🏽\u{200D}💻");
    app.create_room(&ana, "🏳\u{FE0F}\u{200D}🌈 pride", None)
        .await;
}

#[tokio::test]
async fn look_alike_room_names_are_one_name() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let eve = app.register("eve").await;
    let general = app.create_room(&ana, "General", None).await;
    app.create_room(&ana, "Secret", Some("open sesame")).await;

    let create = |name: &'static str| {
        app.post(
            &eve,
            "/rooms",
            json!({"name": name, "visibility": "public"}),
        )
    };
    let taken = create("GENERAL").await;
    assert_eq!(error(&taken), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(taken.1["error"]["message"], "a room with that name exists");
    for alike in [
        "G\u{0435}neral",
        "Genera1",
        "GeneraI",
        "Ｇｅｎｅｒａｌ",
        "Gen\u{200A}eral",
        "Secr\u{0435}t",
    ] {
        let answer = create(alike).await;
        assert_eq!(
            error(&answer),
            (StatusCode::CONFLICT, "conflict"),
            "{alike:?}"
        );
        assert_eq!(
            answer.1["error"]["message"], "a room with a similar-looking name exists",
            "{alike:?}"
        );
    }

    // Lookup by name stays exact (ignoring case): a look-alike finds nothing.
    let (status, body) = app.join(&eve, "general", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"]["id"], general.as_str());
    assert_eq!(
        app.join(&eve, "G\u{0435}neral", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, found) = app.get(&eve, "/rooms/public?q=GEN").await;
    assert_eq!(found["rooms"].as_array().unwrap().len(), 1, "{found}");

    // Deleting a room frees its look-alikes.
    let deleted = app
        .call(
            "DELETE",
            &format!("/rooms/{general}"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    assert_eq!(create("Genera1").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn rooms_per_user_are_capped() {
    let app = spawn_app_with(|c| c.max_rooms_per_user = 2).await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    // Direct rooms are not counted.
    let direct = app.post(&ana, "/dms", json!({"user_id": bob.id})).await;
    assert!(direct.0.is_success(), "{}", direct.1);
    let first = app.create_room(&ana, "one", None).await;
    app.create_room(&ana, "two", Some("open sesame")).await;

    let refused = app
        .post(
            &ana,
            "/rooms",
            json!({"name": "three", "visibility": "public"}),
        )
        .await;
    assert_eq!(error(&refused), (StatusCode::FORBIDDEN, "forbidden"));
    let why = refused.1["error"]["message"].as_str().unwrap();
    assert!(why.contains("max_rooms_per_user"), "{why}");
    // Others have their own allowance; a deleted room frees a place.
    app.create_room(&bob, "three", None).await;
    let deleted = app
        .call("DELETE", &format!("/rooms/{first}"), Some(&ana.token), None)
        .await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    app.create_room(&ana, "four", None).await;

    // Server admins have no cap.
    run_sql(
        &app,
        &format!("update users set is_admin = 1 where id = '{}'", ana.id),
    )
    .await;
    app.create_room(&ana, "five", None).await;
    app.create_room(&ana, "six", None).await;
}
