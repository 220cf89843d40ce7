//! The security issue's "tried as an attacker" list, one test per case, each named after
//! what it guards, against the real server binary (both storage backends where storage is
//! involved: a SQLite file and the real PostgreSQL).

use std::path::Path;
use std::time::{Duration, Instant};

use promrules_model::Store;
use serde_json::{Value, json};

mod support;

use support::{Server, agent, run, run_with};

const ADMIN: &str = "Bearer admin-secret-9f2c";
const WRITER: &str = "Bearer writer-secret-77aa";
const DEPLOYER: &str = "Bearer deployer-secret-31bd";
const READER: &str = "Bearer reader-secret-0c1e";

/// A token file with one token of each scope (and a comment that must not be a token).
fn token_file(dir: &Path) -> String {
    let path = dir.join("tokens");
    std::fs::write(
        &path,
        "# comment-that-is-not-a-token\n\nops admin admin-secret-9f2c\nci write writer-secret-77aa\n\
         release deploy deployer-secret-31bd\ndash read reader-secret-0c1e\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `test` on both backends: a server with the token file on a fresh SQLite file, then
/// on a fresh PostgreSQL database; `test` gets the server and its database URL.
fn on_each_backend(test: impl Fn(Server, &str)) {
    for postgres in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let database = if postgres {
            test_support::Postgres::shared().fresh_database()
        } else {
            dir.path().join("promrules.db").to_str().unwrap().to_owned()
        };
        test(serve(dir.path(), &database), &database);
    }
}

/// Starts the server on `database` with the token file.
fn serve(dir: &Path, database: &str) -> Server {
    let tokens = token_file(dir);
    Server::start_with(dir, &["--token-file", &tokens], &[("PROMRULES_DATABASE", database)])
}

fn call(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let agent = agent();
    let request = ureq::http::Request::builder().method(method).uri(url);
    let request = if token.is_empty() { request } else { request.header("Authorization", token) };
    let mut response = match body {
        Some(body) => agent
            .run(
                request
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_vec(&body).unwrap())
                    .unwrap(),
            )
            .unwrap(),
        None => agent.run(request.body(()).unwrap()).unwrap(),
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn host_body(name: &str, auth: Value) -> Value {
    json!({
        "name": name,
        "address": "127.0.0.1",
        "rule_file": "/etc/prometheus/rules/promrules.yml",
        "prometheus_url": "http://127.0.0.1:9090",
        "prometheus_auth": auth,
    })
}

#[test]
fn hosts_never_answer_their_credentials() {
    on_each_backend(|server, database| {
        let hosts = server.url("/api/v1/hosts");
        let (status, bearer) = call(
            "POST",
            &hosts,
            ADMIN,
            Some(host_body("a", json!({"bearer_token": "bearer-XYZ-123"}))),
        );
        assert_eq!(status, 201, "{bearer}");
        assert_eq!(bearer["spec"]["prometheus_auth"], json!({"type": "bearer", "set": true}));
        let (status, basic) = call(
            "POST",
            &hosts,
            ADMIN,
            Some(host_body("b", json!({"username": "prom", "password": "pass-QRS-456"}))),
        );
        assert_eq!(status, 201, "{basic}");
        let expected = json!({"type": "basic", "username": "prom", "set": true});
        assert_eq!(basic["spec"]["prometheus_auth"], expected);

        // Read back, change a field, write it back: the stored secret is kept.
        let (_, mut read) = call("GET", &format!("{hosts}/{}", bearer["id"]), ADMIN, None);
        let mut spec = read["spec"].take();
        spec["address"] = json!("127.0.0.2");
        let (status, replaced) =
            call("PUT", &format!("{hosts}/{}", bearer["id"]), ADMIN, Some(spec));
        assert_eq!(status, 200, "{replaced}");
        // `set` of a type the host does not have is refused, naming the field.
        let (status, refused) = call(
            "PUT",
            &format!("{hosts}/{}", bearer["id"]),
            ADMIN,
            Some(host_body("a", json!({"type": "basic", "username": "x", "set": true}))),
        );
        assert_eq!(status, 422, "{refused}");
        assert!(refused["fields"]["prometheus_auth"].is_string(), "{refused}");

        let (_, listed) = call("GET", &hosts, ADMIN, None);
        let text = listed.to_string();
        assert!(!text.contains("bearer-XYZ-123") && !text.contains("pass-QRS-456"), "{text}");
        assert_eq!(listed["hosts"].as_array().unwrap().len(), 2);

        let (_, log) = server.terminate();
        assert!(!log.contains("bearer-XYZ-123") && !log.contains("pass-QRS-456"), "{log}");
        let store = Store::open(database).unwrap();
        let stored = store.get_host(bearer["id"].as_i64().unwrap()).unwrap();
        assert_eq!(stored.spec["prometheus_auth"], json!({"bearer_token": "bearer-XYZ-123"}));
        assert_eq!(stored.spec["address"], "127.0.0.2");
        assert!(!format!("{stored:?}").contains("bearer-XYZ-123"), "Debug masks it");
    });
}

#[test]
fn host_definitions_need_admin_even_with_public_reads() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = Server::start(dir.path(), &["--token-file", &tokens, "--public-reads"]);
    for path in ["/api/v1/hosts", "/api/v1/farms", "/api/v1/targets", "/api/v1/tokens"] {
        let (status, body) = call("GET", &server.url(path), "", None);
        assert_eq!(status, 401, "{path}: {body}");
    }
    assert_eq!(call("GET", &server.url("/api/v1/rules"), "", None).0, 200, "plain reads open");
    let (status, body) = call("GET", &server.url("/api/v1/hosts"), WRITER, None);
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("needs `admin`"), "{body}");
    assert_eq!(call("GET", &server.url("/api/v1/hosts"), ADMIN, None).0, 200);
}

