//! The rule store, on SQLite and on PostgreSQL: every story below runs on both backends.

use std::collections::BTreeMap;
use std::time::Duration;

use promrules_model::{
    Backend, DeploymentFilter, DeploymentHost, Error, GroupPatch, GroupSpec, GroupedRules,
    ImportOptions, Page, RuleFilter, RuleKind, RulePatch, RuleSort, RuleSpec, Store,
};
use support::TestDb;

mod support;

#[path = "store/targets.rs"]
mod targets;
use targets::{
    importing_a_target_model_upserts_by_name, invalid_targets_are_rejected_with_the_field_named,
    target_model_round_trip, target_references_and_conflicts,
};

test_support::on_both_backends!(TestDb:
    rule_round_trip,
    rule_update_and_patch,
    list_filters_and_pagination,
    invalid_rules_are_rejected_with_the_field_named,
    invalid_updates_change_nothing,
    group_round_trip_and_conflicts,
    eight_threads_insert_4000_rules,
    original_schema_rows_read_back,
    unknown_ids_are_not_found,
    target_model_round_trip,
    target_references_and_conflicts,
    invalid_targets_are_rejected_with_the_field_named,
    importing_a_target_model_upserts_by_name,
    revisions_rewind_and_restore_with_ids,
    a_1000_rule_import_is_one_transaction_and_one_revision,
    deployments_list_newest_first_with_filters_and_pages,
    host_locks_and_leadership_span_processes,
);

/// A host's deploy lock and a job's leadership hold across processes (replicas on one
/// PostgreSQL; a server and the `deploy` command on one SQLite file): a second one waits,
/// and after its timeout is told who holds it; released, the lock passes on.
fn host_locks_and_leadership_span_processes(db: &TestDb) {
    let other = db.another_process();
    let held = db.store.lock_host("prom-eu-1").unwrap();
    let started = std::time::Instant::now();
    let error = other.lock_host_within("prom-eu-1", Duration::from_millis(400)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(400), "it waited");
    let message = error.to_string();
    assert!(message.contains("host `prom-eu-1` is still being deployed by"), "{message}");
    match db.store.backend() {
        Backend::Postgres => assert!(
            message.contains(&format!("(pid {})", std::process::id()))
                && message.contains("PostgreSQL backend"),
            "names the holding process: {message}"
        ),
        Backend::Sqlite => assert!(message.contains("lock file"), "{message}"),
    }
    // Another host is not held up.
    drop(other.lock_host_within("prom-us-1", Duration::from_millis(400)).unwrap());
    drop(held);
    drop(other.lock_host_within("prom-eu-1", Duration::from_millis(400)).unwrap());

    let leader = db.store.try_lead("auto-deploy").unwrap().expect("the first leads");
    assert!(other.try_lead("auto-deploy").unwrap().is_none(), "one leader at a time");
    assert!(other.try_lead("drift-check").unwrap().is_some(), "per job");
    drop(leader);
    assert!(other.try_lead("auto-deploy").unwrap().is_some(), "handed over");
}

fn heal_rule() -> RuleSpec {
    RuleSpec {
        name: Some("DiskFull".into()),
        for_duration: Some("5m".into()),
        severity: "critical".into(),
        summary: "Disk {{ $labels.device }} is full".into(),
        description: "Only {{ $value | humanizePercentage }} left.\nClean up.".into(),
        datasource_id: Some(3),
        heal_enabled: true,
        labels: BTreeMap::from([("team".into(), "storage".into())]),
        annotations: BTreeMap::from([("runbook_url".into(), "https://runbooks/disk".into())]),
        ..RuleSpec::alert("node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05")
    }
}

fn rule_round_trip(db: &TestDb) {
    let group = db
        .store
        .create_group(&GroupSpec {
            name: "storage".into(),
            interval: Some("30s".into()),
            ..GroupSpec::default()
        })
        .unwrap();
    let spec = RuleSpec { group_id: Some(group.id), ..heal_rule() };
    let created = db.store.create_rule(&spec).unwrap();
    assert_eq!(created.spec, spec);
    assert_eq!(created.created_at, created.updated_at);

    let fetched = db.store.get_rule(created.id).unwrap();
    assert_eq!(fetched, created, "a rule reads back exactly as it was stored");

    let record =
        db.store.create_rule(&RuleSpec::record("job:up:sum", "sum by (job) (up)")).unwrap();
    assert_eq!(db.store.get_rule(record.id).unwrap().spec.kind, RuleKind::Record);
    assert_eq!(
        db.store.count_rules_by_kind().unwrap(),
        BTreeMap::from([(RuleKind::Alert, 1), (RuleKind::Record, 1)])
    );

    db.store.delete_rule(created.id).unwrap();
    assert!(matches!(db.store.get_rule(created.id), Err(Error::NotFound { entity: "rule", .. })));
    assert_eq!(db.store.count_rules(&RuleFilter::default()).unwrap(), 1);
}

