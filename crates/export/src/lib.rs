//! The export application behind `promrules-export`: the local counterpart of the SSH
//! deployer, run on (or beside) each Prometheus host.
//!
//! An [`Export`] reads the target model or the rules from the database or a promrules
//! server ([`Source`], with `ETag` revalidation), writes the `file_sd` or rule file only when
//! it changed (through `promrules-targets`' atomic writer; a rule file checked by `promtool`
//! first), reloads Prometheus and proves the reload (through `promrules-prometheus`), and
//! puts the previous rule file back when the reload fails. [`reload_on_change`] is the
//! sidecar mode: reload when a watched directory's visible content changes.
//!
//! The pure halves live elsewhere: rendering and Promgen import in `promrules-targets`,
//! rule files in `promrules-yaml`; this crate is the part that touches files, processes and
//! the network.
//!
//! # Example
//!
//! ```no_run
//! use promrules_export::{Export, Reloads, Source, What};
//! use promrules_prometheus::Prometheus;
//! use promrules_targets::Filter;
//!
//! let store = promrules_model::Store::open_existing("promrules.db")?;
//! let mut export = Export::new(
//!     Source::Database(store),
//!     What::Targets(Filter { shard: Some("eu-1".into()), ..Filter::default() }),
//!     "/etc/prometheus/targets/promrules.json".into(),
//! );
//! export.reload = Reloads::one(Prometheus::new("http://127.0.0.1:9090"));
//! let outcome = export.run_once()?; // Unchanged, Written, Reloaded, …
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::error::ExportError;
pub use crate::export::{DEFAULT_MAX_SIZE, Export, Outcome, Server, Source, What};
pub use crate::metrics::ExportMetrics;
pub use crate::on_change::{content_digest, reload_on_change, watched_dir};
pub use crate::reloads::Reloads;
pub use promrules_prometheus::find_promtool;

mod error;
mod export;
mod metrics;
mod on_change;
mod reloads;
