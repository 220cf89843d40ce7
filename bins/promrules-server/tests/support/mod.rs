//! Shared helpers of the server's test binaries: the real `promrules-server` binary run
//! once (`run`) or served on a free loopback port (`Server`), and an HTTP agent that
//! returns error statuses instead of failing.
//!
//! A served child writes its log to a file in its directory, never to a pipe, so a test at
//! `-vv` cannot block the server by not reading.

#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_promrules-server");

/// Runs the binary once in `dir` at the info level.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    run_with(dir, args, &[])
}

/// Runs the binary once in `dir` with extra environment variables.
pub(crate) fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A sibling binary of the workspace (`promrules-export`, `am-executor`): `cargo test
/// --workspace` (the README's test command) builds them fresh into the same directory as
/// this one; a lone `cargo test -p promrules-server` builds one only when it is missing, so
/// after changing it run `cargo build --bin NAME` first.
pub(crate) fn sibling_binary(name: &str) -> PathBuf {
    let path = Path::new(BIN).with_file_name(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", name])
            .status()
            .expect("cargo build");
        assert!(status.success(), "cargo build --bin {name}");
    }
    path
}

pub(crate) struct Server {
    child: Child,
    pub(crate) address: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts `serve` on a free port; a child that exits right away (its port was taken
    /// between `free_port` and its bind, as CI saw for other binaries) is retried.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(dir, extra, &[])
    }

    /// As `start`, with extra environment variables (`RUST_LOG`, `PROMRULES_TOKENS`…).
    pub(crate) fn start_with(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let log = dir.join(format!("server-{}.log", test_support::free_port("127.0.0.1")));
        for _ in 0..5 {
            let port = test_support::free_port("127.0.0.1");
            let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let mut child = Command::new(BIN)
                .current_dir(dir)
                .args(["serve", "--listen", &address.to_string()])
                .args(extra)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::options().append(true).open(&log).unwrap())
                .spawn()
                .unwrap();
            let listening = test_support::wait_for_port(address, Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(200));
            if listening && child.try_wait().unwrap().is_none() {
                return Server { child, address, log };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the server did not start:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit status and the log.
    pub(crate) fn terminate(mut self) -> (ExitStatus, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        (status, self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}
