//! The real `promrules-server` binary: the README's main job on a fresh SQLite file, its
//! refusal to listen openly without a token, graceful shutdown, `import` and `render`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod readme;
mod support;

use support::{BIN, Server, agent, run};

#[test]
fn serve_on_the_default_sqlite_file_then_shut_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let agent = agent();

    let mut created = agent
        .post(&server.url("/api/v1/rules"))
        .send_json(json!({"name": "InstanceDown", "expression": "up == 0", "for": "5m", "heal_enabled": true}))
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.body_mut().read_json().unwrap();

    let mut listed = agent.get(&server.url("/api/v1/rules")).call().unwrap();
    let listed: Value = listed.body_mut().read_json().unwrap();
    assert_eq!(listed["rules"][0]["id"], created["id"]);

    let rendered = agent
        .get(&server.url("/api/v1/rules.yml"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(rendered.contains("- alert: InstanceDown"), "{rendered}");
    test_support::assert_promtool_accepts(&rendered);

    assert!(dir.path().join("promrules.db").exists(), "the default database is ./promrules.db");
    let absolute = std::fs::canonicalize(dir.path().join("promrules.db")).unwrap();
    let started = format!("serving the SQLite database `{}` on http://", absolute.display());
    assert!(server.log().contains(&started), "the start-up line names the file: {}", server.log());
    let urls = format!("the UI at http://{0}/ui/, the API at http://{0}/api/v1", server.address);
    assert!(server.log().contains(&urls), "and the URLs: {}", server.log());
    // `/` leads to the UI, which answers without tokens on loopback.
    let mut root = agent.get(&server.url("/")).call().unwrap();
    assert_eq!(root.status(), 200);
    let page = root.body_mut().read_to_string().unwrap();
    assert!(
        page.contains("<title>Rules · promrules</title>"),
        "redirected to the rules list: {page}"
    );
    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(log.contains("SIGTERM received") && log.contains("stopped"), "{log}");
}

#[test]
fn tokens_from_the_environment_guard_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], &[("PROMRULES_TOKENS", "alpha,beta")]);
    let agent = agent();
    let url = server.url("/api/v1/rules");
    assert_eq!(agent.post(&url).send_json(json!({"expression": "up"})).unwrap().status(), 401);
    // With tokens configured, reads need one too (unless --public-reads).
    assert_eq!(agent.get(&url).call().unwrap().status(), 401);
    let authorized = agent
        .post(&url)
        .header("Authorization", "Bearer beta")
        .send_json(json!({"expression": "up"}));
    assert_eq!(authorized.unwrap().status(), 201);
}

#[test]
fn listening_beyond_loopback_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A documentation address: refused before any socket is opened.
    let output = run(dir.path(), &["serve", "--listen", "192.0.2.10:8090"]);
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("refusing to listen on 192.0.2.10:8090 without a token")
            && log.contains("--insecure-no-auth"),
        "{log}"
    );
}

#[test]
fn import_then_render_round_trips_a_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("team.yml");
    std::fs::write(
        &file,
        "groups:\n- name: team\n  interval: 1m\n  rules:\n  - alert: HighLoad\n    expr: node_load1 > 4\n    for: 10m\n    labels:\n      heal: \"true\"\n      severity: critical\n    annotations:\n      summary: Load is {{ $value }}\n  - record: job:up:sum\n    expr: sum by (job) (up)\n",
    )
    .unwrap();
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();

    let first = run(dir.path(), &["--database", db, "import", file.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "create team/HighLoad\ncreate team/job:up:sum\ncreated 2, updated 0, deleted 0, unchanged 0 (groups created: 1, updated: 0)\n"
    );
    let second = run(dir.path(), &["--database", db, "import", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "created 0, updated 0, deleted 0, unchanged 2 (groups created: 0, updated: 0)\n"
    );

    let out = dir.path().join("out/rules.yml");
    std::fs::create_dir(out.parent().unwrap()).unwrap();
    let render = run(dir.path(), &["--database", db, "render", "--output", out.to_str().unwrap()]);
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&file).unwrap());
    let stdout = run(dir.path(), &["--database", db, "render", "--heal-only"]);
    assert!(
        String::from_utf8_lossy(&stdout.stdout).contains("HighLoad")
            && !String::from_utf8_lossy(&stdout.stdout).contains("job:up:sum")
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "groups:\n- name: team\n  rules:\n  - alert: Broken\n    expr: sum(\n")
        .unwrap();
    let failed = run(dir.path(), &["--database", db, "import", bad.to_str().unwrap()]);
    assert!(!failed.status.success());
    let log = String::from_utf8_lossy(&failed.stderr);
    assert!(
        log.contains("bad.yml") && log.contains("group 1 (`team`), rule 1 (`Broken`)"),
        "{log}"
    );
}

#[test]
fn a_bad_database_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["--database", "mysql://db/rules", "migrate"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("unsupported database url `mysql://db/rules`")
    );
}

