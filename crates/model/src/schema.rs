//! Diesel table definitions, shared by the SQLite and PostgreSQL backends.
//!
//! Kept in the shape `diesel print-schema` produces; the migrations under `migrations/` are
//! the source of truth, and a test checks that both backends accept every column here.

diesel::table! {
    prom_rule_groups (id) {
        id -> BigInt,
        name -> Text,
        evaluation_interval -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        rule_limit -> Nullable<BigInt>,
        query_offset -> Nullable<Text>,
        labels -> Text,
    }
}

diesel::table! {
    prom_rules (id) {
        id -> BigInt,
        expression -> Text,
        duration -> Nullable<Text>,
        severity -> Text,
        summary -> Text,
        description -> Text,
        datasource_id -> Nullable<BigInt>,
        group_id -> Nullable<BigInt>,
        heal_enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
        name -> Nullable<Text>,
        enabled -> Bool,
        labels -> Text,
        annotations -> Text,
        keep_firing_for -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(prom_rule_groups, prom_rules);

diesel::table! {
    revision_counter (id) {
        id -> Integer,
        last -> BigInt,
    }
}

diesel::table! {
    revisions (number) {
        number -> BigInt,
        actor -> Text,
        action -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    revision_changes (id) {
        id -> BigInt,
        revision -> BigInt,
        entity -> Text,
        entity_id -> BigInt,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
    }
}

diesel::joinable!(revision_changes -> revisions (revision));
diesel::allow_tables_to_appear_in_same_query!(revisions, revision_changes);

diesel::table! {
    deploy_hosts (id) {
        id -> BigInt,
        name -> Text,
        spec -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deployments (id) {
        id -> BigInt,
        actor -> Text,
        status -> Text,
        options -> Text,
        summary -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        revision -> Nullable<BigInt>,
    }
}

diesel::table! {
    deployment_hosts (id) {
        id -> BigInt,
        deployment_id -> BigInt,
        host -> Text,
        outcome -> Text,
        message -> Text,
        content_hash -> Text,
        lines_added -> BigInt,
        lines_removed -> BigInt,
        duration_ms -> BigInt,
        finished_at -> Timestamp,
        revision -> Nullable<BigInt>,
        locked_at -> Nullable<Timestamp>,
        released_at -> Nullable<Timestamp>,
        targets_hash -> Nullable<Text>,
    }
}

diesel::table! {
    heal_runs (id) {
        id -> BigInt,
        reporter -> Text,
        time -> Timestamp,
        command -> Text,
        receiver -> Text,
        group_key -> Text,
        alertnames -> Text,
        fingerprints -> Text,
        outcome -> Text,
        exit_code -> Nullable<Integer>,
        signal -> Nullable<Integer>,
        duration_ms -> Nullable<BigInt>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    slos (id) {
        id -> BigInt,
        sloth_id -> Text,
        service -> Text,
        spec -> Text,
        groups -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(deployment_hosts -> deployments (deployment_id));
diesel::allow_tables_to_appear_in_same_query!(deployments, deployment_hosts);

diesel::table! {
    shards (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    services (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    farms (id) {
        id -> BigInt,
        name -> Text,
        source -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    farm_hosts (id) {
        id -> BigInt,
        farm_id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        name -> Text,
        service_id -> BigInt,
        shard_id -> BigInt,
        farm_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    exporters (id) {
        id -> BigInt,
        project_id -> BigInt,
        job -> Text,
        port -> Integer,
        port_end -> Nullable<Integer>,
        path -> Nullable<Text>,
        scheme -> Text,
        enabled -> Bool,
        labels -> Text,
        scrape_interval -> Nullable<Text>,
        scrape_timeout -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(farm_hosts -> farms (farm_id));
diesel::joinable!(projects -> services (service_id));
diesel::joinable!(projects -> shards (shard_id));
diesel::joinable!(projects -> farms (farm_id));
diesel::joinable!(exporters -> projects (project_id));
diesel::allow_tables_to_appear_in_same_query!(
    shards, services, farms, farm_hosts, projects, exporters
);
