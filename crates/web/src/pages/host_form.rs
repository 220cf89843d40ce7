//! Adding, changing and removing a host (admin scope: a host's definition says which
//! files and commands are used over SSH, and holds Prometheus credentials).
//!
//! Credentials are write-only here as in the API: the form never shows them, an empty
//! secret keeps what is stored, and choosing "none" removes them. The definition is checked
//! by the deployer's own [`Host::validate`], the same check as `POST /api/v1/hosts`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promrules_api::Scope;
use promrules_deploy::{Host, PrometheusAuth, ReloadMethod, RemotePromtool};
use promrules_model::HostRecord;
use serde_json::{Value, json};

use crate::form::{FormData, Posted};
use crate::session::Viewer;
use crate::view::Chrome;
use crate::{Web, WebError, needs};

/// What the form shows: every field but the secret.
#[derive(Debug, Default)]
pub(crate) struct HostFields {
    name: String,
    address: String,
    ssh_port: String,
    ssh_user: String,
    identity_file: String,
    known_hosts_file: String,
    accept_new: bool,
    jump_host: String,
    rule_file: String,
    prometheus_url: String,
    prometheus_ca_file: String,
    reload: String,
    datasources: String,
    targets_file: String,
    verify_targets: bool,
    /// `always`, `auto`, `never`, or empty for the server's `--remote-promtool`.
    remote_promtool: String,
    /// `none`, `bearer` or `basic`.
    auth: &'static str,
    username: String,
}

fn path(value: &Option<std::path::PathBuf>) -> String {
    value.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

impl From<&Host> for HostFields {
    fn from(host: &Host) -> HostFields {
        let (auth, username) = match &host.prometheus_auth {
            None => ("none", String::new()),
            Some(PrometheusAuth::Bearer { .. }) => ("bearer", String::new()),
            Some(PrometheusAuth::Basic { username, .. }) => ("basic", username.clone()),
        };
        HostFields {
            name: host.name.clone(),
            address: host.address.clone(),
            ssh_port: host.ssh_port.to_string(),
            ssh_user: host.ssh_user.clone().unwrap_or_default(),
            identity_file: path(&host.identity_file),
            known_hosts_file: path(&host.known_hosts_file),
            accept_new: host.host_key_policy == promrules_deploy::HostKeyPolicy::AcceptNew,
            jump_host: host.jump_host.clone().unwrap_or_default(),
            rule_file: host.rule_file.display().to_string(),
            prometheus_url: host.prometheus_url.clone(),
            prometheus_ca_file: path(&host.prometheus_ca_file),
            reload: match &host.reload {
                ReloadMethod::Http => "http".to_owned(),
                ReloadMethod::Command(command) => command.clone(),
            },
            datasources: host
                .datasources
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            targets_file: path(&host.targets_file),
            verify_targets: host.verify_targets,
            remote_promtool: match host.remote_promtool {
                None => String::new(),
                Some(RemotePromtool::Always) => "always".to_owned(),
                Some(RemotePromtool::Auto) => "auto".to_owned(),
                Some(RemotePromtool::Never) => "never".to_owned(),
            },
            auth,
            username,
        }
    }
}

impl HostFields {
    fn from_form(form: &FormData) -> HostFields {
        HostFields {
            name: form.text("name"),
            address: form.text("address"),
            ssh_port: form.text("ssh_port"),
            ssh_user: form.text("ssh_user"),
            identity_file: form.text("identity_file"),
            known_hosts_file: form.text("known_hosts_file"),
            accept_new: form.checked("accept_new"),
            jump_host: form.text("jump_host"),
            rule_file: form.text("rule_file"),
            prometheus_url: form.text("prometheus_url"),
            prometheus_ca_file: form.text("prometheus_ca_file"),
            reload: form.text("reload"),
            datasources: form.text("datasources"),
            targets_file: form.text("targets_file"),
            verify_targets: form.checked("verify_targets"),
            remote_promtool: form.text("remote_promtool"),
            auth: match form.text("auth").as_str() {
                "bearer" => "bearer",
                "basic" => "basic",
                _ => "none",
            },
            username: form.text("username"),
        }
    }
}

#[derive(Template)]
#[template(path = "host_form.html")]
struct HostForm {
    chrome: Chrome,
    /// The stored name when editing.
    editing: Option<String>,
    host: HostFields,
    /// Whether credentials are stored (an empty secret keeps them).
    has_secret: bool,
    errors: BTreeMap<String, String>,
}

impl HostForm {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    fn general(&self) -> Vec<String> {
        const SHOWN: [&str; 16] = [
            "name",
            "address",
            "ssh_port",
            "ssh_user",
            "identity_file",
            "known_hosts_file",
            "jump_host",
            "rule_file",
            "prometheus_url",
            "prometheus_ca_file",
            "reload",
            "datasources",
            "targets_file",
            "verify_targets",
            "remote_promtool",
            "prometheus_auth",
        ];
        self.errors
            .iter()
            .filter(|(field, _)| !SHOWN.contains(&field.as_str()))
            .map(|(field, problem)| format!("`{field}` {problem}"))
            .collect()
    }

    /// The text inputs of one row of the form: field, label, value and hint.
    fn inputs(&self, row: usize) -> Vec<(&'static str, &'static str, String, &'static str)> {
        let h = &self.host;
        let rows = [
            vec![
                ("name", "Name", h.name.clone(), "unique; used in reports and locks"),
                ("address", "SSH address", h.address.clone(), "a name or IP"),
                ("ssh_port", "SSH port", h.ssh_port.clone(), ""),
                ("ssh_user", "SSH user", h.ssh_user.clone(), "empty: ssh's default"),
            ],
            vec![
                (
                    "identity_file",
                    "Identity file",
                    h.identity_file.clone(),
                    "the private key, on this server",
                ),
                (
                    "known_hosts_file",
                    "known_hosts file",
                    h.known_hosts_file.clone(),
                    "empty: ssh's default",
                ),
                ("jump_host", "Jump host", h.jump_host.clone(), "[user@]host[:port]"),
            ],
            vec![
                (
                    "rule_file",
                    "Rule file",
                    h.rule_file.clone(),
                    "absolute path on the host, inside Prometheus's rule_files",
                ),
                (
                    "prometheus_url",
                    "Prometheus URL",
                    h.prometheus_url.clone(),
                    "as seen from this server, without credentials",
                ),
                (
                    "targets_file",
                    "Target file",
                    h.targets_file.clone(),
                    "optional: absolute path on the host, inside a file_sd_configs pattern; \
                     deploys keep its datasources' targets there",
                ),
            ],
            vec![
                (
                    "prometheus_ca_file",
                    "Prometheus CA file",
                    h.prometheus_ca_file.clone(),
                    "for an HTTPS URL with a private CA",
                ),
                (
                    "reload",
                    "Reload",
                    h.reload.clone(),
                    "http (POST /-/reload) or a command run over SSH",
                ),
                (
                    "datasources",
                    "Datasources",
                    h.datasources.clone(),
                    "shard ids, comma-separated; empty: only rules without one (and every \
                     shard's targets)",
                ),
            ],
        ];
        rows.into_iter().nth(row).unwrap_or_default()
    }

    fn auth_selected(&self, kind: &str) -> &'static str {
        if self.host.auth == kind { "selected" } else { "" }
    }

    fn promtool_selected(&self, mode: &str) -> &'static str {
        if self.host.remote_promtool == mode { "selected" } else { "" }
    }
}

