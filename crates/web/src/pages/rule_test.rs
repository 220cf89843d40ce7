//! Test a rule: its expression as an instant query against one host's Prometheus, run by
//! the server through the host's own client (credentials stay on the server), with a
//! bounded answer and timeout. Needs `write`: it queries with the host's credentials.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use promrules_api::Scope;
use promrules_model::{Rule, RuleKind};
use promrules_prometheus::Series;

use crate::form::Posted;
use crate::session::Viewer;
use crate::view::Chrome;
use crate::{Web, WebError, needs};

/// How many series the page lists.
const SHOWN: usize = 20;
/// Prometheus's evaluation timeout for the query (the HTTP call gets a little longer).
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Outcome {
    host: String,
    total: usize,
    result_type: String,
    series: Vec<Series>,
    warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "rule_test.html")]
struct TestPage {
    chrome: Chrome,
    rule: Rule,
    name: String,
    hosts: Vec<String>,
    chosen: String,
    outcome: Option<Outcome>,
    problem: Option<String>,
}

impl TestPage {
    fn is_alert(&self) -> bool {
        self.rule.spec.kind == RuleKind::Alert
    }

    fn shown(&self) -> usize {
        SHOWN
    }
}

async fn load(web: &Web, viewer: &Viewer, id: i64) -> Result<(Rule, Vec<String>), WebError> {
    let rollout = web.app.rollout().clone();
    web.store(viewer, move |store| {
        let rule = store.get_rule(id)?;
        let hosts = rollout.stored_hosts()?.into_iter().map(|host| host.name).collect();
        Ok((rule, hosts))
    })
    .await
}

pub(crate) async fn form(
    State(web): State<Web>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let (rule, hosts) = load(&web, &viewer, id).await?;
    let page = TestPage {
        chrome: Chrome::new(&viewer, "rules"),
        name: rule.display_name().into_owned(),
        chosen: hosts.first().cloned().unwrap_or_default(),
        rule,
        hosts,
        outcome: None,
        problem: None,
    };
    super::page(&page)
}

pub(crate) async fn run(
    State(web): State<Web>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted,
) -> Result<Response, WebError> {
    needs(&viewer, Scope::Write)?;
    let (rule, hosts) = load(&web, &viewer, id).await?;
    let chosen = form.text("host");
    let rollout = web.app.rollout().clone();
    let expression = rule.spec.expression.clone();
    let wanted = chosen.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let host = rollout
            .stored_hosts()
            .map_err(|error| error.to_string())?
            .into_iter()
            .find(|host| host.name == wanted)
            .ok_or_else(|| format!("no host named `{wanted}`"))?;
        let prometheus = host
            .prometheus(QUERY_TIMEOUT + Duration::from_secs(5))
            .map_err(|error| error.to_string())?;
        prometheus.query(&expression, QUERY_TIMEOUT, SHOWN).map_err(|error| error.to_string())
    })
    .await
    .map_err(|error| WebError::Internal(format!("query task failed: {error}")))?;
    log::info!(rule = id, actor = viewer.actor.as_str(), host = chosen.as_str(); "ui: tested rule {id} against {chosen}");
    let (outcome, problem) = match answer {
        Ok(query) => (
            Some(Outcome {
                host: chosen.clone(),
                total: query.total,
                result_type: query.result_type,
                series: query.series,
                warnings: query.warnings,
            }),
            None,
        ),
        Err(problem) => (None, Some(problem)),
    };
    let page = TestPage {
        chrome: Chrome::new(&viewer, "rules"),
        name: rule.display_name().into_owned(),
        rule,
        hosts,
        chosen,
        outcome,
        problem,
    };
    super::page(&page)
}
