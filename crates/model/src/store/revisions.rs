//! Rule history: every write to rules and groups is one revision, recorded inside the
//! write's own transaction by `record_revision!`, with each changed rule or group before
//! and after (its spec as JSON; `None` before is a creation, `None` after a deletion).
//!
//! Numbers come from one counter row that every write transaction updates first thing
//! after its checks: writers queue on that row's lock, so numbers increase in commit order
//! and never repeat, on PostgreSQL too (a sequence would hand them out in insert order).
//!
//! The state after revision N is the current state with every later change undone, newest
//! first ([`rewind`]); `rules.yml?revision=N` renders it, and a restore writes it back as a
//! new revision. Writes that bypass the store (the original pipeline's plain `INSERT`s)
//! leave no revision, but their rows are in the current state, so the rewind still holds
//! for everything the store changed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::slos::{SloRecord, StoredSlo};
use crate::error::Error;
use crate::rule::{Group, GroupSpec, Rule, RuleSpec};
use crate::schema::revision_changes;

/// One rule or group a write changed, as it is recorded.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) entity: &'static str,
    pub(crate) entity_id: i64,
    pub(crate) before: Option<String>,
    pub(crate) after: Option<String>,
}

impl Change {
    pub(crate) fn rule(id: i64, before: Option<&RuleSpec>, after: Option<&RuleSpec>) -> Change {
        Change { entity: "rule", entity_id: id, before: before.map(json), after: after.map(json) }
    }

    pub(crate) fn group(id: i64, before: Option<&GroupSpec>, after: Option<&GroupSpec>) -> Change {
        Change { entity: "group", entity_id: id, before: before.map(json), after: after.map(json) }
    }

    pub(crate) fn slo(id: i64, before: Option<&SloRecord>, after: Option<&SloRecord>) -> Change {
        Change { entity: "slo", entity_id: id, before: before.map(json), after: after.map(json) }
    }
}

fn json(value: &impl Serialize) -> String {
    // Specs are maps and strings: they always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

#[derive(Insertable)]
#[diesel(table_name = revision_changes, treat_none_as_default_value = false)]
pub(crate) struct ChangeRow<'a> {
    pub(crate) revision: i64,
    pub(crate) entity: &'a str,
    pub(crate) entity_id: i64,
    pub(crate) before: Option<&'a str>,
    pub(crate) after: Option<&'a str>,
}

/// Records one revision by `$store`'s actor with `$changes` (a `Vec<Change>`), inside the
/// write transaction on `$conn`; evaluates to its number.
macro_rules! record_revision {
    ($store:expr, $conn:expr, $action:expr, $changes:expr) => {{
        use crate::schema::{revision_changes, revision_counter, revisions};
        let changes: Vec<crate::store::revisions::Change> = $changes;
        let number: i64 = diesel::update(revision_counter::table.find(1))
            .set(revision_counter::last.eq(revision_counter::last + 1))
            .returning(revision_counter::last)
            .get_result($conn)?;
        diesel::insert_into(revisions::table)
            .values((
                revisions::number.eq(number),
                revisions::actor.eq(&*$store.actor),
                revisions::action.eq($action),
                revisions::created_at.eq(now()),
            ))
            .execute($conn)?;
        let rows: Vec<crate::store::revisions::ChangeRow<'_>> = changes
            .iter()
            .map(|change| crate::store::revisions::ChangeRow {
                revision: number,
                entity: change.entity,
                entity_id: change.entity_id,
                before: change.before.as_deref(),
                after: change.after.as_deref(),
            })
            .collect();
        // Chunks keep a large import under SQLite's limit of bound parameters.
        for chunk in rows.chunks(1_000) {
            diesel::insert_into(revision_changes::table).values(chunk).execute($conn)?;
        }
        number
    }};
}

/// A revision with what it changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub number: i64,
    pub created_at: DateTime<Utc>,
    /// Who wrote it: a token's name, `cli:<user>`, or `api`.
    pub actor: String,
    /// `create_rule`, `update_rule`, `patch_rule`, `delete_rule`, the same for groups,
    /// `import` or `restore`.
    pub action: String,
    pub changes: Vec<RevisionChange>,
}

/// One rule, group or SLO a revision changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionChange {
    /// `rule`, `group` or `slo`.
    pub entity: String,
    pub id: i64,
    /// The spec before the write; `None` when the write created it.
    pub before: Option<serde_json::Value>,
    /// The spec after the write; `None` when the write deleted it.
    pub after: Option<serde_json::Value>,
}

/// A revision in a listing: what it was, without the changes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionSummary {
    pub number: i64,
    pub created_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    /// How many rules and groups it changed.
    pub changed: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = crate::schema::revisions)]
pub(crate) struct RevisionRow {
    pub(crate) number: i64,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = revision_changes)]
pub(crate) struct ChangeRead {
    pub(crate) revision: i64,
    pub(crate) entity: String,
    pub(crate) entity_id: i64,
    pub(crate) before: Option<String>,
    pub(crate) after: Option<String>,
}

