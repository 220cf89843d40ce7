//! The one path between SLOs and the store: [`save`] and [`import`] check an SLO, generate
//! its rules (none while it is disabled, so its groups leave the rule file), check its
//! datasource against the store and write it with its rules as one revision; the REST API
//! and `promrules-server import-slo` both come through here. [`from_stored`] reads a stored
//! SLO back.

use promrules_model::{SloImportOptions, SloReport, SloWrite, Store, StoredSlo, ValidationErrors};

use crate::{Period, Slo, SloError, generate};

/// How [`import`] reads a sloth spec and what it does with it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImportSettings {
    /// The period of every SLO of the file (sloth's `--default-slo-period`).
    pub period: Period,
    /// The datasource of every SLO's rules.
    pub datasource: Option<i64>,
    pub options: SloImportOptions,
}

/// `slo` checked (its datasource too), with its generated rules, ready to store.
fn to_write(store: &Store, slo: &Slo) -> Result<SloWrite, SloError> {
    slo.validate()?;
    if let Some(datasource) = slo.datasource
        && !store.is_datasource(datasource)?
    {
        let mut errors = ValidationErrors::default();
        errors.add("datasource", format!("no datasource (shard) has id {datasource}"));
        return Err(SloError::Invalid { slo: slo.id(), errors });
    }
    let generated = if slo.enabled { generate(slo)? } else { Vec::new() };
    Ok(SloWrite {
        sloth_id: slo.id(),
        service: slo.service.clone(),
        // An SLO is strings, maps, numbers and booleans: it always serializes.
        spec: serde_json::to_value(slo).unwrap_or_default(),
        datasource_id: slo.datasource,
        generated,
    })
}

/// Stores `slo` as a new SLO (`id` `None`) or in place of SLO `id`, with its rules.
pub fn save(store: &Store, id: Option<i64>, slo: &Slo) -> Result<(StoredSlo, SloReport), SloError> {
    let write = to_write(store, slo)?;
    Ok(match id {
        None => store.create_slo(&write)?,
        Some(id) => store.update_slo(id, &write)?,
    })
}

/// Upserts the SLOs of a sloth spec (`file` names it in errors) by `sloth_id`, with their
/// rules, as one revision.
pub fn import(
    store: &Store,
    text: &str,
    file: &str,
    settings: ImportSettings,
) -> Result<SloReport, SloError> {
    let writes = crate::sloth::parse(text, file)?
        .into_iter()
        .map(|slo| {
            to_write(
                store,
                &Slo { period: settings.period, datasource: settings.datasource, ..slo },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(store.import_slos(&writes, settings.options)?)
}

/// The SLO a stored record holds.
pub fn from_stored(stored: &StoredSlo) -> Result<Slo, SloError> {
    serde_json::from_value(stored.record.spec.clone()).map_err(|error| SloError::Spec {
        file: format!("stored SLO {}", stored.id),
        problem: error.to_string(),
    })
}
