//! Credentials for Prometheus's HTTP API, as a host description or inventory writes them
//! (`{bearer_token: ...}` or `{username: ..., password: ...}`) or read from a file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::PrometheusError;

/// How to authenticate to a Prometheus behind `--web.config.file` (or a proxy).
/// `Debug` shows the kind and the user name, never the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Auth {
    Bearer { bearer_token: String },
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer { .. } => f.write_str("Bearer(***)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl Auth {
    /// Reads a bearer token file (the token, surrounding whitespace ignored).
    pub fn bearer_file(path: &Path) -> Result<Auth, PrometheusError> {
        Ok(Auth::Bearer { bearer_token: read_secret(path)? })
    }

    /// Reads a basic-auth file holding `USERNAME:PASSWORD` on one line.
    pub fn basic_file(path: &Path) -> Result<Auth, PrometheusError> {
        let line = read_secret(path)?;
        match line.split_once(':') {
            Some((username, password)) if !username.is_empty() => {
                Ok(Auth::Basic { username: username.to_owned(), password: password.to_owned() })
            }
            _ => Err(PrometheusError::Secret {
                path: path.to_owned(),
                problem: "must hold USERNAME:PASSWORD".into(),
            }),
        }
    }

    /// The `Authorization` header's value.
    pub(crate) fn header(&self) -> String {
        use base64::Engine;
        match self {
            Auth::Bearer { bearer_token } => format!("Bearer {bearer_token}"),
            Auth::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
        }
    }
}

fn read_secret(path: &Path) -> Result<String, PrometheusError> {
    let secret_error = |problem: String| PrometheusError::Secret { path: path.to_owned(), problem };
    // The io error says what went wrong with the file, never what is in it.
    let text = std::fs::read_to_string(path).map_err(|e| secret_error(e.to_string()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(secret_error("is empty".into()));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let bearer = Auth::Bearer { bearer_token: "t0ken-xyz".into() };
        let basic = Auth::Basic { username: "ops".into(), password: "pa55-xyz".into() };
        assert_eq!(format!("{bearer:?}"), "Bearer(***)");
        assert_eq!(format!("{basic:?}"), "Basic(ops:***)");
        assert_eq!(basic.header(), "Basic b3BzOnBhNTUteHl6");
    }

    #[test]
    fn both_written_forms_parse() {
        let bearer: Auth = serde_yaml::from_str("{bearer_token: abc}").unwrap();
        assert_eq!(bearer, Auth::Bearer { bearer_token: "abc".into() });
        let basic: Auth = serde_yaml::from_str("{username: u, password: p}").unwrap();
        assert_eq!(basic, Auth::Basic { username: "u".into(), password: "p".into() });
        assert!(serde_yaml::from_str::<Auth>("{token: abc}").is_err());
    }
}
