//! Rules and rule groups: what promrules stores, validates and renders.
//!
//! Each entity comes as a pair, in diesel's read/write habit: the writable `*Spec` (what a
//! client sends, what validation checks) and the stored value with its id and timestamps.
//! `*Patch` types carry partial updates; `Option<Option<T>>` tells "leave alone" (`None`)
//! from "set to null" (`Some(None)`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Whether a rule alerts or records a new series.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// `alert:` rules, the default (the original pipeline only had these).
    #[default]
    Alert,
    /// `record:` rules.
    Record,
}

impl RuleKind {
    /// The word used in the database, the API and the rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Alert => "alert",
            RuleKind::Record => "record",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "alert" => Ok(RuleKind::Alert),
            "record" => Ok(RuleKind::Record),
            other => Err(format!("unknown rule kind `{other}` (expected `alert` or `record`)")),
        }
    }
}

/// The writable fields of a rule: what a client sends and what validation checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `alert` (default) or `record`.
    #[serde(default)]
    pub kind: RuleKind,
    /// The alert name or the recorded metric name. Alert rules may leave it out; they are
    /// then rendered as `Alert_<id>`, the original pipeline's convention.
    #[serde(default)]
    pub name: Option<String>,
    /// PromQL, kept exactly as written.
    pub expression: String,
    /// The `for:` duration of an alert rule; `None` renders no `for:`.
    #[serde(default, rename = "for")]
    pub for_duration: Option<String>,
    /// How long an alert keeps firing after its condition cleared (`keep_firing_for:`,
    /// alert rules only, Prometheus 2.42 and later); `None` renders none.
    #[serde(default)]
    pub keep_firing_for: Option<String>,
    /// The `severity` label of an alert rule (`warning` when a new rule leaves it out);
    /// empty renders no `severity` label.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The `summary` annotation of an alert rule; empty means none.
    #[serde(default)]
    pub summary: String,
    /// The `description` annotation of an alert rule; empty means none.
    #[serde(default)]
    pub description: String,
    /// The datasource (shard of Prometheus servers) this rule is for; `None` means every one.
    #[serde(default)]
    pub datasource_id: Option<i64>,
    /// The group this rule is rendered in; `None` renders into the group `default`.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Alerts of heal-enabled rules are routed to the Alertmanager executor.
    #[serde(default)]
    pub heal_enabled: bool,
    /// Disabled rules are kept but not rendered.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Extra labels, besides `severity`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations, besides `summary` and `description`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The severity of a rule when none is given, as in the original schema.
pub const DEFAULT_SEVERITY: &str = "warning";

fn default_severity() -> String {
    DEFAULT_SEVERITY.to_owned()
}

fn default_true() -> bool {
    true
}

impl RuleSpec {
    /// An enabled alert rule with the given expression and every other field at its default.
    pub fn alert(expression: impl Into<String>) -> RuleSpec {
        RuleSpec {
            kind: RuleKind::Alert,
            name: None,
            expression: expression.into(),
            for_duration: None,
            keep_firing_for: None,
            severity: default_severity(),
            summary: String::new(),
            description: String::new(),
            datasource_id: None,
            group_id: None,
            heal_enabled: false,
            enabled: true,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// An enabled recording rule.
    pub fn record(name: impl Into<String>, expression: impl Into<String>) -> RuleSpec {
        RuleSpec { kind: RuleKind::Record, name: Some(name.into()), ..RuleSpec::alert(expression) }
    }
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: i64,
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rule {
    /// The name the rule is rendered with: its own, or `Alert_<id>` for an unnamed alert.
    pub fn display_name(&self) -> Cow<'_, str> {
        match &self.spec.name {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("Alert_{}", self.id)),
        }
    }
}

/// A partial update of a rule; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    pub kind: Option<RuleKind>,
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    pub expression: Option<String>,
    #[serde(default, rename = "for", deserialize_with = "present")]
    pub for_duration: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub keep_firing_for: Option<Option<String>>,
    pub severity: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub datasource_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub group_id: Option<Option<i64>>,
    pub heal_enabled: Option<bool>,
    pub enabled: Option<bool>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl RulePatch {
    /// Applies the present fields to `spec`.
    pub fn apply(self, spec: &mut RuleSpec) {
        fn set<T>(target: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *target = value;
            }
        }
        set(&mut spec.kind, self.kind);
        set(&mut spec.name, self.name);
        set(&mut spec.expression, self.expression);
        set(&mut spec.for_duration, self.for_duration);
        set(&mut spec.keep_firing_for, self.keep_firing_for);
        set(&mut spec.severity, self.severity);
        set(&mut spec.summary, self.summary);
        set(&mut spec.description, self.description);
        set(&mut spec.datasource_id, self.datasource_id);
        set(&mut spec.group_id, self.group_id);
        set(&mut spec.heal_enabled, self.heal_enabled);
        set(&mut spec.enabled, self.enabled);
        set(&mut spec.labels, self.labels);
        set(&mut spec.annotations, self.annotations);
    }
}

