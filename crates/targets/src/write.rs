//! The one way target files (and other generated files) are put in place: a temp file in the
//! same directory, fsync, the mode, rename over the target, fsync of the directory. Readers
//! see the old file or the new one, never a part; an unchanged file is not touched.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The `action` of a [`WriteError`] from the check of [`write_checked`].
const CHECKING: &str = "checking the new file";

/// What [`write_atomically`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Replaced,
    Unchanged,
}

/// A file that could not be written; the old one is still in place.
#[derive(Debug, thiserror::Error)]
#[error("writing `{}` failed while {action}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    /// Whether the check of [`write_checked`] refused the content (rather than the file
    /// system failing): such content is not worth retrying until it changes.
    pub fn rejected_by_check(&self) -> bool {
        self.action == CHECKING
    }
}

/// Replaces `path` with `content` atomically and with permissions `mode` (for example
/// 0o644), unless it already holds exactly `content`.
pub fn write_atomically(path: &Path, content: &[u8], mode: u32) -> Result<Written, WriteError> {
    write_checked(path, content, mode, |_| Ok(()))
}

/// Like [`write_atomically`], but runs `check` on the complete temp file (named
/// `.NAME.XXXXXX.tmp`, in the same directory) before it replaces `path`; an `Err` from
/// `check` leaves `path` as it was.
pub fn write_checked(
    path: &Path,
    content: &[u8],
    mode: u32,
    check: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<Written, WriteError> {
    let error = |action| move |source| WriteError { path: path.to_owned(), action, source };
    // Only a regular file of the same length is read to compare: never a device or fifo
    // (`/dev/full` reads forever), never a file larger than what replaces it.
    let same_length = std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.len() == content.len() as u64);
    if same_length && std::fs::read(path).is_ok_and(|existing| existing == content) {
        return Ok(Written::Unchanged);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(error("creating a temp file"))?;
    temp.write_all(content).map_err(error("writing the temp file"))?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(error("setting permissions"))?;
    temp.as_file().sync_all().map_err(error("syncing the temp file"))?;
    check(temp.path()).map_err(error(CHECKING))?;
    temp.persist(path).map_err(|e| error("renaming the temp file into place")(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(error("syncing the directory"))?;
    Ok(Written::Replaced)
}
