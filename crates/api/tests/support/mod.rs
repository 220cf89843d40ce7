//! A router over a fresh database, and a small client for it whose every answer is checked
//! against the OpenAPI document (`openapi`).

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use promrules_api::{AppState, Config, Scope, Token, router};
use promrules_model::{RuleFilter, Store};
use serde_json::Value;
use test_support::Postgres;
use tower::ServiceExt;

pub(crate) mod openapi;

pub(crate) struct TestApp {
    store: Store,
    config: Config,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    pub(crate) fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("rules.db").to_str().unwrap().to_owned();
        TestApp {
            store: Store::open(&url).unwrap(),
            config: Config::default(),
            url,
            _dir: Some(dir),
        }
    }

    pub(crate) fn postgres() -> TestApp {
        let url = Postgres::shared().fresh_database();
        TestApp { store: Store::open(&url).unwrap(), config: Config::default(), url, _dir: None }
    }

    /// Named tokens: `(name, scope, secret)`.
    pub(crate) fn with_tokens(mut self, tokens: &[(&str, Scope, &str)]) -> TestApp {
        self.config.tokens = tokens
            .iter()
            .map(|(name, scope, secret)| Token::new(name, *scope, secret).unwrap())
            .collect();
        self
    }

    pub(crate) fn with_public_reads(mut self) -> TestApp {
        self.config.public_reads = true;
        self
    }

    pub(crate) fn state(&self) -> AppState {
        AppState::new(self.store.clone(), self.config.clone())
    }

    pub(crate) fn router(&self) -> Router {
        router(self.state())
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(self.router())
    }

    pub(crate) fn rule_count(&self) -> i64 {
        self.store.count_rules(&RuleFilter::default()).unwrap()
    }

    /// Drops this test's PostgreSQL database under the running app.
    pub(crate) fn drop_postgres_database(&self) {
        let name = self.url.rsplit('/').next().unwrap();
        Postgres::shared().psql("postgres", &format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
    }
}

pub(crate) struct Client {
    app: Router,
    token: Option<String>,
}

impl Client {
    pub(crate) fn new(app: Router) -> Client {
        Client { app, token: None }
    }

    pub(crate) fn with_token(mut self, token: &str) -> Client {
        self.token = Some(token.to_owned());
        self
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send("GET", path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send("POST", path, Some(body)).await
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let content_type = if body.is_some() { "application/json" } else { "" };
        self.raw(method, path, content_type, bytes, None).await
    }

    /// A request with exactly these parts; the answer parsed as JSON (`Null` if empty).
    pub(crate) async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        if_none_match: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) =
            self.exchange(method, path, content_type, body, if_none_match).await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// A GET answered as text, with its headers.
    pub(crate) async fn text(
        &self,
        path: &str,
        if_none_match: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let (status, headers, bytes) =
            self.exchange("GET", path, "", Vec::new(), if_none_match).await;
        (status, headers, String::from_utf8(bytes).unwrap())
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        if_none_match: Option<&str>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        let response =
            self.app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        let answered = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let path_only = path.split('?').next().unwrap_or(path);
        openapi::check(method, path_only, status.as_u16(), answered, &bytes);
        (status, headers, bytes)
    }
}

/// Serves `app` on a real loopback socket and has 8 threads create 1,000 rules each.
pub(crate) fn concurrent_creates(app: TestApp) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router();
    runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });

    std::thread::scope(|scope| {
        for client in 0..8 {
            scope.spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                for i in 0..1_000 {
                    let body = serde_json::json!({"name": format!("C{client}R{i}"), "expression": format!("up == {i}")});
                    let response = agent
                        .post(&format!("http://{address}/api/v1/rules"))
                        .send_json(&body)
                        .unwrap_or_else(|e| panic!("client {client}, rule {i}: {e}"));
                    assert_eq!(response.status(), 201);
                }
            });
        }
    });
    assert_eq!(app.rule_count(), 8_000);
}
