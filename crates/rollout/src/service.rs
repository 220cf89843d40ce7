//! [`Rollout`]: from a request to per-host reports and the audit trail.
//!
//! A deploy is two steps so that the REST API can answer 202 with an id before the hosts
//! are done: [`Rollout::start`] selects the hosts and opens the audit record,
//! [`Rollout::run`] renders each host's file from one snapshot, runs the fleet, records
//! each host as it completes and closes the record. [`Rollout::deploy`] does both.

use std::path::PathBuf;
use std::sync::Arc;

use promrules_deploy::{
    DeployOptions, Deployer, Files, Host, HostLock, HostReport, Outcome, RemotePromtool,
};
use promrules_model::{DeploymentHost, Store};
use promrules_yaml::{HealLabel, RenderOptions, Selection};
use serde::{Deserialize, Serialize};

use crate::metrics::{DeployMetrics, Kind};
use crate::{RolloutError, summarize};

/// What to deploy, and how. Stored as the audit record's options.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployRequest {
    /// Host names; empty means every host.
    pub hosts: Vec<String>,
    pub dry_run: bool,
    pub force: bool,
    /// How many hosts at once (default 8).
    pub concurrency: Option<usize>,
}

/// The host named `wanted`, else the one host at that address; several at it is an error
/// rather than a guess.
fn named_or_at(hosts: Vec<Host>, wanted: String) -> Result<Host, RolloutError> {
    let (mut named, at): (Vec<Host>, Vec<Host>) = hosts
        .into_iter()
        .filter(|h| h.name == wanted || h.address == wanted)
        .partition(|h| h.name == wanted);
    if let Some(host) = named.pop() {
        return Ok(host);
    }
    match <[Host; 1]>::try_from(at) {
        Ok([host]) => Ok(host),
        Err(at) if at.is_empty() => Err(RolloutError::NoHostAt(wanted)),
        Err(at) => Err(RolloutError::AmbiguousAddress {
            address: wanted,
            hosts: at.into_iter().map(|host| host.name).collect(),
        }),
    }
}

/// Where the hosts of a deploy come from.
#[derive(Debug, Clone)]
pub enum Hosts {
    /// The hosts stored in the database, narrowed to the request's names.
    Stored,
    /// The stored host with this name or SSH address (the original pipeline's `/deploy`).
    NamedOrAt(String),
    /// These hosts (an inventory file), narrowed to the request's names.
    Given(Vec<Host>),
}

/// A deploy whose audit record is open and whose hosts are chosen.
#[derive(Debug)]
pub struct Started {
    /// The audit record's id.
    pub id: i64,
    pub hosts: Vec<Host>,
    request: DeployRequest,
    actor: String,
}

/// A finished deploy: its audit id and each host's report, in the hosts' order.
#[derive(Debug)]
pub struct Deployed {
    pub id: i64,
    pub reports: Vec<HostReport>,
}

/// How this process's deploys connect and check files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploySettings {
    /// How long a host's SSH connection stays open after a deploy (zero: closed at once).
    pub ssh_idle_time: std::time::Duration,
    /// Where promtool checks files, for hosts that do not say.
    pub remote_promtool: RemotePromtool,
}

impl Default for DeploySettings {
    fn default() -> DeploySettings {
        DeploySettings {
            ssh_idle_time: Deployer::DEFAULT_IDLE_TIME,
            remote_promtool: RemotePromtool::Auto,
        }
    }
}

/// The deployment service; one per process, shared (it is cheap to clone).
#[derive(Debug, Clone)]
pub struct Rollout {
    pub(crate) store: Store,
    deployer: Arc<Deployer>,
    settings: DeploySettings,
    metrics: DeployMetrics,
    heal_label: HealLabel,
    /// Signalled after every change to rules or groups (for auto-deploy).
    pub(crate) changes: Arc<tokio::sync::Notify>,
}

/// Cross-process host locks through the store (PostgreSQL advisory locks, or lock files
/// beside a SQLite file shared by a server and the `deploy` command).
struct StoreLock(Store);

impl HostLock for StoreLock {
    fn lock(&self, host: &str) -> Result<Box<dyn Send>, String> {
        self.0
            .lock_host(host)
            .map(|guard| Box::new(guard) as Box<dyn Send>)
            .map_err(|e| e.to_string())
    }
}

impl Rollout {
    /// A service deploying the rules of `store`, keeping SSH control sockets in
    /// `control_dir`, and rendering heal-enabled rules with `heal_label`.
    pub fn new(store: Store, control_dir: impl Into<PathBuf>, heal_label: HealLabel) -> Rollout {
        Rollout::with_settings(store, control_dir, heal_label, DeploySettings::default())
    }

