//! The HTTP side: `/_health`, `/metrics`, and the webhook on every other path.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::auth::{WebhookAuth, exposure};
use crate::error::ConfigError;
use crate::runner::Executor;
use crate::webhook::{Message, Status};

/// The answer of `/_health`, word for word the original's.
pub const HEALTH_TEXT: &str = "All systems are functioning within normal specifications.";

/// The default largest webhook body: 16 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The application: health, metrics, and the webhook on every other path, which needs
/// `auth` when one is given.
///
/// Routing is Go's `net/http` mux, as the original's: `/_health` answers any method, every
/// other path and method is the webhook (but ours: `POST /_pause` and `POST /_resume`), and a path that needs cleaning (`//`, `/./`,
/// `/../`) is a 301 to the cleaned path, running nothing.
pub fn router(executor: Arc<Executor>, body_limit: usize, auth: Option<WebhookAuth>) -> Router {
    Router::new()
        .route("/_health", any(|| async { format!("{HEALTH_TEXT}\n") }))
        .route("/metrics", any(metrics))
        .route("/_pause", axum::routing::post(pause))
        .route("/_resume", axum::routing::post(resume))
        .fallback(webhook)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(auth.map(Arc::new), crate::auth::require))
        .layer(axum::middleware::from_fn(redirect_unclean))
        .with_state(executor)
}

/// Go's `ServeMux`: a request whose path is not clean is redirected (301) to the clean
/// one, with its query, and reaches no handler.
async fn redirect_unclean(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let clean = clean_path(path);
    if clean == path {
        return next.run(request).await;
    }
    let location = match request.uri().query() {
        Some(query) => format!("{clean}?{query}"),
        None => clean,
    };
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response()
}

/// Go's `cleanPath`: `path.Clean` of the rooted path (`.` and `..` resolved, `//` merged),
/// keeping a trailing slash.
pub(crate) fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut clean = format!("/{}", parts.join("/"));
    if path.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// `POST /_pause`: ours, for an incident; firing alerts run nothing until `/_resume`.
/// Behind the webhook's authentication.
async fn pause(State(executor): State<Arc<Executor>>) -> &'static str {
    executor.set_paused(true);
    "paused: firing alerts run nothing until POST /_resume\n"
}

/// `POST /_resume`.
async fn resume(State(executor): State<Arc<Executor>>) -> &'static str {
    executor.set_paused(false);
    "resumed\n"
}

async fn metrics(State(executor): State<Arc<Executor>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], executor.metrics().encode()).into_response()
}

/// The webhook, on every path and method but `/_health`'s (the original's README sends it
/// with GET; Alertmanager uses POST).
async fn webhook(
    State(executor): State<Arc<Executor>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
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

/// How to serve the bound socket, and who may call the webhook.
#[derive(Debug, Clone, Default)]
pub struct Listen {
    /// Certificate and key files (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// What a webhook request must present; without it (or `client_ca`), only loopback is
    /// served unless `insecure_no_auth` is set (see [`exposure`]).
    pub auth: Option<WebhookAuth>,
    /// With `tls`: only clients with a certificate this CA (PEM) signed connect.
    pub client_ca: Option<PathBuf>,
    pub insecure_no_auth: bool,
}

impl Listen {
    /// Whether a webhook request must authenticate (a credential or a client certificate).
    pub fn authenticated(&self) -> bool {
        self.auth.is_some() || self.client_ca.is_some()
    }
}

/// A TLS server configuration that asks every client for a certificate `ca` signed.
fn with_client_ca(crt: &Path, key: &Path, ca: &Path) -> Result<rustls::ServerConfig, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls_error = |problem: String| ConfigError::Tls {
        crt: crt.display().to_string(),
        key: key.display().to_string(),
        source: std::io::Error::other(problem),
    };
    let ca_error = |problem: String| ConfigError::ClientCa { path: ca.to_owned(), problem };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(crt)
        .and_then(Iterator::collect)
        .map_err(|e| tls_error(e.to_string()))?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let authorities: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
        .and_then(Iterator::collect)
        .map_err(|e| ca_error(e.to_string()))?;
    if authorities.is_empty() {
        return Err(ca_error("it holds no certificate".to_owned()));
    }
    for authority in authorities {
        roots.add(authority).map_err(|e| ca_error(e.to_string()))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| ca_error(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private)
        .map_err(|e| tls_error(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
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

/// Binds the webhook's socket on `address`, before any request can be served: a caller
/// that binds port 0 learns the port the system gave from the socket, with no window in
/// which another program could take it.
pub fn bind(address: SocketAddr) -> Result<std::net::TcpListener, ConfigError> {
    let error = |e: std::io::Error| ConfigError::ListenAddress {
        address: address.to_string(),
        problem: e.to_string(),
    };
    let socket = std::net::TcpListener::bind(address).map_err(error)?;
    socket.set_nonblocking(true).map_err(error)?;
    Ok(socket)
}

/// Serves on `socket` (see [`bind`]) until `shutdown` resolves, then stops accepting, lets
/// the executor wind its commands down within `grace`, and returns.
pub async fn serve(
    executor: Arc<Executor>,
    socket: std::net::TcpListener,
    listen: Listen,
    body_limit: usize,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ConfigError> {
    let listen_error = |address: String| {
        move |e: std::io::Error| ConfigError::ListenAddress { address, problem: e.to_string() }
    };
    let address = socket.local_addr().map_err(listen_error("the webhook's socket".to_owned()))?;
    exposure(address, listen.authenticated(), listen.insecure_no_auth)?;
    if listen.client_ca.is_some() && listen.tls.is_none() {
        return Err(ConfigError::ClientCaWithoutTls);
    }
    if !listen.authenticated() && !address.ip().is_loopback() {
        log::warn!(
            "the webhook on {address} takes requests from anyone who reaches it \
             (--insecure-no-auth)"
        );
    }
    let app = router(Arc::clone(&executor), body_limit, listen.auth.clone()).into_make_service();
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
            let tls = match &listen.client_ca {
                Some(ca) => axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(
                    with_client_ca(&crt, &key, ca)?,
                )),
                None => axum_server::tls_rustls::RustlsConfig::from_pem_file(&crt, &key)
                    .await
                    .map_err(|source| ConfigError::Tls {
                        crt: crt.display().to_string(),
                        key: key.display().to_string(),
                        source,
                    })?,
            };
            match &listen.client_ca {
                Some(ca) => log::info!(
                    "listening on https://{address}, for clients with a certificate from `{}`",
                    ca.display()
                ),
                None => log::info!("listening on https://{address}"),
            }
            let server = axum_server::from_tcp_rustls(socket, tls)
                .map_err(listen_error(address.to_string()))?;
            server.handle(handle).serve(app).await
        }
        None => {
            log::info!("listening on http://{address}");
            let server =
                axum_server::from_tcp(socket).map_err(listen_error(address.to_string()))?;
            server.handle(handle).serve(app).await
        }
    };
    served.map_err(listen_error(address.to_string()))?;
    executor.shutdown(grace).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn paths_clean_as_go_cleans_them() {
        for (path, clean) in [
            ("/", "/"),
            ("/hook", "/hook"),
            ("/hook/", "/hook/"),
            ("//hook", "/hook"),
            ("/a//b", "/a/b"),
            ("/./hook", "/hook"),
            ("/a/../hook", "/hook"),
            ("/../hook", "/hook"),
            ("/a/b/..", "/a"),
            ("/a/./", "/a/"),
            ("/_health/", "/_health/"),
        ] {
            assert_eq!(clean_path(path), clean, "{path}");
        }
    }
}