fn optional(text: &str) -> Value {
    if text.is_empty() { Value::Null } else { Value::from(text) }
}

/// The form as the host's JSON shape, with `stored`'s credentials when the secret is blank.
fn host_json(
    form: &FormData,
    stored: Option<&HostRecord>,
) -> Result<Value, BTreeMap<String, String>> {
    let mut problems = BTreeMap::new();
    let fields = HostFields::from_form(form);
    let ssh_port = match fields.ssh_port.as_str() {
        "" => Value::from(22),
        text => text.parse::<u16>().map(Value::from).unwrap_or_else(|_| {
            problems.insert("ssh_port".to_owned(), format!("`{text}` is not a port (1 to 65535)"));
            Value::Null
        }),
    };
    let mut datasources = Vec::new();
    for item in fields.datasources.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        match item.parse::<i64>() {
            Ok(id) => datasources.push(id),
            Err(_) => {
                problems.insert(
                    "datasources".to_owned(),
                    format!("`{item}` is not a datasource number"),
                );
            }
        }
    }
    let secret = form.get("secret").unwrap_or_default();
    let kept =
        stored.and_then(|record| record.spec.get("prometheus_auth")).filter(|auth| !auth.is_null());
    let auth = match (fields.auth, secret.is_empty(), kept) {
        ("none", _, _) => Value::Null,
        ("bearer", false, _) => json!({"bearer_token": secret}),
        ("basic", false, _) => json!({"username": fields.username, "password": secret}),
        ("bearer", true, Some(kept)) if kept.get("bearer_token").is_some() => kept.clone(),
        ("basic", true, Some(kept)) if kept.get("password").is_some() => {
            json!({"username": fields.username, "password": kept["password"]})
        }
        _ => {
            problems.insert("prometheus_auth".to_owned(), "needs its token or password".to_owned());
            Value::Null
        }
    };
    let reload = match fields.reload.as_str() {
        "" | "http" => json!("http"),
        command => json!({"command": command}),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(json!({
        "name": fields.name, "address": fields.address, "ssh_port": ssh_port,
        "ssh_user": optional(&fields.ssh_user), "identity_file": optional(&fields.identity_file),
        "known_hosts_file": optional(&fields.known_hosts_file),
        "host_key_policy": if fields.accept_new { "accept-new" } else { "strict" },
        "jump_host": optional(&fields.jump_host), "rule_file": fields.rule_file,
        "prometheus_url": fields.prometheus_url, "prometheus_auth": auth,
        "prometheus_ca_file": optional(&fields.prometheus_ca_file), "reload": reload,
        "datasources": datasources, "targets_file": optional(&fields.targets_file),
        "verify_targets": fields.verify_targets,
        "remote_promtool": optional(&fields.remote_promtool),
    }))
}

