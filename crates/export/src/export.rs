//! The export job behind `promrules-export targets|rules`: read from the database or a
//! server, write the file atomically when it changed, reload Prometheus and verify, and for
//! a rule file roll back when the reload fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promrules_model::Store;
use promrules_targets::{Filter, Written, file_sd, to_json, write_checked};
use promrules_yaml::{HealLabel, RenderOptions, Selection};
use sha2::{Digest, Sha256};

use crate::ExportError;
use crate::reloads::Reloads;

/// The default of `--max-size`: the largest answer or existing file read, in bytes.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

/// Which file to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// The `file_sd` target file.
    Targets(Filter),
    /// The rule file: the rules of shard `shard` (plus rules without a datasource), or all.
    Rules { shard: Option<String>, heal_label: HealLabel },
}

/// Where the model comes from.
#[derive(Debug)]
pub enum Source {
    /// The database itself (`--database URL`).
    Database(Store),
    /// A promrules server (`--from URL`), with an optional bearer token.
    Server(Server),
}

/// A promrules server's export endpoints, with `ETag` revalidation: polling an unchanged
/// file costs a 304.
#[derive(Debug)]
pub struct Server {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    /// The last answer per URL: its `ETag` and body.
    cache: HashMap<String, (String, Vec<u8>)>,
    /// The largest body read; a larger answer fails the round.
    pub max_size: u64,
}

impl Server {
    /// The server at `url`; over https, its certificate is checked against the public
    /// roots, or only against the PEM certificates of `ca_file` when given (an internal CA).
    pub fn new(
        url: &str,
        token: Option<String>,
        ca_file: Option<&Path>,
    ) -> Result<Server, ExportError> {
        let agent = promrules_prometheus::agent(Duration::from_secs(60), ca_file)
            .map_err(ExportError::Client)?;
        Ok(Server {
            agent,
            base: url.trim_end_matches('/').to_owned(),
            token,
            cache: HashMap::new(),
            max_size: DEFAULT_MAX_SIZE,
        })
    }

    fn fetch(&mut self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, ExportError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().filter(|(_, value)| !value.is_empty()))
            .finish();
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let failed = |problem: String| ExportError::Fetch { url: url.clone(), problem };
        let mut request = self.agent.get(&url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some((etag, _)) = self.cache.get(&url) {
            request = request.header("If-None-Match", etag);
        }
        let mut response = request.call().map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if status == 304
            && let Some((_, body)) = self.cache.get(&url)
        {
            log::debug!("GET {url}: 304, the {} bytes fetched before stand", body.len());
            return Ok(body.clone());
        }
        let limit = self.max_size;
        let body =
            response.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    failed(format!("the answer is larger than --max-size ({limit} bytes)"))
                }
                e => failed(e.to_string()),
            })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(failed(format!("answered {status}: {}", text.trim())));
        }
        log::debug!("GET {url}: {status}, {} bytes", body.len());
        if let Some(etag) = response.headers().get("etag").and_then(|v| v.to_str().ok()) {
            self.cache.insert(url.clone(), (etag.to_owned(), body.clone()));
        }
        Ok(body)
    }
}

impl Server {
    fn invalid(&self, path: &str, problem: String) -> ExportError {
        ExportError::InvalidAnswer { url: format!("{}{path}", self.base), problem }
    }
}

