//! The per-host protocol and the fleet.
//!
//! For one host, under its lock:
//! 1. connect; read the live rule file; identical content is `unchanged` (no reload) unless
//!    forced;
//! 2. check (once per host and path) that Prometheus's loaded `rule_files` cover the path,
//!    and that the temp and backup names are *not* covered;
//! 3. back up the live file into `.promrules-backups/` beside it, keeping the newest N;
//! 4. write `.<file>.promrules-tmp` in the same directory, fsync, check it with the host's
//!    `promtool` when there is one, and rename it over the live file (posix-rename: an atomic
//!    rename(2), so the path always holds a complete file);
//! 5. reload and verify: the reload succeeded, the success timestamp moved, and
//!    `/api/v1/rules` lists exactly the deployed groups for the file;
//! 6. on any failure after the rename, restore the previous content the same atomic way,
//!    reload, verify the old state: `rolled_back`; if that fails too: `failed`, loudly.
//!
//! **Invariant: the live path always holds a complete, previously valid or newly verified
//! file**, and every failure before the rename leaves the host as it was.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::StepError;
use crate::host::{Host, ReloadMethod};
use crate::prometheus::{Prometheus, ReloadState, covered};
use crate::remote::{Remote, shell_quote};

/// How a deploy behaves.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Upload and reload even when the live file is identical.
    pub force: bool,
    /// Connect, compare and check, but change nothing.
    pub dry_run: bool,
    /// How many backups to keep per host.
    pub backups: usize,
    /// Check the new file with the host's `promtool` before the rename, when it has one.
    pub remote_promtool: bool,
    /// How long a reload may take to show up in the metrics (SIGHUP reloads are asynchronous).
    pub reload_timeout: Duration,
    /// Timeout of each Prometheus HTTP call.
    pub http_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for DeployOptions {
    fn default() -> DeployOptions {
        DeployOptions {
            force: false,
            dry_run: false,
            backups: 5,
            remote_promtool: true,
            reload_timeout: Duration::from_secs(120),
            http_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// How a deploy to one host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new file is live and verified loaded.
    Deployed,
    /// The live file already had this content; nothing was touched.
    Unchanged,
    /// A dry run found a difference; nothing was touched.
    WouldChange,
    /// The new file failed after going live; the previous one is back and verified.
    RolledBack,
    /// The deploy failed; see the message for what state the host is in.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Unchanged => "unchanged",
            Outcome::WouldChange => "would_change",
            Outcome::RolledBack => "rolled_back",
            Outcome::Failed => "failed",
        }
    }

    /// Whether this outcome should make a command exit non-zero.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::RolledBack | Outcome::Failed)
    }
}

/// Lines added and removed from the live file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
}

/// The result for one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub outcome: Outcome,
    pub message: String,
    pub duration: Duration,
    /// SHA-256 of the content deployed (or that would be).
    pub content_hash: String,
    pub diff: DiffSummary,
    /// A unified diff of the live file against the new one, when asked for.
    pub diff_text: Option<String>,
    /// When this deploy held the host's lock (Unix seconds), for the audit trail.
    pub locked_at: f64,
    pub released_at: f64,
}

/// A lock that keeps deploys to one host apart across processes (for example a PostgreSQL
/// advisory lock shared by server replicas). The deployer always also locks in-process.
pub trait HostLock: Send + Sync {
    /// Blocks until `host` is held; the lock is released when the guard drops.
    fn lock(&self, host: &str) -> Result<Box<dyn Send>, String>;
}

/// Deploys rule files to hosts; one value is shared by every deploy of a process.
pub struct Deployer {
    control_dir: PathBuf,
    local_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    external_lock: Option<Arc<dyn HostLock>>,
    /// Hosts and paths whose coverage by `rule_files` was checked.
    covered: Mutex<HashSet<(String, PathBuf)>>,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").field("control_dir", &self.control_dir).finish_non_exhaustive()
    }
}

impl Deployer {
    /// A deployer keeping its SSH control sockets in `control_dir`.
    pub fn new(control_dir: impl Into<PathBuf>) -> Deployer {
        Deployer {
            control_dir: control_dir.into(),
            local_locks: Mutex::new(HashMap::new()),
            external_lock: None,
            covered: Mutex::new(HashSet::new()),
        }
    }

    /// Also takes `lock` around every host's deploy.
    pub fn with_external_lock(mut self, lock: Arc<dyn HostLock>) -> Deployer {
        self.external_lock = Some(lock);
        self
    }

