//! SLOs as stored objects: each row keeps an SLO's spec (as JSON: `promrules-slo` owns its
//! shape, the store never reads it) and the names of the rule groups generated from it,
//! which the SLO owns. Every write of an SLO is one transaction and one revision that also
//! makes its groups exactly the generated rules (a matched rule takes every field, a rule
//! no longer generated is deleted, a group no longer generated is removed), so the rules
//! render, deploy, and rewind with the SLO they came from.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use serde::{Deserialize, Serialize};

use super::revisions::Change;
use super::rules::{
    GroupRow, GroupWrite, RuleRevision, RuleRow, RuleWrite, changed_fields, import_group, located,
    merge_from_file,
};
use super::{ImportOptions, Pool, Store, now, utc};
use crate::error::Error;
use crate::rule::{GroupChange, GroupedRules, ImportAction, ImportChange, ImportReport, RuleSpec};
use crate::schema::{prom_rule_groups, prom_rules, slos};

/// An SLO as it is stored and recorded in revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloRecord {
    /// `service-name`: unique, and the `sloth_id` label of the SLO's rules.
    pub sloth_id: String,
    pub service: String,
    /// The SLO itself (`promrules_slo::Slo` as JSON).
    pub spec: serde_json::Value,
    /// The rule groups its last write generated (none while it is disabled).
    pub groups: Vec<String>,
}

/// A stored SLO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSlo {
    pub id: i64,
    #[serde(flatten)]
    pub record: SloRecord,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An SLO to write, with the rules generated from it (checked by `promrules-slo`).
#[derive(Debug, Clone, PartialEq)]
pub struct SloWrite {
    pub sloth_id: String,
    pub service: String,
    pub spec: serde_json::Value,
    /// The datasource of every generated rule.
    pub datasource_id: Option<i64>,
    pub generated: Vec<GroupedRules>,
}

impl SloWrite {
    fn record(&self) -> SloRecord {
        SloRecord {
            sloth_id: self.sloth_id.clone(),
            service: self.service.clone(),
            spec: self.spec.clone(),
            groups: self.generated.iter().map(|g| g.group.name.clone()).collect(),
        }
    }
}

/// How [`Store::import_slos`] treats what a spec file does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SloImportOptions {
    /// Delete the stored SLOs of the file's services that the file no longer has (and
    /// their rules): the file is the whole truth about its services.
    pub prune: bool,
    /// Work out and report every change, then roll it all back.
    pub dry_run: bool,
}

/// What an SLO write did: to its rules and groups (as an import reports them) and to the
/// SLOs themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SloReport {
    #[serde(flatten)]
    pub rules: ImportReport,
    pub slos_created: usize,
    pub slos_updated: usize,
    pub slos_unchanged: usize,
    pub slos_deleted: usize,
    /// Each SLO created, updated or deleted.
    pub slos: Vec<SloChange>,
}

/// One SLO a write created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SloChange {
    pub sloth_id: String,
    /// The stored SLO's id (none for one a dry run would create).
    pub id: Option<i64>,
    pub action: ImportAction,
}

