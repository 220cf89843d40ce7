//! What the deployment service tells monitoring, per host, from every host report of every
//! deploy this process runs (REST, UI, auto-deploy, drift checks):
//!
//! - `promrules_deploys_total{host, outcome}`: host deploys by outcome (dry runs included:
//!   `would_change` and `unchanged`);
//! - `promrules_deploy_duration_seconds`: how long a host's deploy took (not dry runs);
//! - `promrules_deploy_last_timestamp_seconds{host}`, `…_last_success_timestamp_seconds{host}`
//!   and `promrules_deploy_last_failed{host}` (1 when the last deploy failed or rolled back):
//!   the last real deploy;
//! - `promrules_deploy_revision{host}`: the rule revision live there after its last deploy;
//! - `promrules_deploy_drift{host}`: 1 when the last drift check found the host's file
//!   differing from what the store renders, 0 when it found it in sync.
//!
//! The gauges start from the audit trail when the process starts ([`DeployMetrics::seed`]),
//! so a restarted server does not forget when a host was last deployed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use promrules_deploy::HostReport;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    host: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    host: String,
    outcome: &'static str,
}

/// The deploy metrics of one process.
#[derive(Debug, Clone)]
pub struct DeployMetrics {
    deploys: Family<OutcomeLabels, Counter>,
    duration: Histogram,
    last: Family<HostLabels, Gauge>,
    last_success: Family<HostLabels, Gauge>,
    last_failed: Family<HostLabels, Gauge>,
    revision: Family<HostLabels, Gauge>,
    drift: Family<HostLabels, Gauge>,
}

impl Default for DeployMetrics {
    fn default() -> DeployMetrics {
        DeployMetrics {
            deploys: Family::default(),
            // 50 ms to about 7 minutes.
            duration: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            last: Family::default(),
            last_success: Family::default(),
            last_failed: Family::default(),
            revision: Family::default(),
            drift: Family::default(),
        }
    }
}

/// How a host report came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Deploy,
    DryRun,
    DriftCheck,
}

impl DeployMetrics {
    /// Adds the metrics to `registry` (whose prefix is `promrules`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register("deploys", "Host deploys by outcome", self.deploys.clone());
        registry.register(
            "deploy_duration_seconds",
            "How long a host's deploy took",
            self.duration.clone(),
        );
        registry.register(
            "deploy_last_timestamp_seconds",
            "When the host's last deploy (not a dry run) finished",
            self.last.clone(),
        );
        registry.register(
            "deploy_last_success_timestamp_seconds",
            "When the host's last deploy that left it serving the rules (deployed or unchanged) finished",
            self.last_success.clone(),
        );
        registry.register(
            "deploy_last_failed",
            "1 when the host's last deploy failed or rolled back",
            self.last_failed.clone(),
        );
        registry.register(
            "deploy_revision",
            "The rule revision live on the host after its last deploy",
            self.revision.clone(),
        );
        registry.register(
            "deploy_drift",
            "1 when the last drift check found the host's file differing from the store's",
            self.drift.clone(),
        );
    }

    /// Takes in one host's report.
    pub(crate) fn observe(&self, report: &HostReport, kind: Kind, revision: i64) {
        let outcome = report.outcome.as_str();
        self.deploys.get_or_create(&OutcomeLabels { host: report.host.clone(), outcome }).inc();
        match kind {
            Kind::DriftCheck => self.drift_seen(&report.host, outcome),
            Kind::DryRun => {}
            Kind::Deploy => {
                self.duration.observe(report.duration.as_secs_f64());
                self.deployed(&report.host, outcome, report.released_at as i64, Some(revision));
            }
        }
    }

    /// Sets a host's last-deploy gauges (`finished` in Unix seconds).
    fn deployed(&self, host: &str, outcome: &str, finished: i64, revision: Option<i64>) {
        let labels = HostLabels { host: host.to_owned() };
        self.last.get_or_create(&labels).set(finished);
        let succeeded = matches!(outcome, "deployed" | "unchanged");
        self.last_failed.get_or_create(&labels).set(i64::from(!succeeded));
        // A failed or rolled-back host keeps the file it had: its revision stays.
        if succeeded {
            self.succeeded(host, finished, revision);
        }
    }

    /// Sets a host's last-success time and the revision it then served.
    fn succeeded(&self, host: &str, finished: i64, revision: Option<i64>) {
        let labels = HostLabels { host: host.to_owned() };
        self.last_success.get_or_create(&labels).set(finished);
        if let Some(revision) = revision {
            self.revision.get_or_create(&labels).set(revision);
        }
    }

    /// Sets a host's drift gauge from a drift check's outcome (a failed check says nothing).
    fn drift_seen(&self, host: &str, outcome: &str) {
        let drifted = match outcome {
            "unchanged" => 0,
            "would_change" => 1,
            _ => return,
        };
        self.drift.get_or_create(&HostLabels { host: host.to_owned() }).set(drifted);
    }

    /// Starts the gauges from the audit trail: `deployments` newest first, as the store
    /// lists them. For each host the newest real deploy sets the last-deploy gauges, the
    /// newest successful one the last-success time and revision, the newest drift check
    /// the drift gauge.
    pub(crate) fn seed(&self, deployments: &[promrules_model::Deployment]) {
        use std::collections::HashSet;
        let (mut last, mut success, mut drift) = (HashSet::new(), HashSet::new(), HashSet::new());
        for deployment in deployments {
            let dry_run = deployment
                .options
                .get("dry_run")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            for row in &deployment.hosts {
                let finished = row.finished_at.and_utc().timestamp();
                if deployment.actor == "drift-check" {
                    if drift.insert(row.host.clone()) {
                        self.drift_seen(&row.host, &row.outcome);
                    }
                    continue;
                }
                if dry_run {
                    continue;
                }
                let succeeded = matches!(row.outcome.as_str(), "deployed" | "unchanged");
                if last.insert(row.host.clone()) {
                    // The newest real deploy: every last-deploy gauge.
                    self.deployed(&row.host, &row.outcome, finished, row.revision);
                    if succeeded {
                        success.insert(row.host.clone());
                    }
                } else if succeeded && success.insert(row.host.clone()) {
                    // An older success, after a newest failure: its time and revision.
                    self.succeeded(&row.host, finished, row.revision);
                }
            }
        }
    }
}
