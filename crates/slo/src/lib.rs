//! Service level objectives as promrules rules: one [`Slo`] (an objective, a period and an
//! SLI as error and total queries) generates the multi-window, multi-burn-rate recording and
//! alerting rules of the SRE workbook, in the shape sloth generates them, so that sloth's
//! dashboards and alerts keep working.
//!
//! [`generate`] is pure: an SLO in, [`GroupedRules`] out (three groups: the SLI recordings,
//! the meta recordings, the alerts), which `promrules-yaml` renders like any other rules.
//! [`sloth::parse`] reads sloth's `prometheus/v1` spec files.
//!
//! # Example
//!
//! ```
//! use promrules_slo::{Slo, generate};
//!
//! let slo = Slo::events("checkout", "availability", 99.9,
//!     r#"sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))"#,
//!     r#"sum(rate(http_requests_total{job="checkout"}[{{.window}}]))"#);
//! let groups = generate(&slo)?;
//! assert_eq!(groups[0].group.name, "sloth-slo-sli-recordings-checkout-availability");
//! assert_eq!(groups[0].rules[0].name.as_deref(), Some("slo:sli_error:ratio_rate5m"));
//! # Ok::<(), promrules_slo::SloError>(())
//! ```

use std::collections::BTreeMap;

use promrules_model::{GroupSpec, GroupedRules, RuleKind, RuleSpec, ValidationErrors};
use serde::{Deserialize, Serialize};

pub mod sloth;
mod stored;

pub use stored::{ImportSettings, from_stored, import, save};

/// What can be wrong with an SLO or a spec file.
#[derive(Debug, thiserror::Error)]
pub enum SloError {
    /// The SLO breaks a rule of the model; each field is named (`objective`,
    /// `sli.error_query`, …).
    #[error("SLO `{slo}` is invalid: {errors}")]
    Invalid { slo: String, errors: ValidationErrors },
    /// A spec file that cannot be read as sloth's `prometheus/v1`.
    #[error("`{file}`: {problem}")]
    Spec { file: String, problem: String },
    /// The store refused or failed the write.
    #[error(transparent)]
    Store(#[from] promrules_model::Error),
}

/// The SLO period: the window the objective and the error budget are counted over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    #[default]
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "28d")]
    Days28,
}

impl std::str::FromStr for Period {
    type Err = String;

    /// `30d` or `28d` (sloth's `--default-slo-period` values; `4w` is `28d`).
    fn from_str(text: &str) -> Result<Period, String> {
        match text {
            "30d" => Ok(Period::Days30),
            "28d" | "4w" => Ok(Period::Days28),
            other => Err(format!("`{other}` is not an SLO period: 30d or 28d")),
        }
    }
}

impl Period {
    fn days(self) -> u32 {
        match self {
            Period::Days30 => 30,
            Period::Days28 => 28,
        }
    }

    /// The period as a PromQL range, as sloth writes it.
    fn range(self) -> &'static str {
        match self {
            Period::Days30 => "30d",
            Period::Days28 => "4w",
        }
    }

    fn hours(self) -> f64 {
        f64::from(self.days()) * 24.0
    }
}

/// The service level indicator: the ratio of bad events to all events over a window.
/// Queries hold `{{.window}}` where the range goes (sloth's placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum Sli {
    /// Bad events and all events, each a query; the ratio is theirs.
    Events { error_query: String, total_query: String },
    /// The error ratio as one query.
    Raw { error_ratio_query: String },
}

/// One of the two alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The alert is routed to am-executor (`heal="true"`); for the page alert.
    #[serde(default)]
    pub heal: bool,
}

/// The alerts of an SLO: one name, shared labels and annotations, and the page and ticket
/// alerts' own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    /// The alert name; empty generates no alert rules.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub page: AlertSpec,
    #[serde(default)]
    pub ticket: AlertSpec,
}

/// A service level objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Unique within its service; with the service, the `sloth_id`.
    pub name: String,
    pub service: String,
    #[serde(default)]
    pub description: String,
    /// The target, in percent: `99.9`.
    pub objective: f64,
    #[serde(default)]
    pub period: Period,
    pub sli: Sli,
    /// Labels on every generated rule.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub alerting: Alerting,
    /// The datasource (shard) of the generated rules, as a rule's `datasource_id`.
    #[serde(default)]
    pub datasource: Option<i64>,
    /// A disabled SLO stays stored, with its history, and generates no rules.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

impl Slo {
    /// An SLO of the events form with the default period and no alerts.
    pub fn events(
        service: &str,
        name: &str,
        objective: f64,
        error_query: &str,
        total_query: &str,
    ) -> Slo {
        Slo {
            name: name.to_owned(),
            service: service.to_owned(),
            description: String::new(),
            objective,
            period: Period::default(),
            sli: Sli::Events {
                error_query: error_query.to_owned(),
                total_query: total_query.to_owned(),
            },
            labels: BTreeMap::new(),
            alerting: Alerting::default(),
            datasource: None,
            enabled: true,
        }
    }

