//! `POST /api/v1/rules/test`: a promtool unit-test file as the body (`Content-Type:
//! application/yaml`), run by `promtool test rules` against the stored rules rendered to a
//! temp file (query `revision`, `datasource_id`). 200 when every test passes, 422 with
//! promtool's output when one fails, 503 when the server has no promtool.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promrules_yaml::{RenderOptions, Selection};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{QueryParams, YamlBody};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestQuery {
    /// Test the rules as they were right after this revision.
    revision: Option<i64>,
    datasource_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Verdict {
    passed: bool,
    /// The revision whose rules were tested.
    revision: i64,
    /// promtool's output.
    output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub(crate) async fn test(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<TestQuery>,
    YamlBody(tests): YamlBody,
) -> Result<Response, ApiError> {
    let promtool = state
        .config
        .promtool
        .clone()
        .or_else(promrules_prometheus::find_promtool)
        .ok_or_else(|| ApiError::unavailable("promtool is not on the server's PATH"))?;
    let heal_label = state.config.heal_label.clone();
    let verdict = state
        .blocking(move |store| {
            let snapshot = match query.revision {
                Some(number) => store.snapshot_at(number)?,
                None => store.snapshot()?,
            };
            let selection = Selection {
                datasources: query.datasource_id.into_iter().collect(),
                ..Selection::default()
            };
            let options = RenderOptions { selection, heal_label };
            let rendered = promrules_yaml::render(&snapshot.rules, &snapshot.groups, &options);
            let verdict = promrules_prometheus::test_rules(&promtool, &rendered, &tests).map_err(
                |error| {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
                        .with_field("body", error.to_string())
                },
            )?;
            Ok(Verdict {
                passed: verdict.passed,
                revision: snapshot.revision,
                error: (!verdict.passed).then(|| "rule unit tests failed".to_owned()),
                output: verdict.output,
            })
        })
        .await?;
    log::info!(
        "rule unit tests against revision {}: {}",
        verdict.revision,
        if verdict.passed { "passed" } else { "failed" }
    );
    let status = if verdict.passed { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(verdict)).into_response())
}
