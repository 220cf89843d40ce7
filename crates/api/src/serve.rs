//! Serving the router: plain HTTP on loopback, TLS (rustls, PEM files reloaded on SIGHUP)
//! anywhere else; a client that sends its headers or body too slowly, or idles on a
//! keep-alive connection, is cut off; SIGTERM and SIGINT stop accepting and let requests in
//! flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct Listen {
    pub address: SocketAddr,
    /// The certificate chain and key (PEM); `None` is plain HTTP.
    pub tls: Option<TlsFiles>,
    /// How long a client may take to send a request's headers, counted from the moment the
    /// server waits for them (so also how long a keep-alive connection may sit idle), and
    /// how long it may pause while sending a body.
    pub client_timeout: Duration,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What can stop the server from serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reading the TLS certificate `{}` and key `{}`: {source}", cert.display(), key.display())]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Whether serving on `address` is safe as configured: beyond loopback, a request must be
/// authenticated (tokens, unless `insecure_no_auth`) and its token must not cross the
/// network in clear (TLS, unless `insecure_plain_http`). `Err` says what to change.
pub fn check_exposure(
    address: SocketAddr,
    has_tokens: bool,
    has_tls: bool,
    insecure_no_auth: bool,
    insecure_plain_http: bool,
) -> Result<(), String> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    if !has_tokens && !insecure_no_auth {
        return Err(format!(
            "refusing to listen on {address} without a token: anyone who reaches it could \
             change rules; set --token or PROMRULES_TOKENS, or pass --insecure-no-auth"
        ));
    }
    if !has_tls && !insecure_plain_http {
        return Err(format!(
            "refusing to listen on {address} over plain HTTP: tokens would cross the network \
             in clear; pass --tls-cert and --tls-key, or --insecure-plain-http"
        ));
    }
    Ok(())
}

/// Serves `app` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    app: Router,
    listen: Listen,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = app
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(listen.client_timeout))
        .into_make_service();
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.graceful_shutdown(None);
    });
    let address = listen.address;
    let listen_error = |source| ServeError::Listen { address, source };
    match &listen.tls {
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls_error = |source| ServeError::Tls {
                cert: files.cert.clone(),
                key: files.key.clone(),
                source,
            };
            let config =
                RustlsConfig::from_pem_file(&files.cert, &files.key).await.map_err(tls_error)?;
            tokio::spawn(reload_on_sighup(config.clone(), files.clone()));
            let mut server = axum_server::bind_rustls(address, config).handle(handle);
            configure(server.http_builder(), listen.client_timeout);
            server.serve(app).await.map_err(listen_error)
        }
        None => {
            let mut server = axum_server::bind(address).handle(handle);
            configure(server.http_builder(), listen.client_timeout);
            server.serve(app).await.map_err(listen_error)
        }
    }
}

fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    client_timeout: Duration,
) {
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(client_timeout);
}

/// Reads the certificate and key again on every SIGHUP; a pair that does not load is
/// logged and the one in use stays.
async fn reload_on_sighup(config: RustlsConfig, files: TlsFiles) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        log::error!("cannot install a SIGHUP handler; the TLS certificate will not reload");
        return;
    };
    while hangups.recv().await.is_some() {
        match config.reload_from_pem_file(&files.cert, &files.key).await {
            Ok(()) => log::info!("SIGHUP: reloaded the TLS certificate `{}`", files.cert.display()),
            Err(error) => log::error!(
                "SIGHUP: the TLS certificate `{}` or key `{}` does not load ({error}); \
                 keeping the one in use",
                files.cert.display(),
                files.key.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_exposure;

    #[test]
    fn beyond_loopback_needs_tokens_and_tls_unless_told_otherwise() {
        let loopback = "127.0.0.1:8090".parse().unwrap();
        let open = "192.0.2.10:8090".parse().unwrap();
        assert!(check_exposure(loopback, false, false, false, false).is_ok());
        let no_token = check_exposure(open, false, true, false, false).unwrap_err();
        assert!(no_token.contains("--insecure-no-auth"), "{no_token}");
        let plain = check_exposure(open, true, false, false, false).unwrap_err();
        assert!(plain.contains("--tls-cert") && plain.contains("--insecure-plain-http"), "{plain}");
        assert!(check_exposure(open, true, true, false, false).is_ok());
        assert!(check_exposure(open, true, false, false, true).is_ok());
        assert!(check_exposure(open, false, false, true, true).is_ok());
    }
}
