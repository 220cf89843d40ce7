//! The deployer against real OpenSSH servers and real Prometheus servers on loopback
//! addresses: success across a fleet, every failure the protocol must survive, host keys,
//! locking, and doing nothing when nothing changed.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use promrules_deploy::{
    DeployOptions, Deployer, Files, Host, HostKeyPolicy, HostReport, Outcome, ReloadMethod,
    RemotePromtool,
};
use support::host;
use test_support::SimHost;

mod support;

/// Three hosts shared by the tests that leave them healthy; one test at a time.
fn shared_fleet() -> MutexGuard<'static, Vec<SimHost>> {
    static FLEET: OnceLock<Mutex<Vec<SimHost>>> = OnceLock::new();
    FLEET
        .get_or_init(|| {
            let hosts: Vec<SimHost> = std::thread::scope(|scope| {
                let starting: Vec<_> =
                    (1..=3).map(|i| scope.spawn(move || SimHost::start(i, ""))).collect();
                starting.into_iter().map(|h| h.join().unwrap()).collect()
            });
            Mutex::new(hosts)
        })
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A valid rule file with one group holding the named alerts.
fn rules(group: &str, alerts: &[&str]) -> Vec<u8> {
    let mut text = format!("groups:\n- name: {group}\n  rules:\n");
    for alert in alerts {
        text.push_str(&format!(
            "  - alert: {alert}\n    expr: vector(1)\n    labels:\n      severity: warning\n"
        ));
    }
    text.into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn deployer() -> Arc<Deployer> {
    static CONTROL: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = CONTROL.get_or_init(|| tempfile::Builder::new().prefix("pr-ssh").tempdir().unwrap());
    Arc::new(Deployer::new(dir.path()))
}

fn deploy(
    deployer: &Deployer,
    host: &Host,
    files: impl Into<Files>,
    options: &DeployOptions,
) -> HostReport {
    runtime().block_on(deployer.deploy(host, files, options))
}

fn no_promtool() -> DeployOptions {
    DeployOptions { remote_promtool: RemotePromtool::Never, ..DeployOptions::default() }
}

/// A fresh host number `index` to break, its deployer and description, and the file
/// already live there (group `old`, alert `Old`), which every fault must leave in place.
fn holding_old(index: u8) -> (SimHost, Arc<Deployer>, Host, Vec<u8>) {
    let sim = SimHost::start(index, "");
    let (deployer, host) = (deployer(), host(&sim));
    let old = rules("old", &["Old"]);
    let report = deploy(&deployer, &host, &old, &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    (sim, deployer, host, old)
}

/// A deployer with no promtool where the deploy runs.
fn deployer_without_promtool() -> Arc<Deployer> {
    let deployer = Arc::into_inner(deployer()).unwrap();
    Arc::new(deployer.with_promtools(Vec::new()))
}

#[test]
fn deploys_to_three_hosts_and_prometheus_serves_the_rules() {
    let fleet = shared_fleet();
    let deployer = deployer();
    let content = rules("fleet", &["FleetAlertA", "FleetAlertB"]);
    let targets = fleet.iter().map(|sim| (host(sim), content.clone())).collect();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&progress);
    let reports = runtime().block_on(deployer.deploy_fleet(
        targets,
        &DeployOptions::default(),
        8,
        move |report| {
            seen.lock().unwrap().push(report.host.clone());
        },
    ));
    for (sim, report) in fleet.iter().zip(&reports) {
        assert_eq!(report.outcome, Outcome::Deployed, "{}: {}", report.host, report.message);
        assert_eq!(report.host, sim.name);
        assert_eq!(std::fs::read(sim.rule_file()).unwrap(), content);
        assert_eq!(sim.loaded_rules(), ["FleetAlertA", "FleetAlertB"]);
    }
    assert_eq!(progress.lock().unwrap().len(), 3, "a progress call per host");
}

#[test]
fn unchanged_content_is_neither_uploaded_nor_reloaded() {
    let fleet = shared_fleet();
    let (deployer, host) = (deployer(), host(&fleet[0]));
    let content = rules("same", &["Same"]);
    assert_eq!(
        deploy(&deployer, &host, &content, &DeployOptions::default()).outcome,
        Outcome::Deployed
    );
    let reloaded_at = fleet[0].last_reload();
    let modified = std::fs::metadata(fleet[0].rule_file()).unwrap().modified().unwrap();

    let report = deploy(&deployer, &host, &content, &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Unchanged, "{}", report.message);
    assert_eq!(fleet[0].last_reload(), reloaded_at, "no reload");
    assert_eq!(
        std::fs::metadata(fleet[0].rule_file()).unwrap().modified().unwrap(),
        modified,
        "no upload"
    );

    let forced = deploy(
        &deployer,
        &host,
        &content,
        &DeployOptions { force: true, ..DeployOptions::default() },
    );
    assert_eq!(forced.outcome, Outcome::Deployed);
    assert!(fleet[0].last_reload() > reloaded_at, "--force reloads");
}

#[test]
fn a_file_prometheus_rejects_is_rolled_back() {
    let fleet = shared_fleet();
    let (deployer, host) = (deployer(), host(&fleet[1]));
    let good = rules("good", &["StillServed"]);
    assert_eq!(
        deploy(&deployer, &host, &good, &DeployOptions::default()).outcome,
        Outcome::Deployed
    );

    // Valid PromQL, but an annotation template that does not parse: only Prometheus (or
    // promtool, none here and not on the host) notices.
    let report = deploy(&deployer_without_promtool(), &host, BROKEN_TEMPLATE, &no_promtool());
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert!(report.message.contains("reload failed"), "{}", report.message);
    assert_eq!(
        std::fs::read(fleet[1].rule_file()).unwrap(),
        good,
        "the live file is byte-identical to before"
    );
    assert_eq!(fleet[1].loaded_rules(), ["StillServed"]);
    assert!(
        !fleet[1].rule_file().with_file_name(".promrules.yml.promrules-tmp").exists(),
        "no temp file left"
    );

    // By default the promtool here (of the host's Prometheus version) refuses it before
    // anything is uploaded; `always` asks the host's own promtool; with no promtool here,
    // `auto` falls back to the host's.
    let checked = deploy(&deployer, &host, BROKEN_TEMPLATE, &DeployOptions::default());
    assert_eq!(checked.outcome, Outcome::Failed);
    assert!(
        checked.message.contains("promtool 2.")
            && checked.message.contains("where the deploy runs"),
        "{}",
        checked.message
    );
    let always =
        DeployOptions { remote_promtool: RemotePromtool::Always, ..DeployOptions::default() };
    let on_host = deploy(&deployer, &host, BROKEN_TEMPLATE, &always);
    assert!(
        on_host.message.contains("promtool on host2 rejected the new rule file"),
        "{}",
        on_host.message
    );
    let fallback =
        deploy(&deployer_without_promtool(), &host, BROKEN_TEMPLATE, &DeployOptions::default());
    assert!(
        fallback.message.contains("promtool on host2 rejected the new rule file"),
        "{}",
        fallback.message
    );
    assert_eq!(std::fs::read(fleet[1].rule_file()).unwrap(), good);
}

/// Valid PromQL with an annotation template that does not parse.
const BROKEN_TEMPLATE: &[u8] = b"groups:\n- name: bad\n  rules:\n  - alert: Broken\n    expr: vector(1)\n    annotations:\n      summary: '{{ $labels.instance '\n";

/// Persistent SSH: a deploy's connection serves the next deploy (no new login on the host),
/// is closed after its idle time, and one that dropped is replaced without the deploy
/// noticing; with no idle time every deploy logs in anew.
#[test]
fn connections_persist_between_deploys_and_reconnect_when_dropped() {
    let fleet = shared_fleet();
    let control = tempfile::Builder::new().prefix("pr-keep").tempdir().unwrap();
    let idle = std::time::Duration::from_secs(2);
    let deployer = Arc::new(Deployer::new(control.path()).with_idle_time(idle));
    let host = host(&fleet[0]);
    let runtime = runtime();
    let deploy = |content: &[u8]| runtime.block_on(deployer.deploy(&host, content, &no_promtool()));
    let logins = fleet[0].ssh_logins();
    assert_eq!(deploy(&rules("kept", &["KeptA"])).outcome, Outcome::Deployed);
    assert_eq!(deployer.idle_connections(), 1);
    assert_eq!(deploy(&rules("kept", &["KeptB"])).outcome, Outcome::Deployed);
    assert_eq!(deploy(&rules("kept", &["KeptB"])).outcome, Outcome::Unchanged);
    assert_eq!(fleet[0].ssh_logins(), logins + 1, "three deploys, one login");

    // The master process dies (a network drop): the next deploy reconnects by itself.
    let killed = std::process::Command::new("pkill")
        .args(["-f", &control.path().display().to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "the SSH master was running");
    assert_eq!(deploy(&rules("kept", &["KeptC"])).outcome, Outcome::Deployed);
    assert_eq!(fleet[0].ssh_logins(), logins + 2);
    assert_eq!(fleet[0].loaded_rules(), ["KeptC"]);

    // Idle past its time, the connection is closed; the next deploy logs in again.
    runtime
        .block_on(async { tokio::time::sleep(idle + std::time::Duration::from_millis(500)).await });
    assert_eq!(deployer.idle_connections(), 0);
    assert_eq!(deploy(&rules("kept", &["KeptD"])).outcome, Outcome::Deployed);
    assert_eq!(fleet[0].ssh_logins(), logins + 3);
    runtime.block_on(deployer.shutdown());
    assert_eq!(deployer.idle_connections(), 0);

    let fresh = Arc::new(Deployer::new(control.path()).with_idle_time(std::time::Duration::ZERO));
    for alert in ["FreshA", "FreshB"] {
        let report =
            runtime.block_on(fresh.deploy(&host, &rules("kept", &[alert]), &no_promtool()));
        assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    }
    assert_eq!(fleet[0].ssh_logins(), logins + 5, "no idle time: a login per deploy");
}

/// One file to several hosts is checked once where the deploy runs (the promtool on `PATH`
/// is the hosts' Prometheus version), and the report says which promtool checked it.
#[test]
fn a_file_is_checked_once_here_for_every_host() {
    let fleet = shared_fleet();
    let deployer = deployer();
    let content = rules("checked", &["CheckedOnce"]);
    let targets = fleet.iter().map(|sim| (host(sim), content.clone())).collect();
    let reports =
        runtime().block_on(deployer.deploy_fleet(targets, &DeployOptions::default(), 3, |_| {}));
    for report in &reports {
        assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
        assert!(report.message.contains("checked by promtool 2."), "{}", report.message);
        assert!(report.message.contains(" here"), "{}", report.message);
    }
    assert_eq!(deployer.local_promtool_runs(), 1, "one file, one check, three hosts");
}

#[test]
fn backups_keep_the_newest_and_dry_runs_touch_nothing() {
    let fleet = shared_fleet();
    let (deployer, host) = (deployer(), host(&fleet[2]));
    let options = DeployOptions { backups: 2, ..DeployOptions::default() };
    for version in 0..4 {
        let content = rules(&format!("v{version}"), &["Versioned"]);
        assert_eq!(deploy(&deployer, &host, &content, &options).outcome, Outcome::Deployed);
    }
    let backup_dir = fleet[2].rule_file().with_file_name(".promrules-backups");
    let mut backups: Vec<String> = std::fs::read_dir(&backup_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    backups.sort();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let newest = std::fs::read_to_string(backup_dir.join(&backups[1])).unwrap();
    assert!(
        newest.contains("name: v2"),
        "the newest backup is the file before the last deploy: {newest}"
    );

    let before = std::fs::read(fleet[2].rule_file()).unwrap();
    let dry = deploy(
        &deployer,
        &host,
        rules("dry", &["Dry"]),
        &DeployOptions { dry_run: true, ..DeployOptions::default() },
    );
    assert_eq!(dry.outcome, Outcome::WouldChange);
    assert_eq!((dry.diff.added, dry.diff.removed), (2, 2), "{:?}", dry.diff_text);
    assert!(dry.diff_text.unwrap().contains("+- name: dry"));
    assert_eq!(std::fs::read(fleet[2].rule_file()).unwrap(), before);

    // A live file that is a symlink is backed up by its content, not as a link (which would
    // follow the new file).
    let target = fleet[2].dir().join("elsewhere.yml");
    let linked = rules("linked", &["Linked"]);
    std::fs::write(&target, &linked).unwrap();
    std::fs::remove_file(fleet[2].rule_file()).unwrap();
    std::os::unix::fs::symlink(&target, fleet[2].rule_file()).unwrap();
    let report = deploy(&deployer, &host, rules("after", &["After"]), &options);
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    let newest =
        std::fs::read_dir(&backup_dir).unwrap().map(|entry| entry.unwrap().path()).max().unwrap();
    assert!(std::fs::symlink_metadata(&newest).unwrap().file_type().is_file(), "{newest:?}");
    assert_eq!(std::fs::read(&newest).unwrap(), linked);
    assert_eq!(std::fs::read(&target).unwrap(), linked, "the symlink's target is untouched");
}

#[test]
fn a_path_outside_rule_files_fails_before_touching_the_host() {
    let fleet = shared_fleet();
    let deployer = deployer();
    let mut host = host(&fleet[0]);
    host.rule_file = fleet[0].dir().join("elsewhere/promrules.yml");
    std::fs::create_dir_all(host.rule_file.parent().unwrap()).unwrap();
    let report = deploy(&deployer, &host, rules("x", &["X"]), &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(
        report.message.contains("is not covered by any `rule_files` pattern"),
        "{}",
        report.message
    );
    assert!(!host.rule_file.exists());
    assert!(!host.rule_file.with_file_name(".promrules-backups").exists());
}

#[test]
fn concurrent_deploys_to_one_host_are_serialized() {
    let fleet = shared_fleet();
    let (deployer, host) = (deployer(), host(&fleet[0]));
    let runtime = runtime();
    let (first, second) = runtime.block_on(async {
        let (a, b) = (rules("first", &["First"]), rules("second", &["Second"]));
        let options = DeployOptions::default();
        tokio::join!(deployer.deploy(&host, &a, &options), deployer.deploy(&host, &b, &options))
    });
    assert_eq!(
        (first.outcome, second.outcome),
        (Outcome::Deployed, Outcome::Deployed),
        "{} / {}",
        first.message,
        second.message
    );
    let (earlier, later) =
        if first.locked_at < second.locked_at { (&first, &second) } else { (&second, &first) };
    assert!(
        earlier.released_at <= later.locked_at,
        "the lock windows overlap: {earlier:?} {later:?}"
    );
    let expected = if first.locked_at > second.locked_at { "First" } else { "Second" };
    assert_eq!(fleet[0].loaded_rules(), [expected], "the deploy that held the lock last wins");
}

#[test]
fn prometheus_down_rolls_back_to_the_old_file() {
    let mut sim = SimHost::start(4, "");
    let (deployer, host) = (deployer(), host(&sim));
    // One runtime: the connection (and what it learnt of the host's Prometheus) is kept
    // between the deploys, as in a running server.
    let runtime = runtime();
    let deploy = |deployer: &Deployer, content: &[u8]| {
        runtime.block_on(deployer.deploy(&host, content, &DeployOptions::default()))
    };
    let old = rules("old", &["Old"]);
    assert_eq!(deploy(&deployer, &old).outcome, Outcome::Deployed);

    sim.stop_prometheus();
    let report = deploy(&deployer, &rules("new", &["New"]));
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert!(report.message.contains("unreachable"), "{}", report.message);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the old file is in place");
    // On a new connection the deploy asks Prometheus first, and stops before touching the
    // host.
    let fresh = deployer_without_promtool();
    let report = deploy(&fresh, &rules("new", &["New"]));
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(report.message.contains("Connection refused"), "{}", report.message);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the old file is in place");

    sim.start_prometheus();
    assert_eq!(sim.loaded_rules(), ["Old"], "a restarted Prometheus loads the old, valid file");
}

#[test]
fn a_host_whose_sshd_is_down_fails_alone() {
    let mut down = SimHost::start(5, "");
    down.stop_sshd();
    let fleet = shared_fleet();
    let deployer = deployer();
    let content = rules("partial", &["Partial"]);
    let targets = vec![
        (host(&down), content.clone()),
        (host(&fleet[1]), content.clone()),
        (host(&fleet[2]), content.clone()),
    ];
    let reports =
        runtime().block_on(deployer.deploy_fleet(targets, &DeployOptions::default(), 8, |_| {}));
    assert_eq!(reports[0].outcome, Outcome::Failed);
    assert!(
        reports[0].message.contains("ssh connection to host5 failed at the connect step"),
        "{}",
        reports[0].message
    );
    assert_eq!(std::fs::read_to_string(down.rule_file()).unwrap(), "groups: []\n", "untouched");
    for report in &reports[1..] {
        assert_eq!(report.outcome, Outcome::Deployed, "{}: {}", report.host, report.message);
    }
}

#[test]
fn host_keys_are_checked() {
    let mut sim = SimHost::start(6, "");
    let deployer = deployer();
    let content = rules("keys", &["Keys"]);
    let last = rules("keys", &["Keys", "Again"]);

    // Unknown host: refused under the strict policy, accepted (and remembered) under accept-new.
    let empty = sim.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let mut unknown = host(&sim);
    unknown.known_hosts_file = Some(empty.clone());
    let refused = deploy(&deployer, &unknown, &content, &DeployOptions::default());
    assert_eq!(refused.outcome, Outcome::Failed);
    assert!(
        refused.message.contains("ssh connection to host6 failed at the host key step"),
        "{}",
        refused.message
    );
    assert_eq!(std::fs::read_to_string(sim.rule_file()).unwrap(), "groups: []\n");

    unknown.host_key_policy = HostKeyPolicy::AcceptNew;
    let accepted = deploy(&deployer, &unknown, &content, &DeployOptions::default());
    assert_eq!(accepted.outcome, Outcome::Deployed, "{}", accepted.message);
    // The key was recorded (hashed, with Debian's ssh defaults): strict now passes.
    let recorded = Host { host_key_policy: HostKeyPolicy::Strict, ..unknown.clone() };
    let strict_again =
        deploy(&deployer, &recorded, rules("keys", &["Keys", "Again"]), &DeployOptions::default());
    assert_eq!(strict_again.outcome, Outcome::Deployed, "{}", strict_again.message);

    // A changed key: refused under both policies.
    sim.change_host_key();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let changed = Host { host_key_policy: policy, ..unknown.clone() };
        let report = deploy(
            &deployer,
            &changed,
            rules("impostor", &["Impostor"]),
            &DeployOptions::default(),
        );
        assert_eq!(report.outcome, Outcome::Failed, "{policy:?}");
        assert!(report.message.contains("at the host key step"), "{}", report.message);
    }
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), last, "nothing reached the impostor");
}

#[test]
fn ssh_failures_name_the_step_that_failed() {
    let fleet = shared_fleet();
    let deployer = deployer();
    let content = rules("steps", &["Steps"]);

    // A key the host does not authorize.
    let dir = tempfile::tempdir().unwrap();
    let stranger = dir.path().join("stranger");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(keygen.success());
    let mut unauthorized = host(&fleet[0]);
    unauthorized.identity_file = Some(stranger);
    let report = deploy(&deployer, &unauthorized, &content, &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(report.message.contains("at the authenticate step"), "{}", report.message);

    // A jump host nothing listens on.
    let mut jumping = host(&fleet[0]);
    let closed = test_support::free_port("127.0.0.1");
    jumping.jump_host = Some(format!("127.0.0.1:{closed}"));
    let report = deploy(&deployer, &jumping, &content, &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(report.message.contains("at the jump host step"), "{}", report.message);
}

#[test]
fn reload_by_command_over_ssh() {
    let fleet = shared_fleet();
    let deployer = deployer();
    let mut host = host(&fleet[2]);
    // SIGHUP reloads asynchronously; the deployer waits for the metrics to move. The pattern
    // is anchored to the binary: the test's supervisor shell carries the same arguments, and
    // a SIGHUP to it would orphan Prometheus.
    host.reload = ReloadMethod::Command(format!(
        "pkill -HUP -f '^/usr/bin/prometheus .*web.listen-address={}:{}'",
        fleet[2].ip, fleet[2].prometheus_port
    ));
    let report = deploy(&deployer, &host, rules("hup", &["ByCommand"]), &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    assert_eq!(fleet[2].loaded_rules(), ["ByCommand"]);
}

/// Prometheus refuses a rule file with fields it does not know, so a deploy reads the
/// host's version first and refuses before touching it; the suite's Prometheus (Debian's
/// 2.42) knows `limit` and `keep_firing_for` but not `query_offset` (2.53) or group
/// `labels` (3.0).
#[test]
fn fields_newer_than_the_hosts_prometheus_are_refused_before_touching_it() {
    let fleet = shared_fleet();
    let (deployer, host) = (deployer(), host(&fleet[0]));
    let before = std::fs::read(fleet[0].rule_file()).unwrap();
    let info =
        promrules_prometheus::Prometheus::new(&fleet[0].prometheus_url()).build_info().unwrap();
    let (major, minor, _) = info.semver().unwrap();
    assert!((major, minor) >= (2, 42) && (major, minor) < (2, 53), "{info:?}");
    let offset = "groups:\n- name: offset\n  query_offset: 1m\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n";
    let labelled = "groups:\n- name: labelled\n  rules:\n  - record: job:up:sum\n    expr: sum(up)\n  labels:\n    team: db\n";
    for (file, field, needs) in [
        (offset, "`query_offset` in group `offset`", "Prometheus 2.53 or later"),
        (labelled, "`labels` in group `labelled`", "Prometheus 3.0 or later"),
    ] {
        for dry_run in [false, true] {
            let options = DeployOptions { dry_run, ..DeployOptions::default() };
            let report = deploy(&deployer, &host, file.as_bytes(), &options);
            assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
            for part in [field, needs, &format!("runs {}", info.version)] {
                assert!(report.message.contains(part), "{part} in {}", report.message);
            }
            assert_eq!(std::fs::read(fleet[0].rule_file()).unwrap(), before, "untouched");
        }
    }

    let known = "groups:\n- name: known\n  limit: 5\n  rules:\n  - alert: Flapping\n    expr: vector(1)\n    for: 1m\n    keep_firing_for: 5m\n";
    let report = deploy(&deployer, &host, known.as_bytes(), &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    assert_eq!(fleet[0].loaded_rules(), ["Flapping"]);
    let restored = deploy(&deployer, &host, &before, &DeployOptions::default());
    assert_eq!(restored.outcome, Outcome::Deployed, "{}", restored.message);
}

/// The fault matrix, part: the rules directory gone from the host fails at the upload,
/// naming the step and the path, with nothing left behind; a rollback whose own reload
/// fails says `ROLLBACK FAILED` and still leaves the previous file on disk, byte for byte.
#[test]
fn a_missing_rules_directory_and_a_failed_rollback_are_named() {
    let (sim, deployer, host, old) = holding_old(5);

    // The reload command fails every time: the new file's reload and the rollback's.
    let mut failing = host.clone();
    failing.reload = ReloadMethod::Command("exit 3".into());
    let report = deploy(&deployer, &failing, rules("new", &["New"]), &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(
        report.message.contains("ROLLBACK FAILED") && report.message.contains("exit 3"),
        "{}",
        report.message
    );
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the previous file is on disk");
    assert_eq!(sim.loaded_rules(), ["Old"], "Prometheus never loaded the new one");

    // The directory is gone (a wiped volume): the upload step fails and says where.
    let rules_dir = sim.rule_file().parent().unwrap().to_owned();
    std::fs::remove_dir_all(&rules_dir).unwrap();
    let report = deploy(&deployer, &host, rules("new", &["New"]), &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(
        report.message.contains("creating")
            && report.message.contains(&rules_dir.display().to_string()),
        "the message names the step and the path: {}",
        report.message
    );
    assert!(!rules_dir.exists(), "nothing was created in its place");
}

/// The fault matrix, part: the rules directory full (a 64 KiB tmpfs mounted there) fails
/// the upload of a larger file, naming the step; the live file stays byte for byte and
/// neither a partial temp file nor a partial backup is left filling the disk.
#[test]
fn a_full_rules_directory_fails_the_upload_and_leaves_nothing_behind() {
    let sim = SimHost::start(6, "");
    let rules_dir = sim.rule_file().parent().unwrap().to_owned();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&rules_dir)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root, as the suite runs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(rules_dir.clone());
    let (deployer, host) = (deployer(), host(&sim));
    let old = rules("small", &["Small"]);
    let report = deploy(&deployer, &host, &old, &DeployOptions::default());
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);

    let names: Vec<String> = (0..1200).map(|n| format!("Big{n}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = rules("big", &names);
    assert!(big.len() > 64 * 1024, "{} bytes", big.len());
    let report = deploy(&deployer, &host, &big, &no_promtool());
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(report.message.contains("writing"), "names the step: {}", report.message);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the live file is as it was");
    assert_eq!(sim.loaded_rules(), ["Small"]);
    let mut left: Vec<String> = std::fs::read_dir(&rules_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".promrules-backups", "promrules.yml"], "no temp file left");
    let backups = std::fs::read_dir(rules_dir.join(".promrules-backups")).unwrap().count();
    assert_eq!(backups, 1, "the first deploy's backup, and no partial one");
}

/// A fleet of twenty hosts: one deploy with bounded concurrency reaches every host (each
/// serves exactly the deployed rules, each reported as it completes), and the next deploy
/// of the same file finds all twenty unchanged.
#[test]
fn twenty_hosts_get_one_deploy_and_then_nothing_to_do() {
    let fleet = SimHost::start_many(21, 20, "");
    let deployer = deployer();
    let runtime = runtime();
    let content = rules("twenty", &["TwentyA", "TwentyB"]);
    let targets = || fleet.iter().map(|sim| (host(sim), content.clone())).collect();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&progress);
    let reports = runtime.block_on(deployer.deploy_fleet(
        targets(),
        &DeployOptions::default(),
        8,
        move |report| seen.lock().unwrap().push(report.host.clone()),
    ));
    assert_eq!(progress.lock().unwrap().len(), 20, "each host reported as it completed");
    for (sim, report) in fleet.iter().zip(&reports) {
        assert_eq!(report.host, sim.name, "reports in the hosts' order");
        assert_eq!(report.outcome, Outcome::Deployed, "{}: {}", report.host, report.message);
        assert_eq!(sim.loaded_rules(), ["TwentyA", "TwentyB"], "{}", sim.name);
    }
    let again =
        runtime.block_on(deployer.deploy_fleet(targets(), &DeployOptions::default(), 8, |_| {}));
    assert!(again.iter().all(|r| r.outcome == Outcome::Unchanged), "{again:?}");
    runtime.block_on(deployer.shutdown());
}

/// The fault matrix, part: a deploy user who may not write the rules directory (not root,
/// the directory root's) fails at the first write, naming it and the permission, and the
/// live file stays as it was.
#[test]
fn a_rules_directory_the_deploy_user_cannot_write_fails_naming_the_step() {
    let sim = SimHost::start(7, "");
    let user = sim.allow_unprivileged_login();
    let mut host = host(&sim);
    host.ssh_user = Some(user.to_owned());
    let before = std::fs::read(sim.rule_file()).unwrap();
    let report = deploy(&deployer(), &host, rules("denied", &["Denied"]), &no_promtool());
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(
        report.message.contains("creating") && report.message.to_lowercase().contains("permission"),
        "names the step and the cause: {}",
        report.message
    );
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), before, "the live file is as it was");
}

/// The fault matrix, part: Prometheus loads different groups than were deployed (here the
/// reload command puts another file in place first, as a second writer of the file
/// would): the verification says which groups it found and which it expected, the previous
/// file goes back and is what Prometheus serves.
#[test]
fn prometheus_loading_other_groups_than_deployed_rolls_back() {
    let (sim, deployer, mut host, old) = holding_old(8);
    // A second writer of the file, once: the reload command puts `groups` (printf text) in
    // the file before reloading.
    let flag = sim.dir().join("swapped");
    let second_writer = |groups: &str| {
        let _ = std::fs::remove_file(&flag);
        ReloadMethod::Command(format!(
            "test -e {flag} || {{ printf 'groups:\\n{groups}' > {file} && touch {flag}; }}; curl -sf -X POST {url}/-/reload",
            flag = flag.display(),
            file = sim.rule_file().display(),
            url = sim.prometheus_url(),
        ))
    };
    let alert = |name: &str| format!("  - alert: {name}\\n    expr: vector(1)\\n");
    let cases = [
        (
            format!("- name: other\\n  rules:\\n{}", alert("Other")),
            r#"Prometheus loaded groups ["other"] from the file, expected ["new"]"#,
        ),
        // The same group name with other rules: the rule counts tell them apart.
        (
            format!("- name: new\\n  rules:\\n{}{}", alert("A"), alert("B")),
            r#"loaded 2 rule(s) in group "new" from the file, 1 were deployed"#,
        ),
    ];
    for (groups, named) in cases {
        host.reload = second_writer(&groups);
        let report = deploy(&deployer, &host, rules("new", &["New"]), &no_promtool());
        assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
        assert!(report.message.contains(named), "{}", report.message);
        assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the previous file is back");
        assert_eq!(sim.loaded_rules(), ["Old"]);
    }
}

/// The fault matrix, part: sshd killed in the middle of an upload (its connection's
/// processes, the moment the temp file appears): the deploy fails naming the SFTP step, and
/// the live file is the old one, byte for byte.
#[test]
fn sshd_killed_mid_upload_leaves_the_live_file_alone() {
    let (sim, deployer, host, old) = holding_old(9);
    let names: Vec<String> = (0..60_000).map(|n| format!("Big{n}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = rules("big", &names);
    let temp = sim.rule_file().with_file_name(".promrules.yml.promrules-tmp");
    let listener: i32 =
        std::fs::read_to_string(sim.dir().join("sshd.pid")).unwrap().trim().parse().unwrap();
    let killer = std::thread::spawn(move || {
        let appeared =
            test_support::eventually(std::time::Duration::from_secs(30), || temp.exists());
        // Every sshd process serving a connection is a child of the listener.
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            if parent.and_then(|p| p.parse::<i32>().ok()) == Some(listener) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        appeared
    });
    let report = deploy(&deployer, &host, &big, &no_promtool());
    assert!(killer.join().unwrap(), "the upload began");
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(
        report.message.contains("sftp") || report.message.contains("writing"),
        "names the step: {}",
        report.message
    );
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), old, "the live file is the old one");
    assert_eq!(sim.loaded_rules(), ["Old"]);
}

/// A `file_sd` target file: one group per job, with its targets.
fn file_sd(groups: &[(&str, &[&str])]) -> Vec<u8> {
    let groups: Vec<serde_json::Value> = groups
        .iter()
        .map(|(job, targets)| serde_json::json!({"labels": {"job": job}, "targets": targets}))
        .collect();
    serde_json::to_vec_pretty(&groups).unwrap()
}

/// The addresses a host's Prometheus discovered, read straight from its API.
fn discovered(sim: &SimHost) -> String {
    let url = format!("{}/api/v1/targets", sim.prometheus_url());
    ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap()
}

#[test]
fn target_files_are_pushed_beside_the_rules_verified_and_restored() {
    // Prometheus reads targets/*.json; an hour between scrapes keeps the fake targets quiet.
    let sim = SimHost::start(
        10,
        "scrape_configs:\n- job_name: pushed\n  scrape_interval: 1h\n  file_sd_configs:\n  - files: ['{dir}/targets/*.json']\n",
    );
    let deployer = deployer();
    let mut host = host(&sim);
    host.targets_file = Some(sim.targets_file());
    host.verify_targets = true;
    let options = DeployOptions { reload_timeout: Duration::from_secs(30), ..no_promtool() };
    let rule_file = rules("pushed", &["Pushed"]);
    let files =
        |targets: &[u8]| Files { rules: rule_file.clone(), targets: Some(targets.to_vec()) };

    // First deploy: both files; Prometheus discovers the targets without a reload.
    let first = file_sd(&[("node", &["127.0.0.99:9100", "127.0.0.98:9100"])]);
    let report = deploy(&deployer, &host, files(&first), &options);
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    assert!(
        report.message.ends_with("target file: wrote 2 target(s), all discovered by Prometheus"),
        "{}",
        report.message
    );
    assert_eq!(std::fs::read(sim.targets_file()).unwrap(), first);
    assert!(discovered(&sim).contains("127.0.0.98:9100"));
    let first_hash = report.targets_hash.clone().expect("a target file's hash");
    assert_eq!(first_hash.len(), 64);

    // Both the same: nothing touched.
    let modified = std::fs::metadata(sim.targets_file()).unwrap().modified().unwrap();
    let report = deploy(&deployer, &host, files(&first), &options);
    assert_eq!(report.outcome, Outcome::Unchanged, "{}", report.message);
    assert!(report.message.ends_with("target file: unchanged (2 target(s))"), "{}", report.message);
    assert_eq!(std::fs::metadata(sim.targets_file()).unwrap().modified().unwrap(), modified);

    // Only the targets changed: the host is deployed, no reload, the old file backed up.
    let reloaded_at = sim.last_reload();
    let second = file_sd(&[("node", &["127.0.0.97:9100"])]);
    let report = deploy(&deployer, &host, files(&second), &options);
    assert_eq!(report.outcome, Outcome::Deployed, "{}", report.message);
    assert!(
        report
            .message
            .starts_with("the live file already has this content; target file: wrote 1 target(s)"),
        "{}",
        report.message
    );
    assert_ne!(report.targets_hash.as_deref(), Some(first_hash.as_str()));
    assert_eq!(sim.last_reload(), reloaded_at, "file_sd needs no reload");
    assert!(discovered(&sim).contains("127.0.0.97:9100"));
    let backups: Vec<_> =
        std::fs::read_dir(sim.targets_file().with_file_name(".promrules-backups"))
            .unwrap()
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
    assert_eq!(backups, std::slice::from_ref(&first), "the previous target file is backed up");

    // A dry run says it would change and writes nothing.
    let dry = DeployOptions { dry_run: true, ..options.clone() };
    let report = deploy(&deployer, &host, files(&first), &dry);
    assert_eq!(report.outcome, Outcome::WouldChange, "{}", report.message);
    assert_eq!(std::fs::read(sim.targets_file()).unwrap(), second);

    // Not file_sd JSON: refused before anything is written, the rule file included.
    let report = deploy(
        &deployer,
        &host,
        Files { rules: rules("other", &["Other"]), targets: Some(b"{\"targets\": 1}".to_vec()) },
        &options,
    );
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(report.message.contains("is not file_sd JSON"), "{}", report.message);
    assert_eq!(std::fs::read(sim.targets_file()).unwrap(), second);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), rule_file);

    // A target Prometheus never discovers (an address it refuses): the previous target
    // file comes back, the rule file is left as it was, and the report says both.
    let quick = DeployOptions { reload_timeout: Duration::from_secs(8), ..options.clone() };
    let refused = file_sd(&[("node", &["127.0.0.96:9100", "bad/address:9100"])]);
    let report = deploy(
        &deployer,
        &host,
        Files { rules: rules("other", &["Other"]), targets: Some(refused) },
        &quick,
    );
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.message);
    assert!(report.message.contains("did not discover bad/address:9100"), "{}", report.message);
    assert!(
        report.message.contains("previous target file restored; the rule file was left as it was"),
        "{}",
        report.message
    );
    assert_eq!(std::fs::read(sim.targets_file()).unwrap(), second);
    assert_eq!(std::fs::read(sim.rule_file()).unwrap(), rule_file);

    // A path no file_sd_configs pattern covers fails before anything is written.
    let mut elsewhere = host.clone();
    elsewhere.targets_file = Some(sim.dir().join("elsewhere/promrules.json"));
    std::fs::create_dir_all(sim.dir().join("elsewhere")).unwrap();
    let report = deploy(&deployer, &elsewhere, files(&first), &options);
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.message);
    assert!(
        report.message.contains("is not covered by any `file_sd_configs` `files` pattern"),
        "{}",
        report.message
    );
    assert!(!sim.dir().join("elsewhere/promrules.json").exists());
}
