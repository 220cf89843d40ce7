//! `/api/v1/rules`, `/api/v1/rules.yml`, and the original pipeline's `POST /rules`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promrules_model::{LintWarning, Page, Rule, RuleFilter, RuleKind, RulePatch, RuleSpec, Store};
use promrules_yaml::{RenderOptions, Selection};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Id, JsonBody, QueryParams};

/// The largest page a listing returns.
pub(crate) const MAX_PAGE: i64 = 1_000;
const DEFAULT_PAGE: i64 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    datasource_id: Option<i64>,
    group_id: Option<i64>,
    kind: Option<RuleKind>,
    enabled: Option<bool>,
    heal_enabled: Option<bool>,
    /// A search: `key=value` label terms and text in the name or expression.
    q: Option<String>,
    #[serde(default)]
    sort: promrules_model::RuleSort,
    limit: Option<i64>,
    #[serde(default)]
    offset: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct RuleList {
    rules: Vec<Rule>,
    total: i64,
    limit: i64,
    offset: i64,
}

/// Checks `limit` and `offset` of a listing.
pub(crate) fn page(limit: Option<i64>, offset: i64) -> Result<Page, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("`limit` must be between 1 and {MAX_PAGE}"))
            .with_field("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    if offset < 0 {
        return Err(ApiError::bad_request("`offset` must not be negative")
            .with_field("offset", "must not be negative"));
    }
    Ok(Page { limit: Some(limit), offset })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<RuleList>, ApiError> {
    let page = page(query.limit, query.offset)?;
    let filter = RuleFilter {
        datasource_id: query.datasource_id,
        group_id: query.group_id,
        kind: query.kind,
        enabled: query.enabled,
        heal_enabled: query.heal_enabled,
        sort: query.sort,
        page,
        ..RuleFilter::default()
    }
    .search(query.q.as_deref().unwrap_or_default());
    let (rules, total) = state
        .blocking(move |store| {
            known_filters(store, filter.group_id, filter.datasource_id)?;
            Ok((store.list_rules(&filter)?, store.count_rules(&filter)?))
        })
        .await?;
    Ok(Json(RuleList { rules, total, limit: page.limit.unwrap_or_default(), offset: page.offset }))
}

/// A written rule, with the lint warnings about it (left out when there are none).
#[derive(Debug, Serialize)]
pub(crate) struct Written {
    #[serde(flatten)]
    rule: Rule,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<LintWarning>,
}

/// `rule` with the warnings that lint finds about it among the rules of its group.
fn linted(store: &Store, rule: Rule) -> Result<Written, promrules_model::Error> {
    // Only the rule itself: loading its whole group on every write would make a burst of
    // writes quadratic. Duplicates across a group are `promrules-server lint`'s job.
    let neighbours = vec![rule.clone()];
    let groups = match rule.spec.group_id {
        Some(id) => store.get_group(id).map(|group| vec![group]).unwrap_or_default(),
        None => Vec::new(),
    };
    let warnings = promrules_model::lint(&neighbours, &groups)
        .into_iter()
        .filter(|warning| warning.rule_id == rule.id)
        .collect();
    Ok(Written { rule, warnings })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<RuleSpec>,
) -> Result<(StatusCode, Json<Written>), ApiError> {
    let written = state
        .store(move |store| {
            store.check_rule_references(&spec, None)?;
            linted(store, store.create_rule(&spec)?)
        })
        .await?;
    log::info!(rule = written.rule.id, actor:% = crate::auth::current_actor(); "created rule {} (`{}`)", written.rule.id, written.rule.display_name());
    Ok((StatusCode::CREATED, Json(written)))
}

pub(crate) async fn get(State(state): State<AppState>, Id(id): Id) -> Result<Json<Rule>, ApiError> {
    Ok(Json(state.store(move |store| store.get_rule(id)).await?))
}

pub(crate) async fn replace(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(spec): JsonBody<RuleSpec>,
) -> Result<Json<Written>, ApiError> {
    let written = state
        .store(move |store| {
            store.check_rule_references(&spec, Some(&store.get_rule(id)?.spec))?;
            linted(store, store.update_rule(id, &spec)?)
        })
        .await?;
    log::info!(rule = id, actor:% = crate::auth::current_actor(); "replaced rule {id} (`{}`)", written.rule.display_name());
    Ok(Json(written))
}

