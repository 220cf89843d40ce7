//! The configuration file of prometheus-am-executor, read the same way, plus `timeout`.
//!
//! ```yaml
//! listen_address: ":8080"
//! verbose: false
//! tls_key: ""          # both or neither
//! tls_crt: ""
//! commands:
//!   - cmd: /usr/local/bin/heal
//!     args: ["--restart"]
//!     match_labels: {alertname: DiskFull}
//!     notify_on_failure: true     # default
//!     max: 1                      # <= 0: unlimited (default)
//!     ignore_resolved: false      # default
//!     resolved_signal: SIGTERM    # default SIGKILL
//!     timeout: 5m                 # ours: signal and fail a command that runs longer
//!     dedup_window: 5m            # ours: an HA Alertmanager pair's duplicate runs nothing
//!     cooldown: 30m               # ours: a fingerprint does not run again within this
//!     rate_limit: {max: 5, per: 1h}  # ours: at most 5 starts an hour, all fingerprints
//!     payload_file: false         # ours: the whole message in $AMX_PAYLOAD_FILE
//!     log_output: false           # ours: stdout and stderr as log lines (default: the executor's stderr, as the original)
//! webhook_auth:                   # ours: what a webhook request must present
//!   bearer_token_file: /etc/am-executor/token
//! ```
//!
//! Scalars where a string is expected match as their text (`code: 1` is `"1"`), and unknown
//! keys are reported as warnings naming the key, where the original ignored them silently.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Deserialize;

use crate::error::ConfigError;

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub listen_address: Option<String>,
    #[serde(default)]
    pub verbose: bool,
    #[serde(default)]
    pub tls_key: Option<String>,
    #[serde(default)]
    pub tls_crt: Option<String>,
    #[serde(default)]
    pub commands: Vec<CommandConfig>,
    /// Ours: the credential a webhook request must present.
    #[serde(default)]
    pub webhook_auth: Option<crate::auth::WebhookAuthConfig>,
    /// Ours: with TLS, only clients presenting a certificate this CA (PEM) signed connect.
    #[serde(default)]
    pub tls_client_ca: Option<String>,
}

/// One command and when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommandConfig {
    pub cmd: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Every pair must be in the message's `commonLabels` for the command to run.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Whether a failure of this command turns the webhook's answer into a 500.
    #[serde(default = "default_true")]
    pub notify_on_failure: bool,
    /// At most this many instances per alert fingerprint; `<= 0` is unlimited.
    #[serde(default)]
    pub max: i64,
    /// Whether a resolved alert leaves the running command alone.
    #[serde(default)]
    pub ignore_resolved: bool,
    /// The signal sent to the command's process group when its alert resolves.
    #[serde(default, deserialize_with = "deserialize_signal")]
    pub resolved_signal: ResolvedSignal,
    /// Signal and fail the command when it runs longer than this.
    #[serde(default, deserialize_with = "deserialize_timeout")]
    pub timeout: Option<Duration>,
    /// Ours: the same notification (receiver, group key, status, and each alert's
    /// fingerprint and start) seen again within this window runs nothing: the duplicate an
    /// HA pair of Alertmanagers sends. A run that failed is forgotten, so a retry runs.
    #[serde(default, deserialize_with = "deserialize_timeout")]
    pub dedup_window: Option<Duration>,
    /// Ours: a fingerprint that started this command within this long does not start it again.
    #[serde(default, deserialize_with = "deserialize_timeout")]
    pub cooldown: Option<Duration>,
    /// Ours: at most `max` starts per `per`, across all fingerprints.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Ours: pass the whole message as JSON in a temp file named by `AMX_PAYLOAD_FILE`.
    #[serde(default)]
    pub payload_file: bool,
    /// Ours: the command's standard output and error become log lines (`cmd[pid]: line`,
    /// in the log's format) instead of going straight to the executor's standard error as
    /// the original's do.
    #[serde(default)]
    pub log_output: bool,
}

