//! Shards, services, farms (with their hosts), projects and exporters: the target model's
//! storage.
//!
//! Relations are ids in the tables and names in the API: a project names its service,
//! shard and farm, an exporter its project, and a write resolves each name inside its
//! transaction (an unknown one is a validation error on that field). Renaming a shard is
//! therefore one row. Deleting a shard or service that a project uses is refused with the
//! projects' names, and so is deleting a shard that rules name as their datasource;
//! deleting a farm leaves its projects without one; deleting a project deletes its
//! exporters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Pool, Store, deleted, now, utc};
use crate::error::Error;
use crate::schema::{exporters, farm_hosts, farms, projects, prom_rules, services, shards};
use crate::targets::{Exporter, Farm, Project, Scheme, Service, Shard, TargetsModel};
use crate::validate::ValidationErrors;

/// A stored shard, service, farm, project or exporter: its id, the entity, and timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored<T> {
    pub id: i64,
    #[serde(flatten)]
    pub spec: T,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What [`Store::import_targets`] did, per kind (`shards`, `services`, `farms`,
/// `projects`, `exporters`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetImportReport {
    pub created: BTreeMap<&'static str, usize>,
    /// Rows that existed and were written again (a farm's host list is replaced).
    pub updated: BTreeMap<&'static str, usize>,
}

type NamedRow = (i64, String, NaiveDateTime, NaiveDateTime);

fn stored<T>(id: i64, spec: T, created_at: NaiveDateTime, updated_at: NaiveDateTime) -> Stored<T> {
    Stored { id, spec, created_at: utc(created_at), updated_at: utc(updated_at) }
}

/// A UNIQUE violation becomes a conflict that names what already exists.
fn conflict(error: diesel::result::Error, what: impl FnOnce() -> String) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("{} already exists", what()))
        }
        other => Error::Query(other),
    }
}

fn invalid(field: &str, problem: String) -> Error {
    let mut errors = ValidationErrors::default();
    errors.add(field, problem);
    Error::Invalid(errors)
}

/// Create, read, list and rename for the tables that hold only a name (shards, services).
macro_rules! named_entity {
    ($table:ident, $spec:ident, $entity:literal, $create:ident, $get:ident, $list:ident,
     $update:ident, $find:ident) => {
        impl Store {
            #[doc = concat!("Validates and stores a new ", $entity, "; its name must be unused.")]
            pub fn $create(&self, spec: &$spec) -> Result<Stored<$spec>, Error> {
                spec.validate()?;
                let now = now();
                let row: NamedRow = in_write_transaction!(self, conn => diesel::insert_into($table::table)
                    .values(($table::name.eq(&spec.name), $table::created_at.eq(now), $table::updated_at.eq(now)))
                    .returning(($table::id, $table::name, $table::created_at, $table::updated_at))
                    .get_result(conn)
                    .map_err(|e| conflict(e, || format!("a {} named `{}`", $entity, spec.name))))?;
                Ok(stored(row.0, $spec { name: row.1 }, row.2, row.3))
            }

            pub fn $get(&self, id: i64) -> Result<Stored<$spec>, Error> {
                let row: Option<NamedRow> = with_connection!(self, conn => $table::table
                    .find(id)
                    .select(($table::id, $table::name, $table::created_at, $table::updated_at))
                    .first(conn)
                    .optional()?);
                let row = row.ok_or(Error::NotFound { entity: $entity, id })?;
                Ok(stored(row.0, $spec { name: row.1 }, row.2, row.3))
            }

            #[doc = concat!("The ", $entity, " named `name`, if any.")]
            pub fn $find(&self, name: &str) -> Result<Option<Stored<$spec>>, Error> {
                let row: Option<NamedRow> = with_connection!(self, conn => $table::table
                    .filter($table::name.eq(name))
                    .select(($table::id, $table::name, $table::created_at, $table::updated_at))
                    .first(conn)
                    .optional()?);
                Ok(row.map(|row| stored(row.0, $spec { name: row.1 }, row.2, row.3)))
            }

            #[doc = concat!("Every ", $entity, ", by name.")]
            pub fn $list(&self) -> Result<Vec<Stored<$spec>>, Error> {
                let rows: Vec<NamedRow> = with_connection!(self, conn => $table::table
                    .order($table::name)
                    .select(($table::id, $table::name, $table::created_at, $table::updated_at))
                    .load(conn)?);
                Ok(rows.into_iter().map(|row| stored(row.0, $spec { name: row.1 }, row.2, row.3)).collect())
            }

            #[doc = concat!("Renames ", $entity, " `id`; its projects follow.")]
            pub fn $update(&self, id: i64, spec: &$spec) -> Result<Stored<$spec>, Error> {
                spec.validate()?;
                let row: Option<NamedRow> = in_write_transaction!(self, conn => diesel::update($table::table.find(id))
                    .set(($table::name.eq(&spec.name), $table::updated_at.eq(now())))
                    .returning(($table::id, $table::name, $table::created_at, $table::updated_at))
                    .get_result(conn)
                    .optional()
                    .map_err(|e| conflict(e, || format!("a {} named `{}`", $entity, spec.name))))?;
                let row = row.ok_or(Error::NotFound { entity: $entity, id })?;
                Ok(stored(row.0, $spec { name: row.1 }, row.2, row.3))
            }
        }
    };
}

