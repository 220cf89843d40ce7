//! Bearer tokens for mutating requests, and for the reads that need one.
//!
//! With no token configured every request passes (the server refuses to listen beyond
//! loopback that way unless told `--insecure-no-auth`). With tokens, POST, PUT, PATCH and
//! DELETE need `Authorization: Bearer <token>` matching one of them
//! ([`require_token_for_writes`], layered on the whole router), and so does every request
//! of a route that [`require_token`] is layered on (`GET /api/v1/targets`); other reads stay
//! open.
//! Tokens are compared in constant time, against every configured token, so the time
//! taken tells nothing about how much of a guess was right.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

/// Guards the mutating requests of every route.
pub(crate) async fn require_token_for_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mutating =
        matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if !mutating {
        return next.run(request).await;
    }
    match rejection(&state.config.tokens, &request) {
        Some(response) => response,
        None => next.run(request).await,
    }
}

/// Guards every request of the routes it is layered on: reads that are not for anonymous
/// readers, such as the scrape inventory (every host name, port and path).
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match rejection(&state.config.tokens, &request) {
        Some(response) => response,
        None => next.run(request).await,
    }
}

/// The 401 for `request`, or `None` when no token is configured or it bears a valid one.
fn rejection(tokens: &[String], request: &Request) -> Option<Response> {
    if tokens.is_empty() {
        return None;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return Some(unauthorized("this request needs `Authorization: Bearer <token>`"));
    };
    let accepted = tokens.iter().fold(subtle::Choice::from(0), |any, token| {
        any | token.as_bytes().ct_eq(presented.as_bytes())
    });
    (!bool::from(accepted)).then(|| unauthorized("the bearer token is not valid"))
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}
