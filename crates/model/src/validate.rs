//! Validation of rules and groups, in one place.
//!
//! Every check runs and every bad field is reported at once, keyed by the field's name as
//! clients spell it (`expression`, `for`, `labels.team`), so an API can answer with the
//! whole list. The rules mirror what Prometheus itself accepts in a rule file, so that
//! nothing stored can make `promtool check rules` fail: the Go templates in an alert's labels
//! and annotations are parsed here too (`template.rs`); promtool stays the final check
//! before any reload.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::rule::{GroupSpec, RuleKind, RuleSpec};

/// The largest accepted expression, in bytes.
///
/// Far above any hand-written PromQL, low enough that one rule cannot bloat a rule file
/// or the database.
pub const MAX_EXPRESSION_BYTES: usize = 64 * 1024;

/// The largest accepted summary, description, label value or annotation value, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// The largest accepted rule, group, label or annotation name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// Every problem found in one value, keyed by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors {
    fields: BTreeMap<String, String>,
}

impl ValidationErrors {
    /// The problems, keyed by field name (`labels.<name>` for a label).
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Records a problem with `field`; the first problem found for a field is kept.
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.fields.entry(field.into()).or_insert_with(|| problem.into());
    }

    fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, problem)) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{field}` {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl RuleSpec {
    /// Checks every field; `Err` lists each bad one.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let is_alert = self.kind == RuleKind::Alert;

        check_expression(&self.expression, &mut errors);

        match (&self.name, self.kind) {
            (None, RuleKind::Alert) => {}
            (None, RuleKind::Record) => errors.add("name", "is required for a recording rule"),
            (Some(name), RuleKind::Alert) => {
                if let Err(problem) = check_printable_name(name) {
                    errors.add("name", problem);
                }
            }
            (Some(name), RuleKind::Record) => {
                if !is_metric_name(name) {
                    errors.add(
                        "name",
                        format!("`{name}` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
                    );
                }
            }
        }

        if let Some(duration) = &self.for_duration {
            if !is_alert {
                errors.add("for", "is only allowed on alert rules");
            } else if let Err(problem) = parse_duration(duration) {
                errors.add("for", problem.to_string());
            }
        }

        if let Some(duration) = &self.keep_firing_for {
            if !is_alert {
                errors.add("keep_firing_for", "is only allowed on alert rules");
            } else if let Err(problem) = parse_duration(duration) {
                errors.add("keep_firing_for", problem.to_string());
            }
        }

        if is_alert {
            // Empty is an alert without a `severity` label, as rule files often have.
            if !self.severity.is_empty() && self.severity.trim().is_empty() {
                errors.add("severity", "must not be blank (leave it empty for no label)");
            } else {
                check_alert_text("severity", &self.severity, &mut errors);
            }
            check_alert_text("summary", &self.summary, &mut errors);
            check_alert_text("description", &self.description, &mut errors);
        } else {
            // Prometheus rejects annotations on recording rules, and a heal label would
            // only rename series; refuse rather than silently drop what the user set.
            for (field, value) in [("summary", &self.summary), ("description", &self.description)] {
                if !value.is_empty() {
                    errors.add(field, "is only allowed on alert rules");
                }
            }
            if !self.annotations.is_empty() {
                errors.add("annotations", "are only allowed on alert rules");
            }
            if self.heal_enabled {
                errors.add("heal_enabled", "is only allowed on alert rules");
            }
        }

        for (name, value) in &self.labels {
            let field = format!("labels.{name}");
            if let Err(problem) = check_label_name(name) {
                errors.add(field, problem);
            } else if is_alert && name == "severity" {
                errors.add(field, "is set through the `severity` field");
            } else if is_alert {
                check_alert_text(&field, value, &mut errors);
            } else {
                check_text(&field, value, &mut errors);
            }
        }
        for (name, value) in &self.annotations {
            let field = format!("annotations.{name}");
            if let Err(problem) = check_label_name(name) {
                errors.add(field, problem);
            } else if name == "summary" || name == "description" {
                errors.add(field, format!("is set through the `{name}` field"));
            } else {
                check_alert_text(&field, value, &mut errors);
            }
        }

        for (field, id) in [("datasource_id", self.datasource_id), ("group_id", self.group_id)] {
            // The original pipeline's clients number groups and datasources from 0.
            if id.is_some_and(|id| id < 0) {
                errors.add(field, "must not be negative");
            }
        }

        errors.into_result()
    }
}

impl GroupSpec {
    /// Checks every field; `Err` lists each bad one.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if let Err(problem) = check_printable_name(&self.name) {
            errors.add("name", problem);
        }
        if let Some(interval) = &self.interval {
            match parse_duration(interval) {
                Ok(duration) if duration.is_zero() => {
                    errors.add("interval", "must be more than 0s")
                }
                Ok(_) => {}
                Err(problem) => errors.add("interval", problem.to_string()),
            }
        }
        if self.limit.is_some_and(|limit| limit < 0) {
            errors.add("limit", "must not be negative (0 means no limit)");
        }
        if let Some(offset) = &self.query_offset
            && let Err(problem) = parse_duration(offset)
        {
            errors.add("query_offset", problem.to_string());
        }
        for (name, value) in &self.labels {
            let field = format!("labels.{name}");
            if let Err(problem) = check_label_name(name) {
                errors.add(field, problem);
            } else {
                check_text(&field, value, &mut errors);
            }
        }
        errors.into_result()
    }
}

fn check_expression(expression: &str, errors: &mut ValidationErrors) {
    if expression.trim().is_empty() {
        errors.add("expression", "must not be empty");
    } else if expression.len() > MAX_EXPRESSION_BYTES {
        errors.add(
            "expression",
            format!("is {} bytes, more than the limit of {MAX_EXPRESSION_BYTES}", expression.len()),
        );
    } else if let Err(problem) = promql_parser::parser::parse(expression) {
        errors.add("expression", format!("is not valid PromQL: {}", problem.trim()));
    }
}

fn check_text(field: &str, value: &str, errors: &mut ValidationErrors) {
    if value.len() > MAX_TEXT_BYTES {
        errors.add(
            field,
            format!("is {} bytes, more than the limit of {MAX_TEXT_BYTES}", value.len()),
        );
    } else if value.contains('\0') {
        errors.add(field, "contains a NUL byte");
    }
}

/// A label or annotation value of an alert: text, and a Go template Prometheus expands.
fn check_alert_text(field: &str, value: &str, errors: &mut ValidationErrors) {
    let before = errors.fields.len();
    check_text(field, value, errors);
    if errors.fields.len() == before
        && let Err(problem) = crate::template::check(value)
    {
        errors.add(field, format!("is not a valid Go template: {problem}"));
    }
}

/// A name shown to people: an alert name or a group name.
fn check_printable_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else if name.len() > MAX_NAME_BYTES {
        Err(format!("is {} bytes, more than the limit of {MAX_NAME_BYTES}", name.len()))
    } else if name.chars().any(char::is_control) {
        Err("must be printable (no control characters or line breaks)".to_owned())
    } else {
        Ok(())
    }
}

/// A label or annotation name we let users set: `[a-zA-Z_][a-zA-Z0-9_]*`, and not one of the
/// `__`-prefixed names Prometheus reserves for itself.
pub(crate) fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        Err(format!("`{name}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"))
    } else if name.starts_with("__") {
        Err(format!("`{name}` is reserved: names starting with `__` are for Prometheus"))
    } else if name.len() > MAX_NAME_BYTES {
        Err(format!("is {} bytes, more than the limit of {MAX_NAME_BYTES}", name.len()))
    } else {
        Ok(())
    }
}