named_entity!(
    shards,
    Shard,
    "shard",
    create_shard,
    get_shard,
    list_shards,
    update_shard,
    find_shard
);
named_entity!(
    services,
    Service,
    "service",
    create_service,
    get_service,
    list_services,
    update_service,
    find_service
);

/// Up to five names of the projects whose `$column` is `$id`, for a refusal message.
macro_rules! projects_using {
    ($conn:expr, $column:expr, $id:expr) => {{
        let names: Vec<String> = projects::table
            .filter($column.eq($id))
            .order(projects::name)
            .select(projects::name)
            .limit(5)
            .load($conn)?;
        names
    }};
}

/// The id of the row of `$table` named `$name`, or a validation error on `$field`.
macro_rules! id_by_name {
    ($conn:expr, $table:ident, $name:expr, $field:literal, $entity:literal) => {{
        let name: &str = $name;
        let id: Option<i64> = $table::table
            .filter($table::name.eq(name))
            .select($table::id)
            .first($conn)
            .optional()?;
        match id {
            Some(id) => id,
            None => return Err(invalid($field, format!("no {} named `{name}`", $entity))),
        }
    }};
}

/// Projects with the names of their service, shard and farm.
macro_rules! project_query {
    () => {
        projects::table
            .inner_join(services::table)
            .inner_join(shards::table)
            .left_join(farms::table)
            .select((
                projects::id,
                projects::name,
                services::name,
                shards::name,
                farms::name.nullable(),
                projects::created_at,
                projects::updated_at,
            ))
    };
}

type ProjectRow = (i64, String, String, String, Option<String>, NaiveDateTime, NaiveDateTime);

fn into_project(row: ProjectRow) -> Stored<Project> {
    let (id, name, service, shard, farm, created_at, updated_at) = row;
    stored(id, Project { name, service, shard, farm }, created_at, updated_at)
}

