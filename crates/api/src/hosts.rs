//! `/api/v1/hosts`: the Prometheus hosts the deployer manages, in the inventory file's shape.
//!
//! Credentials are write-only. A response shows `prometheus_auth` as `{"type": "bearer",
//! "set": true}` (or `{"type": "basic", "username": "…", "set": true}`), never the secret. A
//! `PUT` that sends that shape back keeps the stored credentials, so a client can read a host,
//! change a field and write it back without knowing the secret; omitting `prometheus_auth`
//! (or `null`) removes them, as a `PUT` replaces the whole description.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_deploy::Host;
use promrules_model::HostRecord;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, parse_json};

/// A host as clients see it: the stored record with its credentials redacted.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct HostView(HostRecord);

impl From<HostRecord> for HostView {
    fn from(mut record: HostRecord) -> HostView {
        if let Some(auth) = record.spec.get_mut("prometheus_auth").filter(|auth| !auth.is_null()) {
            *auth = redacted(auth);
        }
        HostView(record)
    }
}

/// What a client is shown of stored credentials: their kind and, for basic auth, the user.
fn redacted(auth: &Value) -> Value {
    match auth.get("username").and_then(Value::as_str) {
        Some(username) => json!({"type": "basic", "username": username, "set": true}),
        None => json!({"type": "bearer", "set": true}),
    }
}

/// Whether `auth` is the redacted shape a client read back (`{"set": true, …}`).
fn is_kept(auth: &Value) -> bool {
    auth.get("set") == Some(&Value::Bool(true))
}

#[derive(Debug, Serialize)]
pub(crate) struct HostList {
    hosts: Vec<HostView>,
}

/// Checks a host's description; the JSON to store.
fn validated(host: &Host) -> Result<Value, ApiError> {
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

/// Reads a host body; `stored` supplies the credentials when the body keeps them.
fn host_from(mut body: Value, stored: Option<&HostRecord>) -> Result<Host, ApiError> {
    if let Some(auth) = body.get_mut("prometheus_auth").filter(|auth| is_kept(auth)) {
        let kept = stored.and_then(|record| record.spec.get("prometheus_auth")).cloned();
        match kept.filter(|kept| !kept.is_null()) {
            Some(kept) if redacted(&kept).get("type") == auth.get("type") => *auth = kept,
            _ => {
                let problem = "`{\"set\": true}` keeps stored credentials, and this host has \
                               none of that type: send `{\"bearer_token\": …}` or \
                               `{\"username\": …, \"password\": …}`";
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("invalid `prometheus_auth`: {problem}"),
                )
                .with_field("prometheus_auth", problem));
            }
        }
    }
    parse_json(&serde_json::to_vec(&body).map_err(|e| ApiError::internal(e.to_string()))?)
}

pub(crate) async fn list(
    State(state): State<AppState>,
    crate::extract::QueryParams(_): crate::extract::QueryParams<crate::extract::NoFilters>,
) -> Result<Json<HostList>, ApiError> {
    let hosts = state.store(|store| store.list_hosts()).await?;
    Ok(Json(HostList { hosts: hosts.into_iter().map(HostView::from).collect() }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<HostView>), ApiError> {
    let host = host_from(body, None)?;
    let spec = validated(&host)?;
    let record = state.store(move |store| store.create_host(&host.name, &spec)).await?;
    log::info!(host = record.name.as_str(), actor:% = crate::auth::current_actor(); "added host `{}`", record.name);
    Ok((StatusCode::CREATED, Json(record.into())))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<HostView>, ApiError> {
    Ok(Json(state.store(move |store| store.get_host(id)).await?.into()))
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<HostView>, ApiError> {
    let stored = state.store(move |store| store.get_host(id)).await?;
    let host = host_from(body, Some(&stored))?;
    let spec = validated(&host)?;
    let record = state.store(move |store| store.update_host(id, &host.name, &spec)).await?;
    log::info!(host = record.name.as_str(), actor:% = crate::auth::current_actor(); "changed host `{}`", record.name);
    Ok(Json(record.into()))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store(move |store| store.delete_host(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
