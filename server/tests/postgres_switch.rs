//! The CI switch `NHI_TEST_POSTGRES=require`: a PostgreSQL variant that would SKIP fails
//! instead. The decision itself, and the real thing: this binary runs its own PostgreSQL probe
//! (an ignored test) in a child process that cannot find PostgreSQL, with and without the
//! switch.

mod common;

use common::{postgres_decision, PostgresMode};

#[test]
fn the_switch_is_read_from_its_value() {
    assert_eq!(PostgresMode::parse(None), Ok(PostgresMode::Auto));
    assert_eq!(PostgresMode::parse(Some("")), Ok(PostgresMode::Auto));
    assert_eq!(PostgresMode::parse(Some("skip")), Ok(PostgresMode::Skip));
    assert_eq!(
        PostgresMode::parse(Some("require")),
        Ok(PostgresMode::Require)
    );
    // A typo must not quietly become a skip.
    assert!(PostgresMode::parse(Some("required")).is_err());
    assert!(PostgresMode::parse(Some("1")).is_err());
}

#[test]
fn without_a_server_require_fails_where_the_others_skip() {
    assert_eq!(
        postgres_decision(PostgresMode::Auto, None, "no cluster"),
        Ok(None)
    );
    assert_eq!(
        postgres_decision(PostgresMode::Skip, None, "NHI_TEST_POSTGRES=skip"),
        Ok(None)
    );
    let err = postgres_decision(PostgresMode::Require, None, "no cluster")
        .expect_err("require turns the skip into a failure");
    assert!(err.contains("NHI_TEST_POSTGRES=require"), "{err}");
    assert!(err.contains("no cluster"), "the reason is kept: {err}");
}

#[test]
fn with_a_server_every_mode_runs() {
    let url = "postgres://postgres@127.0.0.1:55432/nhi_test".to_string();
    for mode in [
        PostgresMode::Auto,
        PostgresMode::Skip,
        PostgresMode::Require,
    ] {
        assert_eq!(
            postgres_decision(mode, Some(url.clone()), ""),
            Ok(Some(url.clone())),
            "{mode:?}"
        );
    }
}

/// Run only by [`probe`] in a child process: asks the harness for a PostgreSQL database.
#[tokio::test]
#[ignore = "run by probe() in a child process"]
async fn postgres_probe() {
    if common::postgres_url().await.is_some() {
        println!("PROBE: got a database");
    }
}

/// Runs [`postgres_probe`] in a child process with no `NHI_TEST_POSTGRES_URL` and a `PATH`
/// on which `scripts/postgres.sh` cannot even start (no `bash`), so no PostgreSQL is found.
fn probe(mode: Option<&str>) -> (bool, String) {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--ignored", "--exact", "postgres_probe", "--nocapture"])
        .env_remove("NHI_TEST_POSTGRES_URL")
        .env("PATH", "/nonexistent");
    match mode {
        Some(v) => cmd.env("NHI_TEST_POSTGRES", v),
        None => cmd.env_remove("NHI_TEST_POSTGRES"),
    };
    let out = cmd.output().expect("child test runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_missing_postgres_skips_by_default_and_fails_under_require() {
    let (passed, text) = probe(None);
    assert!(passed, "without the switch the variant skips:\n{text}");
    assert!(text.contains("SKIPPED: PostgreSQL variant"), "{text}");
    assert!(!text.contains("PROBE: got a database"), "{text}");

    let (passed, text) = probe(Some("require"));
    assert!(!passed, "under require the variant fails:\n{text}");
    assert!(
        text.contains("NHI_TEST_POSTGRES=require, but there is no PostgreSQL"),
        "{text}"
    );
    assert!(!text.contains("SKIPPED: PostgreSQL variant"), "{text}");
}
