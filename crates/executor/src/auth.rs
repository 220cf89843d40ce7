//! Webhook authentication: a bearer token or basic auth, each secret read from a file, as
//! Alertmanager's `http_config` sends them (`authorization: {credentials_file: …}` or
//! `basic_auth: {username: …, password_file: …}`), compared in constant time.
//!
//! The original had none and listened on every interface, so anyone who reached the port
//! ran heal commands with an environment of their choosing; [`exposure`] therefore refuses
//! to listen beyond loopback without authentication unless the operator says otherwise.
//! `/_health` and `/metrics` stay open (probes and Prometheus scrape them); the webhook,
//! on every other path, needs the credential.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ConfigError;

/// The `webhook_auth:` section of the configuration: where the secrets are, never the
/// secrets themselves (a file can be readable by the executor's user alone).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAuthConfig {
    /// A file holding the bearer token Alertmanager sends (`authorization.credentials_file`).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic auth: the user name, and a file holding the password.
    #[serde(default)]
    pub basic_auth: Option<BasicAuthConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    pub username: String,
    pub password_file: PathBuf,
}

/// What a webhook request must present. `Debug` shows no secret.
#[derive(Clone)]
pub enum WebhookAuth {
    /// `Authorization: Bearer <token>`; the SHA-256 of the token is kept.
    Bearer([u8; 32]),
    /// `Authorization: Basic …` of this user name and password; the SHA-256 of
    /// `username:password` is kept.
    Basic { username: String, digest: [u8; 32] },
}

impl std::fmt::Debug for WebhookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookAuth::Bearer(_) => f.write_str("WebhookAuth::Bearer(***)"),
            WebhookAuth::Basic { username, .. } => {
                write!(f, "WebhookAuth::Basic {{ username: {username:?}, password: *** }}")
            }
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A secret file's content without its final newline; an empty one is an error.
fn read_secret(path: &Path, what: &'static str) -> Result<Vec<u8>, ConfigError> {
    let error = |problem: String| ConfigError::Secret { what, path: path.to_owned(), problem };
    let mut bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(error("it is empty".to_owned()));
    }
    Ok(bytes)
}

