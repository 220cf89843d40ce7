//! The run audit: one record per command run or skip, appended as a JSON line to
//! `--audit-log` (flushed per line) and posted to promrules-server's `/api/v1/heal-runs`
//! with `--report-to`.
//!
//! Reporting never holds a heal up: records go through a bounded queue to a thread of
//! their own, which retries a failed post with backoff (1 s doubling to 60 s) and, when the
//! queue is full, drops the oldest with a warning. The file is written in the caller's
//! thread, a line at a time under a lock, so lines never interleave.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;

/// One run or skip of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub time: String,
    /// argv: the command and its arguments.
    pub command: Vec<String>,
    pub receiver: String,
    pub group_key: String,
    pub alertnames: Vec<String>,
    pub fingerprints: Vec<String>,
    /// `succeeded`, `failed` or `skipped`.
    pub outcome: &'static str,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: Option<u64>,
    /// Why it did not run (`fingerover`, `duplicate`, `cooldown`, `rate_limit`, `paused`,
    /// `dry_run`), or what failed.
    pub reason: Option<String>,
}

/// Where the promrules server is, and the token to post with. `Debug` hides the token.
#[derive(Clone)]
pub struct ReportTo {
    pub url: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for ReportTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportTo")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ReportTo {
    /// `url` (the server's base URL) with the token in `token_file`, if any.
    pub fn new(url: &str, token_file: Option<&Path>) -> Result<ReportTo, ConfigError> {
        let token = match token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                    what: "report token file",
                    path: path.to_owned(),
                    problem: e.to_string(),
                })?;
                Some(text.trim().to_owned()).filter(|token| !token.is_empty())
            }
            None => None,
        };
        Ok(ReportTo { url: url.trim_end_matches('/').to_owned(), token })
    }
}

/// The most records waiting to be reported; beyond it the oldest are dropped.
const QUEUE_LIMIT: usize = 10_000;

/// Where audit records go.
#[derive(Debug, Default)]
pub struct Audit {
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
    queue: Option<Arc<Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    records: Mutex<VecDeque<AuditRecord>>,
    ready: Condvar,
}

impl Audit {
    /// No audit.
    pub fn none() -> Audit {
        Audit::default()
    }

    /// Appends to `log` (created if missing) and reports to `report`, either optional.
    pub fn new(log: Option<&Path>, report: Option<ReportTo>) -> Result<Audit, ConfigError> {
        let file = match log {
            Some(path) => {
                let file =
                    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(
                        |e| ConfigError::AuditLog { path: path.to_owned(), problem: e.to_string() },
                    )?;
                Some((path.to_owned(), Mutex::new(file)))
            }
            None => None,
        };
        let queue = report.map(|report| {
            let queue = Arc::new(Queue::default());
            let worker = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("audit-report".to_owned())
                .spawn(move || report_forever(&worker, &report))
                .expect("starting the audit reporter thread");
            queue
        });
        Ok(Audit { file, queue })
    }

    /// Records one run or skip; never fails the caller (a write error is logged).
    pub fn record(&self, record: AuditRecord) {
        if let Some((path, file)) = &self.file {
            let mut line = serde_json::to_vec(&record).unwrap_or_default();
            line.push(b'\n');
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Err(error) = file.write_all(&line).and_then(|()| file.flush()) {
                log::error!("cannot append to the audit log `{}`: {error}", path.display());
            }
        }
        if let Some(queue) = &self.queue {
            let mut records = queue.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if records.len() >= QUEUE_LIMIT {
                records.pop_front();
                log::warn!(
                    "the heal-run report queue is full ({QUEUE_LIMIT}); dropped the oldest record"
                );
            }
            records.push_back(record);
            queue.ready.notify_one();
        }
    }
}

/// Posts queued records one at a time, in order, retrying each with backoff.
fn report_forever(queue: &Queue, report: &ReportTo) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/api/v1/heal-runs", report.url);
    loop {
        let record = {
            let mut records = queue.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            while records.is_empty() {
                records =
                    queue.ready.wait(records).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            records.front().cloned()
        };
        let Some(record) = record else { continue };
        let mut backoff = Duration::from_secs(1);
        loop {
            let mut request = agent.post(&url);
            if let Some(token) = &report.token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            match request.send_json(&record) {
                Ok(response) if response.status().is_success() => break,
                // A record the server refuses as malformed will never pass: drop it.
                Ok(response) if response.status() == 422 || response.status() == 400 => {
                    log::error!(
                        "{url} refused a heal-run record ({}); dropped it",
                        response.status()
                    );
                    break;
                }
                Ok(response) => log::warn!(
                    "reporting a heal run to {url}: {}; retrying in {backoff:?}",
                    response.status()
                ),
                Err(error) => {
                    log::warn!("reporting a heal run to {url}: {error}; retrying in {backoff:?}")
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
        let mut records = queue.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if records.front() == Some(&record) {
            records.pop_front();
        }
    }
}
