//! The deploy description of a simulated host, and the benchmarks' rule files; shared by
//! the tests and the fleet benchmarks.

use promrules_deploy::{Host, HostKeyPolicy, ReloadMethod};
use test_support::{SimHost, client_key};

/// How to reach `sim`: root over SSH with the test key, its known_hosts, its rule file.
pub(crate) fn host(sim: &SimHost) -> Host {
    Host {
        name: sim.name.clone(),
        address: sim.ip.clone(),
        ssh_port: sim.ssh_port,
        ssh_user: Some("root".into()),
        identity_file: Some(client_key().to_owned()),
        known_hosts_file: Some(sim.known_hosts_file()),
        host_key_policy: HostKeyPolicy::Strict,
        jump_host: None,
        rule_file: sim.rule_file(),
        prometheus_url: sim.prometheus_url(),
        prometheus_auth: None,
        prometheus_ca_file: None,
        reload: ReloadMethod::Http,
        datasources: Vec::new(),
        remote_promtool: None,
        targets_file: None,
        verify_targets: false,
    }
}

/// `rules` alert rules in groups of 100, tagged with `version` so each deploy changes them.
#[allow(dead_code, reason = "the benchmarks' files; the tests write their own")]
pub(crate) fn rule_file(rules: usize, version: u32) -> Vec<u8> {
    let mut text = String::from("groups:\n");
    for group in 0..rules.div_ceil(100) {
        // A long interval: hosts holding 10,000 rules would otherwise evaluate them every
        // second (the test hosts' global interval) and load both cores for every later step.
        text.push_str(&format!("- name: bench-{group:04}\n  interval: 10m\n  rules:\n"));
        for rule in group * 100..((group + 1) * 100).min(rules) {
            text.push_str(&format!(
                "  - alert: BenchAlert{rule}\n    expr: up{{job=\"bench-{rule}\"}} == 0\n    for: 5m\n    labels:\n      severity: warning\n      version: v{version}\n    annotations:\n      summary: '{{{{ $labels.instance }}}} is down'\n"
            ));
        }
    }
    text.into_bytes()
}