fn rule_update_and_patch(db: &TestDb) {
    let created = db.store.create_rule(&heal_rule()).unwrap();

    let replacement = RuleSpec { name: Some("Renamed".into()), ..RuleSpec::alert("up == 0") };
    let updated = db.store.update_rule(created.id, &replacement).unwrap();
    assert_eq!(updated.spec, replacement, "PUT replaces every field, clearing what it leaves out");
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);

    let patch: RulePatch =
        serde_json::from_str(r#"{"for": "10m", "labels": {"team": "core"}}"#).unwrap();
    let patched = db.store.patch_rule(created.id, patch).unwrap();
    assert_eq!(patched.spec.for_duration.as_deref(), Some("10m"));
    assert_eq!(patched.spec.labels["team"], "core");
    assert_eq!(patched.spec.name.as_deref(), Some("Renamed"), "PATCH keeps what it leaves out");

    let clear: RulePatch = serde_json::from_str(r#"{"name": null, "for": null}"#).unwrap();
    let cleared = db.store.patch_rule(created.id, clear).unwrap();
    assert_eq!(cleared.spec.name, None);
    assert_eq!(cleared.display_name(), format!("Alert_{}", created.id));
    assert_eq!(db.store.get_rule(created.id).unwrap(), cleared);
}

fn list_filters_and_pagination(db: &TestDb) {
    for i in 0..10_i64 {
        let spec = RuleSpec {
            name: Some(format!("R{i}")),
            datasource_id: Some(i % 2 + 1),
            group_id: Some(i % 3 + 1),
            heal_enabled: i < 4,
            enabled: i != 9,
            ..RuleSpec::alert(format!("up{{instance=\"h{i}\"}} == 0"))
        };
        db.store.create_rule(&spec).unwrap();
    }
    db.store.create_rule(&RuleSpec::record("job:up:sum", "sum(up)")).unwrap();

    let names = |filter: RuleFilter| -> Vec<String> {
        db.store
            .list_rules(&filter)
            .unwrap()
            .iter()
            .map(|r| r.display_name().into_owned())
            .collect()
    };
    assert_eq!(
        names(RuleFilter { datasource_id: Some(1), ..Default::default() }),
        ["R0", "R2", "R4", "R6", "R8"]
    );
    assert_eq!(names(RuleFilter { group_id: Some(3), ..Default::default() }), ["R2", "R5", "R8"]);
    assert_eq!(
        names(RuleFilter { heal_enabled: Some(true), ..Default::default() }),
        ["R0", "R1", "R2", "R3"]
    );
    assert_eq!(names(RuleFilter { enabled: Some(false), ..Default::default() }), ["R9"]);
    assert_eq!(
        names(RuleFilter { kind: Some(RuleKind::Record), ..Default::default() }),
        ["job:up:sum"]
    );
    let page = Page { limit: Some(3), offset: 4 };
    assert_eq!(names(RuleFilter { page, ..Default::default() }), ["R4", "R5", "R6"]);
    let combined = RuleFilter {
        datasource_id: Some(2),
        heal_enabled: Some(false),
        page,
        ..Default::default()
    };
    assert_eq!(db.store.count_rules(&combined).unwrap(), 3, "counts ignore the page");
    assert_eq!(
        names(RuleFilter { page: Page { limit: Some(10), offset: 10 }, ..Default::default() }),
        ["job:up:sum"]
    );

    // Search: text in the name or expression (any case, wildcards literal), exact labels.
    let mut labelled = RuleSpec::alert("node_load1 > 100%2");
    labelled.name = Some("Load_High".into());
    labelled.severity = "critical".into();
    labelled.labels.insert("team".into(), "ops\"x".into());
    db.store.create_rule(&labelled).unwrap();
    let search = |query: &str| names(RuleFilter::default().search(query));
    assert_eq!(search("LOAD_h"), ["Load_High"]);
    assert_eq!(search("h7\""), ["R7"], "expression text");
    assert_eq!(search("100%2"), ["Load_High"]);
    assert_eq!(search("R_"), Vec::<String>::new(), "`_` is no wildcard");
    assert_eq!(search("team=ops\"x"), ["Load_High"]);
    assert_eq!(search("team=ops"), Vec::<String>::new(), "values match exactly");
    assert_eq!(search("severity=critical load"), ["Load_High"]);
    assert_eq!(search("severity=warning").len(), 11);
    assert_eq!(search("\"} == 0").len(), 10, "`==` is text, not a label");
    assert_eq!(
        names(RuleFilter { sort: RuleSort::Name, ..Default::default() }.search("R")),
        ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9"]
    );
    let newest = names(RuleFilter { sort: RuleSort::Updated, ..Default::default() });
    assert_eq!(newest[0], "Load_High");
}

/// Each case: the bad rule, and the field its error must name.
fn invalid_rules() -> Vec<(&'static str, RuleSpec, &'static str)> {
    let alert = |expression: &str| RuleSpec::alert(expression);
    let labels = |name: &str| BTreeMap::from([(name.to_owned(), "x".to_owned())]);
    vec![
        ("unbalanced parenthesis", alert("sum(rate(x[5m])"), "expression"),
        ("dangling operator", alert("up =="), "expression"),
        ("unknown function", alert("no_such_function(up)"), "expression"),
        ("empty expression", alert("  "), "expression"),
        (
            "oversized expression",
            alert(&format!("up{{job=\"{}\"}}", "x".repeat(70_000))),
            "expression",
        ),
        (
            "words for a duration",
            RuleSpec { for_duration: Some("1 minute".into()), ..alert("up") },
            "for",
        ),
        ("negative duration", RuleSpec { for_duration: Some("-5m".into()), ..alert("up") }, "for"),
        (
            "duration without unit",
            RuleSpec { for_duration: Some("5".into()), ..alert("up") },
            "for",
        ),
        (
            "units out of order",
            RuleSpec { for_duration: Some("1m1h".into()), ..alert("up") },
            "for",
        ),
        (
            "reserved label name",
            RuleSpec { labels: labels("__name__"), ..alert("up") },
            "labels.__name__",
        ),
        (
            "label name with dash",
            RuleSpec { labels: labels("team-name"), ..alert("up") },
            "labels.team-name",
        ),
        (
            "label name with digit first",
            RuleSpec { labels: labels("1team"), ..alert("up") },
            "labels.1team",
        ),
        ("empty label name", RuleSpec { labels: labels(""), ..alert("up") }, "labels."),
        (
            "severity as extra label",
            RuleSpec { labels: labels("severity"), ..alert("up") },
            "labels.severity",
        ),
        (
            "annotation name with dot",
            RuleSpec { annotations: labels("runbook.url"), ..alert("up") },
            "annotations.runbook.url",
        ),
        ("empty alert name", RuleSpec { name: Some(String::new()), ..alert("up") }, "name"),
        (
            "alert name with newline",
            RuleSpec { name: Some("Disk\nFull".into()), ..alert("up") },
            "name",
        ),
        ("blank severity", RuleSpec { severity: "  ".into(), ..alert("up") }, "severity"),
        (
            "recording rule without name",
            RuleSpec { name: None, ..RuleSpec::record("x", "up") },
            "name",
        ),
        ("bad metric name", RuleSpec::record("job-up", "up"), "name"),
        (
            "for on a recording rule",
            RuleSpec { for_duration: Some("5m".into()), ..RuleSpec::record("a:b", "up") },
            "for",
        ),
        (
            "summary on a recording rule",
            RuleSpec { summary: "x".into(), ..RuleSpec::record("a:b", "up") },
            "summary",
        ),
        (
            "heal on a recording rule",
            RuleSpec { heal_enabled: true, ..RuleSpec::record("a:b", "up") },
            "heal_enabled",
        ),
        (
            "negative datasource id",
            RuleSpec { datasource_id: Some(-1), ..alert("up") },
            "datasource_id",
        ),
    ]
}

fn invalid_rules_are_rejected_with_the_field_named(db: &TestDb) {
    let cases = invalid_rules();
    assert!(cases.len() >= 15);
    for (case, spec, field) in cases {
        match db.store.create_rule(&spec) {
            Err(Error::Invalid(errors)) => {
                assert!(
                    errors.fields().contains_key(field),
                    "{case}: expected `{field}` in {errors}"
                );
                assert!(errors.to_string().contains(&format!("`{field}`")), "{case}: {errors}");
            }
            other => panic!("{case}: expected a validation error, got {other:?}"),
        }
        assert_eq!(
            db.store.count_rules(&RuleFilter::default()).unwrap(),
            0,
            "{case}: nothing written"
        );
    }

    // Every bad field at once, not just the first.
    let many = RuleSpec {
        name: Some(String::new()),
        for_duration: Some("soon".into()),
        severity: " ".into(),
        labels: BTreeMap::from([("__x".into(), "y".into())]),
        ..RuleSpec::alert("rate(")
    };
    let Err(Error::Invalid(errors)) = db.store.create_rule(&many) else {
        panic!("expected invalid")
    };
    let fields: Vec<&str> = errors.fields().keys().map(String::as_str).collect();
    assert_eq!(fields, ["expression", "for", "labels.__x", "name", "severity"]);
}

fn invalid_updates_change_nothing(db: &TestDb) {
    let rule = db.store.create_rule(&heal_rule()).unwrap();
    let group = db
        .store
        .create_group(&GroupSpec { name: "g".into(), interval: None, ..GroupSpec::default() })
        .unwrap();

    let bad = RuleSpec { for_duration: Some("forever".into()), ..heal_rule() };
    assert!(matches!(db.store.update_rule(rule.id, &bad), Err(Error::Invalid(_))));
    let patch: RulePatch =
        serde_json::from_str(r#"{"expression": "up ==", "summary": "changed"}"#).unwrap();
    assert!(matches!(db.store.patch_rule(rule.id, patch), Err(Error::Invalid(_))));
    assert_eq!(
        db.store.get_rule(rule.id).unwrap(),
        rule,
        "a rejected update leaves the row as it was"
    );

    let patch = GroupPatch { interval: Some(Some("0s".into())), ..Default::default() };
    assert!(matches!(db.store.patch_group(group.id, patch), Err(Error::Invalid(_))));
    assert_eq!(db.store.get_group(group.id).unwrap(), group);
}

fn group_round_trip_and_conflicts(db: &TestDb) {
    let spec =
        GroupSpec { name: "node".into(), interval: Some("1m".into()), ..GroupSpec::default() };
    let node = db.store.create_group(&spec).unwrap();
    assert_eq!(db.store.get_group(node.id).unwrap(), node);
    assert_eq!(db.store.find_group_by_name("node").unwrap(), Some(node.clone()));

    let duplicate = db.store.create_group(&GroupSpec {
        name: "node".into(),
        interval: None,
        ..GroupSpec::default()
    });
    assert!(matches!(&duplicate, Err(Error::Conflict(m)) if m.contains("`node`")), "{duplicate:?}");
    assert_eq!(db.store.count_groups().unwrap(), 1);

    let other = db
        .store
        .create_group(&GroupSpec { name: "other".into(), interval: None, ..GroupSpec::default() })
        .unwrap();
    let rename = GroupPatch { name: Some("node".into()), ..Default::default() };
    assert!(matches!(db.store.patch_group(other.id, rename), Err(Error::Conflict(_))));
    let renamed = db
        .store
        .update_group(
            other.id,
            &GroupSpec { name: "other2".into(), interval: None, ..GroupSpec::default() },
        )
        .unwrap();
    assert_eq!(renamed.spec.name, "other2");

    let rule = db
        .store
        .create_rule(&RuleSpec { group_id: Some(node.id), ..RuleSpec::alert("up == 0") })
        .unwrap();
    // What rendering reads: every rule and group, as the listings give them.
    let (rules, groups) = db.store.rules_and_groups().unwrap();
    assert_eq!(rules, db.store.list_rules(&RuleFilter::default()).unwrap());
    assert_eq!(groups, db.store.list_groups(Page::default()).unwrap());
    assert_eq!((rules.len(), groups.len()), (1, 2));
    let in_use = db.store.delete_group(node.id);
    assert!(
        matches!(&in_use, Err(Error::Conflict(m)) if m.contains("still has 1 rule")),
        "{in_use:?}"
    );
    assert_eq!(db.store.get_group(node.id).unwrap(), node);

    db.store.delete_rule(rule.id).unwrap();
    db.store.delete_group(node.id).unwrap();
    let names: Vec<String> =
        db.store.list_groups(Page::default()).unwrap().into_iter().map(|g| g.spec.name).collect();
    assert_eq!(names, ["other2"]);
}

fn eight_threads_insert_4000_rules(db: &TestDb) {
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let store: Store = db.store.clone();
            scope.spawn(move || {
                for i in 0..500 {
                    let spec = RuleSpec {
                        name: Some(format!("T{thread}R{i}")),
                        ..RuleSpec::alert(format!("up{{thread=\"{thread}\"}} == {i}"))
                    };
                    store
                        .create_rule(&spec)
                        .unwrap_or_else(|e| panic!("thread {thread}, rule {i}: {e}"));
                }
            });
        }
    });
    assert_eq!(db.store.count_rules(&RuleFilter::default()).unwrap(), 4_000);
    let ids: Vec<i64> =
        db.store.list_rules(&RuleFilter::default()).unwrap().iter().map(|r| r.id).collect();
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4_000);

    // One revision per write, numbered 1..=4000 without a gap or a duplicate, each naming
    // its one rule, and a thread's writes numbered in the order it made them.
    let page = Page { limit: Some(5_000), offset: 0 };
    let revisions = db.store.list_revisions(page).unwrap();
    let mut numbers: Vec<i64> = revisions.iter().map(|r| r.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=4_000).collect::<Vec<i64>>());
    assert!(revisions.iter().all(|r| r.changed == 1 && r.action == "create_rule"));
    assert_eq!(db.store.latest_revision().unwrap(), 4_000);
    let rules = db.store.list_rules(&RuleFilter::default()).unwrap();
    for thread in 0..8 {
        let written: Vec<i64> = (0..20)
            .map(|i| {
                let name = format!("T{thread}R{i}");
                let rule = rules.iter().find(|r| r.spec.name.as_deref() == Some(&name)).unwrap();
                let history = db.store.rule_history(rule.id).unwrap();
                assert_eq!(history.len(), 1, "{name}");
                history[0].number
            })
            .collect();
        assert!(written.windows(2).all(|w| w[0] < w[1]), "thread {thread}: {written:?}");
    }
}