    /// `service-name`: the `sloth_id` label, and the suffix of the group names.
    pub fn id(&self) -> String {
        format!("{}-{}", self.service, self.name)
    }

    /// Checks every field, naming each that is wrong: names usable in labels and group
    /// names, the objective in (0, 100), the queries PromQL once the window is in, and the
    /// generated rules valid as rules.
    pub fn validate(&self) -> Result<(), SloError> {
        let mut errors = ValidationErrors::default();
        for (field, value) in [("name", &self.name), ("service", &self.service)] {
            let ok = !value.is_empty()
                && value.len() <= 128
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                errors
                    .add(field, format!("`{value}` must be 1 to 128 letters, digits, `-` or `_`"));
            }
        }
        if !self.alerting.name.is_empty() && !promrules_model::is_metric_name(&self.alerting.name) {
            errors.add(
                "alerting.name",
                format!(
                    "`{}` is not a valid alert name (letters, digits, `_`, `:`)",
                    self.alerting.name
                ),
            );
        }
        if !(self.objective > 0.0 && self.objective < 100.0) {
            errors.add(
                "objective",
                format!("{} must be above 0 and below 100 (a percentage)", self.objective),
            );
        }
        let queries: Vec<(&str, &str)> = match &self.sli {
            Sli::Events { error_query, total_query } => {
                vec![("sli.error_query", error_query), ("sli.total_query", total_query)]
            }
            Sli::Raw { error_ratio_query } => vec![("sli.error_ratio_query", error_ratio_query)],
        };
        for (field, query) in queries {
            if !query.contains(WINDOW) {
                errors.add(field, format!("has no `{WINDOW}` where the range goes"));
            }
            let spec = RuleSpec {
                kind: RuleKind::Record,
                name: Some("slo:check".into()),
                ..RuleSpec::alert(with_window(query, "5m"))
            };
            if let Err(problems) = spec.validate()
                && let Some(problem) = problems.fields().get("expression")
            {
                errors.add(field, problem.clone());
            }
        }
        if errors.is_empty() {
            // The generated rules themselves: label names and values, the alert name.
            for group in generate_unchecked(self) {
                for rule in &group.rules {
                    if let Err(problems) = rule.validate() {
                        for (field, problem) in problems.fields() {
                            let field = match field.as_str() {
                                "name" if rule.kind == RuleKind::Alert => {
                                    "alerting.name".to_owned()
                                }
                                field => format!(
                                    "{} ({field})",
                                    rule.name.as_deref().unwrap_or_default()
                                ),
                            };
                            errors.add(field, problem.clone());
                        }
                    }
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(SloError::Invalid { slo: self.id(), errors }) }
    }
}

/// sloth's placeholder for the range of a query.
pub const WINDOW: &str = "{{.window}}";

fn with_window(query: &str, window: &str) -> String {
    query.replace(WINDOW, window)
}

/// The SLI windows the alerts read, in sloth's order.
const SLI_WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The multi-window, multi-burn-rate pairs (the SRE workbook's, as sloth's defaults): the
/// short and long window and the share of the period's error budget they may burn.
struct Burn {
    short: &'static str,
    long: &'static str,
    /// Percent of the budget spent in `long`.
    budget_percent: f64,
    long_hours: f64,
}

const PAGE: [Burn; 2] = [
    Burn { short: "5m", long: "1h", budget_percent: 2.0, long_hours: 1.0 },
    Burn { short: "30m", long: "6h", budget_percent: 5.0, long_hours: 6.0 },
];
const TICKET: [Burn; 2] = [
    Burn { short: "2h", long: "1d", budget_percent: 10.0, long_hours: 24.0 },
    Burn { short: "6h", long: "3d", budget_percent: 10.0, long_hours: 72.0 },
];

impl Burn {
    /// How many times faster than "exactly the budget over the period" this pair allows.
    /// In sloth's order of operations, so the digits match its output (`5.6000000000000005`
    /// for 28 days).
    fn factor(&self, period: Period) -> f64 {
        (self.budget_percent / 100.0) * period.hours() / self.long_hours
    }
}

/// The three groups of `slo`, checked first.
pub fn generate(slo: &Slo) -> Result<Vec<GroupedRules>, SloError> {
    slo.validate()?;
    Ok(generate_unchecked(slo))
}

fn generate_unchecked(slo: &Slo) -> Vec<GroupedRules> {
    let id = slo.id();
    let mut identity = slo.labels.clone();
    identity.insert("sloth_id".into(), id.clone());
    identity.insert("sloth_service".into(), slo.service.clone());
    identity.insert("sloth_slo".into(), slo.name.clone());
    let selector = format!(
        "{{sloth_id=\"{id}\", sloth_service=\"{}\", sloth_slo=\"{}\"}}",
        slo.service, slo.name
    );
    let record = |name: String, expression: String, labels: BTreeMap<String, String>| RuleSpec {
        kind: RuleKind::Record,
        name: Some(name),
        severity: String::new(),
        labels,
        ..RuleSpec::alert(expression)
    };
    let windowed = |window: &str| {
        let mut labels = identity.clone();
        labels.insert("sloth_window".into(), window.to_owned());
        labels
    };

    let mut sli: Vec<RuleSpec> = SLI_WINDOWS
        .iter()
        .map(|window| {
            let expression = match &slo.sli {
                Sli::Events { error_query, total_query } => format!(
                    "({})\n/\n({})\n",
                    with_window(error_query, window),
                    with_window(total_query, window)
                ),
                Sli::Raw { error_ratio_query } => {
                    format!("({}\n)", with_window(error_ratio_query, window).trim_end_matches('\n'))
                }
            };
            record(format!("slo:sli_error:ratio_rate{window}"), expression, windowed(window))
        })
        .collect();
    let range = slo.period.range();
    sli.push(record(
        format!("slo:sli_error:ratio_rate{range}"),
        format!(
            "sum_over_time(slo:sli_error:ratio_rate5m{selector}[{range}])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{selector}[{range}])\n"
        ),
        windowed(range),
    ));

    let ratio = slo.objective / 100.0;
    let budget_ratio = (100.0 - slo.objective) / 100.0;
    let burn_over = |window: &str| {
        format!(
            "slo:sli_error:ratio_rate{window}{selector}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{selector}\n"
        )
    };
    let mut info = identity.clone();
    info.insert("sloth_mode".into(), "promrules".into());
    info.insert("sloth_objective".into(), format!("{}", slo.objective));
    info.insert("sloth_spec".into(), "prometheus/v1".into());
    info.insert("sloth_version".into(), concat!("promrules-", env!("CARGO_PKG_VERSION")).into());
    let meta = vec![
        record("slo:objective:ratio".into(), format!("vector({ratio})"), identity.clone()),
        record("slo:error_budget:ratio".into(), format!("vector(1-{ratio})"), identity.clone()),
        record(
            "slo:time_period:days".into(),
            format!("vector({})", slo.period.days()),
            identity.clone(),
        ),
        record("slo:current_burn_rate:ratio".into(), burn_over("5m"), identity.clone()),
        record("slo:period_burn_rate:ratio".into(), burn_over(range), identity.clone()),
        record(
            "slo:period_error_budget_remaining:ratio".into(),
            format!("1 - slo:period_burn_rate:ratio{selector}"),
            identity.clone(),
        ),
        record("sloth_slo_info".into(), "vector(1)".into(), info),
    ];

    let mut groups = vec![
        GroupedRules {
            group: GroupSpec::named(format!("sloth-slo-sli-recordings-{id}")),
            rules: sli,
        },
        GroupedRules {
            group: GroupSpec::named(format!("sloth-slo-meta-recordings-{id}")),
            rules: meta,
        },
    ];
    let alerting = &slo.alerting;
    let alert = |severity: &str, burns: &[Burn; 2], own: &AlertSpec| {
        let window = |burn: &Burn| {
            let factor = burn.factor(slo.period);
            let over = |w: &str| {
                format!(
                    "max(slo:sli_error:ratio_rate{w}{selector} > ({factor} * {budget_ratio})) without (sloth_window)"
                )
            };
            format!("(\n    {}\n    and\n    {}\n)", over(burn.short), over(burn.long))
        };
        let mut labels = alerting.labels.clone();
        labels.extend(own.labels.clone());
        labels.insert("sloth_severity".into(), severity.to_owned());
        let mut annotations = alerting.annotations.clone();
        annotations.extend(own.annotations.clone());
        annotations.entry("title".into()).or_insert_with(|| {
            format!("({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast.")
        });
        let summary = annotations.remove("summary").unwrap_or_else(|| {
            "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.".to_owned()
        });
        RuleSpec {
            name: Some(alerting.name.clone()),
            severity: String::new(),
            summary,
            heal_enabled: own.heal,
            labels,
            annotations,
            ..RuleSpec::alert(format!("{}\nor\n{}\n", window(&burns[0]), window(&burns[1])))
        }
    };
    let alerts: Vec<RuleSpec> =
        [("page", &PAGE, &alerting.page), ("ticket", &TICKET, &alerting.ticket)]
            .into_iter()
            .filter(|(_, _, own)| !alerting.name.is_empty() && !own.disabled)
            .map(|(severity, burns, own)| alert(severity, burns, own))
            .collect();
    if !alerts.is_empty() {
        groups.push(GroupedRules {
            group: GroupSpec::named(format!("sloth-slo-alerts-{id}")),
            rules: alerts,
        });
    }
    groups
}
