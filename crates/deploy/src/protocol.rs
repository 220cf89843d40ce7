//! The per-host protocol. For one host, under its lock (taken by the fleet):
//! 1. take the host's connection (kept open between deploys, `pool.rs`); read the live rule
//!    file; identical content is `unchanged` (no reload) unless forced;
//! 2. check (once per connection and path) that Prometheus's loaded `rule_files` cover the
//!    path, and that the temp and backup names are *not* covered; check the file with a
//!    promtool of the host's Prometheus version where the deploy runs (once per content,
//!    `check.rs`) when the host's `remote_promtool` allows;
//! 3. back up the live file into `.promrules-backups/` beside it (a hard link: the rename
//!    below leaves the old file to it), numbered, keeping the newest N;
//! 4. write `.<file>.promrules-tmp` in the same directory, fsync, check it with the host's
//!    `promtool` when it was not checked here and the host has one, and rename it over the
//!    live file (posix-rename: an atomic rename(2), so the path always holds a complete file);
//! 5. reload and verify: the reload succeeded, the success timestamp changed, and the
//!    metrics that showed it list exactly the deployed groups for the file, each with its
//!    number of rules (`/api/v1/rules` when a Prometheus does not export them);
//! 6. on any failure after the rename, restore the previous content the same atomic way,
//!    reload, verify the old state: `rolled_back`; if that fails too: `failed`, loudly.
//!
//! **Invariant: the live path always holds a complete, previously valid or newly verified
//! file**, and every failure before the rename leaves the host as it was.
//!
//! A host with a `targets_file` gets its target file first (`targets.rs`); when that step
//! fails, the rule file is left as it was.

use std::path::Path;
use std::sync::Arc;

use promrules_prometheus::{Prometheus, PrometheusError, ReloadState, rule_files_cover};

use crate::compat::Facts;
use crate::error::{FileKind, StepError};
use crate::host::{Host, Managed, ReloadMethod, RemotePromtool};
use crate::remote::{PrometheusVersion, Remote, shell_quote};
use crate::report::{Diff, Finished, hex_sha256};
use crate::{DeployOptions, Deployer, Files, Outcome};

/// Connects to `host` and runs the protocol with `files`.
pub(crate) async fn run(
    deployer: &Deployer,
    host: &Host,
    files: &Files,
    options: &DeployOptions,
) -> Result<Finished, StepError> {
    let remote = deployer.pool.take(host, &deployer.control_dir, options.connect_timeout).await?;
    let result = run_connected(deployer, host, &remote, files, options).await;
    match &result {
        Err(error) if error.is_connection() => remote.close().await,
        _ => deployer.pool.give_back(host, remote),
    }
    result
}

async fn run_connected(
    deployer: &Deployer,
    host: &Host,
    remote: &Remote,
    files: &Files,
    options: &DeployOptions,
) -> Result<Finished, StepError> {
    let prometheus = client(host, options)?;
    let pushed = match (&host.targets_file, &files.targets) {
        (Some(path), Some(targets)) => {
            Some(crate::targets::push(host, remote, &prometheus, path, targets, options).await?)
        }
        _ => None,
    };
    if let Some(pushed) = pushed.as_ref().filter(|pushed| pushed.outcome.is_failure()) {
        let message = format!("target file: {}; the rule file was left as it was", pushed.message);
        return Ok(Finished { outcome: pushed.outcome, ..Finished::failed(message) });
    }
    let rules = deploy_rules(deployer, host, remote, &prometheus, &files.rules, options).await?;
    Ok(match pushed {
        Some(pushed) => rules.with_targets(pushed),
        None => rules,
    })
}

