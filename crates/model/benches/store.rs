//! The store's write paths without HTTP: validation alone (with and without alert
//! templates); `Store::create_rule` on a SQLite
//! file with durable commits (WAL, `synchronous = FULL`), as the server runs it, each create
//! one revision; and `Store::import` of a 1,000-rule file (one transaction, one revision) on
//! SQLite and on a PostgreSQL the benchmark starts.
//!
//! Run with: `cargo bench -p promrules-model`; figures in docs/benchmarks.md.

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use promrules_model::{GroupSpec, GroupedRules, ImportOptions, RuleSpec, Store};

/// The rule of the REST benchmark (`crates/api/benches/rule.json`).
fn rule() -> RuleSpec {
    serde_json::from_str(include_str!("../../api/benches/rule.json")).unwrap()
}

fn bench_create(c: &mut Criterion) {
    let spec = rule();
    c.bench_function("validate", |b| b.iter(|| spec.validate().unwrap()));
    // The same rule without `{{`, so the template check is skipped: the difference is what
    // parsing one alert template costs.
    let plain = RuleSpec { summary: "Errors on an instance".into(), ..rule() };
    c.bench_function("validate/no_template", |b| b.iter(|| plain.validate().unwrap()));
    // A heavier alert: three templated annotations with a query, a range and a pipeline.
    let heavy = RuleSpec {
        description: r#"{{ with query "up" }}{{ range . }}{{ .Labels.job }} {{ end }}{{ end }}"#
            .into(),
        annotations: BTreeMap::from([("value".into(), "{{ $value | humanizePercentage }}".into())]),
        ..rule()
    };
    c.bench_function("validate/three_templates", |b| b.iter(|| heavy.validate().unwrap()));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db").display().to_string()).unwrap();
    c.bench_function("create_rule/sqlite", |b| b.iter(|| store.create_rule(&spec).unwrap()));
}

/// A 1,000-rule file in 20 groups, alerts with labels and annotations, as an import sees it.
fn thousand_rules() -> Vec<GroupedRules> {
    (0..20)
        .map(|group| GroupedRules {
            group: GroupSpec {
                interval: Some("1m".into()),
                ..GroupSpec::named(format!("team-{group}"))
            },
            rules: (0..50)
                .map(|i| RuleSpec {
                    name: Some(format!("Service{group}x{i}Down")),
                    for_duration: Some("5m".into()),
                    summary: "{{ $labels.instance }} is down".into(),
                    labels: BTreeMap::from([("team".into(), format!("t{group}"))]),
                    ..RuleSpec::alert(format!("up{{job=\"svc-{group}-{i}\"}} == 0"))
                })
                .collect(),
        })
        .collect()
}

fn bench_import(c: &mut Criterion) {
    let file = thousand_rules();
    let dir = tempfile::tempdir().unwrap();
    let postgres = test_support::Postgres::start();
    let mut group = c.benchmark_group("import_1000_rules");
    group.sample_size(10).throughput(Throughput::Elements(1_000));
    let mut count = 0;
    let mut fresh_sqlite = || {
        count += 1;
        Store::open(&dir.path().join(format!("import-{count}.db")).display().to_string()).unwrap()
    };
    group.bench_function("sqlite", |b| {
        b.iter_batched(
            &mut fresh_sqlite,
            |store| {
                assert_eq!(store.import(&file, ImportOptions::default()).unwrap().created, 1_000)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("postgres", |b| {
        b.iter_batched(
            || Store::open(&postgres.fresh_database()).unwrap(),
            |store| {
                assert_eq!(store.import(&file, ImportOptions::default()).unwrap().created, 1_000)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_create, bench_import);
criterion_main!(benches);
