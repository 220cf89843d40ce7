//! `promtool check rules` where the deploy runs: each configured promtool's version is read
//! once, a host's file is checked by the one whose major.minor is the host's Prometheus's,
//! and each verdict is kept per file content and promtool, so ten hosts getting one file
//! cost one check (concurrent deploys of the same file wait for the first one's verdict).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// A promtool where the deploy runs, and the version it reports.
#[derive(Debug, Clone)]
pub(crate) struct Promtool {
    pub(crate) path: PathBuf,
    pub(crate) version: String,
    major_minor: (u64, u64),
}

type Verdict = Arc<OnceCell<Result<(), String>>>;

/// How many verdicts are kept at most (a file's is needed while its hosts are deployed).
const MAX_VERDICTS: usize = 256;

pub(crate) struct LocalPromtools {
    paths: Vec<PathBuf>,
    found: OnceCell<Vec<Promtool>>,
    verdicts: Mutex<HashMap<(String, PathBuf), Verdict>>,
    /// How many times a promtool ran.
    pub(crate) runs: AtomicUsize,
}

impl LocalPromtools {
    pub(crate) fn new(paths: Vec<PathBuf>) -> LocalPromtools {
        LocalPromtools {
            paths,
            found: OnceCell::new(),
            verdicts: Mutex::new(HashMap::new()),
            runs: AtomicUsize::new(0),
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
        let verdict: Verdict = {
            let mut verdicts = self.verdicts.lock().unwrap_or_else(PoisonError::into_inner);
            // A long-running server sees many files: forget old verdicts rather than grow.
            if verdicts.len() >= MAX_VERDICTS {
                verdicts.clear();
            }
            Arc::clone(verdicts.entry((hash.to_owned(), promtool.path.clone())).or_default())
        };
        verdict
            .get_or_init(|| async {
                self.runs.fetch_add(1, Ordering::Relaxed);
                let (path, content) = (promtool.path.clone(), content.to_vec());
                tokio::task::spawn_blocking(move || {
                    let mut file = tempfile::Builder::new()
                        .prefix("promrules-check-")
                        .suffix(".yml")
                        .tempfile()
                        .map_err(|e| format!("a temp file for promtool: {e}"))?;
                    std::io::Write::write_all(&mut file, &content)
                        .map_err(|e| format!("writing the temp file for promtool: {e}"))?;
                    promrules_prometheus::check_rules(&path, file.path()).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|panicked| Err(format!("promtool check: {panicked}")))
            })
            .await
            .clone()
    }
}
