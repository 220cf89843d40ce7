//! The optional background jobs: deploy automatically once rule changes settle, and check
//! periodically that every host's live file is what it should be (reporting, or repairing,
//! drift such as a hand edit or a restored disk).
//!
//! With several replicas on one PostgreSQL, each job runs on one replica at a time: the
//! leader, which holds the job's advisory lock (`Store::try_lead`); the others try again
//! each round and take over when the leader stops or dies. Auto-deploy hears of rule
//! changes made through any replica (or the command line) by watching the revision counter,
//! besides its own process's writes.

use std::time::Duration;

use promrules_deploy::{HostReport, Outcome};
use promrules_model::Leadership;

use crate::{DeployRequest, Hosts, Rollout, RolloutError, summarize};

/// How often auto-deploy looks at the revision counter for writes made elsewhere.
const REVISION_POLL: Duration = Duration::from_secs(1);

/// The leadership of one job, kept from round to round.
struct Leader {
    job: &'static str,
    held: Option<Leadership>,
}

impl Leader {
    fn new(job: &'static str) -> Leader {
        Leader { job, held: None }
    }

    /// Whether this replica leads the job now: it keeps a leadership that still holds, and
    /// otherwise tries to take it.
    async fn leads(&mut self, rollout: &Rollout) -> bool {
        let (store, job, held) = (rollout.store.clone(), self.job, self.held.take());
        let had = held.is_some();
        let now = tokio::task::spawn_blocking(move || {
            if let Some(mut leadership) = held
                && leadership.is_held()
            {
                return Ok(Some(leadership));
            }
            store.try_lead(job)
        })
        .await;
        self.held = match now {
            Ok(Ok(held)) => held,
            Ok(Err(error)) => {
                log::warn!("{job}: cannot tell whether this replica leads: {error}");
                None
            }
            Err(error) => {
                log::warn!("{job}: {error}");
                None
            }
        };
        match (had, self.held.is_some()) {
            (false, true) => log::info!("this replica now runs {job}"),
            (true, false) => log::warn!("this replica no longer runs {job}"),
            (false, false) => log::debug!("{job}: another replica runs it"),
            (true, true) => {}
        }
        self.held.is_some()
    }
}

impl Rollout {
    /// Deploys to every stored host, recorded under `actor`.
    pub async fn deploy_all(
        &self,
        actor: &str,
        dry_run: bool,
    ) -> Result<Vec<HostReport>, RolloutError> {
        let request = DeployRequest { dry_run, ..DeployRequest::default() };
        Ok(self.deploy(actor, Hosts::Stored, request, |_| {}).await?.reports)
    }

    /// Deploys to every host after rule changes ([`Rollout::rules_changed`]) have settled
    /// for `settle` (each change restarts the wait), so a burst of edits becomes one deploy.
    pub fn spawn_auto_deploy(&self, settle: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_revision_watch();
        let rollout = self.clone();
        tokio::spawn(async move {
            let mut leader = Leader::new("auto-deploy");
            loop {
                rollout.changes.notified().await;
                while tokio::time::timeout(settle, rollout.changes.notified()).await.is_ok() {}
                if !leader.leads(&rollout).await {
                    continue;
                }
                match rollout.deploy_all("auto-deploy", false).await {
                    Ok(reports) => {
                        log::info!("auto-deploy after rule changes: {}", summarize(&reports))
                    }
                    Err(error) => log::warn!("auto-deploy after rule changes failed: {error}"),
                }
            }
        })
    }

    /// Signals a rule change whenever the revision counter moves: a write through another
    /// replica or the command line.
    fn spawn_revision_watch(&self) {
        let rollout = self.clone();
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                let store = rollout.store.clone();
                if let Ok(Ok(now)) =
                    tokio::task::spawn_blocking(move || store.latest_revision()).await
                {
                    if seen.is_some_and(|seen| now > seen) {
                        log::debug!("revision {now} was written; auto-deploy is told");
                        rollout.rules_changed();
                    }
                    seen = Some(now);
                }
                tokio::time::sleep(REVISION_POLL).await;
            }
        });
    }

    /// Compares every host's live file with what it should hold; with `repair`, deploys
    /// where they differ. Returns the per-host reports (`would_change` marks drift when not
    /// repairing).
    pub async fn check_drift(&self, repair: bool) -> Result<Vec<HostReport>, RolloutError> {
        let actor = if repair { "drift-repair" } else { "drift-check" };
        let reports = self.deploy_all(actor, !repair).await?;
        for report in &reports {
            match report.outcome {
                Outcome::WouldChange => log::warn!(
                    "drift: the live rule file of {} differs from what it should be ({})",
                    report.host,
                    report.message
                ),
                Outcome::Deployed => {
                    log::warn!("drift repaired on {}: {}", report.host, report.message)
                }
                Outcome::Failed | Outcome::RolledBack => {
                    log::error!("drift check of {} failed: {}", report.host, report.message)
                }
                Outcome::Unchanged => {}
            }
        }
        Ok(reports)
    }

    /// Runs [`Rollout::check_drift`] every `interval`.
    pub fn spawn_drift_check(
        &self,
        interval: Duration,
        repair: bool,
    ) -> tokio::task::JoinHandle<()> {
        let rollout = self.clone();
        tokio::spawn(async move {
            let mut leader = Leader::new(if repair { "drift-repair" } else { "drift-check" });
            loop {
                tokio::time::sleep(interval).await;
                if !leader.leads(&rollout).await {
                    continue;
                }
                if let Err(error) = rollout.check_drift(repair).await {
                    log::warn!("drift check failed: {error}");
                }
            }
        })
    }
}
