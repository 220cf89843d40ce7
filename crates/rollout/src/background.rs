//! The optional background jobs: deploy automatically once rule changes settle, and check
//! periodically that every host's live file is what it should be (reporting, or repairing,
//! drift such as a hand edit or a restored disk).

use std::time::Duration;

use promrules_deploy::{HostReport, Outcome};

use crate::{DeployRequest, Hosts, Rollout, RolloutError, summarize};

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
        let rollout = self.clone();
        tokio::spawn(async move {
            loop {
                rollout.changes.notified().await;
                while tokio::time::timeout(settle, rollout.changes.notified()).await.is_ok() {}
                match rollout.deploy_all("auto-deploy", false).await {
                    Ok(reports) => {
                        log::info!("auto-deploy after rule changes: {}", summarize(&reports))
                    }
                    Err(error) => log::warn!("auto-deploy after rule changes failed: {error}"),
                }
            }
        })
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
            loop {
                tokio::time::sleep(interval).await;
                if let Err(error) = rollout.check_drift(repair).await {
                    log::warn!("drift check failed: {error}");
                }
            }
        })
    }
}
