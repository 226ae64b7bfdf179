//! Files: uploads are streamed in within the limits, typed by their bytes, described and
//! thumbnailed; images lose their metadata but keep their orientation; they are served with
//! `Range`, `ETag` and inert headers to whoever may read a message that holds them (and to
//! their uploader), and to nobody else; deleting, pruning and never sending them frees their
//! blobs. The suite runs on the local disk (SQLite) and on an S3-compatible server
//! (the PostgreSQL run).

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::helpers::*;

/// GETs a served file (`url` as the API gave it) with extra headers.
async fn fetch(
    app: &TestApp,
    user: &User,
    url: &str,
    headers: &[(&'static str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut req = app
        .http
        .get(format!("http://{}{url}", app.addr))
        .bearer_auth(&user.token);
    for (name, value) in headers {
        req = req.header(*name, HeaderValue::from_str(value).unwrap());
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap())
}

async fn send_with(
    app: &TestApp,
    user: &User,
    room: &str,
    client_id: &str,
    ids: &[&str],
) -> (StatusCode, Value) {
    app.post(
        user,
        &format!("/rooms/{room}/messages"),
        json!({"client_id": client_id, "body": "", "attachments": ids}),
    )
    .await
}

/// A JPEG photo of `w` x `h` with EXIF that says where it was taken and to turn it 90°.
fn photo_with_exif(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 256) as u8, 40, 90]));
    let mut jpeg = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    // A TIFF directory: Orientation = 6 (turn 90° clockwise), ImageDescription = a place.
    let place = b"GPS 48.8584 N 2.2945 E secret-place\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    let offset = 8 + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&[0x01, 0x0e, 0, 2]);
    tiff.extend_from_slice(&(place.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&(offset as u32).to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(place);
    let mut parts = img_parts::jpeg::Jpeg::from_bytes(jpeg.into()).unwrap();
    img_parts::ImageEXIF::set_exif(&mut parts, Some(tiff.into()));
    parts.encoder().bytes().to_vec()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 200, 30, 128]));
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// How many blobs the file store holds (files under `files/`, or rows in the database,
/// which the collector keeps in step with the S3 objects).
async fn blob_count(app: &TestApp) -> i64 {
    count_rows(app, "select count(*) from blobs").await
}

fn local_blob_files(app: &TestApp) -> usize {
    let root = app.dir.path().join("files");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return 0;
    };
    dirs.flatten()
        .map(|d| std::fs::read_dir(d.path()).map_or(0, |f| f.count()))
        .sum()
}

