//! `promtool check rules` where the deploy runs: each configured promtool's version is read
//! once, a host's file is checked by the one whose major.minor is the host's Prometheus's,
//! and each verdict is kept per file content and promtool (`memo.rs`), so ten hosts getting
//! one file cost one check (concurrent deploys of the same file wait for the first one's
//! verdict).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::OnceCell;

use crate::memo::Memo;

/// A promtool where the deploy runs, and the version it reports.
#[derive(Debug, Clone)]
pub(crate) struct Promtool {
    pub(crate) path: PathBuf,
    pub(crate) version: String,
    major_minor: (u64, u64),
}

/// promtool's verdict: its output when it refused the file.
struct Verdict(Result<(), String>);

impl Default for Verdict {
    /// What a check that panicked says.
    fn default() -> Verdict {
        Verdict(Err("promtool check did not finish".to_owned()))
    }
}

pub(crate) struct LocalPromtools {
    paths: Vec<PathBuf>,
    found: OnceCell<Vec<Promtool>>,
    /// At most 256 verdicts (a file's is needed while its hosts are deployed).
    verdicts: Memo<(String, PathBuf), Verdict>,
    /// How many times a promtool ran.
    pub(crate) runs: Arc<AtomicUsize>,
}

impl LocalPromtools {
    pub(crate) fn new(paths: Vec<PathBuf>) -> LocalPromtools {
        LocalPromtools {
            paths,
            found: OnceCell::new(),
            verdicts: Memo::new(256),
            runs: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn found(&self) -> &[Promtool] {
        self.found
            .get_or_init(|| async {
                let paths = self.paths.clone();
                tokio::task::spawn_blocking(move || {
                    paths
                        .into_iter()
                        .filter_map(|path| match promrules_prometheus::promtool_version(&path) {
                            Ok((version, major_minor)) => {
                                log::debug!("{} is promtool {version}", path.display());
                                Some(Promtool { path, version, major_minor })
                            }
                            Err(problem) => {
                                log::warn!("not using {}: {problem}", path.display());
                                None
                            }
                        })
                        .collect()
                })
                .await
                .unwrap_or_default()
            })
            .await
    }

    /// The promtool for a Prometheus of this major.minor version, if there is one here.
    pub(crate) async fn matching(&self, major_minor: (u64, u64)) -> Option<Promtool> {
        self.found().await.iter().find(|p| p.major_minor == major_minor).cloned()
    }

    /// `promtool`'s verdict on `content` (whose SHA-256 is `hash`): checked once, then
    /// remembered.
    pub(crate) async fn check(
        &self,
        promtool: &Promtool,
        hash: &str,
        content: &[u8],
    ) -> Result<(), String> {
        let (path, content, runs) =
            (promtool.path.clone(), content.to_vec(), Arc::clone(&self.runs));
        let verdict = self
            .verdicts
            .get((hash.to_owned(), promtool.path.clone()), move || {
                runs.fetch_add(1, Ordering::Relaxed);
                Verdict(check_file(&path, &content))
            })
            .await;
        verdict.0.clone()
    }
}

/// Runs `promtool check rules` on `content`, written to a temp file.
fn check_file(promtool: &std::path::Path, content: &[u8]) -> Result<(), String> {
    let mut file = tempfile::Builder::new()
        .prefix("promrules-check-")
        .suffix(".yml")
        .tempfile()
        .map_err(|e| format!("a temp file for promtool: {e}"))?;
    std::io::Write::write_all(&mut file, content)
        .map_err(|e| format!("writing the temp file for promtool: {e}"))?;
    promrules_prometheus::check_rules(promtool, file.path()).map_err(|e| e.to_string())
}
