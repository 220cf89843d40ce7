//! The target model (shards, services, farms with their hosts, projects, exporters): list,
//! add, edit and delete, with the rendered `file_sd` preview.
//!
//! One form serves all five kinds: each kind lists its [`Field`]s, a form becomes the
//! kind's JSON shape, and the model's own types (serde and their validation in the store)
//! decide what is valid, so the rules live in one place.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promrules_api::Scope;
use promrules_model::{Error, Exporter, Farm, Project, Service, Shard, Store};
use serde_json::{Value, json};

use crate::form::{FormData, Posted};
use crate::session::Viewer;
use crate::view::Chrome;
use crate::{Web, WebError, needs};

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Text,
    /// Empty means none (`null`).
    Optional,
    Number,
    OptionalNumber,
    Checkbox,
    /// One value per line (a farm's hosts).
    Lines,
    /// A key/value editor.
    Labels,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) input: Input,
}

const fn field(name: &'static str, label: &'static str, input: Input) -> Field {
    Field { name, label, input }
}

/// The five kinds of the target model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Shard,
    Service,
    Farm,
    Project,
    Exporter,
}

const KINDS: [Kind; 5] = [Kind::Shard, Kind::Service, Kind::Farm, Kind::Project, Kind::Exporter];

impl Kind {
    fn parse(text: &str) -> Result<Kind, WebError> {
        KINDS
            .into_iter()
            .find(|kind| kind.slug() == text)
            .ok_or_else(|| WebError::NotFound(format!("no target kind `{text}`")))
    }

    pub(crate) fn slug(self) -> &'static str {
        match self {
            Kind::Shard => "shard",
            Kind::Service => "service",
            Kind::Farm => "farm",
            Kind::Project => "project",
            Kind::Exporter => "exporter",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Kind::Shard => "Shards",
            Kind::Service => "Services",
            Kind::Farm => "Farms",
            Kind::Project => "Projects",
            Kind::Exporter => "Exporters",
        }
    }

    pub(crate) fn fields(self) -> &'static [Field] {
        use Input::*;
        const NAMED: [Field; 1] = [field("name", "Name", Text)];
        const FARM: [Field; 3] = [
            field("name", "Name", Text),
            field("source", "Source", Text),
            field("hosts", "Hosts (one per line)", Lines),
        ];
        const PROJECT: [Field; 4] = [
            field("name", "Name", Text),
            field("service", "Service", Text),
            field("shard", "Shard", Text),
            field("farm", "Farm", Optional),
        ];
        const EXPORTER: [Field; 10] = [
            field("project", "Project", Text),
            field("job", "Job", Text),
            field("port", "Port", Number),
            field("port_end", "Last port of a range", OptionalNumber),
            field("path", "Metrics path", Optional),
            field("scheme", "Scheme (http or https)", Text),
            field("enabled", "Enabled", Checkbox),
            field("labels", "Labels", Labels),
            field("scrape_interval", "Scrape interval", Optional),
            field("scrape_timeout", "Scrape timeout", Optional),
        ];
        match self {
            Kind::Shard | Kind::Service => &NAMED,
            Kind::Farm => &FARM,
            Kind::Project => &PROJECT,
            Kind::Exporter => &EXPORTER,
        }
    }

    /// A new entity's values.
    fn blank(self) -> Value {
        match self {
            Kind::Farm => json!({"source": "promgen", "hosts": []}),
            Kind::Exporter => json!({"scheme": "http", "enabled": true, "labels": {}}),
            _ => json!({}),
        }
    }
}

/// A stored entity as a row: its id and JSON fields.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub(crate) id: i64,
    pub(crate) values: Value,
}

impl Entity {
    /// The text a field shows in a table cell or an input.
    pub(crate) fn text(&self, field: &Field) -> String {
        text(&self.values, field)
    }

    pub(crate) fn checked(&self, field: &Field) -> bool {
        self.values.get(field.name).and_then(Value::as_bool).unwrap_or(false)
    }

    pub(crate) fn labels(&self, field: &Field) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .values
            .get(field.name)
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        rows.push((String::new(), String::new()));
        rows
    }

    pub(crate) fn title(&self) -> String {
        match (self.values.get("name"), self.values.get("job")) {
            (Some(Value::String(name)), _) => name.clone(),
            (_, Some(Value::String(job))) => format!(
                "{}/{}",
                self.values.get("project").and_then(Value::as_str).unwrap_or_default(),
                job
            ),
            _ => format!("#{}", self.id),
        }
    }
}