    /// Deploys `content` to every host, at most `concurrency` at once; reports come back in
    /// the order of `targets`, and each is also passed to `progress` as it completes.
    pub async fn deploy_fleet(
        self: &Arc<Self>,
        targets: Vec<(Host, Vec<u8>)>,
        options: &DeployOptions,
        concurrency: usize,
        progress: impl Fn(&HostReport) + Send + Sync + 'static,
    ) -> Vec<HostReport> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let progress = Arc::new(progress);
        let mut tasks = tokio::task::JoinSet::new();
        let names: Vec<String> = targets.iter().map(|(host, _)| host.name.clone()).collect();
        for (index, (host, content)) in targets.into_iter().enumerate() {
            let (deployer, semaphore, options, progress) =
                (Arc::clone(self), Arc::clone(&semaphore), options.clone(), Arc::clone(&progress));
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let report = deployer.deploy(&host, &content, &options).await;
                progress(&report);
                (index, report)
            });
        }
        let mut reports: Vec<Option<HostReport>> = vec![None; names.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, report)) = joined {
                reports[index] = Some(report);
            }
        }
        reports
            .into_iter()
            .zip(names)
            .map(|(report, host)| {
                report.unwrap_or_else(|| {
                    failed_report(
                        &host,
                        "the deploy task panicked".to_owned(),
                        Duration::ZERO,
                        String::new(),
                    )
                })
            })
            .collect()
    }

    /// Deploys `content` to `host` under its lock.
    pub async fn deploy(&self, host: &Host, content: &[u8], options: &DeployOptions) -> HostReport {
        let started = Instant::now();
        let hash = hex_sha256(content);
        let local = {
            let mut locks =
                self.local_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry(host.name.clone()).or_default())
        };
        let _local = local.lock().await;
        let _external = match &self.external_lock {
            Some(lock) => {
                let (lock, name) = (Arc::clone(lock), host.name.clone());
                let locked = tokio::task::spawn_blocking(move || lock.lock(&name))
                    .await
                    .map_err(|error| error.to_string())
                    .and_then(|locked| locked);
                match locked {
                    Ok(guard) => Some(guard),
                    Err(problem) => {
                        let message = format!("cannot lock {}: {problem}", host.name);
                        return failed_report(&host.name, message, started.elapsed(), hash);
                    }
                }
            }
            None => None,
        };
        let locked_at = unix_now();
        let (outcome, message, diff, diff_text) =
            match self.deploy_locked(host, content, options).await {
                Ok(done) => done,
                Err(error) => (Outcome::Failed, error.to_string(), DiffSummary::default(), None),
            };
        match outcome {
            Outcome::Failed => log::error!("deploy to {} failed: {message}", host.name),
            Outcome::RolledBack => log::warn!("deploy to {} rolled back: {message}", host.name),
            _ => log::info!("deploy to {}: {} ({message})", host.name, outcome.as_str()),
        }
        HostReport {
            host: host.name.clone(),
            outcome,
            message,
            duration: started.elapsed(),
            content_hash: hash,
            diff,
            diff_text,
            locked_at,
            released_at: unix_now(),
        }
    }

    async fn deploy_locked(
        &self,
        host: &Host,
        content: &[u8],
        options: &DeployOptions,
    ) -> Result<(Outcome, String, DiffSummary, Option<String>), StepError> {
        let remote = Remote::connect(host, &self.control_dir, options.connect_timeout).await?;
        let result = self.run_protocol(host, &remote, content, options).await;
        remote.close().await;
        result
    }

    async fn run_protocol(
        &self,
        host: &Host,
        remote: &Remote,
        content: &[u8],
        options: &DeployOptions,
    ) -> Result<(Outcome, String, DiffSummary, Option<String>), StepError> {
        let live = remote.read(&host.rule_file).await?;
        let old_text = live.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let new_text = String::from_utf8_lossy(content);
        let (diff, diff_text) = diff(&old_text, &new_text);
        if live.as_deref() == Some(content) && !options.force {
            return Ok((
                Outcome::Unchanged,
                "the live file already has this content".to_owned(),
                diff,
                None,
            ));
        }

        let prometheus = prometheus(host, options)?;
        let temp = host.rule_dir().join(format!(".{}.promrules-tmp", host.rule_file_name()));
        let backup_dir = host.rule_dir().join(".promrules-backups");
        self.check_coverage(host, &prometheus, &[&temp, &backup_dir.join(host.rule_file_name())])
            .await?;
        if options.dry_run {
            return Ok((
                Outcome::WouldChange,
                format!("+{} -{} lines", diff.added, diff.removed),
                diff,
                Some(diff_text),
            ));
        }
        if !remote.has_atomic_rename() {
            return Err(StepError::NoAtomicRename { host: host.name.clone() });
        }

        if let Some(live) = &live {
            self.back_up(host, remote, &backup_dir, live, options.backups).await?;
        }
        remote.write_synced(&temp, content).await?;
        if options.remote_promtool
            && let Err(error) = check_with_promtool(host, remote, &temp).await
        {
            remote.remove(&temp).await?;
            return Err(error);
        }

        let before = blocking(host, &prometheus, |p| p.reload_state()).await.ok();
        remote.rename(&temp, &host.rule_file).await?;
        let expected = group_names(content);
        match reload_and_verify(host, remote, &prometheus, before, &expected, options).await {
            Ok(()) => Ok((
                Outcome::Deployed,
                format!(
                    "loaded {} group(s); +{} -{} lines",
                    expected.len(),
                    diff.added,
                    diff.removed
                ),
                diff,
                Some(diff_text),
            )),
            Err(reason) => {
                log::warn!("{reason}; restoring the previous rule file of {}", host.name);
                match self
                    .roll_back(host, remote, &prometheus, live.as_deref(), &temp, options)
                    .await
                {
                    Ok(note) => Ok((
                        Outcome::RolledBack,
                        format!("{reason}; previous file restored{note}"),
                        diff,
                        Some(diff_text),
                    )),
                    Err(rollback) => Ok((
                        Outcome::Failed,
                        format!("{reason}; ROLLBACK FAILED: {rollback}"),
                        diff,
                        Some(diff_text),
                    )),
                }
            }
        }
    }

    async fn check_coverage(
        &self,
        host: &Host,
        prometheus: &Arc<Prometheus>,
        must_not_cover: &[&Path],
    ) -> Result<(), StepError> {
        let key = (host.name.clone(), host.rule_file.clone());
        if self.covered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&key) {
            return Ok(());
        }
        let patterns = blocking(host, prometheus, |p| p.rule_file_patterns()).await?;
        if !covered(&patterns, &host.rule_file) {
            return Err(StepError::NotCovered {
                host: host.name.clone(),
                path: host.rule_file.display().to_string(),
                patterns: if patterns.is_empty() { "none".to_owned() } else { patterns.join(", ") },
            });
        }
        if let Some(path) = must_not_cover.iter().find(|path| covered(&patterns, path)) {
            return Err(StepError::Verify {
                host: host.name.clone(),
                problem: format!(
                    "the `rule_files` patterns ({}) also cover `{}`, where temp files and backups go; narrow them (for example `*.yml`)",
                    patterns.join(", "),
                    path.display()
                ),
            });
        }
        self.covered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key);
        Ok(())
    }

    async fn back_up(
        &self,
        host: &Host,
        remote: &Remote,
        dir: &Path,
        live: &[u8],
        keep: usize,
    ) -> Result<(), StepError> {
        remote.ensure_dir(dir).await?;
        let stamp = chrono_stamp();
        let name = host.rule_file_name();
        remote.write_synced(&dir.join(format!("{name}.{stamp}")), live).await?;
        let prefix = format!("{name}.");
        let mut backups: Vec<String> =
            remote.list(dir).await?.into_iter().filter(|n| n.starts_with(&prefix)).collect();
        backups.sort();
        let excess = backups.len().saturating_sub(keep.max(1));
        for old in &backups[..excess] {
            remote.remove(&dir.join(old)).await?;
        }
        Ok(())
    }

    /// Puts `previous` back (or removes the file if there was none), reloads and verifies.
    async fn roll_back(
        &self,
        host: &Host,
        remote: &Remote,
        prometheus: &Arc<Prometheus>,
        previous: Option<&[u8]>,
        temp: &Path,
        options: &DeployOptions,
    ) -> Result<String, String> {
        let before = blocking(host, prometheus, |p| p.reload_state()).await.ok();
        match previous {
            Some(previous) => {
                remote.write_synced(temp, previous).await.map_err(|e| e.to_string())?;
                remote.rename(temp, &host.rule_file).await.map_err(|e| e.to_string())?;
            }
            None => remote.remove(&host.rule_file).await.map_err(|e| e.to_string())?,
        }
        let expected = previous.map(group_names).unwrap_or_default();
        match reload_and_verify(host, remote, prometheus, before, &expected, options).await {
            Ok(()) => Ok(String::new()),
            // The file on disk is the old, valid one: Prometheus loads it when it is back.
            Err(problem) if before.is_none() => {
                Ok(format!(" (Prometheus unreachable, so not reloaded: {problem})"))
            }
            Err(problem) => Err(format!("the previous file is back on disk, but {problem}")),
        }
    }
}