impl Source {
    /// The file's content now.
    pub fn fetch(&mut self, what: &What) -> Result<Vec<u8>, ExportError> {
        match (self, what) {
            (Source::Database(store), What::Targets(filter)) => {
                Ok(to_json(&file_sd(&store.load_targets()?, filter)).into_bytes())
            }
            (Source::Database(store), What::Rules { shard, heal_label }) => {
                let mut selection = Selection::default();
                if let Some(name) = shard {
                    let shard = store
                        .find_shard(name)?
                        .ok_or_else(|| ExportError::UnknownShard(name.clone()))?;
                    selection.datasources.push(shard.id);
                }
                let options = RenderOptions { selection, heal_label: heal_label.clone() };
                let (rules, groups) = store.rules_and_groups()?;
                Ok(promrules_yaml::render(&rules, &groups, &options).into_bytes())
            }
            (Source::Server(server), What::Targets(filter)) => {
                let query = [
                    ("shard", filter.shard.as_deref().unwrap_or_default()),
                    ("service", filter.service.as_deref().unwrap_or_default()),
                    ("project", filter.project.as_deref().unwrap_or_default()),
                ];
                let body = server.fetch("/api/v1/targets", &query)?;
                promrules_targets::check_file_sd(&body)
                    .map_err(|problem| server.invalid("/api/v1/targets", problem))?;
                Ok(body)
            }
            // The server renders with its own heal label, as it does for deploys.
            (Source::Server(server), What::Rules { shard, heal_label }) => {
                let query = [("shard", shard.as_deref().unwrap_or_default())];
                let body = server.fetch("/api/v1/rules.yml", &query)?;
                // The model's own validation, so a body that is not a rule file (a login
                // page, an empty answer) fails even where no promtool is installed.
                let text = std::str::from_utf8(&body)
                    .map_err(|_| server.invalid("/api/v1/rules.yml", "is not UTF-8".into()))?;
                if text.trim().is_empty() {
                    let problem = "is empty, not a rule file (`groups: []` is one)".to_owned();
                    return Err(server.invalid("/api/v1/rules.yml", problem));
                }
                promrules_yaml::parse(text, "the answer", heal_label)
                    .map_err(|error| server.invalid("/api/v1/rules.yml", error.to_string()))?;
                Ok(body)
            }
        }
    }
}

/// What one round of an [`Export`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file already held this content; nothing was written or reloaded.
    Unchanged,
    /// The file was replaced (no reload configured).
    Written,
    /// The file was replaced and Prometheus reloaded it.
    Reloaded,
    /// The file was as written before, when its reload failed; this time the reload
    /// worked.
    ReloadRetried,
    /// This content failed to reload before and was rolled back; it is not tried again
    /// until the content changes.
    KnownBad,
}

/// One export target file and how to put it in place.
#[derive(Debug)]
pub struct Export {
    pub source: Source,
    pub what: What,
    pub out: PathBuf,
    /// The file's permissions, such as 0o644.
    pub mode: u32,
    /// Reload and verify these Prometheus servers after each change.
    pub reload: Reloads,
    /// `promtool`, to check a rule file before it replaces the old one.
    pub promtool: Option<PathBuf>,
    /// Let a file with no targets (or no rule groups) replace one that has some. Off by
    /// default: an emptied database or a wrong `--shard` would otherwise stop every scrape
    /// (and with it every alert on `up`) without a single error.
    pub allow_empty: bool,
    /// Replace the file a symlink at `out` points to (off: a symlink is refused).
    pub follow_symlink: bool,
    /// The largest existing file read (to compare and keep for a rollback).
    pub max_size: u64,
    /// The digest of content whose reload failed (and was rolled back).
    failed: Option<Vec<u8>>,
    /// A target file was written but its reload failed: the next round reloads even if
    /// nothing changed.
    reload_pending: bool,
}

impl Export {
    pub fn new(source: Source, what: What, out: PathBuf) -> Export {
        Export {
            source,
            what,
            out,
            mode: 0o644,
            reload: Reloads::default(),
            promtool: None,
            allow_empty: false,
            follow_symlink: false,
            max_size: DEFAULT_MAX_SIZE,
            failed: None,
            reload_pending: false,
        }
    }

