//! Prometheus `file_sd` target files from Promgen's model: a drop-in for Promgen's targets
//! export, with its defects fixed.
//!
//! [`file_sd`] is a pure function from projects, farms and exporters to target groups, one
//! per enabled exporter of a project with a farm, labelled like Promgen's (`__shard`,
//! `service`, `project`, `farm`, `__farm_source`, `job`, `__scheme__`, `__metrics_path__`),
//! plus what Promgen lacks: a query string in the path becomes `__param_<name>` labels
//! (Promgen wrote it into the path, which broke the target), extra exporter labels,
//! `__scrape_interval__` / `__scrape_timeout__`, one target per host and port for a port
//! range, filters by shard, service and project, and a deterministic order (shard, service,
//! project, job, port; hosts sorted). [`to_json`] gives the file's text (2-space indent, a
//! trailing newline) and [`write_atomically`] puts it in place without a torn read.
//!
//! [`from_file_sd`] is the inverse, for importing a Promgen export into the model.
//!
//! This crate is pure apart from the one atomic writer: the export application that
//! fetches, reloads and watches (`promrules-export-lib`) builds on it.
//!
//! # Example
//!
//! ```
//! use promrules_model::{Exporter, Farm, Project};
//! use promrules_targets::{Filter, TargetsModel, file_sd, to_json};
//!
//! let model = TargetsModel {
//!     projects: vec![Project::new("web", "shop", "eu").in_farm("web-hosts")],
//!     farms: vec![Farm::new("web-hosts", ["web02", "web01"])],
//!     exporters: vec![Exporter::new("web", "node", 9100)],
//! };
//! let groups = file_sd(&model, &Filter::default());
//! assert_eq!(groups[0].targets, ["web01:9100", "web02:9100"]);
//! assert_eq!(groups[0].labels["__shard"], "eu");
//! assert!(to_json(&groups).ends_with("]\n"));
//! ```

pub use promrules_model::TargetsModel;

pub use crate::import::{ImportError, Imported, from_file_sd};
pub use crate::render::{Filter, TargetGroup, check_file_sd, file_sd, to_json};
pub use crate::write::{WriteError, Written, write_atomically, write_checked};

mod import;
mod render;
mod write;
