//! The executor with real commands: the exact environment, exit codes, timeouts, `max`,
//! resolve signals to whole process groups, bad input; and the end-to-end path from a real
//! Alertmanager.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{TestExecutor, process_gone, script, wait_for_file};
use test_support::eventually;

mod support;

const UPSTREAM_PAYLOAD: &str = include_str!("data/upstream-payload.json");
const UPSTREAM_ENVIRONMENT: &str = include_str!("data/upstream-environment.txt");

/// The `AMX_*` entries of a NUL-separated `/proc/<pid>/environ` copy, sorted.
fn amx_lines(environ: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = environ
        .split(|&b| b == 0)
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .filter(|entry| entry.starts_with("AMX_"))
        .collect();
    lines.sort();
    lines
}

fn firing(fingerprints: &[&str], common: &str) -> String {
    let alerts: Vec<String> = fingerprints
        .iter()
        .map(|fp| format!(r#"{{"status":"firing","labels":{{"alertname":"Heal","instance":"{fp}"}},"fingerprint":"{fp}","startsAt":"2026-11-22T00:00:00Z","endsAt":"0001-01-01T00:00:00Z"}}"#))
        .collect();
    format!(
        r#"{{"version":"4","status":"firing","receiver":"heal","commonLabels":{common},"alerts":[{}]}}"#,
        alerts.join(",")
    )
}

fn resolved(fingerprints: &[&str], common: &str) -> String {
    firing(fingerprints, common).replace("\"firing\"", "\"resolved\"")
}

#[test]
fn upstream_payload_gives_exactly_the_original_environment() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/environ]\n",
    );
    // The original's README sends its example with GET.
    let (status, body) = executor.send("GET", UPSTREAM_PAYLOAD);
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "a firing request answers after its command finished"
    );
    let environ = std::fs::read(executor.path("environ")).unwrap();
    let expected: Vec<&str> = UPSTREAM_ENVIRONMENT.lines().collect();
    assert_eq!(amx_lines(&environ), expected);
    assert!(
        environ.split(|&b| b == 0).any(|e| e.starts_with(b"PATH=")),
        "the executor's own environment is kept"
    );
}

