//! The SQL store of rules and groups, on SQLite or PostgreSQL.
//!
//! `Store::open` picks the backend from the URL itself (a path or `sqlite://` for SQLite,
//! `postgres://` or `postgresql://` for PostgreSQL) and makes the first connection directly,
//! so that a failure keeps the database's own message instead of a pool time-out. It then
//! runs the embedded migrations and keeps a small connection pool.
//!
//! Every query is written once: the `with_connection!` and `in_write_transaction!` macros
//! expand a body for each backend's concrete connection type. Every write runs in a
//! transaction that validates first, so a failed write leaves nothing behind. On SQLite,
//! write transactions are `BEGIN IMMEDIATE`, which takes the write lock up front: a deferred
//! transaction that reads and then writes can fail with `SQLITE_BUSY` without waiting.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::Error;
use crate::rule::{
    Group, GroupPatch, GroupSpec, GroupedRules, ImportReport, Rule, RuleKind, RulePatch, RuleSpec,
};
use crate::schema::{prom_rule_groups, prom_rules};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// An arbitrary, fixed key for the PostgreSQL advisory lock that serializes migrations when
/// several server replicas start at once.
const MIGRATION_LOCK_KEY: i64 = 0x7072_6f6d_7275_6c65; // "promrule"

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Filters and pagination for [`Store::list_rules`]; every `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    pub datasource_id: Option<i64>,
    pub group_id: Option<i64>,
    pub kind: Option<RuleKind>,
    pub enabled: Option<bool>,
    pub heal_enabled: Option<bool>,
    pub page: Page,
}

/// A window over a listing ordered by id; the default is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: i64,
}

/// How [`Store::import`] treats what a file does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The datasource of rules the import creates (existing rules keep theirs).
    pub datasource_id: Option<i64>,
}

/// A handle to the database; cheap to clone, shared by threads.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Serializes this process's SQLite write transactions. SQLite allows one writer at a
    /// time anyway; waiting here is a fair queue, where waiting in SQLite's busy handler
    /// means sleeping in growing steps (up to 100 ms) and long tail latencies.
    sqlite_writer: Arc<Mutex<()>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(R2d2Pool<ConnectionManager<SqliteConnection>>),
    Postgres(R2d2Pool<ConnectionManager<PgConnection>>),
}

/// Runs `$body` with `$conn` bound to a pooled connection of the store's backend.
macro_rules! with_connection {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => {
                let mut guard = pool.get()?;
                let $conn: &mut SqliteConnection = &mut guard;
                $body
            }
            Pool::Postgres(pool) => {
                let mut guard = pool.get()?;
                let $conn: &mut PgConnection = &mut guard;
                $body
            }
        }
    };
}

/// Runs `$body` (returning `Result<_, Error>`) in a read-only transaction that sees one
/// snapshot of the database: on SQLite any read transaction does (WAL), on PostgreSQL only
/// `REPEATABLE READ` (under the default `READ COMMITTED`, each statement sees the commits
/// made before it, so two queries could disagree).
macro_rules! in_read_snapshot {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => pool.get()?.transaction(|$conn| $body),
            Pool::Postgres(pool) => {
                pool.get()?.build_transaction().read_only().repeatable_read().run(|$conn| $body)
            }
        }
    };
}

/// Runs `$body` (returning `Result<_, Error>`) in a write transaction; `Err` rolls back.
macro_rules! in_write_transaction {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite(pool) => {
                let _writer =
                    $store.sqlite_writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                pool.get()?.immediate_transaction(|$conn| $body)
            }
            Pool::Postgres(pool) => pool.get()?.transaction(|$conn| $body),
        }
    };
}

/// Builds the filtered, ordered, paginated rule query; typed by the connection it runs on.
macro_rules! rule_query {
    ($filter:expr) => {{
        let filter: &RuleFilter = $filter;
        let mut query = prom_rules::table.into_boxed();
        if let Some(id) = filter.datasource_id {
            query = query.filter(prom_rules::datasource_id.eq(id));
        }
        if let Some(id) = filter.group_id {
            query = query.filter(prom_rules::group_id.eq(id));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(prom_rules::kind.eq(kind.as_str()));
        }
        if let Some(enabled) = filter.enabled {
            query = query.filter(prom_rules::enabled.eq(enabled));
        }
        if let Some(heal) = filter.heal_enabled {
            query = query.filter(prom_rules::heal_enabled.eq(heal));
        }
        query
    }};
}

/// The rule with id `$id`, or `Error::NotFound`.
macro_rules! find_rule {
    ($conn:expr, $id:expr) => {{
        let id: i64 = $id;
        let row: Option<RuleRow> =
            prom_rules::table.find(id).select(RuleRow::as_select()).first($conn).optional()?;
        row.ok_or(Error::NotFound { entity: "rule", id })?.into_rule()
    }};
}

/// The group with id `$id`, or `Error::NotFound`.
macro_rules! find_group {
    ($conn:expr, $id:expr) => {{
        let id: i64 = $id;
        let row: Option<GroupRow> = prom_rule_groups::table
            .find(id)
            .select(GroupRow::as_select())
            .first($conn)
            .optional()?;
        Ok::<Group, Error>(row.ok_or(Error::NotFound { entity: "group", id })?.into_group())
    }};
}

/// Fails with `Error::Conflict` when another group (not `$except`) has the name `$name`.
macro_rules! ensure_group_name_free {
    ($conn:expr, $name:expr, $except:expr) => {{
        let name: &str = $name;
        let except: Option<i64> = $except;
        let holder: Option<i64> = prom_rule_groups::table
            .filter(prom_rule_groups::name.eq(name))
            .select(prom_rule_groups::id)
            .first($conn)
            .optional()?;
        if holder.is_some_and(|holder| Some(holder) != except) {
            return Err(Error::Conflict(format!("a group named `{name}` already exists")));
        }
    }};
}

/// Replaces group `$id` with `$spec` (already validated), keeping names unique.
macro_rules! write_group {
    ($conn:expr, $id:expr, $spec:expr) => {{
        let id: i64 = $id;
        let spec: &GroupSpec = $spec;
        find_group!($conn, id)?;
        ensure_group_name_free!($conn, &spec.name, Some(id));
        let row: GroupRow = diesel::update(prom_rule_groups::table.find(id))
            .set((
                prom_rule_groups::name.eq(&spec.name),
                prom_rule_groups::evaluation_interval.eq(&spec.interval),
                prom_rule_groups::updated_at.eq(now()),
            ))
            .returning(GroupRow::as_returning())
            .get_result($conn)
            .map_err(|error| unique_to_conflict(error, &spec.name))?;
        Ok(row.into_group())
    }};
}

mod audit;
mod targets;
pub use audit::{Deployment, DeploymentHost, HostLockGuard, HostRecord};
pub use targets::{Stored, TargetImportReport};

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`.
    ///
    /// A plain path or `sqlite://PATH` opens a SQLite file (WAL, foreign keys on, a busy
    /// timeout, durable commits); `postgres://…` or `postgresql://…` connects to PostgreSQL.
    pub fn open(url: &str) -> Result<Store, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            open_postgres(url)
        } else if let Some(path) = sqlite_path(url) {
            open_sqlite(path)
        } else {
            Err(Error::UnsupportedUrl(redact(url)))
        }
    }

    /// Like [`Store::open`], but a SQLite file must exist already: for readers such as the
    /// target export, for which a mistyped path would otherwise become a new, empty
    /// database (and an empty file written over a good one).
    pub fn open_existing(url: &str) -> Result<Store, Error> {
        if let Some(path) = sqlite_path(url)
            && path != ":memory:"
            && !std::path::Path::new(path).exists()
        {
            return Err(Error::Missing(format!("the SQLite database `{path}` does not exist")));
        }
        Store::open(url)
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers a trivial query.
    pub fn ping(&self) -> Result<(), Error> {
        with_connection!(self, conn => {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
    }

    /// Validates and stores a new rule.
    pub fn create_rule(&self, spec: &RuleSpec) -> Result<Rule, Error> {
        spec.validate()?;
        let row = RuleWrite::new(spec, now());
        in_write_transaction!(self, conn => {
            let row: RuleRow = diesel::insert_into(prom_rules::table)
                .values((&row, prom_rules::created_at.eq(row.updated_at)))
                .returning(RuleRow::as_returning())
                .get_result(conn)?;
            row.into_rule()
        })
    }

    /// The rule with this id.
    pub fn get_rule(&self, id: i64) -> Result<Rule, Error> {
        with_connection!(self, conn => find_rule!(conn, id))
    }

    /// The rules matching `filter`, ordered by id.
    pub fn list_rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, Error> {
        let rows: Vec<RuleRow> = with_connection!(self, conn => {
            let mut query = rule_query!(filter).order(prom_rules::id).offset(filter.page.offset);
            if let Some(limit) = filter.page.limit {
                query = query.limit(limit);
            }
            query.select(RuleRow::as_select()).load(conn)?
        });
        rows.into_iter().map(RuleRow::into_rule).collect()
    }

    /// How many rules match `filter`, ignoring its page.
    pub fn count_rules(&self, filter: &RuleFilter) -> Result<i64, Error> {
        with_connection!(self, conn => Ok(rule_query!(filter).count().get_result(conn)?))
    }

    /// How many rules of each kind are stored.
    pub fn count_rules_by_kind(&self) -> Result<BTreeMap<RuleKind, i64>, Error> {
        let rows: Vec<(String, i64)> = with_connection!(self, conn => prom_rules::table
            .group_by(prom_rules::kind)
            .select((prom_rules::kind, diesel::dsl::count_star()))
            .load(conn)?);
        let mut counts = BTreeMap::from([(RuleKind::Alert, 0), (RuleKind::Record, 0)]);
        for (kind, count) in rows {
            if let Ok(kind) = kind.parse() {
                counts.insert(kind, count);
            }
        }
        Ok(counts)
    }

    /// Validates `spec` and replaces every writable field of rule `id` with it.
    pub fn update_rule(&self, id: i64, spec: &RuleSpec) -> Result<Rule, Error> {
        spec.validate()?;
        let row = RuleWrite::new(spec, now());
        in_write_transaction!(self, conn => {
            let row: RuleRow = diesel::update(prom_rules::table.find(id))
                .set(&row)
                .returning(RuleRow::as_returning())
                .get_result(conn)
                .optional()?
                .ok_or(Error::NotFound { entity: "rule", id })?;
            row.into_rule()
        })
    }

    /// Applies `patch` to rule `id` and validates the result, in one transaction.
    pub fn patch_rule(&self, id: i64, patch: RulePatch) -> Result<Rule, Error> {
        in_write_transaction!(self, conn => {
            let mut spec = find_rule!(conn, id)?.spec;
            patch.apply(&mut spec);
            spec.validate()?;
            let row: RuleRow = diesel::update(prom_rules::table.find(id))
                .set(&RuleWrite::new(&spec, now()))
                .returning(RuleRow::as_returning())
                .get_result(conn)?;
            row.into_rule()
        })
    }

    /// Deletes rule `id`.
    pub fn delete_rule(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => {
            deleted(diesel::delete(prom_rules::table.find(id)).execute(conn)?, "rule", id)
        })
    }

    /// Every rule and every group, by id, from one consistent snapshot (a read
    /// transaction): what a rule file is rendered from.
    pub fn rules_and_groups(&self) -> Result<(Vec<Rule>, Vec<Group>), Error> {
        let (rules, groups): (Vec<RuleRow>, Vec<GroupRow>) = in_read_snapshot!(self, conn => {
            let rules = prom_rules::table.order(prom_rules::id).select(RuleRow::as_select()).load(conn)?;
            let groups = prom_rule_groups::table
                .order(prom_rule_groups::id)
                .select(GroupRow::as_select())
                .load(conn)?;
            Ok::<_, Error>((rules, groups))
        })?;
        let rules = rules.into_iter().map(RuleRow::into_rule).collect::<Result<_, _>>()?;
        Ok((rules, groups.into_iter().map(GroupRow::into_group).collect()))
    }

    /// Upserts rules from a rule file, keyed by (group name, rule name), in one transaction.
    ///
    /// Groups are created when missing and take the file's interval. Within a group, the
    /// k-th rule of a name in the file matches the k-th stored rule of that display name (by
    /// id), since alert names may repeat. A matched rule takes every field the file carries
    /// and keeps the rest (id, datasource, enabled); an unnamed rule matched by its
    /// `Alert_<id>` name stays unnamed. Rules missing from the file are left alone. Any
    /// invalid rule aborts the whole import, naming the group and the rule.
    pub fn import(
        &self,
        groups: &[GroupedRules],
        options: ImportOptions,
    ) -> Result<ImportReport, Error> {
        for group in groups {
            let spec = GroupSpec { name: group.name.clone(), interval: group.interval.clone() };
            spec.validate().map_err(|errors| located(errors, &group.name, None))?;
            for (index, rule) in group.rules.iter().enumerate() {
                rule.validate()
                    .map_err(|errors| located(errors, &group.name, Some((index, rule))))?;
            }
        }
        let now = now();
        in_write_transaction!(self, conn => {
            let mut report = ImportReport::default();
            for group in groups {
                let existing: Option<GroupRow> = prom_rule_groups::table
                    .filter(prom_rule_groups::name.eq(&group.name))
                    .select(GroupRow::as_select())
                    .first(conn)
                    .optional()?;
                let group_id = match existing {
                    Some(row) => {
                        if row.evaluation_interval != group.interval {
                            diesel::update(prom_rule_groups::table.find(row.id))
                                .set((
                                    prom_rule_groups::evaluation_interval.eq(&group.interval),
                                    prom_rule_groups::updated_at.eq(now),
                                ))
                                .execute(conn)?;
                        }
                        row.id
                    }
                    None => {
                        report.groups_created += 1;
                        diesel::insert_into(prom_rule_groups::table)
                            .values((
                                prom_rule_groups::name.eq(&group.name),
                                prom_rule_groups::evaluation_interval.eq(&group.interval),
                                prom_rule_groups::created_at.eq(now),
                                prom_rule_groups::updated_at.eq(now),
                            ))
                            .returning(prom_rule_groups::id)
                            .get_result(conn)?
                    }
                };
                let stored: Vec<RuleRow> = prom_rules::table
                    .filter(prom_rules::group_id.eq(group_id))
                    .order(prom_rules::id)
                    .select(RuleRow::as_select())
                    .load(conn)?;
                let mut stored = stored.into_iter().map(RuleRow::into_rule).collect::<Result<Vec<_>, _>>()?;
                for incoming in &group.rules {
                    let matched = stored.iter().position(|rule| {
                        rule.spec.kind == incoming.kind
                            && Some(rule.display_name().as_ref()) == incoming.name.as_deref()
                    });
                    match matched.map(|index| stored.remove(index)) {
                        Some(rule) => {
                            let merged = merge_from_file(&rule, incoming);
                            if merged == rule.spec {
                                report.unchanged += 1;
                            } else {
                                diesel::update(prom_rules::table.find(rule.id))
                                    .set(&RuleWrite::new(&merged, now))
                                    .execute(conn)?;
                                report.updated += 1;
                            }
                        }
                        None => {
                            let spec = RuleSpec {
                                group_id: Some(group_id),
                                datasource_id: options.datasource_id,
                                ..incoming.clone()
                            };
                            diesel::insert_into(prom_rules::table)
                                .values((&RuleWrite::new(&spec, now), prom_rules::created_at.eq(now)))
                                .execute(conn)?;
                            report.created += 1;
                        }
                    }
                }
            }
            Ok(report)
        })
    }

    /// Validates and stores a new group; its name must be unused.
    pub fn create_group(&self, spec: &GroupSpec) -> Result<Group, Error> {
        spec.validate()?;
        let now = now();
        in_write_transaction!(self, conn => {
            ensure_group_name_free!(conn, &spec.name, None);
            let row: GroupRow = diesel::insert_into(prom_rule_groups::table)
                .values((
                    prom_rule_groups::name.eq(&spec.name),
                    prom_rule_groups::evaluation_interval.eq(&spec.interval),
                    prom_rule_groups::created_at.eq(now),
                    prom_rule_groups::updated_at.eq(now),
                ))
                .returning(GroupRow::as_returning())
                .get_result(conn)
                .map_err(|error| unique_to_conflict(error, &spec.name))?;
            Ok(row.into_group())
        })
    }

    /// The group with this id.
    pub fn get_group(&self, id: i64) -> Result<Group, Error> {
        with_connection!(self, conn => find_group!(conn, id))
    }

    /// The group with this name, if any.
    pub fn find_group_by_name(&self, name: &str) -> Result<Option<Group>, Error> {
        let row: Option<GroupRow> = with_connection!(self, conn => prom_rule_groups::table
            .filter(prom_rule_groups::name.eq(name))
            .select(GroupRow::as_select())
            .first(conn)
            .optional()?);
        Ok(row.map(GroupRow::into_group))
    }

    /// Groups ordered by id.
    pub fn list_groups(&self, page: Page) -> Result<Vec<Group>, Error> {
        let rows: Vec<GroupRow> = with_connection!(self, conn => {
            let mut query = prom_rule_groups::table.into_boxed().order(prom_rule_groups::id).offset(page.offset);
            if let Some(limit) = page.limit {
                query = query.limit(limit);
            }
            query.select(GroupRow::as_select()).load(conn)?
        });
        Ok(rows.into_iter().map(GroupRow::into_group).collect())
    }

    /// How many groups are stored.
    pub fn count_groups(&self) -> Result<i64, Error> {
        with_connection!(self, conn => Ok(prom_rule_groups::table.count().get_result(conn)?))
    }

    /// Validates `spec` and replaces group `id` with it; the new name must be unused.
    pub fn update_group(&self, id: i64, spec: &GroupSpec) -> Result<Group, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => write_group!(conn, id, spec))
    }

    /// Applies `patch` to group `id` and validates the result, in one transaction.
    pub fn patch_group(&self, id: i64, patch: GroupPatch) -> Result<Group, Error> {
        in_write_transaction!(self, conn => {
            let mut spec = find_group!(conn, id)?.spec;
            patch.apply(&mut spec);
            spec.validate()?;
            write_group!(conn, id, &spec)
        })
    }

    /// Deletes group `id`, which must hold no rules.
    pub fn delete_group(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => {
            let group = find_group!(conn, id)?;
            let rules: i64 = prom_rules::table.filter(prom_rules::group_id.eq(id)).count().get_result(conn)?;
            if rules > 0 {
                return Err(Error::Conflict(format!(
                    "group `{}` still has {rules} rule(s); move or delete them first",
                    group.spec.name
                )));
            }
            diesel::delete(prom_rule_groups::table.find(id)).execute(conn)?;
            Ok(())
        })
    }
}

