//! The web client in a real browser: starts the server on port 0 and runs the Playwright
//! scenarios of `e2e/*.test.mjs` (everyday flows, navigation, languages, accessibility with
//! axe-core, a 10,000-message room) in Debian's headless Chromium against it. `scripts/test` installs
//! Chromium and the npm packages (playwright-core, axe-core, fast-check) when they are missing. Also the client's unit tests
//! (`e2e/unit/`, `node --test`, no browser).

use std::path::Path;

use crate::helpers::*;

/// Debian's Chromium (or `CHROMIUM`), with the e2e/ npm packages installed: its path.
pub(crate) fn chromium() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is not installed at {chromium}: run the tests with scripts/test, which installs Debian's chromium"
    );
    if ["playwright-core", "axe-core", "fast-check"]
        .iter()
        .any(|p| !root.join("e2e/node_modules").join(p).exists())
    {
        let npm = std::process::Command::new("npm")
            .args(["ci", "--prefix", "e2e", "--no-audit", "--no-fund"])
            .current_dir(root)
            .status()
            .expect("npm runs");
        assert!(npm.success(), "npm ci --prefix e2e failed");
    }
    chromium
}

#[tokio::test]
async fn web_client_in_headless_chromium() {
    let _turn = crate::helpers::HEAVY.lock().await;
    let chromium = chromium();
    let app = spawn_app().await;
    let url = format!("http://{}", app.addr);
    // The setup link's token, as `natter serve` logs it.
    let token = text_at(
        &app.database_url,
        "select value from settings where name = 'setup_token'",
    )
    .await
    .expect("a fresh server has a setup token");
    let env = [
        ("NATTER_URL", url.as_str()),
        ("NATTER_SETUP_TOKEN", token.as_str()),
        ("NATTER_SCREENSHOTS", "docs/screenshots"),
        ("CHROMIUM", chromium.as_str()),
    ];
    let files = [
        "e2e/chat.test.mjs",
        "e2e/conversations.test.mjs",
        "e2e/files.test.mjs",
        "e2e/moderation.test.mjs",
        "e2e/security.test.mjs",
        "e2e/navigation.test.mjs",
        "e2e/languages.test.mjs",
        "e2e/accessibility.test.mjs",
        "e2e/render.test.mjs",
        // Last: it makes the first admin with the setup link, and changes server settings.
        "e2e/admin.test.mjs",
    ];
    let mut args = vec!["--test-concurrency=1"];
    args.extend(files);
    let report = node_test(&args, &env).await;
    assert!(report.contains("# fail 0"), "{report}");
    // The render figures (measured, never asserted): shown with `--nocapture`.
    for line in report.lines().filter(|l| l.contains("# render:")) {
        eprintln!("{}", line.trim());
    }
}

/// Runs `node --test ARGS` in the crate's root; its report, or a panic with it on failure.
pub(crate) async fn node_test(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = tokio::process::Command::new("node")
        .arg("--test")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "node --test {args:?} failed:\n{report}"
    );
    report
}

#[tokio::test]
async fn client_state_unit_tests() {
    let report = node_test(&["e2e/unit/"], &[]).await;
    assert!(
        report.contains("# fail 0") && !report.contains("# pass 0"),
        "{report}"
    );
}
