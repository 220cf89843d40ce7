//! One rule: the create/edit form with every field, errors beside the fields they name,
//! validation as you type (`POST /ui/rules/check`), the rendered YAML, and its history.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promrules_api::Scope;
use promrules_model::{Error, Group, Page, Rule, RuleKind, RuleSpec};
use promrules_yaml::{RenderOptions, Selection};
use serde::Deserialize;

use crate::form::{FormData, Posted};
use crate::session::Viewer;
use crate::view::{Chrome, DiffLine, Time};
use crate::{Web, WebError, needs};

/// The fields errors are shown beside; anything else is listed above the form.
const FIELDS: [&str; 13] = [
    "kind",
    "name",
    "expression",
    "for",
    "keep_firing_for",
    "severity",
    "summary",
    "description",
    "datasource_id",
    "group_id",
    "heal_enabled",
    "labels",
    "annotations",
];

/// One revision that touched the rule, with its diff.
#[derive(Debug)]
pub(crate) struct HistoryEntry {
    pub(crate) number: i64,
    pub(crate) at: Time,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) diff: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RuleForm {
    chrome: Chrome,
    /// `None` for a new rule.
    id: Option<i64>,
    title: String,
    spec: RuleSpec,
    groups: Vec<Group>,
    errors: BTreeMap<String, String>,
    /// Problems that name no field of the form (a conflict, a missing group).
    general: Vec<String>,
    preview: String,
    history: Vec<HistoryEntry>,
    /// am-executor's latest runs and skips for alerts of this rule's name.
    heal_runs: Vec<HealRunEntry>,
    saved: bool,
    updated: Option<Time>,
}

/// One heal run, as the rule page lists it.
pub(crate) struct HealRunEntry {
    pub(crate) at: Time,
    pub(crate) outcome: String,
    pub(crate) command: String,
    /// Exit code or signal, duration, reason.
    pub(crate) detail: String,
    pub(crate) reporter: String,
}

/// How many heal runs the rule page shows.
const HEAL_RUNS_SHOWN: i64 = 20;

fn heal_runs(store: &promrules_model::Store, name: &str) -> Result<Vec<HealRunEntry>, WebError> {
    let filter = promrules_model::HealRunFilter { alertname: Some(name.to_owned()), since: None };
    let (runs, _) =
        store.list_heal_runs(&filter, Page { limit: Some(HEAL_RUNS_SHOWN), offset: 0 })?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let spec = run.spec;
            let mut detail = Vec::new();
            if let Some(code) = spec.exit_code {
                detail.push(format!("exit {code}"));
            }
            if let Some(signal) = spec.signal {
                detail.push(format!("signal {signal}"));
            }
            if let Some(ms) = spec.duration_ms {
                detail.push(format!("{:.1} s", ms as f64 / 1000.0));
            }
            detail.extend(spec.reason);
            HealRunEntry {
                at: Time::new(spec.time),
                outcome: spec.outcome,
                command: spec.command.join(" "),
                detail: detail.join(", "),
                reporter: run.reporter,
            }
        })
        .collect())
}

impl RuleForm {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    fn invalid(&self, field: &str) -> &'static str {
        if self.errors.contains_key(field) { "true" } else { "false" }
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/ui/rules/{id}"),
            None => "/ui/rules".to_owned(),
        }
    }

    fn kv_rows(map: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> =
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        rows.push((String::new(), String::new()));
        rows
    }

    fn labels(&self) -> Vec<(String, String)> {
        RuleForm::kv_rows(&self.spec.labels)
    }

    fn annotations(&self) -> Vec<(String, String)> {
        RuleForm::kv_rows(&self.spec.annotations)
    }

    fn group_selected(&self, id: &i64) -> &'static str {
        if self.spec.group_id == Some(*id) { "selected" } else { "" }
    }

    fn is_record(&self) -> bool {
        self.spec.kind == RuleKind::Record
    }

    fn datasource(&self) -> String {
        self.spec.datasource_id.map(|id| id.to_string()).unwrap_or_default()
    }
}

