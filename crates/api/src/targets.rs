//! The target model under `/api/v1`: shards, services, farms (and their hosts), projects,
//! exporters, and the rendered `file_sd` file at `/api/v1/targets`.
//!
//! Each entity has the same five routes (list, create, get, replace, delete), written once
//! as generic handlers over [`Entity`]. Bodies are the model's types, relations by name
//! (`{"name": "web", "service": "shop", "shard": "eu", "farm": "web-hosts"}`); answers add
//! `id`, `created_at` and `updated_at`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use promrules_model::{Error, Exporter, Farm, Project, Service, Shard, Store, Stored};
use promrules_targets::{Filter, file_sd, to_json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, QueryParams, parse_id};
use crate::rules::with_etag;

/// One kind of stored target entity and its store calls.
pub(crate) trait Entity: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The singular name, for logs.
    const NAME: &'static str;
    /// The plural, the key of a listing (`{"shards": [...]}`).
    const PLURAL: &'static str;
    fn create(store: &Store, spec: &Self) -> Result<Stored<Self>, Error>;
    fn get(store: &Store, id: i64) -> Result<Stored<Self>, Error>;
    fn list(store: &Store) -> Result<Vec<Stored<Self>>, Error>;
    fn update(store: &Store, id: i64, spec: &Self) -> Result<Stored<Self>, Error>;
    fn delete(store: &Store, id: i64) -> Result<(), Error>;
}

macro_rules! entity {
    ($type:ty, $name:literal, $plural:literal, $create:ident, $get:ident, $list:expr, $update:ident, $delete:ident) => {
        impl Entity for $type {
            const NAME: &'static str = $name;
            const PLURAL: &'static str = $plural;
            fn create(store: &Store, spec: &Self) -> Result<Stored<Self>, Error> {
                store.$create(spec)
            }
            fn get(store: &Store, id: i64) -> Result<Stored<Self>, Error> {
                store.$get(id)
            }
            fn list(store: &Store) -> Result<Vec<Stored<Self>>, Error> {
                $list(store)
            }
            fn update(store: &Store, id: i64, spec: &Self) -> Result<Stored<Self>, Error> {
                store.$update(id, spec)
            }
            fn delete(store: &Store, id: i64) -> Result<(), Error> {
                store.$delete(id)
            }
        }
    };
}

entity!(
    Shard,
    "shard",
    "shards",
    create_shard,
    get_shard,
    Store::list_shards,
    update_shard,
    delete_shard
);
entity!(
    Service,
    "service",
    "services",
    create_service,
    get_service,
    Store::list_services,
    update_service,
    delete_service
);
entity!(Farm, "farm", "farms", create_farm, get_farm, Store::list_farms, update_farm, delete_farm);
entity!(
    Project,
    "project",
    "projects",
    create_project,
    get_project,
    Store::list_projects,
    update_project,
    delete_project
);
entity!(
    Exporter,
    "exporter",
    "exporters",
    create_exporter,
    get_exporter,
    |store: &Store| store.list_exporters(None),
    update_exporter,
    delete_exporter
);

fn listing<E: Entity>(items: Vec<Stored<E>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ E::PLURAL: items }))
}

pub(crate) async fn list<E: Entity>(
    State(state): State<AppState>,
    QueryParams(_): QueryParams<crate::extract::NoFilters>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(listing(state.store(E::list).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExporterQuery {
    project: Option<String>,
}

/// `GET /api/v1/exporters`, optionally of one project (`?project=NAME`).
pub(crate) async fn list_exporters(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ExporterQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let exporters = state
        .blocking(move |store| {
            if let Some(name) = &query.project {
                known_project(store, name)?;
            }
            Ok(store.list_exporters(query.project.as_deref())?)
        })
        .await?;
    Ok(listing(exporters))
}

/// A filter that names nothing stored is a 422 naming it: an empty answer would read as
/// "nothing there" (no targets to scrape, no exporters) when the name is mistyped.
pub(crate) fn unknown(field: &str, what: &str, name: &str) -> ApiError {
    let problem = format!("no {what} named `{name}`");
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, problem.clone()).with_field(field, problem)
}

fn known_project(store: &Store, name: &str) -> Result<(), ApiError> {
    if store.list_projects()?.iter().any(|project| project.spec.name == name) {
        Ok(())
    } else {
        Err(unknown("project", "project", name))
    }
}

pub(crate) async fn create<E: Entity>(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<E>,
) -> Result<(StatusCode, Json<Stored<E>>), ApiError> {
    let stored = state.store(move |store| E::create(store, &spec)).await?;
    log::info!("created {} {}", E::NAME, stored.id);
    Ok((StatusCode::CREATED, Json(stored)))
}

pub(crate) async fn get<E: Entity>(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Stored<E>>, ApiError> {
    Ok(Json(state.store(move |store| E::get(store, id)).await?))
}

pub(crate) async fn replace<E: Entity>(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(spec): JsonBody<E>,
) -> Result<Json<Stored<E>>, ApiError> {
    let stored = state.store(move |store| E::update(store, id, &spec)).await?;
    log::info!("replaced {} {id}", E::NAME);
    Ok(Json(stored))
}

pub(crate) async fn delete<E: Entity>(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store(move |store| E::delete(store, id)).await?;
    log::info!("deleted {} {id}", E::NAME);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHost {
    name: String,
}

/// `POST /api/v1/farms/{id}/hosts`: adds one host; answers with the farm.
pub(crate) async fn add_host(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(host): JsonBody<NewHost>,
) -> Result<(StatusCode, Json<Stored<Farm>>), ApiError> {
    let farm = state.store(move |store| store.add_farm_host(id, &host.name)).await?;
    Ok((StatusCode::CREATED, Json(farm)))
}

/// `DELETE /api/v1/farms/{id}/hosts/{name}`: removes one host; answers with the farm.
pub(crate) async fn remove_host(
    State(state): State<AppState>,
    axum::extract::Path((id, host)): axum::extract::Path<(String, String)>,
) -> Result<Json<Stored<Farm>>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(state.store(move |store| store.remove_farm_host(id, &host)).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetsQuery {
    shard: Option<String>,
    service: Option<String>,
    project: Option<String>,
}

/// `GET /api/v1/targets`: the `file_sd` JSON, filtered, with an `ETag`.
pub(crate) async fn render(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<TargetsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let filter = Filter { shard: query.shard, service: query.service, project: query.project };
    let text = state
        .blocking(move |store| {
            if let Some(name) = &filter.shard
                && store.find_shard(name)?.is_none()
            {
                return Err(unknown("shard", "shard", name));
            }
            if let Some(name) = &filter.service
                && store.find_service(name)?.is_none()
            {
                return Err(unknown("service", "service", name));
            }
            if let Some(name) = &filter.project {
                known_project(store, name)?;
            }
            Ok(to_json(&file_sd(&store.load_targets()?, &filter)))
        })
        .await?;
    Ok(with_etag(&headers, "application/json", text.into_bytes()))
}
