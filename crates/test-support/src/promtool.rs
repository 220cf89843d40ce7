//! `promtool`, the Prometheus package's checker: the acceptance test of every rule file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of `promtool`; panics with the package to install when it is missing.
pub fn promtool() -> PathBuf {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .expect("promtool is not installed: apt-get install prometheus")
}

/// Runs `promtool check rules` on `path`: `Ok` with its output when it accepts the file,
/// `Err` with its output when it rejects it.
pub fn promtool_check_rules(path: &Path) -> Result<String, String> {
    let output = Command::new(promtool())
        .args(["check", "rules"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("run promtool: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() { Ok(text) } else { Err(text) }
}

/// Writes `text` to a temporary file and checks it with promtool; panics with promtool's
/// complaint and the text when it is rejected.
pub fn assert_promtool_accepts(text: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, text).expect("write rule file");
    if let Err(complaint) = promtool_check_rules(&path) {
        let excerpt: String = text.chars().take(4_000).collect();
        panic!(
            "promtool rejected the rule file:\n{complaint}\n--- file (first 4,000 characters) ---\n{excerpt}"
        );
    }
}
