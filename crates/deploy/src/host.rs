//! Host descriptions: where a Prometheus server is, how to reach it over SSH, where its
//! managed rule file lives and how to reload it. They come from a YAML inventory file or
//! from the server's database (as the same JSON shape).

use std::path::{Path, PathBuf};

use promrules_prometheus::Auth as PrometheusAuth;
use serde::{Deserialize, Serialize};

use crate::error::InventoryError;

/// How strictly the SSH host key is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// The key must already be in the known_hosts file (the default).
    #[default]
    Strict,
    /// An unknown host's key is added on first contact; a changed key is still refused.
    AcceptNew,
}

/// How Prometheus is told to reload: `http` or `{command: "..."}` in an inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReloadSpec", into = "ReloadSpec")]
pub enum ReloadMethod {
    /// `POST /-/reload` (needs `--web.enable-lifecycle`); the default.
    #[default]
    Http,
    /// A command run over SSH, such as `systemctl reload prometheus` or `pkill -HUP prometheus`.
    Command(String),
}

/// The written form of [`ReloadMethod`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ReloadSpec {
    Word(String),
    Command { command: String },
}

impl TryFrom<ReloadSpec> for ReloadMethod {
    type Error = String;

    fn try_from(spec: ReloadSpec) -> Result<ReloadMethod, String> {
        match spec {
            ReloadSpec::Word(word) if word == "http" => Ok(ReloadMethod::Http),
            ReloadSpec::Word(word) => {
                Err(format!("unknown reload method `{word}`: use `http` or `{{command: ...}}`"))
            }
            ReloadSpec::Command { command } => Ok(ReloadMethod::Command(command)),
        }
    }
}

impl From<ReloadMethod> for ReloadSpec {
    fn from(method: ReloadMethod) -> ReloadSpec {
        match method {
            ReloadMethod::Http => ReloadSpec::Word("http".to_owned()),
            ReloadMethod::Command(command) => ReloadSpec::Command { command },
        }
    }
}

/// One Prometheus server to deploy to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// A unique name, used in reports, locks and audit records.
    pub name: String,
    /// The SSH address (name or IP).
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub ssh_port: u16,
    /// The SSH user; `None` uses ssh's own default.
    #[serde(default)]
    pub ssh_user: Option<String>,
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file to check the host key against; `None` uses ssh's default.
    #[serde(default)]
    pub known_hosts_file: Option<PathBuf>,
    #[serde(default)]
    pub host_key_policy: HostKeyPolicy,
    /// A jump host, as `[user@]host[:port]`.
    #[serde(default)]
    pub jump_host: Option<String>,
    /// The absolute path of the managed rule file on the host.
    pub rule_file: PathBuf,
    /// The base URL of Prometheus's HTTP API, as seen from where the deployer runs.
    pub prometheus_url: String,
    #[serde(default)]
    pub prometheus_auth: Option<PrometheusAuth>,
    /// A CA certificate (PEM) for an HTTPS Prometheus URL with a private CA.
    #[serde(default)]
    pub prometheus_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub reload: ReloadMethod,
    /// The datasources (shards) whose rules this host gets, besides rules without one.
    #[serde(default)]
    pub datasources: Vec<i64>,
}

fn default_ssh_port() -> u16 {
    22
}

