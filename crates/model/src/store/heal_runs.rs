//! am-executor's run audit as reported to the server (`--report-to`): one row per run or
//! skip of a heal command, found by alert name (a rule's runs) and time.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Page, Pool, Store, utc};
use crate::error::Error;
use crate::schema::heal_runs;
use crate::validate::ValidationErrors;

/// A run or skip as am-executor reports it (its audit-log line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealRunSpec {
    pub time: DateTime<Utc>,
    /// argv: the command and its arguments.
    pub command: Vec<String>,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub alertnames: Vec<String>,
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// `succeeded`, `failed` or `skipped`.
    pub outcome: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Why it was skipped, or what failed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A stored heal run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealRun {
    pub id: i64,
    /// The token name that reported it.
    pub reporter: String,
    #[serde(flatten)]
    pub spec: HealRunSpec,
}

/// Which heal runs [`Store::list_heal_runs`] returns; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealRunFilter {
    /// Runs for alerts of this name (a rule's name).
    pub alertname: Option<String>,
    /// Runs at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// The most list entries and the longest text a report may carry.
const MAX_ITEMS: usize = 1_000;
const MAX_TEXT: usize = 4_096;

impl HealRunSpec {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if !["succeeded", "failed", "skipped"].contains(&self.outcome.as_str()) {
            errors
                .add("outcome", format!("`{}` is not succeeded, failed or skipped", self.outcome));
        }
        if self.command.is_empty() {
            errors.add("command", "is empty: it is the argv that ran");
        }
        let lists = [
            ("command", &self.command),
            ("alertnames", &self.alertnames),
            ("fingerprints", &self.fingerprints),
        ];
        for (field, list) in lists {
            if list.len() > MAX_ITEMS {
                errors.add(field, format!("has more than {MAX_ITEMS} entries"));
            }
            if list.iter().any(|item| item.len() > MAX_TEXT || item.contains('\0')) {
                errors
                    .add(field, format!("has an entry longer than {MAX_TEXT} bytes or with a NUL"));
            }
        }
        if self.alertnames.iter().any(|name| name.contains(',')) {
            errors.add("alertnames", "an alert name has no comma");
        }
        let texts = [("receiver", &self.receiver), ("group_key", &self.group_key)];
        for (field, text) in texts.into_iter().chain(self.reason.as_ref().map(|r| ("reason", r))) {
            if text.len() > MAX_TEXT || text.contains('\0') {
                errors.add(field, format!("is longer than {MAX_TEXT} bytes or has a NUL"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = heal_runs)]
struct HealRunRow {
    id: i64,
    reporter: String,
    time: NaiveDateTime,
    command: String,
    receiver: String,
    group_key: String,
    alertnames: String,
    fingerprints: String,
    outcome: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    duration_ms: Option<i64>,
    reason: Option<String>,
}

impl HealRunRow {
    fn into_run(self) -> Result<HealRun, Error> {
        let corrupt = |problem: String| Error::Corrupt { entity: "heal run", id: self.id, problem };
        let command = serde_json::from_str(&self.command).map_err(|e| corrupt(e.to_string()))?;
        let fingerprints =
            serde_json::from_str(&self.fingerprints).map_err(|e| corrupt(e.to_string()))?;
        let alertnames =
            self.alertnames.split(',').filter(|name| !name.is_empty()).map(str::to_owned).collect();
        Ok(HealRun {
            id: self.id,
            reporter: self.reporter,
            spec: HealRunSpec {
                time: utc(self.time),
                command,
                receiver: self.receiver,
                group_key: self.group_key,
                alertnames,
                fingerprints,
                outcome: self.outcome,
                exit_code: self.exit_code,
                signal: self.signal,
                duration_ms: self.duration_ms.and_then(|ms| u64::try_from(ms).ok()),
                reason: self.reason,
            },
        })
    }
}

/// The heal runs that pass `$filter`, as a boxed query.
macro_rules! heal_run_query {
    ($filter:expr) => {{
        let filter: &HealRunFilter = $filter;
        let mut query = heal_runs::table.into_boxed();
        if let Some(name) = &filter.alertname {
            let name = name.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            query = query.filter(heal_runs::alertnames.like(format!("%,{name},%")).escape('\\'));
        }
        if let Some(since) = filter.since {
            query = query.filter(heal_runs::time.ge(since.naive_utc()));
        }
        query
    }};
}

impl Store {
    /// Stores a reported run, checked first; `reporter` is the token that sent it.
    pub fn record_heal_run(&self, reporter: &str, spec: &HealRunSpec) -> Result<HealRun, Error> {
        spec.validate()?;
        let command = serde_json::to_string(&spec.command).unwrap_or_default();
        let fingerprints = serde_json::to_string(&spec.fingerprints).unwrap_or_default();
        let alertnames = format!(",{},", spec.alertnames.join(","));
        let duration = spec.duration_ms.and_then(|ms| i64::try_from(ms).ok());
        let row: HealRunRow = with_connection!(self, conn => {
            diesel::insert_into(heal_runs::table)
                .values((
                    heal_runs::reporter.eq(reporter),
                    heal_runs::time.eq(spec.time.naive_utc()),
                    heal_runs::command.eq(&command),
                    heal_runs::receiver.eq(&spec.receiver),
                    heal_runs::group_key.eq(&spec.group_key),
                    heal_runs::alertnames.eq(&alertnames),
                    heal_runs::fingerprints.eq(&fingerprints),
                    heal_runs::outcome.eq(&spec.outcome),
                    heal_runs::exit_code.eq(spec.exit_code),
                    heal_runs::signal.eq(spec.signal),
                    heal_runs::duration_ms.eq(duration),
                    heal_runs::reason.eq(&spec.reason),
                ))
                .returning(HealRunRow::as_returning())
                .get_result(conn)?
        });
        row.into_run()
    }

    /// A page of the heal runs that pass `filter`, newest first, and how many pass in all.
    pub fn list_heal_runs(
        &self,
        filter: &HealRunFilter,
        page: Page,
    ) -> Result<(Vec<HealRun>, i64), Error> {
        let (rows, total): (Vec<HealRunRow>, i64) = with_connection!(self, conn => {
            let total = heal_run_query!(filter).count().get_result(conn)?;
            let mut query = heal_run_query!(filter)
                .order((heal_runs::time.desc(), heal_runs::id.desc()))
                .offset(page.offset)
                .select(HealRunRow::as_select());
            if let Some(limit) = page.limit {
                query = query.limit(limit);
            }
            (query.load(conn)?, total)
        });
        let runs = rows.into_iter().map(HealRunRow::into_run).collect::<Result<_, _>>()?;
        Ok((runs, total))
    }
}
