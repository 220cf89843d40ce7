//! Rule and group queries: create, read, list with filters, update, patch and delete, the
//! upsert of a parsed rule file (`import`), and the one snapshot a rule file is rendered
//! from (`rules_and_groups`). Rows are read into the model's types here (`RuleRow`,
//! `GroupRow`) and written from them (`RuleWrite`).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use serde::Serialize;

use super::revisions::{Change, ChangeRead, Revision, State, rewind};
use super::slos::{SloRow, restore_slos};
use super::{Pool, Store, deleted, now, unique_to_conflict, utc};
use crate::error::Error;
use crate::rule::{
    Group, GroupChange, GroupPatch, GroupSpec, GroupedRules, ImportAction, ImportChange,
    ImportReport, Rule, RuleKind, RulePatch, RuleSpec,
};
use crate::schema::{prom_rule_groups, prom_rules};

/// Filters, order and pagination for [`Store::list_rules`]; every `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFilter {
    pub datasource_id: Option<i64>,
    pub group_id: Option<i64>,
    pub kind: Option<RuleKind>,
    pub enabled: Option<bool>,
    pub heal_enabled: Option<bool>,
    /// Text the rule's name or expression contains, ignoring ASCII case.
    pub text: Option<String>,
    /// Labels the rule carries with exactly these values (`severity` included).
    pub labels: Vec<(String, String)>,
    pub sort: RuleSort,
    pub page: Page,
}

impl RuleFilter {
    /// Reads a search box: `key=value` terms (a label name, `=`, a value) match labels, the
    /// rest is text the name or expression must contain (`team=ops disk` is the label
    /// `team="ops"` and the text `disk`; `up == 0` is text).
    pub fn search(mut self, query: &str) -> RuleFilter {
        let mut text = Vec::new();
        for term in query.split_whitespace() {
            match term.split_once('=') {
                Some((key, value))
                    if crate::validate::check_label_name(key).is_ok()
                        && !value.is_empty()
                        && !value.starts_with(['=', '~']) =>
                {
                    let value = value.trim_matches('"');
                    self.labels.push((key.to_owned(), value.to_owned()));
                }
                _ => text.push(term),
            }
        }
        if !text.is_empty() {
            self.text = Some(text.join(" "));
        }
        self
    }
}

/// The order of a rule listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSort {
    /// Oldest first (by id), the default.
    #[default]
    Id,
    /// By name (unnamed alerts last), then id.
    Name,
    /// Most recently changed first.
    Updated,
}

impl RuleSort {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSort::Id => "id",
            RuleSort::Name => "name",
            RuleSort::Updated => "updated",
        }
    }
}

/// `%text%` for `LIKE … ESCAPE '\'`, with the wildcards of `text` escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL's `lower`, on both backends.
    fn lower(
        text: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
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
    /// Make each group named in the file equal to the file: its stored rules that the file
    /// no longer has are deleted (mimirtool's `sync`). Groups the file does not name are
    /// never touched.
    pub prune: bool,
    /// Work out and report every change, then roll it all back.
    pub dry_run: bool,
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
        if let Some(text) = &filter.text {
            let pattern = contains_pattern(&text.to_ascii_lowercase());
            query = query.filter(
                lower(prom_rules::name).like(pattern.clone()).escape('\\').or(lower(
                    prom_rules::expression.nullable(),
                )
                .like(pattern)
                .escape('\\')),
            );
        }
        for (key, value) in &filter.labels {
            if key == "severity" {
                query = query.filter(prom_rules::severity.eq(value.clone()));
            } else {
                // Labels are stored as compact JSON, so `"key":"value"` appears verbatim.
                let pair = format!(
                    "{}:{}",
                    serde_json::Value::from(key.as_str()),
                    serde_json::Value::from(value.as_str())
                );
                query = query.filter(prom_rules::labels.like(contains_pattern(&pair)).escape('\\'));
            }
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
        row.ok_or(Error::NotFound { entity: "group", id })?.into_group()
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
        let before = find_group!($conn, id)?;
        ensure_group_name_free!($conn, &spec.name, Some(id));
        let row: GroupRow = diesel::update(prom_rule_groups::table.find(id))
            .set(&GroupWrite::new(spec, now()))
            .returning(GroupRow::as_returning())
            .get_result($conn)
            .map_err(|error| unique_to_conflict(error, &spec.name))?;
        row.into_group().map(|after| (before, after))
    }};
}