impl std::fmt::Debug for Host {
    /// Everything but the Prometheus credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("ssh_port", &self.ssh_port)
            .field("ssh_user", &self.ssh_user)
            .field("rule_file", &self.rule_file)
            .field("prometheus_url", &self.prometheus_url)
            .field("prometheus_auth", &self.prometheus_auth.as_ref().map(|_| "***"))
            .field("reload", &self.reload)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Checks the fields; `Err` names every bad field and its problem.
    pub fn validate(&self) -> Result<(), Vec<HostProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, problem: String| {
            problems.push(HostProblem { field, problem });
        };
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            problem("name", "must be non-empty and printable".to_owned());
        }
        if self.address.trim().is_empty()
            || self.address.starts_with('-')
            || self.address.contains(char::is_whitespace)
        {
            problem("address", format!("`{}` is not a host name or address", self.address));
        }
        if self.ssh_port == 0 {
            problem("ssh_port", "must be 1 to 65535".to_owned());
        }
        if !self.rule_file.is_absolute() || self.rule_file.file_name().is_none() {
            let path = self.rule_file.display();
            problem("rule_file", format!("`{path}` must be an absolute file path"));
        }
        if !(self.prometheus_url.starts_with("http://")
            || self.prometheus_url.starts_with("https://"))
        {
            let url = &self.prometheus_url;
            problem("prometheus_url", format!("`{url}` must start with http:// or https://"));
        }
        if let ReloadMethod::Command(command) = &self.reload
            && command.trim().is_empty()
        {
            problem("reload.command", "must not be empty".to_owned());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The rule file's directory (temp files and the backup folder go there).
    pub(crate) fn rule_dir(&self) -> &Path {
        self.rule_file.parent().unwrap_or(Path::new("/"))
    }

    pub(crate) fn rule_file_name(&self) -> String {
        self.rule_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// One bad field of a [`Host`]: the field as clients write it, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProblem {
    pub field: &'static str,
    pub problem: String,
}

impl std::fmt::Display for HostProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.field, self.problem)
    }
}

/// A YAML inventory file: `hosts: [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub hosts: Vec<Host>,
}

impl Inventory {
    /// Reads and checks an inventory file; host names must be unique.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| InventoryError::Read { path: path.to_owned(), source })?;
        Inventory::parse(&text)
            .map_err(|problem| InventoryError::Invalid { path: path.to_owned(), problem })
    }

    /// Parses inventory text.
    pub fn parse(text: &str) -> Result<Inventory, String> {
        let inventory: Inventory = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut names = std::collections::HashSet::new();
        for (index, host) in inventory.hosts.iter().enumerate() {
            if let Err(problems) = host.validate() {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(format!("hosts[{index}] (`{}`): {}", host.name, problems.join("; ")));
            }
            if !names.insert(host.name.as_str()) {
                return Err(format!("hosts[{index}]: the name `{}` is used twice", host.name));
            }
        }
        Ok(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_with_defaults_and_both_reload_methods() {
        let text = "hosts:\n- name: prom-a\n  address: 10.0.0.1\n  rule_file: /etc/prometheus/rules/promrules.yml\n  prometheus_url: http://10.0.0.1:9090\n- name: prom-b\n  address: prom-b.example\n  ssh_port: 2222\n  ssh_user: deploy\n  host_key_policy: accept-new\n  rule_file: /etc/prometheus/rules/promrules.yml\n  prometheus_url: https://prom-b.example:9090\n  prometheus_auth: {bearer_token: s3cret}\n  reload: {command: systemctl reload prometheus}\n  datasources: [1, 2]\n";
        let inventory = Inventory::parse(text).unwrap();
        let (a, b) = (&inventory.hosts[0], &inventory.hosts[1]);
        assert_eq!(
            (a.ssh_port, a.host_key_policy, &a.reload),
            (22, HostKeyPolicy::Strict, &ReloadMethod::Http)
        );
        assert_eq!(b.reload, ReloadMethod::Command("systemctl reload prometheus".into()));
        assert_eq!(b.host_key_policy, HostKeyPolicy::AcceptNew);
        assert!(!format!("{b:?}").contains("s3cret"), "credentials stay out of logs");
    }

    #[test]
    fn bad_inventories_are_named() {
        let base = "  address: h\n  rule_file: /r.yml\n  prometheus_url: http://h:9090\n";
        for (text, expected) in [
            (format!("hosts:\n- name: a\n{base}- name: a\n{base}"), "the name `a` is used twice"),
            ("hosts:\n- name: a\n  address: h\n  rule_file: rules.yml\n  prometheus_url: http://h\n".to_owned(), "must be an absolute file path"),
            ("hosts:\n- name: a\n  address: h\n  rule_file: /r.yml\n  prometheus_url: h:9090\n".to_owned(), "must start with http"),
            (format!("hosts:\n- name: a\n{base}  colour: red\n"), "unknown field `colour`"),
        ] {
            let error = Inventory::parse(&text).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
