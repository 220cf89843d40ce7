//! The page handlers, one module per area; each renders its askama template.

use askama::Template;
use axum::response::{Html, IntoResponse, Redirect, Response};
use promrules_model::Store;

use crate::session::Viewer;
use crate::{Web, WebError};

pub(crate) mod deploy;
pub(crate) mod deployments;
pub(crate) mod groups;
pub(crate) mod history;
pub(crate) mod host_form;
pub(crate) mod hosts;
pub(crate) mod rule;
pub(crate) mod rule_test;
pub(crate) mod rules;
pub(crate) mod signin;
pub(crate) mod targets;

/// A rendered page.
pub(crate) fn page(template: &impl Template) -> Result<Response, WebError> {
    Ok(Html(template.render()?).into_response())
}

/// After a successful post: 303 to the page that shows its result.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

impl Web {
    /// Runs store calls on the blocking pool as `viewer`, so writes name them.
    pub(crate) async fn store<T, F>(&self, viewer: &Viewer, call: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, WebError> + Send + 'static,
    {
        let store = self.app.database().acting_as(viewer.actor.clone());
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|error| WebError::Internal(format!("store task failed: {error}")))?
    }
}

/// Whether the request came from htmx (which wants a fragment, not a page).
pub(crate) fn is_htmx(headers: &axum::http::HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|value| value == "true")
}

/// A `return_to` field: only pages of this UI, so a form cannot redirect elsewhere.
pub(crate) fn local_page(to: Option<&str>, default: &str) -> String {
    match to {
        Some(to) if to.starts_with("/ui/") && !to.starts_with("/ui//") && !to.contains('\\') => {
            to.to_owned()
        }
        _ => default.to_owned(),
    }
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(format!("no page at `{}`", uri.path()))
}
