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

/// As in the original, a resolve discards the run's result: a command that fails after its
/// alert resolved (trapping the signal, or left alone by `ignore_resolved`) answers the
/// firing request 200; without a resolve, the same failure is a 500.
#[test]
fn a_resolve_discards_the_late_failure() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: $DIR/fail-late.sh\n    resolved_signal: SIGUSR1\n  - cmd: $DIR/fail-late.sh\n    ignore_resolved: true\n",
    );
    // Ignores SIGUSR1 so that it ends, failing, only when told to.
    let release = executor.path("release");
    script(
        &executor.path("fail-late.sh"),
        &format!("trap '' USR1\nwhile [ ! -e {} ]; do sleep 0.05; done\nexit 3", release.display()),
    );
    let url = executor.url("/");
    let request = std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp1"], "{}")));
    assert!(eventually(Duration::from_secs(10), || executor.executor.running() == 2));
    executor.send("POST", &resolved(&["fp1"], "{}"));
    std::fs::write(&release, "").unwrap();
    assert_eq!(
        request.join().unwrap(),
        (200, String::new()),
        "both failures came after the resolve"
    );

    std::fs::remove_file(&release).unwrap();
    let url = executor.url("/");
    let request = std::thread::spawn(move || support::send(&url, "POST", &firing(&["fp2"], "{}")));
    assert!(eventually(Duration::from_secs(10), || executor.executor.running() == 2));
    std::fs::write(&release, "").unwrap();
    let (status, body) = request.join().unwrap();
    assert_eq!(status, 500, "without a resolve the failures count: {body}");
    assert_eq!(body.matches("exited with status 3").count(), 2, "{body}");
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
    assert_eq!(executor.send("DELETE", "{").0, 400, "every method is the webhook");
    assert!(!executor.path("ran").exists());
    assert_eq!(executor.metric(r#"am_executor_errors_total{stage="unmarshal"}"#), 7.0);
    assert_eq!(executor.metric(r#"am_executor_errors_total{stage="read"}"#), 1.0);
}

/// Go's `net/http` mux, as the original's: `/_health` answers any method; any other path
/// and method is the webhook; a path that needs cleaning is a 301 to the clean one that
/// runs nothing.
#[test]
fn routing_is_go_muxs() {
    let executor = TestExecutor::start("commands:\n  - cmd: $DIR/ran.sh\n");
    let ran = executor.path("ran");
    script(&executor.path("ran.sh"), &format!("echo \"$AMX_RECEIVER\" >> {}", ran.display()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .max_redirects(0)
        .build()
        .into();
    let call = |method: &str, path: &str, body: &str| {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(executor.url(path))
            .body(body.to_owned())
            .unwrap();
        let mut response = agent.run(request).unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (response.status().as_u16(), location, response.body_mut().read_to_string().unwrap())
    };
    for method in ["GET", "POST", "DELETE", "PATCH", "OPTIONS"] {
        let (status, _, body) = call(method, "/_health", "");
        assert_eq!(
            (status, body.as_str()),
            (200, "All systems are functioning within normal specifications.\n"),
            "{method}"
        );
    }
    let message = |receiver: &str| {
        format!(r#"{{"status":"firing","receiver":"{receiver}","alerts":[{{"status":"firing"}}]}}"#)
    };
    assert_eq!(call("PATCH", "/any/path", &message("patch")).0, 200);
    assert_eq!(call("DELETE", "/", &message("delete")).0, 200);
    for (path, clean) in [("//hook", "/hook"), ("/a/../hook?x=1", "/hook?x=1"), ("/./", "/")] {
        let (status, location, _) = call("POST", path, &message("unclean"));
        assert_eq!((status, location.as_deref()), (301, Some(clean)), "{path}");
    }
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        "patch\ndelete\n",
        "a redirect runs nothing"
    );
}

/// Go's `encoding/json`, as the original decoded with: keys match case-insensitively, the
/// last duplicate wins, `null` is the zero value, unknown keys are ignored.
#[test]
fn webhook_json_is_read_as_go_reads_it() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: /bin/cp\n    args: [/proc/self/environ, $DIR/environ]\n    match_labels: {heal: 'true'}\n",
    );
    let body = r#"{"Status": "resolved", "STATUS": "firing", "receiver": null, "Receiver": "ops",
        "commonLabels": {"heal": "false", "heal": "true", "gone": null}, "groupLabels": null,
        "commonAnnotations": null, "extraField": {"nested": [1, 2]}, "externalurl": "http://am",
        "alerts": [{"STATUS": "firing", "Labels": {"heal": "true"}, "annotations": null,
                    "startsAt": null, "endsAt": "0001-01-01T00:00:00Z", "Fingerprint": "abc"}]}"#;
    let (status, answer) = executor.send("POST", body);
    assert_eq!(status, 200, "{answer}");
    let env = amx_lines(&std::fs::read(executor.path("environ")).unwrap());
    for expected in [
        "AMX_STATUS=firing",
        "AMX_RECEIVER=ops",
        "AMX_EXTERNAL_URL=http://am",
        "AMX_LABEL_heal=true",
        "AMX_LABEL_gone=",
        "AMX_ALERT_1_STATUS=firing",
        "AMX_ALERT_1_FINGERPRINT=abc",
        "AMX_ALERT_1_END=0",
        "AMX_ALERT_LEN=1",
    ] {
        assert!(env.iter().any(|line| line == expected), "{expected} not in {env:#?}");
    }
    assert!(!env.iter().any(|line| line.starts_with("AMX_GLABEL_")), "{env:#?}");
}

#[test]
fn health_and_metric_names_match_the_original() {
    let executor = TestExecutor::start("commands:\n  - cmd: /bin/true\n");
    let health =
        ureq::get(&executor.url("/_health")).call().unwrap().body_mut().read_to_string().unwrap();
    assert_eq!(health, "All systems are functioning within normal specifications.\n");
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

/// A real Alertmanager whose receiver sends credentials from files (`http_config`: a bearer
/// token, or basic auth) reaches a protected executor; its receiver without them gets 401 and
/// runs nothing; `/_health` and `/metrics` stay open.
#[test]
fn alertmanager_authenticates_with_http_config_credentials() {
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "am-token-7f3a\n").unwrap();
    let password = secrets.path().join("password");
    std::fs::write(&password, "am-pass-91c2\n").unwrap();
    let (token, password) = (token.display(), password.display());
    let cases = [
        (
            format!("webhook_auth:\n  bearer_token_file: {token}\n"),
            format!("    http_config:\n      authorization:\n        credentials_file: {token}\n"),
        ),
        (
            format!(
                "webhook_auth:\n  basic_auth:\n    username: alertmanager\n    password_file: {password}\n"
            ),
            format!(
                "    http_config:\n      basic_auth:\n        username: alertmanager\n        password_file: {password}\n"
            ),
        ),
    ];
    for (auth, http_config) in cases {
        let executor = TestExecutor::start(&format!(
            "{auth}commands:\n  - cmd: $DIR/heal.sh\n    match_labels: {{heal: 'true'}}\n"
        ));
        let runs = executor.path("runs");
        script(
            &executor.path("heal.sh"),
            &format!("echo \"$AMX_LABEL_alertname\" >> {}", runs.display()),
        );
        assert_eq!(executor.send("POST", &firing(&["f1"], r#""heal":"true""#)).0, 401);
        let health = ureq::get(&executor.url("/_health")).call().unwrap().status();
        assert_eq!(health, 200, "health needs no credentials");
        assert_eq!(executor.metric("am_executor_processes_current"), 0.0, "nor do metrics");

        let url = executor.url("/");
        let config = format!(
            "route:\n  receiver: bare\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n  - matchers: ['with=\"credentials\"']\n    receiver: authed\nreceivers:\n- name: authed\n  webhook_configs:\n  - url: {url}\n{http_config}- name: bare\n  webhook_configs:\n  - url: {url}\n"
        );
        let alertmanager = test_support::Alertmanager::start(&config);
        alertmanager.post_alerts(
            r#"[{"labels":{"alertname":"Authed","heal":"true","with":"credentials"}},{"labels":{"alertname":"Bare","heal":"true"}}]"#,
        );
        let ran = wait_for_file_with_log(&runs, &alertmanager);
        // The bare receiver's notification was refused: Alertmanager counts it failed.
        let refused =
            eventually(Duration::from_secs(30), || alertmanager.webhook_notifications().1 >= 1.0);
        assert!(refused, "the bare receiver was not refused:\n{}", alertmanager.log());
        assert_eq!(std::fs::read_to_string(&runs).unwrap(), "Authed\n", "{ran}");
    }
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

/// `dedup_window`: the same notification again (as an HA pair sends it) runs nothing; one
/// with another start is another notification; a failed run is forgotten, so its retry runs.
#[test]
fn dedup_window_runs_a_notification_once() {
    let executor = TestExecutor::start("commands:\n  - cmd: $DIR/heal.sh\n    dedup_window: 1m\n");
    let runs = executor.path("runs");
    let fail = executor.path("fail");
    script(
        &executor.path("heal.sh"),
        &format!("echo \"$AMX_ALERT_1_START\" >> {}\n[ ! -e {} ]", runs.display(), fail.display()),
    );
    let first = firing(&["f1"], "{}");
    assert_eq!(executor.send("POST", &first).0, 200);
    assert_eq!(executor.send("POST", &first).0, 200, "a duplicate is answered 200");
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="duplicate"}"#), 1.0);
    let restarted = first.replace("2026-11-22T00:00:00Z", "2026-11-22T01:00:00Z");
    assert_eq!(executor.send("POST", &restarted).0, 200, "a new start is a new notification");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);

    std::fs::write(&fail, "").unwrap();
    let other = firing(&["f2"], "{}");
    assert_eq!(executor.send("POST", &other).0, 500);
    std::fs::remove_file(&fail).unwrap();
    assert_eq!(executor.send("POST", &other).0, 200, "the retry of a failed run runs");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 4);
}

/// `cooldown` per fingerprint, `rate_limit` across fingerprints; each skip is counted by
/// its reason and answered 200.
#[test]
fn cooldown_and_rate_limit_skip_and_count() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: $DIR/heal.sh\n    cooldown: 1h\n  - cmd: $DIR/heal.sh\n    args: [limited]\n    rate_limit: {max: 2, per: 1h}\n",
    );
    let runs = executor.path("runs");
    script(
        &executor.path("heal.sh"),
        &format!("echo \"${{1:-cooled}} $AMX_ALERT_1_FINGERPRINT\" >> {}", runs.display()),
    );
    for fingerprint in ["a", "a", "b", "c", "b"] {
        let message = firing(&[fingerprint], "{}")
            .replace("2026-11-22T00:00:00Z", &format!("2026-11-22T0{}:00:00Z", fingerprint.len()));
        assert_eq!(executor.send("POST", &message).0, 200, "{fingerprint}");
    }
    let mut ran: Vec<String> =
        std::fs::read_to_string(&runs).unwrap().lines().map(str::to_owned).collect();
    ran.sort();
    assert_eq!(ran, ["cooled a", "cooled b", "cooled c", "limited a", "limited a"]);
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="cooldown"}"#), 2.0);
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="rate_limit"}"#), 3.0);
}

