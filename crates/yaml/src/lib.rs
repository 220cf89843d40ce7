//! Prometheus rule files from promrules rules, and back.
//!
//! Rendering is a pure function from stored rules and groups to the text of a rule file.
//! It goes through a [`RuleFile`], the file's view of the data: groups ordered by name
//! (a rule whose group has no row goes to `group-<id>`, one with no group to `default`),
//! rules ordered by id, each with its rendered name (`Alert_<id>` for an unnamed alert).
//!
//! The output is byte-stable: the same input gives the same bytes, keys come in a fixed
//! order, the file ends with a newline, and an empty selection is `groups: []`. Scalars are
//! quoted whenever a YAML 1.1 or 1.2 reader could take them for anything but a string
//! (`on`, `no`, `0755`, `1e3`, …), and multi-line text becomes a literal block.
//! [`parse`] reads any Prometheus rule file back into a [`RuleFile`], and
//! `parse(render(file)) == file`.
//!
//! # Example
//!
//! ```
//! use promrules_model::{GroupSpec, GroupedRules, RuleSpec};
//! use promrules_yaml::{HealLabel, RuleFile, parse};
//!
//! let file = RuleFile { groups: vec![GroupedRules {
//!     group: GroupSpec::named("node"),
//!     rules: vec![RuleSpec { name: Some("InstanceDown".into()), for_duration: Some("5m".into()),
//!         ..RuleSpec::alert("up == 0") }],
//! }]};
//! let text = file.render(&HealLabel::default());
//! assert_eq!(text, "\
//! groups:
//! - name: node
//!   rules:
//!   - alert: InstanceDown
//!     expr: up == 0
//!     for: 5m
//!     labels:
//!       severity: warning
//! ");
//! assert_eq!(parse(&text, "node.yml", &HealLabel::default())?, file);
//! # Ok::<(), promrules_yaml::Error>(())
//! ```

pub use crate::error::Error;
pub use crate::parse::{parse, parse_file};
pub use crate::render::{HealLabel, RenderOptions, RuleFile, Selection, render};

mod emit;
mod error;
mod parse;
mod render;
