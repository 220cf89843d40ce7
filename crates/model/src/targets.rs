//! What Prometheus scrapes, in Promgen's model: shards (sets of Prometheus servers; a
//! rule's `datasource_id` names one), services, projects (one service, one shard, at most
//! one farm), farms (named sets of hosts), and exporters (a project's job on a port or a
//! range of ports).
//!
//! The types hold names, not ids, for their relations: this is the shape the target
//! exporter reads, whether it comes from the store or is built in code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate::{ValidationErrors, parse_duration};

/// The largest port range one exporter may cover.
pub const MAX_PORT_RANGE: u16 = 256;

/// A set of Prometheus servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub name: String,
}

/// A service, which owns projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
}

/// A named set of hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Farm {
    pub name: String,
    /// Where the farm's host list comes from; Promgen's own farms say `promgen`, and so do
    /// ours by default, so that relabel rules written for Promgen keep matching.
    #[serde(default = "default_farm_source")]
    pub source: String,
    #[serde(default)]
    pub hosts: Vec<String>,
}

fn default_farm_source() -> String {
    "promgen".to_owned()
}

/// A project: one service, one shard, at most one farm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: String,
    pub service: String,
    pub shard: String,
    #[serde(default)]
    pub farm: Option<String>,
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A project's exporter: a job scraped on a port (or each port of a range) of every host of
/// the project's farm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exporter {
    pub project: String,
    pub job: String,
    pub port: u16,
    /// The last port of a range (`port..=port_end`): one target per host and port, for an
    /// application whose workers each expose metrics on their own port.
    #[serde(default)]
    pub port_end: Option<u16>,
    /// The metrics path, which may carry a query string (`/probe?module=http_2xx`).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub scheme: Scheme,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub scrape_interval: Option<String>,
    #[serde(default)]
    pub scrape_timeout: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Whether `name` is a valid shard, service, project or farm name, as Promgen checks it:
/// `^[\w][- \w]+$` (a word character, then at least one more of word characters, spaces
/// and dashes; `\w` is Unicode-aware, as in Python).
pub fn is_promgen_name(name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut chars = name.chars();
    chars.next().is_some_and(is_word) && {
        let rest: Vec<char> = chars.collect();
        !rest.is_empty() && rest.iter().all(|&c| is_word(c) || c == ' ' || c == '-')
    }
}

/// The longest host name a farm accepts (a DNS name is at most 253 bytes).
pub const MAX_HOST_BYTES: usize = 255;

fn check_name(errors: &mut ValidationErrors, field: &str, name: &str) {
    if !is_promgen_name(name) {
        errors.add(field, format!("`{name}` is not a valid name (^[\\w][- \\w]+$)"));
    } else if name.len() > crate::validate::MAX_NAME_BYTES {
        errors.add(field, format!("is longer than {} bytes", crate::validate::MAX_NAME_BYTES));
    }
}

fn finish(errors: ValidationErrors) -> Result<(), ValidationErrors> {
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

impl Shard {
    /// Checks the name; `Err` names the field.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "name", &self.name);
        finish(errors)
    }
}

impl Service {
    /// Checks the name; `Err` names the field.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "name", &self.name);
        finish(errors)
    }
}

impl Project {
    /// A project of `service` on `shard`, without a farm (see [`Project::in_farm`]).
    pub fn new(
        name: impl Into<String>,
        service: impl Into<String>,
        shard: impl Into<String>,
    ) -> Project {
        Project { name: name.into(), service: service.into(), shard: shard.into(), farm: None }
    }

    /// This project, scraping the hosts of `farm`.
    pub fn in_farm(self, farm: impl Into<String>) -> Project {
        Project { farm: Some(farm.into()), ..self }
    }

    /// Checks the names; `Err` lists each bad field.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "name", &self.name);
        check_name(&mut errors, "service", &self.service);
        check_name(&mut errors, "shard", &self.shard);
        if let Some(farm) = &self.farm {
            check_name(&mut errors, "farm", farm);
        }
        finish(errors)
    }
}

impl Farm {
    /// A farm of `hosts` whose source is `promgen`, like Promgen's own farms.
    pub fn new(
        name: impl Into<String>,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Farm {
        Farm {
            name: name.into(),
            source: default_farm_source(),
            hosts: hosts.into_iter().map(Into::into).collect(),
        }
    }

    /// Checks the name, the source and every host; `Err` lists each bad field
    /// (`hosts[3]` for the fourth host).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "name", &self.name);
        if self.source.is_empty()
            || !self.source.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c))
        {
            errors.add("source", format!("`{}` must be a non-empty word ([\\w.-]+)", self.source));
        }
        let mut seen = std::collections::HashSet::new();
        for (index, host) in self.hosts.iter().enumerate() {
            if let Err(problem) = check_host(host) {
                errors.add(format!("hosts[{index}]"), problem);
            } else if !seen.insert(host.as_str()) {
                errors.add(format!("hosts[{index}]"), format!("`{host}` is listed twice"));
            }
        }
        finish(errors)
    }
}

