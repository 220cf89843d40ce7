//! sloth's spec files (`version: "prometheus/v1"`), read into [`Slo`]s: the service and
//! its labels, then each SLO with its SLI (`events` or `raw`) and alerting. SLIs from
//! sloth's plugins are refused, naming the SLO: their queries live in Go code.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{AlertSpec, Alerting, Period, Sli, Slo, SloError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    version: String,
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    slos: Vec<SpecSlo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecSlo {
    name: String,
    objective: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SpecSli,
    #[serde(default)]
    alerting: SpecAlerting,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecSli {
    events: Option<SpecEvents>,
    raw: Option<SpecRaw>,
    plugin: Option<SpecPlugin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecEvents {
    #[serde(alias = "errorQuery")]
    error_query: String,
    #[serde(alias = "totalQuery")]
    total_query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecRaw {
    #[serde(alias = "errorRatioQuery")]
    error_ratio_query: String,
}

#[derive(Deserialize)]
struct SpecPlugin {
    #[serde(default)]
    id: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecAlerting {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    page_alert: SpecAlert,
    #[serde(default)]
    ticket_alert: SpecAlert,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecAlert {
    #[serde(default)]
    disable: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl From<SpecAlert> for AlertSpec {
    fn from(alert: SpecAlert) -> AlertSpec {
        AlertSpec {
            disabled: alert.disable,
            labels: alert.labels,
            annotations: alert.annotations,
            heal: false,
        }
    }
}

/// The SLOs of a sloth spec file (`file` names it in errors), each checked.
pub fn parse(text: &str, file: &str) -> Result<Vec<Slo>, SloError> {
    let spec_error = |problem: String| SloError::Spec { file: file.to_owned(), problem };
    let spec: Spec = serde_yaml::from_str(text).map_err(|e| spec_error(e.to_string()))?;
    if spec.version != "prometheus/v1" {
        return Err(spec_error(format!(
            "version `{}` is not supported: only sloth's `prometheus/v1`",
            spec.version
        )));
    }
    let mut slos = Vec::with_capacity(spec.slos.len());
    for entry in spec.slos {
        let id = format!("{}-{}", spec.service, entry.name);
        let sli = match (entry.sli.events, entry.sli.raw, entry.sli.plugin) {
            (Some(events), None, None) => {
                Sli::Events { error_query: events.error_query, total_query: events.total_query }
            }
            (None, Some(raw), None) => Sli::Raw { error_ratio_query: raw.error_ratio_query },
            (None, None, Some(plugin)) => {
                return Err(spec_error(format!(
                    "SLO `{id}` uses the SLI plugin `{}`: plugins are not supported; write its queries as `events` or `raw`",
                    plugin.id
                )));
            }
            _ => {
                return Err(spec_error(format!(
                    "SLO `{id}`: `sli` needs exactly one of `events` and `raw`"
                )));
            }
        };
        let mut labels = spec.labels.clone();
        labels.extend(entry.labels);
        let alerting = entry.alerting;
        let slo = Slo {
            name: entry.name,
            service: spec.service.clone(),
            description: entry.description,
            objective: entry.objective,
            period: Period::default(),
            sli,
            labels,
            alerting: Alerting {
                name: alerting.name,
                labels: alerting.labels,
                annotations: alerting.annotations,
                page: alerting.page_alert.into(),
                ticket: alerting.ticket_alert.into(),
            },
            datasource: None,
            enabled: true,
        };
        slo.validate()?;
        slos.push(slo);
    }
    Ok(slos)
}