fn original_schema_rows_read_back(db: &TestDb) {
    db.execute_raw(
        "INSERT INTO prom_rules (expression, duration, severity, summary, description, datasource_id, group_id, heal_enabled) \
         VALUES ('node_load1 > 4', '10m', 'critical', 'High load', 'Load is {{ $value }}', 2, 7, true)",
    );
    db.execute_raw("INSERT INTO prom_rules (expression) VALUES ('up == 0')");

    let rules = db.store.list_rules(&RuleFilter::default()).unwrap();
    assert_eq!(rules.len(), 2);
    let full = &rules[0].spec;
    assert_eq!(full.expression, "node_load1 > 4");
    assert_eq!(full.for_duration.as_deref(), Some("10m"));
    assert_eq!((full.severity.as_str(), full.summary.as_str()), ("critical", "High load"));
    assert_eq!(full.description, "Load is {{ $value }}");
    assert_eq!((full.datasource_id, full.group_id, full.heal_enabled), (Some(2), Some(7), true));
    assert_eq!((full.kind, full.enabled), (RuleKind::Alert, true));
    assert_eq!(rules[0].display_name(), format!("Alert_{}", rules[0].id));

    let defaults = &rules[1].spec;
    assert_eq!(defaults.for_duration.as_deref(), Some("1m"), "the original's default `for`");
    assert_eq!(defaults.severity, "warning");
    assert_eq!((defaults.summary.as_str(), defaults.description.as_str()), ("", ""));
    assert!(
        !defaults.heal_enabled && defaults.labels.is_empty() && defaults.annotations.is_empty()
    );
    assert!(
        rules[1].created_at.timestamp() > 1_700_000_000,
        "the database default timestamp reads back"
    );
}

