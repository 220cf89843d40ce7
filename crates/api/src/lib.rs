//! The REST API of `promrules-server`: an axum router over the rule [`Store`].
//!
//! [`router`] builds the whole application from an [`AppState`], so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket. Every error becomes a response in one place,
//! [`ApiError`]: a JSON body `{"error": "...", "fields": {"<field>": "<problem>"}}` with
//! 400 (malformed JSON or query), 401 (missing or wrong token), 403 (too small a scope), 404, 409, 413, 415 or 422
//! (validation, every bad field listed).
//!
//! Routes, all JSON unless said otherwise:
//! - `/api/v1/rules` (GET list with filters and pagination, POST create),
//!   `/api/v1/rules/{id}` (GET, PUT, PATCH, DELETE), and the same for `/api/v1/groups`;
//! - `/api/v1/rules.yml`: the rendered rule file (YAML; `?revision=N` as it was then);
//! - `POST /api/v1/rules/test`: promtool unit tests (a YAML body) against the stored rules;
//! - `POST /api/v1/import`: a rule file (YAML body) upserted, pruned or dry-run;
//! - `/api/v1/revisions` (GET), `/api/v1/revisions/{n}` (GET), `POST
//!   /api/v1/revisions/{n}/restore`, `GET /api/v1/rules/{id}/history`: rule history;
//! - `/api/v1/hosts` (GET, POST), `/api/v1/hosts/{id}` (GET, PUT, DELETE): deploy targets;
//! - `/api/v1/{shards,services,farms,projects,exporters}` (GET, POST) and `…/{id}` (GET,
//!   PUT, DELETE): the target model; `POST /api/v1/farms/{id}/hosts` and
//!   `DELETE /api/v1/farms/{id}/hosts/{name}` for one host at a time;
//! - `/api/v1/targets`: the `file_sd` JSON (filters `shard`, `service`, `project`; `ETag`);
//! - `GET /api/v1/deployments` (filters `host`, `outcome`, `status`, `actor`; a page),
//!   `POST /api/v1/deployments` (202, runs in the background), `GET /api/v1/deployments/{id}`;
//! - `/api/v1/slos` (GET, POST), `/api/v1/slos/{id}` (GET, PUT, DELETE),
//!   `GET /api/v1/slos/{id}/history` and `POST /api/v1/slos/import` (a sloth spec): SLOs,
//!   each write also making its generated burn-rate rules;
//! - `/api/v1/heal-runs` (GET filters `rule`, `alertname`, `since`; POST): am-executor's
//!   reported runs and skips;
//! - `POST /rules` and `POST /deploy`: the original Flask pipeline's routes and payloads;
//! - `/api/v1/openapi.json`, `/healthz`, `/metrics` (Prometheus text format).
//!
//! - `GET /api/v1/tokens`: the configured tokens' names and scopes.
//!
//! With tokens configured, every route but `/healthz` needs `Authorization: Bearer <token>`
//! with a token of the route's [`Scope`] (see [`auth`](crate::auth) for the table).
//!
//! # Example
//!
//! ```
//! use promrules_api::{AppState, Config, router};
//! use promrules_model::{Exporter, Farm, Project, Service, Shard, Store};
//!
//! let state = AppState::new(Store::open(":memory:")?, Config::default());
//! let app: axum::Router = router(state);
//! # Ok::<(), promrules_model::Error>(())
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use promrules_model::{Exporter, Farm, Project, Service, Shard, Store};
use promrules_rollout::Rollout;
use promrules_yaml::HealLabel;

pub use crate::auth::{Scope, Token, TokenError};
pub use crate::error::ApiError;
pub use crate::metrics::Metrics;
pub use crate::serve::{Listen, ServeError, TlsFiles, check_exposure, serve};

mod auth;
mod deployments;
mod error;
mod extract;
mod groups;
mod heal_runs;
mod hosts;
mod import;
mod metrics;
mod revisions;
mod rule_tests;
mod rules;
mod serve;
mod slos;
mod targets;

/// How the API behaves; the server binary fills it from flags and environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The named, scoped bearer tokens; empty means no authentication.
    pub tokens: Vec<Token>,
    /// With tokens: plain reads (not hosts, tokens or targets) need none.
    pub public_reads: bool,
    /// The largest accepted request body, in bytes.
    pub body_limit: usize,
    /// The label that routes heal-enabled alerts to the executor, in rendered files.
    pub heal_label: HealLabel,
    /// Where the deployer keeps its SSH control sockets.
    pub ssh_control_dir: std::path::PathBuf,
    /// The `promtool` of `POST /api/v1/rules/test`; `None` looks on `PATH`.
    pub promtool: Option<std::path::PathBuf>,
    /// How deploys connect to hosts and check files.
    pub deploy: promrules_rollout::DeploySettings,
}

