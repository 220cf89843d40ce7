//! Every command of the README's `sh` blocks, run as written, in order, on a fresh directory:
//! the server on its default SQLite file, the curl session, import, lint, tests, history and
//! restore, a dry-run deploy to a real host, the executor, and `promrules-export` in each
//! mode against that host's real Prometheus.
//!
//! "As written" means the command's text after a fixed set of substitutions, each for a
//! reason: `cargo run --release -p NAME --` becomes `NAME` (the test's own build of the same
//! binary, on `PATH`; a release build would take minutes), and the addresses and paths a
//! user has but a test must not touch (ports 8090, 9090 and 8080, `promrules.example.internal`,
//! `/etc/prometheus/`, `/etc/promrules/`) become ones the test owns. The shipped inventory
//! gets the same substitutions plus the simulated host's SSH port and user.
//!
//! [`EXPECTED`] lists the commands in the README's order with what each must do, so a command
//! added to, changed in or dropped from the README fails this test until both agree.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use test_support::{SimHost, eventually, free_port, wait_for_port};

/// What a README command must do.
enum Check {
    /// Exits 0, and its output (stdout, then stderr) contains each of these.
    Says(&'static [&'static str]),
    /// Like `Says`, run again for up to 30 s until it holds (what Prometheus evaluates).
    EventuallySays(&'static [&'static str]),
    /// Exits 0, and the file (a path as the README writes it) then contains each of these.
    Writes(&'static str, &'static [&'static str]),
    /// Keeps running (a server, a watcher) until the test ends; ready once this holds.
    Runs(Ready),
    /// Not run here (the list says why).
    Skip,
}

enum Ready {
    /// It listens on the address that stands for this one.
    Listens(&'static str),
    /// This file (a path as the README writes it) appears holding this text.
    Wrote(&'static str, &'static str),
    /// It reloads Prometheus when a file in this directory changes.
    ReloadsOnChange(&'static str),
}

/// The README's commands in order: the start of each as written, and what it must do.
const EXPECTED: &[(&str, Check)] = &[
    (
        "cargo run --release -p promrules-server -- serve",
        Check::Runs(Ready::Listens("127.0.0.1:8090")),
    ),
    // It is the command that runs this test.
    ("scripts/test", Check::Skip),
    (
        "curl -s -X POST http://127.0.0.1:8090/api/v1/groups",
        Check::Says(&[r#""name":"node""#, r#""interval":"30s""#]),
    ),
    (
        r#"curl -s -X POST http://127.0.0.1:8090/api/v1/rules -H 'Content-Type: application/json' -d '{"name": "TargetDown""#,
        Check::Says(&[r#""name":"TargetDown""#, r#""heal_enabled":true"#]),
    ),
    (
        r#"curl -s -X POST http://127.0.0.1:8090/api/v1/rules -H 'Content-Type: application/json' -d '{"expression": "rate(up[5m]""#,
        Check::Says(&[
            r#""fields""#,
            r#""expression":"is not valid PromQL"#,
            r#""for":"`5 minutes`"#,
        ]),
    ),
    ("curl -s http://127.0.0.1:8090/api/v1/rules", Check::Says(&[r#""total":1"#])),
    ("curl -s http://127.0.0.1:8090/api/v1/rules.yml", Check::Says(&["- alert: TargetDown"])),
    (
        "cargo run --release -p promrules-server -- render --output rules.yml",
        Check::Writes("rules.yml", &["- alert: TargetDown", "for: 5m"]),
    ),
    (
        "cargo run --release -p promrules-server -- import examples/rules/team-rules.yml",
        Check::Says(&["create ", "(groups created: "]),
    ),
    (
        "cargo run --release -p promrules-server -- import --prune --dry-run examples/rules/team-rules.yml",
        Check::Says(&["dry run, nothing changed: would have created 0, updated 0, deleted 0"]),
    ),
    (
        "cargo run --release -p promrules-server -- import --prune examples/rules/team-rules.yml",
        Check::Says(&["created 0, updated 0, deleted 0"]),
    ),
    ("cargo run --release -p promrules-server -- lint", Check::Says(&["warning(s) in "])),
    (
        "cargo run --release -p promrules-server -- test-rules examples/rules/team-rules.test.yml",
        Check::Says(&["PASSED examples/rules/team-rules.test.yml"]),
    ),
    ("cargo run --release -p promrules-server -- history", Check::Says(&["REVISION", "import"])),
    ("cargo run --release -p promrules-server -- restore 3", Check::Says(&["restored revision 3"])),
    (
        "cargo run --release -p promrules-server -- deploy --inventory examples/heal-loop/inventory.yml --dry-run --diff",
        Check::Says(&["prom-1", "would_change", "+  - alert: TargetDown"]),
    ),
    (
        "cargo run --release -p am-executor -- -f examples/heal-loop/executor.yml -l 127.0.0.1:8080",
        Check::Runs(Ready::Listens("127.0.0.1:8080")),
    ),
    (
        "curl -s -X POST http://127.0.0.1:8090/api/v1/slos",
        Check::Says(&[
            r#""sloth_id":"prometheus-http-availability""#,
            r#""slos_created":1"#,
            r#""created":17"#,
        ]),
    ),
    (
        "curl -s http://127.0.0.1:8090/api/v1/rules.yml | grep",
        Check::Says(&[
            "record: slo:period_error_budget_remaining:ratio",
            "sloth_id: prometheus-http-availability",
        ]),
    ),
    (
        "cargo run --release -p promrules-server -- import-slo examples/slo/checkout-slos.yml",
        Check::Says(&[
            "create SLO checkout-requests-availability",
            "create sloth-slo-sli-recordings-checkout-requests-availability/slo:sli_error:ratio_rate5m",
            "create sloth-slo-alerts-checkout-requests-availability/CheckoutErrorBudgetBurn",
            "created 33, updated 0, deleted 0, unchanged 0 (groups created: 6, updated: 0)",
        ]),
    ),
    (
        "cargo run --release -p promrules-server -- deploy --inventory examples/heal-loop/inventory.yml",
        Check::Says(&["prom-1", "deployed"]),
    ),
    (
        "curl -s 'http://127.0.0.1:9090/api/v1/query?query=slo:period_error_budget_remaining:ratio'",
        Check::EventuallySays(&[r#""sloth_slo":"http-availability""#, r#""value":["#]),
    ),
    (
        "cargo run --release -p promrules-server -- import-targets examples/targets/promgen-targets.json",
        Check::Says(&["shards: created 1"]),
    ),
    (
        "PROMRULES_URL=http://promrules.example.internal:8090 RUST_LOG=warn promrules-export targets",
        Check::Writes(
            "/etc/prometheus/targets/promrules.json",
            &["shop01.example.internal:9100", r#""__shard": "eu-1""#],
        ),
    ),
    (
        "promrules-export targets /etc/prometheus/targets/promrules.json --from",
        Check::Runs(Ready::Wrote("/etc/prometheus/targets/promrules.json", "shop01")),
    ),
    (
        "promrules-export rules /etc/prometheus/rules/promrules.yml",
        Check::Writes("/etc/prometheus/rules/promrules.yml", &["- alert: TargetDown"]),
    ),
    (
        "promrules-export reload-on-change /etc/prometheus/rules",
        Check::Runs(Ready::ReloadsOnChange("/etc/prometheus/rules")),
    ),
];

/// The commands of the README's `sh` blocks, as the shell reads them: a line ending in `\`
/// continues (joined with a space), a quote left open continues on the next line (the
/// newline kept), and comments are dropped.
pub(crate) fn commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    let mut quote = None;
    for line in readme.lines() {
        let trimmed = line.trim();
        if !in_block {
            in_block = trimmed == "```sh";
            continue;
        }
        if trimmed == "```" {
            in_block = false;
            continue;
        }
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let was_quoted = quote.is_some();
        let (text, open) = shell_line(trimmed, quote);
        quote = open;
        let (text, continues) = match text.strip_suffix('\\') {
            Some(text) if open.is_none() => (text.trim_end(), true),
            _ => (text, open.is_some()),
        };
        if !current.is_empty() {
            current.push(if was_quoted { '\n' } else { ' ' });
        }
        current.push_str(text);
        if !continues {
            commands.push(std::mem::take(&mut current));
        }
    }
    commands
}

/// `line` without a trailing ` # comment` outside quotes, and the quote still open at its
/// end, given the one open at its start.
fn shell_line(line: &str, mut quote: Option<char>) -> (&str, Option<char>) {
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '#') if previous.is_whitespace() => return (line[..at].trim_end(), None),
            _ => {}
        }
        previous = c;
    }
    (line, quote)
}

/// The places a README command names, and the ones this test owns in their stead.
struct Places {
    work: tempfile::TempDir,
    server: SocketAddr,
    executor: SocketAddr,
    host: SimHost,
}

impl Places {
    /// Each `(as written, here)` pair, longest first so a path never half-matches.
    fn substitutions(&self) -> Vec<(String, String)> {
        let etc = self.work.path().join("etc");
        vec![
            (
                "/etc/prometheus/rules/promrules.yml".into(),
                self.host.rule_file().display().to_string(),
            ),
            ("/etc/prometheus/rules".into(), self.host.dir().join("rules").display().to_string()),
            ("/etc/prometheus/".into(), format!("{}/prometheus/", etc.display())),
            ("/etc/promrules/".into(), format!("{}/promrules/", etc.display())),
            ("promrules.example.internal:8090".into(), self.server.to_string()),
            ("127.0.0.1:8090".into(), self.server.to_string()),
            ("127.0.0.1:9090".into(), format!("{}:{}", self.host.ip, self.host.prometheus_port)),
            ("127.0.0.1:8080".into(), self.executor.to_string()),
        ]
    }

    fn here(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (written, here) in self.substitutions() {
            text = text.replace(&written, &here);
        }
        text
    }

    /// `cargo run --release -p NAME --` as `NAME`, then the places.
    fn command(&self, written: &str) -> String {
        let mut command = written.to_owned();
        while let Some(start) = command.find("cargo run --release -p ") {
            let rest = &command[start + "cargo run --release -p ".len()..];
            let name = rest.split_whitespace().next().expect("a package name").to_owned();
            let end = start + "cargo run --release -p ".len() + name.len();
            let end = if command[end..].starts_with(" --") { end + 3 } else { end };
            command.replace_range(start..end, &name);
        }
        self.here(&command)
    }

    fn shell(&self, command: &str, bin_dir: &Path) -> Command {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(command)
            .current_dir(self.work.path())
            .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()))
            .env("PROMRULES_LISTEN", self.server.to_string())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        for variable in
            ["PROMRULES_DATABASE", "PROMRULES_TOKENS", "PROMRULES_TOKEN_FILE", "PROMRULES_URL"]
        {
            shell.env_remove(variable);
        }
        shell
    }
}

/// Copies `from` into `to`, with the places of each text file substituted.
fn copy_examples(from: &Path, to: &Path, places: &Places) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_examples(&entry.path(), &target, places);
        } else if let Ok(text) = std::fs::read_to_string(entry.path()) {
            std::fs::write(&target, places.here(&text)).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A long-running command, stopped when the test ends.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) fn run_every_command(bin_dir: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let written = commands(&readme);
    let starts: Vec<&str> = EXPECTED.iter().map(|(start, _)| *start).collect();
    assert_eq!(
        written.len(),
        EXPECTED.len(),
        "the README's commands and this test's list differ:\n{written:#?}\nexpected, in order:\n{starts:#?}"
    );

    let places = Places {
        work: tempfile::Builder::new().prefix("promrules-readme-").tempdir().unwrap(),
        server: format!("127.0.0.1:{}", free_port("127.0.0.1")).parse().unwrap(),
        executor: format!("127.0.0.1:{}", free_port("127.0.0.1")).parse().unwrap(),
        // The host's Prometheus scrapes itself, the data the README's SLO is about.
        host: SimHost::start(
            61,
            &format!(
                "scrape_configs:\n  - job_name: prometheus\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n",
                test_support::SELF
            ),
        ),
    };
    let work = places.work.path();
    copy_examples(&repo.join("examples"), &work.join("examples"), &places);
    // The shipped inventory names the host's default SSH port and a `prometheus` user; the
    // simulated host listens elsewhere and lets the test's user in.
    let inventory = work.join("examples/heal-loop/inventory.yml");
    let text = std::fs::read_to_string(&inventory).unwrap();
    let text = text
        .replace(
            "address: 127.0.0.1",
            &format!("address: {}\n    ssh_port: {}", places.host.ip, places.host.ssh_port),
        )
        .replace("ssh_user: prometheus", "ssh_user: root");
    std::fs::write(&inventory, text).unwrap();
    // What a user sets up before the README's commands: the deploy key and known_hosts
    // (docs/operations.md), and the export's token file.
    let etc = work.join("etc");
    std::fs::create_dir_all(etc.join("promrules")).unwrap();
    std::fs::create_dir_all(etc.join("prometheus/targets")).unwrap();
    std::fs::copy(test_support::client_key(), etc.join("promrules/id_ed25519")).unwrap();
    std::fs::copy(places.host.known_hosts_file(), etc.join("promrules/known_hosts")).unwrap();
    std::fs::write(etc.join("prometheus/promrules.token"), "unused-without-server-tokens\n")
        .unwrap();

    let mut running = Vec::new();
    for (index, (command, (start, check))) in written.iter().zip(EXPECTED).enumerate() {
        assert!(
            command.starts_with(start),
            "README command {index} is\n  {command}\nbut this test expects one starting\n  {start}"
        );
        let here = places.command(command);
        match check {
            Check::Skip => {}
            Check::Says(needles) => {
                let output = places.shell(&here, bin_dir).output().unwrap();
                let text = text_of(&output);
                assert!(output.status.success(), "`{command}` ({here}) failed: {text}");
                for needle in *needles {
                    assert!(text.contains(needle), "`{command}` does not say {needle}:\n{text}");
                }
            }
            Check::EventuallySays(needles) => {
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let output = places.shell(&here, bin_dir).output().unwrap();
                    let text = text_of(&output);
                    if output.status.success() && needles.iter().all(|n| text.contains(n)) {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "`{command}` ({here}) never said {needles:?}:\n{text}"
                    );
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            Check::Writes(path, needles) => {
                let output = places.shell(&here, bin_dir).output().unwrap();
                let text = text_of(&output);
                assert!(output.status.success(), "`{command}` ({here}) failed: {text}");
                let file = work.join(places.here(path));
                let written = std::fs::read_to_string(&file).unwrap_or_else(|e| {
                    panic!("`{command}` wrote no `{}`: {e}\n{text}", file.display())
                });
                for needle in *needles {
                    assert!(written.contains(needle), "`{command}` wrote no {needle}:\n{written}");
                }
            }
            Check::Runs(ready) => {
                let log = work.join(format!("command-{index}.log"));
                let child = places
                    .shell(&here, bin_dir)
                    .stdout(std::fs::File::create(&log).unwrap())
                    .stderr(std::fs::File::options().append(true).open(&log).unwrap())
                    .spawn()
                    .unwrap();
                let mut process = Running { child, log };
                let became_ready = match ready {
                    Ready::Listens(address) => {
                        let address: SocketAddr = places.here(address).parse().unwrap();
                        wait_for_port(address, Duration::from_secs(20))
                    }
                    Ready::Wrote(path, needle) => {
                        let file = work.join(places.here(path));
                        std::fs::remove_file(&file).unwrap();
                        eventually(Duration::from_secs(20), || {
                            std::fs::read_to_string(&file).is_ok_and(|text| text.contains(needle))
                        })
                    }
                    Ready::ReloadsOnChange(dir) => {
                        let before = places.host.last_reload();
                        std::thread::sleep(Duration::from_millis(1500));
                        std::fs::write(
                            Path::new(&places.here(dir)).join("promrules.yml"),
                            "groups: []\n",
                        )
                        .unwrap();
                        eventually(Duration::from_secs(20), || places.host.last_reload() > before)
                    }
                };
                let still_running = process.child.try_wait().unwrap().is_none();
                assert!(
                    became_ready && still_running,
                    "`{command}` ({here}) did not become ready: {}",
                    std::fs::read_to_string(&process.log).unwrap_or_default()
                );
                running.push(process);
            }
        }
    }
    drop(running);
}