/// Parses and validates the host's JSON: the deployer's checks, field by field.
fn checked(value: Value) -> Result<(Host, Value), BTreeMap<String, String>> {
    let host: Host = serde_path_to_error::deserialize(value.clone())
        .map_err(|error| BTreeMap::from([(error.path().to_string(), error.inner().to_string())]))?;
    host.validate().map_err(|problems| {
        problems
            .iter()
            .map(|problem| (problem.field.to_owned(), problem.problem.clone()))
            .collect::<BTreeMap<_, _>>()
    })?;
    Ok((host, value))
}

fn find(store: &promrules_model::Store, name: &str) -> Result<HostRecord, WebError> {
    store
        .list_hosts()?
        .into_iter()
        .find(|record| record.name == name)
        .ok_or_else(|| WebError::NotFound(format!("no host named `{name}`")))
}

pub(crate) async fn new(viewer: Viewer) -> Result<Response, WebError> {
    needs(&viewer, Scope::Admin)?;
    let host = HostFields {
        ssh_port: "22".into(),
        reload: "http".into(),
        auth: "none",
        ..HostFields::default()
    };
    super::page(&HostForm {
        chrome: Chrome::new(&viewer, "hosts"),
        editing: None,
        host,
        has_secret: false,
        errors: BTreeMap::new(),
    })
}

pub(crate) async fn edit(
    State(web): State<Web>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Admin)?;
    let record = web.store(&viewer, move |store| find(store, &name)).await?;
    let host: Host = serde_json::from_value(record.spec.clone()).map_err(|error| {
        WebError::Internal(format!("stored host `{}` does not parse: {error}", record.name))
    })?;
    super::page(&HostForm {
        chrome: Chrome::new(&viewer, "hosts"),
        editing: Some(record.name.clone()),
        has_secret: host.prometheus_auth.is_some(),
        host: HostFields::from(&host),
        errors: BTreeMap::new(),
    })
}

async fn save(
    web: Web,
    viewer: Viewer,
    editing: Option<String>,
    form: FormData,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Admin)?;
    let wanted = editing.clone();
    let outcome = web
        .store(&viewer, move |store| {
            let stored = match &wanted {
                Some(name) => Some(find(store, name)?),
                None => None,
            };
            let (host, spec) = match host_json(&form, stored.as_ref()).and_then(checked) {
                Ok(valid) => valid,
                Err(problems) => {
                    return Ok(Err((
                        problems,
                        stored.is_some_and(|r| !r.spec["prometheus_auth"].is_null()),
                        form,
                    )));
                }
            };
            let written = match &stored {
                Some(record) => store.update_host(record.id, &host.name, &spec),
                None => store.create_host(&host.name, &spec),
            };
            match written {
                Ok(record) => Ok(Ok(record.name)),
                Err(promrules_model::Error::Conflict(message)) => {
                    Ok(Err((BTreeMap::from([("name".to_owned(), message)]), false, form)))
                }
                Err(promrules_model::Error::Invalid(errors)) => {
                    Ok(Err((errors.fields().clone(), false, form)))
                }
                Err(error) => Err(error.into()),
            }
        })
        .await?;
    match outcome {
        Ok(name) => {
            log::info!(host = name.as_str(), actor = viewer.actor.as_str(); "ui: saved host `{name}`");
            Ok(super::see_other(&format!("/ui/hosts/{name}")))
        }
        Err((errors, has_secret, form)) => {
            let page = HostForm {
                chrome: Chrome::new(&viewer, "hosts"),
                editing,
                host: HostFields::from_form(&form),
                has_secret,
                errors,
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
    Path(name): Path<String>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    save(web, viewer, Some(name), form).await
}

pub(crate) async fn delete(
    State(web): State<Web>,
    Path(name): Path<String>,
    Posted { viewer, .. }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Admin)?;
    web.store(&viewer, move |store| {
        let record = find(store, &name)?;
        Ok(store.delete_host(record.id)?)
    })
    .await?;
    log::info!(actor = viewer.actor.as_str(); "ui: removed a host");
    Ok(super::see_other("/ui/hosts"))
}