#[test]
fn deploy_from_an_inventory_reports_each_host_and_fails_when_one_fails() {
    let sim = test_support::SimHost::start(31, "");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();
    let rules = dir.path().join("team.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: team\n  rules:\n  - alert: FromTheCli\n    expr: vector(1)\n",
    )
    .unwrap();
    assert!(
        run(dir.path(), &["--database", db, "import", rules.to_str().unwrap()]).status.success()
    );

    let entry = |name: &str, port: u16| {
        format!(
            "- name: {name}\n  address: {ip}\n  ssh_port: {port}\n  ssh_user: root\n  identity_file: {key}\n  known_hosts_file: {known}\n  rule_file: {file}\n  prometheus_url: {url}\n",
            ip = sim.ip,
            key = test_support::client_key().display(),
            known = sim.known_hosts_file().display(),
            file = sim.rule_file().display(),
            url = sim.prometheus_url(),
        )
    };
    let inventory = dir.path().join("inventory.yml");
    std::fs::write(&inventory, format!("hosts:\n{}", entry("prom-cli", sim.ssh_port))).unwrap();
    let deploy = |extra: &[&str]| {
        let mut args = vec!["--database", db, "deploy", "--inventory", inventory.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };

    let first = deploy(&[]);
    let table = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.status.success(), "{table}{}", String::from_utf8_lossy(&first.stderr));
    assert!(
        table.contains("prom-cli")
            && table.contains("deployed")
            && table.contains("1 host(s): 1 deployed"),
        "{table}"
    );
    assert_eq!(sim.loaded_rules(), ["FromTheCli"]);

    let second = deploy(&["--diff"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("unchanged"));

    // A host whose SSH port answers nothing: that host fails, the command exits non-zero.
    let closed = test_support::free_port(&sim.ip);
    std::fs::write(
        &inventory,
        format!("hosts:\n{}{}", entry("prom-cli", sim.ssh_port), entry("prom-gone", closed)),
    )
    .unwrap();
    let third = deploy(&["--force"]);
    let table = String::from_utf8_lossy(&third.stdout).into_owned();
    assert!(!third.status.success(), "{table}");
    assert!(table.contains("prom-gone") && table.contains("failed"), "{table}");
    assert!(
        String::from_utf8_lossy(&third.stderr).contains("1 of 2 host(s) failed or rolled back")
    );
}

/// The whole loop: a heal-enabled rule, created over REST and deployed through the API to a
/// simulated Prometheus host, fires; its alert goes through a real Alertmanager to the
/// executor, which runs the heal script with the alert in its environment. Disabling the rule
/// and deploying again resolves the alert, and the still-running heal gets its resolve
/// signal. A rule that is not heal-enabled never reaches the executor.
#[test]
fn heal_enabled_rule_runs_a_heal_script_and_resolves() {
    use std::sync::Arc;

    // The executor: one command for whatever Alertmanager sends it; `max: 1` so that
    // Alertmanager's retry of a long heal is acknowledged at once (see docs/am-executor.md).
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display().to_string();
    let heal = work.path().join("heal.sh");
    std::fs::write(
        &heal,
        format!("#!/bin/sh\necho \"$AMX_ALERT_1_LABEL_alertname\" >> {w}/healed\ntrap 'echo resolved > {w}/resolved; exit 0' TERM\nsleep 300 &\nwait\n"),
    )
    .unwrap();
    std::fs::set_permissions(&heal, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (config, _) = promrules_executor::Config::parse(&format!(
        "commands:\n  - cmd: {}\n    max: 1\n    resolved_signal: SIGTERM\n",
        heal.display()
    ))
    .unwrap();
    let executor = Arc::new(promrules_executor::Executor::new(&config));
    let socket = promrules_executor::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let executor_address = socket.local_addr().unwrap();
    let serving = Arc::clone(&executor);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let executor_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listen = promrules_executor::Listen::default();
        let shutdown = async {
            let _ = stopped.await;
        };
        runtime
            .block_on(promrules_executor::serve(
                serving,
                socket,
                listen,
                1 << 20,
                Duration::from_secs(1),
                shutdown,
            ))
            .unwrap();
    });

    // Alertmanager: heal="true" goes to the executor, everything else nowhere.
    let alertmanager = test_support::Alertmanager::start(&format!(
        "route:\n  receiver: nowhere\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n  - matchers: ['heal=\"true\"']\n    receiver: executor\n    group_by: [alertname]\nreceivers:\n- name: nowhere\n- name: executor\n  webhook_configs:\n  - url: http://{executor_address}/\n    send_resolved: true\n"
    ));
    let am_target = alertmanager.url("").trim_start_matches("http://").to_owned();

    // A Prometheus host that sends its alerts to that Alertmanager; a short resend delay so
    // that an alert whose rule is gone expires in seconds.
    let sim = test_support::SimHost::start_with_flags(
        41,
        &format!(
            "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{am_target}']\n"
        ),
        &["--rules.alert.resend-delay=1s"],
    );

    // The server, on its default SQLite file.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let agent = agent();
    let post = |path: &str, body: serde_json::Value| -> Value {
        let mut response = agent.post(&server.url(path)).send_json(body).unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.body_mut().read_json().unwrap()
    };
    post(
        "/api/v1/hosts",
        json!({
            "name": "prom-loop", "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
            "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
            "rule_file": sim.rule_file(), "prometheus_url": sim.prometheus_url(),
        }),
    );
    let heal_rule = post(
        "/api/v1/rules",
        json!({"name": "LoopHeal", "expression": "vector(1)", "for": "0s", "heal_enabled": true, "summary": "heal me"}),
    );
    post("/api/v1/rules", json!({"name": "LoopNoHeal", "expression": "vector(1)", "for": "0s"}));
    let deploy = || {
        let started = post("/api/v1/deployments", json!({}));
        let url = server.url(started["url"].as_str().unwrap());
        for _ in 0..600 {
            let deployment: Value = agent.get(&url).call().unwrap().body_mut().read_json().unwrap();
            if deployment["status"] != "running" {
                assert_eq!(deployment["status"], "succeeded", "{deployment}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the deployment did not finish");
    };
    deploy();
    assert_eq!(sim.loaded_rules(), ["LoopHeal", "LoopNoHeal"]);

    let wait_for = |path: &std::path::Path, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while std::time::Instant::now() < deadline {
            if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
                return std::fs::read_to_string(path).unwrap();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{what} did not happen; Alertmanager's log:\n{}\nPrometheus's log:\n{}",
            alertmanager.log(),
            sim.prometheus_log()
        );
    };
    let healed = wait_for(&work.path().join("healed"), "the heal script");
    assert_eq!(
        healed.lines().next(),
        Some("LoopHeal"),
        "AMX_ALERT_1_LABEL_alertname is the rule's name"
    );

    // Once Alertmanager's retry of the long heal was acknowledged, disable the rule.
    let acknowledged = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        executor.metrics().encode().lines().any(|l| {
            l.starts_with("am_executor_skipped_total{reason=\"fingerover\"}") && !l.ends_with(" 0")
        })
    });
    assert!(
        acknowledged,
        "Alertmanager did not retry the firing notification:\n{}",
        alertmanager.log()
    );
    let patched = agent
        .patch(&server.url(&format!("/api/v1/rules/{}", heal_rule["id"])))
        .send_json(json!({"enabled": false}))
        .unwrap();
    assert_eq!(patched.status(), 200);
    deploy();
    assert_eq!(sim.loaded_rules(), ["LoopNoHeal"]);

    assert_eq!(wait_for(&work.path().join("resolved"), "the resolve signal").trim(), "resolved");
    let healed = std::fs::read_to_string(work.path().join("healed")).unwrap();
    assert!(
        healed.lines().all(|name| name == "LoopHeal"),
        "only the heal-enabled rule reached the executor: {healed}"
    );

    let _ = stop.send(());
    executor_thread.join().unwrap();
}

