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

    /// The database URL names no backend we support.
    #[error(
        "unsupported database url `{0}`: use a file path, `sqlite://PATH` or `postgres://USER@HOST/DB`"
    )]
    UnsupportedUrl(String),

    /// The first connection failed; the message is the database's own.
    #[error("cannot connect to the {backend} database `{target}`: {source}")]
    Connect {
        backend: Backend,
        /// The URL with any password replaced by `***`.
        target: String,
        #[source]
        source: diesel::ConnectionError,
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
