//! Host descriptions: where a Prometheus server is, how to reach it over SSH, where its
//! managed rule file lives and how to reload it. They come from a YAML inventory file or
//! from the server's database (as the same JSON shape).

use std::path::{Path, PathBuf};

use promrules_prometheus::Auth as PrometheusAuth;
use serde::{Deserialize, Serialize};

use crate::error::InventoryError;

/// Where `promtool check rules` runs on a new file before it replaces the live one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemotePromtool {
    /// On the host, with its own promtool (when it has one), for every deploy.
    Always,
    /// Once per distinct file, where the deploy runs, with a promtool of the host's
    /// Prometheus major.minor version; on the host only when there is no such promtool.
    #[default]
    Auto,
    /// Never on the host: where the deploy runs when a matching promtool exists, else not
    /// at all (the reload is the check).
    Never,
}

impl std::str::FromStr for RemotePromtool {
    type Err = String;

    fn from_str(text: &str) -> Result<RemotePromtool, String> {
        match text {
            "always" => Ok(RemotePromtool::Always),
            "auto" => Ok(RemotePromtool::Auto),
            "never" => Ok(RemotePromtool::Never),
            other => Err(format!("`{other}` is not always, auto or never")),
        }
    }
}

/// How strictly the SSH host key is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Where promtool checks this host's files; `None` follows the deploy's option.
    #[serde(default)]
    pub remote_promtool: Option<RemotePromtool>,
    /// The absolute path of a `file_sd` target file that deploys keep on the host beside
    /// the rules (Promgen's push model, without a worker on the host): the targets of its
    /// `datasources` (shards), or of every shard when it names none. `None`: not pushed.
    #[serde(default)]
    pub targets_file: Option<PathBuf>,
    /// After a new target file, wait until Prometheus's `/api/v1/targets` has discovered
    /// every target in it (else restore the previous file).
    #[serde(default)]
    pub verify_targets: bool,
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
            .field("targets_file", &self.targets_file)
            .field("prometheus_url", &self.prometheus_url)
            .field("prometheus_auth", &self.prometheus_auth.as_ref().map(|_| "***"))
            .field("reload", &self.reload)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// The client of this host's Prometheus: its URL, credentials and CA, each request
    /// bounded by `timeout`. Every caller that asks a host's Prometheus builds it here.
    pub fn prometheus(
        &self,
        timeout: std::time::Duration,
    ) -> Result<promrules_prometheus::Prometheus, promrules_prometheus::PrometheusError> {
        let mut prometheus = promrules_prometheus::Prometheus::new(&self.prometheus_url)
            .with_transport(timeout, self.prometheus_ca_file.as_deref())?;
        if let Some(auth) = &self.prometheus_auth {
            prometheus = prometheus.with_auth(auth.clone());
        }
        Ok(prometheus)
    }

    /// Checks the fields; `Err` names every bad field and its problem.
    pub fn validate(&self) -> Result<(), Vec<HostProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, problem: String| {
            problems.push(HostProblem { field, problem });
        };
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            problem("name", "must be non-empty and printable".to_owned());
        }
        if let Err(why) = check_host_name(&self.address) {
            problem("address", format!("`{}` {why}", printable(&self.address)));
        }
        if self.ssh_port == 0 {
            problem("ssh_port", "must be 1 to 65535".to_owned());
        }
        if let Some(user) = &self.ssh_user
            && let Err(why) = check_user(user)
        {
            problem("ssh_user", format!("`{}` {why}", printable(user)));
        }
        if let Some(jump) = &self.jump_host
            && let Err(why) = check_jump_host(jump)
        {
            problem("jump_host", format!("`{}` {why}", printable(jump)));
        }
        let paths = [
            ("rule_file", Some(&self.rule_file)),
            ("targets_file", self.targets_file.as_ref()),
            ("identity_file", self.identity_file.as_ref()),
            ("known_hosts_file", self.known_hosts_file.as_ref()),
            ("prometheus_ca_file", self.prometheus_ca_file.as_ref()),
        ];
        for (field, path) in paths {
            if let Some(path) = path
                && let Err(why) = check_path(path)
            {
                problem(field, format!("`{}` {why}", printable(&path.to_string_lossy())));
            }
        }
        if self.targets_file.as_ref() == Some(&self.rule_file) {
            problem("targets_file", "must not be the rule file".to_owned());
        }
        if self.verify_targets && self.targets_file.is_none() {
            problem("verify_targets", "needs a `targets_file`".to_owned());
        }
        if let Err(why) = check_url(&self.prometheus_url) {
            problem("prometheus_url", format!("`{}` {why}", printable(&self.prometheus_url)));
        }
        if let Some(auth) = &self.prometheus_auth
            && let Err(why) = check_auth(auth)
        {
            problem("prometheus_auth", why.to_owned());
        }
        if let ReloadMethod::Command(command) = &self.reload {
            if command.trim().is_empty() {
                problem("reload.command", "must not be empty".to_owned());
            } else if command.chars().any(char::is_control) {
                problem("reload.command", "must be one line without control characters".to_owned());
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

/// Where a managed file's temp file and backups go: beside it, named after it.
#[derive(Debug, Clone)]
pub(crate) struct Managed<'a> {
    pub(crate) path: &'a Path,
    /// `.<name>.promrules-tmp` in the same directory (a rename there is atomic).
    pub(crate) temp: PathBuf,
    /// `.promrules-backups/` in the same directory.
    pub(crate) backup_dir: PathBuf,
    pub(crate) name: String,
}

impl Managed<'_> {
    pub(crate) fn new(path: &Path) -> Managed<'_> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Managed {
            path,
            temp: dir.join(format!(".{name}.promrules-tmp")),
            backup_dir: dir.join(".promrules-backups"),
            name,
        }
    }

    /// A backup's path: where the glob checks look for a name a pattern must not cover.
    pub(crate) fn backup_example(&self) -> PathBuf {
        self.backup_dir.join(&self.name)
    }
}

