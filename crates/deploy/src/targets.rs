//! The target file of a host: Promgen's push model without a worker on each host. When a
//! host names a `targets_file`, each deploy keeps its `file_sd` JSON there, beside the rule
//! file and the same way:
//! 1. read the live file; identical content is `unchanged` (unless forced);
//! 2. check the content is `file_sd` JSON, and (once per connection) that a loaded
//!    `file_sd_configs` pattern covers the path and not the temp and backup names;
//! 3. back it up into `.promrules-backups/` beside it, write `.<file>.promrules-tmp`, fsync,
//!    and rename it over the live file (atomic);
//! 4. no reload: Prometheus re-reads `file_sd` files when they change. When the host asks
//!    (`verify_targets`), wait until `/api/v1/targets` has discovered every target of the
//!    new file; when it does not in time, put the previous file back the same atomic way.
//!
//! **Invariant: the live target file is the previous one or the complete new one.**

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promrules_prometheus::Prometheus;
use serde::Deserialize;

use crate::error::{FileKind, StepError};
use crate::host::{Host, Managed};
use crate::protocol::{back_up, blocking, check_coverage, replace};
use crate::remote::Remote;
use crate::{DeployOptions, Outcome};

/// What the target-file step did on a host; [`crate::report::Finished::with_targets`] folds
/// it into the host's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pushed {
    pub(crate) outcome: Outcome,
    pub(crate) message: String,
}

/// How often `/api/v1/targets` is asked while waiting for new targets.
const POLL: Duration = Duration::from_millis(250);

/// Keeps `content` at `path` on `host` (see the module's steps).
pub(crate) async fn push(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    path: &Path,
    content: &[u8],
    options: &DeployOptions,
) -> Result<Pushed, StepError> {
    let addresses = addresses(content).map_err(|problem| StepError::Targets {
        host: host.name.clone(),
        path: path.display().to_string(),
        problem,
    })?;
    let live = remote.read(path).await?;
    let count = format!("{} target(s)", addresses.len());
    if live.as_deref() == Some(content) && !options.force {
        return Ok(Pushed { outcome: Outcome::Unchanged, message: format!("unchanged ({count})") });
    }
    let managed = Managed::new(path);
    check_coverage(host, remote, prometheus, FileKind::Targets, &managed).await?;
    if options.dry_run {
        return Ok(Pushed {
            outcome: Outcome::WouldChange,
            message: format!("would write {count}"),
        });
    }
    if !remote.has_atomic_rename() {
        return Err(StepError::NoAtomicRename { host: host.name.clone() });
    }
    if let Some(live) = &live {
        back_up(remote, &managed, live, options.backups).await?;
    }
    replace(remote, &managed, content).await?;
    if !host.verify_targets {
        return Ok(Pushed { outcome: Outcome::Deployed, message: format!("wrote {count}") });
    }
    let timeout = options.reload_timeout;
    let Err(problem) = discovered(host, prometheus, &addresses, timeout).await else {
        let message = format!("wrote {count}, all discovered by Prometheus");
        return Ok(Pushed { outcome: Outcome::Deployed, message });
    };
    log::warn!("{problem}; restoring the previous target file of {}", host.name);
    let restored = match &live {
        Some(previous) => replace(remote, &managed, previous).await,
        None => remote.remove(path).await,
    };
    Ok(match restored {
        Ok(()) => Pushed {
            outcome: Outcome::RolledBack,
            message: format!("{problem}; previous target file restored"),
        },
        Err(error) => Pushed {
            outcome: Outcome::Failed,
            message: format!("{problem}; ROLLBACK FAILED: {error}"),
        },
    })
}

/// Waits until Prometheus has discovered every address of `wanted`, or `timeout` passes.
async fn discovered(
    host: &Host,
    prometheus: &Arc<Prometheus>,
    wanted: &BTreeSet<String>,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = blocking(host, prometheus, |p| p.discovered_addresses()).await;
        let missing: Vec<&String> = match &found {
            Ok(found) => wanted.difference(found).collect(),
            Err(_) => wanted.iter().collect(),
        };
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let shown: Vec<&str> = missing.iter().take(5).map(|a| a.as_str()).collect();
            let more = missing.len().saturating_sub(shown.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            let why = match &found {
                Err(error) => format!(" (last answer: {error})"),
                Ok(_) => String::new(),
            };
            return Err(format!(
                "Prometheus of {} did not discover {}{more} from the new target file within {}s{why}",
                host.name,
                shown.join(", "),
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The target addresses of `file_sd` JSON, or what is wrong with it.
fn addresses(content: &[u8]) -> Result<BTreeSet<String>, String> {
    #[derive(Deserialize)]
    struct Group {
        targets: Vec<String>,
        /// Read to check its shape.
        #[serde(default, rename = "labels")]
        _labels: std::collections::BTreeMap<String, String>,
    }
    let groups: Vec<Group> = serde_json::from_slice(content).map_err(|e| e.to_string())?;
    Ok(groups.into_iter().flat_map(|group| group.targets).collect())
}

#[cfg(test)]
mod tests {
    use super::addresses;

    #[test]
    fn file_sd_json_gives_its_addresses_and_anything_else_is_named() {
        let json = br#"[{"targets": ["b:9100", "a:9100"], "labels": {"job": "node"}}, {"targets": ["a:9100"]}]"#;
        assert_eq!(addresses(json).unwrap().into_iter().collect::<Vec<_>>(), ["a:9100", "b:9100"]);
        assert_eq!(addresses(b"[]").unwrap().len(), 0);
        for (bad, says) in [
            (&b"{\"targets\": []}"[..], "expected a sequence"),
            (b"[{\"labels\": {}}]", "missing field `targets`"),
            (b"[{\"targets\": [1]}]", "invalid type"),
            (b"[{\"targets\": [], \"labels\": {\"a\": 1}}]", "invalid type"),
        ] {
            let problem = addresses(bad).unwrap_err();
            assert!(problem.contains(says), "{problem}");
        }
    }
}
