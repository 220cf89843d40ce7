//! The one Prometheus HTTP client of promrules.
//!
//! Everything promrules asks a Prometheus server goes through [`Prometheus`]: the lifecycle
//! reload and the proof that it worked (the reload metrics, parsed in one place by
//! [`ReloadState::parse`]), the loaded `rule_files` patterns and whether they cover a path
//! ([`rule_files_cover`], with Go's `filepath.Glob` semantics), the rule groups loaded from
//! one file, the build info (the server's version), and instant queries with a bound on the
//! answer's size. Requests carry bearer or basic credentials ([`Auth`]) and may trust a
//! private CA. Credentials never appear in a `Debug` output, an error or a log line.
//! [`check_rules`] and [`test_rules`] run Prometheus's own `promtool` on rule files.
//!
//! The client is blocking (ureq): async callers run it on their blocking pool.
//!
//! # Example
//!
//! ```no_run
//! use promrules_prometheus::{Auth, Prometheus};
//!
//! let prometheus = Prometheus::new("http://127.0.0.1:9090/-/reload")
//!     .with_auth(Auth::Bearer { bearer_token: "s3cret".into() });
//! assert_eq!(prometheus.url(), "http://127.0.0.1:9090");
//! assert!(!format!("{prometheus:?}").contains("s3cret"));
//! prometheus.reload()?; // POST /-/reload, then the metrics must show this reload
//! let version = prometheus.build_info()?.version;
//! # Ok::<(), promrules_prometheus::PrometheusError>(())
//! ```

pub use crate::auth::Auth;
pub use crate::client::{
    BuildInfo, InstantQuery, Prometheus, ReloadState, Reloaded, Series, agent, rule_files_cover,
};
pub use crate::error::PrometheusError;
pub use crate::promtool::{TestVerdict, check_rules, find_promtool, promtool_version, test_rules};

mod auth;
mod client;
mod error;
mod promtool;