/// Steps 1 to 6 for the rule file.
async fn deploy_rules(
    deployer: &Deployer,
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    content: &[u8],
    options: &DeployOptions,
) -> Result<Finished, StepError> {
    let live = remote.read(&host.rule_file).await?;
    if live.as_deref() == Some(content) && !options.force {
        let message = "the live file already has this content".to_owned();
        return Ok(Finished::new(Outcome::Unchanged, message, &Diff::default()));
    }
    let hash = hex_sha256(content);
    let mode = host.remote_promtool.unwrap_or(options.remote_promtool);
    let local = match mode {
        RemotePromtool::Always => None,
        RemotePromtool::Auto | RemotePromtool::Never => {
            match prometheus_version(host, remote, prometheus).await {
                Ok((_, Some(major_minor))) => deployer.promtools.matching(major_minor).await,
                _ => None,
            }
        }
    };
    let mut checked = match (&local, mode) {
        (Some(promtool), _) => format!("checked by promtool {} here", promtool.version),
        (None, RemotePromtool::Never) => "not checked by promtool".to_owned(),
        (None, _) => String::new(),
    };
    // The check here starts first and runs while the file is read, diffed, backed up and
    // uploaded; a dry run and the rename wait for its verdict.
    let check_here = async {
        let Some(promtool) = &local else { return Ok(Ok(())) };
        let verdict = deployer.promtools.check(promtool, &hash, content).await;
        Ok(verdict.map_err(|output| StepError::LocalPromtool {
            host: host.name.clone(),
            version: promtool.version.clone(),
            output,
        }))
    };
    let managed = Managed::new(&host.rule_file);
    let temp = &managed.temp;
    let prepare = async {
        let facts = {
            let content = content.to_vec();
            deployer.facts.get(hash.clone(), move || Facts::of(&content)).await
        };
        let (old, new) = (live.clone().unwrap_or_default(), content.to_vec());
        let diff = deployer
            .diffs
            .get((hex_sha256(&old), hash.clone()), move || {
                Diff::between(&String::from_utf8_lossy(&old), &String::from_utf8_lossy(&new))
            })
            .await;
        check_coverage(host, remote, prometheus, FileKind::Rules, &managed).await?;
        check_version(host, remote, prometheus, &facts).await?;
        if options.dry_run {
            return Ok((facts, diff));
        }
        if !remote.has_atomic_rename() {
            return Err(StepError::NoAtomicRename { host: host.name.clone() });
        }
        if let Some(live) = &live {
            back_up(remote, &managed, live, options.backups).await?;
        }
        if let Err(error) = remote.write_synced(temp, content).await {
            // A full disk leaves a partial temp file: take it away, or it keeps the disk full.
            let _ = remote.remove(temp).await;
            return Err(error);
        }
        Ok((facts, diff))
    };
    // A failure of the steps before the rename ends the deploy at once; a rejection by the
    // check, once the upload is done.
    let (verdict, (facts, diff)) = tokio::try_join!(check_here, prepare)?;
    let lines = format!("+{} -{} lines", diff.summary.added, diff.summary.removed);
    if options.dry_run {
        verdict?;
        return Ok(Finished::new(Outcome::WouldChange, lines, &diff));
    }
    if let Err(refused) = verdict {
        remote.remove(temp).await?;
        return Err(refused);
    }
    if local.is_none() && mode != RemotePromtool::Never {
        match check_with_promtool(host, remote, temp).await {
            Ok(true) => checked = "checked by the host's promtool".to_owned(),
            Ok(false) => checked = "not checked by promtool (none here or on the host)".to_owned(),
            Err(error) => {
                remote.remove(temp).await?;
                return Err(error);
            }
        }
    }

    let before = blocking(host, prometheus, |p| p.reload_state()).await.ok();
    remote.rename(temp, &host.rule_file).await?;
    let expected = &facts.groups;
    let Err(reason) = reload_and_verify(host, remote, prometheus, before, expected, options).await
    else {
        let message = format!("loaded {} group(s); {lines}; {checked}", expected.len());
        return Ok(Finished::new(Outcome::Deployed, message, &diff));
    };
    log::warn!("{reason}; restoring the previous rule file of {}", host.name);
    Ok(match roll_back(host, remote, prometheus, live.as_deref(), &managed, options).await {
        Ok(note) => Finished::new(
            Outcome::RolledBack,
            format!("{reason}; previous file restored{note}"),
            &diff,
        ),
        Err(rollback) => {
            Finished::new(Outcome::Failed, format!("{reason}; ROLLBACK FAILED: {rollback}"), &diff)
        }
    })
}

