//! The suite's own promise: a test that cannot run (a service or a program it needs is
//! missing) says `SKIPPED` and why, and under `NATTER_TEST_REQUIRE_ALL=1` (`.ci/run` sets it)
//! it fails instead of passing untested.

use std::process::Command;

/// Runs one test of this very binary, without the cluster's services.
fn run_without_services(test: &str, require_all: bool) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_remove("NATTER_TEST_POSTGRES_URL")
        .env_remove("NATTER_TEST_REDIS_URL")
        .env_remove("NATTER_TEST_BACKEND")
        .env_remove("NATTER_TEST_REQUIRE_ALL");
    if require_all {
        cmd.env("NATTER_TEST_REQUIRE_ALL", "1");
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_test_without_its_services_says_skipped_and_fails_when_all_are_required() {
    let test = "cluster::presence_spans_nodes";
    let (passed, output) = run_without_services(test, false);
    assert!(passed, "{output}");
    assert!(output.contains("1 passed"), "the test ran: {output}");
    assert!(
        output.contains(&format!("SKIPPED {test}: ")) && output.contains("NATTER_TEST_REDIS_URL"),
        "{output}"
    );

    let (passed, output) = run_without_services(test, true);
    assert!(
        !passed,
        "NATTER_TEST_REQUIRE_ALL=1 turns a skip into a failure: {output}"
    );
    assert!(output.contains(&format!("SKIPPED {test}: ")), "{output}");
    assert!(output.contains("NATTER_TEST_REQUIRE_ALL"), "{output}");
}
