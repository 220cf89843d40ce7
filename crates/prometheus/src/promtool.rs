//! Prometheus's own checker, `promtool`, run as a child process without a shell: `check
//! rules` on a file before it replaces a live one, and `test rules` (rule unit tests) against
//! a rendered rule file. Its verdict is the final word on what Prometheus accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::PrometheusError;

/// `promtool` from `PATH`, if there is one.
pub fn find_promtool() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("promtool")).find(|p| p.is_file())
    })
}

/// The version `promtool --version` reports (`promtool, version 2.42.0+ds (branch: …)`):
/// the text, and its major and minor numbers.
pub fn promtool_version(promtool: &Path) -> std::io::Result<(String, (u64, u64))> {
    let output = Command::new(promtool).arg("--version").stdin(Stdio::null()).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let core = version.trim_start_matches('v').split(['-', '+', '~']).next().unwrap_or_default();
    let mut parts = core.split('.').map(|part| part.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => Ok((version, (major, minor))),
        _ => Err(std::io::Error::other(format!(
            "`{} --version` printed no version: {}",
            promtool.display(),
            text.trim()
        ))),
    }
}

/// `promtool check rules FILE`; its complaint becomes the error.
pub fn check_rules(promtool: &Path, file: &Path) -> std::io::Result<()> {
    let output =
        Command::new(promtool).args(["check", "rules"]).arg(file).stdin(Stdio::null()).output()?;
    if output.status.success() {
        return Ok(());
    }
    let mut message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if message.is_empty() {
        message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    }
    Err(std::io::Error::other(format!("promtool check rules rejected it: {message}")))
}

/// What `promtool test rules` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestVerdict {
    /// Every unit test passed.
    pub passed: bool,
    /// promtool's output (standard output, then standard error).
    pub output: String,
}

/// Runs the promtool unit-test file `tests` (its YAML text) against `rule_file` (the
/// rendered rules, as text): both go to a temp directory, the test file's `rule_files` is
/// replaced by the rendered file, and `promtool test rules` judges. A test file that is not
/// a YAML mapping is an error before promtool runs.
pub fn test_rules(
    promtool: &Path,
    rule_file: &str,
    tests: &str,
) -> Result<TestVerdict, PrometheusError> {
    let invalid = |problem: String| PrometheusError::Promtool { problem };
    let mut doc: serde_yaml::Value = serde_yaml::from_str(tests)
        .map_err(|e| invalid(format!("the test file is not YAML: {e}")))?;
    let map = doc
        .as_mapping_mut()
        .ok_or_else(|| invalid("the test file must be a mapping with `tests:`".to_owned()))?;
    if !map.contains_key("tests") {
        return Err(invalid("the test file has no `tests:`".to_owned()));
    }
    let dir = tempfile::Builder::new()
        .prefix("promrules-test-rules")
        .tempdir()
        .map_err(|e| invalid(format!("creating a temp directory: {e}")))?;
    let rules_path = dir.path().join("rules.yml");
    std::fs::write(&rules_path, rule_file).map_err(|e| invalid(e.to_string()))?;
    map.insert("rule_files".into(), vec![serde_yaml::Value::from("rules.yml")].into());
    let tests_path = dir.path().join("tests.yml");
    let text = serde_yaml::to_string(&doc).map_err(|e| invalid(e.to_string()))?;
    std::fs::write(&tests_path, text).map_err(|e| invalid(e.to_string()))?;
    let output = Command::new(promtool)
        .args(["test", "rules"])
        .arg(&tests_path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| invalid(format!("running `{}`: {e}", promtool.display())))?;
    let mut report = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        if !report.is_empty() {
            report.push('\n');
        }
        report.push_str(stderr.trim());
    }
    Ok(TestVerdict { passed: output.status.success(), output: report })
}
