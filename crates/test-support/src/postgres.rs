//! A throwaway PostgreSQL cluster.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::process::{Service, free_port, running_as_root, system_user, wait_for_port};

/// A PostgreSQL server on 127.0.0.1 with its data in a temporary directory, initialised with
/// `initdb`, trusting local connections, without fsync (test data need not survive a crash).
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    port: u16,
    service: Service,
    databases: AtomicUsize,
}

impl Postgres {
    /// One server for the whole test binary, started on first use.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// Starts a new server; panics (with PostgreSQL's output) when it cannot.
    pub fn start() -> Postgres {
        let bin = postgres_bin_dir();
        let dir =
            tempfile::Builder::new().prefix("promrules-pg-").tempdir().expect("temp dir").keep();
        let data = dir.join("data");
        // PostgreSQL refuses to run as root; as root, run it as the package's `postgres` user.
        let user = if running_as_root() {
            let user = system_user("postgres")
                .expect("user `postgres` (created by the Debian `postgresql` package) is missing");
            chown_recursive(&dir, user);
            Some(user)
        } else {
            None
        };

        let mut initdb = Command::new(bin.join("initdb"));
        initdb.args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ]);
        initdb.arg(&data);
        if let Some((uid, gid)) = user {
            std::os::unix::process::CommandExt::uid(&mut initdb, uid);
            std::os::unix::process::CommandExt::gid(&mut initdb, gid);
        }
        let output = initdb.output().unwrap_or_else(|e| panic!("run initdb: {e}"));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        let port = free_port("127.0.0.1");
        let port_text = port.to_string();
        let args: Vec<&OsStr> = vec![
            "-D".as_ref(),
            data.as_os_str(),
            "-h".as_ref(),
            "127.0.0.1".as_ref(),
            "-p".as_ref(),
            port_text.as_ref(),
            "-k".as_ref(),
            dir.as_os_str(),
            "-c".as_ref(),
            "fsync=off".as_ref(),
            "-c".as_ref(),
            "synchronous_commit=off".as_ref(),
            "-c".as_ref(),
            "full_page_writes=off".as_ref(),
            "-c".as_ref(),
            "max_connections=200".as_ref(),
        ];
        let service = Service::start(
            "postgres",
            &bin.join("postgres"),
            &args,
            &dir.join("postgres.log"),
            "INT",
            Some(&dir),
            user,
        );
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        if !wait_for_port(address, Duration::from_secs(30)) {
            service.fail("did not accept connections within 30 s");
        }
        let postgres = Postgres { bin, port, service, databases: AtomicUsize::new(0) };
        // Accepting TCP precedes accepting queries by a moment; wait until it answers.
        for _ in 0..200 {
            if postgres.psql("postgres", "SELECT 1").is_ok() {
                return postgres;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        postgres.service.fail("did not answer queries")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database and returns its URL; each test takes its own.
    pub fn fresh_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::SeqCst);
        let name = format!("test_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name}: {e}\n{}", self.service.log()));
        self.url(&name)
    }

    /// Runs SQL through `psql` and returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .map_err(|e| format!("run psql: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `postgres` and `initdb`.
fn postgres_bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("postgres").exists() && bin.join("initdb").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no {}/*/bin/postgres): apt-get install postgresql",
            root.display()
        )
    })
}

fn chown_recursive(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            chown_recursive(&entry.path(), (uid, gid));
        }
    }
}
