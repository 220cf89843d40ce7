//! am-executor's run audit over REST: `POST /api/v1/heal-runs` stores a record it reports
//! (`--report-to`), `GET /api/v1/heal-runs?rule=&alertname=&since=` lists them, newest
//! first, so a rule's heal runs are seen beside it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_model::{HealRun, HealRunFilter, HealRunSpec};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};

/// `POST /api/v1/heal-runs`: the reporting token's name is kept as `reporter`.
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<HealRunSpec>,
) -> Result<(StatusCode, Json<HealRun>), ApiError> {
    let reporter = crate::auth::current_actor();
    let run = state.store(move |store| store.record_heal_run(&reporter, &spec)).await?;
    log::info!(actor:% = run.reporter; "heal run {} reported: {} {}", run.id, run.spec.command.join(" "), run.spec.outcome);
    Ok((StatusCode::CREATED, Json(run)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// A rule's id: runs for alerts of its name.
    rule: Option<i64>,
    alertname: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    offset: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct HealRunList {
    heal_runs: Vec<HealRun>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// `GET /api/v1/heal-runs`.
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<HealRunList>, ApiError> {
    let page = crate::rules::page(query.limit, query.offset)?;
    let since = query.since.as_deref().map(crate::deployments::since).transpose()?;
    let (heal_runs, total) = state
        .blocking(move |store| {
            let alertname = match (query.rule, query.alertname) {
                (Some(_), Some(_)) => {
                    let problem = "give `rule` or `alertname`, not both".to_owned();
                    return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, problem.clone())
                        .with_field("rule", problem));
                }
                (Some(id), None) => match store.get_rule(id) {
                    Ok(rule) => Some(rule.display_name().to_string()),
                    Err(promrules_model::Error::NotFound { .. }) => {
                        let problem = format!("no rule has id {id}");
                        return Err(ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            problem.clone(),
                        )
                        .with_field("rule", problem));
                    }
                    Err(error) => return Err(error.into()),
                },
                (None, name) => name,
            };
            Ok(store.list_heal_runs(&HealRunFilter { alertname, since }, page)?)
        })
        .await?;
    Ok(Json(HealRunList {
        heal_runs,
        total,
        limit: page.limit.unwrap_or_default(),
        offset: page.offset,
    }))
}
