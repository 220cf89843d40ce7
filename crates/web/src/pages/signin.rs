//! Signing in with a token, and out.
//!
//! The sign-in form is protected by a double-submit token: a random value both in a
//! short-lived cookie and in the form, which must match (a page elsewhere can post the
//! form but cannot read or set the cookie).

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::form::{FormData, check_csrf};
use crate::session::{SESSION_COOKIE, cookie, random_hex, set_cookie};
use crate::{Web, WebError};

const SIGNIN_COOKIE: &str = "promrules_signin";

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    csrf: String,
    next: String,
    problem: Option<String>,
    assets: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
}

fn render(
    web: &Web,
    next: String,
    problem: Option<String>,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let csrf = random_hex();
    let page = SignIn { csrf: csrf.clone(), next, problem, assets: crate::assets::VERSION };
    let cookie =
        set_cookie(SIGNIN_COOKIE, &csrf, Duration::from_secs(3600), web.config.secure_cookies);
    Ok((status, [(header::SET_COOKIE, cookie)], axum::response::Html(page.render()?))
        .into_response())
}

pub(crate) async fn form(
    State(web): State<Web>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, WebError> {
    if web.app.config().tokens.is_empty() {
        return Ok(super::see_other("/ui/rules"));
    }
    let next = super::local_page(query.next.as_deref(), "/ui/rules");
    render(&web, next, None, axum::http::StatusCode::OK)
}

pub(crate) async fn sign_in(
    State(web): State<Web>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = FormData::parse(&body);
    check_csrf(cookie(&headers, SIGNIN_COOKIE).unwrap_or_default(), form.get("csrf"))?;
    let next = super::local_page(form.get("next"), "/ui/rules");
    if web.app.config().tokens.is_empty() {
        return Ok(super::see_other(&next));
    }
    let Some(token) = web.app.config().token_for(form.get("token").unwrap_or_default().trim())
    else {
        log::warn!("ui: a sign-in with an unknown token was refused");
        let problem = Some("That token is not valid.".to_owned());
        return render(&web, next, problem, axum::http::StatusCode::UNAUTHORIZED);
    };
    let ttl = web.config.session_ttl;
    let id = web.sessions.open(token.name(), token.scope(), ttl);
    log::info!(actor = token.name(); "ui: {} signed in (scope {})", token.name(), token.scope());
    let mut response = super::see_other(&next);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, ttl, web.config.secure_cookies),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(SIGNIN_COOKIE, "", Duration::ZERO, web.config.secure_cookies),
    );
    Ok(response)
}

pub(crate) async fn sign_out(
    State(web): State<Web>,
    headers: HeaderMap,
    posted: crate::form::Posted,
) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        web.sessions.close(id);
    }
    log::info!(actor = posted.viewer.actor.as_str(); "ui: {} signed out", posted.viewer.actor);
    let mut response = super::see_other(if web.app.config().tokens.is_empty() {
        "/ui/rules"
    } else {
        "/ui/signin"
    });
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Duration::ZERO, web.config.secure_cookies),
    );
    response
}
