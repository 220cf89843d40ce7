//! A hundred simulated hosts (sshd + Prometheus each, on 127.0.0.150 to .249, all on this
//! machine): one deploy of a 100-rule file to all of them with bounded concurrency, its
//! progress as hosts complete, every host then checked to serve exactly the rules; and a
//! second deploy of the same file, which must find all hundred unchanged.
//!
//! Run with: `cargo run --release -p promrules-deploy --example fleet100`
//! (needs the Debian packages openssh-server and prometheus; figures go to docs/benchmarks.md)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use promrules_deploy::{DeployOptions, Deployer, Outcome};
use support::{host, rule_file};
use test_support::SimHost;

#[path = "../tests/support/mod.rs"]
mod support;

const CONCURRENCY: usize = 20;

fn main() {
    let started = Instant::now();
    let sims = SimHost::start_many(140, 100, "");
    report(&format!("started 100 simulated hosts in {:.1} s", started.elapsed().as_secs_f64()));
    let control = tempfile::tempdir().unwrap();
    let deployer = Arc::new(Deployer::new(control.path()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let content = rule_file(100, 1);
    let targets = || sims.iter().map(|sim| (host(sim), content.clone())).collect::<Vec<_>>();

    let done = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&done);
    let first = Instant::now();
    let reports = runtime.block_on(deployer.deploy_fleet(
        targets(),
        &DeployOptions::default(),
        CONCURRENCY,
        move |report| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            if n.is_multiple_of(10) {
                report_line(n, first, &report.host, report.outcome);
            }
        },
    ));
    let first = first.elapsed();
    let failed: Vec<_> = reports.iter().filter(|r| r.outcome != Outcome::Deployed).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let expected: Vec<String> = (0..100).map(|n| format!("BenchAlert{n}")).collect();
    for sim in &sims {
        assert_eq!(sim.loaded_rules(), expected, "{} serves exactly the rules", sim.name);
    }

    let again = Instant::now();
    let unchanged = runtime.block_on(deployer.deploy_fleet(
        targets(),
        &DeployOptions::default(),
        CONCURRENCY,
        |_| {},
    ));
    let again = again.elapsed();
    assert!(unchanged.iter().all(|r| r.outcome == Outcome::Unchanged), "{unchanged:?}");
    runtime.block_on(deployer.shutdown());

    report(&format!(
        "100 rules to 100 hosts, concurrency {CONCURRENCY}: {:.2} s ({:.3} s per ten hosts); every host serves exactly the 100 rules",
        first.as_secs_f64(),
        first.as_secs_f64() / 10.0
    ));
    report(&format!(
        "the same file again: all 100 unchanged in {:.2} s ({:.3} s per ten hosts)",
        again.as_secs_f64(),
        again.as_secs_f64() / 10.0
    ));
}

fn report_line(n: usize, since: Instant, host: &str, outcome: Outcome) {
    report(&format!(
        "  {n:>3}/100 after {:.2} s ({host}: {})",
        since.elapsed().as_secs_f64(),
        outcome.as_str()
    ));
}

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn report(line: &str) {
    println!("{line}");
}
