//! `/api/v1/groups`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_model::{Group, GroupPatch, GroupSpec};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, QueryParams};
use crate::rules::page;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    pub(crate) limit: Option<i64>,
    #[serde(default)]
    pub(crate) offset: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct GroupList {
    groups: Vec<Group>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// A written group, with the lint warnings about its rules (left out when there are none):
/// an interval change can make a rule's `for` shorter than it.
#[derive(Debug, Serialize)]
pub(crate) struct Written {
    #[serde(flatten)]
    group: Group,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<promrules_model::LintWarning>,
}

fn linted(store: &promrules_model::Store, group: Group) -> Result<Written, promrules_model::Error> {
    let filter = promrules_model::RuleFilter { group_id: Some(group.id), ..Default::default() };
    let rules = store.list_rules(&filter)?;
    let warnings = promrules_model::lint(&rules, std::slice::from_ref(&group));
    Ok(Written { group, warnings })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<GroupList>, ApiError> {
    let page = page(query.limit, query.offset)?;
    let (groups, total) =
        state.store(move |store| Ok((store.list_groups(page)?, store.count_groups()?))).await?;
    Ok(Json(GroupList {
        groups,
        total,
        limit: page.limit.unwrap_or_default(),
        offset: page.offset,
    }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<GroupSpec>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    let group = state.store(move |store| store.create_group(&spec)).await?;
    log::info!("created group {} (`{}`)", group.id, group.spec.name);
    Ok((StatusCode::CREATED, Json(group)))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Group>, ApiError> {
    Ok(Json(state.store(move |store| store.get_group(id)).await?))
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(spec): JsonBody<GroupSpec>,
) -> Result<Json<Written>, ApiError> {
    Ok(Json(state.store(move |store| linted(store, store.update_group(id, &spec)?)).await?))
}

pub(crate) async fn patch(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(patch): JsonBody<GroupPatch>,
) -> Result<Json<Written>, ApiError> {
    Ok(Json(state.store(move |store| linted(store, store.patch_group(id, patch)?)).await?))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store(move |store| store.delete_group(id)).await?;
    log::info!("deleted group {id}");
    Ok(StatusCode::NO_CONTENT)
}
