//! The deployer's error types; every message names the host and the step that failed.

use std::path::PathBuf;

/// An inventory file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory `{}` is invalid: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
}

/// One step of a deploy that failed on a host.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("ssh connection to {host} failed: {source}")]
    Connect {
        host: String,
        #[source]
        source: openssh::Error,
    },
    #[error("sftp session with {host} failed: {source}")]
    Sftp {
        host: String,
        #[source]
        source: openssh_sftp_client::Error,
    },
    #[error("{action} `{path}` on {host} failed: {source}")]
    File {
        host: String,
        action: &'static str,
        path: String,
        #[source]
        source: openssh_sftp_client::Error,
    },
    #[error("{host}'s sftp server lacks posix-rename@openssh.com; refusing a non-atomic replace")]
    NoAtomicRename { host: String },
    #[error("running `{command}` on {host} failed: {problem}")]
    Command { host: String, command: String, problem: String },
    #[error("promtool on {host} rejected the new rule file: {output}")]
    Promtool { host: String, output: String },
    #[error("prometheus of {host} at {url}: {source}")]
    Prometheus {
        host: String,
        url: String,
        #[source]
        source: Box<promrules_prometheus::PrometheusError>,
    },
    #[error(
        "the rule file `{path}` is not covered by any `rule_files` pattern of {host}'s Prometheus ({patterns}); a reload would load nothing"
    )]
    NotCovered { host: String, path: String, patterns: String },
    #[error("{host}: {problem}")]
    Verify { host: String, problem: String },
    #[error(
        "the rule file uses `{field}` in group `{group}`, which needs Prometheus {}.{} or later; {host} runs {version}; nothing was changed",
        needs.0, needs.1
    )]
    Unsupported {
        host: String,
        field: &'static str,
        group: String,
        needs: (u64, u64),
        version: String,
    },
}
