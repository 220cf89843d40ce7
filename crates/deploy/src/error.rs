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
    /// SSH did not get as far as a session; `step` says which part failed, `detail` is what
    /// ssh said about it.
    #[error("ssh connection to {host} failed at the {step} step: {detail}")]
    Connect { host: String, step: SshStep, detail: String },
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
    #[error(
        "promtool {version} (where the deploy runs, matching {host}'s Prometheus) rejected the new rule file: {output}"
    )]
    LocalPromtool { host: String, version: String, output: String },
    #[error("prometheus of {host} at {url}: {source}")]
    Prometheus {
        host: String,
        url: String,
        #[source]
        source: Box<promrules_prometheus::PrometheusError>,
    },
    #[error(
        "the {} `{path}` is not covered by any {} pattern of {host}'s Prometheus ({patterns}); {}",
        kind.noun(), kind.setting(), kind.consequence()
    )]
    NotCovered { host: String, kind: FileKind, path: String, patterns: String },
    #[error(
        "the target file for {host} (`{path}`) is not file_sd JSON: {problem}; nothing was changed"
    )]
    Targets { host: String, path: String, problem: String },
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

/// The two files a deploy keeps on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The rule file, read through `rule_files`.
    Rules,
    /// The `file_sd` target file, read through a scrape configuration's `file_sd_configs`.
    Targets,
}

impl FileKind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            FileKind::Rules => "rule file",
            FileKind::Targets => "target file",
        }
    }

    /// The configuration setting whose patterns must cover the file.
    pub(crate) fn setting(self) -> &'static str {
        match self {
            FileKind::Rules => "`rule_files`",
            FileKind::Targets => "`file_sd_configs` `files`",
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            FileKind::Rules => "a reload would load nothing",
            FileKind::Targets => "Prometheus would never read its targets",
        }
    }
}

/// The part of an SSH connection that failed, read off what ssh printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshStep {
    /// Reaching the host: refused, unreachable, unresolvable, timed out.
    Connect,
    /// The host's key is unknown or changed.
    HostKey,
    /// The host refused the user or key.
    Authenticate,
    /// The jump host could not be reached or could not forward.
    JumpHost,
}

impl std::fmt::Display for SshStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SshStep::Connect => "connect",
            SshStep::HostKey => "host key",
            SshStep::Authenticate => "authenticate",
            SshStep::JumpHost => "jump host",
        })
    }
}

impl SshStep {
    /// Classifies ssh's own message; `jump_host` is the host's jump host, whose name in a
    /// failure means the hop failed. The order matters: a changed key also says "permission".
    pub(crate) fn of(message: &str, jump_host: Option<&str>) -> SshStep {
        let lower = message.to_ascii_lowercase();
        let host_key = [
            "host key verification failed",
            "remote host identification has changed",
            "no matching host key",
            "host key for",
            "is not known",
        ];
        if host_key.iter().any(|marker| lower.contains(marker)) {
            return SshStep::HostKey;
        }
        if let Some(jump) = jump_host {
            let jump = jump.rsplit('@').next().unwrap_or(jump);
            let jump_name = jump.split(':').next().unwrap_or(jump).to_ascii_lowercase();
            let mentions_jump = lower.contains(&format!("host {jump_name} "))
                || lower.contains("stdio forwarding failed")
                || lower.contains("channel 0: open failed")
                || lower.contains("unknown port 65535");
            if mentions_jump {
                return SshStep::JumpHost;
            }
        }
        if lower.contains("permission denied")
            || lower.contains("too many authentication failures")
            || lower.contains("no supported authentication")
        {
            return SshStep::Authenticate;
        }
        SshStep::Connect
    }
}

/// ssh's message from an `openssh` error: its source chain, lines joined, trimmed to what
/// matters (warnings about added keys dropped).
pub(crate) fn ssh_detail(error: &openssh::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains("Permanently added"))
        .collect();
    let detail = lines.join("; ");
    if detail.is_empty() { error.to_string() } else { detail }
}

impl StepError {
    /// Whether the SSH connection itself failed (connect, SFTP, a file operation or a
    /// command): such a connection is not kept for the next deploy.
    pub(crate) fn is_connection(&self) -> bool {
        matches!(
            self,
            StepError::Connect { .. }
                | StepError::Sftp { .. }
                | StepError::File { .. }
                | StepError::Command { .. }
        )
    }
}
