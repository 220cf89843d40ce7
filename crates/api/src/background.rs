//! Optional server modes: deploy automatically once rule changes settle, and check
//! periodically that every host's live file is what it should be (reporting, or repairing,
//! drift such as a hand edit or a restored disk).

use std::time::Duration;

use promrules_deploy::{HostReport, Outcome};

use crate::AppState;
use crate::deployments::{DeployRequest, run_deployment, select_hosts, stored_hosts};
use crate::error::ApiError;

/// Runs a deploy to every stored host, recorded under `actor`.
pub async fn deploy_all(
    state: &AppState,
    actor: &'static str,
    dry_run: bool,
) -> Result<Vec<HostReport>, ApiError> {
    let request = DeployRequest { dry_run, ..DeployRequest::default() };
    let options = serde_json::to_value(&request).unwrap_or_default();
    let (hosts, id) = state
        .blocking(move |store| {
            let hosts = select_hosts(stored_hosts(store)?, &[])?;
            Ok((hosts, store.start_deployment(actor, &options)?))
        })
        .await?;
    run_deployment(
        state.store.clone(),
        state.deployer.clone(),
        hosts,
        request,
        state.config.heal_label.clone(),
        id,
        |_| {},
    )
    .await
}

/// Deploys to every host after rule changes have settled for `settle` (each change restarts
/// the wait), so a burst of edits becomes one deploy.
pub fn spawn_auto_deploy(state: AppState, settle: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            state.changes.notified().await;
            while tokio::time::timeout(settle, state.changes.notified()).await.is_ok() {}
            match deploy_all(&state, "auto-deploy", false).await {
                Ok(reports) => log::info!(
                    "auto-deploy after rule changes: {}",
                    crate::deployments::summarize(&reports)
                ),
                Err(error) => {
                    log::warn!("auto-deploy after rule changes failed: {}", error.message())
                }
            }
        }
    })
}

/// Compares every host's live file with what it should hold; with `repair`, deploys where
/// they differ. Returns the per-host reports (`would_change` marks drift when not repairing).
pub async fn check_drift(state: &AppState, repair: bool) -> Result<Vec<HostReport>, ApiError> {
    let reports =
        deploy_all(state, if repair { "drift-repair" } else { "drift-check" }, !repair).await?;
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

/// Runs [`check_drift`] every `interval`.
pub fn spawn_drift_check(
    state: AppState,
    interval: Duration,
    repair: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(error) = check_drift(&state, repair).await {
                log::warn!("drift check failed: {}", error.message());
            }
        }
    })
}
