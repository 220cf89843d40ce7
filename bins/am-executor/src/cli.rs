//! The command line: prometheus-am-executor's flags (`-f`, `-l`, `-v`, then an optional
//! command), and ours.

use clap::Parser;
use promrules_executor::DEFAULT_BODY_LIMIT;

#[derive(Debug, Parser)]
#[command(name = "am-executor", version, about = "Run commands for Alertmanager webhook messages")]
pub(crate) struct Cli {
    /// YAML configuration file
    #[arg(short = 'f', long = "config-file")]
    pub(crate) config_file: Option<std::path::PathBuf>,

    /// Address to listen on, Go style (`:8080` is every interface); beats `listen_address`
    #[arg(short = 'l', long = "listen-address")]
    pub(crate) listen_address: Option<String>,

    /// Log every message and command (OR-ed with `verbose` in the file)
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,

    /// Log lines as `human` text or `json` (one object per line)
    #[arg(long, default_value = "human", value_name = "FORMAT")]
    pub(crate) log_format: promrules_logging::Format,

    /// The largest accepted webhook body, in bytes
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT)]
    pub(crate) body_limit: usize,

    /// On SIGTERM or SIGINT, how long running commands get before their resolve signal
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    pub(crate) shutdown_grace: u64,

    /// Log the argv and environment of each command that would run, run nothing, answer 200
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Append one JSON line per command run or skip to this file
    #[arg(long, value_name = "FILE")]
    pub(crate) audit_log: Option<std::path::PathBuf>,

    /// Post each run or skip to this promrules-server (`/api/v1/heal-runs`), retrying in the background
    #[arg(long, value_name = "URL")]
    pub(crate) report_to: Option<String>,

    /// The token for --report-to (a `write` token), read from this file
    #[arg(long, value_name = "FILE", requires = "report_to")]
    pub(crate) report_token_file: Option<std::path::PathBuf>,

    /// Listen beyond loopback without webhook authentication (anyone who reaches the port
    /// can run the configured commands)
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,

    /// A command (and its arguments) to run for every firing message, besides the file's
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}
