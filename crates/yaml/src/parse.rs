//! Reading a Prometheus rule file, ours or hand-written, back into a [`RuleFile`].
//!
//! The structure is read with serde_yaml (as serde_norway), which like Prometheus reads any
//! scalar into a string field as its text, so hand-written `heal: true` or `severity: 1`
//! work. Unknown keys are errors rather than silently dropped data. Every rule then goes
//! through the model's validation, and each error names the file, group and rule.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use promrules_model::{GroupSpec, GroupedRules, RuleKind, RuleSpec};
use serde::Deserialize;

use crate::error::Error;
use crate::render::{HealLabel, RuleFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    /// `groups:` with nothing after it is null, which Prometheus reads as no groups.
    #[serde(default)]
    groups: Option<Vec<GroupDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDoc {
    name: String,
    interval: Option<String>,
    query_offset: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    rules: Option<Vec<RuleDoc>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_duration: Option<String>,
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// Reads the rule file at `path`.
pub fn parse_file(path: &Path, heal_label: &HealLabel) -> Result<RuleFile, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Read { path: path.to_owned(), source })?;
    parse(&text, &path.display().to_string(), heal_label)
}

/// Reads the text of a rule file; `file` names it in errors.
///
/// The `severity` label of an alert becomes its severity (empty when absent), the heal
/// label with its value sets `heal_enabled`, and the `summary` and `description`
/// annotations become those fields.
pub fn parse(text: &str, file: &str, heal_label: &HealLabel) -> Result<RuleFile, Error> {
    // Prometheus loads an empty file, one of only comments, and `null` as no groups;
    // serde_yaml would call the first two a missing value.
    let has_content = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#') && line != "---" && line != "..."
    });
    if !has_content {
        return Ok(RuleFile::default());
    }
    let doc: Option<FileDoc> = serde_yaml::from_str(text)
        .map_err(|error| Error::Syntax { file: file.to_owned(), message: error.to_string() })?;
    let doc_groups = doc.and_then(|doc| doc.groups).unwrap_or_default();

    let mut seen = HashSet::new();
    let mut groups = Vec::with_capacity(doc_groups.len());
    for (index, group) in doc_groups.into_iter().enumerate() {
        let group_error = |problem: String| Error::Group {
            file: file.to_owned(),
            group: index + 1,
            name: group.name.clone(),
            problem,
        };
        if !seen.insert(group.name.clone()) {
            return Err(group_error("the group name is used twice in this file".to_owned()));
        }
        let spec = GroupSpec {
            name: group.name.clone(),
            interval: group.interval.clone(),
            limit: group.limit,
            query_offset: group.query_offset.clone(),
            labels: group.labels.clone().unwrap_or_default(),
        };
        spec.validate().map_err(|errors| group_error(errors.to_string()))?;

        let doc_rules = group.rules.unwrap_or_default();
        let mut rules = Vec::with_capacity(doc_rules.len());
        for (rule_index, doc) in doc_rules.into_iter().enumerate() {
            let rule_error = |rule_name: &str, problem: String| Error::Rule {
                file: file.to_owned(),
                group: index + 1,
                group_name: group.name.clone(),
                rule: rule_index + 1,
                rule_name: rule_name.to_owned(),
                problem,
            };
            let spec =
                rule_spec(doc, heal_label).map_err(|(name, problem)| rule_error(&name, problem))?;
            let name = spec.name.clone().unwrap_or_default();
            spec.validate().map_err(|errors| rule_error(&name, errors.to_string()))?;
            rules.push(spec);
        }
        groups.push(GroupedRules { group: spec, rules });
    }
    Ok(RuleFile { groups })
}

/// The rule's spec, or its name and what is wrong with it.
fn rule_spec(doc: RuleDoc, heal_label: &HealLabel) -> Result<RuleSpec, (String, String)> {
    let RuleDoc { alert, record, expr, for_duration, keep_firing_for, labels, annotations } = doc;
    let (mut labels, mut annotations) =
        (labels.unwrap_or_default(), annotations.unwrap_or_default());
    match (alert, record) {
        (Some(name), None) => {
            let heal_enabled = labels.get(&heal_label.name) == Some(&heal_label.value);
            if heal_enabled {
                labels.remove(&heal_label.name);
            }
            Ok(RuleSpec {
                kind: RuleKind::Alert,
                name: Some(name),
                expression: expr,
                for_duration,
                keep_firing_for,
                // No `severity` label stays none: adding one would change routing.
                severity: labels.remove("severity").unwrap_or_default(),
                summary: annotations.remove("summary").unwrap_or_default(),
                description: annotations.remove("description").unwrap_or_default(),
                heal_enabled,
                labels,
                annotations,
                ..RuleSpec::alert("")
            })
        }
        (None, Some(name)) => {
            if for_duration.is_some() {
                return Err((name, "`for` is only allowed on alert rules".to_owned()));
            }
            if keep_firing_for.is_some() {
                return Err((name, "`keep_firing_for` is only allowed on alert rules".to_owned()));
            }
            if !annotations.is_empty() {
                return Err((name, "`annotations` are only allowed on alert rules".to_owned()));
            }
            Ok(RuleSpec { labels, ..RuleSpec::record(name, expr) })
        }
        (Some(name), Some(_)) => {
            Err((name, "a rule has either `alert` or `record`, not both".to_owned()))
        }
        (None, None) => Err((String::new(), "a rule needs `alert` or `record`".to_owned())),
    }
}