/// The live-validation answer: each field's error (swapped out of band) and the preview.
#[derive(Template)]
#[template(path = "rule_check.html")]
struct Checked {
    fields: Vec<(&'static str, String)>,
    general: Vec<String>,
    preview: String,
}

/// The form's fields as a rule, and the problems of fields that did not even parse.
fn spec_from(form: &FormData) -> (RuleSpec, BTreeMap<String, String>) {
    let mut problems = BTreeMap::new();
    let kind = match form.text("kind").as_str() {
        "" => RuleKind::Alert,
        text => text.parse().unwrap_or_else(|problem: String| {
            problems.insert("kind".to_owned(), problem);
            RuleKind::Alert
        }),
    };
    let mut number = |field: &str| {
        form.number(field).unwrap_or_else(|(field, problem)| {
            problems.insert(field, problem);
            None
        })
    };
    let datasource_id = number("datasource_id");
    let group_id = number("group_id");
    let spec = RuleSpec {
        kind,
        name: form.optional("name"),
        expression: form.get("expression").unwrap_or_default().trim_end().to_owned(),
        for_duration: form.optional("for"),
        keep_firing_for: form.optional("keep_firing_for"),
        severity: form.text("severity"),
        summary: form.text("summary"),
        description: form.get("description").unwrap_or_default().trim().to_owned(),
        datasource_id,
        group_id,
        heal_enabled: form.checked("heal_enabled"),
        enabled: form.checked("enabled"),
        labels: form.pairs("label_key", "label_value"),
        annotations: form.pairs("annotation_key", "annotation_value"),
    };
    (spec, problems)
}

/// Splits validation problems into the form's fields and the rest.
fn place(fields: &BTreeMap<String, String>) -> (BTreeMap<String, String>, Vec<String>) {
    let mut placed = BTreeMap::new();
    let mut general = Vec::new();
    for (field, problem) in fields {
        let (home, detail) = match field.split_once('.') {
            Some((home @ ("labels" | "annotations"), key)) => (home, format!("`{key}` {problem}")),
            _ => (field.as_str(), problem.clone()),
        };
        if FIELDS.contains(&home) {
            let entry: &mut String = placed.entry(home.to_owned()).or_default();
            if !entry.is_empty() {
                entry.push_str("; ");
            }
            entry.push_str(&detail);
        } else {
            general.push(format!("`{field}` {problem}"));
        }
    }
    (placed, general)
}

/// The rule rendered alone, as it will appear in the file.
fn preview(web: &Web, id: i64, spec: &RuleSpec, groups: &[Group]) -> String {
    let now = chrono::Utc::now();
    let rule = Rule { id, spec: spec.clone(), created_at: now, updated_at: now };
    let options = RenderOptions {
        selection: Selection { include_disabled: true, ..Selection::default() },
        heal_label: web.app.config().heal_label.clone(),
    };
    promrules_yaml::render(&[rule], groups, &options)
}

fn history(store: &promrules_model::Store, id: i64) -> Result<Vec<HistoryEntry>, WebError> {
    Ok(store
        .rule_history(id)?
        .into_iter()
        .map(|revision| HistoryEntry {
            number: revision.number,
            at: Time::new(revision.created_at),
            actor: revision.actor,
            action: revision.action,
            diff: crate::view::diff(
                &crate::view::yaml(revision.before.as_ref()),
                &crate::view::yaml(revision.after.as_ref()),
            ),
        })
        .collect())
}

fn groups(store: &promrules_model::Store) -> Result<Vec<Group>, WebError> {
    Ok(store.list_groups(Page::default())?)
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditQuery {
    #[serde(default)]
    saved: bool,
}

pub(crate) async fn new(State(web): State<Web>, viewer: Viewer) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let groups = web.store(&viewer, groups).await?;
    let spec = RuleSpec::alert("");
    let form = RuleForm {
        chrome: Chrome::new(&viewer, "rules"),
        id: None,
        title: "New rule".to_owned(),
        preview: String::new(),
        spec,
        groups,
        errors: BTreeMap::new(),
        general: Vec::new(),
        history: Vec::new(),
        heal_runs: Vec::new(),
        saved: false,
        updated: None,
    };
    super::page(&form)
}

pub(crate) async fn edit(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(query): Query<EditQuery>,
) -> Result<Response, WebError> {
    let (rule, groups, history, runs) = web
        .store(&viewer, move |store| {
            let rule = store.get_rule(id)?;
            let runs = heal_runs(store, &rule.display_name())?;
            Ok((rule, groups(store)?, history(store, id)?, runs))
        })
        .await?;
    let form = RuleForm {
        chrome: Chrome::new(&viewer, "rules"),
        id: Some(id),
        title: rule.display_name().into_owned(),
        preview: preview(&web, id, &rule.spec, &groups),
        updated: Some(Time::new(rule.updated_at)),
        spec: rule.spec,
        groups,
        errors: BTreeMap::new(),
        general: Vec::new(),
        history,
        heal_runs: runs,
        saved: query.saved,
    };
    super::page(&form)
}

/// Creates (`id` `None`) or replaces a rule from the form; on problems, the form again
/// with each beside its field (422).
async fn save(
    web: Web,
    viewer: Viewer,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let (spec, problems) = spec_from(&form);
    let attempt = spec.clone();
    let written = web
        .store(&viewer, move |store| {
            if !problems.is_empty() {
                return Ok(Err(problems));
            }
            let before = id.map(|id| store.get_rule(id)).transpose()?;
            let written = store
                .check_rule_references(&attempt, before.as_ref().map(|rule| &rule.spec))
                .and_then(|()| match id {
                    Some(id) => store.update_rule(id, &attempt),
                    None => store.create_rule(&attempt),
                });
            match written {
                Ok(rule) => Ok(Ok(rule)),
                Err(Error::Invalid(errors)) => Ok(Err(errors.fields().clone())),
                Err(Error::Conflict(message)) => {
                    Ok(Err(BTreeMap::from([("rule".to_owned(), message)])))
                }
                Err(Error::Missing(message)) => {
                    Ok(Err(BTreeMap::from([("group_id".to_owned(), message)])))
                }
                Err(error) => Err(error.into()),
            }
        })
        .await?;
    match written {
        Ok(rule) => {
            web.app.rollout().rules_changed();
            log::info!(rule = rule.id, actor = viewer.actor.as_str(); "ui: {} rule {} (`{}`)", if id.is_some() { "replaced" } else { "created" }, rule.id, rule.display_name());
            Ok(super::see_other(&format!("/ui/rules/{}?saved=true", rule.id)))
        }
        Err(fields) => {
            let (errors, general) = place(&fields);
            let (groups, history) = web
                .store(&viewer, move |store| {
                    let history = match id {
                        Some(id) => history(store, id)?,
                        None => Vec::new(),
                    };
                    Ok((groups(store)?, history))
                })
                .await?;
            let page = RuleForm {
                chrome: Chrome::new(&viewer, "rules"),
                id,
                title: if id.is_some() { "Edit rule".to_owned() } else { "New rule".to_owned() },
                preview: preview(&web, id.unwrap_or_default(), &spec, &groups),
                spec,
                groups,
                errors,
                general,
                history,
                heal_runs: Vec::new(),
                saved: false,
                updated: None,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, super::page(&page)?).into_response())
        }
    }
}

