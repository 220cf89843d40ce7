//! Rendering 1,000 to 100,000 rules, and parsing the 100,000-rule file back.
//!
//! Run with: `cargo bench -p promrules-yaml`; figures in docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promrules_yaml::{HealLabel, RenderOptions, parse, render};

#[path = "../tests/support/corpus.rs"]
mod corpus;

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    for count in [1_000, 10_000, 100_000] {
        let (rules, groups) = corpus::corpus(count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| render(&rules, &groups, &RenderOptions::default()))
        });
    }
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let (rules, groups) = corpus::corpus(100_000);
    let text = render(&rules, &groups, &RenderOptions::default());
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("100000", |b| {
        b.iter(|| parse(&text, "bench.yml", &HealLabel::default()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_render, bench_parse);
criterion_main!(benches);