fn unknown_ids_are_not_found(db: &TestDb) {
    assert!(matches!(db.store.get_rule(999), Err(Error::NotFound { entity: "rule", id: 999 })));
    assert!(matches!(
        db.store.update_rule(999, &RuleSpec::alert("up")),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(db.store.patch_rule(999, RulePatch::default()), Err(Error::NotFound { .. })));
    assert!(matches!(db.store.delete_rule(999), Err(Error::NotFound { .. })));
    assert!(matches!(db.store.get_group(999), Err(Error::NotFound { entity: "group", .. })));
    assert!(matches!(db.store.delete_group(999), Err(Error::NotFound { .. })));
    assert!(matches!(db.store.delete_host(999), Err(Error::NotFound { entity: "host", .. })));
    assert!(matches!(db.store.delete_farm(999), Err(Error::NotFound { entity: "farm", .. })));
}

#[test]
fn migration_folders_list_the_same_versions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let versions = |backend: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions("postgres"));
    for name in &sqlite {
        for file in ["up.sql", "down.sql"] {
            for backend in ["sqlite", "postgres"] {
                assert!(
                    root.join(backend).join(name).join(file).is_file(),
                    "{backend}/{name}/{file}"
                );
            }
        }
    }
}

#[test]
fn connection_errors_keep_the_database_message() {
    let port = test_support::free_port("127.0.0.1");
    let error = Store::open(&format!("postgres://app:s3cret@127.0.0.1:{port}/rules")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("PostgreSQL") && message.contains("refused"), "{message}");
    assert!(
        !message.contains("s3cret") && message.contains("app:***@"),
        "the password is redacted: {message}"
    );

    let error = Store::open("/nonexistent-dir/rules.db").unwrap_err().to_string();
    assert!(error.contains("SQLite") && error.contains("/nonexistent-dir/rules.db"), "{error}");

    let error = Store::open("mysql://db/rules").unwrap_err().to_string();
    assert!(error.contains("unsupported database url `mysql://db/rules`"), "{error}");
}

