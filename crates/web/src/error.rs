//! [`WebError`]: what a page handler fails with, rendered as an HTML error page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Why a page could not be shown or a form not applied.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    NotFound(String),
    /// No session: sign in first.
    #[error("sign in first")]
    Unauthorized,
    /// The session's scope is too small.
    #[error("{0}")]
    Forbidden(String),
    /// A form that is malformed or whose CSRF token does not match.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] promrules_model::Error),
    #[error(transparent)]
    Rollout(#[from] promrules_rollout::RolloutError),
    #[error("rendering the page failed: {0}")]
    Template(#[from] askama::Error),
    #[error("{0}")]
    Internal(String),
}

impl WebError {
    pub(crate) fn status(&self) -> StatusCode {
        use promrules_model::Error;
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Store(Error::NotFound { .. } | Error::Missing(_)) => StatusCode::NOT_FOUND,
            WebError::Store(Error::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Store(Error::Conflict(_)) => StatusCode::CONFLICT,
            WebError::Store(Error::Pool(_) | Error::Connect { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WebError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Rollout(error) => rollout_status(error),
            WebError::Template(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the visitor reads: internal details go to the log only.
    fn public_message(&self) -> String {
        match self.status() {
            StatusCode::INTERNAL_SERVER_ERROR => "an internal error; see the server log".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => {
                "the database is unavailable; see the server log".to_owned()
            }
            _ => self.to_string(),
        }
    }
}

fn rollout_status(error: &promrules_rollout::RolloutError) -> StatusCode {
    use promrules_rollout::RolloutError;
    match error {
        RolloutError::Store(error) => match error {
            promrules_model::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            promrules_model::Error::Pool(_) | promrules_model::Error::Connect { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        RolloutError::UnknownHost(_) | RolloutError::NoHosts => StatusCode::UNPROCESSABLE_ENTITY,
        RolloutError::NoHostAt(_) => StatusCode::NOT_FOUND,
        RolloutError::AmbiguousAddress { .. } => StatusCode::CONFLICT,
        RolloutError::CorruptHost { .. } | RolloutError::Task(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    reason: &'static str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            log::error!("ui: {self}");
        } else {
            log::warn!("ui: {} {self}", status.as_u16());
        }
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("error"),
            message: self.public_message(),
        };
        let body = page.render().unwrap_or_else(|_| "error".to_owned());
        (status, Html(body)).into_response()
    }
}
