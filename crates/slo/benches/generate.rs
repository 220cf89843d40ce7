//! 1,000 SLOs (17,000 generated rules): generating them (each validated: every query and
//! rule parsed as PromQL) and rendering them, beside the renderer on as many rules of its
//! own corpus in the same run.
//!
//! Run with: `cargo bench -p promrules-slo`; figures in docs/benchmarks.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promrules_slo::{Slo, generate};
use promrules_yaml::{HealLabel, RenderOptions, RuleFile, render};

#[path = "../../yaml/tests/support/corpus.rs"]
mod corpus;

fn slos(count: usize) -> Vec<Slo> {
    (0..count)
        .map(|i| {
            let mut slo = Slo::events(
                &format!("service-{:03}", i / 4),
                &format!("slo-{i}"),
                99.9,
                &format!(
                    r#"sum(rate(http_requests_total{{job="svc{i}",code=~"5.."}}[{{{{.window}}}}]))"#
                ),
                &format!(r#"sum(rate(http_requests_total{{job="svc{i}"}}[{{{{.window}}}}]))"#),
            );
            slo.alerting.name = format!("Slo{i}BudgetBurn");
            slo
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let slos = slos(1_000);
    let files: Vec<_> = slos.iter().flat_map(|slo| generate(slo).unwrap()).collect();
    let rules: usize = files.iter().map(|group| group.rules.len()).sum();
    let file = RuleFile { groups: files };
    let (corpus_rules, corpus_groups) = corpus::corpus(rules);
    let mut group = c.benchmark_group("slo");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rules as u64));
    group.bench_function("generate 1000 SLOs", |b| {
        b.iter(|| slos.iter().map(|slo| generate(slo).unwrap().len()).sum::<usize>())
    });
    group.bench_function("render 1000 SLOs", |b| b.iter(|| file.render(&HealLabel::default())));
    group.bench_function("render as many corpus rules", |b| {
        b.iter(|| render(&corpus_rules, &corpus_groups, &RenderOptions::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