#[test]
fn sqlite_urls_and_reopening_keep_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.db");
    let id = Store::open(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_rule(&RuleSpec::alert("up"))
        .unwrap()
        .id;
    let reopened = Store::open(path.to_str().unwrap()).unwrap();
    assert_eq!(reopened.get_rule(id).unwrap().spec.expression, "up");
}

#[test]
fn open_existing_refuses_a_missing_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.db");
    let url = path.display().to_string();
    let error = Store::open_existing(&url).unwrap_err();
    assert!(
        matches!(&error, Error::Missing(m) if m.contains("typo.db` does not exist")),
        "{error}"
    );
    let error = Store::open_existing(&format!("sqlite://{url}")).unwrap_err();
    assert!(matches!(error, Error::Missing(_)));
    assert!(!path.exists(), "nothing created");
    Store::open(&url).unwrap();
    Store::open_existing(&url).unwrap();
    Store::open_existing(":memory:").unwrap();
}

/// Every write is one revision; the state after revision N is recoverable, and a restore
/// brings a deleted rule back with its id, as one new revision.
fn revisions_rewind_and_restore_with_ids(db: &TestDb) {
    let store = db.store.acting_as("story");
    let start = store.latest_revision().unwrap();
    let kept = store
        .create_rule(&RuleSpec { name: Some("Kept".into()), ..RuleSpec::alert("up == 0") })
        .unwrap();
    let doomed = store
        .create_rule(&RuleSpec { name: Some("Doomed".into()), ..RuleSpec::alert("up == 1") })
        .unwrap();
    let after_two = store.latest_revision().unwrap();
    assert_eq!(after_two, start + 2, "one revision per write");
    store
        .patch_rule(kept.id, RulePatch { expression: Some("up == 2".into()), ..Default::default() })
        .unwrap();
    store.delete_rule(doomed.id).unwrap();

    let then = store.snapshot_at(after_two).unwrap();
    let names: Vec<(i64, String)> =
        then.rules.iter().map(|r| (r.id, r.spec.expression.clone())).collect();
    assert!(
        names.contains(&(kept.id, "up == 0".into()))
            && names.contains(&(doomed.id, "up == 1".into())),
        "{names:?}"
    );

    let history = store.rule_history(doomed.id).unwrap();
    assert_eq!(
        history.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["delete_rule", "create_rule"]
    );
    assert!(history.iter().all(|r| r.actor == "story"));

    let restored = store.restore(after_two, None).unwrap();
    assert_eq!((restored.action.as_str(), restored.number), ("restore", after_two + 3));
    assert_eq!(store.get_rule(doomed.id).unwrap().spec.expression, "up == 1", "back with its id");
    assert_eq!(store.get_rule(kept.id).unwrap().spec.expression, "up == 0");
    assert!(matches!(store.snapshot_at(after_two + 100), Err(Error::NotFound { .. })));
}

