//! What a deploy says about each host: its [`Outcome`], the diff against the live file, and
//! the [`HostReport`] that the fleet returns and the audit trail records.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a deploy to one host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new file is live and verified loaded.
    Deployed,
    /// The live file already had this content; nothing was touched.
    Unchanged,
    /// A dry run found a difference; nothing was touched.
    WouldChange,
    /// The new file failed after going live; the previous one is back and verified.
    RolledBack,
    /// The deploy failed; see the message for what state the host is in.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Unchanged => "unchanged",
            Outcome::WouldChange => "would_change",
            Outcome::RolledBack => "rolled_back",
            Outcome::Failed => "failed",
        }
    }

    /// Whether this outcome should make a command exit non-zero.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::RolledBack | Outcome::Failed)
    }
}

/// Lines added and removed from the live file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
}

/// The result for one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub outcome: Outcome,
    pub message: String,
    pub duration: Duration,
    /// SHA-256 of the rule file deployed (or that would be).
    pub content_hash: String,
    /// SHA-256 of the target file, for a host with a `targets_file`.
    #[serde(default)]
    pub targets_hash: Option<String>,
    pub diff: DiffSummary,
    /// A unified diff of the live file against the new one, when asked for.
    pub diff_text: Option<String>,
    /// When this deploy held the host's lock (Unix seconds), for the audit trail.
    pub locked_at: f64,
    pub released_at: f64,
}

/// How the protocol ended on a host that it reached: the part of a [`HostReport`] that
/// the protocol decides (the fleet adds the host, the times and the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    pub(crate) message: String,
    pub(crate) diff: DiffSummary,
    pub(crate) diff_text: Option<String>,
}

impl Finished {
    pub(crate) fn new(outcome: Outcome, message: String, diff: &Diff) -> Finished {
        let diff_text = match outcome {
            Outcome::Unchanged => None,
            _ => Some(diff.text.clone()),
        };
        Finished { outcome, message, diff: diff.summary, diff_text }
    }

    /// This rule-file result with what the target-file step did: a new target file makes an
    /// unchanged rule file's host `deployed` (or `would_change` in a dry run).
    pub(crate) fn with_targets(self, pushed: crate::targets::Pushed) -> Finished {
        let outcome = match (self.outcome, pushed.outcome) {
            (Outcome::Unchanged, Outcome::Deployed) => Outcome::Deployed,
            (Outcome::Unchanged, Outcome::WouldChange) => Outcome::WouldChange,
            (outcome, _) => outcome,
        };
        let message = format!("{}; target file: {}", self.message, pushed.message);
        Finished { outcome, message, ..self }
    }

    pub(crate) fn failed(message: String) -> Finished {
        Finished {
            outcome: Outcome::Failed,
            message,
            diff: DiffSummary::default(),
            diff_text: None,
        }
    }
}

/// The live file against the new one: line counts and a unified diff.
#[derive(Debug, Clone, Default)]
pub(crate) struct Diff {
    pub(crate) summary: DiffSummary,
    pub(crate) text: String,
}

impl Diff {
    /// The diff algorithm is O(N·D): a file where every rule changed would take seconds, so
    /// it gets a deadline after which it returns a coarser (still correct) diff.
    pub(crate) fn between(old: &str, new: &str) -> Diff {
        let diff =
            similar::TextDiff::configure().timeout(Duration::from_millis(200)).diff_lines(old, new);
        let mut summary = DiffSummary::default();
        for change in diff.iter_all_changes() {
            match change.tag() {
                similar::ChangeTag::Insert => summary.added += 1,
                similar::ChangeTag::Delete => summary.removed += 1,
                similar::ChangeTag::Equal => {}
            }
        }
        let text = diff.unified_diff().context_radius(3).header("live", "new").to_string();
        Diff { summary, text }
    }
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The report of a deploy that failed before it touched the host.
pub(crate) fn failed_report(
    host: &str,
    message: String,
    duration: Duration,
    content_hash: String,
) -> HostReport {
    let now = unix_now();
    HostReport {
        host: host.to_owned(),
        outcome: Outcome::Failed,
        message,
        duration,
        content_hash,
        targets_hash: None,
        diff: DiffSummary::default(),
        diff_text: None,
        locked_at: now,
        released_at: now,
    }
}
