//! Bearer tokens for mutating requests.
//!
//! With no token configured every request passes (the server refuses to listen beyond
//! loopback that way unless told `--insecure-no-auth`). With tokens, POST, PUT, PATCH and
//! DELETE need `Authorization: Bearer <token>` matching one of them, and so does
//! `GET /api/v1/targets`; other reads stay open.
//! Tokens are compared in constant time, against every configured token, so the time
//! taken tells nothing about how much of a guess was right.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &state.config.tokens;
    let mutating =
        matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    // The scrape inventory (every host name, port and path) is not for anonymous readers.
    let guarded_read = request.uri().path() == "/api/v1/targets";
    if tokens.is_empty() || !(mutating || guarded_read) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return unauthorized("this request needs `Authorization: Bearer <token>`");
    };
    let accepted = tokens.iter().fold(subtle::Choice::from(0), |any, token| {
        any | token.as_bytes().ct_eq(presented.as_bytes())
    });
    if bool::from(accepted) {
        next.run(request).await
    } else {
        unauthorized("the bearer token is not valid")
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}