/// At most `max` starts of a command per `per`: the fleet-wide circuit breaker for when
/// monitoring itself misfires and every host alerts at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub max: u32,
    #[serde(deserialize_with = "deserialize_duration")]
    pub per: Duration,
}

fn deserialize_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_timeout(&text).map_err(serde::de::Error::custom)
}

fn default_true() -> bool {
    true
}

/// A signal, as named in the configuration; SIGKILL by default, as in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedSignal(pub Signal);

impl Default for ResolvedSignal {
    fn default() -> ResolvedSignal {
        ResolvedSignal(Signal::SIGKILL)
    }
}

/// The signal names the original accepts.
const SIGNALS: &[(&str, Signal)] = &[
    ("SIGABRT", Signal::SIGABRT),
    ("SIGALRM", Signal::SIGALRM),
    ("SIGBUS", Signal::SIGBUS),
    ("SIGCHLD", Signal::SIGCHLD),
    ("SIGCONT", Signal::SIGCONT),
    ("SIGFPE", Signal::SIGFPE),
    ("SIGHUP", Signal::SIGHUP),
    ("SIGILL", Signal::SIGILL),
    ("SIGINT", Signal::SIGINT),
    ("SIGIO", Signal::SIGIO),
    ("SIGIOT", Signal::SIGABRT), // SIGIOT is SIGABRT on Linux
    ("SIGKILL", Signal::SIGKILL),
    ("SIGPIPE", Signal::SIGPIPE),
    ("SIGPROF", Signal::SIGPROF),
    ("SIGQUIT", Signal::SIGQUIT),
    ("SIGSEGV", Signal::SIGSEGV),
    ("SIGSTOP", Signal::SIGSTOP),
    ("SIGSYS", Signal::SIGSYS),
    ("SIGTERM", Signal::SIGTERM),
    ("SIGTRAP", Signal::SIGTRAP),
    ("SIGTSTP", Signal::SIGTSTP),
    ("SIGTTIN", Signal::SIGTTIN),
    ("SIGTTOU", Signal::SIGTTOU),
    ("SIGURG", Signal::SIGURG),
    ("SIGUSR1", Signal::SIGUSR1),
    ("SIGUSR2", Signal::SIGUSR2),
    ("SIGVTALRM", Signal::SIGVTALRM),
    ("SIGWINCH", Signal::SIGWINCH),
    ("SIGXCPU", Signal::SIGXCPU),
    ("SIGXFSZ", Signal::SIGXFSZ),
];

impl FromStr for ResolvedSignal {
    type Err = String;

    /// A name from the original's list, case-insensitive with the `SIG` prefix, or a
    /// decimal signal number.
    fn from_str(text: &str) -> Result<ResolvedSignal, String> {
        let upper = text.trim().to_ascii_uppercase();
        if let Some((_, signal)) = SIGNALS.iter().find(|(name, _)| *name == upper) {
            return Ok(ResolvedSignal(*signal));
        }
        if let Ok(number) = upper.parse::<i32>() {
            return Signal::try_from(number)
                .map(ResolvedSignal)
                .map_err(|_| format!("`{text}` is not a signal number"));
        }
        Err(format!(
            "`{text}` is not a signal: use a name such as SIGTERM or SIGUSR1 (with the SIG prefix), or a number"
        ))
    }
}

impl std::fmt::Display for ResolvedSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn deserialize_signal<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ResolvedSignal, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn deserialize_timeout<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
    parse_timeout(&text).map(Some).map_err(serde::de::Error::custom)
}

/// A Go-style duration: whole numbers with units `h`, `m`, `s`, `ms` (`5m`, `1h30m`, `90s`).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let error = || format!("`{text}` is not a duration such as 30s, 5m or 1h30m");
    let mut rest = text.trim();
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(error());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().map_err(|_| error())?;
        rest = &rest[digits..];
        let (unit, length) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(error());
        };
        total += unit * u32::try_from(number).map_err(|_| error())?;
        rest = &rest[length..];
    }
    if total.is_zero() { Err(error()) } else { Ok(total) }
}

