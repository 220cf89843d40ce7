//! History: every revision with its per-entity before/after diffs, and restoring the
//! rules and groups as they were right after one (a new revision, after a confirmation).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use promrules_api::Scope;
use promrules_model::{Page, RevisionSummary};
use serde::Deserialize;

use crate::form::Posted;
use crate::session::Viewer;
use crate::view::{Chrome, DiffLine, Time, diff, yaml};
use crate::{Web, WebError, needs};

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "history.html")]
struct ListPage {
    chrome: Chrome,
    revisions: Vec<(RevisionSummary, Time)>,
    page: i64,
    pages: i64,
}

#[derive(Debug)]
struct Change {
    entity: String,
    id: i64,
    verb: &'static str,
    /// The rule or group's name after (or before, when deleted).
    name: String,
    diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "revision.html")]
struct RevisionPage {
    chrome: Chrome,
    number: i64,
    latest: i64,
    at: Time,
    actor: String,
    action: String,
    changes: Vec<Change>,
    restored: Option<i64>,
    confirm: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<i64>,
}

pub(crate) async fn list(
    State(web): State<Web>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let page = query.page.unwrap_or(1).max(1);
    let window = Page { limit: Some(PAGE_SIZE), offset: (page - 1) * PAGE_SIZE };
    let (revisions, total) = web
        .store(&viewer, move |store| Ok((store.list_revisions(window)?, store.count_revisions()?)))
        .await?;
    let revisions = revisions.into_iter().map(|revision| {
        let at = Time::new(revision.created_at);
        (revision, at)
    });
    super::page(&ListPage {
        chrome: Chrome::new(&viewer, "history"),
        revisions: revisions.collect(),
        page,
        pages: crate::view::page_count(total, PAGE_SIZE),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct DetailQuery {
    restored: Option<i64>,
}

fn name_of(value: Option<&serde_json::Value>) -> Option<String> {
    let value = value?;
    value.get("name").and_then(serde_json::Value::as_str).map(str::to_owned)
}

async fn revision_page(
    web: &Web,
    viewer: &Viewer,
    number: i64,
    restored: Option<i64>,
    confirm: bool,
) -> Result<Response, WebError> {
    let (revision, latest) = web
        .store(viewer, move |store| Ok((store.get_revision(number)?, store.latest_revision()?)))
        .await?;
    let changes = revision
        .changes
        .iter()
        .map(|change| Change {
            entity: change.entity.clone(),
            id: change.id,
            verb: match (&change.before, &change.after) {
                (None, Some(_)) => "created",
                (Some(_), None) => "deleted",
                _ => "changed",
            },
            name: name_of(change.after.as_ref())
                .or_else(|| name_of(change.before.as_ref()))
                .unwrap_or_else(|| format!("{} {}", change.entity, change.id)),
            diff: diff(&yaml(change.before.as_ref()), &yaml(change.after.as_ref())),
        })
        .collect();
    super::page(&RevisionPage {
        chrome: Chrome::new(viewer, "history"),
        number,
        latest,
        at: Time::new(revision.created_at),
        actor: revision.actor,
        action: revision.action,
        changes,
        restored,
        confirm,
    })
}

pub(crate) async fn detail(
    State(web): State<Web>,
    viewer: Viewer,
    Path(number): Path<i64>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, WebError> {
    revision_page(&web, &viewer, number, query.restored, false).await
}

/// The confirmation step before a restore.
pub(crate) async fn confirm_restore(
    State(web): State<Web>,
    viewer: Viewer,
    Path(number): Path<i64>,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    revision_page(&web, &viewer, number, None, true).await
}

pub(crate) async fn restore(
    State(web): State<Web>,
    Path(number): Path<i64>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let revision = web.store(&viewer, move |store| Ok(store.restore(number, None)?)).await?;
    web.app.rollout().rules_changed();
    log::info!(actor = viewer.actor.as_str(); "ui: restored revision {number} as revision {}", revision.number);
    Ok(super::see_other(&format!("/ui/history/{}?restored={number}", revision.number)))
}