/// Writes project `$id` (or a new one when `None`) from `$spec`, resolving its names.
macro_rules! write_project {
    ($conn:expr, $id:expr, $spec:expr) => {{
        let spec: &Project = $spec;
        let service_id = id_by_name!($conn, services, &spec.service, "service", "service");
        let shard_id = id_by_name!($conn, shards, &spec.shard, "shard", "shard");
        let farm_id = match &spec.farm {
            Some(farm) => Some(id_by_name!($conn, farms, farm, "farm", "farm")),
            None => None,
        };
        let now = now();
        let values = (
            projects::name.eq(&spec.name),
            projects::service_id.eq(service_id),
            projects::shard_id.eq(shard_id),
            projects::farm_id.eq(farm_id),
            projects::updated_at.eq(now),
        );
        let name_taken = |e| conflict(e, || format!("a project named `{}`", spec.name));
        let id: Option<i64> = match $id {
            None => Some(
                diesel::insert_into(projects::table)
                    .values((values, projects::created_at.eq(now)))
                    .returning(projects::id)
                    .get_result($conn)
                    .map_err(name_taken)?,
            ),
            Some(id) => diesel::update(projects::table.find(id))
                .set(values)
                .returning(projects::id)
                .get_result($conn)
                .optional()
                .map_err(name_taken)?,
        };
        match id {
            Some(id) => {
                Ok(into_project(project_query!().filter(projects::id.eq(id)).first($conn)?))
            }
            None => Err(Error::NotFound { entity: "project", id: $id.unwrap_or_default() }),
        }
    }};
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = exporters)]
struct ExporterRow {
    id: i64,
    job: String,
    port: i32,
    port_end: Option<i32>,
    path: Option<String>,
    scheme: String,
    enabled: bool,
    labels: String,
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl ExporterRow {
    fn into_exporter(self, project: String) -> Result<Stored<Exporter>, Error> {
        let id = self.id;
        let corrupt = |problem: String| Error::Corrupt { entity: "exporter", id, problem };
        let port = |value: i32| u16::try_from(value).map_err(|_| corrupt(format!("port {value}")));
        let scheme = match self.scheme.as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(corrupt(format!("scheme `{other}`"))),
        };
        let labels = serde_json::from_str(&self.labels).map_err(|error| {
            corrupt(format!("labels are not a JSON object of strings: {error}"))
        })?;
        let exporter = Exporter {
            project,
            job: self.job,
            port: port(self.port)?,
            port_end: self.port_end.map(port).transpose()?,
            path: self.path,
            scheme,
            enabled: self.enabled,
            labels,
            scrape_interval: self.scrape_interval,
            scrape_timeout: self.scrape_timeout,
        };
        Ok(stored(id, exporter, self.created_at, self.updated_at))
    }
}

/// Writes exporter `$id` (or a new one when `None`) from `$spec`, resolving its project.
macro_rules! write_exporter {
    ($conn:expr, $id:expr, $spec:expr) => {{
        let spec: &Exporter = $spec;
        let project_id = id_by_name!($conn, projects, &spec.project, "project", "project");
        let now = now();
        let values = (
            exporters::project_id.eq(project_id),
            exporters::job.eq(&spec.job),
            exporters::port.eq(i32::from(spec.port)),
            exporters::port_end.eq(spec.port_end.map(i32::from)),
            exporters::path.eq(&spec.path),
            exporters::scheme.eq(spec.scheme.as_str()),
            exporters::enabled.eq(spec.enabled),
            // A BTreeMap of strings always serializes, in key order.
            exporters::labels.eq(serde_json::to_string(&spec.labels).unwrap_or_default()),
            exporters::scrape_interval.eq(&spec.scrape_interval),
            exporters::scrape_timeout.eq(&spec.scrape_timeout),
            exporters::updated_at.eq(now),
        );
        let taken = |e| {
            conflict(e, || {
                format!(
                    "an exporter `{}` on port {} of project `{}`",
                    spec.job, spec.port, spec.project
                )
            })
        };
        let row: Option<ExporterRow> = match $id {
            None => Some(
                diesel::insert_into(exporters::table)
                    .values((values, exporters::created_at.eq(now)))
                    .returning(ExporterRow::as_returning())
                    .get_result($conn)
                    .map_err(taken)?,
            ),
            Some(id) => diesel::update(exporters::table.find(id))
                .set(values)
                .returning(ExporterRow::as_returning())
                .get_result($conn)
                .optional()
                .map_err(taken)?,
        };
        match row {
            Some(row) => row.into_exporter(spec.project.clone()),
            None => Err(Error::NotFound { entity: "exporter", id: $id.unwrap_or_default() }),
        }
    }};
}

/// What [`Store::load_targets`] reads in one transaction.
type Snapshot = (Vec<ProjectRow>, Vec<Stored<Farm>>, Vec<(ExporterRow, String)>);

type FarmRow = (i64, String, String, NaiveDateTime, NaiveDateTime);

