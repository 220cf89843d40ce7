//! The target exporter: Promgen's sample scenario, a snapshot of every feature, the atomic
//! writer, and a real Prometheus that loads the file and scrapes with the query string.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use promrules_model::{Exporter, Farm, Project, Scheme};
use promrules_targets::{Filter, TargetsModel, Written, file_sd, to_json, write_atomically};

/// Promgen's sample: 2 hosts, 3 exporters (one disabled), and a second project on another
/// shard. The expected groups are those Promgen 0.61 exports for it.
#[test]
fn promgen_sample_scenario_gives_promgens_groups_and_labels() {
    let model = TargetsModel {
        projects: vec![
            Project::new("peer-project", "peer-service", "peer-shard").in_farm("peer-farm"),
            Project::new("other-project", "other-service", "other-shard").in_farm("other-farm"),
        ],
        farms: vec![
            Farm::new("peer-farm", ["web01.example.com", "db01.example.com"]),
            Farm::new("other-farm", ["app01.example.com"]),
        ],
        exporters: vec![
            Exporter::new("peer-project", "node", 9100),
            Exporter::new("peer-project", "mysqld", 9104),
            Exporter { enabled: false, ..Exporter::new("peer-project", "disabled", 9999) },
            Exporter::new("other-project", "node", 9100),
        ],
    };
    let groups = file_sd(&model, &Filter::default());
    let actual: serde_json::Value = serde_json::from_str(&to_json(&groups)).unwrap();
    let promgen = |shard: &str,
                   service: &str,
                   project: &str,
                   farm: &str,
                   job: &str,
                   targets: &[&str]| {
        serde_json::json!({
            "labels": {"__farm_source": "promgen", "__scheme__": "http", "__shard": shard, "farm": farm,
                       "job": job, "project": project, "service": service},
            "targets": targets,
        })
    };
    let expected = [
        promgen(
            "peer-shard",
            "peer-service",
            "peer-project",
            "peer-farm",
            "node",
            &["db01.example.com:9100", "web01.example.com:9100"],
        ),
        promgen(
            "peer-shard",
            "peer-service",
            "peer-project",
            "peer-farm",
            "mysqld",
            &["db01.example.com:9104", "web01.example.com:9104"],
        ),
        promgen(
            "other-shard",
            "other-service",
            "other-project",
            "other-farm",
            "node",
            &["app01.example.com:9100"],
        ),
    ];
    // Promgen orders groups by job and port across projects; ours are ordered by shard,
    // service, project, job, port. The groups themselves are the same.
    let actual = actual.as_array().unwrap();
    assert_eq!(actual.len(), expected.len());
    for group in &expected {
        assert!(actual.contains(group), "missing {group} in {actual:?}");
    }
    assert_eq!(actual[0]["labels"]["__shard"], "other-shard", "ordered by shard first");
}

fn rich_model() -> TargetsModel {
    TargetsModel {
        projects: vec![
            Project::new("shop", "web", "eu").in_farm("shop-hosts"),
            Project::new("empty", "web", "eu").in_farm("no-hosts"),
            Project::new("farmless", "web", "eu"),
            Project::new("batch", "jobs", "us").in_farm("batch-hosts"),
        ],
        farms: vec![
            Farm::new("shop-hosts", ["shop02", "shop01", "shop01"]),
            Farm::new("no-hosts", Vec::<&str>::new()),
            Farm::new("batch-hosts", ["batch01"]),
        ],
        exporters: vec![
            Exporter {
                port_end: Some(8003),
                path: Some("/metrics".into()),
                labels: BTreeMap::from([
                    ("team".into(), "checkout".into()),
                    ("job".into(), "ignored: job is ours".into()),
                ]),
                scrape_interval: Some("15s".into()),
                scrape_timeout: Some("5s".into()),
                ..Exporter::new("shop", "gunicorn", 8000)
            },
            Exporter {
                path: Some(
                    "/probe?module=http_2xx&target=https%3A%2F%2Fshop.example%2F&module=second"
                        .into(),
                ),
                scheme: Scheme::Https,
                ..Exporter::new("shop", "blackbox", 9115)
            },
            Exporter::new("empty", "node", 9100),
            Exporter::new("farmless", "node", 9100),
            Exporter::new("batch", "node", 9100),
        ],
    }
}