const CONFIG_KEYS: &[&str] = &[
    "listen_address",
    "verbose",
    "tls_key",
    "tls_crt",
    "tls_client_ca",
    "commands",
    "webhook_auth",
];
const COMMAND_KEYS: &[&str] = &[
    "cmd",
    "args",
    "match_labels",
    "notify_on_failure",
    "max",
    "ignore_resolved",
    "resolved_signal",
    "timeout",
    "dedup_window",
    "cooldown",
    "rate_limit",
    "payload_file",
    "log_output",
];

impl Config {
    /// Reads and checks the file at `path`; warnings name unknown keys.
    pub fn load(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text)
            .map_err(|problem| ConfigError::Invalid { path: path.to_owned(), problem })
    }

    /// Parses configuration text; returns the configuration and a warning per unknown key.
    pub fn parse(text: &str) -> Result<(Config, Vec<String>), String> {
        if text.trim().is_empty() {
            return Ok((Config::default(), Vec::new()));
        }
        let value: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|error| error.to_string())?;
        let mut warnings = Vec::new();
        if let Some(map) = value.as_mapping() {
            warn_unknown(map, CONFIG_KEYS, "", &mut warnings);
            if let Some(commands) = map.get("commands").and_then(|commands| commands.as_sequence())
            {
                for (index, command) in commands.iter().enumerate() {
                    if let Some(command) = command.as_mapping() {
                        warn_unknown(
                            command,
                            COMMAND_KEYS,
                            &format!("commands[{index}]."),
                            &mut warnings,
                        );
                    }
                }
            }
        }
        // Typed from the text, not from `value`: a `Value` has already turned `1` into a
        // number, while reading the text into a string field keeps it as written.
        let config: Config = serde_yaml::from_str(text).map_err(|error| error.to_string())?;
        for (index, command) in config.commands.iter().enumerate() {
            if command.cmd.trim().is_empty() {
                return Err(format!("commands[{index}].cmd is empty"));
            }
        }
        Ok((config, warnings))
    }

    /// Adds a command given on the command line, unless an identical one (same `cmd`,
    /// `args` and `match_labels`) is already configured.
    pub fn add_command_line(&mut self, command: &[String]) {
        let Some((cmd, args)) = command.split_first() else { return };
        let duplicate = self.commands.iter().any(|existing| {
            existing.cmd == *cmd && existing.args == args && existing.match_labels.is_empty()
        });
        if !duplicate {
            self.commands.push(CommandConfig {
                cmd: cmd.clone(),
                args: args.to_vec(),
                match_labels: BTreeMap::new(),
                notify_on_failure: true,
                max: 0,
                ignore_resolved: false,
                resolved_signal: ResolvedSignal::default(),
                timeout: None,
                dedup_window: None,
                cooldown: None,
                rate_limit: None,
                payload_file: false,
                log_output: false,
            });
        }
    }
}

impl Config {
    /// A warning per command that cannot run as configured: a path that does not exist or
    /// is not an executable file, or a bare name found on no `PATH` directory. The original
    /// started silently and failed at the first alert; these are said at start-up instead
    /// (still warnings, not errors: the file may appear before the first alert).
    pub fn command_warnings(&self) -> Vec<String> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        self.commands
            .iter()
            .enumerate()
            .filter_map(|(index, command)| {
                let problem = command_problem(&command.cmd, &path)?;
                Some(format!("commands[{index}].cmd `{}` {problem}", command.cmd))
            })
            .collect()
    }
}

/// Why `cmd` would not start, searching `path` for a bare name as `execvp` does.
fn command_problem(cmd: &str, path: &std::ffi::OsStr) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if cmd.contains('/') {
        let candidate = Path::new(cmd);
        return match std::fs::metadata(candidate) {
            Err(_) => Some("does not exist"),
            Ok(meta) if !meta.is_file() => Some("is not a file"),
            Ok(_) if !executable(candidate) => Some("is not executable"),
            Ok(_) => None,
        };
    }
    let found = std::env::split_paths(path).any(|dir| executable(&dir.join(cmd)));
    (!found).then_some("is not on PATH")
}