impl WebhookAuth {
    /// Reads the secret the configuration points at; `None` when it configures none.
    pub fn load(config: &WebhookAuthConfig) -> Result<Option<WebhookAuth>, ConfigError> {
        match (&config.bearer_token_file, &config.basic_auth) {
            (Some(_), Some(_)) => Err(ConfigError::TwoAuths),
            (Some(file), None) => {
                Ok(Some(WebhookAuth::Bearer(digest(&read_secret(file, "bearer_token_file")?))))
            }
            (None, Some(basic)) => {
                if basic.username.is_empty() || basic.username.contains(':') {
                    return Err(ConfigError::BasicUsername);
                }
                let password = read_secret(&basic.password_file, "basic_auth.password_file")?;
                let mut pair = format!("{}:", basic.username).into_bytes();
                pair.extend_from_slice(&password);
                Ok(Some(WebhookAuth::Basic {
                    username: basic.username.clone(),
                    digest: digest(&pair),
                }))
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether an `Authorization` header value presents this credential.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let text = String::from_utf8_lossy(authorization);
        let (scheme, value) = text.split_once(' ').unwrap_or((&text, ""));
        let value = value.trim();
        match self {
            WebhookAuth::Bearer(expected) => {
                scheme.eq_ignore_ascii_case("bearer")
                    && bool::from(digest(value.as_bytes()).ct_eq(expected))
            }
            WebhookAuth::Basic { digest: expected, .. } => {
                let Ok(pair) = base64::engine::general_purpose::STANDARD.decode(value) else {
                    return false;
                };
                scheme.eq_ignore_ascii_case("basic") && bool::from(digest(&pair).ct_eq(expected))
            }
        }
    }

    fn challenge(&self) -> &'static str {
        match self {
            WebhookAuth::Bearer(_) => "Bearer realm=\"am-executor\"",
            WebhookAuth::Basic { .. } => "Basic realm=\"am-executor\"",
        }
    }
}

/// Refuses to listen beyond loopback unauthenticated (`authenticated`: `webhook_auth` or a
/// client-certificate CA is configured), unless `insecure_no_auth` says the operator
/// accepts that.
pub fn exposure(
    address: SocketAddr,
    authenticated: bool,
    insecure_no_auth: bool,
) -> Result<(), ConfigError> {
    if address.ip().is_loopback() || authenticated || insecure_no_auth {
        return Ok(());
    }
    Err(ConfigError::OpenListen { address })
}

/// The middleware: the webhook needs the credential; `/_health` and `/metrics` do not.
pub(crate) async fn require(
    State(auth): State<Option<std::sync::Arc<WebhookAuth>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(auth) = auth else { return next.run(request).await };
    if matches!(request.uri().path(), "/_health" | "/metrics") {
        return next.run(request).await;
    }
    let presented = request.headers().get(header::AUTHORIZATION).map(|value| value.as_bytes());
    if presented.is_some_and(|value| auth.accepts(value)) {
        return next.run(request).await;
    }
    log::warn!(
        "refused a webhook request without valid credentials ({})",
        if presented.is_some() { "wrong credentials" } else { "no Authorization header" }
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, auth.challenge())],
        "the webhook needs credentials: see webhook_auth in the configuration\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("secret");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_bearer_token_is_accepted_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let config = WebhookAuthConfig {
            bearer_token_file: Some(secret_file(dir.path(), "s3cret-token\n")),
            basic_auth: None,
        };
        let auth = WebhookAuth::load(&config).unwrap().unwrap();
        assert!(auth.accepts(b"Bearer s3cret-token"));
        assert!(auth.accepts(b"bearer s3cret-token"), "the scheme is case-insensitive");
        assert!(!auth.accepts(b"Bearer s3cret-token2"));
        assert!(!auth.accepts(b"Bearer s3cret-toke"));
        assert!(!auth.accepts(b"Basic s3cret-token"));
        assert!(!auth.accepts(b""));
        assert_eq!(format!("{auth:?}"), "WebhookAuth::Bearer(***)");
    }

    #[test]
    fn basic_auth_needs_the_user_and_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let config = WebhookAuthConfig {
            bearer_token_file: None,
            basic_auth: Some(BasicAuthConfig {
                username: "alertmanager".into(),
                password_file: secret_file(dir.path(), "pa55:word"),
            }),
        };
        let auth = WebhookAuth::load(&config).unwrap().unwrap();
        let encode = |pair: &str| base64::engine::general_purpose::STANDARD.encode(pair);
        assert!(auth.accepts(format!("Basic {}", encode("alertmanager:pa55:word")).as_bytes()));
        assert!(!auth.accepts(format!("Basic {}", encode("alertmanager:pa55")).as_bytes()));
        assert!(!auth.accepts(format!("Basic {}", encode("other:pa55:word")).as_bytes()));
        assert!(!auth.accepts(b"Basic not-base64!"));
        assert!(!format!("{auth:?}").contains("pa55"));
    }

    #[test]
    fn bad_auth_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = WebhookAuthConfig {
            bearer_token_file: Some(secret_file(dir.path(), "\n")),
            basic_auth: None,
        };
        let error = WebhookAuth::load(&empty).unwrap_err().to_string();
        assert!(error.contains("bearer_token_file") && error.contains("empty"), "{error}");
        let missing = WebhookAuthConfig {
            bearer_token_file: Some(dir.path().join("nope")),
            basic_auth: None,
        };
        let error = WebhookAuth::load(&missing).unwrap_err().to_string();
        assert!(error.contains("nope"), "{error}");
        let both = WebhookAuthConfig {
            bearer_token_file: Some(dir.path().join("a")),
            basic_auth: Some(BasicAuthConfig { username: "u".into(), password_file: "b".into() }),
        };
        assert!(matches!(WebhookAuth::load(&both), Err(ConfigError::TwoAuths)));
    }

    #[test]
    fn only_loopback_listens_without_auth() {
        let open: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let error = exposure(open, false, false).unwrap_err().to_string();
        assert!(error.contains("webhook_auth") && error.contains("--insecure-no-auth"), "{error}");
        assert!(exposure(local, false, false).is_ok());
        assert!(exposure(open, false, true).is_ok());
        assert!(exposure(open, true, false).is_ok());
        assert!(exposure("[::1]:8080".parse().unwrap(), false, false).is_ok());
    }
}
