//! The offline commands: `render`, `import`, `import-targets`, `deploy`, `history`,
//! `restore`, `lint` and `test-rules`. Each reads its arguments, calls one library and
//! prints what it did.

use std::io::Write;

use anyhow::{Context, bail};
use promrules_deploy::HostReport;
use promrules_model::{ImportAction, ImportOptions, SloImportOptions, Store};
use promrules_rollout::{DeployRequest, DeploySettings, Hosts, Rollout, report_table};
use promrules_yaml::{RenderOptions, Selection};

use crate::cli::{DeployArgs, ImportArgs, ImportSloArgs, RenderArgs, TestRulesArgs};

pub(crate) fn deploy(store: Store, args: DeployArgs) -> anyhow::Result<()> {
    let hosts = match &args.inventory {
        Some(path) => Hosts::Given(promrules_deploy::Inventory::load(path)?.hosts),
        None => Hosts::Stored,
    };
    let actor = store.actor().to_owned();
    let request = DeployRequest {
        hosts: args.hosts.clone(),
        dry_run: args.dry_run,
        force: args.force,
        concurrency: Some(args.concurrency),
    };
    let control_dir = tempfile::Builder::new()
        .prefix("promrules-ssh")
        .tempdir()
        .context("creating the ssh control directory")?;
    // One deploy: no connection is worth keeping after it.
    let settings = DeploySettings {
        ssh_idle_time: std::time::Duration::ZERO,
        remote_promtool: args.remote_promtool,
    };
    let rollout = Rollout::with_settings(store, control_dir.path(), args.heal_label, settings);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let deployed = runtime.block_on(async {
        let started = rollout.start(&actor, hosts, request).await?;
        let total = started.hosts.len();
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
        rollout.run(started, progress).await
    })?;
    std::io::stdout()
        .lock()
        .write_all(report_table(deployed.id, &deployed.reports, args.diff).as_bytes())
        .context("writing to stdout")?;
    let failed = deployed.reports.iter().filter(|r| r.outcome.is_failure()).count();
    if failed > 0 {
        bail!("{failed} of {} host(s) failed or rolled back", deployed.reports.len());
    }
    Ok(())
}

pub(crate) fn render(store: &Store, args: RenderArgs) -> anyhow::Result<()> {
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

pub(crate) fn import(store: &Store, args: ImportArgs) -> anyhow::Result<()> {
    let file = promrules_yaml::parse_file(&args.file, &args.heal_label)?;
    let options =
        ImportOptions { datasource_id: args.datasource, prune: args.prune, dry_run: args.dry_run };
    let report = store.import(&file.groups, options)?;
    print_import(&report, args.dry_run)
}

/// The SLOs of a sloth spec, stored as SLOs with their generated rules: versioned,
/// rendered and deployed like every other rule.
pub(crate) fn import_slo(store: &Store, args: ImportSloArgs) -> anyhow::Result<()> {
    let name = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading `{name}`"))?;
    let settings = promrules_slo::ImportSettings {
        period: args.period,
        datasource: args.datasource,
        options: SloImportOptions { prune: args.prune, dry_run: args.dry_run },
    };
    let report = promrules_slo::import(store, &text, &name, settings)?;
    let mut out = std::io::stdout().lock();
    for change in &report.slos {
        let action = verb(change.action);
        writeln!(out, "{action} SLO {}", change.sloth_id)?;
    }
    drop(out);
    print_import(&report.rules, args.dry_run)
}

/// What an import did to a rule or an SLO, as a verb for its line.
fn verb(action: ImportAction) -> &'static str {
    match action {
        ImportAction::Created => "create",
        ImportAction::Updated => "update",
        ImportAction::Deleted => "delete",
    }
}

fn print_import(report: &promrules_model::ImportReport, dry_run: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for change in &report.changes {
        let action = verb(change.action);
        let fields = if change.fields.is_empty() {
            String::new()
        } else {
            format!(" ({})", change.fields.join(", "))
        };
        writeln!(out, "{action} {}/{}{fields}", change.group, change.rule)?;
    }
    for change in &report.group_changes {
        writeln!(out, "update group {} ({})", change.group, change.fields.join(", "))?;
    }
    let would = if dry_run { "dry run, nothing changed: would have " } else { "" };
    writeln!(
        out,
        "{would}created {}, updated {}, deleted {}, unchanged {} (groups created: {}, updated: {})",
        report.created,
        report.updated,
        report.deleted,
        report.unchanged,
        report.groups_created,
        report.groups_updated
    )?;
    Ok(())
}

