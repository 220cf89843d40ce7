//! Named, scoped bearer tokens: who may do what, and who did it.
//!
//! A token has a name (the actor in revisions, deployments and logs), a [`Scope`] and a
//! secret. Scopes are ordered, each including the ones below it: `read` (every GET),
//! `write` (rules, groups, imports, restores, the target model), `deploy` (deployments and
//! promtool runs) and `admin` (hosts, whose definitions include SSH commands and Prometheus
//! credentials, and the token listing). [`required_scope`] is the one table of what each
//! route needs; [`authorize`], layered on the whole router, enforces it.
//!
//! With no token configured every request passes (the server refuses to listen beyond
//! loopback that way unless told `--insecure-no-auth`). With tokens, every route needs a
//! token of at least its scope, except `/healthz` and, with `public_reads`, the plain reads
//! (never hosts, tokens, farms or the scrape inventory). 401 without a valid token, 403 with too
//! small a scope, both naming what is needed. The scheme is case-insensitive (RFC 7235);
//! secrets are kept as SHA-256 digests and compared in constant time against every token,
//! so the time taken tells nothing about how much of a guess was right.

use std::fmt;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::AppState;
use crate::error::ApiError;

/// What a token may do; each scope from `read` on includes the ones before it. `report`
/// is apart: it may only report heal runs (`POST /api/v1/heal-runs`), the least an
/// am-executor with `--report-to` needs, and reads nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Report,
    Read,
    Write,
    Deploy,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Report => "report",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Deploy => "deploy",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Scope, String> {
        match text {
            "report" => Ok(Scope::Report),
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "deploy" => Ok(Scope::Deploy),
            "admin" => Ok(Scope::Admin),
            other => Err(format!("unknown scope `{other}` (read, write, deploy, admin or report)")),
        }
    }
}

/// A named token. Only a digest of the secret is kept, and `Debug` shows the name and scope.
#[derive(Clone)]
pub struct Token {
    name: String,
    scope: Scope,
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A token file or flag that cannot be used, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct TokenError {
    /// `line N` of the file, or the flag.
    pub origin: String,
    pub problem: String,
}

impl Token {
    /// A token named `name` (letters, digits, `.`, `_`, `-`, `@`, `:`; at most 64) with
    /// `scope` whose secret is `secret`.
    pub fn new(name: &str, scope: Scope, secret: &str) -> Result<Token, String> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@:".contains(c));
        if !name_ok {
            return Err(format!(
                "the token name `{}` must be 1 to 64 letters, digits or `._-@:`",
                name.escape_debug()
            ));
        }
        if secret.is_empty() || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("the secret of token `{name}` is empty or holds whitespace"));
        }
        Ok(Token { name: name.to_owned(), scope, digest: Sha256::digest(secret).into() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Parses a token file: one `NAME SCOPE TOKEN` per line; blank lines and `#` comments
    /// are ignored. Names must be unique. Errors name the line, never the secret.
    pub fn parse_file(text: &str) -> Result<Vec<Token>, TokenError> {
        let mut tokens: Vec<Token> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error =
                |problem: String| TokenError { origin: format!("line {}", index + 1), problem };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, scope, secret] = fields[..] else {
                return Err(error(format!(
                    "expected `NAME SCOPE TOKEN`, found {} field(s)",
                    fields.len()
                )));
            };
            let scope: Scope = scope.parse().map_err(error)?;
            let token = Token::new(name, scope, secret).map_err(error)?;
            if tokens.iter().any(|known| known.name == token.name) {
                return Err(error(format!("the token name `{name}` is used twice")));
            }
            tokens.push(token);
        }
        Ok(tokens)
    }

    /// The configured token whose secret is `presented`, comparing digests in constant
    /// time against every token.
    pub(crate) fn find<'t>(tokens: &'t [Token], presented: &str) -> Option<&'t Token> {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, token) in tokens.iter().enumerate() {
            let matches = token.digest.ct_eq(&digest);
            index.conditional_assign(&(i as u32), matches);
            found |= matches;
        }
        bool::from(found).then(|| &tokens[index as usize])
    }
}

/// The scope a request needs, from its method and matched route; `None` is open to all.
pub(crate) fn required_scope(method: &Method, route: &str, public_reads: bool) -> Option<Scope> {
    let reading = matches!(*method, Method::GET | Method::HEAD);
    match route {
        "/healthz" => None,
        _ if route.starts_with("/api/v1/hosts") || route == "/api/v1/tokens" => Some(Scope::Admin),
        "/api/v1/deployments" | "/deploy" | "/api/v1/rules/test" if !reading => Some(Scope::Deploy),
        // The scrape inventory (every host name, port and path) is never public, nor are
        // the farms that list the same hosts.
        "/api/v1/targets" => Some(Scope::Read),
        _ if reading && route.starts_with("/api/v1/farms") => Some(Scope::Read),
        _ if reading && public_reads => None,
        _ if reading => Some(Scope::Read),
        _ => Some(Scope::Write),
    }
}

/// Who made a request: the token's name, or `api` when the server has no tokens.
#[derive(Debug, Clone)]
pub(crate) struct Actor(pub(crate) String);

tokio::task_local! {
    /// The actor of the request being served, for the writes it makes.
    pub(crate) static ACTOR: Actor;
}

