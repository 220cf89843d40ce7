//! The command line of `promrules-server`: every subcommand and flag, with its
//! environment variable and default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};
use promrules_api::{Scope, Token};
use promrules_rollout::RemotePromtool;
use promrules_yaml::HealLabel;

#[derive(Debug, Parser)]
#[command(
    name = "promrules-server",
    version,
    about = "Prometheus rules as data: REST server, renderer and importer"
)]
pub(crate) struct Cli {
    /// Database: a SQLite file path or sqlite://PATH (created if missing), or postgres://USER[:PASSWORD]@HOST[:PORT]/DB
    #[arg(
        long,
        env = "PROMRULES_DATABASE",
        default_value = "promrules.db",
        global = true,
        hide_env_values = true
    )]
    pub(crate) database: String,

    /// Log more: -v for debug (one line per request), -vv for trace; RUST_LOG overrides
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
    /// Serve the REST API (migrates the database first)
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit
    Migrate,
    /// Write the Prometheus rule file for the stored rules
    Render(RenderArgs),
    /// Upsert the rules of a Prometheus rule file, by group and rule name
    Import(ImportArgs),
    /// Store the SLOs of a sloth SLO spec (`prometheus/v1`), upserted by service and name, with their generated burn-rate rules
    ImportSlo(ImportSloArgs),
    /// Upsert shards, services, farms, projects and exporters from a file_sd target file in Promgen's shape (migrating from Promgen)
    ImportTargets {
        /// The JSON target file (Promgen's export, or promrules-export's)
        file: PathBuf,
    },
    /// Deploy the rule files to Prometheus hosts over SSH (hosts from the database or an inventory)
    Deploy(DeployArgs),
    /// List the revisions of rules and groups, newest first (or one rule's history)
    History {
        /// Only the revisions that touched this rule
        #[arg(long)]
        rule: Option<i64>,
        /// How many revisions to list
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Make the rules and groups what they were right after a revision, as a new revision
    Restore {
        /// The revision number
        revision: i64,
        /// Only this rule
        #[arg(long)]
        rule: Option<i64>,
    },
    /// Warn about stored rules that are valid but probably wrong (exits 0)
    Lint,
    /// Run promtool unit-test files against the rendered rules; exits 1 when a test fails
    TestRules(TestRulesArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct TestRulesArgs {
    /// promtool unit-test files (`tests:`; their `rule_files` is replaced by the rendered rules)
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,

    /// The rules as they were right after this revision instead of now
    #[arg(long)]
    pub(crate) revision: Option<i64>,

    /// Only this datasource's rules, plus rules without a datasource
    #[arg(long)]
    pub(crate) datasource: Option<i64>,

    /// promtool to run (default: from PATH)
    #[arg(long)]
    pub(crate) promtool: Option<PathBuf>,

    /// The label that routes heal-enabled alerts to am-executor, as NAME=VALUE
    #[arg(long, default_value = "heal=true")]
    pub(crate) heal_label: HealLabel,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    /// Only this host (repeat for several); default: every host
    #[arg(long = "host", value_name = "NAME")]
    pub(crate) hosts: Vec<String>,

    /// Hosts from this YAML inventory file instead of the database
    #[arg(long)]
    pub(crate) inventory: Option<PathBuf>,

    /// Connect, compare and check, but change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Print the difference between each live file and the new one
    #[arg(long)]
    pub(crate) diff: bool,

    /// Upload and reload even where the live file is identical
    #[arg(long)]
    pub(crate) force: bool,

    /// How many hosts at once
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,

    /// Where promtool checks the file: always on the host, auto (here with a promtool of the host's Prometheus version, else on the host), or never on the host (a host's own remote_promtool wins)
    #[arg(long, default_value = "auto")]
    pub(crate) remote_promtool: RemotePromtool,

    /// The label that routes heal-enabled alerts to am-executor, as NAME=VALUE
    #[arg(long, default_value = "heal=true")]
    pub(crate) heal_label: HealLabel,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "PROMRULES_LISTEN", default_value = "127.0.0.1:8090")]
    pub(crate) listen: SocketAddr,

    /// Keep each host's SSH connection open this many seconds after a deploy (0: close it at once)
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) ssh_idle: u64,

    /// Where deploys check files with promtool: always (on the host), auto or never (on the host)
    #[arg(long, default_value = "auto")]
    pub(crate) remote_promtool: RemotePromtool,

    /// A bearer token with every scope, named `admin`; repeat for several (PROMRULES_TOKENS: comma-separated)
    #[arg(long = "token", env = "PROMRULES_TOKENS", value_delimiter = ',', hide_env_values = true,
          value_parser = admin_token)]
    pub(crate) tokens: Vec<Token>,

    /// A file of named, scoped tokens, one `NAME SCOPE TOKEN` per line (scopes: read, write, deploy, admin, and report: heal runs only; `#` comments)
    #[arg(long, env = "PROMRULES_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,

    /// With tokens, let plain reads through without one (never hosts, tokens or /api/v1/targets)
    #[arg(long)]
    pub(crate) public_reads: bool,

    /// Allow listening beyond loopback without any token
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,

    /// Serve HTTPS with this PEM certificate chain (reloaded with its key on SIGHUP)
    #[arg(long, env = "PROMRULES_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, env = "PROMRULES_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Allow listening beyond loopback over plain HTTP (tokens then cross the network in clear)
    #[arg(long)]
    pub(crate) insecure_plain_http: bool,

    /// Close a connection whose client takes longer than this to send a request's headers,
    /// idles longer between requests, or pauses longer while sending a body
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    pub(crate) client_timeout: u64,

    /// The largest accepted request body, in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    pub(crate) body_limit: usize,

    /// The label that routes heal-enabled alerts to am-executor, as NAME=VALUE
    #[arg(long, default_value = "heal=true")]
    pub(crate) heal_label: HealLabel,

    /// Deploy to every stored host once rule changes have settled for this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub(crate) auto_deploy_after: Option<u64>,

    /// Every this many seconds, compare each host's live rule file with what it should be
    #[arg(long, value_name = "SECONDS")]
    pub(crate) drift_check_every: Option<u64>,

    /// With --drift-check-every: deploy where a host drifted, instead of only reporting it
    #[arg(long, requires = "drift_check_every")]
    pub(crate) drift_repair: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    /// Write here (atomically: a temp file in the same directory, then a rename) instead of stdout
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,

    /// Only this datasource's rules, plus rules without a datasource
    #[arg(long)]
    pub(crate) datasource: Option<i64>,

    /// Only heal-enabled rules (what the original pipeline emitted)
    #[arg(long)]
    pub(crate) heal_only: bool,

    /// Disabled rules too
    #[arg(long)]
    pub(crate) include_disabled: bool,

    /// The label that routes heal-enabled alerts to am-executor, as NAME=VALUE
    #[arg(long, default_value = "heal=true")]
    pub(crate) heal_label: HealLabel,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// A Prometheus rule file
    pub(crate) file: PathBuf,

    /// The datasource of the rules this import creates
    #[arg(long)]
    pub(crate) datasource: Option<i64>,

    /// Make each group named in the file equal to it: delete its rules the file no longer has
    #[arg(long)]
    pub(crate) prune: bool,

    /// Print what would be created, updated and deleted, and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// The label that marks heal-enabled alerts, as NAME=VALUE
    #[arg(long, default_value = "heal=true")]
    pub(crate) heal_label: HealLabel,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportSloArgs {
    /// A sloth SLO spec (`version: "prometheus/v1"`)
    pub(crate) file: PathBuf,

    /// The datasource of the SLOs' rules
    #[arg(long)]
    pub(crate) datasource: Option<i64>,

    /// Delete the stored SLOs of the file's service that the file no longer has, with their rules
    #[arg(long)]
    pub(crate) prune: bool,

    /// Print what would be created, updated and deleted, and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// The period the objectives count over: 30d or 28d (sloth's --default-slo-period)
    #[arg(long, default_value = "30d")]
    pub(crate) period: promrules_slo::Period,
}

/// A `--token` value: a token named `admin` with every scope (an empty value is none).
fn admin_token(secret: &str) -> Result<Token, String> {
    Token::new("admin", Scope::Admin, secret)
}
