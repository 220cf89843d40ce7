//! The [`Deployer`]: one per process, shared by every deploy. It runs the per-host protocol
//! (`protocol.rs`) for a fleet with bounded concurrency, and keeps deploys to one host apart:
//! an in-process lock per host name, plus an optional [`HostLock`] across processes. It owns
//! what deploys share: the idle SSH connections (`pool.rs`), the verdicts of the local
//! promtools (`check.rs`), and the parse and diff of files (`memo.rs`), so a file is checked,
//! read and diffed once however many hosts get it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::check::LocalPromtools;
use crate::compat::Facts;
use crate::host::{Host, RemotePromtool};
use crate::memo::Memo;
use crate::pool::Pool;
use crate::report::{Diff, Finished, HostReport, failed_report, hex_sha256, unix_now};
use crate::{Outcome, protocol};

/// How a deploy behaves.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Upload and reload even when the live file is identical.
    pub force: bool,
    /// Connect, compare and check, but change nothing.
    pub dry_run: bool,
    /// How many backups to keep per host.
    pub backups: usize,
    /// Where promtool checks a new file before the rename (a host's own setting wins).
    pub remote_promtool: RemotePromtool,
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
            remote_promtool: RemotePromtool::Auto,
            reload_timeout: Duration::from_secs(120),
            http_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What one host gets: its rule file, and its `file_sd` target file when the host names a
/// `targets_file` (without one, a host's target file is left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    pub rules: Vec<u8>,
    pub targets: Option<Vec<u8>>,
}

impl From<Vec<u8>> for Files {
    fn from(rules: Vec<u8>) -> Files {
        Files { rules, targets: None }
    }
}

impl From<&[u8]> for Files {
    fn from(rules: &[u8]) -> Files {
        Files::from(rules.to_vec())
    }
}

impl From<&Vec<u8>> for Files {
    fn from(rules: &Vec<u8>) -> Files {
        Files::from(rules.clone())
    }
}

/// A lock that keeps deploys to one host apart across processes (for example a PostgreSQL
/// advisory lock shared by server replicas). The deployer always also locks in-process.
pub trait HostLock: Send + Sync {
    /// Blocks until `host` is held; the lock is released when the guard drops.
    fn lock(&self, host: &str) -> Result<Box<dyn Send>, String>;
}

/// Deploys rule files to hosts; one value is shared by every deploy of a process.
pub struct Deployer {
    pub(crate) control_dir: PathBuf,
    local_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    external_lock: Option<Arc<dyn HostLock>>,
    /// Idle SSH connections, kept between deploys.
    pub(crate) pool: Arc<Pool>,
    /// The promtools where the deploy runs, and their verdicts per file.
    pub(crate) promtools: LocalPromtools,
    /// The diffs of live files against new ones, once per pair of contents.
    pub(crate) diffs: Memo<(String, String), Diff>,
    /// What a deploy reads of a rule file (groups, versioned fields), once per content.
    pub(crate) facts: Memo<String, Facts>,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").field("control_dir", &self.control_dir).finish_non_exhaustive()
    }
}

impl Deployer {
    /// A deployer keeping its SSH control sockets in `control_dir`, its connections open
    /// [`Deployer::DEFAULT_IDLE_TIME`] between deploys, and checking files with the
    /// `promtool` on `PATH` when its version matches a host's Prometheus.
    pub fn new(control_dir: impl Into<PathBuf>) -> Deployer {
        Deployer {
            control_dir: control_dir.into(),
            local_locks: Mutex::new(HashMap::new()),
            external_lock: None,
            pool: Arc::new(Pool::new(Deployer::DEFAULT_IDLE_TIME)),
            promtools: LocalPromtools::new(
                promrules_prometheus::find_promtool().into_iter().collect(),
            ),
            // A diff holds its whole text (a few MB for a 10,000-rule file that changed
            // throughout): few are kept. Facts are small.
            diffs: Memo::new(16),
            facts: Memo::new(256),
        }
    }

