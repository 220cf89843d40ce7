//! The one place that starts and signals alert commands.
//!
//! Every command runs without a shell (argv is exactly `cmd` + `args`), with stdin from
//! `/dev/null`, its output in the executor's log, the executor's environment plus the
//! message's `AMX_*` variables, and in a process group of its own, so that a signal reaches
//! a shell's children too. Running processes are tracked by command and fingerprint under
//! one lock, which makes the `max` check and the start a single step: two messages arriving
//! together cannot both slip under the limit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::audit::{Audit, AuditRecord};
use crate::config::{CommandConfig, Config};
use crate::metrics::Metrics;
use crate::webhook::{Message, environment_parts, fingerprint, matches, notification_key};

/// How long a timed-out command gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Runs the configured commands for webhook messages.
#[derive(Debug)]
pub struct Executor {
    commands: Vec<CommandConfig>,
    processes: Mutex<HashMap<u64, Process>>,
    /// What the limits remember; taken with `processes` held, so a check and a start are
    /// one step.
    limits: Mutex<Limits>,
    next_id: AtomicU64,
    metrics: Arc<Metrics>,
    paused: AtomicBool,
    dry_run: bool,
    audit: Audit,
}

#[derive(Debug)]
struct Process {
    command: usize,
    fingerprint: Option<String>,
    group: Pid,
    /// Set when a resolve signalled it: its exit is then not a failure.
    resolved: Arc<AtomicBool>,
    /// The notification it ran for, forgotten if it fails (so that a retry runs).
    dedup_key: Option<String>,
    /// Its `AMX_PAYLOAD_FILE`, removed when it exits.
    payload_file: Option<PathBuf>,
    /// What its audit record says of the message.
    about: About,
}

/// What an audit record says of the message a command ran for.
#[derive(Debug, Clone)]
struct About {
    receiver: String,
    group_key: String,
    alertnames: Vec<String>,
    fingerprints: Vec<String>,
}

impl About {
    fn of(message: &Message) -> About {
        let mut alertnames: Vec<String> = message
            .alerts
            .iter()
            .filter_map(|alert| alert.labels.get("alertname").cloned())
            .collect();
        alertnames.sort();
        alertnames.dedup();
        About {
            receiver: message.receiver.clone(),
            group_key: message.group_key.clone(),
            alertnames,
            fingerprints: message
                .alerts
                .iter()
                .map(|alert| alert.fingerprint.clone())
                .filter(|fingerprint| !fingerprint.is_empty())
                .collect(),
        }
    }

    fn record(&self, command: &CommandConfig, outcome: &'static str) -> AuditRecord {
        AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            command: std::iter::once(&command.cmd).chain(&command.args).cloned().collect(),
            receiver: self.receiver.clone(),
            group_key: self.group_key.clone(),
            alertnames: self.alertnames.clone(),
            fingerprints: self.fingerprints.clone(),
            outcome,
            exit_code: None,
            signal: None,
            duration_ms: None,
            reason: None,
        }
    }
}