#[test]
fn environment_keeps_odd_names_and_values_byte_for_byte() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/environ]\n",
    );
    let body = r#"{"status":"firing","receiver":"r","commonLabels":{"k8s.io/part-of":"db","ünïcode":"✓","a=b":"c=d","multi":"line1\nline2"},
        "alerts":[{"status":"firing","labels":{"x":"y"},"startsAt":"1969-12-31T23:59:58.9Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
    assert_eq!(executor.send("POST", body).0, 200);
    let entries: BTreeMap<String, String> = std::fs::read(executor.path("environ"))
        .unwrap()
        .split(|&b| b == 0)
        .filter_map(|e| {
            String::from_utf8(e.to_vec())
                .ok()?
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    assert_eq!(entries["AMX_LABEL_k8s.io/part-of"], "db");
    assert_eq!(entries["AMX_LABEL_ünïcode"], "✓");
    // The first `=` ends the name, as the kernel and every libc read it.
    assert_eq!(entries["AMX_LABEL_a"], "b=c=d");
    assert_eq!(entries["AMX_LABEL_multi"], "line1\nline2");
    assert_eq!(entries["AMX_ALERT_1_START"], "-2");
    assert_eq!(entries["AMX_ALERT_1_END"], "0");
}

#[test]
fn failures_of_notifying_commands_make_a_500() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/false\n  - cmd: /bin/sh\n    args: ['-c', 'exit 3']\n    notify_on_failure: false\n  - cmd: /nonexistent/heal\n  - cmd: /bin/true\n",
    );
    let (status, body) = executor.send("POST", &firing(&["a"], "{}"));
    assert_eq!(status, 500);
    assert!(body.contains("command `/bin/false` exited with status 1"), "{body}");
    assert!(body.contains("command `/nonexistent/heal` could not start"), "{body}");
    assert!(!body.contains("/bin/sh") && !body.contains("/bin/true"), "{body}");
    assert_eq!(executor.metric(r#"am_executor_errors_total{stage="start"}"#), 1.0);
    assert_eq!(executor.metric("am_executor_process_duration_seconds_count"), 3.0);

    let quiet = TestExecutor::start("commands:\n  - cmd: /bin/true\n");
    assert_eq!(quiet.send("POST", &firing(&["a"], "{}")), (200, String::new()));
}

#[test]
fn a_hung_command_times_out_and_fails() {
    let executor =
        TestExecutor::start("commands:\n  - cmd: /bin/sleep\n    args: ['60']\n    timeout: 1s\n");
    let started = Instant::now();
    let (status, body) = executor.send("POST", &firing(&["a"], "{}"));
    assert_eq!(status, 500);
    assert!(body.contains("command `/bin/sleep` timed out after 1s"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(30), "the request did not hang");
    assert_eq!(executor.executor.running(), 0);
}

#[test]
fn only_commands_matching_common_labels_run() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/heal]\n    match_labels: {alertname: Heal}\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/other]\n    match_labels: {alertname: Other}\n",
    );
    assert_eq!(executor.send("POST", &firing(&["a"], r#"{"alertname":"Heal"}"#)).0, 200);
    assert!(executor.path("heal").exists());
    assert!(!executor.path("other").exists());
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="nomatch"}"#), 1.0);
}

#[test]
fn resolve_signals_the_whole_process_group_and_ends_the_firing_request() {
    let executor =
        TestExecutor::start("commands:\n  - cmd: $DIR/heal.sh\n    resolved_signal: SIGTERM\n");
    // The shell starts a child and waits: the child must get the signal too.
    script(
        &executor.path("heal.sh"),
        &format!(
            "sleep 300 &\necho $! > {dir}/child.pid\nwait",
            dir = executor.dir.path().display()
        ),
    );
    let url = executor.url("/");
    let request = std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp1"], "{}")));
    let child: u32 =
        wait_for_file(&executor.path("child.pid"), Duration::from_secs(10)).trim().parse().unwrap();
    assert!(!process_gone(child));

    let (status, _) = executor.send("POST", &resolved(&["fp1"], "{}"));
    assert_eq!(status, 200, "a resolved request answers at once");
    let (status, body) = request.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "a command stopped by its resolve is no failure"
    );
    assert!(
        eventually(Duration::from_secs(5), || process_gone(child)),
        "the shell's child got the signal"
    );
    assert_eq!(executor.metric(r#"am_executor_signalled_total{result="ok"}"#), 1.0);
}

#[test]
fn resolve_signals_for_any_alert_of_a_reordered_group() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/sleep\n    args: ['300']\n    resolved_signal: SIGUSR1\n",
    );
    let url = executor.url("/");
    let request =
        std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp1", "fp2"], "{}")));
    assert!(eventually(Duration::from_secs(10), || executor.executor.running() == 1));
    // The original compared only the first alert of the resolved message (fp2 here).
    executor.send("POST", &resolved(&["fp2", "fp1"], "{}"));
    let (status, _) = request.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(executor.executor.running(), 0);
}

#[test]
fn ignore_resolved_leaves_the_command_running() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/sleep\n    args: ['2']\n    ignore_resolved: true\n",
    );
    let url = executor.url("/");
    let request = std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp1"], "{}")));
    assert!(eventually(Duration::from_secs(10), || executor.executor.running() == 1));
    executor.send("POST", &resolved(&["fp1"], "{}"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(executor.executor.running(), 1, "still running after the resolve");
    assert_eq!(request.join().unwrap().0, 200);
    assert_eq!(executor.metric(r#"am_executor_signalled_total{result="ok"}"#), 0.0);
}

#[test]
fn max_counts_per_command_and_fingerprint_without_races() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: $DIR/count.sh\n    args: [first]\n    max: 1\n  - cmd: $DIR/count.sh\n    args: [second]\n    max: 1\n",
    );
    script(
        &executor.path("count.sh"),
        &format!(
            "echo \"$1 $AMX_ALERT_1_FINGERPRINT\" >> {dir}/runs\nsleep 1",
            dir = executor.dir.path().display()
        ),
    );
    let requests: Vec<_> = (0..6)
        .map(|i| {
            let url = executor.url("/");
            let fingerprint = if i < 5 { "same" } else { "other" };
            std::thread::spawn(move || support::send(&url, "POST", &firing(&[fingerprint], "{}")))
        })
        .collect();
    for request in requests {
        assert_eq!(request.join().unwrap().0, 200, "a skip is not an error");
    }
    let mut runs: Vec<String> = std::fs::read_to_string(executor.path("runs"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    runs.sort();
    assert_eq!(
        runs,
        ["first other", "first same", "second other", "second same"],
        "one instance per command and fingerprint"
    );
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="fingerover"}"#), 8.0);
}

#[test]
fn bad_input_is_400_and_runs_nothing() {
    let executor = TestExecutor::start_with_limit(
        "commands:\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/ran]\n",
        64 * 1024,
    );
    let cases = [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        (r#"{"status":"firing","alerts":"many"}"#, "wrong shape"),
        (r#"{"status":"firing","alerts":[{"startsAt":"noon"}]}"#, "`noon` is not an RFC 3339 time"),
        (r#"{"status":"exploded"}"#, "unknown status `exploded`"),
        (r#"{"status":"firing","commonLabels":{"a":"\u0000"}}"#, "NUL byte"),
    ];
    for (body, expected) in cases {
        let (status, text) = executor.send("POST", body);
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(expected), "{body}: {text}");
    }
    let huge = format!(r#"{{"status":"firing","receiver":"{}"}}"#, "x".repeat(100 * 1024));
    assert_eq!(executor.send("POST", &huge).0, 413);
    assert_eq!(executor.send("DELETE", &firing(&["a"], "{}")).0, 405);
    assert!(!executor.path("ran").exists());
    assert_eq!(executor.metric(r#"am_executor_errors_total{stage="unmarshal"}"#), 6.0);
    assert_eq!(executor.metric(r#"am_executor_errors_total{stage="read"}"#), 1.0);
}

#[test]
fn health_and_metric_names_match_the_original() {
    let executor = TestExecutor::start("commands:\n  - cmd: /bin/true\n");
    let health =
        ureq::get(&executor.url("/_health")).call().unwrap().body_mut().read_to_string().unwrap();
    assert_eq!(health, "All systems are functioning within normal specifications.");
    for series in [
        "am_executor_processes_current",
        r#"am_executor_errors_total{stage="read"}"#,
        r#"am_executor_errors_total{stage="unmarshal"}"#,
        r#"am_executor_errors_total{stage="start"}"#,
        r#"am_executor_signalled_total{result="ok"}"#,
        r#"am_executor_signalled_total{result="fail"}"#,
        r#"am_executor_skipped_total{reason="nomatch"}"#,
        r#"am_executor_skipped_total{reason="fingerover"}"#,
        r#"am_executor_process_duration_seconds_bucket{le="1800.0"}"#,
    ] {
        assert_eq!(executor.metric(series), 0.0, "{series} starts at 0");
    }
}

/// A real Alertmanager routes alerts to the executor: the command runs with the alert in
/// its environment, and is signalled when the alert resolves.
///
/// Alertmanager gives a webhook about 10 s, then retries, and sends a group's resolve only
/// after a firing notification went through. A heal that runs longer therefore needs
/// `max: 1`: the first request times out while the command goes on, the retry is answered
/// at once as a skip, and the resolve follows and reaches the running command.
#[test]
fn alertmanager_end_to_end() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: $DIR/heal.sh\n    match_labels: {heal: 'true'}\n    max: 1\n    resolved_signal: SIGTERM\n",
    );
    let dir = executor.dir.path().display().to_string();
    script(
        &executor.path("heal.sh"),
        &format!(
            "cp /proc/self/environ {dir}/environ\ntrap 'echo resolved > {dir}/signal; exit 0' TERM\nsleep 300 &\nwait"
        ),
    );
    let config = format!(
        "route:\n  receiver: executor\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: executor\n  webhook_configs:\n  - url: {}\n    send_resolved: true\n",
        executor.url("/")
    );
    let alertmanager = test_support::Alertmanager::start(&config);
    let alert = |ends: &str| {
        format!(
            r#"[{{"labels":{{"alertname":"DiskFull","heal":"true","instance":"db1"}},"annotations":{{"summary":"disk full"}},"generatorURL":"http://prometheus/graph"{ends}}}]"#
        )
    };
    alertmanager.post_alerts(&alert(""));
    wait_for_file_with_log(&executor.path("environ"), &alertmanager);
    let env: BTreeMap<String, String> = std::fs::read(executor.path("environ"))
        .unwrap()
        .split(|&b| b == 0)
        .filter_map(|e| {
            String::from_utf8(e.to_vec())
                .ok()?
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .filter(|(k, _)| k.starts_with("AMX_"))
        .collect();
    assert_eq!(env["AMX_STATUS"], "firing");
    assert_eq!(env["AMX_RECEIVER"], "executor");
    assert_eq!(env["AMX_ALERT_LEN"], "1");
    assert_eq!(env["AMX_ALERT_1_LABEL_alertname"], "DiskFull");
    assert_eq!(env["AMX_ALERT_1_ANNOTATION_summary"], "disk full");
    assert_eq!(env["AMX_LABEL_instance"], "db1");
    assert_eq!(env["AMX_GLABEL_alertname"], "DiskFull");
    assert_eq!(env["AMX_ALERT_1_URL"], "http://prometheus/graph");
    assert_eq!(env["AMX_ALERT_1_END"], "0");
    assert_eq!(env["AMX_ALERT_1_FINGERPRINT"].len(), 16, "Alertmanager's fingerprint: {env:?}");
    let port = alertmanager.url("").rsplit(':').next().unwrap().to_owned();
    assert!(
        env["AMX_EXTERNAL_URL"].starts_with("http://")
            && env["AMX_EXTERNAL_URL"].ends_with(&format!(":{port}")),
        "{env:?}"
    );

    // Once Alertmanager's retry was acknowledged, resolve: Alertmanager sends the resolved
    // group, and the still-running command gets SIGTERM.
    let acknowledged = eventually(Duration::from_secs(60), || {
        executor.metric(r#"am_executor_skipped_total{reason="fingerover"}"#) >= 1.0
    });
    assert!(
        acknowledged,
        "Alertmanager did not retry the firing notification:\n{}",
        alertmanager.log()
    );
    assert_eq!(executor.executor.running(), 1, "the first heal is still running");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    alertmanager.post_alerts(&alert(&format!(r#","endsAt":"{now}""#)));
    let signal = wait_for_file_with_log(&executor.path("signal"), &alertmanager);
    assert_eq!(signal.trim(), "resolved");
    assert!(eventually(Duration::from_secs(10), || executor.executor.running() == 0));
}

fn wait_for_file_with_log(
    path: &std::path::Path,
    alertmanager: &test_support::Alertmanager,
) -> String {
    if eventually(Duration::from_secs(60), || std::fs::metadata(path).is_ok_and(|m| m.len() > 0)) {
        return std::fs::read_to_string(path).unwrap_or_default();
    }
    panic!("{} was not written; Alertmanager's log:\n{}", path.display(), alertmanager.log())
}

#[test]
fn graceful_shutdown_signals_running_commands() {
    let mut executor =
        TestExecutor::start("commands:\n  - cmd: $DIR/long.sh\n    resolved_signal: SIGTERM\n");
    let dir = executor.dir.path().display().to_string();
    script(
        &executor.path("long.sh"),
        &format!(
            "trap 'echo stopped > {dir}/stopped; exit 0' TERM\necho started > {dir}/started\nsleep 300 &\nwait"
        ),
    );
    let url = executor.url("/");
    let request = std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp"], "{}")));
    wait_for_file(&executor.path("started"), Duration::from_secs(10));
    let path = executor.path("stopped");
    let started = Instant::now();
    executor.stop(); // as on SIGTERM: a 2 s grace, then the resolve signal
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "stopped");
    assert!(started.elapsed() < Duration::from_secs(15));
    let _ = request.join();
}
