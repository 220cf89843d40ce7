//! The SQL store, on SQLite or PostgreSQL: opening and migrating the database, the pool,
//! and the macros every query is written with. The queries live in the submodules: rules
//! and groups in `rules.rs`, stored SLOs and the groups they generate in `slos.rs`, deploy
//! hosts and the audit trail in `audit.rs`, the target model in `targets.rs`.
//!
//! `Store::open` picks the backend from the URL itself (a path or `sqlite://` for SQLite,
//! `postgres://` or `postgresql://` for PostgreSQL) and makes the first connection directly,
//! so that a failure keeps the database's own message instead of a pool time-out. It then
//! runs the embedded migrations and keeps a small connection pool.
//!
//! Every query is written once: the `with_connection!` and `in_write_transaction!` macros
//! expand a body for each backend's concrete connection type. Every write runs in a
//! transaction that validates first, so a failed write leaves nothing behind. On SQLite,
//! write transactions are `BEGIN IMMEDIATE`, which takes the write lock up front: a deferred
//! transaction that reads and then writes can fail with `SQLITE_BUSY` without waiting.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::backend::Backend;
use crate::error::Error;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The most connections a store holds for locks at once: one per host being deployed and one
/// per background job this replica leads.
const HELD_CONNECTIONS: u32 = 128;

/// An arbitrary, fixed key for the PostgreSQL advisory lock that serializes migrations when
/// several server replicas start at once.
const MIGRATION_LOCK_KEY: i64 = 0x7072_6f6d_7275_6c65; // "promrule"

/// A handle to the database; cheap to clone, shared by threads.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Serializes this process's SQLite write transactions. SQLite allows one writer at a
    /// time anyway; waiting here is a fair queue, where waiting in SQLite's busy handler
    /// means sleeping in growing steps (up to 100 ms) and long tail latencies.
    sqlite_writer: Arc<Mutex<()>>,
    /// Who the writes of this handle are by, in the revisions they record.
    actor: Arc<str>,
    /// On PostgreSQL, the connections held for long (host deploy locks, job leadership): a
    /// pool of their own, so that deploys at any concurrency never take the connections
    /// requests need.
    held: Option<R2d2Pool<ConnectionManager<PgConnection>>>,
    /// What the store opened, fit for a log line: the SQLite file's absolute path, or the
    /// PostgreSQL URL without its password.
    location: Arc<str>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(R2d2Pool<ConnectionManager<SqliteConnection>>),
    Postgres(R2d2Pool<ConnectionManager<PgConnection>>),
}

/// Runs `$body` with `$conn` bound to a pooled connection of the store's backend.
macro_rules! with_connection {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => {
                let mut guard = pool.get()?;
                let $conn: &mut SqliteConnection = &mut guard;
                $body
            }
            Pool::Postgres(pool) => {
                let mut guard = pool.get()?;
                let $conn: &mut PgConnection = &mut guard;
                $body
            }
        }
    };
}

/// Runs `$body` (returning `Result<_, Error>`) in a read-only transaction that sees one
/// snapshot of the database: on SQLite any read transaction does (WAL), on PostgreSQL only
/// `REPEATABLE READ` (under the default `READ COMMITTED`, each statement sees the commits
/// made before it, so two queries could disagree).
macro_rules! in_read_snapshot {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => pool.get()?.transaction(|$conn| $body),
            Pool::Postgres(pool) => {
                pool.get()?.build_transaction().read_only().repeatable_read().run(|$conn| $body)
            }
        }
    };
}

/// Runs `$body` (returning `Result<_, Error>`) in a write transaction; `Err` rolls back.
macro_rules! in_write_transaction {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => {
                let _writer =
                    $store.sqlite_writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                pool.get()?.immediate_transaction(|$conn| $body)
            }
            Pool::Postgres(pool) => pool.get()?.transaction(|$conn| $body),
        }
    };
}

