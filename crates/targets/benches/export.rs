//! The in-process parts of a target export at 1,000 hosts × 3 exporters: loading the model
//! from SQLite, and rendering it to `file_sd` JSON.
//!
//! Run with: `cargo bench -p promrules-targets`; the whole-process figures come from
//! `cargo run --release -p promrules-export --example export_bench`; both in
//! docs/benchmarks.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promrules_model::{Exporter, Farm, Project, Service, Shard, Store};
use promrules_targets::{Filter, file_sd, to_json};

fn seeded_store(dir: &std::path::Path) -> Store {
    let store = Store::open(&dir.join("bench.db").display().to_string()).unwrap();
    store.create_shard(&Shard { name: "bench-shard".into() }).unwrap();
    store.create_service(&Service { name: "bench-service".into() }).unwrap();
    for p in 0..10 {
        let hosts = (0..100).map(|h| format!("host{:04}.example.com", p * 100 + h));
        store.create_farm(&Farm::new(format!("farm-{p:02}"), hosts)).unwrap();
        let project = Project::new(format!("project-{p:02}"), "bench-service", "bench-shard")
            .in_farm(format!("farm-{p:02}"));
        store.create_project(&project).unwrap();
        for (job, port) in [("node", 9100), ("app", 8080), ("mysqld", 9104)] {
            store
                .create_exporter(&Exporter {
                    path: Some("/metrics?format=prometheus".into()),
                    ..Exporter::new(project.name.clone(), job, port)
                })
                .unwrap();
        }
    }
    store
}

fn bench_export(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let model = store.load_targets().unwrap();
    let mut group = c.benchmark_group("targets-3000");
    group.throughput(Throughput::Elements(3_000));
    group.bench_function("load_targets (SQLite)", |b| b.iter(|| store.load_targets().unwrap()));
    group.bench_function("file_sd + to_json", |b| {
        b.iter(|| to_json(&file_sd(&model, &Filter::default())))
    });
    group.finish();
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
