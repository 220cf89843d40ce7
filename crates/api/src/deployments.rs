//! Deploys, from request to audit record; shared by the REST routes and the server's
//! `deploy` command.
//!
//! A deploy renders each host's rule file (its datasources' rules plus rules without one),
//! hands the bytes to the deployer, records every host's result as it completes, and closes
//! the audit record with a summary. `POST /api/v1/deployments` runs it in the background
//! (202 with an id to poll); the original pipeline's `POST /deploy` runs it for one host
//! and answers with the outcome.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_deploy::{DeployOptions, Deployer, Host, HostLock, HostReport, Outcome};
use promrules_model::{Deployment, DeploymentHost, Store};
use promrules_yaml::{HealLabel, RenderOptions, Selection};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody};

/// What to deploy, and how.
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

/// Cross-replica host locks through the store (PostgreSQL advisory locks).
struct StoreLock(Store);

impl HostLock for StoreLock {
    fn lock(&self, host: &str) -> Result<Box<dyn Send>, String> {
        self.0
            .lock_host(host)
            .map(|guard| Box::new(guard) as Box<dyn Send>)
            .map_err(|e| e.to_string())
    }
}

/// A deployer whose per-host lock also holds across server replicas sharing PostgreSQL.
pub fn deployer_for(store: &Store, control_dir: impl Into<std::path::PathBuf>) -> Arc<Deployer> {
    Arc::new(Deployer::new(control_dir).with_external_lock(Arc::new(StoreLock(store.clone()))))
}

/// The hosts stored in the database.
pub fn stored_hosts(store: &Store) -> Result<Vec<Host>, ApiError> {
    store
        .list_hosts()?
        .into_iter()
        .map(|record| {
            serde_json::from_value(record.spec).map_err(|e| {
                ApiError::internal(format!("stored host `{}` does not parse: {e}", record.name))
            })
        })
        .collect()
}

/// `hosts` narrowed to `names` (all when empty); an unknown name is an error.
pub fn select_hosts(hosts: Vec<Host>, names: &[String]) -> Result<Vec<Host>, ApiError> {
    if let Some(unknown) = names.iter().find(|name| !hosts.iter().any(|host| &host.name == *name)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unknown host `{unknown}`"),
        )
        .with_field("hosts", format!("`{unknown}` is not a known host")));
    }
    let selected: Vec<Host> =
        hosts.into_iter().filter(|host| names.is_empty() || names.contains(&host.name)).collect();
    if selected.is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no host to deploy to")
            .with_field("hosts", "no host is configured"));
    }
    Ok(selected)
}

