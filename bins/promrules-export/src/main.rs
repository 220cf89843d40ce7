//! `promrules-export`: writes the Prometheus target file (`targets OUT`) or rule file
//! (`rules OUT`) from the promrules database or server, reloads and verifies Prometheus,
//! once (for cron) or on an interval (`--watch`, for a sidecar); and `reload-on-change DIR`,
//! which reloads Prometheus when a directory something else updates really changes.
//! Wiring only: the work is in `promrules-targets`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Parser, Subcommand};
use promrules_model::Store;
use promrules_targets::{Export, Filter, Outcome, Prometheus, Server, Source, What};
use promrules_yaml::HealLabel;

#[derive(Debug, Parser)]
#[command(
    name = "promrules-export",
    version,
    about = "Write Prometheus target and rule files from promrules, reload and verify"
)]
struct Cli {
    /// Log more: -v for debug, -vv for trace; RUST_LOG overrides
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        /// Prometheus to reload: its base URL or its /-/reload URL
        #[arg(long, value_name = "URL")]
        reload: String,
        /// Wait until the directory has been quiet this long
        #[arg(long, default_value = "1s", value_parser = parse_interval)]
        debounce: Duration,
    },
}

#[derive(Debug, clap::Args)]
struct FileArgs {
    /// The file to write (replaced atomically)
    out: PathBuf,

    /// Read the promrules database directly: a SQLite file or postgres://…
    #[arg(
        long,
        env = "PROMRULES_DATABASE",
        hide_env_values = true,
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    database: Option<String>,

    /// Read from a promrules server instead, e.g. http://promrules:8090
    #[arg(long, env = "PROMRULES_URL", value_name = "URL")]
    from: Option<String>,

    /// Bearer token for --from (PROMRULES_TOKEN)
    #[arg(long, env = "PROMRULES_TOKEN", hide_env_values = true, requires = "from")]
    token: Option<String>,

    /// A file holding the bearer token for --from (keeps it out of the process list)
    #[arg(long, conflicts_with = "token", requires = "from")]
    token_file: Option<PathBuf>,

    /// Trust only the PEM certificates in this file for an https --from (an internal CA)
    #[arg(long, requires = "from")]
    ca_file: Option<PathBuf>,

    /// Only this shard's targets, or its rules plus rules without a datasource
    #[arg(long)]
    shard: Option<String>,

    /// The file's permissions, in octal
    #[arg(long, default_value = "644", value_parser = parse_mode)]
    mode: u32,

    /// After a change, reload this Prometheus (base URL or /-/reload URL) and verify it
    #[arg(long, value_name = "URL")]
    reload: Option<String>,

    /// Let a file with no targets (or no rule groups) replace one that has some
    #[arg(long)]
    allow_empty: bool,

    /// Keep running: poll every INTERVAL (such as 30s) and write and reload only on change
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    watch: Option<Duration>,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    promrules_model::parse_duration(text)
        .map_err(|e| e.to_string())
        .and_then(|d| if d.is_zero() { Err("must be more than 0s".into()) } else { Ok(d) })
}

fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("`{text}` is not an octal file mode such as 644"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let (file, what, promtool) = match command {
        Command::ReloadOnChange { dir, reload, debounce } => {
            let dir = promrules_targets::watched_dir(&dir)?;
            return Ok(promrules_targets::reload_on_change(
                &dir,
                &Prometheus::new(&reload),
                debounce,
            )?);
        }
        Command::Targets { file, service, project } => {
            let filter = Filter { shard: file.shard.clone(), service, project };
            (file, What::Targets(filter), None)
        }
        Command::Rules { file, heal_label, promtool, no_promtool } => {
            let promtool =
                if no_promtool { None } else { promtool.or_else(promrules_targets::find_promtool) };
            if !no_promtool && promtool.is_none() {
                log::info!("promtool not found; the rule file is written unchecked");
            }
            let what = What::Rules { shard: file.shard.clone(), heal_label };
            (file, what, promtool)
        }
    };
    let source = source(&file)?;
    let mut export = Export::new(source, what, file.out.clone());
    export.mode = file.mode;
    export.reload = file.reload.as_deref().map(Prometheus::new);
    export.promtool = promtool;
    export.allow_empty = file.allow_empty;
    let Some(interval) = file.watch else {
        let outcome = export.run_once()?;
        report(&export, outcome);
        return Ok(());
    };
    log::info!("exporting `{}` every {interval:?}", file.out.display());
    loop {
        match export.run_once() {
            Ok(outcome) => report(&export, outcome),
            Err(error) => log::error!("{error}"),
        }
        std::thread::sleep(interval);
    }
}

fn source(file: &FileArgs) -> anyhow::Result<Source> {
    if let Some(url) = &file.from {
        let token = match &file.token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the token file `{}`", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => file.token.clone(),
        };
        return Ok(Source::Server(Server::new(url, token, file.ca_file.as_deref())?));
    }
    let url = file.database.as_deref().unwrap_or_default();
    Ok(Source::Database(Store::open_existing(url)?))
}

fn report(export: &Export, outcome: Outcome) {
    let out = export.out.display();
    match (outcome, &export.reload) {
        (Outcome::Unchanged, _) => log::debug!("`{out}` is unchanged"),
        (Outcome::Written, _) => log::info!("wrote `{out}`"),
        (Outcome::Reloaded, Some(prometheus)) => {
            log::info!("wrote `{out}`; {} reloaded it", prometheus.url());
        }
        (Outcome::Reloaded, None) => log::info!("wrote `{out}`"),
        (Outcome::ReloadRetried, _) => {
            log::info!("reloaded `{out}` (its earlier reload had failed)")
        }
        (Outcome::KnownBad, _) => {
            log::debug!(
                "the content that failed before is unchanged; `{out}` keeps the previous one"
            );
        }
    }
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
    }
}
