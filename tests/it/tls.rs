//! Built-in TLS: HTTPS and WSS on one port, HSTS and `Secure` cookies, the plain-HTTP
//! listener that only redirects, and the self-signed certificate for development.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
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
    })
    .await;
    chat_over_tls(&app, &made.cert.pem()).await;

    // Plain HTTP on the TLS port is refused; the redirect port sends browsers to HTTPS.
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
    let res = plain
        .get(format!("http://localhost:{redirect_port}/rooms?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers()["location"],
        format!("https://localhost:{}/rooms?x=1", app.addr.port()).as_str()
    );
}

#[tokio::test]
async fn a_self_signed_certificate_for_development() {
    let app = spawn_app_with(|c| c.tls_self_signed = true).await;
    let cert = std::fs::read_to_string(app.dir.path().join("tls/self-signed.crt"))
        .expect("generated and kept");
    chat_over_tls(&app, &cert).await;
}