/// Readers during a 1,000-rule import see none of it or all of it, and it is one revision.
fn a_1000_rule_import_is_one_transaction_and_one_revision(db: &TestDb) {
    let groups: Vec<GroupedRules> = (0..10)
        .map(|group| GroupedRules {
            group: GroupSpec::named(format!("team-{group}")),
            rules: (0..100)
                .map(|i| RuleSpec {
                    name: Some(format!("Down{i}")),
                    ..RuleSpec::alert(format!("up{{job=\"{group}-{i}\"}} == 0"))
                })
                .collect(),
        })
        .collect();
    let before = db.store.latest_revision().unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = std::collections::BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                seen.insert(db.store.count_rules(&RuleFilter::default()).unwrap());
            }
            seen.insert(db.store.count_rules(&RuleFilter::default()).unwrap());
            seen
        });
        let report = db.store.import(&groups, ImportOptions::default()).unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!((report.created, report.revision), (1_000, Some(before + 1)));
        reader.join().unwrap()
    });
    assert!(seen.iter().all(|count| *count == 0 || *count == 1_000), "readers saw {seen:?}");
    assert_eq!(db.store.latest_revision().unwrap(), before + 1);
    let revision = db.store.get_revision(before + 1).unwrap();
    assert_eq!(revision.action, "import");
    assert_eq!(revision.changes.len(), 1_010, "1,000 rules and 10 groups, each before and after");
}

