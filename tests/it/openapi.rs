//! The OpenAPI document checked by real tools against the real server: openapi-spec-validator
//! says it is a valid OpenAPI document, and schemathesis calls every operation with generated
//! requests and fails on any server error or any answer the document does not describe
//! (status, content type, body, headers). `scripts/test` installs both, pinned, in
//! `e2e/.venv`; without them this test fails.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// The calls that end the caller's own session: fuzzed in a run of their own, after the rest,
/// so that the token stays good for everything else.
const ENDS_SESSION: [&str; 2] = ["logout", "revoke_session"];

#[tokio::test]
async fn openapi_document_is_valid_and_the_server_keeps_to_it() {
    let python = python();
    let app = spawn_app_with(|c| {
        // Generated logins fail by the hundred from one address; throttled, they would all
        // get 429 and never reach the code behind it.
        c.login_max_failures = 1_000_000;
    })
    .await;
    let fuzzer = app.register("fuzzer").await;
    let doc_url = format!("http://{}/api/openapi.json", app.addr);
    let doc: Value = app
        .http
        .get(&doc_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc_file = app.dir.path().join("openapi.json");
    std::fs::write(&doc_file, doc.to_string()).unwrap();

    let validator = run(
        &python,
        &app,
        &["-m", "openapi_spec_validator"],
        &[&doc_file],
    )
    .await;
    assert!(validator.contains("OK"), "{validator}");

    let operations = operation_count(&doc);
    let mut rest = Vec::new();
    let mut only = Vec::new();
    for id in ENDS_SESSION {
        rest.extend(["--exclude-operation-id", id]);
        only.extend(["--include-operation-id", id]);
    }
    let report = schemathesis(&python, &app, &doc_url, &fuzzer, &rest).await;
    assert_tested(&report, operations - ENDS_SESSION.len());
    let (status, me) = app.get(&fuzzer, "/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the fuzzer's session ended early: {me}"
    );
    let report = schemathesis(&python, &app, &doc_url, &fuzzer, &only).await;
    assert_tested(&report, ENDS_SESSION.len());
}

/// The Python that has the tools: `NATTER_TEST_PYTHON`, or the venv `scripts/test` makes.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("NATTER_TEST_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test once, which installs schemathesis and \
         openapi-spec-validator there (pinned in e2e/requirements.txt)",
        venv.display()
    );
    venv
}

/// Every method of every path in the document.
fn operation_count(doc: &Value) -> usize {
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = doc["paths"].as_object().expect("the document has paths");
    paths
        .values()
        .map(|item| methods.iter().filter(|m| item.get(**m).is_some()).count())
        .sum()
}

/// `st run` against the live server as `user`, with a fixed seed and a bounded number of
/// examples per operation. Every check runs except two that judge the document's input
/// rules, not the server's answers: `positive_data_acceptance` (the document cannot say
/// everything a field rule says, such as "no control characters") and
/// `negative_data_rejection` (serde also reads a struct from a JSON array).
async fn schemathesis(
    python: &Path,
    app: &TestApp,
    doc_url: &str,
    user: &User,
    operations: &[&str],
) -> String {
    let auth = format!("Authorization: Bearer {}", user.token);
    let mut args = vec![
        "-m",
        "schemathesis.cli",
        "run",
        doc_url,
        "--header",
        &auth,
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance,negative_data_rejection",
        "--max-examples",
        "40",
        "--seed",
        "20261206",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--no-color",
    ];
    args.extend(operations);
    run(python, app, &args, &[]).await
}

/// Runs `python` with `args` (then `files`) in the test's directory; fails with its output
/// unless it succeeds.
async fn run(python: &Path, app: &TestApp, args: &[&str], files: &[&Path]) -> String {
    let out = tokio::process::Command::new(python)
        .args(args)
        .args(files)
        .current_dir(app.dir.path())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{report}",
        python.display()
    );
    report
}

/// Schemathesis reached all `expected` operations; prints its summary for `--nocapture`.
fn assert_tested(report: &str, expected: usize) {
    assert!(
        report.contains(&format!("Tested: {expected}\n")),
        "schemathesis did not test all {expected} operations:\n{report}"
    );
    let summary = report.lines().filter(|l| l.contains("generated,"));
    for line in summary {
        println!("schemathesis, {expected} operations: {}", line.trim());
    }
}

/// `docs/ws.schema.json` is served beside the OpenAPI document, and tells the frames clients
/// may send from ones the server refuses. (What the server sends is checked on every event
/// the other tests read: `helpers::check_frame`.)
#[tokio::test]
async fn ws_schema_is_served_and_tells_good_frames_from_bad() {
    let app = spawn_app().await;
    let served = app
        .http
        .get(format!("http://{}/api/ws.schema.json", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(
        served.text().await.unwrap(),
        natter::http::openapi::WS_SCHEMA
    );

    let client = frame_validator("client_frame");
    let good = [
        serde_json::json!({"type": "send", "room_id": "R_cafe", "client_id": "c-1", "body": "hi"}),
        serde_json::json!({"type": "send", "room_id": "R_cafe", "client_id": "c-2", "body": "", "reply_to": 4, "attachments": ["5f0c"]}),
        serde_json::json!({"type": "sync", "since": {"R_cafe": 40, "R_dev": 0}}),
        serde_json::json!({"type": "typing", "room_id": "R_cafe"}),
        serde_json::json!({"type": "read", "room_id": "R_cafe", "seq": 42}),
        serde_json::json!({"type": "presence", "mode": "away"}),
    ];
    let bad = [
        serde_json::json!({"type": "shout", "room_id": "R_cafe"}),
        serde_json::json!({"type": "send", "room_id": "R_cafe", "body": "no client_id"}),
        serde_json::json!({"type": "send", "room_id": "R_cafe", "client_id": "", "body": "x"}),
        serde_json::json!({"type": "read", "room_id": "R_cafe", "seq": "42"}),
        serde_json::json!({"type": "presence", "mode": "hiding"}),
        serde_json::json!({"type": "typing", "room_id": "R_cafe", "extra": 1}),
    ];
    let server = frame_validator("server_event");
    let synced =
        serde_json::json!({"type": "synced", "room_id": "R_x", "last_seq": 1, "complete": true});
    assert!(server.is_valid(&synced));
    let mut extra = synced.clone();
    extra["extra"] = serde_json::json!(1);
    assert!(!server.is_valid(&extra), "an undocumented field");
    // `Message` comes from the OpenAPI document: a message without its fields is refused.
    assert!(!server.is_valid(&serde_json::json!({"type": "message", "message": {"seq": 1}})));

    // The server agrees with the schema on each of them.
    let user = app.register("schema").await;
    let (mut ws, _) = app.ws(&user).await;
    for frame in &good {
        assert!(client.is_valid(frame), "{frame}");
    }
    for frame in &bad {
        assert!(!client.is_valid(frame), "{frame}");
        ws.send_json(frame.clone()).await;
        let answer = ws.next_of("error").await;
        assert!(
            ["invalid_input", "unknown_type"].contains(&answer["code"].as_str().unwrap()),
            "{frame}: {answer}"
        );
    }
}
