//! An Alertmanager webhook receiver that runs commands: a drop-in replacement for
//! prometheus-am-executor, with the same configuration file, command line, routes, metric
//! names and `AMX_*` environment, and the fixes listed in `docs/am-executor.md`.
//!
//! The pure parts are plain functions over the webhook [`Message`]: [`matches`] (does a
//! command run?), [`fingerprint`] (which alert tracks it?) and [`environment`] (its exact
//! `AMX_*` variables). The [`Executor`] is the one place that starts and signals commands;
//! [`router`] and [`serve`] put it behind HTTP.
//!
//! # Example
//!
//! ```
//! use promrules_executor::{Config, Message, environment};
//!
//! let (config, warnings) = Config::parse("commands:\n  - cmd: /usr/local/bin/heal\n    match_labels: {heal: 'true'}\n")?;
//! assert!(warnings.is_empty());
//! let message = Message::parse(br#"{"status": "firing", "receiver": "heal", "commonLabels": {"heal": "true"},
//!     "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "heal": "true"}}]}"#).unwrap();
//! assert!(promrules_executor::matches(&config.commands[0], &message));
//! let env = environment(&message);
//! assert!(env.contains(&("AMX_ALERT_1_LABEL_alertname".to_owned(), "DiskFull".to_owned())));
//! # Ok::<(), String>(())
//! ```

pub use crate::audit::{Audit, AuditRecord, ReportTo};
pub use crate::auth::{BasicAuthConfig, WebhookAuth, WebhookAuthConfig, exposure};
pub use crate::config::{CommandConfig, Config, RateLimit, ResolvedSignal};
pub use crate::error::{ConfigError, WebhookError};
pub use crate::metrics::Metrics;
pub use crate::runner::Executor;
pub use crate::server::{
    DEFAULT_BODY_LIMIT, HEALTH_TEXT, Listen, bind, parse_listen_address, router, serve, tls_files,
};
pub use crate::webhook::{
    Alert, Message, Status, environment, fingerprint, matches, notification_key,
};

mod audit;
mod auth;
mod config;
mod error;
mod go_json;
mod metrics;
mod runner;
mod server;
mod webhook;