    /// How long an SSH connection stays open after a deploy, by default.
    pub const DEFAULT_IDLE_TIME: Duration = Duration::from_secs(300);

    /// Keeps each host's SSH connection open `idle_time` after its last deploy (zero
    /// closes it after every deploy).
    pub fn with_idle_time(mut self, idle_time: Duration) -> Deployer {
        self.pool = Arc::new(Pool::new(idle_time));
        self
    }

    /// Checks files with these promtools (each used for the Prometheus major.minor it
    /// reports) instead of the one on `PATH`.
    pub fn with_promtools(mut self, promtools: Vec<PathBuf>) -> Deployer {
        self.promtools = LocalPromtools::new(promtools);
        self
    }

    /// How many times a promtool ran where the deploy runs (once per distinct file).
    pub fn local_promtool_runs(&self) -> usize {
        self.promtools.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many SSH connections are open and idle.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }

    /// Closes every idle SSH connection; call it when the process stops.
    pub async fn shutdown(&self) {
        self.pool.close_all().await;
    }

    /// Also takes `lock` around every host's deploy.
    pub fn with_external_lock(mut self, lock: Arc<dyn HostLock>) -> Deployer {
        self.external_lock = Some(lock);
        self
    }

    /// Deploys each host's files, at most `concurrency` hosts at once; reports come back
    /// in the order of `targets`, and each is also passed to `progress` as it completes.
    pub async fn deploy_fleet<F: Into<Files>>(
        self: &Arc<Self>,
        targets: Vec<(Host, F)>,
        options: &DeployOptions,
        concurrency: usize,
        progress: impl Fn(&HostReport) + Send + Sync + 'static,
    ) -> Vec<HostReport> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let progress = Arc::new(progress);
        let mut tasks = tokio::task::JoinSet::new();
        let names: Vec<String> = targets.iter().map(|(host, _)| host.name.clone()).collect();
        for (index, (host, files)) in targets.into_iter().enumerate() {
            let (deployer, semaphore, options, progress) =
                (Arc::clone(self), Arc::clone(&semaphore), options.clone(), Arc::clone(&progress));
            let files: Files = files.into();
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let report = deployer.deploy(&host, files, &options).await;
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
                    let message = "the deploy task panicked".to_owned();
                    failed_report(&host, message, Duration::ZERO, String::new())
                })
            })
            .collect()
    }

    /// Deploys `files` (or just a rule file's bytes) to `host` under its lock.
    pub async fn deploy(
        &self,
        host: &Host,
        files: impl Into<Files>,
        options: &DeployOptions,
    ) -> HostReport {
        let files: Files = files.into();
        let started = Instant::now();
        let hash = hex_sha256(&files.rules);
        let targets_hash = match (&host.targets_file, &files.targets) {
            (Some(_), Some(targets)) => Some(hex_sha256(targets)),
            _ => None,
        };
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
                        return HostReport {
                            targets_hash,
                            ..failed_report(&host.name, message, started.elapsed(), hash)
                        };
                    }
                }
            }
            None => None,
        };
        let locked_at = unix_now();
        let Finished { outcome, message, diff, diff_text } =
            match protocol::run(self, host, &files, options).await {
                Ok(finished) => finished,
                Err(error) => Finished::failed(error.to_string()),
            };
        match outcome {
            Outcome::Failed => {
                log::error!(host = host.name.as_str(); "deploy to {} failed: {message}", host.name)
            }
            Outcome::RolledBack => {
                log::warn!(host = host.name.as_str(); "deploy to {} rolled back: {message}", host.name)
            }
            _ => {
                log::info!(host = host.name.as_str(); "deploy to {}: {} ({message})", host.name, outcome.as_str())
            }
        }
        HostReport {
            host: host.name.clone(),
            outcome,
            message,
            duration: started.elapsed(),
            content_hash: hash,
            targets_hash,
            diff,
            diff_text,
            locked_at,
            released_at: unix_now(),
        }
    }
}
