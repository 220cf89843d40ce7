//! `promrules-server`: the REST server over the rule store, plus offline `migrate`,
//! `render`, `import`, `import-targets` and `deploy`. Wiring only: the command line is in
//! `cli.rs`, the work in `promrules-api`, `promrules-model`, `promrules-yaml`,
//! `promrules-targets` and `promrules-deploy`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use promrules_api::{
    AppState, Config, DeployRequest, deployer_for, report_table, router, run_deployment,
    select_hosts, stored_hosts,
};
use promrules_deploy::HostReport;
use promrules_model::{ImportOptions, Store};
use promrules_yaml::{RenderOptions, Selection};

mod cli;

use cli::{Cli, Command, DeployArgs, ImportArgs, RenderArgs, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let store = Store::open(&cli.database).context("opening the database")?;
    match cli.command {
        Command::Serve(args) => serve(store, args),
        Command::Migrate => {
            log::info!("the {} database is up to date", store.backend());
            Ok(())
        }
        Command::Render(args) => render(&store, args),
        Command::Import(args) => import(&store, args),
        Command::ImportTargets { file } => import_targets(&store, &file),
        Command::Deploy(args) => deploy(store, args),
    }
}

fn deploy(store: Store, args: DeployArgs) -> anyhow::Result<()> {
    let hosts = match &args.inventory {
        Some(path) => promrules_deploy::Inventory::load(path)?.hosts,
        None => stored_hosts(&store).map_err(|e| anyhow::anyhow!("{}", e.message()))?,
    };
    let hosts = select_hosts(hosts, &args.hosts).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()));
    let request = DeployRequest {
        hosts: args.hosts.clone(),
        dry_run: args.dry_run,
        force: args.force,
        concurrency: Some(args.concurrency),
    };
    let id = store.start_deployment(&actor, &serde_json::to_value(&request)?)?;
    let control_dir = tempfile::Builder::new()
        .prefix("promrules-ssh")
        .tempdir()
        .context("creating the ssh control directory")?;
    let deployer = deployer_for(&store, control_dir.path());
    let total = hosts.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let progress = move |report: &HostReport| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        log::info!(
            "[{n}/{total}] {}: {} in {:.1} s: {}",
            report.host,
            report.outcome.as_str(),
            report.duration.as_secs_f64(),
            report.message
        );
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let reports = runtime
        .block_on(run_deployment(store, deployer, hosts, request, args.heal_label, id, progress))
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;

    std::io::stdout()
        .lock()
        .write_all(report_table(id, &reports, args.diff).as_bytes())
        .context("writing to stdout")?;
    let failed = reports.iter().filter(|r| r.outcome.is_failure()).count();
    if failed > 0 {
        bail!("{failed} of {} host(s) failed or rolled back", reports.len());
    }
    Ok(())
}

fn serve(store: Store, args: ServeArgs) -> anyhow::Result<()> {
    let mut tokens: Vec<String> =
        args.tokens.into_iter().filter(|token| !token.is_empty()).collect();
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading token file `{}`", path.display()))?;
        tokens
            .extend(text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned));
    }
    if tokens.is_empty() && !args.listen.ip().is_loopback() && !args.insecure_no_auth {
        bail!(
            "refusing to listen on {} without a token: anyone who reaches it could change rules; \
             set --token or PROMRULES_TOKENS, or pass --insecure-no-auth",
            args.listen
        );
    }
    let config = Config {
        tokens,
        body_limit: args.body_limit,
        heal_label: args.heal_label,
        ..Config::default()
    };
    let auth = if config.tokens.is_empty() { "off" } else { "on" };
    let state = AppState::new(store.clone(), config);
    let app = router(state.clone());

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        if let Some(seconds) = args.auto_deploy_after {
            log::info!("auto-deploy: to every stored host, {seconds} s after rule changes settle");
            promrules_api::spawn_auto_deploy(
                state.clone(),
                std::time::Duration::from_secs(seconds),
            );
        }
        if let Some(seconds) = args.drift_check_every {
            let mode = if args.drift_repair { "repairing" } else { "reporting" };
            log::info!("drift check every {seconds} s, {mode}");
            promrules_api::spawn_drift_check(
                state.clone(),
                std::time::Duration::from_secs(seconds),
                args.drift_repair,
            );
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        log::info!(
            "serving the {} database on http://{} (token auth {auth})",
            store.backend(),
            listener.local_addr()?
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")?;
        log::info!("stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish before the server exits.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT received; finishing in-flight requests"),
        _ = terminate.recv() => log::info!("SIGTERM received; finishing in-flight requests"),
    }
}

fn render(store: &Store, args: RenderArgs) -> anyhow::Result<()> {
    let (rules, groups) = store.rules_and_groups()?;
    let selection = Selection {
        datasources: args.datasource.into_iter().collect(),
        heal_only: args.heal_only,
        include_disabled: args.include_disabled,
    };
    let text = promrules_yaml::render(
        &rules,
        &groups,
        &RenderOptions { selection, heal_label: args.heal_label },
    );
    match &args.output {
        Some(path) => {
            promrules_targets::write_atomically(path, text.as_bytes(), 0o644)?;
            log::info!("wrote `{}` ({} bytes)", path.display(), text.len());
            Ok(())
        }
        None => std::io::stdout().lock().write_all(text.as_bytes()).context("writing to stdout"),
    }
}

fn import(store: &Store, args: ImportArgs) -> anyhow::Result<()> {
    let file = promrules_yaml::parse_file(&args.file, &args.heal_label)?;
    let report = store.import(&file.groups, ImportOptions { datasource_id: args.datasource })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "created {}, updated {}, unchanged {} (groups created: {})",
        report.created, report.updated, report.unchanged, report.groups_created
    )?;
    Ok(())
}

fn import_targets(store: &Store, file: &std::path::Path) -> anyhow::Result<()> {
    let json = std::fs::read(file).with_context(|| format!("reading `{}`", file.display()))?;
    let imported = promrules_targets::from_file_sd(&json, &file.display().to_string())?;
    for skipped in &imported.skipped {
        log::warn!("{}: {skipped}", file.display());
    }
    let report = store
        .import_targets(&imported.model)
        .with_context(|| format!("importing `{}`", file.display()))?;
    let mut out = std::io::stdout().lock();
    for kind in ["shards", "services", "farms", "projects", "exporters"] {
        let created = report.created.get(kind).copied().unwrap_or_default();
        let updated = report.updated.get(kind).copied().unwrap_or_default();
        writeln!(out, "{kind}: created {created}, updated {updated}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
