//! Accounts and devices: sessions name their device and address, a new sign-in is announced
//! to the other sessions (or signs them out, one device at a time), two-factor sign-in with
//! TOTP codes and recovery codes, admins' one-time reset links, and "forgot password" by
//! email through a real SMTP server (Debian's aiosmtpd, started by the test).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::admin::make_admin;
use crate::helpers::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn login(app: &TestApp, name: &str, password: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({"username": name, "password": password});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.call("POST", "/auth/login", None, Some(body)).await
}

fn token_of(answer: &Value, user: &User) -> User {
    User {
        token: answer["token"].as_str().unwrap().into(),
        ..user.clone()
    }
}

#[tokio::test]
async fn new_sign_ins_are_announced_and_one_device_signs_the_others_out() {
    let app = spawn_app().await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    let res = app
        .http
        .post(app.url("/auth/login"))
        .header("user-agent", FIREFOX)
        .json(&json!({"username": "ana", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let laptop = token_of(&res.json().await.unwrap(), &ana);
    let event = ws.next_of("new_login").await;
    assert_eq!(event["session"]["device"], "Firefox on Linux");
    assert_eq!(event["session"]["address"], "127.0.0.1");
    let (_, list) = app.get(&ana, "/me/sessions").await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions
            .iter()
            .any(|s| s["device"] == "Firefox on Linux" && s["current"] == false)
    );

    // One device at a time: the next sign-in signs out every other session.
    let (status, me) = app.patch(&ana, "/me", json!({"one_device": true})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["one_device"], true);
    let (mut laptop_ws, _) = app.ws(&laptop).await;
    let (status, answer) = login(&app, "ana", "correct horse battery", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let phone = token_of(&answer, &ana);
    assert_eq!(ws.closed().await, Some(4001));
    assert_eq!(laptop_ws.closed().await, Some(4001));
    for gone in [&ana, &laptop] {
        let (status, _) = app.get(gone, "/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, list) = app.get(&phone, "/me/sessions").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    // An email address is checked.
    let (status, body) = app
        .patch(&phone, "/me", json!({"email": "not an address"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Whoever holds a session cannot send the reset links elsewhere without the password.
    let (status, body) = app
        .patch(&phone, "/me", json!({"email": "ana@example.test"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["fields"]["current_password"].is_string(),
        "{body}"
    );
    let wrong = json!({"email": "ana@example.test", "current_password": "wrong horse battery"});
    let (status, _) = app.patch(&phone, "/me", wrong).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let right = json!({"email": "ana@example.test", "current_password": "correct horse battery"});
    let (status, me) = app.patch(&phone, "/me", right).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "ana@example.test");
    // Other fields change without it.
    let (status, _) = app
        .patch(&phone, "/me", json!({"status_text": "here"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

fn app_totp(secret: &str) -> TOTP {
    let bytes = Secret::Encoded(secret.into()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn two_factor_sign_in_takes_a_code_or_a_recovery_code() {
    // Wrong codes count as failed sign-ins (five per window): this test makes more.
    let app = spawn_app_with(|c| c.login_max_failures = 20).await;
    let ana = app.register("ana").await;
    let (status, _) = app
        .post(
            &ana,
            "/me/totp/setup",
            json!({"password": "wrong horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&ana, "/me/totp/enable", json!({"code": "123456"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no setup yet");
    let (status, setup) = app
        .post(
            &ana,
            "/me/totp/setup",
            json!({"password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(
        setup["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Natter:ana?secret=")
    );
    let png = base64_decoded(setup["qr_png_base64"].as_str().unwrap());
    assert_eq!(&png[..4], b"\x89PNG");
    let totp = app_totp(&secret);
    let wrong = if totp.generate(now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, _) = app
        .post(&ana, "/me/totp/enable", json!({"code": wrong}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, enabled) = app
        .post(
            &ana,
            "/me/totp/enable",
            json!({"code": totp.generate(now())}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    let codes: Vec<String> = enabled["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let (_, state) = app.get(&ana, "/me/totp").await;
    assert_eq!(state, json!({"enabled": true, "recovery_codes_left": 10}));
    let (_, me) = app.get(&ana, "/me").await;
    assert_eq!(me["totp_enabled"], true);

    // The password alone is not enough; a wrong code is refused.
    let password = "correct horse battery";
    let (status, body) = login(&app, "ana", password, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "totp_required");
    let (status, body) = login(&app, "ana", password, json!({"totp": wrong})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "totp_required");
    // The wrong password with a good code says nothing about the code.
    let next = totp.generate(now() + 30);
    let (status, body) = login(&app, "ana", "wrong horse battery", json!({"totp": next})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    // The next step's code (the one enabling used is spent) signs in, once.
    let (status, body) = login(&app, "ana", password, json!({"totp": next})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = login(&app, "ana", password, json!({"totp": next})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A recovery code, typed loosely, works once.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let (status, body) = login(&app, "ana", password, json!({"totp": typed})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = login(&app, "ana", password, json!({"totp": codes[3]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, state) = app.get(&ana, "/me/totp").await;
    assert_eq!(state["recovery_codes_left"], 9);

    // New codes replace the old; turning it off takes the password.
    let (status, fresh) = app
        .post(
            &ana,
            "/me/totp/recovery-codes",
            json!({"password": password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(fresh["recovery_codes"][0], codes[0].as_str());
    let (status, _) = login(&app, "ana", password, json!({"totp": codes[4]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old codes are gone");
    let (status, _) = app
        .post(
            &ana,
            "/me/totp/disable",
            json!({"password": "wrong horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&ana, "/me/totp/disable", json!({"password": password}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = login(&app, "ana", password, json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn ten_wrong_codes_lock_codes_but_not_recovery_codes() {
    let app = spawn_app_with(|c| c.login_max_failures = 50).await;
    let ana = app.register("ana").await;
    let password = "correct horse battery";
    let (_, setup) = app
        .post(&ana, "/me/totp/setup", json!({"password": password}))
        .await;
    let totp = app_totp(setup["secret"].as_str().unwrap());
    let (_, enabled) = app
        .post(
            &ana,
            "/me/totp/enable",
            json!({"code": totp.generate(now())}),
        )
        .await;
    let recovery = enabled["recovery_codes"][0].as_str().unwrap().to_owned();
    let good = [
        totp.generate(now() - 30),
        totp.generate(now()),
        totp.generate(now() + 30),
    ];
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !good.contains(c))
        .unwrap();
    for _ in 0..10 {
        let (status, _) = login(&app, "ana", password, json!({"totp": wrong})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right code is refused for a while...
    let next = totp.generate(now() + 30);
    let (status, body) = login(&app, "ana", password, json!({"totp": next})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("too many wrong codes"), "{body}");
    // ...but a recovery code still signs in.
    let (status, body) = login(&app, "ana", password, json!({"totp": recovery})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn admins_can_require_two_factor_of_admins() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let (status, _) = app
        .patch(
            &root,
            "/admin/settings",
            json!({"require_totp_for_admins": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(&root, "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, setup) = app
        .post(
            &root,
            "/me/totp/setup",
            json!({"password": "correct horse battery"}),
        )
        .await;
    let totp = app_totp(setup["secret"].as_str().unwrap());
    let (status, _) = app
        .post(
            &root,
            "/me/totp/enable",
            json!({"code": totp.generate(now())}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, list) = app.get(&root, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["users"][0]["totp_enabled"], true);
}

fn base64_decoded(text: &str) -> Vec<u8> {
    // The standard alphabet, with padding: a few lines rather than a crate for a test.
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let text = text.trim_start_matches("data:image/png;base64,");
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    bytes
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |n, &v| (n << 6) | u32::from(v)) << (6 * (4 - c.len()));
            let out = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.into_iter().take(c.len() - 1)
        })
        .collect()
}

#[tokio::test]
async fn an_admins_reset_link_sets_a_new_password_once() {
    let app = spawn_app().await;
    let root = app.register("root").await;
    make_admin(&app, &root).await;
    let ana = app.register("ana").await;
    let (mut ws, _) = app.ws(&ana).await;
    let (status, _) = app
        .post(
            &ana,
            &format!("/admin/users/{}/reset-link", ana.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, link) = app
        .post(
            &root,
            &format!("/admin/users/{}/reset-link", ana.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["url"].as_str().unwrap();
    let token = url.split("reset=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let reset = |token: &str, password: &str| {
        app.call(
            "POST",
            "/auth/reset",
            None,
            Some(json!({"token": token, "password": password})),
        )
    };
    let (status, body) = reset(&"0".repeat(64), "a brand new phrase").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["fields"]["token"].is_string(), "{body}");
    let (status, body) = reset(&token, "short").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = reset(&token, "a brand new phrase").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(ws.closed().await, Some(4001));
    let (status, _) = reset(&token, "another new phrase").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used once");
    let (status, _) = login(&app, "ana", "correct horse battery", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = login(&app, "ana", "a brand new phrase", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = app
        .get(&root, "/admin/audit?action=reset_link_created")
        .await;
    assert_eq!(log["entries"][0]["target_username"], "ana");
    // Without an SMTP server, there is no self-service reset.
    let (status, body) = app
        .call(
            "POST",
            "/auth/forgot",
            None,
            Some(json!({"username": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_configured");
}

/// A real SMTP server that keeps what it receives in a maildir: Debian's aiosmtpd.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start(test: &str) -> Option<SmtpServer> {
        let python = "/usr/bin/python3";
        let has = std::process::Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !has {
            skip(
                test,
                "Debian's python3-aiosmtpd is not installed (scripts/test installs it)",
            );
            return None;
        }
        let port = crate::cluster::free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .spawn()
            .expect("aiosmtpd starts");
        Some(SmtpServer {
            child,
            port,
            maildir,
        })
    }

    /// The mails received so far.
    fn mails(&self) -> Vec<String> {
        let dir = self.maildir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .map_while(Result::ok)
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn forgot_password_sends_a_one_time_link_by_email() {
    let Some(smtp) = SmtpServer::start("security::forgot_password_sends_a_one_time_link_by_email")
    else {
        return;
    };
    // Wait for it to listen.
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", smtp.port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "aiosmtpd never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port));
        c.smtp_from = Some("Natter <natter@example.test>".into());
        c.public_url = Some(natter::config::PublicUrl::parse("https://chat.example.test").unwrap());
    })
    .await;
    let ana = app.register("ana").await;
    app.register("bob").await;
    let email = json!({"email": "ana@example.test", "current_password": "correct horse battery"});
    let (status, _) = app.patch(&ana, "/me", email).await;
    assert_eq!(status, StatusCode::OK);
    let forgot = |name: &str| {
        app.call(
            "POST",
            "/auth/forgot",
            None,
            Some(json!({"username": name})),
        )
    };
    // The same answer for an account without an address, and for nobody.
    for name in ["bob", "nobody", "ana"] {
        let (status, body) = forgot(name).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    let mail = loop {
        if let Some(mail) = smtp.mails().pop() {
            break mail;
        }
        assert!(tokio::time::Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The body may be quoted-printable (its lines are long): soft breaks out, `=3D` back.
    let mail = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(mail.contains("To: ana@example.test"), "{mail}");
    assert!(
        mail.contains("From: Natter <natter@example.test>"),
        "{mail}"
    );
    let at = mail
        .find("https://chat.example.test/?reset=")
        .expect("the link");
    let token: String = mail[at + 33..].chars().take(64).collect();
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    // Asking again at once sends nothing more.
    forgot("ana").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        smtp.mails().len(),
        1,
        "one mail: bob has no address, nobody is nobody"
    );
    let (status, _) = app
        .call(
            "POST",
            "/auth/reset",
            None,
            Some(json!({"token": token, "password": "a brand new phrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, signed) = login(&app, "ana", "a brand new phrase", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // Changing the address tells the old one.
    let ana = User {
        token: signed["token"].as_str().unwrap().into(),
        ..ana
    };
    let change = json!({"email": "ana@elsewhere.test", "current_password": "a brand new phrase"});
    let (status, _) = app.patch(&ana, "/me", change).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + WAIT;
    let notice = loop {
        if let Some(mail) = smtp.mails().into_iter().find(|m| m.contains("was changed")) {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice of the change arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(notice.contains("To: ana@example.test"), "{notice}");
}
