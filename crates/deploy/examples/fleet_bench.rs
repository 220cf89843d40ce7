//! Deploy benchmark against simulated hosts (sshd + Prometheus each, on 127.0.0.x):
//! a 10,000-rule file to 1 and 10 hosts, a 100-rule file to 1 and 20 hosts, and
//! Prometheus's own reload time for the 10,000-rule file, measured in the same run.
//!
//! Run with: `cargo run --release -p promrules-deploy --example fleet_bench`
//! (needs the Debian packages openssh-server and prometheus; figures go to docs/benchmarks.md)
//!
//! All hosts share this machine's cores, so parallel reloads of a large file contend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use promrules_deploy::{DeployOptions, Deployer, Outcome};
use support::host;
use test_support::SimHost;

#[path = "../tests/support/mod.rs"]
mod support;

/// `rules` alert rules in groups of 100, tagged with `version` so each deploy changes them.
fn rule_file(rules: usize, version: u32) -> Vec<u8> {
    let mut text = String::from("groups:\n");
    for group in 0..rules.div_ceil(100) {
        text.push_str(&format!("- name: bench-{group:04}\n  rules:\n"));
        for rule in group * 100..((group + 1) * 100).min(rules) {
            text.push_str(&format!(
                "  - alert: BenchAlert{rule}\n    expr: up{{job=\"bench-{rule}\"}} == 0\n    for: 5m\n    labels:\n      severity: warning\n      version: v{version}\n    annotations:\n      summary: '{{{{ $labels.instance }}}} is down'\n"
            ));
        }
    }
    text.into_bytes()
}

fn main() {
    let started = Instant::now();
    let sims: Vec<SimHost> = std::thread::scope(|scope| {
        let starting: Vec<_> =
            (1..=20).map(|i| scope.spawn(move || SimHost::start(100 + i, ""))).collect();
        starting.into_iter().map(|h| h.join().unwrap()).collect()
    });
    report(&format!("started 20 simulated hosts in {:.1} s", started.elapsed().as_secs_f64()));
    let control = tempfile::tempdir().unwrap();
    let deployer = Arc::new(Deployer::new(control.path()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = DeployOptions { remote_promtool: false, ..DeployOptions::default() };
    let mut version = 0;
    let mut deploy = |hosts: usize, rules: usize| -> Duration {
        version += 1;
        let content = rule_file(rules, version);
        let targets = sims[..hosts].iter().map(|sim| (host(sim), content.clone())).collect();
        let started = Instant::now();
        let reports = runtime.block_on(deployer.deploy_fleet(targets, &options, 20, |_| {}));
        let elapsed = started.elapsed();
        for r in &reports {
            assert_eq!(r.outcome, Outcome::Deployed, "{}: {}", r.host, r.message);
        }
        elapsed
    };

    // Warm up every host's SSH and Prometheus. The small file goes first: once hosts hold
    // 10,000 rules, they evaluate them every second and load both cores.
    deploy(20, 100);
    let one_small = median((0..5).map(|_| deploy(1, 100)).collect());
    let twenty_small = median((0..3).map(|_| deploy(20, 100)).collect());
    deploy(1, 10_000);

    // Prometheus alone: put the next file in place locally and time POST /-/reload.
    let mut bare = Vec::new();
    for round in 0..3 {
        std::fs::write(sims[0].rule_file(), rule_file(10_000, 1000 + round)).unwrap();
        let started = Instant::now();
        promrules_prometheus::Prometheus::new(&sims[0].prometheus_url()).request_reload().unwrap();
        bare.push(started.elapsed());
    }
    let bare_reload = median(bare);

    let one_big = median((0..3).map(|_| deploy(1, 10_000)).collect());
    let ten_big = deploy(10, 10_000);

    report(&format!(
        "bare reload of the 10,000-rule file (median of 3): {:.2} s",
        bare_reload.as_secs_f64()
    ));
    report(&format!(
        "10,000 rules to 1 host (median of 3): {:.2} s = bare reload + {:.2} s (target: <= 1.2 x bare + 0.3 s = {:.2} s)",
        one_big.as_secs_f64(),
        (one_big.as_secs_f64() - bare_reload.as_secs_f64()),
        bare_reload.as_secs_f64() * 1.2 + 0.3
    ));
    report(&format!(
        "10,000 rules to 10 hosts: {:.2} s (10 reloads sharing 2 cores)",
        ten_big.as_secs_f64()
    ));
    report(&format!("100 rules to 1 host (median of 5): {:.3} s", one_small.as_secs_f64()));
    report(&format!(
        "100 rules to 20 hosts (median of 3): {:.3} s = {:.2} x the 1-host time (target: <= 2 x)",
        twenty_small.as_secs_f64(),
        twenty_small.as_secs_f64() / one_small.as_secs_f64()
    ));
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn report(line: &str) {
    println!("{line}");
}
