//! The HTTP side: `/_health`, `/metrics`, and the webhook on every other path.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ConfigError;
use crate::runner::Executor;
use crate::webhook::{Message, Status};

/// The answer of `/_health`, word for word the original's.
pub const HEALTH_TEXT: &str = "All systems are functioning within normal specifications.";

/// The default largest webhook body: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The application: health, metrics, and the webhook on every other path.
pub fn router(executor: Arc<Executor>, body_limit: usize) -> Router {
    Router::new()
        .route("/_health", get(|| async { HEALTH_TEXT }))
        .route("/metrics", get(metrics))
        .fallback(webhook)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(executor)
}

async fn metrics(State(executor): State<Arc<Executor>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], executor.metrics().encode()).into_response()
}

async fn webhook(
    State(executor): State<Arc<Executor>>,
    method: Method,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // The original's README sends the webhook with GET; Alertmanager uses POST.
    if !matches!(method, Method::POST | Method::GET | Method::PUT) {
        return (StatusCode::METHOD_NOT_ALLOWED, "the webhook takes POST, PUT or GET\n")
            .into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            executor.metrics().error("read");
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "request body is larger than the limit".to_owned()
            } else {
                format!("cannot read the request body: {rejection}")
            };
            log::warn!("{message}");
            return (status, message + "\n").into_response();
        }
    };
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err(error) => {
            executor.metrics().error("unmarshal");
            log::warn!("rejected a webhook: {error}");
            return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
        }
    };
    match message.status() {
        Ok(Status::Firing) => {
            // In a task of its own: when the client gives up (Alertmanager times a webhook
            // out after 10 s or so), the commands go on being waited for and tracked, so a
            // later resolve still reaches them and `max` still counts them.
            let firing = Arc::clone(&executor);
            let failures = match tokio::spawn(async move { firing.fire(&message).await }).await {
                Ok(failures) => failures,
                Err(error) => vec![format!("running the commands failed: {error}")],
            };
            if failures.is_empty() {
                StatusCode::OK.into_response()
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, failures.join("\n") + "\n").into_response()
            }
        }
        Ok(Status::Resolved) => {
            executor.resolve(&message);
            StatusCode::OK.into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    }
}

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct Listen {
    pub address: SocketAddr,
    /// Certificate and key files (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Parses a listen address as Go does: `:8080` is every interface, `host:port` resolves.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, ConfigError> {
    let error = |problem: String| ConfigError::ListenAddress { address: text.to_owned(), problem };
    let full = if text.starts_with(':') { format!("0.0.0.0{text}") } else { text.to_owned() };
    full.to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .next()
        .ok_or_else(|| error("it resolves to no address".to_owned()))
}

/// Checks the TLS settings: both files or neither (the original served plain HTTP with one).
pub fn tls_files(
    crt: Option<&str>,
    key: Option<&str>,
) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    let crt = crt.filter(|s| !s.is_empty());
    let key = key.filter(|s| !s.is_empty());
    match (crt, key) {
        (Some(crt), Some(key)) => Ok(Some((crt.into(), key.into()))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::HalfTls { given: "tls_crt" }),
        (None, Some(_)) => Err(ConfigError::HalfTls { given: "tls_key" }),
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets the executor wind its
/// commands down within `grace`, and returns.
pub async fn serve(
    executor: Arc<Executor>,
    listen: Listen,
    body_limit: usize,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ConfigError> {
    let app = router(Arc::clone(&executor), body_limit).into_make_service();
    let handle = axum_server::Handle::new();
    let signal_handle = handle.clone();
    let waiting = Arc::clone(&executor);
    tokio::spawn(async move {
        shutdown.await;
        log::info!("shutting down: no new requests; {} command(s) running", waiting.running());
        signal_handle.graceful_shutdown(Some(grace + Duration::from_secs(1)));
    });
    let served = match listen.tls {
        Some((crt, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&crt, &key)
                .await
                .map_err(|source| ConfigError::Tls {
                    crt: crt.display().to_string(),
                    key: key.display().to_string(),
                    source,
                })?;
            log::info!("listening on https://{}", listen.address);
            axum_server::bind_rustls(listen.address, tls).handle(handle).serve(app).await
        }
        None => {
            log::info!("listening on http://{}", listen.address);
            axum_server::bind(listen.address).handle(handle).serve(app).await
        }
    };
    served.map_err(|e| ConfigError::ListenAddress {
        address: listen.address.to_string(),
        problem: e.to_string(),
    })?;
    executor.shutdown(grace).await;
    Ok(())
}
