//! Rendering generated SLO rules as the server does, and running `promtool test rules` on
//! them.

use std::collections::BTreeMap;

use promrules_model::GroupedRules;
use promrules_yaml::{HealLabel, RuleFile};

/// The rule file of `groups`, as the renderer writes it.
pub(crate) fn render(groups: Vec<GroupedRules>) -> String {
    RuleFile { groups }.render(&HealLabel::default())
}

/// A rule as the comparison sees it: kind and name, the expression without surrounding
/// whitespace, every label, and every annotation (summary included).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) name: String,
    pub(crate) expression: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// The groups of a rule file's text, each with its rules as [`Seen`]; `without` labels are
/// left out (those naming the generator).
pub(crate) fn seen(text: &str, without: &[&str]) -> Vec<(String, Vec<Seen>)> {
    let file = promrules_yaml::parse(text, "test", &HealLabel::default()).unwrap();
    file.groups
        .into_iter()
        .map(|group| {
            let rules = group
                .rules
                .into_iter()
                .map(|rule| {
                    let mut labels = rule.labels.clone();
                    if !rule.severity.is_empty() {
                        labels.insert("severity".into(), rule.severity.clone());
                    }
                    labels.retain(|name, _| !without.contains(&name.as_str()));
                    let mut annotations = rule.annotations.clone();
                    if !rule.summary.is_empty() {
                        annotations.insert("summary".into(), rule.summary.clone());
                    }
                    Seen {
                        name: rule.name.unwrap_or_default(),
                        expression: rule.expression.trim().to_owned(),
                        labels,
                        annotations,
                    }
                })
                .collect();
            (group.group.name, rules)
        })
        .collect()
}

/// Runs `promtool test rules` on `tests` (whose `rule_files` is `rules.yml`) beside `rules`.
pub(crate) fn promtool_test(rules: &str, tests: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(dir.path().join("tests.yml"), tests).unwrap();
    let output = std::process::Command::new(test_support::promtool())
        .args(["test", "rules", "tests.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() { Ok(text) } else { Err(text) }
}
