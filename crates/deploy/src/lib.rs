//! Deploys rendered Prometheus rule files to Prometheus hosts over SSH, safely.
//!
//! A [`Deployer`] takes rule-file bytes and [`Host`] descriptions (never database types):
//! it backs up the live file, uploads the new one atomically (temp file, fsync, `promtool`
//! when the host has it, posix-rename), reloads Prometheus, verifies that exactly the new
//! groups are loaded, and restores the previous file (and reloads again) when anything
//! fails. A host may also name a `file_sd` target file, kept the same way (no reload:
//! Prometheus re-reads it). [`Deployer::deploy_fleet`] does many hosts in parallel with bounded concurrency
//! and a per-host lock, and returns a [`HostReport`] per host.
//!
//! SSH is the system OpenSSH client (through the `openssh` crate, multiplexed), so keys,
//! agents, jump hosts and known_hosts behave as operators expect; host keys are checked
//! strictly unless a host is configured `accept-new`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use promrules_deploy::{DeployOptions, Deployer, Inventory};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let inventory = Inventory::load("inventory.yml".as_ref())?;
//! let deployer = Arc::new(Deployer::new(std::env::temp_dir()));
//! let content = b"groups: []\n".to_vec();
//! let targets = inventory.hosts.into_iter().map(|host| (host, content.clone())).collect();
//! let reports = deployer.deploy_fleet(targets, &DeployOptions::default(), 8, |_| {}).await;
//! assert!(reports.iter().all(|report| !report.outcome.is_failure()));
//! # Ok(()) }
//! ```

pub use promrules_prometheus::Auth as PrometheusAuth;

pub use crate::error::{FileKind, InventoryError, SshStep, StepError};
pub use crate::fleet::{DeployOptions, Deployer, Files, HostLock};
pub use crate::host::{Host, HostKeyPolicy, HostProblem, Inventory, ReloadMethod, RemotePromtool};
pub use crate::report::{DiffSummary, HostReport, Outcome};

mod check;
mod compat;
mod error;
mod fleet;
mod host;
mod memo;
mod pool;
mod protocol;
mod remote;
mod report;
mod targets;
