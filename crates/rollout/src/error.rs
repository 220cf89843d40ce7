//! The deployment service's error type: what stopped a deploy before any host was tried.
//! (A host that fails is not an error here: it is a [`HostReport`] with that outcome.)
//!
//! [`HostReport`]: promrules_deploy::HostReport

/// Why a deploy could not start or be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// Reading hosts or rules, or writing the audit trail, failed.
    #[error(transparent)]
    Store(#[from] promrules_model::Error),

    /// A requested host name is not among the known hosts.
    #[error("unknown host `{0}`")]
    UnknownHost(String),

    /// No host matches a name or address (the original pipeline's `/deploy`).
    #[error("no host named or at `{0}`")]
    NoHostAt(String),

    /// An address that several hosts share, without a host of that name.
    #[error("`{address}` is the address of several hosts ({}); deploy by name", hosts.join(", "))]
    AmbiguousAddress { address: String, hosts: Vec<String> },

    /// There is no host to deploy to at all.
    #[error("no host to deploy to")]
    NoHosts,

    /// A stored host description no longer parses (written by another version).
    #[error("stored host `{name}` does not parse: {problem}")]
    CorruptHost { name: String, problem: String },

    /// A task of the service stopped unexpectedly.
    #[error("deployment task failed: {0}")]
    Task(String),
}
