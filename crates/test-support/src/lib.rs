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
pub use crate::fleet::{SimHost, client_key};
pub use crate::postgres::Postgres;
pub use crate::process::{Service, free_port, wait_for_port};
pub use crate::promtool::{assert_promtool_accepts, promtool, promtool_check_rules};
pub use crate::tls::Certificates;

mod alertmanager;
mod fleet;
mod postgres;
mod process;
mod promtool;
mod tls;
