//! The cost of one rule create without HTTP: validation alone, and `Store::create_rule` on
//! a SQLite file with durable commits (WAL, `synchronous = FULL`), as the server runs it.
//!
//! Run with: `cargo bench -p promrules-model`; figures in docs/benchmarks.md.

use criterion::{Criterion, criterion_group, criterion_main};
use promrules_model::{RuleSpec, Store};

/// The rule of the REST benchmark (`crates/api/benches/rule.json`).
fn rule() -> RuleSpec {
    serde_json::from_str(include_str!("../../api/benches/rule.json")).unwrap()
}

fn bench_create(c: &mut Criterion) {
    let spec = rule();
    c.bench_function("validate", |b| b.iter(|| spec.validate().unwrap()));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db").display().to_string()).unwrap();
    c.bench_function("create_rule/sqlite", |b| b.iter(|| store.create_rule(&spec).unwrap()));
}

criterion_group!(benches, bench_create);
criterion_main!(benches);