/// Upserts one group of a rule file and its rules inside a write transaction (`import`'s
/// body, shared with the SLO writes); evaluates to the group's id. With `$replace`, a matched
/// rule becomes exactly the incoming one (its datasource `$options.datasource_id`, its
/// `enabled` the incoming one), as generated rules must; otherwise it takes the fields a
/// rule file carries and keeps the rest.
macro_rules! import_group {
    ($conn:expr, $group:expr, $rules:expr, $options:expr, $replace:expr, $now:expr, $report:expr, $changes:expr) => {{
        let existing: Option<GroupRow> = prom_rule_groups::table
            .filter(prom_rule_groups::name.eq(&$group.name))
            .select(GroupRow::as_select())
            .first($conn)
            .optional()?;
        let group_id = match existing {
            Some(row) => {
                let id = row.id;
                let before = row.into_group()?.spec;
                if before != *$group {
                    diesel::update(prom_rule_groups::table.find(id))
                        .set(&GroupWrite::new($group, $now))
                        .execute($conn)?;
                    $changes.push(Change::group(id, Some(&before), Some($group)));
                    $report.groups_updated += 1;
                    let fields = [
                        ("interval", before.interval != $group.interval),
                        ("limit", before.limit != $group.limit),
                        ("query_offset", before.query_offset != $group.query_offset),
                        ("labels", before.labels != $group.labels),
                    ];
                    $report.group_changes.push(GroupChange {
                        group: $group.name.clone(),
                        id,
                        fields: fields
                            .iter()
                            .filter(|(_, changed)| *changed)
                            .map(|(field, _)| *field)
                            .collect(),
                    });
                }
                id
            }
            None => {
                $report.groups_created += 1;
                let id = diesel::insert_into(prom_rule_groups::table)
                    .values((&GroupWrite::new($group, $now), prom_rule_groups::created_at.eq($now)))
                    .returning(prom_rule_groups::id)
                    .get_result($conn)?;
                $changes.push(Change::group(id, None, Some($group)));
                id
            }
        };
        let stored: Vec<RuleRow> = prom_rules::table
            .filter(prom_rules::group_id.eq(group_id))
            .order(prom_rules::id)
            .select(RuleRow::as_select())
            .load($conn)?;
        let mut stored =
            stored.into_iter().map(RuleRow::into_rule).collect::<Result<Vec<_>, _>>()?;
        for incoming in $rules {
            let matched = stored.iter().position(|rule| {
                rule.spec.kind == incoming.kind
                    && Some(rule.display_name().as_ref()) == incoming.name.as_deref()
            });
            match matched.map(|index| stored.remove(index)) {
                Some(rule) => {
                    let merged = if $replace {
                        RuleSpec {
                            group_id: rule.spec.group_id,
                            datasource_id: $options.datasource_id,
                            ..incoming.clone()
                        }
                    } else {
                        merge_from_file(&rule, incoming)
                    };
                    if merged == rule.spec {
                        $report.unchanged += 1;
                    } else {
                        diesel::update(prom_rules::table.find(rule.id))
                            .set(&RuleWrite::new(&merged, $now))
                            .execute($conn)?;
                        $changes.push(Change::rule(rule.id, Some(&rule.spec), Some(&merged)));
                        $report.updated += 1;
                        $report.changes.push(ImportChange {
                            group: $group.name.clone(),
                            rule: rule.display_name().into_owned(),
                            id: Some(rule.id),
                            action: ImportAction::Updated,
                            fields: changed_fields(&rule.spec, &merged),
                        });
                    }
                }
                None => {
                    let spec = RuleSpec {
                        group_id: Some(group_id),
                        datasource_id: $options.datasource_id,
                        ..incoming.clone()
                    };
                    let id: i64 = diesel::insert_into(prom_rules::table)
                        .values((&RuleWrite::new(&spec, $now), prom_rules::created_at.eq($now)))
                        .returning(prom_rules::id)
                        .get_result($conn)?;
                    $changes.push(Change::rule(id, None, Some(&spec)));
                    $report.created += 1;
                    $report.changes.push(ImportChange {
                        group: $group.name.clone(),
                        rule: incoming.name.clone().unwrap_or_default(),
                        id: (!$options.dry_run).then_some(id),
                        action: ImportAction::Created,
                        fields: Vec::new(),
                    });
                }
            }
        }
        // What is left of the group's stored rules is not in the file.
        if $options.prune {
            for rule in stored {
                diesel::delete(prom_rules::table.find(rule.id)).execute($conn)?;
                $changes.push(Change::rule(rule.id, Some(&rule.spec), None));
                $report.deleted += 1;
                $report.changes.push(ImportChange {
                    group: $group.name.clone(),
                    rule: rule.display_name().into_owned(),
                    id: Some(rule.id),
                    action: ImportAction::Deleted,
                    fields: Vec::new(),
                });
            }
        }
        group_id
    }};
}
pub(super) use import_group;