/// A value as an error message may quote it: control characters (newlines that would forge
/// log lines among them) escaped, and at most 200 characters.
fn printable(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    match escaped.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &escaped[..end]),
        None => escaped,
    }
}

/// A DNS name or an IP address (IPv6 with or without brackets) that ssh takes as a host,
/// never as an option.
fn check_host_name(name: &str) -> Result<(), &'static str> {
    let bare = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if name.is_empty() || name.len() > 253 || !name.trim_end_matches('.').split('.').all(label_ok) {
        return Err("is not a host name or IP address (letters, digits, `-`, `_` and dots; \
                    no leading `-`)");
    }
    Ok(())
}

/// A login name as `useradd` allows it (plus upper case): no `-` first, no spaces, `@` or `:`.
fn check_user(user: &str) -> Result<(), &'static str> {
    let mut chars = user.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = user.len() <= 64
        && user
            .trim_end_matches('$')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err("is not a user name (letters, digits, `.`, `_`, `-`, not starting with `-` or `.`)")
    }
}

/// `[user@]host[:port]`, with `[…]` around an IPv6 address that has a port.
fn check_jump_host(jump: &str) -> Result<(), &'static str> {
    const SHAPE: &str = "is not `[user@]host[:port]`";
    let (user, rest) = match jump.rsplit_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, jump),
    };
    if let Some(user) = user {
        check_user(user).map_err(|_| SHAPE)?;
    }
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(SHAPE)?;
        match after {
            "" => (host, None),
            after => (host, Some(after.strip_prefix(':').ok_or(SHAPE)?)),
        }
    } else if rest.matches(':').count() > 1 {
        (rest, None) // a bare IPv6 address
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    check_host_name(host).map_err(|_| SHAPE)?;
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|port| port > 0)
    {
        return Err("has a port that is not 1 to 65535");
    }
    Ok(())
}

/// An absolute, normalized path of a file: no `.` or `..` parts, no `//`, no trailing `/`,
/// no control characters.
fn check_path(path: &Path) -> Result<(), &'static str> {
    let text = path.to_str().ok_or("must be UTF-8")?;
    if !path.is_absolute() || path.file_name().is_none() || text.ends_with('/') {
        return Err("must be an absolute file path");
    }
    if text.chars().any(char::is_control) {
        return Err("must not hold control characters (newlines, tabs)");
    }
    let normal = path
        .components()
        .skip(1)
        .all(|component| matches!(component, std::path::Component::Normal(_)));
    if !normal || text.contains("//") || text.contains("/./") {
        return Err("must be normalized (no `.`, `..` or empty parts)");
    }
    Ok(())
}

/// An `http(s)://` URL naming a host, without user info (credentials go in
/// `prometheus_auth`, where they are never shown), query or fragment.
fn check_url(text: &str) -> Result<(), &'static str> {
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err("must start with http:// or https://");
    }
    // The URL parser silently drops tabs and newlines; they are refused here instead.
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not hold spaces or control characters");
    }
    let url = url::Url::parse(text).map_err(|_| "is not a valid URL")?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials; set `prometheus_auth` instead");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(())
}

