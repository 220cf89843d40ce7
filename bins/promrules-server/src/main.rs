//! `promrules-server`: the REST server over the rule store, plus offline `migrate`,
//! `render`, `import`, `import-targets` and `deploy`. Wiring only: the command line is in
//! `cli.rs`, the offline commands in `commands.rs`, the work in `promrules-api`,
//! `promrules-rollout`, `promrules-model`, `promrules-yaml` and `promrules-targets`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use promrules_api::{AppState, Config, Listen, TlsFiles, Token, check_exposure, router};
use promrules_model::Store;

mod cli;
mod commands;

use cli::{Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    promrules_logging::init(promrules_logging::level(cli.verbose), cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let store = Store::open(&cli.database)
        .context("opening the database")?
        .acting_as(format!("cli:{user}"));
    match cli.command {
        Command::Serve(args) => serve(store, args),
        Command::Migrate => {
            log::info!("the {} database `{}` is up to date", store.backend(), store.location());
            Ok(())
        }
        Command::Render(args) => commands::render(&store, args),
        Command::Import(args) => commands::import(&store, args),
        Command::ImportSlo(args) => commands::import_slo(&store, args),
        Command::ImportTargets { file } => commands::import_targets(&store, &file),
        Command::Deploy(args) => commands::deploy(store, args),
        Command::History { rule, limit } => commands::history(&store, rule, limit),
        Command::Restore { revision, rule } => commands::restore(&store, revision, rule),
        Command::Lint => commands::lint(&store),
        Command::TestRules(args) => commands::test_rules(&store, args),
    }
}

fn serve(store: Store, args: ServeArgs) -> anyhow::Result<()> {
    let mut tokens = args.tokens;
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading token file `{}`", path.display()))?;
        tokens.extend(
            Token::parse_file(&text).with_context(|| format!("token file `{}`", path.display()))?,
        );
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let (has_tokens, has_tls) = (!tokens.is_empty(), tls.is_some());
    check_exposure(
        args.listen,
        has_tokens,
        has_tls,
        args.insecure_no_auth,
        args.insecure_plain_http,
    )
    .map_err(anyhow::Error::msg)?;
    let config = Config {
        tokens,
        public_reads: args.public_reads,
        body_limit: args.body_limit,
        heal_label: args.heal_label,
        deploy: promrules_rollout::DeploySettings {
            ssh_idle_time: std::time::Duration::from_secs(args.ssh_idle),
            remote_promtool: args.remote_promtool,
        },
        ..Config::default()
    };
    let auth = if config.tokens.is_empty() { "off" } else { "on" };
    let state = AppState::new(store.clone(), config);
    let rollout = state.rollout().clone();
    // The web UI under /ui/ beside the API, on the same state (store, tokens, rollout).
    let web = promrules_web::WebConfig { secure_cookies: has_tls, ..Default::default() };
    let app = router(state.clone()).merge(promrules_web::router(state, web));

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        if let Some(seconds) = args.auto_deploy_after {
            log::info!("auto-deploy: to every stored host, {seconds} s after rule changes settle");
            rollout.spawn_auto_deploy(std::time::Duration::from_secs(seconds));
        }
        if let Some(seconds) = args.drift_check_every {
            let mode = if args.drift_repair { "repairing" } else { "reporting" };
            log::info!("drift check every {seconds} s, {mode}");
            rollout.spawn_drift_check(std::time::Duration::from_secs(seconds), args.drift_repair);
        }
        let scheme = if has_tls { "https" } else { "http" };
        let base = format!("{scheme}://{}", args.listen);
        log::info!(
            "serving the {} database `{}` on {base}: the UI at {base}/ui/, the API at {base}/api/v1 (token auth {auth})",
            store.backend(),
            store.location(),
        );
        let listen = Listen {
            address: args.listen,
            tls,
            client_timeout: std::time::Duration::from_secs(args.client_timeout),
        };
        promrules_api::serve(app, listen, shutdown_signal()).await.context("serving")?;
        rollout.shutdown().await;
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
