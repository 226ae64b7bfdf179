//! Search: words with accents, prefixes, URLs and code identifiers are found; permissions are
//! part of the query (private rooms, `joined` history, bans); deleted text is never found and
//! edited text by its new words only; pages follow `next`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn search(app: &TestApp, user: &User, query: &str) -> (StatusCode, Value) {
    let q: String = url_escape(query);
    app.get(user, &format!("/search?q={q}")).await
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bodies(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|r| r["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn words_prefixes_urls_and_identifiers_are_found_newest_first() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Ops", None).await;
    for (i, body) in [
        "The deployment went fine",
        "Lunch at the Café Crème?",
        "Docs live at https://example.com/guide/setup",
        "call parse_room_name() before saving",
        "unrelated chatter",
        "second deployment tomorrow",
    ]
    .iter()
    .enumerate()
    {
        app.send_http(&ana, &room, &format!("m{i}"), body).await;
    }
    let (status, page) = search(&app, &ana, "deplo").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        bodies(&page),
        ["second deployment tomorrow", "The deployment went fine"],
        "newest first"
    );
    assert_eq!(page["results"][0]["room_id"], room.as_str());
    assert_eq!(
        page["results"][0]["highlights"],
        json!([[7, 17]]),
        "the word found"
    );
    assert_eq!(page["next"], Value::Null);
    assert_eq!(
        bodies(&search(&app, &ana, "cafe creme").await.1),
        ["Lunch at the Café Crème?"]
    );
    assert_eq!(
        bodies(&search(&app, &ana, "CAFÉ").await.1),
        ["Lunch at the Café Crème?"]
    );
    assert_eq!(
        bodies(&search(&app, &ana, "example.com/guide").await.1).len(),
        1
    );
    assert_eq!(
        bodies(&search(&app, &ana, "parse_room_name").await.1).len(),
        1
    );
    assert_eq!(bodies(&search(&app, &ana, "room_name").await.1).len(), 1);
    // Only the last word is a prefix: "deplo went" finds nothing, "went deplo" the first.
    assert!(bodies(&search(&app, &ana, "deplo went").await.1).is_empty());
    assert_eq!(
        bodies(&search(&app, &ana, "went deplo").await.1),
        ["The deployment went fine"]
    );
    assert!(
        bodies(&search(&app, &ana, "deployment lunch").await.1).is_empty(),
        "every word must be found"
    );
    for bad in ["", "   ", "!!!"] {
        let (status, body) = search(&app, &ana, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
    let (status, _) = app.get(&ana, "/search").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "q is required");
}

#[tokio::test]
async fn only_what_the_caller_may_read_now_is_found() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let secret = app.create_room(&ana, "Secret", Some("hunter22")).await;
    app.send_http(&ana, &secret, "s1", "the launch code is zebra")
        .await;
    let open = app.create_room(&ana, "Open", None).await;
    app.send_http(&ana, &open, "o1", "zebra crossing in the open")
        .await;
    let late = app.create_room(&ana, "Late", None).await;
    app.patch(
        &ana,
        &format!("/rooms/{late}"),
        json!({"history": "joined"}),
    )
    .await;
    app.send_http(&ana, &late, "l1", "zebra before bob joined")
        .await;
    app.join(&bob, "Late", None).await;
    app.send_http(&ana, &late, "l2", "zebra after bob joined")
        .await;

    assert_eq!(bodies(&search(&app, &ana, "zebra").await.1).len(), 4);
    let bob_sees = bodies(&search(&app, &bob, "zebra").await.1);
    assert_eq!(
        bob_sees,
        ["zebra after bob joined", "zebra crossing in the open"],
        "no private room, no pre-join history"
    );
    let eve_sees = bodies(&search(&app, &eve, "zebra").await.1);
    assert_eq!(
        eve_sees,
        ["zebra crossing in the open"],
        "public rooms with shared history are readable by all"
    );
    // A room outsiders may not read answers as history does.
    let (status, _) = app
        .get(&eve, &format!("/search?q=zebra&room_id={secret}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = app
        .get(&ana, &format!("/search?q=zebra&room_id={open}"))
        .await;
    assert_eq!((status, bodies(&page).len()), (StatusCode::OK, 1));
    // A ban hides the room's messages.
    let (status, _) = app
        .post(
            &ana,
            &format!("/rooms/{open}/bans"),
            json!({"user_id": eve.id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(bodies(&search(&app, &eve, "zebra").await.1).is_empty());
}

#[tokio::test]
async fn deleted_text_is_never_found_and_edited_text_by_its_new_words() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Edits", None).await;
    app.send_http(&ana, &room, "a", "original wording with apricot")
        .await;
    app.send_http(&ana, &room, "b", "to be removed: blueberry")
        .await;
    let (status, _) = app
        .patch(
            &ana,
            &format!("/rooms/{room}/messages/1"),
            json!({"body": "new wording with cherry"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/rooms/{room}/messages/2"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        bodies(&search(&app, &ana, "apricot").await.1).is_empty(),
        "the old words are gone"
    );
    assert_eq!(
        bodies(&search(&app, &ana, "cherry").await.1),
        ["new wording with cherry"]
    );
    assert!(bodies(&search(&app, &ana, "blueberry").await.1).is_empty());
    assert_eq!(bodies(&search(&app, &ana, "wording").await.1).len(), 1);
    // An edit keeps the message's place among results (it is not made newer).
    app.send_http(&ana, &room, "c", "later wording").await;
    app.patch(
        &ana,
        &format!("/rooms/{room}/messages/1"),
        json!({"body": "newest wording with cherry"}),
    )
    .await;
    assert_eq!(
        bodies(&search(&app, &ana, "wording").await.1),
        ["later wording", "newest wording with cherry"]
    );
    assert_eq!(
        count_rows(&app, "select count(*) from search_docs").await,
        2,
        "the index holds the messages left"
    );
}

#[tokio::test]
async fn pages_follow_next_without_gap_or_repeat() {
    let app = spawn_app_with(|c| {
        c.send_rate_per_sec = 10_000;
        c.send_burst = 10_000;
    })
    .await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Many", None).await;
    for i in 0..45 {
        app.send_http(&ana, &room, &format!("m{i}"), &format!("needle number {i}"))
            .await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(n) => format!("/search?q=needle&limit=20&before={n}"),
            None => "/search?q=needle&limit=20".into(),
        };
        let (status, page) = app.get(&ana, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message"]["seq"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (1..=45).rev().collect::<Vec<i64>>());
    let (status, _) = app.get(&ana, "/search?q=needle&before=nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get(&ana, "/search?q=needle&limit=51").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