/// Credentials that fit in an `Authorization` header.
fn check_auth(auth: &PrometheusAuth) -> Result<(), &'static str> {
    let printable = |secret: &str| !secret.is_empty() && !secret.chars().any(char::is_control);
    match auth {
        PrometheusAuth::Bearer { bearer_token } if !printable(bearer_token) => {
            Err("`bearer_token` must be non-empty, without control characters")
        }
        PrometheusAuth::Basic { username, password }
            if !printable(username)
                || username.contains(':')
                || password.chars().any(char::is_control) =>
        {
            Err(
                "`username` (non-empty, without `:`) and `password` must not hold control characters",
            )
        }
        _ => Ok(()),
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

    /// A change to a valid host.
    type Edit = Box<dyn FnOnce(&mut Host)>;

    /// A host that passes, changed by `edit`: the problems `validate` names.
    fn problems_of(edit: impl FnOnce(&mut Host)) -> Vec<String> {
        let mut host = Inventory::parse(
            "hosts:\n- name: a\n  address: prom-a.example\n  rule_file: /etc/prometheus/rules/promrules.yml\n  prometheus_url: http://127.0.0.1:9090\n",
        )
        .unwrap()
        .hosts
        .remove(0);
        edit(&mut host);
        host.validate().err().unwrap_or_default().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_host_field_that_reaches_ssh_or_a_path_is_checked() {
        let path = |text: &str| Some(PathBuf::from(text));
        let refused: Vec<(&str, Edit)> = vec![
            ("address", Box::new(|h| h.address = "-oProxyCommand=sh".into())),
            ("address", Box::new(|h| h.address = "host;reboot".into())),
            ("address", Box::new(|h| h.address = "$(id)".into())),
            ("ssh_user", Box::new(|h| h.ssh_user = Some("-oProxyCommand=x".into()))),
            ("ssh_user", Box::new(|h| h.ssh_user = Some("root;id".into()))),
            ("ssh_user", Box::new(|h| h.ssh_user = Some("de ploy".into()))),
            ("ssh_user", Box::new(|h| h.ssh_user = Some("a\nb".into()))),
            ("jump_host", Box::new(|h| h.jump_host = Some("-J evil".into()))),
            ("jump_host", Box::new(|h| h.jump_host = Some("user@host:99999".into()))),
            ("jump_host", Box::new(|h| h.jump_host = Some("$(id)@bastion".into()))),
            ("jump_host", Box::new(|h| h.jump_host = Some("bastion,other".into()))),
            ("rule_file", Box::new(|h| h.rule_file = PathBuf::from("/etc/prometheus/../shadow"))),
            (
                "rule_file",
                Box::new(|h| h.rule_file = PathBuf::from("/etc/prometheus/rules/\nx.yml")),
            ),
            ("rule_file", Box::new(|h| h.rule_file = PathBuf::from("relative.yml"))),
            ("rule_file", Box::new(|h| h.rule_file = PathBuf::from("/etc/prometheus//r.yml"))),
            ("targets_file", Box::new(move |h| h.targets_file = path("targets/x.json"))),
            ("targets_file", Box::new(move |h| h.targets_file = path("/t/../x.json"))),
            ("targets_file", Box::new(|h| h.targets_file = Some(h.rule_file.clone()))),
            ("verify_targets", Box::new(|h| h.verify_targets = true)),
            ("identity_file", Box::new(move |h| h.identity_file = path("-i/key"))),
            ("identity_file", Box::new(move |h| h.identity_file = path("/keys/../id"))),
            ("known_hosts_file", Box::new(move |h| h.known_hosts_file = path("known_hosts"))),
            ("prometheus_ca_file", Box::new(move |h| h.prometheus_ca_file = path("/ca/./ca.pem"))),
            ("prometheus_url", Box::new(|h| h.prometheus_url = "http://".into())),
            ("prometheus_url", Box::new(|h| h.prometheus_url = "http://user:pw@h:9090".into())),
            ("prometheus_url", Box::new(|h| h.prometheus_url = "http://h:9090\n/x".into())),
            ("prometheus_url", Box::new(|h| h.prometheus_url = "ftp://h".into())),
            (
                "prometheus_auth",
                Box::new(|h| {
                    h.prometheus_auth =
                        Some(PrometheusAuth::Bearer { bearer_token: "a\r\nX-Evil: 1".into() })
                }),
            ),
            (
                "reload.command",
                Box::new(|h| h.reload = ReloadMethod::Command("true\nreboot".into())),
            ),
        ];
        for (field, edit) in refused {
            let problems = problems_of(edit);
            assert_eq!(problems.len(), 1, "{field}: {problems:?}");
            assert!(problems[0].starts_with(&format!("`{field}`")), "{field}: {problems:?}");
            assert!(!problems[0].contains('\n'), "problems are one line: {problems:?}");
        }

        let accepted: Vec<Edit> = vec![
            Box::new(|h| h.address = "10.0.0.1".into()),
            Box::new(|h| h.address = "::1".into()),
            Box::new(|h| h.address = "prom_b.internal.".into()),
            Box::new(|h| h.ssh_user = Some("deploy-bot.2".into())),
            Box::new(|h| h.jump_host = Some("ops@bastion.example:2222".into())),
            Box::new(|h| h.jump_host = Some("[::1]:22".into())),
            Box::new(|h| h.jump_host = Some("10.0.0.9".into())),
            Box::new(move |h| h.identity_file = path("/home/deploy/.ssh/id_ed25519")),
            Box::new(move |h| {
                h.targets_file = path("/etc/prometheus/targets/promrules.json");
                h.verify_targets = true;
            }),
            Box::new(|h| h.prometheus_url = "https://[::1]:9090/prometheus".into()),
            Box::new(|h| {
                h.prometheus_auth =
                    Some(PrometheusAuth::Basic { username: "u".into(), password: String::new() })
            }),
        ];
        for edit in accepted {
            assert_eq!(problems_of(edit), Vec::<String>::new());
        }
    }
}