#[test]
fn one_token_cannot_do_everything() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = Server::start(dir.path(), &["--token-file", &tokens]);
    let rules = server.url("/api/v1/rules");
    let hosts = server.url("/api/v1/hosts");
    let deployments = server.url("/api/v1/deployments");
    let rule = json!({"name": "Up", "expression": "up == 0"});
    let host = host_body("h", Value::Null);

    assert_eq!(call("GET", &rules, READER, None).0, 200);
    assert_eq!(call("POST", &rules, READER, Some(rule.clone())).0, 403);
    assert_eq!(call("POST", &rules, WRITER, Some(rule)).0, 201);
    assert_eq!(call("POST", &deployments, WRITER, Some(json!({}))).0, 403);
    assert_eq!(call("POST", &hosts, WRITER, Some(host.clone())).0, 403);
    assert_eq!(call("POST", &hosts, DEPLOYER, Some(host.clone())).0, 403);
    assert_eq!(call("POST", &hosts, ADMIN, Some(host)).0, 201);

    // The actor of a revision is the token's name, not its secret.
    let (_, revisions) = call("GET", &server.url("/api/v1/revisions"), READER, None);
    let authors: Vec<&Value> =
        revisions["revisions"].as_array().unwrap().iter().map(|r| &r["actor"]).collect();
    assert!(authors.contains(&&json!("ci")), "{revisions}");
}

#[test]
fn token_file_comments_are_not_tokens_and_the_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = Server::start(dir.path(), &["--token-file", &tokens]);
    let rules = server.url("/api/v1/rules");
    for comment in ["Bearer # comment-that-is-not-a-token", "Bearer comment-that-is-not-a-token"] {
        assert_eq!(call("GET", &rules, comment, None).0, 401, "{comment}");
    }
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let token = format!("{scheme} reader-secret-0c1e");
        assert_eq!(call("GET", &rules, &token, None).0, 200, "{scheme}");
    }
}

#[test]
fn a_keyword_connection_string_is_refused_not_taken_as_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let keyword = "host=127.0.0.1 user=prom password=Kw-Secret-8812 dbname=rules";
    let output = run(dir.path(), &["--database", keyword, "migrate"]);
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("postgres://"), "the error says what to write instead: {log}");
    assert!(!log.contains("Kw-Secret-8812"), "{log}");
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "no SQLite file named after the password: {created:?}");
}