impl Store {
    /// Checks that `spec`'s `group_id` names a group ([`Store::is_group`]) and its
    /// `datasource_id` a datasource ([`Store::is_datasource`]), each only where it differs from `before` (the
    /// rule as stored: a rule the original pipeline wrote keeps the ids it has); a 422-style
    /// [`Error::Invalid`] names each field that does not. The original pipeline's route
    /// writes ids as they come, as its clients expect; every other writer calls this first.
    pub fn check_rule_references(
        &self,
        spec: &RuleSpec,
        before: Option<&RuleSpec>,
    ) -> Result<(), Error> {
        let mut errors = crate::ValidationErrors::default();
        if let Some(id) = spec.group_id
            && before.and_then(|before| before.group_id) != Some(id)
            && !self.is_group(id)?
        {
            errors.add("group_id", format!("no group and no rule has group {id}"));
        }
        if let Some(id) = spec.datasource_id
            && before.and_then(|before| before.datasource_id) != Some(id)
            && !self.is_datasource(id)?
        {
            errors.add("datasource_id", format!("no shard and no rule has datasource {id}"));
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
    }

    /// Whether `id` is a group: a stored group's id, or a number stored rules carry (the
    /// original pipeline wrote group ids without a group table).
    pub fn is_group(&self, id: i64) -> Result<bool, Error> {
        match self.get_group(id) {
            Ok(_) => return Ok(true),
            Err(Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        let filter = RuleFilter { group_id: Some(id), ..RuleFilter::default() };
        Ok(self.count_rules(&filter)? > 0)
    }

    /// Whether `id` is a datasource: a shard's id, or a number stored rules carry (the
    /// original pipeline's clients numbered datasources freely).
    pub fn is_datasource(&self, id: i64) -> Result<bool, Error> {
        match self.get_shard(id) {
            Ok(_) => return Ok(true),
            Err(Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        let filter = RuleFilter { datasource_id: Some(id), ..RuleFilter::default() };
        Ok(self.count_rules(&filter)? > 0)
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
            let rule = row.into_rule()?;
            record_revision!(self, conn, "create_rule", vec![Change::rule(rule.id, None, Some(&rule.spec))]);
            Ok(rule)
        })
    }

    /// The rule with this id.
    pub fn get_rule(&self, id: i64) -> Result<Rule, Error> {
        with_connection!(self, conn => find_rule!(conn, id))
    }

    /// The rules matching `filter`, in its order.
    pub fn list_rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>, Error> {
        let rows: Vec<RuleRow> = with_connection!(self, conn => {
            let mut query = match filter.sort {
                RuleSort::Id => rule_query!(filter).order(prom_rules::id.asc()),
                RuleSort::Name => rule_query!(filter)
                    .order((prom_rules::name.is_null(), prom_rules::name.asc(), prom_rules::id.asc())),
                RuleSort::Updated => rule_query!(filter)
                    .order((prom_rules::updated_at.desc(), prom_rules::id.desc())),
            }
            .offset(filter.page.offset);
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
            let before = find_rule!(conn, id)?;
            let row: RuleRow = diesel::update(prom_rules::table.find(id))
                .set(&row)
                .returning(RuleRow::as_returning())
                .get_result(conn)?;
            let rule = row.into_rule()?;
            record_revision!(self, conn, "update_rule", vec![Change::rule(id, Some(&before.spec), Some(&rule.spec))]);
            Ok(rule)
        })
    }

    /// Applies `patch` to rule `id` and validates the result, in one transaction.
    pub fn patch_rule(&self, id: i64, patch: RulePatch) -> Result<Rule, Error> {
        in_write_transaction!(self, conn => {
            let before = find_rule!(conn, id)?.spec;
            let mut spec = before.clone();
            patch.apply(&mut spec);
            spec.validate()?;
            let row: RuleRow = diesel::update(prom_rules::table.find(id))
                .set(&RuleWrite::new(&spec, now()))
                .returning(RuleRow::as_returning())
                .get_result(conn)?;
            let rule = row.into_rule()?;
            record_revision!(self, conn, "patch_rule", vec![Change::rule(id, Some(&before), Some(&rule.spec))]);
            Ok(rule)
        })
    }

    /// Deletes rule `id`.
    pub fn delete_rule(&self, id: i64) -> Result<(), Error> {
        in_write_transaction!(self, conn => {
            let before = find_rule!(conn, id)?;
            deleted(diesel::delete(prom_rules::table.find(id)).execute(conn)?, "rule", id)?;
            record_revision!(self, conn, "delete_rule", vec![Change::rule(id, Some(&before.spec), None)]);
            Ok(())
        })
    }

    /// Every rule and every group, by id, from one consistent snapshot (a read
    /// transaction): what a rule file is rendered from.
    pub fn rules_and_groups(&self) -> Result<(Vec<Rule>, Vec<Group>), Error> {
        let snapshot = self.snapshot()?;
        Ok((snapshot.rules, snapshot.groups))
    }

    /// Upserts rules from a rule file, keyed by (group name, rule name), in one transaction.
    ///
    /// Groups are created when missing and take the file's interval. Within a group, the
    /// k-th rule of a name in the file matches the k-th stored rule of that display name (by
    /// id), since alert names may repeat. A matched rule takes every field the file carries
    /// and keeps the rest (id, datasource, enabled); an unnamed rule matched by its
    /// `Alert_<id>` name stays unnamed. Rules missing from the file are left alone, or with
    /// [`ImportOptions::prune`] deleted. Any invalid rule aborts the whole import, naming
    /// the group and the rule. The report lists every rule created, updated (with the
    /// fields that changed) or deleted; with [`ImportOptions::dry_run`] nothing is kept.
    pub fn import(
        &self,
        groups: &[GroupedRules],
        options: ImportOptions,
    ) -> Result<ImportReport, Error> {
        for GroupedRules { group, rules } in groups {
            group.validate().map_err(|errors| located(errors, &group.name, None))?;
            for (index, rule) in rules.iter().enumerate() {
                rule.validate()
                    .map_err(|errors| located(errors, &group.name, Some((index, rule))))?;
            }
        }
        let now = now();
        let mut dry_run_report = None;
        let imported = in_write_transaction!(self, conn => {
            let mut report = ImportReport::default();
            let mut changes = Vec::new();
            for GroupedRules { group, rules } in groups {
                import_group!(conn, group, rules, options, false, now, report, changes);
            }
            if options.dry_run {
                // Rolls the transaction back; the report leaves through `dry_run_report`.
                dry_run_report = Some(report);
                return Err(Error::Conflict("dry run".into()));
            }
            report.revision = Some(record_revision!(self, conn, "import", changes));
            Ok(report)
        });
        match dry_run_report {
            Some(report) => Ok(report),
            None => imported,
        }
    }

    /// Validates and stores a new group; its name must be unused.
    pub fn create_group(&self, spec: &GroupSpec) -> Result<Group, Error> {
        spec.validate()?;
        let now = now();
        in_write_transaction!(self, conn => {
            ensure_group_name_free!(conn, &spec.name, None);
            let row: GroupRow = diesel::insert_into(prom_rule_groups::table)
                .values((&GroupWrite::new(spec, now), prom_rule_groups::created_at.eq(now)))
                .returning(GroupRow::as_returning())
                .get_result(conn)
                .map_err(|error| unique_to_conflict(error, &spec.name))?;
            let group = row.into_group()?;
            record_revision!(self, conn, "create_group", vec![Change::group(group.id, None, Some(&group.spec))]);
            Ok(group)
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
        row.map(GroupRow::into_group).transpose()
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
        rows.into_iter().map(GroupRow::into_group).collect()
    }

    /// How many groups are stored.
    pub fn count_groups(&self) -> Result<i64, Error> {
        with_connection!(self, conn => Ok(prom_rule_groups::table.count().get_result(conn)?))
    }

    /// Validates `spec` and replaces group `id` with it; the new name must be unused.
    pub fn update_group(&self, id: i64, spec: &GroupSpec) -> Result<Group, Error> {
        spec.validate()?;
        in_write_transaction!(self, conn => {
            let (before, after) = write_group!(conn, id, spec)?;
            record_revision!(self, conn, "update_group", vec![Change::group(id, Some(&before.spec), Some(&after.spec))]);
            Ok(after)
        })
    }

    /// Applies `patch` to group `id` and validates the result, in one transaction.
    pub fn patch_group(&self, id: i64, patch: GroupPatch) -> Result<Group, Error> {
        in_write_transaction!(self, conn => {
            let mut spec = find_group!(conn, id)?.spec;
            patch.apply(&mut spec);
            spec.validate()?;
            let (before, after) = write_group!(conn, id, &spec)?;
            record_revision!(self, conn, "patch_group", vec![Change::group(id, Some(&before.spec), Some(&after.spec))]);
            Ok(after)
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
            record_revision!(self, conn, "delete_group", vec![Change::group(id, Some(&group.spec), None)]);
            Ok(())
        })
    }
}

/// The fields, as clients name them, in which `after` differs from `before`.
pub(super) fn changed_fields(before: &RuleSpec, after: &RuleSpec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut check = |field, differs: bool| {
        if differs {
            fields.push(field);
        }
    };
    check("kind", before.kind != after.kind);
    check("name", before.name != after.name);
    check("expression", before.expression != after.expression);
    check("for", before.for_duration != after.for_duration);
    check("keep_firing_for", before.keep_firing_for != after.keep_firing_for);
    check("severity", before.severity != after.severity);
    check("summary", before.summary != after.summary);
    check("description", before.description != after.description);
    check("heal_enabled", before.heal_enabled != after.heal_enabled);
    check("labels", before.labels != after.labels);
    check("annotations", before.annotations != after.annotations);
    fields
}

/// `stored` with every field a rule file carries taken from `incoming`.
pub(super) fn merge_from_file(stored: &Rule, incoming: &RuleSpec) -> RuleSpec {
    let keeps_no_name =
        stored.spec.name.is_none() && incoming.name.as_deref() == Some(&*stored.display_name());
    RuleSpec {
        kind: incoming.kind,
        name: if keeps_no_name { None } else { incoming.name.clone() },
        expression: incoming.expression.clone(),
        for_duration: incoming.for_duration.clone(),
        keep_firing_for: incoming.keep_firing_for.clone(),
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
pub(super) fn located(
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

/// A row of `prom_rules` as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = prom_rules)]
pub(super) struct RuleRow {
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
    keep_firing_for: Option<String>,
}

impl RuleRow {
    pub(super) fn into_rule(self) -> Result<Rule, Error> {
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
                keep_firing_for: self.keep_firing_for.filter(|_| kind == RuleKind::Alert),
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
pub(super) struct RuleWrite<'a> {
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
    keep_firing_for: Option<&'a str>,
    updated_at: NaiveDateTime,
}

impl<'a> RuleWrite<'a> {
    pub(super) fn new(spec: &'a RuleSpec, now: NaiveDateTime) -> RuleWrite<'a> {
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
            keep_firing_for: spec.keep_firing_for.as_deref(),
            updated_at: now,
        }
    }
}

/// A row of `prom_rule_groups` as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = prom_rule_groups)]
pub(super) struct GroupRow {
    pub(super) id: i64,
    name: String,
    evaluation_interval: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    rule_limit: Option<i64>,
    query_offset: Option<String>,
    labels: String,
}

impl GroupRow {
    pub(super) fn into_group(self) -> Result<Group, Error> {
        let labels = serde_json::from_str(&self.labels).map_err(|error| Error::Corrupt {
            entity: "group",
            id: self.id,
            problem: format!("labels are not a JSON object of strings: {error}"),
        })?;
        Ok(Group {
            id: self.id,
            spec: GroupSpec {
                name: self.name,
                interval: self.evaluation_interval,
                limit: self.rule_limit,
                query_offset: self.query_offset,
                labels,
            },
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// Every writable column of `prom_rule_groups`, for inserts and full updates (`None` is
/// NULL, as for rules).
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = prom_rule_groups, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(super) struct GroupWrite<'a> {
    name: &'a str,
    evaluation_interval: Option<&'a str>,
    rule_limit: Option<i64>,
    query_offset: Option<&'a str>,
    labels: String,
    updated_at: NaiveDateTime,
}

impl<'a> GroupWrite<'a> {
    pub(super) fn new(spec: &'a GroupSpec, now: NaiveDateTime) -> GroupWrite<'a> {
        GroupWrite {
            name: &spec.name,
            evaluation_interval: spec.interval.as_deref(),
            rule_limit: spec.limit,
            query_offset: spec.query_offset.as_deref(),
            labels: serde_json::to_string(&spec.labels).unwrap_or_default(),
            updated_at: now,
        }
    }
}

/// Loads the current rules, groups and SLOs and rewinds them to right after revision
/// `$number` (0: before the first one); evaluates to `Result<(State, State)>`, current then
/// rewound. An unknown revision is not found.
macro_rules! state_after {
    ($conn:expr, $number:expr) => {{
        use crate::schema::{revision_changes, revision_counter, revisions, slos};
        let number: i64 = $number;
        (|| -> Result<_, Error> {
            let latest: i64 =
                revision_counter::table.find(1).select(revision_counter::last).first($conn)?;
            let exists: i64 =
                revisions::table.filter(revisions::number.eq(number)).count().get_result($conn)?;
            if (exists == 0 && number != 0) || number > latest {
                return Err(Error::NotFound { entity: "revision", id: number });
            }
            let rules: Vec<RuleRow> =
                prom_rules::table.order(prom_rules::id).select(RuleRow::as_select()).load($conn)?;
            let groups: Vec<GroupRow> = prom_rule_groups::table
                .order(prom_rule_groups::id)
                .select(GroupRow::as_select())
                .load($conn)?;
            let slos: Vec<SloRow> =
                slos::table.order(slos::id).select(SloRow::as_select()).load($conn)?;
            let later: Vec<ChangeRead> = revision_changes::table
                .filter(revision_changes::revision.gt(number))
                .order((revision_changes::revision.desc(), revision_changes::id.desc()))
                .select(ChangeRead::as_select())
                .load($conn)?;
            let current = State {
                rules: rules.into_iter().map(RuleRow::into_rule).collect::<Result<_, _>>()?,
                groups: groups.into_iter().map(GroupRow::into_group).collect::<Result<_, _>>()?,
                slos: slos.into_iter().map(SloRow::into_slo).collect::<Result<_, _>>()?,
            };
            let rewound = rewind(current.clone(), later)?;
            Ok((current, rewound))
        })()
    }};
}

/// What a rule file is rendered from, with the revision it is the state after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The newest revision included (0 before the first write).
    pub revision: i64,
    pub rules: Vec<Rule>,
    pub groups: Vec<Group>,
}

/// A revision that touched one rule, with the rule before and after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRevision {
    pub number: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Store {
    /// Every rule and group and the newest revision, from one read snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        use crate::schema::revision_counter;
        let (revision, rules, groups): (i64, Vec<RuleRow>, Vec<GroupRow>) = in_read_snapshot!(self, conn => {
            let revision = revision_counter::table.find(1).select(revision_counter::last).first(conn)?;
            let rules = prom_rules::table.order(prom_rules::id).select(RuleRow::as_select()).load(conn)?;
            let groups = prom_rule_groups::table.order(prom_rule_groups::id).select(GroupRow::as_select()).load(conn)?;
            Ok::<_, Error>((revision, rules, groups))
        })?;
        Ok(Snapshot {
            revision,
            rules: rules.into_iter().map(RuleRow::into_rule).collect::<Result<_, _>>()?,
            groups: groups.into_iter().map(GroupRow::into_group).collect::<Result<_, _>>()?,
        })
    }

    /// The rules and groups as they were right after revision `number`.
    pub fn snapshot_at(&self, number: i64) -> Result<Snapshot, Error> {
        let (_, state) = in_read_snapshot!(self, conn => state_after!(conn, number))?;
        Ok(Snapshot { revision: number, rules: state.rules, groups: state.groups })
    }

    /// The revisions that touched rule `id`, newest first. A rule that never existed is
    /// not found; a deleted rule still has its history.
    pub fn rule_history(&self, id: i64) -> Result<Vec<RuleRevision>, Error> {
        let history = self.entity_history("rule", id)?;
        if history.is_empty() {
            // A rule written before history existed (or by the original pipeline).
            self.get_rule(id)?;
        }
        Ok(history)
    }

    /// The revisions that touched `entity` `id` (`rule` or `slo`), newest first, with it
    /// before and after each.
    pub(super) fn entity_history(&self, entity: &str, id: i64) -> Result<Vec<RuleRevision>, Error> {
        use crate::schema::{revision_changes, revisions};
        let rows: Vec<(super::revisions::RevisionRow, ChangeRead)> = with_connection!(self, conn => revisions::table
            .inner_join(revision_changes::table)
            .filter(revision_changes::entity.eq(entity).and(revision_changes::entity_id.eq(id)))
            .order((revisions::number.desc(), revision_changes::id.desc()))
            .select((super::revisions::RevisionRow::as_select(), ChangeRead::as_select()))
            .load(conn)?);
        rows.into_iter()
            .map(|(revision, change)| {
                let change = change.into_change()?;
                Ok(RuleRevision {
                    number: revision.number,
                    created_at: utc(revision.created_at),
                    actor: revision.actor,
                    action: revision.action,
                    before: change.before,
                    after: change.after,
                })
            })
            .collect()
    }

    /// Makes the rules, groups and SLOs what they were right after revision `number`, as one
    /// new revision (action `restore`): rule, group and SLO ids are kept, and deleted ones come back
    /// with their ids. With `only_rule`, just that rule is restored (or deleted, if it did
    /// not exist then). Specs are validated again; any that no longer validates stops the
    /// restore, which then changes nothing. Returns the new revision.
    pub fn restore(&self, number: i64, only_rule: Option<i64>) -> Result<Revision, Error> {
        let now = now();
        let restored = in_write_transaction!(self, conn => {
            if number == 0 {
                return Err(Error::NotFound { entity: "revision", id: number });
            }
            let (current, target) = state_after!(conn, number)?;
            let current_rules: BTreeMap<i64, RuleSpec> = current.rules.into_iter().map(|r| (r.id, r.spec)).collect();
            let current_groups: BTreeMap<i64, GroupSpec> = current.groups.into_iter().map(|g| (g.id, g.spec)).collect();
            let target_rules: BTreeMap<i64, RuleSpec> = target.rules.into_iter().map(|r| (r.id, r.spec)).collect();
            let target_groups: BTreeMap<i64, GroupSpec> = target.groups.into_iter().map(|g| (g.id, g.spec)).collect();
            if let Some(id) = only_rule
                && !current_rules.contains_key(&id)
                && !target_rules.contains_key(&id)
            {
                return Err(Error::NotFound { entity: "rule", id });
            }
            let mut changes = Vec::new();
            if only_rule.is_none() {
                // Groups first, deletions before the rest, so names stay unique throughout.
                for (id, before) in current_groups.iter().filter(|(id, _)| !target_groups.contains_key(id)) {
                    diesel::delete(prom_rule_groups::table.find(*id)).execute(conn)?;
                    changes.push(Change::group(*id, Some(before), None));
                }
                for (id, spec) in &target_groups {
                    let before = current_groups.get(id);
                    if before == Some(spec) {
                        continue;
                    }
                    spec.validate().map_err(|errors| located(errors, &spec.name, None))?;
                    match before {
                        Some(_) => {
                            diesel::update(prom_rule_groups::table.find(*id))
                                .set(&GroupWrite::new(spec, now))
                                .execute(conn)
                                .map_err(|error| unique_to_conflict(error, &spec.name))?;
                        }
                        None => {
                            diesel::insert_into(prom_rule_groups::table)
                                .values((prom_rule_groups::id.eq(*id), &GroupWrite::new(spec, now), prom_rule_groups::created_at.eq(now)))
                                .execute(conn)
                                .map_err(|error| unique_to_conflict(error, &spec.name))?;
                        }
                    }
                    changes.push(Change::group(*id, before, Some(spec)));
                }
                restore_slos!(conn, current.slos, target.slos, now, changes);
            }
            let ids: std::collections::BTreeSet<i64> = match only_rule {
                Some(id) => [id].into(),
                None => current_rules.keys().chain(target_rules.keys()).copied().collect(),
            };
            for id in ids {
                let (before, target) = (current_rules.get(&id), target_rules.get(&id));
                if before == target {
                    continue;
                }
                match (before, target) {
                    (Some(before), None) => {
                        diesel::delete(prom_rules::table.find(id)).execute(conn)?;
                        changes.push(Change::rule(id, Some(before), None));
                    }
                    (before, Some(spec)) => {
                        spec.validate().map_err(|errors| {
                            let group = spec.group_id.map_or_else(|| "default".to_owned(), |g| format!("{g}"));
                            located(errors, &group, Some((0, spec)))
                        })?;
                        if before.is_some() {
                            diesel::update(prom_rules::table.find(id)).set(&RuleWrite::new(spec, now)).execute(conn)?;
                        } else {
                            diesel::insert_into(prom_rules::table)
                                .values((prom_rules::id.eq(id), &RuleWrite::new(spec, now), prom_rules::created_at.eq(now)))
                                .execute(conn)?;
                        }
                        changes.push(Change::rule(id, before, Some(spec)));
                    }
                    (None, None) => {}
                }
            }
            Ok(record_revision!(self, conn, "restore", changes))
        })?;
        self.get_revision(restored)
    }
}
