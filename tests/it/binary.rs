//! The `natter` binary itself: admin commands read passwords from stdin, `serve` logs its
//! URL and stops cleanly on SIGTERM, settings go on either side of the subcommand, and every
//! flag says in `--help` what it does.

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
        .args(["serve", "--bind", "127.0.0.1:0"])
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

#[test]
fn settings_go_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for (args, db) in [
        (vec!["--data-dir", "before", "migrate"], "before/natter.db"),
        (vec!["migrate", "--data-dir", "after"], "after/natter.db"),
    ] {
        let out = natter(dir.path()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "natter {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(dir.path().join(db).exists(), "natter {args:?} made {db}");
    }
    let out = admin(
        dir.path(),
        &["admin", "create-user", "ana", "--data-dir", "after"],
        "a long enough password",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The options and arguments of one `--help` page, each with its description (what clap
/// adds by itself, `[env: ...]`, `[default: ...]` and the list of possible values, left out).
fn described_flags(help: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if (2..8).contains(&indent) && (text.starts_with('-') || text.starts_with('<')) {
            let (spec, rest) = text.split_once("  ").unwrap_or((text, ""));
            entries.push((spec.to_owned(), rest.to_owned()));
        } else if indent >= 8 && !text.starts_with("- ") && !text.starts_with("Possible values") {
            if let Some((_, description)) = entries.last_mut() {
                description.push(' ');
                description.push_str(text);
            }
        } else if indent == 0 {
            // A section heading ("Options:", "Commands:") ends the previous entry.
            entries.push((String::new(), "heading".into()));
        }
    }
    entries.retain(|(spec, _)| !spec.is_empty());
    for (_, description) in &mut entries {
        for tag in ["[env: ", "[default: ", "[possible values: "] {
            while let Some(at) = description.find(tag) {
                let end = description[at..]
                    .find(']')
                    .map_or(description.len(), |e| at + e + 1);
                description.replace_range(at..end, "");
            }
        }
        *description = description.trim().to_owned();
    }
    entries
}

#[test]
fn every_flag_is_documented_in_help() {
    use clap::Args as _;
    let dir = tempfile::tempdir().unwrap();
    let settings = natter::config::Overrides::augment_args(clap::Command::new("natter"));
    let settings: Vec<String> = settings
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    assert!(settings.len() > 20, "{settings:?}");
    let pages: [&[&str]; 7] = [
        &[],
        &["serve"],
        &["migrate"],
        &["admin", "create-user"],
        &["admin", "reset-password"],
        &["bench"],
        &["admin"],
    ];
    for page in pages {
        let out = natter(dir.path())
            .args(page)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "natter {page:?} --help");
        let help = String::from_utf8(out.stdout).unwrap();
        let flags = described_flags(&help);
        assert!(!flags.is_empty(), "natter {page:?} --help:\n{help}");
        for (spec, description) in &flags {
            assert!(
                !description.is_empty(),
                "natter {page:?} --help: {spec} has no description:\n{help}"
            );
        }
        if !matches!(page, ["bench"] | ["admin"]) {
            for flag in &settings {
                assert!(
                    flags
                        .iter()
                        .any(|(spec, _)| spec.split([' ', '[', '=']).any(|w| w == flag)),
                    "natter {page:?} --help does not list {flag}:\n{help}"
                );
            }
        }
    }
}