/// The writable fields of a rule group: every field of a Prometheus rule group but its
/// rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Unique; the `name:` of the Prometheus rule group.
    pub name: String,
    /// The group's evaluation `interval:`; `None` uses Prometheus's global one.
    #[serde(default)]
    pub interval: Option<String>,
    /// `limit:` the most alerts or series the group's rules may produce per evaluation
    /// (Prometheus 2.31 and later); `None` or 0 means no limit.
    #[serde(default)]
    pub limit: Option<i64>,
    /// `query_offset:` how far back in time the group's queries evaluate (Prometheus 2.53
    /// and later); `None` uses the global `rule_query_offset`.
    #[serde(default)]
    pub query_offset: Option<String>,
    /// `labels:` added to every rule of the group, the rule's own labels winning (Prometheus
    /// 3.0 and later).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl GroupSpec {
    /// A group with this name and every other field unset.
    pub fn named(name: impl Into<String>) -> GroupSpec {
        GroupSpec { name: name.into(), ..GroupSpec::default() }
    }
}

/// A stored rule group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub id: i64,
    #[serde(flatten)]
    pub spec: GroupSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub interval: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub query_offset: Option<Option<String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

impl GroupPatch {
    /// Applies the present fields to `spec`.
    pub fn apply(self, spec: &mut GroupSpec) {
        if let Some(name) = self.name {
            spec.name = name;
        }
        if let Some(interval) = self.interval {
            spec.interval = interval;
        }
        if let Some(limit) = self.limit {
            spec.limit = limit;
        }
        if let Some(query_offset) = self.query_offset {
            spec.query_offset = query_offset;
        }
        if let Some(labels) = self.labels {
            spec.labels = labels;
        }
    }
}

/// Rules as they stand in a rule file: a group (its name and fields) and its rules, in
/// order. The generator renders these, the parser reads them back, and
/// [`Store::import`](crate::Store::import) upserts them.
///
/// Rules here carry their rendered name (`Alert_<id>` for an unnamed alert) and no id,
/// datasource or group: a file does not say those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupedRules {
    pub group: GroupSpec,
    pub rules: Vec<RuleSpec>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Rules deleted by a pruning import.
    pub deleted: usize,
    pub groups_created: usize,
    /// Groups whose own fields (interval, limit, query_offset, labels) the file changed.
    pub groups_updated: usize,
    /// Groups removed with all their rules (an SLO that no longer generates them).
    pub groups_deleted: usize,
    /// The revision the import recorded (`None` for a dry run, which records nothing).
    pub revision: Option<i64>,
    /// Each rule created, updated or deleted, in file order (deletions after each group).
    pub changes: Vec<ImportChange>,
    /// Each existing group the file changed, with the fields that changed.
    pub group_changes: Vec<GroupChange>,
}

/// An existing group whose fields an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChange {
    pub group: String,
    pub id: i64,
    /// `interval`, `limit`, `query_offset`, `labels`: those that changed.
    pub fields: Vec<&'static str>,
}

/// One rule an import created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportChange {
    pub group: String,
    /// The rule's name as the file says it.
    pub rule: String,
    /// The stored rule's id (none for a rule a dry run would create).
    pub id: Option<i64>,
    pub action: ImportAction,
    /// For an update: the fields that changed, as clients name them.
    pub fields: Vec<&'static str>,
}

/// What an import did to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    Created,
    Updated,
    Deleted,
}

/// Deserializes a field that is present (possibly `null`) as `Some(value)`; with
/// `#[serde(default)]` an absent field stays `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let mut spec =
            RuleSpec { name: Some("A".into()), group_id: Some(3), ..RuleSpec::alert("up") };
        let patch: RulePatch =
            serde_json::from_str(r#"{"group_id": null, "severity": "page"}"#).unwrap();
        patch.apply(&mut spec);
        assert_eq!(spec.group_id, None);
        assert_eq!(spec.name.as_deref(), Some("A"));
        assert_eq!(spec.severity, "page");
    }

    #[test]
    fn unnamed_alert_displays_as_alert_id() {
        let now = Utc::now();
        let rule =
            Rule { id: 42, spec: RuleSpec::alert("up == 0"), created_at: now, updated_at: now };
        assert_eq!(rule.display_name(), "Alert_42");
    }
}