#[test]
fn malformed_postgres_urls_never_echo_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = test_support::Postgres::shared().port();
    for (url, secrets) in [
        (
            "postgres://u:Pct%zzSecret41@127.0.0.1:1/db".to_owned(),
            &["Pct%zzSecret41", "zzSecret41"][..],
        ),
        ("postgres://u:Bracket-Secret-52@[127.0.0.1:5432/db".to_owned(), &["Bracket-Secret-52"]),
        ("postgres://u:At-Secret@Tail-63@127.0.0.1:1/db".to_owned(), &["At-Secret", "Tail-63"]),
        (
            format!("postgres://no_such_role:Wrong-Secret-74@127.0.0.1:{port}/postgres"),
            &["Wrong-Secret-74"],
        ),
        ("postgresql://u@127.0.0.1:1/db?password=Query-Secret-85".to_owned(), &["Query-Secret-85"]),
    ] {
        let output = run(dir.path(), &["--database", &url, "migrate"]);
        assert!(!output.status.success(), "{url}");
        let log = String::from_utf8_lossy(&output.stderr);
        for secret in secrets {
            assert!(!log.contains(secret), "{url}: {log}");
        }
        assert!(log.contains("127.0.0.1"), "the error still names the server: {log}");
    }
}

#[test]
fn a_json_array_body_is_refused_not_a_deploy_to_every_host() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = Server::start(dir.path(), &["--token-file", &tokens]);
    let (status, body) = call("POST", &server.url("/api/v1/deployments"), ADMIN, Some(json!([])));
    assert_eq!(status, 422, "{body}");
    assert!(body["fields"]["body"].as_str().unwrap().contains("not an array"), "{body}");
    assert!(!server.log().contains("deployment 1 started"), "{}", server.log());
}

#[test]
fn deploy_compat_honours_dry_run_refuses_unknown_keys_and_ambiguous_addresses() {
    let sim = test_support::SimHost::start(41, "");
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let server = Server::start(dir.path(), &["--token-file", &tokens]);
    let host = |name: &str| {
        json!({
            "name": name,
            "address": sim.ip,
            "ssh_port": sim.ssh_port,
            "identity_file": test_support::client_key(),
            "known_hosts_file": sim.known_hosts_file(),
            "rule_file": sim.rule_file(),
            "prometheus_url": sim.prometheus_url(),
        })
    };
    assert_eq!(call("POST", &server.url("/api/v1/hosts"), ADMIN, Some(host("one"))).0, 201);
    let rule = json!({"name": "DryRunOnly", "expression": "up == 0"});
    assert_eq!(call("POST", &server.url("/api/v1/rules"), WRITER, Some(rule)).0, 201);
    let before = std::fs::read(sim.rule_file()).unwrap();

    let deploy = server.url("/deploy");
    let (status, body) =
        call("POST", &deploy, DEPLOYER, Some(json!({"host": "one", "dry_run": true})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), before, "a dry run changes nothing");

    let (status, body) =
        call("POST", &deploy, DEPLOYER, Some(json!({"host": "one", "dryrun": true})));
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("dryrun"), "the unknown key is named: {body}");

    assert_eq!(call("POST", &server.url("/api/v1/hosts"), ADMIN, Some(host("two"))).0, 201);
    let (status, body) =
        call("POST", &deploy, DEPLOYER, Some(json!({"host": sim.ip, "dry_run": true})));
    assert_eq!(status, 409, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("one") && message.contains("two"), "{message}");
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), before);
}