fn warn_unknown(
    map: &serde_yaml::Mapping,
    known: &[&str],
    prefix: &str,
    warnings: &mut Vec<String>,
) {
    for key in map.keys() {
        let name = key.as_str().map_or_else(|| format!("{key:?}"), str::to_owned);
        if !known.contains(&name.as_str()) {
            warnings.push(format!("unknown configuration key `{prefix}{name}` is ignored"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_cannot_run_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("heal.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let text = format!(
            "commands:\n  - cmd: /bin/sh\n  - cmd: sh\n  - cmd: {}\n  - cmd: /nonexistent/heal\n  - cmd: {}\n  - cmd: no-such-program-here\n",
            script.display(),
            dir.path().display()
        );
        let (config, _) = Config::parse(&text).unwrap();
        let warnings = config.command_warnings();
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings[0].starts_with("commands[2].cmd")
                && warnings[0].ends_with("is not executable")
        );
        assert_eq!(warnings[1], "commands[3].cmd `/nonexistent/heal` does not exist");
        assert!(
            warnings[2].starts_with("commands[4].cmd") && warnings[2].ends_with("is not a file")
        );
        assert_eq!(warnings[3], "commands[5].cmd `no-such-program-here` is not on PATH");
    }

    #[test]
    fn signals_by_name_and_number() {
        for (text, signal) in [
            ("SIGTERM", Signal::SIGTERM),
            ("sigusr1", Signal::SIGUSR1),
            ("SigHup", Signal::SIGHUP),
            ("9", Signal::SIGKILL),
            ("SIGIOT", Signal::SIGABRT),
        ] {
            assert_eq!(text.parse::<ResolvedSignal>(), Ok(ResolvedSignal(signal)), "{text}");
        }
        for text in ["TERM", "SIGFOO", "", "999", "-1"] {
            assert!(text.parse::<ResolvedSignal>().is_err(), "{text}");
        }
    }

    #[test]
    fn defaults_scalars_and_unknown_keys() {
        let text = "listen_address: ':9095'\nlisten_adress: x\ncommands:\n  - cmd: /bin/heal\n    match_labels: {code: 1, flag: true}\n    resolved_signal: sigterm\n    timeout: 1m30s\n    retries: 3\n";
        let (config, warnings) = Config::parse(text).unwrap();
        let command = &config.commands[0];
        assert_eq!(command.match_labels["code"], "1");
        assert_eq!(command.match_labels["flag"], "true");
        assert!(command.notify_on_failure && !command.ignore_resolved && command.max == 0);
        assert_eq!(command.resolved_signal, ResolvedSignal(Signal::SIGTERM));
        assert_eq!(command.timeout, Some(Duration::from_secs(90)));
        assert_eq!(
            warnings,
            [
                "unknown configuration key `listen_adress` is ignored",
                "unknown configuration key `commands[0].retries` is ignored"
            ]
        );
        assert_eq!(
            Config::parse("commands:\n  - cmd: x\n").unwrap().0.commands[0].resolved_signal,
            ResolvedSignal(Signal::SIGKILL)
        );
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(
            Config::parse("commands:\n  - cmd: x\n    resolved_signal: SIGNOPE\n")
                .unwrap_err()
                .contains("SIGNOPE")
        );
        assert!(
            Config::parse("commands:\n  - cmd: x\n    timeout: forever\n")
                .unwrap_err()
                .contains("forever")
        );
        assert!(Config::parse("commands: {").is_err());
        assert!(Config::parse("commands:\n  - args: [a]\n").unwrap_err().contains("cmd"));
    }

    #[test]
    fn command_line_command_is_added_once() {
        let (mut config, _) =
            Config::parse("commands:\n  - cmd: /bin/echo\n    args: [hi]\n").unwrap();
        config.add_command_line(&["/bin/echo".into(), "hi".into()]);
        assert_eq!(config.commands.len(), 1);
        config.add_command_line(&["/bin/echo".into(), "bye".into()]);
        assert_eq!(config.commands.len(), 2);
    }
}
