//! A host over SSH: one multiplexed OpenSSH connection (the system `ssh`, so the operator's
//! keys, agent and known_hosts work as usual) carrying both SFTP and commands.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};

use crate::error::{SshStep, StepError, ssh_detail};
use crate::host::{Host, HostKeyPolicy};

pub(crate) struct Remote {
    host: String,
    session: Arc<Session>,
    sftp: Sftp,
    /// Rule files whose coverage by the host's `rule_files` this connection checked.
    pub(crate) covered: Mutex<HashSet<PathBuf>>,
    /// The host's Prometheus version, asked once per connection.
    pub(crate) prometheus_version: Mutex<Option<PrometheusVersion>>,
}

/// A Prometheus version as it reports it, and its major and minor numbers when it has them.
pub(crate) type PrometheusVersion = (String, Option<(u64, u64)>);

/// What a remote command printed, and whether it succeeded.
pub(crate) struct CommandOutput {
    pub(crate) success: bool,
    pub(crate) code: Option<i32>,
    pub(crate) output: String,
}

impl Remote {
    /// Connects to `host`, checking its key under its policy.
    pub(crate) async fn connect(
        host: &Host,
        control_dir: &Path,
        connect_timeout: Duration,
    ) -> Result<Remote, StepError> {
        let mut builder = SessionBuilder::default();
        builder
            .port(host.ssh_port)
            .connect_timeout(connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(control_dir)
            .known_hosts_check(match host.host_key_policy {
                HostKeyPolicy::Strict => KnownHosts::Strict,
                HostKeyPolicy::AcceptNew => KnownHosts::Add,
            });
        if let Some(user) = &host.ssh_user {
            builder.user(user.clone());
        }
        if let Some(key) = &host.identity_file {
            builder.keyfile(key);
        }
        if let Some(known_hosts) = &host.known_hosts_file {
            builder.user_known_hosts_file(known_hosts);
        }
        if let Some(jump) = &host.jump_host {
            builder.jump_hosts([jump]);
        }
        let connect_error = |source: openssh::Error| {
            let detail = ssh_detail(&source);
            let step = SshStep::of(&detail, host.jump_host.as_deref());
            StepError::Connect { host: host.name.clone(), step, detail }
        };
        let session = Arc::new(builder.connect_mux(&host.address).await.map_err(connect_error)?);
        let sftp = Sftp::from_clonable_session(Arc::clone(&session), SftpOptions::default())
            .await
            .map_err(|source| StepError::Sftp { host: host.name.clone(), source })?;
        Ok(Remote {
            host: host.name.clone(),
            session,
            sftp,
            covered: Mutex::new(HashSet::new()),
            prometheus_version: Mutex::new(None),
        })
    }

    /// Whether the connection still answers (a mux `check`: no process, no round trip to
    /// the host beyond the master's own keep-alive).
    pub(crate) async fn is_alive(&self) -> bool {
        self.session.check().await.is_ok()
    }

    fn file_error(&self, action: &'static str, path: &Path) -> impl FnOnce(SftpError) -> StepError {
        let (host, path) = (self.host.clone(), path.display().to_string());
        move |source| StepError::File { host, action, path, source }
    }

    /// The file's content, or `None` when it does not exist.
    pub(crate) async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StepError> {
        match self.sftp.fs().read(path).await {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(SftpError::SftpError(SftpErrorKind::NoSuchFile, _)) => Ok(None),
            Err(error) => Err(self.file_error("reading", path)(error)),
        }
    }

    /// Writes `bytes` to `path` (created or truncated) and fsyncs it.
    pub(crate) async fn write_synced(&self, path: &Path, bytes: &[u8]) -> Result<(), StepError> {
        let mut file = self
            .sftp
            .options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
            .map_err(self.file_error("creating", path))?;
        file.write_all(bytes).await.map_err(self.file_error("writing", path))?;
        if self.sftp.support_fsync() {
            file.sync_all().await.map_err(self.file_error("syncing", path))?;
        }
        file.close().await.map_err(self.file_error("closing", path))
    }

    /// Whether rename replaces its target atomically (posix-rename@openssh.com).
    pub(crate) fn has_atomic_rename(&self) -> bool {
        self.sftp.support_posix_rename()
    }

    /// Atomically replaces `to` with `from` (callers check `has_atomic_rename` first).
    pub(crate) async fn rename(&self, from: &Path, to: &Path) -> Result<(), StepError> {
        self.sftp.fs().rename(from, to).await.map_err(self.file_error("renaming into", to))
    }

    pub(crate) async fn remove(&self, path: &Path) -> Result<(), StepError> {
        match self.sftp.fs().remove_file(path).await {
            Ok(()) | Err(SftpError::SftpError(SftpErrorKind::NoSuchFile, _)) => Ok(()),
            Err(error) => Err(self.file_error("removing", path)(error)),
        }
    }

    /// Makes `to` a second name of the regular file at `from` (`hardlink@openssh.com`): a
    /// backup of a file about to be replaced by rename, without sending its bytes again.
    /// `false`, with nothing done, when the server lacks the extension, `from` is not a
    /// regular file (a link to a symlink would follow the new file), or linking is refused.
    pub(crate) async fn link_regular_file(&self, from: &Path, to: &Path) -> bool {
        if !self.sftp.support_hardlink() {
            return false;
        }
        let mut fs = self.sftp.fs();
        let regular = fs
            .symlink_metadata(from)
            .await
            .ok()
            .and_then(|metadata| metadata.file_type())
            .is_some_and(|kind| kind.is_file());
        if !regular {
            return false;
        }
        match fs.hard_link(from, to).await {
            Ok(()) => true,
            // For example `fs.protected_hardlinks` and a file the SSH user does not own.
            Err(error) => {
                log::debug!("linking {} on {} failed ({error}); copying", to.display(), self.host);
                false
            }
        }
    }

    /// Creates `dir` unless it exists.
    pub(crate) async fn ensure_dir(&self, dir: &Path) -> Result<(), StepError> {
        let mut fs = self.sftp.fs();
        if fs.metadata(dir).await.is_ok() {
            return Ok(());
        }
        fs.create_dir(dir).await.map_err(self.file_error("creating directory", dir))
    }

    /// The names in `dir`.
    pub(crate) async fn list(&self, dir: &Path) -> Result<Vec<String>, StepError> {
        let mut fs = self.sftp.fs();
        let listing = fs.open_dir(dir).await.map_err(self.file_error("listing", dir))?;
        let mut names = Vec::new();
        let entries = listing.read_dir();
        tokio::pin!(entries);
        while let Some(entry) = futures_util::StreamExt::next(&mut entries).await {
            let entry = entry.map_err(self.file_error("listing", dir))?;
            let name = entry.filename().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Runs `command` through the remote user's shell.
    pub(crate) async fn run(&self, command: &str) -> Result<CommandOutput, StepError> {
        let output = self.session.raw_command(command).output().await.map_err(|error| {
            StepError::Command {
                host: self.host.clone(),
                command: command.to_owned(),
                problem: error.to_string(),
            }
        })?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(CommandOutput {
            success: output.status.success(),
            code: output.status.code(),
            output: text,
        })
    }

    pub(crate) async fn close(self) {
        let _ = self.sftp.close().await;
        if let Ok(session) = Arc::try_unwrap(self.session) {
            let _ = session.close().await;
        }
    }
}

/// Quotes `path` for a POSIX shell.
pub(crate) fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
