//! End-to-end benchmark of `promrules-export targets`: 1,000 hosts × 3 exporters (3,000
//! targets) in a SQLite database, the whole process from start to file written, read from
//! the database (`--database`) and through a promrules server (`--from`, served in this
//! process on 127.0.0.1).
//!
//! ```text
//! cargo build --release -p promrules-export
//! cargo run --release -p promrules-export --example export_bench
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use promrules_model::{Exporter, Farm, Project, Service, Shard, Store};

const PROJECTS: usize = 10;
const HOSTS_PER_FARM: usize = 100;
const RUNS: usize = 50;

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn main() {
    let binary =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/promrules-export");
    assert!(binary.exists(), "build it first: cargo build --release -p promrules-export");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db").display().to_string();
    let store = seed(&db);
    let out = dir.path().join("targets.json");
    let out_arg = out.display().to_string();

    let direct = measure(&binary, &out, &["targets", &out_arg, "--database", &db]);
    let targets =
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&out).unwrap()).unwrap();
    let count: usize =
        targets.as_array().unwrap().iter().map(|g| g["targets"].as_array().unwrap().len()).sum();
    assert_eq!(count, PROJECTS * HOSTS_PER_FARM * 3);
    println!("{count} targets, {} bytes", std::fs::metadata(&out).unwrap().len());
    report("--database (SQLite)", &direct);

    let app = promrules_api::router(promrules_api::AppState::new(store, Default::default()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    let served = measure(&binary, &out, &["targets", &out_arg, "--from", &base]);
    report("--from (server on 127.0.0.1)", &served);
}

fn seed(db: &str) -> Store {
    let store = Store::open(db).unwrap();
    store.create_shard(&Shard { name: "bench-shard".into() }).unwrap();
    store.create_service(&Service { name: "bench-service".into() }).unwrap();
    for p in 0..PROJECTS {
        let hosts =
            (0..HOSTS_PER_FARM).map(|h| format!("host{:04}.example.com", p * HOSTS_PER_FARM + h));
        store.create_farm(&Farm::new(format!("farm-{p:02}"), hosts)).unwrap();
        let project = Project::new(format!("project-{p:02}"), "bench-service", "bench-shard");
        store.create_project(&project.in_farm(format!("farm-{p:02}"))).unwrap();
        for (job, port, path) in [
            ("node", 9100, None),
            ("app", 8080, Some("/metrics?format=prometheus")),
            ("mysqld", 9104, None),
        ] {
            store
                .create_exporter(&Exporter {
                    path: path.map(Into::into),
                    ..Exporter::new(format!("project-{p:02}"), job, port)
                })
                .unwrap();
        }
    }
    store
}

/// Runs the export `RUNS` times (after one warm-up), removing the output first so that
/// every run writes it.
fn measure(binary: &Path, out: &Path, args: &[&str]) -> Vec<Duration> {
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..=RUNS {
        let _ = std::fs::remove_file(out);
        let start = Instant::now();
        let status = Command::new(binary)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .status()
            .unwrap();
        let elapsed = start.elapsed();
        assert!(status.success() && out.exists());
        if run > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    times
}

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn report(what: &str, times: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: {} runs, min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        times.len(),
        ms(times[0]),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(times[times.len() - 1])
    );
}
