//! Embedding promrules' libraries in your own program: validate rules, keep them in a store,
//! render the Prometheus rule file, and export scrape targets as `file_sd` JSON, without
//! running the server.
//!
//! Run with: `cargo run -p promrules-example-embed -- [DATABASE]` (default: an in-memory
//! SQLite). Running it again on the same database changes nothing: the rules go in as an
//! import, which upserts by group and rule name.

use std::collections::BTreeMap;

use promrules_model::{
    Exporter, Farm, GroupSpec, GroupedRules, ImportOptions, Project, RuleSpec, Store,
};
use promrules_targets::{Filter, TargetsModel, file_sd, to_json};
use promrules_yaml::{RenderOptions, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::args().nth(1) {
        Some(flag) if flag.starts_with('-') => {
            report(
                "usage: promrules-example-embed [DATABASE]  (a SQLite path or postgres:// URL; default: in memory)",
            );
            return Ok(());
        }
        Some(url) => url,
        None => ":memory:".to_owned(),
    };
    let store = Store::open(&url)?;

    // Bad input is refused, with every bad field named.
    let bad = RuleSpec { for_duration: Some("5 minutes".into()), ..RuleSpec::alert("rate(up[5m]") };
    if let Err(errors) = bad.validate() {
        report(&format!("refused: {errors}"));
    }

    // A group with a heal-enabled alert and a recording rule, upserted by name.
    let node = GroupedRules {
        group: GroupSpec { interval: Some("30s".into()), ..GroupSpec::named("node") },
        rules: vec![
            RuleSpec {
                name: Some("DiskFull".into()),
                for_duration: Some("5m".into()),
                severity: "critical".into(),
                summary: "{{ $labels.instance }}: disk almost full".into(),
                heal_enabled: true,
                labels: BTreeMap::from([("team".into(), "storage".into())]),
                ..RuleSpec::alert("node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05")
            },
            RuleSpec::record(
                "instance:node_cpu:rate5m",
                "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
            ),
        ],
    };
    let imported = store.import(&[node], ImportOptions::default())?;
    report(&format!(
        "imported: created {}, updated {}, unchanged {}",
        imported.created, imported.updated, imported.unchanged
    ));

    // Render what Prometheus should load.
    let (rules, groups) = store.rules_and_groups()?;
    report(&render(&rules, &groups, &RenderOptions::default()));

    // Scrape targets for the same shard, in Promgen's file_sd format.
    let targets = TargetsModel {
        projects: vec![Project::new("storage", "platform", "eu-1").in_farm("db-hosts")],
        farms: vec![Farm::new("db-hosts", ["db02", "db01"])],
        exporters: vec![Exporter::new("storage", "node", 9100)],
    };
    report(&to_json(&file_sd(
        &targets,
        &Filter { shard: Some("eu-1".into()), ..Filter::default() },
    )));
    Ok(())
}

#[allow(clippy::print_stdout, reason = "an example shows its output")]
fn report(text: &str) {
    println!("{text}");
}
