//! Reload fan-out benchmark of `promrules-export` (`--reload` repeated, or every address of
//! a name): ten real Prometheus servers on 127.0.0.11 to .20 read the same 2,000-rule file
//! (each its own copy), and a new version of it is reloaded and verified on one server, on
//! all ten one after another (what the export did before), and on all ten at once (what
//! `Reloads` does now), alternating, three rounds each, all in one run.
//!
//! ```text
//! cargo run --release -p promrules-export --example fanout_bench
//! ```
//!
//! All servers share this machine's cores, so ten reloads at once contend for them.

use std::time::{Duration, Instant};

use promrules_export::Reloads;
use promrules_prometheus::Prometheus;
use test_support::SimHost;

const SERVERS: u8 = 10;
const RULES: usize = 2_000;
const ROUNDS: u32 = 3;

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
fn main() {
    let started = Instant::now();
    let hosts = SimHost::start_many(1, SERVERS, "");
    println!("started {SERVERS} Prometheus servers in {:.1} s", started.elapsed().as_secs_f64());
    let servers: Vec<Prometheus> =
        hosts.iter().map(|host| Prometheus::new(&host.prometheus_url())).collect();
    let mut version = 0;
    let mut reload = |hosts: &[SimHost], reloads: &[Reloads]| -> Duration {
        version += 1;
        let content = rule_file(version);
        for host in hosts {
            std::fs::write(host.rule_file(), &content).unwrap();
        }
        let started = Instant::now();
        for round in reloads {
            let reloaded = round.reload().unwrap();
            assert_eq!(reloaded.len(), round.servers.len());
        }
        started.elapsed()
    };
    let one = [Reloads::one(servers[0].clone())];
    let in_turn: Vec<Reloads> = servers.iter().cloned().map(Reloads::one).collect();
    let at_once = [Reloads { servers: servers.clone(), all_addresses: false }];
    reload(&hosts, &at_once); // every server holds the big file before the first figure
    let (mut ones, mut turns, mut onces) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ones.push(reload(&hosts[..1], &one));
        turns.push(reload(&hosts, &in_turn));
        onces.push(reload(&hosts, &at_once));
    }
    let (one, in_turn, at_once) = (median(ones), median(turns), median(onces));
    println!(
        "{RULES} rules, reload and verify (median of {ROUNDS}): 1 server {:.2} s; {SERVERS} one after another {:.2} s; {SERVERS} at once {:.2} s = {:.1}x one server, {:.1}x faster than one after another",
        one.as_secs_f64(),
        in_turn.as_secs_f64(),
        at_once.as_secs_f64(),
        at_once.as_secs_f64() / one.as_secs_f64(),
        in_turn.as_secs_f64() / at_once.as_secs_f64(),
    );
}

/// `RULES` alert rules in groups of 100, tagged with `version` so each round changes them;
/// a long interval keeps ten servers from evaluating them between rounds.
fn rule_file(version: u32) -> String {
    let mut text = String::from("groups:\n");
    for group in 0..RULES / 100 {
        text.push_str(&format!("- name: fanout-{group:03}\n  interval: 10m\n  rules:\n"));
        for rule in group * 100..(group + 1) * 100 {
            text.push_str(&format!(
                "  - alert: FanOut{rule}\n    expr: up{{job=\"fanout-{rule}\"}} == 0\n    labels:\n      version: v{version}\n"
            ));
        }
    }
    text
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