/// `stored` with every field a rule file carries taken from `incoming`.
fn merge_from_file(stored: &Rule, incoming: &RuleSpec) -> RuleSpec {
    let keeps_no_name =
        stored.spec.name.is_none() && incoming.name.as_deref() == Some(&*stored.display_name());
    RuleSpec {
        kind: incoming.kind,
        name: if keeps_no_name { None } else { incoming.name.clone() },
        expression: incoming.expression.clone(),
        for_duration: incoming.for_duration.clone(),
        severity: incoming.severity.clone(),
        summary: incoming.summary.clone(),
        description: incoming.description.clone(),
        heal_enabled: incoming.heal_enabled,
        labels: incoming.labels.clone(),
        annotations: incoming.annotations.clone(),
        ..stored.spec.clone()
    }
}

/// Prefixes each field of an import's validation errors with where it stands in the file.
fn located(
    errors: crate::ValidationErrors,
    group: &str,
    rule: Option<(usize, &RuleSpec)>,
) -> Error {
    let mut out = crate::ValidationErrors::default();
    let prefix = match rule {
        Some((index, rule)) => format!(
            "group `{group}`, rule {} (`{}`): ",
            index + 1,
            rule.name.as_deref().unwrap_or("unnamed")
        ),
        None => format!("group `{group}`: "),
    };
    for (field, problem) in errors.fields() {
        out.add(format!("{prefix}{field}"), problem.clone());
    }
    Error::Invalid(out)
}