fn spool_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.dir.path().join("spool")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn a_photo_is_described_thumbnailed_and_stripped_of_its_metadata() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let photo = photo_with_exif(800, 600);
    assert!(photo.windows(12).any(|w| w == b"secret-place"));
    let (status, body) = upload(&app, &ana, "../../holiday\u{202e}gpj.exe.jpg", photo).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let up = &body["upload"];
    assert_eq!(up["content_type"], "image/jpeg");
    // Turned by its orientation: 600 wide, 800 high as shown.
    assert_eq!(
        (up["width"].as_i64(), up["height"].as_i64()),
        (Some(600), Some(800))
    );
    // The path and the right-to-left override are gone from the name.
    assert_eq!(up["filename"], "holidaygpj.exe.jpg");
    let (status, headers, bytes) = fetch(&app, &ana, up["url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !bytes.windows(12).any(|w| w == b"secret-place"),
        "the place is gone"
    );
    assert_eq!(bytes.len() as i64, up["size"].as_i64().unwrap());
    // The orientation stays, so browsers show it upright; the pixels were not re-encoded.
    let decoder = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    let mut decoder = decoder;
    assert_eq!(
        image::ImageDecoder::orientation(&mut decoder).unwrap(),
        image::metadata::Orientation::Rotate90
    );
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    // The thumbnail: upright, within 640 x 640.
    let (status, headers, thumb) =
        fetch(&app, &ana, up["thumbnail_url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (480, 640));
    // A PNG with transparency gets a PNG thumbnail.
    let (status, body) = upload(&app, &ana, "dot.png", png(30, 20)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, headers, _) = fetch(
        &app,
        &ana,
        body["upload"]["thumbnail_url"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(headers["content-type"], "image/png");
}

#[tokio::test]
async fn files_are_served_by_range_with_validators() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = upload(&app, &ana, "data.bin", data.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let up = &body["upload"];
    assert_eq!(up["content_type"], "application/octet-stream");
    assert!(up.get("thumbnail_url").is_none() && up.get("width").is_none());
    let url = up["url"].as_str().unwrap();
    let (status, headers, bytes) = fetch(&app, &ana, url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.as_ref(), data.as_slice());
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''data.bin"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    // A middle range, an open-ended one, a suffix.
    for (range, from, to) in [
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=199990-", 199_990, 199_999),
        ("bytes=-10", 199_990, 199_999),
    ] {
        let (status, headers, bytes) = fetch(&app, &ana, url, &[("range", range)]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(bytes.as_ref(), &data[from..=to], "{range}");
        assert_eq!(
            headers["content-range"],
            format!("bytes {from}-{to}/200000").as_str()
        );
    }
    let (status, headers, _) = fetch(&app, &ana, url, &[("range", "bytes=300000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */200000");
    let (status, _, bytes) = fetch(&app, &ana, url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(bytes.is_empty());
    // `If-Range` with another version: the whole file.
    let (status, _, bytes) = fetch(
        &app,
        &ana,
        url,
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.len(), 200_000);
}

#[tokio::test]
async fn html_and_svg_are_served_as_inert_attachments() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    for (name, bytes) in [
        (
            "page.html",
            b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec(),
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
        ),
        (
            "photo.png",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
    ] {
        let (status, body) = upload(&app, &ana, name, bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let up = &body["upload"];
        // The name says PNG; the bytes say otherwise, and the bytes win.
        assert!(
            !up["content_type"].as_str().unwrap().starts_with("image/"),
            "{name}: {up}"
        );
        let (status, headers, _) = fetch(&app, &ana, up["url"].as_str().unwrap(), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment"),
            "{name}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
}

#[tokio::test]
async fn an_upload_is_readable_by_its_uploader_and_whoever_may_read_its_message() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let room = app.create_room(&ana, "Secret", Some("k3y!")).await;
    let (status, _) = app.join(&bob, "Secret", Some("k3y!")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = upload(&app, &ana, "plan.png", png(64, 48)).await;
    let up = body["upload"].clone();
    let (id, url) = (up["id"].as_str().unwrap(), up["url"].as_str().unwrap());
    let thumb = up["thumbnail_url"].as_str().unwrap();
    // Unsent: only its uploader.
    assert_eq!(fetch(&app, &ana, url, &[]).await.0, StatusCode::OK);
    assert_eq!(fetch(&app, &bob, url, &[]).await.0, StatusCode::NOT_FOUND);
    // Nobody attaches someone else's upload.
    let (status, body) = send_with(&app, &bob, &room, "b1", &[id]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["fields"]["attachments"],
        "not an upload of yours"
    );
    let (status, body) = send_with(&app, &ana, &room, "a1", &[id]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["message"]["body"], "");
    assert_eq!(body["message"]["attachments"][0]["id"], id);
    let seq = body["message"]["seq"].as_i64().unwrap();
    // Sent once only.
    let (status, _) = send_with(&app, &ana, &room, "a2", &[id]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // History carries it.
    let (_, page) = app.history(&bob, &room, "").await;
    assert_eq!(page["messages"][0]["attachments"][0]["url"], url);
    // Members read it; others, and unknown ids, get 404 alike.
    for (user, expected) in [
        (&ana, StatusCode::OK),
        (&bob, StatusCode::OK),
        (&eve, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(fetch(&app, user, url, &[]).await.0, expected);
        assert_eq!(fetch(&app, user, thumb, &[]).await.0, expected);
    }
    let (status, _, _) = fetch(
        &app,
        &ana,
        "/api/v1/uploads/0123456789abcdef0123456789abcdef",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Without a session: 401.
    let res = reqwest::get(format!("http://{}{url}", app.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A ban takes it away.
    let (status, body) = app
        .post(
            &ana,
            &format!("/rooms/{room}/bans"),
            json!({"user_id": bob.id, "reason": "spam"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(fetch(&app, &bob, url, &[]).await.0, StatusCode::NOT_FOUND);
    // `joined` history: someone who joins later does not read what came before.
    let (status, body) = app
        .patch(
            &ana,
            &format!("/rooms/{room}"),
            json!({"history": "joined"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.join(&eve, "Secret", Some("k3y!")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetch(&app, &eve, url, &[]).await.0, StatusCode::NOT_FOUND);
    // Deleting the message deletes its files.
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/rooms/{room}/messages/{seq}"),
            Some(&ana.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(fetch(&app, &ana, url, &[]).await.0, StatusCode::NOT_FOUND);
    let (_, page) = app.history(&ana, &room, "").await;
    assert_eq!(page["messages"][0]["attachments"], json!([]));
}

#[tokio::test]
async fn a_public_room_with_shared_history_shows_its_files_to_readers_who_are_not_members() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&ana, "Lobby", None).await;
    let (_, body) = upload(&app, &ana, "a.png", png(8, 8)).await;
    let id = body["upload"]["id"].as_str().unwrap();
    let (status, _) = send_with(&app, &ana, &room, "a1", &[id]).await;
    assert_eq!(status, StatusCode::CREATED);
    // As the history itself: readable by a non-member.
    let (status, _) = app.history(&bob, &room, "").await;
    assert_eq!(status, StatusCode::OK);
    let url = body["upload"]["url"].as_str().unwrap();
    assert_eq!(fetch(&app, &bob, url, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn attachments_travel_over_the_websocket_and_sync() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Chat", None).await;
    let (mut ws, ready) = app.ws(&ana).await;
    // `ready` says what the server takes, so clients refuse a file before sending it.
    assert_eq!(
        ready["limits"],
        json!({"max_upload_bytes": 100 * 1024 * 1024, "max_attachments": 10})
    );
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, body) = upload(
            &app,
            &ana,
            &format!("f{i}.txt"),
            format!("file {i}").into_bytes(),
        )
        .await;
        ids.push(body["upload"]["id"].as_str().unwrap().to_owned());
    }
    let (mut watcher, _) = app.ws(&ana).await;
    let acked = ws
        .send_message_with(
            json!({"room_id": room, "client_id": "w1", "body": "three files", "attachments": ids}),
        )
        .await;
    assert_eq!(acked["attachments"].as_array().unwrap().len(), 3, "{acked}");
    let event = watcher.next_of("message").await;
    let names: Vec<&str> = event["message"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["f0.txt", "f1.txt", "f2.txt"], "in the order given");
    assert_eq!(
        event["message"]["attachments"][0]["content_type"],
        "text/plain; charset=utf-8"
    );
    // Eleven files, or none and no text, are refused.
    let many: Vec<String> = (0..11).map(|i| format!("{i:032x}")).collect();
    ws.send_json(json!({"type": "send", "room_id": room, "client_id": "w2", "body": "x", "attachments": many})).await;
    let error = ws.next_of("error").await;
    assert_eq!(error["code"], "invalid_input", "{error}");
    ws.send_json(
        json!({"type": "send", "room_id": room, "client_id": "w3", "body": " ", "attachments": []}),
    )
    .await;
    let error = ws.next_of("error").await;
    assert_eq!(error["code"], "invalid_input", "{error}");
    // A sync replays the message with its files.
    let seq = event["message"]["seq"].as_i64().unwrap();
    let (mut other, _) = app.ws(&ana).await;
    other
        .send_json(json!({"type": "sync", "since": {room.clone(): seq - 1}}))
        .await;
    let replayed = other.next_of("message").await;
    assert_eq!(
        replayed["message"]["attachments"].as_array().unwrap().len(),
        3
    );
}

#[tokio::test]
async fn over_the_limit_is_refused_at_once_and_leaves_nothing() {
    let app = spawn_app_with(|c| {
        c.max_upload_bytes = 1024 * 1024;
        c.upload_quota_per_user_bytes = 3 * 1024 * 1024;
    })
    .await;
    let ana = app.register("ana").await;
    // Declared too large: refused before the body is read.
    let (status, body) = upload(&app, &ana, "big.bin", vec![7u8; 1024 * 1024 + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // Streamed without a length: refused as soon as the limit is crossed, not at the end.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let feeder = tokio::spawn(async move {
        let mut sent = 0usize;
        // Up to 64 MiB, far past the limit, unless the server stops reading first.
        while sent < 64 * 1024 * 1024 {
            if tx.send(Ok(vec![1u8; 64 * 1024])).await.is_err() {
                break;
            }
            sent += 64 * 1024;
        }
        sent
    });
    let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
    let res = app
        .http
        .post(app.url("/uploads?filename=stream.bin"))
        .bearer_auth(&ana.token)
        .body(body)
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let sent = tokio::time::timeout(WAIT, feeder).await.unwrap().unwrap();
    assert!(
        sent < 16 * 1024 * 1024,
        "the server stopped reading early ({sent} bytes sent)"
    );
    // Quota: 3 MiB per user.
    for i in 0..3 {
        let (status, body) = upload(&app, &ana, "part", vec![i as u8; 1000 * 1024]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = upload(&app, &ana, "more", vec![9u8; 200 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(count_rows(&app, "select count(*) from uploads").await, 3);
    assert_eq!(spool_files(&app), 0, "no spool file is left");
    if !files_in_s3() {
        assert_eq!(local_blob_files(&app), 3);
    }
}

/// A byte stream from a channel (for a request body that stops when the test says).
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn a_cut_upload_leaves_nothing_behind() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        for _ in 0..16 {
            let _ = tx.send(Ok(vec![3u8; 64 * 1024])).await;
        }
        // Then the client fails mid-body: the connection is cut.
        let _ = tx.send(Err(std::io::Error::other("cut"))).await;
    });
    let res = app
        .http
        .post(app.url("/uploads?filename=cut.bin"))
        .bearer_auth(&ana.token)
        .body(reqwest::Body::wrap_stream(tokio_stream_of(rx)))
        .send()
        .await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
    // The server notices the cut and removes its spool file.
    let deadline = tokio::time::Instant::now() + WAIT;
    while spool_files(&app) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(spool_files(&app), 0);
    assert_eq!(count_rows(&app, "select count(*) from uploads").await, 0);
    assert_eq!(blob_count(&app).await, 0);
    if !files_in_s3() {
        assert_eq!(local_blob_files(&app), 0);
    }
}

#[tokio::test]
async fn a_decompression_bomb_and_damaged_images_get_a_clear_4xx() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    // 4,200² x 8 bytes = 141 MB decoded, from a few hundred KiB.
    let bomb = png_bomb(4200);
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    let (status, body) = upload(&app, &ana, "bomb.png", bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let mut damaged = png(300, 300);
    damaged.truncate(damaged.len() / 2);
    let mut scrambled = photo_with_exif(200, 100);
    let len = scrambled.len();
    for b in &mut scrambled[len / 3..len / 2] {
        *b = 0xff;
    }
    // Cut in half, or a signature alone: refused as unreadable.
    for (name, bytes) in [
        ("half.png", damaged),
        ("header.png", b"\x89PNG\r\n\x1a\n".to_vec()),
    ] {
        let (status, body) = upload(&app, &ana, name, bytes).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
        assert_eq!(
            body["error"]["code"], "unsupported_media_type",
            "{name}: {body}"
        );
    }
    // Garbage inside the entropy data may still decode (as noise): never a 5xx either way.
    let (status, body) = upload(&app, &ana, "scrambled.jpg", scrambled).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{status} {body}"
    );
    assert_eq!(spool_files(&app), 0);
}

#[tokio::test]
async fn the_collector_frees_files_of_deleted_pruned_and_unsent_uploads() {
    let app = spawn_app_with(|c| {
        c.prune_interval_secs = 1;
        c.unsent_upload_secs = 2;
    })
    .await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Files", None).await;
    // The same bytes twice: two uploads, stored once.
    let (_, one) = upload(&app, &ana, "one.png", png(100, 100)).await;
    let blobs = blob_count(&app).await;
    let (_, two) = upload(&app, &ana, "two.png", png(100, 100)).await;
    assert_ne!(one["upload"]["id"], two["upload"]["id"]);
    assert_eq!(blob_count(&app).await, blobs);
    let one_id = one["upload"]["id"].as_str().unwrap();
    let (status, sent) = send_with(&app, &ana, &room, "m1", &[one_id]).await;
    assert_eq!(status, StatusCode::CREATED);
    // `two` is never sent: after `unsent_upload_secs` it goes, but the blob stays for `one`.
    wait_until(&app, "select count(*) from uploads", 1).await;
    assert_eq!(blob_count(&app).await, blobs);
    let url = one["upload"]["url"].as_str().unwrap();
    assert_eq!(fetch(&app, &ana, url, &[]).await.0, StatusCode::OK);
    // Deleting the message frees the blobs.
    let seq = sent["message"]["seq"].as_i64().unwrap();
    app.call(
        "DELETE",
        &format!("/rooms/{room}/messages/{seq}"),
        Some(&ana.token),
        None,
    )
    .await;
    wait_until(&app, "select count(*) from blobs", 0).await;
    if !files_in_s3() {
        assert_eq!(local_blob_files(&app), 0);
    }
    // Retention: a pruned message's files go too.
    let (_, three) = upload(&app, &ana, "three.txt", b"three".to_vec()).await;
    let id = three["upload"]["id"].as_str().unwrap();
    send_with(&app, &ana, &room, "m2", &[id]).await;
    app.send_http(&ana, &room, "m3", "after").await;
    let (status, body) = app
        .patch(
            &ana,
            &format!("/rooms/{room}"),
            json!({"retention": {"max_messages": 1, "max_age_secs": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until(&app, "select count(*) from uploads", 0).await;
    wait_until(&app, "select count(*) from blobs", 0).await;
    // A replaced avatar's images go as well.
    for colour in [1u8, 2] {
        let image = image::RgbImage::from_pixel(64, 64, image::Rgb([colour, 0, 0]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let res = app
            .http
            .put(app.url("/me/avatar"))
            .bearer_auth(&ana.token)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    wait_until(&app, "select count(distinct hash) from avatars", 1).await;
}

/// Waits (up to [`WAIT`]) for a count to reach `expected`.
async fn wait_until(app: &TestApp, sql: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = count_rows(app, sql).await;
        if n == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {n}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_video_gets_its_length_size_and_a_poster() {
    let Some(video) = test_video().await else {
        skip(
            "a_video_gets_its_length_size_and_a_poster",
            "ffmpeg is not installed (scripts/test installs Debian's ffmpeg)",
        );
        return;
    };
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (status, body) = upload(&app, &ana, "clip.mp4", video).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let up = &body["upload"];
    assert_eq!(up["content_type"], "video/mp4");
    assert_eq!(
        (up["width"].as_i64(), up["height"].as_i64()),
        (Some(320), Some(240))
    );
    let duration = up["duration_ms"].as_i64().unwrap();
    assert!((1900..=2100).contains(&duration), "{duration}");
    let (status, headers, poster) =
        fetch(&app, &ana, up["thumbnail_url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    let poster = image::load_from_memory(&poster).unwrap();
    assert_eq!(poster.width(), 320);
    let (_, headers, _) = fetch(&app, &ana, up["url"].as_str().unwrap(), &[]).await;
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
}

/// A 2-second 320 x 240 MP4 made by ffmpeg, or `None` without ffmpeg.
async fn test_video() -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let status = tokio::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=15",
        ])
        .args(["-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(&path)
        .status()
        .await
        .ok()?;
    assert!(status.success(), "ffmpeg made the test video");
    Some(std::fs::read(path).unwrap())
}

#[tokio::test]
async fn a_retried_send_with_files_returns_the_original_and_only_unsent_uploads_can_be_discarded() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let room = app.create_room(&ana, "Retry", None).await;
    let (_, one) = upload(&app, &ana, "a.txt", b"first file".to_vec()).await;
    let (_, two) = upload(&app, &ana, "b.txt", b"second file".to_vec()).await;
    let (one, two) = (
        one["upload"]["id"].as_str().unwrap().to_owned(),
        two["upload"]["id"].as_str().unwrap().to_owned(),
    );
    // The same file twice in one message, even apart: refused.
    let (status, body) = send_with(&app, &ana, &room, "x", &[&one, &two, &one]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, first) = send_with(&app, &ana, &room, "r1", &[&one]).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The ack was lost; the client sends again with the same client_id: the original.
    let (status, again) = send_with(&app, &ana, &room, "r1", &[&one]).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["message"]["seq"], first["message"]["seq"]);
    // A sent upload cannot be discarded; an unsent one can, once.
    let discard = |id: String| {
        let app = &app;
        let token = ana.token.clone();
        async move {
            app.call("DELETE", &format!("/uploads/{id}"), Some(&token), None)
                .await
                .0
        }
    };
    assert_eq!(discard(one.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(discard(two.clone()).await, StatusCode::NO_CONTENT);
    assert_eq!(discard(two).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn server_admins_see_what_uploads_take_and_others_may_not() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let root = app.register("root").await;
    run_sql(
        &app,
        &format!("update users set is_admin = 1 where id = '{}'", root.id),
    )
    .await;
    let room = app.create_room(&ana, "Files", None).await;
    let (_, one) = upload(&app, &ana, "a.txt", vec![b'a'; 1000]).await;
    upload(&app, &ana, "b.txt", vec![b'a'; 1000]).await; // the same bytes: stored once
    let id = one["upload"]["id"].as_str().unwrap();
    send_with(&app, &ana, &room, "m1", &[id]).await;
    let (status, _) = app.get(&ana, "/admin/storage").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, totals) = app.get(&root, "/admin/storage").await;
    assert_eq!(status, StatusCode::OK, "{totals}");
    assert_eq!(
        totals["users"],
        json!([{"id": ana.id, "bytes": 2000, "files": 2}])
    );
    assert_eq!(
        totals["rooms"],
        json!([{"id": room, "bytes": 1000, "files": 1}])
    );
    assert_eq!(
        (totals["stored_bytes"].as_i64(), totals["blobs"].as_i64()),
        (Some(1000), Some(1))
    );
}
