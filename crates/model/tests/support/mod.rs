//! A fresh database per test: a SQLite file in a temp dir, or a new database on the test
//! binary's shared PostgreSQL server.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use promrules_model::{Backend, Store};
use test_support::Postgres;

pub(crate) struct TestDb {
    pub(crate) store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("rules.db").to_str().unwrap().to_owned();
        TestDb { store: Store::open(&url).unwrap(), url, _dir: Some(dir) }
    }

    pub(crate) fn postgres() -> TestDb {
        let url = Postgres::shared().fresh_database();
        TestDb { store: Store::open(&url).unwrap(), url, _dir: None }
    }

    /// A second handle on the same database, as another process (a replica, the `deploy`
    /// command) would open it.
    pub(crate) fn another_process(&self) -> Store {
        Store::open(&self.url).unwrap()
    }

    /// Runs SQL outside the store, as another program (the original pipeline) would.
    pub(crate) fn execute_raw(&self, sql: &str) {
        match self.store.backend() {
            Backend::Sqlite => {
                SqliteConnection::establish(&self.url).unwrap().batch_execute(sql).unwrap()
            }
            Backend::Postgres => {
                PgConnection::establish(&self.url).unwrap().batch_execute(sql).unwrap()
            }
        }
    }
}
