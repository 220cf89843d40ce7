//! The executor's metrics, with prometheus-am-executor's names and labels, every label value
//! initialised to 0 so that dashboards and alerts see the series from the start.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Stage {
    pub(crate) stage: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    pub(crate) result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Reason {
    pub(crate) reason: &'static str,
}

/// Why a matching command did not run: the original's two, then ours (`duplicate` within
/// `dedup_window`, `cooldown`, `rate_limit`, `paused` over HTTP, `dry_run`).
pub(crate) const SKIP_REASONS: [&str; 7] =
    ["nomatch", "fingerover", "duplicate", "cooldown", "rate_limit", "paused", "dry_run"];

/// The registry and its metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub(crate) process_duration: Histogram,
    pub(crate) processes_current: Gauge,
    pub(crate) errors: Family<Stage, Counter>,
    pub(crate) signalled: Family<Outcome, Counter>,
    pub(crate) skipped: Family<Reason, Counter>,
    /// 1 while heals are paused over HTTP.
    pub(crate) paused: Gauge,
    /// Commands started with fewer alerts than the message had (the environment would not
    /// fit the kernel's limit).
    pub(crate) truncated: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let process_duration = Histogram::new([1.0, 10.0, 60.0, 600.0, 900.0, 1800.0]);
        let processes_current = Gauge::default();
        let errors = Family::<Stage, Counter>::default();
        let signalled = Family::<Outcome, Counter>::default();
        let skipped = Family::<Reason, Counter>::default();
        for stage in ["read", "unmarshal", "start"] {
            drop(errors.get_or_create(&Stage { stage }));
        }
        for result in ["ok", "fail"] {
            drop(signalled.get_or_create(&Outcome { result }));
        }
        for reason in SKIP_REASONS {
            drop(skipped.get_or_create(&Reason { reason }));
        }
        let mut registry = Registry::default();
        registry.register(
            "am_executor_process_duration_seconds",
            "Time the processes took to complete",
            process_duration.clone(),
        );
        registry.register(
            "am_executor_processes_current",
            "Current number of processes running",
            processes_current.clone(),
        );
        registry.register("am_executor_errors", "Number of errors while running", errors.clone());
        registry.register(
            "am_executor_signalled",
            "Number of times a process was sent a signal",
            signalled.clone(),
        );
        registry.register(
            "am_executor_skipped",
            "Number of times a command was skipped",
            skipped.clone(),
        );
        let paused = Gauge::default();
        registry.register(
            "am_executor_paused",
            "Whether commands are paused (1) or run (0)",
            paused.clone(),
        );
        let truncated = Counter::default();
        registry.register(
            "am_executor_truncated",
            "Number of commands started with only the alerts that fit the environment",
            truncated.clone(),
        );
        Metrics {
            paused,
            truncated,
            registry: Mutex::new(registry),
            process_duration,
            processes_current,
            errors,
            signalled,
            skipped,
        }
    }

    pub(crate) fn error(&self, stage: &'static str) {
        self.errors.get_or_create(&Stage { stage }).inc();
    }

    pub(crate) fn skip(&self, reason: &'static str) {
        self.skipped.get_or_create(&Reason { reason }).inc();
    }

    pub(crate) fn signal(&self, result: &'static str) {
        self.signalled.get_or_create(&Outcome { result }).inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}