fn text(values: &Value, field: &Field) -> String {
    match values.get(field.name) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => {
            let separator = if field.input == Input::Lines { "\n" } else { ", " };
            items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(separator)
        }
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

fn entities<T: serde::Serialize>(stored: Vec<promrules_model::Stored<T>>) -> Vec<Entity> {
    stored
        .into_iter()
        .map(|stored| Entity {
            id: stored.id,
            values: serde_json::to_value(&stored.spec).unwrap_or(Value::Null),
        })
        .collect()
}

fn list(store: &Store, kind: Kind) -> Result<Vec<Entity>, Error> {
    Ok(match kind {
        Kind::Shard => entities(store.list_shards()?),
        Kind::Service => entities(store.list_services()?),
        Kind::Farm => entities(store.list_farms()?),
        Kind::Project => entities(store.list_projects()?),
        Kind::Exporter => entities(store.list_exporters(None)?),
    })
}

fn get(store: &Store, kind: Kind, id: i64) -> Result<Entity, Error> {
    Ok(match kind {
        Kind::Shard => entities(vec![store.get_shard(id)?]),
        Kind::Service => entities(vec![store.get_service(id)?]),
        Kind::Farm => entities(vec![store.get_farm(id)?]),
        Kind::Project => entities(vec![store.get_project(id)?]),
        Kind::Exporter => entities(vec![store.get_exporter(id)?]),
    }
    .remove(0))
}

/// Reads `values` as the kind's type, naming the field serde could not read.
fn parse<T: serde::de::DeserializeOwned>(values: Value) -> Result<T, BTreeMap<String, String>> {
    serde_path_to_error::deserialize(values).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "form".to_owned() } else { path };
        BTreeMap::from([(field, error.inner().to_string())])
    })
}

/// Stores `values` as a new (`id` `None`) or changed entity of `kind`.
fn write(
    store: &Store,
    kind: Kind,
    id: Option<i64>,
    values: Value,
) -> Result<Result<(), BTreeMap<String, String>>, WebError> {
    macro_rules! save {
        ($type:ty, $create:ident, $update:ident) => {{
            let spec: $type = match parse(values) {
                Ok(spec) => spec,
                Err(problems) => return Ok(Err(problems)),
            };
            match id {
                Some(id) => store.$update(id, &spec).map(drop),
                None => store.$create(&spec).map(drop),
            }
        }};
    }
    let written = match kind {
        Kind::Shard => save!(Shard, create_shard, update_shard),
        Kind::Service => save!(Service, create_service, update_service),
        Kind::Farm => save!(Farm, create_farm, update_farm),
        Kind::Project => save!(Project, create_project, update_project),
        Kind::Exporter => save!(Exporter, create_exporter, update_exporter),
    };
    match written {
        Ok(()) => Ok(Ok(())),
        Err(Error::Invalid(errors)) => Ok(Err(errors.fields().clone())),
        Err(Error::Conflict(message) | Error::Missing(message)) => {
            Ok(Err(BTreeMap::from([("form".to_owned(), message)])))
        }
        Err(error) => Err(error.into()),
    }
}

/// A form's fields as the kind's JSON shape; numbers that are not are problems.
fn values_from(kind: Kind, form: &FormData) -> Result<Value, BTreeMap<String, String>> {
    let mut values = serde_json::Map::new();
    let mut problems = BTreeMap::new();
    for field in kind.fields() {
        let value = match field.input {
            Input::Text => Value::from(form.text(field.name)),
            Input::Optional => form.optional(field.name).map_or(Value::Null, Value::from),
            Input::Number | Input::OptionalNumber => match form.number(field.name) {
                Ok(Some(number)) => Value::from(number),
                Ok(None) if field.input == Input::OptionalNumber => Value::Null,
                Ok(None) => {
                    problems.insert(field.name.to_owned(), "is required".to_owned());
                    Value::Null
                }
                Err((name, problem)) => {
                    problems.insert(name, problem);
                    Value::Null
                }
            },
            Input::Checkbox => Value::from(form.checked(field.name)),
            Input::Lines => Value::from(
                form.get(field.name)
                    .unwrap_or_default()
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect::<Vec<_>>(),
            ),
            Input::Labels => {
                let pairs =
                    form.pairs(&format!("{}_key", field.name), &format!("{}_value", field.name));
                serde_json::to_value(pairs).unwrap_or_default()
            }
        };
        values.insert(field.name.to_owned(), value);
    }
    if problems.is_empty() { Ok(Value::Object(values)) } else { Err(problems) }
}

#[derive(Template)]
#[template(path = "targets.html")]
struct Overview {
    chrome: Chrome,
    sections: Vec<(Kind, Vec<Entity>)>,
    file_sd: String,
    blank: Vec<(Kind, Entity)>,
}

