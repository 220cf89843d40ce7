//! The real `am-executor` binary: the original's command line, startup errors, TLS, and a
//! graceful exit on SIGTERM.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_am-executor");

/// These tests run one at a time: each is short, and concurrent tests' sockets were seen
/// taking a port between `free_port` and the child's bind.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Running {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Running {
    /// Starts am-executor on a free port, with stdin from /dev/null (CI runs with stdin
    /// closed) and its log in a file (a pipe nobody reads could fill up and stall it).
    ///
    /// A port that was free a moment ago can be taken before the child binds it (CI saw
    /// that); a child that exits right after starting is retried on another port.
    fn start(args: &[&str]) -> Running {
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = test_support::free_port("127.0.0.1");
            let listen = format!("127.0.0.1:{port}");
            let log = tempfile::NamedTempFile::new().unwrap();
            let mut child = Command::new(BIN)
                .arg("-l")
                .arg(&listen)
                .args(args)
                .stdin(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
                .unwrap();
            let listening =
                test_support::wait_for_port(listen.parse().unwrap(), Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(200));
            if listening && child.try_wait().unwrap().is_none() {
                return Running { child, port, log };
            }
            let _ = child.kill();
            let _ = child.wait();
            failures.push(std::fs::read_to_string(log.path()).unwrap());
        }
        panic!("am-executor did not start: {failures:#?}")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        (status, self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn positional_command_runs_with_go_style_flags() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("environ");
    let running = Running::start(&["-v", "/bin/cp", "/proc/self/environ", out.to_str().unwrap()]);
    let body = r#"{"status":"firing","receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}"#;
    let response = agent().post(&format!("http://127.0.0.1:{}/", running.port)).send(body);
    let response =
        response.unwrap_or_else(|e| panic!("{e}; am-executor's log:\n{}", running.log()));
    assert_eq!(response.status(), 200);
    let environ = std::fs::read_to_string(&out).unwrap();
    assert!(environ.split('\0').any(|e| e == "AMX_ALERT_1_LABEL_alertname=A"), "{environ:?}");
}

#[test]
fn startup_errors_are_named() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "no command configured"),
        (
            "tls_crt: /etc/cert.pem\ncommands:\n  - cmd: /bin/true\n".into(),
            "TLS needs both `tls_crt` and `tls_key`; only `tls_crt` is set",
        ),
        ("tls_key: /etc/key.pem\ncommands:\n  - cmd: /bin/true\n".into(), "only `tls_key` is set"),
        (
            "commands:\n  - cmd: /bin/true\n    resolved_signal: SIGNOPE\n".into(),
            "`SIGNOPE` is not a signal",
        ),
        ("commands: [".into(), "is invalid"),
    ];
    for (config, expected) in cases {
        let path = dir.path().join("executor.yml");
        write(&path, &config);
        let output = Command::new(BIN)
            .args(["-f", path.to_str().unwrap(), "-l", "127.0.0.1:1"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{config}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{config}: {stderr}");
    }
    // Beyond loopback without webhook auth: refused, naming both ways out; the file's
    // secret must be readable and non-empty.
    let path = dir.path().join("executor.yml");
    write(&path, "commands:\n  - cmd: /bin/true\n");
    let open =
        Command::new(BIN).args(["-f", path.to_str().unwrap(), "-l", "0.0.0.0:1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&open.stderr);
    assert!(!open.status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:1 without webhook authentication")
            && stderr.contains("webhook_auth")
            && stderr.contains("--insecure-no-auth"),
        "{stderr}"
    );
    let token = dir.path().join("empty-token");
    write(&token, "\n");
    let config = format!(
        "webhook_auth:\n  bearer_token_file: {}\ncommands:\n  - cmd: /bin/true\n",
        token.display()
    );
    write(&path, &config);
    let empty =
        Command::new(BIN).args(["-f", path.to_str().unwrap(), "-l", "0.0.0.0:1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot use `webhook_auth.bearer_token_file` `{}`: it is empty",
            token.display()
        )),
        "{stderr}"
    );
    write(&path, "tls_client_ca: /etc/ca.pem\ncommands:\n  - cmd: /bin/true\n");
    let half = Command::new(BIN)
        .args(["-f", path.to_str().unwrap(), "-l", "127.0.0.1:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&half.stderr);
    assert!(stderr.contains("`tls_client_ca` needs TLS"), "{stderr}");
    let missing = Command::new(BIN).args(["-f", "/nonexistent/executor.yml"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("cannot read configuration file `/nonexistent/executor.yml`")
    );
}

#[test]
fn unknown_keys_warn_and_listen_address_comes_from_the_file() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let port = test_support::free_port("127.0.0.1");
    let path = dir.path().join("executor.yml");
    write(
        &path,
        &format!(
            "listen_address: 127.0.0.1:{port}\nverbos: true\ncommands:\n  - cmd: /bin/true\n    retries: 3\n  - cmd: /usr/local/bin/heal-disk-missing.sh\n"
        ),
    );
    let mut child = Command::new(BIN)
        .args(["-f", path.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(test_support::wait_for_port(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(10)
    ));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(status.success());
    assert!(log.contains("unknown configuration key `verbos` is ignored"), "{log}");
    assert!(log.contains("unknown configuration key `commands[0].retries` is ignored"), "{log}");
    assert!(
        log.contains("commands[1].cmd `/usr/local/bin/heal-disk-missing.sh` does not exist"),
        "a command that cannot run is said at start-up: {log}"
    );
    assert!(!log.contains("commands[0].cmd"), "{log}");
}

#[test]
fn serves_https_with_both_files() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let certificates = test_support::Certificates::new();
    let (crt, key) = (certificates.server_certificate(), certificates.server_key());
    let config = dir.path().join("executor.yml");
    write(
        &config,
        &format!(
            "tls_crt: {}\ntls_key: {}\ncommands:\n  - cmd: /bin/true\n",
            crt.display(),
            key.display()
        ),
    );
    let running = Running::start(&["-f", config.to_str().unwrap()]);

    // The client verifies the server against the test CA, as a production client would.
    let ca = std::fs::read(certificates.ca()).unwrap();
    let ca = ureq::tls::Certificate::from_pem(&ca).unwrap().to_owned();
    let roots = ureq::tls::RootCerts::new_with_certs(&[ca]);
    let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let health = agent
        .get(&format!("https://127.0.0.1:{}/_health", running.port))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert_eq!(health, "All systems are functioning within normal specifications.\n");
    assert!(
        agent.get(&format!("http://127.0.0.1:{}/_health", running.port)).call().is_err(),
        "no plain HTTP"
    );
}

#[test]
fn sigterm_stops_gracefully_and_signals_running_commands() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("long.sh");
    let d = dir.path().display();
    write(
        &script,
        &format!(
            "#!/bin/sh\ntrap 'echo stopped > {d}/stopped; exit 0' TERM\necho started > {d}/started\nsleep 300 &\nwait\n"
        ),
    );
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&script).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = dir.path().join("executor.yml");
    write(
        &config,
        &format!("commands:\n  - cmd: {}\n    resolved_signal: SIGTERM\n", script.display()),
    );
    let running = Running::start(&["-f", config.to_str().unwrap(), "--shutdown-grace", "1"]);
    let url = format!("http://127.0.0.1:{}/", running.port);
    let request = std::thread::spawn(move || {
        agent()
            .post(&url)
            .send(r#"{"status":"firing","alerts":[{"status":"firing","fingerprint":"f1"}]}"#)
            .map(|r| r.status())
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.path().join("started").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, log) = running.terminate();
    assert!(status.success(), "exit {status}: {log}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stopped")).unwrap().trim(),
        "stopped",
        "{log}"
    );
    assert!(log.contains("SIGTERM received") && log.contains("stopped"), "{log}");
    let _ = request.join();
}

#[test]
fn json_logs_are_one_object_per_line() {
    let _serial = one_at_a_time();
    let running = Running::start(&["--log-format", "json", "/bin/true"]);
    let body = r#"{"status":"firing","receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}"#;
    let response = agent().post(&format!("http://127.0.0.1:{}/", running.port)).send(body);
    assert_eq!(response.unwrap().status(), 200);
    let (status, log) = running.terminate();
    assert!(status.success(), "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        for key in ["time", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
    }
    let started = lines
        .iter()
        .find(|line| line["message"].as_str().unwrap().starts_with("started `/bin/true`"));
    assert_eq!(
        started.map(|line| &line["target"]),
        Some(&serde_json::json!("promrules_executor::runner")),
        "{log}"
    );
}

/// `--dry-run` logs the argv and environment that would run, runs nothing, answers 200.
#[test]
fn dry_run_logs_and_runs_nothing() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("touched");
    let audit = dir.path().join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    let running = Running::start(&[
        "--dry-run",
        "--audit-log",
        audit_arg,
        "/usr/bin/touch",
        out.to_str().unwrap(),
    ]);
    let body = r#"{"status":"firing","receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"DryRun"}}]}"#;
    let response = agent().post(&format!("http://127.0.0.1:{}/", running.port)).send(body).unwrap();
    assert_eq!(response.status(), 200);
    let (_, log) = running.terminate();
    assert!(!out.exists(), "nothing ran: {log}");
    assert!(
        log.contains(&format!(r#"dry run: would run ["/usr/bin/touch", "{}"]"#, out.display()))
            && log.contains("AMX_ALERT_1_LABEL_alertname=DryRun")
            && log.contains("skipping `/usr/bin/touch` for DryRun"),
        "{log}"
    );
    // The audit log has the skip, one JSON object on one line.
    let lines = std::fs::read_to_string(&audit).unwrap();
    let record: serde_json::Value = serde_json::from_str(lines.trim_end()).unwrap();
    assert_eq!(
        (record["outcome"].as_str(), record["reason"].as_str()),
        (Some("skipped"), Some("dry_run"))
    );
    assert_eq!(record["alertnames"], serde_json::json!(["DryRun"]));
    assert_eq!(lines.lines().count(), 1);
}

/// A command's output goes straight to the executor's standard error, as the original's
/// does; with `log_output: true` each line of its stdout and stderr is a log line instead
/// (in the log's format, naming the command and its pid).
#[test]
fn command_output_is_stderr_or_log_lines() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let script = "echo to-stdout; echo to-stderr >&2";
    let body = r#"{"status":"firing","receiver":"r","alerts":[{"status":"firing","labels":{"alertname":"Out"}}]}"#;
    for (log_output, json) in [(false, false), (true, true)] {
        let config = dir.path().join(format!("executor-{log_output}.yml"));
        write(
            &config,
            &format!(
                "commands:\n  - cmd: /bin/sh\n    args: ['-c', '{script}']\n    log_output: {log_output}\n"
            ),
        );
        let mut args = vec!["-f", config.to_str().unwrap()];
        if json {
            args.extend(["--log-format", "json"]);
        }
        let running = Running::start(&args);
        let response = agent().post(&format!("http://127.0.0.1:{}/", running.port)).send(body);
        assert_eq!(response.unwrap().status(), 200);
        let (_, log) = running.terminate();
        if log_output {
            for stream in ["to-stdout", "to-stderr"] {
                let line = log
                    .lines()
                    .find(|line| line.contains(&format!("]: {stream}")))
                    .unwrap_or_default();
                let line: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a JSON log line for {stream}: {e}\n{log}"));
                let message = line["message"].as_str().unwrap();
                assert!(message.starts_with("/bin/sh[") && message.ends_with(stream), "{line}");
            }
        } else {
            assert!(log.lines().any(|line| line == "to-stdout"), "{log}");
            assert!(log.lines().any(|line| line == "to-stderr"), "{log}");
        }
    }
}
