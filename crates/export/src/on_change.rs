//! Reload Prometheus when a directory's content really changes: the config-reloader
//! sidecar, without polling.
//!
//! Something else updates the directory: a Kubernetes ConfigMap mount (which writes a new
//! hidden `..2026_…` directory and swaps the `..data` symlink to it), a git checkout, an
//! rsync target. inotify (through `notify`) reports every step of such an update, so events
//! only wake the watcher; it waits until the directory has been quiet for the debounce
//! period, then compares a digest of the **visible** content with the last one and reloads
//! only when it differs. Visible means what Prometheus reads: entries not starting with `.`,
//! symlinks followed (so `rules.yml -> ..data/rules.yml` counts by its target's content, and
//! the hidden timestamped directories and editors' or rsync's temp files do not).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};

use crate::ExportError;

/// A digest of the visible files under `dir`: relative paths and contents, in name order.
pub fn content_digest(dir: &Path) -> std::io::Result<Vec<u8>> {
    fn walk(dir: &Path, relative: &Path, hasher: &mut Sha256) -> std::io::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names.into_iter().filter(|n| !n.to_string_lossy().starts_with('.')) {
            let path = dir.join(&name);
            let relative = relative.join(&name);
            // `metadata` follows symlinks; a dangling one (mid-swap) counts as absent.
            let Ok(metadata) = std::fs::metadata(&path) else { continue };
            if metadata.is_dir() {
                walk(&path, &relative, hasher)?;
            } else if metadata.is_file() {
                let content = match std::fs::read(&path) {
                    Ok(content) => content,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(error),
                };
                hasher.update(relative.to_string_lossy().as_bytes());
                hasher.update([0]);
                hasher.update((content.len() as u64).to_le_bytes());
                hasher.update(&content);
            }
        }
        Ok(())
    }
    let mut hasher = Sha256::new();
    walk(dir, Path::new(""), &mut hasher)?;
    Ok(hasher.finalize().to_vec())
}

/// Watches `dir` and reloads `prometheus` after each real change, once the directory has
/// been quiet for `debounce`. Runs until the watch cannot be set up; a failed reload is
/// logged and the next change is tried again, and a directory replaced by a rename is
/// noticed within a second and watched anew.
pub fn reload_on_change(
    dir: &Path,
    reload: &crate::Reloads,
    debounce: Duration,
    metrics: &crate::ExportMetrics,
) -> Result<(), ExportError> {
    let watch_error = |problem: String| ExportError::Watch { path: dir.to_path_buf(), problem };
    let (sender, events) = mpsc::channel();
    let watch = |sender: mpsc::Sender<_>| -> Result<_, ExportError> {
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // The receiver lives as long as this function.
                let _ = sender.send(event);
            })
            .map_err(|e| watch_error(e.to_string()))?;
        watcher.watch(dir, RecursiveMode::Recursive).map_err(|e| watch_error(e.to_string()))?;
        Ok((watcher, identity(dir)))
    };
    // Kept alive for the watch; replaced when the directory is.
    let (mut _watcher, mut watched) = watch(sender.clone())?;
    // A directory replaced by a rename (or removed and made again) takes its inotify watch
    // with it, and no event will come from the new one: notice, and watch anew. Whether it
    // was replaced.
    let mut follow_replacement = || {
        let now = identity(dir);
        if now.is_none() || now == watched {
            return false;
        }
        match watch(sender.clone()) {
            Ok((new_watcher, identity)) => {
                log::info!("`{}` was replaced; watching the new one", dir.display());
                (_watcher, watched) = (new_watcher, identity);
                true
            }
            Err(error) => {
                log::warn!("{error}");
                false
            }
        }
    };
    let mut last = content_digest(dir).map_err(|e| watch_error(e.to_string()))?;
    log::info!("watching `{}`; reloading {} on changes", dir.display(), reload.describe());
    loop {
        let woken = match events.recv_timeout(RECHECK) {
            Ok(Ok(event)) => is_change(&event),
            Ok(Err(error)) => {
                log::warn!("watch of `{}`: {error}", dir.display());
                true
            }
            Err(_) => false,
        };
        let replaced = follow_replacement();
        if !woken && !replaced {
            continue;
        }
        // Wait out the rest of the update: until no change for `debounce`.
        let mut quiet_since = Instant::now();
        while let Some(left) = debounce.checked_sub(quiet_since.elapsed()) {
            match events.recv_timeout(left) {
                Ok(Ok(event)) if is_change(&event) => quiet_since = Instant::now(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // The event may have been the first rename of a replacement still under way.
        follow_replacement();
        let now = match content_digest(dir) {
            Ok(now) => now,
            Err(error) => {
                // Mid-replacement; the next event or check looks again.
                log::warn!("reading `{}`: {error}", dir.display());
                continue;
            }
        };
        if now == last {
            log::debug!("`{}` changed on disk but not in content", dir.display());
            continue;
        }
        last = now;
        let reloaded = reload.reload();
        metrics.reload(reloaded.is_ok());
        match reloaded {
            Ok(urls) => log::info!("`{}` changed; reloaded {}", dir.display(), urls.join(", ")),
            Err(error) => log::error!("`{}` changed; {error}", dir.display()),
        }
    }
}

/// How often to check whether the watched directory itself was replaced.
const RECHECK: Duration = Duration::from_secs(1);

/// The directory's device and inode (following symlinks), or `None` when it is missing.
fn identity(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether `event` may have changed content. inotify also reports every open and every
/// close of an unchanged file: our own reads for the digest, and Prometheus reading its
/// rules on reload, would otherwise wake the watcher again and again.
fn is_change(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// The directory a `reload-on-change` run watches, checked to exist.
pub fn watched_dir(dir: &Path) -> Result<PathBuf, ExportError> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(dir.to_path_buf()),
        Ok(_) => Err(ExportError::Watch {
            path: dir.to_path_buf(),
            problem: "is not a directory".into(),
        }),
        Err(error) => {
            Err(ExportError::Watch { path: dir.to_path_buf(), problem: error.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_sees_visible_content_through_symlinks_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A ConfigMap mount: ..2026_1/rules.yml, ..data -> ..2026_1, rules.yml -> ..data/rules.yml
        std::fs::create_dir(root.join("..2026_1")).unwrap();
        std::fs::write(root.join("..2026_1/rules.yml"), "groups: []\n").unwrap();
        std::os::unix::fs::symlink("..2026_1", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/rules.yml", root.join("rules.yml")).unwrap();
        let first = content_digest(root).unwrap();

        // A swap to identical content, and a hidden temp file, change nothing.
        std::fs::create_dir(root.join("..2026_2")).unwrap();
        std::fs::write(root.join("..2026_2/rules.yml"), "groups: []\n").unwrap();
        std::os::unix::fs::symlink("..2026_2", root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        std::fs::write(root.join(".rules.yml.swp"), "junk").unwrap();
        assert_eq!(content_digest(root).unwrap(), first);

        // New content does.
        std::fs::write(root.join("..2026_2/rules.yml"), "groups: [{name: a, rules: []}]\n")
            .unwrap();
        assert_ne!(content_digest(root).unwrap(), first);
    }
}