/// Alert templates: the model's check agrees with the real promtool, case by case, so a
/// rule that would fail `promtool check rules` (and block every deploy of the whole file)
/// is refused when it is written.
#[test]
fn go_templates_agree_with_promtool_case_by_case() {
    let valid = [
        "{{ $labels.instance }} is down",
        "{{ $value | humanizePercentage }}",
        r#"{{ with query "up" }}{{ . | first | value | humanize }}{{ end }}"#,
        r#"{{ range $i, $s := query "up" }}{{ $i }}: {{ $s.Labels.job }}{{ end }}"#,
        r#"{{ range query "up" }}{{ range $k, $v := .Labels }}{{ $k }}={{ $v }} {{ end }}{{ end }}"#,
        r#"{{ printf "%.2f" $value }}"#,
        "{{ if gt $value 0.9 }}high{{ else }}ok{{ end }}",
        r#"{{ if eq $labels.severity "critical" }}page{{ else if eq $labels.severity "warning" }}ticket{{ end }}"#,
        "{{- $labels.job -}}",
        "{{/* a comment */}}text",
        "{{ $x := $labels.instance }}{{ $x }}",
        // Go's parser lets an assignment to an undeclared variable through (it fails only
        // when the template runs) and so does the check, as promtool does.
        "{{ $x = 1 }}",
        "{{ 1.2 .3 }}",
        r#"{{ reReplaceAll "(.*):.*" "$1" $labels.instance }}"#,
        "{{ $value | humanizeDuration }}",
        "{{ $externalLabels.cluster }} {{ $externalURL }}",
        r#"{{ index $labels "job" }}"#,
        r#"{{ define "x" }}a{{ end }}{{ template "x" }}"#,
        r#"{{ toUpper $labels.job | printf "%s!" }}"#,
        "{{ len $labels }}",
        r#"{{ humanize1024 1024 }} {{ humanizeTimestamp 0 }} {{ "literal" }}"#,
        "{{ with $labels.instance }}{{ . }}{{ else }}unknown{{ end }}",
        r#"{{ (query "up" | first).Labels.job }}"#,
        "plain text with } and { braces",
    ];
    let broken = [
        "{{ $labels.x",
        "{{ end }}",
        "{{ if true }}no end",
        "{{ $undefined }}",
        "{{ nosuchfunc 1 }}",
        "{{ $value | nosuch }}",
        "{{ range }}{{ end }}",
        "{{ else }}",
        "{{ with }}x{{ end }}",
        r#"{{ "unterminated }}"#,
        r#"{{ printf "%d" ( 1 }}"#,
        "{{ if }}x{{ end }}",
        r#"{{ define "a" }}"#,
        "{{ template }}",
        // (`{{ .Labels.job | }}` is refused too, as Go since 1.20 does; the promtool of
        // Debian 12 was built with an older Go that took it, so it is not in this table.)
        "{{ | humanize }}",
        r#"{{ range $i, $v, $w := query "up" }}{{ end }}"#,
        "{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
        "{{/* unclosed comment }}",
        "{{ 1.2.3 }}",
        "{{ $labels.job }}{{ end }}",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    let mut disagreements = Vec::new();
    for (text, expected_valid) in
        valid.iter().map(|t| (t, true)).chain(broken.iter().map(|t| (t, false)))
    {
        // JSON is YAML: the template needs no quoting rules of its own.
        let file = serde_json::json!({"groups": [{"name": "t", "rules": [
            {"alert": "T", "expr": "up == 0", "annotations": {"summary": text}}
        ]}]});
        std::fs::write(&path, file.to_string()).unwrap();
        let promtool = test_support::promtool_check_rules(&path);
        let spec = RuleSpec { summary: (*text).to_owned(), ..RuleSpec::alert("up == 0") };
        let ours = spec.validate();
        if promtool.is_ok() != expected_valid || ours.is_ok() != promtool.is_ok() {
            disagreements.push(format!("{text}: promtool {promtool:?}, ours {ours:?}"));
        }
        if let Err(errors) = ours {
            assert!(errors.fields().contains_key("summary"), "the field is named: {errors}");
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));

    // Every alert text is a template: severity, label values, other annotations.
    let spec = RuleSpec {
        severity: "{{ end }}".into(),
        labels: BTreeMap::from([("team".into(), "{{ $nope }}".into())]),
        annotations: BTreeMap::from([("runbook".into(), "{{ nofunc }}".into())]),
        ..RuleSpec::alert("up == 0")
    };
    let errors = spec.validate().unwrap_err();
    let fields: Vec<&String> = errors.fields().keys().collect();
    assert_eq!(fields, ["annotations.runbook", "labels.team", "severity"], "{errors}");
}

fn deployments_list_newest_first_with_filters_and_pages(db: &TestDb) {
    let store = &db.store;
    let host = |name: &str, outcome: &str| DeploymentHost {
        deployment_id: 0,
        host: name.into(),
        outcome: outcome.into(),
        message: String::new(),
        content_hash: String::new(),
        lines_added: 0,
        lines_removed: 0,
        duration_ms: 1,
        finished_at: chrono::NaiveDateTime::default(),
        revision: None,
        locked_at: None,
        released_at: None,
        targets_hash: None,
    };
    let mut ids = Vec::new();
    for (actor, hosts, succeeded) in [
        ("ci", vec![("prom-a", "deployed"), ("prom-b", "deployed")], true),
        ("ops", vec![("prom-a", "failed")], false),
        ("ci", vec![("prom-b", "unchanged")], true),
    ] {
        let id = store.start_deployment(actor, &serde_json::json!({})).unwrap();
        for (name, outcome) in hosts {
            store.record_deployment_host(id, &host(name, outcome)).unwrap();
        }
        store.finish_deployment(id, succeeded, "done").unwrap();
        ids.push(id);
    }
    let running = store.start_deployment("ci", &serde_json::json!({})).unwrap();
    let list = |filter: DeploymentFilter, limit: Option<i64>, offset: i64| {
        let (deployments, total) = store.list_deployments(&filter, Page { limit, offset }).unwrap();
        (deployments.iter().map(|d| d.id).collect::<Vec<_>>(), total)
    };
    let all = DeploymentFilter::default();
    assert_eq!(list(all.clone(), None, 0), (vec![running, ids[2], ids[1], ids[0]], 4));
    assert_eq!(list(all.clone(), Some(2), 1), (vec![ids[2], ids[1]], 4), "a page");
    let by_host = DeploymentFilter { host: Some("prom-a".into()), ..all.clone() };
    assert_eq!(list(by_host, None, 0), (vec![ids[1], ids[0]], 2));
    let failed_hosts = DeploymentFilter { outcome: Some("failed".into()), ..all.clone() };
    assert_eq!(list(failed_hosts, None, 0), (vec![ids[1]], 1));
    let ci_done = DeploymentFilter {
        actor: Some("ci".into()),
        status: Some("succeeded".into()),
        ..all.clone()
    };
    assert_eq!(list(ci_done, None, 0), (vec![ids[2], ids[0]], 2));
    let nobody = DeploymentFilter { actor: Some("nobody".into()), ..all.clone() };
    assert_eq!(list(nobody, None, 0), (vec![], 0));
    let hour = chrono::Duration::hours(1);
    let recent = DeploymentFilter { since: Some(chrono::Utc::now() - hour), ..all.clone() };
    assert_eq!(list(recent, None, 0).1, 4);
    let future = DeploymentFilter { since: Some(chrono::Utc::now() + hour), ..all.clone() };
    assert_eq!(list(future, None, 0), (vec![], 0));
    // From the second one's start on: exactly those that started then or later.
    let (every, _) = store.list_deployments(&all, Page { limit: None, offset: 0 }).unwrap();
    let cut = store.get_deployment(ids[1]).unwrap().started_at;
    let expected: Vec<i64> = every.iter().filter(|d| d.started_at >= cut).map(|d| d.id).collect();
    assert!(expected.contains(&ids[1]) && !expected.is_empty());
    let from_second = DeploymentFilter { since: Some(cut), ..all };
    assert_eq!(list(from_second, None, 0).0, expected);

    // Each listed deployment carries its hosts, as `get_deployment` does.
    let (listed, _) = store
        .list_deployments(&DeploymentFilter::default(), Page { limit: None, offset: 0 })
        .unwrap();
    let first = listed.iter().find(|d| d.id == ids[0]).unwrap();
    assert_eq!(*first, store.get_deployment(ids[0]).unwrap());
    assert_eq!(first.hosts.len(), 2);
}
