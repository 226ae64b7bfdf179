//! Profiles: display name, status, avatar uploads (type from the bytes, size limit, metadata
//! stripped) and generated avatars.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn picture(format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(300, 200, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

/// A JPEG carrying an EXIF segment with a secret location in it.
fn jpeg_with_exif() -> Vec<u8> {
    let jpeg = picture(ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08GPS-SECRET 52.52N 13.40E".to_vec();
    exif.resize(64, 0);
    let len = (exif.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn upload(
    app: &TestApp,
    user: &User,
    bytes: Vec<u8>,
    content_type: &str,
) -> (StatusCode, serde_json::Value) {
    let res = app
        .http
        .put(app.url("/me/avatar"))
        .bearer_auth(&user.token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or_default())
}

async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("http://{}{path}", app.addr))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn profile_changes_reach_the_rooms() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Club", None).await;
    app.join(&bob, "club", None).await;
    let (mut bob_ws, _) = app.ws(&bob).await;
    let (mut ana_ws, _) = app.ws(&ana).await;

    let (status, me) = app
        .patch(&ana, "/me", json!({"display_name": " Ana Lovelace ", "status_text": "On holiday", "status_emoji": "🌴"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["display_name"], "Ana Lovelace");
    assert_eq!(
        (
            me["user"]["status_text"].as_str(),
            me["user"]["status_emoji"].as_str()
        ),
        (Some("On holiday"), Some("🌴"))
    );
    let updated = bob_ws.next_of("user_updated").await;
    assert_eq!(
        (
            updated["room_id"].as_str(),
            updated["user"]["display_name"].as_str()
        ),
        (Some(room.as_str()), Some("Ana Lovelace"))
    );
    let (_, user) = app.get(&bob, &format!("/users/{}", ana.id)).await;
    assert_eq!(user["user"]["status_text"], "On holiday");

    // Messages sent afterwards carry the new name, even from a socket opened before.
    let message = ana_ws.send_message(&room, "m1", "hi").await;
    assert_eq!(message["sender"]["display_name"], "Ana Lovelace");

    for bad in [
        json!({"display_name": ""}),
        json!({"display_name": "x".repeat(65)}),
        json!({"status_text": "x".repeat(141)}),
        json!({"status_emoji": "smile"}),
        json!({"presence": "busy"}),
        json!({"nickname": "a"}),
    ] {
        let (status, body) = app.patch(&ana, "/me", bad.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_input")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn avatars_of_each_allowed_type_become_square_pngs() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (_, me) = app.get(&ana, "/me").await;
    let generated = me["user"]["avatar_url"].as_str().unwrap().to_owned();
    assert_eq!(generated, "/avatars/default/ana.svg");
    let res = fetch(&app, &generated).await;
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().contains(">AN<"), "initials");

    let mut urls = Vec::new();
    for (format, mime) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::WebP, "image/webp"),
        (ImageFormat::Gif, "image/gif"),
    ] {
        // The declared type is ignored; the bytes decide.
        let (status, body) = upload(
            &app,
            &ana,
            picture(format),
            if format == ImageFormat::Gif {
                "application/octet-stream"
            } else {
                mime
            },
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {body}");
        let url = body["user"]["avatar_url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with("/avatars/") && url.ends_with("/256.png"),
            "{url}"
        );
        let res = fetch(&app, &url).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/png");
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (256, 256));
        let small = fetch(&app, &url.replace("/256.png", "/64.png")).await;
        let img = image::load_from_memory(&small.bytes().await.unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (64, 64));
        urls.push(url);
    }
    assert_eq!(
        fetch(&app, "/avatars/nope/256.png").await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .call("DELETE", "/me/avatar", Some(&ana.token), None)
        .await;
    assert_eq!(
        (status, body["user"]["avatar_url"].as_str()),
        (StatusCode::OK, Some("/avatars/default/ana.svg"))
    );
}

#[tokio::test]
async fn bad_avatars_are_refused_with_clear_errors() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let text = b"this is a text file renamed avatar.png".to_vec();
    let (status, body) = upload(&app, &ana, text, "image/png").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    // A PNG header on garbage is not an image either.
    let mut fake = picture(ImageFormat::Png)[..40].to_vec();
    fake.extend_from_slice(&[0u8; 100]);
    let (status, _) = upload(&app, &ana, fake, "image/png").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = picture(ImageFormat::Png);
    huge.resize(5 * 1024 * 1024 + 10, 0);
    let (status, body) = upload(&app, &ana, huge, "image/png").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (_, me) = app.get(&ana, "/me").await;
    assert_eq!(
        me["user"]["avatar_url"], "/avatars/default/ana.svg",
        "nothing changed"
    );
}

#[tokio::test]
async fn avatar_metadata_is_stripped() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let original = jpeg_with_exif();
    assert!(original.windows(10).any(|w| w == b"GPS-SECRET"));
    let (status, body) = upload(&app, &ana, original, "image/jpeg").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for size in ["256", "64"] {
        let url = body["user"]["avatar_url"]
            .as_str()
            .unwrap()
            .replace("256", size);
        let stored = fetch(&app, &url).await.bytes().await.unwrap();
        assert!(
            !stored.windows(10).any(|w| w == b"GPS-SECRET"),
            "the location is gone"
        );
        assert!(
            !stored
                .windows(4)
                .any(|w| w == b"Exif" || w == b"eXIf" || w == b"tEXt"),
            "no metadata chunks"
        );
    }
}

#[tokio::test]
async fn the_client_language_is_a_profile_setting() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (_, me) = app.get(&ana, "/me").await;
    assert_eq!(me["locale"], "", "a new account follows the browser");
    let (status, me) = app.patch(&ana, "/me", json!({"locale": "ar"})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["locale"], "ar");
    assert_eq!(app.get(&ana, "/me").await.1["locale"], "ar");
    // Nobody else sees it.
    let bob = app.register("bob").await;
    let (_, found) = app.get(&bob, &format!("/users/{}", ana.id)).await;
    assert!(!found.to_string().contains("\"locale\""), "{found}");
    let (status, body) = app.patch(&ana, "/me", json!({"locale": "xx"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["locale"].is_string(), "{body}");
    let (_, me) = app.patch(&ana, "/me", json!({"locale": ""})).await;
    assert_eq!(me["locale"], "");
}