#[macro_use]
mod revisions;
mod audit;
mod heal_runs;
mod locks;
mod rules;
mod slos;
mod targets;
pub use audit::{Deployment, DeploymentFilter, DeploymentHost, HostRecord};
pub use heal_runs::{HealRun, HealRunFilter, HealRunSpec};
pub use locks::{HOST_LOCK_TIMEOUT, HostLockGuard, Leadership};
pub use revisions::{Revision, RevisionChange, RevisionSummary};
pub use rules::{ImportOptions, Page, RuleFilter, RuleRevision, RuleSort, Snapshot};
pub use slos::{SloChange, SloImportOptions, SloRecord, SloReport, SloWrite, StoredSlo};
pub use targets::{Stored, TargetImportReport};

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`.
    ///
    /// A plain path or `sqlite://PATH` opens a SQLite file (WAL, foreign keys on, a busy
    /// timeout, durable commits); `postgres://…` or `postgresql://…` connects to PostgreSQL.
    pub fn open(url: &str) -> Result<Store, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            open_postgres(url)
        } else if is_keyword_string(url) {
            Err(Error::KeywordString)
        } else if let Some(path) = sqlite_path(url) {
            open_sqlite(path)
        } else {
            Err(Error::UnsupportedUrl(redact(url)))
        }
    }

    /// Like [`Store::open`], but a SQLite file must exist already: for readers such as the
    /// target export, for which a mistyped path would otherwise become a new, empty
    /// database (and an empty file written over a good one).
    pub fn open_existing(url: &str) -> Result<Store, Error> {
        if let Some(path) = sqlite_path(url)
            && path != ":memory:"
            && !std::path::Path::new(path).exists()
        {
            return Err(Error::Missing(format!("the SQLite database `{path}` does not exist")));
        }
        Store::open(url)
    }

    /// The same store, recording its writes' revisions as by `actor` (a token's name,
    /// `cli:<user>`); a store opened without one writes as `unknown`.
    pub fn acting_as(&self, actor: impl Into<String>) -> Store {
        Store { actor: Arc::from(actor.into()), ..self.clone() }
    }

    /// Who this handle's writes are by.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// What this store opened: the SQLite file's absolute path (`:memory:` as is) or the
    /// PostgreSQL URL with its password redacted; fit for a log line.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers a trivial query.
    pub fn ping(&self) -> Result<(), Error> {
        with_connection!(self, conn => {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
    }
}

/// A race between two writers can slip past `ensure_group_name_free!`; the UNIQUE
/// constraint then catches it, and the client still gets a conflict, not a 500.
fn unique_to_conflict(error: diesel::result::Error, name: &str) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("a group named `{name}` already exists"))
        }
        other => Error::Query(other),
    }
}

/// The result of deleting `entity` `id`, from the number of rows its DELETE removed.
fn deleted(rows: usize, entity: &'static str, id: i64) -> Result<(), Error> {
    if rows == 0 { Err(Error::NotFound { entity, id }) } else { Ok(()) }
}

/// The current time, truncated to microseconds: PostgreSQL keeps no more, and both
/// backends must give back what they were given.
fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// The SQLite file of `url` (a plain path, `sqlite://PATH` or `sqlite:PATH`), or `None`
/// when it names another backend or none.
fn sqlite_path(url: &str) -> Option<&str> {
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(path) => Some(path),
        None if url.contains("://") || url.is_empty() => None,
        None => Some(url),
    }
}

/// Sets the per-connection SQLite settings on every pooled connection.
#[derive(Debug)]
struct SqliteSettings;

/// Wait up to 10 s for another writer; enforce foreign keys; fsync every commit (durable
/// writes, which the benchmarks measure).
const SQLITE_CONNECTION_SETTINGS: &str =
    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSettings {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_CONNECTION_SETTINGS).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Names a lock connection after this process, for whoever waits for its lock.