impl Config {
    /// The configured token whose secret is `secret` (digests compared in constant time).
    pub fn token_for(&self, secret: &str) -> Option<&Token> {
        Token::find(&self.tokens, secret)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tokens: Vec::new(),
            public_reads: false,
            body_limit: 1024 * 1024,
            heal_label: HealLabel::default(),
            ssh_control_dir: std::env::temp_dir(),
            promtool: None,
            deploy: promrules_rollout::DeploySettings::default(),
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    /// The deployment service: every deploy of this server goes through it.
    rollout: Rollout,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> AppState {
        let rollout = Rollout::with_settings(
            store.clone(),
            &config.ssh_control_dir,
            config.heal_label.clone(),
            config.deploy,
        );
        if let Err(error) = rollout.seed_metrics() {
            log::warn!("deploy metrics start empty: reading the audit trail failed: {error}");
        }
        let metrics = Arc::new(Metrics::new(&rollout));
        AppState { store, config: Arc::new(config), metrics, rollout }
    }

    /// The deployment service behind the deploy routes (and the background jobs).
    pub fn rollout(&self) -> &Rollout {
        &self.rollout
    }

    /// The rule store (for the web UI, which shares this state).
    pub fn database(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs a store call on the blocking pool: diesel is synchronous, and a slow query
    /// must not stall the async workers.
    async fn store<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, promrules_model::Error> + Send + 'static,
    {
        self.blocking(move |store| call(store).map_err(ApiError::from)).await
    }

    /// Like [`AppState::store`], for calls that answer with an `ApiError` themselves.
    async fn blocking<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    {
        // Writes are recorded as by the request's token (see `auth`).
        let store = self.store.acting_as(auth::current_actor());
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|error| ApiError::internal(format!("store task failed: {error}")))?
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/rules", get(rules::list).post(rules::create))
        .route(
            "/rules/{id}",
            get(rules::get).put(rules::replace).patch(rules::patch).delete(rules::delete),
        )
        .route("/rules.yml", get(rules::render_file))
        .route("/rules/test", post(rule_tests::test))
        .route("/rules/{id}/history", get(revisions::rule_history))
        .route("/revisions", get(revisions::list))
        .route("/revisions/{n}", get(revisions::get))
        .route("/revisions/{n}/restore", post(revisions::restore))
        .route("/import", post(import::import))
        .route("/groups", get(groups::list).post(groups::create))
        .route(
            "/groups/{id}",
            get(groups::get).put(groups::replace).patch(groups::patch).delete(groups::delete),
        )
        .route("/hosts", get(hosts::list).post(hosts::create))
        .route("/hosts/{id}", get(hosts::get).put(hosts::replace).delete(hosts::delete))
        .route("/shards", get(targets::list::<Shard>).post(targets::create::<Shard>))
        .route(
            "/shards/{id}",
            get(targets::get::<Shard>)
                .put(targets::replace::<Shard>)
                .delete(targets::delete::<Shard>),
        )
        .route("/services", get(targets::list::<Service>).post(targets::create::<Service>))
        .route(
            "/services/{id}",
            get(targets::get::<Service>)
                .put(targets::replace::<Service>)
                .delete(targets::delete::<Service>),
        )
        .route("/farms", get(targets::list::<Farm>).post(targets::create::<Farm>))
        .route(
            "/farms/{id}",
            get(targets::get::<Farm>).put(targets::replace::<Farm>).delete(targets::delete::<Farm>),
        )
        .route("/farms/{id}/hosts", post(targets::add_host))
        .route("/farms/{id}/hosts/{host}", axum::routing::delete(targets::remove_host))
        .route("/projects", get(targets::list::<Project>).post(targets::create::<Project>))
        .route(
            "/projects/{id}",
            get(targets::get::<Project>)
                .put(targets::replace::<Project>)
                .delete(targets::delete::<Project>),
        )
        .route("/exporters", get(targets::list_exporters).post(targets::create::<Exporter>))
        .route(
            "/exporters/{id}",
            get(targets::get::<Exporter>)
                .put(targets::replace::<Exporter>)
                .delete(targets::delete::<Exporter>),
        )
        .route("/targets", get(targets::render))
        .route("/tokens", get(auth::list))
        .route("/deployments", get(deployments::list).post(deployments::start))
        .route("/deployments/{id}", get(deployments::get))
        .route("/heal-runs", get(heal_runs::list).post(heal_runs::create))
        .route("/slos", get(slos::list).post(slos::create))
        .route("/slos/import", post(slos::import))
        .route("/slos/{id}", get(slos::get).put(slos::replace).delete(slos::delete))
        .route("/slos/{id}/history", get(slos::history))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/api/v1", api)
        .route("/rules", post(rules::create_compat))
        .route("/deploy", post(deployments::deploy_compat))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), signal_changes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::observe))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .with_state(state)
}

/// Tells the auto-deploy task about every successful write to rules or groups.
async fn signal_changes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    let writes_rules = request.method() != axum::http::Method::GET
        && (path.starts_with("/api/v1/rules")
            || path.starts_with("/api/v1/groups")
            || path == "/api/v1/import"
            || path.starts_with("/api/v1/slos")
            || path.starts_with("/api/v1/revisions")
            || path == "/rules");
    let response = next.run(request).await;
    if writes_rules && response.status().is_success() {
        state.rollout.rules_changed();
    }
    response
}

/// The OpenAPI 3 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    state.store(|store| store.ping()).await.map_err(|error| {
        ApiError::unavailable(format!("database unreachable: {}", error.message()))
    })?;
    Ok("ok\n")
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for `{}`", uri.path()))
}