    /// Like [`Rollout::new`], with how deploys connect and check files.
    pub fn with_settings(
        store: Store,
        control_dir: impl Into<PathBuf>,
        heal_label: HealLabel,
        settings: DeploySettings,
    ) -> Rollout {
        let deployer = Deployer::new(control_dir)
            .with_external_lock(Arc::new(StoreLock(store.clone())))
            .with_idle_time(settings.ssh_idle_time);
        Rollout {
            store,
            deployer: Arc::new(deployer),
            settings,
            metrics: DeployMetrics::default(),
            heal_label,
            changes: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Closes the SSH connections kept open between deploys; call it when the process stops.
    pub async fn shutdown(&self) {
        self.deployer.shutdown().await;
    }

    /// The metrics of this process's deploys, for a registry to serve.
    pub fn metrics(&self) -> &DeployMetrics {
        &self.metrics
    }

    /// Starts the deploy metrics' per-host gauges from the audit trail's recent deploys, so
    /// a restarted process still knows when each host was last deployed.
    pub fn seed_metrics(&self) -> Result<(), RolloutError> {
        let recent = promrules_model::Page { limit: Some(1_000), offset: 0 };
        let (deployments, _) =
            self.store.list_deployments(&promrules_model::DeploymentFilter::default(), recent)?;
        self.metrics.seed(&deployments);
        Ok(())
    }

    /// Tells the auto-deploy job that rules or groups changed.
    pub fn rules_changed(&self) {
        self.changes.notify_one();
    }

    /// The hosts stored in the database.
    pub fn stored_hosts(&self) -> Result<Vec<Host>, RolloutError> {
        self.store
            .list_hosts()?
            .into_iter()
            .map(|record| {
                serde_json::from_value(record.spec).map_err(|e| RolloutError::CorruptHost {
                    name: record.name.clone(),
                    problem: e.to_string(),
                })
            })
            .collect()
    }

    /// Chooses the hosts and opens the audit record under `actor`.
    pub async fn start(
        &self,
        actor: &str,
        hosts: Hosts,
        request: DeployRequest,
    ) -> Result<Started, RolloutError> {
        let (rollout, actor) = (self.clone(), actor.to_owned());
        blocking(move || {
            let mut request = request;
            let hosts = match hosts {
                Hosts::Stored => select(rollout.stored_hosts()?, &request.hosts)?,
                Hosts::Given(hosts) => select(hosts, &request.hosts)?,
                Hosts::NamedOrAt(wanted) => {
                    let host = named_or_at(rollout.stored_hosts()?, wanted)?;
                    request.hosts = vec![host.name.clone()];
                    vec![host]
                }
            };
            let options = serde_json::to_value(&request).unwrap_or_default();
            let id = rollout.store.start_deployment(&actor, &options)?;
            log::info!(deployment = id, actor = actor.as_str(); "deployment {id} started by {actor} for {} host(s)", hosts.len());
            Ok(Started { id, hosts, request, actor })
        })
        .await
    }

    /// Renders each host's file (its datasources' rules plus those without one) from one
    /// snapshot, deploys, records each host's result as it completes (and passes it to
    /// `progress`), and closes the audit record with a summary.
    pub async fn run(
        &self,
        started: Started,
        progress: impl Fn(&HostReport) + Send + Sync + 'static,
    ) -> Result<Deployed, RolloutError> {
        let Started { id, hosts, request, actor } = started;
        let kind = match (actor.as_str(), request.dry_run) {
            ("drift-check", _) => Kind::DriftCheck,
            (_, true) => Kind::DryRun,
            (_, false) => Kind::Deploy,
        };
        let (store, heal_label) = (self.store.clone(), self.heal_label.clone());
        let (revision, targets) = blocking(move || {
            let snapshot = store.snapshot()?;
            store.record_deployment_revision(id, snapshot.revision)?;
            let (rules, groups) = (snapshot.rules, snapshot.groups);
            let target_files = TargetFiles::load(&store, &hosts)?;
            let targets = hosts
                .into_iter()
                .map(|host| {
                    let selection =
                        Selection { datasources: host.datasources.clone(), ..Selection::default() };
                    let options = RenderOptions { selection, heal_label: heal_label.clone() };
                    let rules = promrules_yaml::render(&rules, &groups, &options).into_bytes();
                    let targets = target_files.as_ref().and_then(|files| files.render(&host));
                    (host, Files { rules, targets })
                })
                .collect::<Vec<_>>();
            Ok((snapshot.revision, targets))
        })
        .await?;

        let options = DeployOptions {
            dry_run: request.dry_run,
            force: request.force,
            remote_promtool: self.settings.remote_promtool,
            ..DeployOptions::default()
        };
        let (audit, metrics) = (self.store.clone(), self.metrics.clone());
        let concurrency = request.concurrency.unwrap_or(8);
        let reports = self
            .deployer
            .deploy_fleet(targets, &options, concurrency, move |report| {
                if let Err(error) =
                    audit.record_deployment_host(id, &audit_record(report, revision))
                {
                    log::error!("recording the deploy of {} failed: {error}", report.host);
                }
                metrics.observe(report, kind, revision);
                progress(report);
            })
            .await;
        let succeeded = reports.iter().all(|r| !r.outcome.is_failure());
        let summary = summarize(&reports);
        let store = self.store.clone();
        blocking(move || Ok(store.finish_deployment(id, succeeded, &summary)?)).await?;
        Ok(Deployed { id, reports })
    }

    /// [`Rollout::start`] then [`Rollout::run`].
    pub async fn deploy(
        &self,
        actor: &str,
        hosts: Hosts,
        request: DeployRequest,
        progress: impl Fn(&HostReport) + Send + Sync + 'static,
    ) -> Result<Deployed, RolloutError> {
        let started = self.start(actor, hosts, request).await?;
        self.run(started, progress).await
    }
}

/// The stored targets, read once per deploy when a host has a `targets_file`.
struct TargetFiles {
    model: promrules_model::TargetsModel,
    /// Shard names by id (a host's `datasources` are shard ids).
    shards: std::collections::HashMap<i64, String>,
}

impl TargetFiles {
    fn load(store: &Store, hosts: &[Host]) -> Result<Option<TargetFiles>, RolloutError> {
        if hosts.iter().all(|host| host.targets_file.is_none()) {
            return Ok(None);
        }
        let shards = store.list_shards()?.into_iter().map(|s| (s.id, s.spec.name)).collect();
        Ok(Some(TargetFiles { model: store.load_targets()?, shards }))
    }

    /// The `file_sd` JSON of `host`: the targets of its shards, or of every shard when it
    /// names none; `None` for a host without a `targets_file`.
    fn render(&self, host: &Host) -> Option<Vec<u8>> {
        host.targets_file.as_ref()?;
        let shards: Vec<&String> =
            host.datasources.iter().filter_map(|id| self.shards.get(id)).collect();
        let mut groups = promrules_targets::file_sd(&self.model, &Default::default());
        if !host.datasources.is_empty() {
            groups.retain(|group| group.labels.get("__shard").is_some_and(|s| shards.contains(&s)));
        }
        Some(promrules_targets::to_json(&groups).into_bytes())
    }
}

/// `hosts` narrowed to `names` (all when empty); an unknown name is an error.
fn select(hosts: Vec<Host>, names: &[String]) -> Result<Vec<Host>, RolloutError> {
    if let Some(unknown) = names.iter().find(|name| !hosts.iter().any(|host| &host.name == *name)) {
        return Err(RolloutError::UnknownHost(unknown.clone()));
    }
    let selected: Vec<Host> =
        hosts.into_iter().filter(|host| names.is_empty() || names.contains(&host.name)).collect();
    if selected.is_empty() {
        return Err(RolloutError::NoHosts);
    }
    Ok(selected)
}

/// The audit row of one host; `revision` is live there when the file is (deployed or
/// unchanged).
fn audit_record(report: &HostReport, revision: i64) -> DeploymentHost {
    let live = matches!(report.outcome, Outcome::Deployed | Outcome::Unchanged);
    DeploymentHost {
        deployment_id: 0,
        host: report.host.clone(),
        outcome: report.outcome.as_str().to_owned(),
        message: report.message.clone(),
        content_hash: report.content_hash.clone(),
        targets_hash: report.targets_hash.clone(),
        lines_added: report.diff.added as i64,
        lines_removed: report.diff.removed as i64,
        duration_ms: report.duration.as_millis() as i64,
        finished_at: chrono::Utc::now().naive_utc(),
        revision: live.then_some(revision),
        locked_at: unix_time(report.locked_at),
        released_at: unix_time(report.released_at),
    }
}

/// Unix seconds as a UTC time, to the microsecond (PostgreSQL keeps no more).
fn unix_time(seconds: f64) -> Option<chrono::NaiveDateTime> {
    let micros = (seconds * 1e6).round() as i64;
    chrono::DateTime::from_timestamp_micros(micros).map(|time| time.naive_utc())
}

/// Runs store calls on the blocking pool: diesel is synchronous.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, RolloutError> + Send + 'static,
) -> Result<T, RolloutError> {
    tokio::task::spawn_blocking(call).await.map_err(|e| RolloutError::Task(e.to_string()))?
}
