//! The UI and the API over a fresh SQLite database, and a browser-less visitor: a client
//! that keeps the session cookie and reads each page's CSRF token, as a browser would.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use promrules_api::{AppState, Config, Scope, Token};
use promrules_model::Store;
use tower::ServiceExt;

pub(crate) const ADMIN: &str = "admin-secret-1";
pub(crate) const WRITER: &str = "writer-secret-2";
pub(crate) const READER: &str = "reader-secret-3";

pub(crate) struct TestUi {
    pub(crate) store: Store,
    router: Router,
    _dir: tempfile::TempDir,
}

impl TestUi {
    /// With no tokens (the loopback set-up): no sign-in.
    pub(crate) fn open() -> TestUi {
        TestUi::with(Vec::new(), promrules_web::WebConfig::default())
    }

    /// With an admin, a writer and a reader token.
    pub(crate) fn with_tokens() -> TestUi {
        let tokens = vec![
            Token::new("alice", Scope::Admin, ADMIN).unwrap(),
            Token::new("wanda", Scope::Write, WRITER).unwrap(),
            Token::new("rita", Scope::Read, READER).unwrap(),
        ];
        TestUi::with(tokens, promrules_web::WebConfig::default())
    }

    pub(crate) fn with(tokens: Vec<Token>, web: promrules_web::WebConfig) -> TestUi {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("rules.db").to_str().unwrap()).unwrap();
        let config = Config { tokens, ssh_control_dir: dir.path().to_owned(), ..Config::default() };
        let state = AppState::new(store.clone(), config);
        let router = promrules_api::router(state.clone()).merge(promrules_web::router(state, web));
        TestUi { store, router, _dir: dir }
    }

    pub(crate) fn visitor(&self) -> Visitor {
        Visitor { router: self.router.clone(), cookies: Vec::new(), csrf: None }
    }
}

/// An answer: status, headers and body text.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn location(&self) -> &str {
        self.headers.get("location").map_or("", |value| value.to_str().unwrap())
    }

    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A browser without a browser: cookies kept, the last page's CSRF token remembered.
pub(crate) struct Visitor {
    router: Router,
    cookies: Vec<(String, String)>,
    pub(crate) csrf: Option<String>,
}

impl Visitor {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
        htmx: bool,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let cookie: Vec<String> =
                self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookie.join("; "));
        }
        if htmx {
            request = request.header("hx-request", "true");
        }
        let body = match form {
            Some(pairs) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                let mut encoded = form_urlencoded::Serializer::new(String::new());
                for (key, value) in pairs {
                    encoded.append_pair(key, value);
                }
                Body::from(encoded.finish())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for cookie in headers.get_all("set-cookie") {
            let text = cookie.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(known, _)| known != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        let body =
            String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec())
                .unwrap();
        if let Some(csrf) = csrf_of(&body) {
            self.csrf = Some(csrf);
        }
        Answer { status, headers, body }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None, false).await
    }

    /// Posts `fields` with the last page's CSRF token.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone().expect("a page with a form was read first");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send("POST", path, Some(&all), false).await
    }

    /// Posts exactly `fields` (no CSRF token added).
    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send("POST", path, Some(fields), false).await
    }

    /// Posts as htmx does (`HX-Request: true`), with the CSRF token.
    pub(crate) async fn post_htmx(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone().expect("a page with a form was read first");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send("POST", path, Some(&all), true).await
    }

    /// Signs in with `token` through the sign-in form.
    pub(crate) async fn sign_in(&mut self, token: &str) -> Answer {
        let form = self.get("/ui/signin").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        self.post("/ui/signin", &[("token", token), ("next", "/ui/rules")]).await
    }
}

/// The value of the first `name="csrf"` hidden field of a page.
fn csrf_of(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(body[at..].split('"').next()?.to_owned())
}
