//! The rules list: search, filters, sort, pages of 50, lint badges, enable/disable in place.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use promrules_api::Scope;
use promrules_model::{Group, Page, Rule, RuleFilter, RuleKind, RulePatch, RuleSort};
use serde::Deserialize;

use crate::form::Posted;
use crate::session::Viewer;
use crate::view::Chrome;
use crate::{Web, WebError, needs};

/// Rules per page.
pub(crate) const PAGE_SIZE: i64 = 50;

/// The list's query string; every field optional, so a bookmark keeps working.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    datasource: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    heal: String,
    #[serde(default)]
    sort: String,
    page: Option<i64>,
}

/// One rule as a row of the list.
#[derive(Debug, Clone)]
pub(crate) struct RuleRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) group: String,
    pub(crate) datasource: String,
    pub(crate) expression: String,
    pub(crate) summary: String,
    pub(crate) severity: String,
    pub(crate) heal: bool,
    pub(crate) enabled: bool,
    /// Lint findings: code and message.
    pub(crate) warnings: Vec<(&'static str, String)>,
}

impl RuleRow {
    pub(crate) fn new(
        rule: &Rule,
        groups: &[Group],
        warnings: Vec<(&'static str, String)>,
    ) -> RuleRow {
        let group = match rule.spec.group_id {
            Some(id) => groups
                .iter()
                .find(|group| group.id == id)
                .map_or_else(|| format!("#{id}"), |group| group.spec.name.clone()),
            None => "default".to_owned(),
        };
        RuleRow {
            id: rule.id,
            name: rule.display_name().into_owned(),
            kind: rule.spec.kind.as_str(),
            group,
            datasource: rule
                .spec
                .datasource_id
                .map_or_else(|| "all".to_owned(), |id| id.to_string()),
            expression: rule.spec.expression.clone(),
            summary: rule.spec.summary.clone(),
            severity: rule.spec.severity.clone(),
            heal: rule.spec.heal_enabled,
            enabled: rule.spec.enabled,
            warnings,
        }
    }
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    chrome: Chrome,
    rows: Vec<RuleRow>,
    groups: Vec<Group>,
    total: i64,
    stored: i64,
    page: i64,
    pages: i64,
    q: String,
    group: String,
    datasource: String,
    kind: String,
    enabled: String,
    heal: String,
    sort: String,
    /// The query string without `page`, for the pager and the toggles' way back.
    base: String,
    problem: Option<String>,
}

impl RulesPage {
    fn filtered(&self) -> bool {
        !(self.q.is_empty()
            && self.group.is_empty()
            && self.datasource.is_empty()
            && self.kind.is_empty()
            && self.enabled.is_empty()
            && self.heal.is_empty())
    }

    fn page_link(&self, page: i64) -> String {
        format!("/ui/rules?{}page={page}", self.base)
    }

    fn here(&self) -> String {
        self.page_link(self.page)
    }

    fn selected(&self, value: &str, current: &str) -> &'static str {
        if value == current { "selected" } else { "" }
    }
}

#[derive(Template)]
#[template(path = "rule_row.html")]
struct RowFragment {
    chrome: Chrome,
    row: RuleRow,
    here: String,
}

/// `yes`/`no`/empty as a filter; anything else names the field.
fn yes_no(field: &str, value: &str) -> Result<Option<bool>, String> {
    match value {
        "" => Ok(None),
        "yes" => Ok(Some(true)),
        "no" => Ok(Some(false)),
        other => Err(format!("`{field}` must be yes or no, not `{other}`")),
    }
}

fn number(field: &str, value: &str) -> Result<Option<i64>, String> {
    match value.trim() {
        "" => Ok(None),
        text => {
            text.parse().map(Some).map_err(|_| format!("`{field}` must be a number, not `{text}`"))
        }
    }
}

