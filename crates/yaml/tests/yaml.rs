//! The rule-file generator: snapshots of its output, each also accepted by the real
//! `promtool`; byte stability; round trips; random rules; errors on bad files; import.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use promrules_model::{
    Group, GroupSpec, GroupedRules, ImportOptions, Rule, RuleFilter, RuleSpec, Store,
};
use promrules_yaml::{Error, HealLabel, RenderOptions, RuleFile, Selection, parse, render};
use test_support::assert_promtool_accepts;

mod support;

use support::corpus::corpus;
use support::rule_facts::facts;

fn stored(id: i64, spec: RuleSpec) -> Rule {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Rule { id, spec, created_at: time, updated_at: time }
}

fn group(id: i64, name: &str, interval: Option<&str>) -> Group {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Group {
        id,
        spec: GroupSpec {
            name: name.into(),
            interval: interval.map(Into::into),
            ..GroupSpec::default()
        },
        created_at: time,
        updated_at: time,
    }
}

/// Renders, snapshots and promtool-checks; returns the text.
fn check(name: &str, rules: &[Rule], groups: &[Group], options: &RenderOptions) -> String {
    let text = render(rules, groups, options);
    insta::assert_snapshot!(name, text);
    assert_promtool_accepts(&text);
    text
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The rules of the snapshot `showcase`: every feature of a rule file at least once.
fn showcase() -> (Vec<Rule>, Vec<Group>) {
    let rules = vec![
        stored(1, RuleSpec {
            name: Some("InstanceDown".into()),
            for_duration: Some("5m".into()),
            severity: "critical".into(),
            summary: "Instance {{ $labels.instance }} down".into(),
            description: "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes.\nValue: {{ $value | humanize }}".into(),
            group_id: Some(1),
            heal_enabled: true,
            labels: labels(&[("team", "sre")]),
            annotations: labels(&[("runbook_url", "https://runbooks.example/instance-down")]),
            ..RuleSpec::alert("up == 0")
        }),
        stored(2, RuleSpec {
            group_id: Some(1),
            ..RuleSpec::record("job:http_requests:rate5m", "sum by (job) (\n  rate(http_requests_total[5m])\n)")
        }),
        // No name: rendered as Alert_3, the original pipeline's convention.
        stored(3, RuleSpec { group_id: Some(2), ..RuleSpec::alert("node_load1 > 4") }),
        // Values a YAML 1.1 reader would take for booleans or numbers.
        stored(4, RuleSpec {
            name: Some("Ambiguous".into()),
            group_id: Some(2),
            severity: "no".into(),
            summary: "yes".into(),
            description: "0755".into(),
            labels: labels(&[("on", "off"), ("exponent", "1e3"), ("sexagesimal", "1:30"), ("empty", "")]),
            annotations: labels(&[("null_word", "null"), ("tilde", "~"), ("quoted", "say \"hi\": now # not a comment")]),
            ..RuleSpec::alert("vector(1)")
        }),
        stored(5, RuleSpec {
            name: Some("Ünïcödé 警告 ✓".into()),
            summary: "Température élevée: {{ $value }}°C".into(),
            description: "  leading spaces\nand a tab\there".into(),
            ..RuleSpec::alert("node_hwmon_temp_celsius > 80")
        }),
        // A group id with no row: the original pipeline named it group-<id>.
        stored(6, RuleSpec { name: Some("Orphan".into()), group_id: Some(9), ..RuleSpec::alert("up{job=\"x\"} == 0") }),
        stored(7, RuleSpec { name: Some("Disabled".into()), enabled: false, ..RuleSpec::alert("up == 0") }),
    ];
    let groups = vec![group(1, "sre", Some("30s")), group(2, "node", None)];
    (rules, groups)
}

#[test]
fn showcase_renders_stably_and_promtool_accepts_it() {
    let (rules, groups) = showcase();
    let text = check("showcase", &rules, &groups, &RenderOptions::default());

    let mut shuffled = rules.clone();
    shuffled.reverse();
    assert_eq!(
        render(&shuffled, &groups, &RenderOptions::default()),
        text,
        "input order does not matter"
    );
    assert_eq!(render(&rules, &groups, &RenderOptions::default()), text, "same input, same bytes");
    assert!(text.ends_with("\n") && !text.ends_with("\n\n"));
}

#[test]
fn empty_selection_is_an_empty_group_list() {
    let text = check("empty", &[], &[], &RenderOptions::default());
    assert_eq!(text, "groups: []\n");
}

#[test]
fn selection_options() {
    let (rules, groups) = showcase();
    let heal_only = RenderOptions {
        selection: Selection { heal_only: true, ..Default::default() },
        ..Default::default()
    };
    check("heal_only", &rules, &groups, &heal_only);

    let with_disabled = RenderOptions {
        selection: Selection { include_disabled: true, ..Default::default() },
        ..Default::default()
    };
    assert!(render(&rules, &groups, &with_disabled).contains("alert: Disabled"));
    assert!(!render(&rules, &groups, &RenderOptions::default()).contains("alert: Disabled"));

    let custom_label = RenderOptions {
        heal_label: HealLabel { name: "route".into(), value: "am-executor".into() },
        ..Default::default()
    };
    let text = check("custom_heal_label", &rules[..1], &groups, &custom_label);
    assert!(text.contains("route: am-executor") && !text.contains("heal:"));
}

#[test]
fn datasource_selection_keeps_rules_without_datasource() {
    let rules = vec![
        stored(
            1,
            RuleSpec { name: Some("A".into()), datasource_id: Some(1), ..RuleSpec::alert("up") },
        ),
        stored(
            2,
            RuleSpec { name: Some("B".into()), datasource_id: Some(2), ..RuleSpec::alert("up") },
        ),
        stored(3, RuleSpec { name: Some("Everywhere".into()), ..RuleSpec::alert("up") }),
    ];
    let options = RenderOptions {
        selection: Selection { datasources: vec![2], ..Default::default() },
        ..Default::default()
    };
    let file = RuleFile::select(&rules, &[], &options.selection);
    let names: Vec<&str> =
        file.groups[0].rules.iter().map(|r| r.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["B", "Everywhere"]);
}

#[test]
fn round_trips() {
    let (rules, groups) = showcase();
    let heal = HealLabel::default();
    let file = RuleFile::select(&rules, &groups, &Selection::default());
    let text = render(&rules, &groups, &RenderOptions::default());
    assert_eq!(file.render(&heal), text, "the file view renders the same bytes");

    let parsed = parse(&text, "showcase.yml", &heal).unwrap();
    assert_eq!(parsed, file, "parse(render(x)) == x");
    assert_eq!(parsed.render(&heal), text, "render(parse(f)) == f");
}

#[test]
fn hand_written_files_parse() {
    let text = "\
groups:
  - name: example
    interval: 1m
    rules:
      - record: code:prometheus_http_requests_total:sum
        expr: sum by (code) (prometheus_http_requests_total)
      - alert: HighRequestLatency
        expr: job:request_latency_seconds:mean5m{job=\"myjob\"} > 0.5
        for: 10m
        labels:
          severity: page
          heal: true
        annotations:
          summary: High request latency
";
    let file = parse(text, "example.yml", &HealLabel::default()).unwrap();
    let group = &file.groups[0];
    assert_eq!(
        (group.group.name.as_str(), group.group.interval.as_deref()),
        ("example", Some("1m"))
    );
    let alert = &group.rules[1];
    assert_eq!(alert.severity, "page");
    assert!(alert.heal_enabled, "an unquoted `heal: true` is the heal label");
    assert!(alert.labels.is_empty());
    assert_eq!(alert.summary, "High request latency");
    assert_promtool_accepts(&file.render(&HealLabel::default()));

    assert_eq!(parse("", "empty.yml", &HealLabel::default()).unwrap(), RuleFile::default());
}

#[test]
fn invalid_files_name_the_location() {
    let heal = HealLabel::default();
    let cases = [
        ("groups:\n- name: a\n  rules:\n  - alert: X\n    expr: [\n", "line"),
        // `limit` is a real field (Prometheus 2.31); a misspelling of it is not.
        ("groups:\n- name: a\n  limits: 5\n  rules: []\n", "unknown field `limits`"),
        ("groups:\n- name: a\n  limit: -1\n  rules: []\n", "group 1 (`a`): `limit`"),
        (
            "groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n    keep: x\n",
            "groups[0].rules[0]: unknown field `keep`",
        ),
        ("groups:\n- name: a\n  rules:\n  - alert: X\n", "missing field `expr`"),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n- name: b\n  rules:\n  - alert: B\n    expr: up\n  - alert: Broken\n    expr: sum(\n",
            "group 2 (`b`), rule 2 (`Broken`): `expression` is not valid PromQL",
        ),
        (
            "groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n",
            "group 2 (`a`): the group name is used twice",
        ),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n    record: b\n    expr: up\n",
            "group 1 (`a`), rule 1 (`A`): a rule has either `alert` or `record`",
        ),
        (
            "groups:\n- name: a\n  rules:\n  - expr: up\n",
            "rule 1 (``): a rule needs `alert` or `record`",
        ),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    for: 5 minutes\n",
            "rule 1 (`A`): `for` `5 minutes` is not a Prometheus duration",
        ),
        (
            "groups:\n- name: a\n  rules:\n  - record: job:x\n    expr: up\n    for: 5m\n",
            "rule 1 (`job:x`): `for` is only allowed on alert rules",
        ),
        ("groups:\n- name: a\n  interval: soon\n  rules: []\n", "group 1 (`a`): `interval`"),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      __bad: x\n",
            "`labels.__bad` `__bad` is reserved",
        ),
    ];
    for (text, expected) in cases {
        let error = parse(text, "team/rules.yml", &heal).expect_err(text);
        let message = error.to_string();
        assert!(message.starts_with("`team/rules.yml`"), "names the file: {message}");
        assert!(message.contains(expected), "expected `{expected}` in: {message}");
    }
    let error = promrules_yaml::parse_file(std::path::Path::new("/nonexistent/rules.yml"), &heal)
        .unwrap_err();
    assert!(
        matches!(error, Error::Read { .. }) && error.to_string().contains("/nonexistent/rules.yml")
    );
}

