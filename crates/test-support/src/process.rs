//! Supervised child processes and loopback ports.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The supervisor: runs the service in the background, waits until its standard input
/// closes (the owner dropped it, or the test process exited), then stops the service with
/// `$STOP_SIGNAL`, waits for it, and removes `$CLEANUP_DIR`.
const SUPERVISOR: &str = r#"
"$@" </dev/null &
pid=$!
read -r _ignored
kill -s "$STOP_SIGNAL" "$pid" 2>/dev/null
wait "$pid"
[ -n "$CLEANUP_DIR" ] && rm -rf "$CLEANUP_DIR"
exit 0
"#;

/// A running service owned by a test; stopped on drop.
#[derive(Debug)]
pub struct Service {
    name: String,
    supervisor: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Service {
    /// Starts `program` with `args` under the supervisor, logging to `log`.
    ///
    /// `stop_signal` is the signal name the service shuts down on quickly (`INT` for
    /// PostgreSQL's fast shutdown, `TERM` for most); `cleanup_dir` is removed after it
    /// stopped; `user` runs it as that (uid, gid) when the test runs as root.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[&OsStr],
        log: &Path,
        stop_signal: &str,
        cleanup_dir: Option<&Path>,
        user: Option<(u32, u32)>,
    ) -> Service {
        let log_file =
            File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("supervisor")
            .arg(program)
            .args(args)
            .env("STOP_SIGNAL", stop_signal)
            .env("CLEANUP_DIR", cleanup_dir.map(Path::as_os_str).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().expect("clone log file handle"))
            .stderr(log_file);
        if let Some((uid, gid)) = user {
            command.uid(uid).gid(gid);
        }
        let mut supervisor =
            command.spawn().unwrap_or_else(|e| panic!("start {name} ({}): {e}", program.display()));
        let stdin = supervisor.stdin.take();
        Service { name: name.to_owned(), supervisor, stdin, log: log.to_owned() }
    }

    /// The service's combined output so far, for failure messages.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Whether the service (its supervisor) is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.supervisor.try_wait(), Ok(None))
    }

    /// Panics with the service's log, to explain why it did not come up.
    pub fn fail(&self, what: &str) -> ! {
        panic!("{} {what}; its output:\n{}", self.name, self.log())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Closing the pipe tells the supervisor to stop the service and clean up.
        drop(self.stdin.take());
        let _ = self.supervisor.wait();
    }
}

/// A TCP port on `ip` that was free a moment ago, and that this process has not handed out
/// before: tests run in parallel, and a port released here is only bound later by a child,
/// so two tests must never be given the same one.
///
/// The port is below the kernel's ephemeral range (`ip_local_port_range`), so that no
/// outgoing connection (of this process or a child) takes it as its source port, and no
/// program binding port 0 is given it, between this call and the child's bind.
pub fn free_port(ip: &str) -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(20_000));
    let span = u32::from(high - low);
    // Where a test binary starts looking depends on its pid: binaries run one after another,
    // and a port the previous one's children held may still be in TIME_WAIT.
    let start = (std::process::id().wrapping_mul(7919) + given.len() as u32 * 101) % span;
    for step in 0..span {
        let port = low + ((start + step) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind((ip, port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port on {ip} between {low} and {high}")
}

/// Waits until something accepts TCP connections on `address`, or `timeout` passes.
pub fn wait_for_port(address: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            // Probing a port of the ephemeral range that nobody listens on yet, Linux can pick
            // that very port as the probe's source: a TCP simultaneous open connects the
            // socket to itself, "succeeds", and then holds the port the server wanted.
            if stream.local_addr().ok() != stream.peer_addr().ok() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// The uid and gid of a system user, read from `/etc/passwd`.
pub(crate) fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// Whether this process runs as root (services that refuse root then run as their user).
pub(crate) fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
