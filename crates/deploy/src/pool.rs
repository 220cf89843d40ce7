//! Persistent SSH: each host's multiplexed connection (and its SFTP session) stays open
//! between deploys for an idle time, so a steady-state deploy skips key exchange and
//! authentication on both ends. A connection is taken out of the pool for the length of one
//! deploy (the per-host lock already makes that exclusive), checked alive on the way out
//! (a mux `check`, no process), and replaced transparently when it died; it goes back only
//! when the deploy ended without an SSH error. Each return arms a timer that closes it after
//! the idle time unless a later deploy took it. A reconnect goes through the same
//! `Remote::connect`, so host-key checking is as strict as on the first connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::StepError;
use crate::host::{Host, HostKeyPolicy};
use crate::remote::Remote;

/// Everything a connection is made from: a host whose SSH settings changed gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    address: String,
    port: u16,
    user: Option<String>,
    identity_file: Option<PathBuf>,
    known_hosts_file: Option<PathBuf>,
    policy: HostKeyPolicy,
    jump_host: Option<String>,
}

impl Key {
    fn of(host: &Host) -> Key {
        Key {
            address: host.address.clone(),
            port: host.ssh_port,
            user: host.ssh_user.clone(),
            identity_file: host.identity_file.clone(),
            known_hosts_file: host.known_hosts_file.clone(),
            policy: host.host_key_policy,
            jump_host: host.jump_host.clone(),
        }
    }
}

struct Idle {
    remote: Remote,
    /// Which return this is: the idle timer closes the connection only if it is still the
    /// same one it was armed for.
    generation: u64,
}

/// Removes one idle connection from its pool when its idle time is up, or when the timer
/// task is dropped unfinished: the runtime it was started on is shutting down, and its SFTP
/// session (whose tasks run there) is gone with it, so the connection must not be reused.
struct Expiry {
    pool: std::sync::Weak<Pool>,
    key: Key,
    generation: u64,
}

impl Expiry {
    fn expire(&self) -> Option<Remote> {
        let pool = self.pool.upgrade()?;
        let mut idle = pool.idle();
        match idle.get(&self.key) {
            Some(entry) if entry.generation == self.generation => {
                idle.remove(&self.key).map(|entry| entry.remote)
            }
            _ => None,
        }
    }
}

impl Drop for Expiry {
    fn drop(&mut self) {
        // Dropping the connection ends its SSH master (openssh's `Session` does on drop).
        drop(self.expire());
    }
}

/// The idle connections of one deployer.
pub(crate) struct Pool {
    idle_time: Duration,
    idle: Mutex<HashMap<Key, Idle>>,
    generation: AtomicU64,
}

impl Pool {
    /// A pool keeping connections `idle_time` after their last deploy; zero keeps none.
    pub(crate) fn new(idle_time: Duration) -> Pool {
        Pool { idle_time, idle: Mutex::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection to `host`: its idle one when that is still alive, else a new one.
    pub(crate) async fn take(
        &self,
        host: &Host,
        control_dir: &Path,
        connect_timeout: Duration,
    ) -> Result<Remote, StepError> {
        let pooled = self.idle().remove(&Key::of(host));
        if let Some(Idle { remote, .. }) = pooled {
            if remote.is_alive().await {
                log::debug!(host = host.name.as_str(); "reusing the SSH connection to {}", host.name);
                return Ok(remote);
            }
            log::info!(host = host.name.as_str(); "the SSH connection to {} dropped; reconnecting", host.name);
            remote.close().await;
        }
        Remote::connect(host, control_dir, connect_timeout).await
    }

    /// Gives `remote` back after a deploy to `host` that had no SSH error: kept for the
    /// idle time (closed at once when that is zero).
    pub(crate) fn give_back(self: &Arc<Self>, host: &Host, remote: Remote) {
        if self.idle_time.is_zero() {
            tokio::spawn(remote.close());
            return;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let key = Key::of(host);
        let replaced = self.idle().insert(key.clone(), Idle { remote, generation });
        if let Some(Idle { remote, .. }) = replaced {
            tokio::spawn(remote.close());
        }
        let expiry = Expiry { pool: Arc::downgrade(self), key, generation };
        let idle_time = self.idle_time;
        tokio::spawn(async move {
            tokio::time::sleep(idle_time).await;
            if let Some(remote) = expiry.expire() {
                log::debug!("closing an SSH connection after {idle_time:?} idle");
                remote.close().await;
            }
        });
    }

    /// How many connections are open and idle.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle().len()
    }

    /// Closes every idle connection (at shutdown).
    pub(crate) async fn close_all(&self) {
        let all: Vec<Idle> = self.idle().drain().map(|(_, idle)| idle).collect();
        for Idle { remote, .. } in all {
            remote.close().await;
        }
    }
}