/// A row of `slos` as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = slos)]
pub(super) struct SloRow {
    id: i64,
    sloth_id: String,
    service: String,
    spec: String,
    groups: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl SloRow {
    pub(super) fn into_slo(self) -> Result<StoredSlo, Error> {
        let id = self.id;
        let corrupt = |problem: String| Error::Corrupt { entity: "slo", id, problem };
        let spec = serde_json::from_str(&self.spec)
            .map_err(|error| corrupt(format!("spec is not JSON: {error}")))?;
        let groups = serde_json::from_str(&self.groups)
            .map_err(|error| corrupt(format!("groups are not a JSON list of names: {error}")))?;
        Ok(StoredSlo {
            id,
            record: SloRecord { sloth_id: self.sloth_id, service: self.service, spec, groups },
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// Every writable column of `slos`.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = slos)]
pub(super) struct SloRowWrite<'a> {
    sloth_id: &'a str,
    service: &'a str,
    spec: String,
    groups: String,
    updated_at: NaiveDateTime,
}

impl<'a> SloRowWrite<'a> {
    pub(super) fn new(record: &'a SloRecord, now: NaiveDateTime) -> SloRowWrite<'a> {
        SloRowWrite {
            sloth_id: &record.sloth_id,
            service: &record.service,
            // JSON values and lists of strings always serialize.
            spec: serde_json::to_string(&record.spec).unwrap_or_default(),
            groups: serde_json::to_string(&record.groups).unwrap_or_default(),
            updated_at: now,
        }
    }
}

fn sloth_id_taken(sloth_id: &str) -> Error {
    Error::Conflict(format!("an SLO `{sloth_id}` already exists"))
}

/// A race between two writers can slip past the lookup by `sloth_id`; the UNIQUE
/// constraint then catches it, and the client still gets a conflict.
fn unique_to_conflict(error: diesel::result::Error, sloth_id: &str) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            sloth_id_taken(sloth_id)
        }
        other => Error::Query(other),
    }
}

/// Every generated group and rule checked as an import checks a file's, before any write.
fn check(writes: &[SloWrite]) -> Result<(), Error> {
    for write in writes {
        for GroupedRules { group, rules } in &write.generated {
            group.validate().map_err(|errors| located(errors, &group.name, None))?;
            for (index, rule) in rules.iter().enumerate() {
                rule.validate()
                    .map_err(|errors| located(errors, &group.name, Some((index, rule))))?;
            }
        }
    }
    Ok(())
}

/// Deletes group `$name` (if it exists) and its rules inside a write transaction, recording
/// each in `$changes` and `$report` (an `ImportReport`).
macro_rules! drop_group {
    ($conn:expr, $name:expr, $report:expr, $changes:expr) => {{
        let name: &str = $name;
        let row: Option<GroupRow> = prom_rule_groups::table
            .filter(prom_rule_groups::name.eq(name))
            .select(GroupRow::as_select())
            .first($conn)
            .optional()?;
        if let Some(row) = row {
            let group = row.into_group()?;
            let rules: Vec<RuleRow> = prom_rules::table
                .filter(prom_rules::group_id.eq(group.id))
                .order(prom_rules::id)
                .select(RuleRow::as_select())
                .load($conn)?;
            for rule in rules {
                let rule = rule.into_rule()?;
                diesel::delete(prom_rules::table.find(rule.id)).execute($conn)?;
                $changes.push(Change::rule(rule.id, Some(&rule.spec), None));
                $report.deleted += 1;
                $report.changes.push(ImportChange {
                    group: name.to_owned(),
                    rule: rule.display_name().into_owned(),
                    id: Some(rule.id),
                    action: ImportAction::Deleted,
                    fields: Vec::new(),
                });
            }
            diesel::delete(prom_rule_groups::table.find(group.id)).execute($conn)?;
            $changes.push(Change::group(group.id, Some(&group.spec), None));
            $report.groups_deleted += 1;
        }
    }};
}

/// Writes one SLO (`$existing`: the stored one it replaces, if any) and makes its groups the
/// generated rules, inside a write transaction; evaluates to its id.
macro_rules! write_slo {
    ($conn:expr, $existing:expr, $write:expr, $dry_run:expr, $now:expr, $report:expr, $changes:expr) => {{
        let existing: Option<&StoredSlo> = $existing;
        let write: &SloWrite = $write;
        let record = write.record();
        let taken: Option<i64> = slos::table
            .filter(slos::sloth_id.eq(&record.sloth_id))
            .select(slos::id)
            .first($conn)
            .optional()?;
        if taken.is_some() && taken != existing.map(|slo| slo.id) {
            return Err(sloth_id_taken(&record.sloth_id));
        }
        let options =
            ImportOptions { datasource_id: write.datasource_id, prune: true, dry_run: $dry_run };
        for GroupedRules { group, rules } in &write.generated {
            import_group!($conn, group, rules, options, true, $now, $report.rules, $changes);
        }
        if let Some(old) = existing {
            for name in old.record.groups.iter().filter(|name| !record.groups.contains(name)) {
                drop_group!($conn, name, $report.rules, $changes);
            }
        }
        match existing {
            Some(old) => {
                if old.record == record {
                    $report.slos_unchanged += 1;
                } else {
                    diesel::update(slos::table.find(old.id))
                        .set(&SloRowWrite::new(&record, $now))
                        .execute($conn)
                        .map_err(|error| unique_to_conflict(error, &record.sloth_id))?;
                    $changes.push(Change::slo(old.id, Some(&old.record), Some(&record)));
                    $report.slos_updated += 1;
                    $report.slos.push(SloChange {
                        sloth_id: record.sloth_id.clone(),
                        id: Some(old.id),
                        action: ImportAction::Updated,
                    });
                }
                old.id
            }
            None => {
                let id: i64 = diesel::insert_into(slos::table)
                    .values((&SloRowWrite::new(&record, $now), slos::created_at.eq($now)))
                    .returning(slos::id)
                    .get_result($conn)
                    .map_err(|error| unique_to_conflict(error, &record.sloth_id))?;
                $changes.push(Change::slo(id, None, Some(&record)));
                $report.slos_created += 1;
                $report.slos.push(SloChange {
                    sloth_id: record.sloth_id.clone(),
                    id: (!$dry_run).then_some(id),
                    action: ImportAction::Created,
                });
                id
            }
        }
    }};
}

/// Deletes a stored SLO (`&StoredSlo`) and its groups inside a write transaction.
macro_rules! remove_slo {
    ($conn:expr, $slo:expr, $report:expr, $changes:expr) => {{
        let slo: &StoredSlo = $slo;
        for name in &slo.record.groups {
            drop_group!($conn, name, $report.rules, $changes);
        }
        diesel::delete(slos::table.find(slo.id)).execute($conn)?;
        $changes.push(Change::slo(slo.id, Some(&slo.record), None));
        $report.slos_deleted += 1;
        $report.slos.push(SloChange {
            sloth_id: slo.record.sloth_id.clone(),
            id: Some(slo.id),
            action: ImportAction::Deleted,
        });
    }};
}

/// Makes the `slos` rows `$target` (a restore's), from `$current`, recording each change;
/// their rules are restored with the other rules.
macro_rules! restore_slos {
    ($conn:expr, $current:expr, $target:expr, $now:expr, $changes:expr) => {{
        use crate::schema::slos;
        let current: std::collections::BTreeMap<i64, crate::store::slos::SloRecord> =
            $current.into_iter().map(|slo| (slo.id, slo.record)).collect();
        let target: std::collections::BTreeMap<i64, crate::store::slos::SloRecord> =
            $target.into_iter().map(|slo| (slo.id, slo.record)).collect();
        // Deletions first, so that `sloth_id`s stay unique throughout.
        for (id, before) in current.iter().filter(|(id, _)| !target.contains_key(id)) {
            diesel::delete(slos::table.find(*id)).execute($conn)?;
            $changes.push(Change::slo(*id, Some(before), None));
        }
        for (id, record) in &target {
            let before = current.get(id);
            if before == Some(record) {
                continue;
            }
            let row = crate::store::slos::SloRowWrite::new(record, $now);
            match before {
                Some(_) => diesel::update(slos::table.find(*id)).set(&row).execute($conn),
                None => diesel::insert_into(slos::table)
                    .values((slos::id.eq(*id), &row, slos::created_at.eq($now)))
                    .execute($conn),
            }
            .map_err(|error| Error::Conflict(format!("SLO `{}`: {error}", record.sloth_id)))?;
            $changes.push(Change::slo(*id, before, Some(record)));
        }
    }};
}
pub(super) use restore_slos;

/// Loads the stored SLO `$id` inside a transaction, or not found.
macro_rules! find_slo {
    ($conn:expr, $id:expr) => {{
        let id: i64 = $id;
        slos::table
            .find(id)
            .select(SloRow::as_select())
            .first($conn)
            .optional()?
            .ok_or(Error::NotFound { entity: "slo", id })
            .and_then(SloRow::into_slo)
    }};
}

impl Store {
    /// Every stored SLO, by id.
    pub fn list_slos(&self) -> Result<Vec<StoredSlo>, Error> {
        let rows: Vec<SloRow> = with_connection!(self, conn => slos::table
            .order(slos::id)
            .select(SloRow::as_select())
            .load(conn)?);
        rows.into_iter().map(SloRow::into_slo).collect()
    }

    /// The SLO with this id.
    pub fn get_slo(&self, id: i64) -> Result<StoredSlo, Error> {
        with_connection!(self, conn => find_slo!(conn, id))
    }

    /// Stores a new SLO and its generated rules as one revision; its `sloth_id` must be
    /// unused.
    pub fn create_slo(&self, write: &SloWrite) -> Result<(StoredSlo, SloReport), Error> {
        check(std::slice::from_ref(write))?;
        let now = now();
        in_write_transaction!(self, conn => {
            let mut report = SloReport::default();
            let mut changes = Vec::new();
            let id = write_slo!(conn, None, write, false, now, report, changes);
            report.rules.revision = Some(record_revision!(self, conn, "create_slo", changes));
            Ok((find_slo!(conn, id)?, report))
        })
    }

    /// Replaces SLO `id` (its `sloth_id` may change, to one unused) and makes its groups the
    /// newly generated rules, as one revision.
    pub fn update_slo(&self, id: i64, write: &SloWrite) -> Result<(StoredSlo, SloReport), Error> {
        check(std::slice::from_ref(write))?;
        let now = now();
        in_write_transaction!(self, conn => {
            let existing = find_slo!(conn, id)?;
            let mut report = SloReport::default();
            let mut changes = Vec::new();
            write_slo!(conn, Some(&existing), write, false, now, report, changes);
            report.rules.revision = Some(record_revision!(self, conn, "update_slo", changes));
            Ok((find_slo!(conn, id)?, report))
        })
    }

    /// Deletes SLO `id` with its generated groups and rules, as one revision.
    pub fn delete_slo(&self, id: i64) -> Result<SloReport, Error> {
        in_write_transaction!(self, conn => {
            let existing = find_slo!(conn, id)?;
            let mut report = SloReport::default();
            let mut changes = Vec::new();
            remove_slo!(conn, &existing, report, changes);
            report.rules.revision = Some(record_revision!(self, conn, "delete_slo", changes));
            Ok(report)
        })
    }

    /// Upserts SLOs by `sloth_id` (a spec file's), with their generated rules, in one
    /// transaction and one revision (action `import_slo`). Any invalid generated rule aborts
    /// it all.
    pub fn import_slos(
        &self,
        writes: &[SloWrite],
        options: SloImportOptions,
    ) -> Result<SloReport, Error> {
        check(writes)?;
        let mut seen = BTreeSet::new();
        for write in writes {
            if !seen.insert(&write.sloth_id) {
                return Err(Error::Conflict(format!(
                    "the SLO `{}` is defined twice",
                    write.sloth_id
                )));
            }
        }
        let now = now();
        let mut dry_run_report = None;
        let imported = in_write_transaction!(self, conn => {
            let stored: Vec<SloRow> = slos::table.order(slos::id).select(SloRow::as_select()).load(conn)?;
            let stored: BTreeMap<String, StoredSlo> = stored
                .into_iter()
                .map(|row| row.into_slo().map(|slo| (slo.record.sloth_id.clone(), slo)))
                .collect::<Result<_, _>>()?;
            let mut report = SloReport::default();
            let mut changes = Vec::new();
            for write in writes {
                write_slo!(conn, stored.get(&write.sloth_id), write, options.dry_run, now, report, changes);
            }
            if options.prune {
                let services: BTreeSet<&str> = writes.iter().map(|w| w.service.as_str()).collect();
                for slo in stored.values() {
                    if services.contains(slo.record.service.as_str()) && !seen.contains(&slo.record.sloth_id) {
                        remove_slo!(conn, slo, report, changes);
                    }
                }
            }
            if options.dry_run {
                // Rolls the transaction back; the report leaves through `dry_run_report`.
                dry_run_report = Some(report);
                return Err(Error::Conflict("dry run".into()));
            }
            report.rules.revision = Some(record_revision!(self, conn, "import_slo", changes));
            Ok(report)
        });
        match dry_run_report {
            Some(report) => Ok(report),
            None => imported,
        }
    }

    /// The revisions that touched SLO `id`, newest first, with its record before and after
    /// each. An SLO that never existed is not found; a deleted one still has its history.
    pub fn slo_history(&self, id: i64) -> Result<Vec<RuleRevision>, Error> {
        let history = self.entity_history("slo", id)?;
        if history.is_empty() {
            return Err(Error::NotFound { entity: "slo", id });
        }
        Ok(history)
    }
}
