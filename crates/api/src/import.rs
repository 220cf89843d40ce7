//! `POST /api/v1/import`: a Prometheus rule file as the body (`Content-Type:
//! application/yaml`), upserted like `promrules-server import`: query `prune`, `dry_run`
//! and `datasource`. Answers the counts and each rule's change; a bad file is 422 naming
//! the file position, group and rule, and stores nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use promrules_model::{ImportAction, ImportOptions, ImportReport, LintWarning};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::QueryParams;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
    /// The datasource of the rules the import creates.
    datasource: Option<i64>,
}

/// The import's report, with lint warnings about the rules it created or updated.
#[derive(Debug, Serialize)]
pub(crate) struct Imported {
    #[serde(flatten)]
    report: ImportReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<LintWarning>,
}

pub(crate) async fn import(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Imported>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let mime = content_type
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if !matches!(
        mime.as_deref(),
        Some("application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml")
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "expected `Content-Type: application/yaml` (a Prometheus rule file), got {}",
                content_type.map_or("none".to_owned(), |t| format!("`{t}`"))
            ),
        ));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("the rule file is not UTF-8 text"))?;
    let heal_label = state.config.heal_label.clone();
    let options = ImportOptions {
        datasource_id: query.datasource,
        prune: query.prune,
        dry_run: query.dry_run,
    };
    let imported = state
        .blocking(move |store| {
            let file =
                promrules_yaml::parse(&text, "request body", &heal_label).map_err(|error| {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
                        .with_field("file", error.to_string())
                })?;
            let report = store.import(&file.groups, options)?;
            let written: Vec<i64> = report
                .changes
                .iter()
                .filter(|change| change.action != ImportAction::Deleted)
                .filter_map(|change| change.id)
                .collect();
            let snapshot = store.snapshot()?;
            let warnings = promrules_model::lint(&snapshot.rules, &snapshot.groups)
                .into_iter()
                .filter(|warning| written.contains(&warning.rule_id))
                .collect();
            Ok(Imported { report, warnings })
        })
        .await?;
    let Imported { report, .. } = &imported;
    log::info!(
        "import{}: created {}, updated {}, deleted {}, unchanged {}",
        if options.dry_run { " (dry run)" } else { "" },
        report.created,
        report.updated,
        report.deleted,
        report.unchanged
    );
    Ok(Json(imported))
}