/// Renders each host's file, deploys, and records the audit trail under `deployment_id`.
pub async fn run_deployment(
    store: Store,
    deployer: Arc<Deployer>,
    hosts: Vec<Host>,
    request: DeployRequest,
    heal_label: HealLabel,
    deployment_id: i64,
    progress: impl Fn(&HostReport) + Send + Sync + 'static,
) -> Result<Vec<HostReport>, ApiError> {
    let render_store = store.clone();
    let targets = tokio::task::spawn_blocking(move || -> Result<Vec<(Host, Vec<u8>)>, ApiError> {
        let (rules, groups) = render_store.rules_and_groups()?;
        Ok(hosts
            .into_iter()
            .map(|host| {
                let selection =
                    Selection { datasources: host.datasources.clone(), ..Selection::default() };
                let options = RenderOptions { selection, heal_label: heal_label.clone() };
                let content = promrules_yaml::render(&rules, &groups, &options).into_bytes();
                (host, content)
            })
            .collect())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;

    let options = DeployOptions {
        dry_run: request.dry_run,
        force: request.force,
        ..DeployOptions::default()
    };
    let audit = store.clone();
    let reports = deployer
        .deploy_fleet(targets, &options, request.concurrency.unwrap_or(8), move |report| {
            if let Err(error) = audit.record_deployment_host(deployment_id, &audit_record(report)) {
                log::error!("recording the deploy of {} failed: {error}", report.host);
            }
            progress(report);
        })
        .await;
    let failed = reports.iter().filter(|r| r.outcome.is_failure()).count();
    let summary = summarize(&reports);
    let finish = store.clone();
    tokio::task::spawn_blocking(move || {
        finish.finish_deployment(deployment_id, failed == 0, &summary)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(reports)
}

fn audit_record(report: &HostReport) -> DeploymentHost {
    DeploymentHost {
        deployment_id: 0,
        host: report.host.clone(),
        outcome: report.outcome.as_str().to_owned(),
        message: report.message.clone(),
        content_hash: report.content_hash.clone(),
        lines_added: report.diff.added as i64,
        lines_removed: report.diff.removed as i64,
        duration_ms: report.duration.as_millis() as i64,
        finished_at: chrono::Utc::now().naive_utc(),
    }
}

/// The terminal report of deployment `id`: each host's diff when `with_diff`, then a table
/// of hosts, outcomes, seconds and messages, then the summary line.
pub fn report_table(id: i64, reports: &[HostReport], with_diff: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if with_diff {
        for report in reports {
            if let Some(diff) = report.diff_text.as_deref().filter(|d| !d.is_empty()) {
                let _ = writeln!(out, "--- {} ---\n{diff}", report.host);
            }
        }
    }
    let _ = writeln!(out, "{:<24} {:<12} {:>9}  MESSAGE", "HOST", "OUTCOME", "SECONDS");
    for report in reports {
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>9.2}  {}",
            report.host,
            report.outcome.as_str(),
            report.duration.as_secs_f64(),
            report.message
        );
    }
    let _ = writeln!(out, "deployment {id}: {}", summarize(reports));
    out
}

/// `3 hosts: 2 deployed, 1 unchanged`.
pub fn summarize(reports: &[HostReport]) -> String {
    let mut counts: Vec<(Outcome, usize)> = Vec::new();
    for report in reports {
        match counts.iter_mut().find(|(outcome, _)| *outcome == report.outcome) {
            Some((_, count)) => *count += 1,
            None => counts.push((report.outcome, 1)),
        }
    }
    let parts: Vec<String> =
        counts.iter().map(|(outcome, count)| format!("{count} {}", outcome.as_str())).collect();
    format!("{} host(s): {}", reports.len(), parts.join(", "))
}

#[derive(Debug, Serialize)]
pub(crate) struct Started {
    id: i64,
    status: &'static str,
    url: String,
}

/// `POST /api/v1/deployments`: starts a deploy in the background.
pub(crate) async fn start(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<DeployRequest>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let names = request.hosts.clone();
    let options = serde_json::to_value(&request).unwrap_or_default();
    let (hosts, id) = state
        .blocking(move |store| {
            let hosts = select_hosts(stored_hosts(store)?, &names)?;
            Ok((hosts, store.start_deployment("api", &options)?))
        })
        .await?;
    log::info!("deployment {id} started for {} host(s)", hosts.len());
    let (store, deployer, heal) =
        (state.store.clone(), Arc::clone(&state.deployer), state.config.heal_label.clone());
    tokio::spawn(async move {
        if let Err(error) = run_deployment(store, deployer, hosts, request, heal, id, |_| {}).await
        {
            log::error!("deployment {id} failed: {}", error.message());
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Started { id, status: "running", url: format!("/api/v1/deployments/{id}") }),
    ))
}

/// `GET /api/v1/deployments/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Deployment>, ApiError> {
    Ok(Json(state.store(move |store| store.get_deployment(id)).await?))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CompatDeploy {
    host: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct CompatDeployed {
    status: &'static str,
    host: String,
    message: String,
    deployment_id: i64,
}

/// The original pipeline's `POST /deploy {"host": "<name or address>"}`: deploys to that
/// host and answers when done: 200 when deployed or unchanged, 502 when the host failed.
pub(crate) async fn deploy_compat(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CompatDeploy>,
) -> Result<(StatusCode, Json<CompatDeployed>), ApiError> {
    let wanted = body.host.clone();
    let (host, id) = state
        .blocking(move |store| {
            let host = stored_hosts(store)?
                .into_iter()
                .find(|host| host.name == wanted || host.address == wanted)
                .ok_or_else(|| ApiError::not_found(format!("no host named or at `{wanted}`")))?;
            let id = store
                .start_deployment("api:/deploy", &serde_json::json!({"hosts": [host.name]}))?;
            Ok((host, id))
        })
        .await?;
    let request = DeployRequest { hosts: vec![host.name.clone()], ..DeployRequest::default() };
    let reports = run_deployment(
        state.store.clone(),
        Arc::clone(&state.deployer),
        vec![host],
        request,
        state.config.heal_label.clone(),
        id,
        |_| {},
    )
    .await?;
    let report = &reports[0];
    let status = if report.outcome.is_failure() { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
    Ok((
        status,
        Json(CompatDeployed {
            status: report.outcome.as_str(),
            host: report.host.clone(),
            message: report.message.clone(),
            deployment_id: id,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report(host: &str, outcome: Outcome, diff_text: Option<&str>) -> HostReport {
        HostReport {
            host: host.into(),
            outcome,
            message: format!("{host} says {}", outcome.as_str()),
            duration: Duration::from_millis(1_250),
            content_hash: String::new(),
            diff: Default::default(),
            diff_text: diff_text.map(str::to_owned),
            locked_at: 0.0,
            released_at: 0.0,
        }
    }

    #[test]
    fn report_table_lists_every_host_and_shows_diffs_only_when_asked() {
        let reports = [
            report("prom-a", Outcome::Deployed, Some("+  - alert: New\n")),
            report("prom-b", Outcome::Failed, None),
        ];
        let plain = report_table(7, &reports, false);
        assert_eq!(
            plain.lines().collect::<Vec<_>>(),
            [
                "HOST                     OUTCOME        SECONDS  MESSAGE",
                "prom-a                   deployed          1.25  prom-a says deployed",
                "prom-b                   failed            1.25  prom-b says failed",
                "deployment 7: 2 host(s): 1 deployed, 1 failed",
            ]
        );
        let with_diff = report_table(7, &reports, true);
        assert_eq!(with_diff, format!("--- prom-a ---\n+  - alert: New\n\n{plain}"));
    }
}