/// The host's Prometheus client, with the deploy's timeout.
fn client(host: &Host, options: &DeployOptions) -> Result<Arc<Prometheus>, StepError> {
    host.prometheus(options.http_timeout).map(Arc::new).map_err(|source| StepError::Prometheus {
        host: host.name.clone(),
        url: host.prometheus_url.clone(),
        source: Box::new(source),
    })
}

/// Runs a blocking Prometheus call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    host: &Host,
    prometheus: &Arc<Prometheus>,
    call: impl FnOnce(&Prometheus) -> Result<T, PrometheusError> + Send + 'static,
) -> Result<T, StepError> {
    let prometheus = Arc::clone(prometheus);
    let (name, url) = (host.name.clone(), host.prometheus_url.clone());
    match tokio::task::spawn_blocking(move || call(&prometheus)).await {
        Ok(answer) => answer.map_err(|source| StepError::Prometheus {
            host: name,
            url,
            source: Box::new(source),
        }),
        Err(panicked) => {
            Err(StepError::Verify { host: name, problem: format!("prometheus call: {panicked}") })
        }
    }
}

/// Checks (once per connection and path) that the patterns through which Prometheus reads
/// a `kind` of file cover its path, and do not cover its temp and backup names.
pub(crate) async fn check_coverage(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    kind: FileKind,
    managed: &Managed<'_>,
) -> Result<(), StepError> {
    let covered = || remote.covered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if covered().contains(managed.path) {
        return Ok(());
    }
    let patterns = match kind {
        FileKind::Rules => blocking(host, prometheus, |p| p.rule_file_patterns()).await?,
        FileKind::Targets => blocking(host, prometheus, |p| p.file_sd_patterns()).await?,
    };
    if !rule_files_cover(&patterns, managed.path) {
        return Err(StepError::NotCovered {
            host: host.name.clone(),
            kind,
            path: managed.path.display().to_string(),
            patterns: if patterns.is_empty() { "none".to_owned() } else { patterns.join(", ") },
        });
    }
    let own = [&managed.temp, &managed.backup_example()];
    if let Some(path) = own.iter().find(|path| rule_files_cover(&patterns, path)) {
        return Err(StepError::Verify {
            host: host.name.clone(),
            problem: format!(
                "the {} patterns ({}) also cover `{}`, where temp files and backups go; narrow them (for example `*.{}`)",
                kind.setting(),
                patterns.join(", "),
                path.display(),
                match kind {
                    FileKind::Rules => "yml",
                    FileKind::Targets => "json",
                },
            ),
        });
    }
    covered().insert(managed.path.to_owned());
    Ok(())
}

/// The host's Prometheus version and its major.minor, asked once per connection.
async fn prometheus_version(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
) -> Result<PrometheusVersion, StepError> {
    let known =
        || remote.prometheus_version.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(version) = known().clone() {
        return Ok(version);
    }
    let info = blocking(host, prometheus, |p| p.build_info()).await?;
    let version = (info.version.clone(), info.semver().map(|(major, minor, _)| (major, minor)));
    *known() = Some(version.clone());
    Ok(version)
}

/// Refuses a file (its `facts`) that uses a field the host's Prometheus is too old to load.
async fn check_version(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    facts: &Facts,
) -> Result<(), StepError> {
    // A file without versioned fields loads on any Prometheus: no question to ask (and a
    // Prometheus that is down is handled by the reload and the rollback, as ever).
    if !facts.has_versioned_fields() {
        return Ok(());
    }
    let (version, major_minor) = prometheus_version(host, remote, prometheus).await?;
    let Some((major, minor)) = major_minor else {
        log::debug!("{} runs Prometheus `{version}`; not checking rule fields", host.name);
        return Ok(());
    };
    match facts.first_unsupported((major, minor)) {
        None => Ok(()),
        Some(found) => Err(StepError::Unsupported {
            host: host.name.clone(),
            field: found.field,
            group: found.group,
            needs: found.needs,
            version,
        }),
    }
}

