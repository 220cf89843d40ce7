//! What Prometheus reads from a rule file, taken from the YAML itself rather than through
//! our parser: the corpus round trip compares the original and the rendered file by these.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// A group as Prometheus loads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GroupFacts {
    pub(crate) name: String,
    pub(crate) interval: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) query_offset: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) rules: Vec<RuleFacts>,
}

/// A rule as Prometheus loads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RuleFacts {
    /// `alert` or `record`.
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) expr: String,
    pub(crate) for_duration: Option<String>,
    pub(crate) keep_firing_for: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// The groups of a rule file's text, in file order (none for an empty or `null` file).
pub(crate) fn facts(text: &str) -> Vec<GroupFacts> {
    let doc: Value = serde_yaml::from_str(text).unwrap_or(Value::Null);
    let groups = match doc.get("groups") {
        Some(Value::Sequence(groups)) => groups.clone(),
        _ => Vec::new(),
    };
    groups
        .iter()
        .map(|group| GroupFacts {
            name: scalar(&group["name"]).unwrap(),
            interval: scalar(&group["interval"]),
            limit: scalar(&group["limit"]),
            query_offset: scalar(&group["query_offset"]),
            labels: map(&group["labels"]),
            rules: match &group["rules"] {
                Value::Sequence(rules) => rules.iter().map(rule).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

fn rule(rule: &Value) -> RuleFacts {
    let (kind, name) = match scalar(&rule["alert"]) {
        Some(name) => ("alert", name),
        None => ("record", scalar(&rule["record"]).unwrap()),
    };
    RuleFacts {
        kind,
        name,
        expr: scalar(&rule["expr"]).unwrap(),
        for_duration: scalar(&rule["for"]),
        keep_firing_for: scalar(&rule["keep_firing_for"]),
        labels: map(&rule["labels"]),
        annotations: map(&rule["annotations"]),
    }
}

/// A scalar's text, as Go's YAML decoder puts any scalar into a string field.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn map(value: &Value) -> BTreeMap<String, String> {
    match value {
        Value::Mapping(map) => map
            .iter()
            .map(|(key, value)| (scalar(key).unwrap(), scalar(value).unwrap_or_default()))
            .collect(),
        _ => BTreeMap::new(),
    }
}
