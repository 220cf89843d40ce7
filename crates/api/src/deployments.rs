//! The deploy routes: thin HTTP edges over the deployment service (`promrules-rollout`).
//! `POST /api/v1/deployments` starts a deploy in the background (202 with an id to poll);
//! the original pipeline's `POST /deploy` deploys to one host and answers with the outcome.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use promrules_model::{Deployment, DeploymentFilter};
use promrules_rollout::{DeployRequest, Hosts};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, QueryParams};

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
    let started =
        state.rollout.start(&crate::auth::current_actor(), Hosts::Stored, request).await?;
    let (id, rollout) = (started.id, state.rollout.clone());
    tokio::spawn(async move {
        if let Err(error) = rollout.run(started, |_| {}).await {
            log::error!(deployment = id; "deployment {id} failed: {error}");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Started { id, status: "running", url: format!("/api/v1/deployments/{id}") }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    host: Option<String>,
    outcome: Option<String>,
    status: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    offset: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeploymentList {
    deployments: Vec<Deployment>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// The host outcomes and deployment statuses a filter may name.
const OUTCOMES: [&str; 5] = ["deployed", "unchanged", "would_change", "rolled_back", "failed"];
const STATUSES: [&str; 3] = ["running", "succeeded", "failed"];

/// `GET /api/v1/deployments`: newest first, filtered by a host that took part, a host
/// outcome, the deployment's status or its actor.
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<DeploymentList>, ApiError> {
    let page = crate::rules::page(query.limit, query.offset)?;
    for (field, value, known) in
        [("outcome", &query.outcome, &OUTCOMES[..]), ("status", &query.status, &STATUSES[..])]
    {
        if let Some(value) = value
            && !known.contains(&value.as_str())
        {
            let problem = format!("`{value}` is not one of {}", known.join(", "));
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid `{field}`: {problem}"),
            )
            .with_field(field, problem));
        }
    }
    let since = query.since.as_deref().map(since).transpose()?;
    let filter = DeploymentFilter {
        host: query.host,
        outcome: query.outcome,
        status: query.status,
        actor: query.actor,
        since,
    };
    let (deployments, total) =
        state.store(move |store| store.list_deployments(&filter, page)).await?;
    Ok(Json(DeploymentList {
        deployments,
        total,
        limit: page.limit.unwrap_or_default(),
        offset: page.offset,
    }))
}

/// A `since` filter: an RFC 3339 time (`2026-12-01T00:00:00Z`), or an age in Prometheus's
/// duration syntax (`24h`, `7d`) counted back from now.
pub(crate) fn since(text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let age = promrules_model::parse_duration(text)
        .ok()
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .and_then(|age| Utc::now().checked_sub_signed(age));
    age.ok_or_else(|| {
        let problem = format!(
            "`{text}` is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor an age (24h, 7d)"
        );
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("invalid `since`: {problem}"))
            .with_field("since", problem)
    })
}

/// `GET /api/v1/deployments/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Deployment>, ApiError> {
    Ok(Json(state.store(move |store| store.get_deployment(id)).await?))
}

/// The original's body, plus `dry_run` (the original ignored it and deployed for real).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompatDeploy {
    host: String,
    #[serde(default)]
    dry_run: bool,
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
    let hosts = Hosts::NamedOrAt(body.host);
    let deployed = state
        .rollout
        .deploy(
            &crate::auth::current_actor(),
            hosts,
            DeployRequest { dry_run: body.dry_run, ..DeployRequest::default() },
            |_| {},
        )
        .await?;
    let report = &deployed.reports[0];
    let status = if report.outcome.is_failure() { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
    Ok((
        status,
        Json(CompatDeployed {
            status: report.outcome.as_str(),
            host: report.host.clone(),
            message: report.message.clone(),
            deployment_id: deployed.id,
        }),
    ))
}