/// Keeps the live file (whose content is `live`) in the backup folder beside it, keeping the
/// newest `keep`.
pub(crate) async fn back_up(
    remote: &Remote,
    managed: &Managed<'_>,
    live: &[u8],
    keep: usize,
) -> Result<(), StepError> {
    let dir = &managed.backup_dir;
    remote.ensure_dir(dir).await?;
    let prefix = format!("{}.", managed.name);
    let mut backups: Vec<(u64, String)> = remote
        .list(dir)
        .await?
        .into_iter()
        .filter_map(|name| Some((backup_sequence(name.strip_prefix(&prefix)?), name)))
        .collect();
    let next = backups.iter().map(|(sequence, _)| sequence + 1).max().unwrap_or(1);
    // The sequence orders the backups; the UTC time (with microseconds) is for people.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let name = format!("{prefix}{next:06}.{stamp}");
    let backup = dir.join(&name);
    // The live file is about to be replaced by a rename, so a second name of it is a copy
    // that costs no upload; without the extension, or for a symlink, its bytes are written.
    if !remote.link_regular_file(managed.path, &backup).await
        && let Err(error) = remote.write_synced(&backup, live).await
    {
        let _ = remote.remove(&backup).await;
        return Err(error);
    }
    backups.push((next, name));
    backups.sort();
    let excess = backups.len().saturating_sub(keep.max(1));
    for (_, old) in &backups[..excess] {
        remote.remove(&dir.join(old)).await?;
    }
    Ok(())
}

/// A backup's place in its file's order, from its name after `<file>.`: the sequence of
/// `<sequence>.<UTC time>`, one past the highest there when it was made, so the order is the
/// deploys' whatever any clock says (by time alone, a deployer whose clock is behind would
/// name its backup oldest and prune it at once). Names without one are older than any.
fn backup_sequence(rest: &str) -> u64 {
    let (sequence, _) = rest.split_once('.').unwrap_or_default();
    match sequence.bytes().all(|b| b.is_ascii_digit()) {
        true => sequence.parse().unwrap_or(0),
        false => 0,
    }
}

/// Writes `content` to the managed file's temp file, fsyncs it and renames it over the file
/// (a partial temp file, from a full disk say, is taken away).
pub(crate) async fn replace(
    remote: &Remote,
    managed: &Managed<'_>,
    content: &[u8],
) -> Result<(), StepError> {
    if let Err(error) = remote.write_synced(&managed.temp, content).await {
        let _ = remote.remove(&managed.temp).await;
        return Err(error);
    }
    remote.rename(&managed.temp, managed.path).await
}

/// Puts `previous` back (or removes the file if there was none), reloads and verifies.
async fn roll_back(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    previous: Option<&[u8]>,
    managed: &Managed<'_>,
    options: &DeployOptions,
) -> Result<String, String> {
    let before = blocking(host, prometheus, |p| p.reload_state()).await.ok();
    match previous {
        Some(previous) => replace(remote, managed, previous).await,
        None => remote.remove(managed.path).await,
    }
    .map_err(|e| e.to_string())?;
    let expected = previous.map(|previous| Facts::of(previous).groups).unwrap_or_default();
    match reload_and_verify(host, remote, prometheus, before, &expected, options).await {
        Ok(()) => Ok(String::new()),
        // The file on disk is the old, valid one: Prometheus loads it when it is back.
        Err(problem) if before.is_none() => {
            Ok(format!(" (Prometheus unreachable, so not reloaded: {problem})"))
        }
        Err(problem) => Err(format!("the previous file is back on disk, but {problem}")),
    }
}

