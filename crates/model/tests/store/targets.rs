//! The target model's storage: shards, services, farms, projects and exporters.

use std::collections::BTreeMap;

use promrules_model::{
    Error, Exporter, Farm, Project, RuleSpec, Scheme, Service, Shard, Store, TargetsModel,
};

use crate::support::TestDb;

/// The Promgen sample: two hosts, three exporters (one disabled), a second project on
/// another shard.
pub(crate) fn store_promgen_sample(store: &Store) -> TargetsModel {
    for shard in ["peer-shard", "other-shard"] {
        store.create_shard(&Shard { name: shard.into() }).unwrap();
    }
    store.create_service(&Service { name: "peer-service".into() }).unwrap();
    store.create_farm(&Farm::new("peer-farm", ["web01.example.com", "db01.example.com"])).unwrap();
    store.create_farm(&Farm::new("other-farm", ["batch01.example.com"])).unwrap();
    store
        .create_project(
            &Project::new("peer-project", "peer-service", "peer-shard").in_farm("peer-farm"),
        )
        .unwrap();
    store
        .create_project(
            &Project::new("other-project", "peer-service", "other-shard").in_farm("other-farm"),
        )
        .unwrap();
    let probe = Exporter {
        path: Some("/probe?module=http_2xx".into()),
        labels: BTreeMap::from([("team".into(), "web".into())]),
        scrape_interval: Some("30s".into()),
        scrape_timeout: Some("10s".into()),
        ..Exporter::new("peer-project", "blackbox", 9115)
    };
    let disabled = Exporter { enabled: false, ..Exporter::new("peer-project", "mysqld", 9104) };
    let range = Exporter {
        port_end: Some(8003),
        scheme: Scheme::Https,
        ..Exporter::new("other-project", "app", 8000)
    };
    for spec in [Exporter::new("peer-project", "node", 9100), probe, disabled, range] {
        store.create_exporter(&spec).unwrap();
    }
    store.load_targets().unwrap()
}

pub(crate) fn target_model_round_trip(db: &TestDb) {
    let model = store_promgen_sample(&db.store);
    assert_eq!(model.projects.len(), 2);
    let peer = model.projects.iter().find(|p| p.name == "peer-project").unwrap();
    assert_eq!(
        *peer,
        Project::new("peer-project", "peer-service", "peer-shard").in_farm("peer-farm")
    );
    let peer_farm = model.farms.iter().find(|f| f.name == "peer-farm").unwrap();
    assert_eq!(peer_farm.hosts, ["db01.example.com", "web01.example.com"], "hosts by name");
    assert_eq!(model.exporters.len(), 4);
    let probe = model.exporters.iter().find(|e| e.job == "blackbox").unwrap();
    assert_eq!(probe.path.as_deref(), Some("/probe?module=http_2xx"));
    assert_eq!(probe.labels["team"], "web");
    assert_eq!(probe.scrape_timeout.as_deref(), Some("10s"));
    let range = model.exporters.iter().find(|e| e.job == "app").unwrap();
    assert_eq!((range.port, range.port_end, range.scheme), (8000, Some(8003), Scheme::Https));
    assert!(!model.exporters.iter().find(|e| e.job == "mysqld").unwrap().enabled);

    // Get and list agree with the model; exporters list by project, job and port.
    let exporters = db.store.list_exporters(Some("peer-project")).unwrap();
    let jobs: Vec<&str> = exporters.iter().map(|e| e.spec.job.as_str()).collect();
    assert_eq!(jobs, ["blackbox", "mysqld", "node"]);
    assert_eq!(db.store.get_exporter(exporters[0].id).unwrap(), exporters[0]);

    // Renaming a shard is one row: its projects follow.
    let shard = db.store.find_shard("peer-shard").unwrap().unwrap();
    let renamed = db.store.update_shard(shard.id, &Shard { name: "eu-shard".into() }).unwrap();
    assert_eq!((renamed.id, renamed.spec.name.as_str()), (shard.id, "eu-shard"));
    let projects = db.store.list_projects().unwrap();
    assert_eq!(projects[1].spec.name, "peer-project");
    assert_eq!(projects[1].spec.shard, "eu-shard");
    assert_eq!(db.store.get_project(projects[1].id).unwrap(), projects[1]);

    // Moving a project to another farm, and changing an exporter.
    let moved = db
        .store
        .update_project(
            projects[1].id,
            &Project::new("peer-project", "peer-service", "other-shard").in_farm("other-farm"),
        )
        .unwrap();
    assert_eq!(moved.spec.farm.as_deref(), Some("other-farm"));
    let node = exporters.iter().find(|e| e.spec.job == "node").unwrap();
    let changed = Exporter { port: 9101, ..node.spec.clone() };
    assert_eq!(db.store.update_exporter(node.id, &changed).unwrap().spec, changed);

    // Farm hosts one at a time.
    let farm =
        db.store.list_farms().unwrap().into_iter().find(|f| f.spec.name == "peer-farm").unwrap();
    let grown = db.store.add_farm_host(farm.id, "app01.example.com").unwrap();
    assert_eq!(grown.spec.hosts, ["app01.example.com", "db01.example.com", "web01.example.com"]);
    let again = db.store.add_farm_host(farm.id, "app01.example.com");
    assert!(
        matches!(&again, Err(Error::Conflict(m)) if m.contains("`app01.example.com`")),
        "{again:?}"
    );
    let shrunk = db.store.remove_farm_host(farm.id, "db01.example.com").unwrap();
    assert_eq!(shrunk.spec.hosts, ["app01.example.com", "web01.example.com"]);
    let missing = db.store.remove_farm_host(farm.id, "db01.example.com");
    assert!(matches!(&missing, Err(Error::Missing(m)) if m.contains("no host `db01.example.com`")));
    let counts = db.store.count_targets().unwrap();
    assert_eq!((counts["farms"], counts["hosts"], counts["exporters"]), (2, 3, 4));
}

