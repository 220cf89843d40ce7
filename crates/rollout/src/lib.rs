//! The one deployment service of promrules: "deploy these hosts (or all), as a dry run,
//! with a diff or forced, on behalf of ACTOR" becomes per-host reports and audit records.
//!
//! A [`Rollout`] owns the steps every deploy shares, whoever starts it (the REST API, the
//! `deploy` command, the background jobs): host selection (stored hosts or an inventory),
//! the audit record, one [`Store::rules_and_groups`] snapshot, rendering each host's file
//! from its datasources' rules, [`Deployer::deploy_fleet`] with per-host locks that hold
//! across replicas sharing PostgreSQL, each host's result recorded as it completes, and the
//! summary. [`report_table`] is the terminal report; [`Rollout::spawn_auto_deploy`] and
//! [`Rollout::spawn_drift_check`] are the optional background jobs.
//!
//! # Example
//!
//! ```no_run
//! use promrules_model::Store;
//! use promrules_rollout::{DeployRequest, Hosts, Rollout, report_table};
//!
//! # async fn run() -> Result<(), promrules_rollout::RolloutError> {
//! let rollout = Rollout::new(Store::open("promrules.db")?, std::env::temp_dir(), Default::default());
//! let request = DeployRequest { dry_run: true, ..DeployRequest::default() };
//! let deployed = rollout.deploy("cli:ops", Hosts::Stored, request, |_| {}).await?;
//! print!("{}", report_table(deployed.id, &deployed.reports, true));
//! # Ok(()) }
//! ```
//!
//! [`Store::rules_and_groups`]: promrules_model::Store::rules_and_groups
//! [`Deployer::deploy_fleet`]: promrules_deploy::Deployer::deploy_fleet

pub use promrules_deploy::RemotePromtool;

pub use crate::error::RolloutError;
pub use crate::metrics::DeployMetrics;
pub use crate::report::{report_table, summarize};
pub use crate::service::{DeployRequest, DeploySettings, Deployed, Hosts, Rollout, Started};

mod background;
mod error;
mod metrics;
mod report;
mod service;
