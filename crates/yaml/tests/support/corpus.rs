//! A deterministic corpus of varied, valid rules, shared by the tests and the benchmark.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use promrules_model::{Group, GroupSpec, Rule, RuleSpec};

/// `count` rules spread over 50 groups (some without a row), mixing alerts and recording
/// rules, multi-line expressions, templates, extra labels and annotations.
pub(crate) fn corpus(count: usize) -> (Vec<Rule>, Vec<Group>) {
    let time = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let groups = (1..=40)
        .map(|id| Group {
            id,
            spec: GroupSpec {
                name: format!("team-{id:02}"),
                interval: (id % 3 == 0).then(|| "30s".to_owned()),
                ..GroupSpec::default()
            },
            created_at: time,
            updated_at: time,
        })
        .collect();
    let rules = (1..=count as i64)
        .map(|id| {
            let spec = if id % 7 == 0 {
                RuleSpec {
                    labels: BTreeMap::from([("team".to_owned(), format!("t{}", id % 11))]),
                    ..RuleSpec::record(format!("job:rule_{id}:rate5m"), format!("sum by (job) (rate(http_requests_total{{shard=\"{id}\"}}[5m]))"))
                }
            } else {
                let expression = if id % 5 == 0 {
                    format!("sum by (instance) (\n  rate(node_cpu_seconds_total{{mode!=\"idle\", id=\"{id}\"}}[5m])\n) > 0.9")
                } else {
                    format!("up{{job=\"service-{}\"}} == 0", id % 97)
                };
                RuleSpec {
                    name: (id % 13 != 0).then(|| format!("ServiceDown{id}")),
                    for_duration: Some(["1m", "5m", "30s", "1h30m"][id as usize % 4].to_owned()),
                    severity: ["warning", "critical", "page"][id as usize % 3].to_owned(),
                    summary: format!("{{{{ $labels.instance }}}} of rule {id} is down"),
                    description: if id % 4 == 0 { "Check the service.\nThen page someone.".to_owned() } else { String::new() },
                    heal_enabled: id % 6 == 0,
                    labels: BTreeMap::from([("team".to_owned(), format!("t{}", id % 11)), ("on".to_owned(), "no".to_owned())]),
                    annotations: BTreeMap::from([("runbook_url".to_owned(), format!("https://runbooks.example/{id}"))]),
                    ..RuleSpec::alert(expression)
                }
            };
            Rule { id, spec: RuleSpec { group_id: Some(id % 50 + 1), datasource_id: Some(id % 3), ..spec }, created_at: time, updated_at: time }
        })
        .collect();
    (rules, groups)
}
