//! The rule model of promrules: rules and groups, their validation, and the SQL store.
//!
//! Rules and groups come as a writable spec ([`RuleSpec`], [`GroupSpec`]) and a stored value
//! with an id and timestamps ([`Rule`], [`Group`]). [`RuleSpec::validate`] is the one place
//! that decides what is a valid rule, and reports every bad field at once. A [`Store`],
//! opened from a URL, keeps them in SQLite (the default, an embedded file) or PostgreSQL
//! (for several server replicas sharing state); it validates before every write and writes
//! in transactions, so bad input never leaves a partial change behind.
//!
//! # Example
//!
//! ```
//! use promrules_model::{RuleSpec, Store};
//!
//! let store = Store::open(":memory:")?;
//! let spec = RuleSpec { name: Some("InstanceDown".into()), for_duration: Some("5m".into()),
//!     ..RuleSpec::alert("up == 0") };
//! let rule = store.create_rule(&spec)?;
//! assert_eq!(store.get_rule(rule.id)?.spec, spec);
//!
//! // Every bad field is named.
//! let bad = RuleSpec { for_duration: Some("5 minutes".into()), ..RuleSpec::alert("up ==") };
//! let errors = bad.validate().unwrap_err();
//! assert!(errors.fields().contains_key("expression") && errors.fields().contains_key("for"));
//! # Ok::<(), promrules_model::Error>(())
//! ```

pub use crate::backend::Backend;
pub use crate::error::Error;
pub use crate::lint::{LintWarning, lint};
pub use crate::rule::{
    DEFAULT_SEVERITY, Group, GroupChange, GroupPatch, GroupSpec, GroupedRules, ImportAction,
    ImportChange, ImportReport, Rule, RuleKind, RulePatch, RuleSpec,
};
pub use crate::store::{
    Deployment, DeploymentFilter, DeploymentHost, HOST_LOCK_TIMEOUT, HealRun, HealRunFilter,
    HealRunSpec, HostLockGuard, HostRecord, ImportOptions, Leadership, Page, Revision,
    RevisionChange, RevisionSummary, RuleFilter, RuleRevision, RuleSort, SloChange,
    SloImportOptions, SloRecord, SloReport, SloWrite, Snapshot, Store, Stored, StoredSlo,
    TargetImportReport,
};
pub use crate::targets::{
    Exporter, Farm, MAX_HOST_BYTES, MAX_PORT_RANGE, Project, Scheme, Service, Shard, TargetsModel,
    check_host, is_promgen_name,
};
pub use crate::validate::{
    DurationError, MAX_EXPRESSION_BYTES, MAX_NAME_BYTES, MAX_TEXT_BYTES, ValidationErrors,
    is_metric_name, parse_duration,
};

mod backend;
mod error;
mod lint;
mod rule;
pub mod schema;
mod store;
mod targets;
mod template;
mod validate;
