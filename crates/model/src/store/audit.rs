//! Deploy hosts, the deployment audit trail, and cross-replica host locks.
//!
//! A host's description is stored as JSON: the deployer owns its shape and validation, the
//! model only keeps it (and its unique name).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Page, Pool, Store, deleted, now, utc};
use crate::error::Error;
use crate::schema::{deploy_hosts, deployment_hosts, deployments};

/// A stored deploy host. Its `spec` may hold Prometheus credentials: `Debug` leaves them out,
/// and whoever serializes a record for a client must too (the API answers a redacted form).
#[derive(Clone, PartialEq, Serialize)]
pub struct HostRecord {
    pub id: i64,
    pub name: String,
    pub spec: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for HostRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut spec = self.spec.clone();
        if let Some(auth) = spec.get_mut("prometheus_auth").filter(|auth| !auth.is_null()) {
            *auth = serde_json::Value::String("***".to_owned());
        }
        f.debug_struct("HostRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("spec", &spec)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A deploy, with the result of each host so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: i64,
    pub actor: String,
    /// `running`, `succeeded` (no host failed or rolled back) or `failed`.
    pub status: String,
    pub options: serde_json::Value,
    pub summary: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The rule revision the deploy rendered.
    pub revision: Option<i64>,
    pub hosts: Vec<DeploymentHost>,
}

/// The audit record of one host of a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = deployment_hosts)]
pub struct DeploymentHost {
    #[serde(skip)]
    pub deployment_id: i64,
    pub host: String,
    pub outcome: String,
    pub message: String,
    pub content_hash: String,
    pub lines_added: i64,
    pub lines_removed: i64,
    pub duration_ms: i64,
    #[serde(serialize_with = "serialize_utc")]
    pub finished_at: NaiveDateTime,
    /// The rule revision live on the host after this deploy (deployed or unchanged); `None`
    /// when the deploy failed or only looked.
    pub revision: Option<i64>,
    /// When the deploy took the host's lock and let it go (`None` in records from before
    /// they were kept): one host's windows never overlap.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub locked_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub released_at: Option<NaiveDateTime>,
    /// SHA-256 of the `file_sd` target file kept on a host with a `targets_file`.
    pub targets_hash: Option<String>,
}

fn serialize_optional_utc<S: serde::Serializer>(
    time: &Option<NaiveDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}

fn serialize_utc<S: serde::Serializer>(
    time: &NaiveDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    utc(*time).serialize(serializer)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deploy_hosts)]