/// Migrating from Promgen: its targets file becomes shards, services, farms, projects and
/// exporters; importing again updates; a bad file names the group and writes nothing.
#[test]
fn import_targets_reads_a_promgen_export() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("promgen.json");
    std::fs::write(
        &file,
        r#"[
  {"labels": {"__farm_source": "promgen", "__scheme__": "http", "__shard": "peer-shard", "farm": "peer-farm",
              "job": "node", "project": "peer-project", "service": "peer-service"},
   "targets": ["db01.example.com:9100", "web01.example.com:9100"]},
  {"labels": {"__farm_source": "promgen", "__metrics_path__": "/probe", "__param_module": "http_2xx", "__scheme__": "https",
              "__shard": "peer-shard", "farm": "peer-farm", "job": "blackbox", "project": "peer-project", "service": "peer-service"},
   "targets": ["db01.example.com:9115", "web01.example.com:9115"]}
]"#,
    )
    .unwrap();
    let db = dir.path().join("targets.db");
    let db = db.to_str().unwrap();
    let first = run(dir.path(), &["--database", db, "import-targets", file.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "shards: created 1, updated 0\nservices: created 1, updated 0\nfarms: created 1, updated 0\nprojects: created 1, updated 0\nexporters: created 2, updated 0\n"
    );
    let second = run(dir.path(), &["--database", db, "import-targets", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "shards: created 0, updated 0\nservices: created 0, updated 0\nfarms: created 0, updated 1\nprojects: created 0, updated 1\nexporters: created 0, updated 2\n"
    );
    let model = promrules_model::Store::open(db).unwrap().load_targets().unwrap();
    let probe = model.exporters.iter().find(|e| e.job == "blackbox").unwrap();
    assert_eq!(probe.path.as_deref(), Some("/probe?module=http_2xx"));
    assert_eq!(model.farms[0].hosts, ["db01.example.com", "web01.example.com"]);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"labels": {"job": "node"}, "targets": ["a:1"]}]"#).unwrap();
    let failed = run(dir.path(), &["--database", db, "import-targets", bad.to_str().unwrap()]);
    assert!(!failed.status.success());
    let log = String::from_utf8_lossy(&failed.stderr);
    assert!(log.contains("bad.json: group 0: label `__shard` is missing"), "{log}");
}

/// `import --prune` makes the groups named in the file equal to it (mimirtool's `sync`);
/// `--dry-run` prints the same changes and keeps none of them.
#[test]
fn pruning_import_and_its_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let (file, other) = (dir.path().join("team.yml"), dir.path().join("other.yml"));
    std::fs::write(&file, "groups:\n- name: team\n  rules:\n  - alert: HighLoad\n    expr: node_load1 > 4\n  - record: job:up:sum\n    expr: sum by (job) (up)\n").unwrap();
    std::fs::write(
        &other,
        "groups:\n- name: other\n  rules:\n  - alert: Untouched\n    expr: up == 0\n",
    )
    .unwrap();
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();
    for path in [&file, &other] {
        assert!(
            run(dir.path(), &["--database", db, "import", path.to_str().unwrap()]).status.success()
        );
    }
    let render =
        || String::from_utf8(run(dir.path(), &["--database", db, "render"]).stdout).unwrap();
    let before = render();

    std::fs::write(
        &file,
        "groups:\n- name: team\n  rules:\n  - alert: HighLoad\n    expr: node_load1 > 8\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let dry = run(dir.path(), &["--database", db, "import", "--prune", "--dry-run", file]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout),
        "update team/HighLoad (expression)\ndelete team/job:up:sum\ndry run, nothing changed: would have created 0, updated 1, deleted 1, unchanged 0 (groups created: 0, updated: 0)\n"
    );
    assert_eq!(render(), before, "a dry run changes nothing");

    let pruned = run(dir.path(), &["--database", db, "import", "--prune", file]);
    assert!(pruned.status.success(), "{}", String::from_utf8_lossy(&pruned.stderr));
    let after = render();
    assert!(after.contains("node_load1 > 8") && !after.contains("job:up:sum"), "{after}");
    assert!(after.contains("Untouched"), "groups the file does not name are left alone: {after}");
}