/// The actor of the current request (`api` outside one).
pub(crate) fn current_actor() -> String {
    ACTOR.try_with(|actor| actor.0.clone()).unwrap_or_else(|_| "api".to_owned())
}

/// Checks every request against [`required_scope`], and runs it as its token's actor.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &state.config.tokens;
    if tokens.is_empty() {
        return ACTOR.scope(Actor("api".to_owned()), next.run(request)).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let needed = required_scope(request.method(), &route, state.config.public_reads);
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, credentials) = value.trim().split_once(char::is_whitespace)?;
            scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim())
        });
    let token = presented.and_then(|secret| Token::find(tokens, secret));
    let Some(needed) = needed else {
        let actor = token.map_or("anonymous", |token| token.name());
        return ACTOR.scope(Actor(actor.to_owned()), next.run(request)).await;
    };
    let Some(token) = token else {
        let problem = if presented.is_some() { "the bearer token is not valid; " } else { "" };
        return unauthorized(&format!(
            "{problem}this request needs `Authorization: Bearer <token>` with scope `{needed}` or above"
        ));
    };
    // A `report` token may report heal runs and nothing else.
    let reporting = token.scope == Scope::Report
        && request.method() == Method::POST
        && route == "/api/v1/heal-runs";
    if token.scope < needed && !reporting {
        log::warn!(
            "{} {route}: token `{}` has scope `{}`, needs `{needed}`",
            request.method(),
            token.name,
            token.scope
        );
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has scope `{}`; this request needs `{needed}`",
                token.name, token.scope
            ),
        )
        .into_response();
    }
    ACTOR.scope(Actor(token.name.clone()), next.run(request)).await
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

/// `GET /api/v1/tokens` (admin): each token's name and scope, never its secret.
pub(crate) async fn list(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let tokens: Vec<serde_json::Value> = state
        .config
        .tokens
        .iter()
        .map(|token| serde_json::json!({"name": token.name, "scope": token.scope}))
        .collect();
    axum::Json(serde_json::json!({ "tokens": tokens }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_name_the_bad_line_and_never_the_secret() {
        let tokens = Token::parse_file(
            "# ops tokens\n\nalice admin s3cret-a\n  bob   read   s3cret-b  \n# carol write x\n",
        )
        .unwrap();
        let names: Vec<(&str, Scope)> = tokens.iter().map(|t| (t.name(), t.scope())).collect();
        assert_eq!(names, [("alice", Scope::Admin), ("bob", Scope::Read)]);
        assert_eq!(Token::find(&tokens, "s3cret-b").map(Token::name), Some("bob"));
        assert!(Token::find(&tokens, "s3cret-").is_none());
        assert!(Token::find(&tokens, "# carol write x").is_none());
        assert!(!format!("{tokens:?}").contains("s3cret"));

        for (text, line, problem) in [
            ("alice admin\n", "line 1", "expected `NAME SCOPE TOKEN`, found 2"),
            ("\nalice root s3cret\n", "line 2", "unknown scope `root`"),
            ("a admin x\na read y\n", "line 2", "used twice"),
            ("al$ce admin s3cret\n", "line 1", "token name"),
            ("alice admin s3cret extra\n", "line 1", "found 4"),
        ] {
            let error = Token::parse_file(text).unwrap_err();
            assert_eq!(error.origin, line, "{text:?}");
            assert!(error.problem.contains(problem), "{text:?}: {error}");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn routes_need_the_scope_of_what_they_do() {
        let get = Method::GET;
        let post = Method::POST;
        for (method, route, public, needed) in [
            (&get, "/api/v1/rules", false, Some(Scope::Read)),
            (&get, "/api/v1/rules", true, None),
            (&get, "/healthz", false, None),
            (&get, "/metrics", false, Some(Scope::Read)),
            (&get, "/api/v1/targets", true, Some(Scope::Read)),
            (&get, "/api/v1/farms", true, Some(Scope::Read)),
            (&get, "/api/v1/farms/{id}", true, Some(Scope::Read)),
            (&get, "/api/v1/shards", true, None),
            (&get, "/api/v1/hosts", true, Some(Scope::Admin)),
            (&get, "/api/v1/hosts/{id}", false, Some(Scope::Admin)),
            (&get, "/api/v1/tokens", true, Some(Scope::Admin)),
            (&post, "/api/v1/rules", true, Some(Scope::Write)),
            (&post, "/rules", false, Some(Scope::Write)),
            (&post, "/api/v1/import", false, Some(Scope::Write)),
            (&post, "/api/v1/revisions/{n}/restore", false, Some(Scope::Write)),
            (&Method::DELETE, "/api/v1/farms/{id}", false, Some(Scope::Write)),
            (&post, "/api/v1/deployments", false, Some(Scope::Deploy)),
            (&post, "/deploy", false, Some(Scope::Deploy)),
            (&post, "/api/v1/rules/test", false, Some(Scope::Deploy)),
            (&get, "/api/v1/deployments/{id}", false, Some(Scope::Read)),
            (&post, "/api/v1/hosts", false, Some(Scope::Admin)),
        ] {
            assert_eq!(required_scope(method, route, public), needed, "{method} {route} {public}");
        }
    }
}
