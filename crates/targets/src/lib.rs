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
//! The rest is the machinery of `promrules-export`: an [`Export`] reads the model from the
//! database or a promrules server ([`Source`]), writes the targets or rule file only when
//! it changed (a rule file checked by `promtool` first), reloads a [`Prometheus`] and proves
//! the reload through its metrics, and puts the previous rule file back when the reload
//! fails. [`reload_on_change`] is the sidecar mode: reload when a watched directory's
//! visible content changes.
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

pub use crate::error::ExportError;
pub use crate::export::{Export, Outcome, Server, Source, What, find_promtool};
pub use crate::import::{ImportError, Imported, from_file_sd};
pub use crate::on_change::{content_digest, reload_on_change, watched_dir};
pub use crate::prometheus::{Prometheus, PrometheusAuth};
pub use crate::render::{Filter, TargetGroup, file_sd, to_json};
pub use crate::write::{WriteError, Written, write_atomically, write_checked};

mod error;
mod export;
mod import;
mod on_change;
mod prometheus;
mod render;
mod write;