    /// Fetches, writes when changed, reloads and verifies; a rule file whose reload fails
    /// is replaced by the previous one (or removed, if there was none) and Prometheus is
    /// reloaded again.
    pub fn run_once(&mut self) -> Result<Outcome, ExportError> {
        let content = self.source.fetch(&self.what)?;
        let digest = Sha256::digest(&content).to_vec();
        let previous = self.read_out()?;
        if previous.as_deref() == Some(&content[..]) {
            self.failed = None;
            return if !self.reload.is_empty() && self.reload_pending {
                self.reload.reload()?;
                self.reload_pending = false;
                Ok(Outcome::ReloadRetried)
            } else {
                Ok(Outcome::Unchanged)
            };
        }
        if !self.allow_empty
            && is_empty(&self.what, &content)
            && previous.as_deref().is_some_and(|previous| !is_empty(&self.what, previous))
        {
            return Err(ExportError::WouldEmpty { path: self.out.clone() });
        }
        if self.failed.as_ref() == Some(&digest) {
            return Ok(Outcome::KnownBad);
        }
        let is_rules = matches!(self.what, What::Rules { .. });
        if is_rules && !self.reload.is_empty() {
            // With Prometheus down, a new rule file could be neither verified nor rolled
            // back usefully: leave the old one and try again next round.
            self.reload.reachable()?;
        }
        let promtool = self.promtool.as_deref().filter(|_| is_rules);
        let target = self.write_path();
        let written = write_checked(&target, &content, self.mode, |temp| match promtool {
            Some(promtool) => promrules_prometheus::check_rules(promtool, temp),
            None => Ok(()),
        });
        match written {
            Ok(written) => debug_assert_eq!(written, Written::Replaced),
            Err(error) => {
                if error.rejected_by_check() {
                    // Rejected content is not retried until it changes.
                    self.failed = Some(digest);
                }
                return Err(error.into());
            }
        }
        if self.reload.is_empty() {
            return Ok(Outcome::Written);
        }
        let Err(error) = self.reload.reload() else {
            self.failed = None;
            self.reload_pending = false;
            return Ok(Outcome::Reloaded);
        };
        if !is_rules {
            // A target file is fine as it is (Prometheus also watches it); reload it when
            // Prometheus is back.
            self.reload_pending = true;
            return Err(error);
        }
        // Prometheus keeps the old rules in memory after a failed reload, but the bad file
        // would break its next start: put the previous one back. Content Prometheus
        // rejected is not tried again until it changes; after any other failure (it went
        // away mid-reload), the next round tries again.
        if error.is_rejection() {
            self.failed = Some(digest);
        }
        let (restored, done) = match &previous {
            Some(previous) => (
                write_checked(&target, previous, self.mode, |_| Ok(())).map(drop),
                "restored the previous",
            ),
            None => (
                std::fs::remove_file(&target).map_err(|source| promrules_targets::WriteError {
                    path: target.clone(),
                    action: "removing the new file",
                    source,
                }),
                "removed the new (there was none before)",
            ),
        };
        let out = self.out.display();
        let rollback = match restored.map(|()| self.reload.reload()) {
            Ok(Ok(_)) => format!("{done} `{out}` and reloaded it"),
            Ok(Err(second)) => format!("{done} `{out}`, but reloading it failed: {second}"),
            Err(error) => format!("rolling back failed too: {error}"),
        };
        Err(ExportError::RolledBack { path: self.out.clone(), reload: Box::new(error), rollback })
    }
}

impl Export {
    /// The file at `out` now, if any: only a regular file (or, with `follow_symlink`, a
    /// symlink to one) of at most `max_size` bytes; a device, fifo, directory or symlink
    /// is refused rather than replaced by a regular file or read without end.
    fn read_out(&self) -> Result<Option<Vec<u8>>, ExportError> {
        let path = &self.out;
        let refuse = |problem: String| ExportError::Out { path: path.clone(), problem };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ExportError::Read { path: path.clone(), source }),
        };
        let meta = if meta.file_type().is_symlink() {
            if !self.follow_symlink {
                return Err(refuse(
                    "is a symlink; pass --follow-symlink to replace its target".into(),
                ));
            }
            match std::fs::metadata(path) {
                Ok(meta) => meta,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(ExportError::Read { path: path.clone(), source }),
            }
        } else {
            meta
        };
        if !meta.is_file() {
            return Err(refuse("is not a regular file (a device, fifo or directory)".into()));
        }
        if meta.len() > self.max_size {
            let (size, limit) = (meta.len(), self.max_size);
            return Err(refuse(format!("is {size} bytes, larger than --max-size ({limit})")));
        }
        std::fs::read(path)
            .map(Some)
            .map_err(|source| ExportError::Read { path: path.clone(), source })
    }

    /// The path written: `out`, or the file its symlink points to (with `follow_symlink`),
    /// so the rename replaces the target and the link stays.
    fn write_path(&self) -> PathBuf {
        if self.follow_symlink {
            std::fs::canonicalize(&self.out).unwrap_or_else(|_| self.out.clone())
        } else {
            self.out.clone()
        }
    }
}

/// Whether `content` scrapes nothing (a target file without targets) or holds no rule
/// group; content that does not parse counts as not empty.
fn is_empty(what: &What, content: &[u8]) -> bool {
    match what {
        What::Targets(_) => serde_json::from_slice::<Vec<promrules_targets::TargetGroup>>(content)
            .is_ok_and(|groups| groups.iter().all(|group| group.targets.is_empty())),
        What::Rules { .. } => {
            #[derive(serde::Deserialize)]
            struct Groups {
                groups: Option<Vec<serde_yaml::Value>>,
            }
            serde_yaml::from_slice::<Groups>(content)
                .is_ok_and(|file| file.groups.is_none_or(|groups| groups.is_empty()))
        }
    }
}