#[test]
fn every_feature_snapshot() {
    let model = rich_model();
    insta::assert_snapshot!("all", to_json(&file_sd(&model, &Filter::default())));
    let eu = to_json(&file_sd(&model, &Filter { shard: Some("eu".into()), ..Filter::default() }));
    assert!(eu.contains("shop01:8000") && !eu.contains("batch01"), "{eu}");
    let project = file_sd(&model, &Filter { project: Some("batch".into()), ..Filter::default() });
    assert_eq!(project.len(), 1);
    let service = file_sd(&model, &Filter { service: Some("jobs".into()), ..Filter::default() });
    assert_eq!(service, project);
    assert_eq!(to_json(&[]), "[]\n");
}

#[test]
fn atomic_writes_set_the_mode_and_skip_unchanged_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.json");
    assert_eq!(write_atomically(&path, b"[]\n", 0o640).unwrap(), Written::Replaced);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(write_atomically(&path, b"[]\n", 0o640).unwrap(), Written::Unchanged);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
    assert_eq!(write_atomically(&path, b"[{}]\n", 0o644).unwrap(), Written::Replaced);
    assert_eq!(std::fs::read(&path).unwrap(), b"[{}]\n");
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");

    let error =
        write_atomically(&dir.path().join("missing/targets.json"), b"[]", 0o644).unwrap_err();
    assert!(error.to_string().contains("missing/targets.json"), "{error}");
}

/// A tiny HTTP server that answers metrics and records each request line.
fn recording_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            if reader.read_line(&mut line).is_ok() {
                seen.lock().unwrap().push(line.trim().to_owned());
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let body = "probe_success 1\n";
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, requests)
}