#[test]
fn invented_http_methods_do_not_grow_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    // The HTTP client refuses to send such methods; a raw socket does not.
    for index in 0..50 {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(server.address).unwrap();
        write!(
            socket,
            "INVENTED{index} /api/v1/rules HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
    let (_, metrics) = call("GET", &server.url("/metrics"), "", None);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(!metrics.contains("INVENTED"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[test]
fn host_fields_that_reach_ssh_are_refused_naming_the_field() {
    on_each_backend(|server, _| {
        let hosts = server.url("/api/v1/hosts");
        for (field, value) in [
            ("ssh_user", json!("-oProxyCommand=touch /tmp/pwned")),
            ("jump_host", json!("$(reboot)@bastion")),
            ("identity_file", json!("/keys/../../etc/shadow")),
            ("known_hosts_file", json!("/etc/ssh/known_hosts\nHost *")),
            ("rule_file", json!("/etc/prometheus/rules/;rm -rf.yml/..")),
            ("prometheus_url", json!("http://user:pw@127.0.0.1:9090")),
            ("datasources", json!([999])),
        ] {
            let mut body = host_body("bad", Value::Null);
            body[field] = value;
            let (status, answer) = call("POST", &hosts, ADMIN, Some(body));
            assert_eq!(status, 422, "{field}: {answer}");
            assert!(answer["fields"][field].is_string(), "{field}: {answer}");
        }
        let (_, listed) = call("GET", &hosts, ADMIN, None);
        assert_eq!(listed["hosts"], json!([]), "nothing was stored");
    });
}

#[test]
fn a_shard_that_a_host_uses_cannot_be_deleted() {
    on_each_backend(|server, _| {
        let shard = json!({"name": "eu"});
        let (status, shard) = call("POST", &server.url("/api/v1/shards"), WRITER, Some(shard));
        assert_eq!(status, 201, "{shard}");
        let mut host = host_body("uses-eu", Value::Null);
        host["datasources"] = json!([shard["id"]]);
        assert_eq!(call("POST", &server.url("/api/v1/hosts"), ADMIN, Some(host)).0, 201);
        let (status, body) =
            call("DELETE", &server.url(&format!("/api/v1/shards/{}", shard["id"])), ADMIN, None);
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains("uses-eu"), "{body}");
        let (_, shards) = call("GET", &server.url("/api/v1/shards"), READER, None);
        assert_eq!(shards["shards"].as_array().unwrap().len(), 1, "still there");
    });
}

#[test]
fn with_the_database_down_health_answers_503_promptly() {
    let postgres = test_support::Postgres::start();
    let database = postgres.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[], &[("PROMRULES_DATABASE", &database)]);
    assert_eq!(call("GET", &server.url("/healthz"), "", None).0, 200);
    drop(postgres);
    for path in ["/healthz", "/api/v1/rules"] {
        let started = Instant::now();
        let (status, body) = call("GET", &server.url(path), "", None);
        let waited = started.elapsed();
        assert_eq!(status, 503, "{path}: {body}");
        assert!(waited < Duration::from_secs(2), "{path} answered after {waited:?}");
        assert!(!body.to_string().contains("password"), "{body}");
    }
}

#[test]
fn a_bad_database_url_in_the_environment_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_with(
        dir.path(),
        &["migrate"],
        &[("PROMRULES_DATABASE", "postgres://u:Env-Secret-96@127.0.0.1:1/db")],
    );
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!log.contains("Env-Secret-96") && log.contains("127.0.0.1:1"), "{log}");
}

#[test]
fn a_broken_alert_template_is_refused_on_every_way_in() {
    on_each_backend(|server, _| a_broken_alert_template_is_refused(&server));
}

fn a_broken_alert_template_is_refused(server: &Server) {
    let rules = server.url("/api/v1/rules");
    let good =
        json!({"name": "Good", "expression": "up == 0", "summary": "{{ $labels.job }} down"});
    let (status, stored) = call("POST", &rules, WRITER, Some(good));
    assert_eq!(status, 201, "{stored}");
    let rendered_before = call("GET", &server.url("/api/v1/rules.yml"), READER, None).1;

    for (field, body) in [
        ("summary", json!({"expression": "up == 0", "summary": "{{ $labels.x"})),
        ("description", json!({"expression": "up == 0", "description": "{{ end }}"})),
        ("severity", json!({"expression": "up == 0", "severity": "{{ nosuch }}"})),
        ("labels.team", json!({"expression": "up == 0", "labels": {"team": "{{ $nope }}"}})),
    ] {
        let (status, answer) = call("POST", &rules, WRITER, Some(body));
        assert_eq!(status, 422, "{field}: {answer}");
        assert!(answer["fields"][field].as_str().unwrap().contains("Go template"), "{answer}");
    }
    let patch = json!({"summary": "{{ if true }}never closed"});
    let (status, answer) = call("PATCH", &format!("{rules}/{}", stored["id"]), WRITER, Some(patch));
    assert_eq!((status, answer["fields"]["summary"].is_string()), (422, true), "{answer}");
    let compat = json!({"expression": "up == 0", "summary": "{{ $labels.x"});
    assert_eq!(call("POST", &server.url("/rules"), WRITER, Some(compat)).0, 422);

    let file = "groups:\n- name: t\n  rules:\n  - alert: Broken\n    expr: up == 0\n    annotations:\n      summary: '{{ end }}'\n";
    let mut imported = agent()
        .post(&server.url("/api/v1/import"))
        .header("Authorization", WRITER)
        .header("Content-Type", "application/yaml")
        .send(file)
        .unwrap();
    let text = imported.body_mut().read_to_string().unwrap();
    assert_eq!(imported.status(), 422, "{text}");
    assert!(text.contains("summary") && text.contains("Go template"), "{text}");

    let rendered_after = call("GET", &server.url("/api/v1/rules.yml"), READER, None).1;
    assert_eq!(rendered_after, rendered_before, "nothing was stored");
    test_support::assert_promtool_accepts(rendered_after.as_str().unwrap());
}

