//! The model's error type.

use crate::backend::Backend;
use crate::validate::ValidationErrors;

/// Everything that can go wrong validating, storing or loading rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more validation rules; nothing was written.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),

    /// No row with this id.
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: i64 },

    /// Something other than a row by id is missing (a host of a farm); the message says what.
    #[error("{0}")]
    Missing(String),

    /// The write would break a uniqueness or reference rule; nothing was written.
    #[error("{0}")]
    Conflict(String),

    /// The database URL names no backend we support (any password in it is `***`).
    #[error(
        "unsupported database url `{0}`: use a file path, `sqlite://PATH` or `postgres://USER@HOST/DB`"
    )]
    UnsupportedUrl(String),

    /// A PostgreSQL keyword/value string (`host=… password=…`), which must not be taken for a
    /// SQLite file name; the string is not repeated, it may hold a password.
    #[error(
        "the database setting looks like a PostgreSQL keyword/value string (`host=… dbname=…`): \
         write it as a `postgres://USER:PASSWORD@HOST:PORT/DB` URL (the string is not shown, \
         it may hold a password)"
    )]
    KeywordString,

    /// The first connection failed; the problem is the database's own message, with the
    /// URL and any password in it replaced by `***`.
    #[error("cannot connect to the {backend} database `{target}`: {problem}")]
    Connect {
        backend: Backend,
        /// The URL with any password replaced by `***`.
        target: String,
        problem: String,
    },

    /// Applying the embedded migrations failed.
    #[error("migrating the {backend} database failed: {source}")]
    Migrate {
        backend: Backend,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A stored value could not be read back (for example labels that are not a JSON object).
    #[error("stored {entity} {id} is corrupt: {problem}")]
    Corrupt { entity: &'static str, id: i64, problem: String },

    /// No connection could be taken from the pool in time.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),

    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}