pub(crate) fn import_targets(store: &Store, file: &std::path::Path) -> anyhow::Result<()> {
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

pub(crate) fn history(store: &Store, rule: Option<i64>, limit: i64) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>8}  {:<20}  {:<24}  {:<14}  CHANGES",
        "REVISION", "TIME (UTC)", "ACTOR", "ACTION"
    )?;
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    match rule {
        Some(id) => {
            for revision in store.rule_history(id)?.into_iter().take(limit.max(0) as usize) {
                let change = match (&revision.before, &revision.after) {
                    (None, _) => "created",
                    (_, None) => "deleted",
                    _ => "changed",
                };
                let (number, at) = (revision.number, time(revision.created_at));
                writeln!(
                    out,
                    "{number:>8}  {at:<20}  {:<24}  {:<14}  rule {id} {change}",
                    revision.actor, revision.action
                )?;
            }
        }
        None => {
            let page = promrules_model::Page { limit: Some(limit), offset: 0 };
            for revision in store.list_revisions(page)? {
                let (number, at) = (revision.number, time(revision.created_at));
                writeln!(
                    out,
                    "{number:>8}  {at:<20}  {:<24}  {:<14}  {}",
                    revision.actor, revision.action, revision.changed
                )?;
            }
        }
    }
    Ok(())
}

pub(crate) fn restore(store: &Store, number: i64, rule: Option<i64>) -> anyhow::Result<()> {
    let revision = store.restore(number, rule)?;
    let mut out = std::io::stdout().lock();
    for change in &revision.changes {
        let action = match (&change.before, &change.after) {
            (None, _) => "recreated",
            (_, None) => "deleted",
            _ => "restored",
        };
        writeln!(out, "{action} {} {}", change.entity, change.id)?;
    }
    writeln!(
        out,
        "revision {}: restored revision {number} ({} change(s))",
        revision.number,
        revision.changes.len()
    )?;
    Ok(())
}

pub(crate) fn lint(store: &Store) -> anyhow::Result<()> {
    let snapshot = store.snapshot()?;
    let warnings = promrules_model::lint(&snapshot.rules, &snapshot.groups);
    let mut out = std::io::stdout().lock();
    for warning in &warnings {
        writeln!(
            out,
            "{}/{} (rule {}): {}: {}",
            warning.group, warning.rule, warning.rule_id, warning.code, warning.message
        )?;
    }
    writeln!(out, "{} warning(s) in {} rule(s)", warnings.len(), snapshot.rules.len())?;
    Ok(())
}

pub(crate) fn test_rules(store: &Store, args: TestRulesArgs) -> anyhow::Result<()> {
    let promtool = args
        .promtool
        .or_else(promrules_prometheus::find_promtool)
        .context("promtool is not on PATH (install Prometheus's promtool or pass --promtool)")?;
    let snapshot = match args.revision {
        Some(number) => store.snapshot_at(number)?,
        None => store.snapshot()?,
    };
    let selection =
        Selection { datasources: args.datasource.into_iter().collect(), ..Selection::default() };
    let options = RenderOptions { selection, heal_label: args.heal_label };
    let rendered = promrules_yaml::render(&snapshot.rules, &snapshot.groups, &options);
    let mut failed = Vec::new();
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        let tests = std::fs::read_to_string(file)
            .with_context(|| format!("reading `{}`", file.display()))?;
        let verdict = promrules_prometheus::test_rules(&promtool, &rendered, &tests)
            .with_context(|| format!("`{}`", file.display()))?;
        let word = if verdict.passed { "PASSED" } else { "FAILED" };
        writeln!(
            out,
            "{word} {} (revision {})\n{}",
            file.display(),
            snapshot.revision,
            verdict.output
        )?;
        if !verdict.passed {
            failed.push(file.display().to_string());
        }
    }
    if !failed.is_empty() {
        bail!("rule unit tests failed: {}", failed.join(", "));
    }
    Ok(())
}
