//! The `natter` binary itself: admin commands read passwords from stdin, `serve` logs its
//! URL and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

fn natter(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.current_dir(dir)
        .env("NATTER_DATA_DIR", dir.join("data"))
        .env_remove("NATTER_BIND");
    cmd
}

fn admin(dir: &std::path::Path, args: &[&str], password: &str) -> std::process::Output {
    let mut child = natter(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn admin_commands_and_serve_with_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let out = admin(
        dir.path(),
        &["admin", "create-user", "root", "--admin"],
        "first long password",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user root"));
    let out = admin(
        dir.path(),
        &["admin", "create-user", "ROOT"],
        "another long password",
    );
    assert!(!out.status.success(), "names are unique ignoring case");
    let out = admin(dir.path(), &["admin", "create-user", "weak"], "password");
    assert!(
        !out.status.success(),
        "common passwords are refused here too"
    );
    let out = admin(
        dir.path(),
        &["admin", "reset-password", "root"],
        "second long password",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut server = natter(dir.path())
        .args(["--bind", "127.0.0.1:0", "serve"])
        .env("NATTER_LOG", "natter=info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server logs its address").unwrap();
        if let Some(at) = line.find("open http://") {
            break line[at + 5..].trim().to_owned();
        }
    };
    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        http.post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": "root", "password": password}))
            .send()
    };
    assert_eq!(
        login("first long password").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let res = login("second long password").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["user"]["is_admin"], true);

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}