/// Loads farms `$ids` (every farm when `None`) with their hosts, by name.
macro_rules! load_farms {
    ($conn:expr, $ids:expr) => {{
        let ids: Option<&[i64]> = $ids;
        let mut query = farms::table
            .select((farms::id, farms::name, farms::source, farms::created_at, farms::updated_at))
            .order(farms::name)
            .into_boxed();
        let mut host_query = farm_hosts::table
            .select((farm_hosts::farm_id, farm_hosts::name))
            .order((farm_hosts::farm_id, farm_hosts::name))
            .into_boxed();
        if let Some(ids) = ids {
            query = query.filter(farms::id.eq_any(ids));
            host_query = host_query.filter(farm_hosts::farm_id.eq_any(ids));
        }
        let rows: Vec<FarmRow> = query.load($conn)?;
        let hosts: Vec<(i64, String)> = host_query.load($conn)?;
        assemble_farms(rows, hosts)
    }};
}

fn assemble_farms(rows: Vec<FarmRow>, hosts: Vec<(i64, String)>) -> Vec<Stored<Farm>> {
    let mut by_farm: HashMap<i64, Vec<String>> = HashMap::new();
    for (farm_id, host) in hosts {
        by_farm.entry(farm_id).or_default().push(host);
    }
    rows.into_iter()
        .map(|(id, name, source, created_at, updated_at)| {
            let hosts = by_farm.remove(&id).unwrap_or_default();
            stored(id, Farm { name, source, hosts }, created_at, updated_at)
        })
        .collect()
}

/// Replaces the hosts of farm `$id` with `$hosts`.
macro_rules! replace_farm_hosts {
    ($conn:expr, $id:expr, $hosts:expr) => {{
        let id: i64 = $id;
        diesel::delete(farm_hosts::table.filter(farm_hosts::farm_id.eq(id))).execute($conn)?;
        let rows: Vec<_> = $hosts
            .iter()
            .map(|host: &String| (farm_hosts::farm_id.eq(id), farm_hosts::name.eq(host)))
            .collect();
        // Bounded batches keep under SQLite's limit of bound parameters per statement.
        for chunk in rows.chunks(1000) {
            diesel::insert_into(farm_hosts::table).values(chunk).execute($conn)?;
        }
    }};
}

/// Writes farm `$id` (or a new one when `None`) from `$spec`, its host list replaced;
/// evaluates to the farm's id.
macro_rules! write_farm {
    ($conn:expr, $id:expr, $spec:expr) => {{
        let spec: &Farm = $spec;
        let now = now();
        let values =
            (farms::name.eq(&spec.name), farms::source.eq(&spec.source), farms::updated_at.eq(now));
        let name_taken = |e| conflict(e, || format!("a farm named `{}`", spec.name));
        let id: Option<i64> = match $id {
            None => Some(
                diesel::insert_into(farms::table)
                    .values((values, farms::created_at.eq(now)))
                    .returning(farms::id)
                    .get_result($conn)
                    .map_err(name_taken)?,
            ),
            Some(id) => diesel::update(farms::table.find(id))
                .set(values)
                .returning(farms::id)
                .get_result($conn)
                .optional()
                .map_err(name_taken)?,
        };
        match id {
            Some(id) => {
                replace_farm_hosts!($conn, id, spec.hosts);
                Ok::<i64, Error>(id)
            }
            None => Err(Error::NotFound { entity: "farm", id: $id.unwrap_or_default() }),
        }
    }};
}

/// Reads one farm inside a transaction, or fails with `NotFound`.
macro_rules! one_farm {
    ($conn:expr, $id:expr) => {{
        let id: i64 = $id;
        load_farms!($conn, Some(&[id][..])).pop().ok_or(Error::NotFound { entity: "farm", id })
    }};
}

