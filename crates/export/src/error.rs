//! The errors of exporting a file and reloading Prometheus.

use std::path::PathBuf;

use promrules_prometheus::PrometheusError;
use promrules_targets::WriteError;

/// Everything that can stop an export round; in each case the file on disk is either the
/// old one or the new, complete one, and the message says which.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the model from the database failed.
    #[error("reading the database: {0}")]
    Store(#[from] promrules_model::Error),

    /// Fetching from the promrules server failed.
    #[error("fetching `{url}`: {problem}")]
    Fetch { url: String, problem: String },

    /// The server answered 200 with something that is not what was asked for (a login
    /// page, an empty body, a broken file); the old file stays.
    #[error(
        "`{url}` answered with a body that cannot be used: {problem}; the file was left as it was"
    )]
    InvalidAnswer { url: String, problem: String },

    /// The output path is not something to replace: a device, a symlink, a huge file.
    #[error("refusing to write `{}`: it {problem}", path.display())]
    Out { path: PathBuf, problem: String },

    /// An HTTP client could not be set up: a CA or credentials file that cannot be used.
    #[error(transparent)]
    Client(PrometheusError),

    /// The metrics endpoint cannot listen where asked.
    #[error("serving metrics on {address}: {problem}")]
    Metrics { address: std::net::SocketAddr, problem: String },

    /// `--shard` names no stored shard.
    #[error("no shard named `{0}`")]
    UnknownShard(String),

    /// The current file could not be read (to compare, or to keep for a rollback).
    #[error("reading `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The new file could not be written or was rejected by its check; the old one stays.
    #[error(transparent)]
    Write(#[from] WriteError),

    /// Prometheus could not be asked to reload (down, unreachable, lifecycle API off), or
    /// it tried and failed to load the configuration ([`PrometheusError::is_rejection`]).
    #[error("reloading Prometheus at `{url}`: {source}")]
    Reload {
        url: String,
        #[source]
        source: PrometheusError,
    },

    /// Several Prometheus servers were to be reloaded and some failed; each is named.
    #[error("reloading failed on {} of {} Prometheus servers: {}", failures.len(), failures.len() + reloaded.len(), failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Reloads { failures: Vec<ExportError>, reloaded: Vec<String> },

    /// A rule file's reload failed and the previous file was put back (or the new one
    /// removed, when there was none before), then Prometheus reloaded again.
    #[error("{reload}; {rollback}")]
    RolledBack {
        path: PathBuf,
        reload: Box<ExportError>,
        /// What the rollback did, or how it failed: "restored the previous `…` and
        /// reloaded it", "restoring the previous `…` failed too: …", and so on.
        rollback: String,
    },

    /// The new file would scrape nothing (or hold no rules) where the old one did, and
    /// `--allow-empty` was not given; the old file stays.
    #[error(
        "refusing to replace `{}` with an empty file (no targets or no rule groups); check the source and --shard, or pass --allow-empty",
        path.display()
    )]
    WouldEmpty { path: PathBuf },

    /// Watching a directory failed.
    #[error("watching `{}`: {problem}", path.display())]
    Watch { path: PathBuf, problem: String },
}

impl ExportError {
    /// Whether a Prometheus refused the content itself (rather than being unreachable):
    /// such content is not tried again until it changes.
    pub fn is_rejection(&self) -> bool {
        match self {
            ExportError::Reload { source, .. } => source.is_rejection(),
            ExportError::Reloads { failures, .. } => failures.iter().any(ExportError::is_rejection),
            _ => false,
        }
    }
}
