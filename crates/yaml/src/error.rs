//! The generator's error type: every variant names the file, and where it can, the group
//! and rule, counted from 1 as people count.

use std::path::PathBuf;

/// A rule file that could not be read or is not a valid Prometheus rule file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read rule file `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Not YAML, or not shaped like a rule file; `message` holds the path and line.
    #[error("`{file}` is not a valid rule file: {message}")]
    Syntax { file: String, message: String },

    /// A group that breaks Prometheus's rules (for example a duplicate name).
    #[error("`{file}`, group {group} (`{name}`): {problem}")]
    Group { file: String, group: usize, name: String, problem: String },

    /// A rule that breaks Prometheus's or promrules' rules.
    #[error("`{file}`, group {group} (`{group_name}`), rule {rule} (`{rule_name}`): {problem}")]
    Rule {
        file: String,
        group: usize,
        group_name: String,
        rule: usize,
        rule_name: String,
        problem: String,
    },
}
