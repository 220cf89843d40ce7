//! Rule groups: the list (with how many rules each holds) and the form (interval, limit,
//! query_offset, labels).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promrules_api::Scope;
use promrules_model::{Error, Group, GroupSpec, Page, RuleFilter};

use crate::form::{FormData, Posted};
use crate::session::Viewer;
use crate::view::Chrome;
use crate::{Web, WebError, needs};

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    chrome: Chrome,
    groups: Vec<(Group, i64)>,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupForm {
    chrome: Chrome,
    id: Option<i64>,
    spec: GroupSpec,
    rules: i64,
    errors: BTreeMap<String, String>,
    general: Vec<String>,
}

impl GroupForm {
    fn error(&self, field: &str) -> String {
        let mut found: Vec<&str> = self
            .errors
            .iter()
            .filter(|(key, _)| *key == field || key.starts_with(&format!("{field}.")))
            .map(|(_, problem)| problem.as_str())
            .collect();
        found.dedup();
        found.join("; ")
    }

    fn invalid(&self, field: &str) -> &'static str {
        if self.error(field).is_empty() { "false" } else { "true" }
    }

    fn labels(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> =
            self.spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        rows.push((String::new(), String::new()));
        rows
    }

    fn limit(&self) -> String {
        self.spec.limit.map(|limit| limit.to_string()).unwrap_or_default()
    }
}

pub(crate) async fn list(State(web): State<Web>, viewer: Viewer) -> Result<Response, WebError> {
    let groups = web
        .store(&viewer, |store| {
            let groups = store.list_groups(Page::default())?;
            groups
                .into_iter()
                .map(|group| {
                    let filter = RuleFilter { group_id: Some(group.id), ..RuleFilter::default() };
                    Ok((group, store.count_rules(&filter)?))
                })
                .collect::<Result<Vec<_>, WebError>>()
        })
        .await?;
    super::page(&GroupsPage { chrome: Chrome::new(&viewer, "groups"), groups })
}

pub(crate) async fn new(viewer: Viewer) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    super::page(&GroupForm {
        chrome: Chrome::new(&viewer, "groups"),
        id: None,
        spec: GroupSpec::named(""),
        rules: 0,
        errors: BTreeMap::new(),
        general: Vec::new(),
    })
}

pub(crate) async fn edit(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (group, rules) = web
        .store(&viewer, move |store| {
            let filter = RuleFilter { group_id: Some(id), ..RuleFilter::default() };
            Ok((store.get_group(id)?, store.count_rules(&filter)?))
        })
        .await?;
    super::page(&GroupForm {
        chrome: Chrome::new(&viewer, "groups"),
        id: Some(id),
        spec: group.spec,
        rules,
        errors: BTreeMap::new(),
        general: Vec::new(),
    })
}

fn spec_from(form: &FormData) -> (GroupSpec, BTreeMap<String, String>) {
    let mut problems = BTreeMap::new();
    let limit = form.number("limit").unwrap_or_else(|(field, problem)| {
        problems.insert(field, problem);
        None
    });
    let spec = GroupSpec {
        name: form.text("name"),
        interval: form.optional("interval"),
        limit,
        query_offset: form.optional("query_offset"),
        labels: form.pairs("label_key", "label_value"),
    };
    (spec, problems)
}

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
                return Ok(Err((problems, Vec::new())));
            }
            let written = match id {
                Some(id) => store.update_group(id, &attempt),
                None => store.create_group(&attempt),
            };
            match written {
                Ok(group) => Ok(Ok(group)),
                Err(Error::Invalid(errors)) => Ok(Err((errors.fields().clone(), Vec::new()))),
                Err(Error::Conflict(message)) => {
                    Ok(Err((BTreeMap::from([("name".to_owned(), message)]), Vec::new())))
                }
                Err(error) => Err(error.into()),
            }
        })
        .await?;
    match written {
        Ok(group) => {
            web.app.rollout().rules_changed();
            log::info!(actor = viewer.actor.as_str(); "ui: saved group {} (`{}`)", group.id, group.spec.name);
            Ok(super::see_other("/ui/groups"))
        }
        Err((errors, general)) => {
            let page = GroupForm {
                chrome: Chrome::new(&viewer, "groups"),
                id,
                spec,
                rules: 0,
                errors,
                general,
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
    web.store(&viewer, move |store| Ok(store.delete_group(id)?)).await?;
    web.app.rollout().rules_changed();
    log::info!(actor = viewer.actor.as_str(); "ui: deleted group {id}");
    Ok(super::see_other("/ui/groups"))
}
