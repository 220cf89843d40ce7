//! The client against a real Prometheus behind basic auth: reload and its proof, the
//! loaded `rule_files` and groups, build info, bounded instant queries, and credentials
//! that never show in an error, a `Debug` output or a log line.

use std::time::Duration;

use promrules_prometheus::{Auth, Prometheus, PrometheusError, rule_files_cover};
use support::{PASSWORD, log_lines, prometheus, record_logs};

mod support;

fn client(url: &str, password: &str) -> Prometheus {
    Prometheus::new(url)
        .with_auth(Auth::Basic { username: "promrules".into(), password: password.into() })
}

#[test]
fn a_reload_is_proven_by_the_success_timestamp() {
    let host = prometheus().lock().unwrap();
    let client = client(&host.prometheus_url(), PASSWORD);
    let before = client.reload_state().unwrap();
    assert!(before.successful);
    client.reload().unwrap();
    let after = client.reload_state().unwrap();
    assert!(after.success_timestamp > before.success_timestamp, "{before:?} -> {after:?}");
}

#[test]
fn a_rejected_configuration_is_a_rejection() {
    let host = prometheus().lock().unwrap();
    let client = client(&host.prometheus_url(), PASSWORD);
    let rule_file = host.rule_file();
    let good = std::fs::read(&rule_file).unwrap();
    std::fs::write(
        &rule_file,
        "groups:\n- name: x\n  rules:\n  - record: 'not a name'\n    expr: up\n",
    )
    .unwrap();
    let error = client.reload().unwrap_err();
    std::fs::write(&rule_file, good).unwrap();
    client.reload().unwrap();
    assert!(error.is_rejection(), "{error}");
    assert!(error.to_string().contains("/-/reload"), "{error}");
}

#[test]
fn rule_files_and_the_groups_loaded_from_one_file() {
    let host = prometheus().lock().unwrap();
    let client = client(&host.prometheus_url(), PASSWORD);
    let patterns = client.rule_file_patterns().unwrap();
    assert!(rule_files_cover(&patterns, &host.rule_file()), "{patterns:?}");
    let rule_file = host.rule_file();
    let good = std::fs::read(&rule_file).unwrap();
    std::fs::write(
        &rule_file,
        "groups:\n- name: b\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n- name: a\n  rules: []\n",
    )
    .unwrap();
    client.reload().unwrap();
    let loaded = client.loaded_groups(&rule_file).unwrap();
    std::fs::write(&rule_file, good).unwrap();
    client.reload().unwrap();
    assert_eq!(loaded, ["a", "b"]);
}

#[test]
fn build_info_gives_the_version() {
    let host = prometheus().lock().unwrap();
    let info = client(&host.prometheus_url(), PASSWORD).build_info().unwrap();
    let (major, minor, _) = info.semver().unwrap_or_else(|| panic!("{info:?}"));
    assert!(major >= 2 && (major > 2 || minor >= 30), "{info:?}");
}

#[test]
fn instant_queries_are_cut_to_the_asked_series() {
    let host = prometheus().lock().unwrap();
    let client = client(&host.prometheus_url(), PASSWORD);
    let three = r#"label_replace(vector(1), "n", "a", "", "") or label_replace(vector(2), "n", "b", "", "") or label_replace(vector(3), "n", "c", "", "")"#;
    let answer = client.query(three, Duration::from_secs(5), 2).unwrap();
    assert_eq!((answer.result_type.as_str(), answer.total, answer.series.len()), ("vector", 3, 2));
    assert_eq!(answer.series[0].labels["n"], "a");
    assert_eq!(answer.series[0].value, "1");
    let scalar = client.query("scalar(vector(42))", Duration::from_secs(5), 20).unwrap();
    assert_eq!((scalar.result_type.as_str(), scalar.series[0].value.as_str()), ("scalar", "42"));
    let error = client.query("rate(up[5m]", Duration::from_secs(5), 20).unwrap_err();
    assert!(matches!(error, PrometheusError::Status { status: 400, .. }), "{error}");
}

#[test]
fn credentials_never_show_in_errors_debug_or_logs() {
    record_logs();
    let host = prometheus().lock().unwrap();
    let wrong = "wr0ng-pa55word";
    let guessed = client(&host.prometheus_url(), wrong);
    let error = guessed.reload().unwrap_err();
    assert!(matches!(error, PrometheusError::Status { status: 401, .. }), "{error}");
    let right = client(&host.prometheus_url(), PASSWORD);
    right.reload().unwrap();
    right.query("up", Duration::from_secs(5), 1).unwrap();
    let down = client("http://127.0.0.1:1", PASSWORD);
    let unreachable = down.reload_state().unwrap_err();

    use base64::Engine;
    let encoded = |password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("promrules:{password}"))
    };
    let outputs = [
        error.to_string(),
        format!("{error:?}"),
        unreachable.to_string(),
        format!("{guessed:?} {right:?} {down:?}"),
    ];
    // ureq-proto traces raw header lines; the binaries cap that crate's level (see
    // docs/ARCHITECTURE.md, Configuration and secrets), so it is left out here.
    let logs: Vec<String> =
        log_lines().into_iter().filter(|line| !line.starts_with("ureq_proto")).collect();
    assert!(logs.iter().any(|line| line.starts_with("promrules_prometheus")), "{logs:?}");
    for text in outputs.iter().chain(&logs) {
        for secret in [PASSWORD.to_owned(), wrong.to_owned(), encoded(PASSWORD), encoded(wrong)] {
            assert!(!text.contains(&secret), "a secret in {text:?}");
        }
    }
}