pub(crate) async fn create(
    State(web): State<Web>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    save(web, viewer, None, form).await
}

pub(crate) async fn update(
    State(web): State<Web>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    save(web, viewer, Some(id), form).await
}

pub(crate) async fn delete(
    State(web): State<Web>,
    Path(id): Path<i64>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    web.store(&viewer, move |store| Ok(store.delete_rule(id)?)).await?;
    web.app.rollout().rules_changed();
    log::info!(rule = id, actor = viewer.actor.as_str(); "ui: deleted rule {id}");
    Ok(super::see_other("/ui/rules"))
}

/// `POST /ui/rules/check`: validates the form as typed; nothing is stored.
pub(crate) async fn check(
    State(web): State<Web>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    let (spec, mut problems) = spec_from(&form);
    let id = form.number("id").ok().flatten().unwrap_or_default();
    if let Err(errors) = spec.validate() {
        for (field, problem) in errors.fields() {
            problems.entry(field.clone()).or_insert_with(|| problem.clone());
        }
    }
    let (placed, general) = place(&problems);
    let groups = web.store(&viewer, groups).await?;
    let checked = Checked {
        fields: FIELDS
            .iter()
            .map(|field| (*field, placed.get(*field).cloned().unwrap_or_default()))
            .collect(),
        general,
        preview: if spec.expression.is_empty() {
            String::new()
        } else {
            preview(&web, id, &spec, &groups)
        },
    };
    super::page(&checked)
}
