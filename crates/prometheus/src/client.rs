//! The client: one `ureq` agent per Prometheus, every request built by [`Prometheus::get`]
//! or [`Prometheus::post`], which add the credentials and bound the answer's size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{Auth, PrometheusError};

/// The largest answer read from Prometheus (its `/metrics` of a big server is a few MiB).
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// A Prometheus server's HTTP API.
#[derive(Clone)]
pub struct Prometheus {
    agent: ureq::Agent,
    base: String,
    auth: Option<Auth>,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Auth`'s own Debug shows no secret.
        f.debug_struct("Prometheus").field("url", &self.base).field("auth", &self.auth).finish()
    }
}

/// What the reload metrics say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReloadState {
    /// `prometheus_config_last_reload_successful`: set on every attempt.
    pub successful: bool,
    /// `prometheus_config_last_reload_success_timestamp_seconds`: set on success only, with
    /// sub-second precision (the runtime info's `lastConfigTime` has whole seconds only).
    pub success_timestamp: f64,
}

impl ReloadState {
    /// Reads the two reload metrics from Prometheus's text exposition format; a sample may
    /// carry labels (`name{…} value`) and a timestamp after the value.
    pub fn parse(metrics: &str) -> Result<ReloadState, String> {
        let value = |name: &str| {
            metrics
                .lines()
                .filter_map(|line| line.strip_prefix(name))
                .find_map(|rest| {
                    let rest = if rest.starts_with('{') {
                        &rest[rest.find('}')? + 1..]
                    } else {
                        rest.strip_prefix(' ')?
                    };
                    rest.split_whitespace().next()?.parse::<f64>().ok()
                })
                .ok_or_else(|| format!("/metrics has no `{name}`; is this Prometheus?"))
        };
        Ok(ReloadState {
            successful: value("prometheus_config_last_reload_successful")? == 1.0,
            success_timestamp: value("prometheus_config_last_reload_success_timestamp_seconds")?,
        })
    }

    /// Whether this state shows a successful reload after `before`. The success timestamp is
    /// set only by a successful load, by the host's clock: any change means one happened.
    /// It is compared with the host's own earlier value, never with the deployer's clock, and
    /// not by order, so a host whose clock is off, or was stepped back between the two reads
    /// (NTP correcting it), is judged right.
    pub fn reloaded_since(&self, before: &ReloadState) -> bool {
        self.successful && self.success_timestamp != before.success_timestamp
    }
}

/// A reload [`Prometheus::wait_for_reload`] saw, with the metrics that showed it.
#[derive(Debug, Clone)]
pub struct Reloaded {
    pub state: ReloadState,
    metrics: String,
}

impl Reloaded {
    /// The rule groups loaded from `file` and their rule counts, by name, from
    /// `prometheus_rule_group_rules{rule_group="<file>;<group>"}`: what `/api/v1/rules`
    /// would list, without reading every rule. `None` when the metrics have no such series
    /// at all (no groups loaded, or a Prometheus that does not export them).
    pub fn rule_groups(&self, file: &Path) -> Option<BTreeMap<String, u64>> {
        rule_groups_in(&self.metrics, file)
    }
}

/// See [`Reloaded::rule_groups`].
fn rule_groups_in(metrics: &str, file: &Path) -> Option<BTreeMap<String, u64>> {
    let prefix = format!("{};", file.display());
    let mut any = false;
    let mut groups = BTreeMap::new();
    for line in metrics.lines() {
        let Some(labels) = line.strip_prefix("prometheus_rule_group_rules{") else { continue };
        any = true;
        let Some((key, rest)) = label_value(labels, "rule_group") else { continue };
        let Some(name) = key.strip_prefix(&prefix) else { continue };
        let rest = rest[rest.find('}').map_or(rest.len(), |end| end + 1)..].trim_start();
        if let Some(rules) = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) {
            groups.insert(name.to_owned(), rules as u64);
        }
    }
    any.then_some(groups)
}

/// The value of label `name` in the labels of a sample (the text after `{`), unescaped as
/// the text exposition format escapes it, and the text after its closing quote.
fn label_value<'a>(labels: &'a str, name: &str) -> Option<(String, &'a str)> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let mut value = String::new();
    let mut chars = labels[start..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &labels[start + at + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// `/api/v1/status/buildinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: String,
    #[serde(default)]
    pub revision: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub go_version: String,
}

impl BuildInfo {
    /// The version as numbers: `2.42.0` → `(2, 42, 0)`, `2.53.1+ds` → `(2, 53, 1)`;
    /// `None` for a version that does not start with `MAJOR.MINOR`.
    pub fn semver(&self) -> Option<(u64, u64, u64)> {
        let core = self.version.trim_start_matches('v');
        let core = core.split(['-', '+', '~']).next().unwrap_or_default();
        let mut parts = core.split('.').map(|part| part.parse::<u64>().ok());
        let (major, minor) = (parts.next()??, parts.next()??);
        Some((major, minor, parts.next().flatten().unwrap_or(0)))
    }
}

/// One series of an instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    /// The sample value as Prometheus wrote it (`"1"`, `"NaN"`, `"+Inf"`).
    pub value: String,
}

