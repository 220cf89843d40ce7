//! `/api/v1/slos`: service level objectives as stored objects. A body is an SLO
//! (`promrules_slo::Slo` as JSON); each write stores it and makes its generated groups
//! exactly its burn-rate rules, as one revision, and answers the SLO with what the write did
//! to the rules (`report`). `POST /api/v1/slos/import` takes a sloth `prometheus/v1` spec
//! (YAML) and upserts its SLOs by `sloth_id`. A bad SLO is a 422 naming each field (for an
//! import, `<sloth_id>.<field>`), and stores nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use promrules_model::{RuleRevision, SloImportOptions, SloReport, Store, StoredSlo};
use promrules_slo::{Period, Slo, SloError};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, QueryParams, YamlBody};

/// A stored SLO as the API shows it: the SLO's own fields, and what the store adds.
#[derive(Debug, Serialize)]
pub(crate) struct SloView {
    id: i64,
    /// `service-name`, the `sloth_id` label of its rules.
    sloth_id: String,
    /// The rule groups generated from it (none while it is disabled).
    groups: Vec<String>,
    #[serde(flatten)]
    slo: Slo,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl SloView {
    fn new(stored: StoredSlo) -> Result<SloView, ApiError> {
        let slo = promrules_slo::from_stored(&stored)
            .map_err(|error| ApiError::internal(error.to_string()))?;
        Ok(SloView {
            id: stored.id,
            sloth_id: stored.record.sloth_id,
            groups: stored.record.groups,
            slo,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        })
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct SloList {
    slos: Vec<SloView>,
    total: usize,
}

/// A written SLO and what the write did to its rules.
#[derive(Debug, Serialize)]
pub(crate) struct Written {
    #[serde(flatten)]
    slo: SloView,
    report: SloReport,
}

/// The answer to a refused SLO write: a 422 naming each field (prefixed with the SLO for an
/// import, where one body holds several), or the store's own error.
fn refused(error: SloError, prefixed: bool) -> ApiError {
    let mut refusal = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string());
    match error {
        SloError::Invalid { slo, errors } => {
            for (field, problem) in errors.fields() {
                let field = if prefixed { format!("{slo}.{field}") } else { field.clone() };
                refusal = refusal.with_field(field, problem.clone());
            }
        }
        SloError::Spec { problem, .. } => refusal = refusal.with_field("file", problem),
        SloError::Store(error) => return ApiError::from(error),
    }
    refusal
}

fn log_write(action: &str, sloth_id: &str, report: &SloReport) {
    let rules = &report.rules;
    log::info!(
        "{action} SLO `{sloth_id}`: rules created {}, updated {}, deleted {}, unchanged {}",
        rules.created,
        rules.updated,
        rules.deleted,
        rules.unchanged
    );
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(_): QueryParams<crate::extract::NoFilters>,
) -> Result<Json<SloList>, ApiError> {
    let stored = state.store(Store::list_slos).await?;
    let slos = stored.into_iter().map(SloView::new).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(SloList { total: slos.len(), slos }))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<SloView>, ApiError> {
    Ok(Json(SloView::new(state.store(move |store| store.get_slo(id)).await?)?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(slo): JsonBody<Slo>,
) -> Result<(StatusCode, Json<Written>), ApiError> {
    let (stored, report) = state
        .blocking(move |store| {
            promrules_slo::save(store, None, &slo).map_err(|e| refused(e, false))
        })
        .await?;
    log_write("created", &stored.record.sloth_id, &report);
    Ok((StatusCode::CREATED, Json(Written { slo: SloView::new(stored)?, report })))
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(slo): JsonBody<Slo>,
) -> Result<Json<Written>, ApiError> {
    let (stored, report) = state
        .blocking(move |store| {
            promrules_slo::save(store, Some(id), &slo).map_err(|e| refused(e, false))
        })
        .await?;
    log_write("updated", &stored.record.sloth_id, &report);
    Ok(Json(Written { slo: SloView::new(stored)?, report }))
}

/// `DELETE /api/v1/slos/{id}`: the SLO and its generated groups and rules; answers what
/// went.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<SloReport>, ApiError> {
    let report = state.store(move |store| store.delete_slo(id)).await?;
    log_write("deleted", &format!("{id}"), &report);
    Ok(Json(report))
}

#[derive(Debug, Serialize)]
pub(crate) struct History {
    slo_id: i64,
    revisions: Vec<RuleRevision>,
}

/// `GET /api/v1/slos/{id}/history`: newest first, also for a deleted SLO.
pub(crate) async fn history(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<History>, ApiError> {
    let revisions = state.store(move |store| store.slo_history(id)).await?;
    Ok(Json(History { slo_id: id, revisions }))
}

/// The query of `POST /api/v1/slos/import` (no `serde(flatten)`: it reads query numbers and
/// booleans as strings).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// Delete the stored SLOs of the spec's service that it no longer has.
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
    /// The datasource of the SLOs' rules.
    datasource: Option<i64>,
    /// `30d` (default) or `28d`.
    period: Option<String>,
}

/// `POST /api/v1/slos/import`: a sloth SLO spec (`prometheus/v1`) as the body.
pub(crate) async fn import(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ImportQuery>,
    YamlBody(text): YamlBody,
) -> Result<Json<SloReport>, ApiError> {
    let period: Period = match query.period.as_deref().map(str::parse).transpose() {
        Ok(period) => period.unwrap_or_default(),
        Err(problem) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid `period`: {problem}"),
            )
            .with_field("period", problem));
        }
    };
    let settings = promrules_slo::ImportSettings {
        period,
        datasource: query.datasource,
        options: SloImportOptions { prune: query.prune, dry_run: query.dry_run },
    };
    let report = state
        .blocking(move |store| {
            promrules_slo::import(store, &text, "request body", settings)
                .map_err(|error| refused(error, true))
        })
        .await?;
    log::info!(
        "SLO import{}: SLOs created {}, updated {}, deleted {}, unchanged {}; rules created {}, updated {}, deleted {}, unchanged {}",
        if settings.options.dry_run { " (dry run)" } else { "" },
        report.slos_created,
        report.slos_updated,
        report.slos_deleted,
        report.slos_unchanged,
        report.rules.created,
        report.rules.updated,
        report.rules.deleted,
        report.rules.unchanged
    );
    Ok(Json(report))
}
