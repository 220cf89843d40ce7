//! `POST /api/v1/import`: a Prometheus rule file as the body (`Content-Type:
//! application/yaml`), upserted like `promrules-server import`: query `prune`, `dry_run`
//! and `datasource`. Answers the counts and each rule's change; a bad file is 422 naming
//! the file position, group and rule, and stores nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promrules_model::{ImportAction, ImportOptions, ImportReport, LintWarning};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{QueryParams, YamlBody};

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

/// Imports `groups` and answers the report with the lint warnings about what it wrote.
fn import_groups(
    store: &promrules_model::Store,
    groups: &[promrules_model::GroupedRules],
    options: ImportOptions,
) -> Result<Imported, ApiError> {
    let report = store.import(groups, options)?;
    log::info!(
        "import{}: created {}, updated {}, deleted {}, unchanged {}",
        if options.dry_run { " (dry run)" } else { "" },
        report.created,
        report.updated,
        report.deleted,
        report.unchanged
    );
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
}

pub(crate) async fn import(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ImportQuery>,
    YamlBody(text): YamlBody,
) -> Result<Json<Imported>, ApiError> {
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
            import_groups(store, &file.groups, options)
        })
        .await?;
    Ok(Json(imported))
}
