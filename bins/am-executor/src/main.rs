//! `am-executor`: runs commands for Alertmanager webhooks, with prometheus-am-executor's
//! command line (`-f FILE`, `-l ADDR`, `-v`, then an optional command and its arguments).
//! Wiring only: the work is in `promrules-executor`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use promrules_executor::{
    Audit, Config, ConfigError, Executor, Listen, ReportTo, WebhookAuth, bind, exposure,
    parse_listen_address, serve, tls_files,
};

mod cli;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, warnings) = match load(&cli) {
        Ok(loaded) => loaded,
        Err(error) => {
            #[allow(
                clippy::print_stderr,
                reason = "the logger's level depends on the configuration being read"
            )]
            {
                eprintln!("am-executor: {error:#}");
            }
            return ExitCode::FAILURE;
        }
    };
    let level = promrules_logging::level(u8::from(cli.verbose || config.verbose));
    promrules_logging::init(level, cli.log_format);
    for warning in warnings {
        log::warn!("{warning}");
    }
    match run(&cli, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<(Config, Vec<String>)> {
    let (mut config, warnings) = match &cli.config_file {
        Some(path) => Config::load(path)?,
        None => (Config::default(), Vec::new()),
    };
    config.add_command_line(&cli.command);
    if config.commands.is_empty() {
        return Err(ConfigError::NoCommand.into());
    }
    tls_files(config.tls_crt.as_deref(), config.tls_key.as_deref())?;
    let mut warnings = warnings;
    warnings.extend(config.command_warnings());
    Ok((config, warnings))
}

fn run(cli: &Cli, config: Config) -> anyhow::Result<()> {
    let address_text = cli
        .listen_address
        .clone()
        .or_else(|| config.listen_address.clone())
        .unwrap_or_else(|| ":8080".to_owned());
    let auth = match &config.webhook_auth {
        Some(auth) => WebhookAuth::load(auth)?,
        None => None,
    };
    let address = parse_listen_address(&address_text)?;
    let listen = Listen {
        tls: tls_files(config.tls_crt.as_deref(), config.tls_key.as_deref())?,
        auth,
        client_ca: config.tls_client_ca.as_ref().filter(|ca| !ca.is_empty()).map(Into::into),
        insecure_no_auth: cli.insecure_no_auth,
    };
    exposure(address, listen.authenticated(), listen.insecure_no_auth)?;
    for command in &config.commands {
        log::info!(
            "command `{}` {:?} for labels {:?}",
            command.cmd,
            command.args,
            command.match_labels
        );
    }
    if cli.dry_run {
        log::warn!("dry run: commands are logged, not run");
    }
    let report = cli.report_to.as_deref();
    let report =
        report.map(|url| ReportTo::new(url, cli.report_token_file.as_deref())).transpose()?;
    let audit = Audit::new(cli.audit_log.as_deref(), report)?;
    let executor = Executor::new(&config).with_dry_run(cli.dry_run).with_audit(audit);
    let executor = Arc::new(executor);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let socket = bind(address)?;
    runtime.block_on(serve(
        executor,
        socket,
        listen,
        cli.body_limit,
        Duration::from_secs(cli.shutdown_grace),
        shutdown_signal(),
    ))?;
    log::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT received"),
        _ = terminate.recv() => log::info!("SIGTERM received"),
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
    fn go_style_command_line() {
        let cli = Cli::parse_from(["am-executor", "-l", ":9095", "-v", "/bin/echo", "-n", "hello"]);
        assert_eq!(cli.listen_address.as_deref(), Some(":9095"));
        assert!(cli.verbose);
        assert_eq!(cli.command, ["/bin/echo", "-n", "hello"]);
    }
}
