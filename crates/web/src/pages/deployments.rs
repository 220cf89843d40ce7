//! Deployments: the list (filter by host, outcome, actor) and one deployment with each
//! host's result, which follows a running deploy host by host.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use promrules_model::{Deployment, DeploymentFilter, Page};
use serde::Deserialize;

use crate::session::Viewer;
use crate::view::{Chrome, Time};
use crate::{Web, WebError};

const PAGE_SIZE: i64 = 50;
const OUTCOMES: [&str; 5] = ["deployed", "unchanged", "would_change", "rolled_back", "failed"];

/// A deployment as a page shows it.
#[derive(Debug)]
pub(crate) struct DeploymentView {
    pub(crate) id: i64,
    pub(crate) actor: String,
    pub(crate) status: String,
    pub(crate) dry_run: bool,
    pub(crate) summary: String,
    pub(crate) started: Time,
    pub(crate) finished: Option<Time>,
    pub(crate) revision: Option<i64>,
    /// How many hosts were asked for (0: every host).
    pub(crate) asked: usize,
    pub(crate) hosts: Vec<HostRow>,
}

#[derive(Debug)]
pub(crate) struct HostRow {
    pub(crate) host: String,
    pub(crate) outcome: String,
    pub(crate) message: String,
    pub(crate) revision: Option<i64>,
    pub(crate) lines: String,
    pub(crate) seconds: String,
}

impl From<Deployment> for DeploymentView {
    fn from(deployment: Deployment) -> DeploymentView {
        let asked =
            deployment.options.get("hosts").and_then(|hosts| hosts.as_array()).map_or(0, Vec::len);
        DeploymentView {
            id: deployment.id,
            dry_run: super::hosts::is_dry_run(&deployment),
            actor: deployment.actor,
            status: deployment.status,
            summary: deployment.summary,
            started: Time::new(deployment.started_at),
            finished: deployment.finished_at.map(Time::new),
            revision: deployment.revision,
            asked,
            hosts: deployment
                .hosts
                .into_iter()
                .map(|row| HostRow {
                    lines: format!("+{} −{}", row.lines_added, row.lines_removed),
                    seconds: format!("{:.1} s", row.duration_ms as f64 / 1000.0),
                    host: row.host,
                    outcome: row.outcome,
                    message: row.message,
                    revision: row.revision,
                })
                .collect(),
        }
    }
}

impl DeploymentView {
    pub(crate) fn running(&self) -> bool {
        self.status == "running"
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    host: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    actor: String,
    /// One of [`SINCE`]'s ages; empty for all time.
    #[serde(default)]
    since: String,
    page: Option<i64>,
}

/// The ages the page offers as "since", with their labels.
const SINCE: [(&str, &str, i64); 4] = [
    ("1h", "the last hour", 1),
    ("24h", "the last day", 24),
    ("7d", "the last week", 168),
    ("30d", "the last 30 days", 720),
];

#[derive(Template)]
#[template(path = "deployments.html")]
struct ListPage {
    chrome: Chrome,
    deployments: Vec<DeploymentView>,
    total: i64,
    host: String,
    outcome: String,
    actor: String,
    since: String,
    ages: [(&'static str, &'static str, i64); 4],
    outcomes: [&'static str; 5],
    page: i64,
    pages: i64,
    base: String,
}

#[derive(Template)]
#[template(path = "deployment.html")]
struct DetailPage {
    chrome: Chrome,
    d: DeploymentView,
}

#[derive(Template)]
#[template(path = "deployment_progress.html")]
struct Progress {
    d: DeploymentView,
}

fn blank_is_none(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|text| !text.is_empty())
}

pub(crate) async fn list(
    State(web): State<Web>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    if !query.outcome.is_empty() && !OUTCOMES.contains(&query.outcome.as_str()) {
        return Err(WebError::BadRequest(format!(
            "`outcome` must be one of {}, not `{}`",
            OUTCOMES.join(", "),
            query.outcome
        )));
    }
    let hours = match SINCE.iter().find(|(age, _, _)| *age == query.since) {
        Some((_, _, hours)) => Some(*hours),
        None if query.since.is_empty() => None,
        None => {
            let ages: Vec<&str> = SINCE.iter().map(|(age, _, _)| *age).collect();
            return Err(WebError::BadRequest(format!(
                "`since` must be one of {}, not `{}`",
                ages.join(", "),
                query.since
            )));
        }
    };
    let page = query.page.unwrap_or(1).max(1);
    let filter = DeploymentFilter {
        host: blank_is_none(&query.host),
        outcome: blank_is_none(&query.outcome),
        actor: blank_is_none(&query.actor),
        since: hours.map(|hours| chrono::Utc::now() - chrono::Duration::hours(hours)),
        ..DeploymentFilter::default()
    };
    let window = Page { limit: Some(PAGE_SIZE), offset: (page - 1) * PAGE_SIZE };
    let (deployments, total) =
        web.store(&viewer, move |store| Ok(store.list_deployments(&filter, window)?)).await?;
    let base = crate::view::query_base(&[
        ("host", &query.host),
        ("outcome", &query.outcome),
        ("actor", &query.actor),
        ("since", &query.since),
    ]);
    super::page(&ListPage {
        chrome: Chrome::new(&viewer, "deployments"),
        deployments: deployments.into_iter().map(DeploymentView::from).collect(),
        total,
        host: query.host,
        outcome: query.outcome,
        actor: query.actor,
        since: query.since,
        ages: SINCE,
        outcomes: OUTCOMES,
        page,
        pages: crate::view::page_count(total, PAGE_SIZE),
        base,
    })
}

async fn load(web: &Web, viewer: &Viewer, id: i64) -> Result<DeploymentView, WebError> {
    Ok(web.store(viewer, move |store| Ok(store.get_deployment(id)?)).await?.into())
}

pub(crate) async fn detail(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let d = load(&web, &viewer, id).await?;
    super::page(&DetailPage { chrome: Chrome::new(&viewer, "deployments"), d })
}

/// The per-host table alone, which a running deployment's page polls.
pub(crate) async fn progress(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let d = load(&web, &viewer, id).await?;
    super::page(&Progress { d })
}
