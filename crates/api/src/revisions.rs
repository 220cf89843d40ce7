//! Rule history over REST: `/api/v1/revisions` (newest first), one revision with its
//! changes, a rule's history, and restore (all rules, or one with `?rule=ID`). The file as
//! it was after a revision is `GET /api/v1/rules.yml?revision=N` (in `rules.rs`).

use axum::Json;
use axum::extract::{Path, State};
use promrules_model::{Revision, RevisionSummary, RuleRevision};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, QueryParams, parse_id};
use crate::groups::ListQuery;
use crate::rules::page;

#[derive(Debug, Serialize)]
pub(crate) struct RevisionList {
    revisions: Vec<RevisionSummary>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// `GET /api/v1/revisions`.
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<RevisionList>, ApiError> {
    let page = page(query.limit, query.offset)?;
    let (revisions, total) = state
        .store(move |store| Ok((store.list_revisions(page)?, store.count_revisions()?)))
        .await?;
    let limit = page.limit.unwrap_or_default();
    Ok(Json(RevisionList { revisions, total, limit, offset: page.offset }))
}

/// `GET /api/v1/revisions/{n}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<Revision>, ApiError> {
    let number = parse_id(&number)?;
    Ok(Json(state.store(move |store| store.get_revision(number)).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreQuery {
    /// Restore only this rule.
    rule: Option<i64>,
}

/// `POST /api/v1/revisions/{n}/restore[?rule=ID]`: answers the new revision.
pub(crate) async fn restore(
    State(state): State<AppState>,
    Path(number): Path<String>,
    QueryParams(query): QueryParams<RestoreQuery>,
) -> Result<Json<Revision>, ApiError> {
    let number = parse_id(&number)?;
    let revision = state.store(move |store| store.restore(number, query.rule)).await?;
    log::info!(
        "restored revision {number}{} as revision {} ({} change(s))",
        query.rule.map(|id| format!(" of rule {id}")).unwrap_or_default(),
        revision.number,
        revision.changes.len()
    );
    Ok(Json(revision))
}

#[derive(Debug, Serialize)]
pub(crate) struct History {
    rule_id: i64,
    revisions: Vec<RuleRevision>,
}

/// `GET /api/v1/rules/{id}/history`: newest first, also for a deleted rule.
pub(crate) async fn rule_history(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<History>, ApiError> {
    let revisions = state.store(move |store| store.rule_history(id)).await?;
    Ok(Json(History { rule_id: id, revisions }))
}