fn filter_of(query: &ListQuery) -> Result<RuleFilter, String> {
    let kind = match query.kind.as_str() {
        "" => None,
        kind => Some(kind.parse::<RuleKind>()?),
    };
    let sort = match query.sort.as_str() {
        "" | "id" => RuleSort::Id,
        "name" => RuleSort::Name,
        "updated" => RuleSort::Updated,
        other => return Err(format!("`sort` must be id, name or updated, not `{other}`")),
    };
    let page = query.page.unwrap_or(1).max(1);
    Ok(RuleFilter {
        datasource_id: number("datasource", &query.datasource)?,
        group_id: number("group", &query.group)?,
        kind,
        enabled: yes_no("enabled", &query.enabled)?,
        heal_enabled: yes_no("heal", &query.heal)?,
        sort,
        page: Page { limit: Some(PAGE_SIZE), offset: (page - 1) * PAGE_SIZE },
        ..RuleFilter::default()
    }
    .search(&query.q))
}

/// The lint findings about `rules`, by rule id.
pub(crate) fn lint_by_rule(
    rules: &[Rule],
    groups: &[Group],
) -> BTreeMap<i64, Vec<(&'static str, String)>> {
    let mut found: BTreeMap<i64, Vec<(&'static str, String)>> = BTreeMap::new();
    for warning in promrules_model::lint(rules, groups) {
        found.entry(warning.rule_id).or_default().push((warning.code, warning.message));
    }
    found
}

pub(crate) async fn list(
    State(web): State<Web>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let (filter, problem) = match filter_of(&query) {
        Ok(filter) => (filter, None),
        Err(problem) => (
            RuleFilter {
                page: Page { limit: Some(PAGE_SIZE), offset: 0 },
                ..RuleFilter::default()
            },
            Some(problem),
        ),
    };
    let offset = filter.page.offset;
    let (rules, total, stored, groups) = web
        .store(&viewer, move |store| {
            let rules = store.list_rules(&filter)?;
            let total = store.count_rules(&filter)?;
            let stored = if filter == RuleFilter::default() {
                total
            } else {
                store.count_rules(&RuleFilter::default())?
            };
            Ok((rules, total, stored, store.list_groups(Page::default())?))
        })
        .await?;
    let mut lint = lint_by_rule(&rules, &groups);
    let rows = rules
        .iter()
        .map(|rule| RuleRow::new(rule, &groups, lint.remove(&rule.id).unwrap_or_default()))
        .collect();
    let base = crate::view::query_base(&[
        ("q", &query.q),
        ("group", &query.group),
        ("datasource", &query.datasource),
        ("kind", &query.kind),
        ("enabled", &query.enabled),
        ("heal", &query.heal),
        ("sort", &query.sort),
    ]);
    let page = RulesPage {
        chrome: Chrome::new(&viewer, "rules"),
        rows,
        groups,
        total,
        stored,
        page: offset / PAGE_SIZE + 1,
        pages: crate::view::page_count(total, PAGE_SIZE),
        q: query.q,
        group: query.group,
        datasource: query.datasource,
        kind: query.kind,
        enabled: query.enabled,
        heal: query.heal,
        sort: query.sort,
        base,
        problem,
    };
    super::page(&page)
}

/// `POST /ui/rules/{id}/enabled`: turns a rule on or off; htmx gets the new row.
pub(crate) async fn set_enabled(
    State(web): State<Web>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let enabled = form.checked("enabled");
    let here = super::local_page(form.get("return_to"), "/ui/rules");
    let (rule, groups) = web
        .store(&viewer, move |store| {
            let patch = RulePatch { enabled: Some(enabled), ..RulePatch::default() };
            let rule = store.patch_rule(id, patch)?;
            Ok((rule, store.list_groups(Page::default())?))
        })
        .await?;
    web.app.rollout().rules_changed();
    log::info!(rule = id, actor = viewer.actor.as_str(); "ui: {} rule {id} (`{}`)", if enabled { "enabled" } else { "disabled" }, rule.display_name());
    if super::is_htmx(&headers) {
        let warnings =
            lint_by_rule(std::slice::from_ref(&rule), &groups).remove(&id).unwrap_or_default();
        let fragment = RowFragment {
            chrome: Chrome::new(&viewer, "rules"),
            row: RuleRow::new(&rule, &groups, warnings),
            here,
        };
        return super::page(&fragment);
    }
    Ok(super::see_other(&here))
}
