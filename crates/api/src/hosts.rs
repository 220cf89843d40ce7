//! `/api/v1/hosts`: the Prometheus hosts the deployer manages, in the inventory file's shape.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_deploy::Host;
use promrules_model::HostRecord;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody};

#[derive(Debug, Serialize)]
pub(crate) struct HostList {
    hosts: Vec<HostRecord>,
}

fn validated(host: &Host) -> Result<serde_json::Value, ApiError> {
    if let Err(problems) = host.validate() {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid host: {}", listed.join("; ")),
        );
        for (problem, text) in problems.iter().zip(listed) {
            error = error.with_field(problem.field, text);
        }
        return Err(error);
    }
    serde_json::to_value(host).map_err(|e| ApiError::internal(e.to_string()))
}

pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<HostList>, ApiError> {
    Ok(Json(HostList { hosts: state.store(|store| store.list_hosts()).await? }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(host): JsonBody<Host>,
) -> Result<(StatusCode, Json<HostRecord>), ApiError> {
    let spec = validated(&host)?;
    let record = state.store(move |store| store.create_host(&host.name, &spec)).await?;
    log::info!("added host `{}`", record.name);
    Ok((StatusCode::CREATED, Json(record)))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<HostRecord>, ApiError> {
    Ok(Json(state.store(move |store| store.get_host(id)).await?))
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(host): JsonBody<Host>,
) -> Result<Json<HostRecord>, ApiError> {
    let spec = validated(&host)?;
    Ok(Json(state.store(move |store| store.update_host(id, &host.name, &spec)).await?))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store(move |store| store.delete_host(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