/// `POST /_pause` stops every command from starting (answered 200, counted) until
/// `POST /_resume`; both sit behind the webhook's authentication.
#[test]
fn pause_and_resume_over_http() {
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "pause-token\n").unwrap();
    let executor = TestExecutor::start(&format!(
        "webhook_auth:\n  bearer_token_file: {}\ncommands:\n  - cmd: $DIR/heal.sh\n",
        token.display()
    ));
    let runs = executor.path("runs");
    script(&executor.path("heal.sh"), &format!("echo ran >> {}", runs.display()));
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = |path: &str, token: Option<&str>, body: &str| {
        let mut request = agent.post(&executor.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        request.send(body).unwrap().status().as_u16()
    };
    assert_eq!(post("/_pause", None, ""), 401, "pausing needs the credential");
    assert_eq!(post("/_pause", Some("pause-token"), ""), 200);
    assert_eq!(executor.metric("am_executor_paused"), 1.0);
    assert_eq!(post("/", Some("pause-token"), &firing(&["p1"], "{}")), 200);
    assert!(!runs.exists(), "nothing runs while paused");
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="paused"}"#), 1.0);
    assert_eq!(post("/_resume", Some("pause-token"), ""), 200);
    assert_eq!(post("/", Some("pause-token"), &firing(&["p1"], "{}")), 200);
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n");
    assert_eq!(executor.metric("am_executor_paused"), 0.0);
}

