//! The one place that starts and signals alert commands.
//!
//! Every command runs without a shell (argv is exactly `cmd` + `args`), with stdin from
//! `/dev/null`, its output in the executor's log, the executor's environment plus the
//! message's `AMX_*` variables, and in a process group of its own, so that a signal reaches
//! a shell's children too. Running processes are tracked by command and fingerprint under
//! one lock, which makes the `max` check and the start a single step: two messages arriving
//! together cannot both slip under the limit.

use std::collections::{HashMap, HashSet};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::config::{CommandConfig, Config};
use crate::metrics::Metrics;
use crate::webhook::{Message, environment, fingerprint, matches};

/// How long a timed-out command gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Runs the configured commands for webhook messages.
#[derive(Debug)]
pub struct Executor {
    commands: Vec<CommandConfig>,
    processes: Mutex<HashMap<u64, Process>>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
}

#[derive(Debug)]
struct Process {
    command: usize,
    fingerprint: Option<String>,
    group: Pid,
    /// Set when a resolve signalled it: its exit is then not a failure.
    resolved: Arc<AtomicBool>,
}

/// How one started command ended.
enum Outcome {
    Succeeded,
    Failed(String),
}

impl Executor {
    pub fn new(config: &Config) -> Executor {
        Executor {
            commands: config.commands.clone(),
            processes: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The executor's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How many commands are running now.
    pub fn running(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Process>> {
        // A panic while holding the lock leaves the map itself consistent; keep going.
        self.processes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts every matching command for a firing message and waits for all of them.
    ///
    /// Returns the failures of commands with `notify_on_failure`, one line each.
    pub async fn fire(self: &Arc<Self>, message: &Message) -> Vec<String> {
        let env = environment(message);
        let mut waits = tokio::task::JoinSet::new();
        let mut failures = Vec::new();
        for (index, command) in self.commands.iter().enumerate() {
            if !matches(command, message) {
                self.metrics.skip("nomatch");
                continue;
            }
            let fingerprint = fingerprint(command, message).map(str::to_owned);
            match self.start(index, command, fingerprint, &env) {
                Ok(Some((id, child))) => {
                    let executor = Arc::clone(self);
                    waits.spawn(async move { (index, executor.wait(index, id, child).await) });
                }
                Ok(None) => {}
                Err(error) => {
                    self.metrics.error("start");
                    log::error!("command `{}` could not start: {error}", command.cmd);
                    if command.notify_on_failure {
                        failures
                            .push(format!("command `{}` could not start: {error}", command.cmd));
                    }
                }
            }
        }
        while let Some(joined) = waits.join_next().await {
            match joined {
                Ok((index, Outcome::Failed(reason))) if self.commands[index].notify_on_failure => {
                    failures.push(format!("command `{}` {reason}", self.commands[index].cmd));
                }
                Ok(_) => {}
                Err(error) => failures.push(format!("waiting for a command failed: {error}")),
            }
        }
        failures
    }

    /// Checks `max` and starts the command, in one step under the lock; `None` when skipped.
    fn start(
        &self,
        index: usize,
        command: &CommandConfig,
        fingerprint: Option<String>,
        env: &[(String, String)],
    ) -> std::io::Result<Option<(u64, Child)>> {
        let mut processes = self.lock();
        if let Some(fingerprint) = &fingerprint
            && command.max > 0
        {
            let running = processes
                .values()
                .filter(|p| p.command == index && p.fingerprint.as_deref() == Some(fingerprint))
                .count();
            if running as i64 >= command.max {
                self.metrics.skip("fingerover");
                log::info!(
                    "skipping `{}` for fingerprint {fingerprint}: {running} running, max {}",
                    command.cmd,
                    command.max
                );
                return Ok(None);
            }
        }
        let mut child = Command::new(&command.cmd)
            .args(&command.args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let pid = child.id().map_or(0, |pid| pid as i32);
        log::info!(
            "started `{}` (pid {pid}, fingerprint {})",
            command.cmd,
            fingerprint.as_deref().unwrap_or("none")
        );
        forward_output(&command.cmd, pid, child.stdout.take());
        forward_output(&command.cmd, pid, child.stderr.take());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let resolved = Arc::new(AtomicBool::new(false));
        processes.insert(
            id,
            Process { command: index, fingerprint, group: Pid::from_raw(pid), resolved },
        );
        self.metrics.processes_current.inc();
        Ok(Some((id, child)))
    }

    async fn wait(&self, index: usize, id: u64, mut child: Child) -> Outcome {
        let command = &self.commands[index];
        let started = Instant::now();
        let status = match command.timeout {
            Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                Ok(status) => status.map(Some),
                Err(_) => {
                    log::warn!(
                        "command `{}` ran longer than {limit:?}; stopping its process group",
                        command.cmd
                    );
                    self.stop_group(id, &mut child).await;
                    Ok(None)
                }
            },
            None => child.wait().await.map(Some),
        };
        self.metrics.processes_current.dec();
        self.metrics.process_duration.observe(started.elapsed().as_secs_f64());
        let process = self.lock().remove(&id);
        let resolved = process.is_some_and(|p| p.resolved.load(Ordering::SeqCst));
        let outcome = match status {
            Ok(None) => Outcome::Failed(format!(
                "timed out after {:?}",
                command.timeout.unwrap_or_default()
            )),
            Ok(Some(status)) if status.success() => Outcome::Succeeded,
            Ok(Some(_)) if resolved => Outcome::Succeeded,
            Ok(Some(status)) => Outcome::Failed(describe(status)),
            Err(error) => Outcome::Failed(format!("could not be waited for: {error}")),
        };
        match &outcome {
            Outcome::Succeeded => log::info!("command `{}` finished", command.cmd),
            Outcome::Failed(reason) => log::warn!("command `{}` {reason}", command.cmd),
        }
        outcome
    }

    /// SIGTERM to the process group, then SIGKILL if it is still there after a grace.
    async fn stop_group(&self, id: u64, child: &mut Child) {
        let Some(group) = self.lock().get(&id).map(|p| p.group) else { return };
        let _ = killpg(group, Signal::SIGTERM);
        if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait().await;
        }
    }

    /// Signals every running command whose fingerprint is that of any alert of a resolved
    /// message (for commands that match it and do not ignore resolves).
    pub fn resolve(&self, message: &Message) {
        let fingerprints: HashSet<&str> = message
            .alerts
            .iter()
            .map(|alert| alert.fingerprint.as_str())
            .filter(|f| !f.is_empty())
            .collect();
        let processes = self.lock();
        for (index, command) in self.commands.iter().enumerate() {
            if command.ignore_resolved || !matches(command, message) {
                continue;
            }
            for process in processes.values().filter(|p| p.command == index) {
                if !process.fingerprint.as_deref().is_some_and(|f| fingerprints.contains(f)) {
                    continue;
                }
                process.resolved.store(true, Ordering::SeqCst);
                let signal = command.resolved_signal.0;
                match killpg(process.group, signal) {
                    Ok(()) => {
                        self.metrics.signal("ok");
                        log::info!(
                            "sent {signal} to `{}` (process group {}): its alert resolved",
                            command.cmd,
                            process.group
                        );
                    }
                    Err(error) => {
                        self.metrics.signal("fail");
                        log::warn!(
                            "sending {signal} to `{}` (process group {}) failed: {error}",
                            command.cmd,
                            process.group
                        );
                    }
                }
            }
        }
    }

    /// For a graceful exit: waits up to `grace` for running commands, then sends each its
    /// resolve signal, waits up to `grace` again, and SIGKILLs what is left.
    pub async fn shutdown(&self, grace: Duration) {
        if self.wait_until_idle(grace).await {
            return;
        }
        for process in self.lock().values() {
            let signal = self.commands[process.command].resolved_signal.0;
            process.resolved.store(true, Ordering::SeqCst);
            log::info!("shutting down: sending {signal} to process group {}", process.group);
            let _ = killpg(process.group, signal);
        }
        if self.wait_until_idle(grace).await {
            return;
        }
        for process in self.lock().values() {
            let _ = killpg(process.group, Signal::SIGKILL);
        }
        self.wait_until_idle(KILL_GRACE).await;
    }

    async fn wait_until_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.running() == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.running() == 0
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// Copies a command's output into the log, a line at a time.
fn forward_output<R: AsyncRead + Unpin + Send + 'static>(cmd: &str, pid: i32, stream: Option<R>) {
    let Some(stream) = stream else { return };
    let cmd = cmd.to_owned();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log::info!("{cmd}[{pid}]: {line}");
        }
    });
}