/// Keys remembered until a deadline. One map holds one window (a command's
/// `dedup_window` or `cooldown`), so deadlines come in insertion order and forgetting the
/// expired ones takes only those, never a scan of the rest.
#[derive(Debug, Default)]
struct Expiring {
    until: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl Expiring {
    fn prune(&mut self, now: Instant) {
        while let Some((deadline, _)) = self.order.front()
            && *deadline <= now
        {
            let (deadline, key) = self.order.pop_front().expect("a front entry");
            // A key forgotten or renewed since keeps its own, later deadline.
            if self.until.get(&key) == Some(&deadline) {
                self.until.remove(&key);
            }
        }
    }

    /// The key's deadline, if it is remembered (after a `prune`).
    fn until(&self, key: &str) -> Option<Instant> {
        self.until.get(key).copied()
    }

    fn remember(&mut self, key: &str, until: Instant) {
        self.until.insert(key.to_owned(), until);
        self.order.push_back((until, key.to_owned()));
    }

    fn forget(&mut self, key: &str) {
        self.until.remove(key);
    }
}

/// The memory of `dedup_window`, `cooldown` and `rate_limit`, per command index.
#[derive(Debug, Default)]
struct Limits {
    /// Notifications by key, until their `dedup_window` ends.
    seen: HashMap<usize, Expiring>,
    /// Fingerprints, until their `cooldown` ends.
    cooling: HashMap<usize, Expiring>,
    /// Start times within the `rate_limit` window, oldest first.
    starts: HashMap<usize, VecDeque<Instant>>,
}

impl Limits {
    /// Admits `command` to start now and remembers the start for the limits it has, or
    /// says which limit refuses it and why.
    fn admit(
        &mut self,
        index: usize,
        command: &CommandConfig,
        key: &str,
        fingerprint: Option<&str>,
        now: Instant,
    ) -> Result<(), (&'static str, String)> {
        if let Some(window) = command.dedup_window {
            let seen = self.seen.entry(index).or_default();
            seen.prune(now);
            if let Some(until) = seen.until(key) {
                let ago = window.saturating_sub(until - now);
                let why =
                    format!("the same notification came {ago:.1?} ago (dedup_window {window:?})");
                return Err(("duplicate", why));
            }
        }
        if let (Some(cooldown), Some(fingerprint)) = (command.cooldown, fingerprint) {
            let cooling = self.cooling.entry(index).or_default();
            cooling.prune(now);
            if let Some(until) = cooling.until(fingerprint) {
                let ago = cooldown.saturating_sub(until - now);
                let why = format!(
                    "it started for this fingerprint {ago:.1?} ago (cooldown {cooldown:?})"
                );
                return Err(("cooldown", why));
            }
        }
        if let Some(limit) = command.rate_limit {
            let starts = self.starts.entry(index).or_default();
            while starts.front().is_some_and(|at| now.duration_since(*at) >= limit.per) {
                starts.pop_front();
            }
            if starts.len() >= limit.max as usize {
                let why = format!(
                    "{} starts already (rate_limit {} per {:?})",
                    starts.len(),
                    limit.max,
                    limit.per
                );
                return Err(("rate_limit", why));
            }
            starts.push_back(now);
        }
        if let Some(window) = command.dedup_window {
            self.seen.entry(index).or_default().remember(key, now + window);
        }
        if let (Some(cooldown), Some(fingerprint)) = (command.cooldown, fingerprint) {
            self.cooling.entry(index).or_default().remember(fingerprint, now + cooldown);
        }
        Ok(())
    }
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
            limits: Mutex::new(Limits::default()),
            next_id: AtomicU64::new(1),
            metrics: Arc::new(Metrics::new()),
            paused: AtomicBool::new(false),
            dry_run: false,
            audit: Audit::none(),
        }
    }

    /// Records every run and skip to `audit` (`--audit-log`, `--report-to`).
    pub fn with_audit(mut self, audit: Audit) -> Executor {
        self.audit = audit;
        self
    }

    /// With `dry_run`, a command that would start is logged (argv and environment) and
    /// counted as skipped (`dry_run`) instead; the limits still count it as started.
    pub fn with_dry_run(mut self, dry_run: bool) -> Executor {
        self.dry_run = dry_run;
        self
    }

    /// Pauses (`true`) or resumes every command: while paused, a matching command is
    /// skipped (`paused`), answered 200, and a resolve still reaches running ones.
    pub fn set_paused(&self, paused: bool) {
        let was = self.paused.swap(paused, Ordering::SeqCst);
        self.metrics.paused.set(i64::from(paused));
        if was != paused {
            log::warn!(
                "{}",
                if paused {
                    "commands paused: firing alerts run nothing until resumed"
                } else {
                    "commands resumed"
                }
            );
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
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
        let env = fitted_environment(message, &self.metrics);
        let key = notification_key(message);
        let mut started = Vec::new();
        let mut failures = Vec::new();
        for (index, command) in self.commands.iter().enumerate() {
            if !matches(command, message) {
                self.metrics.skip("nomatch");
                continue;
            }
            let fingerprint = fingerprint(command, message).map(str::to_owned);
            let start = Start { index, command, fingerprint, env: &env, key: &key, message };
            match self.start(start) {
                Ok(Some((id, child))) => started.push((index, id, child)),
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
        let mut outcomes = Vec::with_capacity(started.len());
        if started.len() == 1 {
            // The common case, awaited in place: a task per command is a scheduling hop
            // more for each webhook.
            let (index, id, child) = started.remove(0);
            outcomes.push(Ok((index, self.wait(index, id, child).await)));
        } else {
            let mut waits = tokio::task::JoinSet::new();
            for (index, id, child) in started {
                let executor = Arc::clone(self);
                waits.spawn(async move { (index, executor.wait(index, id, child).await) });
            }
            while let Some(joined) = waits.join_next().await {
                outcomes.push(joined);
            }
        }
        for outcome in outcomes {
            match outcome {
                Ok((index, Outcome::Failed(reason))) if self.commands[index].notify_on_failure => {
                    failures.push(format!("command `{}` {reason}", self.commands[index].cmd));
                }
                Ok(_) => {}
                Err(error) => failures.push(format!("waiting for a command failed: {error}")),
            }
        }
        failures
    }

    /// Logs and counts a command that does not start, naming the alert.
    fn skip(&self, start: &Start<'_>, reason: &'static str, why: &str) {
        self.metrics.skip(reason);
        let mut record = About::of(start.message).record(start.command, "skipped");
        record.reason = Some(reason.to_owned());
        self.audit.record(record);
        let names: Vec<&str> = start
            .message
            .alerts
            .iter()
            .filter_map(|alert| alert.labels.get("alertname").map(String::as_str))
            .collect();
        log::warn!(
            reason, command:% = start.command.cmd;
            "skipping `{}` for {} (fingerprint {}, receiver {}): {why}",
            start.command.cmd,
            if names.is_empty() { "the message".to_owned() } else { names.join(", ") },
            start.fingerprint.as_deref().unwrap_or("none"),
            start.message.receiver
        );
    }

    /// Checks pause, `max` and the limits and starts the command; `None` when skipped.
    fn start(&self, start: Start<'_>) -> std::io::Result<Option<(u64, Child)>> {
        let Some((id, payload_file)) = self.reserve(&start)? else { return Ok(None) };
        let Start { index, command, ref fingerprint, env, key, .. } = start;
        let mut process = Command::new(&command.cmd);
        process.args(&command.args).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        if let Some(path) = &payload_file {
            process.env("AMX_PAYLOAD_FILE", path);
        }
        let spawned = spawn(process, command.log_output);
        let (child, output) = match spawned {
            Ok(child) => child,
            Err(error) => {
                if let Some(path) = &payload_file {
                    let _ = std::fs::remove_file(path);
                }
                self.release(id, index, command, key);
                let mut record = About::of(start.message).record(command, "failed");
                record.reason = Some(format!("could not start: {error}"));
                self.audit.record(record);
                return Err(error);
            }
        };
        let pid = child.id().map_or(0, |pid| pid as i32);
        log::info!(
            "started `{}` (pid {pid}, fingerprint {})",
            command.cmd,
            fingerprint.as_deref().unwrap_or("none")
        );
        if let Some(output) = output {
            forward_output(&command.cmd, pid, output);
        }
        // Now its process group is known; a resolve that came while it started is acted on.
        let mut processes = self.lock();
        if let Some(process) = processes.get_mut(&id) {
            process.group = Pid::from_raw(pid);
            process.payload_file = payload_file;
            if process.resolved.load(Ordering::SeqCst) && !command.ignore_resolved {
                let _ = signal_group(process.group, command.resolved_signal.0);
            }
        }
        Ok(Some((id, child)))
    }

    /// The part of [`Executor::start`] under the locks: pause, `max` and the limits checked
    /// and a slot taken in one step; the slot's id and payload file, or `None` when skipped.
    fn reserve(&self, start: &Start<'_>) -> std::io::Result<Option<(u64, Option<PathBuf>)>> {
        let Start { index, command, ref fingerprint, env, key, .. } = *start;
        if self.is_paused() {
            self.skip(start, "paused", "commands are paused (POST /_resume to resume)");
            return Ok(None);
        }
        let mut processes = self.lock();
        if let Some(fingerprint) = fingerprint
            && command.max > 0
        {
            let running = processes
                .values()
                .filter(|p| p.command == index && p.fingerprint.as_deref() == Some(fingerprint))
                .count();
            if running as i64 >= command.max {
                let why = format!("{running} running, max {}", command.max);
                self.skip(start, "fingerover", &why);
                return Ok(None);
            }
        }
        let now = Instant::now();
        let mut limits = self.limits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err((reason, why)) = limits.admit(index, command, key, fingerprint.as_deref(), now) {
            self.skip(start, reason, &why);
            return Ok(None);
        }
        drop(limits);
        if self.dry_run {
            let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let why = format!(
                "dry run: would run {:?} with {}",
                std::iter::once(&command.cmd).chain(&command.args).collect::<Vec<_>>(),
                env.join(" ")
            );
            self.skip(start, "dry_run", &why);
            return Ok(None);
        }
        // The slot is taken under the lock (so `max` holds), the process started outside it:
        // fork and exec take a millisecond or so, and concurrent webhooks queued on a lock
        // held that long.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        processes.insert(
            id,
            Process {
                command: index,
                fingerprint: fingerprint.clone(),
                group: Pid::from_raw(0),
                resolved: Arc::new(AtomicBool::new(false)),
                dedup_key: command.dedup_window.map(|_| key.to_owned()),
                payload_file: None,
                about: About::of(start.message),
            },
        );
        self.metrics.processes_current.inc();
        drop(processes);
        let payload_file =
            match command.payload_file.then(|| write_payload(id, &start.message.body)) {
                Some(Ok(path)) => Some(path),
                Some(Err(error)) => {
                    self.release(id, index, command, key);
                    return Err(error);
                }
                None => None,
            };
        Ok(Some((id, payload_file)))
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
        if let Some(path) = process.as_ref().and_then(|p| p.payload_file.as_ref()) {
            let _ = std::fs::remove_file(path);
        }
        let resolved = process.as_ref().is_some_and(|p| p.resolved.load(Ordering::SeqCst));
        if let Some(process) = &process {
            self.audit.record(audit_of(process, command, &status, resolved, started.elapsed()));
        }
        let dedup_key = process.and_then(|p| p.dedup_key);
        let outcome = match status {
            // As in the original, a resolve discards the run's result, whatever it is.
            _ if resolved => {
                log::info!("command `{}` ended after its alert resolved", command.cmd);
                return Outcome::Succeeded;
            }
            Ok(None) => Outcome::Failed(format!(
                "timed out after {:?}",
                command.timeout.unwrap_or_default()
            )),
            Ok(Some(status)) if status.success() => Outcome::Succeeded,
            Ok(Some(status)) => Outcome::Failed(describe(status)),
            Err(error) => Outcome::Failed(format!("could not be waited for: {error}")),
        };
        match &outcome {
            Outcome::Succeeded => log::info!("command `{}` finished", command.cmd),
            Outcome::Failed(reason) => {
                log::warn!("command `{}` {reason}", command.cmd);
                if let Some(key) = dedup_key {
                    self.forget(index, command, &key);
                }
            }
        }
        outcome
    }

    /// Gives back a slot whose process did not start.
    fn release(&self, id: u64, index: usize, command: &CommandConfig, key: &str) {
        if self.lock().remove(&id).is_some() {
            self.metrics.processes_current.dec();
        }
        self.forget(index, command, key);
    }

    /// Forgets a notification's run for `dedup_window`, so that a retry of it runs.
    fn forget(&self, index: usize, command: &CommandConfig, key: &str) {
        if command.dedup_window.is_some() {
            let mut limits = self.limits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(seen) = limits.seen.get_mut(&index) {
                seen.forget(key);
            }
        }
    }

    /// SIGTERM to the process group, then SIGKILL if it is still there after a grace.
    async fn stop_group(&self, id: u64, child: &mut Child) {
        let Some(group) = self.lock().get(&id).map(|p| p.group) else { return };
        let _ = signal_group(group, Signal::SIGTERM);
        if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
            let _ = signal_group(group, Signal::SIGKILL);
            let _ = child.wait().await;
        }
    }

    /// Signals every running command whose fingerprint is that of any alert of a resolved
    /// message (for commands that match it and do not ignore resolves). Either way, as in
    /// the original, the resolve discards the run's result: the firing request answers 200
    /// when it ends, even if it then fails (an `ignore_resolved` command keeps running,
    /// unsignalled).
    pub fn resolve(&self, message: &Message) {
        let fingerprints: HashSet<&str> = message
            .alerts
            .iter()
            .map(|alert| alert.fingerprint.as_str())
            .filter(|f| !f.is_empty())
            .collect();
        let processes = self.lock();
        for (index, command) in self.commands.iter().enumerate() {
            if !matches(command, message) {
                continue;
            }
            for process in processes.values().filter(|p| p.command == index) {
                if !process.fingerprint.as_deref().is_some_and(|f| fingerprints.contains(f)) {
                    continue;
                }
                process.resolved.store(true, Ordering::SeqCst);
                if command.ignore_resolved {
                    log::info!(
                        "`{}` keeps running: its alert resolved (ignore_resolved)",
                        command.cmd
                    );
                    continue;
                }
                let signal = command.resolved_signal.0;
                if process.group.as_raw() <= 0 {
                    // Still starting: `start` signals it once its group is known.
                    continue;
                }
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
            let _ = signal_group(process.group, signal);
        }
        if self.wait_until_idle(grace).await {
            return;
        }
        for process in self.lock().values() {
            let _ = signal_group(process.group, Signal::SIGKILL);
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

/// `killpg`, but never for group 0 or below (a slot whose process is still starting):
/// `killpg(0)` would signal the executor's own group.
fn signal_group(group: Pid, signal: Signal) -> nix::Result<()> {
    if group.as_raw() <= 0 { Ok(()) } else { killpg(group, signal) }
}

/// The audit record of a run that ended with `status` (`Ok(None)`: timed out).
fn audit_of(
    process: &Process,
    command: &CommandConfig,
    status: &std::io::Result<Option<ExitStatus>>,
    resolved: bool,
    took: Duration,
) -> AuditRecord {
    use std::os::unix::process::ExitStatusExt;
    let succeeded = resolved || matches!(status, Ok(Some(status)) if status.success());
    let mut record = process.about.record(command, if succeeded { "succeeded" } else { "failed" });
    record.duration_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
    match status {
        Ok(Some(status)) => {
            record.exit_code = status.code();
            record.signal = status.signal();
        }
        Ok(None) => {
            record.reason =
                Some(format!("timed out after {:?}", command.timeout.unwrap_or_default()))
        }
        Err(error) => record.reason = Some(format!("could not be waited for: {error}")),
    }
    if resolved {
        record.reason = Some("its alert resolved while it ran".to_owned());
    } else if !succeeded && record.reason.is_none() {
        record.reason = status.as_ref().ok().and_then(|status| status.map(describe));
    }
    record
}

/// One command about to start for one message.
struct Start<'a> {
    index: usize,
    command: &'a CommandConfig,
    fingerprint: Option<String>,
    env: &'a [(String, String)],
    key: &'a str,
    message: &'a Message,
}

/// Writes the message for `AMX_PAYLOAD_FILE`: a new file readable by the executor's user only.
fn write_payload(id: u64, body: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!("am-executor-{}-{id}.json", std::process::id()));
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(body)?;
    Ok(path)
}

/// The largest single environment entry the kernel takes (`MAX_ARG_STRLEN`: 32 pages).
const MAX_ENTRY: usize = 32 * 4096;

/// What `execve` may be given in all (argv, environment and their pointers): `ARG_MAX`,
/// less a margin for the command's own arguments.
fn environment_budget() -> usize {
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|max| usize::try_from(max).ok())
        .unwrap_or(128 * 1024);
    let own: usize = std::env::vars_os().map(|(k, v)| k.len() + v.len() + 2 + 8).sum();
    arg_max.saturating_sub(own).saturating_sub(64 * 1024)
}

/// The message's environment, with as many whole alerts (from the first) as fit the
/// kernel's limits: `AMX_ALERT_LEN` stays the full count and `AMX_TRUNCATED` says how many
/// were left out. An entry too long for the kernel on its own (a 140 KB annotation) is
/// left out too, and so is its alert.
fn fitted_environment(message: &Message, metrics: &Metrics) -> Vec<(String, String)> {
    fitted(message, environment_budget(), metrics)
}

fn fitted(message: &Message, budget: usize, metrics: &Metrics) -> Vec<(String, String)> {
    let cost = |(name, value): &(String, String)| name.len() + value.len() + 2 + 8;
    let fits_alone = |entry: &(String, String)| entry.0.len() + entry.1.len() + 2 <= MAX_ENTRY;
    let (head, alerts) = environment_parts(message);
    let dropped = head.iter().filter(|entry| !fits_alone(entry)).count();
    let mut env: Vec<(String, String)> =
        head.into_iter().filter(|entry| fits_alone(entry)).collect();
    let mut used: usize = env.iter().map(cost).sum::<usize>() + 32;
    let total = alerts.len();
    let mut kept = 0;
    for alert in alerts {
        let size: usize = alert.iter().map(cost).sum();
        if !alert.iter().all(fits_alone) || used + size > budget {
            break;
        }
        used += size;
        env.extend(alert);
        kept += 1;
    }
    if kept < total || dropped > 0 {
        metrics.truncated.inc();
        env.push(("AMX_TRUNCATED".to_owned(), (total - kept).to_string()));
        log::warn!(
            "the environment of {total} alert(s) does not fit the kernel's limit: running with the first {kept} (AMX_TRUNCATED={}){}",
            total - kept,
            if dropped > 0 {
                format!(", and without {dropped} message variable(s) too long on their own")
            } else {
                String::new()
            }
        );
    }
    env
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// Starts `process` in its own process group. Its standard output and error are the
/// executor's own standard error, as the original's (`log_output: false`), or one pipe whose
/// reading end is returned, to become log lines.
///
/// The fork and exec run right here, on the async worker: handing them to the blocking pool
/// measured a worse tail (a thread hop there and back for a millisecond's work), and a pipe
/// per command costs descriptors, a task and wake-ups that the webhook bench's tail showed.
fn spawn(
    mut process: Command,
    log_output: bool,
) -> std::io::Result<(Child, Option<tokio::net::unix::pipe::Receiver>)> {
    process.process_group(0);
    if !log_output {
        let child = process.stdout(std::io::stderr()).stderr(std::io::stderr()).spawn()?;
        return Ok((child, None));
    }
    let (reader, writer) = std::io::pipe()?;
    let child = process.stdout(writer.try_clone()?).stderr(writer).spawn()?;
    // The writing ends close with `process`, so the reader sees EOF when the command (and
    // whatever it started that kept them) is done.
    drop(process);
    Ok((child, Some(tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())?)))
}

/// Copies a command's output into the log, a line at a time.
fn forward_output<R: AsyncRead + Unpin + Send + 'static>(cmd: &str, pid: i32, stream: R) {
    let cmd = cmd.to_owned();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log::info!("{cmd}[{pid}]: {line}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each command's windows are its own: a short `dedup_window` expiring never forgets
    /// what a longer one of another command still holds; a failed run is forgotten.
    #[test]
    fn each_command_keeps_its_own_windows() {
        let (config, _) = Config::parse(
            "commands:\n  - cmd: /bin/true\n    dedup_window: 10m\n    cooldown: 1h\n  - cmd: /bin/true\n    dedup_window: 1s\n",
        )
        .unwrap();
        let (long, short) = (&config.commands[0], &config.commands[1]);
        let mut limits = Limits::default();
        let start = Instant::now();
        assert!(limits.admit(0, long, "n1", Some("fp"), start).is_ok());
        assert!(limits.admit(1, short, "n1", Some("fp"), start).is_ok());
        let later = start + Duration::from_secs(5);
        assert!(limits.admit(1, short, "n1", Some("fp"), later).is_ok(), "the short window passed");
        assert_eq!(limits.admit(0, long, "n1", Some("fp"), later).unwrap_err().0, "duplicate");
        assert_eq!(limits.admit(0, long, "n2", Some("fp"), later).unwrap_err().0, "cooldown");
        assert!(limits.admit(0, long, "n3", Some("other"), later).is_ok());
        limits.seen.get_mut(&0).unwrap().forget("n1");
        let much_later = start + Duration::from_secs(2 * 3600);
        assert!(limits.admit(0, long, "n1", Some("fp"), much_later).is_ok(), "forgotten, cooled");
        assert!(limits.admit(1, short, "n9", None, much_later).is_ok());
        let kept: Vec<&String> = limits.seen[&1].until.keys().collect();
        assert_eq!(kept, ["n9"], "expired keys are dropped as the map is used");
    }
}