struct HostRow {
    id: i64,
    name: String,
    spec: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl HostRow {
    fn into_record(self) -> Result<HostRecord, Error> {
        let spec = serde_json::from_str(&self.spec).map_err(|e| Error::Corrupt {
            entity: "host",
            id: self.id,
            problem: e.to_string(),
        })?;
        Ok(HostRecord {
            id: self.id,
            name: self.name,
            spec,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = deployments)]
struct DeploymentRow {
    id: i64,
    actor: String,
    status: String,
    options: String,
    summary: String,
    started_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    revision: Option<i64>,
}

/// Which deployments [`Store::list_deployments`] returns; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentFilter {
    /// Deployments in which this host took part.
    pub host: Option<String>,
    /// Deployments with at least one host of this outcome (`failed`, `rolled_back`, …).
    pub outcome: Option<String>,
    /// The deployment's own status: `running`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub actor: Option<String>,
    /// Deployments started at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// The deployments that pass `$filter`, as a boxed query.
macro_rules! deployment_query {
    ($filter:expr) => {{
        let filter: &DeploymentFilter = $filter;
        let mut query = deployments::table.into_boxed();
        if let Some(status) = &filter.status {
            query = query.filter(deployments::status.eq(status.clone()));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(deployments::actor.eq(actor.clone()));
        }
        if let Some(since) = filter.since {
            query = query.filter(deployments::started_at.ge(since.naive_utc()));
        }
        if let Some(host) = &filter.host {
            let took_part = deployment_hosts::table
                .filter(deployment_hosts::host.eq(host.clone()))
                .select(deployment_hosts::deployment_id);
            query = query.filter(deployments::id.eq_any(took_part));
        }
        if let Some(outcome) = &filter.outcome {
            let had = deployment_hosts::table
                .filter(deployment_hosts::outcome.eq(outcome.clone()))
                .select(deployment_hosts::deployment_id);
            query = query.filter(deployments::id.eq_any(had));
        }
        query
    }};
}

/// A stored deployment row and its hosts as the API shows them.
fn deployment_from(row: DeploymentRow, hosts: Vec<DeploymentHost>) -> Deployment {
    Deployment {
        id: row.id,
        actor: row.actor,
        status: row.status,
        options: serde_json::from_str(&row.options).unwrap_or_default(),
        summary: row.summary,
        started_at: utc(row.started_at),
        finished_at: row.finished_at.map(utc),
        revision: row.revision,
        hosts,
    }
}

/// Refuses a host spec whose `datasources` name shards that do not exist (a macro: the
/// body runs on either backend's connection).
macro_rules! check_datasources {
    ($conn:ident, $spec:expr) => {{
        let wanted: Vec<i64> = $spec
            .get("datasources")
            .and_then(serde_json::Value::as_array)
            .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
            .unwrap_or_default();
        if !wanted.is_empty() {
            let known: Vec<i64> = crate::schema::shards::table
                .filter(crate::schema::shards::id.eq_any(&wanted))
                .select(crate::schema::shards::id)
                .load($conn)?;
            let missing: Vec<String> =
                wanted.iter().filter(|id| !known.contains(id)).map(ToString::to_string).collect();
            if !missing.is_empty() {
                let mut errors = crate::validate::ValidationErrors::default();
                errors.add("datasources", format!("no shard with id {}", missing.join(", ")));
                return Err(Error::Invalid(errors));
            }
        }
    }};
}

impl Store {
    /// Stores a host; its name must be unused.
    pub fn create_host(&self, name: &str, spec: &serde_json::Value) -> Result<HostRecord, Error> {
        let now = now();
        let row: HostRow = in_write_transaction!(self, conn => {
            check_datasources!(conn, spec);
            diesel::insert_into(deploy_hosts::table)
                .values((
                    deploy_hosts::name.eq(name),
                    deploy_hosts::spec.eq(spec.to_string()),
                    deploy_hosts::created_at.eq(now),
                    deploy_hosts::updated_at.eq(now),
                ))
                .returning(HostRow::as_returning())
                .get_result(conn)
                .map_err(|e| host_conflict(e, name))
        })?;
        row.into_record()
    }

    pub fn get_host(&self, id: i64) -> Result<HostRecord, Error> {
        let row: Option<HostRow> = with_connection!(self, conn => deploy_hosts::table
            .find(id)
            .select(HostRow::as_select())
            .first(conn)
            .optional()?);
        row.ok_or(Error::NotFound { entity: "host", id })?.into_record()
    }

    /// Every host, by name.
    pub fn list_hosts(&self) -> Result<Vec<HostRecord>, Error> {
        let rows: Vec<HostRow> = with_connection!(self, conn => deploy_hosts::table
            .order(deploy_hosts::name)
            .select(HostRow::as_select())
            .load(conn)?);
        rows.into_iter().map(HostRow::into_record).collect()
    }

    pub fn update_host(
        &self,
        id: i64,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<HostRecord, Error> {
        let row: Option<HostRow> = in_write_transaction!(self, conn => {
            check_datasources!(conn, spec);
            diesel::update(deploy_hosts::table.find(id))
                .set((
                    deploy_hosts::name.eq(name),
                    deploy_hosts::spec.eq(spec.to_string()),
                    deploy_hosts::updated_at.eq(now()),
                ))
                .returning(HostRow::as_returning())
                .get_result(conn)
                .optional()
                .map_err(|e| host_conflict(e, name))
        })?;
        row.ok_or(Error::NotFound { entity: "host", id })?.into_record()
    }

    pub fn delete_host(&self, id: i64) -> Result<(), Error> {
        let rows = with_connection!(self, conn => diesel::delete(deploy_hosts::table.find(id)).execute(conn)?);
        deleted(rows, "host", id)
    }

    /// Opens the audit record of a deploy; returns its id.
    pub fn start_deployment(&self, actor: &str, options: &serde_json::Value) -> Result<i64, Error> {
        let now = now();
        with_connection!(self, conn => Ok(diesel::insert_into(deployments::table)
            .values((
                deployments::actor.eq(actor),
                deployments::status.eq("running"),
                deployments::options.eq(options.to_string()),
                deployments::started_at.eq(now),
            ))
            .returning(deployments::id)
            .get_result(conn)?))
    }

    /// Records the result of one host of deploy `deployment_id` (its `finished_at` is now).
    pub fn record_deployment_host(
        &self,
        deployment_id: i64,
        record: &DeploymentHost,
    ) -> Result<(), Error> {
        with_connection!(self, conn => {
            diesel::insert_into(deployment_hosts::table)
                .values((
                    deployment_hosts::deployment_id.eq(deployment_id),
                    deployment_hosts::host.eq(&record.host),
                    deployment_hosts::outcome.eq(&record.outcome),
                    deployment_hosts::message.eq(&record.message),
                    deployment_hosts::content_hash.eq(&record.content_hash),
                    deployment_hosts::lines_added.eq(record.lines_added),
                    deployment_hosts::lines_removed.eq(record.lines_removed),
                    deployment_hosts::duration_ms.eq(record.duration_ms),
                    deployment_hosts::finished_at.eq(now()),
                    deployment_hosts::revision.eq(record.revision),
                    deployment_hosts::locked_at.eq(record.locked_at),
                    deployment_hosts::released_at.eq(record.released_at),
                    deployment_hosts::targets_hash.eq(&record.targets_hash),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Records the rule revision deploy `id` rendered.
    pub fn record_deployment_revision(&self, id: i64, revision: i64) -> Result<(), Error> {
        with_connection!(self, conn => {
            diesel::update(deployments::table.find(id)).set(deployments::revision.eq(Some(revision))).execute(conn)?;
            Ok(())
        })
    }

    /// Closes the audit record of a deploy.
    pub fn finish_deployment(&self, id: i64, succeeded: bool, summary: &str) -> Result<(), Error> {
        let status = if succeeded { "succeeded" } else { "failed" };
        with_connection!(self, conn => {
            diesel::update(deployments::table.find(id))
                .set((deployments::status.eq(status), deployments::summary.eq(summary), deployments::finished_at.eq(Some(now()))))
                .execute(conn)?;
            Ok(())
        })
    }

    /// A page of the deployments that pass `filter`, newest first, each with its hosts'
    /// results, and how many pass in all.
    pub fn list_deployments(
        &self,
        filter: &DeploymentFilter,
        page: Page,
    ) -> Result<(Vec<Deployment>, i64), Error> {
        let (rows, hosts, total): (Vec<DeploymentRow>, Vec<DeploymentHost>, i64) = with_connection!(self, conn => {
            let total = deployment_query!(filter).count().get_result(conn)?;
            let mut query = deployment_query!(filter)
                .order(deployments::id.desc())
                .offset(page.offset)
                .select(DeploymentRow::as_select());
            if let Some(limit) = page.limit {
                query = query.limit(limit);
            }
            let rows: Vec<DeploymentRow> = query.load(conn)?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let hosts = deployment_hosts::table
                .filter(deployment_hosts::deployment_id.eq_any(&ids))
                .order(deployment_hosts::id)
                .select(DeploymentHost::as_select())
                .load(conn)?;
            (rows, hosts, total)
        });
        let mut by_deployment: std::collections::HashMap<i64, Vec<DeploymentHost>> =
            std::collections::HashMap::new();
        for host in hosts {
            by_deployment.entry(host.deployment_id).or_default().push(host);
        }
        let deployments = rows
            .into_iter()
            .map(|row| {
                let hosts = by_deployment.remove(&row.id).unwrap_or_default();
                deployment_from(row, hosts)
            })
            .collect();
        Ok((deployments, total))
    }

    /// A deploy with its hosts' results so far.
    pub fn get_deployment(&self, id: i64) -> Result<Deployment, Error> {
        let (row, hosts): (Option<DeploymentRow>, Vec<DeploymentHost>) = with_connection!(self, conn => {
            let row = deployments::table.find(id).select(DeploymentRow::as_select()).first(conn).optional()?;
            let hosts = deployment_hosts::table
                .filter(deployment_hosts::deployment_id.eq(id))
                .order(deployment_hosts::id)
                .select(DeploymentHost::as_select())
                .load(conn)?;
            (row, hosts)
        });
        let row = row.ok_or(Error::NotFound { entity: "deployment", id })?;
        Ok(deployment_from(row, hosts))
    }
}

fn host_conflict(error: diesel::result::Error, name: &str) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("a host named `{name}` already exists"))
        }
        other => Error::Query(other),
    }
}