#[derive(Debug)]
struct NamedForLocks;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for NamedForLocks {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        diesel::sql_query("SELECT set_config('application_name', $1, false)")
            .bind::<diesel::sql_types::Text, _>(locks::application_name())
            .execute(conn)
            .map(drop)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

fn open_sqlite(path: &str) -> Result<Store, Error> {
    let backend = Backend::Sqlite;
    let connect_error = |source: diesel::ConnectionError| Error::Connect {
        backend,
        target: path.to_owned(),
        problem: source.to_string(),
    };
    let mut conn = SqliteConnection::establish(path).map_err(connect_error)?;
    // WAL lets readers proceed while one writer commits; it is a property of the file, so
    // setting it once here covers every pooled connection. The busy timeout comes first:
    // switching the journal mode takes a lock that a connection of another store closing
    // just now (its last close checkpoints the WAL) may still hold.
    conn.batch_execute(SQLITE_CONNECTION_SETTINGS)
        .and_then(|()| conn.batch_execute("PRAGMA journal_mode = WAL;"))
        .map_err(|error| {
            connect_error(diesel::ConnectionError::CouldntSetupConfiguration(error))
        })?;
    let migrate = |conn: &mut SqliteConnection| {
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map(drop)
            .map_err(|source| Error::Migrate { backend, source })
    };
    let pool =
        R2d2Pool::builder().min_idle(Some(1)).connection_customizer(Box::new(SqliteSettings));
    let pool = if path == ":memory:" {
        // An in-memory database lives as long as its one connection: a pool of one that is
        // never reaped keeps it whole, and it must be migrated through that connection.
        let pool = pool
            .max_size(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .build(ConnectionManager::new(path))?;
        migrate(&mut *pool.get()?)?;
        pool
    } else {
        migrate(&mut conn)?;
        pool.max_size(8).build(ConnectionManager::new(path))?
    };
    let location = std::fs::canonicalize(path)
        .map_or_else(|_| path.to_owned(), |absolute| absolute.display().to_string());
    Ok(Store {
        pool: Pool::Sqlite(pool),
        held: None,
        sqlite_writer: Arc::default(),
        actor: Arc::from("unknown"),
        location: Arc::from(location),
    })
}

/// How long a request waits for a pooled PostgreSQL connection.
const POSTGRES_CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

fn open_postgres(url: &str) -> Result<Store, Error> {
    let backend = Backend::Postgres;
    let mut conn = PgConnection::establish(url).map_err(|source| Error::Connect {
        backend,
        target: redact(url),
        problem: scrub(&source.to_string(), url),
    })?;
    // Several replicas may start at once; the advisory lock lets one migrate at a time.
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    let migrated = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    migrated.map_err(|source| Error::Migrate { backend, source })?;
    // A request waits at most 1.5 s for a connection, so that with the database down health
    // checks and requests answer 503 promptly instead of after r2d2's default 30 s.
    let pool = R2d2Pool::builder()
        .max_size(16)
        .min_idle(Some(1))
        .connection_timeout(POSTGRES_CHECKOUT_TIMEOUT)
        .build(ConnectionManager::new(url))?;
    let held = R2d2Pool::builder()
        .max_size(HELD_CONNECTIONS)
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_secs(10))
        .connection_customizer(Box::new(NamedForLocks))
        .build(ConnectionManager::new(url))?;
    Ok(Store {
        pool: Pool::Postgres(pool),
        held: Some(held),
        sqlite_writer: Arc::default(),
        actor: Arc::from("unknown"),
        location: Arc::from(redact(url)),
    })
}

/// Whether `url` is a libpq keyword/value string (`host=db user=app password=…`) rather than
/// a path: it has `KEY=` words, or names a password.
fn is_keyword_string(url: &str) -> bool {
    const KEYWORDS: [&str; 8] =
        ["host=", "hostaddr=", "port=", "dbname=", "user=", "password=", "sslmode=", "passfile="];
    !url.contains("://")
        && (url.contains("password=")
            || url.split_whitespace().any(|word| KEYWORDS.iter().any(|key| word.starts_with(key))))
}

/// The user info of a URL: between `://` and the last `@` before the query (a password may
/// hold `@`, `/`, `[` or anything else a careless operator types).
fn user_info(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let end = url[start..].find('?').map_or(url.len(), |i| start + i);
    let at = url[start..end].rfind('@')?;
    Some((start, &url[start..start + at]))
}

/// `url` with any password (in the user info or a `password=` parameter) replaced by `***`,
/// so that it can go into an error message or a log line. Works on malformed URLs too.
pub(crate) fn redact(url: &str) -> String {
    let mut url = url.to_owned();
    if let Some((start, info)) = user_info(&url)
        && let Some(colon) = info.find(':')
    {
        let range = start + colon + 1..start + info.len();
        url.replace_range(range, "***");
    }
    let mut from = 0;
    while let Some(start) = url[from..].find("password=").map(|i| from + i + "password=".len()) {
        let end = url[start..].find(['&', ' ']).map_or(url.len(), |i| start + i);
        url.replace_range(start..end, "***");
        from = start + 3;
    }
    url
}

/// The database's own message about `url` with the URL and its password taken out (libpq
/// quotes the URI, the token it could not decode, or the host it parsed out of a password).
fn scrub(message: &str, url: &str) -> String {
    let mut message = message.replace(url, &redact(url));
    let mut secrets: Vec<String> = Vec::new();
    if let Some((_, info)) = user_info(url)
        && let Some((_, password)) = info.split_once(':')
    {
        secrets.push(password.to_owned());
        secrets.extend(password.split(['@', ':', '/', '[', ']']).map(str::to_owned));
    }
    for part in url.split(['?', '&', ' ']) {
        if let Some(password) = part.strip_prefix("password=") {
            secrets.push(password.to_owned());
        }
    }
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    // Short fragments only where quoted, so that they do not eat ordinary words.
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        if secret.len() >= 3 {
            message = message.replace(secret.as_str(), "***");
        } else {
            message = message.replace(&format!("\"{secret}\""), "\"***\"");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn malformed_urls_and_database_messages_never_show_the_password() {
        // Each URL with the kind of message libpq gives for it.
        for (url, shown, libpq) in [
            (
                "postgres://app:s3%zzcret@db/rules",
                "postgres://app:***@db/rules",
                "invalid percent-encoded token: \"s3%zzcret\"",
            ),
            (
                "postgres://app:s3cret@[::1/rules",
                "postgres://app:***@[::1/rules",
                "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgres://app:s3cret@[::1/rules\"",
            ),
            (
                "postgres://app:s3@cret@db/rules",
                "postgres://app:***@db/rules",
                "could not translate host name \"cret@db\" to address",
            ),
            (
                "postgres://app:s3/cret@db/rules",
                "postgres://app:***@db/rules",
                "invalid port number: \"s3\"; URI \"postgres://app:s3/cret@db/rules\"",
            ),
            (
                "postgres://db/rules?user=a&password=s3cret&password=s3cret2",
                "postgres://db/rules?user=a&password=***&password=***",
                "password authentication failed (password \"s3cret2\")",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            let scrubbed = super::scrub(libpq, url);
            assert!(!scrubbed.contains("s3") && !scrubbed.contains("cret"), "{scrubbed}");
        }
        for keyword in ["host=db user=app password=s3cret", "dbname=rules", "./password=x.db"] {
            assert!(super::is_keyword_string(keyword), "{keyword}");
        }
        for path in ["rules.db", "/var/lib/promrules/rules.db", "sqlite://a b.db", "my host.db"] {
            assert!(!super::is_keyword_string(path), "{path}");
        }
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/rules"),
            "postgres://app:***@db:5432/rules"
        );
        assert_eq!(redact("postgres://app@db/rules"), "postgres://app@db/rules");
        assert_eq!(
            redact("postgres://db/rules?password=x&a=b"),
            "postgres://db/rules?password=***&a=b"
        );
    }
}
