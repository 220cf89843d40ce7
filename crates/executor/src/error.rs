//! The executor's error types.

use std::path::PathBuf;

/// A configuration that cannot be used; the executor refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration file `{}` is invalid: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("no command configured: give one in the configuration file or on the command line")]
    NoCommand,
    #[error("TLS needs both `tls_crt` and `tls_key`; only `{given}` is set")]
    HalfTls { given: &'static str },
    #[error("cannot load TLS certificate `{crt}` and key `{key}`: {source}")]
    Tls {
        crt: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid listen address `{address}`: {problem}")]
    ListenAddress { address: String, problem: String },
    #[error(
        "refusing to listen on {address} without webhook authentication: anyone who reaches it \
         could run the configured commands; set `webhook_auth` (bearer_token_file or \
         basic_auth) or `tls_client_ca` in the configuration, listen on 127.0.0.1, or pass \
         --insecure-no-auth"
    )]
    OpenListen { address: std::net::SocketAddr },
    #[error("cannot use `webhook_auth.{what}` `{}`: {problem}", path.display())]
    Secret { what: &'static str, path: PathBuf, problem: String },
    #[error("`tls_client_ca` needs TLS: set `tls_crt` and `tls_key` too")]
    ClientCaWithoutTls,
    #[error("cannot use the client CA `{}`: {problem}", path.display())]
    ClientCa { path: PathBuf, problem: String },
    #[error("cannot open the audit log `{}`: {problem}", path.display())]
    AuditLog { path: PathBuf, problem: String },
    #[error("`webhook_auth` takes one of `bearer_token_file` and `basic_auth`, not both")]
    TwoAuths,
    #[error("`webhook_auth.basic_auth.username` must be non-empty and without `:`")]
    BasicUsername,
}

/// A webhook request the executor cannot act on; answered with 400.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
}
