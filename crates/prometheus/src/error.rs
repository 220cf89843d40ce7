//! The client's error type: every message names the Prometheus, the request and the
//! problem, and never a credential.

use std::path::PathBuf;

/// A request to Prometheus that failed, or a client that could not be set up. Messages say
/// the request and the problem; the URL is a field, for the caller's message to name.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// The request did not get an answer (connection refused, timeout, TLS).
    #[error("{request} failed: {problem}")]
    Unreachable { url: String, request: String, problem: String },

    /// Prometheus answered with an error status.
    #[error("{request} answered {status}: {body}{}", hint(*status, request))]
    Status { url: String, request: String, status: u16, body: String },

    /// The answer is not what Prometheus sends (another server on the port, a proxy).
    #[error("{request}: unexpected answer: {problem}")]
    Answer { url: String, request: String, problem: String },

    /// Prometheus tried the reload and failed to load the configuration, or its reload
    /// metrics do not show the reload as done.
    #[error("{problem}")]
    ReloadRejected { url: String, problem: String },

    /// The CA file for an https URL is unreadable or holds no certificate.
    #[error("CA file `{}`: {problem}", path.display())]
    CaFile { path: PathBuf, problem: String },

    /// promtool could not be run, or its input could not be prepared.
    #[error("promtool: {problem}")]
    Promtool { problem: String },

    /// The URL's host name could not be resolved to the servers it stands for.
    #[error("resolving the host of {url}: {problem}")]
    Resolve { url: String, problem: String },

    /// A file holding a credential is unreadable or malformed (its content is never shown).
    #[error("credentials file `{}`: {problem}", path.display())]
    Secret { path: PathBuf, problem: String },
}

impl PrometheusError {
    /// Whether Prometheus itself refused the new configuration (as opposed to not being
    /// reachable): content it refused is not worth retrying until it changes.
    pub fn is_rejection(&self) -> bool {
        match self {
            PrometheusError::ReloadRejected { .. } => true,
            PrometheusError::Status { request, status, .. } => {
                *status == 500 && request.ends_with("/-/reload")
            }
            _ => false,
        }
    }
}

fn hint(status: u16, request: &str) -> &'static str {
    if status == 403 && request.ends_with("/-/reload") {
        " (start Prometheus with --web.enable-lifecycle)"
    } else {
        ""
    }
}