#[test]
fn prometheus_loads_the_file_keeps_its_shard_and_scrapes_with_the_query() {
    let (port, requests) = recording_server();
    let (other_port, other_requests) = recording_server();
    let model = TargetsModel {
        projects: vec![
            Project::new("probes", "web", "shard-a").in_farm("local"),
            Project::new("elsewhere", "web", "shard-b").in_farm("local"),
        ],
        farms: vec![Farm::new("local", ["127.0.0.1"])],
        exporters: vec![
            Exporter {
                path: Some("/probe?module=http_2xx&target=shop.example".into()),
                labels: BTreeMap::from([("team".into(), "sre".into())]),
                // Prometheus drops a target whose timeout (10 s by default) exceeds its interval.
                scrape_interval: Some("1s".into()),
                scrape_timeout: Some("1s".into()),
                ..Exporter::new("probes", "blackbox", port)
            },
            Exporter {
                scrape_interval: Some("1s".into()),
                scrape_timeout: Some("1s".into()),
                ..Exporter::new("elsewhere", "node", other_port)
            },
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    write_atomically(&file, to_json(&file_sd(&model, &Filter::default())).as_bytes(), 0o644)
        .unwrap();
    let config = format!(
        "scrape_configs:\n- job_name: promrules\n  file_sd_configs:\n  - files: ['{}']\n    refresh_interval: 1s\n  relabel_configs:\n  - source_labels: [__shard]\n    regex: shard-a\n    action: keep\n",
        file.display()
    );
    let prometheus = test_support::SimHost::start(51, &config);

    let deadline = Instant::now() + Duration::from_secs(60);
    let active = loop {
        let url = format!("{}/api/v1/targets?state=active", prometheus.prometheus_url());
        let body: serde_json::Value =
            ureq::get(&url).call().unwrap().body_mut().read_json().unwrap();
        let targets = body["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        if !targets.is_empty() && !requests.lock().unwrap().is_empty() || Instant::now() > deadline
        {
            break targets;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        active.len(),
        1,
        "only shard-a's target is kept: {active:?}\n{}",
        prometheus.prometheus_log()
    );
    let labels = &active[0]["labels"];
    assert_eq!(labels["instance"], format!("127.0.0.1:{port}"));
    assert_eq!(
        (labels["job"].as_str(), labels["project"].as_str(), labels["team"].as_str()),
        (Some("blackbox"), Some("probes"), Some("sre"))
    );
    assert!(labels.get("__shard").is_none(), "`__` labels do not reach the series");
    assert_eq!(active[0]["scrapeInterval"], "1s");
    let seen = requests.lock().unwrap().clone();
    assert!(
        seen.iter().any(|line| line.starts_with("GET /probe?")
            && line.contains("module=http_2xx")
            && line.contains("target=shop.example")),
        "{seen:?}"
    );
    assert!(other_requests.lock().unwrap().is_empty(), "the other shard's target is not scraped");
}

/// Reading an export back gives a model that exports the same file: the migration path
/// from Promgen.
#[test]
fn an_export_reads_back_into_a_model_that_exports_the_same_file() {
    let original = to_json(&file_sd(&rich_model(), &Filter::default()));
    let imported = promrules_targets::from_file_sd(original.as_bytes(), "targets.json").unwrap();
    // The group of the farm without hosts cannot tell its port: reported, not guessed.
    assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
    assert!(
        imported.skipped[0].contains("job `node` of project `empty`"),
        "{:?}",
        imported.skipped
    );
    let again = to_json(&file_sd(&imported.model, &Filter::default()));
    let without_empty: Vec<serde_json::Value> =
        serde_json::from_str::<Vec<serde_json::Value>>(&original)
            .unwrap()
            .into_iter()
            .filter(|group| group["labels"]["project"] != "empty")
            .collect();
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&again).unwrap(), without_empty);
    let gunicorn = imported.model.exporters.iter().find(|e| e.job == "gunicorn").unwrap();
    assert_eq!((gunicorn.port, gunicorn.port_end), (8000, Some(8003)));
    assert_eq!(gunicorn.labels, BTreeMap::from([("team".into(), "checkout".into())]));
    for exporter in &imported.model.exporters {
        exporter.validate().unwrap();
    }

    // Promgen's own file (the spec's example) imports as one project with one exporter.
    let promgen = r#"[{"labels": {"__farm_source": "promgen", "__scheme__": "http", "__shard": "peer-shard",
        "farm": "peer-farm", "job": "node", "project": "peer-project", "service": "peer-service"},
        "targets": ["db01.example.com:9100", "web01.example.com:9100"]}]"#;
    let imported = promrules_targets::from_file_sd(promgen.as_bytes(), "promgen.json").unwrap();
    assert_eq!(
        imported.model,
        TargetsModel {
            projects: vec![
                Project::new("peer-project", "peer-service", "peer-shard").in_farm("peer-farm")
            ],
            farms: vec![Farm::new("peer-farm", ["db01.example.com", "web01.example.com"])],
            exporters: vec![Exporter::new("peer-project", "node", 9100)],
        }
    );
}

#[test]
fn an_import_names_each_bad_group() {
    let labels =
        r#""__shard": "s1", "service": "svc", "project": "p1", "farm": "f1", "job": "node""#;
    let file = format!(
        r#"[{{"labels": {{{labels}}}, "targets": ["a:9100", "b:9100"]}},
            {{"labels": {{"__shard": "s1", "service": "svc", "job": "node"}}, "targets": ["a:9100"]}},
            {{"labels": {{{labels}}}, "targets": ["a:9100", "b:9101"]}},
            {{"labels": {{{labels}}}, "targets": ["a"]}},
            {{"labels": {{"__shard": "s2", "service": "svc", "project": "p1", "farm": "f1", "job": "x"}}, "targets": []}},
            {{"labels": {{{labels}, "__address__": "x"}}, "targets": ["a:1"]}}]"#
    );
    let error = promrules_targets::from_file_sd(file.as_bytes(), "old.json").unwrap_err();
    let message = error.to_string();
    for expected in [
        "old.json: ",
        "group 1: label `project` is missing",
        "group 1: label `farm` is missing",
        "group 2: targets are not every host on the same port",
        "group 3: target `a` is not HOST:PORT",
        "group 4: project `p1` has service `svc`, shard `s2`",
        "group 5: label `__address__` has no place in the model",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    assert!(!message.contains("group 0"), "{message}");
    let not_json = promrules_targets::from_file_sd(b"{", "x.json").unwrap_err();
    assert!(not_json.to_string().starts_with("x.json: not file_sd JSON"), "{not_json}");
}