pub(crate) fn target_references_and_conflicts(db: &TestDb) {
    store_promgen_sample(&db.store);
    let before = db.store.load_targets().unwrap();

    // Unknown references name the field; nothing is written.
    let unknown = db.store.create_project(&Project::new("new-project", "peer-service", "nowhere"));
    let Err(Error::Invalid(errors)) = unknown else { panic!("{unknown:?}") };
    assert_eq!(errors.fields()["shard"], "no shard named `nowhere`");
    let unknown = db.store.create_exporter(&Exporter::new("no-such-project", "node", 9100));
    let Err(Error::Invalid(errors)) = unknown else { panic!("{unknown:?}") };
    assert!(errors.fields()["project"].contains("no project named"));

    // Duplicates are conflicts.
    let duplicate = db.store.create_shard(&Shard { name: "peer-shard".into() });
    assert!(
        matches!(&duplicate, Err(Error::Conflict(m)) if m.contains("a shard named `peer-shard`"))
    );
    let duplicate = db.store.create_farm(&Farm::new("peer-farm", Vec::<&str>::new()));
    assert!(
        matches!(&duplicate, Err(Error::Conflict(m)) if m.contains("a farm named `peer-farm`"))
    );
    let duplicate = db.store.create_exporter(&Exporter::new("peer-project", "node", 9100));
    assert!(matches!(&duplicate, Err(Error::Conflict(m)) if m.contains("`node` on port 9100")));
    let other = db.store.list_projects().unwrap()[0].clone();
    let taken = db
        .store
        .update_project(other.id, &Project { name: "peer-project".into(), ..other.spec.clone() });
    assert!(matches!(&taken, Err(Error::Conflict(_))), "{taken:?}");

    // A shard or service in use cannot go, nor a shard that rules name as datasource.
    let shard = db.store.find_shard("peer-shard").unwrap().unwrap();
    let in_use = db.store.delete_shard(shard.id);
    assert!(matches!(&in_use, Err(Error::Conflict(m)) if m.contains("peer-project")), "{in_use:?}");
    let service = db.store.find_service("peer-service").unwrap().unwrap();
    let in_use = db.store.delete_service(service.id);
    assert!(
        matches!(&in_use, Err(Error::Conflict(m)) if m.contains("other-project, peer-project"))
    );
    let spare = db.store.create_shard(&Shard { name: "spare-shard".into() }).unwrap();
    let rule = db
        .store
        .create_rule(&RuleSpec { datasource_id: Some(spare.id), ..RuleSpec::alert("up == 0") })
        .unwrap();
    let in_use = db.store.delete_shard(spare.id);
    assert!(matches!(&in_use, Err(Error::Conflict(m)) if m.contains("datasource of 1 rules")));
    assert_eq!(db.store.load_targets().unwrap(), before, "refusals change nothing");
    db.store.delete_rule(rule.id).unwrap();
    db.store.delete_shard(spare.id).unwrap();
    assert!(matches!(db.store.get_shard(spare.id), Err(Error::NotFound { entity: "shard", .. })));

    // Deleting a farm leaves its project without one; deleting a project takes its exporters.
    let farm =
        db.store.list_farms().unwrap().into_iter().find(|f| f.spec.name == "peer-farm").unwrap();
    db.store.delete_farm(farm.id).unwrap();
    let peer = db
        .store
        .list_projects()
        .unwrap()
        .into_iter()
        .find(|p| p.spec.name == "peer-project")
        .unwrap();
    assert_eq!(peer.spec.farm, None);
    db.store.delete_project(peer.id).unwrap();
    assert!(db.store.list_exporters(Some("peer-project")).unwrap().is_empty());
    assert_eq!(db.store.list_exporters(None).unwrap().len(), 1);
    db.store.delete_service(service.id).unwrap_err();
    for missing in [
        db.store.delete_project(peer.id),
        db.store.delete_farm(farm.id),
        db.store.delete_exporter(999_999),
        db.store.delete_service(999_999),
    ] {
        assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
    }
}