impl Overview {
    fn blank_of(&self, kind: &Kind) -> Option<&Entity> {
        self.blank.iter().find(|(k, _)| k == kind).map(|(_, entity)| entity)
    }
}

#[derive(Template)]
#[template(path = "target.html")]
struct EditPage {
    chrome: Chrome,
    kind: Kind,
    entity: Entity,
    errors: BTreeMap<String, String>,
}

impl EditPage {
    fn error(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|(key, _)| {
                *key == field
                    || key.starts_with(&format!("{field}."))
                    || key.starts_with(&format!("{field}["))
            })
            .map(|(_, problem)| problem.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn general(&self) -> Vec<String> {
        let known: Vec<&str> = self.kind.fields().iter().map(|field| field.name).collect();
        self.errors
            .iter()
            .filter(|(key, _)| !known.iter().any(|name| key.starts_with(name)))
            .map(
                |(key, problem)| {
                    if key == "form" { problem.clone() } else { format!("`{key}` {problem}") }
                },
            )
            .collect()
    }

    fn action(&self) -> String {
        if self.entity.id == 0 {
            format!("/ui/targets/{}", self.kind.slug())
        } else {
            format!("/ui/targets/{}/{}", self.kind.slug(), self.entity.id)
        }
    }
}

pub(crate) async fn overview(State(web): State<Web>, viewer: Viewer) -> Result<Response, WebError> {
    let (sections, model) = web
        .store(&viewer, |store| {
            let sections = KINDS
                .into_iter()
                .map(|kind| Ok((kind, list(store, kind)?)))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok((sections, store.load_targets()?))
        })
        .await?;
    let groups = promrules_targets::file_sd(&model, &promrules_targets::Filter::default());
    let file_sd = promrules_targets::to_json(&groups);
    let blank =
        KINDS.into_iter().map(|kind| (kind, Entity { id: 0, values: kind.blank() })).collect();
    super::page(&Overview { chrome: Chrome::new(&viewer, "targets"), sections, file_sd, blank })
}

pub(crate) async fn edit(
    State(web): State<Web>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let kind = Kind::parse(&kind)?;
    let entity = web.store(&viewer, move |store| Ok(get(store, kind, id)?)).await?;
    super::page(&EditPage {
        chrome: Chrome::new(&viewer, "targets"),
        kind,
        entity,
        errors: BTreeMap::new(),
    })
}

async fn save(
    web: Web,
    viewer: Viewer,
    kind: Kind,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let outcome = match values_from(kind, &form) {
        Err(problems) => Err((problems, Value::Null)),
        Ok(values) => {
            let attempt = values.clone();
            match web.store(&viewer, move |store| write(store, kind, id, attempt)).await? {
                Ok(()) => Ok(()),
                Err(problems) => Err((problems, values)),
            }
        }
    };
    match outcome {
        Ok(()) => {
            log::info!(actor = viewer.actor.as_str(); "ui: saved a {}", kind.slug());
            Ok(super::see_other("/ui/targets"))
        }
        Err((errors, values)) => {
            // Show what was typed, even where it did not parse.
            let mut shown = if values.is_null() { kind.blank() } else { values };
            for field in kind.fields() {
                if matches!(
                    field.input,
                    Input::Text | Input::Optional | Input::Number | Input::OptionalNumber
                ) && let Some(typed) = form.get(field.name)
                {
                    shown[field.name] = Value::from(typed);
                }
            }
            let entity = Entity { id: id.unwrap_or_default(), values: shown };
            let page = EditPage { chrome: Chrome::new(&viewer, "targets"), kind, entity, errors };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, super::page(&page)?).into_response())
        }
    }
}

pub(crate) async fn create(
    State(web): State<Web>,
    Path(kind): Path<String>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    let kind = Kind::parse(&kind)?;
    save(web, viewer, kind, None, form).await
}

pub(crate) async fn update(
    State(web): State<Web>,
    Path((kind, id)): Path<(String, i64)>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    let kind = Kind::parse(&kind)?;
    save(web, viewer, kind, Some(id), form).await
}

pub(crate) async fn delete(
    State(web): State<Web>,
    Path((kind, id)): Path<(String, i64)>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let kind = Kind::parse(&kind)?;
    web.store(&viewer, move |store| {
        Ok(match kind {
            Kind::Shard => store.delete_shard(id),
            Kind::Service => store.delete_service(id),
            Kind::Farm => store.delete_farm(id),
            Kind::Project => store.delete_project(id),
            Kind::Exporter => store.delete_exporter(id),
        }?)
    })
    .await?;
    log::info!(actor = viewer.actor.as_str(); "ui: deleted {} {id}", kind.slug());
    Ok(super::see_other("/ui/targets"))
}
