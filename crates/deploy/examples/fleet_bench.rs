//! Deploy benchmark against simulated hosts (sshd + Prometheus each, on 127.0.0.x): a
//! 100-rule file to 1 and 20 hosts, first deploy (new SSH connections) and steady state
//! (connections kept), and a 10,000-rule file to 1 and 10 hosts against Prometheus's own
//! reload of it on 1 and on 10 hosts at once, all measured in the same run.
//!
//! Run with: `cargo run --release -p promrules-deploy --example fleet_bench`
//! (needs the Debian packages openssh-server and prometheus; figures go to docs/benchmarks.md)
//!
//! All hosts share this machine's cores, so parallel reloads of a large file contend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use promrules_deploy::{DeployOptions, Deployer, Outcome, RemotePromtool};
use support::{host, rule_file};
use test_support::SimHost;

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let started = Instant::now();
    let sims: Vec<SimHost> = std::thread::scope(|scope| {
        let starting: Vec<_> =
            (1..=20).map(|i| scope.spawn(move || SimHost::start(100 + i, ""))).collect();
        starting.into_iter().map(|h| h.join().unwrap()).collect()
    });
    report(&format!("started 20 simulated hosts in {:.1} s", started.elapsed().as_secs_f64()));
    let control = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The default: promtool where the deploy runs (the same 2.42 as the hosts), once per file.
    let options = DeployOptions::default();
    let mut version = 0;
    let mut deploy_with = |deployer: &Arc<Deployer>,
                           options: &DeployOptions,
                           hosts: usize,
                           rules: usize|
     -> Duration {
        version += 1;
        let content = rule_file(rules, version);
        let targets = sims[..hosts].iter().map(|sim| (host(sim), content.clone())).collect();
        let started = Instant::now();
        let reports = runtime.block_on(deployer.deploy_fleet(targets, options, 20, |_| {}));
        let elapsed = started.elapsed();
        for r in &reports {
            assert_eq!(r.outcome, Outcome::Deployed, "{}: {}", r.host, r.message);
        }
        elapsed
    };
    let unchecked_options =
        DeployOptions { remote_promtool: RemotePromtool::Never, ..DeployOptions::default() };
    // A first deploy: every connection new (a deployer that keeps none).
    let cold = Arc::new(Deployer::new(control.path()).with_idle_time(Duration::ZERO));
    // Steady state: the connections of the previous deploy, kept open.
    let kept = Arc::new(Deployer::new(control.path()));

    // The small file goes first: once hosts hold 10,000 rules, they evaluate them every
    // second and load both cores.
    deploy_with(&cold, &options, 20, 100);
    let first_one = median((0..5).map(|_| deploy_with(&cold, &options, 1, 100)).collect());
    let first_twenty = median((0..3).map(|_| deploy_with(&cold, &options, 20, 100)).collect());
    deploy_with(&kept, &options, 20, 100);
    let steady_one = median((0..5).map(|_| deploy_with(&kept, &options, 1, 100)).collect());
    let steady_twenty = median((0..3).map(|_| deploy_with(&kept, &options, 20, 100)).collect());
    // Where the time goes: the CPU every process on the machine used during steady-state
    // deploys (this one, the hosts' sshd, sftp-servers and Prometheus servers), against the
    // wall time. Busy cores for the whole deploy mean the fleet is bound by this machine's
    // cores, which real hosts would not share.
    let mut cpu = |hosts: usize| {
        let (busy, own) = (machine_busy(), own_cpu());
        let wall = median((0..3).map(|_| deploy_with(&kept, &options, hosts, 100)).collect());
        let busy = (machine_busy() - busy) / 3.0;
        let own = (own_cpu() - own) / 3.0;
        (wall, busy, own)
    };
    let (wall_one, busy_one, own_one) = cpu(1);
    let (wall_twenty, busy_twenty, own_twenty) = cpu(20);
    // Prometheus alone: put the next file in place locally and time POST /-/reload, on one
    // host, then on ten at once.
    let bare_reload = |hosts: usize, round: u32| -> Duration {
        let content = rule_file(10_000, 1000 + round);
        for sim in &sims[..hosts] {
            std::fs::write(sim.rule_file(), &content).unwrap();
        }
        let started = Instant::now();
        std::thread::scope(|scope| {
            for sim in &sims[..hosts] {
                scope.spawn(move || {
                    promrules_prometheus::Prometheus::new(&sim.prometheus_url())
                        .request_reload()
                        .unwrap()
                });
            }
        });
        started.elapsed()
    };
    deploy_with(&kept, &options, 1, 10_000);
    let bare_one = median((0..3).map(|round| bare_reload(1, round)).collect());
    let one_big = median((0..3).map(|_| deploy_with(&kept, &options, 1, 10_000)).collect());
    let unchecked = Arc::new(Deployer::new(control.path()).with_promtools(Vec::new()));
    deploy_with(&unchecked, &unchecked_options, 1, 100);
    let one_big_unchecked =
        median((0..3).map(|_| deploy_with(&unchecked, &unchecked_options, 1, 10_000)).collect());
    let bare_ten = bare_reload(10, 10);
    let ten_big = deploy_with(&kept, &options, 10, 10_000);
    let bare_ten_again = bare_reload(10, 11);

    report(&format!(
        "100 rules, first deploy (new connections): 1 host {:.3} s (median of 5), 20 hosts {:.3} s (median of 3) = {:.2} x",
        first_one.as_secs_f64(),
        first_twenty.as_secs_f64(),
        first_twenty.as_secs_f64() / first_one.as_secs_f64()
    ));
    report(&format!(
        "100 rules, steady state (kept connections): 1 host {:.3} s (median of 5), 20 hosts {:.3} s (median of 3) = {:.2} x (target: <= 2 x)",
        steady_one.as_secs_f64(),
        steady_twenty.as_secs_f64(),
        steady_twenty.as_secs_f64() / steady_one.as_secs_f64()
    ));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    report(&format!(
        "100 rules, steady state, CPU per deploy (mean of 3): 1 host {busy_one:.3} core-s ({own_one:.3} s in the deployer) in {:.3} s; 20 hosts {busy_twenty:.3} core-s ({own_twenty:.3} s in the deployer) in {:.3} s, on {cores} cores: the cores alone take at least {:.3} s",
        wall_one.as_secs_f64(),
        wall_twenty.as_secs_f64(),
        busy_twenty / cores,
    ));
    report(&format!(
        "10,000 rules to 1 host (median of 3): {:.2} s checked by promtool here, {:.2} s unchecked; bare reload (median of 3) {:.2} s (target: <= 1.2 x bare + 0.3 s = {:.2} s)",
        one_big.as_secs_f64(),
        one_big_unchecked.as_secs_f64(),
        bare_one.as_secs_f64(),
        bare_one.as_secs_f64() * 1.2 + 0.3
    ));
    report(&format!(
        "10,000 rules to 10 hosts: {:.2} s; 10 bare parallel reloads {:.2} s before, {:.2} s after = {:.2} x their mean (target: <= 1.3 x)",
        ten_big.as_secs_f64(),
        bare_ten.as_secs_f64(),
        bare_ten_again.as_secs_f64(),
        ten_big.as_secs_f64() / ((bare_ten + bare_ten_again).as_secs_f64() / 2.0)
    ));
    runtime.block_on(kept.shutdown());
}

/// Seconds every core of the machine spent busy so far (`/proc/stat`: all but idle and
/// iowait).
fn machine_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap())
        .collect();
    let (total, idle): (f64, f64) = (ticks.iter().sum(), ticks[3] + ticks[4]);
    (total - idle) / clock_ticks()
}

/// Seconds of CPU this process used so far (user and system, `/proc/self/stat`).
fn own_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / clock_ticks()
}

/// `USER_HZ`, the unit of `/proc`'s CPU times (100 on Linux).
fn clock_ticks() -> f64 {
    100.0
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn report(line: &str) {
    println!("{line}");
}