fn prometheus(host: &Host, options: &DeployOptions) -> Result<Arc<Prometheus>, StepError> {
    Prometheus::new(host, options.http_timeout).map(Arc::new).map_err(|problem| {
        StepError::Prometheus { host: host.name.clone(), url: host.prometheus_url.clone(), problem }
    })
}

/// Runs a blocking Prometheus call on the blocking pool.
async fn blocking<T: Send + 'static>(
    host: &Host,
    prometheus: &Arc<Prometheus>,
    call: impl FnOnce(&Prometheus) -> Result<T, String> + Send + 'static,
) -> Result<T, StepError> {
    let prometheus = Arc::clone(prometheus);
    let error = |problem| StepError::Prometheus {
        host: host.name.clone(),
        url: host.prometheus_url.clone(),
        problem,
    };
    tokio::task::spawn_blocking(move || call(&prometheus))
        .await
        .map_err(|e| error(e.to_string()))?
        .map_err(error)
}

async fn check_with_promtool(host: &Host, remote: &Remote, temp: &Path) -> Result<(), StepError> {
    let quoted = shell_quote(temp);
    let command = format!(
        "if command -v promtool >/dev/null 2>&1; then promtool check rules {quoted}; else echo promrules-no-promtool; fi"
    );
    let output = remote.run(&command).await?;
    if output.output.trim() == "promrules-no-promtool" {
        log::debug!("{} has no promtool; relying on the reload's verdict", host.name);
        return Ok(());
    }
    if output.success {
        Ok(())
    } else {
        Err(StepError::Promtool {
            host: host.name.clone(),
            output: output.output.trim().to_owned(),
        })
    }
}

