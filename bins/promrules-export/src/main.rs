//! `promrules-export`: writes the Prometheus target file (`targets OUT`) or rule file
//! (`rules OUT`) from the promrules database or server, reloads and verifies Prometheus,
//! once (for cron) or on an interval (`--watch`, for a sidecar); and `reload-on-change DIR`,
//! which reloads Prometheus when a directory something else updates really changes.
//! Wiring only: the command line is in `cli.rs`, the work in `promrules-export-lib`
//! (`promrules_export`) and `promrules-prometheus`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use promrules_export::{Export, ExportMetrics, Outcome, Reloads, Server, Source, What};
use promrules_model::Store;
use promrules_prometheus::{Auth, Prometheus};
use promrules_targets::Filter;

mod cli;

use cli::{Cli, Command, FileArgs, ReloadAuth};

fn main() -> ExitCode {
    let cli = Cli::parse();
    promrules_logging::init(promrules_logging::level(cli.verbose), cli.log_format);
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
        Command::ReloadOnChange {
            dir,
            reload,
            reload_all_addresses,
            auth,
            debounce,
            metrics: listen,
        } => {
            let dir = promrules_export::watched_dir(&dir)?;
            let reload = reloads(&reload, reload_all_addresses, &auth)?;
            let metrics = ExportMetrics::default();
            if let Some(address) = listen.metrics_listen {
                metrics.serve(address, listen.metrics_insecure)?;
            }
            return Ok(promrules_export::reload_on_change(&dir, &reload, debounce, &metrics)?);
        }
        Command::Targets { file, service, project } => {
            let filter = Filter { shard: file.shard.clone(), service, project };
            (file, What::Targets(filter), None)
        }
        Command::Rules { file, heal_label, promtool, no_promtool } => {
            let promtool =
                if no_promtool { None } else { promtool.or_else(promrules_export::find_promtool) };
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
    export.reload = reloads(&file.reload, file.reload_all_addresses, &file.auth)?;
    export.promtool = promtool;
    export.allow_empty = file.allow_empty;
    export.follow_symlink = file.follow_symlink;
    export.max_size = file.max_size;
    let Some(interval) = file.watch else {
        let outcome = export.run_once()?;
        report(&export, outcome, log::Level::Info);
        return Ok(());
    };
    let metrics = ExportMetrics::default();
    if let Some(address) = file.metrics_listen {
        metrics.serve(address, file.metrics_insecure)?;
    }
    log::info!("exporting `{}` every {interval:?}", file.out.display());
    loop {
        let round = export.run_once();
        metrics.round(&round);
        match round {
            Ok(outcome) => report(&export, outcome, log::Level::Debug),
            Err(error) => log::error!("{error}"),
        }
        std::thread::sleep(interval);
    }
}

/// The servers of `--reload` (each with the same credentials).
fn reloads(urls: &[String], all_addresses: bool, auth: &ReloadAuth) -> anyhow::Result<Reloads> {
    let servers = urls.iter().map(|url| prometheus(url, auth)).collect::<anyhow::Result<_>>()?;
    Ok(Reloads { servers, all_addresses })
}

fn prometheus(url: &str, auth: &ReloadAuth) -> anyhow::Result<Prometheus> {
    let prometheus = Prometheus::new(url);
    Ok(match (&auth.reload_bearer_token_file, &auth.reload_basic_auth_file) {
        (Some(path), _) => prometheus.with_auth(Auth::bearer_file(path)?),
        (None, Some(path)) => prometheus.with_auth(Auth::basic_file(path)?),
        (None, None) => prometheus,
    })
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
        let mut server = Server::new(url, token, file.ca_file.as_deref())?;
        server.max_size = file.max_size;
        return Ok(Source::Server(server));
    }
    let url = file.database.as_deref().unwrap_or_default();
    Ok(Source::Database(Store::open_existing(url)?))
}

/// One line for what a run did; `quiet` is the level of "nothing to do" (info for a single
/// run, from cron; debug in `--watch`, which would otherwise say it every interval).
fn report(export: &Export, outcome: Outcome, quiet: log::Level) {
    let out = export.out.display();
    match outcome {
        Outcome::Unchanged => log::log!(quiet, "`{out}` is unchanged"),
        Outcome::Written => log::info!("wrote `{out}`"),
        Outcome::Reloaded => log::info!("wrote `{out}`; {} reloaded it", export.reload.describe()),
        Outcome::ReloadRetried => {
            log::info!("reloaded `{out}` (its earlier reload had failed)")
        }
        Outcome::KnownBad => {
            log::log!(
                quiet,
                "the content that failed before is unchanged; `{out}` keeps the previous one"
            );
        }
    }
}
