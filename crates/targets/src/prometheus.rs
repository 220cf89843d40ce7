//! Reloading a local Prometheus and proving that the reload worked.
//!
//! `POST /-/reload` answers when the reload is done, but a client cannot tell from a 200
//! alone that the configuration it meant is the one loaded (a proxy, a second instance).
//! So [`Prometheus::reload`] reads the reload metrics before and after:
//! `prometheus_config_last_reload_successful` must be 1 and
//! `prometheus_config_last_reload_success_timestamp_seconds` (a float with sub-second
//! precision, set on success only) must have moved.

use std::time::Duration;

use crate::ExportError;

/// A Prometheus server's lifecycle and metrics endpoints.
#[derive(Debug, Clone)]
pub struct Prometheus {
    agent: ureq::Agent,
    base: String,
    /// The `Authorization` header for a Prometheus behind `--web.config.file` auth.
    authorization: Option<String>,
}

/// How to authenticate to Prometheus.
#[derive(Clone, PartialEq, Eq)]
pub enum PrometheusAuth {
    Bearer(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for PrometheusAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        match self {
            PrometheusAuth::Bearer(_) => f.write_str("Bearer(***)"),
            PrometheusAuth::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl PrometheusAuth {
    /// Reads a bearer token file (the token, surrounding whitespace ignored).
    pub fn bearer_file(path: &std::path::Path) -> Result<PrometheusAuth, ExportError> {
        let token = read_secret(path)?;
        Ok(PrometheusAuth::Bearer(token))
    }

    /// Reads a basic-auth file holding `USERNAME:PASSWORD` on one line.
    pub fn basic_file(path: &std::path::Path) -> Result<PrometheusAuth, ExportError> {
        let line = read_secret(path)?;
        match line.split_once(':') {
            Some((username, password)) if !username.is_empty() => Ok(PrometheusAuth::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(ExportError::Secret {
                path: path.to_owned(),
                problem: "must hold USERNAME:PASSWORD".into(),
            }),
        }
    }

    fn header(&self) -> String {
        use base64::Engine;
        match self {
            PrometheusAuth::Bearer(token) => format!("Bearer {token}"),
            PrometheusAuth::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
        }
    }
}

fn read_secret(path: &std::path::Path) -> Result<String, ExportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ExportError::Secret { path: path.to_owned(), problem: e.to_string() })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ExportError::Secret { path: path.to_owned(), problem: "is empty".into() });
    }
    Ok(text.to_owned())
}

/// What the reload metrics say.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ReloadMetrics {
    successful: bool,
    success_timestamp: f64,
}

impl Prometheus {
    /// A Prometheus at `url`: its base URL (`http://127.0.0.1:9090`, with any route
    /// prefix), or the reload URL itself (`…/-/reload`).
    pub fn new(url: &str) -> Prometheus {
        let base = url.trim_end_matches('/');
        let base = base.strip_suffix("/-/reload").unwrap_or(base);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Prometheus { agent, base: base.to_owned(), authorization: None }
    }

    /// Authenticates every request with `auth`.
    pub fn with_auth(mut self, auth: &PrometheusAuth) -> Prometheus {
        self.authorization = Some(auth.header());
        self
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Whether Prometheus answers (its reload metrics), before anything is changed.
    pub fn check_reachable(&self) -> Result<(), ExportError> {
        self.reload_metrics()
            .map(drop)
            .map_err(|problem| ExportError::Reload { url: self.base.clone(), problem })
    }

    /// Reloads the configuration and checks that this reload succeeded. When Prometheus
    /// answered that the configuration failed to load, the error is
    /// [`ExportError::ReloadRejected`]; when it could not be asked (down, lifecycle API
    /// off), [`ExportError::Reload`].
    pub fn reload(&self) -> Result<(), ExportError> {
        let failed = |problem: String| ExportError::Reload { url: self.base.clone(), problem };
        let rejected =
            |problem: String| ExportError::ReloadRejected { url: self.base.clone(), problem };
        let before = self.reload_metrics().map_err(failed)?;
        let mut request = self.agent.post(format!("{}/-/reload", self.base));
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response =
            request.send_empty().map_err(|e| failed(format!("POST /-/reload: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            let hint =
                if status == 403 { " (start Prometheus with --web.enable-lifecycle)" } else { "" };
            let problem = format!("POST /-/reload answered {status}: {}{hint}", body.trim());
            return Err(if status == 500 { rejected(problem) } else { failed(problem) });
        }
        let after = self.reload_metrics().map_err(failed)?;
        if !after.successful {
            return Err(rejected("prometheus_config_last_reload_successful is 0".into()));
        }
        if after.success_timestamp <= before.success_timestamp {
            return Err(rejected(
                "prometheus_config_last_reload_success_timestamp_seconds did not move".into(),
            ));
        }
        Ok(())
    }

    fn reload_metrics(&self) -> Result<ReloadMetrics, String> {
        let mut request = self.agent.get(format!("{}/metrics", self.base));
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.call().map_err(|e| format!("GET /metrics: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET /metrics answered {}", response.status()));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("GET /metrics: {e}"))?;
        let value = |name: &str| {
            text.lines()
                .filter_map(|line| line.strip_prefix(name))
                .find(|rest| rest.starts_with(' ') || rest.starts_with('{'))
                .and_then(|rest| rest.rsplit(' ').next())
                .and_then(|value| value.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("/metrics has no `{name}`; is this Prometheus?"))
        };
        Ok(ReloadMetrics {
            successful: value("prometheus_config_last_reload_successful")? == 1.0,
            success_timestamp: value("prometheus_config_last_reload_success_timestamp_seconds")?,
        })
    }
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
}
