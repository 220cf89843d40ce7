//! Target groups from the model.

use std::collections::{BTreeMap, HashMap};

use promrules_model::{Exporter, Farm, Project, TargetsModel};
use serde::{Deserialize, Serialize};

/// Which projects to export; every `None` matches all. Promgen filtered by service or
/// project only, so every Prometheus received everything and kept its own shard by
/// relabelling; filtering by shard sends each server only its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub shard: Option<String>,
    pub service: Option<String>,
    pub project: Option<String>,
}

impl Filter {
    fn includes(&self, project: &Project) -> bool {
        self.shard.as_ref().is_none_or(|shard| *shard == project.shard)
            && self.service.as_ref().is_none_or(|service| *service == project.service)
            && self.project.as_ref().is_none_or(|name| *name == project.name)
    }
}

/// One `file_sd` group: labels (sorted) and targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub labels: BTreeMap<String, String>,
    pub targets: Vec<String>,
}

/// Groups are ordered by shard, service, project, job and port.
type SortKey<'a> = (&'a str, &'a str, &'a str, &'a str, u16);

/// The target groups of `model` that pass `filter`, in a deterministic order.
pub fn file_sd(model: &TargetsModel, filter: &Filter) -> Vec<TargetGroup> {
    let projects: HashMap<&str, &Project> =
        model.projects.iter().map(|p| (p.name.as_str(), p)).collect();
    let farms: HashMap<&str, &Farm> = model.farms.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut keyed: Vec<(SortKey<'_>, TargetGroup)> = Vec::new();
    for exporter in model.exporters.iter().filter(|e| e.enabled) {
        let Some(project) = projects.get(exporter.project.as_str()).filter(|p| filter.includes(p))
        else {
            continue;
        };
        // A project without a farm has nothing to scrape.
        let Some(farm) = project.farm.as_deref().and_then(|name| farms.get(name)) else { continue };
        let mut hosts: Vec<&str> = farm.hosts.iter().map(String::as_str).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let targets = hosts
            .iter()
            .flat_map(|host| exporter.ports().map(move |port| format!("{host}:{port}")))
            .collect();
        let key = (
            project.shard.as_str(),
            project.service.as_str(),
            project.name.as_str(),
            exporter.job.as_str(),
            exporter.port,
        );
        keyed.push((key, TargetGroup { labels: labels(project, farm, exporter), targets }));
    }
    keyed.sort_by_key(|(key, _)| *key);
    keyed.into_iter().map(|(_, group)| group).collect()
}

fn labels(project: &Project, farm: &Farm, exporter: &Exporter) -> BTreeMap<String, String> {
    // Extra labels first, so that the labels that route and identify a target win.
    let mut labels = exporter.labels.clone();
    labels.insert("__shard".into(), project.shard.clone());
    labels.insert("service".into(), project.service.clone());
    labels.insert("project".into(), project.name.clone());
    labels.insert("farm".into(), farm.name.clone());
    labels.insert("__farm_source".into(), farm.source.clone());
    labels.insert("job".into(), exporter.job.clone());
    labels.insert("__scheme__".into(), exporter.scheme.as_str().into());
    if let Some(path) = &exporter.path {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        labels.insert("__metrics_path__".into(), path.to_owned());
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            // Prometheus takes one value per parameter label; the first one wins.
            labels.entry(format!("__param_{name}")).or_insert_with(|| value.into_owned());
        }
    }
    if let Some(interval) = &exporter.scrape_interval {
        labels.insert("__scrape_interval__".into(), interval.clone());
    }
    if let Some(timeout) = &exporter.scrape_timeout {
        labels.insert("__scrape_timeout__".into(), timeout.clone());
    }
    labels
}

/// The file's text: a JSON array, 2-space indent, a trailing newline.
pub fn to_json(groups: &[TargetGroup]) -> String {
    let mut text = serde_json::to_string_pretty(groups).unwrap_or_else(|_| "[]".to_owned());
    text.push('\n');
    text
}

/// Checks that `content` is a `file_sd` target file as Prometheus reads one: a JSON list of
/// groups, each with `targets` (non-empty strings without spaces) and optional `labels`
/// (valid label names, string values). `Err` names the first group and problem.
pub fn check_file_sd(content: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Group {
        targets: Vec<String>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }
    let groups: Vec<Group> = serde_json::from_slice(content)
        .map_err(|e| format!("not a file_sd JSON list of target groups: {e}"))?;
    for (index, group) in groups.iter().enumerate() {
        if let Some(target) = group
            .targets
            .iter()
            .find(|t| t.is_empty() || t.contains(|c: char| c.is_whitespace() || c.is_control()))
        {
            return Err(format!("group {index}: target {target:?} is not host[:port]"));
        }
        let valid_name = |name: &str| {
            let mut chars = name.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if let Some(name) = group.labels.keys().find(|name| !valid_name(name)) {
            return Err(format!("group {index}: {name:?} is not a valid label name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod file_sd_tests {
    use super::check_file_sd;

    #[test]
    fn only_prometheus_shaped_target_files_pass() {
        for good in [
            "[]",
            r#"[{"targets": ["a:9100"], "labels": {"job": "node"}}]"#,
            r#"[{"targets": []}]"#,
        ] {
            assert_eq!(check_file_sd(good.as_bytes()), Ok(()), "{good}");
        }
        for (bad, expected) in [
            ("", "not a file_sd JSON"),
            ("<html>login</html>", "not a file_sd JSON"),
            ("{}", "not a file_sd JSON"),
            (r#"[{"labels": {}}]"#, "missing field `targets`"),
            (r#"[{"targets": ["a b"]}]"#, "group 0: target"),
            (r#"[{"targets": ["a"], "labels": {"0job": "x"}}]"#, "not a valid label name"),
            (r#"[{"targets": ["a"], "labels": {"job": 1}}]"#, "not a file_sd JSON"),
        ] {
            let problem = check_file_sd(bad.as_bytes()).unwrap_err();
            assert!(problem.contains(expected), "{bad}: {problem}");
        }
    }
}