/// An instant query's answer, cut to at most the asked number of series.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantQuery {
    /// `vector`, `scalar`, `string` or `matrix`.
    pub result_type: String,
    /// How many series the answer held in all.
    pub total: usize,
    /// The first of them, at most the limit.
    pub series: Vec<Series>,
    /// Prometheus's warnings (for example about a range that is too long).
    pub warnings: Vec<String>,
}

impl Prometheus {
    /// A Prometheus at `url`: its base URL (`http://127.0.0.1:9090`, with any route
    /// prefix), or the reload URL itself (`…/-/reload`). Requests time out after two
    /// minutes (a reload of a large rule set takes seconds).
    pub fn new(url: &str) -> Prometheus {
        let base = url.trim_end_matches('/');
        let base = base.strip_suffix("/-/reload").unwrap_or(base);
        let agent = agent(Duration::from_secs(120), None).expect("an agent without a CA file");
        Prometheus { agent, base: base.to_owned(), auth: None }
    }

    /// Authenticates every request with `auth`.
    pub fn with_auth(mut self, auth: Auth) -> Prometheus {
        self.auth = Some(auth);
        self
    }

    /// Each request's timeout, and for https a private CA (PEM) to trust instead of the
    /// public roots.
    pub fn with_transport(
        mut self,
        timeout: Duration,
        ca_file: Option<&Path>,
    ) -> Result<Prometheus, PrometheusError> {
        self.agent = agent(timeout, ca_file)?;
        Ok(self)
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// A client for each address the URL's host name resolves to now, with the same
    /// credentials and transport: a name that stands for several servers (Docker Swarm's
    /// `tasks.prometheus`, a headless Kubernetes service) reloads each. A URL whose host is
    /// an address is itself. https is refused: a certificate names the host, not each of
    /// its addresses, so they could not be verified.
    pub fn each_address(&self) -> Result<Vec<Prometheus>, PrometheusError> {
        let refuse = |problem: String| PrometheusError::Resolve { url: self.base.clone(), problem };
        let url = url::Url::parse(&self.base).map_err(|e| refuse(e.to_string()))?;
        let (host, port) = match (url.host(), url.port_or_known_default()) {
            (Some(url::Host::Domain(name)), Some(port)) => (name.to_owned(), port),
            (Some(_), Some(_)) => return Ok(vec![self.clone()]),
            _ => return Err(refuse("the URL names no host and port".into())),
        };
        if url.scheme() != "http" {
            return Err(refuse(format!(
                "only http URLs can stand for every address of their host (a certificate names `{host}`, not its addresses)"
            )));
        }
        let mut addresses: Vec<std::net::IpAddr> =
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                .map_err(|e| refuse(e.to_string()))?
                .map(|address| address.ip())
                .collect();
        addresses.sort();
        addresses.dedup();
        if addresses.is_empty() {
            return Err(refuse(format!("`{host}` resolves to no address")));
        }
        addresses
            .into_iter()
            .map(|ip| {
                let mut each = url.clone();
                each.set_ip_host(ip).map_err(|()| refuse(format!("cannot use address {ip}")))?;
                let base = each.as_str().trim_end_matches('/').to_owned();
                Ok(Prometheus { agent: self.agent.clone(), base, auth: self.auth.clone() })
            })
            .collect()
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<String, PrometheusError> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth.header());
        }
        let request_name = format!("GET {path}");
        self.answer(&request_name, request.call())
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<String, PrometheusError> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth.header());
        }
        let request_name = format!("POST {path}");
        let answer = if form.is_empty() {
            request.send_empty()
        } else {
            request.send_form(form.iter().copied())
        };
        self.answer(&request_name, answer)
    }

    fn answer(
        &self,
        request: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, PrometheusError> {
        let url = || self.base.clone();
        let mut response = answer.map_err(|e| PrometheusError::Unreachable {
            url: url(),
            request: request.to_owned(),
            problem: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body =
            response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(
                |e| PrometheusError::Unreachable {
                    url: url(),
                    request: request.to_owned(),
                    problem: e.to_string(),
                },
            );
        log::trace!("{request} to {} answered {status}", self.base);
        if (200..300).contains(&status) {
            return body;
        }
        // An error page can be long; its start says what went wrong.
        let body: String = body.unwrap_or_default().trim().chars().take(2_000).collect();
        Err(PrometheusError::Status { url: url(), request: request.to_owned(), status, body })
    }

    fn api<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PrometheusError> {
        #[derive(Deserialize)]
        struct Envelope<T> {
            data: T,
        }
        let text = self.get(path, query)?;
        serde_json::from_str::<Envelope<T>>(&text).map(|envelope| envelope.data).map_err(|e| {
            PrometheusError::Answer {
                url: self.base.clone(),
                request: format!("GET {path}"),
                problem: e.to_string(),
            }
        })
    }

    /// The reload metrics now.
    pub fn reload_state(&self) -> Result<ReloadState, PrometheusError> {
        self.metrics().map(|(state, _)| state)
    }

    /// `/metrics`: the reload state in it, and the whole text.
    fn metrics(&self) -> Result<(ReloadState, String), PrometheusError> {
        let metrics = self.get("/metrics", &[])?;
        let state = ReloadState::parse(&metrics).map_err(|problem| PrometheusError::Answer {
            url: self.base.clone(),
            request: "GET /metrics".into(),
            problem,
        })?;
        Ok((state, metrics))
    }

    /// `POST /-/reload` alone; Prometheus answers when the reload is done (500 when the
    /// configuration failed to load, 403 when the lifecycle API is off).
    pub fn request_reload(&self) -> Result<(), PrometheusError> {
        self.post("/-/reload", &[]).map(drop)
    }

    /// Waits up to `timeout` (checking at least once) for the reload metrics to show a
    /// reload after `before`: successful, and the success timestamp changed
    /// ([`ReloadState::reloaded_since`]). A reload by signal is asynchronous, so it may take
    /// a moment to show. The answer keeps the metrics that showed it: Prometheus sets the
    /// success timestamp after its rule manager has swapped the groups, so they are the
    /// groups of this reload ([`Reloaded::rule_groups`]).
    pub fn wait_for_reload(
        &self,
        before: &ReloadState,
        timeout: Duration,
    ) -> Result<Reloaded, PrometheusError> {
        let rejected =
            |problem: String| PrometheusError::ReloadRejected { url: self.base.clone(), problem };
        let deadline = Instant::now() + timeout;
        loop {
            let (state, metrics) = self.metrics()?;
            if !state.successful {
                return Err(rejected("prometheus_config_last_reload_successful is 0".into()));
            }
            if state.reloaded_since(before) {
                return Ok(Reloaded { state, metrics });
            }
            if Instant::now() >= deadline {
                return Err(rejected(format!(
                    "prometheus_config_last_reload_success_timestamp_seconds did not move within {timeout:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Reloads and proves that this reload succeeded: the reload metrics before, `POST
    /// /-/reload`, the metrics after. A 200 alone could come from a proxy or another
    /// instance; the success timestamp moving cannot.
    pub fn reload(&self) -> Result<(), PrometheusError> {
        let before = self.reload_state()?;
        self.request_reload()?;
        self.wait_for_reload(&before, Duration::ZERO).map(drop)
    }

    /// The loaded `rule_files` patterns, resolved against the configuration file's
    /// directory as Prometheus resolves them.
    pub fn rule_file_patterns(&self) -> Result<Vec<String>, PrometheusError> {
        let (config, dir) = self.loaded_config()?;
        Ok(resolve(&dir, &config.rule_files))
    }

    /// The `files` patterns of every `file_sd_configs` of the loaded scrape configurations,
    /// resolved against the configuration file's directory as Prometheus resolves them.
    pub fn file_sd_patterns(&self) -> Result<Vec<String>, PrometheusError> {
        let (config, dir) = self.loaded_config()?;
        let files: Vec<String> = config
            .scrape_configs
            .into_iter()
            .flat_map(|scrape| scrape.file_sd_configs)
            .flat_map(|file_sd| file_sd.files)
            .collect();
        Ok(resolve(&dir, &files))
    }

    /// The loaded configuration (the parts promrules reads) and its file's directory.
    fn loaded_config(&self) -> Result<(LoadedConfig, PathBuf), PrometheusError> {
        #[derive(Deserialize)]
        struct ConfigData {
            yaml: String,
        }
        let config: ConfigData = self.api("/api/v1/status/config", &[])?;
        let doc: LoadedConfig =
            serde_yaml::from_str(&config.yaml).map_err(|e| PrometheusError::Answer {
                url: self.base.clone(),
                request: "GET /api/v1/status/config".into(),
                problem: format!("the loaded configuration does not parse: {e}"),
            })?;
        let flags: HashMap<String, String> = self.api("/api/v1/status/flags", &[])?;
        let config_dir = flags
            .get("config.file")
            .and_then(|file| Path::new(file).parent().map(Path::to_owned))
            .unwrap_or_default();
        Ok((doc, config_dir))
    }

    /// The `__address__` of every target service discovery found, whether scraped or
    /// dropped by relabelling (`/api/v1/targets`).
    pub fn discovered_addresses(&self) -> Result<BTreeSet<String>, PrometheusError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TargetsData {
            #[serde(default)]
            active_targets: Vec<Target>,
            #[serde(default)]
            dropped_targets: Vec<Target>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Target {
            #[serde(default)]
            discovered_labels: BTreeMap<String, String>,
        }
        let targets: TargetsData = self.api("/api/v1/targets", &[])?;
        Ok(targets
            .active_targets
            .into_iter()
            .chain(targets.dropped_targets)
            .filter_map(|mut target| target.discovered_labels.remove("__address__"))
            .collect())
    }

    /// The names of the rule groups Prometheus loaded from `file`, sorted.
    pub fn loaded_groups(&self, file: &Path) -> Result<Vec<String>, PrometheusError> {
        #[derive(Deserialize)]
        struct RulesData {
            groups: Vec<LoadedGroup>,
        }
        #[derive(Deserialize)]
        struct LoadedGroup {
            name: String,
            file: String,
        }
        let file = file.display().to_string();
        let rules: RulesData = self.api("/api/v1/rules", &[("file[]", &file)])?;
        let mut names: Vec<String> =
            rules.groups.into_iter().filter(|g| g.file == file).map(|g| g.name).collect();
        names.sort();
        Ok(names)
    }

    /// The server's build info, its version above all.
    pub fn build_info(&self) -> Result<BuildInfo, PrometheusError> {
        self.api("/api/v1/status/buildinfo", &[])
    }

    /// Evaluates `expression` now, with Prometheus's own evaluation `timeout`, keeping at
    /// most `max_series` series of the answer (whose size is bounded as every answer is).
    pub fn query(
        &self,
        expression: &str,
        timeout: Duration,
        max_series: usize,
    ) -> Result<InstantQuery, PrometheusError> {
        #[derive(Deserialize)]
        struct Answer {
            data: QueryData,
            #[serde(default)]
            warnings: Vec<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct QueryData {
            result_type: String,
            result: serde_json::Value,
        }
        #[derive(Deserialize)]
        struct Sample {
            #[serde(default)]
            metric: BTreeMap<String, String>,
            #[serde(default)]
            value: Option<(f64, String)>,
        }
        let timeout = format!("{}ms", timeout.as_millis().max(1));
        let text = self.post("/api/v1/query", &[("query", expression), ("timeout", &timeout)])?;
        let unexpected = |problem: String| PrometheusError::Answer {
            url: self.base.clone(),
            request: "POST /api/v1/query".into(),
            problem,
        };
        let answer: Answer = serde_json::from_str(&text).map_err(|e| unexpected(e.to_string()))?;
        let (total, series) = match (answer.data.result_type.as_str(), answer.data.result) {
            ("vector" | "matrix", serde_json::Value::Array(items)) => {
                let total = items.len();
                let series = items
                    .into_iter()
                    .take(max_series)
                    .map(|item| {
                        let sample: Sample =
                            serde_json::from_value(item).map_err(|e| unexpected(e.to_string()))?;
                        let value = sample.value.map(|(_, value)| value).unwrap_or_default();
                        Ok(Series { labels: sample.metric, value })
                    })
                    .collect::<Result<Vec<_>, PrometheusError>>()?;
                (total, series)
            }
            // A scalar or a string: `[time, "value"]`.
            (_, other) => {
                let value = other.get(1).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                (1, vec![Series { labels: BTreeMap::new(), value }])
            }
        };
        Ok(InstantQuery {
            result_type: answer.data.result_type,
            total,
            series,
            warnings: answer.warnings,
        })
    }
}

/// The parts of a loaded Prometheus configuration that promrules reads.
#[derive(Deserialize, Default)]
struct LoadedConfig {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Deserialize)]
struct ScrapeConfig {
    #[serde(default)]
    file_sd_configs: Vec<FileSdConfig>,
}

#[derive(Deserialize)]
struct FileSdConfig {
    #[serde(default)]
    files: Vec<String>,
}

/// Configuration paths as Prometheus reads them: relative ones against `dir`.
fn resolve(dir: &Path, patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .map(|pattern| {
            if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                dir.join(pattern)
            }
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// The HTTP agent every promrules client uses: a global `timeout` per request, error
/// statuses as answers (not errors), and for https either the public roots or only the
/// PEM certificates of `ca_file` (an internal CA).
pub fn agent(timeout: Duration, ca_file: Option<&Path>) -> Result<ureq::Agent, PrometheusError> {
    let mut config =
        ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false);
    if let Some(path) = ca_file {
        let ca_error = |problem: String| PrometheusError::CaFile { path: path.to_owned(), problem };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certificates = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(certificate)) => Some(Ok(certificate)),
                Ok(_) => None,
                Err(error) => Some(Err(ca_error(error.to_string()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if certificates.is_empty() {
            return Err(ca_error("holds no PEM certificate".into()));
        }
        let roots = ureq::tls::RootCerts::new_with_certs(&certificates);
        config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build());
    }
    Ok(config.build().into())
}

/// Whether any `rule_files` (or `file_sd_configs` `files`) pattern covers `path` as
/// Prometheus's `filepath.Glob` would:
/// `*` stays within one path segment and, unlike a shell, also matches a leading dot.
pub fn rule_files_cover(patterns: &[String], path: &Path) -> bool {
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
    fn reload_url_or_base_url() {
        assert_eq!(
            Prometheus::new("http://127.0.0.1:9090/-/reload").url(),
            "http://127.0.0.1:9090"
        );
        assert_eq!(
            Prometheus::new("http://127.0.0.1:9090/prom/").url(),
            "http://127.0.0.1:9090/prom"
        );
    }

    #[test]
    fn rule_groups_and_their_rule_counts_from_the_metrics() {
        let file = Path::new("/etc/prometheus/rules/promrules.yml");
        let metrics = r#"# HELP prometheus_rule_group_rules The number of rules.
# TYPE prometheus_rule_group_rules gauge
prometheus_rule_group_rules{rule_group="/etc/prometheus/rules/other.yml;node"} 3
prometheus_rule_group_rules{rule_group="/etc/prometheus/rules/promrules.yml;node"} 12
prometheus_rule_group_rules{rule_group="/etc/prometheus/rules/promrules.yml;say \"hi\"; a\\b"} 1
prometheus_rule_group_rules_other{rule_group="/etc/prometheus/rules/promrules.yml;x"} 9
"#;
        let groups = rule_groups_in(metrics, file).unwrap();
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            [("node".to_owned(), 12), ("say \"hi\"; a\\b".to_owned(), 1)]
        );
        let elsewhere = rule_groups_in(metrics, Path::new("/x.yml")).unwrap();
        assert!(elsewhere.is_empty(), "the metric is there, no group of this file");
        assert_eq!(rule_groups_in("up 1\n", file), None, "no such metric: ask the API");
    }

    #[test]
    fn a_reload_is_seen_whatever_the_hosts_clock_says() {
        let state = |successful, success_timestamp| ReloadState { successful, success_timestamp };
        let before = state(true, 1.7e9);
        assert!(state(true, 1.7e9 + 0.25).reloaded_since(&before));
        // The host's clock stepped back an hour between the two reads.
        assert!(state(true, 1.7e9 - 3_600.0).reloaded_since(&before));
        // A clock a year behind the deployer's: only the host's own values are compared.
        assert!(state(true, 1.7e9 - 3.15e7).reloaded_since(&state(true, 1.7e9 - 3.16e7)));
        assert!(!state(true, 1.7e9).reloaded_since(&before), "no change: no reload");
        assert!(!state(false, 1.7e9 + 1.0).reloaded_since(&before), "the last one failed");
    }

    #[test]
    fn reload_metrics_with_or_without_labels_and_timestamps() {
        let plain = "# HELP x\nprometheus_config_last_reload_successful 1\nprometheus_config_last_reload_success_timestamp_seconds 1.7e+09\n";
        assert_eq!(
            ReloadState::parse(plain),
            Ok(ReloadState { successful: true, success_timestamp: 1.7e9 })
        );
        let simple_labels = "prometheus_config_last_reload_successful{instance=\"a\"} 0 1700000000000\nprometheus_config_last_reload_success_timestamp_seconds{instance=\"a\"} 12.5\n";
        assert_eq!(
            ReloadState::parse(simple_labels),
            Ok(ReloadState { successful: false, success_timestamp: 12.5 })
        );
        // A longer metric name that starts with the same text is not the metric.
        let other = "prometheus_config_last_reload_successful_total 1\n";
        assert!(ReloadState::parse(other).unwrap_err().contains("is this Prometheus?"));
    }

    #[test]
    fn versions_as_numbers() {
        let info = |version: &str| BuildInfo {
            version: version.into(),
            revision: String::new(),
            branch: String::new(),
            go_version: String::new(),
        };
        assert_eq!(info("2.42.0").semver(), Some((2, 42, 0)));
        assert_eq!(info("2.53.1+ds").semver(), Some((2, 53, 1)));
        assert_eq!(info("v3.0.0-rc.1").semver(), Some((3, 0, 0)));
        assert_eq!(info("3.1").semver(), Some((3, 1, 0)));
        assert_eq!(info("main").semver(), None);
    }

    /// A name stands for each address it resolves to (the system resolver: `localhost` is
    /// 127.0.0.1 on every machine the suite runs on); an address is itself; https refused.
    #[test]
    fn each_address_of_a_name() {
        let at = |url: &str| {
            Prometheus::new(url)
                .each_address()
                .map(|all| all.iter().map(|p| p.url().to_owned()).collect::<Vec<_>>())
        };
        let local = at("http://localhost:9090/").unwrap();
        assert!(local.contains(&"http://127.0.0.1:9090".to_owned()), "{local:?}");
        assert!(local.iter().all(|url| url.ends_with(":9090")), "{local:?}");
        assert_eq!(at("http://127.0.0.5:9091/-/reload").unwrap(), ["http://127.0.0.5:9091"]);
        assert_eq!(at("http://localhost/prom").unwrap()[0], "http://127.0.0.1/prom");
        let https = at("https://localhost:9090").unwrap_err().to_string();
        assert!(https.contains("only http URLs"), "{https}");
        assert!(at("http://promrules-no-such-host.invalid:9090").is_err());
    }

    #[test]
    fn glob_coverage_follows_filepath_glob() {
        let patterns = vec!["/etc/prometheus/rules/*.yml".to_owned()];
        assert!(rule_files_cover(&patterns, Path::new("/etc/prometheus/rules/promrules.yml")));
        assert!(
            !rule_files_cover(&patterns, Path::new("/etc/prometheus/rules/.promrules.yml.tmp")),
            "temp files stay outside"
        );
        assert!(!rule_files_cover(
            &patterns,
            Path::new("/etc/prometheus/rules/.promrules-backups/promrules.yml.1")
        ));
        assert!(!rule_files_cover(&patterns, Path::new("/etc/prometheus/promrules.yml")));
    }

    #[test]
    fn a_star_matches_a_leading_dot_as_in_go() {
        assert!(rule_files_cover(
            &["/etc/prometheus/rules/*".to_owned()],
            Path::new("/etc/prometheus/rules/.promrules.yml.tmp")
        ));
    }
}