/// Runs the host's promtool on `temp`; `false` when the host has none.
async fn check_with_promtool(host: &Host, remote: &Remote, temp: &Path) -> Result<bool, StepError> {
    let quoted = shell_quote(temp);
    let command = format!(
        "if command -v promtool >/dev/null 2>&1; then promtool check rules {quoted}; else echo promrules-no-promtool; fi"
    );
    let output = remote.run(&command).await?;
    if output.output.trim() == "promrules-no-promtool" {
        log::debug!("{} has no promtool; relying on the reload's verdict", host.name);
        return Ok(false);
    }
    if output.success {
        Ok(true)
    } else {
        Err(StepError::Promtool {
            host: host.name.clone(),
            output: output.output.trim().to_owned(),
        })
    }
}

/// Reloads and checks that Prometheus now serves exactly `expected` groups from the file.
async fn reload_and_verify(
    host: &Host,
    remote: &Remote,
    prometheus: &Arc<Prometheus>,
    before: Option<ReloadState>,
    expected: &[(String, usize)],
    options: &DeployOptions,
) -> Result<(), String> {
    let Some(before) = before else {
        return Err(format!(
            "Prometheus of {} at {} is unreachable",
            host.name, host.prometheus_url
        ));
    };
    match &host.reload {
        ReloadMethod::Http => blocking(host, prometheus, |p| p.request_reload())
            .await
            .map_err(|e| format!("reload failed: {e}"))?,
        ReloadMethod::Command(command) => {
            let output = remote.run(command).await.map_err(|e| e.to_string())?;
            if !output.success {
                return Err(format!(
                    "reload command `{command}` exited with {:?}: {}",
                    output.code,
                    output.output.trim()
                ));
            }
        }
    }
    // A SIGHUP reload is asynchronous: wait for the success timestamp to move.
    let timeout = options.reload_timeout;
    let reloaded = blocking(host, prometheus, move |p| p.wait_for_reload(&before, timeout))
        .await
        .map_err(|e| e.to_string())?;
    // The groups come from the metrics that showed the reload; only a Prometheus that does
    // not export them is asked for every rule of the file.
    let loaded: Vec<(String, Option<u64>)> = match reloaded.rule_groups(&host.rule_file) {
        Some(groups) => groups.into_iter().map(|(name, rules)| (name, Some(rules))).collect(),
        None => {
            let file = host.rule_file.clone();
            blocking(host, prometheus, move |p| p.loaded_groups(&file))
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|name| (name, None))
                .collect()
        }
    };
    // Both sorted by name: the metrics and the API's answer as read, `Facts` as parsed.
    let names: Vec<&String> = loaded.iter().map(|(name, _)| name).collect();
    let wanted: Vec<&String> = expected.iter().map(|(name, _)| name).collect();
    if names != wanted {
        return Err(format!(
            "Prometheus loaded groups {names:?} from the file, expected {wanted:?}"
        ));
    }
    let counted = loaded.iter().zip(expected).find_map(|((name, loaded), (_, deployed))| {
        loaded.filter(|loaded| *loaded != *deployed as u64).map(|loaded| (name, loaded, deployed))
    });
    match counted {
        Some((name, loaded, deployed)) => Err(format!(
            "Prometheus loaded {loaded} rule(s) in group {name:?} from the file, {deployed} were deployed"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::backup_sequence;

    #[test]
    fn backups_are_ordered_by_their_sequence_then_older_names_first() {
        assert_eq!(backup_sequence("000042.20251206T101010.123456Z"), 42);
        assert_eq!(backup_sequence("1000000.20200101T000000.000000Z"), 1_000_000);
        assert_eq!(backup_sequence("20261206T142429.123456Z"), 0, "a name from before");
        assert_eq!(backup_sequence("junk"), 0);
        assert_eq!(backup_sequence(".x"), 0);
    }
}