pub(crate) fn invalid_targets_are_rejected_with_the_field_named(db: &TestDb) {
    store_promgen_sample(&db.store);
    let before = db.store.load_targets().unwrap();
    let field_of = |result: Result<(), Error>| match result {
        Err(Error::Invalid(errors)) => {
            errors.fields().keys().cloned().collect::<Vec<_>>().join(",")
        }
        other => panic!("expected a validation error, got {other:?}"),
    };
    let cases: Vec<(&str, Result<(), Error>)> = vec![
        ("name", db.store.create_shard(&Shard { name: "a".into() }).map(drop)),
        ("name", db.store.create_service(&Service { name: "bad/name".into() }).map(drop)),
        ("hosts[1]", db.store.create_farm(&Farm::new("new-farm", ["ok01", "has space"])).map(drop)),
        ("hosts[1]", db.store.create_farm(&Farm::new("new-farm", ["ok01", "ok01"])).map(drop)),
        ("hosts[0]", db.store.create_farm(&Farm::new("new-farm", ["web01:9100"])).map(drop)),
        (
            "source",
            db.store
                .create_farm(&Farm {
                    source: String::new(),
                    ..Farm::new("new-farm", Vec::<&str>::new())
                })
                .map(drop),
        ),
        ("name", db.store.add_farm_host(1, "").map(drop)),
        (
            "farm",
            db.store
                .create_project(&Project::new("p1", "peer-service", "peer-shard").in_farm("-x"))
                .map(drop),
        ),
        ("port", db.store.create_exporter(&Exporter::new("peer-project", "x", 0)).map(drop)),
        (
            "port_end",
            db.store
                .create_exporter(&Exporter {
                    port_end: Some(9000),
                    ..Exporter::new("peer-project", "x", 9100)
                })
                .map(drop),
        ),
        (
            "port_end",
            db.store
                .create_exporter(&Exporter {
                    port_end: Some(20_000),
                    ..Exporter::new("peer-project", "x", 10_000)
                })
                .map(drop),
        ),
        (
            "scrape_timeout",
            db.store
                .create_exporter(&Exporter {
                    scrape_interval: Some("5s".into()),
                    scrape_timeout: Some("10s".into()),
                    ..Exporter::new("peer-project", "x", 9200)
                })
                .map(drop),
        ),
    ];
    for (field, result) in cases {
        assert_eq!(field_of(result), field);
    }
    // An invalid update changes nothing.
    let exporter_id = db.store.list_exporters(None).unwrap()[0].id;
    let bad = db.store.update_exporter(exporter_id, &Exporter::new("peer-project", "", 1));
    assert_eq!(field_of(bad.map(drop)), "job");
    assert_eq!(db.store.load_targets().unwrap(), before);
}

pub(crate) fn importing_a_target_model_upserts_by_name(db: &TestDb) {
    let model = TargetsModel {
        projects: vec![Project::new("web", "shop", "eu").in_farm("web-farm")],
        farms: vec![Farm::new("web-farm", ["web01", "web02"])],
        exporters: vec![Exporter::new("web", "node", 9100), Exporter::new("web", "app", 8080)],
    };
    let report = db.store.import_targets(&model).unwrap();
    let created: Vec<(&str, usize)> = report.created.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        created,
        [("exporters", 2), ("farms", 1), ("projects", 1), ("services", 1), ("shards", 1)]
    );
    assert!(report.updated.is_empty());
    let mut loaded = db.store.load_targets().unwrap();
    loaded.exporters.sort_by_key(|e| e.port);
    assert_eq!(loaded.projects, model.projects);
    assert_eq!(loaded.farms, model.farms);
    assert_eq!(
        loaded.exporters,
        [Exporter::new("web", "app", 8080), Exporter::new("web", "node", 9100)]
    );

    // Again, with a changed farm and exporter and a new project: upserts, deletes nothing.
    let changed = TargetsModel {
        projects: vec![
            Project::new("web", "shop", "eu").in_farm("web-farm"),
            Project::new("db", "shop", "us"),
        ],
        farms: vec![Farm::new("web-farm", ["web02", "web03"])],
        exporters: vec![Exporter { enabled: false, ..Exporter::new("web", "node", 9100) }],
    };
    let report = db.store.import_targets(&changed).unwrap();
    assert_eq!(report.created.get("projects"), Some(&1));
    assert_eq!(report.created.get("shards"), Some(&1), "`us` is new");
    assert_eq!(report.updated.get("exporters"), Some(&1));
    let loaded = db.store.load_targets().unwrap();
    assert_eq!(loaded.farms[0].hosts, ["web02", "web03"]);
    assert_eq!(loaded.exporters.len(), 2, "nothing deleted");
    assert!(!loaded.exporters.iter().find(|e| e.job == "node").unwrap().enabled);

    // One bad entity writes nothing, and is named.
    let before = db.store.load_targets().unwrap();
    let bad = TargetsModel {
        projects: vec![Project::new("new-one", "shop", "eu")],
        farms: vec![Farm::new("web-farm", ["has space"])],
        exporters: vec![],
    };
    let Err(Error::Invalid(errors)) = db.store.import_targets(&bad) else { panic!("must fail") };
    assert!(errors.fields().contains_key("farm `web-farm`: hosts[0]"), "{errors}");
    assert_eq!(db.store.load_targets().unwrap(), before);
}