/// Polls a deployment until it is no longer running; its final record.
fn finished_deployment(server: &Server, id: &Value) -> Value {
    test_support::eventually(Duration::from_secs(60), || {
        let (_, deployment) =
            call("GET", &server.url(&format!("/api/v1/deployments/{id}")), READER, None);
        (deployment["status"] != "running").then_some(deployment)
    })
    .expect("the deployment finished within a minute")
}

#[test]
fn no_binary_logs_a_secret_even_at_trace_level() {
    let sim = test_support::SimHost::start(42, "");
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let prometheus_secret = "prom-bearer-Secret-1234";
    let server = Server::start_with(dir.path(), &["-vv", "--token-file", &tokens], &[]);
    let host = json!({
        "name": "traced",
        "address": sim.ip,
        "ssh_port": sim.ssh_port,
        "identity_file": test_support::client_key(),
        "known_hosts_file": sim.known_hosts_file(),
        "rule_file": sim.rule_file(),
        "prometheus_url": sim.prometheus_url(),
        "prometheus_auth": {"bearer_token": prometheus_secret},
    });
    assert_eq!(call("POST", &server.url("/api/v1/hosts"), ADMIN, Some(host)).0, 201);
    let rule = json!({"name": "Traced", "expression": "vector(1)"});
    assert_eq!(call("POST", &server.url("/api/v1/rules"), WRITER, Some(rule)).0, 201);
    let (status, started) =
        call("POST", &server.url("/api/v1/deployments"), DEPLOYER, Some(json!({})));
    assert_eq!(status, 202, "{started}");
    let deployment = finished_deployment(&server, &started["id"]);
    assert_eq!(deployment["status"], "succeeded", "{deployment}");

    // An export pulling with its own token, at trace level.
    let export = support::sibling_binary("promrules-export");
    let out = dir.path().join("rules.yml");
    let exported = std::process::Command::new(export)
        .args(["-vv", "rules"])
        .arg(&out)
        .args(["--from", &server.url(""), "--token", "reader-secret-0c1e", "--no-promtool"])
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));

    // A failed database connection, at trace level.
    let failed = run(
        dir.path(),
        &["-vv", "--database", "postgres://u:Pg-Secret-5678@127.0.0.1:1/db", "migrate"],
    );
    assert!(!failed.status.success());

    let (_, server_log) = server.terminate();
    let outputs = [
        ("server", server_log),
        ("export", String::from_utf8_lossy(&exported.stderr).into_owned()),
        ("migrate", String::from_utf8_lossy(&failed.stderr).into_owned()),
    ];
    let secrets = [
        prometheus_secret,
        "admin-secret-9f2c",
        "writer-secret-77aa",
        "deployer-secret-31bd",
        "reader-secret-0c1e",
        "Pg-Secret-5678",
    ];
    for (binary, output) in &outputs {
        assert!(!output.is_empty(), "{binary} logged nothing");
        // The HTTP client's trace dumps split bytes 16 to a line: no 8 characters of a
        // secret in a row may appear anywhere, not only the whole secret.
        for secret in secrets {
            let chars: Vec<char> = secret.chars().collect();
            for window in chars.windows(8) {
                let piece: String = window.iter().collect();
                assert!(
                    !output.contains(&piece),
                    "{binary} logged `{piece}` of {secret}:\n{output}"
                );
            }
        }
    }
    let traced = |output: &str| output.lines().filter(|line| line.contains(" TRACE ureq")).count();
    assert!(traced(&outputs[0].1) > 0 && traced(&outputs[1].1) > 0, "the HTTP client traced");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_fields_they_are_about() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--log-format", "json"]);
    let rule = json!({"name": "Logged", "expression": "up == 0"});
    let (_, created) = call("POST", &server.url("/api/v1/rules"), "", Some(rule));
    let (_, log) = server.terminate();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        for key in ["time", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
    }
    let created_line = lines
        .iter()
        .find(|line| line["message"].as_str().unwrap().starts_with("created rule"))
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(created_line["rule"], created["id"], "{created_line}");
    assert_eq!(created_line["actor"], "api", "{created_line}");
}

