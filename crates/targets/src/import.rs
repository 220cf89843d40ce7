//! Reading a `file_sd` file in Promgen's shape back into the model: the migration path
//! from Promgen (or any exporter of that shape) to promrules.
//!
//! It is the inverse of [`file_sd`](crate::file_sd): each group becomes one exporter of the
//! project its labels name, the project's farm gets the group's hosts, and the targets'
//! ports give the exporter's port (or port range, when every host appears on each port of
//! a contiguous range). `__param_<name>` labels go back into the path's query string,
//! `__scrape_interval__` and `__scrape_timeout__` into their fields, and other labels
//! without `__` become the exporter's extra labels. What the file cannot tell is lost:
//! disabled exporters (not exported) and the ports of a farm without hosts (its groups have
//! no targets; they are reported and skipped).

use std::collections::{BTreeMap, BTreeSet};

use promrules_model::{Exporter, Farm, Project, Scheme, TargetsModel};

use crate::TargetGroup;

/// The model read from a file, and what it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub model: TargetsModel,
    /// One line per skipped group, naming it.
    pub skipped: Vec<String>,
}

/// A file that is not a target file of Promgen's shape; every problem is listed, by group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}", problems.join("; "))]
pub struct ImportError {
    pub file: String,
    pub problems: Vec<String>,
}

/// Reads `json` (the content of `file`, named in errors) into the target model.
pub fn from_file_sd(json: &[u8], file: &str) -> Result<Imported, ImportError> {
    let fail = |problems: Vec<String>| ImportError { file: file.to_owned(), problems };
    let groups: Vec<TargetGroup> =
        serde_json::from_slice(json).map_err(|e| fail(vec![format!("not file_sd JSON: {e}")]))?;
    let mut problems = Vec::new();
    let mut imported = Imported::default();
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    let mut farms: BTreeMap<String, Farm> = BTreeMap::new();
    for (index, group) in groups.iter().enumerate() {
        let at = |problem: String| format!("group {index}: {problem}");
        match read_group(group) {
            Ok(Read { project, farm_source, hosts, exporter }) => {
                if let Some(known) = projects.get(&project.name)
                    && *known != project
                {
                    problems.push(at(format!(
                        "project `{}` has service `{}`, shard `{}` and farm `{}` here, but `{}`, `{}` and `{}` in an earlier group",
                        project.name,
                        project.service,
                        project.shard,
                        project.farm.as_deref().unwrap_or_default(),
                        known.service,
                        known.shard,
                        known.farm.as_deref().unwrap_or_default()
                    )));
                    continue;
                }
                let farm_name = project.farm.clone().unwrap_or_default();
                let farm = farms.entry(farm_name.clone()).or_insert_with(|| Farm {
                    name: farm_name,
                    source: farm_source.clone(),
                    hosts: Vec::new(),
                });
                farm.hosts.extend(hosts);
                projects.insert(project.name.clone(), project);
                match exporter {
                    Some(exporter) => imported.model.exporters.push(exporter),
                    None => imported.skipped.push(at(format!(
                        "job `{}` of project `{}` has no targets, so its port is unknown; skipped",
                        group.labels.get("job").map_or("", String::as_str),
                        group.labels.get("project").map_or("", String::as_str)
                    ))),
                }
            }
            Err(group_problems) => problems.extend(group_problems.into_iter().map(at)),
        }
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    for farm in farms.values_mut() {
        farm.hosts.sort();
        farm.hosts.dedup();
    }
    imported.model.projects = projects.into_values().collect();
    imported.model.farms = farms.into_values().collect();
    Ok(imported)
}

struct Read {
    project: Project,
    farm_source: String,
    hosts: Vec<String>,
    exporter: Option<Exporter>,
}

fn read_group(group: &TargetGroup) -> Result<Read, Vec<String>> {
    let mut problems = Vec::new();
    let mut required = |name: &str| match group.labels.get(name) {
        Some(value) if !value.is_empty() => value.clone(),
        _ => {
            problems.push(format!("label `{name}` is missing"));
            String::new()
        }
    };
    let project = Project {
        shard: required("__shard"),
        service: required("service"),
        name: required("project"),
        farm: Some(required("farm")),
    };
    let job = required("job");
    let scheme = match group.labels.get("__scheme__").map(String::as_str) {
        None | Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => {
            problems.push(format!("`__scheme__` is `{other}`, not http or https"));
            Scheme::Http
        }
    };
    let mut labels = BTreeMap::new();
    let mut params = Vec::new();
    for (name, value) in &group.labels {
        if let Some(param) = name.strip_prefix("__param_") {
            params.push((param, value.as_str()));
        } else if !name.starts_with("__")
            && !["service", "project", "farm", "job"].contains(&name.as_str())
        {
            labels.insert(name.clone(), value.clone());
        } else if name.starts_with("__")
            && ![
                "__shard",
                "__farm_source",
                "__scheme__",
                "__metrics_path__",
                "__scrape_interval__",
                "__scrape_timeout__",
            ]
            .contains(&name.as_str())
        {
            problems.push(format!("label `{name}` has no place in the model"));
        }
    }
    let mut path = group.labels.get("__metrics_path__").cloned();
    if !params.is_empty() {
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        path = Some(format!("{}?{query}", path.as_deref().unwrap_or("/metrics")));
    }

    let mut hosts = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for target in &group.targets {
        match target.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>())) {
            Some((host, Ok(port))) if !host.is_empty() && port > 0 => {
                hosts.insert(host.to_owned());
                ports.insert(port);
                pairs.insert((host.to_owned(), port));
            }
            _ => problems.push(format!("target `{target}` is not HOST:PORT")),
        }
    }
    let exporter = match (ports.first(), ports.last()) {
        (Some(&first), Some(&last)) => {
            let contiguous = usize::from(last - first) + 1 == ports.len();
            if !contiguous || pairs.len() != hosts.len() * ports.len() {
                problems.push(format!(
                    "targets are not every host on the same port or range of ports (ports {ports:?})"
                ));
            }
            Some(Exporter {
                project: project.name.clone(),
                job,
                port: first,
                port_end: (last != first).then_some(last),
                path,
                scheme,
                enabled: true,
                labels,
                scrape_interval: group.labels.get("__scrape_interval__").cloned(),
                scrape_timeout: group.labels.get("__scrape_timeout__").cloned(),
            })
        }
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let farm_source =
        group.labels.get("__farm_source").cloned().unwrap_or_else(|| "promgen".into());
    Ok(Read { project, farm_source, hosts: hosts.into_iter().collect(), exporter })
}
