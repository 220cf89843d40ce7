//! Deploying from the UI: pick hosts, preview as a dry run with each host's coloured diff,
//! then deploy in the background and follow it on the deployment's page.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use promrules_api::Scope;
use promrules_rollout::{DeployRequest, Hosts};
use serde::Deserialize;

use crate::form::{FormData, Posted};
use crate::session::Viewer;
use crate::view::{Chrome, DiffLine, classify};
use crate::{Web, WebError, needs};

#[derive(Template)]
#[template(path = "deploy.html")]
struct DeployForm {
    chrome: Chrome,
    /// Each host and whether it is ticked.
    hosts: Vec<(String, bool)>,
}

/// One host's dry run.
#[derive(Debug)]
struct Previewed {
    host: String,
    outcome: &'static str,
    message: String,
    added: usize,
    removed: usize,
    diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "deploy_preview.html")]
struct Preview {
    chrome: Chrome,
    deployment: i64,
    hosts: Vec<String>,
    force: bool,
    reports: Vec<Previewed>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FormQuery {
    host: Option<String>,
}

pub(crate) async fn form(
    State(web): State<Web>,
    viewer: Viewer,
    Query(query): Query<FormQuery>,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Deploy)?;
    let rollout = web.app.rollout().clone();
    let names = web.store(&viewer, move |_| Ok(rollout.stored_hosts()?)).await?;
    let hosts = names
        .into_iter()
        .map(|host| {
            let ticked = query.host.as_ref().is_none_or(|wanted| *wanted == host.name);
            (host.name, ticked)
        })
        .collect();
    super::page(&DeployForm { chrome: Chrome::new(&viewer, "deploy"), hosts })
}

fn request(form: &FormData, dry_run: bool) -> Result<DeployRequest, WebError> {
    let hosts: Vec<String> = form.all("host").into_iter().map(str::to_owned).collect();
    if hosts.is_empty() {
        return Err(WebError::BadRequest("pick at least one host to deploy to".into()));
    }
    Ok(DeployRequest { hosts, dry_run, force: form.checked("force"), concurrency: None })
}

/// `POST /ui/deploy/preview`: a dry run (recorded like any), with each host's diff.
pub(crate) async fn preview(
    State(web): State<Web>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Deploy)?;
    let request = request(&form, true)?;
    let (hosts, force) = (request.hosts.clone(), request.force);
    let deployed = web.app.rollout().deploy(&viewer.actor, Hosts::Stored, request, |_| {}).await?;
    let reports = deployed
        .reports
        .into_iter()
        .map(|report| Previewed {
            outcome: report.outcome.as_str(),
            diff: report.diff_text.as_deref().map(classify).unwrap_or_default(),
            added: report.diff.added,
            removed: report.diff.removed,
            host: report.host,
            message: report.message,
        })
        .collect();
    super::page(&Preview {
        chrome: Chrome::new(&viewer, "deploy"),
        deployment: deployed.id,
        hosts,
        force,
        reports,
    })
}

/// `POST /ui/deploy`: starts the deploy and shows its page, which follows the progress.
pub(crate) async fn start(
    State(web): State<Web>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Deploy)?;
    let request = request(&form, false)?;
    let rollout = web.app.rollout().clone();
    let started = rollout.start(&viewer.actor, Hosts::Stored, request).await?;
    let id = started.id;
    log::info!(deployment = id, actor = viewer.actor.as_str(); "ui: {} started deployment {id}", viewer.actor);
    tokio::spawn(async move {
        if let Err(error) = rollout.run(started, |_| {}).await {
            log::error!(deployment = id; "deployment {id} failed: {error}");
        }
    });
    Ok(super::see_other(&format!("/ui/deployments/{id}")))
}