/// `GET /healthz` over HTTPS, trusting only `ca`, on a fresh connection.
fn https_health(server: &Server, ca: &Path) -> Result<u16, String> {
    let agent = promrules_prometheus::agent(Duration::from_secs(5), Some(ca)).unwrap();
    let url = format!("https://{}/healthz", server.address);
    agent.get(&url).call().map(|r| r.status().as_u16()).map_err(|e| e.to_string())
}

#[test]
fn tls_serves_https_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (test_support::Certificates::new(), test_support::Certificates::new());
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    std::fs::copy(first.server_certificate(), &cert).unwrap();
    std::fs::copy(first.server_key(), &key).unwrap();
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let server = Server::start(dir.path(), &["--tls-cert", &cert_arg, "--tls-key", &key_arg]);

    assert_eq!(https_health(&server, &first.ca()), Ok(200));
    assert!(https_health(&server, &second.ca()).is_err(), "another CA's client is refused");
    let plain = agent().get(&server.url("/healthz")).call();
    assert!(plain.is_err(), "no plain HTTP on the TLS port: {plain:?}");

    // A broken pair on SIGHUP keeps the one in use.
    std::fs::write(&cert, "not a certificate").unwrap();
    let hup = |pid: u32| {
        let status = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status();
        assert!(status.unwrap().success());
    };
    hup(server.pid());
    let kept = test_support::eventually(Duration::from_secs(10), || {
        server.log().contains("keeping the one in use")
    });
    assert!(kept, "{}", server.log());
    assert_eq!(https_health(&server, &first.ca()), Ok(200));

    // The renewed pair is served after SIGHUP, without a restart.
    std::fs::copy(second.server_certificate(), &cert).unwrap();
    std::fs::copy(second.server_key(), &key).unwrap();
    hup(server.pid());
    let renewed = test_support::eventually(Duration::from_secs(10), || {
        https_health(&server, &second.ca()).is_ok()
    });
    assert!(renewed, "{}", server.log());
    assert!(https_health(&server, &first.ca()).is_err(), "the old certificate is gone");
}

#[test]
fn beyond_loopback_plain_http_is_refused_even_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    // A documentation address: refused before any socket is opened.
    let output =
        run(dir.path(), &["serve", "--listen", "192.0.2.10:8090", "--token", "t0ken-value"]);
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("over plain HTTP") && log.contains("--insecure-plain-http"), "{log}");
    assert!(!log.contains("t0ken-value"), "{log}");
}

#[test]
fn slow_and_idle_clients_are_cut_off() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--client-timeout", "1"]);
    let closed_within = |mut socket: std::net::TcpStream| {
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let read = socket.read_to_end(&mut rest);
        (read.is_ok(), started.elapsed(), String::from_utf8_lossy(&rest).into_owned())
    };

    // Headers that never end.
    let mut slow = std::net::TcpStream::connect(server.address).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (closed, after, _) = closed_within(slow);
    assert!(
        closed && after < Duration::from_secs(5),
        "slow headers: closed {closed} after {after:?}"
    );

    // A keep-alive connection left idle after one answer.
    let mut idle = std::net::TcpStream::connect(server.address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (closed, after, answer) = closed_within(idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed && after < Duration::from_secs(5), "idle: closed {closed} after {after:?}");

    // A body that stops halfway.
    let mut stalled = std::net::TcpStream::connect(server.address).unwrap();
    stalled
        .write_all(b"POST /api/v1/rules HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"expr")
        .unwrap();
    let (closed, after, answer) = closed_within(stalled);
    assert!(
        closed && after < Duration::from_secs(5),
        "stalled body: closed {closed} after {after:?}"
    );
    assert!(!answer.starts_with("HTTP/1.1 201"), "{answer}");
}