#[test]
fn a_large_varied_corpus_passes_promtool_and_round_trips() {
    let (rules, groups) = corpus(2_000);
    let text = render(&rules, &groups, &RenderOptions::default());
    assert_promtool_accepts(&text);
    let parsed = parse(&text, "corpus.yml", &HealLabel::default()).unwrap();
    assert_eq!(parsed, RuleFile::select(&rules, &groups, &Selection::default()));
    assert_eq!(parsed.render(&HealLabel::default()), text);
}

#[test]
fn import_upserts_by_group_and_rule_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("rules.db").to_str().unwrap()).unwrap();
    let heal = HealLabel::default();
    let (rules, groups) = showcase();
    let text = render(&rules, &groups, &RenderOptions::default());
    let file = parse(&text, "showcase.yml", &heal).unwrap();
    let rule_count = file.groups.iter().map(|g| g.rules.len()).sum::<usize>();

    let first = store
        .import(&file.groups, ImportOptions { datasource_id: Some(4), ..ImportOptions::default() })
        .unwrap();
    assert_eq!((first.created, first.updated, first.unchanged), (rule_count, 0, 0));
    assert_eq!(first.groups_created, file.groups.len());

    let again = store.import(&file.groups, ImportOptions::default()).unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.groups_created),
        (0, 0, rule_count, 0)
    );

    // The store renders back exactly the imported file.
    let stored = store.list_rules(&RuleFilter::default()).unwrap();
    let stored_groups = store.list_groups(Default::default()).unwrap();
    assert_eq!(render(&stored, &stored_groups, &RenderOptions::default()), text);
    assert!(stored.iter().all(|rule| rule.spec.datasource_id == Some(4)));

    let edited = text.replace("expr: node_load1 > 4", "expr: node_load1 > 8");
    let edited = parse(&edited, "showcase.yml", &heal).unwrap();
    let third = store.import(&edited.groups, ImportOptions::default()).unwrap();
    assert_eq!((third.created, third.updated, third.unchanged), (0, 1, rule_count - 1));
    let alert_3 = stored.iter().find(|rule| rule.display_name() == "Alert_3").unwrap();
    let after = store.get_rule(alert_3.id).unwrap();
    assert_eq!(after.spec.expression, "node_load1 > 8");
    assert_eq!(after.spec.name, alert_3.spec.name, "an id-named rule keeps its own name");

    // An invalid rule aborts the whole import and writes nothing.
    let before = store.list_rules(&RuleFilter::default()).unwrap();
    let bad = vec![GroupedRules {
        group: GroupSpec::named("new-group"),
        rules: vec![
            RuleSpec { name: Some("Fine".into()), ..RuleSpec::alert("up") },
            RuleSpec {
                name: Some("Bad".into()),
                for_duration: Some("later".into()),
                ..RuleSpec::alert("up")
            },
        ],
    }];
    let error = store.import(&bad, ImportOptions::default()).unwrap_err().to_string();
    assert!(error.contains("group `new-group`, rule 2 (`Bad`): for"), "{error}");
    assert_eq!(store.list_rules(&RuleFilter::default()).unwrap(), before);
    assert!(store.find_group_by_name("new-group").unwrap().is_none());
}

