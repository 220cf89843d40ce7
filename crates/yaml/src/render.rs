//! From stored rules to the text of a rule file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use promrules_model::{DEFAULT_SEVERITY, Group, GroupSpec, GroupedRules, Rule, RuleKind, RuleSpec};

use crate::emit::scalar;

/// The label that routes a heal-enabled alert to the Alertmanager executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealLabel {
    pub name: String,
    pub value: String,
}

impl Default for HealLabel {
    /// `heal: "true"`.
    fn default() -> HealLabel {
        HealLabel { name: "heal".to_owned(), value: "true".to_owned() }
    }
}

impl std::str::FromStr for HealLabel {
    type Err = String;

    /// `NAME=VALUE`, as the command lines take it.
    fn from_str(text: &str) -> Result<HealLabel, String> {
        match text.split_once('=') {
            Some((name, value)) if !name.is_empty() && !value.is_empty() => {
                Ok(HealLabel { name: name.to_owned(), value: value.to_owned() })
            }
            _ => Err(format!("`{text}` is not NAME=VALUE")),
        }
    }
}

/// Which stored rules go into a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these datasources' rules, plus the rules that name no datasource; empty means
    /// every rule.
    pub datasources: Vec<i64>,
    /// Disabled rules too (by default only enabled ones).
    pub include_disabled: bool,
    /// Only heal-enabled rules, as the original pipeline emitted.
    pub heal_only: bool,
}

impl Selection {
    /// Whether `rule` belongs in the file.
    pub fn includes(&self, rule: &Rule) -> bool {
        let spec = &rule.spec;
        (self.include_disabled || spec.enabled)
            && (!self.heal_only || spec.heal_enabled)
            && (self.datasources.is_empty()
                || spec.datasource_id.is_none_or(|own| self.datasources.contains(&own)))
    }
}

/// Everything [`render`] needs besides the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub selection: Selection,
    pub heal_label: HealLabel,
}

/// A rule file's view of rules: named groups in file order, rules with their rendered names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFile {
    pub groups: Vec<GroupedRules>,
}

/// The group of rules with no group.
const DEFAULT_GROUP: &str = "default";

/// Renders the selected `rules` into the text of a Prometheus rule file.
///
/// `groups` names the rules' groups; see the crate documentation for the ordering and the
/// names of groups without a row.
pub fn render(rules: &[Rule], groups: &[Group], options: &RenderOptions) -> String {
    let grouped = group_rules(rules, groups, &options.selection);
    let capacity = rules.iter().map(|rule| estimated_size(&rule.spec)).sum();
    let mut out = String::with_capacity(capacity);
    write_file(
        &mut out,
        &options.heal_label,
        grouped.iter().map(|(name, (group, rules))| {
            (Header::of(name, *group), rules.iter().map(|rule| (rule.display_name(), &rule.spec)))
        }),
    );
    out
}

impl RuleFile {
    /// The file view of the selected `rules`: what [`render`] writes and [`crate::parse`]
    /// gives back.
    pub fn select(rules: &[Rule], groups: &[Group], selection: &Selection) -> RuleFile {
        let groups = group_rules(rules, groups, selection)
            .into_iter()
            .map(|(name, (group, rules))| GroupedRules {
                group: GroupSpec { name: name.into_owned(), ..group.cloned().unwrap_or_default() },
                rules: rules
                    .iter()
                    .map(|rule| file_view(rule.display_name().into_owned(), &rule.spec))
                    .collect(),
            })
            .collect();
        RuleFile { groups }
    }

    /// The text of this file.
    pub fn render(&self, heal_label: &HealLabel) -> String {
        let mut out = String::with_capacity(
            self.groups.iter().flat_map(|g| &g.rules).map(estimated_size).sum(),
        );
        write_file(
            &mut out,
            heal_label,
            self.groups.iter().map(|group| {
                let rules = group
                    .rules
                    .iter()
                    .map(|spec| (Cow::Borrowed(spec.name.as_deref().unwrap_or_default()), spec));
                (Header::of(&group.group.name, Some(&group.group)), rules)
            }),
        );
        out
    }
}

/// What a file can say about a rule: its name, and none of id, datasource, group or
/// enabled; no severity on a recording rule, no empty extra annotation.
pub(crate) fn file_view(name: String, spec: &RuleSpec) -> RuleSpec {
    let is_alert = spec.kind == RuleKind::Alert;
    RuleSpec {
        name: Some(name),
        severity: if is_alert { spec.severity.clone() } else { DEFAULT_SEVERITY.to_owned() },
        datasource_id: None,
        group_id: None,
        enabled: true,
        annotations: spec
            .annotations
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..spec.clone()
    }
}

/// Rules by the name of the group they render in, with that group's fields when it is
/// stored (a `group-<id>` with no row behind it, and `default`, have none).
type Grouped<'a> = BTreeMap<Cow<'a, str>, (Option<&'a GroupSpec>, Vec<&'a Rule>)>;

/// What a group's entry says before and after its rules.
struct Header<'a> {
    name: &'a str,
    interval: Option<&'a str>,
    query_offset: Option<&'a str>,
    limit: Option<i64>,
    labels: Vec<(&'a str, &'a str)>,
}

impl<'a> Header<'a> {
    fn of(name: &'a str, group: Option<&'a GroupSpec>) -> Header<'a> {
        Header {
            name,
            interval: group.and_then(|g| g.interval.as_deref()),
            query_offset: group.and_then(|g| g.query_offset.as_deref()),
            // 0 is Prometheus's "no limit", the same as none.
            limit: group.and_then(|g| g.limit).filter(|limit| *limit != 0),
            labels: group
                .map(|g| g.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                .unwrap_or_default(),
        }
    }
}

