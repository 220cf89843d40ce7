//! Locks held across processes: a host's deploys (so that two replicas, or a server and a
//! `deploy` command, never deploy to one host at once) and the leadership of a background
//! job. On PostgreSQL they are session advisory locks, each on a connection of its own from
//! the store's held-connections pool, named (`application_name`) after the process that
//! holds it, so that one who waits too long is told who holds it. On a SQLite file they
//! are lock files beside it (`flock`), for the processes sharing that file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};

use super::{Pool, Store};
use crate::error::Error;

/// The advisory-lock class of host deploy locks (an arbitrary, fixed number).
const HOST_LOCK_CLASS: i32 = 7077;
/// The advisory-lock class of background-job leadership.
const LEADER_CLASS: i32 = 7078;

/// How long a deploy waits for another process's deploy to the same host, by default.
pub const HOST_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// One lock, released when dropped.
enum Held {
    Advisory {
        connection: Box<PooledConnection<ConnectionManager<PgConnection>>>,
        class: i32,
        key: String,
    },
    /// The lock goes with the descriptor.
    File { _file: std::fs::File },
    /// Nothing to hold: an in-memory SQLite database has one process.
    Nothing,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Held::Advisory { connection, class, key } = self {
            let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1, hashtext($2))")
                .bind::<diesel::sql_types::Integer, _>(*class)
                .bind::<diesel::sql_types::Text, _>(&*key)
                .execute(&mut **connection);
            if let Err(error) = unlock {
                log::warn!("releasing the lock `{key}` failed: {error}");
            }
        }
    }
}

/// Holds the cross-process lock on one host's deploys until dropped.
pub struct HostLockGuard {
    _held: Held,
    name: String,
}

impl std::fmt::Debug for HostLockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLockGuard").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Leadership of a background job among the processes sharing a database, held while this
/// value lives; a replica that dies lets go with its session.
pub struct Leadership {
    held: Held,
    job: String,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership").field("job", &self.job).finish_non_exhaustive()
    }
}

impl Leadership {
    /// Whether it is still held: its connection still answers (a restarted PostgreSQL ends
    /// the session, and the lock with it).
    pub fn is_held(&mut self) -> bool {
        match &mut self.held {
            Held::Advisory { connection, .. } => {
                diesel::sql_query("SELECT 1").execute(&mut **connection).is_ok()
            }
            Held::File { .. } | Held::Nothing => true,
        }
    }
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = diesel::sql_types::Text)]
    holder: String,
}

impl Store {
    /// Takes the cross-process deploy lock of host `name`, waiting up to
    /// [`HOST_LOCK_TIMEOUT`] for another process that holds it.
    pub fn lock_host(&self, name: &str) -> Result<HostLockGuard, Error> {
        self.lock_host_within(name, HOST_LOCK_TIMEOUT)
    }

    /// Like [`Store::lock_host`], waiting at most `timeout`; then the error names who holds
    /// the lock.
    pub fn lock_host_within(&self, name: &str, timeout: Duration) -> Result<HostLockGuard, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(held) = self.try_lock(HOST_LOCK_CLASS, name)? {
                return Ok(HostLockGuard { _held: held, name: name.to_owned() });
            }
            if Instant::now() >= deadline {
                return Err(Error::Conflict(format!(
                    "host `{name}` is still being deployed by {} after {timeout:?}",
                    self.holder(HOST_LOCK_CLASS, name)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Becomes the leader of background job `job` unless another process is.
    pub fn try_lead(&self, job: &str) -> Result<Option<Leadership>, Error> {
        Ok(self.try_lock(LEADER_CLASS, job)?.map(|held| Leadership { held, job: job.to_owned() }))
    }

    /// The lock `(class, key)` if no other process holds it.
    fn try_lock(&self, class: i32, key: &str) -> Result<Option<Held>, Error> {
        match (&self.pool, &self.held) {
            (Pool::Postgres(pool), held) => {
                let mut connection = held.as_ref().unwrap_or(pool).get()?;
                let answer: Locked =
                    diesel::sql_query("SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked")
                        .bind::<diesel::sql_types::Integer, _>(class)
                        .bind::<diesel::sql_types::Text, _>(key)
                        .get_result(&mut connection)?;
                Ok(answer.locked.then(|| Held::Advisory {
                    connection: Box::new(connection),
                    class,
                    key: key.to_owned(),
                }))
            }
            (Pool::Sqlite(_), _) => {
                let Some(path) = self.lock_file(class, key)? else {
                    return Ok(Some(Held::Nothing));
                };
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| lock_file_error(&path, e))?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Held::File { _file: file })),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => Err(lock_file_error(&path, e)),
                }
            }
        }
    }

    /// The lock file of `(class, key)` beside a SQLite file (`None` in memory): the key
    /// hex-encoded, so that no name can reach another path.
    fn lock_file(&self, class: i32, key: &str) -> Result<Option<PathBuf>, Error> {
        if self.location.is_empty() || self.location.contains(":memory:") {
            return Ok(None);
        }
        let dir = PathBuf::from(format!("{}.locks", self.location));
        std::fs::create_dir_all(&dir).map_err(|e| lock_file_error(&dir, e))?;
        let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
        Ok(Some(dir.join(format!("{class}-{hex}.lock"))))
    }

    /// Who holds lock `(class, key)`, for a message.
    fn holder(&self, class: i32, key: &str) -> String {
        match &self.pool {
            Pool::Postgres(pool) => {
                let found = pool.get().ok().and_then(|mut connection| {
                    diesel::sql_query(
                        "SELECT format('%s (PostgreSQL backend %s from %s, connected since %s)', \
                         COALESCE(NULLIF(a.application_name, ''), 'an unnamed client'), a.pid, \
                         COALESCE(host(a.client_addr), 'a local socket'), \
                         date_trunc('second', a.backend_start)) AS holder \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                         AND l.classid = $1::oid AND l.objid = (hashtext($2)::bigint & 4294967295)::oid",
                    )
                    .bind::<diesel::sql_types::Integer, _>(class)
                    .bind::<diesel::sql_types::Text, _>(key)
                    .get_result::<Holder>(&mut connection)
                    .ok()
                });
                found.map_or_else(|| "another process".to_owned(), |h| h.holder)
            }
            Pool::Sqlite(_) => match self.lock_file(class, key) {
                Ok(Some(path)) => {
                    format!("another process on this machine (lock file `{}`)", path.display())
                }
                _ => "another process".to_owned(),
            },
        }
    }
}

fn lock_file_error(path: &std::path::Path, error: std::io::Error) -> Error {
    Error::Conflict(format!("the lock file `{}`: {error}", path.display()))
}

/// The name PostgreSQL shows for this process's lock connections: what a waiting process
/// is told holds the lock.
pub(super) fn application_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let program = std::env::args().next().unwrap_or_default();
    let program = std::path::Path::new(&program)
        .file_name()
        .map_or_else(|| "promrules".to_owned(), |name| name.to_string_lossy().into_owned());
    format!("{program} on {} (pid {})", host.trim(), std::process::id())
}