mod random {
    //! Random valid rules: at least 500 in one file, which promtool must accept and which
    //! must survive a round trip unchanged.

    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 _.:/-]{0,20}",
            Just("yes".to_owned()),
            Just("on".to_owned()),
            Just("0755".to_owned()),
            Just("1e3".to_owned()),
            Just("- x".to_owned()),
            Just("{{ $labels.instance }} is {{ $value | humanize }}".to_owned()),
            Just("line one\nline two\n".to_owned()),
            Just("ends with colon:".to_owned()),
            // Any printable text but braces: `{{` would open a Go template, which only
            // promtool judges (the deployer runs it before every reload).
            "[^{}\\p{C}]{0,12}",
            "[ \t]{1,3}[a-z]{1,5}\n[a-z]{0,5}",
        ]
    }

    fn label_name() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_]{0,10}"
            .prop_filter("not severity", |name| name != "severity" && name != "heal")
    }

    fn expression() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,12}".prop_map(|metric| format!("{metric} > 0")),
            ("[a-z_]{1,12}", "[a-zA-Z0-9 ._-]{0,10}")
                .prop_map(|(metric, value)| format!("rate({metric}{{job=\"{value}\"}}[5m]) == 0")),
            Just("sum by (instance) (\n  up\n) < 1".to_owned()),
            Just("vector(1)".to_owned()),
        ]
    }

    fn rule() -> impl Strategy<Value = RuleSpec> {
        (
            any::<bool>(),
            "[A-Za-z][A-Za-z0-9 _:-]{0,20}",
            expression(),
            proptest::option::of(prop_oneof![Just("0s"), Just("1m"), Just("1h30m"), Just("500ms")]),
            text(),
            text(),
            any::<bool>(),
            proptest::collection::btree_map(label_name(), text(), 0..3),
            proptest::collection::btree_map(label_name(), text(), 0..3),
            "[a-z]{1,8}",
        )
            .prop_map(
                |(
                    alert,
                    name,
                    expression,
                    for_duration,
                    summary,
                    description,
                    heal,
                    labels,
                    annotations,
                    severity,
                )| {
                    if alert {
                        RuleSpec {
                            name: Some(name.trim().to_owned())
                                .filter(|n| !n.is_empty())
                                .or(Some("A".into())),
                            for_duration: for_duration.map(str::to_owned),
                            summary,
                            description,
                            heal_enabled: heal,
                            labels,
                            annotations: annotations
                                .into_iter()
                                .filter(|(k, v)| {
                                    !v.is_empty() && k != "summary" && k != "description"
                                })
                                .collect(),
                            severity,
                            ..RuleSpec::alert(expression)
                        }
                    } else {
                        let metric: String = name
                            .chars()
                            .map(|c| if c.is_ascii_alphanumeric() || c == ':' { c } else { '_' })
                            .collect();
                        RuleSpec { labels, ..RuleSpec::record(metric, expression) }
                    }
                },
            )
            .prop_filter("valid", |spec| spec.validate().is_ok())
    }

    fn file() -> impl Strategy<Value = RuleFile> {
        proptest::collection::vec(rule(), 500..520).prop_map(|rules| RuleFile {
            groups: rules
                .chunks(50)
                .enumerate()
                .map(|(i, chunk)| GroupedRules {
                    group: GroupSpec {
                        name: format!("random {i:02}"),
                        interval: (i % 2 == 0).then(|| "1m".to_owned()),
                        ..GroupSpec::default()
                    },
                    rules: chunk.to_vec(),
                })
                .collect(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

        #[test]
        fn random_files_pass_promtool_and_round_trip(file in file()) {
            let heal = HealLabel::default();
            let text = file.render(&heal);
            assert_promtool_accepts(&text);
            let parsed = parse(&text, "random.yml", &heal).unwrap();
            prop_assert_eq!(&parsed, &file);
            prop_assert_eq!(parsed.render(&heal), text);
        }
    }
}

/// Every field of Prometheus's rule-file format, in Prometheus's own key order: rule
/// `keep_firing_for`; group `interval`, `query_offset`, `limit`, `rules`, `labels`. The
/// suite's promtool (2.42) knows `keep_firing_for` and `limit`, so the file without the two
/// newer group fields goes through it; the whole file is a snapshot and reads back equal.
#[test]
fn every_prometheus_rule_field_renders_in_prometheus_order_and_reads_back() {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let full = Group {
        id: 1,
        spec: GroupSpec {
            name: "full".into(),
            interval: Some("30s".into()),
            limit: Some(100),
            query_offset: Some("1m".into()),
            labels: labels(&[("team", "db"), ("tier", "1")]),
        },
        created_at: time,
        updated_at: time,
    };
    let known_to_2_42 = Group {
        id: 2,
        spec: GroupSpec { name: "older".into(), limit: Some(10), ..GroupSpec::default() },
        created_at: time,
        updated_at: time,
    };
    let flapping = RuleSpec {
        name: Some("Flapping".into()),
        for_duration: Some("1m".into()),
        keep_firing_for: Some("10m".into()),
        summary: "{{ $labels.instance }} flaps".into(),
        labels: labels(&[("team", "sre")]),
        ..RuleSpec::alert("changes(up[5m]) > 3")
    };
    let rules = vec![
        stored(1, RuleSpec { group_id: Some(1), ..flapping.clone() }),
        stored(
            2,
            RuleSpec { group_id: Some(1), ..RuleSpec::record("job:up:sum", "sum by (job) (up)") },
        ),
        stored(3, RuleSpec { group_id: Some(2), ..flapping }),
    ];
    let groups = vec![full, known_to_2_42.clone()];
    let text = render(&rules, &groups, &RenderOptions::default());
    insta::assert_snapshot!("every_field", text);
    let full_at = text.find("- name: full").unwrap();
    let order: Vec<usize> = [
        "interval:",
        "query_offset:",
        "limit:",
        "rules:",
        "- alert: Flapping",
        "for:",
        "keep_firing_for:",
        "labels:\n      severity",
        "annotations:",
        "  labels:\n    team: db",
    ]
    .iter()
    .map(|key| full_at + text[full_at..].find(key).unwrap_or_else(|| panic!("{key} in {text}")))
    .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "Prometheus's key order: {order:?}\n{text}"
    );

    let parsed = parse(&text, "every.yml", &HealLabel::default()).unwrap();
    assert_eq!(parsed.groups[0].group, groups[0].spec, "group fields read back");
    assert_eq!(parsed.groups[0].rules[0].keep_firing_for.as_deref(), Some("10m"));
    assert_eq!(
        parsed.render(&HealLabel::default()),
        text,
        "a parsed file renders to the same bytes"
    );

    let older = render(&rules[2..], &[known_to_2_42], &RenderOptions::default());
    assert!(older.contains("limit: 10") && older.contains("keep_firing_for: 10m"), "{older}");
    assert_promtool_accepts(&older);
}

/// Files Prometheus loads as no groups import as no groups.
#[test]
fn empty_files_parse_as_no_groups() {
    for text in [
        "",
        "\n",
        "# only a comment\n",
        "null\n",
        "~\n",
        "---\n",
        "groups:\n",
        "groups: []\n",
        "groups: null\n",
    ] {
        let file = parse(text, "empty.yml", &HealLabel::default())
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(file.groups.is_empty(), "{text:?}");
        assert_promtool_accepts(text);
    }
    let nulls = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n    annotations:\n- name: h\n  rules:\n";
    let file = parse(nulls, "nulls.yml", &HealLabel::default()).unwrap();
    assert_eq!((file.groups[0].rules.len(), file.groups[1].rules.len()), (1, 0));
}

/// The rule files in `tests/corpus/`: shapes people run (mixins, community collections,
/// hand-written files; empty ones too), each accepted by promtool as it is.
fn real_world_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn fifty_real_world_files_import_render_pass_promtool_and_compare_rule_for_rule() {
    let files = real_world_files();
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let heal = HealLabel::default();
    let dir = tempfile::tempdir().unwrap();
    for (index, (name, text)) in files.iter().enumerate() {
        let mut original = facts(text);
        let file = parse(text, name, &heal).unwrap_or_else(|e| panic!("{name}: {e}"));
        let store = Store::open(dir.path().join(format!("{index}.db")).to_str().unwrap()).unwrap();
        let report = store
            .import(&file.groups, ImportOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let rule_count: usize = original.iter().map(|g| g.rules.len()).sum();
        assert_eq!(report.created, rule_count, "{name}: every rule is its own row");

        // A group without rules evaluates nothing; rendered files leave it out (its row is
        // kept for the rules it may get).
        original.retain(|group| !group.rules.is_empty());
        // Rendered groups are sorted by name (Prometheus evaluates groups independently; the
        // order of rules inside a group, which matters, is kept).
        original.sort_by(|a, b| a.name.cmp(&b.name));
        let snapshot = store.snapshot().unwrap();
        let rendered = render(&snapshot.rules, &snapshot.groups, &RenderOptions::default());
        assert_promtool_accepts(&rendered);
        assert_eq!(facts(&rendered), original, "{name} changed on its way through:\n{rendered}");

        // Imported again, the rendered file changes nothing: pairs that share a name stay
        // distinct, every rule keeps its row.
        let again = parse(&rendered, name, &heal).unwrap();
        let report = store.import(&again.groups, ImportOptions::default()).unwrap();
        assert_eq!((report.unchanged, report.created), (rule_count, 0), "{name}");
    }
}