#[test]
fn history_restore_lint_and_rule_unit_tests_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();
    let file = dir.path().join("rules.yml");
    let cli = |args: &[&str]| {
        let output = Command::new(BIN)
            .current_dir(dir.path())
            .arg("--database")
            .arg(db)
            .args(args)
            .env("USER", "alice")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.success(), text(&output.stdout), text(&output.stderr))
    };
    let rule = |threshold: u32| {
        format!(
            "groups:\n- name: node\n  interval: 1m\n  rules:\n  - alert: InstanceDown\n    expr: up == {threshold}\n    for: 5m\n    labels: {{severity: page}}\n    annotations: {{summary: '{{{{ $labels.instance }}}} down'}}\n  - alert: NoSummary\n    expr: up > 5\n    for: 10s\n"
        )
    };
    std::fs::write(&file, rule(0)).unwrap();
    let path = file.to_str().unwrap();
    assert!(cli(&["import", path]).0);
    let (ok, rendered_then, err) = cli(&["render"]);
    assert!(ok, "{err}");
    std::fs::write(&file, rule(1)).unwrap();
    assert!(cli(&["import", path]).0);

    let (ok, history, err) = cli(&["history"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two imports:\n{history}");
    assert!(lines[1].trim_start().starts_with("2 ") && lines[1].contains("cli:alice"), "{history}");
    assert!(lines[1].contains("import"), "{history}");

    let (ok, restored, err) = cli(&["restore", "1"]);
    assert!(ok, "{err}");
    assert!(restored.contains("revision 3: restored revision 1"), "{restored}");
    assert_eq!(cli(&["render"]).1, rendered_then, "the rules are what they were after revision 1");

    let (ok, lint, err) = cli(&["lint"]);
    assert!(ok, "lint warns, it never fails: {err}");
    assert!(lint.contains("node/NoSummary") && lint.contains("no-summary"), "{lint}");
    assert!(lint.contains("for-below-interval"), "{lint}");

    let unit_test = |severity: &str| {
        format!(
            "evaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n  - series: 'up{{instance=\"a\"}}'\n    values: '0x10'\n  alert_rule_test:\n  - eval_time: 10m\n    alertname: InstanceDown\n    exp_alerts:\n    - exp_labels: {{severity: {severity}, instance: a}}\n      exp_annotations: {{summary: 'a down'}}\n"
        )
    };
    let (pass, fail) = (dir.path().join("pass.yml"), dir.path().join("fail.yml"));
    std::fs::write(&pass, unit_test("page")).unwrap();
    std::fs::write(&fail, unit_test("warning")).unwrap();
    let (ok, out, err) = cli(&["test-rules", pass.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("PASSED ") && out.contains("(revision 3)"), "{out}");
    let (ok, out, err) = cli(&["test-rules", pass.to_str().unwrap(), fail.to_str().unwrap()]);
    assert!(!ok, "a failing unit test fails the command: {out}");
    assert!(out.contains("FAILED") && out.contains("InstanceDown"), "promtool's message: {out}");
    assert!(err.contains("fail.yml") && !err.contains("pass.yml"), "{err}");
    let (ok, out, _) = cli(&["test-rules", "--revision", "2", pass.to_str().unwrap()]);
    assert!(!ok, "after revision 2 the alert needs up == 1: {out}");
}

#[test]
fn the_example_rule_file_imports_and_its_unit_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rules");
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();
    let rules = examples.join("team-rules.yml");
    let imported = run(dir.path(), &["--database", db, "import", rules.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    assert!(stdout.contains("created 4, updated 0"), "{stdout}");
    let tests = examples.join("team-rules.test.yml");
    let tested = run(dir.path(), &["--database", db, "test-rules", tests.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&tested.stdout);
    assert!(tested.status.success(), "{stdout}{}", String::from_utf8_lossy(&tested.stderr));
    assert!(stdout.starts_with("PASSED"), "{stdout}");
}

/// The README's one-command demo, as shipped, with the binaries this test run built: from
/// nothing to a heal script run, on ports it picks itself, within two minutes at most.
#[test]
fn the_heal_loop_demo_runs_from_nothing_to_healed() {
    let executor = support::sibling_binary("am-executor");
    let bin_dir = executor.parent().unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/heal-loop/run-locally.sh");
    let output = Command::new("timeout")
        .arg("120")
        .arg(&script)
        .env("PROMRULES_BIN", bin_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("healed LoopDemo"), "{stdout}");
    assert!(stdout.contains("local: deployed"), "{stdout}");
    assert!(stdout.contains("/ui/ and the API at"), "it says where the UI is: {stdout}");
    assert!(!stdout.contains(":8090"), "it never uses the default port: {stdout}");
}

/// The README's commands, every one as written, in order, against real processes.
#[test]
fn every_readme_command_runs_as_written() {
    let executor = support::sibling_binary("am-executor");
    support::sibling_binary("promrules-export");
    readme::run_every_command(executor.parent().unwrap());
}

/// The README's `sh` blocks split into commands as the shell reads them.
#[test]
fn readme_commands_are_read_whole() {
    let text = "intro\n```sh\n# a comment\nfoo --a \\\n  --b  # trailing\n\nbar 'x # y'\ncurl -d '{\"a\": 1,\n  \"b\": 2}'\n```\n```sh\nbaz\n```\n```yaml\nnot: this\n```\n";
    let expected = ["foo --a --b", "bar 'x # y'", "curl -d '{\"a\": 1,\n\"b\": 2}'", "baz"];
    assert_eq!(readme::commands(text), expected);
}

/// The Promgen export the README imports is shipped and imports as it says.
#[test]
fn the_readme_promgen_sample_imports() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/targets/promgen-targets.json");
    let db = dir.path().join("targets.db");
    let output = run(
        dir.path(),
        &["--database", db.to_str().unwrap(), "import-targets", sample.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "shards: created 1, updated 0\nservices: created 2, updated 0\nfarms: created 2, updated 0\nprojects: created 2, updated 0\nexporters: created 2, updated 0\n"
    );
}

/// An import that resets fields says which: a rule's heal flag and summary, a group's interval.
#[test]
fn import_names_every_field_it_changed_on_rules_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db");
    let db = db.to_str().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(
        &file,
        "groups:\n- name: team\n  interval: 1m\n  rules:\n  - alert: DiskFull\n    expr: disk_used > 0.9\n    labels:\n      heal: \"true\"\n    annotations:\n      summary: the disk is full\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    assert!(run(dir.path(), &["--database", db, "import", file]).status.success());
    std::fs::write(
        file,
        "groups:\n- name: team\n  rules:\n  - alert: DiskFull\n    expr: disk_used > 0.9\n",
    )
    .unwrap();
    let output = run(dir.path(), &["--database", db, "import", "--dry-run", file]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let update =
        stdout.lines().find(|line| line.starts_with("update team/DiskFull (")).unwrap_or_default();
    for field in ["summary", "heal_enabled"] {
        assert!(update.contains(field), "{field} is named: {stdout}");
    }
    assert!(stdout.contains("update group team (interval)\n"), "{stdout}");
    assert!(stdout.ends_with("(groups created: 0, updated: 1)\n"), "{stdout}");
}

/// am-executor's run audit: one JSON line per run in `--audit-log`, and the same records
/// posted to a real server with `--report-to`, which was not up yet when the heal ran: the
/// heal answered at once, the report was retried until the server came, and the server
/// lists it beside the rule (`?rule=`) with the reporting token's name.
#[test]
fn heal_runs_reach_the_server_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "executor report exec-token-1234\nops admin ops-token-5678\n").unwrap();
    let report_token = dir.path().join("report.token");
    std::fs::write(&report_token, "exec-token-1234\n").unwrap();
    let audit_log = dir.path().join("audit.jsonl");
    let server_port = test_support::free_port("127.0.0.1");
    let server_url = format!("http://127.0.0.1:{server_port}");
    let executor_port = test_support::free_port("127.0.0.1");
    let executor_log = dir.path().join("executor.log");
    let mut executor = Command::new(support::sibling_binary("am-executor"))
        .args(["-l", &format!("127.0.0.1:{executor_port}"), "--report-to", &server_url])
        .arg("--report-token-file")
        .arg(&report_token)
        .arg("--audit-log")
        .arg(&audit_log)
        .args(["/bin/sh", "-c", "exit 7"])
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&executor_log).unwrap())
        .spawn()
        .unwrap();
    let executor_address: SocketAddr = format!("127.0.0.1:{executor_port}").parse().unwrap();
    assert!(test_support::wait_for_port(executor_address, Duration::from_secs(10)));
    let body = r#"{"status":"firing","receiver":"heal","groupKey":"{}:{alertname=\"DiskFull\"}","alerts":[{"status":"firing","labels":{"alertname":"DiskFull"},"fingerprint":"fp-disk"}]}"#;
    let answered = agent().post(&format!("http://{executor_address}/")).send(body).unwrap();
    assert_eq!(answered.status(), 500, "the command failed, and said so at once");
    let line = std::fs::read_to_string(&audit_log).unwrap();
    let record: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(
        (&record["command"], &record["outcome"], &record["exit_code"], &record["alertnames"]),
        (&json!(["/bin/sh", "-c", "exit 7"]), &json!("failed"), &json!(7), &json!(["DiskFull"]))
    );

    // The server comes up later, on the address the executor reports to.
    let database = dir.path().join("server.db");
    let mut server = Command::new(BIN)
        .current_dir(dir.path())
        .args(["--database", database.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{server_port}"))
        .arg("--token-file")
        .arg(&tokens)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ops = |request: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
        request
            .header("Authorization", "Bearer ops-token-5678")
            .call()
            .unwrap()
            .body_mut()
            .read_json::<Value>()
            .unwrap()
    };
    assert!(test_support::wait_for_port(
        format!("127.0.0.1:{server_port}").parse().unwrap(),
        Duration::from_secs(20)
    ));
    let rule = agent()
        .post(&format!("{server_url}/api/v1/rules"))
        .header("Authorization", "Bearer ops-token-5678")
        .send_json(json!({"name": "DiskFull", "expression": "up == 0"}))
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    let url = format!("{server_url}/api/v1/heal-runs?rule={}", rule["id"]);
    let reported = test_support::eventually(Duration::from_secs(30), || {
        let listed = ops(agent().get(&url));
        (listed["total"] == 1).then_some(listed)
    });
    let _ = (executor.kill(), executor.wait(), server.kill(), server.wait());
    let listed = reported.unwrap_or_else(|| {
        panic!("not reported: {}", std::fs::read_to_string(&executor_log).unwrap())
    });
    let run = &listed["heal_runs"][0];
    assert_eq!(
        (&run["reporter"], &run["outcome"], &run["exit_code"]),
        (&json!("executor"), &json!("failed"), &json!(7))
    );
    assert_eq!(run["fingerprints"], json!(["fp-disk"]));
    let log = std::fs::read_to_string(&executor_log).unwrap();
    assert!(log.contains("retrying in") && !log.contains("exec-token-1234"), "{log}");
}

/// `import-slo`: a sloth spec's generated rules are stored like an imported file's (a second
/// run changes nothing), render into a file promtool accepts, and a spec with a plugin SLI
/// is refused naming the SLO, storing nothing.
#[test]
fn import_slo_stores_the_generated_rules_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slo/checkout-slos.yml");
    let db = dir.path().join("slo.db");
    let db = db.to_str().unwrap();
    let import =
        |file: &Path| run(dir.path(), &["--database", db, "import-slo", file.to_str().unwrap()]);
    let first = import(&spec);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = import(&spec);
    let summary = String::from_utf8_lossy(&second.stdout);
    assert!(summary.contains("created 0, updated 0, deleted 0, unchanged 33"), "{summary}");
    let rendered = run(dir.path(), &["--database", db, "render"]);
    let text = String::from_utf8_lossy(&rendered.stdout).into_owned();
    assert!(
        text.contains("record: slo:period_error_budget_remaining:ratio")
            && text.contains("sloth_severity: page"),
        "{text}"
    );
    test_support::assert_promtool_accepts(&text);

    let plugin = dir.path().join("plugin.yml");
    std::fs::write(
        &plugin,
        "version: prometheus/v1\nservice: api\nslos:\n  - name: avail\n    objective: 99\n    sli:\n      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n",
    )
    .unwrap();
    let refused = import(&plugin);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("SLO `api-avail` uses the SLI plugin"),
        "{stderr}"
    );
    let after = run(dir.path(), &["--database", db, "render"]);
    assert_eq!(
        String::from_utf8_lossy(&after.stdout),
        text,
        "nothing stored from the refused spec"
    );

    let spec_arg = spec.to_str().unwrap();
    let period = run(dir.path(), &["--database", db, "import-slo", "--period", "28d", spec_arg]);
    assert!(period.status.success(), "{}", String::from_utf8_lossy(&period.stderr));
    let rendered = run(dir.path(), &["--database", db, "render"]);
    let text = String::from_utf8_lossy(&rendered.stdout).into_owned();
    assert!(
        text.contains("record: slo:sli_error:ratio_rate4w") && text.contains("vector(28)"),
        "{text}"
    );
    test_support::assert_promtool_accepts(&text);
    let wrong = run(dir.path(), &["--database", db, "import-slo", "--period", "7d", spec_arg]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("30d or 28d"), "{wrong:?}");
}

