//! Prometheus's HTTP API, as far as a deploy needs it: the loaded configuration (does a
//! `rule_files` pattern cover our file?), the lifecycle reload, the reload metrics, and the
//! loaded rule groups of one file. Blocking (ureq); callers run it off the async workers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::host::{Host, PrometheusAuth};

/// What the reload metrics say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReloadState {
    /// `prometheus_config_last_reload_successful`: set on every attempt.
    pub(crate) successful: bool,
    /// `prometheus_config_last_reload_success_timestamp_seconds`: set on success only, with
    /// sub-second precision (the runtime info's `lastConfigTime` is whole seconds).
    pub(crate) success_timestamp: f64,
}

pub(crate) struct Prometheus {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct ConfigData {
    yaml: String,
}

#[derive(Deserialize)]
struct RulesData {
    groups: Vec<LoadedGroup>,
}

#[derive(Deserialize)]
struct LoadedGroup {
    name: String,
    file: String,
}

#[derive(Deserialize, Default)]
struct ConfigDoc {
    #[serde(default)]
    rule_files: Vec<String>,
}

impl Prometheus {
    pub(crate) fn new(host: &Host, timeout: Duration) -> Result<Prometheus, String> {
        let mut config =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false);
        if let Some(ca) = &host.prometheus_ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("cannot read CA file `{}`: {e}", ca.display()))?;
            let certificate = ureq::tls::Certificate::from_pem(&pem)
                .map_err(|e| format!("CA file `{}`: {e}", ca.display()))?;
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[certificate.to_owned()]))
                .build();
            config = config.tls_config(tls);
        }
        let authorization = host.prometheus_auth.as_ref().map(|auth| match auth {
            PrometheusAuth::Bearer { bearer_token } => format!("Bearer {bearer_token}"),
            PrometheusAuth::Basic { username, password } => {
                use base64::Engine;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                )
            }
        });
        Ok(Prometheus {
            agent: config.build().into(),
            base: host.prometheus_url.trim_end_matches('/').to_owned(),
            authorization,
        })
    }

    fn get(&self, path: &str) -> Result<String, String> {
        self.get_with_query(path, &[])
    }

    fn get_with_query(
        &self,
        path_and_query: &str,
        query: &[(&str, &str)],
    ) -> Result<String, String> {
        let mut request = self.agent.get(format!("{}{path_and_query}", self.base));
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.call().map_err(|e| format!("GET {path_and_query}: {e}"))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("GET {path_and_query}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("GET {path_and_query} answered {status}: {}", body.trim()))
        }
    }

    /// The `rule_files` patterns, resolved against the configuration file's directory.
    pub(crate) fn rule_file_patterns(&self) -> Result<Vec<String>, String> {
        let config: Envelope<ConfigData> =
            serde_json::from_str(&self.get("/api/v1/status/config")?)
                .map_err(|e| format!("status/config: {e}"))?;
        let doc: ConfigDoc = serde_yaml::from_str(&config.data.yaml)
            .map_err(|e| format!("loaded configuration: {e}"))?;
        let flags: Envelope<std::collections::HashMap<String, String>> =
            serde_json::from_str(&self.get("/api/v1/status/flags")?)
                .map_err(|e| format!("status/flags: {e}"))?;
        let config_dir = flags
            .data
            .get("config.file")
            .and_then(|file| Path::new(file).parent().map(Path::to_owned))
            .unwrap_or_default();
        Ok(doc
            .rule_files
            .iter()
            .map(|pattern| {
                if Path::new(pattern).is_absolute() {
                    PathBuf::from(pattern)
                } else {
                    config_dir.join(pattern)
                }
            })
            .map(|path| path.display().to_string())
            .collect())
    }

    /// `POST /-/reload`; Prometheus answers when the reload is done.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let mut request = self.agent.post(format!("{}/-/reload", self.base));
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.send_empty().map_err(|e| format!("POST /-/reload: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Err(format!("POST /-/reload answered {status}: {}", body.trim()))
    }

    pub(crate) fn reload_state(&self) -> Result<ReloadState, String> {
        let metrics = self.get("/metrics")?;
        let value = |name: &str| {
            metrics
                .lines()
                .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("/metrics has no `{name}`"))
        };
        Ok(ReloadState {
            successful: value("prometheus_config_last_reload_successful")? == 1.0,
            success_timestamp: value("prometheus_config_last_reload_success_timestamp_seconds")?,
        })
    }

    /// The names of the rule groups Prometheus loaded from `file`, sorted.
    pub(crate) fn loaded_groups(&self, file: &Path) -> Result<Vec<String>, String> {
        let file = file.display().to_string();
        let answer = self.get_with_query("/api/v1/rules", &[("file[]", &file)])?;
        let rules: Envelope<RulesData> =
            serde_json::from_str(&answer).map_err(|e| format!("rules: {e}"))?;
        let mut names: Vec<String> =
            rules.data.groups.into_iter().filter(|g| g.file == file).map(|g| g.name).collect();
        names.sort();
        Ok(names)
    }
}

/// Whether any pattern covers `path` as Prometheus's `filepath.Glob` would: `*` stays within
/// one path segment and, unlike a shell, also matches a leading dot.
pub(crate) fn covered(patterns: &[String], path: &Path) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    patterns.iter().any(|pattern| {
        glob::Pattern::new(pattern).is_ok_and(|p| p.matches_path_with(path, options))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_coverage_follows_filepath_glob() {
        let patterns = vec!["/etc/prometheus/rules/*.yml".to_owned()];
        assert!(covered(&patterns, Path::new("/etc/prometheus/rules/promrules.yml")));
        assert!(
            !covered(&patterns, Path::new("/etc/prometheus/rules/.promrules.yml.tmp")),
            "temp files stay outside"
        );
        assert!(!covered(
            &patterns,
            Path::new("/etc/prometheus/rules/.promrules-backups/promrules.yml.1")
        ));
        assert!(!covered(&patterns, Path::new("/etc/prometheus/promrules.yml")));
    }

    #[test]
    fn a_star_matches_a_leading_dot_as_in_go() {
        assert!(covered(
            &["/etc/prometheus/rules/*".to_owned()],
            Path::new("/etc/prometheus/rules/.promrules.yml.tmp")
        ));
    }
}