/// Whether `host` can stand before `:port` in a target: non-empty, printable, no spaces,
/// no port of its own (an IPv6 address goes in brackets), at most [`MAX_HOST_BYTES`].
pub fn check_host(host: &str) -> Result<(), String> {
    let bare_colon = !(host.starts_with('[') && host.ends_with(']')) && host.contains(':');
    if host.is_empty() || host.len() > MAX_HOST_BYTES {
        Err(format!("a host name must be 1 to {MAX_HOST_BYTES} bytes"))
    } else if host.chars().any(|c| c.is_whitespace() || c.is_control() || "/?#@,".contains(c)) {
        Err(format!("`{host}` is not a host name (no spaces, `/`, `?`, `#`, `@` or `,`)"))
    } else if bare_colon {
        Err(format!(
            "`{host}` must not carry a port (the exporter gives it; write IPv6 as `[::1]`)"
        ))
    } else {
        Ok(())
    }
}

/// Everything the target export reads: projects, farms and exporters, related by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetsModel {
    pub projects: Vec<Project>,
    pub farms: Vec<Farm>,
    pub exporters: Vec<Exporter>,
}

impl Exporter {
    /// An enabled exporter of `job` on `port`, with every optional field left out:
    /// the default path `/metrics`, http, no extra labels, Prometheus's scrape defaults.
    pub fn new(project: impl Into<String>, job: impl Into<String>, port: u16) -> Exporter {
        Exporter {
            project: project.into(),
            job: job.into(),
            port,
            port_end: None,
            path: None,
            scheme: Scheme::Http,
            enabled: true,
            labels: BTreeMap::new(),
            scrape_interval: None,
            scrape_timeout: None,
        }
    }

    /// Checks the fields; `Err` lists each bad one.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        check_name(&mut errors, "project", &self.project);
        if self.job.trim().is_empty() || self.job.chars().any(char::is_control) {
            errors.add("job", "must be non-empty and printable");
        } else if self.job.len() > crate::validate::MAX_NAME_BYTES {
            errors.add("job", format!("is longer than {} bytes", crate::validate::MAX_NAME_BYTES));
        }
        if self.port == 0 {
            errors.add("port", "must be 1 to 65535");
        }
        if let Some(end) = self.port_end {
            if end < self.port {
                errors.add("port_end", format!("must not be below `port` ({})", self.port));
            } else if end - self.port >= MAX_PORT_RANGE {
                errors
                    .add("port_end", format!("the range covers more than {MAX_PORT_RANGE} ports"));
            }
        }
        if let Some(path) = &self.path
            && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            errors.add("path", format!("`{path}` must start with `/` and hold no spaces"));
        } else if let Some((_, query)) = self.path.as_deref().and_then(|p| p.split_once('?')) {
            // Each parameter becomes a `__param_<name>` label, so its name must be label-safe.
            let bad = query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
                .find(|name| {
                    name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if let Some(name) = bad {
                errors.add(
                    "path",
                    format!("query parameter `{name}` cannot be a label name ([a-zA-Z0-9_]+)"),
                );
            }
        }
        for (name, value) in &self.labels {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with("__");
            if !valid {
                errors.add(
                    format!("labels.{name}"),
                    "is not a label name we may set ([a-zA-Z_][a-zA-Z0-9_]*, not `__`)",
                );
            } else if value.contains('\0') {
                errors.add(format!("labels.{name}"), "contains a NUL byte");
            }
        }
        for (field, value) in
            [("scrape_interval", &self.scrape_interval), ("scrape_timeout", &self.scrape_timeout)]
        {
            if let Some(value) = value
                && let Err(problem) = parse_duration(value)
            {
                errors.add(field, problem.to_string());
            }
        }
        if let (Some(interval), Some(timeout)) = (&self.scrape_interval, &self.scrape_timeout)
            && let (Ok(interval), Ok(timeout)) = (parse_duration(interval), parse_duration(timeout))
            && timeout > interval
        {
            errors.add(
                "scrape_timeout",
                "must not be longer than `scrape_interval` (Prometheus drops such targets)",
            );
        }
        finish(errors)
    }

    /// The exporter's ports, in order.
    pub fn ports(&self) -> impl Iterator<Item = u16> {
        self.port..=self.port_end.unwrap_or(self.port).max(self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promgen_names() {
        for name in ["peer-shard", "my service", "web_01", "Ünï-côdé", "ab"] {
            assert!(is_promgen_name(name), "{name}");
        }
        for name in ["", "a", "-abc", " abc", "a/b", "a.b", "a:b"] {
            assert!(!is_promgen_name(name), "{name}");
        }
    }

    #[test]
    fn exporter_validation_names_each_field() {
        let bad = Exporter {
            project: "x".into(),
            job: String::new(),
            port: 9100,
            port_end: Some(9000),
            path: Some("metrics".into()),
            scheme: Scheme::Http,
            enabled: true,
            labels: BTreeMap::from([("__shard".into(), "x".into())]),
            scrape_interval: Some("soon".into()),
            scrape_timeout: None,
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.fields().keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["job", "labels.__shard", "path", "port_end", "project", "scrape_interval"]
        );
        let query = Exporter { path: Some("/probe?module=x&bad-name=y".into()), ..bad.clone() };
        assert!(query.validate().unwrap_err().fields()["path"].contains("`bad-name`"));
    }
}
