//! `ApiError`: the one place where errors become HTTP responses.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to a client: a status and a JSON body naming the problem.
///
/// Internal details (database messages) go to the log, never to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    fields: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fields: &'a BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), fields: BTreeMap::new() }
    }

    /// Adds a field and its problem to the body.
    pub fn with_field(mut self, field: impl Into<String>, problem: impl Into<String>) -> ApiError {
        self.fields.insert(field.into(), problem.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// A failure that is ours, not the client's; the client sees a generic message.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        log::error!("internal error: {detail}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<promrules_rollout::RolloutError> for ApiError {
    fn from(error: promrules_rollout::RolloutError) -> ApiError {
        use promrules_rollout::RolloutError;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            RolloutError::Store(error) => ApiError::from(error),
            RolloutError::UnknownHost(name) => {
                ApiError::new(unprocessable, format!("unknown host `{name}`"))
                    .with_field("hosts", format!("`{name}` is not a known host"))
            }
            RolloutError::NoHosts => ApiError::new(unprocessable, "no host to deploy to")
                .with_field("hosts", "no host is configured"),
            error @ RolloutError::NoHostAt(_) => ApiError::not_found(error.to_string()),
            error @ RolloutError::AmbiguousAddress { .. } => {
                ApiError::new(StatusCode::CONFLICT, error.to_string())
            }
            error @ (RolloutError::CorruptHost { .. } | RolloutError::Task(_)) => {
                ApiError::internal(error.to_string())
            }
        }
    }
}

impl From<promrules_model::Error> for ApiError {
    fn from(error: promrules_model::Error) -> ApiError {
        use promrules_model::Error;
        match error {
            Error::Invalid(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("invalid input: {errors}"),
                fields: errors.fields().clone(),
            },
            Error::NotFound { .. } | Error::Missing(_) => ApiError::not_found(error.to_string()),
            Error::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
            Error::Pool(_) | Error::Connect { .. } => {
                log::error!("database unavailable: {error}");
                ApiError::unavailable("database unavailable; see the server log")
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            log::warn!("{} {}", self.status.as_u16(), self.message);
        }
        let body = Body { error: &self.message, fields: &self.fields };
        (self.status, axum::Json(body)).into_response()
    }
}
