//! Lint: what is valid but probably not what the author meant. Warnings, never errors: a
//! write that lints still succeeds, and its response (and `promrules-server lint`) says
//! what looks wrong.
//!
//! - `duplicate`: two rules of one group with the same name and the same labels (Prometheus
//!   evaluates both; alerts would collide in Alertmanager);
//! - `recording-name`: a recording rule whose name is not `level:metric:operations`
//!   (Prometheus's naming practice: three non-empty parts split by colons);
//! - `no-summary`: an alert without a `summary` annotation (notifications show nothing);
//! - `for-below-interval`: a `for` shorter than the group's evaluation interval, which
//!   then acts as the interval (the alert fires at the first evaluation that sees it).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::rule::{Group, Rule, RuleKind};
use crate::validate::parse_duration;

/// One warning about one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintWarning {
    pub rule_id: i64,
    /// The rule's rendered name.
    pub rule: String,
    /// The group it renders in.
    pub group: String,
    /// `duplicate`, `recording-name`, `no-summary` or `for-below-interval`.
    pub code: &'static str,
    pub message: String,
}

/// Every warning about `rules` (in `groups`), by rule id then code.
pub fn lint(rules: &[Rule], groups: &[Group]) -> Vec<LintWarning> {
    let by_id: HashMap<i64, &Group> = groups.iter().map(|group| (group.id, group)).collect();
    let group_name = |rule: &Rule| match rule.spec.group_id {
        Some(id) => by_id.get(&id).map_or_else(|| format!("group-{id}"), |g| g.spec.name.clone()),
        None => "default".to_owned(),
    };
    let mut warnings = Vec::new();
    let mut seen: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for rule in rules {
        let spec = &rule.spec;
        let (name, group) = (rule.display_name().into_owned(), group_name(rule));
        let mut warn = |code, message: String| {
            warnings.push(LintWarning {
                rule_id: rule.id,
                rule: name.clone(),
                group: group.clone(),
                code,
                message,
            });
        };
        let labels = serde_json::to_string(&(&spec.labels, &spec.severity)).unwrap_or_default();
        match seen.get(&(group.clone(), name.clone(), labels.clone())) {
            Some(first) => warn(
                "duplicate",
                format!("rule {first} in group `{group}` has the same name and labels"),
            ),
            None => {
                seen.insert((group.clone(), name.clone(), labels), rule.id);
            }
        }
        match spec.kind {
            RuleKind::Record => {
                let parts: Vec<&str> = name.split(':').collect();
                if parts.len() < 3 || parts.iter().any(|part| part.is_empty()) {
                    warn(
                        "recording-name",
                        format!("`{name}` is not in the `level:metric:operations` form"),
                    );
                }
            }
            RuleKind::Alert => {
                if spec.summary.trim().is_empty() {
                    warn("no-summary", "the alert has no `summary` annotation".to_owned());
                }
                let interval = spec
                    .group_id
                    .and_then(|id| by_id.get(&id))
                    .and_then(|g| g.spec.interval.as_deref());
                if let (Some(for_text), Some(interval_text)) = (&spec.for_duration, interval)
                    && let (Ok(duration), Ok(interval)) =
                        (parse_duration(for_text), parse_duration(interval_text))
                    && !duration.is_zero()
                    && duration < interval
                {
                    warn(
                        "for-below-interval",
                        format!(
                            "`for: {for_text}` is shorter than the group's interval ({interval_text}), so it acts as {interval_text}"
                        ),
                    );
                }
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{GroupSpec, RuleSpec};

    fn rule(id: i64, spec: RuleSpec) -> Rule {
        Rule { id, spec, created_at: Utc::now(), updated_at: Utc::now() }
    }

    #[test]
    fn each_warning_and_its_absence() {
        let group = Group {
            id: 1,
            spec: GroupSpec {
                name: "node".into(),
                interval: Some("1m".into()),
                ..GroupSpec::default()
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let alert = |name: &str| RuleSpec {
            name: Some(name.into()),
            summary: "s".into(),
            group_id: Some(1),
            ..RuleSpec::alert("up == 0")
        };
        let rules = [
            rule(1, alert("Down")),
            rule(2, alert("Down")),
            rule(3, RuleSpec { severity: "critical".into(), ..alert("Down") }),
            rule(4, RuleSpec { summary: String::new(), ..alert("Quiet") }),
            rule(5, RuleSpec { for_duration: Some("30s".into()), ..alert("Quick") }),
            rule(6, RuleSpec { for_duration: Some("5m".into()), ..alert("Patient") }),
            rule(7, RuleSpec::record("job_up", "sum(up)")),
            rule(8, RuleSpec::record("job:up:sum", "sum(up)")),
        ];
        let found: Vec<(i64, &str)> =
            lint(&rules, &[group]).iter().map(|w| (w.rule_id, w.code)).collect();
        assert_eq!(
            found,
            [(2, "duplicate"), (4, "no-summary"), (5, "for-below-interval"), (7, "recording-name")],
            "a warning/critical pair (different severity) is no duplicate"
        );
    }
}
