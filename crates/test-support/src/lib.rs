//! Real services for tests: each fixture starts the real program (from its Debian package)
//! as a child process on a free loopback port, with its own temporary directory, and stops
//! it when dropped.
//!
//! Fixtures are expensive, so a test binary usually starts one and shares it through a
//! `static` (see [`Postgres::shared`]). Statics are never dropped, so every service runs
//! under a small supervisor shell that also stops it, and removes its directory, when the
//! pipe from the test process closes: the test process cannot leave a server behind, even
//! when it panics or is killed.
//!
//! A missing program is a panic with the package to install, never a skip: the project's
//! test script installs them, and CI must fail loudly when it did not.

pub use crate::alertmanager::Alertmanager;
pub use crate::eventually::{Settled, eventually};
pub use crate::fleet::{DIR, SELF, SimHost, client_key};
pub use crate::postgres::Postgres;
pub use crate::process::{Service, free_port, wait_for_port};
pub use crate::promtool::{assert_promtool_accepts, promtool, promtool_check_rules};
pub use crate::tls::Certificates;

mod alertmanager;
mod eventually;
mod fleet;
mod postgres;
mod process;
mod promtool;
mod tls;

/// Declares each story as a test on a fresh SQLite database and on a fresh PostgreSQL
/// database: `on_both_backends!(TestDb: story_a, story_b)` calls `story_a(&TestDb::sqlite())`
/// and `story_a(&TestDb::postgres())`; with `async TestApp:`, each story is an async fn
/// taking the fixture by value, run as a `#[tokio::test]`. The fixture type must be in scope
/// of the calling module, as must the stories.
#[macro_export]
macro_rules! on_both_backends {
    ($fixture:ident: $($story:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $story() { super::$story(&super::$fixture::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $story() { super::$story(&super::$fixture::postgres()) } )*
        }
    };
    (async $fixture:ident: $($story:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $story() { super::$story(super::$fixture::sqlite()).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $story() { super::$story(super::$fixture::postgres()).await } )*
        }
    };
}
