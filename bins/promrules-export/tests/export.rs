//! `promrules-export` as cron and sidecars run it: the real binary against a real
//! Prometheus (with sshd, from the shared fleet fixture) on 127.0.0.71, a SQLite database,
//! and an in-process promrules server for `--from`.
//!
//! The tests share one Prometheus, so they take turns through `prometheus()`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use promrules_model::{Exporter, Farm, Project, RuleSpec, Service, Shard, Store};
use serde_json::Value;
use test_support::SimHost;

/// The shared Prometheus, whose file_sd reads `targets_file()` and keeps shard `eu`.
fn prometheus() -> MutexGuard<'static, SimHost> {
    static HOST: OnceLock<Mutex<SimHost>> = OnceLock::new();
    HOST.get_or_init(|| {
        let config = format!(
            "scrape_configs:\n- job_name: promrules\n  file_sd_configs:\n  - files: ['{}']\n    refresh_interval: 1s\n  relabel_configs:\n  - source_labels: [__shard]\n    regex: eu\n    action: keep\n",
            targets_file().display()
        );
        Mutex::new(SimHost::start(61, &config))
    })
    .lock()
    .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn targets_file() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, file) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("targets.json");
        (dir, file)
    });
    file
}

fn export(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promrules-export"))
        .args(args)
        .env("RUST_LOG", "debug")
        .env_remove("PROMRULES_DATABASE")
        .env_remove("PROMRULES_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A long-running `promrules-export`, killed when dropped; its log goes to a file.
struct Running {
    child: std::process::Child,
    log: PathBuf,
}

impl Running {
    fn start(args: &[&str], log: PathBuf) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_promrules-export"))
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Running { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` for up to 30 s; panics naming `what` when it never answered.
fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    test_support::eventually(Duration::from_secs(30), probe)
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// A SQLite database holding two projects on shards `eu` and `us`.
fn database(dir: &Path) -> (Store, String) {
    let url = dir.join("promrules.db").display().to_string();
    let store = Store::open(&url).unwrap();
    for shard in ["eu", "us"] {
        store.create_shard(&Shard { name: shard.into() }).unwrap();
    }
    store.create_service(&Service { name: "shop".into() }).unwrap();
    store.create_farm(&Farm::new("eu-web", ["127.0.0.1", "127.0.0.2"])).unwrap();
    store.create_farm(&Farm::new("us-web", ["127.0.0.3"])).unwrap();
    for (name, shard, farm) in [("web", "eu", "eu-web"), ("us-web", "us", "us-web")] {
        store.create_project(&Project::new(name, "shop", shard).in_farm(farm)).unwrap();
        store
            .create_exporter(&Exporter {
                path: Some("/metrics?format=text".into()),
                ..Exporter::new(name, "node", 9100)
            })
            .unwrap();
    }
    (store, url)
}

/// Prometheus's active targets of our job: (address, labels).
fn active_targets(host: &SimHost) -> Vec<(String, Value)> {
    let url = format!("{}/api/v1/targets?state=active", host.prometheus_url());
    let body: Value = ureq::get(&url).call().unwrap().body_mut().read_json().unwrap();
    let mut targets: Vec<(String, Value)> = body["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == "promrules")
        .map(|t| (t["labels"]["instance"].as_str().unwrap().to_owned(), t["labels"].clone()))
        .collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    targets
}

#[test]
fn watch_writes_and_reloads_only_on_change_and_prometheus_scrapes_the_file() {
    let host = prometheus();
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    let out = targets_file().display().to_string();
    let _ = std::fs::remove_file(targets_file());
    let before = host.last_reload();
    let metrics_address = format!("127.0.0.1:{}", test_support::free_port("127.0.0.1"));
    let running = Running::start(
        &[
            "targets",
            &out,
            "--database",
            &url,
            "--reload",
            &host.prometheus_url(),
            "--watch",
            "500ms",
            "--mode",
            "640",
            "--metrics-listen",
            &metrics_address,
        ],
        dir.path().join("export.log"),
    );

    // The first round writes and reloads.
    let first =
        wait_for("the first reload", || (host.last_reload() > before).then(|| host.last_reload()));
    let text = std::fs::read_to_string(targets_file()).unwrap();
    let groups: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 2, "every shard without --shard: {text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(targets_file()).unwrap().permissions().mode() & 0o777, 0o640);

    // Prometheus keeps shard eu's targets, with the query string as a parameter.
    let targets = wait_for("Prometheus to load the targets", || {
        let targets = active_targets(&host);
        (targets.len() == 2).then_some(targets)
    });
    let addresses: Vec<&str> = targets.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addresses, ["127.0.0.1:9100", "127.0.0.2:9100"]);
    assert_eq!(targets[0].1["project"], "web");
    assert_eq!(targets[0].1["service"], "shop");
    assert_eq!(targets[0].1["job"], "node");
    let pool = ureq::get(&format!("{}/api/v1/targets?state=active", host.prometheus_url()))
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    let scrape_url = pool["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == "promrules")
        .unwrap()["scrapeUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(scrape_url.ends_with("/metrics?format=text"), "{scrape_url}");

    // Several unchanged rounds: no write, no reload.
    let modified = std::fs::metadata(targets_file()).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(2_000));
    assert_eq!(host.last_reload(), first, "no reload without a change");
    assert_eq!(std::fs::metadata(targets_file()).unwrap().modified().unwrap(), modified);
    assert!(running.log().matches("is unchanged").count() >= 2, "{}", running.log());

    // A change is written and reloaded once.
    let farm = store.list_farms().unwrap().into_iter().find(|f| f.spec.name == "eu-web").unwrap();
    store.add_farm_host(farm.id, "127.0.0.4").unwrap();
    let second = wait_for("the reload after the change", || {
        (host.last_reload() > first).then(|| host.last_reload())
    });
    assert!(std::fs::read_to_string(targets_file()).unwrap().contains("127.0.0.4:9100"));
    wait_for("Prometheus to see the new host", || (active_targets(&host).len() == 3).then_some(()));
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(host.last_reload(), second, "one reload per change");
    assert_eq!(running.log().matches("reloaded it").count(), 2, "{}", running.log());

    // Its own metrics say the same.
    let metrics = metrics(&metrics_address);
    for line in [
        "promrules_export_rounds_total{outcome=\"reloaded\"} 2",
        "promrules_export_reloads_total{result=\"ok\"} 2",
        "promrules_export_reloads_total{result=\"failed\"} 0",
        "promrules_export_failures_total 0",
        "promrules_export_last_success_timestamp_seconds ",
    ] {
        assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
    }
    let unchanged = metrics
        .lines()
        .find_map(|line| line.strip_prefix("promrules_export_rounds_total{outcome=\"unchanged\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_default();
    assert!(unchanged >= 2, "{metrics}");
}

/// The text of an export's `/metrics`.
fn metrics(address: &str) -> String {
    ureq::get(&format!("http://{address}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

#[test]
fn a_rule_file_whose_reload_fails_is_rolled_back() {
    let host = prometheus();
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    let eu = store.find_shard("eu").unwrap().unwrap();
    store
        .create_rule(&RuleSpec {
            name: Some("ExportedRule".into()),
            datasource_id: Some(eu.id),
            ..RuleSpec::alert("up == 0")
        })
        .unwrap();
    store
        .create_rule(&RuleSpec {
            name: Some("OtherShard".into()),
            datasource_id: Some(eu.id + 1),
            ..RuleSpec::alert("up == 0")
        })
        .unwrap();
    let rule_file = host.rule_file().display().to_string();
    let reload = host.prometheus_url();
    let args = ["rules", &rule_file, "--database", &url, "--shard", "eu", "--reload", &reload];

    let output = export(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    wait_for("the rule to load", || (host.loaded_rules() == ["ExportedRule"]).then_some(()));
    let good = std::fs::read(host.rule_file()).unwrap();

    // The model refuses broken templates, but it knows the template functions of every
    // Prometheus release: `toDuration` is newer than Debian 12's 2.42, which rejects the file.
    store
        .create_rule(&RuleSpec {
            name: Some("NewerFunction".into()),
            summary: "{{ 300 | toDuration }}".into(),
            datasource_id: Some(eu.id),
            ..RuleSpec::alert("up == 1")
        })
        .unwrap();

    // With promtool (from PATH), the bad file never replaces the good one.
    let reloaded = host.last_reload();
    let output = export(&args);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("promtool check rules rejected it"), "{}", stderr(&output));
    assert_eq!(std::fs::read(host.rule_file()).unwrap(), good);
    assert_eq!(host.last_reload(), reloaded, "nothing to reload");

    // Without promtool, Prometheus rejects the reload and the previous file comes back.
    let mut unchecked = args.to_vec();
    unchecked.push("--no-promtool");
    let output = export(&unchecked);
    assert!(!output.status.success(), "a failed reload fails the run");
    let message = stderr(&output);
    assert!(
        message.contains("POST /-/reload answered 500")
            && message.contains("restored the previous"),
        "{message}"
    );
    assert_eq!(std::fs::read(host.rule_file()).unwrap(), good, "byte for byte");
    assert!(host.last_reload() > reloaded, "reloaded again with the restored file");
    assert_eq!(host.loaded_rules(), ["ExportedRule"]);

    // With no file before, rolling back removes the new one.
    std::fs::remove_file(host.rule_file()).unwrap();
    let output = export(&unchecked);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("removed the new"), "{}", stderr(&output));
    assert!(!host.rule_file().exists(), "no rejected file left for Prometheus's next start");

    // Put the managed file back for the other tests.
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
}

#[test]
fn pull_from_the_server_needs_the_token_and_matches_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = database(dir.path());
    let config = promrules_api::Config {
        tokens: vec![
            promrules_api::Token::new("exporter", promrules_api::Scope::Read, "s3cret").unwrap(),
        ],
        ..Default::default()
    };
    let app = promrules_api::router(promrules_api::AppState::new(store, config));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });

    let out = dir.path().join("targets.json");
    let out_arg = out.display().to_string();
    let output = export(&["targets", &out_arg, "--from", &base, "--shard", "us"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    assert!(!out.exists(), "nothing written on failure");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let token_arg = token_file.display().to_string();
    let output = export(&[
        "targets",
        &out_arg,
        "--from",
        &base,
        "--token-file",
        &token_arg,
        "--shard",
        "us",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = ureq::get(&format!("{base}/api/v1/targets?shard=us"))
        .header("Authorization", "Bearer s3cret")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
    assert!(expected.contains("127.0.0.3:9100") && !expected.contains("127.0.0.1:"));

    let rules = dir.path().join("rules.yml");
    let rules_arg = rules.display().to_string();
    // Reads need the token too: rules.yml is not public once tokens exist.
    let output = export(&["rules", &rules_arg, "--from", &base, "--shard", "eu"]);
    assert!(stderr(&output).contains("401"), "{}", stderr(&output));
    let with_token = |shard: &'static str| {
        let args =
            ["rules", &rules_arg, "--from", &base, "--token-file", &token_arg, "--shard", shard];
        export(&args)
    };
    let output = with_token("nowhere");
    assert!(stderr(&output).contains("no shard named `nowhere`"), "{}", stderr(&output));
    let output = with_token("eu");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), "groups: []\n");

    // What it says without RUST_LOG: one line for what it did; `-v` adds promrules' own
    // debug lines (the fetch), never a dependency's.
    let at = |verbosity: &[&str]| {
        let mut args = verbosity.to_vec();
        args.extend(["rules", &rules_arg, "--from", &base, "--token-file", &token_arg]);
        args.extend(["--shard", "eu"]);
        let output = Command::new(env!("CARGO_BIN_EXE_promrules-export"))
            .args(&args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output)
    };
    let unchanged = at(&[]);
    assert_eq!(unchanged.lines().count(), 1, "{unchanged}");
    assert!(unchanged.contains(&format!("`{rules_arg}` is unchanged")), "{unchanged}");
    std::fs::remove_file(&rules).unwrap();
    let wrote = at(&[]);
    assert_eq!(wrote.lines().count(), 1, "{wrote}");
    assert!(wrote.contains(&format!("wrote `{rules_arg}`")), "{wrote}");
    let verbose = at(&["-v"]);
    let debug: Vec<&str> = verbose.lines().filter(|line| line.contains(" DEBUG ")).collect();
    assert!(debug.iter().any(|line| line.contains("/api/v1/rules.yml")), "{verbose}");
    assert!(debug.iter().all(|line| line.contains(" DEBUG promrules")), "{verbose}");
    let everything = at(&["-vv"]);
    assert!(
        everything.lines().any(|line| line.contains(" ureq")),
        "-vv adds dependencies': {everything}"
    );
}

#[test]
fn a_missing_database_is_an_error_not_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("targets.json");
    std::fs::write(&out, "[]\n").unwrap();
    let missing = dir.path().join("nope.db").display().to_string();
    let output = export(&["targets", &out.display().to_string(), "--database", &missing]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("does not exist"), "{}", stderr(&output));
    assert!(!dir.path().join("nope.db").exists());
    let output = export(&["targets", &out.display().to_string()]);
    assert_eq!(output.status.code(), Some(2), "--database or --from is required");
}

/// `promrules-export reload-on-change DIR` for `host`'s Prometheus, once it watches, with
/// its metrics on `log_dir`'s `metrics-address` file's address.
fn reload_on_change(host: &SimHost, dir: &Path, log_dir: &Path) -> Running {
    let metrics_address = format!("127.0.0.1:{}", test_support::free_port("127.0.0.1"));
    std::fs::write(log_dir.join("metrics-address"), &metrics_address).unwrap();
    let running = Running::start(
        &[
            "reload-on-change",
            &dir.display().to_string(),
            "--reload",
            &host.prometheus_url(),
            "--debounce",
            "200ms",
            "--metrics-listen",
            &metrics_address,
        ],
        log_dir.join("watch.log"),
    );
    wait_for("the watch to start", || running.log().contains("watching").then_some(()));
    running
}

/// Lays out `dir` as Kubernetes mounts a ConfigMap, with `content` as `promrules.yml`.
fn configmap_swap(dir: &Path, version: u32, content: &str) {
    let data = dir.join(format!("..v{version}"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("promrules.yml"), content).unwrap();
    std::os::unix::fs::symlink(format!("..v{version}"), dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    let link = dir.join("promrules.yml");
    if std::fs::symlink_metadata(&link).is_ok_and(|m| !m.file_type().is_symlink()) {
        std::fs::remove_file(&link).unwrap();
    }
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/promrules.yml", &link).unwrap();
    }
}

/// The metrics have no authentication: beyond loopback they need `--metrics-insecure`.
#[test]
fn metrics_beyond_loopback_need_an_explicit_flag() {
    let dir = tempfile::tempdir().unwrap();
    let open = format!("0.0.0.0:{}", test_support::free_port("127.0.0.1"));
    let output = export(&[
        "reload-on-change",
        &dir.path().display().to_string(),
        "--reload",
        "http://127.0.0.1:9",
        "--metrics-listen",
        &open,
    ]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--metrics-insecure"), "{}", stderr(&output));
    let output = export(&["targets", "out.json", "--database", "x.db", "--metrics-listen", &open]);
    assert_eq!(output.status.code(), Some(2), "--metrics-listen needs --watch");
}

#[test]
fn reload_on_change_follows_a_configmap_swap() {
    let host = prometheus();
    let rules_dir = host.rule_file().parent().unwrap().to_owned();
    let rule = |name: &str| {
        format!("groups:\n- name: sidecar\n  rules:\n  - alert: {name}\n    expr: up == 0\n")
    };
    configmap_swap(&rules_dir, 1, "groups: []\n");
    let log_dir = tempfile::tempdir().unwrap();
    let running = reload_on_change(&host, &rules_dir, log_dir.path());
    let before = host.last_reload();

    configmap_swap(&rules_dir, 2, &rule("FromConfigMap"));
    wait_for("the new rule to load", || (host.loaded_rules() == ["FromConfigMap"]).then_some(()));
    let reloaded = host.last_reload();
    assert!(reloaded > before);
    let address = std::fs::read_to_string(log_dir.path().join("metrics-address")).unwrap();
    let counted = wait_for("the reload to be counted", || {
        let text = metrics(&address);
        text.contains("promrules_export_reloads_total{result=\"ok\"} 1").then_some(text)
    });
    assert!(counted.contains("promrules_export_last_success_timestamp_seconds "), "{counted}");

    // Same content under a new version, and a hidden temp file: no reload.
    configmap_swap(&rules_dir, 3, &rule("FromConfigMap"));
    std::fs::write(rules_dir.join(".promrules.yml.swp"), "junk").unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(host.last_reload(), reloaded, "{}", running.log());
    // One look at the directory for the swap, two if the temp file fell into a debounce
    // window of its own: reading files (ours for the digest, Prometheus's for its reload)
    // must not wake the watcher again, which would be a look every few milliseconds.
    let looks = running.log().matches("not in content").count();
    assert!((1..=2).contains(&looks), "{looks} looks: {}", running.log());

    // Back to a plain file for the other tests.
    drop(running);
    for entry in std::fs::read_dir(&rules_dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
}

/// An https `--from` whose certificate comes from an internal CA: trusted with `--ca-file`,
/// refused without. The server is `openssl s_server -WWW`, serving a file as the targets.
#[test]
fn https_from_with_an_internal_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certificates = test_support::Certificates::new();
    let www = d.join("www");
    std::fs::create_dir_all(www.join("api/v1")).unwrap();
    let served = "[\n  {\n    \"labels\": {\n      \"job\": \"node\"\n    },\n    \"targets\": [\n      \"web01:9100\"\n    ]\n  }\n]\n";
    std::fs::write(www.join("api/v1/targets"), served).unwrap();

    let port = test_support::free_port("127.0.0.1");
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", &certificates.server_certificate().display().to_string()])
        .args(["-key", &certificates.server_key().display().to_string()])
        .current_dir(&www)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        test_support::wait_for_port(address, Duration::from_secs(10)),
        "s_server did not start"
    );

    let out = d.join("targets.json").display().to_string();
    let url = format!("https://127.0.0.1:{port}");
    let untrusted = export(&["targets", &out, "--from", &url]);
    let ca = certificates.ca().display().to_string();
    let trusted = export(&["targets", &out, "--from", &url, "--ca-file", &ca]);
    let _ = server.kill();
    let _ = server.wait();

    assert!(!untrusted.status.success());
    assert!(stderr(&untrusted).to_lowercase().contains("certificate"), "{}", stderr(&untrusted));
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert_eq!(std::fs::read_to_string(d.join("targets.json")).unwrap(), served);
    let missing = export(&["targets", &out, "--from", &url, "--ca-file", "/nonexistent/ca.pem"]);
    assert!(stderr(&missing).contains("CA file `/nonexistent/ca.pem`"), "{}", stderr(&missing));
}

#[test]
fn an_emptied_source_does_not_wipe_a_file_without_allow_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    let out = dir.path().join("targets.json");
    let out_arg = out.display().to_string();
    assert!(export(&["targets", &out_arg, "--database", &url]).status.success());
    let full = std::fs::read(&out).unwrap();

    for exporter in store.list_exporters(None).unwrap() {
        store.delete_exporter(exporter.id).unwrap();
    }
    let refused = export(&["targets", &out_arg, "--database", &url]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("refusing to replace"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(&out).unwrap(), full, "the old file stays");
    // A typo in --shard is the same mistake.
    store.create_exporter(&Exporter::new("web", "node", 9100)).unwrap();
    let typo = export(&["targets", &out_arg, "--database", &url, "--shard", "ue"]);
    assert!(stderr(&typo).contains("refusing to replace"), "{}", stderr(&typo));

    let allowed =
        export(&["targets", &out_arg, "--database", &url, "--shard", "ue", "--allow-empty"]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "[]\n");
    // From empty to empty is no change.
    assert!(export(&["targets", &out_arg, "--database", &url, "--shard", "ue"]).status.success());
}

/// Prometheus down when the file changes: the file is written, the reload fails (logged),
/// and the watch reloads once Prometheus is back, although the content no longer changes.
#[test]
fn watch_retries_a_failed_reload_of_a_target_file() {
    let mut host = prometheus();
    let dir = tempfile::tempdir().unwrap();
    let (_store, url) = database(dir.path());
    let out = dir.path().join("targets.json").display().to_string();
    host.stop_prometheus();
    let running = Running::start(
        &[
            "targets",
            &out,
            "--database",
            &url,
            "--reload",
            &host.prometheus_url(),
            "--watch",
            "300ms",
        ],
        dir.path().join("export.log"),
    );
    wait_for("a failed reload", || running.log().contains("reloading Prometheus at").then_some(()));
    assert!(std::fs::read_to_string(&out).unwrap().contains("127.0.0.1:9100"), "written anyway");
    host.start_prometheus();
    wait_for("the reload once Prometheus is back", || {
        running.log().contains("its earlier reload had failed").then_some(())
    });
    let log = running.log();
    assert!(!log.contains("wrote"), "written once, in the round whose reload failed: {log}");
}

/// Prometheus down: a new rule file is not written (it could be neither verified nor rolled
/// back usefully); once Prometheus is back, the next round writes, reloads and verifies.
#[test]
fn watch_waits_for_prometheus_before_replacing_a_rule_file() {
    let mut host = prometheus();
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    store
        .create_rule(&RuleSpec { name: Some("WhileDown".into()), ..RuleSpec::alert("up == 0") })
        .unwrap();
    let rule_file = host.rule_file().display().to_string();
    let before = std::fs::read(host.rule_file()).unwrap();
    host.stop_prometheus();
    let running = Running::start(
        &[
            "rules",
            &rule_file,
            "--database",
            &url,
            "--reload",
            &host.prometheus_url(),
            "--watch",
            "300ms",
        ],
        dir.path().join("export.log"),
    );
    wait_for("a round that finds Prometheus down", || {
        running.log().contains("GET /metrics").then_some(())
    });
    assert_eq!(std::fs::read(host.rule_file()).unwrap(), before, "the old file stays");
    host.start_prometheus();
    wait_for("the rule to load", || (host.loaded_rules() == ["WhileDown"]).then_some(()));
    // The exporter logs after it has verified the reload, a moment after Prometheus serves it.
    wait_for("the exporter to report the reload", || {
        running.log().contains("reloaded it").then_some(())
    });
    drop(running);
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
}

/// A Prometheus behind basic auth (`--web.config.file`): the reload and its verification
/// need the credentials file; without it, or with a wrong password, nothing is written.
#[test]
fn reload_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let web_config = dir.path().join("web.yml");
    // bcrypt (cost 4, to keep each request cheap) of "s3cret".
    std::fs::write(
        &web_config,
        "basic_auth_users:\n  promrules: $2b$04$lh0bh11flk5nQacFl8sKZu3IffC3Pmj1PJQ5Fnn.3nAMhPNk9XbDW\n",
    )
    .unwrap();
    let flag = format!("--web.config.file={}", web_config.display());
    let host = SimHost::start_with_flags(62, "", &[&flag]);
    let (store, url) = database(dir.path());
    store
        .create_rule(&RuleSpec { name: Some("Authed".into()), ..RuleSpec::alert("up == 0") })
        .unwrap();
    let rule_file = host.rule_file().display().to_string();
    let reload = host.prometheus_url();
    let args = ["rules", &rule_file, "--database", &url, "--reload", &reload];
    let before = std::fs::read(host.rule_file()).unwrap();

    let anonymous = export(&args);
    assert!(!anonymous.status.success());
    assert!(stderr(&anonymous).contains("401"), "{}", stderr(&anonymous));
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "promrules:guess\n").unwrap();
    let wrong_arg = wrong.display().to_string();
    let guessed = export(&[&args[..], &["--reload-basic-auth-file", &wrong_arg]].concat());
    assert!(stderr(&guessed).contains("401"), "{}", stderr(&guessed));
    assert_eq!(std::fs::read(host.rule_file()).unwrap(), before, "nothing written");

    let right = dir.path().join("right");
    std::fs::write(&right, "promrules:s3cret\n").unwrap();
    let right_arg = right.display().to_string();
    let authed = export(&[&args[..], &["--reload-basic-auth-file", &right_arg]].concat());
    assert!(authed.status.success(), "{}", stderr(&authed));
    assert!(stderr(&authed).contains("reloaded it"), "{}", stderr(&authed));
    assert!(std::fs::read_to_string(host.rule_file()).unwrap().contains("Authed"));
    let secretless = !stderr(&authed).contains("s3cret") && !stderr(&guessed).contains("guess");
    assert!(secretless, "credentials never appear in the log");
}

/// A watched directory replaced by renames (as some deploy tools do) loses its inotify
/// watch; the watcher notices, reloads for the new content, and watches the new directory.
#[test]
fn reload_on_change_follows_a_replaced_directory() {
    let host = prometheus();
    let rules_dir = host.rule_file().parent().unwrap().to_owned();
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
    let rule = |name: &str| {
        format!("groups:\n- name: replaced\n  rules:\n  - alert: {name}\n    expr: up == 0\n")
    };
    let log_dir = tempfile::tempdir().unwrap();
    let running = reload_on_change(&host, &rules_dir, log_dir.path());

    let new = rules_dir.with_extension("new");
    let old = rules_dir.with_extension("old");
    std::fs::create_dir(&new).unwrap();
    std::fs::write(new.join("promrules.yml"), rule("Replaced")).unwrap();
    std::fs::rename(&rules_dir, &old).unwrap();
    // A moment without the directory, shorter than the debounce: the watcher wakes on the
    // first rename and must still notice the replacement before it reloads.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::rename(&new, &rules_dir).unwrap();
    wait_for("the new directory's rule to load", || {
        (host.loaded_rules() == ["Replaced"]).then_some(())
    });
    assert!(running.log().contains("was replaced"), "{}", running.log());

    // The new directory is watched too.
    std::fs::write(host.rule_file(), rule("ChangedAfter")).unwrap();
    wait_for("a change in the new directory to load", || {
        (host.loaded_rules() == ["ChangedAfter"]).then_some(())
    });

    drop(running);
    std::fs::remove_dir_all(&old).unwrap();
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
}

/// A server on loopback that answers every request with 200 and `body`, for `requests`
/// requests; its base URL.
fn answering(body: Vec<u8>, requests: usize) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn a_bad_answer_never_replaces_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.json");
    let rules = dir.path().join("rules.yml");
    let good_targets = b"[{\"targets\":[\"a:9100\"],\"labels\":{\"job\":\"node\"}}]\n";
    let good_rules = b"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n";
    std::fs::write(&targets, good_targets).unwrap();
    std::fs::write(&rules, good_rules).unwrap();
    let garbage: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    for (kind, out, body, expected) in [
        ("targets", &targets, b"<html><form>Sign in</form></html>".to_vec(), "not a file_sd JSON"),
        ("targets", &targets, Vec::new(), "not a file_sd JSON"),
        ("targets", &targets, garbage.clone(), "not a file_sd JSON"),
        ("targets", &targets, b"[{\"targets\": [\"a b\"]}]".to_vec(), "is not host[:port]"),
        ("rules", &rules, b"<html><form>Sign in</form></html>".to_vec(), "cannot be used"),
        ("rules", &rules, Vec::new(), "is empty"),
        ("rules", &rules, garbage.clone(), "is not UTF-8"),
        (
            "rules",
            &rules,
            b"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n".to_vec(),
            "PromQL",
        ),
    ] {
        let base = answering(body, 1);
        let out_arg = out.display().to_string();
        // --no-promtool: the model's own validation must catch it.
        let mut args = vec![kind, &out_arg, "--from", &base];
        if kind == "rules" {
            args.push("--no-promtool");
        }
        let output = export(&args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{kind}: {message}");
        assert!(
            message.contains(expected) && message.contains("left as it was"),
            "{kind}: {message}"
        );
    }
    assert_eq!(std::fs::read(&targets).unwrap(), good_targets);
    assert_eq!(std::fs::read(&rules).unwrap(), good_rules);

    // An answer above --max-size fails too, without reading it all.
    let base = answering(vec![b' '; 4096], 1);
    let out_arg = targets.display().to_string();
    let output = export(&["targets", &out_arg, "--from", &base, "--max-size", "1KiB"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("larger than --max-size"), "{}", stderr(&output));
    assert_eq!(std::fs::read(&targets).unwrap(), good_targets);
}

#[test]
fn only_a_regular_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let good = b"[{\"targets\":[\"a:9100\"],\"labels\":{}}]".to_vec();

    // Devices are neither replaced nor read (`/dev/full` reads without end).
    for device in ["/dev/null", "/dev/full"] {
        let base = answering(good.clone(), 1);
        let output = export(&["targets", device, "--from", &base]);
        assert_eq!(output.status.code(), Some(1), "{device}");
        assert!(stderr(&output).contains("is not a regular file"), "{}", stderr(&output));
        let meta = std::fs::metadata(device).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()), "{device}");
    }

    // A symlink is refused unless --follow-symlink; then its target is replaced.
    let real = dir.path().join("real.json");
    std::fs::write(&real, "[]").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let link_arg = link.display().to_string();
    let base = answering(good.clone(), 2);
    let output = export(&["targets", &link_arg, "--from", &base]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("is a symlink"), "{}", stderr(&output));
    assert_eq!(std::fs::read(&real).unwrap(), b"[]");
    let output = export(&["targets", &link_arg, "--from", &base, "--follow-symlink"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read(&real).unwrap(), good);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a link");

    // An existing file larger than --max-size is not read.
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 4096]).unwrap();
    let base = answering(good, 1);
    let big_arg = big.display().to_string();
    let output = export(&["targets", &big_arg, "--from", &base, "--max-size", "1KiB"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("larger than --max-size"), "{}", stderr(&output));
}

/// Reload fan-out: an HA pair reading one rule file (the second's file is a symlink to the
/// first's) is reloaded and verified on both with `--reload` twice, and the run names each;
/// with one of them down the file is left alone and the run fails naming that one.
/// `--reload-all-addresses` with an address URL is that address.
#[test]
fn reload_fans_out_to_every_prometheus_and_fails_naming_the_one_that_failed() {
    let host = prometheus();
    let mut pair = SimHost::start(64, "");
    std::fs::remove_file(pair.rule_file()).unwrap();
    std::os::unix::fs::symlink(host.rule_file(), pair.rule_file()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    let rule = |name: &str| RuleSpec { name: Some(name.into()), ..RuleSpec::alert("up == 0") };
    let first = store.create_rule(&rule("FannedOut")).unwrap();
    let out = host.rule_file().display().to_string();
    let (one, two) = (host.prometheus_url(), pair.prometheus_url());
    let run = |extra: &[&str]| {
        let mut args = vec!["rules", &out, "--database", &url, "--no-promtool"];
        args.extend(extra);
        export(&args)
    };

    let output = run(&["--reload", &one, "--reload", &two]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.contains(&one) && said.contains(&two), "names both: {said}");
    assert_eq!(host.loaded_rules(), ["FannedOut"]);
    assert_eq!(pair.loaded_rules(), ["FannedOut"]);

    // One of the pair is down: the new file is not written, and the run names which.
    pair.stop_prometheus();
    let mut renamed = rule("FannedOutAgain");
    renamed.expression = "up == 1".into();
    store.update_rule(first.id, &renamed).unwrap();
    let before = std::fs::read(host.rule_file()).unwrap();
    let output = run(&["--reload", &one, "--reload", &two]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains(&two), "{}", stderr(&output));
    assert_eq!(std::fs::read(host.rule_file()).unwrap(), before, "the file is left alone");
    pair.start_prometheus();

    // An address stands for itself with --reload-all-addresses.
    let output = run(&["--reload", &one, "--reload", &two, "--reload-all-addresses"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(host.loaded_rules(), ["FannedOutAgain"]);
    assert_eq!(pair.loaded_rules(), ["FannedOutAgain"]);
    std::fs::write(host.rule_file(), "groups: []\n").unwrap();
}

/// `--reload-all-addresses` end to end: a name that stands for two Prometheus servers on
/// one port (two lines of `/etc/hosts`, as a Swarm `tasks.` name or a headless service
/// resolves) reloads both, and the run names each address.
#[test]
fn a_name_standing_for_two_servers_reloads_both() {
    const NAME: &str = "promrules-fanout.test";
    let (a, b) = (SimHost::address_of(74), SimHost::address_of(75));
    let port = (0..50)
        .map(|_| test_support::free_port(&a))
        .find(|port| std::net::TcpListener::bind((b.as_str(), *port)).is_ok())
        .expect("a port free on both addresses");
    let (first, second) = (SimHost::start_on_port(74, port), SimHost::start_on_port(75, port));
    std::fs::remove_file(second.rule_file()).unwrap();
    std::os::unix::fs::symlink(first.rule_file(), second.rule_file()).unwrap();
    struct HostsLines(String);
    impl Drop for HostsLines {
        fn drop(&mut self) {
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            let _ = std::fs::write("/etc/hosts", hosts.replace(&self.0, ""));
        }
    }
    let lines = HostsLines(format!("{a} {NAME}\n{b} {NAME}\n"));
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    std::fs::write("/etc/hosts", format!("{hosts}{}", lines.0)).expect("the suite runs as root");

    let dir = tempfile::tempdir().unwrap();
    let (store, url) = database(dir.path());
    store
        .create_rule(&RuleSpec { name: Some("ByName".into()), ..RuleSpec::alert("up == 0") })
        .unwrap();
    let out = first.rule_file().display().to_string();
    let reload = format!("http://{NAME}:{port}");
    let output = export(&[
        "rules",
        &out,
        "--database",
        &url,
        "--no-promtool",
        "--reload",
        &reload,
        "--reload-all-addresses",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(first.loaded_rules(), ["ByName"]);
    assert_eq!(second.loaded_rules(), ["ByName"]);
    let said = stderr(&output);
    for address in [&a, &b] {
        assert!(said.contains(&format!("reloaded and verified http://{address}:{port}")), "{said}");
    }
    drop(lines);
}
