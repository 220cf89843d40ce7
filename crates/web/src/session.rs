//! Sessions and sign-in: who is looking, what they may do, and the CSRF token of their forms.
//!
//! A session is a random 256-bit id in the `promrules_session` cookie (HttpOnly,
//! SameSite=Strict, `Path=/ui`, `Secure` under TLS, `Max-Age` its lifetime), mapped in
//! memory to the token's name and scope (never its secret) and a CSRF token of its own.
//! Sessions end on sign-out, on expiry, or when the server restarts. With no tokens
//! configured, [`require`] gives each new visitor a session as `ui` with every scope, so
//! forms still carry a CSRF token: a page elsewhere cannot post to a loopback server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use promrules_api::Scope;

use crate::{Web, WebError};

/// The cookie that names a session.
pub(crate) const SESSION_COOKIE: &str = "promrules_session";

#[derive(Debug, Clone)]
struct Session {
    actor: String,
    scope: Scope,
    csrf: String,
    expires: Instant,
}

/// The live sessions of this process.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session; its id, for the cookie.
    pub(crate) fn open(&self, actor: &str, scope: Scope, ttl: Duration) -> String {
        let id = random_hex();
        let session = Session {
            actor: actor.to_owned(),
            scope,
            csrf: random_hex(),
            expires: Instant::now() + ttl,
        };
        let mut map = self.map.lock().expect("the session map is never poisoned");
        let now = Instant::now();
        map.retain(|_, session| session.expires > now);
        map.insert(id.clone(), session);
        id
    }

    fn get(&self, id: &str) -> Option<Session> {
        let map = self.map.lock().expect("the session map is never poisoned");
        map.get(id).filter(|session| session.expires > Instant::now()).cloned()
    }

    pub(crate) fn close(&self, id: &str) {
        self.map.lock().expect("the session map is never poisoned").remove(id);
    }
}

/// 32 random bytes from the operating system, as hex.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for `/ui`: HttpOnly and SameSite=Strict always, `Secure` when asked.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).expect("cookie names and hex values are valid header text")
}

/// Who is looking at a page: the session's actor, scope and CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) actor: String,
    pub(crate) scope: Scope,
    pub(crate) csrf: String,
    /// The session came from signing in (tokens are configured), so sign-out makes sense.
    pub(crate) signed_in: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Viewer, WebError> {
        parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .ok_or_else(|| WebError::Internal("a page was served without a session".into()))
    }
}

/// Every page but sign-in and the static files: finds the session (or, without tokens,
/// opens one), and sends a visitor without one to sign in.
pub(crate) async fn require(State(web): State<Web>, mut request: Request, next: Next) -> Response {
    let tokens_configured = !web.app.config().tokens.is_empty();
    let found = cookie(request.headers(), SESSION_COOKIE).and_then(|id| web.sessions.get(id));
    let (session, new_cookie) = match found {
        Some(session) => (session, None),
        None if !tokens_configured => {
            let ttl = web.config.session_ttl;
            let id = web.sessions.open("ui", Scope::Admin, ttl);
            let session = web.sessions.get(&id).expect("the session just opened");
            (session, Some(set_cookie(SESSION_COOKIE, &id, ttl, web.config.secure_cookies)))
        }
        None => {
            if request.method() == Method::GET {
                let next_page = request.uri().path_and_query().map_or("/ui/", |p| p.as_str());
                let target = format!(
                    "/ui/signin?next={}",
                    form_urlencoded::byte_serialize(next_page.as_bytes()).collect::<String>()
                );
                return Redirect::to(&target).into_response();
            }
            return WebError::Unauthorized.into_response();
        }
    };
    request.extensions_mut().insert(Viewer {
        actor: session.actor,
        scope: session.scope,
        csrf: session.csrf,
        signed_in: tokens_configured,
    });
    let mut response = next.run(request).await;
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
