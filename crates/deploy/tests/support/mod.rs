//! The deploy description of a simulated host; shared by the tests and the fleet benchmark.

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
    }
}