pub(crate) async fn patch(
    State(state): State<AppState>,
    Id(id): Id,
    JsonBody(patch): JsonBody<RulePatch>,
) -> Result<Json<Written>, ApiError> {
    let written = state
        .store(move |store| {
            let before = store.get_rule(id)?.spec;
            let mut after = before.clone();
            patch.clone().apply(&mut after);
            store.check_rule_references(&after, Some(&before))?;
            linted(store, store.patch_rule(id, patch)?)
        })
        .await?;
    log::info!(rule = id, actor:% = crate::auth::current_actor(); "patched rule {id} (`{}`)", written.rule.display_name());
    Ok(Json(written))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store(move |store| store.delete_rule(id)).await?;
    log::info!(rule = id, actor:% = crate::auth::current_actor(); "deleted rule {id}");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenderQuery {
    datasource_id: Option<i64>,
    /// The datasource by the shard's name.
    shard: Option<String>,
    #[serde(default)]
    heal_only: bool,
    #[serde(default)]
    include_disabled: bool,
    /// The file as it was right after this revision.
    revision: Option<i64>,
}

/// A filter that names no group or datasource is a 422 naming it, not an empty answer: each
/// is a stored one or a number rules carry (the original pipeline's clients numbered them
/// freely), so one that is neither is a typo.
fn known_filters(
    store: &Store,
    group_id: Option<i64>,
    datasource_id: Option<i64>,
) -> Result<(), ApiError> {
    let unknown = |field: &str, problem: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, problem.clone()).with_field(field, problem)
    };
    if let Some(id) = group_id
        && !store.is_group(id)?
    {
        return Err(unknown("group_id", format!("no group and no rule has group {id}")));
    }
    if let Some(id) = datasource_id
        && !store.is_datasource(id)?
    {
        return Err(unknown("datasource_id", format!("no shard and no rule has datasource {id}")));
    }
    Ok(())
}

/// The rendered rule file, with an `ETag` so that pollers can skip unchanged content.
pub(crate) async fn render_file(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<RenderQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut options = RenderOptions {
        selection: Selection {
            datasources: query.datasource_id.into_iter().collect(),
            heal_only: query.heal_only,
            include_disabled: query.include_disabled,
        },
        heal_label: state.config.heal_label.clone(),
    };
    let text = state
        .blocking(move |store| {
            if let Some(name) = &query.shard {
                let shard = store
                    .find_shard(name)?
                    .ok_or_else(|| crate::targets::unknown("shard", "shard", name))?;
                options.selection.datasources.push(shard.id);
            }
            known_filters(store, None, query.datasource_id)?;
            let snapshot = match query.revision {
                Some(number) => store.snapshot_at(number)?,
                None => store.snapshot()?,
            };
            Ok(promrules_yaml::render(&snapshot.rules, &snapshot.groups, &options))
        })
        .await?;
    Ok(with_etag(&headers, "application/yaml; charset=utf-8", text.into_bytes()))
}

/// Answers `body` with a content hash as `ETag`, or 304 when the client already has it.
pub(crate) fn with_etag(
    request: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let digest = Sha256::digest(&body);
    let etag =
        format!("\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let etag_value = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(',').any(|candidate| candidate.trim() == etag || candidate.trim() == "*")
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag_value),
        ],
        body,
    )
        .into_response()
}

/// The original Flask pipeline's payload for `POST /rules`, with its defaults.
///
/// Unknown keys are ignored, as Flask's `request.json.get(...)` did, so its clients keep
/// working unchanged.
#[derive(Debug, Deserialize)]
pub(crate) struct CompatRule {
    expression: String,
    #[serde(default = "compat_duration")]
    duration: Option<String>,
    #[serde(default = "compat_severity")]
    severity: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    description: Option<String>,
    datasource_id: Option<i64>,
    group_id: Option<i64>,
    #[serde(default)]
    heal_enabled: Option<bool>,
}

fn compat_duration() -> Option<String> {
    Some("1m".to_owned())
}

fn compat_severity() -> String {
    promrules_model::DEFAULT_SEVERITY.to_owned()
}

#[derive(Debug, Serialize)]
pub(crate) struct CompatCreated {
    status: &'static str,
    id: i64,
}

pub(crate) async fn create_compat(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CompatRule>,
) -> Result<(StatusCode, Json<CompatCreated>), ApiError> {
    let spec = RuleSpec {
        // The original stored `""` for "no for"; an explicit null meant the same.
        for_duration: body.duration.filter(|duration| !duration.is_empty()),
        severity: body.severity,
        summary: body.summary.unwrap_or_default(),
        description: body.description.unwrap_or_default(),
        datasource_id: body.datasource_id,
        group_id: body.group_id,
        heal_enabled: body.heal_enabled.unwrap_or(false),
        ..RuleSpec::alert(body.expression)
    };
    let rule = state.store(move |store| store.create_rule(&spec)).await?;
    log::info!("created rule {} through the compatibility route", rule.id);
    Ok((StatusCode::CREATED, Json(CompatCreated { status: "created", id: rule.id })))
}