/// Reloads and checks that Prometheus now serves exactly `expected` groups from the file.
async fn reload_and_verify(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    before: Option<ReloadState>,
    expected: &[String],
    options: &DeployOptions,
) -> Result<(), String> {
    let Some(before) = before else {
        return Err(format!(
            "Prometheus of {} at {} is unreachable",
            host.name, host.prometheus_url
        ));
    };
    match &host.reload {
        ReloadMethod::Http => blocking(host, prometheus, |p| p.reload())
            .await
            .map_err(|e| format!("reload failed: {e}"))?,
        ReloadMethod::Command(command) => {
            let output = remote.run(command).await.map_err(|e| e.to_string())?;
            if !output.success {
                return Err(format!(
                    "reload command `{command}` exited with {:?}: {}",
                    output.code,
                    output.output.trim()
                ));
            }
        }
    }
    // Wait for the success timestamp to move (a SIGHUP reload is asynchronous); a failed
    // attempt shows as `successful = 0`.
    let deadline = Instant::now() + options.reload_timeout;
    loop {
        let state =
            blocking(host, prometheus, |p| p.reload_state()).await.map_err(|e| e.to_string())?;
        if state.successful && state.success_timestamp > before.success_timestamp {
            break;
        }
        if !state.successful {
            return Err("Prometheus reported the reload as failed (prometheus_config_last_reload_successful = 0)".to_owned());
        }
        if Instant::now() >= deadline {
            return Err(format!("the reload did not complete within {:?}", options.reload_timeout));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = host.rule_file.clone();
    let loaded = blocking(host, prometheus, move |p| p.loaded_groups(&file))
        .await
        .map_err(|e| e.to_string())?;
    let mut expected = expected.to_vec();
    expected.sort();
    if loaded == expected {
        Ok(())
    } else {
        Err(format!("Prometheus loaded groups {loaded:?} from the file, expected {expected:?}"))
    }
}

/// The group names of a rule file (empty when it does not parse: the reload will say why).
fn group_names(content: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        groups: Vec<Group>,
    }
    #[derive(Deserialize)]
    struct Group {
        name: String,
    }
    serde_yaml::from_slice::<File>(content)
        .map(|f| f.groups.into_iter().map(|g| g.name).collect())
        .unwrap_or_default()
}

/// Line counts and a unified diff. The diff algorithm is O(N·D): a file where every rule
/// changed would take seconds, so it gets a deadline after which it returns a coarser (still
/// correct) diff.
fn diff(old: &str, new: &str) -> (DiffSummary, String) {
    let diff =
        similar::TextDiff::configure().timeout(Duration::from_millis(200)).diff_lines(old, new);
    let mut summary = DiffSummary::default();
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => summary.added += 1,
            similar::ChangeTag::Delete => summary.removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (summary, diff.unified_diff().context_radius(3).header("live", "new").to_string())
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A sortable UTC timestamp with microseconds, for backup names.
fn chrono_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string()
}

/// The report of a deploy that failed before it touched the host.
fn failed_report(
    host: &str,
    message: String,
    duration: Duration,
    content_hash: String,
) -> HostReport {
    let now = unix_now();
    HostReport {
        host: host.to_owned(),
        outcome: Outcome::Failed,
        message,
        duration,
        content_hash,
        diff: DiffSummary::default(),
        diff_text: None,
        locked_at: now,
        released_at: now,
    }
}