/// A group too big for the kernel's environment limit runs with the alerts that fit:
/// `AMX_ALERT_LEN` the full count, `AMX_TRUNCATED` the number left out; one 140 KB
/// annotation is left out with its alert. `payload_file` gives the whole message.
#[test]
fn big_groups_run_with_what_fits_and_the_payload_file_has_all() {
    let executor =
        TestExecutor::start("commands:\n  - cmd: $DIR/capture.sh\n    payload_file: true\n");
    let dir = executor.dir.path().display().to_string();
    script(
        &executor.path("capture.sh"),
        &format!(
            "cp /proc/self/environ {dir}/environ\ncp \"$AMX_PAYLOAD_FILE\" {dir}/payload\necho \"$AMX_PAYLOAD_FILE\" > {dir}/payload-path"
        ),
    );
    let padding = "x".repeat(500);
    let alerts: Vec<String> = (0..4000)
        .map(|i| format!(r#"{{"status":"firing","labels":{{"alertname":"Big","instance":"host-{i}","pad":"{padding}"}},"fingerprint":"fp{i}"}}"#))
        .collect();
    let body = format!(r#"{{"status":"firing","receiver":"big","alerts":[{}]}}"#, alerts.join(","));
    let (status, answer) = executor.send("POST", &body);
    assert_eq!(status, 200, "{answer}");
    let env = amx_lines(&std::fs::read(executor.path("environ")).unwrap());
    let value = |name: &str| {
        env.iter().find_map(|line| line.strip_prefix(&format!("{name}="))).map(str::to_owned)
    };
    assert_eq!(value("AMX_ALERT_LEN").as_deref(), Some("4000"));
    let left_out: usize = value("AMX_TRUNCATED").expect("AMX_TRUNCATED").parse().unwrap();
    let kept = 4000 - left_out;
    assert!(kept > 100 && left_out > 0, "kept {kept}");
    assert!(value(&format!("AMX_ALERT_{kept}_FINGERPRINT")).is_some());
    assert!(
        value(&format!("AMX_ALERT_{}_FINGERPRINT", kept + 1)).is_none(),
        "whole alerts, from the first"
    );
    assert_eq!(std::fs::read_to_string(executor.path("payload")).unwrap(), body);
    let payload_path = std::fs::read_to_string(executor.path("payload-path")).unwrap();
    assert!(!std::path::Path::new(payload_path.trim()).exists(), "removed after the command");
    assert_eq!(executor.metric("am_executor_truncated_total"), 1.0);

    let huge = "y".repeat(140 * 1024);
    let body = format!(
        r#"{{"status":"firing","receiver":"big","commonAnnotations":{{"summary":"{huge}"}},"alerts":[{{"status":"firing","annotations":{{"summary":"{huge}"}},"labels":{{"alertname":"Huge"}}}}]}}"#
    );
    assert_eq!(executor.send("POST", &body).0, 200);
    let env = amx_lines(&std::fs::read(executor.path("environ")).unwrap());
    assert!(
        env.contains(&"AMX_TRUNCATED=1".to_owned()) && env.contains(&"AMX_ALERT_LEN=1".to_owned()),
        "{:?}",
        env.iter().map(|l| &l[..l.len().min(40)]).collect::<Vec<_>>()
    );
    assert!(!env.iter().any(|line| line.starts_with("AMX_ANNOTATION_summary=")));
}

/// An HA pair that is not clustered (the partition case): Prometheus alerts to two real
/// Alertmanagers, both route to the executor, both deliver the notification; with
/// `dedup_window` the heal runs once per alert.
#[test]
fn two_alertmanagers_one_heal_per_alert() {
    let executor = TestExecutor::start(
        "commands:\n  - cmd: $DIR/heal.sh\n    match_labels: {heal: 'true'}\n    dedup_window: 10m\n",
    );
    let runs = executor.path("runs");
    script(
        &executor.path("heal.sh"),
        &format!("echo \"$AMX_ALERT_1_LABEL_instance\" >> {}", runs.display()),
    );
    let config = format!(
        "route:\n  receiver: executor\n  group_by: [alertname, instance]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: executor\n  webhook_configs:\n  - url: {}\n",
        executor.url("/")
    );
    let (first, second) =
        (test_support::Alertmanager::start(&config), test_support::Alertmanager::start(&config));
    let target =
        |am: &test_support::Alertmanager| am.url("").trim_start_matches("http://").to_owned();
    let alerting = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}', '{}']\n",
        target(&first),
        target(&second)
    );
    let prometheus =
        test_support::SimHost::start_with_flags(71, &alerting, &["--rules.alert.resend-delay=1s"]);
    std::fs::write(
        prometheus.rule_file(),
        "groups:\n- name: heal\n  rules:\n  - alert: HealMe\n    expr: label_replace(vector(1), \"instance\", \"db$1\", \"\", \"(.*)\") or label_replace(vector(2), \"instance\", \"web$1\", \"\", \"(.*)\")\n    labels:\n      heal: 'true'\n",
    )
    .unwrap();
    let reload = ureq::post(&format!("{}/-/reload", prometheus.prometheus_url())).send_empty();
    assert!(reload.is_ok(), "{reload:?}");

    // Both Alertmanagers deliver both groups: four notifications, two heals.
    let delivered = |am: &test_support::Alertmanager| am.webhook_notifications().0;
    let all_delivered = eventually(Duration::from_secs(60), || {
        delivered(&first) >= 2.0 && delivered(&second) >= 2.0
    });
    assert!(
        all_delivered,
        "not every notification was delivered:\n{}\n{}",
        first.log(),
        second.log()
    );
    let mut healed: Vec<String> =
        std::fs::read_to_string(&runs).unwrap().lines().map(str::to_owned).collect();
    healed.sort();
    assert_eq!(healed, ["db", "web"], "one heal per alert");
    assert_eq!(executor.metric(r#"am_executor_skipped_total{reason="duplicate"}"#), 2.0);
}

/// `tls_client_ca`: over HTTPS, only a client with a certificate that CA signed connects.
/// A real Alertmanager whose receiver presents one (`http_config.tls_config`) runs the heal;
/// its receiver without a certificate cannot connect, and nothing runs for it.
#[test]
fn a_client_certificate_is_required_with_tls_client_ca() {
    let certificates = test_support::Certificates::new();
    let (ca, crt, key) = (
        certificates.ca().display().to_string(),
        certificates.server_certificate().display().to_string(),
        certificates.server_key().display().to_string(),
    );
    let executor = TestExecutor::start(&format!(
        "tls_crt: {crt}\ntls_key: {key}\ntls_client_ca: {ca}\ncommands:\n  - cmd: $DIR/heal.sh\n"
    ));
    let runs = executor.path("runs");
    script(
        &executor.path("heal.sh"),
        &format!("echo \"$AMX_LABEL_alertname\" >> {}", runs.display()),
    );
    let url = executor.url("/");
    assert!(url.starts_with("https://"), "{url}");
    let (client_crt, client_key) = (
        certificates.client_certificate().display().to_string(),
        certificates.client_key().display().to_string(),
    );
    let config = format!(
        "route:\n  receiver: bare\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n  - matchers: ['with=\"certificate\"']\n    receiver: presented\nreceivers:\n- name: presented\n  webhook_configs:\n  - url: {url}\n    http_config:\n      tls_config:\n        ca_file: {ca}\n        cert_file: {client_crt}\n        key_file: {client_key}\n- name: bare\n  webhook_configs:\n  - url: {url}\n    http_config:\n      tls_config:\n        ca_file: {ca}\n"
    );
    let alertmanager = test_support::Alertmanager::start(&config);
    alertmanager.post_alerts(
        r#"[{"labels":{"alertname":"Presented","with":"certificate"}},{"labels":{"alertname":"Bare"}}]"#,
    );
    wait_for_file_with_log(&runs, &alertmanager);
    let refused =
        eventually(Duration::from_secs(30), || alertmanager.webhook_notifications().1 >= 1.0);
    assert!(refused, "the receiver without a certificate got through:\n{}", alertmanager.log());
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "Presented\n");
}