/// Deploy observability: the server's `/metrics` has each host's last deploy, its last
/// success, the revision live there and the drift check's verdict, and keeps them across a
/// restart (from the audit trail); `examples/monitoring/promrules-alerts.yml`, loaded into
/// a real Prometheus that scrapes the real server, turns a failed deploy and a drifted file
/// into alerts for those hosts and no others.
#[test]
fn deploy_metrics_reach_prometheus_and_the_example_alerts_match() {
    let dir = tempfile::tempdir().unwrap();
    let scrape_file = dir.path().join("promrules-targets.json");
    std::fs::write(&scrape_file, "[]").unwrap();
    let monitoring = format!(
        "scrape_configs:\n  - job_name: promrules\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['{}']\n",
        scrape_file.display()
    );
    let sim = test_support::SimHost::start(63, &monitoring);
    let alerts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/monitoring/promrules-alerts.yml");
    std::fs::copy(&alerts, sim.dir().join("rules/promrules-alerts.yml")).unwrap();
    let database = dir.path().join("metrics.db");
    let database = database.to_str().unwrap();
    let server = Server::start(dir.path(), &["--database", database, "--drift-check-every", "1"]);
    std::fs::write(&scrape_file, json!([{"targets": [server.address.to_string()]}]).to_string())
        .unwrap();

    let http = agent();
    let post = |path: &str, body: Value| {
        let mut response = http.post(&server.url(path)).send_json(body).unwrap();
        (response.status().as_u16(), response.body_mut().read_json::<Value>().unwrap())
    };
    let host = |name: &str, rule_file: &Path| {
        json!({"name": name, "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
               "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
               "rule_file": rule_file, "prometheus_url": sim.prometheus_url()})
    };
    assert_eq!(post("/api/v1/hosts", host("good", &sim.rule_file())).0, 201);
    // A rule file Prometheus's `rule_files` does not cover: its deploy fails.
    assert_eq!(
        post("/api/v1/hosts", host("bad", &sim.dir().join("elsewhere/promrules.yml"))).0,
        201
    );
    assert_eq!(post("/api/v1/rules", json!({"name": "Watched", "expression": "vector(1)"})).0, 201);
    let (status, started) = post("/api/v1/deployments", json!({}));
    assert_eq!(status, 202, "{started}");
    let finished = test_support::eventually(Duration::from_secs(60), || {
        let mut response = http.get(&server.url(started["url"].as_str().unwrap())).call().unwrap();
        let deployment: Value = response.body_mut().read_json().unwrap();
        deployment["status"] != "running"
    });
    assert!(finished, "{}", server.log());
    // Someone edits the live file by hand: the drift check notices.
    let mut live = std::fs::read_to_string(sim.rule_file()).unwrap();
    live.push_str("# edited by hand\n");
    std::fs::write(sim.rule_file(), live).unwrap();

    let metrics =
        || http.get(&server.url("/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    let drifted = test_support::eventually(Duration::from_secs(30), || {
        metrics().contains("promrules_deploy_drift{host=\"good\"} 1")
    });
    let text = metrics();
    assert!(drifted, "{text}");
    for line in [
        "promrules_deploy_last_failed{host=\"bad\"} 1",
        "promrules_deploy_last_failed{host=\"good\"} 0",
        "promrules_deploys_total{host=\"bad\",outcome=\"failed\"} ",
        "promrules_deploys_total{host=\"good\",outcome=\"deployed\"} 1",
        "promrules_deploy_last_success_timestamp_seconds{host=\"good\"} ",
        "promrules_deploy_duration_seconds_count ",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
    assert!(
        !text.contains("promrules_deploy_last_success_timestamp_seconds{host=\"bad\"}"),
        "{text}"
    );

    // Prometheus scrapes the server and evaluates the example alerts: the failed host and
    // the drifted one, and nothing about a host deployed a moment ago.
    let firing = |alert: &str, host: &str| {
        let mut response =
            http.get(&format!("{}/api/v1/alerts", sim.prometheus_url())).call().unwrap();
        let answer: Value = response.body_mut().read_json().unwrap();
        answer["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == alert && a["labels"]["host"] == host)
    };
    let seen = test_support::eventually(Duration::from_secs(60), || {
        firing("PromrulesDeployFailed", "bad") && firing("PromrulesDrift", "good")
    });
    assert!(seen, "Prometheus's alerts never named them; its log:\n{}", sim.prometheus_log());
    assert!(!firing("PromrulesDeployFailed", "good") && !firing("PromrulesDrift", "bad"));
    assert!(!firing("PromrulesHostNotDeployed", "good"));

    // A restarted server knows the hosts' last deploys from the audit trail.
    let (status, _) = server.terminate();
    assert!(status.success());
    let restarted = Server::start(dir.path(), &["--database", database]);
    let text =
        http.get(&restarted.url("/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    for line in [
        "promrules_deploy_last_failed{host=\"bad\"} 1",
        "promrules_deploy_last_success_timestamp_seconds{host=\"good\"} ",
        "promrules_deploy_drift{host=\"good\"} 1",
    ] {
        assert!(text.contains(line), "no `{line}` after a restart:\n{text}");
    }
}

/// Two replicas on one PostgreSQL, both with auto-deploy: one leads the job at a time (one
/// auto-deploy per change, whichever replica took the write), a write through the command
/// line is noticed too (the revision counter), and when the leader dies the other takes
/// over and deploys the next change.
#[test]
fn replicas_share_auto_deploy_through_one_leader() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_support::Postgres::shared().fresh_database();
    let sim = test_support::SimHost::start(65, "");
    let start =
        || Server::start(dir.path(), &["--database", &database, "--auto-deploy-after", "1"]);
    let (first, second) = (start(), start());
    let http = agent();
    let post = |server: &Server, path: &str, body: Value| {
        let mut response = http.post(&server.url(path)).send_json(body).unwrap();
        (response.status().as_u16(), response.body_mut().read_json::<Value>().unwrap())
    };
    let host = json!({"name": "shared", "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
        "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
        "rule_file": sim.rule_file(), "prometheus_url": sim.prometheus_url()});
    assert_eq!(post(&first, "/api/v1/hosts", host).0, 201);
    let auto_deploys = || {
        let mut response =
            http.get(&first.url("/api/v1/deployments?actor=auto-deploy")).call().unwrap();
        response.body_mut().read_json::<Value>().unwrap()["total"].as_i64().unwrap()
    };

    // A rule written through the second replica: one auto-deploy, by one of the two.
    assert_eq!(
        post(&second, "/api/v1/rules", json!({"name": "ViaSecond", "expression": "vector(1)"})).0,
        201
    );
    let served =
        test_support::eventually(Duration::from_secs(30), || sim.loaded_rules() == ["ViaSecond"]);
    assert!(served, "{}\n{}", first.log(), second.log());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(auto_deploys(), 1, "one replica deployed:\n{}\n{}", first.log(), second.log());
    let leads = |server: &Server| server.log().contains("this replica now runs auto-deploy");
    assert!(
        leads(&first) != leads(&second),
        "exactly one leads:\n{}\n{}",
        first.log(),
        second.log()
    );

    // The leader dies; the other takes over at the next change, written from the command line.
    let (leader, survivor) = if leads(&first) { (first, second) } else { (second, first) };
    drop(leader);
    let file = dir.path().join("more.yml");
    std::fs::write(
        &file,
        "groups:\n- name: cli\n  rules:\n  - alert: ViaCli\n    expr: vector(1)\n",
    )
    .unwrap();
    let imported = run(dir.path(), &["--database", &database, "import", file.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let served = test_support::eventually(Duration::from_secs(30), || {
        let mut names = sim.loaded_rules();
        names.sort();
        names == ["ViaCli", "ViaSecond"]
    });
    assert!(served, "{}", survivor.log());
    assert!(leads(&survivor), "{}", survivor.log());
}

/// Two replicas on one PostgreSQL take deploy requests for overlapping hosts at the same
/// time, three rounds of two: every request is answered, every deploy finishes with a
/// report for each of its hosts, and no host's deploys overlap: their lock windows in the
/// audit trail are disjoint, whichever replica ran them.
#[test]
fn replicas_deploy_overlapping_hosts_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_support::Postgres::shared().fresh_database();
    let sims = test_support::SimHost::start_many(66, 3, "");
    let replicas = [
        Server::start(dir.path(), &["--database", &database]),
        Server::start(dir.path(), &["--database", &database]),
    ];
    let http = agent();
    let post = |server: &Server, path: &str, body: Value| {
        let mut response = http.post(&server.url(path)).send_json(body).unwrap();
        (response.status().as_u16(), response.body_mut().read_json::<Value>().unwrap())
    };
    for sim in &sims {
        let host = json!({"name": sim.name, "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
            "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
            "rule_file": sim.rule_file(), "prometheus_url": sim.prometheus_url()});
        assert_eq!(post(&replicas[0], "/api/v1/hosts", host).0, 201);
    }
    assert_eq!(
        post(&replicas[1], "/api/v1/rules", json!({"name": "Shared", "expression": "vector(1)"})).0,
        201
    );
    let names: Vec<&str> = sims.iter().map(|sim| sim.name.as_str()).collect();
    let requests = [
        json!({"hosts": [names[0], names[1]], "force": true}),
        json!({"hosts": [names[1], names[2]], "force": true}),
    ];

    // The shared host's own record: every upload creates the temp file beside the rule file
    // and renames it over it. Deploys that overlapped would create it twice in a row.
    let (events, seen) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(events).unwrap();
    let rules_dir = sims[1].rule_file().parent().unwrap().to_owned();
    notify::Watcher::watch(&mut watcher, &rules_dir, notify::RecursiveMode::NonRecursive).unwrap();

    let mut started = Vec::new();
    for _round in 0..3 {
        let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let sending: Vec<_> = replicas
                .iter()
                .zip(&requests)
                .map(|(replica, request)| {
                    let post = &post;
                    scope.spawn(move || post(replica, "/api/v1/deployments", request.clone()))
                })
                .collect();
            sending.into_iter().map(|sent| sent.join().unwrap()).collect()
        });
        for (status, answer) in answers {
            assert_eq!(status, 202, "{answer}");
            started.push(answer["url"].as_str().unwrap().to_owned());
        }
    }
    let mut windows: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for url in &started {
        let finished = test_support::eventually(Duration::from_secs(120), || {
            let mut response = http.get(&replicas[0].url(url)).call().unwrap();
            let deployment: Value = response.body_mut().read_json().unwrap();
            (deployment["status"] != "running").then_some(deployment)
        })
        .unwrap_or_else(|| panic!("{url} never finished"));
        let hosts = finished["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "a report for each host: {finished}");
        for host in hosts {
            assert_eq!(host["outcome"], "deployed", "{finished}");
            windows.entry(host["host"].as_str().unwrap().to_owned()).or_default().push((
                host["locked_at"].as_str().unwrap().to_owned(),
                host["released_at"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap();
    assert_eq!(windows[names[1]].len(), 6, "the shared host took all six deploys");
    for (host, mut spans) in windows {
        spans.sort_by_key(|(locked, _)| time(locked));
        for pair in spans.windows(2) {
            assert!(
                time(&pair[0].1) <= time(&pair[1].0),
                "two deploys of {host} overlapped: {pair:?}"
            );
        }
    }
    for sim in &sims {
        assert_eq!(sim.loaded_rules(), ["Shared"]);
    }
    // The watcher's thread delivers the events a moment after they happen: read until the
    // twelve expected steps are in, or nothing more comes.
    let temp = std::ffi::OsStr::new(".promrules.yml.promrules-tmp");
    let mut steps = String::new();
    while steps.len() < 12
        && let Ok(event) = seen.recv_timeout(Duration::from_secs(5))
    {
        let Ok(event) = event else { continue };
        if event.paths.first().and_then(|path| path.file_name()) != Some(temp) {
            continue;
        }
        match event.kind {
            notify::EventKind::Create(_) => steps.push('c'),
            notify::EventKind::Modify(notify::event::ModifyKind::Name(
                notify::event::RenameMode::From,
            )) => steps.push('r'),
            _ => {}
        }
    }
    drop(watcher);
    assert_eq!(steps, "cr".repeat(6), "on the host, each upload ended before the next began");
}

/// Promgen's push model: a host with a `targets_file` gets its shards' targets from each
/// deploy, beside its rules, exactly the file `/api/v1/targets?shard=` serves; its
/// Prometheus discovers them with no reload, and a change to the targets alone is deployed.
#[test]
fn deploys_push_each_hosts_shard_targets() {
    let dir = tempfile::tempdir().unwrap();
    let sim = test_support::SimHost::start(
        69,
        "scrape_configs:\n- job_name: pushed\n  scrape_interval: 1h\n  file_sd_configs:\n  - files: ['{dir}/targets/*.json']\n",
    );
    let server = Server::start(dir.path(), &[]);
    let http = agent();
    let post = |path: &str, body: Value| {
        let mut response = http.post(&server.url(path)).send_json(body).unwrap();
        (response.status().as_u16(), response.body_mut().read_json::<Value>().unwrap())
    };
    let get_text = |path: &str| {
        http.get(&server.url(path)).call().unwrap().body_mut().read_to_string().unwrap()
    };
    let (_, eu) = post("/api/v1/shards", json!({"name": "eu"}));
    post("/api/v1/shards", json!({"name": "us"}));
    post("/api/v1/services", json!({"name": "shop"}));
    post("/api/v1/farms", json!({"name": "eu-hosts", "hosts": ["127.0.0.91", "127.0.0.92"]}));
    post("/api/v1/farms", json!({"name": "us-hosts", "hosts": ["127.0.0.93"]}));
    for (project, shard, farm) in [("front-eu", "eu", "eu-hosts"), ("front-us", "us", "us-hosts")] {
        let spec = json!({"name": project, "service": "shop", "shard": shard, "farm": farm});
        assert_eq!(post("/api/v1/projects", spec).0, 201);
        assert_eq!(
            post("/api/v1/exporters", json!({"project": project, "job": "node", "port": 9100})).0,
            201
        );
    }
    post("/api/v1/rules", json!({"name": "Pushed", "expression": "vector(1)"}));

    let host = |targets_file: Value| {
        json!({"name": "pushed", "address": sim.ip, "ssh_port": sim.ssh_port, "ssh_user": "root",
            "identity_file": test_support::client_key(), "known_hosts_file": sim.known_hosts_file(),
            "rule_file": sim.rule_file(), "prometheus_url": sim.prometheus_url(),
            "datasources": [eu["id"]], "targets_file": targets_file, "verify_targets": true})
    };
    let (status, refused) = post("/api/v1/hosts", host(json!("targets/promrules.json")));
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("targets_file"), "{refused}");
    assert_eq!(post("/api/v1/hosts", host(json!(sim.targets_file()))).0, 201);

    let deploy = || {
        let (status, answer) = post("/api/v1/deployments", json!({"hosts": ["pushed"]}));
        assert_eq!(status, 202, "{answer}");
        let url = answer["url"].as_str().unwrap().to_owned();
        test_support::eventually(Duration::from_secs(60), || {
            let mut response = http.get(&server.url(&url)).call().unwrap();
            let deployment: Value = response.body_mut().read_json().unwrap();
            (deployment["status"] != "running").then_some(deployment)
        })
        .unwrap_or_else(|| panic!("{url} never finished:\n{}", server.log()))
    };
    let first = deploy();
    let report = &first["hosts"][0];
    assert_eq!(report["outcome"], "deployed", "{first}");
    assert!(
        report["message"].as_str().unwrap().contains("all discovered by Prometheus"),
        "{first}"
    );
    let pushed = std::fs::read_to_string(sim.targets_file()).unwrap();
    assert_eq!(pushed, get_text("/api/v1/targets?shard=eu"), "the host gets its shard's targets");
    assert!(pushed.contains("127.0.0.91:9100") && !pushed.contains("127.0.0.93"), "{pushed}");
    assert_eq!(report["targets_hash"].as_str().unwrap().len(), 64, "{first}");
    assert_eq!(sim.loaded_rules(), ["Pushed"]);

    // A new host in the farm: only the target file changes, and that is a deploy.
    let (status, _) = post("/api/v1/farms/1/hosts", json!({"name": "127.0.0.94"}));
    assert_eq!(status, 201);
    let second = deploy();
    let report = &second["hosts"][0];
    assert_eq!(report["outcome"], "deployed", "{second}");
    assert_ne!(report["targets_hash"], first["hosts"][0]["targets_hash"]);
    assert!(std::fs::read_to_string(sim.targets_file()).unwrap().contains("127.0.0.94:9100"));
    let discovered = http
        .get(&format!("{}/api/v1/targets", sim.prometheus_url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(discovered.contains("127.0.0.94:9100"), "{discovered}");

    // Nothing new: unchanged, both files.
    let third = deploy();
    assert_eq!(third["hosts"][0]["outcome"], "unchanged", "{third}");
}

/// The fault matrix, part: clocks that disagree. The `deploy` command runs with its clock a
/// day behind the host's, then a year ahead, then a day behind again (libfaketime, Debian's
/// `faketime`): every deploy is verified (the host's reload timestamps are only compared
/// with each other), and the backups keep the deploys' order (they are numbered), so the
/// newest is never pruned as if it were the oldest.
#[test]
fn deploys_from_a_clock_that_is_off_verify_and_keep_the_newest_backups() {
    let sim = test_support::SimHost::start(33, "");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db").display().to_string();
    let inventory = dir.path().join("inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "hosts:\n- name: skewed\n  address: {ip}\n  ssh_port: {port}\n  ssh_user: root\n  identity_file: {key}\n  known_hosts_file: {known}\n  rule_file: {file}\n  prometheus_url: {url}\n",
            ip = sim.ip,
            port = sim.ssh_port,
            key = test_support::client_key().display(),
            known = sim.known_hosts_file().display(),
            file = sim.rule_file().display(),
            url = sim.prometheus_url(),
        ),
    )
    .unwrap();
    let mut live = std::fs::read_to_string(sim.rule_file()).unwrap();
    let mut replaced = Vec::new();
    for (round, clock) in ["", "", "", "", "", "-1d", "+1y", "-1d"].into_iter().enumerate() {
        let rules = dir.path().join("clock.yml");
        std::fs::write(
            &rules,
            format!(
                "groups:\n- name: clock\n  rules:\n  - alert: Round{round}\n    expr: vector(1)\n"
            ),
        )
        .unwrap();
        let imported =
            run(dir.path(), &["--database", &db, "import", "--prune", rules.to_str().unwrap()]);
        assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
        let mut deploy = match clock {
            "" => Command::new(BIN),
            offset => {
                let mut faked = Command::new("faketime");
                faked.args(["-f", offset, BIN]).env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
                faked
            }
        };
        let inventory = inventory.to_str().unwrap();
        let deployed = deploy
            .args(["--database", &db, "deploy", "--inventory", inventory])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("faketime is missing: apt-get install faketime");
        let table = String::from_utf8_lossy(&deployed.stdout);
        assert!(
            deployed.status.success(),
            "clock {clock:?}: {table}{}",
            String::from_utf8_lossy(&deployed.stderr)
        );
        assert!(table.contains("1 host(s): 1 deployed"), "clock {clock:?}: {table}");
        assert_eq!(sim.loaded_rules(), [format!("Round{round}")], "clock {clock:?}");
        let now_live = std::fs::read_to_string(sim.rule_file()).unwrap();
        replaced.push(std::mem::replace(&mut live, now_live));
    }
    // Five backups are kept: the files the last five deploys replaced, whatever the clocks.
    let backup_dir = sim.rule_file().with_file_name(".promrules-backups");
    let mut kept: Vec<(String, String)> = std::fs::read_dir(&backup_dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let content = std::fs::read_to_string(entry.path()).unwrap();
            (entry.file_name().into_string().unwrap(), content)
        })
        .collect();
    kept.sort();
    let contents: Vec<String> = kept.into_iter().map(|(_, content)| content).collect();
    assert_eq!(contents, replaced[replaced.len() - 5..], "in deploy order, the newest last");
}