/// Whether `name` is a valid Prometheus metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A string that is not a Prometheus duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a Prometheus duration: {reason} (examples: 30s, 5m, 1h30m, 500ms)")]
pub struct DurationError {
    text: String,
    reason: &'static str,
}

/// Parses a Prometheus duration: units `y w d h m s ms`, each at most once and in that
/// order, each with a whole number (`1h30m`, `500ms`, `2w`), or the bare `0`.
///
/// This is the grammar of Prometheus's `model.ParseDuration`, so whatever passes here passes
/// in a rule file.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let error = |reason| DurationError { text: text.to_owned(), reason };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(error("it is empty"));
    }

    let mut rest = text;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(error("each unit needs a whole number before it"));
        }
        let (number, after) = rest.split_at(digits);
        // `ms` is tried before `m` so that `500ms` is not read as 500 minutes and an `s`.
        let Some(unit) = (next_unit..UNITS.len())
            .filter(|&i| after.starts_with(UNITS[i].0))
            .max_by_key(|&i| UNITS[i].0.len())
        else {
            return Err(if after.is_empty() {
                error("the number has no unit")
            } else {
                error("units are y, w, d, h, m, s, ms, each at most once and in that order")
            });
        };
        let value: u64 = number.parse().map_err(|_| error("the number is too large"))?;
        total_ms = value
            .checked_mul(UNITS[unit].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .filter(|&ms| ms <= i64::MAX as u64 / 1_000_000)
            .ok_or_else(|| error("it is too long"))?;
        rest = &after[UNITS[unit].0.len()..];
        next_unit = unit + 1;
    }
    Ok(Duration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_prometheus_grammar() {
        let ok = [
            ("0", 0),
            ("0s", 0),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("500ms", 500),
            ("1m500ms", 60_500),
            ("2w", 14 * 86_400_000),
            ("1y", 365 * 86_400_000),
            ("1d2h3m4s5ms", 93_784_005),
        ];
        for (text, ms) in ok {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        let bad = [
            "",
            "5",
            "-5m",
            "1 minute",
            "5 m",
            "1m1h",
            "1h1h",
            "1.5h",
            "m",
            "5mm",
            "5M",
            " 5m",
            "99999999999999999999s",
            "106751y",
        ];
        for text in bad {
            let error = parse_duration(text).expect_err(text);
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }

    #[test]
    fn metric_names() {
        assert!(is_metric_name("job:http_requests:rate5m"));
        assert!(is_metric_name("_x"));
        assert!(!is_metric_name("5xx_rate"));
        assert!(!is_metric_name("rate-5m"));
        assert!(!is_metric_name(""));
    }
}
