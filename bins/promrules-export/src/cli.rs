//! The command line of `promrules-export`: subcommands, flags, and their parsers.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use promrules_yaml::HealLabel;

#[derive(Debug, Parser)]
#[command(
    name = "promrules-export",
    version,
    about = "Write Prometheus target and rule files from promrules, reload and verify"
)]
pub(crate) struct Cli {
    /// Log more: -v for debug, -vv for trace; RUST_LOG overrides
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Log lines as `human` text or `json` (one object per line)
    #[arg(long, global = true, default_value = "human", value_name = "FORMAT")]
    pub(crate) log_format: promrules_logging::Format,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write the file_sd target file (Promgen's export format)
    Targets {
        #[command(flatten)]
        file: FileArgs,
        /// Only projects of this service
        #[arg(long)]
        service: Option<String>,
        /// Only this project
        #[arg(long)]
        project: Option<String>,
    },
    /// Write the rule file
    Rules {
        #[command(flatten)]
        file: FileArgs,
        /// With --database: the label that routes heal-enabled alerts, as NAME=VALUE
        #[arg(long, default_value = "heal=true")]
        heal_label: HealLabel,
        /// The promtool that checks the new file before it replaces the old one (default: from PATH, if any)
        #[arg(long, conflicts_with = "no_promtool")]
        promtool: Option<PathBuf>,
        /// Do not run promtool
        #[arg(long)]
        no_promtool: bool,
    },
    /// Reload Prometheus whenever the content of DIR changes (ConfigMap mount, git checkout, rsync target)
    ReloadOnChange {
        /// The directory to watch
        dir: PathBuf,
        /// Prometheus to reload: its base URL or its /-/reload URL (repeat for several)
        #[arg(long, value_name = "URL", required = true)]
        reload: Vec<String>,
        /// A --reload URL whose host is a name stands for every address it resolves to (tasks.prometheus)
        #[arg(long)]
        reload_all_addresses: bool,
        #[command(flatten)]
        auth: ReloadAuth,
        /// Wait until the directory has been quiet this long
        #[arg(long, default_value = "1s", value_parser = parse_interval)]
        debounce: Duration,
        #[command(flatten)]
        metrics: MetricsArgs,
    },
}

/// Where the program's own metrics are served.
#[derive(Debug, clap::Args)]
pub(crate) struct MetricsArgs {
    /// Serve this program's metrics (rounds, failures, reloads, last success) on ADDRESS at /metrics
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,

    /// Let --metrics-listen listen beyond loopback (the metrics have no authentication)
    #[arg(long, requires = "metrics_listen")]
    pub(crate) metrics_insecure: bool,
}

/// Credentials for a Prometheus behind `--web.config.file` authentication.
#[derive(Debug, clap::Args)]
pub(crate) struct ReloadAuth {
    /// A file holding the bearer token for the Prometheus of --reload
    #[arg(long, value_name = "FILE", conflicts_with = "reload_basic_auth_file")]
    pub(crate) reload_bearer_token_file: Option<PathBuf>,

    /// A file holding USERNAME:PASSWORD for the Prometheus of --reload
    #[arg(long, value_name = "FILE")]
    pub(crate) reload_basic_auth_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct FileArgs {
    /// The file to write (replaced atomically)
    pub(crate) out: PathBuf,

    /// Read the promrules database directly: a SQLite file or postgres://…
    #[arg(
        long,
        env = "PROMRULES_DATABASE",
        hide_env_values = true,
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub(crate) database: Option<String>,

    /// Read from a promrules server instead, e.g. http://promrules:8090
    #[arg(long, env = "PROMRULES_URL", value_name = "URL")]
    pub(crate) from: Option<String>,

    /// Bearer token for --from (PROMRULES_TOKEN)
    #[arg(long, env = "PROMRULES_TOKEN", hide_env_values = true, requires = "from")]
    pub(crate) token: Option<String>,

    /// A file holding the bearer token for --from (keeps it out of the process list)
    #[arg(long, conflicts_with = "token", requires = "from")]
    pub(crate) token_file: Option<PathBuf>,

    /// Trust only the PEM certificates in this file for an https --from (an internal CA)
    #[arg(long, requires = "from")]
    pub(crate) ca_file: Option<PathBuf>,

    /// Only this shard's targets, or its rules plus rules without a datasource
    #[arg(long)]
    pub(crate) shard: Option<String>,

    /// The file's permissions, in octal
    #[arg(long, default_value = "644", value_parser = parse_mode)]
    pub(crate) mode: u32,

    /// After a change, reload this Prometheus (base URL or /-/reload URL) and verify it; repeat for several
    #[arg(long, value_name = "URL")]
    pub(crate) reload: Vec<String>,

    /// A --reload URL whose host is a name stands for every address it resolves to at each reload (tasks.prometheus)
    #[arg(long, requires = "reload")]
    pub(crate) reload_all_addresses: bool,

    #[command(flatten)]
    pub(crate) auth: ReloadAuth,

    /// Let a file with no targets (or no rule groups) replace one that has some
    #[arg(long)]
    pub(crate) allow_empty: bool,

    /// Replace the file that OUT links to (default: a symlink at OUT is refused)
    #[arg(long)]
    pub(crate) follow_symlink: bool,

    /// The largest answer (or existing OUT) read, in bytes or with KiB, MiB or GiB
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub(crate) max_size: u64,

    /// Keep running: poll every INTERVAL (such as 30s) and write and reload only on change
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub(crate) watch: Option<Duration>,

    /// With --watch: serve this program's metrics (rounds, failures, reloads, last success) on ADDRESS at /metrics
    #[arg(long, value_name = "ADDRESS", requires = "watch")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,

    /// Let --metrics-listen listen beyond loopback (the metrics have no authentication)
    #[arg(long, requires = "metrics_listen")]
    pub(crate) metrics_insecure: bool,
}

pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    promrules_model::parse_duration(text)
        .map_err(|e| e.to_string())
        .and_then(|d| if d.is_zero() { Err("must be more than 0s".into()) } else { Ok(d) })
}

pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let factor = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("`{text}` is not a size such as 1048576, 512KiB or 64MiB")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a size such as 1048576, 512KiB or 64MiB"))
}

pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("`{text}` is not an octal file mode such as 644"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn modes_and_intervals() {
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("999").is_err() && parse_mode("77777").is_err());
        assert_eq!(parse_interval("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_interval("0s").is_err() && parse_interval("soon").is_err());
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err() && parse_size("5MB").is_err() && parse_size("").is_err());
    }
}