impl ChangeRead {
    pub(crate) fn into_change(self) -> Result<RevisionChange, Error> {
        let parse = |text: Option<String>| {
            text.map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| corrupt(self.revision, e.to_string()))
        };
        Ok(RevisionChange {
            before: parse(self.before)?,
            after: parse(self.after)?,
            entity: self.entity,
            id: self.entity_id,
        })
    }
}

fn corrupt(revision: i64, problem: String) -> Error {
    Error::Corrupt { entity: "revision", id: revision, problem }
}

/// The rules, groups and SLOs at some revision: what [`rewind`] works on.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) rules: Vec<Rule>,
    pub(crate) groups: Vec<Group>,
    pub(crate) slos: Vec<StoredSlo>,
}

/// The state as it was before `changes` (newest first) were made: each change undone in
/// turn, its `before` put back (or the entity removed if it had none).
pub(crate) fn rewind(state: State, changes: Vec<ChangeRead>) -> Result<State, Error> {
    fn restored<T: serde::de::DeserializeOwned>(revision: i64, before: &str) -> Result<T, Error> {
        serde_json::from_str(before).map_err(|e| corrupt(revision, e.to_string()))
    }
    let mut rules: BTreeMap<i64, Rule> = state.rules.into_iter().map(|r| (r.id, r)).collect();
    let mut groups: BTreeMap<i64, Group> = state.groups.into_iter().map(|g| (g.id, g)).collect();
    let mut slos: BTreeMap<i64, StoredSlo> = state.slos.into_iter().map(|s| (s.id, s)).collect();
    for change in changes {
        let id = change.entity_id;
        let revision = change.revision;
        match (change.entity.as_str(), change.before) {
            ("rule", None) => {
                rules.remove(&id);
            }
            ("rule", Some(before)) => {
                let spec: RuleSpec = restored(revision, &before)?;
                let time = rules.get(&id).map_or(DateTime::UNIX_EPOCH, |r| r.created_at);
                rules.insert(id, Rule { id, spec, created_at: time, updated_at: time });
            }
            ("group", None) => {
                groups.remove(&id);
            }
            ("group", Some(before)) => {
                let spec: GroupSpec = restored(revision, &before)?;
                let time = groups.get(&id).map_or(DateTime::UNIX_EPOCH, |g| g.created_at);
                groups.insert(id, Group { id, spec, created_at: time, updated_at: time });
            }
            ("slo", None) => {
                slos.remove(&id);
            }
            ("slo", Some(before)) => {
                let record: SloRecord = restored(revision, &before)?;
                let time = slos.get(&id).map_or(DateTime::UNIX_EPOCH, |s| s.created_at);
                slos.insert(id, StoredSlo { id, record, created_at: time, updated_at: time });
            }
            (other, _) => return Err(corrupt(revision, format!("unknown entity `{other}`"))),
        }
    }
    Ok(State {
        rules: rules.into_values().collect(),
        groups: groups.into_values().collect(),
        slos: slos.into_values().collect(),
    })
}

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use super::{Pool, Store, utc};
use crate::schema::revisions;

impl Store {
    /// The newest revision's number (0 before the first write).
    pub fn latest_revision(&self) -> Result<i64, Error> {
        use crate::schema::revision_counter;
        with_connection!(self, conn => Ok(revision_counter::table.find(1).select(revision_counter::last).first(conn)?))
    }

    /// Revisions, newest first.
    pub fn list_revisions(&self, page: super::Page) -> Result<Vec<RevisionSummary>, Error> {
        let rows: Vec<(RevisionRow, i64)> = with_connection!(self, conn => {
            let mut query = revisions::table
                .left_join(revision_changes::table)
                .group_by((revisions::number, revisions::actor, revisions::action, revisions::created_at))
                .select((RevisionRow::as_select(), diesel::dsl::count(revision_changes::id.nullable())))
                .order(revisions::number.desc())
                .offset(page.offset)
                .into_boxed();
            if let Some(limit) = page.limit {
                query = query.limit(limit);
            }
            query.load(conn)?
        });
        Ok(rows
            .into_iter()
            .map(|(row, changed)| RevisionSummary {
                number: row.number,
                created_at: utc(row.created_at),
                actor: row.actor,
                action: row.action,
                changed,
            })
            .collect())
    }

    /// How many revisions there are.
    pub fn count_revisions(&self) -> Result<i64, Error> {
        with_connection!(self, conn => Ok(revisions::table.count().get_result(conn)?))
    }

    /// Revision `number` with its changes, in the order they were made.
    pub fn get_revision(&self, number: i64) -> Result<Revision, Error> {
        let (row, changes): (Option<RevisionRow>, Vec<ChangeRead>) = with_connection!(self, conn => {
            let row = revisions::table.find(number).select(RevisionRow::as_select()).first(conn).optional()?;
            let changes = revision_changes::table
                .filter(revision_changes::revision.eq(number))
                .order(revision_changes::id)
                .select(ChangeRead::as_select())
                .load(conn)?;
            (row, changes)
        });
        let row = row.ok_or(Error::NotFound { entity: "revision", id: number })?;
        Ok(Revision {
            number: row.number,
            created_at: utc(row.created_at),
            actor: row.actor,
            action: row.action,
            changes: changes.into_iter().map(ChangeRead::into_change).collect::<Result<_, _>>()?,
        })
    }
}
