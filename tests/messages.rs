//! Messages an operator reads once and acts on: each URL named once, the
//! card file's misspellings shown by `diagnose` too (issue 18, item 6).

mod common;

use common::*;
use std::time::Duration;

#[test]
fn the_first_platform_retry_warning_names_the_url_once() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let a = Agent::start(&[("REGISTER", "true"), ("PLATFORM_URL", &url)]);
    let line = |logs: &str| {
        logs.lines()
            .find(|l| l.contains("waiting for the platform"))
            .map(str::to_string)
    };
    assert!(
        eventually(Duration::from_secs(15), || line(&a.logs()).is_some()),
        "{}",
        a.logs()
    );
    let warn = line(&a.logs()).unwrap();
    let host = format!("127.0.0.1:{port}");
    assert_eq!(warn.matches(&host).count(), 1, "{warn}");
    assert!(
        warn.contains("Connection Failed"),
        "the cause is kept: {warn}"
    );
}

#[test]
fn diagnose_shows_the_card_files_unknown_keys() {
    let configs = temp_dir("diag-card");
    std::fs::write(
        configs.join("agent-card.json"),
        r#"{"name": "n", "skils": [{"id": "a"}]}"#,
    )
    .unwrap();
    let out = run_bin(
        &[
            ("WORKSPACE_ID", "w"),
            ("REGISTER", "false"),
            ("CONFIGS_DIR", configs.to_str().unwrap()),
            ("PORT", &free_port().to_string()),
        ],
        &["diagnose"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let warning = text.lines().find(|l| l.starts_with("! "));
    assert!(
        warning.is_some_and(|w| w.contains("card file") && w.contains("\"skils\"")),
        "{text}"
    );
}