/// A race between two writers can slip past `ensure_group_name_free!`; the UNIQUE
/// constraint then catches it, and the client still gets a conflict, not a 500.
fn unique_to_conflict(error: diesel::result::Error, name: &str) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict(format!("a group named `{name}` already exists"))
        }
        other => Error::Query(other),
    }
}

/// The current time, truncated to microseconds: PostgreSQL keeps no more, and both
/// backends must give back what they were given.
/// The result of deleting `entity` `id`, from the number of rows its DELETE removed.
fn deleted(rows: usize, entity: &'static str, id: i64) -> Result<(), Error> {
    if rows == 0 { Err(Error::NotFound { entity, id }) } else { Ok(()) }
}

fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
}

/// A row of `prom_rules` as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = prom_rules)]
struct RuleRow {
    id: i64,
    expression: String,
    duration: Option<String>,
    severity: String,
    summary: String,
    description: String,
    datasource_id: Option<i64>,
    group_id: Option<i64>,
    heal_enabled: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    kind: String,
    name: Option<String>,
    enabled: bool,
    labels: String,
    annotations: String,
}

impl RuleRow {
    fn into_rule(self) -> Result<Rule, Error> {
        let id = self.id;
        let corrupt = |problem: String| Error::Corrupt { entity: "rule", id, problem };
        let kind: RuleKind = self.kind.parse().map_err(corrupt)?;
        let labels = serde_json::from_str(&self.labels).map_err(|error| {
            corrupt(format!("labels are not a JSON object of strings: {error}"))
        })?;
        let annotations = serde_json::from_str(&self.annotations).map_err(|error| {
            corrupt(format!("annotations are not a JSON object of strings: {error}"))
        })?;
        Ok(Rule {
            id,
            spec: RuleSpec {
                kind,
                name: self.name,
                expression: self.expression,
                // The original schema stores '' or NULL for "no `for`"; recording rules never
                // have one, whatever the column default put there.
                for_duration: self.duration.filter(|d| !d.is_empty() && kind == RuleKind::Alert),
                severity: self.severity,
                summary: self.summary,
                description: self.description,
                datasource_id: self.datasource_id,
                group_id: self.group_id,
                heal_enabled: self.heal_enabled,
                enabled: self.enabled,
                labels,
                annotations,
            },
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// Every writable column of `prom_rules`, for inserts and full updates.
///
/// `None` is written as NULL in both cases: left to diesel's default, an insert would
/// write SQL `DEFAULT` instead, and a rule without `for` would get the original schema's
/// `1m`.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = prom_rules, treat_none_as_null = true, treat_none_as_default_value = false)]
struct RuleWrite<'a> {
    kind: &'a str,
    name: Option<&'a str>,
    expression: &'a str,
    duration: Option<&'a str>,
    severity: &'a str,
    summary: &'a str,
    description: &'a str,
    datasource_id: Option<i64>,
    group_id: Option<i64>,
    heal_enabled: bool,
    enabled: bool,
    labels: String,
    annotations: String,
    updated_at: NaiveDateTime,
}

impl<'a> RuleWrite<'a> {
    fn new(spec: &'a RuleSpec, now: NaiveDateTime) -> RuleWrite<'a> {
        RuleWrite {
            kind: spec.kind.as_str(),
            name: spec.name.as_deref(),
            expression: &spec.expression,
            duration: spec.for_duration.as_deref(),
            severity: &spec.severity,
            summary: &spec.summary,
            description: &spec.description,
            datasource_id: spec.datasource_id,
            group_id: spec.group_id,
            heal_enabled: spec.heal_enabled,
            enabled: spec.enabled,
            // A BTreeMap of strings always serializes, and in key order, so equal maps are
            // equal text.
            labels: serde_json::to_string(&spec.labels).unwrap_or_default(),
            annotations: serde_json::to_string(&spec.annotations).unwrap_or_default(),
            updated_at: now,
        }
    }
}

/// A row of `prom_rule_groups` as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = prom_rule_groups)]
struct GroupRow {
    id: i64,
    name: String,
    evaluation_interval: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl GroupRow {
    fn into_group(self) -> Group {
        Group {
            id: self.id,
            spec: GroupSpec { name: self.name, interval: self.evaluation_interval },
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        }
    }
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// The SQLite file of `url` (a plain path, `sqlite://PATH` or `sqlite:PATH`), or `None`
/// when it names another backend or none.
fn sqlite_path(url: &str) -> Option<&str> {
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(path) => Some(path),
        None if url.contains("://") || url.is_empty() => None,
        None => Some(url),
    }
}

/// Sets the per-connection SQLite settings on every pooled connection.
#[derive(Debug)]
struct SqliteSettings;

/// Wait up to 10 s for another writer; enforce foreign keys; fsync every commit (durable
/// writes, which the benchmarks measure).
const SQLITE_CONNECTION_SETTINGS: &str =
    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSettings {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_CONNECTION_SETTINGS).map_err(diesel::r2d2::Error::QueryError)
    }
}

fn open_sqlite(path: &str) -> Result<Store, Error> {
    let backend = Backend::Sqlite;
    let connect_error = |source| Error::Connect { backend, target: path.to_owned(), source };
    let mut conn = SqliteConnection::establish(path).map_err(connect_error)?;
    // WAL lets readers proceed while one writer commits; it is a property of the file, so
    // setting it once here covers every pooled connection.
    conn.batch_execute("PRAGMA journal_mode = WAL;")
        .and_then(|()| conn.batch_execute(SQLITE_CONNECTION_SETTINGS))
        .map_err(|error| {
            connect_error(diesel::ConnectionError::CouldntSetupConfiguration(error))
        })?;
    let migrate = |conn: &mut SqliteConnection| {
        conn.run_pending_migrations(SQLITE_MIGRATIONS)
            .map(drop)
            .map_err(|source| Error::Migrate { backend, source })
    };
    let pool =
        R2d2Pool::builder().min_idle(Some(1)).connection_customizer(Box::new(SqliteSettings));
    let pool = if path == ":memory:" {
        // An in-memory database lives as long as its one connection: a pool of one that is
        // never reaped keeps it whole, and it must be migrated through that connection.
        let pool = pool
            .max_size(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .build(ConnectionManager::new(path))?;
        migrate(&mut *pool.get()?)?;
        pool
    } else {
        migrate(&mut conn)?;
        pool.max_size(8).build(ConnectionManager::new(path))?
    };
    Ok(Store { pool: Pool::Sqlite(pool), sqlite_writer: Arc::default() })
}

fn open_postgres(url: &str) -> Result<Store, Error> {
    let backend = Backend::Postgres;
    let mut conn = PgConnection::establish(url).map_err(|source| Error::Connect {
        backend,
        target: redact(url),
        source,
    })?;
    // Several replicas may start at once; the advisory lock lets one migrate at a time.
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    let migrated = conn.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    migrated.map_err(|source| Error::Migrate { backend, source })?;
    let pool =
        R2d2Pool::builder().max_size(16).min_idle(Some(1)).build(ConnectionManager::new(url))?;
    Ok(Store { pool: Pool::Postgres(pool), sqlite_writer: Arc::default() })
}

/// `url` with any password (in the user info or a `password=` parameter) replaced by `***`,
/// so that it can go into an error message or a log line.
pub(crate) fn redact(url: &str) -> String {
    let mut url = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let (start, end) = (scheme_end + 3 + colon + 1, scheme_end + 3 + at);
            url.replace_range(start..end, "***");
        }
    }
    if let Some(start) = url.find("password=").map(|i| i + "password=".len()) {
        let end = url[start..].find('&').map_or(url.len(), |i| start + i);
        url.replace_range(start..end, "***");
    }
    url
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/rules"),
            "postgres://app:***@db:5432/rules"
        );
        assert_eq!(redact("postgres://app@db/rules"), "postgres://app@db/rules");
        assert_eq!(
            redact("postgres://db/rules?password=x&a=b"),
            "postgres://db/rules?password=***&a=b"
        );
    }
}