/// The selected rules by group name (sorted), each group's rules by id.
fn group_rules<'a>(rules: &'a [Rule], groups: &'a [Group], selection: &Selection) -> Grouped<'a> {
    let by_id: HashMap<i64, &Group> = groups.iter().map(|group| (group.id, group)).collect();
    let mut grouped: Grouped<'a> = BTreeMap::new();
    for rule in rules.iter().filter(|rule| selection.includes(rule)) {
        let (name, group) = match rule.spec.group_id.map(|id| (id, by_id.get(&id))) {
            Some((_, Some(group))) => (Cow::Borrowed(group.spec.name.as_str()), Some(&group.spec)),
            Some((id, None)) => (Cow::Owned(format!("group-{id}")), None),
            None => (Cow::Borrowed(DEFAULT_GROUP), None),
        };
        let entry = grouped.entry(name).or_default();
        // Names can collide (a group called `group-7` and rules of a missing group 7); the
        // rules then share one group, which keeps group names unique as Prometheus demands.
        entry.0 = entry.0.or(group);
        entry.1.push(rule);
    }
    for (_, rules) in grouped.values_mut() {
        rules.sort_by_key(|rule| rule.id);
    }
    grouped
}

fn estimated_size(spec: &RuleSpec) -> usize {
    let labels: usize =
        spec.labels.iter().chain(&spec.annotations).map(|(k, v)| k.len() + v.len() + 12).sum();
    120 + spec.expression.len() + spec.summary.len() + spec.description.len() + labels
}

fn write_file<'a, G, R>(out: &mut String, heal_label: &HealLabel, groups: G)
where
    G: Iterator<Item = (Header<'a>, R)>,
    R: Iterator<Item = (Cow<'a, str>, &'a RuleSpec)>,
{
    let mut groups = groups.peekable();
    if groups.peek().is_none() {
        out.push_str("groups: []\n");
        return;
    }
    out.push_str("groups:\n");
    // Prometheus's own key order (rulefmt.RuleGroup): name, interval, query_offset, limit,
    // rules, labels.
    for (header, rules) in groups {
        out.push_str("- name: ");
        scalar(out, header.name, 4);
        if let Some(interval) = header.interval {
            out.push_str("\n  interval: ");
            scalar(out, interval, 4);
        }
        if let Some(offset) = header.query_offset {
            out.push_str("\n  query_offset: ");
            scalar(out, offset, 4);
        }
        if let Some(limit) = header.limit {
            out.push_str("\n  limit: ");
            out.push_str(&limit.to_string());
        }
        out.push_str("\n  rules:\n");
        for (name, spec) in rules {
            write_rule(out, &name, spec, heal_label);
        }
        write_map(out, "  ", "labels", header.labels);
    }
}

fn write_rule(out: &mut String, name: &str, spec: &RuleSpec, heal_label: &HealLabel) {
    let is_alert = spec.kind == RuleKind::Alert;
    out.push_str(if is_alert { "  - alert: " } else { "  - record: " });
    scalar(out, name, 6);
    out.push_str("\n    expr: ");
    scalar(out, &spec.expression, 6);
    out.push('\n');
    if let Some(duration) = spec.for_duration.as_deref().filter(|_| is_alert) {
        out.push_str("    for: ");
        scalar(out, duration, 6);
        out.push('\n');
    }
    if let Some(duration) = spec.keep_firing_for.as_deref().filter(|_| is_alert) {
        out.push_str("    keep_firing_for: ");
        scalar(out, duration, 6);
        out.push('\n');
    }

    let mut labels: Vec<(&str, &str)> =
        spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if is_alert {
        if !spec.severity.is_empty() {
            labels.push(("severity", &spec.severity));
        }
        if spec.heal_enabled {
            // The routing label wins over an extra label of the same name, so a heal-enabled
            // alert always reaches the executor.
            labels.retain(|(name, _)| *name != heal_label.name);
            labels.push((&heal_label.name, &heal_label.value));
        }
    }
    write_map(out, "    ", "labels", labels);

    if is_alert {
        let mut annotations: Vec<(&str, &str)> =
            spec.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        annotations.push(("summary", &spec.summary));
        annotations.push(("description", &spec.description));
        annotations.retain(|(_, value)| !value.is_empty());
        write_map(out, "    ", "annotations", annotations);
    }
}

/// Writes `key:` and its entries sorted by name, or nothing when there are none.
/// `key:` at `indent`, then its entries sorted and indented two more.
fn write_map(out: &mut String, indent: &str, key: &str, mut entries: Vec<(&str, &str)>) {
    if entries.is_empty() {
        return;
    }
    entries.sort_unstable();
    let scalar_indent = indent.len() + 4;
    out.push_str(indent);
    out.push_str(key);
    out.push_str(":\n");
    for (name, value) in entries {
        out.push_str(indent);
        out.push_str("  ");
        scalar(out, name, scalar_indent);
        out.push_str(": ");
        scalar(out, value, scalar_indent);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heal_label_from_name_equals_value() {
        assert_eq!(
            "route=exec".parse(),
            Ok(HealLabel { name: "route".into(), value: "exec".into() })
        );
        assert!("route".parse::<HealLabel>().is_err());
        assert!("=exec".parse::<HealLabel>().is_err());
    }
}
