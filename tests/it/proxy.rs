//! The nginx recipe of `deploy/nginx/natter.conf`, for real: Debian's nginx terminates TLS in
//! front of two nodes (PostgreSQL + Redis) and a chat runs through it. Only ports, node
//! addresses, certificate and cache paths are changed from the recipe.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::cluster::{Node, free_port, services, with_postgres};
use crate::helpers::skip;

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers too (orphaned workers would
        // live on and hold the test's output pipes open).
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The recipe with this test's ports and paths; panics if the recipe no longer has a line
/// the test relies on (so the test keeps testing the recipe).
fn recipe(p1: u16, p2: u16, http: u16, https: u16, dir: &std::path::Path) -> String {
    let mut conf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/nginx/natter.conf"
    ))
    .unwrap();
    let swaps = [
        ("127.0.0.1:8081".to_owned(), format!("127.0.0.1:{p1}")),
        ("127.0.0.1:8082".to_owned(), format!("127.0.0.1:{p2}")),
        ("listen 80;".to_owned(), format!("listen 127.0.0.1:{http};")),
        (
            "listen 443 ssl;".to_owned(),
            format!("listen 127.0.0.1:{https} ssl;"),
        ),
        (
            "/etc/ssl/natter/fullchain.pem".to_owned(),
            dir.join("cert.pem").display().to_string(),
        ),
        (
            "/etc/ssl/natter/privkey.pem".to_owned(),
            dir.join("key.pem").display().to_string(),
        ),
        (
            "/var/cache/nginx/natter".to_owned(),
            dir.join("cache").display().to_string(),
        ),
    ];
    for (from, to) in swaps {
        assert!(
            conf.contains(&from),
            "the nginx recipe no longer contains {from:?}"
        );
        conf = conf.replace(&from, &to);
    }
    conf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_through_nginx_over_tls() {
    let test = "proxy::a_chat_through_nginx_over_tls";
    let Some((pg, redis)) = services(test) else {
        return;
    };
    let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nginx_bin) = nginx_bin else {
        skip(
            test,
            "nginx is not installed (scripts/test installs Debian's nginx)",
        );
        return;
    };
    let db = with_postgres(&pg).await;
    let (p1, p2, http_port, https_port) = (free_port(), free_port(), free_port(), free_port());
    let _n1 = Node::start(&db, &redis, "x1", p1);
    let _n2 = Node::start(&db, &redis, "x2", p2);

    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.path().join("natter.conf"),
        recipe(p1, p2, http_port, https_port, dir.path()),
    )
    .unwrap();
    let d = dir.path().display();
    let main = format!(
        "daemon off; worker_processes 1; user root; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         include {d}/natter.conf; }}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let _nginx = Nginx(
        Command::new(nginx_bin)
            .args([
                "-p",
                &d.to_string(),
                "-c",
                &format!("{d}/nginx.conf"),
                "-e",
                &format!("{d}/error.log"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", https_port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .get(format!("http://localhost:{http_port}/rooms"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::PERMANENT_REDIRECT,
        "plain HTTP goes to HTTPS"
    );

    let base = format!("https://localhost:{https_port}");
    let mut users = Vec::new();
    for name in ["ana", "bob"] {
        let res = http
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"username": name, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("Secure"),
            "the node trusts nginx's X-Forwarded-Proto: {cookie}"
        );
        let body: Value = res.json().await.unwrap();
        users.push(body["token"].as_str().unwrap().to_owned());
    }
    let call = |token: &str, path: &str, body: Value| {
        http.post(format!("{base}/api/v1{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let room: Value = call(
        &users[0],
        "/rooms",
        json!({"name": "Proxied", "visibility": "public"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let room_id = room["room"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&users[1], "/rooms/join", json!({"name": "proxied"}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut sockets = Vec::new();
    for token in &users {
        let mut req = format!("wss://localhost:{https_port}/api/v1/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let connector = Connector::Rustls(Arc::new(tls.clone()));
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
                .await
                .expect("WSS through nginx");
        // A client sends once `ready` says it is subscribed; a frame sent
        // earlier could be published before the other socket listens.
        let ready = loop {
            let next = tokio::time::timeout(Duration::from_secs(15), ws.next())
                .await
                .expect("ready through nginx");
            if let Some(Ok(WsMessage::Text(text))) = next {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
        };
        assert_eq!(ready["type"], "ready", "{ready}");
        sockets.push(ws);
    }
    let frame = json!({"type": "send", "room_id": room_id, "client_id": "via-nginx", "body": "through the proxy"});
    sockets[0]
        .send(WsMessage::text(frame.to_string()))
        .await
        .unwrap();
    let got = loop {
        let next = tokio::time::timeout(Duration::from_secs(15), sockets[1].next())
            .await
            .expect("an event");
        let Some(Ok(WsMessage::Text(text))) = next else {
            continue;
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["type"] == "message" {
            break event;
        }
    };
    assert_eq!(got["message"]["body"], "through the proxy");

    // nginx caches avatars.
    let first = http
        .get(format!("{base}/avatars/default/ana.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = http
        .get(format!("{base}/avatars/default/ana.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.headers()["x-cache-status"], "HIT");
}
