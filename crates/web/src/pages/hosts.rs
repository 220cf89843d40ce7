//! Hosts with their live status: the last deploy's outcome and time, the revision live
//! there, drift from the last check; and one host with its deployments.
//!
//! [`HostView`] is what a page may show of a host, and it has no field for credentials
//! (Prometheus auth, identity files, SSH options): they cannot reach a page by accident.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use promrules_deploy::Host;
use promrules_model::{Deployment, DeploymentFilter, Page, Store};

use crate::session::Viewer;
use crate::view::{Chrome, Time};
use crate::{Web, WebError};

/// How many of a host's deployments its status is worked out from (and its page lists).
const RECENT: i64 = 50;

/// The parts of a host a page shows.
#[derive(Debug, Clone)]
pub(crate) struct HostView {
    pub(crate) name: String,
    pub(crate) ssh: String,
    pub(crate) rule_file: String,
    /// The pushed target file, or what happens without one.
    pub(crate) targets_file: String,
    pub(crate) prometheus_url: String,
    pub(crate) datasources: String,
}

impl From<&Host> for HostView {
    fn from(host: &Host) -> HostView {
        HostView {
            name: host.name.clone(),
            ssh: format!("{}:{}", host.address, host.ssh_port),
            rule_file: host.rule_file.display().to_string(),
            targets_file: match &host.targets_file {
                Some(path) if host.verify_targets => format!("{} (verified)", path.display()),
                Some(path) => path.display().to_string(),
                None => "not pushed".to_owned(),
            },
            prometheus_url: host.prometheus_url.clone(),
            // An empty list means rules without a datasource only (and every shard's targets).
            datasources: if host.datasources.is_empty() {
                "none (rules without one)".to_owned()
            } else {
                host.datasources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            },
        }
    }
}

/// One host's part in one deployment.
#[derive(Debug, Clone)]
pub(crate) struct HostRun {
    pub(crate) deployment: i64,
    pub(crate) actor: String,
    pub(crate) dry_run: bool,
    pub(crate) outcome: String,
    pub(crate) message: String,
    pub(crate) revision: Option<i64>,
    pub(crate) at: Time,
    pub(crate) lines: String,
}

/// What the latest deployments say about a host.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    pub(crate) last: Option<HostRun>,
    pub(crate) live_revision: Option<i64>,
    /// `in sync`, `drift` or `check failed`, from the last drift check.
    pub(crate) drift: Option<(String, Time)>,
}

pub(crate) fn is_dry_run(deployment: &Deployment) -> bool {
    deployment.options.get("dry_run").and_then(serde_json::Value::as_bool).unwrap_or(false)
}

/// The host's runs in its recent deployments, newest first.
fn runs(store: &Store, name: &str) -> Result<Vec<HostRun>, WebError> {
    let filter = DeploymentFilter { host: Some(name.to_owned()), ..DeploymentFilter::default() };
    let (deployments, _) =
        store.list_deployments(&filter, Page { limit: Some(RECENT), offset: 0 })?;
    Ok(deployments
        .iter()
        .flat_map(|deployment| {
            deployment.hosts.iter().filter(|row| row.host == name).map(move |row| HostRun {
                deployment: deployment.id,
                actor: deployment.actor.clone(),
                dry_run: is_dry_run(deployment),
                outcome: row.outcome.clone(),
                message: row.message.clone(),
                revision: row.revision,
                at: Time::naive(row.finished_at),
                lines: format!("+{} −{}", row.lines_added, row.lines_removed),
            })
        })
        .collect())
}

fn status(runs: &[HostRun]) -> Status {
    let last = runs.iter().find(|run| !run.dry_run).cloned();
    let live_revision = runs.iter().find_map(|run| run.revision);
    let drift = runs.iter().find(|run| run.actor == "drift-check").map(|run| {
        let verdict = match run.outcome.as_str() {
            "unchanged" => "in sync",
            "would_change" => "drift",
            _ => "check failed",
        };
        (verdict.to_owned(), run.at.clone())
    });
    Status { last, live_revision, drift }
}

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsPage {
    chrome: Chrome,
    hosts: Vec<(HostView, Status)>,
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    chrome: Chrome,
    host: HostView,
    status: Status,
    runs: Vec<HostRun>,
}

pub(crate) async fn list(State(web): State<Web>, viewer: Viewer) -> Result<Response, WebError> {
    let rollout = web.app.rollout().clone();
    let hosts = web
        .store(&viewer, move |store| {
            rollout
                .stored_hosts()?
                .iter()
                .map(|host| Ok((HostView::from(host), status(&runs(store, &host.name)?))))
                .collect::<Result<Vec<_>, WebError>>()
        })
        .await?;
    super::page(&HostsPage { chrome: Chrome::new(&viewer, "hosts"), hosts })
}

pub(crate) async fn detail(
    State(web): State<Web>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let rollout = web.app.rollout().clone();
    let (host, runs) = web
        .store(&viewer, move |store| {
            let host = rollout
                .stored_hosts()?
                .iter()
                .find(|host| host.name == name)
                .map(HostView::from)
                .ok_or_else(|| WebError::NotFound(format!("no host named `{name}`")))?;
            let runs = runs(store, &host.name)?;
            Ok((host, runs))
        })
        .await?;
    let status = status(&runs);
    super::page(&HostPage { chrome: Chrome::new(&viewer, "hosts"), host, status, runs })
}
