//! Built-in TLS: HTTPS and WSS on one port, HSTS and `Secure` cookies, the plain-HTTP
//! listener that only redirects (to the configured `public_url`, never to the request's Host),
//! and the self-signed certificate for development.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client that trusts exactly this certificate.
fn clients(cert_pem: &str) -> (reqwest::Client, Connector) {
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (http, Connector::Rustls(Arc::new(config)))
}

async fn chat_over_tls(app: &TestApp, cert_pem: &str) {
    let (http, connector) = clients(cert_pem);
    let base = format!("https://localhost:{}", app.addr.port());
    let res = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("HTTPS answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );

    let res = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    let room: Value = http
        .post(format!("{base}/api/v1/rooms"))
        .bearer_auth(token)
        .json(&json!({"name": "Secure room", "visibility": "public"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room_id = room["room"]["id"].as_str().unwrap();

    let mut req = format!("wss://localhost:{}/api/v1/ws", app.addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
            .await
            .expect("WSS opens");
    let frame = json!({"type": "send", "room_id": room_id, "client_id": "c1", "body": "over TLS"});
    ws.send(WsMessage::text(frame.to_string())).await.unwrap();
    loop {
        let Some(Ok(WsMessage::Text(text))) = ws.next().await else {
            panic!("socket ended")
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["type"] == "ack" {
            assert_eq!(event["message"]["body"], "over TLS");
            break;
        }
    }
}

#[tokio::test]
async fn https_and_wss_with_a_certificate_and_a_redirecting_http_port() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let redirect_port = free_port();
    let app = spawn_app_with(|c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
        c.http_redirect_bind = Some(([127, 0, 0, 1], redirect_port).into());
        // What browsers use (here a proxy's address, not this node's port).
        c.public_url = Some("https://chat.example.org:8443".parse().unwrap());
    })
    .await;
    chat_over_tls(&app, &made.cert.pem()).await;

    // Plain HTTP on the TLS port is refused.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert!(
        plain
            .get(format!("http://127.0.0.1:{}/healthz", app.addr.port()))
            .send()
            .await
            .is_err()
    );
    // The redirect port sends browsers to the configured origin, whatever Host the request
    // names; path and query are kept.
    for host in [None, Some("evil.example"), Some("evil.example:8443")] {
        let mut req = plain.get(format!(
            "http://127.0.0.1:{redirect_port}/login?next=%2Frooms&x=1"
        ));
        if let Some(host) = host {
            req = req.header("host", host);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            res.headers()["location"],
            "https://chat.example.org:8443/login?next=%2Frooms&x=1",
            "Host: {host:?}"
        );
    }
    // A request target that is not a path adds nothing to the origin.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", redirect_port))
        .await
        .unwrap();
    raw.write_all(b"OPTIONS * HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nlocation: https://chat.example.org:8443/\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_self_signed_certificate_for_development() {
    let app = spawn_app_with(|c| c.tls_self_signed = true).await;
    let cert = std::fs::read_to_string(app.dir.path().join("tls/self-signed.crt"))
        .expect("generated and kept");
    chat_over_tls(&app, &cert).await;
}
