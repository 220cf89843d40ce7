//! The web UI of `promrules-server`: server-rendered pages under `/ui/`, the only crate of
//! promrules that knows HTML.
//!
//! [`router`] builds the pages over the same [`AppState`] as the REST API (one store, one
//! deployment service, one token list), so a page and an API call see and change the same
//! things and record the same actor. Pages are askama templates (`templates/`, checked at
//! compile time, HTML-escaped by default); every form works without JavaScript, and the
//! embedded htmx adds validation as you type, in-place toggles and deploy progress.
//!
//! Safety, in [`session`]: with tokens configured a visitor signs in with one and gets a
//! session cookie (HttpOnly, SameSite=Strict, Secure under TLS, expiring); with none (the
//! loopback-only set-up) every visitor gets a session of their own without signing in.
//! Every form carries the session's CSRF token, and every post is checked against it and
//! against the scope it needs ([`Scope`]); a read-only session is shown no write controls
//! and is answered 403 if it posts anyway. Host credentials never reach a page: hosts are
//! shown through [`pages::hosts`]'s own view, which has no field for them.
//!
//! ```
//! use promrules_api::{AppState, Config};
//! use promrules_model::Store;
//!
//! let state = AppState::new(Store::open(":memory:")?, Config::default());
//! let app: axum::Router = promrules_api::router(state.clone())
//!     .merge(promrules_web::router(state, promrules_web::WebConfig::default()));
//! # Ok::<(), promrules_model::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use promrules_api::{AppState, Scope};

pub use crate::error::WebError;

mod assets;
mod error;
mod form;
mod pages;
mod session;
mod view;

/// How the UI behaves; the server binary fills it from its flags.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (the server serves TLS).
    pub secure_cookies: bool,
    /// How long a session lasts after signing in.
    pub session_ttl: Duration,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig { secure_cookies: false, session_ttl: Duration::from_secs(8 * 3600) }
    }
}

/// What every page handler shares.
#[derive(Debug, Clone)]
pub(crate) struct Web {
    pub(crate) app: AppState,
    pub(crate) sessions: Arc<session::Sessions>,
    pub(crate) config: Arc<WebConfig>,
}

/// The UI's routes: everything under `/ui/`, and `/` redirecting there.
pub fn router(app: AppState, config: WebConfig) -> Router {
    let web =
        Web { app, sessions: Arc::new(session::Sessions::default()), config: Arc::new(config) };
    let pages = Router::new()
        .route("/ui/", get(|| async { Redirect::to("/ui/rules") }))
        .route("/ui/rules", get(pages::rules::list).post(pages::rule::create))
        .route("/ui/rules/new", get(pages::rule::new))
        .route("/ui/rules/check", post(pages::rule::check))
        .route("/ui/rules/{id}", get(pages::rule::edit).post(pages::rule::update))
        .route("/ui/rules/{id}/enabled", post(pages::rules::set_enabled))
        .route("/ui/rules/{id}/delete", post(pages::rule::delete))
        .route("/ui/rules/{id}/test", get(pages::rule_test::form).post(pages::rule_test::run))
        .route("/ui/groups", get(pages::groups::list).post(pages::groups::create))
        .route("/ui/groups/new", get(pages::groups::new))
        .route("/ui/groups/{id}", get(pages::groups::edit).post(pages::groups::update))
        .route("/ui/groups/{id}/delete", post(pages::groups::delete))
        .route("/ui/hosts", get(pages::hosts::list).post(pages::host_form::create))
        .route("/ui/hosts/new", get(pages::host_form::new))
        .route("/ui/hosts/{name}", get(pages::hosts::detail).post(pages::host_form::update))
        .route("/ui/hosts/{name}/edit", get(pages::host_form::edit))
        .route("/ui/hosts/{name}/delete", post(pages::host_form::delete))
        .route("/ui/deploy", get(pages::deploy::form).post(pages::deploy::start))
        .route("/ui/deploy/preview", post(pages::deploy::preview))
        .route("/ui/deployments", get(pages::deployments::list))
        .route("/ui/deployments/{id}", get(pages::deployments::detail))
        .route("/ui/deployments/{id}/progress", get(pages::deployments::progress))
        .route("/ui/history", get(pages::history::list))
        .route("/ui/history/{n}", get(pages::history::detail))
        .route(
            "/ui/history/{n}/restore",
            get(pages::history::confirm_restore).post(pages::history::restore),
        )
        .route("/ui/targets", get(pages::targets::overview))
        .route("/ui/targets/{kind}", post(pages::targets::create))
        .route("/ui/targets/{kind}/{id}", get(pages::targets::edit).post(pages::targets::update))
        .route("/ui/targets/{kind}/{id}/delete", post(pages::targets::delete))
        .route("/ui/signout", post(pages::signin::sign_out))
        .route("/ui/{*rest}", axum::routing::any(pages::not_found))
        .layer(axum::middleware::from_fn_with_state(web.clone(), session::require));
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/signin", get(pages::signin::form).post(pages::signin::sign_in))
        .route("/ui/static/{file}", get(assets::serve))
        .merge(pages)
        .layer(axum::middleware::from_fn(view::security_headers))
        .with_state(web)
}

/// The scope a session needs for a post; checked again by every handler that writes.
pub(crate) fn needs(viewer: &session::Viewer, scope: Scope) -> Result<(), WebError> {
    if viewer.scope >= scope {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "`{}` has scope `{}`; this needs `{scope}`",
            viewer.actor, viewer.scope
        )))
    }
}