impl Store {
    /// Deletes shard `id`, unless projects or rules use it.
    pub fn delete_shard(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => {
            let users = projects_using!(conn, projects::shard_id, id);
            if !users.is_empty() {
                return Err(Error::Conflict(format!(
                    "shard {id} is used by projects {}; move or delete them first",
                    users.join(", ")
                )));
            }
            let rules: i64 = prom_rules::table
                .filter(prom_rules::datasource_id.eq(id))
                .count()
                .get_result(conn)?;
            if rules > 0 {
                return Err(Error::Conflict(format!(
                    "shard {id} is the datasource of {rules} rules; move or delete them first"
                )));
            }
            // Hosts keep their datasources inside the JSON spec.
            let specs: Vec<(String, String)> = crate::schema::deploy_hosts::table
                .select((crate::schema::deploy_hosts::name, crate::schema::deploy_hosts::spec))
                .load(conn)?;
            let hosts: Vec<String> = specs
                .into_iter()
                .filter(|(_, spec)| host_uses_datasource(spec, id))
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            if !hosts.is_empty() {
                return Err(Error::Conflict(format!(
                    "shard {id} is a datasource of hosts {}; change them first",
                    hosts.join(", ")
                )));
            }
            deleted(diesel::delete(shards::table.find(id)).execute(conn)?, "shard", id)
        })
    }

    /// Deletes service `id`, unless projects use it.
    pub fn delete_service(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => {
            let users = projects_using!(conn, projects::service_id, id);
            if !users.is_empty() {
                return Err(Error::Conflict(format!(
                    "service {id} is used by projects {}; move or delete them first",
                    users.join(", ")
                )));
            }
            deleted(diesel::delete(services::table.find(id)).execute(conn)?, "service", id)
        })
    }

    /// Validates and stores a new farm with its hosts.
    pub fn create_farm(&self, spec: &Farm) -> Result<Stored<Farm>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => {
            let id = write_farm!(conn, None::<i64>, spec)?;
            one_farm!(conn, id)
        })
    }

    pub fn get_farm(&self, id: i64) -> Result<Stored<Farm>, Error> {
        with_connection!(self, conn => one_farm!(conn, id))
    }

    /// Every farm with its hosts, by name.
    pub fn list_farms(&self) -> Result<Vec<Stored<Farm>>, Error> {
        Ok(with_connection!(self, conn => load_farms!(conn, None)))
    }

    /// Replaces farm `id`: name, source and the whole host list.
    pub fn update_farm(&self, id: i64, spec: &Farm) -> Result<Stored<Farm>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => {
            write_farm!(conn, Some(id), spec)?;
            one_farm!(conn, id)
        })
    }

    /// Deletes farm `id` and its hosts; its projects are left without a farm.
    pub fn delete_farm(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => deleted(diesel::delete(farms::table.find(id)).execute(conn)?, "farm", id))
    }

    /// Adds `host` to farm `id`; adding a host it has already is a conflict.
    pub fn add_farm_host(&self, id: i64, host: &str) -> Result<Stored<Farm>, Error> {
        crate::targets::check_host(host).map_err(|problem| invalid("name", problem))?;
        in_write_transaction!(self, conn => {
            let farm = one_farm!(conn, id)?;
            diesel::insert_into(farm_hosts::table)
                .values((farm_hosts::farm_id.eq(id), farm_hosts::name.eq(host)))
                .execute(conn)
                .map_err(|e| conflict(e, || format!("host `{host}` of farm `{}`", farm.spec.name)))?;
            diesel::update(farms::table.find(id)).set(farms::updated_at.eq(now())).execute(conn)?;
            one_farm!(conn, id)
        })
    }

    /// Removes `host` from farm `id`.
    pub fn remove_farm_host(&self, id: i64, host: &str) -> Result<Stored<Farm>, Error> {
        in_write_transaction!(self, conn => {
            let farm = one_farm!(conn, id)?;
            let removed = diesel::delete(
                farm_hosts::table.filter(farm_hosts::farm_id.eq(id)).filter(farm_hosts::name.eq(host)),
            )
            .execute(conn)?;
            if removed == 0 {
                return Err(Error::Missing(format!("farm `{}` has no host `{host}`", farm.spec.name)));
            }
            diesel::update(farms::table.find(id)).set(farms::updated_at.eq(now())).execute(conn)?;
            one_farm!(conn, id)
        })
    }

    /// Validates and stores a new project; its service, shard and farm must exist.
    pub fn create_project(&self, spec: &Project) -> Result<Stored<Project>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => write_project!(conn, None::<i64>, spec))
    }

    pub fn get_project(&self, id: i64) -> Result<Stored<Project>, Error> {
        let row: Option<ProjectRow> = with_connection!(self, conn => project_query!()
            .filter(projects::id.eq(id))
            .first(conn)
            .optional()?);
        Ok(into_project(row.ok_or(Error::NotFound { entity: "project", id })?))
    }

    /// Every project, by name.
    pub fn list_projects(&self) -> Result<Vec<Stored<Project>>, Error> {
        let rows: Vec<ProjectRow> =
            with_connection!(self, conn => project_query!().order(projects::name).load(conn)?);
        Ok(rows.into_iter().map(into_project).collect())
    }

    /// Replaces project `id`.
    pub fn update_project(&self, id: i64, spec: &Project) -> Result<Stored<Project>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => write_project!(conn, Some(id), spec))
    }

    /// Deletes project `id` and its exporters.
    pub fn delete_project(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => deleted(diesel::delete(projects::table.find(id)).execute(conn)?, "project", id))
    }

    /// Validates and stores a new exporter; its project must exist, and no other exporter
    /// of that project may have the same job and port.
    pub fn create_exporter(&self, spec: &Exporter) -> Result<Stored<Exporter>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => write_exporter!(conn, None::<i64>, spec))
    }

    pub fn get_exporter(&self, id: i64) -> Result<Stored<Exporter>, Error> {
        let row: Option<(ExporterRow, String)> = with_connection!(self, conn => exporters::table
            .inner_join(projects::table)
            .filter(exporters::id.eq(id))
            .select((ExporterRow::as_select(), projects::name))
            .first(conn)
            .optional()?);
        let (row, project) = row.ok_or(Error::NotFound { entity: "exporter", id })?;
        row.into_exporter(project)
    }

    /// Every exporter (of project `project` when given), by project, job and port.
    pub fn list_exporters(&self, project: Option<&str>) -> Result<Vec<Stored<Exporter>>, Error> {
        let rows: Vec<(ExporterRow, String)> = with_connection!(self, conn => {
            let mut query = exporters::table
                .inner_join(projects::table)
                .select((ExporterRow::as_select(), projects::name))
                .order((projects::name, exporters::job, exporters::port, exporters::id))
                .into_boxed();
            if let Some(project) = project {
                query = query.filter(projects::name.eq(project));
            }
            query.load(conn)?
        });
        rows.into_iter().map(|(row, project)| row.into_exporter(project)).collect()
    }

    /// Replaces exporter `id`.
    pub fn update_exporter(&self, id: i64, spec: &Exporter) -> Result<Stored<Exporter>, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => write_exporter!(conn, Some(id), spec))
    }

    pub fn delete_exporter(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => deleted(diesel::delete(exporters::table.find(id)).execute(conn)?, "exporter", id))
    }

    /// Everything the target export reads, from one consistent snapshot (a read
    /// transaction).
    pub fn load_targets(&self) -> Result<TargetsModel, Error> {
        let (projects, farms, exporters): Snapshot = in_read_snapshot!(self, conn => {
            let projects: Vec<ProjectRow> = project_query!().load(conn)?;
            let farms = load_farms!(conn, None);
            let exporters: Vec<(ExporterRow, String)> = exporters::table
                .inner_join(projects::table)
                .select((ExporterRow::as_select(), projects::name))
                .load(conn)?;
            Ok::<_, Error>((projects, farms, exporters))
        })?;
        Ok(TargetsModel {
            projects: projects.into_iter().map(|row| into_project(row).spec).collect(),
            farms: farms.into_iter().map(|farm| farm.spec).collect(),
            exporters: exporters
                .into_iter()
                .map(|(row, project)| row.into_exporter(project).map(|e| e.spec))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Upserts a whole target model by name, in one transaction: shards and services are
    /// created when missing; farms, projects and exporters (by project, job and port) are
    /// created or overwritten, a farm's hosts replaced by the model's. Nothing is deleted.
    /// Every entity is validated first; any problem (named with its entity) writes nothing.
    pub fn import_targets(&self, model: &TargetsModel) -> Result<TargetImportReport, Error> {
        let mut errors = ValidationErrors::default();
        let mut check = |what: String, result: Result<(), ValidationErrors>| {
            if let Err(problems) = result {
                for (field, problem) in problems.fields() {
                    errors.add(format!("{what}: {field}"), problem.clone());
                }
            }
        };
        for farm in &model.farms {
            check(format!("farm `{}`", farm.name), farm.validate());
        }
        for project in &model.projects {
            check(format!("project `{}`", project.name), project.validate());
        }
        for exporter in &model.exporters {
            let what = format!("exporter `{}` of `{}`", exporter.job, exporter.project);
            check(what, exporter.validate());
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let mut report = TargetImportReport::default();
        let mut count = |created: bool, kind: &'static str| {
            let map = if created { &mut report.created } else { &mut report.updated };
            *map.entry(kind).or_default() += 1;
        };
        in_write_transaction!(self, conn => {
            let now = now();
            let shard_names: BTreeSet<&str> = model.projects.iter().map(|p| p.shard.as_str()).collect();
            for name in shard_names {
                let inserted = diesel::insert_into(shards::table)
                    .values((shards::name.eq(name), shards::created_at.eq(now), shards::updated_at.eq(now)))
                    .on_conflict(shards::name)
                    .do_nothing()
                    .execute(conn)?;
                if inserted > 0 {
                    count(true, "shards");
                }
            }
            let service_names: BTreeSet<&str> = model.projects.iter().map(|p| p.service.as_str()).collect();
            for name in service_names {
                let inserted = diesel::insert_into(services::table)
                    .values((services::name.eq(name), services::created_at.eq(now), services::updated_at.eq(now)))
                    .on_conflict(services::name)
                    .do_nothing()
                    .execute(conn)?;
                if inserted > 0 {
                    count(true, "services");
                }
            }
            for farm in &model.farms {
                let existing: Option<i64> = farms::table
                    .filter(farms::name.eq(&farm.name))
                    .select(farms::id)
                    .first(conn)
                    .optional()?;
                write_farm!(conn, existing, farm)?;
                count(existing.is_none(), "farms");
            }
            for project in &model.projects {
                let existing: Option<i64> = projects::table
                    .filter(projects::name.eq(&project.name))
                    .select(projects::id)
                    .first(conn)
                    .optional()?;
                write_project!(conn, existing, project)?;
                count(existing.is_none(), "projects");
            }
            for exporter in &model.exporters {
                let existing: Option<i64> = exporters::table
                    .inner_join(projects::table)
                    .filter(projects::name.eq(&exporter.project))
                    .filter(exporters::job.eq(&exporter.job))
                    .filter(exporters::port.eq(i32::from(exporter.port)))
                    .select(exporters::id)
                    .first(conn)
                    .optional()?;
                write_exporter!(conn, existing, exporter)?;
                count(existing.is_none(), "exporters");
            }
            Ok::<(), Error>(())
        })?;
        Ok(report)
    }

    /// How many of each target entity are stored, for the server's metrics.
    pub fn count_targets(&self) -> Result<BTreeMap<&'static str, i64>, Error> {
        with_connection!(self, conn => Ok(BTreeMap::from([
            ("shards", shards::table.count().get_result(conn)?),
            ("services", services::table.count().get_result(conn)?),
            ("farms", farms::table.count().get_result(conn)?),
            ("hosts", farm_hosts::table.count().get_result(conn)?),
            ("projects", projects::table.count().get_result(conn)?),
            ("exporters", exporters::table.count().get_result(conn)?),
        ])))
    }
}

/// Whether a stored host spec lists `datasource` among its `datasources`.
fn host_uses_datasource(spec: &str, datasource: i64) -> bool {
    let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    spec.get("datasources")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|ids| ids.iter().any(|value| value.as_i64() == Some(datasource)))
}
